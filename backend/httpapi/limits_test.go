package httpapi_test

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/chirp-social/chirp/backend/clientaddr"
	"github.com/chirp-social/chirp/backend/httpapi"
	"github.com/chirp-social/chirp/backend/internal/testdb"
	"github.com/chirp-social/chirp/backend/internal/testlog"
	"github.com/chirp-social/chirp/backend/ratelimit"
)

// router is the real router served in-process, so each request can come from any address.
type router struct {
	t    *testing.T
	h    http.Handler
	logs *testlog.Buffer
}

func newRouter(t *testing.T, cfg httpapi.Config) *router {
	t.Helper()
	r := &router{t: t, logs: &testlog.Buffer{}}
	store := openStore(t, testdb.SQLiteURL(t))
	cfg.Store = store
	withAccounts(t, &cfg, store)
	cfg.Logger = slog.New(slog.NewTextHandler(r.logs, nil))
	r.h = checked(t, httpapi.New(cfg))
	return r
}

// from sends method path from the peer remote (host:port), with X-Forwarded-For xff if set.
func (r *router) from(remote, xff, method, path string) response {
	r.t.Helper()
	body, contentType := "", jsonType
	switch {
	case strings.HasPrefix(path, "/socket.io/"):
		body, contentType = "1:6", "text/plain;charset=UTF-8" // an Engine.IO noop, as a client polls
	case method == http.MethodPost || method == http.MethodPatch:
		body = `{"author":"ann","content":"hello"}`
	}
	return r.send(remote, xff, method, path, contentType, body)
}

// post sends n POSTs from remote and returns the statuses.
func (r *router) post(n int, remote, xff string) []int {
	r.t.Helper()
	var got []int
	for range n {
		got = append(got, r.from(remote, xff, http.MethodPost, "/api/tweets").status)
	}
	return got
}

// statuses lists status codes as "201,201,429".
func statuses(s []int) string {
	var b strings.Builder
	for i, n := range s {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(itoa(int64(n)))
	}
	return b.String()
}

func TestWriteLimit(t *testing.T) {
	limited := func(t *testing.T) *router {
		return newRouter(t, httpapi.Config{WriteLimit: ratelimit.New(30, 3), Realtime: okHandler()})
	}
	t.Run("RefusedAfterTheBurst", func(t *testing.T) {
		r := limited(t)
		if got := statuses(r.post(3, "203.0.113.1:1000", "")); got != "201,201,201" {
			t.Fatalf("the burst: %s", got)
		}
		res := r.from("203.0.113.1:1001", "", http.MethodPost, "/api/tweets")
		if res.status != http.StatusTooManyRequests || res.errorCode(t) != "rate_limited" {
			t.Fatalf("past the burst: %d %s", res.status, res.body)
		}
		// 30 a minute: the next token comes 2 s after the burst was spent.
		if ra := res.header.Get("Retry-After"); ra != "2" {
			t.Fatalf("Retry-After %q, want 2", ra)
		}
		if !strings.Contains(res.body, "try again in 2 s") {
			t.Fatalf("message %s", res.body)
		}
		if logs := r.logs.String(); strings.Count(logs, "limit reached") != 1 || !strings.Contains(logs, "limit=writes client=203.0.113.1") {
			t.Fatalf("want the bite logged once:\n%s", logs)
		}
	})
	t.Run("EditsAndDeletesCount", func(t *testing.T) {
		r := limited(t)
		for _, m := range []string{http.MethodPatch, http.MethodDelete, http.MethodPatch} {
			if res := r.from("203.0.113.1:1000", "", m, "/api/tweets/1"); res.status == http.StatusTooManyRequests {
				t.Fatalf("%s refused within the burst", m)
			}
		}
		if got := statuses(r.post(1, "203.0.113.1:1000", "")); got != "429" {
			t.Fatalf("after 3 edits and deletes a POST got %s", got)
		}
	})
	t.Run("OtherAddressUnaffected", func(t *testing.T) {
		r := limited(t)
		r.post(4, "203.0.113.1:1000", "")
		if got := statuses(r.post(3, "203.0.113.2:1000", "")); got != "201,201,201" {
			t.Fatalf("a second address: %s", got)
		}
	})
	t.Run("IPv6SameSlash64Shares", func(t *testing.T) {
		r := limited(t)
		r.post(3, "[2001:db8:1:2::1]:1000", "")
		if got := statuses(r.post(1, "[2001:db8:1:2:ffff:ffff:ffff:fffe]:1000", "")); got != "429" {
			t.Fatalf("the same /64: %s", got)
		}
		if got := statuses(r.post(1, "[2001:db8:1:3::1]:1000", "")); got != "201" {
			t.Fatalf("another /64: %s", got)
		}
	})
	t.Run("ReadsNeverLimited", func(t *testing.T) {
		r := limited(t)
		r.post(4, "203.0.113.1:1000", "")
		for i := range 20 {
			for _, path := range []string{"/api/tweets", "/api/tweets/1", "/healthz"} {
				if res := r.from("203.0.113.1:1000", "", http.MethodGet, path); res.status == http.StatusTooManyRequests {
					t.Fatalf("GET %s refused (%d)", path, i)
				}
			}
		}
	})
	t.Run("SocketPollingNotLimited", func(t *testing.T) {
		r := limited(t)
		r.post(4, "203.0.113.1:1000", "")
		for range 20 {
			if res := r.from("203.0.113.1:1000", "", http.MethodPost, "/socket.io/?EIO=3&transport=polling"); res.status != http.StatusOK {
				t.Fatalf("a polling POST got %d", res.status)
			}
		}
	})
	t.Run("OffWhenZero", func(t *testing.T) {
		for _, l := range []*ratelimit.Limiter{ratelimit.New(0, 10), ratelimit.New(30, 0)} {
			r := newRouter(t, httpapi.Config{WriteLimit: l})
			for i, s := range r.post(40, "203.0.113.1:1000", "") {
				if s != http.StatusCreated {
					t.Fatalf("POST %d: %d", i, s)
				}
			}
		}
	})
}

// X-Forwarded-For names the client only when the peer is a trusted proxy; from anyone else it
// is ignored (and warned about once), so rotating it buys no budget.
func TestTrustedProxies(t *testing.T) {
	trusted, err := clientaddr.ParseTrusted("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	r := newRouter(t, httpapi.Config{WriteLimit: ratelimit.New(30, 2), Clients: clientaddr.New(trusted)})
	const proxy = "10.1.1.1:4000"
	if got := statuses(r.post(3, proxy, "198.51.100.1")); got != "201,201,429" {
		t.Fatalf("a client behind the trusted proxy: %s", got)
	}
	if got := statuses(r.post(2, proxy, "198.51.100.2")); got != "201,201" {
		t.Fatalf("another client behind the same proxy: %s", got)
	}
	if !strings.Contains(r.logs.String(), "client=198.51.100.2") {
		t.Fatalf("the access log does not name the forwarded client:\n%s", r.logs.String())
	}
	if strings.Contains(r.logs.String(), "TRUSTED_PROXIES") {
		t.Fatalf("warned about a trusted proxy:\n%s", r.logs.String())
	}
	// Not trusted: the header is ignored; every value counts against the peer's one budget.
	const stranger = "203.0.113.9:4000"
	if got := statuses(append(r.post(1, stranger, "198.51.100.3"), r.post(2, stranger, "198.51.100.4")...)); got != "201,201,429" {
		t.Fatalf("a peer rotating X-Forwarded-For: %s", got)
	}
	logs := r.logs.String()
	if strings.Count(logs, "proxy that is not trusted") != 1 || !strings.Contains(logs, "TRUSTED_PROXIES=") || !strings.Contains(logs, "peer=203.0.113.9") {
		t.Fatalf("want one warning naming TRUSTED_PROXIES:\n%s", logs)
	}
	if strings.Contains(logs, "client=198.51.100.3") || !strings.Contains(logs, "client=203.0.113.9") {
		t.Fatalf("the access log believed an untrusted header:\n%s", logs)
	}
}

func okHandler() http.Handler {
	// Answers as a polling request's would, so the contract check holds it to the document.
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		io.WriteString(w, "ok")
	})
}
