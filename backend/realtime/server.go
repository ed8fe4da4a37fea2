// Package realtime is Chirp's socket.io server (github.com/googollee/go-socket.io v1.7.0, which
// speaks Engine.IO 3 to socket.io-client 2.x): namespace "/", the newTweet relay, the
// announcer of committed changes, the origin policy, and the browser client file. See
// ../shared/notes/go-socket.io-facts.md for the library's measured traps this package avoids.
package realtime

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	socketio "github.com/googollee/go-socket.io"
	"github.com/googollee/go-socket.io/engineio"
	"github.com/googollee/go-socket.io/engineio/transport"
	"github.com/gorilla/websocket"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/clientaddr"
	"github.com/chirp-social/chirp/backend/limitlog"
)

// Config is what the socket server needs.
type Config struct {
	Logger *slog.Logger
	// AllowedOrigins are the browser origins that may connect; "*" (or none) allows any.
	AllowedOrigins []string
	// PingInterval is how often clients ping; PingTimeout how long after its last ping a
	// silent client is dropped. PingTimeout must be well above PingInterval.
	PingInterval, PingTimeout time.Duration
	// QueueSize bounds each connection's queue of waiting events, counted after coalescing
	// (at most one newTweet and one event per tweet wait); a client that falls this far behind
	// is disconnected. Zero means DefaultQueueSize.
	QueueSize int
	// MaxPerClient caps the open sessions of one client address (clientaddr.Key), counted from
	// the handshake, and MaxPerNet those of one network (clientaddr.PrefixKey by NetPrefixV4
	// and NetPrefixV6). MaxTotal caps all open sessions. A handshake over any is answered 429:
	// never 503, which a balancer counts as the backend failing. Zero: no limit.
	MaxPerClient, MaxPerNet, MaxTotal int
	// NetPrefixV4 and NetPrefixV6 are the prefix lengths of a network for MaxPerNet. Zero
	// means DefaultNetPrefixV4, DefaultNetPrefixV6.
	NetPrefixV4, NetPrefixV6 int
	// Clients names a request's client address; nil: the connection's peer.
	Clients *clientaddr.Resolver
	// Limits is told of every handshake a limit refuses; nil: a limitlog.Log on Logger.
	Limits *limitlog.Log
	// HandshakeGrace is how long a polling session may wait for its first GET after the
	// handshake's answer; zero means DefaultHandshakeGrace, and it is never above PingTimeout.
	// Later GETs may be PingTimeout apart.
	HandshakeGrace time.Duration
	// MaxMessageBytes caps one message a client sends (a polling POST body, a websocket
	// message); a larger one closes its session. Zero means DefaultMaxMessageBytes.
	MaxMessageBytes int
	// Observer is told what the server does, for metrics; nil tells no one.
	Observer Observer
	// Relays, when set, is told of the client newTweet events relayed here, so that they
	// reach the clients of other processes too (the event bus): at most once a
	// NewTweetWindow, paced as newTweet broadcasts are.
	Relays RelayPublisher
	// NewTweetWindow paces newTweet broadcasts: one with no other in the last window leaves
	// at once, later ones are merged into one send at the window's end. Zero means
	// DefaultNewTweetWindow.
	NewTweetWindow time.Duration
	// NewTweetWindowPerClient widens the window after a trailing (merged) newTweet broadcast,
	// during a storm, to this much per client it reached, when that is more than
	// NewTweetWindow. Zero means DefaultNewTweetWindowPerClient.
	NewTweetWindowPerClient time.Duration
}

// RelayPublisher carries a relayed client newTweet beyond this process. It must not block.
type RelayPublisher interface {
	// Relayed names the connection that sent it, which must never hear its own relay, or is
	// "" for relays of several connections merged into one (at most one a NewTweetWindow).
	Relayed(conn string)
}

// Observer hears what the socket server does, for metrics. Every method is called on the
// path it counts (a broadcast's writer, a handshake's request), so it must not block. The
// label values it is given come from the fixed sets below, never from a client.
type Observer interface {
	// Connected: a socket.io connection joined (the registry has it).
	Connected()
	// Disconnected: a connection that had joined left, for one of the Disconnect reasons.
	Disconnected(reason string)
	// Refused: a request was answered before the library saw it, for one of the Refuse
	// reasons.
	Refused(reason string)
	// Sent: an event was handed to a connection's transport.
	Sent(event string)
	// Relayed: a client's newTweet was relayed to the others (passed) or dropped because
	// its connection relayed one less than a second before.
	Relayed(passed bool)
}

// Why a connection left (Observer.Disconnected).
const (
	// DisconnectQueueFull: the server dropped a client that was not reading its events.
	DisconnectQueueFull = "queue_full"
	// DisconnectShutdown: the process is stopping and closed every connection.
	DisconnectShutdown = "shutdown"
	// DisconnectClosed: anything else; the client closed it, its transport failed, it sent
	// a refused frame, or it went silent past its ping deadline.
	DisconnectClosed = "closed"
)

// Why a request to /socket.io/ was refused before the library saw it (Observer.Refused).
// All but the last two are handshakes or would-be handshakes.
const (
	RefuseOrigin        = "origin"          // its Origin is not allowed (403)
	RefuseShuttingDown  = "shutting_down"   // the process is stopping (503)
	RefuseTransport     = "bad_transport"   // no or an unknown transport, or websocket without an upgrade (400)
	RefuseJSONP         = "jsonp"           // JSONP polling (400)
	RefuseMaxTotal      = "max_total"       // SOCKET_MAX_TOTAL (429)
	RefuseMaxPerIP      = "max_per_ip"      // SOCKET_MAX_PER_IP (429)
	RefuseMaxPerNet     = "max_per_net"     // SOCKET_MAX_PER_NET (429)
	RefuseUnknownSID    = "unknown_session" // a sid with no open session (400)
	RefuseTransportSwap = "wrong_transport" // a request for a session on the other transport (400)
)

// LimitEarlyData is the limit record (limitlog) of a websocket upgrade refused because its
// client sent data before the server's answer: a client that does not speak the protocol, or
// probes the server. A record like the other limits' bounds what any client can log.
const LimitEarlyData = "websocket_early_data"

// nopObserver is the Observer of a server nobody watches.
type nopObserver struct{}

func (nopObserver) Connected()          {}
func (nopObserver) Disconnected(string) {}
func (nopObserver) Refused(string)      {}
func (nopObserver) Sent(string)         {}
func (nopObserver) Relayed(bool)        {}

// Defaults for Config.
const (
	DefaultPingInterval = 25 * time.Second
	DefaultPingTimeout  = 45 * time.Second
	// DefaultQueueSize leaves room for edits and deletes of a few hundred different tweets
	// at once, so only a client that does not read fills it. A queue holds a slice only while
	// events wait (about 40 bytes an entry); an idle client's is nil.
	DefaultQueueSize = 256
	// DefaultHandshakeGrace: a client polls again as soon as the handshake is answered.
	DefaultHandshakeGrace = 10 * time.Second
	// DefaultMaxMessageBytes (SOCKET_MAX_MESSAGE_BYTES' default): Chirp's client sends pings
	// and newTweet hints of a few bytes.
	DefaultMaxMessageBytes = 64 << 10
	// DefaultNewTweetWindow: a write storm costs each client at most ten newTweet events a
	// second, and the process ten broadcasts (at 5,000 clients, about 0.8 s of CPU a second
	// as measured; docs/PERFORMANCE.md), and a storm's last post waits at most about as long
	// as its broadcast takes to reach 5,000 clients.
	DefaultNewTweetWindow = 100 * time.Millisecond
	// DefaultNewTweetWindowPerClient: a broadcast costs about 17 µs of CPU per client here
	// (docs/PERFORMANCE.md), so at 60 µs a client a storm's broadcasts take at most about
	// 30 % of one core, whatever the number of clients: ten a second up to 1,666 clients, three
	// a second at 5,000 (where ten took 0.8 s of CPU a second from the posts), and the storm's
	// last post waits at most 0.3 s there. Posts more than 100 ms apart are not a storm and
	// are never held.
	DefaultNewTweetWindowPerClient = 60 * time.Microsecond
	// DefaultNetPrefixV4 and DefaultNetPrefixV6: the networks one holder commonly has, a
	// provider's customer or a cloud tenant (an IPv4 /24, an IPv6 /48 site).
	DefaultNetPrefixV4 = 24
	DefaultNetPrefixV6 = 48
)

// Hard-coded until limits become configuration.
const (
	// relayInterval: each connection may have at most one newTweet a second relayed.
	relayInterval = time.Second
	// relayReportEvery: dropped relays are logged at most once a minute per connection.
	relayReportEvery = time.Minute
	// pollingQueueSize bounds the packets waiting for a polling client's next GET. Past it
	// the registry's drain waits and events coalesce in the registry's queue instead.
	pollingQueueSize = 16
)

// Events, as the page and the original protocol name them.
const (
	EventNewTweet     = "newTweet"
	EventTweetUpdated = "tweetUpdated"
	EventTweetDeleted = "tweetDeleted"
	// EventResync tells a page that events may have been missed (this process was deaf to the
	// others for a while): it reads again the tweets it shows, and asks what is new.
	EventResync = "resync"
)

// Server is the socket.io server and Chirp's chirp.Announcer.
type Server struct {
	log      *slog.Logger
	origins  originPolicy
	sio      *socketio.Server
	registry *registry
	hints    *hintCoalescer // every newTweet broadcast goes through it
	relayed  *hintCoalescer // every relay handed to relays goes through it; nil without relays
	newTweet event          // encoded once: every newTweet is the same packet
	resync   event          // likewise
	client   *clientFile
	sessions *sessions
	// netV4, netV6: the prefix lengths sessions are counted per network by.
	netV4, netV6 int
	clients      *clientaddr.Resolver
	limits       *limitlog.Log
	relays       RelayPublisher // nil: relays stay in this process
	observer     Observer
	closing      atomic.Bool
	// relaysDropped counts newTweet events from clients that were not relayed.
	relaysDropped atomic.Int64
}

var _ chirp.Announcer = (*Server)(nil)

// New builds the server and starts its accept loop.
func New(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = DefaultPingInterval
	}
	if cfg.PingTimeout <= 0 {
		cfg.PingTimeout = DefaultPingTimeout
	}
	if cfg.PingTimeout <= cfg.PingInterval {
		return nil, fmt.Errorf("ping timeout %v must be above the ping interval %v: the server's deadline runs from the client's last ping", cfg.PingTimeout, cfg.PingInterval)
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.HandshakeGrace <= 0 {
		cfg.HandshakeGrace = DefaultHandshakeGrace
	}
	cfg.HandshakeGrace = min(cfg.HandshakeGrace, cfg.PingTimeout)
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.NewTweetWindow <= 0 {
		cfg.NewTweetWindow = DefaultNewTweetWindow
	}
	if cfg.NewTweetWindowPerClient <= 0 {
		cfg.NewTweetWindowPerClient = DefaultNewTweetWindowPerClient
	}
	if cfg.NetPrefixV4 <= 0 {
		cfg.NetPrefixV4 = DefaultNetPrefixV4
	}
	if cfg.NetPrefixV6 <= 0 {
		cfg.NetPrefixV6 = DefaultNetPrefixV6
	}
	if cfg.Clients == nil {
		cfg.Clients = clientaddr.New(nil)
	}
	if cfg.Limits == nil {
		cfg.Limits = limitlog.New(cfg.Logger, nil)
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	s := &Server{
		log:      cfg.Logger,
		origins:  newOriginPolicy(cfg.AllowedOrigins),
		client:   newClientFile(clientScript),
		sessions: newSessions(max(cfg.MaxPerClient, 0), max(cfg.MaxPerNet, 0), max(cfg.MaxTotal, 0)),
		netV4:    cfg.NetPrefixV4,
		netV6:    cfg.NetPrefixV6,
		clients:  cfg.Clients,
		limits:   cfg.Limits,
		relays:   cfg.Relays,
		observer: cfg.Observer,
	}
	s.registry = newRegistry(cfg.QueueSize, func(id string) {
		s.log.Info("socket dropped: its queue is full", "id", id)
	})
	s.registry.sent = cfg.Observer.Sent
	s.registry.onSendError = func(id string, err error) {
		s.log.Debug("socket closed: its transport failed to take an event", "id", id, "error", err)
	}
	newTweet, err := newEvent(EventNewTweet, true, 0)
	if err != nil {
		return nil, err
	}
	s.newTweet = newTweet
	if s.resync, err = newEvent(EventResync, true, 0); err != nil {
		return nil, err
	}
	s.hints = newHintCoalescer(cfg.NewTweetWindow, cfg.NewTweetWindowPerClient, realClock{}, func(except string) int {
		return s.registry.broadcast(s.newTweet, except)
	})
	if s.relays != nil {
		// Each publication is a NOTIFY on the database every process shares, and tells the
		// other processes only that something is new: so relays are paced as broadcasts are,
		// at most one a window (2,000 relaying sockets made 1,454 NOTIFY a second).
		s.relayed = newHintCoalescer(cfg.NewTweetWindow, 0, realClock{}, func(conn string) int {
			s.relays.Relayed(conn)
			return 0
		})
	}
	s.sio = socketio.NewServer(&engineio.Options{
		PingInterval: cfg.PingInterval,
		PingTimeout:  cfg.PingTimeout,
		Transports: []transport.Transport{
			&pollingTransport{maxQueued: pollingQueueSize, maxPostBytes: int64(cfg.MaxMessageBytes), log: s.log,
				handshakeGrace: cfg.HandshakeGrace, pollGap: cfg.PingTimeout},
			newWebsocketTransport(s.origins.allows, s.log, int64(cfg.MaxMessageBytes), func(r *http.Request) {
				s.limits.Bit(LimitEarlyData, clientaddr.Key(s.clients.Addr(r)))
			}),
		},
		SessionIDGenerator: randomSessionIDs{},
		// Called in the handshake request, once the session has its id and before the client
		// can know it: the id is how the session's later requests find its slot.
		ConnInitor: func(r *http.Request, c engineio.Conn) {
			if sl := slotFrom(r.Context()); sl != nil {
				s.sessions.named(sl, c.ID())
			}
		},
	})
	s.sio.OnConnect("/", s.onConnect)
	s.sio.OnEvent("/", EventNewTweet, s.onNewTweet)
	s.sio.OnDisconnect("/", s.onDisconnect)
	s.sio.OnError("/", s.onError)
	// Serve returns only on sio.Close, which is never called: Close after the last request
	// is not enough, because a handshake's session can still reach the closed accept channel
	// a moment later and panic ("send on closed channel"). The loop dies with the process.
	go s.sio.Serve()
	return s, nil
}

// randomSessionIDs makes unguessable session ids (the library's are 1, 2, 3, …, and a guessed
// id lets anyone poll someone else's session).
type randomSessionIDs struct{}

func (randomSessionIDs) NewID() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails on Linux (crypto/rand panics rather than return short)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Server) onConnect(c socketio.Conn) (err error) {
	// A panic here would kill the process: the library runs this outside any recovery.
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic in socket connect", "panic", fmt.Sprint(r))
			err = fmt.Errorf("connect failed")
		}
	}()
	// No Emit here: a synchronous Emit in OnConnect hangs the connection. The registry's
	// drain does all sending. An error closes the connection.
	sc, err := newSocketConn(c)
	if err != nil {
		s.log.Error("socket refused", "id", c.ID(), "error", err)
		return err
	}
	// The library put the connection in a room named by its id; Chirp has no use for rooms
	// (the registry broadcasts), and each cost a map per socket and made every disconnect walk
	// all the rooms under the library's one lock.
	c.Leave(c.ID())
	if !s.registry.add(sc) {
		return fmt.Errorf("server shutting down")
	}
	s.observer.Connected()
	s.log.Debug("socket connected", "id", c.ID(), "transport", transportOf(c), "remote", c.RemoteAddr().String())
	return nil
}

func (s *Server) onDisconnect(c socketio.Conn, reason string) {
	// The library's reason is the same text on nearly every path; the registry knows when
	// the server itself closed the connection.
	if why, ok := s.registry.remove(c.ID()); ok {
		s.observer.Disconnected(why)
	}
	s.log.Debug("socket disconnected", "id", c.ID(), "transport", transportOf(c), "reason", reason)
}

func (s *Server) onError(c socketio.Conn, err error) {
	if c == nil { // a failed handshake
		s.log.Debug("socket handshake failed", "error", err)
		return
	}
	s.log.Debug("socket error", "id", c.ID(), "error", err)
}

// onNewTweet relays a client's newTweet to every other client as true: its data is never
// forwarded, since events are hints and the API is the truth. Each connection may relay at
// most one a second; the rest are dropped and counted.
func (s *Server) onNewTweet(c socketio.Conn, _ any) {
	relay, report := relayLimiterOf(c).allow()
	s.observer.Relayed(relay)
	if relay {
		s.hints.hint(c.ID())
		if s.relayed != nil {
			s.relayed.hint(c.ID())
		}
		return
	}
	s.relaysDropped.Add(1)
	if report > 0 {
		s.log.Debug("newTweet relays dropped: a connection may relay one a second", "id", c.ID(), "dropped", report)
	}
}

// relayLimiterOf returns the connection's relay limiter, made at its first newTweet (a
// connection that never relays costs nothing). It lives in the connection's context, which only
// the connection's event handlers use: the library calls them one at a time.
func relayLimiterOf(c socketio.Conn) *relayLimiter {
	l, ok := c.Context().(*relayLimiter)
	if !ok {
		l = newRelayLimiter(relayInterval, relayReportEvery, time.Now)
		c.SetContext(l)
	}
	return l
}

func transportOf(c socketio.Conn) string {
	u := c.URL()
	return u.Query().Get("transport")
}

type idPayload struct {
	ID int64 `json:"id"`
}

// TweetCreated tells every client a tweet was committed.
func (s *Server) TweetCreated(chirp.Tweet) { s.NewTweetHint() }

// NewTweetHint tells every client to ask the API what is new, as TweetCreated does: for a
// client's newTweet relayed by another process, and after the event bus missed events.
// Hints within NewTweetWindow of the last are merged into one send at the window's end.
func (s *Server) NewTweetHint() { s.hints.hint("") }

// Resync tells every client to ask the API what it missed: the event bus was down, and what
// other processes committed, edited or deleted meanwhile was never announced here. A newTweet
// goes too, for pages older than the resync event (they only ask what is new).
func (s *Server) Resync() {
	s.registry.broadcast(s.resync, "")
	s.NewTweetHint()
}

// TweetUpdated tells every client a tweet was edited.
func (s *Server) TweetUpdated(t chirp.Tweet) { s.announce(EventTweetUpdated, t.ID) }

// TweetDeleted tells every client a tweet was deleted.
func (s *Server) TweetDeleted(id int64) { s.announce(EventTweetDeleted, id) }

// announce broadcasts an event about one tweet, encoded once for every client.
func (s *Server) announce(name string, id int64) {
	e, err := newEvent(name, idPayload{ID: id}, id)
	if err != nil { // a struct of one int64 always encodes; say so loudly if it ever does not
		s.log.Error("event not announced", "event", name, "tweet", id, "error", err)
		return
	}
	s.registry.broadcast(e, "")
}

// RelaysDropped is the number of newTweet events from clients that were not relayed because
// their connection had relayed one less than a second before.
func (s *Server) RelaysDropped() int64 { return s.relaysDropped.Load() }

// Connections is the number of live socket connections.
func (s *Server) Connections() int { return s.registry.count() }

// ConnectionsByTransport is the number of live socket connections on each transport
// ("polling", "websocket"): the one each is on now, an upgraded connection counting as
// websocket.
func (s *Server) ConnectionsByTransport() map[string]int { return s.registry.byTransport() }

// Sessions is the number of open Engine.IO sessions, the number SOCKET_MAX_TOTAL caps: the
// connections, and handshakes not connected yet.
func (s *Server) Sessions() int { return s.sessions.count() }

// Full reports whether the open sessions are at SOCKET_MAX_TOTAL: new handshakes are refused
// (429), while the connected clients and the API are served as ever.
func (s *Server) Full() bool { return s.sessions.full() }

// Close disconnects every client (they reconnect to the next process) and refuses new ones.
// Call it once the HTTP server has stopped accepting.
func (s *Server) Close() {
	s.closing.Store(true)
	s.hints.close()
	if s.relayed != nil {
		s.relayed.close()
	}
	s.registry.closeAll()
}

// ServeHTTP serves everything under /socket.io/: the client script, CORS preflights, and the
// Engine.IO endpoint (polling GET/POST and websocket upgrades).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == ClientScriptPath {
		s.client.ServeHTTP(w, r)
		return
	}
	origin := r.Header.Get("Origin")
	if !s.origins.all {
		// The answer depends on the Origin, refusals included: caches must key on it.
		w.Header().Add("Vary", "Origin")
	}
	if !s.origins.allows(r) {
		s.observer.Refused(RefuseOrigin)
		writeError(w, http.StatusForbidden, "forbidden", "pages of this origin may not connect (CORS_ALLOWED_ORIGINS)")
		return
	}
	if origin != "" {
		// The 2.x browser client sends its polling requests with credentials, which browsers
		// refuse against "*": so the origin is reflected. Nothing here reads cookies.
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		if s.origins.all {
			h.Add("Vary", "Origin")
		}
	}
	if r.Method == http.MethodOptions {
		h := w.Header()
		h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Content-Type")
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if s.closing.Load() {
		s.observer.Refused(RefuseShuttingDown)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the server is restarting; reconnect")
		return
	}
	q := r.URL.Query()
	if t := q.Get("transport"); t != "polling" && t != "websocket" {
		s.observer.Refused(RefuseTransport)
		writeError(w, http.StatusBadRequest, "bad_request", "transport must be polling or websocket")
		return
	}
	if q.Get("transport") == "websocket" && !websocket.IsWebSocketUpgrade(r) {
		s.observer.Refused(RefuseTransport)
		writeError(w, http.StatusBadRequest, "bad_request", "transport=websocket needs a websocket upgrade request")
		return
	}
	if q.Get("transport") == "polling" {
		// The handshake carries the session id, and every poll the session's packets.
		w.Header().Set("Cache-Control", "no-store")
	}
	if q.Get("transport") == "polling" && q.Get("j") != "" {
		s.observer.Refused(RefuseJSONP)
		writeError(w, http.StatusBadRequest, "bad_request", "JSONP polling is not supported; use XHR polling or websocket")
		return
	}
	if sid := q.Get("sid"); sid != "" {
		sl := s.sessions.find(sid)
		if sl == nil {
			// Also what keeps a session the library failed to connect, and never removed
			// (go-socket.io v1.7.0), from being served again.
			s.observer.Refused(RefuseUnknownSID)
			writeError(w, http.StatusBadRequest, "bad_request", "no such socket.io session (it has ended or never existed); connect again")
			return
		}
		if !sl.serves(q.Get("transport")) {
			s.observer.Refused(RefuseTransportSwap)
			writeError(w, http.StatusBadRequest, "bad_request", "this session is on websocket, or upgrading to it; use that socket or connect again")
			return
		}
		r = r.WithContext(withSlot(r.Context(), sl))
	} else {
		sl, ok := s.admit(w, r)
		if !ok {
			return
		}
		defer sl.freeIfUnused()
		r = r.WithContext(withSlot(r.Context(), sl))
	}
	s.sio.ServeHTTP(&engineErrors{ResponseWriter: w, r: r}, r)
}

// admit counts a handshake's session, or answers it 429 when the server holds as many sessions
// as it may (SOCKET_MAX_TOTAL), or its client does (SOCKET_MAX_PER_IP), or its client's network
// (SOCKET_MAX_PER_NET). A full server answers 429 too, not 503: a balancer counts a 503 as
// the backend failing (nginx's max_fails) and takes it out for every client, its connected
// ones included, whose sessions it holds.
func (s *Server) admit(w http.ResponseWriter, r *http.Request) (*slot, bool) {
	addr := s.clients.Addr(r)
	client, network := clientaddr.Key(addr), clientaddr.PrefixKey(addr, s.netV4, s.netV6)
	sl, refused := s.sessions.take(client, network)
	var reason, limit, key, message, retryAfter string
	var most int
	switch refused {
	case admitted:
		return sl, true
	case overTotal:
		reason, limit, key, most, retryAfter = RefuseMaxTotal, "SOCKET_MAX_TOTAL", client, s.sessions.total, "30"
		message = "the server is full: it has as many live connections as it can hold; try again later"
	case overPerNet:
		reason, limit, key, most, retryAfter = RefuseMaxPerNet, "SOCKET_MAX_PER_NET", network, s.sessions.perNet, "10"
		message = fmt.Sprintf("your network (%s) has %d live connections, the most it may have; try again later", network, most)
	case overPerClient:
		reason, limit, key, most, retryAfter = RefuseMaxPerIP, "SOCKET_MAX_PER_IP", client, s.sessions.perClient, "10"
		message = fmt.Sprintf("your address has %d live connections, the most it may have; close one (another tab) and reconnect", most)
	}
	s.observer.Refused(reason)
	s.limits.Bit(limit, key, slog.Int("max", most))
	w.Header().Set("Retry-After", retryAfter)
	writeError(w, http.StatusTooManyRequests, "rate_limited", message)
	return nil, false
}

// originPolicy decides which browser pages may connect. Requests without an Origin header
// (Node clients, curl) are not from a page and are always accepted.
type originPolicy struct {
	all     bool
	allowed []string
}

func newOriginPolicy(origins []string) originPolicy {
	return originPolicy{all: len(origins) == 0 || slices.Contains(origins, "*"), allowed: origins}
}

// The request's Host is never trusted to widen the list: a DNS-rebinding page sends a Host that
// matches its own Origin.
func (p originPolicy) allows(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	return origin == "" || p.all || slices.Contains(p.allowed, origin)
}

// writeError answers in the same JSON shape as the API's errors.
func writeError(w http.ResponseWriter, status int, code, message string) {
	body, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": message}})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}
