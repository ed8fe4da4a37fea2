package clientaddr

import "net/http"

// ForwardedByUntrusted lets the external tests check the rule WarnUntrusted warns by.
func (r *Resolver) ForwardedByUntrusted(req *http.Request) bool { return r.forwardedByUntrusted(req) }
