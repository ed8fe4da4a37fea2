package realtime

import (
	"log/slog"
	"time"

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
	// second, and the process ten broadcasts (docs/PERFORMANCE.md), and a storm's last post
	// waits at most about as long as its broadcast takes to reach every client.
	DefaultNewTweetWindow = 100 * time.Millisecond
	// DefaultNewTweetWindowPerClient: a broadcast's CPU grows with its clients
	// (docs/PERFORMANCE.md), so a window that grows with them too bounds the share of a core a
	// storm's broadcasts take, whatever the number of clients. Posts more than NewTweetWindow
	// apart are not a storm and are never held.
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
