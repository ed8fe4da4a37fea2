// Package serving runs Chirp's HTTP servers: it binds their ports (a port in use is reported
// with the variable that changes it), writes the `listening` record that tests and tools read
// the real port from, and stops the servers together, gracefully. It serves the side listeners
// (Aside) and stops them by the same rule, and holds the stack of what a program closes when it
// stops (Closers).
package serving

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Listener is a bound port, not served yet.
type Listener struct {
	net.Listener
	// Port is the port bound: the one configured, or the one the system picked for 0.
	Port int
	addr string // HOST:Port, for the listening record
}

// Listen binds host:port. variable names the setting that chose the port (PORT, WEB_PORT), so
// that the error says what to change.
func Listen(host string, port int, variable string) (*Listener, error) {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("port %d is already in use: stop the program that has it, or set %s to another port", port, variable)
	}
	if err != nil {
		return nil, fmt.Errorf("listen on %s (HOST, %s): %w", addr, variable, err)
	}
	bound := ln.Addr().(*net.TCPAddr).Port
	return &Listener{Listener: ln, Port: bound, addr: net.JoinHostPort(host, strconv.Itoa(bound))}, nil
}

// Server is an HTTP server, the listener it serves, and its name in the log records ("api",
// "page"), which is how a reader tells the servers of one process apart.
type Server struct {
	Name     string
	HTTP     *http.Server
	Listener *Listener
}

// Run logs `listening addr=HOST:PORT server=NAME` for each server, in order, and serves them
// until ctx ends (SIGINT, SIGTERM) or one of them fails. Then it shuts all of them down at once:
// each stops accepting and has until timeout to finish what it is serving; connections still
// open then are closed, and the stop is still a clean one. After a stop by ctx it returns nil,
// once every server has logged `stopped server=NAME`.
func Run(ctx context.Context, log *slog.Logger, timeout time.Duration, servers ...Server) error {
	served := make([]chan error, len(servers))
	for i, s := range servers {
		log.Info("listening", "addr", s.Listener.addr, "server", s.Name)
		served[i] = make(chan error, 1)
	}
	failed := make(chan struct{}, len(servers))
	for i, s := range servers {
		go func() {
			served[i] <- s.HTTP.Serve(s.Listener)
			failed <- struct{}{}
		}()
	}
	select {
	case <-ctx.Done():
	case <-failed: // Serve returns only on an error before Shutdown
	}
	log.Info("shutting down", "timeout", timeout)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() {
			shutdown(shutdownCtx, log, s.Name, timeout, s.HTTP)
			if err := <-served[i]; !errors.Is(err, http.ErrServerClosed) {
				errs[i] = fmt.Errorf("serve %s: %w", s.Name, err)
				return
			}
			log.Info("stopped", "server", s.Name)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// shutdown stops srv accepting and waits, until ctx ends, for what it is serving to finish.
// What is still open at the deadline is a client that will not finish (a body trickled a byte
// at a time, say): it is cut.
func shutdown(ctx context.Context, log *slog.Logger, name string, timeout time.Duration, srv *http.Server) {
	if err := srv.Shutdown(ctx); err != nil {
		log.Warn("connections still open at the shutdown timeout were closed",
			"server", name, "timeout", timeout, "error", err)
		srv.Close()
	}
}

// Aside is a server on a listener of its own beside the program's public ones (DEBUG_ADDR's
// pprof, METRICS_ADDR's /metrics). Unlike the servers of Run, one that fails does not stop the
// program: it is an operator's tool, not what the program serves.
type Aside struct {
	name   string
	http   *http.Server
	log    *slog.Logger
	served chan error
	// once runs the shutdown once: a closer stack and an error path may both stop a side
	// listener, and the second must get the first's answer, not wait for a second Serve result.
	once    sync.Once
	stopped error
}

// ServeAside binds addr and serves h there, and logs `NAME listening addr=…`, which tests and
// tools read the port from. variable names the setting that chose addr (DEBUG_ADDR,
// METRICS_ADDR), so that the error says what to change.
func ServeAside(log *slog.Logger, name, variable, addr string, h http.Handler) (*Aside, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s %s: %w", variable, addr, err)
	}
	a := &Aside{
		name: name,
		http: &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)},
		log:    log,
		served: make(chan error, 1),
	}
	go func() { a.served <- a.http.Serve(ln) }()
	log.Info(name+" listening", "addr", ln.Addr().String())
	return a, nil
}

// Stop shuts the server down as Run does its servers: it stops accepting and has until timeout
// to finish what it is serving (a profile being taken, a scrape), then what is still open is
// closed. Stopping it again returns the first Stop's answer (its timeout is then moot).
func (a *Aside) Stop(timeout time.Duration) error {
	a.once.Do(func() { a.stopped = a.stopNow(timeout) })
	return a.stopped
}

func (a *Aside) stopNow(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	shutdown(ctx, a.log, a.name, timeout, a.http)
	if err := <-a.served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", a.name, err)
	}
	return nil
}
