package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend/internal/sockettest"
	"github.com/chirp-social/chirp/backend/internal/testdb"
)

// rawConn is one kept-alive HTTP/1.1 connection that the test drives by hand, so that it can
// send several requests on the same connection, or a body that never finishes.
type rawConn struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
	host string
}

func dial(t *testing.T, base string) *rawConn {
	t.Helper()
	host := strings.TrimPrefix(base, "http://")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawConn{t: t, conn: conn, r: bufio.NewReader(conn), host: host}
}

// send writes a request's head (and as much of its body as given) on the connection.
func (c *rawConn) send(method, target string, headers ...string) {
	c.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, target, c.host)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(c.conn, b.String()); err != nil {
		c.t.Fatal(err)
	}
}

// response reads one answer (failing the test after wait).
func (c *rawConn) response(wait time.Duration) (*http.Response, string) {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(wait))
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		c.t.Fatalf("no answer within %v: %v", wait, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("reading the answer: %v", err)
	}
	resp.Body.Close()
	return resp, string(body)
}

// closedWithin reports whether the server closes the connection within wait; anything it
// sends before is read and ignored.
func (c *rawConn) closedWithin(wait time.Duration) bool {
	c.conn.SetReadDeadline(time.Now().Add(wait))
	_, err := io.Copy(io.Discard, c.r)
	var netErr net.Error
	return !(errors.As(err, &netErr) && netErr.Timeout())
}

// trickle sends one byte of body every interval until the connection fails or stop closes.
func (c *rawConn) trickle(interval time.Duration, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-time.After(interval):
		}
		if _, err := c.conn.Write([]byte("x")); err != nil {
			return
		}
	}
}

// A request that times out (the database stalled past REQUEST_TIMEOUT) gets its 503, and the
// next request on the same kept-alive connection is served normally: one timeout must not
// poison the connection (a read deadline left armed while the handler ran would cancel the
// connection's context for every later request).
func TestTimeoutLeavesTheConnectionUsable(t *testing.T) {
	url := testdb.PostgresURL(t)
	// 1 s, not less: a request after the stall must have time to be served on a machine busy
	// with the rest of the suite. The defect this holds fails whatever the timeout.
	const timeout = time.Second
	p := start(t, map[string]string{"DATABASE_URL": url, "REQUEST_TIMEOUT": timeout.String()})
	if resp := post(t, p.base, "before the stall"); resp.StatusCode != 201 {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	// Every read of the table now waits for this transaction.
	tx := testdb.HoldInTransaction(t, url, "LOCK TABLE tweets IN ACCESS EXCLUSIVE MODE")

	c := dial(t, p.base)
	// One tweet: the database answers it (the newest page may come from the hot window).
	c.send("GET", "/api/tweets/1")
	if resp, body := c.response(5 * time.Second); resp.StatusCode != 503 {
		t.Fatalf("stalled list: %d %s", resp.StatusCode, body)
	}
	stalled := time.Now()
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	// The database answers again (asked on other connections)...
	deadline := time.Now().Add(10 * time.Second)
	for status(t, p.base+"/api/tweets/1") != 200 {
		if time.Now().After(deadline) {
			t.Fatal("the database did not answer again within 10 s of the stall's end")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// ...and the old read deadline is past, so that one left armed would have fired by now.
	time.Sleep(time.Until(stalled.Add(timeout + 200*time.Millisecond)))
	for i := range 3 {
		c.send("GET", "/api/tweets/1")
		resp, body := c.response(5 * time.Second)
		if resp.StatusCode != 200 || !strings.Contains(body, "before the stall") {
			t.Fatalf("request %d on the same connection after recovery: %d %s", i+1, resp.StatusCode, body)
		}
	}
}

// A client that declares a body and trickles it a byte at a time is cut once REQUEST_TIMEOUT
// has passed, on every path: with 408 where the body was being read, and by closing the
// connection where the answer came first (the body was never wanted).
func TestTricklingBodiesAreCut(t *testing.T) {
	p := start(t, map[string]string{"DATABASE_URL": testdb.SQLiteURL(t), "REQUEST_TIMEOUT": "300ms"})
	sid := sockettest.From(p.base, "127.0.0.1").PollingSession(t)
	tests := []struct {
		name, target, contentType string
		length                    int // the Content-Length declared
		status                    int // the answer expected, or 0 for none (the connection just closes)
	}{
		{"APICreate", "/api/tweets", "application/json", 1000, 408},
		{"APICreateTooLarge", "/api/tweets", "application/json", 60000, 413},
		{"Healthz", "/healthz", "application/json", 60000, 405},
		{"UnknownRoute", "/nowhere", "application/json", 60000, 404},
		{"PollingPost", "/socket.io/?EIO=3&transport=polling&sid=" + sid, "text/plain;charset=UTF-8", 60000, 408},
		{"PollingPostBogusSid", "/socket.io/?EIO=3&transport=polling&sid=bogus", "text/plain;charset=UTF-8", 60000, 0},
	}
	t.Run("Paths", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				c := dial(t, p.base)
				c.send("POST", tt.target, "Content-Type: "+tt.contentType, fmt.Sprint("Content-Length: ", tt.length))
				stop := make(chan struct{})
				defer close(stop)
				go c.trickle(50*time.Millisecond, stop)
				began := time.Now()
				if tt.status != 0 {
					resp, body := c.response(5 * time.Second)
					if resp.StatusCode != tt.status {
						t.Fatalf("answer %d %s, want %d", resp.StatusCode, body, tt.status)
					}
					if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
						t.Fatalf("answer is %q, not JSON: %s", resp.Header.Get("Content-Type"), body)
					}
				}
				if !c.closedWithin(5 * time.Second) {
					t.Fatal("the connection is still open 5 s after the answer")
				}
				if took := time.Since(began); took > 3*time.Second {
					t.Fatalf("the trickler was held %v, with REQUEST_TIMEOUT 300ms", took)
				}
			})
		}
	})
	t.Run("ServerStillServes", func(t *testing.T) {
		if resp := post(t, p.base, "after the tricklers"); resp.StatusCode != 201 {
			t.Fatalf("create: %d", resp.StatusCode)
		}
	})
}

// A client trickling a body when SIGTERM comes never holds the stop past SHUTDOWN_TIMEOUT, and
// the stop is still a clean one (exit status 0).
func TestShutdownCutsATrickler(t *testing.T) {
	p := start(t, map[string]string{"DATABASE_URL": testdb.SQLiteURL(t), "REQUEST_TIMEOUT": "30s", "SHUTDOWN_TIMEOUT": "1s"})
	c := dial(t, p.base)
	c.send("POST", "/api/tweets", "Content-Type: application/json", "Content-Length: 60000")
	stop := make(chan struct{})
	defer close(stop)
	go c.trickle(50*time.Millisecond, stop)
	time.Sleep(200 * time.Millisecond) // the request is in its handler, reading the body
	began := time.Now()
	if err := p.stop(t); err != nil {
		t.Fatalf("run returned %v; a stop that cut a trickler is still clean", err)
	}
	if took := time.Since(began); took > 3*time.Second {
		t.Fatalf("stopping took %v with SHUTDOWN_TIMEOUT 1s", took)
	}
	if !c.closedWithin(time.Second) {
		t.Fatal("the trickler's connection is still open after the stop")
	}
	if !strings.Contains(p.logs.String(), "connections still open at the shutdown timeout were closed") {
		t.Fatalf("the cut is not logged:\n%s", p.logs)
	}
}
