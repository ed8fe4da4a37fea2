// Command chirp is Chirp's backend: the tweet API on one port.
//
//	chirp              serve (configured by the environment; see the README)
//	chirp healthcheck  exit 0 when the server on the configured port says it is ready
//	chirp dev          serve the API and, on its own port, the page bundle (make run)
//	chirp web          serve the page bundle alone
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chirp-social/chirp/backend/clientaddr"
	"github.com/chirp-social/chirp/backend/config"
	"github.com/chirp-social/chirp/backend/connlimit"
	"github.com/chirp-social/chirp/backend/eventbus"
	"github.com/chirp-social/chirp/backend/gormstore"
	"github.com/chirp-social/chirp/backend/hotwindow"
	"github.com/chirp-social/chirp/backend/httpapi"
	"github.com/chirp-social/chirp/backend/limitlog"
	"github.com/chirp-social/chirp/backend/metrics"
	"github.com/chirp-social/chirp/backend/ratelimit"
	"github.com/chirp-social/chirp/backend/realtime"
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

func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	api, conns, closeAPI, err := newAPI(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeAPI()
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
	apiLn, err := serving.Listen(cfg.Host, cfg.Port, "PORT")
	if err != nil {
		return err
	}
	defer apiLn.Close() // in case what follows fails; Run's shutdown closes it otherwise
	pageLn, err := serving.Listen(cfg.Host, cfg.WebPort, "WEB_PORT")
	if err != nil {
		return err
	}
	defer pageLn.Close()
	page, err := web.New(web.Config{Root: cfg.WebRoot, APIURL: cfg.APIURL, APIPort: apiLn.Port})
	if err != nil {
		return err
	}
	defer page.Close()
	api, conns, closeAPI, err := newAPI(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeAPI()
	return serving.Run(ctx, log, cfg.ShutdownTimeout,
		counted(conns, serving.Server{Name: "api", HTTP: api, Listener: apiLn}),
		counted(conns, serving.Server{Name: "page", HTTP: pageServer(page, log, cfg), Listener: pageLn}))
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

// telemetry is what the packages count through when METRICS_ADDR is set: one registry, made
// here, and an observer for each package that counts. Its zero value (metrics off) counts
// nothing: every observer is a nil interface, which the packages take as "nobody".
type telemetry struct {
	reg      *prometheus.Registry
	requests httpapi.RequestObserver
	sockets  realtime.Observer
	limits   limitlog.Counter
	batches  gormstore.BatchObserver
}

func newTelemetry(on bool) telemetry {
	if !on {
		return telemetry{}
	}
	reg := prometheus.NewRegistry()
	metrics.RegisterProcess(reg)
	return telemetry{
		reg:      reg,
		requests: metrics.NewHTTP(reg),
		sockets:  metrics.NewSockets(reg),
		limits:   metrics.NewLimits(reg),
		batches:  metrics.NewBatches(reg),
	}
}

// newAPI opens the store and the event bus and builds the API's server (and the pprof
// listener of DEBUG_ADDR, and the metrics listener of METRICS_ADDR) and the connection limits
// its listener and the page's are to be counted by (counted); closeAPI closes what it opened,
// after the server has shut down.
func newAPI(ctx context.Context, cfg config.Config, log *slog.Logger) (srv *http.Server, conns *connlimit.Limiter, closeAPI func(), err error) {
	tel := newTelemetry(cfg.MetricsAddr != "")
	var bus *eventbus.Bus
	var current func() bool // whether the window hears every other process: the bus is up
	if cfg.EventBus == config.EventBusPostgres {
		if bus, err = eventbus.New(eventbus.Config{DatabaseURL: cfg.DatabaseURL, Logger: log, Heartbeat: cfg.EventBusHeartbeat}); err != nil {
			return nil, nil, nil, fmt.Errorf("DATABASE_URL: %w", err)
		}
		current = func() bool { return bus.Ready() == nil }
	}
	window := hotwindow.New(hotwindow.Config{Current: current})
	storeOpts := []gormstore.Option{gormstore.WithCommitObserver(window), gormstore.WithBatchObserver(tel.batches)}
	if bus != nil {
		storeOpts = append(storeOpts, gormstore.WithNotifier(bus))
	}
	store, err := gormstore.Open(ctx, cfg.DatabaseURL, storeOpts...)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	tweets := window.Wrap(store)
	held, err := window.Load()
	if err != nil {
		store.Close()
		return nil, nil, nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	log.Info("database ready", "kind", databaseKind(cfg.DatabaseURL), "event_bus", cfg.EventBus, "hot_window", held)

	// One client address rule and one log of limit bites for the API, the socket server and the
	// connection limits.
	clients := clientaddr.New(cfg.TrustedProxies)
	bites := limitlog.New(log, tel.limits)
	writes := ratelimit.New(cfg.WritesPerMinute, cfg.WriteBurst)
	logLimits(cfg, log, writes, clients)
	conns = connLimiter(cfg, clients, bites)
	var relays realtime.RelayPublisher // a nil *eventbus.Bus would not be a nil interface
	if bus != nil {
		relays = bus
	}
	sockets, err := realtime.New(realtime.Config{
		Relays:          relays,
		Logger:          log,
		AllowedOrigins:  cfg.AllowedOrigins,
		PingInterval:    cfg.PingInterval,
		PingTimeout:     cfg.PingTimeout,
		MaxPerClient:    cfg.SocketMaxPerIP,
		MaxPerNet:       cfg.SocketMaxPerNet,
		NetPrefixV4:     cfg.SocketNetPrefixV4,
		NetPrefixV6:     cfg.SocketNetPrefixV6,
		MaxTotal:        cfg.SocketMaxTotal,
		MaxMessageBytes: cfg.SocketMaxMessageBytes,
		Clients:         clients,
		Limits:          bites,
		Observer:        tel.sockets,
	})
	if err != nil {
		store.Close()
		return nil, nil, nil, fmt.Errorf("socket server: %w", err)
	}
	var ready func() error
	if bus != nil {
		// Other processes' writes reach the window before the sockets announce them.
		if err := bus.Start(ctx, window.Sink(sockets), store.Pool()); err != nil {
			store.Close()
			return nil, nil, nil, err
		}
		ready = bus.Ready
	}
	// Last of all, after the sockets have closed and requests drained: the bus, then the
	// database.
	closeStore := func() {
		if bus != nil {
			bus.Close()
		}
		store.Close()
	}
	handler := httpapi.New(httpapi.Config{
		Store:          tweets,
		Announcer:      sockets,
		Logger:         log,
		AllowedOrigins: cfg.AllowedOrigins,
		RequestTimeout: cfg.RequestTimeout,
		Realtime:       sockets,
		Connections:    sockets.Connections,
		Clients:        clients,
		WriteLimit:     writes,
		Bites:          bites,
		Sessions:       sockets.Sessions,
		SocketsFull:    sockets.Full,
		Ready:          ready,
		Requests:       tel.requests,
	})
	srv = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		// No ReadTimeout or WriteTimeout here: they would cut long-lived socket connections.
		// /api requests get both, per request, from the handler (REQUEST_TIMEOUT).
		IdleTimeout:    cfg.IdleTimeout,
		MaxHeaderBytes: cfg.MaxHeaderBytes,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Shutdown stops accepting, then waits for requests to finish; a long-poll would wait
	// until its timeout, so every socket is closed as soon as shutdown begins (clients
	// reconnect to the next process). Websockets are hijacked and not waited for at all.
	srv.RegisterOnShutdown(sockets.Close)
	stopDebug, stopMetrics := func() {}, func() {}
	if cfg.DebugAddr != "" {
		if !loopback(cfg.DebugAddr) {
			log.Warn("DEBUG_ADDR is not a loopback address: anyone who reaches it can read the process's "+
				"profiles, stacks and memory (pprof has no access control); use 127.0.0.1", "addr", cfg.DebugAddr)
		}
		if stopDebug, err = serveAside("debug", "DEBUG_ADDR", cfg.DebugAddr, debugHandler(), log); err != nil {
			closeStore()
			return nil, nil, nil, err
		}
	}
	if tel.reg != nil {
		metrics.RegisterDatabase(tel.reg, store.Pool())
		metrics.RegisterSocketCounts(tel.reg, sockets)
		metrics.RegisterWindow(tel.reg, window)
		metrics.RegisterConnections(tel.reg, conns)
		if bus != nil {
			metrics.RegisterBus(tel.reg, bus)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metrics.Handler(tel.reg, log))
		if stopMetrics, err = serveAside("metrics", "METRICS_ADDR", cfg.MetricsAddr, mux, log); err != nil {
			stopDebug()
			closeStore()
			return nil, nil, nil, err
		}
	}
	// In-flight requests finish and sockets close before the caller closes the bus and the
	// database.
	return srv, conns, func() { stopMetrics(); stopDebug(); closeStore() }, nil
}

// logLimits writes the `limits` record: the limits this process enforces, once, at start.
func logLimits(cfg config.Config, log *slog.Logger, writes *ratelimit.Limiter, clients *clientaddr.Resolver) {
	log.Info("limits",
		"writes_per_minute", writes.PerMinute(), "write_burst", writes.Burst(),
		"trusted_proxies", strings.Join(clients.Trusted(), ","),
		"socket_max_per_ip", cfg.SocketMaxPerIP,
		"socket_max_total", cfg.SocketMaxTotal,
		"socket_max_per_net", cfg.SocketMaxPerNet,
		"socket_net_prefix_v4", cfg.SocketNetPrefixV4,
		"socket_net_prefix_v6", cfg.SocketNetPrefixV6,
		"file_limit", cfg.FileLimit,
		"conn_max_per_ip", cfg.ConnMaxPerIP,
		"conn_max_total", cfg.ConnMaxTotal,
		"idle_timeout", cfg.IdleTimeout,
		"socket_max_message_bytes", cfg.SocketMaxMessageBytes,
		"max_header_bytes", cfg.MaxHeaderBytes)
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

// debugHandler is net/http/pprof.
func debugHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// serveAside serves h on a listener of its own (DEBUG_ADDR's pprof, METRICS_ADDR's
// /metrics), never on the public port, and logs `NAME listening addr=…`, which tests read the
// port from.
func serveAside(name, variable, addr string, h http.Handler, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s %s: %w", variable, addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go srv.Serve(ln)
	log.Info(name+" listening", "addr", ln.Addr().String())
	return func() { srv.Close() }, nil
}

// loopback says whether a host:port listens on this machine alone.
func loopback(addr string) bool {
	host, _, _ := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

func databaseKind(url string) string {
	if path, err := gormstore.SQLitePath(url); err == nil {
		return "sqlite " + path
	}
	return "postgres"
}

// healthcheck asks the local server whether it is ready, for container images without curl.
func healthcheck(ctx context.Context, cfg config.Config) error {
	if cfg.Port == 0 {
		return errors.New("healthcheck needs the server's PORT")
	}
	host := cfg.Host
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	url := "http://" + net.JoinHostPort(host, strconv.Itoa(cfg.Port)) + "/readyz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s", url, resp.Status)
	}
	return nil
}
