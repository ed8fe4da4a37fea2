package main

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chirp-social/chirp/backend/config"
	"github.com/chirp-social/chirp/backend/gormstore"
	"github.com/chirp-social/chirp/backend/httpapi"
	"github.com/chirp-social/chirp/backend/limitlog"
	"github.com/chirp-social/chirp/backend/metrics"
	"github.com/chirp-social/chirp/backend/realtime"
	"github.com/chirp-social/chirp/backend/serving"
)

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

// serveMetrics serves the registry's /metrics on METRICS_ADDR, when metrics are on.
func (tel telemetry) serveMetrics(cfg config.Config, log *slog.Logger, closers *serving.Closers) error {
	if tel.reg == nil {
		return nil
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler(tel.reg, log))
	return serveAside(cfg, log, closers, "metrics", "METRICS_ADDR", cfg.MetricsAddr, mux)
}

// serveDebug serves net/http/pprof on DEBUG_ADDR, when it is set.
func serveDebug(cfg config.Config, log *slog.Logger, closers *serving.Closers) error {
	if cfg.DebugAddr == "" {
		return nil
	}
	if !loopback(cfg.DebugAddr) {
		log.Warn("DEBUG_ADDR is not a loopback address: anyone who reaches it can read the process's "+
			"profiles, stacks and memory (pprof has no access control); use 127.0.0.1", "addr", cfg.DebugAddr)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return serveAside(cfg, log, closers, "debug", "DEBUG_ADDR", cfg.DebugAddr, mux)
}

// serveAside serves h on a listener of its own, never on the public port, until closers close:
// then it stops gracefully, with SHUTDOWN_TIMEOUT as the public servers have.
func serveAside(cfg config.Config, log *slog.Logger, closers *serving.Closers, name, variable, addr string, h http.Handler) error {
	side, err := serving.ServeAside(log, name, variable, addr, h)
	if err != nil {
		return err
	}
	closers.Add(func() error { return side.Stop(cfg.ShutdownTimeout) })
	return nil
}

// loopback says whether a host:port listens on this machine alone.
func loopback(addr string) bool {
	host, _, _ := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}
