package socketio

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// recorder is a Handler that passes what it is told to the test's goroutine.
type recorder struct {
	events chan string
	closed chan error
}

func (r *recorder) Event(_ *Client, name []byte, _ time.Time) { r.events <- string(name) }
func (r *recorder) Closed(_ *Client, err error)               { r.closed <- err }

func within[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	timer := time.NewTimer(5 * time.Second)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("within 5 s: %s never came", what)
		panic("unreachable")
	}
}

// A scripted server for each dialect: who sends "40", who pings and who answers, an event,
// and a close packet. The server goroutine reports the client's messages on a channel.
func TestClientSpeaksEachDialect(t *testing.T) {
	cases := []struct {
		name    string
		dialect Dialect
		// script runs the server's side after the open packet; read returns the client's next message.
		script func(ws *websocket.Conn, read func() string) error
	}{
		{"EIO3ServerJoinsClientPings", EIO3, func(ws *websocket.Conn, read func() string) error {
			send(ws, "40") // joins "/" by itself
			if got := read(); got != "2" {
				return errors.New("client's first message: want its ping \"2\" (and no \"40\"), got " + got)
			}
			send(ws, "3")
			send(ws, `42["newTweet",true]`)
			send(ws, "1")
			return nil
		}},
		{"EIO4ClientJoinsServerPings", EIO4, func(ws *websocket.Conn, read func() string) error {
			if got := read(); got != "40" {
				return errors.New("client's first message: want \"40\", got " + got)
			}
			send(ws, `40{"sid":"n1"}`)
			send(ws, "2")
			if got := read(); got != "3" {
				return errors.New("want the client's pong \"3\", got " + got)
			}
			send(ws, `42["newTweet",true]`)
			send(ws, "1")
			return nil
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			serverDone := make(chan error, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("EIO") != strconv.Itoa(int(c.dialect)) || r.URL.Path != "/socket.io/" {
					serverDone <- errors.New("asked for " + r.URL.String())
					return
				}
				ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
				if err != nil {
					serverDone <- err
					return
				}
				defer ws.Close()
				send(ws, `0{"sid":"s1","upgrades":[],"pingInterval":50,"pingTimeout":1000}`)
				read := func() string {
					_ = ws.SetReadDeadline(time.Now().Add(3 * time.Second))
					_, m, err := ws.ReadMessage()
					if err != nil {
						return "(" + err.Error() + ")"
					}
					return string(m)
				}
				serverDone <- c.script(ws, read)
				_, _, _ = ws.ReadMessage() // until the client goes
			}))
			defer srv.Close()
			u, err := c.dialect.WebsocketURL(srv.URL, "/socket.io/")
			if err != nil {
				t.Fatal(err)
			}
			var beats atomic.Int64
			cl, err := NewDialer(c.dialect, u, 3*time.Second, &beats).Dial(context.Background(), 7)
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer cl.Close()
			if cl.ID != 7 || cl.Session.ID != "s1" || cl.Session.PingInterval != 50*time.Millisecond {
				t.Errorf("client %d, session %+v", cl.ID, cl.Session)
			}
			rec := &recorder{events: make(chan string, 4), closed: make(chan error, 1)}
			go cl.Listen(rec)
			if err := within(t, serverDone, "the server's script"); err != nil {
				t.Fatal(err)
			}
			if name := within(t, rec.events, "the event"); name != "newTweet" {
				t.Errorf("event %q, want newTweet", name)
			}
			if err := within(t, rec.closed, "the close"); !errors.Is(err, ErrServerClose) {
				t.Errorf("closed with %v, want ErrServerClose", err)
			}
			if cl.ClosedByUs() {
				t.Error("ClosedByUs after the server's close packet")
			}
			if beats.Load() != 1 {
				t.Errorf("heartbeats %d, want 1", beats.Load())
			}
		})
	}
}

func TestDialFailsWhenRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		send(ws, `0{"sid":"s1","pingInterval":25000}`)
		send(ws, `44{"message":"full"}`)
		_, _, _ = ws.ReadMessage()
	}))
	defer srv.Close()
	u, _ := EIO3.WebsocketURL(srv.URL, "/socket.io/")
	if _, err := NewDialer(EIO3, u, 3*time.Second, nil).Dial(context.Background(), 0); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("Dial = %v, want a refusal", err)
	}
}

func send(ws *websocket.Conn, msg string) { _ = ws.WriteMessage(websocket.TextMessage, []byte(msg)) }
