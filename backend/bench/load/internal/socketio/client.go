package socketio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// What Listen reports to Handler.Closed when the server ends the session with a packet
// rather than by closing the connection.
var (
	ErrServerClose      = errors.New("the server sent an Engine.IO close packet")
	ErrServerDisconnect = errors.New("the server sent a socket.io disconnect packet")
)

// Handler receives what a client reads. Its methods run on the client's reader goroutine.
type Handler interface {
	Event(c *Client, name []byte, at time.Time)
	Closed(c *Client, err error)
}

// Dialer opens clients of one server in one dialect and transport.
type Dialer struct {
	dialect    Dialect
	transport  Transport
	url        *url.URL
	timeout    time.Duration
	heartbeats *atomic.Int64
	ws         websocket.Dialer
}

// NewDialer opens clients of the server at base (http://host:port[/prefix]) on its socket.io
// path, each handshake bounded by timeout. heartbeats, if not nil, counts the pongs read
// (EIO3) and pings answered (EIO4) by every client: proof the clients kept their sessions
// alive rather than the server's patience.
func NewDialer(d Dialect, t Transport, base, path string, timeout time.Duration, heartbeats *atomic.Int64) (*Dialer, error) {
	u, err := endpoint(base, path, d, t)
	if err != nil {
		return nil, err
	}
	return &Dialer{dialect: d, transport: t, url: u, timeout: timeout, heartbeats: heartbeats,
		// Small buffers: thousands of clients in one process read frames of a few bytes.
		ws: websocket.Dialer{ReadBufferSize: 1024, WriteBufferSize: 1024,
			NetDialContext: (&net.Dialer{Timeout: timeout}).DialContext}}, nil
}

// URL is where the dialer's clients connect.
func (d *Dialer) URL() string { return d.url.String() }

// Client is one socket.io connection that has joined "/".
type Client struct {
	ID      int // the caller's number for it
	Session Session

	dialect    Dialect
	heartbeats *atomic.Int64
	carrier    carrier
	wmu        sync.Mutex // one writer at a time: the pinger, Emit, Close
	pinger     *time.Timer
	closing    atomic.Bool
}

// Dial opens a client, reads the open packet and waits until it has joined "/". The client
// reads nothing more until Listen.
func (d *Dialer) Dial(ctx context.Context, id int) (*Client, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	c := &Client{ID: id, dialect: d.dialect, heartbeats: d.heartbeats}
	deadline, _ := ctx.Deadline()
	if d.transport == Polling {
		p, err := dialPolling(d.url, d.dialect, deadline)
		if err != nil {
			return nil, err
		}
		c.carrier = p
	} else {
		ws, resp, err := d.ws.DialContext(ctx, d.url.String(), nil)
		if err != nil {
			if resp != nil {
				return nil, fmt.Errorf("websocket handshake: %w (HTTP %d)", err, resp.StatusCode)
			}
			return nil, fmt.Errorf("websocket handshake: %w", err)
		}
		c.carrier = wsCarrier{ws}
	}
	c.carrier.setReadDeadline(deadline)
	if err := c.join(); err != nil {
		c.carrier.close()
		return nil, err
	}
	c.carrier.setReadDeadline(time.Time{})
	return c, nil
}

// join reads the open packet and waits until the client is in "/", within the carrier's
// read deadline.
func (c *Client) join() error {
	msg, err := c.carrier.read()
	if err != nil {
		return fmt.Errorf("reading the open packet: %w", err)
	}
	if c.Session, err = ParseOpen(msg); err != nil {
		return err
	}
	if c.dialect.SendsConnect() {
		if err := c.send("40"); err != nil {
			return fmt.Errorf("joining /: %w", err)
		}
	}
	for {
		msg, err := c.carrier.read()
		if err != nil {
			return fmt.Errorf("waiting to join /: %w", err)
		}
		switch f := Classify(msg); f.Kind {
		case Connect:
			if c.dialect.ClientPings() {
				c.startPinger()
			}
			return nil
		case ConnectError:
			return fmt.Errorf("the server refused to join /: %q", clip(msg))
		case Close:
			return errors.New("the server closed the session before it joined /")
		case Ping:
			if err := c.pong(); err != nil {
				return err
			}
		}
	}
}

// Listen reads until the connection ends, hands events to h, keeps the heartbeat, and then
// calls h.Closed once.
func (c *Client) Listen(h Handler) {
	for {
		msg, err := c.carrier.read()
		if err != nil {
			h.Closed(c, err)
			return
		}
		now := time.Now()
		switch f := Classify(msg); f.Kind {
		case Event:
			h.Event(c, f.Name, now)
		case Ping:
			if err := c.pong(); err != nil {
				h.Closed(c, err)
				return
			}
		case Pong:
			c.countHeartbeat()
		case Close:
			h.Closed(c, ErrServerClose)
			return
		case Disconnect:
			h.Closed(c, ErrServerDisconnect)
			return
		}
	}
}

// pong answers an EIO4 server's ping. An EIO3 server never pings.
func (c *Client) pong() error {
	if c.dialect.ClientPings() {
		return nil
	}
	if err := c.send("3"); err != nil {
		return fmt.Errorf("answering a ping: %w", err)
	}
	c.countHeartbeat()
	return nil
}

func (c *Client) countHeartbeat() {
	if c.heartbeats != nil {
		c.heartbeats.Add(1)
	}
}

// startPinger pings every pingInterval with a timer, not a goroutine per client: ten
// thousand clients cost ten thousand timers, and they spread out as the clients connected.
func (c *Client) startPinger() {
	every := c.Session.PingInterval
	if every <= 0 {
		every = 25 * time.Second
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.pinger = time.AfterFunc(every, func() {
		if c.closing.Load() || c.send("2") != nil {
			return
		}
		c.wmu.Lock()
		c.pinger.Reset(every)
		c.wmu.Unlock()
	})
}

// Emit sends one text message (e.g. `42["newTweet",true]`).
func (c *Client) Emit(msg string) error { return c.send(msg) }

func (c *Client) send(msg string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.carrier.write(msg)
}

// Close ends the client (a websocket close frame, a polling close packet); once only, from
// any goroutine.
func (c *Client) Close() {
	if c.closing.Swap(true) {
		return
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.pinger != nil {
		c.pinger.Stop()
	}
	c.carrier.close()
}

// ClosedByUs says whether Close was called: a connection that ends without it was ended by
// the server (or the network).
func (c *Client) ClosedByUs() bool { return c.closing.Load() }

// CloseKind names how a connection ended, for a report.
func CloseKind(err error) string {
	var ce *websocket.CloseError
	var he *HTTPStatusError
	var ne net.Error
	switch {
	case errors.Is(err, ErrServerClose):
		return "engineio_close_packet"
	case errors.Is(err, ErrServerDisconnect):
		return "socketio_disconnect_packet"
	case errors.As(err, &ce):
		return "ws_close_" + strconv.Itoa(ce.Code) // 1006: the TCP connection ended without a close frame
	case errors.As(err, &he):
		return "polling_http_" + strconv.Itoa(he.Status)
	case errors.Is(err, syscall.ECONNRESET):
		return "conn_reset"
	case errors.Is(err, syscall.EPIPE):
		return "broken_pipe"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "other"
}
