package rawhttp_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend/bench/load/internal/rawhttp"
)

// One connection through a sequence of responses of every framing the client reads; each
// step's body must come back whole and the connection must survive (or be reopened after a
// Connection: close).
func TestConnReadsEveryFraming(t *testing.T) {
	big := strings.Repeat("x", 10000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked": // no Content-Length and several flushes: net/http answers chunked
			for range 3 {
				fmt.Fprint(w, big)
				w.(http.Flusher).Flush()
			}
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/close":
			w.Header().Set("Connection", "close")
			fmt.Fprint(w, "bye")
		case "/post":
			b, _ := io.ReadAll(r.Body)
			if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || string(b) != `{"a":1}` {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, `{"id":1}`)
		case "/big":
			fmt.Fprint(w, strings.Repeat("z", rawhttp.MaxBody+1))
		default:
			fmt.Fprint(w, "[]")
		}
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	c := rawhttp.New(host)
	defer c.Close()
	steps := []struct {
		name       string
		req        []byte
		wantStatus int
		wantBody   string
		wantReused bool
	}{
		{"ContentLength", rawhttp.Get(host, "/api/tweets?limit=20"), 200, "[]", false},
		{"Chunked", rawhttp.Get(host, "/chunked"), 200, big + big + big, true},
		{"NoContent", rawhttp.Get(host, "/empty"), 204, "", true},
		{"Post", rawhttp.PostJSON(host, "/post", `{"a":1}`), 201, `{"id":1}`, true},
		{"ConnectionClose", rawhttp.Get(host, "/close"), 200, "bye", true},
		{"ReopenedAfterClose", rawhttp.Get(host, "/"), 200, "[]", false},
	}
	var buf []byte
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			status, body, err := c.Fetch(s.req, 5*time.Second, buf)
			buf = body
			if err != nil || status != s.wantStatus || string(body) != s.wantBody || c.Reused != s.wantReused {
				t.Fatalf("status %d, %d bytes, reused %v, err %v; want %d, %d bytes, reused %v",
					status, len(body), c.Reused, err, s.wantStatus, len(s.wantBody), s.wantReused)
			}
		})
	}
	t.Run("DoDiscards", func(t *testing.T) {
		if status, err := c.Do(rawhttp.Get(host, "/chunked"), 5*time.Second); err != nil || status != 200 {
			t.Fatalf("Do = %d, %v", status, err)
		}
	})
	t.Run("BodyTooLarge", func(t *testing.T) {
		if _, _, err := c.Fetch(rawhttp.Get(host, "/big"), 5*time.Second, nil); !errors.Is(err, rawhttp.ErrBodyTooLarge) {
			t.Fatalf("Fetch of a body over MaxBody: err %v, want ErrBodyTooLarge", err)
		}
	})
}

// Answers that are not HTTP as the client reads it end in an error, not a made-up status.
func TestConnRefusesMalformedResponses(t *testing.T) {
	cases := []struct {
		name, answer string
	}{
		{"NotHTTP", "SSH-2.0-OpenSSH\r\n\r\n"},
		{"BadStatus", "HTTP/1.1 2x0 OK\r\n\r\n"},
		{"HeaderWithoutColon", "HTTP/1.1 200 OK\r\nbroken\r\n\r\n"},
		{"BadChunkSize", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"},
		{"NegativeLength", "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				defer conn.Close()
				buf := make([]byte, 4096)
				_, _ = conn.Read(buf)
				_, _ = io.WriteString(conn, c.answer)
			}()
			conn := rawhttp.New(ln.Addr().String())
			defer conn.Close()
			if status, err := conn.Do(rawhttp.Get("x", "/"), 2*time.Second); err == nil {
				t.Fatalf("Do = %d, nil; want an error", status)
			}
		})
	}
}

// Abort from another goroutine ends a request waiting on a server that does not answer (a
// long poll), and the connection dials no more.
func TestAbortEndsARequestInFlight(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close() // holds every request unanswered
		}
	}()
	c := rawhttp.New(ln.Addr().String())
	ended := make(chan error, 1)
	go func() {
		_, err := c.Do(rawhttp.Get("x", "/poll"), 30*time.Second)
		ended <- err
	}()
	time.Sleep(100 * time.Millisecond)
	c.Abort()
	select {
	case err := <-ended:
		if err == nil {
			t.Fatal("the aborted request succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the request did not end within 5 s of Abort")
	}
	if _, err := c.Do(rawhttp.Get("x", "/"), time.Second); err == nil {
		t.Fatal("an aborted connection sent another request")
	}
}
