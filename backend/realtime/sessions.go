package realtime

import (
	"context"
	"errors"
	"net/http"
	"sync"
)

// errSessionEnded refuses a transport for a session that ended while its request was on the way.
var errSessionEnded = errors.New("the session has ended")

// sessions counts the open Engine.IO sessions, in all, per client address and per network (a
// prefix of addresses: one holder of a /24 or a /48 has hundreds of addresses, and each would
// have its own per-address budget), so that a handshake over a limit is refused before it
// reaches the library (which would build a session, three goroutines and a socket.io
// connection for it).
//
// A session is counted from its handshake request until the last transport that carries it
// closes. The session's end is always the close of its current transport (the library's
// Session.Close closes it, on every path: a failed handshake write, a failed namespace connect,
// a read error, a deadline, Chirp's registry), and an upgrade moves the session from one
// transport to another while both are open (the new one is accepted before the old one is
// closed), so counting the transports that hold a slot, and freeing it when none is left, can
// neither leak nor free a live session. Transports accepted for an upgrade that fails are closed
// by the library too, and hold the slot only meanwhile.
type sessions struct {
	perClient, perNet, total int // 0: no limit

	mu       sync.Mutex
	open     int
	byClient map[string]int
	byNet    map[string]int
	bySID    map[string]*slot
}

// slot is one session's place in the counts.
type slot struct {
	sessions    *sessions
	client, net string
	// The fields below are guarded by sessions.mu.
	sid                string
	polling, websocket int  // open transports carrying the session, by kind
	used               bool // a transport has carried it
	freed              bool
}

// refusal says which limit a handshake is over.
type refusal int

const (
	admitted refusal = iota
	overPerClient
	overPerNet
	overTotal
)

func newSessions(perClient, perNet, total int) *sessions {
	return &sessions{perClient: perClient, perNet: perNet, total: total,
		byClient: map[string]int{}, byNet: map[string]int{}, bySID: map[string]*slot{}}
}

// take counts a new session for client, of the network net, unless a limit refuses it. The
// ceiling on all sessions is checked first: when the process is full, every client is told so,
// whoever it is.
func (s *sessions) take(client, net string) (*slot, refusal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.total > 0 && s.open >= s.total {
		return nil, overTotal
	}
	if s.perClient > 0 && s.byClient[client] >= s.perClient {
		return nil, overPerClient
	}
	if s.perNet > 0 && s.byNet[net] >= s.perNet {
		return nil, overPerNet
	}
	s.open++
	s.byClient[client]++
	s.byNet[net]++
	return &slot{sessions: s, client: client, net: net}, admitted
}

// named records the session id the library gave the slot's session, so that the session's
// later requests (an upgrade) find it.
func (s *sessions) named(sl *slot, sid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sl.sid = sid
	if !sl.freed {
		s.bySID[sid] = sl
	}
}

// find returns the slot of an open session, or nil.
func (s *sessions) find(sid string) *slot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bySID[sid]
}

// count is the number of open sessions.
func (s *sessions) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open
}

// full reports whether the sessions in all are at their ceiling.
func (s *sessions) full() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total > 0 && s.open >= s.total
}

// serves reports whether a request of the given transport, naming the slot's session, is one
// its client may make: polling while the session has a polling transport (it is on polling, or
// upgrading), websocket while it has none (the one upgrade). The library would otherwise
// accept a new transport for each such request and hold it until a ping deadline: a polling
// request for a session on websocket, or a second concurrent upgrade, is a file descriptor
// (or a goroutine) that no limit counts.
func (sl *slot) serves(transport string) bool {
	s := sl.sessions
	s.mu.Lock()
	defer s.mu.Unlock()
	if transport == "websocket" {
		return sl.websocket == 0
	}
	return sl.polling > 0
}

// hold tells the slot a transport of the given kind now carries its session. It reports
// false, holding nothing, when the session has ended meanwhile (an upgrade request racing the
// session's end), or when a websocket holds it already (two upgrade requests racing serves).
func (sl *slot) hold(transport string) bool {
	if sl == nil {
		return false
	}
	s := sl.sessions
	s.mu.Lock()
	defer s.mu.Unlock()
	if sl.freed || (transport == "websocket" && sl.websocket > 0) {
		return false
	}
	if transport == "websocket" {
		sl.websocket++
	} else {
		sl.polling++
	}
	sl.used = true
	return true
}

// release tells the slot a transport that held it has closed; the last one frees it.
func (sl *slot) release(transport string) {
	s := sl.sessions
	s.mu.Lock()
	defer s.mu.Unlock()
	if transport == "websocket" {
		sl.websocket--
	} else {
		sl.polling--
	}
	if sl.polling+sl.websocket == 0 {
		sl.freeLocked()
	}
}

// freeIfUnused frees the slot of a handshake that no transport took (the library or gorilla
// refused it); it is called once the handshake request has been served.
func (sl *slot) freeIfUnused() {
	s := sl.sessions
	s.mu.Lock()
	defer s.mu.Unlock()
	if !sl.used {
		sl.freeLocked()
	}
}

func (sl *slot) freeLocked() {
	if sl.freed {
		return
	}
	sl.freed = true
	s := sl.sessions
	s.open--
	if s.byClient[sl.client]--; s.byClient[sl.client] <= 0 {
		delete(s.byClient, sl.client)
	}
	if s.byNet[sl.net]--; s.byNet[sl.net] <= 0 {
		delete(s.byNet, sl.net)
	}
	if sl.sid != "" && s.bySID[sl.sid] == sl {
		delete(s.bySID, sl.sid)
	}
}

// The slot travels to the transports' Accept in the request's context: the library passes the
// request through untouched.
type slotKey struct{}

func withSlot(ctx context.Context, sl *slot) context.Context {
	return context.WithValue(ctx, slotKey{}, sl)
}

func slotFrom(ctx context.Context) *slot {
	sl, _ := ctx.Value(slotKey{}).(*slot)
	return sl
}

// heldSlot is what a transport keeps: the slot it holds, released exactly once at its close.
type heldSlot struct {
	sl        *slot
	transport string
	once      sync.Once
}

// holdSlotOf makes a transport of the given kind, accepted for r, hold r's slot if r has one.
// It reports false when the slot refuses (see hold); a request without a slot (tests of the
// transports alone) holds nothing and is not refused.
func holdSlotOf(r *http.Request, transport string) (*heldSlot, bool) {
	sl := slotFrom(r.Context())
	if sl == nil {
		return &heldSlot{}, true
	}
	if !sl.hold(transport) {
		return nil, false
	}
	return &heldSlot{sl: sl, transport: transport}, true
}

func (h *heldSlot) release() {
	if h == nil || h.sl == nil {
		return
	}
	h.once.Do(func() { h.sl.release(h.transport) })
}
