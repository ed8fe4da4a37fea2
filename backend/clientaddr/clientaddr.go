// Package clientaddr decides, in one place, which client a request comes from: the address the
// API's limits and the socket server's limits count by, and the access log records.
//
// The client is the connection's peer, unless that peer is a proxy Chirp was told to trust
// (TRUSTED_PROXIES): then it is the rightmost address of X-Forwarded-For that is not itself a
// trusted proxy, the same rule Gin's ClientIP follows with SetTrustedProxies. A header from a
// peer that is not trusted is ignored: anyone can write one.
package clientaddr

import (
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
)

// Resolver finds a request's client address.
type Resolver struct {
	trusted []netip.Prefix
	warned  atomic.Bool // WarnUntrusted has spoken
}

// New returns a Resolver that trusts X-Forwarded-For from the given proxies (none: the peer is
// always the client).
func New(trusted []netip.Prefix) *Resolver {
	return &Resolver{trusted: trusted}
}

// Trusted is the list of trusted proxies, as Gin's SetTrustedProxies takes it.
func (r *Resolver) Trusted() []string {
	out := make([]string, len(r.trusted))
	for i, p := range r.trusted {
		out[i] = p.String()
	}
	return out
}

// Addr is the request's client address; it is invalid only when the peer address cannot be
// parsed (never, for a request from net/http's server).
func (r *Resolver) Addr(req *http.Request) netip.Addr {
	peer := peerAddr(req.RemoteAddr)
	if !r.isTrusted(peer) {
		return peer
	}
	hops := forwardedFor(req.Header)
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			// A malformed hop: nothing to its left can be believed either.
			break
		}
		a = a.Unmap()
		if !r.isTrusted(a) {
			return a
		}
		peer = a // every hop so far was a trusted proxy: the leftmost one seen stands
	}
	return peer
}

// forwardedByUntrusted reports whether the request carries X-Forwarded-For from a peer that is
// not a trusted proxy: behind such a proxy every client shares the proxy's address (and its
// limits), which the operator fixes with TRUSTED_PROXIES.
func (r *Resolver) forwardedByUntrusted(req *http.Request) bool {
	return req.Header.Get("X-Forwarded-For") != "" && !r.isTrusted(peerAddr(req.RemoteAddr))
}

// WarnUntrusted logs a warning the first time a request carries X-Forwarded-For from a peer
// that is not trusted (forwardedByUntrusted), naming TRUSTED_PROXIES; once per Resolver, so
// once for the API and the socket server together when they share it.
func (r *Resolver) WarnUntrusted(req *http.Request, log *slog.Logger) {
	if r.warned.Load() || !r.forwardedByUntrusted(req) || r.warned.Swap(true) {
		return
	}
	log.Warn("X-Forwarded-For comes from a proxy that is not trusted: every client behind it shares its address and its limits; set TRUSTED_PROXIES to the proxy's address",
		"peer", peerAddr(req.RemoteAddr).String(), "TRUSTED_PROXIES", strings.Join(r.Trusted(), ","))
}

// TrustsPeer reports whether a connection's peer is a trusted proxy, through which many
// clients come (connlimit does not hold it to one client's share).
func (r *Resolver) TrustsPeer(a netip.Addr) bool { return r.isTrusted(a.Unmap()) }

func (r *Resolver) isTrusted(a netip.Addr) bool {
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func peerAddr(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

func forwardedFor(h http.Header) []string {
	var hops []string
	for _, v := range h.Values("X-Forwarded-For") {
		for _, hop := range strings.Split(v, ",") {
			hops = append(hops, strings.TrimSpace(hop))
		}
	}
	return hops
}

// Key is what a client's budget is kept under: an IPv4 address itself, an IPv6 address by its
// /64 (one subscriber's prefix: an address-per-request client would otherwise have endless
// budgets).
func Key(a netip.Addr) string { return PrefixKey(a, 32, 64) }

// PrefixKey is the key of the network a belongs to: its first v4Bits if it is IPv4, its first
// v6Bits if IPv6, written as a prefix ("203.0.113.0/24"), or as the address itself when the
// length covers it whole. Budgets of a network (a /24, a /48) are kept under it, so that one
// holder of many addresses cannot take what is shared by all.
func PrefixKey(a netip.Addr, v4Bits, v6Bits int) string {
	a = a.Unmap()
	bits := v4Bits
	if a.Is6() {
		bits = v6Bits
	}
	if bits >= a.BitLen() {
		return a.String()
	}
	p, err := a.Prefix(bits)
	if err != nil { // an invalid address, or a negative length
		return a.String()
	}
	return p.String()
}

// ParseTrusted reads a TRUSTED_PROXIES list: comma-separated addresses or CIDR prefixes,
// empty for none.
func ParseTrusted(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if strings.Contains(item, "/") {
			p, err := netip.ParsePrefix(item)
			if err != nil {
				return nil, err
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, err
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
