package realtime

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	socketio "github.com/googollee/go-socket.io"
	"github.com/googollee/go-socket.io/engineio/packet"
	"github.com/googollee/go-socket.io/engineio/session"
	"github.com/googollee/go-socket.io/parser"
	"github.com/gorilla/websocket"
)

// outPacket is one server event encoded once for every connection it goes to. The library's
// Conn.Emit encodes an event again for each connection and hands it, through a channel, to a
// writer goroutine of that connection; in a 5,000-client broadcast that, with framing each
// message again per socket, was about 60 % of the broadcast's CPU, the write system calls being
// the rest (docs/PERFORMANCE.md, "Broadcast profile"). Here the registry's drain gives each
// connection's current transport the same bytes.
type outPacket struct {
	// text is the Engine.IO message packet: its type digit, then the socket.io packet exactly
	// as the library's encoder writes it (its trailing newline included). Polling queues it
	// as it is.
	text string

	wsOnce sync.Once
	ws     *websocket.PreparedMessage // text as one websocket message, framed once
	wsErr  error
}

// encodeEvent encodes an event as the library's Conn.Emit does for namespace "/", with the
// library's own encoder: an EVENT header, then the name and the payload in one JSON array.
func encodeEvent(name string, payload any) (*outPacket, error) {
	var w captureWriter
	if err := parser.NewEncoder(&w).Encode(parser.Header{Type: parser.Event}, []any{name, payload}); err != nil {
		return nil, fmt.Errorf("encode %s: %w", name, err)
	}
	if w.frames != 1 {
		return nil, fmt.Errorf("encode %s: %d frames; Chirp's events carry no binary data", name, w.frames)
	}
	return &outPacket{text: string('0'+byte(packet.MESSAGE)) + w.buf.String()}, nil
}

// websocket is the packet as one websocket text message, framed at the first connection that
// needs it; gorilla then writes the same frame bytes to every connection.
func (p *outPacket) websocket() (*websocket.PreparedMessage, error) {
	p.wsOnce.Do(func() {
		p.ws, p.wsErr = websocket.NewPreparedMessage(websocket.TextMessage, []byte(p.text))
	})
	return p.ws, p.wsErr
}

// captureWriter collects what the library's encoder writes (parser.FrameWriter).
type captureWriter struct {
	buf    bytes.Buffer
	frames int
}

func (w *captureWriter) NextWriter(session.FrameType) (io.WriteCloser, error) {
	w.frames++
	return nopCloser{&w.buf}, nil
}

// nopCloser keeps the buffer's WriteByte visible, so the encoder writes into it directly.
type nopCloser struct{ *bytes.Buffer }

func (nopCloser) Close() error { return nil }

// packetSink is the writer our transports return: besides taking bytes as any writer, it
// can send an outPacket as it is instead, in place of Close.
type packetSink interface {
	io.WriteCloser
	closeWith(p *outPacket) error
}

// engineSession is what a socketio.Conn is beneath the library's emit: the Engine.IO session,
// whose NextWriter returns a writer of its current transport and, when an upgrade has just
// replaced that transport, of the new one (the old one's writers get a temporary error and
// the session asks again).
type engineSession interface {
	NextWriter(session.FrameType) (io.WriteCloser, error)
}

// socketConn is a registered connection: the library's, written to beneath its emit.
type socketConn struct {
	socketio.Conn
	engine engineSession
}

var errNoSession = errors.New("the socket.io connection does not expose its Engine.IO session")

// newSocketConn reaches the session beneath c: the library's connection embeds its Engine.IO
// connection, and so has its NextWriter.
func newSocketConn(c socketio.Conn) (*socketConn, error) {
	e, ok := c.(engineSession)
	if !ok {
		return nil, errNoSession
	}
	return &socketConn{Conn: c, engine: e}, nil
}

// sendAttempts bounds how often a packet is offered again after a transport switched under it.
const sendAttempts = 3

// send writes e to the session's current transport and returns once the transport has it
// (a polling client's queue, a websocket's socket). A polling transport closed by an upgrade
// between taking the packet and queueing it says so with a temporary error, and the packet is
// offered again, to the websocket.
func (c *socketConn) send(e event) error {
	var err error
	for range sendAttempts {
		var w io.WriteCloser
		if w, err = c.engine.NextWriter(session.TEXT); err != nil {
			return err
		}
		sink, ok := w.(packetSink)
		if !ok { // not one of Chirp's transports: the bytes, as any writer takes them
			io.WriteString(w, e.packet.text[1:]) // the transport writes the type digit
			return w.Close()
		}
		if err = sink.closeWith(e.packet); !isTemporary(err) {
			return err
		}
	}
	return err
}

func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}
