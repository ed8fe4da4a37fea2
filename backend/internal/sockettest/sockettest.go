// Package sockettest is a raw Engine.IO 3 client for tests (polling handshakes, websockets,
// upgrades as socket.io-client 2.x does them) that connects from a chosen loopback address:
// 127.0.0.2 and up are distinct client addresses to the server's per-address limits.
package sockettest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/gorilla/websocket"
)

// Client connects to one server from one address.
type Client struct {
	HTTP *http.Client
	ws   *websocket.Dialer
	base string // http://host:port
}

// From returns a client of the server at base (http://host:port) whose connections come from ip.
func From(base, ip string) *Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &Client{
		HTTP: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableCompression: true}},
		ws:   &websocket.Dialer{NetDialContext: d.DialContext, HandshakeTimeout: 5 * time.Second},
		base: base,
	}
}

// PollingURL is the polling endpoint, of the session sid ("" for a handshake).
func (c *Client) PollingURL(sid string) string {
	u := c.base + "/socket.io/?EIO=3&transport=polling"
	if sid != "" {
		u += "&sid=" + sid
	}
	return u
}

// Handshake opens a polling session: the answer's status, the sid (on 200) and the body.
func (c *Client) Handshake(t testing.TB) (status int, sid, body string) {
	t.Helper()
	status, sid, body, err := c.handshake()
	if err != nil {
		t.Fatal(err)
	}
	return status, sid, body
}

func (c *Client) handshake() (status int, sid, body string, err error) {
	resp, err := c.HTTP.Get(c.PollingURL(""))
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	body = string(b)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, "", body, nil
	}
	i := strings.Index(body, `"sid":"`)
	if i < 0 {
		return resp.StatusCode, "", body, fmt.Errorf("handshake: %q", body)
	}
	sid = body[i+7:]
	return resp.StatusCode, sid[:strings.IndexByte(sid, '"')], body, nil
}

// PollingSession opens a polling session and returns its sid.
func (c *Client) PollingSession(t testing.TB) string {
	t.Helper()
	sid, err := c.StartPolling()
	if err != nil {
		t.Fatal(err)
	}
	return sid
}

// StartPolling opens a polling session and returns its sid. It reports rather than fails, so
// a goroutine of a test may call it.
func (c *Client) StartPolling() (string, error) {
	status, sid, body, err := c.handshake()
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("polling handshake: %d %s", status, body)
	}
	return sid, err
}

// ConnectedSession opens a polling session whose handshake answer carries the namespace's
// connect packet behind the open packet, as the server's answer to a socket.io client does,
// and returns its sid.
func (c *Client) ConnectedSession(t testing.TB) string {
	t.Helper()
	status, sid, body := c.Handshake(t)
	if status != http.StatusOK || !strings.HasSuffix(body, "2:40") {
		t.Fatalf("handshake: %d %q, want the open and the connect packet", status, body)
	}
	return sid
}

// Poll GETs a polling session's next payload and returns its packets. It reports rather than
// fails, so a goroutine of a test may call it.
func (c *Client) Poll(sid string) ([]string, error) {
	resp, err := c.HTTP.Get(c.PollingURL(sid))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET: %d %s", resp.StatusCode, body)
	}
	return Packets(string(body))
}

// Payload frames packets as one polling body, each as "<length>:<packet>", the length in
// UTF-16 units as a JavaScript client counts it.
func Payload(packets ...string) string {
	var b strings.Builder
	for _, p := range packets {
		b.WriteString(strconv.Itoa(len(utf16.Encode([]rune(p)))))
		b.WriteByte(':')
		b.WriteString(p)
	}
	return b.String()
}

// Packets splits a polling body into its packets, as a client reads it.
func Packets(body string) ([]string, error) {
	var out []string
	for rest := body; rest != ""; {
		length, after, ok := strings.Cut(rest, ":")
		n, err := strconv.Atoi(length)
		units := utf16.Encode([]rune(after))
		if !ok || err != nil || n < 1 || n > len(units) {
			return nil, fmt.Errorf("malformed payload %q", body)
		}
		p := string(utf16.Decode(units[:n]))
		out = append(out, p)
		rest = after[len(p):]
	}
	return out, nil
}

// Dial opens a websocket (query: "" for a new session, "&sid=…" to upgrade one); on a refused
// handshake it returns nil with the answer's status and body.
func (c *Client) Dial(t testing.TB, query string) (ws *websocket.Conn, status int, body string) {
	t.Helper()
	url := "ws" + strings.TrimPrefix(c.base, "http") + "/socket.io/?EIO=3&transport=websocket" + query
	ws, resp, err := c.ws.Dial(url, nil)
	if err != nil {
		if resp == nil {
			t.Fatalf("dial: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		return nil, resp.StatusCode, string(b)
	}
	t.Cleanup(func() { ws.Close() })
	return ws, http.StatusSwitchingProtocols, ""
}

// WebsocketSession opens a websocket session and reads its open and connect packets.
func (c *Client) WebsocketSession(t testing.TB) *websocket.Conn {
	t.Helper()
	ws, status, body := c.Dial(t, "")
	if ws == nil {
		t.Fatalf("websocket handshake: %d %s", status, body)
	}
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for _, want := range []string{"0", "40"} { // open, then namespace connect
		if _, msg, err := ws.ReadMessage(); err != nil || !strings.HasPrefix(string(msg), want) {
			t.Fatalf("websocket handshake: %q %v", msg, err)
		}
	}
	return ws
}

// Upgrade moves a polling session to websocket as socket.io-client does: a probe, then the
// upgrade packet.
func (c *Client) Upgrade(t testing.TB, sid string) *websocket.Conn {
	t.Helper()
	ws, status, body := c.Dial(t, "&sid="+sid)
	if ws == nil {
		t.Fatalf("upgrade: %d %s", status, body)
	}
	FinishUpgrade(t, ws)
	return ws
}

// FinishUpgrade sends the probe and the upgrade packet on a websocket dialled with a sid.
func FinishUpgrade(t testing.TB, ws *websocket.Conn) {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	ws.WriteMessage(websocket.TextMessage, []byte("2probe"))
	if _, msg, err := ws.ReadMessage(); err != nil || string(msg) != "3probe" {
		t.Fatalf("probe: %q %v", msg, err)
	}
	ws.WriteMessage(websocket.TextMessage, []byte("5"))
}

// AwaitNewTweet reads ws until a newTweet event arrives (failing the test after 5 s).
func AwaitNewTweet(t testing.TB, ws *websocket.Conn) {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("no newTweet: %v", err)
		}
		// The library's JSON encoder ends each frame with a newline.
		if strings.TrimSpace(string(msg)) == `42["newTweet",true]` {
			return
		}
	}
}

// Refused fails the test unless an answer is the JSON error wantStatus with code wantCode.
func Refused(t testing.TB, what string, status int, body string, wantStatus int, wantCode string) {
	t.Helper()
	if status != wantStatus || !strings.Contains(body, `"code":"`+wantCode+`"`) {
		t.Fatalf("%s: %d %s, want %d with code %s", what, status, body, wantStatus, wantCode)
	}
}
