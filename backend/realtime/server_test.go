package realtime_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chirp-social/chirp/backend/internal/sockettest"
	"github.com/chirp-social/chirp/backend/realtime"
)

func newServer(t *testing.T, origins ...string) *httptest.Server {
	t.Helper()
	s, err := realtime.New(realtime.Config{AllowedOrigins: origins})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() { s.Close(); ts.Close() })
	return ts
}

func do(t *testing.T, method, url string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	tr := &http.Transport{DisableCompression: true}
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// The embedded client must be exactly the file npm installs for the pinned version.
func TestClientScriptIsTheNPMFile(t *testing.T) {
	const installed = "../../frontend/node_modules/socket.io-client/dist/socket.io.js"
	want, err := os.ReadFile(installed)
	if err != nil {
		if os.Getenv("CHIRP_REQUIRE_NODE") != "" {
			t.Fatalf("CHIRP_REQUIRE_NODE is set but %s cannot be read: %v", installed, err)
		}
		t.Skipf("run npm ci in frontend/ to compare with the installed client: %v", err)
	}
	ts := newServer(t)
	resp, body := do(t, "GET", ts.URL+realtime.ClientScriptPath)
	if resp.StatusCode != 200 || !bytes.Equal(body, want) {
		t.Fatalf("served %d, %d bytes; npm's file has %d", resp.StatusCode, len(body), len(want))
	}
	if !bytes.Contains(body[:200], []byte("Socket.IO v2.4.0")) {
		t.Fatalf("not the 2.4.0 client: %q", body[:80])
	}
}

func TestClientScriptHeaders(t *testing.T) {
	ts := newServer(t)
	url := ts.URL + realtime.ClientScriptPath
	resp, plain := do(t, "GET", url)
	h := resp.Header
	if !strings.HasPrefix(h.Get("Content-Type"), "application/javascript") || h.Get("Cache-Control") != "no-cache" ||
		h.Get("ETag") == "" || h.Get("Content-Encoding") != "" || len(plain) < 50_000 {
		t.Fatalf("plain: %v, %d bytes", h, len(plain))
	}
	resp, _ = do(t, "GET", url, "If-None-Match", h.Get("ETag"))
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidation: %d", resp.StatusCode)
	}
	resp, zipped := do(t, "GET", url, "Accept-Encoding", "br, gzip;q=0.8")
	if resp.Header.Get("Content-Encoding") != "gzip" || len(zipped) >= len(plain)/2 {
		t.Fatalf("gzip: %v, %d bytes", resp.Header, len(zipped))
	}
	// Each encoding is its own representation with its own ETag: a cache that holds the
	// plain file must not be told "not modified" for a request that would get gzip.
	gzipTag := resp.Header.Get("ETag")
	if gzipTag == "" || gzipTag == h.Get("ETag") {
		t.Fatalf("gzip ETag %q, plain ETag %q", gzipTag, h.Get("ETag"))
	}
	if resp, _ := do(t, "GET", url, "Accept-Encoding", "gzip", "If-None-Match", h.Get("ETag")); resp.StatusCode != http.StatusOK ||
		resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("gzip asked with the plain ETag: %d %v", resp.StatusCode, resp.Header)
	}
	if resp, _ := do(t, "GET", url, "Accept-Encoding", "gzip", "If-None-Match", gzipTag); resp.StatusCode != http.StatusNotModified {
		t.Fatalf("gzip revalidation: %d", resp.StatusCode)
	}
	if resp, _ := do(t, "GET", url, "If-None-Match", gzipTag); resp.StatusCode != http.StatusOK {
		t.Fatalf("plain asked with the gzip ETag: %d", resp.StatusCode)
	}
	zr, err := gzip.NewReader(bytes.NewReader(zipped))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, _ := io.ReadAll(zr)
	if !bytes.Equal(unzipped, plain) {
		t.Fatal("gzipped client differs")
	}
	if resp, _ := do(t, "GET", url, "Accept-Encoding", "gzip;q=0"); resp.Header.Get("Content-Encoding") != "" {
		t.Fatal("gzip sent though refused")
	}
	if resp, body := do(t, "HEAD", url); resp.StatusCode != 200 || len(body) != 0 || resp.Header.Get("Content-Length") != h.Get("Content-Length") {
		t.Fatalf("HEAD: %d %v", resp.StatusCode, resp.Header)
	}
	if resp, _ := do(t, "POST", url); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
}

const handshake = "/socket.io/?EIO=3&transport=polling&t=x"

func TestAnyOriginConnectsWithCredentials(t *testing.T) {
	ts := newServer(t)
	resp, body := do(t, "GET", ts.URL+handshake, "Origin", "http://page.example:3000")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"sid"`) {
		t.Fatalf("handshake: %d %q", resp.StatusCode, body)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "http://page.example:3000" || resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("CORS headers %v", resp.Header)
	}
	resp, _ = do(t, "OPTIONS", ts.URL+handshake, "Origin", "http://page.example:3000", "Access-Control-Request-Method", "POST")
	if resp.StatusCode/100 != 2 || !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") ||
		resp.Header.Get("Access-Control-Allow-Origin") != "http://page.example:3000" {
		t.Fatalf("preflight %d %v", resp.StatusCode, resp.Header)
	}
	ws, wsResp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(ts.URL, "http")+"/socket.io/?EIO=3&transport=websocket",
		http.Header{"Origin": {"http://page.example:3000"}})
	if err != nil {
		t.Fatalf("cross-origin websocket: %v (%v)", err, wsResp)
	}
	ws.Close()
}

func TestOriginOutsideTheListIsRefused(t *testing.T) {
	ts := newServer(t, "http://allowed.example")
	resp, body := do(t, "GET", ts.URL+handshake, "Origin", "http://evil.example")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), `"forbidden"`) {
		t.Fatalf("polling: %d %q", resp.StatusCode, body)
	}
	_, wsResp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(ts.URL, "http")+"/socket.io/?EIO=3&transport=websocket",
		http.Header{"Origin": {"http://evil.example"}})
	if err == nil || wsResp == nil || wsResp.StatusCode != http.StatusForbidden {
		t.Fatalf("websocket: %v %v", err, wsResp)
	}
	// A DNS-rebinding page: its Host matches its Origin; that must not let it in.
	req, _ := http.NewRequest("GET", ts.URL+handshake, nil)
	req.Host = "evil.example"
	req.Header.Set("Origin", "http://evil.example")
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("same-host origin outside the list: %v %v", err, resp)
	}
	resp.Body.Close() // an unread, unclosed body holds its connection's goroutines (goleak)
	for _, origin := range []string{"http://allowed.example", ""} {
		if resp, body := do(t, "GET", ts.URL+handshake, "Origin", origin); resp.StatusCode != 200 {
			t.Fatalf("origin %q: %d %q", origin, resp.StatusCode, body)
		}
	}
}

func TestSessionIDsAreRandom(t *testing.T) {
	ts := newServer(t)
	_, a := do(t, "GET", ts.URL+handshake)
	_, b := do(t, "GET", ts.URL+handshake)
	sid := func(body []byte) string {
		s := string(body)
		i := strings.Index(s, `"sid":"`)
		if i < 0 {
			t.Fatalf("no sid in %q", s)
		}
		s = s[i+7:]
		return s[:strings.IndexByte(s, '"')]
	}
	if x, y := sid(a), sid(b); len(x) < 20 || x == y {
		t.Fatalf("session ids %q and %q", x, y)
	}
}

// Refusals are the API's JSON errors, never the engine's plain text (with its Go formatting
// artefacts), and never echo what the client sent (a session id).
func TestUnsupportedRequestsAreRefused(t *testing.T) {
	ts := newServer(t)
	const secret = "Zm9yZ2VkLXNlc3Npb24taWQ"
	for name, path := range map[string]string{
		"JSONP":              handshake + "&j=0",
		"WebsocketNoUpgrade": "/socket.io/?EIO=3&transport=websocket",
		"UnknownTransport":   "/socket.io/?EIO=3&transport=carrier-pigeon",
		"NoTransport":        "/socket.io/?EIO=3",
		"UnknownSession":     handshake + "&sid=" + secret,
	} {
		t.Run(name, func(t *testing.T) {
			resp, body := do(t, "GET", ts.URL+path)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("%d %q", resp.StatusCode, body)
			}
			var e struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != "bad_request" || e.Error.Message == "" {
				t.Fatalf("not a JSON error: %q (%v)", body, err)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("Content-Type %q", ct)
			}
			if strings.Contains(string(body), secret) || strings.Contains(string(body), "%!") {
				t.Fatalf("the answer echoes the request or has a formatting artefact: %q", body)
			}
		})
	}
}

// With a list of origins every answer depends on the Origin, so each one says so to caches:
// refusals, answers to listed origins, and answers to requests without one.
func TestAnswersVaryByOriginWithAList(t *testing.T) {
	ts := newServer(t, "http://allowed.example")
	for _, origin := range []string{"http://evil.example", "http://allowed.example", ""} {
		resp, body := do(t, "GET", ts.URL+handshake, "Origin", origin)
		if !slices.Contains(resp.Header.Values("Vary"), "Origin") {
			t.Fatalf("origin %q: %d %q without Vary: Origin (%v)", origin, resp.StatusCode, body, resp.Header)
		}
	}
}

func TestPingTimeoutMustExceedInterval(t *testing.T) {
	if _, err := realtime.New(realtime.Config{PingInterval: 10 * time.Second, PingTimeout: 10 * time.Second}); err == nil {
		t.Fatal("accepted a ping timeout equal to the interval")
	}
}

// A client emitting newTweet in a loop is relayed at most once a second; the rest are counted.
func TestRelaysAreLimitedAndCounted(t *testing.T) {
	s, err := realtime.New(realtime.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() { s.Close(); ts.Close() })
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(ts.URL, "http")+"/socket.io/?EIO=3&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for _, want := range []string{"0{", "40"} { // Engine.IO open, then socket.io connect
		if _, msg, err := ws.ReadMessage(); err != nil || !strings.HasPrefix(string(msg), want) {
			t.Fatalf("want %q: %q %v", want, msg, err)
		}
	}
	const sent = 100
	start := time.Now()
	for range sent {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(`42["newTweet",true]`)); err != nil {
			t.Fatal(err)
		}
	}
	// At most one relay a second since the first: however slow the machine, the rest are dropped.
	deadline := time.Now().Add(10 * time.Second)
	for {
		relayed := 1 + int64(time.Since(start)/time.Second)
		if s.RelaysDropped() >= sent-relayed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d relays dropped", s.RelaysDropped(), sent)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := s.RelaysDropped(); n > sent-1 {
		t.Fatalf("%d of %d relays dropped: the first must be relayed", n, sent)
	}
}

// Polling answers carry the session id (the handshake) and the session's packets: no cache,
// shared or private, may keep one.
func TestPollingAnswersAreNotStored(t *testing.T) {
	ts := newServer(t)
	resp, body := do(t, "GET", ts.URL+handshake)
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("handshake: %d %q %s", resp.StatusCode, resp.Header.Get("Cache-Control"), body)
	}
	sid := sockettest.From(ts.URL, "127.0.0.1").ConnectedSession(t)
	if resp, body := postPayload(t, ts, sid, "text/plain;charset=UTF-8", sockettest.Payload("2")); resp.StatusCode != 200 ||
		resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("POST: %d %q %s", resp.StatusCode, resp.Header.Get("Cache-Control"), body)
	}
	resp, body = do(t, "GET", ts.URL+"/socket.io/?EIO=3&transport=polling&sid="+sid)
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("poll: %d %q %s", resp.StatusCode, resp.Header.Get("Cache-Control"), body)
	}
}
