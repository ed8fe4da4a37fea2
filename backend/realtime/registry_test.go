package realtime

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

// fakeConn is a connection that records what it is sent; a stalled one never takes anything.
type fakeConn struct {
	id      string
	stalled bool

	mu        sync.Mutex
	got       []event
	closed    chan struct{}
	closeOnce sync.Once
}

func newFakeConn(id string, stalled bool) *fakeConn {
	return &fakeConn{id: id, stalled: stalled, closed: make(chan struct{})}
}

func (c *fakeConn) ID() string { return c.id }

func (c *fakeConn) Emit(name string, args ...any) {
	if c.stalled {
		<-c.closed // like a socket whose client never reads: Emit returns when it closes
		return
	}
	c.mu.Lock()
	c.got = append(c.got, event{name: name, payload: args[0]})
	c.mu.Unlock()
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

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 5 s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBroadcastSkipsTheSender(t *testing.T) {
	r := newRegistry(8, nil)
	a, b, c := newFakeConn("a", false), newFakeConn("b", false), newFakeConn("c", false)
	for _, conn := range []*fakeConn{a, b, c} {
		r.add(conn)
		t.Cleanup(func() { r.remove(conn.id) })
	}
	r.broadcast(event{name: EventNewTweet, payload: true}, "a")
	eventually(t, "b and c get the relay", func() bool { return b.received() == 1 && c.received() == 1 })
	time.Sleep(20 * time.Millisecond)
	if a.received() != 0 {
		t.Fatal("the sender got its own relay")
	}
	r.broadcast(event{name: EventNewTweet, payload: true}, "")
	eventually(t, "everyone gets an announcement", func() bool { return a.received() == 1 && b.received() == 2 })
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
		r.broadcast(event{name: EventTweetDeleted, payload: i}, "")
		if d := time.Since(start); d > time.Second {
			t.Fatalf("broadcast %d took %v", i, d)
		}
		eventually(t, fmt.Sprint("the healthy client gets event ", i), func() bool { return healthy.received() == i+1 })
	}
	if healthy.isClosed() {
		t.Fatal("the healthy client was dropped")
	}
	eventually(t, "the stalled client is dropped", stalled.isClosed)
}

func TestFullQueueDisconnects(t *testing.T) {
	var dropped []string
	var mu sync.Mutex
	r := newRegistry(4, func(id string) { mu.Lock(); dropped = append(dropped, id); mu.Unlock() })
	stalled := newFakeConn("stalled", true)
	r.add(stalled)
	t.Cleanup(func() { r.remove("stalled") })
	// The writer holds one event inside Emit and the queue holds four; the next overflows.
	for range 4 + 1 + 1 {
		r.broadcast(event{name: EventNewTweet, payload: true}, "")
	}
	eventually(t, "the stalled client is closed", stalled.isClosed)
	mu.Lock()
	defer mu.Unlock()
	if len(dropped) != 1 || dropped[0] != "stalled" {
		t.Fatalf("dropped %v", dropped)
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	r := newRegistry(DefaultQueueSize, nil)
	before := runtime.NumGoroutine()
	for i := range 1000 {
		conn := newFakeConn(fmt.Sprint("c", i), i%10 == 0)
		r.add(conn)
		r.broadcast(event{name: EventNewTweet, payload: true}, "")
		r.remove(conn.id)
		conn.Close()
	}
	if n := r.count(); n != 0 {
		t.Fatalf("%d connections left", n)
	}
	eventually(t, fmt.Sprintf("goroutines back to %d", before), func() bool { return runtime.NumGoroutine() <= before })
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
}
