// Package metrics holds Chirp's Prometheus collectors. Each component reports through an
// interface of its own (httpapi's request observer, realtime's Observer, limitlog's Counter,
// gormstore's BatchObserver) or, for what it already counts, a small interface read at scrape
// time (socket counts, the bus, the hot window): no other package imports Prometheus. Every
// collector is registered on the registry it is given, never on the global default one, so a
// test reads exactly what it caused.
package metrics

import (
	"database/sql"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "chirp"

// Handler serves what reg gathers in the Prometheus text format.
func Handler(reg *prometheus.Registry, log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      reg, // counts its own scrapes and their errors
	})
}

// RegisterProcess registers the standard Go runtime and process collectors.
func RegisterProcess(reg prometheus.Registerer) {
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// RegisterDatabase registers the statistics of the store's connection pool (go_sql_…,
// db_name="chirp").
func RegisterDatabase(reg prometheus.Registerer, db *sql.DB) {
	reg.MustRegister(collectors.NewDBStatsCollector(db, namespace))
}

// HTTP counts the requests of the HTTP server; it is httpapi's request observer.
type HTTP struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// Unmatched is the route label of a request no route matched: whatever its path, one label
// value, so a client probing paths cannot grow the series.
const Unmatched = "unmatched"

// socketRoute is the route of the socket server. Its long-polls last up to the ping interval
// (25 s) by design, which would drown the histogram: they are counted but not timed.
const socketRoute = "/socket.io/*any"

// NewHTTP registers the HTTP request metrics on reg.
func NewHTTP(reg prometheus.Registerer) *HTTP {
	h := &HTTP{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests answered, by route template, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "http", Name: "request_duration_seconds",
			Help:    "Time from a request's arrival to its answer, by route template and method (socket.io requests are left out).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
	}
	reg.MustRegister(h.requests, h.duration)
	return h
}

// Request counts one answered request. route is the matched route's template ("" when none
// matched); the method is kept only when it is one HTTP defines, so neither label can take a
// value a client chose.
func (h *HTTP) Request(route, method string, status int, took time.Duration) {
	if route == "" {
		route = Unmatched
	}
	method = knownMethod(method)
	h.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	if route != socketRoute {
		h.duration.WithLabelValues(route, method).Observe(took.Seconds())
	}
}

func knownMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// Sockets counts what the socket server does; it is realtime's Observer.
type Sockets struct {
	connects    prometheus.Counter
	disconnects *prometheus.CounterVec
	refused     *prometheus.CounterVec
	sent        *prometheus.CounterVec
	relays      *prometheus.CounterVec
}

// NewSockets registers the socket event metrics on reg.
func NewSockets(reg prometheus.Registerer) *Sockets {
	s := &Sockets{
		connects: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "socket", Name: "connects_total",
			Help: "socket.io connections that joined.",
		}),
		disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "socket", Name: "disconnects_total",
			Help: "socket.io connections that left, by reason: queue_full (dropped for not reading), shutdown, closed (anything else).",
		}, []string{"reason"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "socket", Name: "refused_total",
			Help: "Requests to /socket.io/ answered before a session was made or served, by reason.",
		}, []string{"reason"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "socket", Name: "events_sent_total",
			Help: "Events handed to connections' transports, by event name.",
		}, []string{"event"}),
		relays: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "socket", Name: "relays_total",
			Help: "Clients' newTweet emits, by result: passed (relayed to the others) or throttled (dropped, one a second per connection).",
		}, []string{"result"}),
	}
	reg.MustRegister(s.connects, s.disconnects, s.refused, s.sent, s.relays)
	return s
}

// Connected counts a connection that joined.
func (s *Sockets) Connected() { s.connects.Inc() }

// Disconnected counts a connection that left.
func (s *Sockets) Disconnected(reason string) { s.disconnects.WithLabelValues(reason).Inc() }

// Refused counts a refused request.
func (s *Sockets) Refused(reason string) { s.refused.WithLabelValues(reason).Inc() }

// Sent counts an event sent.
func (s *Sockets) Sent(event string) { s.sent.WithLabelValues(event).Inc() }

// Relayed counts a client's newTweet, relayed or throttled.
func (s *Sockets) Relayed(passed bool) {
	if passed {
		s.relays.WithLabelValues("passed").Inc()
		return
	}
	s.relays.WithLabelValues("throttled").Inc()
}

// SocketCounts is what the socket server knows of its live connections, read at each scrape.
type SocketCounts interface {
	ConnectionsByTransport() map[string]int
	Sessions() int
	// Full: the sessions are at SOCKET_MAX_TOTAL, and new handshakes are refused.
	Full() bool
}

// RegisterSocketCounts registers the gauges of live connections (by transport) and sessions.
func RegisterSocketCounts(reg prometheus.Registerer, counts SocketCounts) {
	reg.MustRegister(&socketGauges{counts: counts})
}

var (
	connectionsDesc = prometheus.NewDesc("chirp_socket_connections",
		"Live socket.io connections, by the transport each is on now.", []string{"transport"}, nil)
	sessionsDesc = prometheus.NewDesc("chirp_socket_sessions",
		"Open Engine.IO sessions (connections and handshakes not connected yet): what SOCKET_MAX_TOTAL caps.", nil, nil)
	fullDesc = prometheus.NewDesc("chirp_socket_full",
		"1 while the open sessions are at SOCKET_MAX_TOTAL and new socket clients are refused (429), else 0.", nil, nil)
)

type socketGauges struct{ counts SocketCounts }

func (g *socketGauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- connectionsDesc
	ch <- sessionsDesc
	ch <- fullDesc
}

func (g *socketGauges) Collect(ch chan<- prometheus.Metric) {
	by := g.counts.ConnectionsByTransport()
	// Both transports always appear, so a dashboard sees 0 rather than no series.
	for _, t := range []string{"polling", "websocket"} {
		ch <- prometheus.MustNewConstMetric(connectionsDesc, prometheus.GaugeValue, float64(by[t]), t)
	}
	for t, n := range by {
		if t != "polling" && t != "websocket" {
			ch <- prometheus.MustNewConstMetric(connectionsDesc, prometheus.GaugeValue, float64(n), t)
		}
	}
	ch <- prometheus.MustNewConstMetric(sessionsDesc, prometheus.GaugeValue, float64(g.counts.Sessions()))
	ch <- prometheus.MustNewConstMetric(fullDesc, prometheus.GaugeValue, oneIf(g.counts.Full()))
}

// Limits counts the requests each limit refused; it is limitlog's Counter.
type Limits struct{ refused *prometheus.CounterVec }

// NewLimits registers the limit metrics on reg.
func NewLimits(reg prometheus.Registerer) *Limits {
	l := &Limits{refused: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "limit", Name: "refusals_total",
		Help: "Requests refused by a limit (429, or 503 for SOCKET_MAX_TOTAL), by limit.",
	}, []string{"limit"})}
	reg.MustRegister(l.refused)
	return l
}

// Refused counts one refusal by limit.
func (l *Limits) Refused(limit string) { l.refused.WithLabelValues(limit).Inc() }

// Batches measures the store's create batches; it is gormstore's BatchObserver.
type Batches struct {
	size     prometheus.Histogram
	duration *prometheus.HistogramVec
}

// NewBatches registers the create batch metrics on reg.
func NewBatches(reg prometheus.Registerer) *Batches {
	b := &Batches{
		size: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "create_batch", Name: "size",
			Help:    "Creates carried by each create batch (at most 256).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
		}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "create_batch", Name: "duration_seconds",
			Help:    "Time of each create batch's transaction, locks and commit included, by outcome (committed, failed).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"outcome"}),
	}
	reg.MustRegister(b.size, b.duration)
	return b
}

// Batch measures one create batch.
func (b *Batches) Batch(size int, took time.Duration, committed bool) {
	b.size.Observe(float64(size))
	outcome := "failed"
	if committed {
		outcome = "committed"
	}
	b.duration.WithLabelValues(outcome).Observe(took.Seconds())
}

// BusStats is what the event bus (LISTEN/NOTIFY across processes) reports, read at each
// scrape: whether its listening connection is up, and the notifications it has received and
// published since the process started (monotonic counts the bus keeps itself).
type BusStats interface {
	Up() bool
	NotificationsIn() uint64
	NotificationsOut() uint64
}

// RegisterBus registers the event bus's state and counts, read at each scrape.
func RegisterBus(reg prometheus.Registerer, bus BusStats) {
	reg.MustRegister(
		readGauge("chirp_bus_up",
			"1 while the event bus's listening connection is up, 0 while it is down.",
			func() float64 { return oneIf(bus.Up()) }),
		readCounter("chirp_bus_notifications_received_total",
			"Notifications the event bus received from PostgreSQL.",
			func() float64 { return float64(bus.NotificationsIn()) }),
		readCounter("chirp_bus_notifications_published_total",
			"Notifications the event bus published.",
			func() float64 { return float64(bus.NotificationsOut()) }),
	)
}

// ConnCounts is what the connection limits (connlimit) know, read at each scrape: the TCP
// connections open on the public ports, those idle between requests, and the idle ones closed
// to make room near CONN_MAX_TOTAL since the process started.
type ConnCounts interface {
	Counts() (open, idle int, idleClosed uint64)
}

// RegisterConnections registers the connection counts, read at each scrape.
func RegisterConnections(reg prometheus.Registerer, c ConnCounts) {
	reg.MustRegister(
		readGauge("chirp_connections_open",
			"TCP connections open on the API's (and the page's) port, websockets included: what CONN_MAX_TOTAL caps.",
			func() float64 { open, _, _ := c.Counts(); return float64(open) }),
		readGauge("chirp_connections_idle",
			"Kept-alive connections waiting for their next request.",
			func() float64 { _, idle, _ := c.Counts(); return float64(idle) }),
		readCounter("chirp_connections_idle_closed_total",
			"Idle kept-alive connections closed to make room near CONN_MAX_TOTAL.",
			func() float64 { _, _, closed := c.Counts(); return float64(closed) }),
	)
}

// WindowStats is what the hot window of newest tweets reports, read at each scrape: the reads
// it answered from memory (hits) and those it passed to the store (misses), and its loads from
// the database (the first, and one each time it stood aside).
type WindowStats interface {
	Hits() uint64
	Misses() uint64
	Reloads() uint64
}

// RegisterWindow registers the hot window's counts, read at each scrape.
func RegisterWindow(reg prometheus.Registerer, w WindowStats) {
	reg.MustRegister(
		readCounter("chirp_hot_window_hits_total",
			"Reads the hot window answered from memory.",
			func() float64 { return float64(w.Hits()) }),
		readCounter("chirp_hot_window_misses_total",
			"Reads the hot window passed to the database.",
			func() float64 { return float64(w.Misses()) }),
		readCounter("chirp_hot_window_reloads_total",
			"Loads of the hot window from the database: at start, and after each time it stood aside.",
			func() float64 { return float64(w.Reloads()) }),
	)
}

// readGauge and readCounter are series whose value a component keeps itself, read at each
// scrape rather than pushed: a gauge, or a count monotonic since the process started.
func readGauge(name, help string, read func() float64) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, read)
}

func readCounter(name, help string, read func() float64) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, read)
}

// oneIf is a yes/no state as a gauge's value.
func oneIf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
