package realtime

import (
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/internal/sockettest"
	"github.com/chirp-social/chirp/backend/internal/testkit"
)

// startServer is a real server with its HTTP endpoint.
func startServer(t *testing.T) (*Server, *sockettest.Client) {
	t.Helper()
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() { s.Close(); ts.Close() })
	return s, sockettest.From(ts.URL, "127.0.0.1")
}

// onlyConn waits until one connection is registered and returns it.
func onlyConn(t *testing.T, s *Server) *socketConn {
	t.Helper()
	testkit.Eventually(t, "one connection registered", func() bool { return s.Connections() == 1 })
	s.registry.mu.RLock()
	defer s.registry.mu.RUnlock()
	for _, c := range s.registry.members {
		return c.conn.(*socketConn)
	}
	panic("unreachable")
}

// A broadcast's packet, encoded once, is byte for byte what the library's own Emit sends the
// same connection, on either transport.
func TestEncodedEventsAreTheLibrarysBytes(t *testing.T) {
	events := []struct {
		name    string
		payload any
		id      int64
	}{
		{EventNewTweet, true, 0},
		{EventResync, true, 0},
		{EventTweetUpdated, idPayload{ID: 42}, 42},
		{EventTweetDeleted, idPayload{ID: 9007199254740993}, 9007199254740993},
	}
	// Each transport connects one client and gives what one event sent to it looks like.
	transports := map[string]func(t *testing.T, s *Server, c *sockettest.Client) func() string{
		"Websocket": func(t *testing.T, s *Server, c *sockettest.Client) func() string {
			ws := c.WebsocketSession(t)
			return func() string {
				ws.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, msg, err := ws.ReadMessage()
				if err != nil {
					t.Fatal(err)
				}
				return string(msg)
			}
		},
		"Polling": func(t *testing.T, s *Server, c *sockettest.Client) func() string {
			sid := c.PollingSession(t)
			return func() string {
				packets, err := c.Poll(sid)
				if err != nil || len(packets) != 1 {
					t.Fatalf("want one packet, got %q (%v)", packets, err)
				}
				return packets[0]
			}
		},
	}
	for tname, open := range transports {
		for _, ev := range events {
			t.Run(tname+"/"+ev.name, func(t *testing.T) {
				s, c := startServer(t)
				receive := open(t, s, c)
				conn := onlyConn(t, s)
				conn.Emit(ev.name, ev.payload) // the library's path: its encoder, its writer goroutine
				library := receive()
				e, err := newEvent(ev.name, ev.payload, ev.id)
				if err != nil {
					t.Fatal(err)
				}
				s.registry.broadcast(e, "")
				ours := receive()
				if ours != library {
					t.Fatalf("encoded once: %q; the library sends %q", ours, library)
				}
				if want := `42["` + ev.name + `",`; !strings.HasPrefix(ours, want) {
					t.Fatalf("%q is not an event packet (%s…)", ours, want)
				}
			})
		}
	}
}

// Events broadcast while a polling client upgrades to websocket all arrive, once each and in
// order, over one transport or the other: packets taken by the polling transport before the
// upgrade paused it are answered to a GET, and those held by the pause go to the websocket.
func TestEventsSurviveAnUpgrade(t *testing.T) {
	s, c := startServer(t)
	sid := c.PollingSession(t)
	onlyConn(t, s)

	const total = 300
	var wg sync.WaitGroup
	wg.Go(func() {
		for id := int64(1); id <= total; id++ {
			s.TweetUpdated(chirp.Tweet{ID: id})
			if id%10 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	})

	// Poll as socket.io-client does: the next GET as soon as one is answered, until the
	// upgrade pauses polling; the GET in flight then is the last. (A client that stopped
	// polling before the pause would leave what its transport queued behind: the transport
	// holds it for a GET that never comes.)
	var mu sync.Mutex
	var got []string
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			packets, _ := c.Poll(sid) // a failure shows as missing events
			mu.Lock()
			got = append(got, packets...)
			mu.Unlock()
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
	testkit.Eventually(t, "events arrive over polling", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= 10
	})
	ws, status, body := c.Dial(t, "&sid="+sid)
	if ws == nil {
		t.Fatalf("upgrade: %d %s", status, body)
	}
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	ws.WriteMessage(websocket.TextMessage, []byte("2probe"))
	if _, msg, err := ws.ReadMessage(); err != nil || string(msg) != "3probe" {
		t.Fatalf("probe: %q %v", msg, err)
	}
	close(stop)
	testkit.Closed(t, stopped, "the poller stops")
	ws.WriteMessage(websocket.TextMessage, []byte("5"))
	wg.Wait()

	want := func(id int) string { return `42["tweetUpdated",{"id":` + strconv.Itoa(id) + "}]\n" }
	var events []string
	for _, p := range got {
		if strings.HasPrefix(p, "42") {
			events = append(events, p)
		}
	}
	overPolling := len(events)
	for len(events) < total {
		ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, msg, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("%d of %d events (%d over polling), then %v", len(events), total, overPolling, err)
		}
		if strings.HasPrefix(string(msg), "42") {
			events = append(events, string(msg))
		}
	}
	for i, e := range events {
		if e != want(i+1) {
			t.Fatalf("event %d is %q, want %q (%d came over polling)", i+1, e, want(i+1), overPolling)
		}
	}
	if overPolling == 0 || overPolling == total {
		t.Logf("all %d events came over one transport (%d over polling): the upgrade did not fall mid-stream", total, overPolling)
	}
	t.Logf("%d events over polling, %d over websocket", overPolling, total-overPolling)
}
