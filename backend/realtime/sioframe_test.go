package realtime

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/googollee/go-socket.io/engineio/packet"
	"github.com/googollee/go-socket.io/engineio/session"
	"github.com/googollee/go-socket.io/engineio/transport"
	"github.com/googollee/go-socket.io/parser"

	"github.com/chirp-social/chirp/backend/internal/sockettest"
	"github.com/chirp-social/chirp/backend/internal/testkit"
	"github.com/chirp-social/chirp/backend/realtime/engine"
)

func TestCheckSocketPacket(t *testing.T) {
	tests := []struct {
		name, packet string
		want         error
	}{
		// What socket.io-client 2.x sends (socket.io-parser 3.x), and the forms of "/" the
		// library reads the same.
		{"OKEvent", `2["newTweet",true]`, nil},
		{"OKEventWithAck", `212["newTweet",true]`, nil},
		{"OKEventWithAckZero", `20["newTweet"]`, nil},
		{"OKEventWithLongestAck", `29999999999["newTweet"]`, nil},
		{"OKEventRootNamespace", `2/,["newTweet"]`, nil},
		{"OKEventRootNamespaceAck", `2/,7["newTweet"]`, nil},
		{"OKConnect", `0`, nil},
		{"OKConnectRootNamespace", `0/,`, nil},
		{"OKConnectRootNamespaceNoComma", `0/`, nil},
		{"OKDisconnect", `1`, nil},
		{"OKDisconnectRootNamespace", `1/,`, nil},

		// The count go-socket.io sizes a slice by: refused whatever the type and the count.
		{"AttachmentsBinaryEvent", `59999999999-["newTweet"]`, errAttachments},
		{"AttachmentsEvent", `29999999999-["newTweet"]`, errAttachments},
		{"AttachmentsMaxUint64", `518446744073709551615-["newTweet"]`, errAttachments},
		{"AttachmentsOverflowingUint64", `2123456789012345678901234-["x"]`, errAttachments},
		{"AttachmentsDisconnect", `199999999999-["x"]`, errAttachments},
		{"AttachmentsConnect", `01-`, errAttachments},
		{"AttachmentsAck", `3999999999-[]`, errAttachments},
		{"AttachmentsEmptyCount", `2-["newTweet"]`, errAttachments},
		{"AttachmentsZero", `50-["newTweet"]`, errAttachments},

		{"TypeAck", `31["x"]`, errSocketType},
		{"TypeError", `4"boom"`, errSocketType},
		{"TypeBinaryEventWithoutCount", `5["newTweet"]`, errSocketType},
		{"TypeBinaryAck", `6["x"]`, errSocketType},
		{"TypeNotADigit", `x["newTweet"]`, errSocketType},
		{"TypeOutOfRange", `9`, errSocketType},
		{"Empty", ``, errEmptyPacket},

		{"NamespaceOther", `2/x,["newTweet"]`, errNamespace},
		{"NamespaceLong", `0/` + strings.Repeat("a", 60000), errNamespace},
		{"NamespaceWithQuery", `0/?token=1,`, errNamespace},
		{"ConnectTwoNamespaces", `0/,/,`, errSocketData},

		{"AckIDOverTenDigits", `212345678901["newTweet"]`, errAckID},
		{"AckIDOverflowingUint64", `2123456789012345678901["newTweet"]`, errAckID},
		{"AckIDAfterNamespace", `2/,12345678901["newTweet"]`, errAckID},

		{"IDBeforeNamespace", `2123/,["newTweet"]`, errSocketData},
		{"EventWithoutArray", `2"newTweet"`, errSocketData},
		{"EventWithNothing", `2`, errSocketData},
		{"EventOnlyID", `212`, errSocketData},
		{"ConnectWithData", `0["x"]`, errSocketData},
		{"ConnectWithID", `05`, errSocketData},
		{"DisconnectWithData", `1["x"]`, errSocketData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := checkSocketPacket([]byte(tt.packet)); !errors.Is(err, tt.want) {
				t.Fatalf("checkSocketPacket(%.40q) = %v, want %v", tt.packet, err, tt.want)
			}
		})
	}
}

// FuzzClientPayload POSTs polling bodies to the polling transport, with its decoder and checks,
// and runs every packet they accept through go-socket.io's own parser, as the library reads it for Chirp's
// handlers: nothing may panic, allocate much more than the packet's size, or read as something
// the checks meant to refuse. `go test` runs the seeds; `go test -fuzz FuzzClientPayload` looks
// further.
func FuzzClientPayload(f *testing.F) {
	seeds := [][]string{
		{`2["newTweet",true]`},
		{`212["newTweet",true]`, "2", "6"},
		{"0", "1", "0/,", "1/,", "2probe", "5"},
		{`2/,3["newTweet",{"a":[1,2,{"b":null}]}]`},
		{`459999999999-["newTweet"]`},
		{`429999999999-["newTweet"]`},
		{`4518446744073709551615-["newTweet"]`},
		{`4199999999999-["x"]`},
		{`421000000-["newTweet"]`}, // 40 MB of buffers: caught by the allocation bound, not by a crash
		{`43999999999-[]`},
		{`42123456789012345678901["newTweet"]`},
		{`40/` + strings.Repeat("a", 1000)},
		{`42/x,["newTweet"]`},
		{`42["newTweet"`, `42[`, `4`},
		{`42["newTweet\u0022,",1]`},
	}
	for _, packets := range seeds {
		f.Add(sockettest.Payload(packets...))
	}
	f.Add("6:b4AAH/")
	f.Add("9999999999:4")
	f.Add("1:")
	f.Add("2:4\xff")

	tr := engine.NewPolling(engine.PollingConfig{MaxQueued: 1, MaxPostBytes: 1 << 30, CheckMessage: checkSocketPacket})
	f.Fuzz(func(t *testing.T, body string) {
		for _, data := range postedMessages(t, tr, body) {
			checkLibraryReads(t, data)
		}
	})
}

// postedMessages POSTs body to a new session of the polling transport tr, as a client does,
// and returns the data of the messages the session's reader gets: none when the transport
// refuses the POST (the whole POST is refused when one packet is).
func postedMessages(t *testing.T, tr transport.Transport, body string) [][]byte {
	t.Helper()
	conn, err := tr.Accept(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/socket.io/?EIO=3&transport=polling", nil))
	if err != nil {
		t.Fatal(err)
	}
	type read struct {
		pt   packet.Type
		data []byte
	}
	reads := make(chan read)
	go func() { // the session's reader
		defer close(reads)
		for {
			_, pt, rd, err := conn.NextReader()
			if err != nil {
				return
			}
			data, _ := io.ReadAll(rd)
			reads <- read{pt, data}
		}
	}()
	answered := make(chan int, 1)
	go func() {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/socket.io/?EIO=3&transport=polling&sid=x", strings.NewReader(body))
		conn.(http.Handler).ServeHTTP(w, r)
		answered <- w.Code
	}()
	var messages [][]byte
	status := 0 // the POST's, once answered
	timer := time.NewTimer(testkit.Timeout)
	defer timer.Stop()
	for {
		select {
		case status = <-answered:
			// The reader has taken every packet the POST carried: closing the transport ends
			// it after the last.
			conn.Close()
		case r, ok := <-reads:
			if !ok {
				if status != http.StatusOK {
					return nil
				}
				return messages
			}
			if r.pt == packet.MESSAGE {
				messages = append(messages, r.data)
			}
		case <-timer.C:
			t.Fatalf("the POST %.60q: neither answered nor read to the end", body)
		}
	}
}

var (
	anyType    = reflect.TypeFor[any]()
	stringType = reflect.TypeFor[string]()
)

// checkLibraryReads runs a socket.io packet that the checks accepted through go-socket.io's
// own parser, as the library reads it for Chirp's handlers: it must not allocate much more
// than the packet's size, nor read as something the checks meant to refuse.
func checkLibraryReads(t *testing.T, data []byte) {
	t.Helper()
	before := allocatedBytes()
	d := parser.NewDecoder(&oneTextFrame{data: data})
	var h parser.Header
	var event string
	if err := d.DecodeHeader(&h, &event); err == nil {
		switch h.Type {
		case parser.Event: // onNewTweet(socketio.Conn, any)
			d.DecodeArgs([]reflect.Type{anyType})
		case parser.Disconnect:
			d.DecodeArgs([]reflect.Type{stringType})
		}
	}
	if grown := allocatedBytes() - before; grown > 8<<20+64*uint64(len(data)) {
		t.Fatalf("the library allocated %d bytes for the %d-byte packet %.60q", grown, len(data), data)
	}
	if h.Type != parser.Connect && h.Type != parser.Disconnect && h.Type != parser.Event {
		t.Fatalf("accepted %.60q reads as type %d", data, h.Type)
	}
	if h.Namespace != "" && h.Namespace != "/" {
		t.Fatalf("accepted %.60q reads as namespace %.40q", data, h.Namespace)
	}
	if h.ID >= 1e10 {
		t.Fatalf("accepted %.60q reads as ack id %d", data, h.ID)
	}
}

// oneTextFrame is the library's frame reader with one text frame, then no more.
type oneTextFrame struct {
	data []byte
	done bool
}

func (f *oneTextFrame) NextReader() (session.FrameType, io.ReadCloser, error) {
	if f.done {
		return 0, nil, io.EOF
	}
	f.done = true
	return session.TEXT, io.NopCloser(bytes.NewReader(f.data)), nil
}

func allocatedBytes() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}
