package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// dialerFrom dials from a chosen loopback source address, so that each simulated user is its
// own client to the server's per-address limits.
func dialerFrom(source string) *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}, Timeout: 5 * time.Second}
}

// httpClientFrom is an HTTP client whose connections come from source.
func httpClientFrom(source string) *http.Client {
	d := dialerFrom(source)
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext:         d.DialContext,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     30 * time.Second,
		},
	}
}

// socket is one Engine.IO 3 websocket client of the root namespace: it answers the protocol's
// heartbeat and counts the events it receives, as socket.io-client 2.x does.
type socket struct {
	ws     *websocket.Conn
	wmu    sync.Mutex // gorilla takes one writer at a time: the heartbeat and the owner
	events atomic.Int64
	done   chan struct{}
}

// write sends one message.
func (s *socket) write(messageType int, data []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.ws.WriteMessage(messageType, data)
}

// dialSocket connects a socket from source and waits for the namespace's connect packet.
func dialSocket(ctx context.Context, base, source string) (*socket, error) {
	d := dialerFrom(source)
	wd := websocket.Dialer{NetDialContext: d.DialContext, HandshakeTimeout: 5 * time.Second}
	url := "ws" + strings.TrimPrefix(base, "http") + "/socket.io/?EIO=3&transport=websocket"
	ws, resp, err := wd.DialContext(ctx, url, nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("handshake: %s", resp.Status)
		}
		return nil, &stageError{stage: "dial", err: err}
	}
	s := &socket{ws: ws, done: make(chan struct{})}
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	ping := 25 * time.Second
	for joined := false; !joined; {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			ws.Close()
			return nil, &stageError{stage: "waiting for the namespace", err: err}
		}
		if open, ok := strings.CutPrefix(string(msg), "0"); ok {
			var o struct {
				PingInterval int `json:"pingInterval"`
			}
			if json.Unmarshal([]byte(open), &o) == nil && o.PingInterval > 0 {
				ping = time.Duration(o.PingInterval) * time.Millisecond
			}
		}
		joined = string(msg) == "40"
	}
	ws.SetReadDeadline(time.Time{})
	go s.read()
	go s.heartbeat(ping)
	return s, nil
}

// stageError says which step of a connect failed, so that the report tells a slow accept from
// a namespace that never answered.
type stageError struct {
	stage string
	err   error
}

func (e *stageError) Error() string { return e.stage + ": " + e.err.Error() }
func (e *stageError) Unwrap() error { return e.err }

func (s *socket) read() {
	defer close(s.done)
	for {
		_, msg, err := s.ws.ReadMessage()
		if err != nil {
			return
		}
		if strings.HasPrefix(string(msg), "42") {
			s.events.Add(1)
		}
	}
}

func (s *socket) heartbeat(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			s.write(websocket.TextMessage, []byte("2"))
		}
	}
}

// closed reports whether the server has ended the socket.
func (s *socket) closed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *socket) close() {
	s.write(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	s.ws.Close()
	<-s.done
}
