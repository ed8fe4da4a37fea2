package httpapi_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/glebarez/go-sqlite" // database/sql driver "sqlite", to hold the write lock from outside
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/chirp-social/chirp/backend/dburl"
	"github.com/chirp-social/chirp/backend/httpapi"
	"github.com/chirp-social/chirp/backend/internal/testdb"
	"github.com/chirp-social/chirp/backend/internal/testlog"
)

// failures returns the "request failed" records (500s) in a server's log, for a failing test
// to show what went wrong.
func failures(logs *testlog.Buffer) []string {
	var out []string
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, "request failed") {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return out
}

// try sends a request from any goroutine and reports a transport failure instead of ending
// the test.
func (s *server) try(method, path, body string, headers ...string) (response, error) {
	contentType := ""
	if body != "" {
		contentType = jsonType
	}
	req, err := newRequest(method, s.url+path, contentType, body, headers...)
	if err != nil {
		return response{}, err
	}
	// A connection of its own: on a kept-alive connection, a request that outlives its
	// deadline can leave the next request there with a context cancelled from the start
	// (net/http's background read runs into apiDeadline's read deadline and cancels the
	// connection's context), which is not what these tests are about.
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	return roundTrip(client, req)
}

// TestTerminatedBackendsAreUnavailable terminates every PostgreSQL backend of the store's pool
// (as an operator's pg_terminate_backend or a restart does) while requests run: a request that
// fails for it is a 503 unavailable, never a 500, and the store recovers on its own.
func TestTerminatedBackendsAreUnavailable(t *testing.T) {
	url := testdb.PostgresURL(t)
	logs := &testlog.Buffer{}
	s := newServer(t, url, httpapi.Config{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	operator, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	operator.SetMaxOpenConns(1) // its own backend is the one spared
	t.Cleanup(func() { operator.Close() })
	s.post("seed", "before the terminations")

	const workers, perWorker, rounds = 8, 60, 5
	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		bad      []string
		finished atomic.Int64
		wg       sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				var r response
				var err error
				if i%2 == 0 {
					r, err = s.try("POST", "/api/tweets", fmt.Sprintf(`{"author":"w%d","content":"tweet %d"}`, w, i))
				} else {
					r, err = s.try("GET", "/api/tweets?limit=5", "")
				}
				finished.Add(1)
				mu.Lock()
				switch {
				case err != nil:
					bad = append(bad, err.Error())
				case r.status == http.StatusServiceUnavailable && !strings.Contains(r.body, `"code":"unavailable"`):
					bad = append(bad, r.body)
				}
				statuses[r.status]++
				mu.Unlock()
			}
		})
	}
	terminated := 0
	for round := range rounds {
		// Terminate while the workers are busy: after each share of their requests is done.
		share := int64((round + 1) * workers * perWorker / (rounds + 1))
		for wait := 0; finished.Load() < share && wait < 1000; wait++ {
			time.Sleep(10 * time.Millisecond)
		}
		terminated += terminateBackends(t, operator)
	}
	wg.Wait()

	t.Logf("terminated %d backends in %d rounds; answers: %v", terminated, rounds, statuses)
	if terminated == 0 {
		t.Fatal("no backend was terminated: the test did not test anything")
	}
	for _, b := range bad {
		t.Errorf("not a JSON 503: %s", b)
	}
	for status, n := range statuses {
		if status != http.StatusOK && status != http.StatusCreated && status != http.StatusServiceUnavailable {
			t.Errorf("%d answers with status %d", n, status)
		}
	}
	if t.Failed() {
		for _, f := range failures(logs) {
			t.Log(f)
		}
		t.FailNow()
	}

	// The pool replaces the dead connections by itself: soon every request succeeds again.
	streak := 0
	for attempt := 0; attempt < 60 && streak < 10; attempt++ {
		r, err := s.try("POST", "/api/tweets", `{"author":"after","content":"recovered"}`)
		switch {
		case err != nil:
			t.Fatal(err)
		case r.status == http.StatusCreated:
			streak++
		case r.status == http.StatusServiceUnavailable:
			streak = 0
		default:
			t.Fatalf("after the terminations: %d %s", r.status, r.body)
		}
	}
	if streak < 10 {
		t.Fatal("the store did not recover: creates still fail after 60 attempts")
	}
	if r, err := s.try("GET", "/api/tweets", ""); err != nil || r.status != http.StatusOK {
		t.Fatalf("list after the terminations: %d %s %v", r.status, r.body, err)
	}
}

// terminateBackends terminates every backend connected to the operator's database but its own
// and returns how many there were. The call stays in the select list: in a WHERE clause
// PostgreSQL may run it before the filter on the database, on every backend of the server.
func terminateBackends(t *testing.T, operator *sql.DB) int {
	t.Helper()
	rows, err := operator.Query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`)
	if err != nil {
		t.Fatalf("terminate backends: %v", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var ok bool
		if err := rows.Scan(&ok); err != nil {
			t.Fatal(err)
		}
		if ok {
			n++
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("terminate backends: %v", err)
	}
	return n
}

// TestLockedSQLiteAnswersByTheDeadline holds SQLite's write lock from another connection (as
// another process would): creates, edits and deletes answer 503 unavailable within about the
// request's deadline instead of SQLite's busy timeout, reads still work, and writes succeed
// once the lock is released.
func TestLockedSQLiteAnswersByTheDeadline(t *testing.T) {
	url := testdb.SQLiteURL(t)
	const timeout = 300 * time.Millisecond
	logs := &testlog.Buffer{}
	s := newServer(t, url, httpapi.Config{RequestTimeout: timeout, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	t.Cleanup(func() {
		if t.Failed() {
			for _, f := range failures(logs) {
				t.Log(f)
			}
		}
	})
	tw, token := s.post("alice", "before the lock")
	bearer := []string{"Authorization", "Bearer " + token}

	where, err := dburl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite", where.Path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	ctx := context.Background()
	lock, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Close() })
	if _, err := lock.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}

	writes := []struct {
		name, method, path, body string
		headers                  []string
	}{
		{"Create", "POST", "/api/tweets", `{"author":"bob","content":"while locked"}`, nil},
		{"Edit", "PATCH", fmt.Sprint("/api/tweets/", tw.ID), `{"content":"edited while locked"}`, bearer},
		{"Delete", "DELETE", fmt.Sprint("/api/tweets/", tw.ID), "", bearer},
	}
	for _, w := range writes {
		t.Run(w.name+"Locked", func(t *testing.T) {
			start := time.Now()
			r, err := s.try(w.method, w.path, w.body, w.headers...)
			took := time.Since(start)
			t.Logf("answered after %v", took.Round(time.Millisecond))
			if err != nil {
				t.Fatalf("no answer after %v: %v", took, err)
			}
			if r.status != http.StatusServiceUnavailable || r.errorCode(t) != "unavailable" {
				t.Fatalf("%d %s after %v", r.status, r.body, took)
			}
			if took > timeout+time.Second {
				t.Fatalf("answered after %v: a busy database must give up by the request's deadline (%v)", took, timeout)
			}
		})
	}
	if r, err := s.try("GET", "/api/tweets", ""); err != nil || r.status != http.StatusOK {
		t.Fatalf("a read while locked: %d %s %v", r.status, r.body, err)
	}

	if _, err := lock.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"Create": http.StatusCreated, "Edit": http.StatusOK, "Delete": http.StatusNoContent}
	for _, w := range writes {
		if r, err := s.try(w.method, w.path, w.body, w.headers...); err != nil || r.status != want[w.name] {
			t.Fatalf("%s after the lock is released: %d %s %v", w.name, r.status, r.body, err)
		}
	}
	if tweets, _ := s.page(""); len(tweets) != 1 || tweets[0].Content != "while locked" {
		t.Fatalf("stored %+v, want only the create made after the release", tweets)
	}
}
