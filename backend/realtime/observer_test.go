package realtime_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/chirp-social/chirp/backend/internal/sockettest"
	"github.com/chirp-social/chirp/backend/internal/testkit"
	"github.com/chirp-social/chirp/backend/realtime"
)

// observed is a realtime.Observer that remembers what it was told.
type observed struct {
	mu                                   sync.Mutex
	connected                            int
	disconnected, refused, sent, relayed map[string]int
}

func newObserved() *observed {
	return &observed{disconnected: map[string]int{}, refused: map[string]int{}, sent: map[string]int{}, relayed: map[string]int{}}
}

func (o *observed) Connected()              { o.mu.Lock(); o.connected++; o.mu.Unlock() }
func (o *observed) Disconnected(why string) { o.mu.Lock(); o.disconnected[why]++; o.mu.Unlock() }
func (o *observed) Refused(why string)      { o.mu.Lock(); o.refused[why]++; o.mu.Unlock() }
func (o *observed) Sent(name string)        { o.mu.Lock(); o.sent[name]++; o.mu.Unlock() }
func (o *observed) Relayed(passed bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.relayed[map[bool]string{true: "passed", false: "throttled"}[passed]]++
}

func (o *observed) refusedFor(why string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.refused[why]
}

// Each request refused before the library is told to the observer with its reason, once.
func TestRefusalsAreObserved(t *testing.T) {
	obs := newObserved()
	ts, s := newLimitedServer(t, realtime.Config{AllowedOrigins: []string{"http://chirp.example"}, MaxPerClient: 1, Observer: obs})
	client := clientFrom(ts, "127.0.0.2")
	get := func(query string, headers ...string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", ts.URL+"/socket.io/?EIO=3"+query, nil)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := client.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	client.PollingSession(t)
	tests := []struct {
		reason string
		status int
		send   func() int
	}{
		{realtime.RefuseOrigin, 403, func() int { return get("&transport=polling", "Origin", "http://evil.example") }},
		{realtime.RefuseTransport, 400, func() int { return get("&transport=flash") }},
		{realtime.RefuseJSONP, 400, func() int { return get("&transport=polling&j=0") }},
		{realtime.RefuseUnknownSID, 400, func() int { return get("&transport=polling&sid=nope") }},
		{realtime.RefuseMaxPerIP, 429, func() int { return get("&transport=polling") }},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			if status := tt.send(); status != tt.status || obs.refusedFor(tt.reason) != 1 {
				t.Fatalf("%d, observed %d", status, obs.refusedFor(tt.reason))
			}
		})
	}
	testkit.Eventually(t, "the polling session connected", func() bool { return s.Connections() == 1 })
	s.Close()
	testkit.Eventually(t, "the shutdown's disconnect", func() bool {
		obs.mu.Lock()
		defer obs.mu.Unlock()
		return obs.disconnected[realtime.DisconnectShutdown] == 1
	})
	status, _, body := client.Handshake(t)
	sockettest.Refused(t, "a handshake after the shutdown", status, body, http.StatusServiceUnavailable, "unavailable")
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.connected != 1 || obs.refused[realtime.RefuseShuttingDown] != 1 {
		t.Fatalf("connected %d, refused %v", obs.connected, obs.refused)
	}
	if total := sum(obs.refused); total != len(tests)+1 {
		t.Fatalf("refusals %v: %d in all, want %d", obs.refused, total, len(tests)+1)
	}
}

func sum(m map[string]int) (n int) {
	for _, v := range m {
		n += v
	}
	return n
}

// A connection is counted on the transport it is on now: polling, then websocket once upgraded.
func TestConnectionsByTransport(t *testing.T) {
	ts, s := newLimitedServer(t, realtime.Config{})
	client := clientFrom(ts, "127.0.0.2")
	sid := client.PollingSession(t)
	testkit.Eventually(t, "one polling connection", func() bool { by := s.ConnectionsByTransport(); return by["polling"] == 1 && by["websocket"] == 0 })
	client.Upgrade(t, sid)
	testkit.Eventually(t, "the connection on websocket", func() bool { by := s.ConnectionsByTransport(); return by["polling"] == 0 && by["websocket"] == 1 })
	client.WebsocketSession(t)
	testkit.Eventually(t, "two websocket connections", func() bool { by := s.ConnectionsByTransport(); return by["websocket"] == 2 && len(by) == 1 })
}
