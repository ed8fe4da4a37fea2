package realtime

import (
	"sync"
	"time"
)

// clock is the time a hintCoalescer runs on; tests inject a fake one.
type clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) stopper
}

// stopper is a timer that can be stopped before it fires.
type stopper interface {
	Stop() bool
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) stopper { return time.AfterFunc(d, f) }

// hintCoalescer paces the process's data-less newTweet broadcasts: at most one per window. A
// hint with no send in the last window goes out at once (an isolated post is never delayed);
// hints within the window after a send are merged into one trailing send at the window's end.
// So a storm of posts costs the process, and each client, one broadcast per window however
// many tweets commit; the trailing send leaves after the last merged hint, so no client misses
// the storm's end. Clients' own queues coalesce further behind this (registry).
//
// During a storm the window grows with the clients a send reached (after a trailing send,
// perClient each, when that is more than window): a broadcast's cost is one write per client,
// so a storm costs the process a bounded share of its CPU however many clients listen, where a
// fixed window let ten 5,000-client broadcasts a second take most of two cores from the posts
// themselves. A leading send is followed by the plain window, so posts a little more than a
// window apart are never held, however many clients listen.
//
// A hint either reaches everyone (a committed tweet, another process's hint) or everyone but
// the client that relayed it. A merged send skips a client only if every hint merged into it
// was that client's own relay: the intersection of the hints' skip sets, which is one client
// or none.
type hintCoalescer struct {
	window    time.Duration // the least time between sends
	perClient time.Duration // after a trailing send, the time to the next per client it reached
	clock     clock
	// send broadcasts newTweet to everyone but except ("" for none) and says how many clients
	// it reached.
	send func(except string) int

	mu      sync.Mutex
	sent    time.Time     // when the last send left; zero before the first
	gap     time.Duration // the window after the last send
	pending bool          // hints wait for the trailing send (and timer is armed)
	except  string        // whom the pending send skips; "" for nobody
	timer   stopper
	closed  bool
}

func newHintCoalescer(window, perClient time.Duration, c clock, send func(except string) int) *hintCoalescer {
	return &hintCoalescer{window: window, perClient: perClient, clock: c, send: send}
}

// sendLocked sends now and sizes the window that follows: after a trailing send (merged: hints
// are coming faster than the window), by the clients it reached.
func (h *hintCoalescer) sendLocked(now time.Time, except string, merged bool) {
	h.sent = now
	reached := h.send(except)
	h.gap = h.window
	if merged {
		h.gap = max(h.window, time.Duration(reached)*h.perClient)
	}
}

// hint announces a newTweet to everyone but except ("" for nobody). It never blocks on a
// client: send only queues (registry.broadcast).
func (h *hintCoalescer) hint(except string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	if h.pending {
		if h.except != except {
			h.except = "" // hints with different skips: whoever one skips, another reaches
		}
		return
	}
	now := h.clock.Now()
	if h.sent.IsZero() || now.Sub(h.sent) >= h.gap {
		h.sendLocked(now, except, false)
		return
	}
	h.pending, h.except = true, except
	h.timer = h.clock.AfterFunc(h.sent.Add(h.gap).Sub(now), h.flush)
}

// flush is the trailing send of the hints merged since the last one.
func (h *hintCoalescer) flush() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || !h.pending {
		return
	}
	h.pending, h.timer = false, nil
	h.sendLocked(h.clock.Now(), h.except, true)
	h.except = ""
}

// close stops a waiting trailing send and ignores later hints (the server is closing its
// clients, which reconnect elsewhere and ask the API what is new).
func (h *hintCoalescer) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	if h.timer != nil {
		h.timer.Stop()
		h.timer = nil
	}
	h.pending = false
}
