// Package limitlog logs the bites of Chirp's limits (write rate, sockets per client, total
// sockets, sizes) so that an operator sees who hit what, while a client that sprays addresses
// cannot flood the log: one client is logged at most once a minute for one limit, all bites
// together at most a few lines a second, and what is left out is counted into a summary.
package limitlog

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults for New.
const (
	// PerClient is how often, at most, one client is logged for one limit.
	PerClient = time.Minute
	// LinesPerSecond (with the same burst) bounds all bite records together.
	LinesPerSecond = 5
	// SummaryEvery is how often, at most, the bites left out are summarised.
	SummaryEvery = 10 * time.Second
)

// Counter is told of every bite, logged or not, for metrics. It must not block.
type Counter interface {
	Refused(limit string)
}

// Log records limit bites. Its methods are safe for concurrent use.
type Log struct {
	log       *slog.Logger
	counter   Counter // nil: none
	perClient time.Duration
	summary   time.Duration
	overall   *rate.Limiter
	now       func() time.Time

	mu        sync.Mutex
	logged    map[key]time.Time // when each client was last logged for each limit
	swept     time.Time
	left      map[string]int // bites left out since the last summary, by limit
	leftTotal int
	timer     *time.Timer
}

type key struct{ limit, client string }

// New returns a Log with the package's defaults that also tells counter (nil: nobody) of
// every bite.
func New(log *slog.Logger, counter Counter) *Log {
	l := newLog(log, PerClient, LinesPerSecond, SummaryEvery)
	l.counter = counter
	return l
}

func newLog(log *slog.Logger, perClient time.Duration, perSecond int, summary time.Duration) *Log {
	return &Log{
		log:       log,
		perClient: perClient,
		summary:   summary,
		overall:   rate.NewLimiter(rate.Limit(perSecond), perSecond),
		now:       time.Now,
		logged:    map[key]time.Time{},
		left:      map[string]int{},
	}
}

// Bit records that limit refused client (its address key); attrs say more (the limit's value,
// the path). It is logged at WARN unless the same client was logged for the same limit within
// PerClient, or the overall line budget is spent; those are counted into the next summary.
func (l *Log) Bit(limit, client string, attrs ...slog.Attr) {
	if l.counter != nil {
		l.counter.Refused(limit)
	}
	l.mu.Lock()
	now := l.now()
	defer l.mu.Unlock()
	l.sweep(now)
	k := key{limit, client}
	if last, ok := l.logged[k]; ok && now.Sub(last) < l.perClient {
		l.leave(limit)
		return
	}
	if !l.overall.AllowN(now, 1) {
		l.leave(limit)
		return
	}
	l.logged[k] = now
	args := append([]slog.Attr{slog.String("limit", limit), slog.String("client", client)}, attrs...)
	l.log.LogAttrs(context.Background(), slog.LevelWarn, "limit reached", args...)
}

// leave counts a bite that was not logged and makes sure a summary will say so. l.mu is held.
func (l *Log) leave(limit string) {
	l.left[limit]++
	l.leftTotal++
	if l.timer == nil {
		l.timer = time.AfterFunc(l.summary, l.summarise)
	}
}

// summarise logs the bites left out since the last summary.
func (l *Log) summarise() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.timer = nil
	if l.leftTotal == 0 {
		return
	}
	attrs := []slog.Attr{slog.Int("total", l.leftTotal)}
	for limit, n := range l.left {
		attrs = append(attrs, slog.Int(limit, n))
	}
	l.log.LogAttrs(context.Background(), slog.LevelWarn,
		fmt.Sprintf("limits refused %d more requests (not logged one by one)", l.leftTotal), attrs...)
	clear(l.left)
	l.leftTotal = 0
}

// sweep forgets clients last logged over PerClient ago, at most once per PerClient, so the
// map holds at most what the line budget let through in two such periods. l.mu is held.
func (l *Log) sweep(now time.Time) {
	if now.Sub(l.swept) < l.perClient {
		return
	}
	l.swept = now
	for k, t := range l.logged {
		if now.Sub(t) >= l.perClient {
			delete(l.logged, k)
		}
	}
}
