package engine

import (
	"errors"
	"strings"
	"testing"

	"github.com/googollee/go-socket.io/engineio/frame"
	"github.com/googollee/go-socket.io/engineio/packet"
)

// errNamespace stands for the socket.io side's refusal of a message (CheckMessage).
const errNamespace = Refused("namespace other than /")

// refuseNamespaces is a CheckMessage that refuses a socket.io packet naming a namespace other
// than "/", as the socket.io side does.
func refuseNamespaces(data []byte) error {
	if len(data) > 1 && data[1] == '/' && !strings.HasPrefix(string(data[1:]), "/,") {
		return errNamespace
	}
	return nil
}

func TestCheckClientFrame(t *testing.T) {
	tests := []struct {
		name string
		ft   frame.Type
		pt   packet.Type
		data string
		want error
	}{
		{"OKPing", frame.String, packet.PING, "", nil},
		{"OKPingProbe", frame.String, packet.PING, "probe", nil},
		{"OKPongProbe", frame.String, packet.PONG, "probe", nil},
		{"OKUpgrade", frame.String, packet.UPGRADE, "", nil},
		{"OKNoop", frame.String, packet.NOOP, "", nil},
		{"OKClose", frame.String, packet.CLOSE, "", nil},
		{"OKMessage", frame.String, packet.MESSAGE, `2["newTweet",true]`, nil},
		{"BinaryMessage", frame.Binary, packet.MESSAGE, `2["newTweet"]`, errBinaryFrame},
		{"BinaryPing", frame.Binary, packet.PING, "probe", errBinaryFrame},
		{"MessageChecked", frame.String, packet.MESSAGE, `2/x,["newTweet"]`, errNamespace},
		{"MessageCheckedOnlyInAMessage", frame.String, packet.PING, `2/x,["newTweet"]`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := checkClientFrame(tt.ft, tt.pt, []byte(tt.data), refuseNamespaces); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}
