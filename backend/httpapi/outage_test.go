package httpapi_test

import (
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend/httpapi"
	"github.com/chirp-social/chirp/backend/internal/testdb"
	"github.com/chirp-social/chirp/backend/internal/testlog"
)

// While the database does not answer, every request gets its 503, but the log says so once
// (ERROR, with the cause), access records of the 503s are WARN, and the recovery is one record
// that counts them: an outage under load once wrote an ERROR line per request, twice.
func TestAnOutageIsLoggedOnce(t *testing.T) {
	url := testdb.PostgresURL(t)
	logs := &testlog.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	s := newServer(t, url, httpapi.Config{RequestTimeout: 150 * time.Millisecond, Logger: log})
	s.post("a", "before the outage")

	tx := testdb.HoldInTransaction(t, url, "LOCK TABLE tweets IN ACCESS EXCLUSIVE MODE")
	const failed = 40
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range failed / 8 {
				if r := s.do("GET", "/api/tweets", "", ""); r.status != 503 {
					t.Errorf("during the outage: %d %s", r.status, r.body)
				}
			}
		})
	}
	wg.Wait()
	tx.Rollback()
	// The timed-out requests took their connections with them: the pool opens new ones, which
	// on a busy machine can take longer than this server's 150 ms. /readyz waits 2 s for one
	// (and is what a balancer would ask to learn the outage is over).
	for deadline := time.Now().Add(5 * time.Second); s.do("GET", "/readyz", "", "").status != 200; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("/readyz not 200 5 s after the outage")
		}
	}
	if r := s.do("GET", "/api/tweets", "", ""); r.status != 200 {
		t.Fatalf("after the outage: %d %s", r.status, r.body)
	}

	var errorRecords, warnAccess int
	var recovered map[string]any
	for _, r := range logs.Records(t) {
		switch {
		case r["level"] == "ERROR":
			errorRecords++
		case r["msg"] == "request" && r["status"] == 503.0 && r["level"] == "WARN":
			warnAccess++
		case r["msg"] == "database available again":
			recovered = r
		}
	}
	if errorRecords != 1 {
		t.Fatalf("%d ERROR records for one outage, want 1: %v", errorRecords, logs.Records(t))
	}
	if warnAccess != failed {
		t.Fatalf("%d WARN access records of 503s, want %d", warnAccess, failed)
	}
	if recovered == nil || recovered["requests_answered_503"] != float64(failed) {
		t.Fatalf("recovery record %v", recovered)
	}
}
