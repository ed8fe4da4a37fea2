package socketio

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Kind is what one websocket message from the server is, to a client that receives events.
type Kind int

// The messages a server sends. An Engine.IO message is one digit of type and its data; type
// 4 (message) carries a socket.io packet, itself a digit of type and its data.
const (
	Unknown       Kind = iota
	Open               // "0{...}": the session, with the heartbeat's timing
	Close              // "1": the server ends the session
	Ping               // "2"
	Pong               // "3"
	Connect            // "40" (EIO4: "40{"sid":...}"): joined "/"
	Disconnect         // "41": left "/", the server's doing
	Event              // "42[...]": an event, whose name Frame.Name holds
	ConnectError       // "44...": refused to join "/"
	OtherSocketIO      // another socket.io packet (ack, binary)
	NoOp               // "6"
)

// Frame is one classified message. Name aliases the message's bytes.
type Frame struct {
	Kind Kind
	Name []byte // Event: the event's name; nil if it could not be read
}

// Classify reads the kind of one message (and an event's name) without decoding its JSON: a
// receiver of N×K events decodes nothing it does not need.
func Classify(msg []byte) Frame {
	if len(msg) == 0 {
		return Frame{Kind: Unknown}
	}
	switch msg[0] {
	case '0':
		return Frame{Kind: Open}
	case '1':
		return Frame{Kind: Close}
	case '2':
		return Frame{Kind: Ping}
	case '3':
		return Frame{Kind: Pong}
	case '6':
		return Frame{Kind: NoOp}
	case '4':
	default:
		return Frame{Kind: Unknown}
	}
	if len(msg) < 2 {
		return Frame{Kind: Unknown}
	}
	switch msg[1] {
	case '0':
		return Frame{Kind: Connect}
	case '1':
		return Frame{Kind: Disconnect}
	case '2':
		return Frame{Kind: Event, Name: eventName(msg[2:])}
	case '4':
		return Frame{Kind: ConnectError}
	}
	return Frame{Kind: OtherSocketIO}
}

// eventName reads the name of an event from what follows "42": [/nsp,][ackid]["name",...].
func eventName(b []byte) []byte {
	if len(b) > 0 && b[0] == '/' {
		i := bytes.IndexByte(b, ',')
		if i < 0 {
			return nil
		}
		b = b[i+1:]
	}
	for len(b) > 0 && b[0] >= '0' && b[0] <= '9' {
		b = b[1:]
	}
	if len(b) < 3 || b[0] != '[' || b[1] != '"' {
		return nil
	}
	b = b[2:]
	j := bytes.IndexByte(b, '"')
	if j < 0 {
		return nil
	}
	return b[:j]
}

// Session is what the open packet says about the session.
type Session struct {
	ID           string
	PingInterval time.Duration
	PingTimeout  time.Duration
}

// ParseOpen reads an open packet ("0{...}").
func ParseOpen(msg []byte) (Session, error) {
	if len(msg) == 0 || msg[0] != '0' {
		return Session{}, fmt.Errorf("want an open packet, got %q", clip(msg))
	}
	var p struct {
		Sid          string `json:"sid"`
		PingInterval int64  `json:"pingInterval"`
		PingTimeout  int64  `json:"pingTimeout"`
	}
	if err := json.Unmarshal(msg[1:], &p); err != nil || p.Sid == "" {
		return Session{}, fmt.Errorf("open packet %q: want JSON with a sid", clip(msg))
	}
	return Session{ID: p.Sid, PingInterval: time.Duration(p.PingInterval) * time.Millisecond,
		PingTimeout: time.Duration(p.PingTimeout) * time.Millisecond}, nil
}

func clip(b []byte) string {
	if len(b) > 120 {
		return string(b[:120]) + "…"
	}
	return string(b)
}
