package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/chirp-social/chirp/backend/accounts"
	"github.com/chirp-social/chirp/backend/clientaddr"
	"github.com/chirp-social/chirp/backend/config"
	"github.com/chirp-social/chirp/backend/connlimit"
	"github.com/chirp-social/chirp/backend/dburl"
	"github.com/chirp-social/chirp/backend/eventbus"
	"github.com/chirp-social/chirp/backend/gormstore"
	"github.com/chirp-social/chirp/backend/hotwindow"
	"github.com/chirp-social/chirp/backend/httpapi"
	"github.com/chirp-social/chirp/backend/limitlog"
	"github.com/chirp-social/chirp/backend/metrics"
	"github.com/chirp-social/chirp/backend/passkeys"
	"github.com/chirp-social/chirp/backend/ratelimit"
	"github.com/chirp-social/chirp/backend/realtime"
	"github.com/chirp-social/chirp/backend/serving"
)

// newAPI opens the store and the event bus and builds the API's server (and the pprof
// listener of DEBUG_ADDR, and the metrics listener of METRICS_ADDR) and the connection limits
// its listener and the page's are to be counted by (counted). What it opens goes on closers,
// to be closed after the server has shut down; when a step fails, what the steps before it
// opened is on closers already.
func newAPI(ctx context.Context, cfg config.Config, log *slog.Logger, closers *serving.Closers) (*http.Server, *connlimit.Limiter, error) {
	tel := newTelemetry(cfg.MetricsAddr != "")
	var bus *eventbus.Bus
	var current func() bool // whether the window hears every other process: the bus is up
	if cfg.EventBus == config.EventBusPostgres {
		var err error
		if bus, err = eventbus.New(eventbus.Config{DatabaseURL: cfg.DatabaseURL, Logger: log, Heartbeat: cfg.EventBusHeartbeat}); err != nil {
			return nil, nil, fmt.Errorf("DATABASE_URL: %w", err)
		}
		current = func() bool { return bus.Ready() == nil }
	}
	window := hotwindow.New(hotwindow.Config{Current: current})
	storeOpts := []gormstore.Option{gormstore.WithCommitObserver(window), gormstore.WithBatchObserver(tel.batches), gormstore.WithSessionPurge(cfg.SessionMaxIdle)}
	if bus != nil {
		storeOpts = append(storeOpts, gormstore.WithNotifier(bus))
	}
	store, err := gormstore.Open(ctx, cfg.DatabaseURL, storeOpts...)
	if err != nil {
		return nil, nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	closers.Add(store.Close) // last of all, after requests drained and the bus stopped
	tweets := window.Wrap(store)
	held, err := window.Load()
	if err != nil {
		return nil, nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	// Each hash holds 19 MiB while it runs: two a core keeps the cores busy and memory bounded.
	passwords, err := accounts.NewHasher(accounts.MinParams, runtime.GOMAXPROCS(0)*2)
	if err != nil {
		return nil, nil, err
	}
	accountStore := window.WrapAccounts(store)
	rp, err := passkeys.New(passkeys.Config{RPID: cfg.WebAuthnRPID, Origins: cfg.WebAuthnOrigins, RPDisplayName: passkeys.DisplayName},
		accountStore, store)
	if err != nil {
		return nil, nil, err // config.Load checked the same rules: unreachable in practice
	}
	// Said at start: a passkey works only on the pages these name, and a wrong one is the
	// usual reason a deployment's passkeys fail.
	log.Info("passkeys", "webauthn_rp_id", cfg.WebAuthnRPID, "webauthn_origins", strings.Join(cfg.WebAuthnOrigins, ","))
	log.Info("database ready", "kind", databaseKind(cfg.DatabaseURL), "event_bus", cfg.EventBus, "hot_window", held)

	// One client address rule and one log of limit bites for the API, the socket server and the
	// connection limits.
	clients := clientaddr.New(cfg.TrustedProxies)
	bites := limitlog.New(log, tel.limits)
	writes := ratelimit.New(cfg.WritesPerMinute, cfg.WriteBurst)
	signIns := ratelimit.New(cfg.SignInPerMinute, config.SignInBurst)
	signInsOf := ratelimit.NewPerHour(cfg.SignInAccountPerHour, config.SignInBurst)
	logLimits(cfg, log, writes, clients)
	conns := connLimiter(cfg, clients, bites)
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
		return nil, nil, fmt.Errorf("socket server: %w", err)
	}
	var ready func() error
	if bus != nil {
		// Other processes' writes reach the window before the sockets announce them.
		if err := bus.Start(ctx, window.Sink(sockets), store.Pool()); err != nil {
			return nil, nil, err
		}
		closers.Add(func() error { bus.Close(); return nil }) // before the database it listens on
		ready = bus.Ready
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

		Accounts:           accountStore,
		Passwords:          passwords,
		Passkeys:           rp,
		SessionMaxIdle:     cfg.SessionMaxIdle,
		SignedInPostsOnly:  !cfg.GuestPosts,
		SignInLimit:        signIns,
		SignInAccountLimit: signInsOf,
	})
	srv := &http.Server{
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
	if err := serveDebug(cfg, log, closers); err != nil {
		return nil, nil, err
	}
	if tel.reg != nil {
		metrics.RegisterDatabase(tel.reg, store.Pool())
		metrics.RegisterSocketCounts(tel.reg, sockets)
		metrics.RegisterWindow(tel.reg, window)
		metrics.RegisterConnections(tel.reg, conns)
		if bus != nil {
			metrics.RegisterBus(tel.reg, bus)
		}
	}
	if err := tel.serveMetrics(cfg, log, closers); err != nil {
		return nil, nil, err
	}
	return srv, conns, nil
}

// logLimits writes the `limits` record: the limits this process enforces, once, at start.
func logLimits(cfg config.Config, log *slog.Logger, writes *ratelimit.Limiter, clients *clientaddr.Resolver) {
	log.Info("limits",
		"writes_per_minute", writes.PerMinute(), "write_burst", writes.Burst(),
		"signin_per_minute", cfg.SignInPerMinute, "signin_account_per_hour", cfg.SignInAccountPerHour,
		"signin_burst", config.SignInBurst, "guest_posts", cfg.GuestPosts, "session_max_idle", cfg.SessionMaxIdle,
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

func databaseKind(url string) string {
	if where, err := dburl.Parse(url); err == nil && where.Kind == dburl.SQLite {
		return "sqlite " + where.Path
	}
	return "postgres"
}
