package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// bodyDeadline gives every request body, on every path (the API, /healthz, socket.io's polling
// POSTs, unknown routes), timeout to arrive. Without it a client that declares a body and
// trickles it a byte at a time holds its connection and a goroutine for as long as it likes,
// and at shutdown the server waits for it.
//
// The deadline is the connection's read deadline, armed only while a body remains to be read:
// net/http clears it itself when the body reaches its end (as it starts its background read of
// the connection) and between requests, so it never outlives the body. A handler that reads
// the body past the deadline gets an error that satisfies errors.Is(err,
// os.ErrDeadlineExceeded), which it answers with 408; a handler that never reads the body (a
// 404, a 405) answers at once, and net/http's discard of the unread body then meets the same
// deadline and closes the connection. Requests without a body (GETs, websocket upgrades) are
// never touched.
func bodyDeadline(timeout time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		if r := c.Request; r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
			// Errors mean the writer cannot take deadlines (a test recorder): nothing to bound.
			_ = http.NewResponseController(c.Writer).SetReadDeadline(time.Now().Add(timeout))
		}
		c.Next()
	}
}
