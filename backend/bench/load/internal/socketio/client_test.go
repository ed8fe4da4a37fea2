package socketio

import (
	"context"
	"errors"
	"io"
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

// scriptedServer speaks one dialect over one transport through two queues, so that one
// script serves both transports: out holds the packets for the client (a websocket message
// each, or a polling GET's payload each), in receives the client's packets.
type scriptedServer struct {
	dialect Dialect
	out     chan string
	in      chan string
	asked   chan string // the query of each request, for checking what the client asked for
}

func newScriptedServer(d Dialect) *scriptedServer {
	return &scriptedServer{dialect: d, out: make(chan string, 16), in: make(chan string, 16), asked: make(chan string, 64)}
}

func (s *scriptedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case s.asked <- r.URL.Path + "?" + r.URL.RawQuery:
	default:
	}
	if r.URL.Query().Get("transport") == "websocket" {
		s.serveWebsocket(w, r)
		return
	}
	if r.Method == http.MethodPost {
		body, _ := io.ReadAll(r.Body)
		packets, err := s.dialect.SplitPayload(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, p := range packets {
			s.in <- string(p)
		}
		_, _ = io.WriteString(w, "ok")
		return
	}
	select {
	case p := <-s.out:
		_, _ = w.Write(s.dialect.JoinPayload(p))
	case <-time.After(3 * time.Second):
		_, _ = w.Write(s.dialect.JoinPayload("6"))
	}
}

func (s *scriptedServer) serveWebsocket(w http.ResponseWriter, r *http.Request) {
	ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer ws.Close()
	go func() {
		for {
			_, m, err := ws.ReadMessage()
			if err != nil {
				return
			}
			s.in <- string(m)
		}
	}()
	for {
		select {
		case p := <-s.out:
			if ws.WriteMessage(websocket.TextMessage, []byte(p)) != nil {
				return
			}
		case <-time.After(5 * time.Second):
			return
		}
	}
}

// read is the client's next packet, or what never came.
func (s *scriptedServer) read() string {
	select {
	case p := <-s.in:
		return p
	case <-time.After(3 * time.Second):
		return "(nothing within 3 s)"
	}
}

// Each dialect over each transport: who sends "40", who pings and who answers, an event, and
// a close packet.
func TestClientSpeaksEachDialect(t *testing.T) {
	scripts := map[Dialect]func(s *scriptedServer) error{
		EIO3: func(s *scriptedServer) error { // the server joins "/" by itself; the client pings
			s.out <- "40"
			if got := s.read(); got != "2" {
				return errors.New(`client's first packet: want its ping "2" (and no "40"), got ` + got)
			}
			s.out <- "3"
			s.out <- `42["newTweet",true]`
			s.out <- "1"
			return nil
		},
		EIO4: func(s *scriptedServer) error { // the client joins; the server pings
			if got := s.read(); got != "40" {
				return errors.New(`client's first packet: want "40", got ` + got)
			}
			s.out <- `40{"sid":"n1"}`
			s.out <- "2"
			if got := s.read(); got != "3" {
				return errors.New(`want the client's pong "3", got ` + got)
			}
			s.out <- `42["newTweet",true]`
			s.out <- "1"
			return nil
		},
	}
	for _, d := range []Dialect{EIO3, EIO4} {
		for _, tr := range []Transport{Websocket, Polling} {
			t.Run("EIO"+strconv.Itoa(int(d))+"Over"+string(tr), func(t *testing.T) {
				s := newScriptedServer(d)
				srv := httptest.NewServer(s)
				defer srv.Close()
				s.out <- `0{"sid":"s1","upgrades":[],"pingInterval":50,"pingTimeout":1000}`
				scriptDone := make(chan error, 1)
				go func() { scriptDone <- scripts[d](s) }()

				var beats atomic.Int64
				dialer, err := NewDialer(d, tr, srv.URL, "/socket.io/", 3*time.Second, &beats)
				if err != nil {
					t.Fatal(err)
				}
				cl, err := dialer.Dial(context.Background(), 7)
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				defer cl.Close()
				if cl.ID != 7 || cl.Session.ID != "s1" || cl.Session.PingInterval != 50*time.Millisecond {
					t.Errorf("client %d, session %+v", cl.ID, cl.Session)
				}
				first := within(t, s.asked, "the first request")
				want := "/socket.io/?EIO=" + strconv.Itoa(int(d)) + "&transport=" + string(tr)
				if first != want {
					t.Errorf("first request %q, want %q", first, want)
				}
				rec := &recorder{events: make(chan string, 4), closed: make(chan error, 1)}
				go cl.Listen(rec)
				if err := within(t, scriptDone, "the server's script"); err != nil {
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
}

func TestDialFailsWhenRefused(t *testing.T) {
	for _, tr := range []Transport{Websocket, Polling} {
		t.Run(string(tr), func(t *testing.T) {
			s := newScriptedServer(EIO3)
			srv := httptest.NewServer(s)
			defer srv.Close()
			s.out <- `0{"sid":"s1","pingInterval":25000}`
			s.out <- `44{"message":"full"}`
			dialer, err := NewDialer(EIO3, tr, srv.URL, "/socket.io/", 3*time.Second, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := dialer.Dial(context.Background(), 0); err == nil || !strings.Contains(err.Error(), "refused") {
				t.Fatalf("Dial = %v, want a refusal", err)
			}
		})
	}
}
