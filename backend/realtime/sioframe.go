package realtime

import "github.com/chirp-social/chirp/backend/realtime/engine"

// What a client may send in a socket.io packet, checked by both transports (as their
// CheckMessage) before go-socket.io's parser sees it; the Engine.IO frame around it is checked
// by the transports themselves (engine/refused.go). The parser (v1.7.0) trusts the numbers in a
// packet's header, and one of them kills the process: it reads "<digits>-" after the type as an
// attachment count, for any type, and DecodeArgs makes a slice of that many buffers.
// `459999999999-["newTweet"]` asks for 400 GB and ends in "fatal error: out of memory", which
// no recover catches; a count of 2^64-1 is a makeslice panic in a goroutine of the library's.
// So the transports let through only what socket.io-client 2.x sends to Chirp (socket.io-parser
// 3.x's encodeAsString), and a refused packet closes the session: the client is hostile or
// broken, and a 2.x client reconnects.
//
// Socket.io packets (the data of an Engine.IO message, "4…"), whose grammar is
//
//	type [attachments "-"] [namespace ","] [id] [json]
//
// are accepted only as
//
//	"0" or "0/,"           CONNECT to "/" (2.x clients send none for "/", other clients may)
//	"1" or "1/,"           DISCONNECT
//	"2" ["/,"] [id] "[…"   EVENT, with an ack id of at most maxAckIDDigits digits
//
// and each refusal below names the bound it keeps. (One trust is left to the handlers: the
// library indexes its buffers by a JSON placeholder's "num" when an argument is a
// parser.Buffer, which would panic outside any recover. Chirp's handlers take no Buffer.)
const (
	// maxAckIDDigits bounds an event's ack id. The library reads ids into a uint64 with no
	// overflow check (a 22-digit id wraps silently); the 2.x client counts its acks from 0,
	// so ten digits is more than any session reaches.
	maxAckIDDigits = 10
)

const (
	errEmptyPacket = engine.Refused("empty socket.io packet")
	// The count the library sizes a slice by, without a bound. Refused whatever the type and
	// the count (even "2-" or "20-"): Chirp's client never sends attachments.
	errAttachments = engine.Refused("socket.io attachment count")
	// ACK answers an event the server sent with an ack, and Chirp's server asks for none;
	// ERROR is the server's; BINARY_EVENT and BINARY_ACK always carry attachments.
	errSocketType = engine.Refused("socket.io packet type a client of Chirp never sends")
	// The library reads a namespace up to the next ',' however long, and Chirp serves only
	// "/" (a CONNECT to another one ends the connection in the library anyway; an EVENT to
	// one is read and dropped).
	errNamespace = engine.Refused("namespace other than /")
	errAckID     = engine.Refused("ack id over 10 digits")
	// CONNECT and DISCONNECT carry nothing after their namespace; an id belongs to an EVENT,
	// and an EVENT's data is a JSON array (without one the library decodes it under the
	// previous packet's event name).
	errSocketData = engine.Refused("socket.io packet in a form Chirp's client never sends")
)

// checkSocketPacket checks one socket.io packet (an Engine.IO message's data) from a client.
func checkSocketPacket(p []byte) error {
	if len(p) == 0 {
		return errEmptyPacket
	}
	typ, rest := p[0], p[1:]
	// First, what the library would read as an attachment count: digits (or none) and '-',
	// for any type, since the library looks for them in every packet.
	n := digits(rest)
	if n < len(rest) && rest[n] == '-' {
		return errAttachments
	}
	switch typ {
	case '0', '1', '2': // CONNECT, DISCONNECT, EVENT
	default:
		return errSocketType
	}
	if len(rest) > 0 && rest[0] == '/' {
		i := 0
		for i < len(rest) && rest[i] != ',' {
			i++
		}
		if i != 1 { // only "/"
			return errNamespace
		}
		rest = rest[min(i+1, len(rest)):]
		n = digits(rest)
	}
	if n > maxAckIDDigits {
		return errAckID
	}
	if typ != '2' {
		if len(rest) > 0 {
			return errSocketData
		}
		return nil
	}
	if n == len(rest) || rest[n] != '[' {
		return errSocketData
	}
	return nil
}

// digits counts the ASCII digits at the start of b.
func digits(b []byte) int {
	n := 0
	for n < len(b) && '0' <= b[n] && b[n] <= '9' {
		n++
	}
	return n
}
