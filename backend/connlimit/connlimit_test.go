package connlimit_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend/clientaddr"
	"github.com/chirp-social/chirp/backend/connlimit"
	"github.com/chirp-social/chirp/backend/internal/testkit"
)

// bites records what the limiter reports.
type bites struct {
	mu   sync.Mutex
	seen []string // "LIMIT client"
}

func (b *bites) Bit(limit, client string, _ ...slog.Attr) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seen = append(b.seen, limit+" "+client)
}

func (b *bites) has(want string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.seen {
		if s == want {
			return true
		}
	}
	return false
}

type server struct {
	addr   string
	limits *connlimit.Limiter
	bites  *bites
	// hijacked holds the connections /hold took over, until the test closes them.
	hijacked chan net.Conn
}

// serve runs an http.Server behind a Limiter with cfg: / answers "ok", /hold hijacks the
// connection (as a websocket upgrade does) and hands it to the test.
func serve(t *testing.T, cfg connlimit.Config) *server {
	t.Helper()
	s := &server{bites: &bites{}, hijacked: make(chan net.Conn, 64)}
	cfg.Bites = s.bites
	s.limits = connlimit.New(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("/hold", func(w http.ResponseWriter, r *http.Request) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		s.hijacked <- c
	})
	srv := &http.Server{Handler: mux, ConnState: s.limits.ConnState, ReadHeaderTimeout: 5 * time.Second, MaxHeaderBytes: 4096}
	done := make(chan struct{})
	go func() { srv.Serve(s.limits.Listener(ln)); close(done) }()
	t.Cleanup(func() {
		srv.Close()
		testkit.Closed(t, done, "the server's Serve returning after Close")
		close(s.hijacked)
		for c := range s.hijacked {
			c.Close()
		}
	})
	return s
}

// client is one kept-alive connection from a chosen loopback address.
type client struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func (s *server) dial(t *testing.T, from string) *client {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, conn: c, r: bufio.NewReader(c)}
}

// get asks path and reports whether it was answered 200; false if the server closed the
// connection instead. No answer within 5 s fails the test.
func (c *client) get(path string) bool {
	c.t.Helper()
	c.conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(c.conn, "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", path); err != nil {
		return false
	}
	resp, err := http.ReadResponse(c.r, nil)
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		c.t.Fatalf("GET %s: neither answered nor closed within 5 s", path)
	}
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// closed reports whether the server has closed the connection (waiting up to 5 s for it).
func (c *client) closed() bool {
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.r.ReadByte()
	var netErr net.Error
	return err != nil && !(errors.As(err, &netErr) && netErr.Timeout())
}

// await polls the limiter's counts until cond holds (failing the test after 5 s).
func (s *server) await(t *testing.T, what string, cond func(connlimit.Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond(s.limits.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("not within 5 s: %s (%+v)", what, s.limits.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPerClientCap(t *testing.T) {
	s := serve(t, connlimit.Config{MaxPerClient: 3})
	var held []*client
	for i := range 3 {
		c := s.dial(t, "127.0.0.2")
		if !c.get("/") {
			t.Fatalf("connection %d of 3 was not served", i+1)
		}
		held = append(held, c)
	}
	if s.dial(t, "127.0.0.2").get("/") {
		t.Fatal("a 4th connection from one address was served")
	}
	if !s.bites.has("CONN_MAX_PER_IP 127.0.0.2") {
		t.Fatalf("the refusal was not reported: %v", s.bites.seen)
	}
	if !s.dial(t, "127.0.0.3").get("/") {
		t.Fatal("another address was refused")
	}
	held[0].conn.Close()
	s.await(t, "the closed connection's place is given back", func(st connlimit.Stats) bool { return st.Open == 3 })
	if !s.dial(t, "127.0.0.2").get("/") {
		t.Fatal("after one of its connections closed, the address is still refused")
	}
}

// A trusted proxy carries many clients: it is held only to the total.
func TestTrustedProxyIsHeldOnlyToTheTotal(t *testing.T) {
	trusted, err := clientaddr.ParseTrusted("127.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	s := serve(t, connlimit.Config{MaxPerClient: 2, MaxTotal: 5, Proxies: clientaddr.New(trusted)})
	for i := range 5 {
		if !s.dial(t, "127.0.0.2").get("/") {
			t.Fatalf("the proxy's connection %d was refused", i+1)
		}
	}
	s.await(t, "five idle", func(st connlimit.Stats) bool { return st.Idle == 5 })
	if c := s.dial(t, "127.0.0.3"); !c.get("/") {
		t.Fatal("at the total, a new client was refused while idle connections could make room")
	}
}

// Near the total's cap, the connections that have been idle longest are closed to make room;
// busy ones, hijacked ones and new ones are not, and past the cap a new one is refused.
func TestIdleConnectionsMakeRoom(t *testing.T) {
	s := serve(t, connlimit.Config{MaxTotal: 4})
	var idle []*client
	for i := range 3 {
		c := s.dial(t, fmt.Sprintf("127.0.0.%d", 2+i))
		if !c.get("/") {
			t.Fatalf("connection %d was not served", i+1)
		}
		idle = append(idle, c)
		s.await(t, "idle", func(st connlimit.Stats) bool { return st.Idle == i+1 })
	}
	// A 4th, hijacked: counted, never idle.
	ws := s.dial(t, "127.0.0.9")
	fmt.Fprint(ws.conn, "GET /hold HTTP/1.1\r\nHost: test\r\n\r\n")
	h := testkit.RecvWithin(t, s.hijacked, 5*time.Second, "the connection hijacked")
	t.Cleanup(func() { h.Close() })
	s.await(t, "four open, three idle", func(st connlimit.Stats) bool { return st.Open == 4 && st.Idle == 3 })

	for i := range 3 {
		if !s.dial(t, "127.0.0.20").get("/") {
			t.Fatalf("new client %d was refused while idle connections could make room", i+1)
		}
		// The one closed is the longest idle.
		if !idle[i].closed() {
			t.Fatalf("the longest idle connection (%d) is still open", i+1)
		}
		for _, later := range idle[i+1:] {
			later.conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			if _, err := later.r.Peek(1); !isTimeout(err) {
				t.Fatalf("a connection idle for less time was closed first: %v", err)
			}
		}
	}
	if st := s.limits.Stats(); st.IdleClosed != 3 {
		t.Fatalf("idle connections closed: %d, want 3", st.IdleClosed)
	}
	// The hijacked connection still counts: the three new clients' and it.
	s.await(t, "four open, the new three idle", func(st connlimit.Stats) bool { return st.Open == 4 && st.Idle == 3 })
}

// Past the total with nothing idle, a new connection is closed at once, and the place of a
// hijacked connection comes back only when it closes.
func TestTotalCapRefusesWhenNothingIsIdle(t *testing.T) {
	s := serve(t, connlimit.Config{MaxTotal: 2})
	var held []net.Conn
	for i := range 2 {
		c := s.dial(t, fmt.Sprintf("127.0.0.%d", 2+i))
		fmt.Fprint(c.conn, "GET /hold HTTP/1.1\r\nHost: test\r\n\r\n")
		h := testkit.RecvWithin(t, s.hijacked, 5*time.Second, fmt.Sprintf("connection %d hijacked", i+1))
		held = append(held, h)
		t.Cleanup(func() { h.Close() })
	}
	if s.dial(t, "127.0.0.4").get("/") {
		t.Fatal("a 3rd connection was served past a total of 2")
	}
	if !s.bites.has("CONN_MAX_TOTAL 127.0.0.4") {
		t.Fatalf("the refusal was not reported: %v", s.bites.seen)
	}
	held[0].Close()
	s.await(t, "the hijacked connection's place is given back", func(st connlimit.Stats) bool { return st.Open == 1 })
	if !s.dial(t, "127.0.0.4").get("/") {
		t.Fatal("after a hijacked connection closed, a new one is still refused")
	}
}

// A request net/http refuses unread (431) is answered before its connection closes: the
// half-close it relies on passes through the counted connection.
func TestRefusedRequestIsAnswered(t *testing.T) {
	s := serve(t, connlimit.Config{MaxPerClient: 2, MaxTotal: 10})
	c := s.dial(t, "127.0.0.2")
	c.conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c.conn, "GET / HTTP/1.1\r\nHost: test\r\nCookie: c=%s\r\n\r\n", strings.Repeat("x", 64<<10))
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		t.Fatalf("no answer to a header block over the cap: %v", err)
	}
	// Its body ends where the connection does: a half-close, not a reset.
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Fatalf("reading the 431's body: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431", resp.StatusCode)
	}
	s.await(t, "the refused connection's place is given back", func(st connlimit.Stats) bool { return st.Open == 0 })
}

func isTimeout(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout() || errors.Is(err, os.ErrDeadlineExceeded)
}

// fakeListener hands out one end of a pipe per address in peers, as connections from them.
type fakeListener struct {
	peers  chan netip.Addr
	closed chan struct{}
}

type peerConn struct {
	net.Conn
	peer netip.Addr
}

func (c peerConn) RemoteAddr() net.Addr {
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(c.peer, 40000))
}

func (l *fakeListener) Accept() (net.Conn, error) {
	select {
	case a := <-l.peers:
		ours, theirs := net.Pipe()
		theirs.Close() // a connection closed by the limiter is the one end closed twice: harmless
		return peerConn{Conn: ours, peer: a}, nil
	case <-l.closed:
		return nil, net.ErrClosed
	case <-time.After(testkit.Timeout):
		return nil, errors.New("no more peers: the limiter accepted more connections than the test expected")
	}
}
func (l *fakeListener) Close() error   { close(l.closed); return nil }
func (l *fakeListener) Addr() net.Addr { return &net.TCPAddr{} }

// An IPv6 client is counted by its /64, as every other limit counts it (loopback has one IPv6
// address, so the peers here are made up).
func TestIPv6PeersShareTheirSlash64(t *testing.T) {
	b := &bites{}
	fake := &fakeListener{peers: make(chan netip.Addr, 8), closed: make(chan struct{})}
	ln := connlimit.New(connlimit.Config{MaxPerClient: 2, Bites: b}).Listener(fake)
	defer ln.Close()
	for _, peer := range []string{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9", "2001:db8:1:2::3", "2001:db8:1:3::1"} {
		fake.peers <- netip.MustParseAddr(peer)
	}
	var got []string
	for range 2 {
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, c.RemoteAddr().String())
	}
	// The third from 2001:db8:1:2::/64 was refused inside Accept, which went on to the next.
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, c.RemoteAddr().String())
	want := []string{"[2001:db8:1:2::1]:40000", "[2001:db8:1:2:ffff::9]:40000", "[2001:db8:1:3::1]:40000"}
	if !slices.Equal(got, want) {
		t.Fatalf("accepted %v, want %v", got, want)
	}
	if !b.has("CONN_MAX_PER_IP 2001:db8:1:2::/64") {
		t.Fatalf("the refusal was not reported under the /64: %v", b.seen)
	}
}
