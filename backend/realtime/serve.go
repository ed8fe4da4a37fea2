package realtime

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/gorilla/websocket"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/clientaddr"
	"github.com/chirp-social/chirp/backend/httperror"
	"github.com/chirp-social/chirp/backend/realtime/engine"
)

// ServeHTTP serves everything under /socket.io/: the client script, CORS preflights, and the
// Engine.IO endpoint (polling GET/POST and websocket upgrades).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == ClientScriptPath {
		s.script.ServeHTTP(w, r)
		return
	}
	origin := r.Header.Get("Origin")
	if !s.origins.Any() {
		// The answer depends on the Origin, refusals included: caches must key on it.
		w.Header().Add("Vary", "Origin")
	}
	if !s.origins.Allows(origin) {
		s.observer.Refused(RefuseOrigin)
		httperror.Write(w, chirp.Errorf(chirp.CodeForbidden, "pages of this origin may not connect (CORS_ALLOWED_ORIGINS)"))
		return
	}
	if origin != "" {
		// The 2.x browser client sends its polling requests with credentials, which browsers
		// refuse against "*": so the origin is reflected. Nothing here reads cookies.
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		if s.origins.Any() {
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
		httperror.Write(w, chirp.Errorf(chirp.CodeUnavailable, "the server is restarting; reconnect"))
		return
	}
	q := r.URL.Query()
	if t := q.Get("transport"); t != "polling" && t != "websocket" {
		s.observer.Refused(RefuseTransport)
		httperror.Write(w, chirp.Errorf(chirp.CodeBadRequest, "transport must be polling or websocket"))
		return
	}
	if q.Get("transport") == "websocket" && !websocket.IsWebSocketUpgrade(r) {
		s.observer.Refused(RefuseTransport)
		httperror.Write(w, chirp.Errorf(chirp.CodeBadRequest, "transport=websocket needs a websocket upgrade request"))
		return
	}
	if q.Get("transport") == "polling" {
		// The handshake carries the session id, and every poll the session's packets.
		w.Header().Set("Cache-Control", "no-store")
	}
	if q.Get("transport") == "polling" && q.Get("j") != "" {
		s.observer.Refused(RefuseJSONP)
		httperror.Write(w, chirp.Errorf(chirp.CodeBadRequest, "JSONP polling is not supported; use XHR polling or websocket"))
		return
	}
	if sid := q.Get("sid"); sid != "" {
		sl := s.sessions.Find(sid)
		if sl == nil {
			// Also what keeps a session the library failed to connect, and never removed
			// (go-socket.io v1.7.0), from being served again.
			s.observer.Refused(RefuseUnknownSID)
			httperror.Write(w, chirp.Errorf(chirp.CodeBadRequest, "no such socket.io session (it has ended or never existed); connect again"))
			return
		}
		if !sl.Serves(q.Get("transport")) {
			s.observer.Refused(RefuseTransportSwap)
			httperror.Write(w, chirp.Errorf(chirp.CodeBadRequest, "this session is on websocket, or upgrading to it; use that socket or connect again"))
			return
		}
		r = r.WithContext(engine.WithSlot(r.Context(), sl))
	} else {
		sl, ok := s.admit(w, r)
		if !ok {
			return
		}
		defer sl.FreeIfUnused()
		r = r.WithContext(engine.WithSlot(r.Context(), sl))
	}
	s.sio.ServeHTTP(engine.JSONErrors(w, r), r)
}

// admit counts a handshake's session, or answers it 429 when the server holds as many sessions
// as it may (SOCKET_MAX_TOTAL), or its client does (SOCKET_MAX_PER_IP), or its client's network
// (SOCKET_MAX_PER_NET). A full server answers 429 too, not 503: a balancer counts a 503 as
// the backend failing (nginx's max_fails) and takes it out for every client, its connected
// ones included, whose sessions it holds.
func (s *Server) admit(w http.ResponseWriter, r *http.Request) (*engine.Slot, bool) {
	addr := s.addrs.Addr(r)
	addrKey, network := clientaddr.Key(addr), clientaddr.PrefixKey(addr, s.netV4, s.netV6)
	sl, refused := s.sessions.Take(addrKey, network)
	most := s.sessions.Limit(refused)
	var reason, limit, key, message, retryAfter string
	switch refused {
	case engine.Admitted:
		return sl, true
	case engine.OverTotal:
		reason, limit, key, retryAfter = RefuseMaxTotal, "SOCKET_MAX_TOTAL", addrKey, "30"
		message = "the server is full: it has as many live connections as it can hold; try again later"
	case engine.OverPerNet:
		reason, limit, key, retryAfter = RefuseMaxPerNet, "SOCKET_MAX_PER_NET", network, "10"
		message = fmt.Sprintf("your network (%s) has %d live connections, the most it may have; try again later", network, most)
	case engine.OverPerAddr:
		reason, limit, key, retryAfter = RefuseMaxPerIP, "SOCKET_MAX_PER_IP", addrKey, "10"
		message = fmt.Sprintf("your address has %d live connections, the most it may have; close one (another tab) and reconnect", most)
	}
	s.observer.Refused(reason)
	s.limits.Bit(limit, key, slog.Int("max", most))
	w.Header().Set("Retry-After", retryAfter)
	httperror.Write(w, &chirp.Error{Code: chirp.CodeRateLimited, Message: message})
	return nil, false
}
