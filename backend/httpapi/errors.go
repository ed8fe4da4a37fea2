package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/httperror"
	"github.com/chirp-social/chirp/backend/outage"
)

// StatusClientClosed is the status the access log and the metrics give a request whose client
// went away before its answer was ready (nginx's 499): nothing is answered to it.
const StatusClientClosed = httperror.StatusClientClosed

// errorWriter is the one place that answers errors: it turns a code into a status and a JSON
// body, and logs what an operator needs to see.
type errorWriter struct {
	log *slog.Logger
	// outages hears of every 503 (the database is away) in place of a record per request,
	// and of every success, which ends an outage.
	outages *outage.Log
}

// write answers with err as JSON and stops the request. Errors that are not the product's own
// are logged with the request id and answered with a generic message: a client never sees a
// driver error, SQL or a stack trace.
func (w errorWriter) write(c *gin.Context, err error) {
	if clientClosed(c, err) {
		// No one is left to answer, and the database did nothing wrong: neither the outage
		// log nor a 503 should hear of it.
		c.Abort()
		c.Status(StatusClientClosed)
		return
	}
	var e *chirp.Error
	if !errors.As(err, &e) {
		if errors.Is(err, context.DeadlineExceeded) {
			e = chirp.Unavailable(err)
		} else {
			e = &chirp.Error{Code: chirp.CodeInternal, Message: "something went wrong on our side", Cause: err}
		}
	}
	status := httperror.Status(e.Code)
	switch status {
	case http.StatusInternalServerError:
		w.log.LogAttrs(c.Request.Context(), slog.LevelError, "request failed",
			slog.String("request_id", c.GetString(requestIDKey)), slog.String("error", err.Error()))
	case http.StatusServiceUnavailable:
		// During an outage every request fails alike: the outage log says so once, then
		// in summaries, rather than once per request.
		w.outages.Failed(err)
	case http.StatusUnauthorized:
		c.Header("WWW-Authenticate", `Bearer realm="chirp"`)
	case http.StatusRequestTimeout:
		// The rest of the body is not coming in time; the connection cannot carry another
		// request.
		c.Header("Connection", "close")
	}
	body := httperror.BodyOf(e)
	if c.Writer.Written() {
		// The status line is gone already (a panic after the answer began); all that can be
		// done is to stop.
		c.Abort()
		return
	}
	c.Abort()
	c.PureJSON(status, body)
}

// clientClosed reports whether err is what became of a request whose client went away: net/http
// cancels a request's context when its connection closes, while REQUEST_TIMEOUT ends it with
// a deadline (DeadlineExceeded), which is a database too slow to answer in time. An answer
// decided on its own (a 404, a 422) is still the answer, even to a client gone.
func clientClosed(c *gin.Context, err error) bool {
	if !errors.Is(c.Request.Context().Err(), context.Canceled) {
		return false
	}
	return errors.Is(err, context.Canceled) || chirp.ErrorCode(err) == chirp.CodeUnavailable
}

// notReady answers /readyz with 503 for a part other than the database (the event bus): that
// part logs its own outage, so this one does not go to the database's outage log.
func (w errorWriter) notReady(c *gin.Context, cause error) {
	c.Abort()
	c.PureJSON(http.StatusServiceUnavailable, httperror.BodyOf(&chirp.Error{Code: chirp.CodeUnavailable, Message: "not ready: " + cause.Error()}))
}
