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
// beside a broadcast deadlocked); here a broadcast only puts the event in each client's small
// queue, never waits, and a client whose queue is full is disconnected: it is not reading, and
// when it reconnects the page asks the API what it missed.
type registry struct {
	queueSize int
	onDrop    func(id string) // told when a client is dropped for a full queue

	mu      sync.RWMutex
	clients map[string]*client
}

type client struct {
	conn    emitter
	queue   chan event
	done    chan struct{}
	dropped sync.Once
}

func newRegistry(queueSize int, onDrop func(id string)) *registry {
	return &registry{queueSize: queueSize, onDrop: onDrop, clients: map[string]*client{}}
}

// add registers a connection and starts its writer: the one goroutine that ever emits to it,
// so that a slow connection only ever holds up itself.
func (r *registry) add(conn emitter) {
	c := &client{conn: conn, queue: make(chan event, r.queueSize), done: make(chan struct{})}
	r.mu.Lock()
	if old, ok := r.clients[conn.ID()]; ok {
		close(old.done)
	}
	r.clients[conn.ID()] = c
	r.mu.Unlock()
	go c.write()
}

func (c *client) write() {
	for {
		select {
		case e := <-c.queue:
			c.conn.Emit(e.name, e.payload)
		case <-c.done:
			return
		}
	}
}

// remove forgets a connection and stops its writer; removing an unknown id does nothing.
func (r *registry) remove(id string) {
	r.mu.Lock()
	c, ok := r.clients[id]
	delete(r.clients, id)
	r.mu.Unlock()
	if ok {
		close(c.done)
	}
}

// broadcast queues e for every connection but the one with id except ("" for none). It never
// blocks.
func (r *registry) broadcast(e event, except string) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for id, c := range r.clients {
		if id == except {
			continue
		}
		select {
		case c.queue <- e:
		default:
			c.dropped.Do(func() {
				// Not under the lock: Close runs the disconnect handler, which removes.
				go func() {
					if r.onDrop != nil {
						r.onDrop(id)
					}
					c.conn.Close()
				}()
			})
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
