package realtime

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend/internal/testkit"
)

// fakeConn is a connection that records what it is sent. A stalled one never takes anything
// (send returns only when it closes); a held one (release set) takes each event only once
// release is closed.
type fakeConn struct {
	id      string
	stalled bool
	release chan struct{}
	fail    error // what send returns, once it has recorded the event

	mu        sync.Mutex
	got       []event
	emitting  chan struct{} // closed when the first send starts
	emitOnce  sync.Once
	closed    chan struct{}
	closeOnce sync.Once
}

func newFakeConn(id string, stalled bool) *fakeConn {
	return &fakeConn{id: id, stalled: stalled, emitting: make(chan struct{}), closed: make(chan struct{})}
}

// newHeldConn is a connection whose events wait in send until release is closed.
func newHeldConn(id string) *fakeConn {
	c := newFakeConn(id, false)
	c.release = make(chan struct{})
	return c
}

func (c *fakeConn) ID() string { return c.id }

func (c *fakeConn) send(e event) error {
	c.emitOnce.Do(func() { close(c.emitting) })
	if c.stalled {
		<-c.closed // like a socket whose client never reads: send returns when it closes
		return nil
	}
	c.mu.Lock()
	c.got = append(c.got, e)
	c.mu.Unlock()
	if c.release != nil {
		select {
		case <-c.release:
		case <-c.closed:
		}
	}
	return c.fail
}

func (c *fakeConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return nil
}

func (c *fakeConn) received() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.got)
}

func (c *fakeConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

func TestBroadcastSkipsTheSender(t *testing.T) {
	r := newRegistry(8, nil)
	a, b, c := newFakeConn("a", false), newFakeConn("b", false), newFakeConn("c", false)
	for _, conn := range []*fakeConn{a, b, c} {
		r.add(conn)
		t.Cleanup(func() { r.remove(conn.id) })
	}
	r.broadcast(newTweet, "a")
	testkit.Eventually(t, "b and c get the relay", func() bool { return b.received() == 1 && c.received() == 1 })
	time.Sleep(20 * time.Millisecond)
	if a.received() != 0 {
		t.Fatal("the sender got its own relay")
	}
	r.broadcast(newTweet, "")
	testkit.Eventually(t, "everyone gets an announcement", func() bool { return a.received() == 1 && b.received() == 2 })
}

func TestStalledClientDelaysNobody(t *testing.T) {
	r := newRegistry(4, nil)
	stalled, healthy := newFakeConn("stalled", true), newFakeConn("healthy", false)
	r.add(stalled)
	r.add(healthy)
	t.Cleanup(func() { r.remove("stalled"); r.remove("healthy"); stalled.Close() })

	// Each event reaches the healthy client promptly, while the stalled one holds its writer
	// (and, once its queue is full, is dropped).
	for i := range 20 {
		start := time.Now()
		r.broadcast(deleted(int64(i)), "")
		if d := time.Since(start); d > time.Second {
			t.Fatalf("broadcast %d took %v", i, d)
		}
		testkit.Eventually(t, fmt.Sprint("the healthy client gets event ", i), func() bool { return healthy.received() == i+1 })
	}
	if healthy.isClosed() {
		t.Fatal("the healthy client was dropped")
	}
	testkit.Eventually(t, "the stalled client is dropped", stalled.isClosed)
}

var newTweet = mustEvent(EventNewTweet, true, 0)

var resync = mustEvent(EventResync, true, 0)

func updated(id int64) event { return mustEvent(EventTweetUpdated, idPayload{ID: id}, id) }

func deleted(id int64) event { return mustEvent(EventTweetDeleted, idPayload{ID: id}, id) }

func mustEvent(name string, payload any, id int64) event {
	e, err := newEvent(name, payload, id)
	if err != nil {
		panic(err)
	}
	return e
}

func repeat(n int, events ...event) []event {
	var out []event
	for range n {
		out = append(out, events...)
	}
	return out
}

// shown is what a client sees of events, one a line: each event's name and tweet.
func shown(events []event) string {
	var b strings.Builder
	for _, e := range events {
		fmt.Fprintf(&b, "%s %d\n", e.name, e.tweetID)
	}
	return b.String()
}

// idle reports whether the registry's client id has nothing queued and no drain running.
func (r *registry) idle(id string) bool {
	r.mu.RLock()
	c := r.members[id]
	r.mu.RUnlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.draining && c.queue == nil && c.waiting == nil && !c.newTweet
}

// While one event is being emitted, the ones behind it coalesce: one newTweet, one event per
// tweet, a delete in place of a waiting update; never with the event in flight.
// A broadcast to more clients than one batch of drains reaches every one, also when the whole
// first batch stalls in its transport: its drains are parked, and the rest start anyway.
func TestLargeBroadcastStartsEveryDrain(t *testing.T) {
	r := newRegistry(4, nil)
	var stalled, healthy []*fakeConn
	for i := range 3*drainBatch + 5 {
		conn := newFakeConn(fmt.Sprintf("c%03d", i), false)
		healthy = append(healthy, conn)
	}
	for i := range drainBatch {
		stalled = append(stalled, newFakeConn(fmt.Sprintf("s%03d", i), true))
	}
	// Map order decides which drains start first; stalled ones in every batch is the worst case
	// this can arrange, and the test holds whatever the order.
	for _, conn := range append(stalled, healthy...) {
		r.add(conn)
		t.Cleanup(func() { r.remove(conn.id); conn.Close() })
	}
	for round := 1; round <= 3; round++ {
		r.broadcast(deleted(int64(round)), "")
		testkit.Eventually(t, fmt.Sprintf("every healthy client gets event %d", round), func() bool {
			for _, conn := range healthy {
				if conn.received() != round {
					return false
				}
			}
			return true
		})
	}
	for _, conn := range stalled {
		testkit.Closed(t, conn.emitting, "each stalled drain started and waits in its transport")
	}
}

func TestQueueCoalesces(t *testing.T) {
	tests := []struct {
		name     string
		inFlight event
		then     []event
		want     []event // what the client receives, the event in flight first
	}{
		{"NewTweetWaitsOnce", newTweet, repeat(50, newTweet), []event{newTweet, newTweet}},
		{"EachTweetWaitsOnce", newTweet,
			repeat(20, updated(1), updated(2), deleted(3)),
			[]event{newTweet, updated(1), updated(2), deleted(3)}},
		{"OrderOfFirstArrivalKept", updated(9),
			[]event{updated(2), newTweet, updated(1), newTweet, updated(2), deleted(3), updated(1)},
			[]event{updated(9), updated(2), newTweet, updated(1), deleted(3)}},
		{"DeleteReplacesWaitingUpdate", newTweet,
			[]event{updated(5), newTweet, deleted(5)},
			[]event{newTweet, deleted(5), newTweet}},
		{"UpdateAfterWaitingDeleteDropped", newTweet,
			[]event{deleted(5), updated(5), deleted(5)},
			[]event{newTweet, deleted(5)}},
		{"DeleteAfterUpdateInFlightFollowsIt", updated(5), []event{deleted(5)}, []event{updated(5), deleted(5)}},
		{"UpdateAfterUpdateInFlightFollowsIt", updated(5), []event{updated(5), updated(5)}, []event{updated(5), updated(5)}},
		{"ResyncWaitsOnce", resync, repeat(20, resync, newTweet), []event{resync, resync, newTweet}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A queue of 4 holds every case only if it coalesces.
			r := newRegistry(4, func(id string) { t.Errorf("%s dropped", id) })
			conn := newHeldConn("held")
			r.add(conn)
			t.Cleanup(func() { r.remove(conn.id); conn.Close() })

			r.broadcast(tt.inFlight, "")
			testkit.Closed(t, conn.emitting, "the first event is being emitted")
			for _, e := range tt.then {
				r.broadcast(e, "")
			}
			close(conn.release)
			testkit.Eventually(t, "the queue drains", func() bool { return r.idle(conn.id) })
			conn.mu.Lock()
			got := shown(conn.got)
			conn.mu.Unlock()
			if want := shown(tt.want); got != want {
				t.Fatalf("received\n%swant\n%s", got, want)
			}
		})
	}
}

// A client that does not read is dropped once distinct events fill its queue, and only then.
func TestOnlyAClientThatDoesNotReadIsDropped(t *testing.T) {
	var distinct []event
	for id := range int64(5) {
		distinct = append(distinct, updated(id+1))
	}
	tests := []struct {
		name    string
		then    []event // behind an event the client never takes
		dropped bool
	}{
		{"NewTweetsNeverFillTheQueue", repeat(1000, newTweet), false},
		{"ResyncsNeverFillTheQueue", repeat(1000, resync, newTweet), false},
		{"RepeatedTweetsNeverFillTheQueue", repeat(100, updated(1), updated(2), deleted(2), deleted(3), newTweet), false},
		{"FullQueueKept", distinct[:4], false},
		{"OneMoreDistinctTweetDrops", distinct, true},
		{"NewTweetIntoAFullQueueDrops", append(distinct[:4:4], newTweet), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var drops []string
			r := newRegistry(4, func(id string) { mu.Lock(); drops = append(drops, id); mu.Unlock() })
			stalled := newFakeConn("stalled", true)
			r.add(stalled)
			t.Cleanup(func() { r.remove(stalled.id); stalled.Close() })

			r.broadcast(updated(100), "")
			testkit.Closed(t, stalled.emitting, "the first event is being emitted")
			for _, e := range tt.then {
				r.broadcast(e, "")
			}
			if !tt.dropped {
				// The decision is taken inside broadcast; nothing later can change it.
				r.mu.RLock()
				c := r.members[stalled.id]
				r.mu.RUnlock()
				c.mu.Lock()
				defer c.mu.Unlock()
				if c.dropped || stalled.isClosed() {
					t.Fatal("a client with room in its queue was dropped")
				}
				return
			}
			testkit.Eventually(t, "the stalled client is closed", stalled.isClosed)
			mu.Lock()
			defer mu.Unlock()
			if len(drops) != 1 || drops[0] != "stalled" {
				t.Fatalf("dropped %v", drops)
			}
		})
	}
}

// errTransportClosed is what a connection's transport answers once closed.
var errTransportClosed = errors.New("the transport is closed")

// A connection whose transport fails to take an event has missed it: it is closed (it
// reconnects and asks the API), and the failure is reported; the others are not disturbed.
func TestFailedSendClosesTheConnection(t *testing.T) {
	r := newRegistry(8, nil)
	var mu sync.Mutex
	var failed []string
	r.onSendError = func(id string, err error) {
		mu.Lock()
		failed = append(failed, id+": "+err.Error())
		mu.Unlock()
	}
	broken, healthy := newFakeConn("broken", false), newFakeConn("healthy", false)
	broken.fail = errTransportClosed
	for _, c := range []*fakeConn{broken, healthy} {
		r.add(c)
		t.Cleanup(func() { r.remove(c.id) })
	}
	r.broadcast(newTweet, "")
	testkit.Eventually(t, "the broken connection is closed", broken.isClosed)
	testkit.Eventually(t, "the healthy one has the event", func() bool { return healthy.received() == 1 })
	mu.Lock()
	defer mu.Unlock()
	if len(failed) != 1 || failed[0] != "broken: "+errTransportClosed.Error() {
		t.Fatalf("reported %q", failed)
	}
	if healthy.isClosed() {
		t.Fatal("the healthy connection was closed")
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	r := newRegistry(DefaultQueueSize, nil)
	before := runtime.NumGoroutine()
	for i := range 1000 {
		conn := newFakeConn(fmt.Sprint("c", i), i%10 == 0)
		r.add(conn)
		r.broadcast(newTweet, "")
		r.remove(conn.id)
		conn.Close()
	}
	if n := r.count(); n != 0 {
		t.Fatalf("%d connections left", n)
	}
	testkit.Eventually(t, fmt.Sprintf("goroutines back to %d", before), func() bool { return runtime.NumGoroutine() <= before })
}

func TestCloseAll(t *testing.T) {
	r := newRegistry(4, nil)
	conns := []*fakeConn{newFakeConn("a", false), newFakeConn("b", true)}
	for _, c := range conns {
		r.add(c)
	}
	r.closeAll()
	for _, c := range conns {
		if !c.isClosed() {
			t.Fatalf("%s still open", c.id)
		}
		r.remove(c.id)
	}
	// A handshake that raced the shutdown is refused, not registered behind closeAll's back
	// (it would hold the HTTP server's shutdown until its timeout).
	if late := newFakeConn("late", false); r.add(late) || r.count() != 0 {
		t.Fatalf("a connection joined after closeAll (%d registered)", r.count())
	}
}

// Metrics hear why each connection left, as the registry knows it: the server's own reasons
// (a full queue, the shutdown) or "closed" for the rest; and each event sent, by name.
func TestDisconnectReasonsAndSentEvents(t *testing.T) {
	var mu sync.Mutex
	sent := map[string]int{}
	r := newRegistry(2, nil)
	r.sent = func(name string) { mu.Lock(); sent[name]++; mu.Unlock() }

	reader := newFakeConn("reader", false)
	stalled := newFakeConn("stalled", true)
	r.add(reader)
	r.add(stalled)
	got := func(n int) func() bool {
		return func() bool { reader.mu.Lock(); defer reader.mu.Unlock(); return len(reader.got) == n }
	}
	r.broadcast(newTweet, "")
	testkit.Closed(t, stalled.emitting, "the stalled client takes its first event")
	// The stalled client's queue (two slots) fills, and the next distinct event drops it; the
	// reader takes each event before the next is sent.
	for i := range int64(3) {
		testkit.Eventually(t, "the reader has the events so far", got(int(i)+1))
		r.broadcast(updated(i), "")
	}
	testkit.Eventually(t, "the stalled client is closed", stalled.isClosed)
	testkit.Eventually(t, "the reader got four events", got(4))
	testkit.Eventually(t, "the reader's events counted", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return sent[EventNewTweet] >= 1 && sent[EventTweetUpdated] >= 3
	})

	if why, ok := r.remove("stalled"); !ok || why != DisconnectQueueFull {
		t.Fatalf("the dropped client left for %q (%v)", why, ok)
	}
	if why, ok := r.remove("reader"); !ok || why != DisconnectClosed {
		t.Fatalf("a client that closed itself left for %q (%v)", why, ok)
	}
	if _, ok := r.remove("reader"); ok {
		t.Fatal("a connection removed twice counted twice")
	}
	late := newFakeConn("late", false)
	r.add(late)
	r.closeAll()
	if why, ok := r.remove("late"); !ok || why != DisconnectShutdown {
		t.Fatalf("a connection closed by the shutdown left for %q (%v)", why, ok)
	}
	mu.Lock()
	defer mu.Unlock()
	// The stalled client's events were stuck in Emit until its close; what its drain hands
	// the closed connection then counts too: at most its newTweet and two updates more than
	// the reader's four.
	if n := sent[EventNewTweet] + sent[EventTweetUpdated]; n > 7 || len(sent) != 2 {
		t.Fatalf("sent %v", sent)
	}
}
