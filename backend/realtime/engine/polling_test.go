package engine

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/googollee/go-socket.io/engineio/frame"
	"github.com/googollee/go-socket.io/engineio/packet"
	"github.com/googollee/go-socket.io/engineio/payload"

	"github.com/chirp-social/chirp/backend/internal/testkit"
)

// errAttachments stands for the socket.io side's refusal of a message (CheckMessage).
const errAttachments = Refused("socket.io attachment count")

// refuseAttachments is the CheckMessage of the tests' transports: it refuses a socket.io
// packet with an attachment count ("<type><digits>-"), as the socket.io side does.
func refuseAttachments(data []byte) error {
	if i := bytes.IndexByte(data, '-'); i > 0 && i < len(data) && strings.Trim(string(data[1:i]), "0123456789") == "" {
		return errAttachments
	}
	return nil
}

// newTestConn is a polling transport past its handshake.
func newTestConn(maxQueued int) *pollingConn {
	r := httptest.NewRequest("GET", "/socket.io/?EIO=3&transport=polling", nil)
	c := newPollingConn(&pollingTransport{maxQueued: maxQueued, maxPostBytes: 1 << 10, checkMessage: refuseAttachments}, r)
	c.answered = true
	return c
}

func post(c *pollingConn, body string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/socket.io/?EIO=3&transport=polling&sid=x", strings.NewReader(body))
	r.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	c.ServeHTTP(w, r)
	return w
}

// get runs a long-poll GET in the background; the result arrives on the channel.
func get(c *pollingConn, ctx context.Context) chan *httptest.ResponseRecorder {
	out := make(chan *httptest.ResponseRecorder, 1)
	go func() {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/socket.io/?EIO=3&transport=polling&sid=x", nil).WithContext(ctx)
		c.ServeHTTP(w, r)
		out <- w
	}()
	return out
}

func write(t *testing.T, c *pollingConn, pt packet.Type, data string) error {
	t.Helper()
	w, err := c.NextWriter(frame.String, pt)
	if err != nil {
		return err
	}
	io.WriteString(w, data)
	return w.Close()
}

func TestPollingDeliversQueuedPacketsInOrder(t *testing.T) {
	c := newTestConn(8)
	c.answered = false
	if err := write(t, c, packet.OPEN, `{"sid":"x"}`); err != nil {
		t.Fatal(err)
	}
	// The handshake is answered only with the connect packet too: the library registers the
	// session between writing the two, and the client must not learn its sid before that.
	handshake := get(c, context.Background())
	select {
	case w := <-handshake:
		t.Fatalf("handshake answered before the connect packet: %q", w.Body.String())
	case <-time.After(50 * time.Millisecond):
	}
	if err := write(t, c, packet.MESSAGE, "0"); err != nil {
		t.Fatal(err)
	}
	w := testkit.Recv(t, handshake, "GET answered")
	if w.Body.String() != `12:0{"sid":"x"}2:40` || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("GET gave %q (%s)", w.Body.String(), w.Header().Get("Content-Type"))
	}
	// The next GET waits for the next packet.
	next := get(c, context.Background())
	select {
	case w := <-next:
		t.Fatalf("GET answered with nothing to send: %q", w.Body.String())
	case <-time.After(50 * time.Millisecond):
	}
	write(t, c, packet.PONG, "")
	if w := testkit.Recv(t, next, "GET wakes for a packet"); w.Body.String() != "1:3" {
		t.Fatalf("got %q", w.Body.String())
	}
}

// TestPostsAreReadDuringUpgrade is the reason this transport exists: the library's answered
// "400 payload: paused" here and the client's message was lost.
func TestPostsAreReadDuringUpgrade(t *testing.T) {
	c := newTestConn(8)
	waiting := get(c, context.Background())
	time.Sleep(20 * time.Millisecond)
	c.Pause()
	if w := testkit.Recv(t, waiting, "the waiting GET is released by the pause"); w.Body.String() != "1:6" {
		t.Fatalf("paused GET gave %q, want a noop", w.Body.String())
	}
	read := make(chan string, 1)
	go func() {
		_, pt, r, err := c.NextReader()
		if err != nil {
			read <- err.Error()
			return
		}
		b, _ := io.ReadAll(r)
		r.Close()
		read <- pt.String() + " " + string(b)
	}()
	if w := post(c, `19:42["newTweet",true]`); w.Code != 200 || w.Body.String() != "ok" {
		t.Fatalf("POST during the upgrade: %d %q", w.Code, w.Body.String())
	}
	if got := testkit.Recv(t, read, "the reader gets the POSTed packet"); got != `message 2["newTweet",true]` {
		t.Fatalf("read %q", got)
	}
}

func TestWritersWaitForTheNewTransport(t *testing.T) {
	c := newTestConn(8)
	c.Pause()
	result := make(chan error, 1)
	go func() { result <- write(t, c, packet.MESSAGE, "2[\"newTweet\",true]") }()
	select {
	case err := <-result:
		t.Fatalf("a write went to a paused transport: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	// The upgrade succeeds: the session closes the old transport; the writer must be told to
	// retry (on the new one), not that the connection failed.
	c.Close()
	err := testkit.Recv(t, result, "the blocked writer is released")
	var retry payload.Error
	if !errors.As(err, &retry) || !retry.Temporary() {
		t.Fatalf("blocked writer got %v, want a temporary error", err)
	}
	_, _, _, err = c.NextReader()
	if !errors.As(err, &retry) || !retry.Temporary() {
		t.Fatalf("reader got %v, want a temporary error", err)
	}
	// The retries are bounded, so a close that was not an upgrade cannot spin a caller.
	for range retriesAfterUpgrade {
		c.NextReader()
	}
	if _, _, _, err := c.NextReader(); !errors.Is(err, errClosed) {
		t.Fatalf("after the retries: %v", err)
	}
}

// A ping read during the pause is answered without waiting, or the reader (and the client's
// POST, and so its switch) would wait for the switch.
func TestPongDuringUpgradeDoesNotWait(t *testing.T) {
	c := newTestConn(8)
	c.Pause()
	result := make(chan error, 1)
	go func() { result <- write(t, c, packet.PONG, "") }()
	if err := testkit.Recv(t, result, "the pong is written"); err != nil {
		t.Fatal(err)
	}
	c.Resume()
	if w := testkit.Recv(t, get(c, context.Background()), "GET after a failed upgrade"); w.Body.String() != "1:3" {
		t.Fatalf("got %q", w.Body.String())
	}
}

func TestResumeAfterFailedUpgrade(t *testing.T) {
	c := newTestConn(8)
	c.Pause()
	result := make(chan error, 1)
	go func() { result <- write(t, c, packet.MESSAGE, "x") }()
	time.Sleep(20 * time.Millisecond)
	c.Resume()
	if err := testkit.Recv(t, result, "the writer goes on"); err != nil {
		t.Fatal(err)
	}
	if w := testkit.Recv(t, get(c, context.Background()), "GET"); w.Body.String() != "2:4x" {
		t.Fatalf("got %q", w.Body.String())
	}
}

func TestFullQueueWaitsUntilTheWriteDeadline(t *testing.T) {
	c := newTestConn(2)
	write(t, c, packet.MESSAGE, "a")
	write(t, c, packet.MESSAGE, "b")
	c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	start := time.Now()
	_, err := c.NextWriter(frame.String, packet.MESSAGE)
	if !errors.Is(err, errTimeout) || time.Since(start) < 90*time.Millisecond {
		t.Fatalf("full queue: %v after %v", err, time.Since(start))
	}
	// A GET drains the queue and makes room.
	testkit.Recv(t, get(c, context.Background()), "GET")
	c.SetWriteDeadline(time.Time{})
	if err := write(t, c, packet.MESSAGE, "c"); err != nil {
		t.Fatal(err)
	}
}

func TestReadDeadlineEndsASilentClient(t *testing.T) {
	c := newTestConn(2)
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, _, _, err := c.NextReader()
	var temp payload.Error
	if !errors.Is(err, errTimeout) || (errors.As(err, &temp) && temp.Temporary()) {
		t.Fatalf("got %v, want a final timeout", err)
	}
}

func TestClosedSessionAnswersGETWithClose(t *testing.T) {
	c := newTestConn(2)
	waiting := get(c, context.Background())
	time.Sleep(20 * time.Millisecond)
	c.Close()
	if w := testkit.Recv(t, waiting, "GET released"); w.Body.String() != "1:1" {
		t.Fatalf("got %q, want a close packet", w.Body.String())
	}
}

// A POST the transport refuses is answered 400 and closes the session: nothing of it reaches
// the session, whose reader gets the refusal (not a retry), and the next GET gets a close
// packet.
func TestPollingRefusesAndCloses(t *testing.T) {
	tests := []struct {
		name, contentType, body string
		want                    error
		status                  int
	}{
		{"BinaryBody", "application/octet-stream", "\x00\x01\xff4x", errBinaryFrame, http.StatusBadRequest},
		{"BinaryPacket", "text/plain", "6:b4AAH/", errBinaryFrame, http.StatusBadRequest},
		{"Malformed", "text/plain", "5:4a", errMalformedPayload, http.StatusBadRequest},
		{"LengthPastTheBody", "text/plain", "9999999999:4", errMalformedPayload, http.StatusBadRequest},
		{"TooLarge", "text/plain", "2000:4" + strings.Repeat("x", 1999), errTooLarge, http.StatusRequestEntityTooLarge},
		{"AttachmentCount", "text/plain;charset=UTF-8", `25:459999999999-["newTweet"]`, errAttachments, http.StatusBadRequest},
		// A good packet first changes nothing: the whole POST is refused.
		{"AfterAGoodPacket", "text/plain", `19:42["newTweet",true]13:4412345-["x"]`, errAttachments, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestConn(2)
			w := httptest.NewRecorder()
			r := httptest.NewRequest("POST", "/socket.io/?EIO=3&transport=polling&sid=x", strings.NewReader(tt.body))
			r.Header.Set("Content-Type", tt.contentType)
			c.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("%d %q, want %d", w.Code, w.Body.String(), tt.status)
			}
			if _, _, _, err := c.NextReader(); !errors.Is(err, tt.want) {
				t.Fatalf("reader got %v, want %v", err, tt.want)
			}
			if w := testkit.Recv(t, get(c, context.Background()), "GET after the refusal"); w.Body.String() != "1:1" {
				t.Fatalf("GET gave %q, want a close packet", w.Body.String())
			}
		})
	}
	// Refused during an upgrade, the session still ends: no retry on the new transport.
	t.Run("DuringUpgrade", func(t *testing.T) {
		c := newTestConn(2)
		c.Pause()
		if w := post(c, `25:459999999999-["newTweet"]`); w.Code != http.StatusBadRequest {
			t.Fatalf("%d %q", w.Code, w.Body.String())
		}
		if _, _, _, err := c.NextReader(); !errors.Is(err, errAttachments) {
			t.Fatalf("reader got %v", err)
		}
	})
}

func TestPollingRejectsOverlappingGET(t *testing.T) {
	c := newTestConn(2)
	ctx, cancel := context.WithCancel(context.Background())
	first := get(c, ctx)
	time.Sleep(20 * time.Millisecond)
	if w := testkit.Recv(t, get(c, context.Background()), "second GET"); w.Code != http.StatusBadRequest {
		t.Fatalf("second GET: %d", w.Code)
	}
	cancel()
	testkit.Recv(t, first, "first GET ends with its client")
}

// A session whose client stops polling is closed a gap after its last GET; a GET waiting is
// polling, and so is an upgrade under way (the client stops polling for it).
func TestAClientThatStopsPollingIsClosed(t *testing.T) {
	const gap = 100 * time.Millisecond
	newConn := func() *pollingConn {
		c := newTestConn(8)
		c.t.handshakeGrace, c.t.pollGap = gap, gap
		return c
	}

	t.Run("StopsAfterAGET", func(t *testing.T) {
		c := newConn()
		write(t, c, packet.MESSAGE, "x")
		testkit.Recv(t, get(c, context.Background()), "GET")
		testkit.Closed(t, c.closedCh, "the close")
		if _, _, _, err := c.NextReader(); !errors.Is(err, errStoppedPolling) {
			t.Fatalf("the session's reader got %v", err)
		}
	})
	t.Run("AWaitingGETIsPolling", func(t *testing.T) {
		c := newConn()
		write(t, c, packet.MESSAGE, "x")
		testkit.Recv(t, get(c, context.Background()), "GET")
		ctx, cancel := context.WithCancel(context.Background())
		held := get(c, ctx)
		time.Sleep(4 * gap)
		if c.isClosed() {
			t.Fatal("closed while a GET waited")
		}
		cancel()
		testkit.Recv(t, held, "the GET's end")
		testkit.Closed(t, c.closedCh, "the close after the GET left")
	})
	t.Run("AnUpgradeDefersIt", func(t *testing.T) {
		c := newConn()
		write(t, c, packet.MESSAGE, "x")
		testkit.Recv(t, get(c, context.Background()), "GET")
		c.Pause()
		time.Sleep(4 * gap)
		if c.isClosed() {
			t.Fatal("closed during an upgrade")
		}
		c.Resume() // the upgrade failed, and the client does not poll again
		testkit.Closed(t, c.closedCh, "the close after the failed upgrade")
	})
}

func (c *pollingConn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}
