package realtime_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/internal/sockettest"
	"github.com/chirp-social/chirp/backend/internal/testkit"
	"github.com/chirp-social/chirp/backend/internal/testlog"
	"github.com/chirp-social/chirp/backend/realtime"
)

// A packet whose header carries a huge attachment count makes go-socket.io allocate for that
// many buffers: unchecked, one unauthenticated client ends the process (out of memory, or a
// makeslice panic that takes this test binary with it).
// Each hostile packet must close only its own session, once logged, and a client connected
// beside it must go on receiving.
var hostilePackets = map[string]string{
	"BinaryEventAttachments": `459999999999-["newTweet"]`,
	"EventAttachments":       `429999999999-["newTweet"]`,
	"MaxUint64Attachments":   `4518446744073709551615-["newTweet"]`,
	"DisconnectAttachments":  `4199999999999-["x"]`,
	"OverlongAckID":          `42123456789012345678901["newTweet"]`,
	"OtherNamespace":         `42/x,["newTweet"]`,
	"LongNamespace":          `40/` + strings.Repeat("a", 30000),
}

func TestHostilePacketsCloseOnlyTheirSession(t *testing.T) {
	ts, s, logs := newLoggedServer(t)
	bystander := dialWebsocket(t, ts)
	testkit.Eventually(t, "the bystander is registered", func() bool { return s.Connections() == 1 })

	for name, p := range hostilePackets {
		t.Run("Polling"+name, func(t *testing.T) {
			sid := sockettest.From(ts.URL, "127.0.0.1").ConnectedSession(t)
			resp, body := postPayload(t, ts, sid, "text/plain;charset=UTF-8", sockettest.Payload(p))
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "refused packet") {
				t.Fatalf("POST: %d %q", resp.StatusCode, body)
			}
			testkit.Eventually(t, "the session ends", func() bool { return pollingSessionEnded(t, ts, sid) })
		})
		t.Run("Websocket"+name, func(t *testing.T) {
			ws := dialWebsocket(t, ts)
			ws.WriteMessage(websocket.TextMessage, []byte(p))
			expectClosed(t, ws)
		})
	}
	for name, body := range map[string][2]string{ // content type, body
		"PollingBinaryPacket":  {"text/plain", "6:b4AAH/"},
		"PollingBinaryBody":    {"application/octet-stream", "\x00\x01\xff4"},
		"PollingPayloadLength": {"text/plain", "9999999999:42[]"},
	} {
		t.Run(name, func(t *testing.T) {
			sid := sockettest.From(ts.URL, "127.0.0.1").ConnectedSession(t)
			if resp, got := postPayload(t, ts, sid, body[0], body[1]); resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("POST: %d %q", resp.StatusCode, got)
			}
			testkit.Eventually(t, "the session ends", func() bool { return pollingSessionEnded(t, ts, sid) })
		})
	}
	t.Run("WebsocketBinaryFrame", func(t *testing.T) {
		ws := dialWebsocket(t, ts)
		ws.WriteMessage(websocket.BinaryMessage, []byte("\x04"+`2["newTweet"]`))
		expectClosed(t, ws)
	})
	t.Run("WebsocketOversizedMessage", func(t *testing.T) {
		ws := dialWebsocket(t, ts)
		ws.WriteMessage(websocket.TextMessage, []byte("2"+strings.Repeat("x", realtime.DefaultMaxMessageBytes)))
		expectClosed(t, ws)
	})
	t.Run("WebsocketMessageAtTheLimit", func(t *testing.T) {
		ws := dialWebsocket(t, ts)
		ping := "2" + strings.Repeat("x", realtime.DefaultMaxMessageBytes-1)
		ws.WriteMessage(websocket.TextMessage, []byte(ping))
		ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			_, msg, err := ws.ReadMessage()
			if err != nil {
				t.Fatalf("a 64 KiB message closed the socket: %v", err)
			}
			if string(msg) == "3"+ping[1:] {
				break
			}
		}
		ws.Close()
	})

	// The bystander still gets what is announced, and it was the only connection left.
	s.TweetCreated(chirp.Tweet{ID: 1})
	sockettest.AwaitNewTweet(t, bystander)
	testkit.Eventually(t, "only the bystander is left", func() bool { return s.Connections() == 1 && s.Sessions() == 1 })
	// One Info record per refused connection, no more.
	want := 2*len(hostilePackets) + 5
	testkit.Eventually(t, "each refusal is logged", func() bool { return strings.Count(logs.String(), `msg="socket closed: refused packet"`) >= want })
	time.Sleep(50 * time.Millisecond)
	if got := strings.Count(logs.String(), `msg="socket closed: refused packet"`); got != want {
		t.Fatalf("%d refusal records for %d refused connections:\n%s", got, want, logs.String())
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "refused packet") && !strings.Contains(line, "level=INFO") && !strings.Contains(line, "level=DEBUG") {
			t.Fatalf("a refusal logged above Info: %s", line)
		}
	}
}

func newLoggedServer(t *testing.T) (*httptest.Server, *realtime.Server, *testlog.Buffer) {
	t.Helper()
	logs := &testlog.Buffer{}
	s, err := realtime.New(realtime.Config{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() { s.Close(); ts.Close() })
	return ts, s, logs
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

func postPayload(t *testing.T, ts *httptest.Server, sid, contentType, body string) (*http.Response, string) {
	t.Helper()
	resp, err := httpClient.Post(ts.URL+"/socket.io/?EIO=3&transport=polling&sid="+sid, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// pollingSessionEnded polls once: a closed session answers with a close packet, a removed
// one with 400.
func pollingSessionEnded(t *testing.T, ts *httptest.Server, sid string) bool {
	t.Helper()
	resp, body := do(t, "GET", ts.URL+"/socket.io/?EIO=3&transport=polling&sid="+sid)
	return resp.StatusCode == http.StatusBadRequest || strings.Contains(string(body), "1:1")
}

func dialWebsocket(t *testing.T, ts *httptest.Server) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(ts.URL, "http")+"/socket.io/?EIO=3&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, open, err := ws.ReadMessage(); err != nil || !strings.HasPrefix(string(open), `0{"sid"`) {
		t.Fatalf("open packet: %q %v", open, err)
	}
	return ws
}

// expectClosed reads until the server closes the socket (a read deadline is not a close).
func expectClosed(t *testing.T, ws *websocket.Conn) {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		if strings.Contains(err.Error(), "timeout") {
			t.Fatalf("the socket stayed open: %v", err)
		}
		return
	}
}
