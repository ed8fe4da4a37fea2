package metrics_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/chirp-social/chirp/backend/metrics"
)

func TestHTTPLabelsStayBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := metrics.NewHTTP(reg)
	h.Request("/api/tweets/:id", "GET", 200, 3*time.Millisecond)
	h.Request("/api/tweets/:id", "GET", 200, 5*time.Millisecond)
	for _, path := range []string{"", ""} { // two unknown paths: one label value
		h.Request(path, "GET", 404, time.Millisecond)
	}
	h.Request("", "BREW", 405, time.Millisecond)
	h.Request("/socket.io/*any", "GET", 200, 25*time.Second)

	want := `
# HELP chirp_http_requests_total HTTP requests answered, by route template, method and status.
# TYPE chirp_http_requests_total counter
chirp_http_requests_total{method="GET",route="/api/tweets/:id",status="200"} 2
chirp_http_requests_total{method="GET",route="/socket.io/*any",status="200"} 1
chirp_http_requests_total{method="GET",route="unmatched",status="404"} 2
chirp_http_requests_total{method="OTHER",route="unmatched",status="405"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "chirp_http_requests_total"); err != nil {
		t.Fatal(err)
	}
	// The long-poll is counted above but not timed: no histogram series for its route.
	if n := testutil.CollectAndCount(reg, "chirp_http_request_duration_seconds"); n != 3 {
		t.Fatalf("%d duration series, want 3 (the tweet route, unmatched GET, unmatched OTHER)", n)
	}
	var sum float64
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "chirp_http_request_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetHistogram().GetSampleSum()
		}
	}
	if sum > 1 {
		t.Fatalf("durations sum to %v s: the 25 s long-poll was timed", sum)
	}
}

func TestSocketsAndLimits(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := metrics.NewSockets(reg)
	l := metrics.NewLimits(reg)
	s.Connected()
	s.Connected()
	s.Disconnected("queue_full")
	s.Refused("max_per_ip")
	s.Sent("newTweet")
	s.Sent("newTweet")
	s.Sent("tweetDeleted")
	s.Relayed(true)
	s.Relayed(false)
	s.Relayed(false)
	l.Refused("writes")
	want := `
# HELP chirp_socket_connects_total socket.io connections that joined.
# TYPE chirp_socket_connects_total counter
chirp_socket_connects_total 2
# HELP chirp_socket_disconnects_total socket.io connections that left, by reason: queue_full (dropped for not reading), shutdown, closed (anything else).
# TYPE chirp_socket_disconnects_total counter
chirp_socket_disconnects_total{reason="queue_full"} 1
# HELP chirp_socket_events_sent_total Events handed to connections' transports, by event name.
# TYPE chirp_socket_events_sent_total counter
chirp_socket_events_sent_total{event="newTweet"} 2
chirp_socket_events_sent_total{event="tweetDeleted"} 1
# HELP chirp_socket_relays_total Clients' newTweet emits, by result: passed (relayed to the others) or throttled (dropped, one a second per connection).
# TYPE chirp_socket_relays_total counter
chirp_socket_relays_total{result="passed"} 1
chirp_socket_relays_total{result="throttled"} 2
# HELP chirp_limit_refusals_total Requests refused by a limit (429, or 503 for SOCKET_MAX_TOTAL), by limit.
# TYPE chirp_limit_refusals_total counter
chirp_limit_refusals_total{limit="writes"} 1
`
	err := testutil.GatherAndCompare(reg, strings.NewReader(want), "chirp_socket_connects_total",
		"chirp_socket_disconnects_total", "chirp_socket_events_sent_total", "chirp_socket_relays_total", "chirp_limit_refusals_total")
	if err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(reg, "chirp_socket_refused_total"); n != 1 {
		t.Fatalf("%d refused series, want 1", n)
	}
}

type fakeCounts struct {
	by   map[string]int
	full *bool
}

func (f fakeCounts) ConnectionsByTransport() map[string]int { return f.by }
func (f fakeCounts) Sessions() int                          { return 4 }
func (f fakeCounts) Full() bool                             { return *f.full }

func TestSocketGaugesReadAtScrape(t *testing.T) {
	reg := prometheus.NewRegistry()
	counts := fakeCounts{by: map[string]int{"websocket": 3}, full: new(bool)}
	metrics.RegisterSocketCounts(reg, counts)
	want := `
# HELP chirp_socket_connections Live socket.io connections, by the transport each is on now.
# TYPE chirp_socket_connections gauge
chirp_socket_connections{transport="polling"} 0
chirp_socket_connections{transport="websocket"} 3
# HELP chirp_socket_sessions Open Engine.IO sessions (connections and handshakes not connected yet): what SOCKET_MAX_TOTAL caps.
# TYPE chirp_socket_sessions gauge
chirp_socket_sessions 4
# HELP chirp_socket_full 1 while the open sessions are at SOCKET_MAX_TOTAL and new socket clients are refused (429), else 0.
# TYPE chirp_socket_full gauge
chirp_socket_full 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	counts.by["polling"] = 1
	*counts.full = true
	want = strings.Replace(want, `"polling"} 0`, `"polling"} 1`, 1)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(strings.Replace(want, "chirp_socket_full 0", "chirp_socket_full 1", 1))); err != nil {
		t.Fatal(err)
	}
}

func TestBatches(t *testing.T) {
	reg := prometheus.NewRegistry()
	b := metrics.NewBatches(reg)
	b.Batch(1, 2*time.Millisecond, true)
	b.Batch(40, 8*time.Millisecond, true)
	b.Batch(3, time.Second, false)
	if n := testutil.CollectAndCount(reg, "chirp_create_batch_duration_seconds"); n != 2 {
		t.Fatalf("%d duration series, want committed and failed", n)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "chirp_create_batch_size" {
			h := mf.GetMetric()[0].GetHistogram()
			if h.GetSampleCount() != 3 || h.GetSampleSum() != 44 {
				t.Fatalf("batch sizes: %d batches, %v creates", h.GetSampleCount(), h.GetSampleSum())
			}
			return
		}
	}
	t.Fatal("no chirp_create_batch_size")
}

// fakeBus is what the event bus will be to the metrics: a state and two counts it keeps.
type fakeBus struct {
	up      atomic.Bool
	in, out atomic.Uint64
}

func (b *fakeBus) Up() bool                 { return b.up.Load() }
func (b *fakeBus) NotificationsIn() uint64  { return b.in.Load() }
func (b *fakeBus) NotificationsOut() uint64 { return b.out.Load() }

func TestBus(t *testing.T) {
	reg := prometheus.NewRegistry()
	bus := &fakeBus{}
	metrics.RegisterBus(reg, bus)
	check := func(up, in, out string) {
		t.Helper()
		want := `
# HELP chirp_bus_notifications_published_total Notifications the event bus published.
# TYPE chirp_bus_notifications_published_total counter
chirp_bus_notifications_published_total ` + out + `
# HELP chirp_bus_notifications_received_total Notifications the event bus received from PostgreSQL.
# TYPE chirp_bus_notifications_received_total counter
chirp_bus_notifications_received_total ` + in + `
# HELP chirp_bus_up 1 while the event bus's listening connection is up, 0 while it is down.
# TYPE chirp_bus_up gauge
chirp_bus_up ` + up + "\n"
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
			t.Fatal(err)
		}
	}
	check("0", "0", "0")
	bus.up.Store(true)
	bus.in.Add(5)
	bus.out.Add(2)
	check("1", "5", "2")
	bus.up.Store(false)
	check("0", "5", "2")
}

type fakeConns struct{}

func (fakeConns) Counts() (open, idle int, idleClosed uint64) { return 12, 5, 3 }

func TestConnections(t *testing.T) {
	reg := prometheus.NewRegistry()
	metrics.RegisterConnections(reg, fakeConns{})
	want := `
# HELP chirp_connections_idle Kept-alive connections waiting for their next request.
# TYPE chirp_connections_idle gauge
chirp_connections_idle 5
# HELP chirp_connections_idle_closed_total Idle kept-alive connections closed to make room near CONN_MAX_TOTAL.
# TYPE chirp_connections_idle_closed_total counter
chirp_connections_idle_closed_total 3
# HELP chirp_connections_open TCP connections open on the API's (and the page's) port, websockets included: what CONN_MAX_TOTAL caps.
# TYPE chirp_connections_open gauge
chirp_connections_open 12
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

type fakeWindow struct{ hits, misses, reloads uint64 }

func (w fakeWindow) Hits() uint64    { return w.hits }
func (w fakeWindow) Misses() uint64  { return w.misses }
func (w fakeWindow) Reloads() uint64 { return w.reloads }

func TestWindow(t *testing.T) {
	reg := prometheus.NewRegistry()
	metrics.RegisterWindow(reg, fakeWindow{hits: 9, misses: 1, reloads: 2})
	want := `
# HELP chirp_hot_window_hits_total Reads the hot window answered from memory.
# TYPE chirp_hot_window_hits_total counter
chirp_hot_window_hits_total 9
# HELP chirp_hot_window_misses_total Reads the hot window passed to the database.
# TYPE chirp_hot_window_misses_total counter
chirp_hot_window_misses_total 1
# HELP chirp_hot_window_reloads_total Loads of the hot window from the database: at start, and after each time it stood aside.
# TYPE chirp_hot_window_reloads_total counter
chirp_hot_window_reloads_total 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkRequest is what metrics add to each API request: one counter and one histogram
// observation, both found by their labels.
func BenchmarkRequest(b *testing.B) {
	h := metrics.NewHTTP(prometheus.NewRegistry())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.Request("/api/tweets", "GET", 200, time.Millisecond)
		}
	})
}
