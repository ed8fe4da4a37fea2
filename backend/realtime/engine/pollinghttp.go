package engine

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"time"

	"github.com/googollee/go-socket.io/engineio/packet"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/httperror"
)

// ServeHTTP answers the client's long-poll GETs and its POSTs.
func (c *pollingConn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		c.serveGet(w, r)
	case http.MethodPost:
		c.servePost(w, r)
	default:
		w.Header().Set("Allow", "GET, POST, OPTIONS")
		httperror.Write(w, chirp.Errorf(chirp.CodeMethodNotAllowed, "%s is not allowed on a polling session", r.Method))
	}
}

var (
	noopPayload  = string(appendPayload(nil, enginePacket{typ: packet.NOOP}.encodeText()))
	closePayload = string(appendPayload(nil, enginePacket{typ: packet.CLOSE}.encodeText()))
)

// gapLocked is how long the next GET may take to come. c.mu must be held.
func (c *pollingConn) gapLocked() time.Duration {
	if !c.answered {
		return c.t.handshakeGrace
	}
	return c.t.pollGap
}

func (c *pollingConn) serveGet(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	if c.getting {
		c.mu.Unlock()
		// One long-poll at a time, as Engine.IO clients do; a second is a confused client.
		httperror.Write(w, chirp.Errorf(chirp.CodeBadRequest, "overlapping GET requests: poll one at a time"))
		return
	}
	c.getting = true
	var body []byte
	handshake := !c.answered
	handshakeDeadline := time.Now().Add(2 * time.Second)
	for body == nil {
		switch {
		case handshake && len(c.queue) == 1 && !c.closed && time.Now().Before(handshakeDeadline):
			// The handshake's answer waits for the namespace's connect packet behind the open
			// packet. The library registers the session between the two, and a client that got
			// its sid earlier could poll (or upgrade) with it first and be told "invalid sid".
			c.waitLocked(handshakeDeadline, r.Context().Done())
			if r.Context().Err() != nil {
				c.getting = false
				c.expectGetLocked(c.gapLocked())
				c.mu.Unlock()
				return
			}
		case len(c.queue) > 0:
			for _, p := range c.queue {
				body = appendPayload(body, p)
			}
			c.queue = c.queue[:0]
		case c.closed && c.retries > 0:
			body = []byte(noopPayload) // upgraded: the client has moved on
		case c.closed:
			body = []byte(closePayload)
		case c.paused:
			body = []byte(noopPayload)
		default:
			if !c.waitLocked(time.Time{}, r.Context().Done()) && r.Context().Err() != nil {
				c.getting = false
				c.expectGetLocked(c.gapLocked())
				c.mu.Unlock()
				return // the client went away; what is queued waits for its next GET
			}
		}
	}
	c.getting = false
	c.expectGetLocked(c.gapLocked())
	c.answered = true
	c.signalLocked() // room in the queue for waiting writers
	c.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	w.Write(body)
}

func (c *pollingConn) servePost(w http.ResponseWriter, r *http.Request) {
	if !c.posting.CompareAndSwap(false, true) {
		httperror.Write(w, chirp.Errorf(chirp.CodeBadRequest, "overlapping POST requests: send one at a time"))
		return
	}
	defer c.posting.Store(false)

	// Every refusal below closes the session (see refused.go), and nothing of the POST
	// reaches the session.
	if media, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); media == "application/octet-stream" {
		c.refuseBadRequest(w, errBinaryFrame)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, c.t.maxPostBytes))
	if err != nil {
		switch _, tooLarge := errors.AsType[*http.MaxBytesError](err); {
		case errors.Is(err, os.ErrDeadlineExceeded): // the HTTP server's body deadline
			w.Header().Set("Connection", "close")
			httperror.Write(w, chirp.Errorf(chirp.CodeRequestTimeout, "the body did not arrive in time; send it whole, promptly"))
		case tooLarge:
			c.refuse(errTooLarge)
			httperror.Write(w, chirp.Errorf(chirp.CodeTooLarge, "%s; the session is closed", errTooLarge))
		default:
			httperror.Write(w, chirp.Errorf(chirp.CodeBadRequest, "the body could not be read"))
		}
		return
	}
	packets, err := decodeTextPayload(string(body))
	if err != nil {
		c.refuseBadRequest(w, errMalformedPayload)
		return
	}
	for _, p := range packets {
		if err := checkClientFrame(p.frame, p.typ, p.data, c.t.checkMessage); err != nil {
			c.refuseBadRequest(w, err)
			return
		}
	}
	for _, p := range packets {
		select {
		case c.incoming <- p:
		case <-c.closedCh:
			httperror.Write(w, chirp.Errorf(chirp.CodeBadRequest, "the session has closed; connect again"))
			return
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "text/html")
	w.Write([]byte("ok"))
}

// refuseBadRequest closes the session for a refused POST and answers it with 400.
func (c *pollingConn) refuseBadRequest(w http.ResponseWriter, err error) {
	c.refuse(err)
	httperror.Write(w, chirp.Errorf(chirp.CodeBadRequest, "%s; the session is closed", err))
}
