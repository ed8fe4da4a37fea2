package socketio

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// A polling request or response carries several packets in one body, a "payload", framed
// differently by the two versions:
//
//	EIO3: <length>:<packet><length>:<packet>…  (length in UTF-16 code units, as JavaScript counts)
//	EIO4: <packet>\x1e<packet>…
//
// Only text packets: Chirp always answers in the text form, and neither server sends binary
// to a client that asked for none.

const recordSeparator = 0x1e

var errBadPayload = errors.New("malformed Engine.IO payload")

// SplitPayload returns the packets of a polling response body; they alias body.
func (d Dialect) SplitPayload(body []byte) ([][]byte, error) {
	if len(body) == 0 {
		return nil, fmt.Errorf("%w: empty", errBadPayload)
	}
	if d == EIO4 {
		return bytes.Split(body, []byte{recordSeparator}), nil
	}
	var packets [][]byte
	for len(body) > 0 {
		colon := bytes.IndexByte(body, ':')
		if colon < 1 || colon > 10 {
			return nil, fmt.Errorf("%w: no length before %q", errBadPayload, clip(body))
		}
		units, err := strconv.Atoi(string(body[:colon]))
		if err != nil || units < 1 {
			return nil, fmt.Errorf("%w: length %q", errBadPayload, body[:colon])
		}
		body = body[colon+1:]
		n, ok := utf16Prefix(body, units)
		if !ok {
			return nil, fmt.Errorf("%w: a packet of %d units in %d bytes left", errBadPayload, units, len(body))
		}
		packets = append(packets, body[:n])
		body = body[n:]
	}
	return packets, nil
}

// utf16Prefix is the number of bytes of b that hold its first units UTF-16 code units.
func utf16Prefix(b []byte, units int) (int, bool) {
	i := 0
	for units > 0 {
		if i >= len(b) {
			return 0, false
		}
		r, size := utf8.DecodeRune(b[i:])
		units -= utf16.RuneLen(r) // invalid UTF-8 is U+FFFD, one unit, as the server counts it
		i += size
	}
	return i, units == 0
}

// JoinPayload frames packets for a polling POST.
func (d Dialect) JoinPayload(packets ...string) []byte {
	var b []byte
	for i, p := range packets {
		if d == EIO4 {
			if i > 0 {
				b = append(b, recordSeparator)
			}
		} else {
			n := 0
			for _, r := range p {
				n += utf16.RuneLen(r)
			}
			b = strconv.AppendInt(b, int64(n), 10)
			b = append(b, ':')
		}
		b = append(b, p...)
	}
	return b
}
