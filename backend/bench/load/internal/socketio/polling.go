package socketio

import (
	"fmt"
	"net/url"
	"time"

	"github.com/chirp-social/chirp/backend/bench/load/internal/rawhttp"
)

// HTTPStatusError is a polling request the server answered with an error status: how a
// polling session ends when the server has dropped it (400 for an unknown session).
type HTTPStatusError struct{ Status int }

func (e *HTTPStatusError) Error() string { return fmt.Sprintf("polling: HTTP %d", e.Status) }

// pollCarrier is Engine.IO's polling transport: a long GET returns a payload of packets,
// and packets go out as a payload in a POST, on a connection of their own so that a send
// never waits behind the long GET.
type pollCarrier struct {
	dialect  Dialect
	host     string
	pathSID  string // path?EIO=…&transport=polling&sid=…
	get      *rawhttp.Conn
	post     *rawhttp.Conn
	queue    [][]byte // packets read and not yet taken
	buf      []byte
	deadline time.Time
	wait     time.Duration // a GET's longest wait once the session runs
}

// dialPolling makes the handshake (a GET without a sid) and keeps what came with the open
// packet (EIO3 servers send "40" in the same payload) for the client to read.
func dialPolling(u *url.URL, d Dialect, deadline time.Time) (*pollCarrier, error) {
	p := &pollCarrier{dialect: d, host: u.Host, get: rawhttp.New(u.Host), post: rawhttp.New(u.Host)}
	status, body, err := p.get.Fetch(rawhttp.Get(u.Host, u.RequestURI()), time.Until(deadline), nil)
	if err != nil {
		p.close()
		return nil, fmt.Errorf("polling handshake: %w", err)
	}
	if status != 200 {
		p.close()
		return nil, fmt.Errorf("polling handshake: HTTP %d %q", status, clip(body))
	}
	packets, err := d.SplitPayload(body)
	if err != nil {
		p.close()
		return nil, fmt.Errorf("polling handshake: %w", err)
	}
	s, err := ParseOpen(packets[0])
	if err != nil {
		p.close()
		return nil, err
	}
	p.pathSID = u.RequestURI() + "&sid=" + url.QueryEscape(s.ID)
	// The server answers a GET at least every pingInterval (a pong or a ping); past
	// pingInterval+pingTimeout it has dropped the session anyway.
	p.wait = s.PingInterval + s.PingTimeout + 5*time.Second
	for _, pk := range packets {
		p.queue = append(p.queue, append([]byte(nil), pk...))
	}
	return p, nil
}

func (p *pollCarrier) read() ([]byte, error) {
	for len(p.queue) == 0 {
		timeout := p.wait
		if !p.deadline.IsZero() {
			timeout = time.Until(p.deadline)
		}
		status, body, err := p.get.Fetch(rawhttp.Get(p.host, p.pathSID), timeout, p.buf)
		p.buf = body
		if err != nil {
			return nil, err
		}
		if status != 200 {
			return nil, &HTTPStatusError{status}
		}
		packets, err := p.dialect.SplitPayload(body)
		if err != nil {
			return nil, err
		}
		p.queue = packets // they alias p.buf, which the next GET reuses only once they are taken
	}
	pk := p.queue[0]
	p.queue = p.queue[1:]
	return pk, nil
}

func (p *pollCarrier) write(packet string) error {
	status, err := p.post.Do(rawhttp.Post(p.host, p.pathSID, "text/plain;charset=UTF-8", p.dialect.JoinPayload(packet)), 10*time.Second)
	if err != nil {
		return err
	}
	if status != 200 {
		return &HTTPStatusError{status}
	}
	return nil
}

func (p *pollCarrier) setReadDeadline(t time.Time) { p.deadline = t }

// close tells the server (a close packet) and ends the long GET.
func (p *pollCarrier) close() {
	if p.pathSID != "" {
		_, _ = p.post.Do(rawhttp.Post(p.host, p.pathSID, "text/plain;charset=UTF-8", p.dialect.JoinPayload("1")), time.Second)
	}
	p.post.Close()
	p.get.Abort()
}
