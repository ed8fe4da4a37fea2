package httpapi

import (
	"log/slog"
	"math"
	"net/netip"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/clientaddr"
	"github.com/chirp-social/chirp/backend/limitlog"
	"github.com/chirp-social/chirp/backend/ratelimit"
)

const clientKey = "client"

// clientAddress decides the request's client address once (clientaddr's rule, which Gin's
// ClientIP follows too) for the limits and the access log, and warns the first time a proxy
// that is not trusted forwards a request.
func clientAddress(clients *clientaddr.Resolver, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		clients.WarnUntrusted(c.Request, log)
		c.Set(clientKey, clients.Addr(c.Request))
		c.Next()
	}
}

// clientOf is the address clientAddress decided.
func clientOf(c *gin.Context) netip.Addr {
	a, _ := c.Value(clientKey).(netip.Addr)
	return a
}

// limitWrites spends a token of the client's write budget (its address; an IPv6 client's /64)
// and answers 429 with Retry-After when there is none. Only the API's writes pass through it:
// reads, and the socket server's polling POSTs, never do.
func limitWrites(limit *ratelimit.Limiter, bites *limitlog.Log, errs errorWriter) gin.HandlerFunc {
	return func(c *gin.Context) {
		key := clientaddr.Key(clientOf(c))
		ok, wait := limit.Allow(key)
		if ok {
			c.Next()
			return
		}
		secs := max(1, int(math.Ceil(wait.Seconds())))
		bites.Bit("writes", key, slog.Int("per_minute", limit.PerMinute()), slog.Int("burst", limit.Burst()),
			slog.String("method", c.Request.Method), slog.String("path", c.Request.URL.Path))
		c.Header("Retry-After", strconv.Itoa(secs))
		errs.write(c, chirp.Errorf(chirp.CodeRateLimited,
			"too many changes from your address: try again in %d s", secs))
	}
}
