package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/accounts"
	"github.com/chirp-social/chirp/backend/gormstore"
	"github.com/chirp-social/chirp/backend/httpapi"
	"github.com/chirp-social/chirp/backend/internal/testdb"
	"github.com/chirp-social/chirp/backend/metrics"
)

// benchDatabases runs a benchmark on SQLite, and on PostgreSQL when TEST_DATABASE_URL is set,
// each with metrics off and on (Metrics=off, Metrics=on), so one run gives both figures.
func benchDatabases(b *testing.B, f func(b *testing.B, url string, metricsOn bool)) {
	for _, db := range []struct {
		name string
		url  func(testing.TB) string
	}{{"SQLite", testdb.SQLiteURL}, {"Postgres", testdb.PostgresURL}} {
		b.Run(db.name, func(b *testing.B) {
			for _, on := range []bool{false, true} {
				name := map[bool]string{false: "Metrics=off", true: "Metrics=on"}[on]
				b.Run(name, func(b *testing.B) { f(b, db.url(b), on) })
			}
		})
	}
}

// benchHandler is the API over a store holding seed tweets; with metrics on, the request and
// create batch observers count into a registry of its own, as cmd/chirp wires them.
func benchHandler(b *testing.B, url string, seed int, metricsOn bool) http.Handler {
	b.Helper()
	cfg := httpapi.Config{}
	var opts []gormstore.Option
	if metricsOn {
		reg := prometheus.NewRegistry()
		cfg.Requests = metrics.NewHTTP(reg)
		opts = append(opts, gormstore.WithBatchObserver(metrics.NewBatches(reg)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := gormstore.Open(ctx, url, opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range work {
				d, _ := chirp.NewDraft("bench", fmt.Sprint("seed tweet number ", i))
				if _, err := s.CreateTweet(context.Background(), d, chirp.HashEditToken("t")); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for i := range seed {
		work <- i
	}
	close(work)
	wg.Wait()
	cfg.Store = s
	return httpapi.New(cfg)
}

// BenchmarkList measures GET /api/tweets?limit=20 through the router, on 2,000 stored tweets.
func BenchmarkList(b *testing.B) {
	benchDatabases(b, func(b *testing.B, url string, metricsOn bool) {
		h := benchHandler(b, url, 2000, metricsOn)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest("GET", "/api/tweets?limit=20", nil))
				if w.Code != 200 {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	})
}

// BenchmarkCreate measures POST /api/tweets through the router, each create committed.
func BenchmarkCreate(b *testing.B) { benchCreate(b, false) }

// BenchmarkCreateWithKey is BenchmarkCreate with a new Idempotency-Key on every create: the
// batch also looks its keys up and inserts them.
func BenchmarkCreateWithKey(b *testing.B) { benchCreate(b, true) }

func benchCreate(b *testing.B, withKey bool) {
	benchDatabases(b, func(b *testing.B, url string, metricsOn bool) {
		h := benchHandler(b, url, 0, metricsOn)
		var n atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req := httptest.NewRequest("POST", "/api/tweets", strings.NewReader(`{"author":"bench","content":"a benchmark tweet"}`))
				req.Header.Set("Content-Type", "application/json")
				if withKey {
					req.Header.Set("Idempotency-Key", fmt.Sprintf("bench-key-%d-q7Zx2Lm9Kp3Wd8Rt", n.Add(1)))
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != 201 {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	})
}

// BenchmarkSignIn measures POST /api/sessions through the router with the production hasher's
// parameters (argon2id at accounts.MinParams, two hashes a core), right and wrong passwords in
// turn, and reports the 99th percentile of one sign-in (p99-ms) beside the mean.
func BenchmarkSignIn(b *testing.B) {
	for _, db := range []struct {
		name string
		url  func(testing.TB) string
	}{{"SQLite", testdb.SQLiteURL}, {"Postgres", testdb.PostgresURL}} {
		b.Run(db.name, func(b *testing.B) { benchSignIn(b, db.url(b)) })
	}
}

func benchSignIn(b *testing.B, url string) {
	ctx := context.Background()
	s, err := gormstore.Open(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	hasher, err := accounts.NewHasher(accounts.MinParams, runtime.GOMAXPROCS(0)*2)
	if err != nil {
		b.Fatal(err)
	}
	h := httpapi.New(httpapi.Config{Store: s, Accounts: s, Passwords: hasher})
	const password = "correct horse battery staple"
	body := `{"handle":"alice","display_name":"Alice","password":"` + password + `"}`
	if w := serve(h, "POST", "/api/accounts", body); w.Code != http.StatusCreated {
		b.Fatalf("sign up: %d %s", w.Code, w.Body)
	}
	bodies := []string{`{"handle":"alice","password":"` + password + `"}`, `{"handle":"alice","password":"a wrong guess"}`}
	took := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		w := serve(h, "POST", "/api/sessions", bodies[i%2])
		took = append(took, time.Since(start))
		if w.Code != http.StatusCreated && w.Code != http.StatusUnauthorized {
			b.Fatalf("sign in: %d %s", w.Code, w.Body)
		}
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
}

// serve sends one JSON request through h.
func serve(h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}
