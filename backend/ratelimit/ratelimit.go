// Package ratelimit keeps a token bucket per client (golang.org/x/time/rate): each client may
// spend a burst at once, then earns tokens back at a steady rate. Buckets of idle clients are
// forgotten, and the number kept has a ceiling, so a client that sprays addresses costs bounded
// memory.
package ratelimit

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxClients is the ceiling on buckets kept at once: it bounds their memory however
// many addresses a client sprays (TestSprayedAddressesAreForgotten reports a bucket's bytes).
const DefaultMaxClients = 100_000

// Limiter is a set of token buckets, one per client key. Its methods are safe for concurrent
// use.
type Limiter struct {
	every rate.Limit
	burst int
	// idle is how long an empty bucket takes to fill up again: the period of the sweep.
	idle time.Duration
	max  int
	now  func() time.Time

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	swept   time.Time
}

// New returns a Limiter that allows perMinute requests a minute per client with bursts of
// burst, or nil (no limit) when either is 0. A nil *Limiter allows everything.
func New(perMinute, burst int) *Limiter {
	return newLimiter(perMinute, time.Minute, burst, DefaultMaxClients, time.Now)
}

// NewPerHour is New for a budget counted by the hour: one too small to be a whole number a
// minute (a handle's sign-in attempts).
func NewPerHour(perHour, burst int) *Limiter {
	return newLimiter(perHour, time.Hour, burst, DefaultMaxClients, time.Now)
}

func newLimiter(n int, per time.Duration, burst, maxClients int, now func() time.Time) *Limiter {
	if n <= 0 || burst <= 0 {
		return nil
	}
	every := rate.Limit(float64(n) / per.Seconds())
	return &Limiter{
		every:   every,
		burst:   burst,
		idle:    time.Duration(math.Ceil(float64(burst) / float64(every) * float64(time.Second))),
		max:     maxClients,
		now:     now,
		buckets: map[string]*rate.Limiter{},
	}
}

// Allow spends one token of client's bucket. When there is none it spends nothing and says
// how long until there will be one (wait > 0).
func (l *Limiter) Allow(client string) (ok bool, wait time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b := l.buckets[client]
	if b == nil {
		if len(l.buckets) >= l.max {
			l.evictOne()
		}
		b = rate.NewLimiter(l.every, l.burst)
		l.buckets[client] = b
	}
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now) // a refused request costs nothing: waiting out the delay is enough
		return false, d
	}
	return true, 0
}

// sweep forgets the buckets that are full again, at most once per l.idle (so its cost spreads
// over the requests of that period): a full bucket is the same as a fresh one, so forgetting
// it changes nothing a client can observe. A bucket is kept at most about 2×l.idle after its
// client's last request. l.mu is held.
func (l *Limiter) sweep(now time.Time) {
	if now.Sub(l.swept) < l.idle {
		return
	}
	l.swept = now
	full := float64(l.burst)
	for k, b := range l.buckets {
		if b.TokensAt(now) >= full {
			delete(l.buckets, k)
		}
	}
}

// evictOne makes room when the ceiling is reached by more clients active at once than it
// holds: one bucket, chosen at random by map order, is forgotten, and its client starts over
// with a full burst. l.mu is held.
func (l *Limiter) evictOne() {
	for k := range l.buckets {
		delete(l.buckets, k)
		return
	}
}

// PerMinute and Burst are the limit's settings, for the log (0 when off).
func (l *Limiter) PerMinute() int {
	if l == nil {
		return 0
	}
	return int(math.Round(float64(l.every) * 60))
}

// PerHour is how many requests a client may make an hour, on average.
func (l *Limiter) PerHour() int {
	if l == nil {
		return 0
	}
	return int(math.Round(float64(l.every) * 3600))
}

// Burst is how many requests a client may make at once.
func (l *Limiter) Burst() int {
	if l == nil {
		return 0
	}
	return l.burst
}
