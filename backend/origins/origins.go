// Package origins is the rule of which browser pages may call Chirp (CORS_ALLOWED_ORIGINS):
// the API and the socket paths apply the same policy.
package origins

import "slices"

// Policy is a list of allowed origins, where "*" (or an empty list) allows any.
type Policy struct {
	any     bool
	allowed []string
}

// New is the policy of a list of exact origins (scheme://host[:port]), or of "*".
func New(allowed []string) Policy {
	return Policy{any: len(allowed) == 0 || slices.Contains(allowed, "*"), allowed: slices.Clone(allowed)}
}

// Any reports whether every origin is allowed.
func (p Policy) Any() bool { return p.any }

// List is the allowed origins, when not Any.
func (p Policy) List() []string { return slices.Clone(p.allowed) }

// Allows reports whether a request with the Origin header origin may be served. A request
// without one ("") is not from a page (Node clients, curl) and is always allowed. Only the
// Origin counts: a request's Host never widens the list, since a DNS-rebinding page sends a
// Host that matches its own Origin.
func (p Policy) Allows(origin string) bool {
	return origin == "" || p.any || slices.Contains(p.allowed, origin)
}
