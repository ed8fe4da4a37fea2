package main

// The herd (--fetch): every client behaves as the page does. On each newTweet it reads the
// new tweets with GET /api/tweets?since_id=<the newest it has> on its own keep-alive
// connection, one GET at a time: an event during a GET makes it read again once that GET
// ends. A client has a round's tweet when a response holding the id the round's POST returned
// has been read; the time counts from just before the POST was sent (the origin of the event
// latency), within --deliver-timeout. The tool must be the only writer: a page of newer
// tweets from someone else could hide the one posted.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/chirp-social/chirp/backend/bench/load/internal/rawhttp"
	"github.com/chirp-social/chirp/backend/bench/load/internal/socketio"
	"github.com/chirp-social/chirp/backend/bench/load/internal/stats"
	"github.com/chirp-social/chirp/backend/bench/load/internal/tweets"
)

// herdReport is the --fetch part of the fanout JSON, absent without --fetch.
type herdReport struct {
	FetchLatency       stats.Latency    `json:"fetch_latency"`    // POST sent → this client's read holds the tweet
	FetchRoundLast     stats.Latency    `json:"fetch_round_last"` // per round: until the last client had it
	FetchDelivered     int64            `json:"fetch_delivered"`
	FetchExpected      int64            `json:"fetch_expected"`
	FetchRoundTimeouts int              `json:"fetch_round_timeouts"`
	FetchRequests      int64            `json:"fetch_requests"` // GETs on events (not the first pages)
	FetchRetries       int64            `json:"fetch_retries"`  // sent again on a new connection: the server had closed the kept-alive one
	FetchErrors        int64            `json:"fetch_errors"`
	FetchInitErrors    int64            `json:"fetch_init_errors"`
	FetchErrorKinds    map[string]int64 `json:"fetch_error_kinds,omitempty"`
}

// maxSightings bounds the ids a client keeps while its round's POST has not answered.
const maxSightings = 64

// sighting is a tweet id a client read, and when.
type sighting struct {
	id int64
	at time.Time
}

// herdClient is one page's reader. conn belongs to whoever holds inflight (or to open).
type herdClient struct {
	id   int
	conn *rawhttp.Conn
	buf  []byte

	mu        sync.Mutex
	newest    int64 // since_id of the next GET
	inflight  bool  // a read loop owns conn
	again     bool  // an event came during the GET in flight
	stopped   bool
	hadRound  int32      // the last round whose tweet it had (or had too late)
	seenRound int32      // the round seen was read in
	seen      []sighting // ids read in seenRound before its POST answered
}

type herd struct {
	f       *fanout
	host    string
	base    string
	timeout time.Duration
	clients []*herdClient
	target  []atomic.Int64 // by round: the id its POST returned; 0 while unknown
	lat     []atomic.Int64 // [round*n + client] ns; 0: did not have it in time
	got     []atomic.Int32
	done    []chan struct{}

	requests, retries, errs, initErrs atomic.Int64
	mu                                sync.Mutex
	kinds                             map[string]int64
}

func newHerd(cfg config, f *fanout) *herd {
	h := &herd{f: f, host: cfg.host, base: cfg.base, timeout: cfg.deliverTimeout,
		clients: make([]*herdClient, cfg.n), target: make([]atomic.Int64, cfg.k),
		lat: make([]atomic.Int64, cfg.n*cfg.k), got: make([]atomic.Int32, cfg.k),
		done: make([]chan struct{}, cfg.k), kinds: map[string]int64{}}
	for i := range h.clients {
		h.clients[i] = &herdClient{id: i, conn: rawhttp.New(cfg.host), hadRound: -1, seenRound: -1}
	}
	for r := range h.done {
		h.done[r] = make(chan struct{})
	}
	return h
}

// open reads every connected client's first page (limit=1, its newest id), as a page loads its
// timeline, with at most slots reads at once. A client whose read fails starts from 0: its
// first GET then returns the newest page, which holds the round's tweet.
func (h *herd) open(ctx context.Context, clients []*socketio.Client, slots int) {
	sem := make(chan struct{}, slots)
	var wg sync.WaitGroup
	for i, c := range clients {
		if c == nil {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Add(1)
		go func(hc *herdClient) {
			defer wg.Done()
			defer func() { <-sem }()
			ids, _, ok := h.get(hc, "/api/tweets?limit=1", true)
			if !ok {
				h.initErrs.Add(1)
				return
			}
			hc.mu.Lock()
			for _, id := range ids {
				hc.newest = max(hc.newest, id)
			}
			hc.mu.Unlock()
		}(h.clients[i])
	}
	wg.Wait()
}

// get sends one GET on the client's connection. A kept-alive connection the server closed
// meanwhile is reopened and the GET sent once more, as browsers do.
func (h *herd) get(hc *herdClient, pathQuery string, first bool) ([]int64, time.Time, bool) {
	req := rawhttp.Get(h.host, h.base+pathQuery)
	status, body, err := hc.conn.Fetch(req, h.timeout, hc.buf)
	if err != nil && hc.conn.Reused && staleConn(err) {
		h.retries.Add(1)
		status, body, err = hc.conn.Fetch(req, h.timeout, hc.buf)
	}
	at := time.Now()
	hc.buf = body
	switch {
	case err != nil:
		kind := "transport"
		if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
			kind = "timeout"
		}
		h.fail(kind, first, err)
	case status != 200:
		h.fail("http_"+strconv.Itoa(status), first, fmt.Errorf("GET %s: HTTP %d %q", pathQuery, status, body))
	default:
		ids, err := tweets.IDs(body)
		if err != nil {
			h.fail("parse", first, err)
			return nil, at, false
		}
		return ids, at, true
	}
	return nil, at, false
}

func staleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// fail counts an error by kind and prints the first of each kind.
func (h *herd) fail(kind string, first bool, err error) {
	if first {
		kind = "init_" + kind
	}
	h.mu.Lock()
	h.kinds[kind]++
	n := h.kinds[kind]
	h.mu.Unlock()
	if n == 1 {
		h.f.log.warn("herd: %s: %v", kind, err)
	}
}

// kick runs on a client's reader for every newTweet once the rounds have begun.
func (h *herd) kick(id int) {
	hc := h.clients[id]
	hc.mu.Lock()
	defer hc.mu.Unlock()
	switch {
	case hc.stopped:
	case hc.inflight:
		hc.again = true
	default:
		hc.inflight = true
		go h.read(hc)
	}
}

// read is a client's GET loop: it ends when no event came during its last GET.
func (h *herd) read(hc *herdClient) {
	for {
		hc.mu.Lock()
		since := hc.newest
		hc.again = false
		hc.mu.Unlock()
		h.requests.Add(1)
		ids, at, ok := h.get(hc, "/api/tweets?since_id="+strconv.FormatInt(since, 10), false)
		if !ok {
			h.errs.Add(1)
		}
		hc.mu.Lock()
		if ok {
			h.saw(hc, ids, at)
		}
		if hc.again && !hc.stopped {
			hc.mu.Unlock()
			continue
		}
		hc.inflight = false
		if hc.stopped {
			hc.conn.Close()
		}
		hc.mu.Unlock()
		return
	}
}

// saw takes a response read at `at` (hc.mu held).
func (h *herd) saw(hc *herdClient, ids []int64, at time.Time) {
	for _, id := range ids {
		hc.newest = max(hc.newest, id)
	}
	r := h.f.round.Load()
	if r < 0 {
		return
	}
	if t := h.target[r].Load(); t != 0 {
		for _, id := range ids {
			if id == t {
				h.record(hc, r, at)
				break
			}
		}
		return
	}
	// The POST has not answered yet (a server may announce before it answers): keep what was
	// read until setTarget says which id is the round's.
	if hc.seenRound != r {
		hc.seenRound, hc.seen = r, hc.seen[:0]
	}
	for _, id := range ids {
		if len(hc.seen) < maxSightings {
			hc.seen = append(hc.seen, sighting{id, at})
		}
	}
}

// setTarget runs on the round loop once round r's POST has returned its tweet's id.
func (h *herd) setTarget(r int32, id int64) {
	h.target[r].Store(id)
	for _, hc := range h.clients {
		hc.mu.Lock()
		if hc.seenRound == r {
			for _, s := range hc.seen {
				if s.id == id {
					h.record(hc, r, s.at)
					break
				}
			}
		}
		hc.mu.Unlock()
	}
}

// record: client hc has had round r's tweet since `at` (hc.mu held).
func (h *herd) record(hc *herdClient, r int32, at time.Time) {
	if hc.hadRound >= r {
		return
	}
	hc.hadRound = r
	d := at.Sub(h.f.roundStart[r])
	if d > h.timeout {
		return // too late to count, as an event after the round's timeout
	}
	h.lat[int(r)*h.f.n+hc.id].Store(int64(max(d, 1)))
	if h.got[r].Add(1) == h.f.receivers.Load() {
		close(h.done[r])
	}
}

// waitRound waits until every client has round r's tweet, or --deliver-timeout after its
// POST; it returns the time until the last of them had it.
func (h *herd) waitRound(ctx context.Context, r int) time.Duration {
	if wait := time.Until(h.f.roundStart[r].Add(h.timeout)); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-h.done[r]:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	var last int64
	for i := range h.f.n {
		last = max(last, h.lat[r*h.f.n+i].Load())
	}
	return time.Duration(last)
}

// stop ends every client's reading; a GET in flight closes its connection when it ends.
func (h *herd) stop() {
	for _, hc := range h.clients {
		hc.mu.Lock()
		hc.stopped = true
		if !hc.inflight {
			hc.conn.Close()
		}
		hc.mu.Unlock()
	}
}

func (h *herd) report(connected int, roundLast []time.Duration) *herdReport {
	x := &herdReport{FetchExpected: int64(connected) * int64(len(h.done))}
	var lats []time.Duration
	for i := range h.lat {
		if v := h.lat[i].Load(); v > 0 {
			lats = append(lats, time.Duration(v))
		}
	}
	for r := range roundLast {
		if h.got[r].Load() < h.f.receivers.Load() {
			x.FetchRoundTimeouts++
		}
	}
	x.FetchDelivered = int64(len(lats))
	x.FetchLatency = stats.Latencies(lats)
	x.FetchRoundLast = stats.Latencies(roundLast)
	x.FetchRequests, x.FetchRetries = h.requests.Load(), h.retries.Load()
	x.FetchErrors, x.FetchInitErrors = h.errs.Load(), h.initErrs.Load()
	h.mu.Lock()
	if len(h.kinds) > 0 {
		x.FetchErrorKinds = make(map[string]int64, len(h.kinds))
		for k, v := range h.kinds {
			x.FetchErrorKinds[k] = v
		}
	}
	h.mu.Unlock()
	return x
}
