package realtime

import (
	"net/url"
	"runtime"
	"sync"

	"github.com/chirp-social/chirp/backend/realtime/engine"
)

// emitter is what the registry needs of a socket connection (socketConn).
type emitter interface {
	ID() string
	// send returns once the connection's transport has e (or cannot take it).
	send(e event) error
	Close() error
}

// event is one server-to-client message. tweetID is the tweet a tweetUpdated or tweetDeleted is
// about (the queue coalesces by it); 0 for newTweet. packet is the event encoded, once for
// every connection.
type event struct {
	name    string
	tweetID int64
	packet  *engine.OutPacket
}

// newEvent encodes an event about tweetID (0: none) with its payload.
func newEvent(name string, payload any, tweetID int64) (event, error) {
	p, err := encodeEvent(name, payload)
	if err != nil {
		return event{}, err
	}
	return event{name: name, tweetID: tweetID, packet: p}, nil
}

// registry is Chirp's own list of live connections. go-socket.io's rooms and broadcasts write
// to each connection in turn under one lock, so one stalled client froze everyone (and Join
// beside a broadcast deadlocked); here a broadcast only appends the event to each client's
// queue, never waits, and a client whose queue is full is disconnected: it is not reading, and
// when it reconnects the page asks the API what it missed.
//
// Events are hints (the page asks the API what changed), so a queue keeps no more of them than
// the client needs; see member.enqueue for the rule. A burst of posts therefore costs a queue
// one slot, and only distinct tweets edited or deleted faster than the client reads fill it.
//
// A client's queue is drained by a goroutine that exists only while there is something to
// send, one at a time per client (so events keep their order): thousands of idle connections
// cost no goroutine of ours, and a slow one holds up only its own drain. A broadcast starts
// its drains a batch at a time (startDrains), so that thousands of them never stand in the
// scheduler's queues ahead of the rest of the process.
type registry struct {
	queueSize int
	onDrop    func(id string) // told when a client is dropped for a full queue
	// sent, when set, is told the name of every event handed to a connection's transport.
	sent func(event string)
	// onSendError, if set, is told when a connection's transport failed to take an event;
	// the connection is closed (it has missed the event: it reconnects and asks the API).
	onSendError func(id string, err error)

	mu      sync.RWMutex
	members map[string]*member
	closed  bool // closeAll has run: no connection may join any more
}

// member is one live connection in the registry, with its queue of waiting events.
type member struct {
	conn        emitter
	sent        func(event string)         // the registry's; nil: not told
	onSendError func(id string, err error) // the registry's

	mu       sync.Mutex
	queue    []event // waiting to be emitted, oldest first; nil when idle
	taken    int     // events the drain has taken from the queue since it was last idle
	newTweet bool    // a newTweet is waiting in queue
	resync   bool    // a resync is waiting in queue
	// waiting maps a tweet id to the position of its waiting event, counted like taken (its
	// index in queue is the value minus taken); nil when no such event waits.
	waiting  map[int64]int
	draining bool // a drain goroutine is running
	removed  bool
	dropped  bool
	// closedBy is why the server closed the connection (DisconnectQueueFull,
	// DisconnectShutdown); empty when the server did not.
	closedBy string
}

func newRegistry(queueSize int, onDrop func(id string)) *registry {
	return &registry{queueSize: queueSize, onDrop: onDrop, members: map[string]*member{}}
}

// add registers a connection; it reports false, registering nothing, once closeAll has run (a
// handshake that raced the shutdown must be refused, or it would outlive closeAll's list and
// hold the HTTP server's shutdown until its timeout).
func (r *registry) add(conn emitter) bool {
	c := &member{conn: conn, sent: r.sent, onSendError: r.onSendError}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	if old, ok := r.members[conn.ID()]; ok {
		old.remove()
	}
	r.members[conn.ID()] = c
	return true
}

// enqueue adds e to the client's queue, coalescing it with what already waits, and starts a
// drain if none runs. It reports false when e needs a slot and the queue has none left.
//
// The rule: only events still waiting count, never the one the drain is emitting (it may have
// reached the client before the change e announces), so an event is never lost behind an
// older one of the same kind.
//   - newTweet: dropped if a newTweet waits; the waiting one reaches the client after this
//     tweet committed, and the page then asks the API for everything new.
//   - resync: dropped if a resync waits, likewise: the page then reads everything it shows.
//   - tweetUpdated for an id: dropped if an update or a delete of that tweet waits; the page
//     reads the tweet when it gets the event, or removes it.
//   - tweetDeleted for an id: takes the place of a waiting update of that tweet (the update
//     would only find it gone), and is dropped if a delete of it waits.
//
// So a queue holds at most one newTweet, one resync and one event per tweet.
//
// start reports that no drain runs and the caller must start one (go c.drain()); enqueue
// marks the client draining, so exactly one caller is told.
func (c *member) enqueue(e event, limit int) (ok, start bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed {
		return true, false
	}
	switch e.name {
	case EventNewTweet:
		if c.newTweet {
			return true, false
		}
	case EventResync:
		if c.resync {
			return true, false
		}
	case EventTweetUpdated, EventTweetDeleted:
		if pos, ok := c.waiting[e.tweetID]; ok {
			if e.name == EventTweetDeleted {
				c.queue[pos-c.taken] = e
			}
			return true, false
		}
	}
	if len(c.queue) >= limit {
		return false, false
	}
	switch e.name {
	case EventNewTweet:
		c.newTweet = true
	case EventResync:
		c.resync = true
	case EventTweetUpdated, EventTweetDeleted:
		if c.waiting == nil {
			c.waiting = map[int64]int{}
		}
		c.waiting[e.tweetID] = c.taken + len(c.queue)
	}
	c.queue = append(c.queue, e)
	if c.draining {
		return true, false
	}
	c.draining = true
	return true, true
}

// drain sends the queued events in order, then ends.
func (c *member) drain() {
	for {
		c.mu.Lock()
		if len(c.queue) == 0 || c.removed {
			c.clearLocked() // an idle client holds no buffer
			c.draining = false
			c.mu.Unlock()
			return
		}
		e := c.queue[0]
		c.queue[0] = event{} // the array outlives the slot: let go of the payload
		c.queue = c.queue[1:]
		c.taken++
		switch e.name {
		case EventNewTweet:
			c.newTweet = false
		case EventResync:
			c.resync = false
		case EventTweetUpdated, EventTweetDeleted:
			delete(c.waiting, e.tweetID)
		}
		c.mu.Unlock()
		// Only this client waits for its transport (a polling client's full queue).
		if err := c.conn.send(e); err != nil {
			if c.onSendError != nil {
				c.onSendError(c.conn.ID(), err)
			}
			c.conn.Close() // runs the disconnect handler, which removes c
		} else if c.sent != nil {
			c.sent(e.name)
		}
	}
}

func (c *member) clearLocked() {
	c.queue = nil
	c.taken = 0
	c.newTweet = false
	c.resync = false
	c.waiting = nil
}

func (c *member) remove() {
	c.mu.Lock()
	c.removed = true
	c.clearLocked()
	c.mu.Unlock()
}

// remove forgets a connection and stops its writer, and says why it left: the reason the
// server closed it for, or DisconnectClosed. Removing an unknown id does nothing and reports
// false.
func (r *registry) remove(id string) (reason string, ok bool) {
	r.mu.Lock()
	c, ok := r.members[id]
	delete(r.members, id)
	r.mu.Unlock()
	if !ok {
		return "", false
	}
	c.remove()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closedBy != "" {
		return c.closedBy, true
	}
	return DisconnectClosed, true
}

// broadcast queues e for every connection but the one with id except ("" for none), and says
// how many that is. It never blocks.
func (r *registry) broadcast(e event, except string) (reached int) {
	var idle []*member // members whose drain this broadcast starts
	r.mu.RLock()
	defer func() {
		r.mu.RUnlock()
		startDrains(idle)
	}()
	for id, c := range r.members {
		if id == except {
			continue
		}
		reached++
		ok, start := c.enqueue(e, r.queueSize)
		if start {
			idle = append(idle, c)
		}
		if ok {
			continue
		}
		c.mu.Lock()
		first := !c.dropped
		c.dropped = true
		if c.closedBy == "" {
			c.closedBy = DisconnectQueueFull
		}
		c.mu.Unlock()
		if first {
			// Not under the lock: Close runs the disconnect handler, which removes.
			go func() {
				if r.onDrop != nil {
					r.onDrop(id)
				}
				c.conn.Close()
			}()
		}
	}
	return reached
}

// drainBatch is how many drains startDrains makes runnable at a time. Drains started all at
// once fill the scheduler's run queues, and every goroutine made runnable meanwhile (a request's
// handler, the database driver's reads, the store's writer) queues behind the whole broadcast:
// POSTs wait while thousands of sockets listen (docs/PERFORMANCE.md has the figures). A batch is
// small enough to be done before the next request notices it.
const drainBatch = 32

// startDrains starts the drains of clients, a batch at a time: between batches the starter
// yields, going to the back of the scheduler's queue, behind whatever became runnable while
// the batch was queued. Drains that wait on their transport are parked, not queued, so a stalled
// client never holds up the others' start. A small broadcast starts its drains at once.
func startDrains(members []*member) {
	if len(members) <= drainBatch {
		for _, c := range members {
			go c.drain()
		}
		return
	}
	go func() {
		for i, c := range members {
			go c.drain()
			if (i+1)%drainBatch == 0 {
				runtime.Gosched()
			}
		}
	}()
}

// byTransport counts the live connections by the transport each is on now. The library's
// connections are asked outside the registry's lock: each answers under a lock of its own
// (its session's upgrade lock), and broadcasts must never wait behind a scrape.
func (r *registry) byTransport() map[string]int {
	r.mu.RLock()
	members := make([]*member, 0, len(r.members))
	for _, c := range r.members {
		members = append(members, c)
	}
	r.mu.RUnlock()
	n := map[string]int{}
	for _, c := range members {
		n[c.transport()]++
	}
	return n
}

// transport is the one the connection is on now: the library's connection reports the URL of
// its current transport's request, which names it (an upgrade's names websocket).
func (c *member) transport() string {
	u, ok := c.conn.(interface{ URL() url.URL })
	if !ok {
		return "unknown"
	}
	url := u.URL()
	if t := url.Query().Get("transport"); t == "polling" || t == "websocket" {
		return t
	}
	return "unknown"
}

// count is the number of live connections.
func (r *registry) count() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.members)
}

// closeAll disconnects every connection (at shutdown: clients reconnect to the next process).
func (r *registry) closeAll() {
	r.mu.Lock()
	r.closed = true
	conns := make([]emitter, 0, len(r.members))
	for _, c := range r.members {
		c.mu.Lock()
		if c.closedBy == "" {
			c.closedBy = DisconnectShutdown
		}
		c.mu.Unlock()
		conns = append(conns, c.conn)
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() { c.Close() })
	}
	wg.Wait()
}
