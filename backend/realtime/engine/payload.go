package engine

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/googollee/go-socket.io/engineio/frame"
	"github.com/googollee/go-socket.io/engineio/packet"
)

// Engine.IO 3 (the protocol of go-socket.io v1 and socket.io-client 2.x) sends several packets
// in one polling request or response as a "payload". Chirp always answers in the text form,
// which every client decodes:
//
//	<length>:<packet><length>:<packet>…
//
// where a packet is its type digit followed by its data, or "b", the type digit and base64 for
// binary data, and <length> counts the packet in UTF-16 code units (JavaScript string length).

// enginePacket is one Engine.IO packet.
type enginePacket struct {
	frame frame.Type
	typ   packet.Type
	data  []byte
}

// encodeText returns the packet as it appears inside a text payload.
func (p enginePacket) encodeText() string {
	if p.frame == frame.Binary {
		return "b" + strconv.Itoa(int(p.typ)) + base64.StdEncoding.EncodeToString(p.data)
	}
	return strconv.Itoa(int(p.typ)) + string(p.data)
}

// appendPayload appends one encoded packet to a text payload.
func appendPayload(b []byte, encoded string) []byte {
	b = strconv.AppendInt(b, int64(utf16Len(encoded)), 10)
	b = append(b, ':')
	return append(b, encoded...)
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r) // invalid UTF-8 decodes as U+FFFD, one unit, as JavaScript sees it
	}
	return n
}

var errBadPayload = errors.New("malformed Engine.IO payload")

// decodeTextPayload splits a text payload into packets.
func decodeTextPayload(s string) ([]enginePacket, error) {
	var packets []enginePacket
	for len(s) > 0 {
		colon := strings.IndexByte(s, ':')
		if colon <= 0 || colon > 10 {
			return nil, errBadPayload
		}
		n, err := strconv.Atoi(s[:colon])
		if err != nil || n < 1 {
			return nil, errBadPayload
		}
		s = s[colon+1:]
		// Take n UTF-16 code units' worth of characters.
		end, units := 0, 0
		for units < n {
			if end >= len(s) {
				return nil, errBadPayload
			}
			r, size := utf8.DecodeRuneInString(s[end:])
			units += utf16.RuneLen(r)
			end += size
		}
		if units != n {
			return nil, errBadPayload
		}
		p, err := decodeTextPacket(s[:end])
		if err != nil {
			return nil, err
		}
		packets = append(packets, p)
		s = s[end:]
	}
	if len(packets) == 0 {
		return nil, errBadPayload
	}
	return packets, nil
}

func decodeTextPacket(s string) (enginePacket, error) {
	p := enginePacket{frame: frame.String}
	if s[0] == 'b' {
		p.frame = frame.Binary
		s = s[1:]
	}
	if len(s) == 0 || s[0] < '0' || s[0] > '6' {
		return p, fmt.Errorf("%w: unknown packet type", errBadPayload)
	}
	p.typ = packet.Type(s[0] - '0')
	if p.frame == frame.Binary {
		data, err := base64.StdEncoding.DecodeString(s[1:])
		if err != nil {
			return p, fmt.Errorf("%w: bad base64", errBadPayload)
		}
		p.data = data
		return p, nil
	}
	p.data = []byte(s[1:])
	return p, nil
}
