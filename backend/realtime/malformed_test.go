package realtime_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/internal/sockettest"
	"github.com/chirp-social/chirp/backend/internal/testkit"
)

// The malformed frames hostile_test.go does not send, over both transports:
// garbage, a truncated packet, a truncated payload, an oversized polling body. The offending
// session is closed; a client beside it goes on receiving events.
func TestMalformedFramesCloseOnlyTheirSession(t *testing.T) {
	ts, s, _ := newLoggedServer(t)
	bystander := dialWebsocket(t, ts)
	testkit.Eventually(t, "the bystander is registered", func() bool { return s.Connections() == 1 })

	for name, frame := range map[string]string{
		"Garbage":        "\xff\xfe\x00garbage",
		"NotAType":       "9x",
		"TruncatedEvent": `42["newTweet"`,
		"TruncatedJSON":  `42["newT`,
		"OnlyEngineType": "4",
	} {
		t.Run("Websocket"+name, func(t *testing.T) {
			ws := dialWebsocket(t, ts)
			ws.WriteMessage(websocket.TextMessage, []byte(frame))
			expectClosed(t, ws)
		})
	}
	for name, tt := range map[string]struct {
		body   string
		status int
	}{
		"Garbage":          {"\xff\xfe\x00garbage", http.StatusBadRequest},
		"NoLength":         {`42["newTweet"]`, http.StatusBadRequest},
		"TruncatedPayload": {`25:42["newT`, http.StatusBadRequest},
		"Oversized":        {sockettest.Payload(`42["newTweet","` + strings.Repeat("x", 70<<10) + `"]`), http.StatusRequestEntityTooLarge},
		// The frame's header is sound, so the transport passes it on and the POST is
		// answered; go-socket.io's parser then fails on its arguments and ends the session.
		"TruncatedEvent": {sockettest.Payload(`42["newTweet"`), http.StatusOK},
	} {
		t.Run("Polling"+name, func(t *testing.T) {
			sid := sockettest.From(ts.URL, "127.0.0.1").ConnectedSession(t)
			if resp, got := postPayload(t, ts, sid, "text/plain;charset=UTF-8", tt.body); resp.StatusCode != tt.status {
				t.Fatalf("POST: %d %q, want %d", resp.StatusCode, got, tt.status)
			}
			testkit.Eventually(t, "the session ends", func() bool { return pollingSessionEnded(t, ts, sid) })
		})
	}

	s.TweetCreated(chirp.Tweet{ID: 1})
	sockettest.AwaitNewTweet(t, bystander)
	testkit.Eventually(t, "only the bystander is left", func() bool { return s.Connections() == 1 })
}
