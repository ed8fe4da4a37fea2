package engine

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/googollee/go-socket.io/engineio/frame"
	"github.com/googollee/go-socket.io/engineio/packet"
	"github.com/googollee/go-socket.io/engineio/transport"
)

// PollingConfig is what the polling transport needs.
type PollingConfig struct {
	// MaxQueued bounds the packets waiting for a client's next GET; past it, writers wait (and
	// the session's write deadline ends a client that stops polling).
	MaxQueued int
	// MaxPostBytes caps one POST body; a larger one closes the session.
	MaxPostBytes int64
	// Log is told when a session is closed for a refused packet (nil: not logged).
	Log *slog.Logger
	// HandshakeGrace and PollGap bound how long a session may go without a GET: after the
	// handshake's answer, and after any later one. Zero: no bound.
	HandshakeGrace, PollGap time.Duration
	// CheckMessage checks the data of each message a client sends (a socket.io packet); an
	// error closes the session. Nil: every message passes.
	CheckMessage func(data []byte) error
}

// NewPolling is Chirp's own Engine.IO 3 long-polling transport, for the library's
// engineio.Options.Transports.
func NewPolling(cfg PollingConfig) transport.Transport {
	return &pollingTransport{maxQueued: cfg.MaxQueued, maxPostBytes: cfg.MaxPostBytes, log: cfg.Log,
		handshakeGrace: cfg.HandshakeGrace, pollGap: cfg.PollGap, checkMessage: cfg.CheckMessage}
}

// pollingTransport is Chirp's own Engine.IO 3 long-polling transport, in place of the
// library's. The library's refuses every POST while an upgrade to websocket is in progress
// ("400 payload: paused", go-socket.io#547), and a default browser client loses what it sent
// then (often its first emit). Here an upgrade only pauses the
// server's side of the exchange, as the protocol intends: the waiting GET is answered at once
// (with what is queued, or a noop) so the client can finish its switch, and writes wait for the
// new transport; the client's POSTs go on being read until the switch is done.
type pollingTransport struct {
	// maxQueued bounds the packets waiting for a client's next GET; past it, writers wait (and
	// the session's write deadline ends a client that stops polling).
	maxQueued int
	// maxPostBytes caps one POST body.
	maxPostBytes int64
	// log is told when a session is closed for a refused packet (nil: not logged).
	log *slog.Logger
	// handshakeGrace and pollGap bound how long a session may go without a GET: after the
	// handshake's answer, and after any later one. A client polls again at once (a GET is
	// answered only when there is something to send), so a session past either is abandoned:
	// it is closed rather than left to its ping deadline. Zero: no bound.
	handshakeGrace, pollGap time.Duration
	// checkMessage checks a message's data (nil: none).
	checkMessage func([]byte) error
}

func (t *pollingTransport) Name() string { return "polling" }

func (t *pollingTransport) Accept(_ http.ResponseWriter, r *http.Request) (transport.Conn, error) {
	slot, ok := holdSlotOf(r, "polling")
	if !ok {
		return nil, errSessionEnded
	}
	c := newPollingConn(t, r)
	c.slot = slot
	return c, nil
}

func (t *pollingTransport) Dial(*url.URL, http.Header) (transport.Conn, error) {
	return nil, errors.New("chirp's polling transport only serves")
}

// retryError tells the session to take its current transport again: it is how the session
// moves its reader and writers from the old transport to the new one after an upgrade. It
// satisfies the library's payload.Error.
type retryError struct{}

func (retryError) Error() string   { return "transport switched" }
func (retryError) Temporary() bool { return true }

var (
	errTimeout = timeoutError{}
	errClosed  = errors.New("polling transport closed")
)

type timeoutError struct{}

func (timeoutError) Error() string   { return "polling transport: deadline exceeded" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return false }

// retriesAfterUpgrade is how many blocked or later calls get retryError once the transport
// was closed after a pause; the session's reader and writers need one each to move over, and
// a bound keeps a close that was not an upgrade from spinning them.
const retriesAfterUpgrade = 8

// pollingConn is one client's polling transport: queued packets out, POSTed packets in.
type pollingConn struct {
	t          *pollingTransport
	url        url.URL
	header     http.Header
	localAddr  net.Addr
	remoteAddr net.Addr

	incoming chan enginePacket // unbuffered: a POST returns once the reader has taken its packets
	posting  atomic.Bool       // a POST is being read

	mu            sync.Mutex
	changed       chan struct{} // closed and replaced whenever the state below changes
	queue         []string      // encoded packets waiting for a GET
	reserved      int           // writers that have a slot and have not closed yet
	getting       bool          // a GET is being answered
	answered      bool          // a GET has been answered (the handshake is over)
	paused        bool
	closed        bool
	retries       int   // retryError answers left after an upgrade's close
	refused       error // why the transport was closed for a refused packet, if it was
	readDeadline  time.Time
	writeDeadline time.Time
	closedCh      chan struct{}
	// pollBy is when the session is closed unless a GET arrives; idle fires then (or later).
	pollBy time.Time
	idle   *time.Timer

	slot *heldSlot // the session's place in the counts, released at close
}

func newPollingConn(t *pollingTransport, r *http.Request) *pollingConn {
	return &pollingConn{
		t:          t,
		url:        *r.URL,
		header:     remoteHeader(r),
		localAddr:  addr(r.Host),
		remoteAddr: addr(r.RemoteAddr),
		incoming:   make(chan enginePacket),
		changed:    make(chan struct{}),
		closedCh:   make(chan struct{}),
	}
}

type addr string

func (a addr) Network() string { return "tcp" }
func (a addr) String() string  { return string(a) }

func (c *pollingConn) URL() url.URL              { return c.url }
func (c *pollingConn) LocalAddr() net.Addr       { return c.localAddr }
func (c *pollingConn) RemoteAddr() net.Addr      { return c.remoteAddr }
func (c *pollingConn) RemoteHeader() http.Header { return c.header }

func (c *pollingConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.readDeadline = t
	c.signalLocked()
	c.mu.Unlock()
	return nil
}

func (c *pollingConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.writeDeadline = t
	c.signalLocked()
	c.mu.Unlock()
	return nil
}

// signalLocked wakes everyone waiting for a change. c.mu must be held.
func (c *pollingConn) signalLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// waitLocked releases c.mu until the state changes, the deadline passes (false), or done is
// closed (false); it returns with c.mu held.
func (c *pollingConn) waitLocked(deadline time.Time, done <-chan struct{}) bool {
	changed := c.changed
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		d := time.Until(deadline)
		if d <= 0 {
			return false
		}
		timer := time.NewTimer(d)
		defer timer.Stop()
		timeout = timer.C
	}
	c.mu.Unlock()
	defer c.mu.Lock()
	select {
	case <-changed:
		return true
	case <-timeout:
		return false
	case <-done:
		return false
	}
}

// closedErrLocked is what a call on a closed transport gets. c.mu must be held.
func (c *pollingConn) closedErrLocked() error {
	if c.refused != nil {
		return c.refused
	}
	if c.retries > 0 {
		c.retries--
		return retryError{}
	}
	return errClosed
}

// Pause stops serving the client's GETs (the waiting one is answered now) and holds writers,
// during an upgrade; reading goes on.
func (c *pollingConn) Pause() {
	c.mu.Lock()
	c.paused = true
	c.signalLocked()
	c.mu.Unlock()
}

// Resume undoes Pause after a failed upgrade.
func (c *pollingConn) Resume() {
	c.mu.Lock()
	c.paused = false
	c.signalLocked()
	c.mu.Unlock()
}

// Close ends the transport. After a pause it is the end of a successful upgrade, and the
// session's reader and writers, blocked here, are told to retry on the new transport.
func (c *pollingConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	if c.paused {
		c.retries = retriesAfterUpgrade
	}
	c.closedLocked()
	c.mu.Unlock()
	c.slot.release()
	return nil
}

// closedLocked does what every first close does. c.mu must be held.
func (c *pollingConn) closedLocked() {
	close(c.closedCh)
	c.signalLocked()
	if c.idle != nil {
		c.idle.Stop()
	}
}

// refuse closes the transport for a packet the client may not send. Unlike Close it never
// makes the session retry (even during an upgrade): the reader gets err, and the session ends.
func (c *pollingConn) refuse(err error) {
	c.mu.Lock()
	first := !c.closed
	if first {
		c.closed = true
		c.refused = err
		c.retries = 0
		c.closedLocked()
	}
	c.mu.Unlock()
	if first {
		c.slot.release()
		if err != errStoppedPolling {
			logRefused(c.t.log, "polling", c.url, c.remoteAddr, err)
		}
	}
}

// errStoppedPolling ends a session whose client stopped polling.
var errStoppedPolling = errors.New("the client stopped polling")

// expectGetLocked arms the idle timer once a GET has ended: the next must come within d.
// c.mu must be held.
func (c *pollingConn) expectGetLocked(d time.Duration) {
	if d <= 0 || c.closed {
		return
	}
	c.pollBy = time.Now().Add(d)
	if c.idle == nil {
		c.idle = time.AfterFunc(d, c.checkPolling)
		return
	}
	c.idle.Reset(d)
}

// checkPolling closes a session that has gone without a GET past pollBy. A timer run that a
// later GET made stale finds a GET waiting, or pollBy moved on, and does nothing.
func (c *pollingConn) checkPolling() {
	c.mu.Lock()
	switch {
	case c.closed || c.getting:
		c.mu.Unlock()
		return
	case time.Now().Before(c.pollBy):
		c.idle.Reset(time.Until(c.pollBy))
		c.mu.Unlock()
		return
	case c.paused:
		// An upgrade is under way: the client stops polling for it, and the upgrade ends
		// with this transport's close, or fails and polling resumes.
		c.expectGetLocked(max(c.t.pollGap, c.t.handshakeGrace))
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.refuse(errStoppedPolling)
	if c.t.log != nil {
		c.t.log.Debug("socket closed: the client stopped polling", "sid", c.url.Query().Get("sid"), "remote", c.remoteAddr.String())
	}
}

// NextReader returns the next packet the client POSTed.
func (c *pollingConn) NextReader() (frame.Type, packet.Type, io.ReadCloser, error) {
	c.mu.Lock()
	deadline, closed := c.readDeadline, c.closed
	if closed {
		err := c.closedErrLocked()
		c.mu.Unlock()
		return 0, 0, nil, err
	}
	c.mu.Unlock()
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		timer := time.NewTimer(time.Until(deadline))
		defer timer.Stop()
		timeout = timer.C
	}
	select {
	case p := <-c.incoming:
		return p.frame, p.typ, io.NopCloser(bytes.NewReader(p.data)), nil
	case <-c.closedCh:
		c.mu.Lock()
		defer c.mu.Unlock()
		return 0, 0, nil, c.closedErrLocked()
	case <-timeout:
		return 0, 0, nil, errTimeout
	}
}

// NextWriter waits for room in the queue (and for the end of a pause), then returns a writer
// whose Close queues the packet for the client's next GET.
func (c *pollingConn) NextWriter(ft frame.Type, pt packet.Type) (io.WriteCloser, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		switch {
		case c.closed:
			return nil, c.closedErrLocked()
		case c.paused && pt == packet.PONG:
			// The session answers a ping from the reader goroutine; holding that answer would
			// hold the reader, and with it the client's POST and so its switch to websocket.
			// The pong is queued instead: delivered if the upgrade fails, dropped (harmlessly:
			// the client resets its timer on any packet) if it succeeds.
			c.reserved++
			return &packetWriter{c: c, p: enginePacket{frame: ft, typ: pt}}, nil
		case !c.paused && len(c.queue)+c.reserved < c.t.maxQueued:
			c.reserved++
			return &packetWriter{c: c, p: enginePacket{frame: ft, typ: pt}}, nil
		}
		if !c.waitLocked(c.writeDeadline, nil) {
			return nil, errTimeout
		}
	}
}

// packetWriter collects one packet. The embedded buffer makes it a byte writer, so the
// socket.io encoder writes into it directly rather than through a new 4 KiB bufio.Writer per
// packet.
type packetWriter struct {
	bytes.Buffer
	c *pollingConn
	p enginePacket
}

var _ io.ByteWriter = (*packetWriter)(nil)

var _ packetSink = (*packetWriter)(nil)

func (w *packetWriter) Close() error {
	w.p.data = w.Bytes()
	return w.c.enqueue(w.p.encodeText(), false)
}

// closeWith queues p's text, shared with every other polling client it goes to, in place of
// what was written (nothing). If an upgrade closed the transport since NextWriter, the error
// is temporary, and the caller offers the packet again: to the websocket.
func (w *packetWriter) closeWith(p *OutPacket) error {
	return w.c.enqueue(p.text, true)
}

// enqueue queues an encoded packet for the next GET, ending a NextWriter's reservation. On a
// closed transport it fails: with errClosed, or when retry is set with what the session's
// reader and writers get (a temporary error just after an upgrade).
func (c *pollingConn) enqueue(encoded string, retry bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reserved--
	if c.closed {
		if retry {
			return c.closedErrLocked()
		}
		return errClosed
	}
	c.queue = append(c.queue, encoded)
	c.signalLocked()
	return nil
}
