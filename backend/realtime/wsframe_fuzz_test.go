package realtime

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/googollee/go-socket.io/engineio/packet"
	"github.com/gorilla/websocket"

	"github.com/chirp-social/chirp/backend/realtime/engine"
)

// FuzzWebsocketFrame sends one client message over a real websocket to the websocket
// transport and reads it with the transport's own NextReader, as a session does: a frame it
// passes on is run through go-socket.io's parser (checkLibraryReads); a frame it refuses must
// end the socket. Nothing may panic or hang. `make fuzz` looks further than the seeds.
func FuzzWebsocketFrame(f *testing.F) {
	for _, seed := range []struct {
		binary bool
		msg    string
	}{
		{false, `42["newTweet",true]`},
		{false, `4212["newTweet",true]`},
		{false, "2probe"}, {false, "3probe"}, {false, "5"}, {false, "6"}, {false, "1"},
		{false, "40"}, {false, "41"}, {false, "40/,"},
		{false, `459999999999-["newTweet"]`},
		{false, `429999999999-["newTweet"]`},
		{false, `4518446744073709551615-["newTweet"]`},
		{false, `42123456789012345678901["newTweet"]`},
		{false, `42/x,["newTweet"]`},
		{false, `40/` + strings.Repeat("a", 1000)},
		{false, `42["newTweet"`},
		{false, "42[\"\xed\xa0\x80\"]"},
		{false, `42["newTweet","\ud800"]`},
		{false, "7garbage"}, {false, "x"}, {false, ""},
		{false, "4" + strings.Repeat("x", DefaultMaxMessageBytes)}, // one byte over the limit
		{true, "\x04\x02[\"newTweet\"]"},
		{true, ""},
	} {
		f.Add(seed.binary, []byte(seed.msg))
	}
	type read struct {
		pt   packet.Type
		data []byte
		err  error
	}
	reads := make(chan read, 1)
	tr := engine.NewWebsocket(engine.WebsocketConfig{
		CheckOrigin: func(*http.Request) bool { return true }, MaxMessage: DefaultMaxMessageBytes, CheckMessage: checkSocketPacket,
	})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := tr.Accept(w, r)
		if err != nil {
			reads <- read{err: err}
			return
		}
		defer conn.Close()
		_, pt, rd, err := conn.NextReader()
		if err != nil {
			reads <- read{err: err}
			return
		}
		data, err := io.ReadAll(rd)
		reads <- read{pt: pt, data: data, err: err}
	}))
	f.Cleanup(ts.Close)
	wsURL := "ws" + strings.TrimPrefix(ts.URL, "http")

	f.Fuzz(func(t *testing.T, binary bool, msg []byte) {
		ws, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		mt := websocket.TextMessage
		if binary {
			mt = websocket.BinaryMessage
		}
		ws.WriteMessage(mt, msg)
		// The half-close ends a read that waits for a further message (after an empty one).
		ws.UnderlyingConn().(interface{ CloseWrite() error }).CloseWrite()
		var r read
		select {
		case r = <-reads:
		case <-time.After(10 * time.Second):
			t.Fatalf("the transport neither passed on nor refused %.60q", msg)
		}
		if r.err != nil {
			return // refused (or no message): the session ends the socket
		}
		if binary {
			t.Fatalf("a binary message was passed on: %.60q", msg)
		}
		if r.pt == packet.MESSAGE {
			checkLibraryReads(t, r.data)
		}
	})
}
