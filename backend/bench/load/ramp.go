package main

import (
	"context"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/chirp-social/chirp/backend/bench/load/internal/proc"
	"github.com/chirp-social/chirp/backend/bench/load/internal/socketio"
	"github.com/chirp-social/chirp/backend/bench/load/internal/stats"
)

// connectReport is the connect phase of fanout and listen, in both results' JSON.
type connectReport struct {
	Connected     int           `json:"connected"`
	ConnectErrors int           `json:"connect_errors"`
	FirstError    string        `json:"first_connect_error,omitempty"`
	ConnectAllMs  float64       `json:"connect_all_ms"`
	ConnectPerS   float64       `json:"connect_per_s"`
	Handshake     stats.Latency `json:"handshake"`
}

// ramp opens cfg.n clients, cfg.rate a second with at most cfg.dialConcurrency handshakes in
// flight: a burst of ten thousand handshakes at once measures the server's accept queue, not
// its fan-out. joined runs for each client that joined "/", before its reader starts
// delivering to h. It returns the clients by id (nil where the handshake failed).
func ramp(ctx context.Context, cfg config, h socketio.Handler, joined func(*socketio.Client), heartbeats *atomic.Int64, log progress) ([]*socketio.Client, connectReport, error) {
	dialer, err := socketio.NewDialer(cfg.eio, cfg.transport, cfg.url, cfg.path, cfg.connectTimeout, heartbeats)
	if err != nil {
		return nil, connectReport{}, err
	}
	clients := make([]*socketio.Client, cfg.n)
	handshakes := make([]time.Duration, cfg.n)
	var failed atomic.Int32
	var firstErr atomic.Value
	slots := make(chan struct{}, cfg.dialConcurrency)
	var wg sync.WaitGroup
	start := time.Now()
	every := time.Second / time.Duration(cfg.rate)
	log.say("connecting %d clients (EIO %d, %d/s, %d handshakes in flight at most) to %s", cfg.n, cfg.eio, cfg.rate, cfg.dialConcurrency, dialer.URL())
dialing:
	for i := range cfg.n {
		sleep(ctx, time.Until(start.Add(time.Duration(i)*every)))
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			break dialing
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			t0 := time.Now()
			c, err := dialer.Dial(ctx, i)
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			handshakes[i] = time.Since(t0)
			clients[i] = c
			if joined != nil {
				joined(c)
			}
			go c.Listen(h)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	r := connectReport{ConnectErrors: int(failed.Load()), ConnectAllMs: stats.Ms(elapsed)}
	if v := firstErr.Load(); v != nil {
		r.FirstError = v.(string)
	}
	var took []time.Duration
	for i, c := range clients {
		if c != nil {
			took = append(took, handshakes[i])
		}
	}
	r.Connected = len(took)
	r.Handshake = stats.Latencies(took)
	r.ConnectPerS = stats.Round3(float64(r.Connected) / elapsed.Seconds())
	log.say("connected %d of %d in %.0f ms (%d failed) %s", r.Connected, cfg.n, r.ConnectAllMs, r.ConnectErrors, r.FirstError)
	return clients, r, ctx.Err()
}

// closeAll closes every client that connected.
func closeAll(clients []*socketio.Client) {
	for _, c := range clients {
		if c != nil {
			c.Close()
		}
	}
}

// checkOpenFiles warns when this process or the server (pid) may not open the sockets a run
// needs: perClient on each side for each of n clients (its transport's, and one more for a
// herd client's reads). A client refused for want of a file
// descriptor would look like a slow or failing server.
func checkOpenFiles(n, perClient, pid int, log progress) {
	need := uint64(n*perClient + 200)
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < need {
		log.warn("this process may open %d files, ~%d needed: raise ulimit -n", rl.Cur, need)
	}
	if pid > 0 {
		if soft := proc.ReadOpenFileLimit(pid); soft > 0 && soft < need {
			log.warn("the server (pid %d) may open %d files, ~%d needed: start it after ulimit -n %d", pid, soft, need, need)
		}
	}
}
