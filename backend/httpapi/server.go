// Package httpapi is Chirp's HTTP interface on Gin: the tweet API under /api, health checks,
// the middleware every request passes through, and the one table from the product's error
// codes to HTTP statuses.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/clientaddr"
	"github.com/chirp-social/chirp/backend/limitlog"
	"github.com/chirp-social/chirp/backend/outage"
	"github.com/chirp-social/chirp/backend/ratelimit"
)

// Config is what the HTTP layer needs from the rest of the program.
type Config struct {
	Store chirp.TweetStore
	// Announcer is told about every committed change; nil announces nothing.
	Announcer chirp.Announcer
	Logger    *slog.Logger
	// AllowedOrigins are the browser origins that may call /api; "*" (or none) allows any.
	AllowedOrigins []string
	// RequestTimeout bounds each /api request, down to its database calls, and the reading of
	// every request body, on every path.
	RequestTimeout time.Duration
	// Realtime, when set, serves everything under /socket.io/ (the socket server and its
	// client script) on the API's port.
	Realtime http.Handler
	// Connections, when set, reports live socket connections in /healthz.
	Connections func() int
	// Clients decides each request's client address (TRUSTED_PROXIES); nil trusts no proxy.
	Clients *clientaddr.Resolver
	// WriteLimit is each client's budget of POST, PATCH and DELETE under /api; nil is none.
	WriteLimit *ratelimit.Limiter
	// Bites logs the limits' refusals; nil makes one on Logger.
	Bites *limitlog.Log
	// Sessions, when set, reports open socket sessions in /healthz: the connections and the
	// handshakes not connected yet, the number SOCKET_MAX_TOTAL caps.
	Sessions func() int
	// SocketsFull, when set, reports in /readyz whether the socket server is full
	// (SOCKET_MAX_TOTAL). It does not make the process unready: its connected clients and the
	// API are served as ever, and a health check that took it out of a balancer would move
	// them all.
	SocketsFull func() bool
	// Ready, when set, is asked by /readyz after the database: a process whose event bus is
	// down does not hear the others, and a balancer should send new clients elsewhere.
	Ready func() error
	// Requests is told of every answered request, for metrics; nil tells no one.
	Requests RequestObserver

	// Accounts stores accounts, sessions and passkeys; nil serves no account routes, and every
	// tweet is then a guest's. Passwords must be set with it.
	Accounts  chirp.AccountStore
	Passwords Passwords
	// SessionMaxIdle is how long a session lasts since its last use (SESSION_MAX_IDLE);
	// 0 is 30 days.
	SessionMaxIdle time.Duration
	// SignedInPostsOnly refuses guests' posts with 401 (GUEST_POSTS=false).
	SignedInPostsOnly bool
	// SignInLimit is each client address's budget of sign-in attempts, SignInAccountLimit
	// each handle's from any address; nil is none.
	SignInLimit, SignInAccountLimit *ratelimit.Limiter
	// Passkeys runs the passkey ceremonies (with Accounts); nil serves no passkey ceremonies.
	Passkeys Passkeys
	// Now is the clock sessions are dated and judged by; nil is time.Now.
	Now func() time.Time
}

// RequestObserver hears of every request once it is answered: the route template that matched
// ("/api/tweets/:id"; "" when none did, so a raw path never reaches it), the method, the status
// and how long the answer took. It must not block.
type RequestObserver interface {
	Request(route, method string, status int, took time.Duration)
}

// outageSummaryInterval is how often, at most, an outage of the database is summarised in
// the log while it lasts.
const outageSummaryInterval = 5 * time.Second

// New returns the HTTP handler for the whole server.
func New(cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 5 * time.Second
	}
	if cfg.Clients == nil {
		cfg.Clients = clientaddr.New(nil)
	}
	if cfg.Bites == nil {
		cfg.Bites = limitlog.New(cfg.Logger, nil)
	}
	if cfg.SessionMaxIdle <= 0 {
		cfg.SessionMaxIdle = 30 * 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	errs := errorWriter{log: cfg.Logger, outages: outage.New(cfg.Logger, "database", outageSummaryInterval)}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.ContextWithFallback = true
	// The client is the peer, or what X-Forwarded-For says when the peer is a trusted proxy:
	// clientaddr's rule, which the limits and the log use; Gin's ClientIP is set to agree.
	r.RemoteIPHeaders = []string{"X-Forwarded-For"}
	if err := r.SetTrustedProxies(cfg.Clients.Trusted()); err != nil {
		panic(err) // cannot fail: the prefixes were parsed already
	}

	if cfg.Requests != nil {
		// First, so that its time covers every other middleware's.
		r.Use(observeRequests(cfg.Requests))
	}
	r.Use(
		requestID(),
		clientAddress(cfg.Clients, cfg.Logger),
		responseHeaders(),
		accessLog(cfg.Logger),
		recoverPanics(cfg.Logger, errs),
		bodyDeadline(cfg.RequestTimeout),
		apiCORS(cfg.AllowedOrigins, errs),
		apiDeadline(cfg.RequestTimeout),
	)
	r.NoRoute(func(c *gin.Context) {
		errs.write(c, chirp.Errorf(chirp.CodeNotFound, "no such route: %s %s", c.Request.Method, c.Request.URL.Path))
	})
	r.NoMethod(func(c *gin.Context) {
		errs.write(c, chirp.Errorf(chirp.CodeMethodNotAllowed, "%s is not allowed on %s", c.Request.Method, c.Request.URL.Path))
	})

	health := func(c *gin.Context) {
		body := gin.H{"status": "ok"}
		if cfg.Connections != nil {
			body["connections"] = cfg.Connections()
		}
		if cfg.Sessions != nil {
			body["sessions"] = cfg.Sessions()
		}
		c.PureJSON(http.StatusOK, body)
	}
	ready := func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		defer cancel()
		if err := cfg.Store.Ping(ctx); err != nil {
			errs.write(c, chirp.Unavailable(err))
			return
		}
		errs.outages.Recovered()
		if cfg.Ready != nil {
			if err := cfg.Ready(); err != nil {
				errs.notReady(c, err)
				return
			}
		}
		body := gin.H{"status": "ready"}
		if cfg.SocketsFull != nil {
			body["sockets_full"] = cfg.SocketsFull()
		}
		c.PureJSON(http.StatusOK, body)
	}
	getAndHead(r, "/healthz", health)
	getAndHead(r, "/readyz", ready)

	if cfg.Realtime != nil {
		// One catch-all route: a separate /socket.io/socket.io.js route beside it would make
		// Gin panic at start, so the realtime handler serves the script itself.
		socket := gin.WrapH(cfg.Realtime)
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodOptions} {
			r.Handle(m, "/socket.io/*any", socket)
		}
	}

	t := &tweets{store: cfg.Store, announcer: cfg.Announcer, errs: errs, signedInOnly: cfg.SignedInPostsOnly}
	api := r.Group("/api")
	spec := specHandler()
	getAndHead(api, "/openapi.json", spec)
	getAndHead(api, "/settings", settings(cfg))
	getAndHead(api, "/tweets", t.handle(t.list))
	getAndHead(api, "/tweets/:id", t.handle(t.get))
	writes := limitWrites(cfg.WriteLimit, cfg.Bites, errs)
	api.POST("/tweets", writes, t.handle(t.create))
	api.PATCH("/tweets/:id", writes, t.handle(t.update))
	api.DELETE("/tweets/:id", writes, t.handle(t.delete))
	if cfg.Accounts != nil {
		if cfg.Passwords == nil {
			panic("httpapi: Config.Accounts without Passwords") // a wiring mistake, found at start
		}
		t.sessions = &sessions{store: cfg.Accounts, maxIdle: cfg.SessionMaxIdle, now: cfg.Now}
		ar := &accountRoutes{
			store: cfg.Accounts, tweets: cfg.Store, passwords: cfg.Passwords, sessions: t.sessions,
			announcer: cfg.Announcer, signIns: cfg.SignInLimit, signInsOf: cfg.SignInAccountLimit, bites: cfg.Bites,
		}
		routeAccounts(api, ar, writes, errs)
		if cfg.Passkeys != nil {
			routePasskeys(api, &passkeyRoutes{rp: cfg.Passkeys, accountRoutes: ar}, writes, errs)
		}
	}
	return r
}

// routeAccounts routes accounts, profiles and sessions. Creating an account counts on the
// client's write budget; signing in on the sign-in limits (signIn spends them itself, since
// one of them is by the handle in the body). Signing out is never limited.
func routeAccounts(api gin.IRoutes, h *accountRoutes, writes gin.HandlerFunc, errs errorWriter) {
	do := func(f func(c *gin.Context) error) gin.HandlerFunc { return handleWith(errs, f) }
	api.POST("/accounts", writes, do(h.signUp))
	getAndHead(api, "/accounts/:handle", do(h.profile))
	getAndHead(api, "/accounts/:handle/tweets", do(h.profileTweets))
	api.POST("/sessions", do(h.signIn))
	getAndHead(api, "/sessions", do(h.listSessions))
	api.DELETE("/sessions", do(h.signOutElsewhere))
	api.DELETE("/sessions/current", do(h.signOut))
	api.DELETE("/sessions/:id", do(h.endSession))
	getAndHead(api, "/me", do(h.me))
	api.DELETE("/me", writes, do(h.deleteMe))
	api.PUT("/me/password", writes, do(h.setPassword))
	getAndHead(api, "/me/passkeys", do(h.listPasskeys))
	api.DELETE("/me/passkeys/:id", do(h.deletePasskey))
}

// getAndHead routes GET and HEAD of path to the same handlers: a HEAD answers as the GET
// would, and net/http drops the body it writes (keeping its Content-Length).
func getAndHead(r gin.IRoutes, path string, handlers ...gin.HandlerFunc) {
	r.GET(path, handlers...)
	r.HEAD(path, handlers...)
}
