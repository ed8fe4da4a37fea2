package socketio

import (
	"fmt"
	"net/url"
	"time"

	"github.com/gorilla/websocket"
)

// Transport is how a client's Engine.IO packets travel.
type Transport string

// The two transports of Engine.IO. A client here stays on the one it starts with: the page
// opens websockets (polling then upgrade lost first emits in the browser), and polling alone
// is what a client behind a proxy that refuses websockets does.
const (
	Websocket Transport = "websocket"
	Polling   Transport = "polling"
)

// ParseTransport accepts the --transport values.
func ParseTransport(s string) (Transport, error) {
	switch t := Transport(s); t {
	case Websocket, Polling:
		return t, nil
	}
	return "", fmt.Errorf("transport %q: want websocket or polling", s)
}

// SocketsPerClient is the TCP connections one client holds: polling keeps a long GET open
// and sends on a second connection, as a browser does.
func (t Transport) SocketsPerClient() int {
	if t == Polling {
		return 2
	}
	return 1
}

// endpoint is the URL of the socket.io path on the server at base (http://host:port[/prefix]),
// with the query naming the version and transport.
func endpoint(base, path string, d Dialect, t Transport) (*url.URL, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("server URL %q: %w", base, err)
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("server URL %q: want http://", base)
	}
	u.Path = path
	u.RawQuery = fmt.Sprintf("EIO=%d&transport=%s", int(d), t)
	if t == Websocket {
		u.Scheme = "ws"
	}
	return u, nil
}

// carrier moves one client's packets: Read by the client's one reader goroutine, Write by
// one writer at a time (Client.wmu), close by Client.Close once.
type carrier interface {
	read() ([]byte, error)
	write(packet string) error
	setReadDeadline(t time.Time)
	close()
}

// wsCarrier is one packet a websocket message.
type wsCarrier struct{ ws *websocket.Conn }

func (w wsCarrier) read() ([]byte, error) {
	_, msg, err := w.ws.ReadMessage()
	return msg, err
}

func (w wsCarrier) write(packet string) error {
	_ = w.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return w.ws.WriteMessage(websocket.TextMessage, []byte(packet))
}

func (w wsCarrier) setReadDeadline(t time.Time) { _ = w.ws.SetReadDeadline(t) }

func (w wsCarrier) close() {
	_ = w.ws.SetWriteDeadline(time.Now().Add(time.Second))
	_ = w.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	w.ws.Close()
}
