package realtime

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	socketio "github.com/googollee/go-socket.io"
	"github.com/googollee/go-socket.io/engineio/session"
	"github.com/googollee/go-socket.io/parser"

	"github.com/chirp-social/chirp/backend/realtime/engine"
)

// encodeEvent encodes an event as the library's Conn.Emit does for namespace "/", with the
// library's own encoder: an EVENT header, then the name and the payload in one JSON array.
func encodeEvent(name string, payload any) (*engine.OutPacket, error) {
	var w captureWriter
	if err := parser.NewEncoder(&w).Encode(parser.Header{Type: parser.Event}, []any{name, payload}); err != nil {
		return nil, fmt.Errorf("encode %s: %w", name, err)
	}
	if w.frames != 1 {
		return nil, fmt.Errorf("encode %s: %d frames; Chirp's events carry no binary data", name, w.frames)
	}
	return engine.NewMessage(w.buf.String()), nil
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

// socketConn is a registered connection: the library's, written to beneath its emit.
type socketConn struct {
	socketio.Conn
	session engine.Session
}

var errNoSession = errors.New("the socket.io connection does not expose its Engine.IO session")

// newSocketConn reaches the session beneath c: the library's connection embeds its Engine.IO
// connection, and so has its NextWriter.
func newSocketConn(c socketio.Conn) (*socketConn, error) {
	e, ok := c.(engine.Session)
	if !ok {
		return nil, errNoSession
	}
	return &socketConn{Conn: c, session: e}, nil
}

// send writes e to the session's current transport and returns once the transport has it
// (engine.Send).
func (c *socketConn) send(e event) error { return engine.Send(c.session, e.packet) }
