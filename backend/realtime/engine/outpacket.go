package engine

import (
	"io"
	"sync"

	"github.com/googollee/go-socket.io/engineio/packet"
	"github.com/googollee/go-socket.io/engineio/session"
	"github.com/gorilla/websocket"
)

// OutPacket is one Engine.IO message encoded once for every connection it goes to: the
// library's Conn.Emit encodes an event again for each connection and hands it, through a
// channel, to a writer goroutine of that connection, and frames each message again per socket
// (docs/PERFORMANCE.md, "Broadcast profile"). Send gives each connection's current transport
// the same bytes.
type OutPacket struct {
	// text is the Engine.IO message packet: its type digit, then the message's data. Polling
	// queues it as it is.
	text string

	wsOnce sync.Once
	ws     *websocket.PreparedMessage // text as one websocket message, framed once
	wsErr  error
}

// NewMessage is the Engine.IO message packet carrying data (an encoded socket.io packet).
func NewMessage(data string) *OutPacket {
	return &OutPacket{text: string('0'+byte(packet.MESSAGE)) + data}
}

// websocket is the packet as one websocket text message, framed at the first connection that
// needs it; gorilla then writes the same frame bytes to every connection.
func (p *OutPacket) websocket() (*websocket.PreparedMessage, error) {
	p.wsOnce.Do(func() {
		p.ws, p.wsErr = websocket.NewPreparedMessage(websocket.TextMessage, []byte(p.text))
	})
	return p.ws, p.wsErr
}

// packetSink is the writer our transports return: besides taking bytes as any writer, it
// can send an OutPacket as it is instead, in place of Close.
type packetSink interface {
	io.WriteCloser
	closeWith(p *OutPacket) error
}

// Session is what a socket.io connection is beneath the library's emit: the Engine.IO
// session, whose NextWriter returns a writer of its current transport and, when an upgrade
// has just replaced that transport, of the new one (the old one's writers get a temporary
// error and the session asks again).
type Session interface {
	NextWriter(session.FrameType) (io.WriteCloser, error)
}

// sendAttempts bounds how often a packet is offered again after a transport switched under it.
const sendAttempts = 3

// Send writes p to the session's current transport and returns once the transport has it
// (a polling client's queue, a websocket's socket). A polling transport closed by an upgrade
// between taking the packet and queueing it says so with a temporary error, and the packet is
// offered again, to the websocket.
func Send(s Session, p *OutPacket) error {
	var err error
	for range sendAttempts {
		var w io.WriteCloser
		if w, err = s.NextWriter(session.TEXT); err != nil {
			return err
		}
		sink, ok := w.(packetSink)
		if !ok { // not one of this package's transports: the bytes, as any writer takes them
			io.WriteString(w, p.text[1:]) // the transport writes the type digit
			return w.Close()
		}
		if err = sink.closeWith(p); !isTemporary(err) {
			return err
		}
	}
	return err
}

func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}
