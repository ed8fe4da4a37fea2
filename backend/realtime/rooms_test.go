package realtime

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chirp-social/chirp/backend/internal/testkit"
)

// The library puts every connection in a room named by its id, which Chirp never uses: a map
// per socket (about 0.8 KiB), and a disconnect that walks every room under one lock. A
// connection leaves it as it connects.
func TestConnectionsHoldNoRoom(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() { s.Close(); ts.Close() })
	for range 3 {
		ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(ts.URL, "http")+"/socket.io/?EIO=3&transport=websocket", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.Close() })
		ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		for _, want := range []string{"0{", "40"} { // Engine.IO open, then socket.io connect
			if _, msg, err := ws.ReadMessage(); err != nil || !strings.HasPrefix(string(msg), want) {
				t.Fatalf("want %q: %q %v", want, msg, err)
			}
		}
	}
	testkit.Eventually(t, "three connections registered", func() bool { return s.registry.count() == 3 })
	if rooms := s.sio.Rooms("/"); len(rooms) != 0 {
		t.Fatalf("the library holds rooms %q", rooms)
	}
}
