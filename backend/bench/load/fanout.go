package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/chirp-social/chirp/backend/bench/load/internal/proc"
	"github.com/chirp-social/chirp/backend/bench/load/internal/rawhttp"
	"github.com/chirp-social/chirp/backend/bench/load/internal/socketio"
	"github.com/chirp-social/chirp/backend/bench/load/internal/stats"
	"github.com/chirp-social/chirp/backend/bench/load/internal/tweets"
)

// fanoutReport is what --mode fanout prints as JSON.
type fanoutReport struct {
	Mode      string `json:"mode"`
	EIO       int    `json:"eio"`
	Transport string `json:"transport"`
	URL       string `json:"url"`
	Trigger   string `json:"trigger"`
	Label     string `json:"label,omitempty"`
	N         int    `json:"n"`
	K         int    `json:"k"`
	connectReport

	Delivered     int64          `json:"delivered"` // newTweet events read, at most one per client and round
	Expected      int64          `json:"expected"`  // connected × K
	DeliveryRatio float64        `json:"delivery_ratio"`
	RoundTimeouts int            `json:"round_timeouts"`
	Extra         int64          `json:"extra_events"` // newTweet events beyond one per client and round
	EmitterGot    int64          `json:"emitter_received"`
	OtherEvents   int64          `json:"other_events"`
	Disconnects   int64          `json:"disconnects_during_run"`
	Heartbeats    int64          `json:"heartbeats"`
	Latency       stats.Latency  `json:"latency"`             // trigger sent → a client read the event, over every delivery
	RoundLast     stats.Latency  `json:"round_last_delivery"` // per round: until the last client had it
	TriggerErrors int            `json:"trigger_errors"`
	PostLatency   *stats.Latency `json:"post_latency,omitempty"`
	*herdReport                  // --fetch only

	ServerPID         int     `json:"server_pid"`
	ServerRSSIdleKiB  int64   `json:"server_rss_idle_kib"`
	ServerRSSConnKiB  int64   `json:"server_rss_connected_kib"`
	ServerRSSEndKiB   int64   `json:"server_rss_end_kib"`
	ServerHWMKiB      int64   `json:"server_hwm_kib"`
	ServerKiBPerConn  float64 `json:"server_kib_per_conn"` // (connected − idle) / connected clients
	ServerCPUConnectS float64 `json:"server_cpu_connect_s"`
	ServerCPURoundsS  float64 `json:"server_cpu_rounds_s"`
	ToolRSSKiB        int64   `json:"tool_rss_kib"`
	ToolCPUS          float64 `json:"tool_cpu_s"`
	WallS             float64 `json:"wall_s"`
}

var newTweet = []byte("newTweet")

// fanout is the state of a run the clients' readers share with the round loop. A round's
// start is written before the round number is published, so a reader that sees round r
// sees its start.
type fanout struct {
	n          int
	round      atomic.Int32 // the round under way; -1 before the first
	roundStart []time.Time
	lat        []atomic.Int64 // [round*n + client]: ns from the trigger to the event; 0: none
	got        []atomic.Int32 // by round: clients that had it
	done       []chan struct{}
	receivers  atomic.Int32 // clients that joined: a round is complete when this many had it
	lastRound  []int32      // by client: the last round it had; each written by its reader only
	running    atomic.Bool  // false once the run ends: closes from then on are ours

	extra, emitterGot, other, disconnects atomic.Int64
	herd                                  *herd // --fetch only
	log                                   progress
}

func newFanout(n, k int, log progress) *fanout {
	f := &fanout{n: n, roundStart: make([]time.Time, k), lat: make([]atomic.Int64, n*k),
		got: make([]atomic.Int32, k), done: make([]chan struct{}, k), lastRound: make([]int32, n), log: log}
	for r := range f.done {
		f.done[r] = make(chan struct{})
	}
	for i := range f.lastRound {
		f.lastRound[i] = -1
	}
	f.round.Store(-1)
	f.running.Store(true)
	return f
}

// Event counts one event a client read.
func (f *fanout) Event(c *socketio.Client, name []byte, at time.Time) {
	if !bytes.Equal(name, newTweet) {
		f.other.Add(1)
		return
	}
	if c.ID < 0 { // the emitter: a server that echoes to the sender shows here
		f.emitterGot.Add(1)
		return
	}
	r := f.round.Load()
	if f.herd != nil && r >= 0 {
		f.herd.kick(c.ID) // the page reads on every event, even one it did not expect
	}
	if r < 0 || f.lastRound[c.ID] >= r {
		f.extra.Add(1)
		return
	}
	f.lastRound[c.ID] = r
	f.lat[int(r)*f.n+c.ID].Store(int64(max(at.Sub(f.roundStart[r]), 1)))
	if f.got[r].Add(1) == f.receivers.Load() {
		close(f.done[r])
	}
}

// Closed counts a client the server closed during the run.
func (f *fanout) Closed(c *socketio.Client, err error) {
	if f.running.Load() && !c.ClosedByUs() {
		if f.disconnects.Add(1) <= 3 {
			f.log.warn("client %d disconnected: %v", c.ID, err)
		}
	}
}

func runFanout(ctx context.Context, cfg config, log progress) (*fanoutReport, error) {
	start := time.Now()
	f := newFanout(cfg.n, cfg.k, log)
	res := &fanoutReport{Mode: "fanout", EIO: int(cfg.eio), Transport: string(cfg.transport), URL: cfg.url, Trigger: cfg.trigger, Label: cfg.label,
		N: cfg.n, K: cfg.k, ServerPID: cfg.pid}
	sockets := cfg.transport.SocketsPerClient()
	if cfg.fetch {
		f.herd = newHerd(cfg, f)
		sockets++
	}
	checkOpenFiles(cfg.n, sockets, cfg.pid, log)
	res.ServerRSSIdleKiB = proc.ReadMemory(cfg.pid).RSSKiB
	cpuIdle := proc.ReadCPUSeconds(cfg.pid)

	var heartbeats atomic.Int64
	clients, conn, err := ramp(ctx, cfg, f, func(*socketio.Client) { f.receivers.Add(1) }, &heartbeats, log)
	res.connectReport = conn
	defer func() {
		f.running.Store(false)
		if f.herd != nil {
			f.herd.stop()
		}
		closeAll(clients)
	}()
	if err != nil {
		return res, err
	}
	if conn.Connected == 0 {
		return res, fmt.Errorf("no client connected: %s", conn.FirstError)
	}

	// The server's memory once it has let go of the handshakes' garbage.
	sleep(ctx, cfg.settle)
	if cfg.pid > 0 {
		res.ServerRSSConnKiB = proc.ReadMemory(cfg.pid).RSSKiB
		res.ServerKiBPerConn = float64(res.ServerRSSConnKiB-res.ServerRSSIdleKiB) / float64(conn.Connected)
	}
	cpuConnected := proc.ReadCPUSeconds(cfg.pid)
	cpuRounds := cpuConnected
	if f.herd != nil {
		t0 := time.Now()
		f.herd.open(ctx, clients, cfg.dialConcurrency)
		log.say("herd: %d clients read their first page in %.0f ms (%d failed)", conn.Connected, stats.Ms(time.Since(t0)), f.herd.initErrs.Load())
		cpuRounds = proc.ReadCPUSeconds(cfg.pid) // the first pages count in neither phase
	}

	trigger, closeTrigger, err := newTrigger(ctx, cfg, f, &heartbeats)
	if err != nil {
		return res, err
	}
	defer closeTrigger()

	var roundLast, herdLast []time.Duration
	for r := 0; r < cfg.k && ctx.Err() == nil; r++ {
		f.roundStart[r] = time.Now()
		f.round.Store(int32(r))
		if err := trigger.fire(r); err != nil {
			if res.TriggerErrors++; res.TriggerErrors <= 3 {
				log.warn("round %d: %v", r, err)
			}
		}
		if !f.waitRound(ctx, r, cfg.deliverTimeout) {
			res.RoundTimeouts++
		}
		last := f.lastDelivery(r)
		roundLast = append(roundLast, last)
		if f.herd != nil {
			hl := f.herd.waitRound(ctx, r)
			herdLast = append(herdLast, hl)
			log.say("round %d: %d/%d events, the last after %.1f ms; %d/%d have the tweet, the last after %.1f ms",
				r, f.got[r].Load(), f.receivers.Load(), stats.Ms(last), f.herd.got[r].Load(), f.receivers.Load(), stats.Ms(hl))
		} else {
			log.say("round %d: %d/%d events, the last after %.1f ms", r, f.got[r].Load(), f.receivers.Load(), stats.Ms(last))
		}
		sleep(ctx, cfg.gap)
	}
	cpuEnd := proc.ReadCPUSeconds(cfg.pid)

	var lats []time.Duration
	for i := range f.lat {
		if v := f.lat[i].Load(); v > 0 {
			lats = append(lats, time.Duration(v))
		}
	}
	res.Delivered = int64(len(lats))
	res.Expected = int64(conn.Connected) * int64(cfg.k)
	res.DeliveryRatio = stats.Round3(float64(res.Delivered) / float64(res.Expected))
	res.Latency = stats.Latencies(lats)
	res.RoundLast = stats.Latencies(roundLast)
	res.Extra, res.EmitterGot, res.OtherEvents = f.extra.Load(), f.emitterGot.Load(), f.other.Load()
	res.Disconnects = f.disconnects.Load()
	res.Heartbeats = heartbeats.Load()
	if trigger.postLat != nil {
		s := stats.Latencies(trigger.postLat)
		res.PostLatency = &s
	}
	if f.herd != nil {
		res.herdReport = f.herd.report(conn.Connected, herdLast)
	}
	if cfg.pid > 0 {
		m := proc.ReadMemory(cfg.pid)
		res.ServerRSSEndKiB, res.ServerHWMKiB = m.RSSKiB, m.HWMKiB
		res.ServerCPUConnectS = stats.Round3(cpuConnected - cpuIdle)
		res.ServerCPURoundsS = stats.Round3(cpuEnd - cpuRounds)
	}
	res.ToolRSSKiB = proc.ReadMemory(0).RSSKiB
	res.ToolCPUS = stats.Round3(proc.ReadCPUSeconds(0))
	res.WallS = stats.Round3(time.Since(start).Seconds())
	return res, ctx.Err()
}

// waitRound waits until every client has round r's event, or timeout; false on timeout.
func (f *fanout) waitRound(ctx context.Context, r int, timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-f.done[r]:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

func (f *fanout) lastDelivery(r int) time.Duration {
	var last int64
	for i := range f.n {
		last = max(last, f.lat[r*f.n+i].Load())
	}
	return time.Duration(last)
}

// trigger makes one broadcast a round: a POST (what a user does), or a client's emit of
// newTweet (the path the page's own hint takes).
type trigger struct {
	cfg     config
	f       *fanout
	post    *rawhttp.Conn
	emitter *socketio.Client
	postLat []time.Duration
	body    []byte
}

func newTrigger(ctx context.Context, cfg config, f *fanout, heartbeats *atomic.Int64) (*trigger, func(), error) {
	t := &trigger{cfg: cfg, f: f}
	if cfg.trigger == "post" {
		t.post = rawhttp.New(cfg.host)
		return t, t.post.Close, nil
	}
	dialer, err := socketio.NewDialer(cfg.eio, cfg.transport, cfg.url, cfg.path, cfg.connectTimeout, heartbeats)
	if err != nil {
		return nil, nil, err
	}
	c, err := dialer.Dial(ctx, -1)
	if err != nil {
		return nil, nil, fmt.Errorf("the emitter's connection: %w", err)
	}
	t.emitter = c
	go c.Listen(f)
	return t, c.Close, nil
}

func (t *trigger) fire(r int) error {
	if t.emitter != nil {
		return t.emitter.Emit(`42["newTweet",true]`)
	}
	req := rawhttp.PostJSON(t.cfg.host, t.cfg.base+"/api/tweets", fmt.Sprintf(`{"author":"load","content":"fan-out round %d"}`, r))
	t0 := time.Now()
	status, body, err := t.post.Fetch(req, t.cfg.deliverTimeout, t.body)
	t.body = body
	if err != nil {
		return fmt.Errorf("POST /api/tweets: %w", err)
	}
	t.postLat = append(t.postLat, time.Since(t0))
	if status != 201 {
		return fmt.Errorf("POST /api/tweets: HTTP %d %q", status, body)
	}
	if t.f.herd != nil {
		id, err := tweets.CreatedID(body)
		if err != nil {
			return fmt.Errorf("POST /api/tweets: %w", err)
		}
		t.f.herd.setTarget(int32(r), id)
	}
	return nil
}

func (r *fanoutReport) complete() bool {
	return r.Delivered >= r.Expected && (r.herdReport == nil || r.FetchDelivered >= r.FetchExpected)
}

func (r *fanoutReport) summary(w io.Writer) {
	fmt.Fprintf(w, "== fanout EIO %d over %s, trigger %s, N=%d K=%d %s\n", r.EIO, r.Transport, r.Trigger, r.N, r.K, r.Label)
	fmt.Fprintf(w, "connected %d/%d in %.0f ms (%.0f/s), %d failed; handshake p50 %.2f p99 %.2f max %.2f ms\n",
		r.Connected, r.N, r.ConnectAllMs, r.ConnectPerS, r.ConnectErrors, r.Handshake.P50, r.Handshake.P99, r.Handshake.Max)
	fmt.Fprintf(w, "delivered %d/%d, round timeouts %d, extra %d, emitter got %d, disconnects %d, heartbeats %d, trigger errors %d\n",
		r.Delivered, r.Expected, r.RoundTimeouts, r.Extra, r.EmitterGot, r.Disconnects, r.Heartbeats, r.TriggerErrors)
	fmt.Fprintf(w, "event latency ms: p50 %.2f p95 %.2f p99 %.2f max %.2f; last client per round p50 %.2f max %.2f\n",
		r.Latency.P50, r.Latency.P95, r.Latency.P99, r.Latency.Max, r.RoundLast.P50, r.RoundLast.Max)
	if h := r.herdReport; h != nil {
		fmt.Fprintf(w, "has the tweet %d/%d (GETs %d, retries %d, errors %d %v, first-page errors %d): p50 %.2f p99 %.2f max %.2f ms\n",
			h.FetchDelivered, h.FetchExpected, h.FetchRequests, h.FetchRetries, h.FetchErrors, h.FetchErrorKinds, h.FetchInitErrors,
			h.FetchLatency.P50, h.FetchLatency.P99, h.FetchLatency.Max)
	}
	if r.ServerPID > 0 {
		fmt.Fprintf(w, "server RSS idle %.1f MiB, connected %.1f MiB (%.1f KiB/conn), end %.1f MiB; CPU connect %.2f s, rounds %.2f s\n",
			mib(r.ServerRSSIdleKiB), mib(r.ServerRSSConnKiB), r.ServerKiBPerConn, mib(r.ServerRSSEndKiB), r.ServerCPUConnectS, r.ServerCPURoundsS)
	}
	fmt.Fprintf(w, "the tool: RSS %.1f MiB, CPU %.2f s, wall %.1f s\n", mib(r.ToolRSSKiB), r.ToolCPUS, r.WallS)
}
