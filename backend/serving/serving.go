// Package serving runs Chirp's HTTP servers: it binds their ports (a port in use is reported
// with the variable that changes it), writes the `listening` record that tests and tools read
// the real port from, and stops the servers together, gracefully.
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
			if err := s.HTTP.Shutdown(shutdownCtx); err != nil {
				// What is still open at the deadline is a client that will not finish (a body
				// trickled a byte at a time, say): it is cut.
				log.Warn("connections still open at the shutdown timeout were closed",
					"server", s.Name, "timeout", timeout, "error", err)
				s.HTTP.Close()
			}
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
