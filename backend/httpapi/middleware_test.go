package httpapi_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/chirp-social/chirp/backend/httpapi"
	"github.com/chirp-social/chirp/backend/internal/testdb"
)

func TestCORS(t *testing.T) {
	url := testdb.SQLiteURL(t)
	preflight := func(s *server, origin string) response {
		return s.do("OPTIONS", "/api/tweets", "", "",
			"Origin", origin, "Access-Control-Request-Method", "PATCH",
			"Access-Control-Request-Headers", "content-type,authorization,idempotency-key,x-request-id")
	}
	t.Run("WildcardByDefault", func(t *testing.T) {
		s := newServer(t, url, httpapi.Config{})
		r := preflight(s, "http://anywhere.example:3000")
		if r.status/100 != 2 || r.header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("preflight %d %v", r.status, r.header)
		}
		for _, h := range []string{"Content-Type", "Authorization", "Idempotency-Key", "X-Request-Id"} {
			if !strings.Contains(strings.ToLower(r.header.Get("Access-Control-Allow-Headers")), strings.ToLower(h)) {
				t.Fatalf("preflight does not allow %s: %q", h, r.header.Get("Access-Control-Allow-Headers"))
			}
		}
		if !strings.Contains(r.header.Get("Access-Control-Allow-Methods"), "PATCH") {
			t.Fatalf("methods %q", r.header.Get("Access-Control-Allow-Methods"))
		}
		g := s.do("GET", "/api/tweets", "", "", "Origin", "http://anywhere.example:3000")
		if g.header.Get("Access-Control-Allow-Origin") != "*" || g.header.Get("Access-Control-Allow-Credentials") != "" {
			t.Fatalf("GET CORS headers %v", g.header)
		}
		exposed := strings.ToLower(g.header.Get("Access-Control-Expose-Headers"))
		for _, h := range []string{"location", "link", "x-request-id"} {
			if !strings.Contains(exposed, h) {
				t.Fatalf("%s not exposed: %q", h, exposed)
			}
		}
	})
	t.Run("List", func(t *testing.T) {
		s := newServer(t, url, httpapi.Config{AllowedOrigins: []string{"http://localhost:3000", "https://chirp.example"}})
		if r := preflight(s, "https://chirp.example"); r.status/100 != 2 || r.header.Get("Access-Control-Allow-Origin") != "https://chirp.example" {
			t.Fatalf("allowed preflight %d %v", r.status, r.header)
		}
		r := preflight(s, "http://evil.example")
		if r.status != 403 || r.errorCode(t) != "forbidden" || r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("foreign preflight %d %v %s", r.status, r.header, r.body)
		}
		g := s.do("GET", "/api/tweets", "", "", "Origin", "http://evil.example")
		if g.status != 200 || g.header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("foreign GET %d %v", g.status, g.header)
		}
		if g := s.do("GET", "/api/tweets", "", ""); g.status != 200 {
			t.Fatalf("GET without Origin: %d", g.status)
		}
		// Every answer depends on the Origin: a shared cache must key on it, refusals included.
		for _, r := range []response{
			preflight(s, "http://evil.example"),
			s.do("GET", "/api/tweets", "", "", "Origin", "http://evil.example"),
			s.do("GET", "/api/tweets", "", "", "Origin", "https://chirp.example"),
			s.do("GET", "/api/tweets", "", ""),
		} {
			if !slices.Contains(r.header.Values("Vary"), "Origin") {
				t.Fatalf("%d without Vary: Origin: %v", r.status, r.header)
			}
		}
	})
}

// Every answer is nosniff; every /api answer is no-store (the 201 holds the only copy of an
// edit token, and errors are per-request facts too).
func TestResponseHeaders(t *testing.T) {
	s := newServer(t, testdb.SQLiteURL(t), httpapi.Config{})
	tests := []struct {
		name    string
		r       response
		noStore bool
	}{
		{"Create", s.do("POST", "/api/tweets", jsonType, `{"author":"a","content":"hi"}`), true},
		{"List", s.do("GET", "/api/tweets", "", ""), true},
		{"Invalid", s.do("POST", "/api/tweets", jsonType, `{"author":"a"}`), true},
		{"APINotFound", s.do("GET", "/api/tweets/999", "", ""), true},
		{"Health", s.do("GET", "/healthz", "", ""), false},
		{"NoRoute", s.do("GET", "/nowhere", "", ""), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Fatalf("%d: X-Content-Type-Options %q", tt.r.status, got)
			}
			if got := tt.r.header.Get("Cache-Control"); (got == "no-store") != tt.noStore {
				t.Fatalf("%d: Cache-Control %q", tt.r.status, got)
			}
		})
	}
}

func TestRequestID(t *testing.T) {
	s := newServer(t, testdb.SQLiteURL(t), httpapi.Config{})
	if r := s.do("GET", "/healthz", "", "", "X-Request-ID", "abc-123"); r.header.Get("X-Request-ID") != "abc-123" {
		t.Fatalf("not echoed: %q", r.header.Get("X-Request-ID"))
	}
	r := s.do("GET", "/healthz", "", "", "X-Request-ID", "bad id\twith junk")
	if id := r.header.Get("X-Request-ID"); id == "" || strings.Contains(id, " ") {
		t.Fatalf("made %q", id)
	}
}

// TestRequestTimeoutReachesTheDatabase holds the create lock from outside, so a POST waits in
// PostgreSQL; REQUEST_TIMEOUT must cancel that wait and answer 503, and nothing is stored.
func TestRequestTimeoutReachesTheDatabase(t *testing.T) {
	url := testdb.PostgresURL(t)
	s := newServer(t, url, httpapi.Config{RequestTimeout: 300 * time.Millisecond})
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback() })
	var key int64
	// The store's create lock key: any create now waits for this transaction.
	if err := tx.QueryRowContext(ctx, "SELECT x'4368697270000002'::bigint").Scan(&key); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", key); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := s.do("POST", "/api/tweets", jsonType, `{"author":"a","content":"waits"}`)
	if r.status != http.StatusServiceUnavailable || r.errorCode(t) != "unavailable" {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("waited %v: the deadline did not reach the database", waited)
	}
	tx.Rollback()
	if tweets, _ := s.page(""); len(tweets) != 0 {
		t.Fatalf("a timed-out create was stored: %v", tweets)
	}
	if r := s.do("POST", "/api/tweets", jsonType, `{"author":"a","content":"now"}`); r.status != 201 {
		t.Fatal(fmt.Sprint(r.status, r.body))
	}
}
