package httpapi

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gin-contrib/cors"
	"github.com/gin-gonic/gin"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/origins"
)

const requestIDKey = "request_id"

// requestID gives every request an id, taken from a sane X-Request-ID header (so a proxy's id
// carries through) or made here, and echoes it in the response.
func requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader("X-Request-ID")
		if !saneRequestID(id) {
			var b [12]byte
			_, _ = rand.Read(b[:]) // never fails on Linux; a zero id would still be unique enough to log
			id = hex.EncodeToString(b[:])
		}
		c.Set(requestIDKey, id)
		c.Header("X-Request-ID", id)
		c.Next()
	}
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:", r)
		if !ok {
			return false
		}
	}
	return true
}

// accessLog writes one structured record per request.
func accessLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		status := c.Writer.Status()
		level := slog.LevelInfo
		switch {
		case status == StatusClientClosed:
			level = slog.LevelDebug // the client left: nothing went wrong here
		case status == http.StatusServiceUnavailable:
			level = slog.LevelWarn // a dependency is away: the outage log says why, once
		case status >= 500:
			level = slog.LevelError
		case strings.HasPrefix(c.Request.URL.Path, "/socket.io/"):
			level = slog.LevelDebug // every long-poll is a request: too many to log by default
		}
		log.LogAttrs(c.Request.Context(), level, "request",
			slog.String("method", c.Request.Method),
			slog.String("path", c.Request.URL.Path),
			slog.Int("status", status),
			slog.Duration("duration", time.Since(start)),
			slog.String("request_id", c.GetString(requestIDKey)),
			slog.String("client", clientOf(c).String()),
		)
	}
}

// observeRequests tells obs of every request once it is answered, by its route template.
func observeRequests(obs RequestObserver) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		var upgrade *hijackWatch
		if c.GetHeader("Upgrade") != "" {
			// An accepted websocket upgrade answers 101 on the hijacked connection, which Gin
			// never sees: it would report its default 200.
			upgrade = &hijackWatch{ResponseWriter: c.Writer}
			c.Writer = upgrade
		}
		c.Next()
		status := c.Writer.Status()
		if upgrade != nil && upgrade.hijacked {
			status = http.StatusSwitchingProtocols
		}
		obs.Request(c.FullPath(), c.Request.Method, status, time.Since(start))
	}
}

// hijackWatch notes whether the connection was taken over (a websocket upgrade).
type hijackWatch struct {
	gin.ResponseWriter
	hijacked bool
}

func (w *hijackWatch) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.hijacked = true
	return w.ResponseWriter.Hijack()
}

// Unwrap lets http.ResponseController reach the connection (write deadlines) through it.
func (w *hijackWatch) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// responseHeaders sets what every answer carries: nosniff (an answer is only ever what its
// Content-Type says), and on /api no-store, since answers there are per-request facts (the
// 201 of a create holds the one copy of its edit token) that no cache should keep. The one
// exception is the API's own description (/api/openapi.json), which serveSpec marks cacheable.
func responseHeaders() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		if isAPI(c.Request.URL.Path) {
			h.Set("Cache-Control", "no-store")
		}
		c.Next()
	}
}

// recoverPanics turns a panic in a handler into a logged JSON 500; the server keeps serving.
func recoverPanics(log *slog.Logger, errs errorWriter) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if rec == http.ErrAbortHandler { //nolint:errorlint // a sentinel panic value, compared as net/http does
				panic(rec) // net/http's way to abort a response on purpose
			}
			log.Error("panic in handler", "request_id", c.GetString(requestIDKey),
				"panic", fmt.Sprint(rec), "stack", string(debug.Stack()))
			errs.write(c, chirp.Errorf(chirp.CodeInternal, "something went wrong on our side"))
		}()
		c.Next()
	}
}

func isAPI(path string) bool { return path == "/api" || strings.HasPrefix(path, "/api/") }

// apiCORS applies gin-contrib/cors to /api. With "*" any origin may call the API (without
// credentials: it authenticates by header, not cookie). With a list, a foreign origin's
// preflight is refused with 403 and its other requests get no CORS headers, so the browser
// keeps the answer from the page while clients without a browser are unaffected.
func apiCORS(allowed []string, errs errorWriter) gin.HandlerFunc {
	policy := origins.New(allowed)
	cfg := cors.Config{
		AllowMethods:  []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete},
		AllowHeaders:  []string{"Content-Type", "Authorization", "Idempotency-Key", "X-Request-ID"},
		ExposeHeaders: []string{"Location", "Link", "X-Request-ID", "Retry-After"},
		MaxAge:        10 * time.Minute,
	}
	if policy.Any() {
		cfg.AllowAllOrigins = true
	} else {
		cfg.AllowOrigins = policy.List()
	}
	handle := cors.New(cfg)
	return func(c *gin.Context) {
		if !isAPI(c.Request.URL.Path) {
			c.Next()
			return
		}
		if !policy.Any() {
			// With a list, every answer depends on the Origin (refused ones included, and
			// those without one), so a shared cache must key on it. gin-contrib/cors replaces
			// this with its own Vary, which names Origin too, where it answers.
			c.Header("Vary", "Origin")
		}
		origin := c.GetHeader("Origin")
		if !policy.Allows(origin) {
			if c.Request.Method == http.MethodOptions && c.GetHeader("Access-Control-Request-Method") != "" {
				errs.write(c, chirp.Errorf(chirp.CodeForbidden, "origin %s may not call this API", origin))
				return
			}
			c.Next()
			return
		}
		handle(c)
	}
}

// apiDeadline bounds each /api request by timeout: its context, which reaches every database
// call, and the writing of its answer. Only /api: socket paths live longer, and
// http.TimeoutHandler would break websocket upgrades.
//
// No read deadline is armed here: while a handler works, net/http reads the connection in the
// background (to notice a client that goes away), and a read deadline that fires there cancels
// the connection's base context for good, failing every later request on that kept-alive
// connection at once. The body's own deadline is bodyDeadline's.
func apiDeadline(timeout time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !isAPI(c.Request.URL.Path) {
			c.Next()
			return
		}
		deadline := time.Now().Add(timeout)
		// The answer itself gets a moment past the deadline, so a timed-out request can
		// still say 503. net/http clears a write deadline when the request ends, so the next
		// request on the connection (perhaps a websocket upgrade) starts without it. Errors
		// mean the writer cannot take deadlines (a test recorder): nothing to bound then.
		_ = http.NewResponseController(c.Writer).SetWriteDeadline(deadline.Add(2 * time.Second))
		ctx, cancel := context.WithDeadline(c.Request.Context(), deadline)
		defer cancel()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}
