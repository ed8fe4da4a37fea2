package httpapi_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend/httpapi"
	"github.com/chirp-social/chirp/backend/internal/testdb"
	"github.com/chirp-social/chirp/backend/internal/testlog"
)

// While the database does not answer, every request gets its 503, but the log says so once
// (ERROR, with the cause), access records of the 503s are WARN, and the recovery is one record
// that counts them, rather than an ERROR line per failed request.
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
				r, err := s.request("GET", "/api/tweets", "", "")
				if err != nil {
					t.Errorf("during the outage: %v", err)
					return
				}
				if r.status != 503 {
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

// requestStatuses records each answered request's method, route and status
// (httpapi.RequestObserver).
type requestStatuses struct {
	mu  sync.Mutex
	got []string
}

func (r *requestStatuses) Request(route, method string, status int, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, fmt.Sprint(method, " ", route, " ", status))
}

func (r *requestStatuses) find(prefix string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.got {
		if strings.HasPrefix(s, prefix) {
			return s, true
		}
	}
	return "", false
}

// A client that closes its connection while its request waits on the database is 499
// (client_closed) to the metrics and in a DEBUG access record, and the outage log never hears
// of it; a request that meets its REQUEST_TIMEOUT on the same stalled database is the outage:
// 503, and one ERROR. Both end the request's context: the client's leaving cancels it, the
// timeout is a deadline.
func TestClientClosedIsNotAnOutage(t *testing.T) {
	tests := []struct {
		name         string
		timeout      time.Duration
		leave        bool
		want         int
		errorRecords int
	}{
		{"ClientLeaves", 30 * time.Second, true, httpapi.StatusClientClosed, 0},
		{"DeadlinePasses", 300 * time.Millisecond, false, http.StatusServiceUnavailable, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := testdb.PostgresURL(t)
			logs := &testlog.Buffer{}
			log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			seen := &requestStatuses{}
			s := newServer(t, url, httpapi.Config{RequestTimeout: tt.timeout, Logger: log, Requests: seen})
			created, _ := s.post("a", "stored")
			tx := testdb.HoldInTransaction(t, url, "LOCK TABLE tweets IN ACCESS EXCLUSIVE MODE")

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.leave {
				db := testdb.Open(t, url)
				go func() {
					// The client leaves once its request waits on the lock.
					for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
						var n int
						db.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
						if n > 0 {
							break
						}
					}
					cancel()
				}()
			}
			req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprint(s.url, "/api/tweets/", created.ID), nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
			var got string
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				var ok bool
				if got, ok = seen.find("GET /api/tweets/:id "); ok {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the request was not answered within 10 s")
				}
			}
			tx.Rollback()
			if want := fmt.Sprint("GET /api/tweets/:id ", tt.want); got != want {
				t.Fatalf("observed %q, want %q", got, want)
			}
			var errorRecords int
			for _, r := range logs.Records(t) {
				if r["level"] == "ERROR" {
					errorRecords++
				}
				if r["msg"] == "request" && r["status"] == float64(httpapi.StatusClientClosed) && r["level"] != "DEBUG" {
					t.Errorf("the access record of a 499 is %v, want DEBUG", r["level"])
				}
			}
			if errorRecords != tt.errorRecords {
				t.Fatalf("%d ERROR records, want %d: %v", errorRecords, tt.errorRecords, logs.Records(t))
			}
		})
	}
}
