package engine

import (
	"context"
	"errors"
	"net/http"
	"sync"
)

// errSessionEnded refuses a transport for a session that ended while its request was on the way.
var errSessionEnded = errors.New("the session has ended")

// Sessions counts the open Engine.IO sessions, in all, per client address and per network (a
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
type Sessions struct {
	perAddr, perNet, total int // 0: no limit

	mu     sync.Mutex
	open   int
	byAddr map[string]int
	byNet  map[string]int
	bySID  map[string]*Slot
}

// Slot is one session's place in the counts.
type Slot struct {
	sessions  *Sessions
	addr, net string
	// The fields below are guarded by sessions.mu.
	sid                string
	polling, websocket int  // open transports carrying the session, by kind
	used               bool // a transport has carried it
	freed              bool
}

// Refusal says which limit a handshake is over.
type Refusal int

// Take's answers.
const (
	Admitted Refusal = iota
	OverPerAddr
	OverPerNet
	OverTotal
)

// NewSessions counts sessions with at most perAddr of one client address, perNet of one
// network and total in all (0: no limit). Negative limits count as 0.
func NewSessions(perAddr, perNet, total int) *Sessions {
	return &Sessions{perAddr: max(perAddr, 0), perNet: max(perNet, 0), total: max(total, 0),
		byAddr: map[string]int{}, byNet: map[string]int{}, bySID: map[string]*Slot{}}
}

// Limit is the limit a Refusal names (0 for Admitted).
func (s *Sessions) Limit(r Refusal) int {
	switch r {
	case OverPerAddr:
		return s.perAddr
	case OverPerNet:
		return s.perNet
	case OverTotal:
		return s.total
	}
	return 0
}

// Take counts a new session for the client address addr, of the network net, unless a limit
// refuses it. The ceiling on all sessions is checked first: when the process is full, every
// client is told so, whoever it is. The request that carries the handshake holds the slot
// (WithSlot), and frees it once served if no transport took it (FreeIfUnused).
func (s *Sessions) Take(addr, net string) (*Slot, Refusal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.total > 0 && s.open >= s.total {
		return nil, OverTotal
	}
	if s.perAddr > 0 && s.byAddr[addr] >= s.perAddr {
		return nil, OverPerAddr
	}
	if s.perNet > 0 && s.byNet[net] >= s.perNet {
		return nil, OverPerNet
	}
	s.open++
	s.byAddr[addr]++
	s.byNet[net]++
	return &Slot{sessions: s, addr: addr, net: net}, Admitted
}

// Named records the session id the library gave the session of r's slot (if r has one), so
// that the session's later requests (an upgrade) find it. It is for the library's
// engineio.Options.ConnInitor, called in the handshake request once the session has its id
// and before the client can know it.
func (s *Sessions) Named(r *http.Request, sid string) {
	sl := slotFrom(r.Context())
	if sl == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sl.sid = sid
	if !sl.freed {
		s.bySID[sid] = sl
	}
}

// Find returns the slot of an open session, or nil.
func (s *Sessions) Find(sid string) *Slot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bySID[sid]
}

// Count is the number of open sessions.
func (s *Sessions) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open
}

// Full reports whether the sessions in all are at their ceiling.
func (s *Sessions) Full() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total > 0 && s.open >= s.total
}

// Serves reports whether a request of the given transport, naming the slot's session, is one
// its client may make: polling while the session has a polling transport (it is on polling, or
// upgrading), websocket while it has none (the one upgrade). The library would otherwise
// accept a new transport for each such request and hold it until a ping deadline: a polling
// request for a session on websocket, or a second concurrent upgrade, is a file descriptor
// (or a goroutine) that no limit counts.
func (sl *Slot) Serves(transport string) bool {
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
func (sl *Slot) hold(transport string) bool {
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
func (sl *Slot) release(transport string) {
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

// FreeIfUnused frees the slot of a handshake that no transport took (the library or gorilla
// refused it); it is called once the handshake request has been served.
func (sl *Slot) FreeIfUnused() {
	s := sl.sessions
	s.mu.Lock()
	defer s.mu.Unlock()
	if !sl.used {
		sl.freeLocked()
	}
}

func (sl *Slot) freeLocked() {
	if sl.freed {
		return
	}
	sl.freed = true
	s := sl.sessions
	s.open--
	if s.byAddr[sl.addr]--; s.byAddr[sl.addr] <= 0 {
		delete(s.byAddr, sl.addr)
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

// WithSlot is ctx carrying sl, for the request the library serves: a handshake's new slot, or
// the slot of the session a request names.
func WithSlot(ctx context.Context, sl *Slot) context.Context {
	return context.WithValue(ctx, slotKey{}, sl)
}

func slotFrom(ctx context.Context) *Slot {
	sl, _ := ctx.Value(slotKey{}).(*Slot)
	return sl
}

// heldSlot is what a transport keeps: the slot it holds, released exactly once at its close.
type heldSlot struct {
	sl        *Slot
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
