// Package soak drives a chirp binary with mixed, bounded load for a while (make soak): people
// posting within the limits and reading pages, sockets connecting and leaving from many
// loopback addresses, and a few misbehaving clients. It reports errors, latencies and the
// server's footprint before and after, and fails when a well-behaved client saw an error or
// the footprint did not come back once the clients left.
package soak

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// Config is one soak run.
type Config struct {
	Binary   string        // the chirp binary
	Duration time.Duration // of the load
	Sockets  int           // concurrent well-behaved sockets
	Posters  int           // people posting, one address each
	Readers  int           // people paging, one address each
	Env      []string      // extra environment for the server (tests shorten its heartbeat)
	Out      io.Writer
}

// latencies collects durations from many goroutines.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) { l.mu.Lock(); l.d = append(l.d, d); l.mu.Unlock() }

func (l *latencies) p99() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0
	}
	s := slices.Clone(l.d)
	slices.Sort(s)
	return s[len(s)*99/100]
}

func (l *latencies) n() int { l.mu.Lock(); defer l.mu.Unlock(); return len(l.d) }

// tally counts outcomes by name.
type tally struct {
	mu sync.Mutex
	m  map[string]int
}

// addErr counts err under its kind, without the addresses and ports that would make every
// error its own line.
func (t *tally) addErr(prefix string, err error) {
	msg := err.Error()
	if se := (*stageError)(nil); errors.As(err, &se) {
		prefix += " (" + se.stage + ")"
	}
	var netErr net.Error
	switch {
	case errors.As(err, &netErr) && netErr.Timeout():
		msg = "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		msg = "connection closed (EOF)"
	case errors.Is(err, syscall.ECONNRESET):
		msg = "connection reset"
	case errors.Is(err, syscall.ECONNREFUSED):
		msg = "connection refused"
	default:
		msg = addrPort.ReplaceAllString(msg, "ADDR")
	}
	t.add(prefix + ": " + msg)
}

var addrPort = regexp.MustCompile(`\d+\.\d+\.\d+\.\d+:\d+`)

func (t *tally) add(name string) {
	t.mu.Lock()
	if t.m == nil {
		t.m = map[string]int{}
	}
	t.m[name]++
	t.mu.Unlock()
}

func (t *tally) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	keys := make([]string, 0, len(t.m))
	for k := range t.m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%d ", k, t.m[k])
	}
	return strings.TrimSpace(b.String())
}

// Run soaks a fresh server and reports; the error says why the run failed. The server's log
// and database live in a folder of $TMPDIR (chirp-soak-*), removed after a passing run and
// kept, and named in the error, after a failed one.
func Run(ctx context.Context, cfg Config) (err error) {
	dir, err := os.MkdirTemp("", "chirp-soak-")
	if err != nil {
		return err
	}
	out := cfg.Out
	defer func() { // after the server has stopped (deferred below) and closed its log
		if err != nil {
			err = fmt.Errorf("%w (the server's log and database are kept in %s)", err, dir)
			return
		}
		if rmErr := os.RemoveAll(dir); rmErr != nil {
			fmt.Fprintf(out, "soak: could not remove %s: %v\n", dir, rmErr)
		}
	}()
	srv, err := startServer(ctx, cfg.Binary, dir, cfg.Env)
	if err != nil {
		return err
	}
	defer srv.close()
	fmt.Fprintf(out, "soak: chirp at %s with its default limits, logs in %s\n", srv.base, srv.logs.Name())
	time.Sleep(time.Second)
	before, err := srv.sample()
	if err != nil {
		return fmt.Errorf("sample before: %w", err)
	}

	var (
		posts, reads, connects latencies
		errs                   tally // well-behaved clients: must stay empty
		bad                    tally // misbehaving clients: what the server did to them
		sessions, events       atomic.Int64
	)
	loadCtx, stopLoad := context.WithTimeout(ctx, cfg.Duration)
	defer stopLoad()
	var wg sync.WaitGroup
	for i := range cfg.Posters {
		wg.Go(func() { poster(loadCtx, srv.base, addr(1, i), &posts, &errs) })
	}
	for i := range cfg.Readers {
		wg.Go(func() { reader(loadCtx, srv.base, addr(2, i), &reads, &errs) })
	}
	for i := range cfg.Sockets {
		// Ten sockets an address and ten addresses a /24: well under the per-address and
		// per-network caps, as real people behind few addresses would be.
		wg.Go(func() {
			sockets(loadCtx, srv.base, addr(3+i/2500, i/100%25*250+i/10%10), &connects, &errs, &sessions, &events)
		})
	}
	wg.Go(func() { flooder(loadCtx, srv.base, addr(20, 0), &bad) })
	wg.Go(func() { sprayer(loadCtx, srv.base, addr(20, 1), &bad) })
	wg.Go(func() { oversized(loadCtx, srv.base, addr(20, 2), &bad) })
	wg.Go(func() { stalled(loadCtx, srv.base, addr(20, 3), &bad) })

	progress := time.NewTicker(30 * time.Second)
	defer progress.Stop()
	started := time.Now()
	for loadCtx.Err() == nil {
		select {
		case <-progress.C:
			s, _ := srv.sample()
			fmt.Fprintf(out, "  %4.0fs: %d sockets, %d posts, %d reads, %d socket sessions, heap %.1f MiB, %d goroutines, errors: %s\n",
				time.Since(started).Seconds(), s.sockets, posts.n(), reads.n(), sessions.Load(), mib(s.heapBytes), s.goroutines, errs.String())
		case <-loadCtx.Done():
		}
	}
	wg.Wait()

	// The clients have left; abandoned handshakes expire within PING_TIMEOUT.
	var after sample
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(time.Second) {
		if after, err = srv.sample(); err != nil {
			return fmt.Errorf("sample after: %w", err)
		}
		if after.sockets == 0 || time.Now().After(deadline) {
			break
		}
	}
	time.Sleep(2 * time.Second)
	if after, err = srv.sample(); err != nil {
		return fmt.Errorf("sample after: %w", err)
	}

	fmt.Fprintf(out, "\nsoak: %v of load\n", cfg.Duration)
	fmt.Fprintf(out, "  posts      %6d  p99 %v\n", posts.n(), posts.p99().Round(time.Microsecond))
	fmt.Fprintf(out, "  reads      %6d  p99 %v\n", reads.n(), reads.p99().Round(time.Microsecond))
	fmt.Fprintf(out, "  sockets    %6d sessions, connect p99 %v, %d events received\n", sessions.Load(), connects.p99().Round(time.Microsecond), events.Load())
	fmt.Fprintf(out, "  errors of well-behaved clients: %d %s\n", total(&errs), errs.String())
	fmt.Fprintf(out, "  misbehaving clients: %s\n", bad.String())
	fmt.Fprintf(out, "  server       before      after\n")
	fmt.Fprintf(out, "  heap      %7.1f MiB %7.1f MiB\n", mib(before.heapBytes), mib(after.heapBytes))
	fmt.Fprintf(out, "  goroutines %8d   %8d\n", before.goroutines, after.goroutines)
	fmt.Fprintf(out, "  RSS       %7.1f MiB %7.1f MiB\n", mib(before.rssBytes), mib(after.rssBytes))
	fmt.Fprintf(out, "  sockets    %8d   %8d\n", before.sockets, after.sockets)

	var problems []string
	if n := total(&errs); n > 0 {
		problems = append(problems, fmt.Sprintf("%d errors of well-behaved clients", n))
	}
	if grew := after.heapBytes - before.heapBytes; grew > max(before.heapBytes/10, 5<<20) {
		problems = append(problems, fmt.Sprintf("the heap grew by %.1f MiB", mib(grew)))
	}
	if grew := after.goroutines - before.goroutines; grew > max(before.goroutines/10, 5) {
		problems = append(problems, fmt.Sprintf("%d more goroutines", grew))
	}
	if after.sockets != 0 {
		problems = append(problems, fmt.Sprintf("%d sockets still open", after.sockets))
	}
	if len(problems) > 0 {
		return fmt.Errorf("soak failed: %s", strings.Join(problems, "; "))
	}
	fmt.Fprintln(out, "soak: passed")
	return nil
}

func total(t *tally) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, v := range t.m {
		n += v
	}
	return n
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// addr is a loopback source address: 127.<group>.<i/250>.<2+i%250>.
func addr(group, i int) string { return fmt.Sprintf("127.%d.%d.%d", group, i/250, 2+i%250) }

// sleepCtx sleeps d or until ctx ends; false when it ended.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// poster posts a tweet every 3 to 5 s: 12 to 20 a minute, within the default write limit.
func poster(ctx context.Context, base, source string, lat *latencies, errs *tally) {
	c := httpClientFrom(source)
	defer c.CloseIdleConnections() // the server would hold their goroutines to its IdleTimeout
	for n := 0; sleepCtx(ctx, time.Duration(3000+rand.IntN(2000))*time.Millisecond); n++ {
		body := fmt.Sprintf(`{"author":"soak %s","content":"tweet %d from %s"}`, source, n, source)
		post := func() (*http.Response, error) {
			return c.Post(base+"/api/tweets", "application/json", strings.NewReader(body))
		}
		if !timed(ctx, "post", http.StatusCreated, post, lat, errs) {
			return
		}
	}
}

// reader asks for the newest page or what is new, about twice a second.
func reader(ctx context.Context, base, source string, lat *latencies, errs *tally) {
	c := httpClientFrom(source)
	defer c.CloseIdleConnections() // the server would hold their goroutines to its IdleTimeout
	for n := 0; sleepCtx(ctx, time.Duration(300+rand.IntN(400))*time.Millisecond); n++ {
		url := base + "/api/tweets"
		if n%2 == 1 {
			url += "?since_id=1&limit=100"
		}
		if !timed(ctx, "read", http.StatusOK, func() (*http.Response, error) { return c.Get(url) }, lat, errs) {
			return
		}
	}
}

// timed sends one request and adds its latency to lat when it is answered want, or counts what
// went wrong under what. It reports false once ctx has ended: the soak is over, and a request
// cut by that is no failure of the server's.
func timed(ctx context.Context, what string, want int, send func() (*http.Response, error), lat *latencies, errs *tally) bool {
	start := time.Now()
	resp, err := send()
	if ctx.Err() != nil {
		return false
	}
	if err != nil {
		errs.addErr(what, err)
		return true
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		errs.add(fmt.Sprintf("%s %d", what, resp.StatusCode))
		return true
	}
	lat.add(time.Since(start))
	return true
}

// sockets connects a socket, keeps it 5 to 60 s, leaves, and again, until ctx ends.
func sockets(ctx context.Context, base, source string, lat *latencies, errs *tally, sessions, events *atomic.Int64) {
	// Spread the first connects over ten seconds, as people arrive.
	if !sleepCtx(ctx, time.Duration(rand.IntN(10_000))*time.Millisecond) {
		return
	}
	for ctx.Err() == nil {
		start := time.Now()
		s, err := dialSocket(ctx, base, source)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			errs.addErr("socket", err)
			sleepCtx(ctx, time.Second)
			continue
		}
		lat.add(time.Since(start))
		sessions.Add(1)
		stay := time.Duration(5000+rand.IntN(55_000)) * time.Millisecond
		select {
		case <-ctx.Done():
		case <-time.After(stay):
		case <-s.done:
			if ctx.Err() == nil {
				errs.add("socket closed by the server")
			}
		}
		events.Add(s.events.Load())
		s.close()
	}
}

// flooder posts as fast as ten a second from one address: the write limit must answer 429.
func flooder(ctx context.Context, base, source string, bad *tally) {
	c := httpClientFrom(source)
	defer c.CloseIdleConnections() // the server would hold their goroutines to its IdleTimeout
	hammer(ctx, "flooder", 100*time.Millisecond, func() (*http.Response, error) {
		return c.Post(base+"/api/tweets", "application/json", strings.NewReader(`{"author":"flood","content":"flood"}`))
	}, bad)
}

// sprayer opens polling handshakes from one address and never polls them.
func sprayer(ctx context.Context, base, source string, bad *tally) {
	c := httpClientFrom(source)
	defer c.CloseIdleConnections() // the server would hold their goroutines to its IdleTimeout
	hammer(ctx, "sprayer", 50*time.Millisecond, func() (*http.Response, error) {
		return c.Get(base + "/socket.io/?EIO=3&transport=polling")
	}, bad)
}

// hammer sends a request every period until ctx ends, and counts each answer under what and
// its status: the caller's test is which statuses came.
func hammer(ctx context.Context, what string, period time.Duration, send func() (*http.Response, error), bad *tally) {
	for sleepCtx(ctx, period) {
		resp, err := send()
		if err != nil {
			if ctx.Err() == nil {
				bad.add(what + " error")
			}
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		bad.add(fmt.Sprintf("%s %d", what, resp.StatusCode))
	}
}

// oversized sends a 70 KiB message every few seconds: its connection must be closed.
func oversized(ctx context.Context, base, source string, bad *tally) {
	big := "42" + `["newTweet","` + strings.Repeat("x", 70<<10) + `"]`
	for sleepCtx(ctx, 3*time.Second) {
		s, err := dialSocket(ctx, base, source)
		if err != nil {
			continue
		}
		s.write(websocket.TextMessage, []byte(big))
		select {
		case <-s.done:
			bad.add("oversized closed")
		case <-time.After(5 * time.Second):
			bad.add("oversized still open")
		}
		s.close()
	}
}

// stalled connects a socket that never reads again: the server must not wait for it.
func stalled(ctx context.Context, base, source string, bad *tally) {
	d := dialerFrom(source)
	wd := websocket.Dialer{NetDialContext: d.DialContext, HandshakeTimeout: 5 * time.Second}
	ws, _, err := wd.DialContext(ctx, "ws"+strings.TrimPrefix(base, "http")+"/socket.io/?EIO=3&transport=websocket", nil)
	if err != nil {
		bad.add("stalled could not connect")
		return
	}
	defer ws.Close()
	<-ctx.Done()
	bad.add("stalled reader held to the end")
}
