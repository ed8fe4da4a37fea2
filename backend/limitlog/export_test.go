package limitlog

import (
	"log/slog"
	"time"
)

// NewForTest is New with the periods and the line budget a test can wait for.
func NewForTest(log *slog.Logger, perClient time.Duration, perSecond int, summary time.Duration) *Log {
	return newLog(log, perClient, perSecond, summary)
}
