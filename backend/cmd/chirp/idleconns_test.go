package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend/internal/sockettest"
	"github.com/chirp-social/chirp/backend/internal/testdb"
)

// One address opening kept-alive connections, one GET each, and idling could hold nearly every
// file descriptor of the process, and every other client would time out while the log filled
// with "too many open files". With the connection limits, a client from another address is
// still served: /healthz, a websocket, a POST.
func TestIdleConnectionsLeaveRoomForOthers(t *testing.T) {
	const (
		fileLimit = 1500
		idlers    = 1600
	)
	needFiles(t, idlers+500)
	for _, tt := range []struct {
		name string
		env  map[string]string
		held int // the most connections the address may keep open
	}{
		// The per-address cap (128) closes the idler's connections past it at once.
		{"Defaults", map[string]string{}, 128},
		// Without it, the total's cap (1,350 of 1,500) holds, by closing the oldest idle
		// connections first.
		{"PerAddressOff", map[string]string{"CONN_MAX_PER_IP": "0"}, 1350},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.env["DATABASE_URL"] = testdb.SQLiteURL(t)
			p := startLimited(t, fileLimit, tt.env)
			conns := openIdleConnections(t, p.base, "127.0.0.2", idlers)
			served, open := answered(conns), stillOpen(conns)
			t.Logf("%d of %d connections from one address were answered, %d are still open (the limit %d)",
				served, idlers, open, tt.held)
			if open > tt.held {
				t.Errorf("one address holds %d connections, above %d", open, tt.held)
			}

			good := sockettest.From(p.base, "127.0.0.3")
			took := func(what string, f func() error) {
				t.Helper()
				began := time.Now()
				if err := f(); err != nil {
					t.Fatalf("%s from another address: %v\n%s", what, err, tail(p.logs.String()))
				}
				t.Logf("%s: %v", what, time.Since(began).Round(time.Millisecond))
			}
			took("GET /healthz", func() error {
				return answeredWith(http.StatusOK)(good.HTTP.Get(p.base + "/healthz"))
			})
			took("websocket session", func() error {
				ws, status, body := good.Dial(t, "")
				if ws == nil {
					return fmt.Errorf("handshake %d %s", status, body)
				}
				ws.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, msg, err := ws.ReadMessage()
				if err != nil || !strings.HasPrefix(string(msg), "0") {
					return fmt.Errorf("open packet %q: %v", msg, err)
				}
				return nil
			})
			took("POST /api/tweets", func() error {
				return answeredWith(http.StatusCreated)(good.HTTP.Post(p.base+"/api/tweets", "application/json",
					strings.NewReader(`{"author":"good","content":"still served"}`)))
			})
			if logs := p.logs.String(); strings.Contains(logs, "too many open files") {
				t.Fatalf("the process ran out of file descriptors:\n%s", tail(logs))
			}
		})
	}
}

// answeredWith checks a client's answer for the status want.
func answeredWith(want int) func(*http.Response, error) error {
	return func(resp *http.Response, err error) error {
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			return fmt.Errorf("status %d, want %d", resp.StatusCode, want)
		}
		return nil
	}
}

// openIdleConnections opens n connections from ip, sends GET /healthz on each and leaves them
// open. Connections the server does not accept are given up after 2 s each.
func openIdleConnections(t *testing.T, base, ip string, n int) []net.Conn {
	t.Helper()
	host := strings.TrimPrefix(base, "http://")
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 2 * time.Second}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	eachOf(n, func(int) {
		c, err := d.Dial("tcp", host)
		if err != nil {
			return
		}
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
		c.SetWriteDeadline(time.Now().Add(2 * time.Second))
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: "+host+"\r\n\r\n")
	})
	return conns
}

// answered counts the connections whose request was answered 200 (waiting up to 2 s each).
func answered(conns []net.Conn) int {
	var n atomic.Int64
	eachOf(len(conns), func(i int) {
		conns[i].SetReadDeadline(time.Now().Add(2 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conns[i]), nil)
		if err == nil && resp.StatusCode == http.StatusOK {
			n.Add(1)
		}
	})
	return int(n.Load())
}

// stillOpen counts the connections the server has not closed.
func stillOpen(conns []net.Conn) int {
	var n atomic.Int64
	eachOf(len(conns), func(i int) {
		conns[i].SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		var netErr net.Error
		if _, err := conns[i].Read(make([]byte, 1)); errors.As(err, &netErr) && netErr.Timeout() {
			n.Add(1)
		}
	})
	return int(n.Load())
}

// eachOf runs f(0) … f(n-1), 16 at a time.
func eachOf(n int, f func(i int)) {
	next := make(chan int)
	go func() {
		defer close(next)
		for i := range n {
			next <- i
		}
	}()
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range next {
				f(i)
			}
		})
	}
	wg.Wait()
}

// startLimited runs the program as its own process, its limits the defaults but for the write
// rate, with its file descriptor limit lowered to files.
func startLimited(t *testing.T, files int, env map[string]string) *process {
	t.Helper()
	p := startBinary(t, files, append([]string{"RATE_LIMIT_WRITES_PER_MINUTE=0"}, envList(env)...))
	if !strings.Contains(p.logs.String(), fmt.Sprintf("file_limit=%d", files)) {
		t.Fatalf("the process does not run with %d file descriptors:\n%s", files, p.logs)
	}
	return p
}

// needFiles raises this test process's own descriptor limit to its hard limit if the soft one
// is below want (Go raises it at start, but a parent may have lowered the hard one).
func needFiles(t *testing.T, want uint64) {
	t.Helper()
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	if rl.Cur < want && rl.Max > rl.Cur {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			t.Fatal(err)
		}
	}
	if rl.Cur < want {
		t.Fatalf("this test needs %d file descriptors of its own; the hard limit is %d (raise ulimit -Hn)", want, rl.Max)
	}
}

// tail is the end of a long log, for a failure message.
func tail(logs string) string {
	const keep = 4000
	if len(logs) > keep {
		return "…" + logs[len(logs)-keep:]
	}
	return logs
}

// Every websocket holds a connection, so the connection limits must leave the socket limits
// room to answer: with the defaults derived from SOCKET_MAX_PER_IP, an address at its socket
// cap is told 429 on both transports (not cut off unanswered), and still reaches the API.
func TestSocketCapAnswersWithinTheConnectionCap(t *testing.T) {
	const sockets = 70 // above 64, so that the derived connection cap (2×, 140) is what holds
	p := start(t, map[string]string{
		"DATABASE_URL": testdb.SQLiteURL(t), "SOCKET_MAX_PER_IP": fmt.Sprint(sockets), "CONN_MAX_PER_IP": "",
	})
	if !strings.Contains(p.logs.String(), fmt.Sprintf("conn_max_per_ip=%d", 2*sockets)) {
		t.Fatalf("the derived connection cap is not %d:\n%s", 2*sockets, p.logs)
	}
	a := sockettest.From(p.base, "127.0.0.2")
	for range sockets {
		a.WebsocketSession(t)
	}
	_, status, body := a.Dial(t, "")
	sockettest.Refused(t, "a websocket past SOCKET_MAX_PER_IP", status, body, http.StatusTooManyRequests, "rate_limited")
	status, _, body = a.Handshake(t)
	sockettest.Refused(t, "a polling handshake past SOCKET_MAX_PER_IP", status, body, http.StatusTooManyRequests, "rate_limited")
	if err := answeredWith(http.StatusOK)(a.HTTP.Get(p.base + "/healthz")); err != nil {
		t.Fatalf("/healthz from the address at its socket cap: %v", err)
	}
}

// CONN_MAX_PER_IP through the program: the connection past it is closed unanswered, the bite is
// logged and counted, and the open and idle connections are in /metrics.
func TestConnectionsPerAddressAreLimited(t *testing.T) {
	p := start(t, map[string]string{"DATABASE_URL": testdb.SQLiteURL(t), "CONN_MAX_PER_IP": "3", "METRICS_ADDR": "127.0.0.1:0"})
	conns := openIdleConnections(t, p.base, "127.0.0.2", 4)
	if n := answered(conns); n != 3 {
		t.Fatalf("%d of 4 connections from one address were answered, want 3", n)
	}
	if !strings.Contains(p.logs.String(), "limit=CONN_MAX_PER_IP client=127.0.0.2 max=3") {
		t.Fatalf("the refusal was not logged:\n%s", p.logs)
	}
	s := waitMetric(t, p.sideAddr(t, "metrics listening"), `chirp_limit_refusals_total{limit="CONN_MAX_PER_IP"}`, 1)
	// At least the three kept alive (the test's own client may hold another).
	if s["chirp_connections_open"] < 3 || s["chirp_connections_idle"] < 3 {
		t.Fatalf("chirp_connections_open %v, chirp_connections_idle %v: want at least the 3 kept alive",
			s["chirp_connections_open"], s["chirp_connections_idle"])
	}
}
