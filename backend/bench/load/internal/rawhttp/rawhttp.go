// Package rawhttp is a lean HTTP/1.1 keep-alive client: one connection, requests built once
// as bytes, a write and a buffered read per request, as wrk does. On a 2-core machine the
// load tool shares the cores with the server it measures, and Go's net/http client spends
// several times more CPU per request, which would be taken from the server.
package rawhttp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// MaxBody bounds a response body kept in memory by Fetch.
const MaxBody = 1 << 20

var (
	// ErrMalformed is a response that is not HTTP/1.x as this client reads it.
	ErrMalformed = errors.New("malformed HTTP response")
	// ErrBodyTooLarge is a body over MaxBody.
	ErrBodyTooLarge = errors.New("response body over 1 MiB")
)

// Get is a GET request for pathQuery on host.
func Get(host, pathQuery string) []byte {
	return fmt.Appendf(nil, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", pathQuery, host)
}

// PostJSON is a POST of a JSON body to path on host.
func PostJSON(host, path, body string) []byte {
	return Post(host, path, "application/json", []byte(body))
}

// Post is a POST of body, of the given media type, to pathQuery on host.
func Post(host, pathQuery, contentType string, body []byte) []byte {
	req := fmt.Appendf(nil, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		pathQuery, host, contentType, len(body))
	return append(req, body...)
}

// Conn is one keep-alive connection to addr, dialled on first use and again after the server
// closes it. One goroutine uses a Conn at a time.
type Conn struct {
	addr string
	mu   sync.Mutex // guards c's changes against Abort, which another goroutine may call
	c    net.Conn
	gone bool // aborted: no more dials
	br   *bufio.Reader
	bw   *bufio.Writer
	// Reused says whether the last request went out on a connection an earlier one had
	// opened: only then may a failure be a kept-alive connection the server had closed.
	Reused bool
}

// New is a connection to addr (host:port), not dialled yet.
func New(addr string) *Conn { return &Conn{addr: addr} }

// Close closes the connection, if open.
func (c *Conn) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c != nil {
		c.c.Close()
		c.c = nil
	}
}

// Abort closes the connection from any goroutine, ending a request in flight (a long poll),
// and keeps it from dialling again.
func (c *Conn) Abort() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gone = true
	if c.c != nil {
		c.c.Close()
	}
}

var errAborted = errors.New("connection aborted")

// Do sends req and reads the whole response, discarding its body; it returns the status.
func (c *Conn) Do(req []byte, timeout time.Duration) (int, error) {
	return c.roundTrip(req, timeout, nil)
}

// Fetch is Do keeping the body, appended to buf[:0] (at most MaxBody bytes).
func (c *Conn) Fetch(req []byte, timeout time.Duration, buf []byte) (int, []byte, error) {
	b := &body{buf: buf[:0]}
	status, err := c.roundTrip(req, timeout, b)
	return status, b.buf, err
}

// body collects a response body; a nil *body discards it.
type body struct{ buf []byte }

func (b *body) Write(p []byte) (int, error) {
	if len(b.buf)+len(p) > MaxBody {
		return 0, ErrBodyTooLarge
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (c *Conn) roundTrip(req []byte, timeout time.Duration, b *body) (int, error) {
	c.Reused = c.c != nil
	if c.c == nil {
		nc, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
		if err != nil {
			return 0, err
		}
		c.mu.Lock()
		if c.gone {
			c.mu.Unlock()
			nc.Close()
			return 0, errAborted
		}
		c.c, c.br, c.bw = nc, bufio.NewReaderSize(nc, 16<<10), bufio.NewWriterSize(nc, 4<<10)
		c.mu.Unlock()
	}
	_ = c.c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.bw.Write(req); err != nil {
		c.Close()
		return 0, err
	}
	if err := c.bw.Flush(); err != nil {
		c.Close()
		return 0, err
	}
	status, keep, err := c.readResponse(b)
	if err != nil || !keep {
		c.Close()
	}
	return status, err
}

func (c *Conn) readResponse(b *body) (status int, keep bool, err error) {
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	// "HTTP/1.1 200 OK": HTTP/1.0 closes unless it says keep-alive.
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, false, ErrMalformed
	}
	if status, err = strconv.Atoi(string(line[9:12])); err != nil {
		return 0, false, ErrMalformed
	}
	keep = line[7] == '1'
	length, chunked := int64(-1), false
	for {
		h, err := c.br.ReadSlice('\n')
		if err != nil {
			return 0, false, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		name, val, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			return 0, false, ErrMalformed
		}
		val = bytes.TrimSpace(val)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.ParseInt(string(val), 10, 64); err != nil || length < 0 {
				return 0, false, ErrMalformed
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.Contains(bytes.ToLower(val), []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(val, []byte("close")) {
				keep = false
			} else if bytes.EqualFold(val, []byte("keep-alive")) {
				keep = true
			}
		}
	}
	switch {
	case status == 204 || status == 304 || status < 200:
		return status, keep, nil
	case chunked:
		return status, keep, c.readChunks(b)
	case length >= 0:
		return status, keep, c.readBody(length, b)
	}
	// No length: the body runs until the server closes.
	var w io.Writer = io.Discard
	if b != nil {
		w = b
	}
	_, err = io.Copy(w, c.br)
	return status, false, err
}

func (c *Conn) readChunks(b *body) error {
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		size, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
		if err != nil || n < 0 {
			return ErrMalformed
		}
		if n == 0 {
			return c.skipTrailers()
		}
		if err := c.readBody(n, b); err != nil {
			return err
		}
		if _, err := c.br.Discard(2); err != nil { // the CRLF after each chunk
			return err
		}
	}
}

func (c *Conn) skipTrailers() error {
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return nil
		}
	}
}

// readBody reads n bytes of body into b, or discards them when b is nil.
func (c *Conn) readBody(n int64, b *body) error {
	if b == nil {
		_, err := c.br.Discard(int(n))
		return err
	}
	if int64(len(b.buf))+n > MaxBody {
		return ErrBodyTooLarge
	}
	_, err := io.CopyN(b, c.br, n)
	return err
}
