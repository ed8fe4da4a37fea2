package socketio

import (
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestClassify(t *testing.T) {
	cases := []struct {
		name     string
		msg      string
		want     Kind
		wantName string
	}{
		{"Open", `0{"sid":"1","pingInterval":25000}`, Open, ""},
		{"Close", `1`, Close, ""},
		{"Ping", `2`, Ping, ""},
		{"PingProbe", `2probe`, Ping, ""},
		{"Pong", `3`, Pong, ""},
		{"NoOp", `6`, NoOp, ""},
		{"ConnectEIO3", `40`, Connect, ""},
		{"ConnectEIO4", `40{"sid":"abc"}`, Connect, ""},
		{"Disconnect", `41`, Disconnect, ""},
		{"Event", `42["newTweet",true]`, Event, "newTweet"},
		{"EventWithData", `42["tweetUpdated",{"id":1}]`, Event, "tweetUpdated"},
		{"EventInANamespace", `42/chat,["newTweet",true]`, Event, "newTweet"},
		{"EventWithAckID", `4212["newTweet",true]`, Event, "newTweet"},
		{"EventInANamespaceWithAckID", `42/chat,7["other",{"a":1}]`, Event, "other"},
		{"EventWithoutName", `42[]`, Event, ""},
		{"EventGarbage", `42garbage`, Event, ""},
		{"NamespaceWithoutComma", `42/chat["x"]`, Event, ""},
		{"UnterminatedName", `42["newTw`, Event, ""},
		{"ConnectError", `44{"message":"no"}`, ConnectError, ""},
		{"Ack", `43[1]`, OtherSocketIO, ""},
		{"BareMessage", `4`, Unknown, ""},
		{"Empty", ``, Unknown, ""},
		{"NotAType", `x`, Unknown, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := Classify([]byte(c.msg))
			if f.Kind != c.want || string(f.Name) != c.wantName {
				t.Errorf("Classify(%q) = %v %q, want %v %q", c.msg, f.Kind, f.Name, c.want, c.wantName)
			}
		})
	}
}

func TestParseOpen(t *testing.T) {
	cases := []struct {
		name    string
		msg     string
		want    Session
		wantErr bool
	}{
		{"EIO3", `0{"sid":"1","upgrades":[],"pingInterval":25000,"pingTimeout":45000}`, Session{"1", 25 * time.Second, 45 * time.Second}, false},
		{"EIO4", `0{"sid":"Xy","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`, Session{"Xy", 25 * time.Second, 20 * time.Second}, false},
		{"NoSid", `0{"pingInterval":1}`, Session{}, true},
		{"NotOpen", `40`, Session{}, true},
		{"BadJSON", `0{`, Session{}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseOpen([]byte(c.msg))
			if (err != nil) != c.wantErr || got != c.want {
				t.Errorf("ParseOpen(%q) = %+v, %v; want %+v (error: %v)", c.msg, got, err, c.want, c.wantErr)
			}
		})
	}
}

func TestDialect(t *testing.T) {
	cases := []struct {
		name                     string
		eio                      int
		wantErr                  bool
		sendsConnect, clientPing bool
	}{
		{"EIO3ServerJoinsAndClientPings", 3, false, false, true},
		{"EIO4ClientJoinsAndServerPings", 4, false, true, false},
		{"EIO2", 2, true, false, false},
		{"EIO5", 5, true, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := ParseDialect(c.eio)
			if (err != nil) != c.wantErr {
				t.Fatalf("ParseDialect(%d) error %v, want error: %v", c.eio, err, c.wantErr)
			}
			if err == nil && (d.SendsConnect() != c.sendsConnect || d.ClientPings() != c.clientPing) {
				t.Errorf("EIO%d: SendsConnect %v, ClientPings %v; want %v, %v", c.eio, d.SendsConnect(), d.ClientPings(), c.sendsConnect, c.clientPing)
			}
		})
	}
}

func TestEndpoint(t *testing.T) {
	cases := []struct {
		name      string
		base      string
		dialect   Dialect
		transport Transport
		want      string
	}{
		{"Websocket", "http://127.0.0.1:8000", EIO3, Websocket, "ws://127.0.0.1:8000/socket.io/?EIO=3&transport=websocket"},
		{"Polling", "http://127.0.0.1:8000", EIO4, Polling, "http://127.0.0.1:8000/socket.io/?EIO=4&transport=polling"},
		{"NotHTTP", "ftp://127.0.0.1", EIO3, Websocket, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u, err := endpoint(c.base, "/socket.io/", c.dialect, c.transport)
			if c.want == "" {
				if err == nil {
					t.Fatalf("endpoint(%q) = %v, want an error", c.base, u)
				}
				return
			}
			if err != nil || u.String() != c.want {
				t.Fatalf("endpoint = %v, %v; want %q", u, err, c.want)
			}
		})
	}
	if _, err := ParseTransport("flash"); err == nil {
		t.Error(`ParseTransport("flash") = nil error`)
	}
}

func TestCloseKind(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{ErrServerClose, "engineio_close_packet"},
		{fmt.Errorf("reading: %w", ErrServerDisconnect), "socketio_disconnect_packet"},
		{&websocket.CloseError{Code: websocket.CloseAbnormalClosure}, "ws_close_1006"},
		{syscall.ECONNRESET, "conn_reset"},
		{syscall.EPIPE, "broken_pipe"},
		{io.ErrUnexpectedEOF, "eof"},
		{&HTTPStatusError{Status: 400}, "polling_http_400"},
		{errors.New("something"), "other"},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			if got := CloseKind(c.err); got != c.want {
				t.Errorf("CloseKind(%v) = %q, want %q", c.err, got, c.want)
			}
		})
	}
}
