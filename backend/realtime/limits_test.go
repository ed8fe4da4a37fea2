package realtime_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/clientaddr"
	"github.com/chirp-social/chirp/backend/internal/sockettest"
	"github.com/chirp-social/chirp/backend/internal/testkit"
	"github.com/chirp-social/chirp/backend/realtime"
)

// The socket server counts its sessions per client address and in all, from the
// handshake, and refuses handshakes over either limit before they reach the library.

func newLimitedServer(t *testing.T, cfg realtime.Config) (*httptest.Server, *realtime.Server) {
	t.Helper()
	s, err := realtime.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() { s.Close(); ts.Close() })
	return ts, s
}

func clientFrom(ts *httptest.Server, ip string) *sockettest.Client {
	return sockettest.From(ts.URL, ip)
}

// An upgrade is the same session, not another: it is served at the limit.
func TestUpgradeAtTheLimitIsTheSameSession(t *testing.T) {
	ts, s := newLimitedServer(t, realtime.Config{MaxPerClient: 2})
	a, b := clientFrom(ts, "127.0.0.2"), clientFrom(ts, "127.0.0.3")
	first, second := a.PollingSession(t), a.PollingSession(t)
	_, status, body := a.Dial(t, "")
	sockettest.Refused(t, "3rd handshake", status, body, http.StatusTooManyRequests, "rate_limited")
	a.Upgrade(t, first)
	upgraded := a.Upgrade(t, second)
	b.WebsocketSession(t) // another address has its own budget
	testkit.Eventually(t, "3 sessions", func() bool { return s.Sessions() == 3 && s.Connections() == 3 })
	status, _, body = a.Handshake(t)
	sockettest.Refused(t, "3rd handshake after the upgrades", status, body, http.StatusTooManyRequests, "rate_limited")
	upgraded.Close()
	testkit.Eventually(t, "the upgraded session, closed, is released", func() bool { return s.Sessions() == 2 })
	a.PollingSession(t)
}

func TestSessionsInAllAreLimited(t *testing.T) {
	ts, s := newLimitedServer(t, realtime.Config{MaxTotal: 5})
	var open []*websocket.Conn
	for i := range 5 {
		open = append(open, clientFrom(ts, fmt.Sprintf("127.0.0.%d", 2+i)).WebsocketSession(t))
	}
	late := clientFrom(ts, "127.0.0.9")
	status, _, body := late.Handshake(t)
	// 429, not 503: a balancer counts a 503 as the backend failing and takes it out for every
	// client, its connected ones included.
	sockettest.Refused(t, "6th polling handshake", status, body, http.StatusTooManyRequests, "rate_limited")
	_, status, body = late.Dial(t, "")
	sockettest.Refused(t, "6th websocket handshake", status, body, http.StatusTooManyRequests, "rate_limited")
	if !strings.Contains(body, "full") {
		t.Fatalf("the refusal does not say the server is full: %s", body)
	}
	if !s.Full() {
		t.Fatal("the server does not report itself full")
	}

	// Those connected go on receiving.
	testkit.Eventually(t, "5 connections registered", func() bool { return s.Connections() == 5 })
	s.TweetCreated(chirp.Tweet{ID: 1})
	for _, ws := range open {
		sockettest.AwaitNewTweet(t, ws)
	}
	open[0].Close()
	testkit.Eventually(t, "the closed socket's session is released", func() bool { return s.Sessions() == 4 })
	if s.Full() {
		t.Fatal("the server reports itself full below its limit")
	}
	late.WebsocketSession(t)
}

// A per-address cap alone lets a few hundred addresses fill the total. Sessions are also
// counted per network (an IPv4 /24, an IPv6
// /48 by default): 40 addresses of one /24 stop at its cap, and another /24 is still served.
func TestSessionsPerNetworkAreLimited(t *testing.T) {
	obs := newObserved()
	ts, s := newLimitedServer(t, realtime.Config{MaxPerClient: 2, MaxPerNet: 30, Observer: obs})
	admitted, refused := 0, 0
	for i := range 40 {
		c := clientFrom(ts, fmt.Sprintf("127.0.0.%d", 2+i))
		for range 2 {
			status, _, body := c.Handshake(t)
			if status == http.StatusOK {
				admitted++
				continue
			}
			refused++
			sockettest.Refused(t, fmt.Sprintf("handshake from 127.0.0.%d with %d admitted", 2+i, admitted), status, body, http.StatusTooManyRequests, "rate_limited")
			if !strings.Contains(body, "network") {
				t.Fatalf("the refusal does not name the network: %s", body)
			}
		}
	}
	if admitted != 30 || s.Sessions() != 30 {
		t.Fatalf("%d handshakes admitted from one /24, %d sessions; want 30", admitted, s.Sessions())
	}
	if got := obs.refusedFor(realtime.RefuseMaxPerNet); got != refused {
		t.Fatalf("%d refusals observed as %s, want %d", got, realtime.RefuseMaxPerNet, refused)
	}
	clientFrom(ts, "127.0.1.2").WebsocketSession(t) // another /24 has its own budget
	if s.Full() {
		t.Fatal("a network at its cap is not the server full")
	}
}

// An IPv6 network is a /48 by default: /64s of one /48 share its cap (here forwarded by a
// trusted proxy, as behind the balancer).
func TestIPv6SessionsPerNetworkAreLimited(t *testing.T) {
	trusted, err := clientaddr.ParseTrusted("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ts, _ := newLimitedServer(t, realtime.Config{MaxPerClient: 1, MaxPerNet: 3, Clients: clientaddr.New(trusted)})
	handshake := func(client string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", ts.URL+"/socket.io/?EIO=3&transport=polling", nil)
		req.Header.Set("X-Forwarded-For", client)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for i := 1; i <= 3; i++ {
		if status, body := handshake(fmt.Sprintf("2001:db8:1:%x::1", i)); status != http.StatusOK {
			t.Fatalf("/64 number %d of the /48: %d %s", i, status, body)
		}
	}
	status, body := handshake("2001:db8:1:ff::1")
	sockettest.Refused(t, "a 4th /64 of the /48", status, body, http.StatusTooManyRequests, "rate_limited")
	if !strings.Contains(body, "2001:db8:1::/48") {
		t.Fatalf("the refusal does not name the /48: %s", body)
	}
	if status, body := handshake("2001:db8:2::1"); status != http.StatusOK {
		t.Fatalf("another /48: %d %s", status, body)
	}
}

// Every way a session ends gives its place back, and a refused handshake takes none.
func TestSessionCountsReturnToZero(t *testing.T) {
	ts, s := newLimitedServer(t, realtime.Config{MaxPerClient: 2})
	a := clientFrom(ts, "127.0.0.2")
	for round := range 3 { // each round needs the places the one before gave back
		// Closed by the client over polling (a close packet).
		sid := a.PollingSession(t)
		resp, err := a.HTTP.Post(a.PollingURL(sid), "text/plain", strings.NewReader(sockettest.Payload("1")))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		// Upgraded, then closed over websocket.
		a.Upgrade(t, a.PollingSession(t)).Close()
		testkit.Eventually(t, fmt.Sprintf("round %d: both sessions released", round), func() bool { return s.Sessions() == 0 })

		// Closed for a refused packet.
		ws := a.WebsocketSession(t)
		ws.WriteMessage(websocket.BinaryMessage, []byte{4})
		expectClosed(t, ws)
		resp, body := postPayload(t, ts, a.PollingSession(t), "application/octet-stream", "x")
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("binary POST: %d %s", resp.StatusCode, body)
		}
		// A websocket handshake gorilla refuses (no key) after the count was taken.
		req, _ := http.NewRequest("GET", ts.URL+"/socket.io/?EIO=3&transport=websocket", nil)
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		if resp, err := a.HTTP.Do(req); err != nil || resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("keyless upgrade: %v %v", resp, err)
		} else {
			resp.Body.Close()
		}
		testkit.Eventually(t, fmt.Sprintf("round %d: all released", round), func() bool { return s.Sessions() == 0 && s.Connections() == 0 })
	}
}

// A polling session whose client never polls after the handshake (or stops) is closed within
// the handshake grace, long before its ping deadline; one that polls stays.
func TestAbandonedPollingSessionsAreClosed(t *testing.T) {
	ts, s := newLimitedServer(t, realtime.Config{
		PingInterval: time.Second, PingTimeout: time.Minute, HandshakeGrace: time.Second,
	})
	// The one that polls: it holds a GET open, as a long-poll does.
	polling := clientFrom(ts, "127.0.0.9")
	sid := polling.PollingSession(t)
	held := make(chan error, 1)
	go func() {
		resp, err := (&http.Client{Timeout: time.Minute, Transport: polling.HTTP.Transport}).Get(polling.PollingURL(sid))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			err = fmt.Errorf("the held GET was answered: %q", b)
		}
		held <- err
	}()

	var wg sync.WaitGroup
	for i := range 4 {
		c := clientFrom(ts, fmt.Sprintf("127.0.0.%d", 2+i))
		wg.Go(func() {
			for range 50 {
				if _, err := c.StartPolling(); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for s.Sessions() > 1 || s.Connections() > 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions and %d connections left 10 s after 200 abandoned handshakes", s.Sessions(), s.Connections())
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case err := <-held:
		t.Fatal(err)
	default:
	}
	if s.Sessions() != 1 {
		t.Fatalf("the polling client's session was closed too")
	}
}

// A session takes one upgrade, and no transport after it: each would be a socket or a
// goroutine held until a ping deadline, outside every limit.
func TestASessionTakesOneUpgradeAndNoDowngrade(t *testing.T) {
	ts, s := newLimitedServer(t, realtime.Config{MaxPerClient: 1})
	a := clientFrom(ts, "127.0.0.2")
	sid := a.PollingSession(t)
	pending, status, body := a.Dial(t, "&sid="+sid) // an upgrade under way: no probe yet
	if pending == nil {
		t.Fatalf("upgrade: %d %s", status, body)
	}
	for range 3 {
		_, status, body = a.Dial(t, "&sid="+sid)
		sockettest.Refused(t, "a second upgrade", status, body, http.StatusBadRequest, "bad_request")
	}
	pending.Close()
	var upgraded *websocket.Conn
	testkit.Eventually(t, "the failed upgrade gives way to the next", func() bool {
		upgraded, _, _ = a.Dial(t, "&sid="+sid)
		return upgraded != nil
	})
	sockettest.FinishUpgrade(t, upgraded)
	testkit.Eventually(t, "polling is refused once the session is on websocket", func() bool {
		resp, err := a.HTTP.Get(a.PollingURL(sid))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusBadRequest
	})
	_, status, body = a.Dial(t, "&sid="+sid)
	sockettest.Refused(t, "an upgrade of a session on websocket", status, body, http.StatusBadRequest, "bad_request")
	if s.Sessions() != 1 {
		t.Fatalf("%d sessions, want 1", s.Sessions())
	}
	upgraded.Close()
	testkit.Eventually(t, "released", func() bool { return s.Sessions() == 0 })
}
