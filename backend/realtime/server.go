// Package realtime is Chirp's socket.io server (github.com/googollee/go-socket.io v1.7.0, which
// speaks Engine.IO 3 to socket.io-client 2.x): namespace "/", the newTweet relay, the
// announcer of committed changes, the origin policy, and the browser client file. The
// Engine.IO transports beneath it are package engine. docs/realtime.md ("Traps avoided") tells
// the library's measured traps this package avoids.
package realtime

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	socketio "github.com/googollee/go-socket.io"
	"github.com/googollee/go-socket.io/engineio"
	"github.com/googollee/go-socket.io/engineio/transport"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/clientaddr"
	"github.com/chirp-social/chirp/backend/limitlog"
	"github.com/chirp-social/chirp/backend/origins"
	"github.com/chirp-social/chirp/backend/realtime/engine"
)

// Server is the socket.io server and Chirp's chirp.Announcer.
type Server struct {
	log      *slog.Logger
	origins  origins.Policy
	sio      *socketio.Server
	registry *registry
	hints    *hintCoalescer // every newTweet broadcast goes through it
	relayed  *hintCoalescer // every relay handed to relays goes through it; nil without relays
	newTweet event          // encoded once: every newTweet is the same packet
	resync   event          // likewise
	script   *scriptFile
	sessions *engine.Sessions
	// netV4, netV6: the prefix lengths sessions are counted per network by.
	netV4, netV6 int
	addrs        *clientaddr.Resolver
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
		origins:  origins.New(cfg.AllowedOrigins),
		script:   newScriptFile(socketIOScript),
		sessions: engine.NewSessions(cfg.MaxPerClient, cfg.MaxPerNet, cfg.MaxTotal),
		netV4:    cfg.NetPrefixV4,
		netV6:    cfg.NetPrefixV6,
		addrs:    cfg.Clients,
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
		// at most one a window (unpaced, every relaying socket made a NOTIFY of its own).
		s.relayed = newHintCoalescer(cfg.NewTweetWindow, 0, realClock{}, func(conn string) int {
			s.relays.Relayed(conn)
			return 0
		})
	}
	s.sio = socketio.NewServer(&engineio.Options{
		PingInterval: cfg.PingInterval,
		PingTimeout:  cfg.PingTimeout,
		Transports: []transport.Transport{
			engine.NewPolling(engine.PollingConfig{MaxQueued: pollingQueueSize, MaxPostBytes: int64(cfg.MaxMessageBytes),
				Log: s.log, HandshakeGrace: cfg.HandshakeGrace, PollGap: cfg.PingTimeout, CheckMessage: checkSocketPacket}),
			engine.NewWebsocket(engine.WebsocketConfig{
				// ServeHTTP has applied the origin policy already.
				CheckOrigin: func(r *http.Request) bool { return s.origins.Allows(r.Header.Get("Origin")) },
				Log:         s.log, MaxMessage: int64(cfg.MaxMessageBytes), CheckMessage: checkSocketPacket,
				EarlyData: func(r *http.Request) {
					s.limits.Bit(LimitEarlyData, clientaddr.Key(s.addrs.Addr(r)))
				},
			}),
		},
		SessionIDGenerator: randomSessionIDs{},
		// Called in the handshake request, once the session has its id and before the client
		// can know it: the id is how the session's later requests find its slot.
		ConnInitor: func(r *http.Request, c engineio.Conn) { s.sessions.Named(r, c.ID()) },
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

// Connections is the number of live socket connections.
func (s *Server) Connections() int { return s.registry.count() }

// ConnectionsByTransport is the number of live socket connections on each transport
// ("polling", "websocket"): the one each is on now, an upgraded connection counting as
// websocket.
func (s *Server) ConnectionsByTransport() map[string]int { return s.registry.byTransport() }

// Sessions is the number of open Engine.IO sessions, the number SOCKET_MAX_TOTAL caps: the
// connections, and handshakes not connected yet.
func (s *Server) Sessions() int { return s.sessions.Count() }

// Full reports whether the open sessions are at SOCKET_MAX_TOTAL: new handshakes are refused
// (429), while the connected clients and the API are served as ever.
func (s *Server) Full() bool { return s.sessions.Full() }

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
