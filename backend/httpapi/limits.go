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
		if err := spend(c, limit, bites, "writes", key, "too many changes from your address"); err != nil {
			errs.write(c, err)
			return
		}
		c.Next()
	}
}

// spend takes a token of key's budget in limit, or returns the 429 to answer (Retry-After set,
// the bite logged under name); why begins the message.
func spend(c *gin.Context, limit *ratelimit.Limiter, bites *limitlog.Log, name, key, why string) error {
	ok, wait := limit.Allow(key)
	if ok {
		return nil
	}
	secs := max(1, int(math.Ceil(wait.Seconds())))
	bites.Bit(name, key, slog.Int("per_minute", limit.PerMinute()), slog.Int("per_hour", limit.PerHour()),
		slog.Int("burst", limit.Burst()), slog.String("method", c.Request.Method), slog.String("path", c.Request.URL.Path))
	c.Header("Retry-After", strconv.Itoa(secs))
	return chirp.Errorf(chirp.CodeRateLimited, "%s: try again in %d s", why, secs)
}
