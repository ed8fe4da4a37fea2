package engine

import (
	"log/slog"
	"net"
	"net/url"

	"github.com/googollee/go-socket.io/engineio/frame"
	"github.com/googollee/go-socket.io/engineio/packet"
)

// What a client may send, at the Engine.IO level, checked by both transports before the
// library sees it; the socket.io packet inside a message is checked by the transports'
// CheckMessage (the socket.io side's rule). A refused packet closes the session: the client is
// hostile or broken, and a 2.x client reconnects.
//
//   - Binary frames are refused: a websocket binary message, or a polling packet "b<type>…"
//     or application/octet-stream body. Chirp's events carry no binary data, and binary frames
//     exist only to carry attachments.
//   - A message is at most the transport's limit (SOCKET_MAX_MESSAGE_BYTES): a polling POST's
//     body, a websocket message. gorilla reads a websocket message whole with no limit of its
//     own, and the library echoes a ping's data, so an unbounded ping costs its size several
//     times over.
//   - A polling payload's lengths are checked by decodeTextPayload (at most 10 digits, and
//     exactly as many UTF-16 units as follow); a malformed payload is refused like a packet.

// Refused is why a client's packet was refused. It is not temporary (the library's session
// retries temporary errors), so returning it from a transport's reader ends the session.
type Refused string

func (r Refused) Error() string { return "refused packet: " + string(r) }

const (
	errBinaryFrame      = Refused("binary frame (Chirp's events carry no binary data)")
	errTooLarge         = Refused("message too large")
	errMalformedPayload = Refused("malformed polling payload")
	errEngineType       = Refused("unknown Engine.IO packet type")
)

// checkClientFrame checks one Engine.IO packet from a client, and hands a message's data to
// checkMessage.
func checkClientFrame(ft frame.Type, pt packet.Type, data []byte, checkMessage func([]byte) error) error {
	if ft == frame.Binary {
		return errBinaryFrame
	}
	if pt == packet.MESSAGE && checkMessage != nil {
		return checkMessage(data)
	}
	return nil
}

// logRefused records a session closed for a refused frame. It is called once per connection
// (the connection closes with it), at Info, so a hostile client cannot flood the log.
func logRefused(log *slog.Logger, transport string, u url.URL, remote net.Addr, err error) {
	if log == nil {
		return
	}
	log.Info("socket closed: refused packet", "transport", transport, "sid", u.Query().Get("sid"),
		"remote", remote.String(), "reason", err.Error())
}
