package realtime

import (
	"sync"
	"time"
)

// relayLimiter decides which of one connection's newTweet events are relayed to the other
// clients: the first at once, then at most one per interval (leading edge). One that comes
// sooner is dropped, not delayed: a client emitting in a loop costs every other client at most
// one event per interval, and its events are never stored up to be sent later.
//
// It also paces the log: dropped relays are reported at the first drop, then summed until the
// first drop at least reportEvery after the last report.
type relayLimiter struct {
	interval, reportEvery time.Duration
	now                   func() time.Time

	mu         sync.Mutex
	relayed    time.Time // when the last relay was allowed; zero before the first
	reported   time.Time // when drops were last reported; zero before the first report
	unreported int       // drops since the last report
}

func newRelayLimiter(interval, reportEvery time.Duration, now func() time.Time) *relayLimiter {
	return &relayLimiter{interval: interval, reportEvery: reportEvery, now: now}
}

// allow reports whether a newTweet arriving now is relayed. For one that is dropped, report is
// the number of drops to log now (this one included), or 0 while the last report is recent.
func (l *relayLimiter) allow() (relay bool, report int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if l.relayed.IsZero() || now.Sub(l.relayed) >= l.interval {
		l.relayed = now
		return true, 0
	}
	l.unreported++
	if l.reported.IsZero() || now.Sub(l.reported) >= l.reportEvery {
		report, l.unreported, l.reported = l.unreported, 0, now
	}
	return false, report
}
