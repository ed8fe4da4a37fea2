// Command chirp is Chirp's backend: the tweet API on one port.
//
//	chirp              serve (configured by the environment; see the README)
//	chirp healthcheck  exit 0 when the server on the configured port says it is ready
//	chirp dev          serve the API and, on its own port, the page bundle (make run)
//	chirp web          serve the page bundle alone
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/chirp-social/chirp/backend/clientaddr"
	"github.com/chirp-social/chirp/backend/config"
	"github.com/chirp-social/chirp/backend/connlimit"
	"github.com/chirp-social/chirp/backend/limitlog"
	"github.com/chirp-social/chirp/backend/serving"
	"github.com/chirp-social/chirp/backend/web"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "chirp:", err)
		os.Exit(1)
	}
}

const usage = `usage: chirp [command]

commands:
  (none)       serve the API (configured by environment variables; see README.md)
  healthcheck  exit 0 when the server on the configured HOST and PORT is ready
  dev          serve the API on PORT and the page (WEB_ROOT) on WEB_PORT, for make run
  web          serve the page alone, for an API already running on PORT (or API_URL)
  help         show this text
`

// run is the whole program, so that tests start it exactly as production does.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	command := ""
	if len(args) > 1 {
		command = args[1]
	}
	switch command {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "", "serve", "healthcheck", "dev", "web":
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", command)
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	switch command {
	case "healthcheck":
		return healthcheck(ctx, cfg)
	case "dev":
		return serveDev(ctx, cfg, newLogger(cfg, stderr))
	case "web":
		return serveWeb(ctx, cfg, newLogger(cfg, stderr))
	}
	return serve(ctx, cfg, newLogger(cfg, stderr))
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel, ReplaceAttr: readableDurations}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// readableDurations writes durations as the text format does ("10s", "1.5ms") in both
// formats: JSON's handler would write nanoseconds, and the two formats should read alike.
func readableDurations(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

// serve serves the API alone, as compose and production run it.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	var closers serving.Closers
	defer closers.Close()
	api, conns, err := newAPI(ctx, cfg, log, &closers)
	if err != nil {
		return err
	}
	ln, err := serving.Listen(cfg.Host, cfg.Port, "PORT")
	if err != nil {
		return err
	}
	return serving.Run(ctx, log, cfg.ShutdownTimeout, counted(conns, serving.Server{Name: "api", HTTP: api, Listener: ln}))
}

// counted puts a server's connections under conns: its listener counts and caps them, and
// its ConnState hook says which are idle. The servers of one process share one Limiter, as
// they share its file descriptors.
func counted(conns *connlimit.Limiter, s serving.Server) serving.Server {
	s.Listener.Listener = conns.Listener(s.Listener.Listener)
	s.HTTP.ConnState = conns.ConnState
	return s
}

// connLimiter is the process's connection limits (CONN_MAX_PER_IP, CONN_MAX_TOTAL).
func connLimiter(cfg config.Config, clients *clientaddr.Resolver, bites *limitlog.Log) *connlimit.Limiter {
	return connlimit.New(connlimit.Config{
		MaxPerClient: cfg.ConnMaxPerIP, MaxTotal: cfg.ConnMaxTotal, Proxies: clients, Bites: bites,
	})
}

// serveDev serves the API and the page from one process, for `make run`: the page names the
// API's real port (PORT=0 picks one), and one signal stops both. Both ports are bound before
// anything else, so a port in use is the one thing reported and neither server starts. compose
// runs `chirp` alone, with nginx serving the page.
func serveDev(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	if cfg.Port != 0 && cfg.Port == cfg.WebPort {
		return fmt.Errorf("PORT and WEB_PORT are both %d: the API and the page need a port each; set one of them to another port", cfg.Port)
	}
	var closers serving.Closers
	defer closers.Close()
	apiLn, err := serving.Listen(cfg.Host, cfg.Port, "PORT")
	if err != nil {
		return err
	}
	closers.Add(apiLn.Close) // in case what follows fails; Run's shutdown closes it otherwise
	pageLn, err := serving.Listen(cfg.Host, cfg.WebPort, "WEB_PORT")
	if err != nil {
		return err
	}
	closers.Add(pageLn.Close)
	page, err := web.New(web.Config{Root: cfg.WebRoot, APIURL: cfg.APIURL, APIPort: apiLn.Port})
	if err != nil {
		return err
	}
	closers.Add(page.Close)
	api, conns, err := newAPI(ctx, cfg, log, &closers)
	if err != nil {
		return err
	}
	// Both ports are bound (the kernel queues a browser's connection from here on) and Run
	// serves them next: the one line a newcomer needs among the records, with the real port.
	log.Info("open the page in a browser", "url", pageURL(cfg.Host, pageLn.Port))
	return serving.Run(ctx, log, cfg.ShutdownTimeout,
		counted(conns, serving.Server{Name: "api", HTTP: api, Listener: apiLn}),
		counted(conns, serving.Server{Name: "page", HTTP: pageServer(page, log, cfg), Listener: pageLn}))
}

// pageURL is the page's address for a browser on this machine: localhost when HOST is every
// interface (0.0.0.0 cannot be opened), else HOST itself.
func pageURL(host string, port int) string {
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(port))
}

// serveWeb serves the page alone, for an API that runs elsewhere: on PORT of the page's host,
// or at API_URL.
func serveWeb(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	page, err := web.New(web.Config{Root: cfg.WebRoot, APIURL: cfg.APIURL, APIPort: cfg.Port})
	if err != nil {
		return err
	}
	defer page.Close()
	ln, err := serving.Listen(cfg.Host, cfg.WebPort, "WEB_PORT")
	if err != nil {
		return err
	}
	conns := connLimiter(cfg, clientaddr.New(cfg.TrustedProxies), limitlog.New(log, nil))
	return serving.Run(ctx, log, cfg.ShutdownTimeout, counted(conns, serving.Server{Name: "page", HTTP: pageServer(page, log, cfg), Listener: ln}))
}

// pageServer is the page's HTTP server: static files only, so it can afford read and write
// timeouts the API cannot. Its header cap and idle timeout are the API's (MAX_HEADER_BYTES,
// IDLE_TIMEOUT).
func pageServer(page *web.Server, log *slog.Logger, cfg config.Config) *http.Server {
	return &http.Server{
		Handler:           page,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
