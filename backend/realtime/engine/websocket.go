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
	"github.com/gorilla/websocket"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/httperror"
)

// websocketTransport is Chirp's Engine.IO 3 websocket transport, in place of the library's, for
// what thousands of idle sockets cost. The library's keeps the upgrade request's handler
// goroutine parked until the socket closes (holding net/http's 8 KiB of buffers with it), owns
// a write buffer per socket, and starts a goroutine and a timer for every frame read or
// written. Here the handler returns once the connection is upgraded, write buffers come from
// a pool shared by all sockets, and a frame is one gorilla message.
type websocketTransport struct {
	upgrader websocket.Upgrader
	// log is told when a socket is closed for a refused packet (nil: not logged).
	log *slog.Logger
	// maxMessage caps one message from the client; a larger one closes the socket (1009).
	maxMessage int64
	// earlyData is told of an upgrade refused because its client sent data before the answer.
	earlyData func(*http.Request)
	// checkMessage checks a message's data (nil: none).
	checkMessage func([]byte) error
}

// WebsocketConfig is what the websocket transport needs.
type WebsocketConfig struct {
	// CheckOrigin decides which pages' upgrades are accepted (gorilla's default refuses every
	// cross-origin one with 403).
	CheckOrigin func(*http.Request) bool
	// Log is told when a socket is closed for a refused packet (nil: not logged).
	Log *slog.Logger
	// MaxMessage caps one message from the client; a larger one closes the socket (1009).
	MaxMessage int64
	// EarlyData is told of an upgrade refused because its client sent data before the answer
	// (nil: nobody).
	EarlyData func(*http.Request)
	// CheckMessage checks the data of each message a client sends (a socket.io packet); an
	// error closes the socket. Nil: every message passes.
	CheckMessage func(data []byte) error
}

// NewWebsocket is Chirp's own Engine.IO 3 websocket transport, for the library's
// engineio.Options.Transports.
func NewWebsocket(cfg WebsocketConfig) transport.Transport {
	if cfg.EarlyData == nil {
		cfg.EarlyData = func(*http.Request) {}
	}
	return &websocketTransport{log: cfg.Log, maxMessage: cfg.MaxMessage, earlyData: cfg.EarlyData, checkMessage: cfg.CheckMessage, upgrader: websocket.Upgrader{
		// Chirp's frames are a few bytes (pings, events); a larger message is read in parts.
		ReadBufferSize:  512,
		WriteBufferSize: 1024,
		WriteBufferPool: &sync.Pool{},
		// ServeHTTP has applied the origin policy already; gorilla's default would refuse
		// every cross-origin upgrade with 403.
		CheckOrigin:      cfg.CheckOrigin,
		HandshakeTimeout: 10 * time.Second,
	}}
}

func (t *websocketTransport) Name() string { return "websocket" }

func (t *websocketTransport) Accept(w http.ResponseWriter, r *http.Request) (transport.Conn, error) {
	slot, ok := holdSlotOf(r, "websocket")
	if !ok {
		httperror.Write(w, chirp.Errorf(chirp.CodeBadRequest, "this session has ended, or is on websocket already; connect again"))
		return nil, websocket.HandshakeError{} // answered: the library must not write again
	}
	ws, err := t.upgrader.Upgrade(w, r, nil)
	if err != nil {
		slot.release()
		if e, ok := w.(interface{ sentEarlyData() bool }); ok && e.sentEarlyData() {
			t.earlyData(r)
		}
		// gorilla has answered the request; the library must not write to it again.
		return nil, websocket.HandshakeError{}
	}
	// gorilla reads a message whole, with no limit unless told one.
	ws.SetReadLimit(t.maxMessage)
	return &websocketConn{ws: ws, url: *r.URL, header: remoteHeader(r), log: t.log, slot: slot, checkMessage: t.checkMessage}, nil
}

func (t *websocketTransport) Dial(*url.URL, http.Header) (transport.Conn, error) {
	return nil, errors.New("chirp's websocket transport only serves")
}

// websocketConn is one client's websocket. It deliberately has no ServeHTTP: the library would
// call it and it would have to block for the life of the socket.
type websocketConn struct {
	ws     *websocket.Conn
	url    url.URL
	header http.Header
	log    *slog.Logger
	slot   *heldSlot // the session's place in the counts, released at close
	// checkMessage checks a message's data (nil: none).
	checkMessage func([]byte) error

	writeMu       sync.Mutex // gorilla allows one writer at a time: the session's and its pongs
	writeDeadline time.Time  // guarded by writeMu
	closeOnce     sync.Once
	refused       atomic.Bool
}

func (c *websocketConn) URL() url.URL                      { return c.url }
func (c *websocketConn) LocalAddr() net.Addr               { return c.ws.LocalAddr() }
func (c *websocketConn) RemoteAddr() net.Addr              { return c.ws.RemoteAddr() }
func (c *websocketConn) RemoteHeader() http.Header         { return c.header }
func (c *websocketConn) SetReadDeadline(t time.Time) error { return c.ws.SetReadDeadline(t) }

// SetWriteDeadline takes effect at the next write. gorilla's deadline is a plain field its
// writer reads, and the session sets it from its reader goroutine (after each ping) while its
// writer may be writing: the write applies it, under writeMu.
func (c *websocketConn) SetWriteDeadline(t time.Time) error {
	c.writeMu.Lock()
	c.writeDeadline = t
	c.writeMu.Unlock()
	return nil
}

func (c *websocketConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		err = c.ws.Close()
		c.slot.release()
	})
	return err
}

// NextReader reads the next message: a text frame starts with the packet type's digit. A
// binary frame, an oversized message or a packet the checks refuse (refused.go, CheckMessage) ends the socket.
func (c *websocketConn) NextReader() (frame.Type, packet.Type, io.ReadCloser, error) {
	for {
		mt, data, err := c.ws.ReadMessage()
		if errors.Is(err, websocket.ErrReadLimit) {
			return 0, 0, nil, c.refuse(errTooLarge) // gorilla has sent its close frame
		}
		if err != nil {
			return 0, 0, nil, err
		}
		if mt == websocket.BinaryMessage {
			return 0, 0, nil, c.refuse(errBinaryFrame)
		}
		if len(data) == 0 {
			continue // not a packet; Engine.IO never sends one
		}
		if data[0] < '0' || data[0] > '6' {
			return 0, 0, nil, c.refuse(errEngineType)
		}
		pt := packet.Type(data[0] - '0')
		if err := checkClientFrame(frame.String, pt, data[1:], c.checkMessage); err != nil {
			return 0, 0, nil, c.refuse(err)
		}
		return frame.String, pt, io.NopCloser(bytes.NewReader(data[1:])), nil
	}
}

// refuse tells the client why its socket ends (a close frame, "policy violation"), logs it
// once, and returns err for the session, which then closes the socket.
func (c *websocketConn) refuse(err error) error {
	if c.refused.CompareAndSwap(false, true) {
		if err != errTooLarge {
			c.ws.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "refused packet"),
				time.Now().Add(time.Second))
		}
		logRefused(c.log, "websocket", c.url, c.ws.RemoteAddr(), err)
	}
	return err
}

// NextWriter returns a writer whose Close sends one message, or whose closeWith sends an
// OutPacket's prepared message instead.
func (c *websocketConn) NextWriter(ft frame.Type, pt packet.Type) (io.WriteCloser, error) {
	w := &websocketWriter{c: c, messageType: websocket.TextMessage, prefix: '0' + byte(pt)}
	if ft == frame.Binary {
		w.messageType = websocket.BinaryMessage
		w.prefix = byte(pt)
	}
	return w, nil
}

// websocketWriter collects one packet. It is a byte writer, so the socket.io encoder writes
// into it directly, and it starts its buffer (with the packet type) only at the first write: a
// broadcast's writer never needs one.
type websocketWriter struct {
	buf         bytes.Buffer
	started     bool
	prefix      byte // the packet type, as the frame type writes it
	c           *websocketConn
	messageType int
}

var _ io.ByteWriter = (*websocketWriter)(nil)
var _ packetSink = (*websocketWriter)(nil)

func (w *websocketWriter) start() {
	if !w.started {
		w.started = true
		w.buf.WriteByte(w.prefix)
	}
}

func (w *websocketWriter) Write(p []byte) (int, error) {
	w.start()
	return w.buf.Write(p)
}

func (w *websocketWriter) WriteByte(b byte) error {
	w.start()
	return w.buf.WriteByte(b)
}

func (w *websocketWriter) Close() error {
	w.start()
	w.c.writeMu.Lock()
	defer w.c.writeMu.Unlock()
	w.c.ws.SetWriteDeadline(w.c.writeDeadline)
	return w.c.ws.WriteMessage(w.messageType, w.buf.Bytes())
}

// closeWith sends p, framed once for every socket, in place of what was written (nothing).
func (w *websocketWriter) closeWith(p *OutPacket) error {
	pm, err := p.websocket()
	if err != nil {
		return err
	}
	w.c.writeMu.Lock()
	defer w.c.writeMu.Unlock()
	w.c.ws.SetWriteDeadline(w.c.writeDeadline)
	return w.c.ws.WritePreparedMessage(pm)
}

// remoteHeader keeps the few request headers worth knowing about a connection for its whole
// life; a full copy of every header cost a kilobyte per socket.
func remoteHeader(r *http.Request) http.Header {
	h := http.Header{}
	for _, name := range []string{"Origin", "User-Agent", "X-Forwarded-For", "X-Request-Id"} {
		if v := r.Header.Values(name); len(v) > 0 {
			h[name] = v
		}
	}
	return h
}
