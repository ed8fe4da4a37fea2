package realtime_test

import (
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chirp-social/chirp/backend/internal/sockettest"
	"github.com/chirp-social/chirp/backend/internal/testkit"
	"github.com/chirp-social/chirp/backend/realtime"
)

// newStormServer is a server whose newTweet window is window, and n websocket clients
// registered with it.
func newStormServer(t *testing.T, window time.Duration, n int) (*realtime.Server, []*websocket.Conn) {
	t.Helper()
	return newServerWithClients(t, realtime.Config{NewTweetWindow: window}, n)
}

// newServerWithClients is a server of cfg and n websocket clients registered with it.
func newServerWithClients(t *testing.T, cfg realtime.Config, n int) (*realtime.Server, []*websocket.Conn) {
	t.Helper()
	s, err := realtime.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() { s.Close(); ts.Close() })
	c := sockettest.From(ts.URL, "127.0.0.1")
	var conns []*websocket.Conn
	for range n {
		conns = append(conns, c.WebsocketSession(t))
	}
	// A client sees "40" just before the server registers it.
	for deadline := time.Now().Add(5 * time.Second); s.Connections() != n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d clients registered", s.Connections(), n)
		}
	}
	return s, conns
}

// newTweetArrivals reads ws until it has been quiet for quiet, and returns when each newTweet
// arrived. It may run in a goroutine of its own.
func newTweetArrivals(t *testing.T, ws *websocket.Conn, quiet time.Duration) []time.Time {
	t.Helper()
	var at []time.Time
	for {
		ws.SetReadDeadline(time.Now().Add(quiet))
		_, msg, err := ws.ReadMessage()
		if err != nil {
			if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
				return at
			}
			t.Errorf("read: %v", err)
			return at
		}
		if strings.TrimSpace(string(msg)) == `42["newTweet",true]` {
			at = append(at, time.Now())
		}
	}
}

// A storm of announcements costs each client one newTweet at once and about one per window
// after, and the last arrives after the last announcement: nobody misses the storm's end.
func TestNewTweetStormIsCoalesced(t *testing.T) {
	const window = 50 * time.Millisecond
	for _, tt := range []struct {
		name string
		gap  time.Duration // between announcements
	}{
		{"TightLoop", 0},
		{"OverSeveralWindows", time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, conns := newStormServer(t, window, 5)
			start := time.Now()
			for range 200 {
				s.NewTweetHint()
				if tt.gap > 0 {
					time.Sleep(tt.gap)
				}
			}
			last := time.Now()
			most := 2 + int(last.Sub(start)/window)

			got := make([][]time.Time, len(conns))
			var wg sync.WaitGroup
			for i, ws := range conns {
				wg.Go(func() { got[i] = newTweetArrivals(t, ws, 10*window) })
			}
			wg.Wait()
			if t.Failed() {
				return
			}
			for i, at := range got {
				if len(at) == 0 || len(at) > most {
					t.Fatalf("client %d got %d newTweet events for 200 announcements in %v; want 1 to %d", i, len(at), last.Sub(start), most)
				}
				if !at[len(at)-1].After(last) {
					t.Fatalf("client %d's last newTweet came before the last announcement", i)
				}
			}
			t.Logf("200 announcements in %v: %d newTweet events each (at most %d)", last.Sub(start), len(got[0]), most)
		})
	}
}

// A relay merged with a committed tweet's announcement reaches the relaying client too: it
// has not heard of the other tweet.
func TestRelayMergedWithAnnouncementReachesTheRelayer(t *testing.T) {
	s, conns := newStormServer(t, time.Second, 2)
	relayer, other := conns[0], conns[1]
	s.NewTweetHint() // opens the window: what follows is merged
	sockettest.AwaitNewTweet(t, relayer)
	sockettest.AwaitNewTweet(t, other)
	if err := relayer.WriteMessage(websocket.TextMessage, []byte(`42["newTweet",true]`)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // let the relay arrive first
	s.NewTweetHint()
	sockettest.AwaitNewTweet(t, relayer)
	sockettest.AwaitNewTweet(t, other)
}

// A relay merged only with relays of its own sender skips that sender, as a lone relay does.
func TestMergedRelaySkipsItsSender(t *testing.T) {
	const window = 500 * time.Millisecond
	s, conns := newStormServer(t, window, 2)
	relayer, other := conns[0], conns[1]
	s.NewTweetHint()
	sockettest.AwaitNewTweet(t, relayer)
	sockettest.AwaitNewTweet(t, other)
	if err := relayer.WriteMessage(websocket.TextMessage, []byte(`42["newTweet",true]`)); err != nil {
		t.Fatal(err)
	}
	sockettest.AwaitNewTweet(t, other) // the trailing send
	if at := newTweetArrivals(t, relayer, 2*window); len(at) != 0 {
		t.Fatalf("the relayer heard its own relay %d times", len(at))
	}
}

// publishedRelays is a realtime.RelayPublisher (the event bus's place) that remembers what it
// was asked to publish.
type publishedRelays struct {
	mu    sync.Mutex
	conns []string
}

func (p *publishedRelays) Relayed(conn string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns = append(p.conns, conn)
}

func (p *publishedRelays) published() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.conns...)
}

// A relayed client newTweet is a NOTIFY on the shared database, so relays from many clients are published as the process's
// broadcasts are paced: at most one per window, the first at once and the rest merged into one
// at the window's end.
func TestRelaysArePublishedAtMostOncePerWindow(t *testing.T) {
	const window, clients = time.Second, 40
	relays, obs := &publishedRelays{}, newObserved()
	_, conns := newServerWithClients(t, realtime.Config{NewTweetWindow: window, Relays: relays, Observer: obs}, clients)
	start := time.Now()
	for _, ws := range conns {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(`42["newTweet",true]`)); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Eventually(t, "every client's newTweet relayed here", func() bool {
		obs.mu.Lock()
		defer obs.mu.Unlock()
		return obs.relayed["passed"] == clients
	})
	took := time.Since(start)
	// The trailing publication leaves a window after the leading one.
	testkit.Eventually(t, "the merged relays published at the window's end", func() bool { return len(relays.published()) >= 2 })
	time.Sleep(window + 200*time.Millisecond) // nothing more is owed: anything later is a fault
	got := relays.published()
	// One at once, then at most one per window while the relays came, and the trailing one.
	most := 2 + int(took/window)
	if len(got) > most {
		t.Fatalf("%d relays in %v published %d times; want at most %d (one per %v window)", clients, took.Round(time.Millisecond), len(got), most, window)
	}
	if got[0] == "" || !slices.Contains(got[1:], "") {
		t.Fatalf("published %q: the first names its connection, a merged one nobody (other clients' relays reach the relayer)", got)
	}
	t.Logf("%d relays in %v: %d publications", clients, took.Round(time.Millisecond), len(got))
}
