package limitlog

import (
	"log/slog"
	"time"
)

// NewForTest is New with the periods and the line budget a test can wait for, and a clock
// (nil: the real one) so that a slow machine does not refill the line budget mid-test.
func NewForTest(log *slog.Logger, perClient time.Duration, perSecond int, summary time.Duration, now func() time.Time) *Log {
	l := newLog(log, perClient, perSecond, summary)
	if now != nil {
		l.now = now
	}
	return l
}

// Tracked is how many (limit, client) pairs the log remembers: bounded, whatever the clients.
func (l *Log) Tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.logged)
}
