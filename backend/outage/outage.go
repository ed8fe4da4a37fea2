// Package outage logs a dependency's unavailability the way an operator wants to read it: the
// failure once when it begins, a summary of the requests it failed at most every interval while
// it lasts, and once when it ends: a line per failed request would bury the one that says why.
package outage

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Log tracks one dependency. Its methods are safe for concurrent use, and Recovered, called on
// every successful request, costs one atomic load while nothing is wrong.
type Log struct {
	log      *slog.Logger
	what     string // "database"
	interval time.Duration

	down atomic.Bool

	mu      sync.Mutex
	since   time.Time   // when the outage began
	failed  int         // requests failed since it began
	pending int         // of those, not yet in a summary
	timer   *time.Timer // the next summary, while one is due
}

// New returns a Log for the dependency named what, summarising at most every interval.
func New(log *slog.Logger, what string, interval time.Duration) *Log {
	return &Log{log: log, what: what, interval: interval}
}

// Failed records a request that failed because the dependency is unavailable. The first of an
// outage is logged with its cause; the rest are counted into the next summary.
func (l *Log) Failed(cause error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.down.Load() {
		l.down.Store(true)
		l.since, l.failed, l.pending = time.Now(), 1, 0
		l.log.Error(l.what+" unavailable: requests are answered 503 until it recovers", "error", cause)
		return
	}
	l.failed++
	l.pending++
	if l.timer == nil {
		l.timer = time.AfterFunc(l.interval, l.summarise)
	}
}

// summarise logs what was failed since the last summary.
func (l *Log) summarise() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.timer = nil
	if !l.down.Load() || l.pending == 0 {
		return
	}
	l.log.Warn(fmt.Sprintf("%d requests answered 503: %s unavailable", l.pending, l.what),
		"requests", l.pending, "outage", time.Since(l.since).Round(time.Millisecond))
	l.pending = 0
	// The next summary waits a whole interval from this one, however many fail meanwhile.
	l.timer = time.AfterFunc(l.interval, l.summarise)
}

// Recovered records a request that the dependency served; the first after an outage ends it,
// with one record of how long it lasted and how many requests it failed.
func (l *Log) Recovered() {
	if !l.down.Load() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.down.Load() {
		return
	}
	l.down.Store(false)
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	l.log.Info(l.what+" available again", "requests_answered_503", l.failed,
		"outage", time.Since(l.since).Round(time.Millisecond))
}
