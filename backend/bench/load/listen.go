package main

// --mode listen: what a write storm does to the people watching. N clients join "/" (the
// fan-out's ramp) and then only read for --duration while something else writes, usually a
// concurrent `--mode api --op post`. They keep the heartbeat (EIO3: they ping; EIO4: they
// answer), so a quiet client is never dropped for its silence, and they never reconnect: a
// client the server closes stays closed and is counted.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chirp-social/chirp/backend/bench/load/internal/proc"
	"github.com/chirp-social/chirp/backend/bench/load/internal/socketio"
	"github.com/chirp-social/chirp/backend/bench/load/internal/stats"
)

// listenReport is what --mode listen prints as JSON. Times "after" count from the moment the
// tool began connecting.
type listenReport struct {
	Mode      string `json:"mode"`
	EIO       int    `json:"eio"`
	Transport string `json:"transport"`
	URL       string `json:"url"`
	Label     string `json:"label,omitempty"`
	N         int    `json:"n"`
	connectReport
	DurationS float64 `json:"duration_s"` // listened after connecting (less than --duration if cut short)

	EventsTotal  int64            `json:"events_total"`
	EventsByName map[string]int64 `json:"events_by_name"`
	// Per connected client: the newTweet events it read; those per second of the time it
	// listened; and per second between its first and last newTweet, the rate while they came.
	ClientNewTweet       stats.Dist `json:"client_newtweet_events"`
	ClientNewTweetPerS   stats.Dist `json:"client_newtweet_per_s"`
	ClientNewTweetActive stats.Dist `json:"client_newtweet_active_per_s"`
	LastNewTweetAfterS   *float64   `json:"last_newtweet_after_s"` // null: none read

	DisconnectedByServer  int            `json:"disconnected_by_server"`
	FirstDisconnectAfterS *float64       `json:"first_disconnect_after_s"` // null: none
	DisconnectAfterS      *stats.Dist    `json:"disconnect_after_s,omitempty"`
	DisconnectKinds       map[string]int `json:"disconnect_kinds,omitempty"`
	Heartbeats            int64          `json:"heartbeats"`
	PingIntervalMs        int64          `json:"ping_interval_ms"`

	ServerPID         int     `json:"server_pid"`
	ServerRSSStartKiB int64   `json:"server_rss_start_kib"`
	ServerRSSConnKiB  int64   `json:"server_rss_connected_kib"`
	ServerRSSMaxKiB   int64   `json:"server_rss_max_kib"` // the highest of samples every 250 ms
	ServerRSSEndKiB   int64   `json:"server_rss_end_kib"`
	ServerHWMKiB      int64   `json:"server_hwm_kib"`
	ServerCPUConnectS float64 `json:"server_cpu_connect_s"`
	ServerCPUListenS  float64 `json:"server_cpu_listen_s"`
	ToolRSSKiB        int64   `json:"tool_rss_kib"`
	ToolCPUS          float64 `json:"tool_cpu_s"`
	WallS             float64 `json:"wall_s"`
}

// listenClient is what one client saw, in ns since the run began; written by its reader.
type listenClient struct {
	connAt                  time.Duration
	newTweet, other         atomic.Int64
	firstNT, lastNT, discAt atomic.Int64 // 0: none
}

// listener counts events and the server's closes; after the run they are the tool's own.
type listener struct {
	start     time.Time
	clients   []*listenClient // by client id; nil where it did not connect
	listening atomic.Bool
	dropped   atomic.Int64
	log       progress

	mu     sync.Mutex
	byName map[string]int64 // events other than newTweet
	kinds  map[string]int
}

func (l *listener) Event(c *socketio.Client, name []byte, at time.Time) {
	if !l.listening.Load() {
		return
	}
	lc := l.clients[c.ID]
	if !bytes.Equal(name, newTweet) {
		lc.other.Add(1)
		key := string(name)
		if key == "" {
			key = "(unreadable)"
		}
		l.mu.Lock()
		l.byName[key]++
		l.mu.Unlock()
		return
	}
	t := int64(max(at.Sub(l.start), 1))
	if lc.newTweet.Add(1) == 1 {
		lc.firstNT.Store(t)
	}
	lc.lastNT.Store(t)
}

func (l *listener) Closed(c *socketio.Client, err error) {
	if !l.listening.Load() || c.ClosedByUs() {
		return
	}
	at := max(time.Since(l.start), 1)
	if !l.clients[c.ID].discAt.CompareAndSwap(0, int64(at)) {
		return
	}
	kind := socketio.CloseKind(err)
	l.mu.Lock()
	l.kinds[kind]++
	l.mu.Unlock()
	if l.dropped.Add(1) <= 3 {
		l.log.warn("client %d closed by the server after %.3f s (%s): %v", c.ID, at.Seconds(), kind, err)
	}
	c.Close()
}

func (l *listener) newTweets() (total int64) {
	for _, lc := range l.clients {
		if lc != nil {
			total += lc.newTweet.Load()
		}
	}
	return total
}

// rssSampler keeps the highest VmRSS of a process, read every 250 ms until stopped: a
// storm's peak passes between the start and end readings.
type rssSampler struct {
	max  atomic.Int64
	stop chan struct{}
	done sync.WaitGroup
}

func sampleRSS(pid int) *rssSampler {
	s := &rssSampler{stop: make(chan struct{})}
	s.max.Store(proc.ReadMemory(pid).RSSKiB)
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if v := proc.ReadMemory(pid).RSSKiB; v > s.max.Load() {
					s.max.Store(v)
				}
			case <-s.stop:
				return
			}
		}
	}()
	return s
}

func (s *rssSampler) end() int64 {
	close(s.stop)
	s.done.Wait()
	return s.max.Load()
}

func runListen(ctx context.Context, cfg config, log progress) (*listenReport, error) {
	start := time.Now()
	l := &listener{start: start, clients: make([]*listenClient, cfg.n), log: log, byName: map[string]int64{}, kinds: map[string]int{}}
	l.listening.Store(true)
	res := &listenReport{Mode: "listen", EIO: int(cfg.eio), Transport: string(cfg.transport), URL: cfg.url, Label: cfg.label, N: cfg.n, ServerPID: cfg.pid}
	checkOpenFiles(cfg.n, cfg.transport.SocketsPerClient(), cfg.pid, log)
	var sampler *rssSampler
	if cfg.pid > 0 {
		res.ServerRSSStartKiB = proc.ReadMemory(cfg.pid).RSSKiB
		sampler = sampleRSS(cfg.pid)
	}
	cpuStart := proc.ReadCPUSeconds(cfg.pid)

	var heartbeats atomic.Int64
	clients, conn, err := ramp(ctx, cfg, l, func(c *socketio.Client) {
		l.clients[c.ID] = &listenClient{connAt: time.Since(start)}
	}, &heartbeats, log)
	res.connectReport = conn
	defer closeAll(clients)
	for _, c := range clients {
		if c != nil {
			res.PingIntervalMs = c.Session.PingInterval.Milliseconds()
			break
		}
	}
	if cfg.pid > 0 {
		res.ServerRSSConnKiB = proc.ReadMemory(cfg.pid).RSSKiB
	}
	cpuConnected := proc.ReadCPUSeconds(cfg.pid)
	listenStart := time.Now()
	if err == nil && conn.Connected == 0 {
		err = fmt.Errorf("no client connected: %s", conn.FirstError)
	}
	if err == nil {
		err = l.listen(ctx, cfg.duration, conn.Connected)
	}

	// From here on, events are not counted and closes are the tool's.
	l.listening.Store(false)
	end := time.Since(start)
	res.DurationS = stats.Round3(time.Since(listenStart).Seconds())
	res.addClients(l, end)
	res.Heartbeats = heartbeats.Load()
	if cfg.pid > 0 {
		m := proc.ReadMemory(cfg.pid)
		res.ServerRSSEndKiB, res.ServerHWMKiB = m.RSSKiB, m.HWMKiB
		res.ServerRSSMaxKiB = max(sampler.end(), m.RSSKiB)
		res.ServerCPUConnectS = stats.Round3(cpuConnected - cpuStart)
		res.ServerCPUListenS = stats.Round3(proc.ReadCPUSeconds(cfg.pid) - cpuConnected)
	}
	res.ToolRSSKiB = proc.ReadMemory(0).RSSKiB
	res.ToolCPUS = stats.Round3(proc.ReadCPUSeconds(0))
	res.WallS = stats.Round3(time.Since(start).Seconds())
	return res, err
}

// listen waits out d, saying every 5 s how many events came.
func (l *listener) listen(ctx context.Context, d time.Duration, connected int) error {
	l.log.say("listening with %d clients for %s", connected, d)
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	began, last, lastAt := time.Now(), int64(0), time.Now()
	for {
		select {
		case <-deadline.C:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("listening cut short after %.1f s: %w", time.Since(began).Seconds(), ctx.Err())
		case now := <-tick.C:
			total := l.newTweets()
			l.log.say("%.0f s: %d newTweet (%.0f/s over all clients), %d closed by the server",
				now.Sub(began).Seconds(), total, float64(total-last)/now.Sub(lastAt).Seconds(), l.dropped.Load())
			last, lastAt = total, now
		}
	}
}

// addClients fills the per-client figures; end is when listening stopped.
func (res *listenReport) addClients(l *listener, end time.Duration) {
	var counts, perS, active, disc []float64
	var last time.Duration
	for _, lc := range l.clients {
		if lc == nil {
			continue
		}
		n := lc.newTweet.Load()
		until := end
		if d := time.Duration(lc.discAt.Load()); d > 0 {
			until = min(d, end)
			disc = append(disc, d.Seconds())
		}
		first, lastNT := time.Duration(lc.firstNT.Load()), time.Duration(lc.lastNT.Load())
		counts = append(counts, float64(n))
		perS = append(perS, rate(n, lc.connAt, until))
		active = append(active, activeRate(n, first, lastNT))
		res.EventsTotal += n + lc.other.Load()
		last = max(last, lastNT)
	}
	res.ClientNewTweet = stats.Numbers(counts)
	res.ClientNewTweetPerS = stats.Numbers(perS)
	res.ClientNewTweetActive = stats.Numbers(active)
	res.DisconnectedByServer = len(disc)
	if len(disc) > 0 {
		s := stats.Numbers(disc)
		res.DisconnectAfterS, res.FirstDisconnectAfterS = &s, &s.Min
	}
	if last > 0 {
		v := stats.Round3(last.Seconds())
		res.LastNewTweetAfterS = &v
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	res.EventsByName = map[string]int64{string(newTweet): l.newTweets()}
	for k, v := range l.byName {
		res.EventsByName[k] = v
	}
	if len(l.kinds) > 0 {
		res.DisconnectKinds = make(map[string]int, len(l.kinds))
		for k, v := range l.kinds {
			res.DisconnectKinds[k] = v
		}
	}
}

// rate is events per second over [from, to); 0 for an empty span.
func rate(events int64, from, to time.Duration) float64 {
	if to <= from {
		return 0
	}
	return float64(events) / (to - from).Seconds()
}

// activeRate is the rate between a client's first and last event, (events−1)/(last−first):
// the events' pace while they arrived, whatever the quiet before and after. 0 with fewer than
// two events.
func activeRate(events int64, first, last time.Duration) float64 {
	if events < 2 {
		return 0
	}
	return rate(events-1, first, last)
}

func (r *listenReport) complete() bool { return r.DisconnectedByServer == 0 }

func (r *listenReport) summary(w io.Writer) {
	fmt.Fprintf(w, "== listen EIO %d over %s, N=%d, %.1f s %s\n", r.EIO, r.Transport, r.N, r.DurationS, r.Label)
	fmt.Fprintf(w, "connected %d/%d in %.0f ms (%.0f/s), %d failed; handshake p50 %.2f p99 %.2f max %.2f ms\n",
		r.Connected, r.N, r.ConnectAllMs, r.ConnectPerS, r.ConnectErrors, r.Handshake.P50, r.Handshake.P99, r.Handshake.Max)
	fmt.Fprintf(w, "events %d %v; heartbeats %d (ping interval %d ms)\n", r.EventsTotal, r.EventsByName, r.Heartbeats, r.PingIntervalMs)
	c, a := r.ClientNewTweet, r.ClientNewTweetActive
	fmt.Fprintf(w, "newTweet per client min %.0f p1 %.0f p50 %.0f max %.0f; per second while they came p50 %.1f max %.1f\n",
		c.Min, c.P1, c.P50, c.Max, a.P50, a.Max)
	fmt.Fprintf(w, "closed by the server: %d %v\n", r.DisconnectedByServer, r.DisconnectKinds)
	if r.ServerPID > 0 {
		fmt.Fprintf(w, "server RSS start %.1f MiB, connected %.1f, max %.1f, end %.1f; CPU connect %.2f s, listen %.2f s\n",
			mib(r.ServerRSSStartKiB), mib(r.ServerRSSConnKiB), mib(r.ServerRSSMaxKiB), mib(r.ServerRSSEndKiB), r.ServerCPUConnectS, r.ServerCPUListenS)
	}
	fmt.Fprintf(w, "the tool: RSS %.1f MiB, CPU %.2f s, wall %.1f s\n", mib(r.ToolRSSKiB), r.ToolCPUS, r.WallS)
}
