package outage_test

import (
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend/internal/testlog"
	"github.com/chirp-social/chirp/backend/outage"
)

func TestAnOutageIsLoggedOnceSummarisedAndEnded(t *testing.T) {
	rec := &testlog.Buffer{}
	const interval = 100 * time.Millisecond
	l := outage.New(slog.New(slog.NewJSONHandler(rec, nil)), "database", interval)
	cause := errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")

	l.Recovered() // nothing is wrong: nothing to say
	began := time.Now()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 250 {
				l.Failed(cause)
			}
		})
	}
	wg.Wait()
	time.Sleep(3*interval + interval/2)
	l.Recovered()
	l.Recovered()
	lasted := time.Since(began)

	got := rec.Records(t)
	if len(got) < 3 {
		t.Fatalf("want the failure, a summary and the recovery; got %v", got)
	}
	first, last, summaries := got[0], got[len(got)-1], got[1:len(got)-1]
	if first["level"] != "ERROR" || first["error"] != cause.Error() {
		t.Fatalf("first record %v", first)
	}
	// At most one summary per interval (plus one for timer slack), and together they count
	// every failed request but the first.
	if max := int(lasted/interval) + 1; len(summaries) > max {
		t.Fatalf("%d summaries in %v, at most %d expected: %v", len(summaries), lasted, max, summaries)
	}
	summed := 0
	for _, s := range summaries {
		if s["level"] != "WARN" || !strings.Contains(s["msg"].(string), "requests answered 503: database unavailable") {
			t.Fatalf("summary %v", s)
		}
		summed += int(s["requests"].(float64))
	}
	if summed != 999 {
		t.Fatalf("summaries count %d failures, want 999", summed)
	}
	if last["level"] != "INFO" || last["msg"] != "database available again" || last["requests_answered_503"] != 1000.0 {
		t.Fatalf("last record %v", last)
	}

	// A new outage is a new story, told from its first failure.
	l.Failed(cause)
	if got := rec.Records(t); len(got) != len(summaries)+3 || got[len(got)-1]["level"] != "ERROR" {
		t.Fatalf("second outage: %v", got[len(got)-1])
	}
}

// A recovery before the first summary is due stops the summaries: nothing more is logged.
func TestNoSummaryAfterRecovery(t *testing.T) {
	rec := &testlog.Buffer{}
	l := outage.New(slog.New(slog.NewJSONHandler(rec, nil)), "database", 50*time.Millisecond)
	l.Failed(errors.New("down"))
	l.Failed(errors.New("down"))
	l.Recovered()
	time.Sleep(150 * time.Millisecond)
	got := rec.Records(t)
	if len(got) != 2 || got[0]["level"] != "ERROR" || got[1]["msg"] != "database available again" {
		t.Fatalf("records %v", got)
	}
}
