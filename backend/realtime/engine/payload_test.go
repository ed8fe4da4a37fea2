package engine

import (
	"errors"
	"testing"

	"github.com/googollee/go-socket.io/engineio/frame"
	"github.com/googollee/go-socket.io/engineio/packet"
)

func TestPayloadRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		packets []enginePacket
		want    string
	}{
		{"Message", []enginePacket{{typ: packet.MESSAGE, data: []byte(`2["newTweet",true]`)}}, `19:42["newTweet",true]`},
		{"PingAndNoop", []enginePacket{{typ: packet.PING, data: []byte("probe")}, {typ: packet.NOOP}}, "6:2probe1:6"},
		// An astral emoji is two UTF-16 units, as JavaScript counts the length.
		{"Emoji", []enginePacket{{typ: packet.MESSAGE, data: []byte("😀é")}}, "4:4😀é"},
		{"Binary", []enginePacket{{frame: frame.Binary, typ: packet.MESSAGE, data: []byte{0, 1, 255}}}, "6:b4AAH/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b []byte
			for _, p := range tt.packets {
				b = appendPayload(b, p.encodeText())
			}
			if string(b) != tt.want {
				t.Fatalf("encoded %q, want %q", b, tt.want)
			}
			got, err := decodeTextPayload(string(b))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.packets) {
				t.Fatalf("decoded %d packets", len(got))
			}
			for i := range got {
				if got[i].frame != tt.packets[i].frame || got[i].typ != tt.packets[i].typ || string(got[i].data) != string(tt.packets[i].data) {
					t.Fatalf("packet %d: %+v, want %+v", i, got[i], tt.packets[i])
				}
			}
		})
	}
}

func TestPayloadRejectsMalformed(t *testing.T) {
	for _, s := range []string{"", "x", ":4", "0:", "5:4ab", "2:9x", "1:", "3:b4!", "99999999999:4", "-1:4"} {
		t.Run(s, func(t *testing.T) {
			if _, err := decodeTextPayload(s); !errors.Is(err, errBadPayload) {
				t.Fatalf("decoded %q: %v", s, err)
			}
		})
	}
}
