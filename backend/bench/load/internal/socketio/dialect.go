// Package socketio is a socket.io client over the websocket transport, just enough of it to
// receive events at scale: it speaks Engine.IO 3 (Chirp, on go-socket.io v1.7.0; the page's
// socket.io-client 2.x) and Engine.IO 4 (socket.io 3 and 4, which the Node peer runs).
package socketio

import "fmt"

// Dialect is what a client must do differently for one Engine.IO protocol version.
type Dialect int

// The versions the comparison needs: Chirp speaks 3, the Node peer 4.
const (
	EIO3 Dialect = 3
	EIO4 Dialect = 4
)

// ParseDialect accepts the --eio values.
func ParseDialect(v int) (Dialect, error) {
	switch d := Dialect(v); d {
	case EIO3, EIO4:
		return d, nil
	}
	return 0, fmt.Errorf("Engine.IO version %d: want 3 or 4", v)
}

// SendsConnect says whether the client joins the namespace "/" with "40". An EIO4 server
// waits for it; an EIO3 server joins "/" by itself and sends "40", and go-socket.io v1.7.0
// would run its OnConnect a second time for a client "40".
func (d Dialect) SendsConnect() bool { return d == EIO4 }

// ClientPings says who starts a heartbeat. EIO3: the client sends "2" every pingInterval and
// the server answers "3". EIO4: the server sends "2" and the client must answer "3". A
// client that does neither is dropped after pingInterval+pingTimeout.
func (d Dialect) ClientPings() bool { return d == EIO3 }
