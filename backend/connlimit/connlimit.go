// Package connlimit bounds the TCP connections a process holds, where they are accepted: per
// client address (clientaddr.Key of the peer: IPv6 by /64) and in all, so that no client, and
// no crowd of idle keep-alive connections, can take the file descriptors the rest of the
// process needs. A connection over a cap is closed at once, before net/http reads a byte of
// it. Near the total's cap the oldest idle keep-alive connections are closed first, which
// costs their clients nothing but a new TCP handshake (clients retry a request on a kept-alive
// connection the server closed).
//
// At accept time the client is the TCP peer: X-Forwarded-For is not read yet. A peer that is a
// trusted proxy carries many clients, so it is held only to the total; the proxy limits its
// own clients (the balancer's limit_conn, deploy/balancer).
package connlimit

import (
	"container/list"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"

	"github.com/chirp-social/chirp/backend/clientaddr"
)

// The limits' names, in the log and the metrics (limitlog), as their variables.
const (
	PerClientLimit = "CONN_MAX_PER_IP"
	TotalLimit     = "CONN_MAX_TOTAL"
)

// Bites is told of every connection a cap closed (limitlog.Log).
type Bites interface {
	Bit(limit, client string, attrs ...slog.Attr)
}

// Config sets a Limiter's caps; 0 turns a cap off.
type Config struct {
	MaxPerClient int
	MaxTotal     int
	// Proxies says which peers are trusted proxies (TRUSTED_PROXIES): those are not held to
	// MaxPerClient. Nil: none.
	Proxies *clientaddr.Resolver
	// Bites is told of each connection refused; nil: nobody.
	Bites Bites
}

// Limiter counts the connections of every listener it wraps together (they share the
// process's descriptors). Its methods are safe for concurrent use.
type Limiter struct {
	cfg Config
	// idleFrom is where closing idle connections begins: a tenth below MaxTotal, so that a
	// burst of new clients finds room without waiting for anyone's idle timeout.
	idleFrom int

	mu       sync.Mutex
	total    int
	byClient map[string]int
	idle     *list.List // of *Conn, the longest idle first
	closed   int        // idle connections closed to make room, since start
}

// New returns a Limiter with cfg's caps.
func New(cfg Config) *Limiter {
	return &Limiter{
		cfg:      cfg,
		idleFrom: cfg.MaxTotal - cfg.MaxTotal/10,
		byClient: map[string]int{},
		idle:     list.New(),
	}
}

// Listener wraps ln: every connection it accepts is counted until it is closed, hijacked ones
// (websockets) included, and one over a cap is closed instead of being returned.
func (l *Limiter) Listener(ln net.Listener) net.Listener {
	return &listener{Listener: ln, limits: l}
}

// ConnState is the http.Server hook that tells the Limiter which connections are idle
// between requests; set it on every server whose listener the Limiter wraps.
func (l *Limiter) ConnState(c net.Conn, state http.ConnState) {
	conn, ok := c.(*Conn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if conn.released {
		return
	}
	if conn.idle != nil {
		l.idle.Remove(conn.idle)
		conn.idle = nil
	}
	// A new connection has not sent its request yet (ReadHeaderTimeout bounds that): closing
	// it would cut a client that just arrived, the one the room is being made for.
	if state == http.StateIdle {
		conn.idle = l.idle.PushBack(conn)
	}
}

// Counts are the connections open (idle ones included), the kept-alive ones waiting for a
// request, and the idle ones closed to make room since start (metrics.ConnCounts).
func (l *Limiter) Counts() (open, idle int, idleClosed uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total, l.idle.Len(), uint64(l.closed)
}

// admit counts a connection from peer, or says which cap refuses it; it also picks the idle
// connections to close (the caller closes them, outside the lock).
func (l *Limiter) admit(c *Conn) (refused string, evict []*Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cfg.MaxPerClient > 0 && c.key != "" && l.byClient[c.key] >= l.cfg.MaxPerClient {
		return PerClientLimit, nil
	}
	if l.cfg.MaxTotal > 0 {
		for l.total >= l.idleFrom && l.idle.Len() > 0 {
			victim := l.idle.Remove(l.idle.Front()).(*Conn)
			victim.idle = nil
			l.release(victim)
			l.closed++
			evict = append(evict, victim)
		}
		if l.total >= l.cfg.MaxTotal {
			return TotalLimit, evict
		}
	}
	l.total++
	if c.key != "" {
		l.byClient[c.key]++
	}
	return "", evict
}

// release uncounts c, once. l.mu is held.
func (l *Limiter) release(c *Conn) {
	if c.released {
		return
	}
	c.released = true
	if c.idle != nil {
		l.idle.Remove(c.idle)
		c.idle = nil
	}
	l.total--
	if c.key == "" {
		return
	}
	if l.byClient[c.key]--; l.byClient[c.key] <= 0 {
		delete(l.byClient, c.key) // a map entry per address ever seen would grow without bound
	}
}

type listener struct {
	net.Listener
	limits *Limiter
}

// Accept returns the next connection within the caps; those over them are closed here and
// never reach the server.
func (ln *listener) Accept() (net.Conn, error) {
	for {
		nc, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		c := &Conn{Conn: nc, limits: ln.limits}
		peer := peerAddr(nc.RemoteAddr())
		if peer.IsValid() && (ln.limits.cfg.Proxies == nil || !ln.limits.cfg.Proxies.TrustsPeer(peer)) {
			c.key = clientaddr.Key(peer)
		}
		refused, evict := ln.limits.admit(c)
		for _, v := range evict {
			v.Conn.Close()
		}
		if refused == "" {
			return c, nil
		}
		if b := ln.limits.cfg.Bites; b != nil {
			client := c.key
			if client == "" {
				client = peer.String()
			}
			max := ln.limits.cfg.MaxTotal
			if refused == PerClientLimit {
				max = ln.limits.cfg.MaxPerClient
			}
			b.Bit(refused, client, slog.Int("max", max))
		}
		nc.Close()
	}
}

// Conn is an accepted connection, counted until it is closed.
type Conn struct {
	net.Conn
	limits *Limiter
	key    string // the client's budget, "" for a trusted proxy

	// Guarded by limits.mu.
	released bool
	idle     *list.Element // in limits.idle while idle
}

// Close closes the connection and gives its place back.
func (c *Conn) Close() error {
	c.limits.mu.Lock()
	c.limits.release(c)
	c.limits.mu.Unlock()
	return c.Conn.Close()
}

// CloseWrite passes net/http's half-close through: it closes a connection it refuses (a 431,
// a 408) by half-closing and waiting a moment, so that the client reads the answer before
// the unread rest of its request makes the close a reset.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Close()
}

// ReadFrom keeps the TCP connection's sendfile and splice for the files the page server sends.
func (c *Conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

func peerAddr(a net.Addr) netip.Addr {
	if tcp, ok := a.(*net.TCPAddr); ok {
		return tcp.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}
