package limitlog_test

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend/internal/testlog"
	"github.com/chirp-social/chirp/backend/limitlog"
)

func bites(logs *testlog.Buffer, t *testing.T) (logged int, summarised float64) {
	for _, r := range logs.Records(t) {
		switch {
		case r["msg"] == "limit reached":
			logged++
		case strings.HasPrefix(r["msg"].(string), "limits refused"):
			summarised += r["total"].(float64)
		}
	}
	return logged, summarised
}

// refusals is a limitlog.Counter that remembers what it was told.
type refusals map[string]int

func (r refusals) Refused(limit string) { r[limit]++ }

// One client is logged once a minute per limit; another limit is another line. The counter
// hears of every bite, logged or not.
func TestOnceAMinutePerClientAndLimit(t *testing.T) {
	logs := &testlog.Buffer{}
	counted := refusals{}
	l := limitlog.New(slog.New(slog.NewJSONHandler(logs, nil)), counted)
	for range 100 {
		l.Bit("writes", "203.0.113.7")
	}
	l.Bit("sockets", "203.0.113.7")
	l.Bit("writes", "203.0.113.8", slog.Int("per_minute", 30))
	if logged, _ := bites(logs, t); logged != 3 {
		t.Fatalf("%d lines, want 3:\n%s", logged, logs)
	}
	if counted["writes"] != 101 || counted["sockets"] != 1 || len(counted) != 2 {
		t.Fatalf("counted %v, want writes 101 and sockets 1", counted)
	}
}

// A client spraying addresses gets a few lines a second, then a summary that counts the rest,
// and the log's memory stays bounded.
func TestAnAddressSprayerCannotFloodTheLog(t *testing.T) {
	logs := &testlog.Buffer{}
	frozen := time.Now()
	l := limitlog.NewForTest(slog.New(slog.NewJSONHandler(logs, nil)), time.Minute, 5, 100*time.Millisecond,
		func() time.Time { return frozen })
	const sprayed = 10_000
	for i := range sprayed {
		l.Bit("writes", fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
	}
	time.Sleep(300 * time.Millisecond)
	logged, summarised := bites(logs, t)
	if logged > 5 {
		t.Fatalf("%d lines for a burst, want at most a few", logged)
	}
	if logged+int(summarised) != sprayed {
		t.Fatalf("%d logged + %v summarised, want %d in all", logged, summarised, sprayed)
	}
	if n := l.Tracked(); n > 10 {
		t.Fatalf("the log remembers %d clients", n)
	}
}
