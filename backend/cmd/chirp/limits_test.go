package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chirp-social/chirp/backend/internal/sockettest"
	"github.com/chirp-social/chirp/backend/internal/testdb"
	"github.com/chirp-social/chirp/backend/internal/testkit"
)

// Through the whole program: the socket limits as configured by the environment.

func TestSocketsPerAddressAreLimited(t *testing.T) {
	p := start(t, map[string]string{"DATABASE_URL": testdb.SQLiteURL(t), "SOCKET_MAX_PER_IP": "3"})
	a, b := sockettest.From(p.base, "127.0.0.2"), sockettest.From(p.base, "127.0.0.3")
	a.PollingSession(t)
	a.PollingSession(t)
	ws := a.WebsocketSession(t)
	status, _, body := a.Handshake(t)
	sockettest.Refused(t, "4th polling handshake", status, body, http.StatusTooManyRequests, "rate_limited")
	_, status, body = a.Dial(t, "")
	sockettest.Refused(t, "4th websocket handshake", status, body, http.StatusTooManyRequests, "rate_limited")
	b.WebsocketSession(t)

	ws.Close()
	waitForHealth(t, p.base, "the closed socket's session is released", func(h health) bool { return h.Sessions == 3 })
	a.WebsocketSession(t)
	if !strings.Contains(p.logs.String(), "limit=SOCKET_MAX_PER_IP client=127.0.0.2") {
		t.Fatalf("the refusal was not logged:\n%s", p.logs)
	}
}

func TestSocketsInAllAreLimited(t *testing.T) {
	p := start(t, map[string]string{"DATABASE_URL": testdb.SQLiteURL(t), "SOCKET_MAX_TOTAL": "5"})
	var open []*websocket.Conn
	for i := range 5 {
		open = append(open, sockettest.From(p.base, fmt.Sprintf("127.0.0.%d", 2+i)).WebsocketSession(t))
	}
	late := sockettest.From(p.base, "127.0.0.9")
	status, _, body := late.Handshake(t)
	sockettest.Refused(t, "6th polling handshake", status, body, http.StatusTooManyRequests, "rate_limited")
	_, status, body = late.Dial(t, "")
	sockettest.Refused(t, "6th websocket handshake", status, body, http.StatusTooManyRequests, "rate_limited")

	// The API and /healthz go on, and those connected hear of a new tweet.
	waitForHealth(t, p.base, "5 connections", func(h health) bool { return h.Connections == 5 })
	if resp := post(t, p.base, "while full"); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	for _, ws := range open {
		sockettest.AwaitNewTweet(t, ws)
	}
	// Full is not unready (a health check would move every connected client), but /readyz says so.
	if got := socketsFull(t, p.base); !got {
		t.Fatal("/readyz: sockets_full false while full")
	}
	open[0].Close()
	waitForHealth(t, p.base, "the closed socket's session is released", func(h health) bool { return h.Sessions == 4 })
	if socketsFull(t, p.base) {
		t.Fatal("/readyz: sockets_full true below the limit")
	}
}

// socketsFull asks /readyz, which must answer 200, whether the socket server is full.
func socketsFull(t *testing.T, base string) bool {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ready struct {
		Status      string
		SocketsFull *bool `json:"sockets_full"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ready); err != nil || resp.StatusCode != http.StatusOK || ready.SocketsFull == nil {
		t.Fatalf("/readyz: %d %+v %v", resp.StatusCode, ready, err)
	}
	return *ready.SocketsFull
}

// Abandoned polling handshakes are closed within PING_TIMEOUT, and the counts return to 0.
func TestAbandonedHandshakesAreClosed(t *testing.T) {
	p := start(t, map[string]string{
		"DATABASE_URL": testdb.SQLiteURL(t), "SOCKET_MAX_PER_IP": "0", "PING_INTERVAL": "1s", "PING_TIMEOUT": "2s",
	})
	var wg sync.WaitGroup
	for i := range 4 {
		c := sockettest.From(p.base, fmt.Sprintf("127.0.0.%d", 2+i))
		// Off the test's goroutine, failures are reported with t.Error (sockettest's helpers
		// call t.Fatal).
		wg.Go(func() {
			for range 50 {
				resp, err := c.HTTP.Get(c.PollingURL(""))
				if err != nil {
					t.Errorf("polling handshake: %v", err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"sid":"`) {
					t.Errorf("polling handshake: %d %s", resp.StatusCode, body)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	waitForHealth(t, p.base, "no session left", func(h health) bool { return h.Sessions == 0 && h.Connections == 0 })
}

func TestLargeHeaderBlocksAreRefused(t *testing.T) {
	type block struct {
		size int
		want int
	}
	for _, tt := range []struct {
		name      string
		maxHeader string // MAX_HEADER_BYTES; "": the default, 16 KiB
		blocks    []block
	}{
		// net/http reads up to 4 KiB past the cap before it refuses.
		{"Default", "", []block{
			{15 << 10, http.StatusOK},
			{24 << 10, http.StatusRequestHeaderFieldsTooLarge},
			{64 << 10, http.StatusRequestHeaderFieldsTooLarge},
		}},
		{"Lowered", "4096", []block{
			{2 << 10, http.StatusOK},
			{12 << 10, http.StatusRequestHeaderFieldsTooLarge},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := start(t, map[string]string{"DATABASE_URL": testdb.SQLiteURL(t), "MAX_HEADER_BYTES": tt.maxHeader})
			for _, b := range tt.blocks {
				c := dial(t, p.base)
				c.send("GET", "/healthz", "Cookie: c="+strings.Repeat("x", b.size))
				if resp, body := c.response(5 * time.Second); resp.StatusCode != b.want {
					t.Errorf("%d KiB of headers: %d %s, want %d", b.size>>10, resp.StatusCode, body, b.want)
				}
			}
		})
	}
}

// SOCKET_MAX_MESSAGE_BYTES reaches both transports: a message of the cap passes, one byte more
// closes the connection (1009 on websocket, 413 on polling, which ends the session).
func TestLoweredMessageCapClosesTheConnection(t *testing.T) {
	const maxBytes = 1024
	p := start(t, map[string]string{"DATABASE_URL": testdb.SQLiteURL(t), "SOCKET_MAX_MESSAGE_BYTES": strconv.Itoa(maxBytes)})
	client := sockettest.From(p.base, "127.0.0.1")
	for _, tt := range []struct {
		name      string
		websocket bool
		size      int // of the websocket message, or of the polling POST's body
		closed    bool
	}{
		{"WebsocketAtTheLimit", true, maxBytes, false},
		{"WebsocketOverTheLimit", true, maxBytes + 1, true},
		{"PollingAtTheLimit", false, maxBytes, false},
		{"PollingOverTheLimit", false, maxBytes + 1, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.websocket {
				ws := client.WebsocketSession(t)
				ping := "2" + strings.Repeat("x", tt.size-1)
				ws.WriteMessage(websocket.TextMessage, []byte(ping))
				ws.SetReadDeadline(time.Now().Add(5 * time.Second))
				for {
					_, msg, err := ws.ReadMessage()
					if tt.closed {
						if err == nil {
							continue
						}
						if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
							t.Fatalf("a %d-byte message: %v, want the socket closed with 1009", tt.size, err)
						}
						return
					}
					if err != nil {
						t.Fatalf("a %d-byte message closed the socket: %v", tt.size, err)
					}
					if string(msg) == "3"+ping[1:] {
						return
					}
				}
			}
			sid := client.PollingSession(t)
			resp, err := client.HTTP.Post(client.PollingURL(sid), "text/plain;charset=UTF-8", strings.NewReader(pingPayload(tt.size)))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !tt.closed {
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("a %d-byte POST: %d %s", tt.size, resp.StatusCode, body)
				}
				return
			}
			sockettest.Refused(t, fmt.Sprintf("a %d-byte POST", tt.size), resp.StatusCode, string(body), http.StatusRequestEntityTooLarge, "too_large")
			// The session is gone: a poll is answered with a close packet, or 400 once removed.
			resp, err = client.HTTP.Get(client.PollingURL(sid))
			if err != nil {
				t.Fatal(err)
			}
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest && !strings.Contains(string(body), "1:1") {
				t.Fatalf("the session goes on after the refused POST: %d %s", resp.StatusCode, body)
			}
		})
	}
}

// pingPayload is a polling body of size bytes: one ping packet with its length prefix.
func pingPayload(size int) string {
	for n := size - 2; n > 0; n-- {
		packet := "2" + strings.Repeat("x", n-1)
		if body := strconv.Itoa(n) + ":" + packet; len(body) == size {
			return body
		}
	}
	panic("no ping payload of " + strconv.Itoa(size) + " bytes")
}

func TestLimitsAreLoggedOnceAtStart(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"Defaults", map[string]string{}, []string{"idle_timeout=2m0s socket_max_message_bytes=65536 max_header_bytes=16384"}},
		{"Set", map[string]string{
			"SOCKET_MAX_PER_IP": "7", "SOCKET_MAX_TOTAL": "9", "SOCKET_MAX_PER_NET": "8", "SOCKET_NET_PREFIX_V4": "20",
			"SOCKET_NET_PREFIX_V6": "56", "SOCKET_MAX_MESSAGE_BYTES": "2048", "MAX_HEADER_BYTES": "8192",
			"CONN_MAX_PER_IP": "20", "CONN_MAX_TOTAL": "30", "IDLE_TIMEOUT": "45s",
		}, []string{"socket_max_per_ip=7 socket_max_total=9 socket_max_per_net=8 socket_net_prefix_v4=20 socket_net_prefix_v6=56",
			"conn_max_per_ip=20 conn_max_total=30 idle_timeout=45s",
			"socket_max_message_bytes=2048 max_header_bytes=8192"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.env["DATABASE_URL"] = testdb.SQLiteURL(t)
			p := start(t, tt.env)
			logs := p.logs.String()
			if strings.Count(logs, "msg=limits ") != 1 {
				t.Fatalf("want one limits record:\n%s", logs)
			}
			for _, want := range tt.want {
				if !strings.Contains(logs, want) {
					t.Fatalf("limits record without %q:\n%s", want, logs)
				}
			}
		})
	}
}

type health struct{ Connections, Sessions int }

// waitForHealth polls /healthz until cond holds (failing the test after testkit.Timeout, with
// the last /healthz read).
func waitForHealth(t *testing.T, base, what string, cond func(health) bool) {
	t.Helper()
	var h health
	met := false
	defer func() {
		if !met {
			t.Logf("the last /healthz: %+v", h)
		}
	}()
	testkit.Eventually(t, what, func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&h)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("/healthz: %d %v", resp.StatusCode, err)
		}
		return cond(h)
	})
	met = true
}

// Behind a trusted proxy the socket server counts sessions by the forwarded address (IPv6 by
// its /64), as the API does; from a peer that is not trusted, X-Forwarded-For is ignored and
// every handshake counts against the peer.
func TestSocketsPerForwardedAddressAreLimited(t *testing.T) {
	type handshake struct {
		forwardedFor string
		want         int
	}
	for _, tt := range []struct {
		name       string
		trusted    string
		handshakes []handshake
		refused    string // the client the refusals are logged under
	}{
		{"ForwardedAddressesCountedApart", "127.0.0.1", []handshake{
			{"203.0.113.1", http.StatusOK},
			{"203.0.113.1", http.StatusOK},
			{"203.0.113.2", http.StatusOK},
			{"203.0.113.2", http.StatusOK},
			{"203.0.113.1", http.StatusTooManyRequests},
			{"203.0.113.2", http.StatusTooManyRequests},
		}, "203.0.113.1"},
		{"IPv6SharesItsSlash64", "127.0.0.1", []handshake{
			{"2001:db8:1:2::1", http.StatusOK},
			{"2001:db8:1:2::ffff", http.StatusOK},
			{"2001:db8:1:2:abcd::1", http.StatusTooManyRequests},
			{"2001:db8:1:3::1", http.StatusOK},
			{"2001:db8:1:3::2", http.StatusOK},
		}, "2001:db8:1:2::/64"},
		{"UntrustedHeaderIgnored", "", []handshake{
			{"203.0.113.1", http.StatusOK},
			{"203.0.113.2", http.StatusOK},
			{"203.0.113.3", http.StatusTooManyRequests},
			{"", http.StatusTooManyRequests},
		}, "127.0.0.1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := start(t, map[string]string{
				"DATABASE_URL": testdb.SQLiteURL(t), "SOCKET_MAX_PER_IP": "2", "TRUSTED_PROXIES": tt.trusted,
			})
			client := sockettest.From(p.base, "127.0.0.1")
			for i, h := range tt.handshakes {
				req, err := http.NewRequest(http.MethodGet, client.PollingURL(""), nil)
				if err != nil {
					t.Fatal(err)
				}
				if h.forwardedFor != "" {
					req.Header.Set("X-Forwarded-For", h.forwardedFor)
				}
				resp, err := client.HTTP.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				what := fmt.Sprintf("handshake %d (X-Forwarded-For %q)", i+1, h.forwardedFor)
				if h.want == http.StatusOK {
					if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"sid":"`) {
						t.Fatalf("%s: %d %s, want a session", what, resp.StatusCode, body)
					}
					continue
				}
				sockettest.Refused(t, what, resp.StatusCode, string(body), h.want, "rate_limited")
			}
			if !strings.Contains(p.logs.String(), "limit=SOCKET_MAX_PER_IP client="+tt.refused+" ") {
				t.Fatalf("no refusal logged for client=%s:\n%s", tt.refused, p.logs)
			}
		})
	}
}
