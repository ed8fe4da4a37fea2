package realtime

import (
	"sync"
)

// emitter is what the registry needs of a socket connection (socketio.Conn has it).
type emitter interface {
	ID() string
	Emit(event string, args ...any)
	Close() error
}

// event is one server-to-client message.
type event struct {
	name    string
	payload any
}

// registry is Chirp's own list of live connections. go-socket.io's rooms and broadcasts write
// to each connection in turn under one lock, so one stalled client froze everyone (and Join
// beside a broadcast deadlocked); here a broadcast only appends the event to each client's small
// queue, never waits, and a client whose queue is full is disconnected: it is not reading, and
// when it reconnects the page asks the API what it missed.
//
// A client's queue is drained by a goroutine that exists only while there is something to
// send, one at a time per client (so events keep their order): thousands of idle connections
// cost no goroutine of ours, and a slow one holds up only its own drain.
type registry struct {
	queueSize int
	onDrop    func(id string) // told when a client is dropped for a full queue

	mu      sync.RWMutex
	clients map[string]*client
}

type client struct {
	conn emitter

	mu       sync.Mutex
	queue    []event // waiting to be emitted; nil when idle
	draining bool    // a drain goroutine is running
	removed  bool
	dropped  bool
}

func newRegistry(queueSize int, onDrop func(id string)) *registry {
	return &registry{queueSize: queueSize, onDrop: onDrop, clients: map[string]*client{}}
}

// add registers a connection.
func (r *registry) add(conn emitter) {
	c := &client{conn: conn}
	r.mu.Lock()
	if old, ok := r.clients[conn.ID()]; ok {
		old.remove()
	}
	r.clients[conn.ID()] = c
	r.mu.Unlock()
}

// enqueue adds e to the client's queue and starts a drain if none runs. It reports false when
// the queue is full.
func (c *client) enqueue(e event, limit int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.removed:
		return true
	case len(c.queue) >= limit:
		return false
	}
	c.queue = append(c.queue, e)
	if !c.draining {
		c.draining = true
		go c.drain()
	}
	return true
}

// drain emits the queued events in order, then ends.
func (c *client) drain() {
	for {
		c.mu.Lock()
		if len(c.queue) == 0 || c.removed {
			c.queue = nil // an idle client holds no buffer
			c.draining = false
			c.mu.Unlock()
			return
		}
		e := c.queue[0]
		c.queue = c.queue[1:]
		c.mu.Unlock()
		// Emit returns once the library's writer has the packet, or when the connection
		// closes; only this client waits for it.
		c.conn.Emit(e.name, e.payload)
	}
}

func (c *client) remove() {
	c.mu.Lock()
	c.removed = true
	c.queue = nil
	c.mu.Unlock()
}

// remove forgets a connection and stops its writer; removing an unknown id does nothing.
func (r *registry) remove(id string) {
	r.mu.Lock()
	c, ok := r.clients[id]
	delete(r.clients, id)
	r.mu.Unlock()
	if ok {
		c.remove()
	}
}

// broadcast queues e for every connection but the one with id except ("" for none). It never
// blocks.
func (r *registry) broadcast(e event, except string) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for id, c := range r.clients {
		if id == except || c.enqueue(e, r.queueSize) {
			continue
		}
		c.mu.Lock()
		first := !c.dropped
		c.dropped = true
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
}

// count is the number of live connections.
func (r *registry) count() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.clients)
}

// closeAll disconnects every connection (at shutdown: clients reconnect to the next process).
func (r *registry) closeAll() {
	r.mu.RLock()
	conns := make([]emitter, 0, len(r.clients))
	for _, c := range r.clients {
		conns = append(conns, c.conn)
	}
	r.mu.RUnlock()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() { c.Close() })
	}
	wg.Wait()
}
