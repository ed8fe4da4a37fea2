package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/httpapi"
	"github.com/chirp-social/chirp/backend/internal/testdb"
)

// benchDatabases runs a benchmark on SQLite, and on PostgreSQL when TEST_DATABASE_URL is set.
func benchDatabases(b *testing.B, f func(b *testing.B, url string)) {
	b.Run("SQLite", func(b *testing.B) { f(b, testdb.SQLiteURL(b)) })
	b.Run("Postgres", func(b *testing.B) { f(b, testdb.PostgresURL(b)) })
}

func benchHandler(b *testing.B, url string, seed int) http.Handler {
	b.Helper()
	s, err := gormstoreOpen(url)
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
	return httpapi.New(httpapi.Config{Store: s})
}

// BenchmarkList measures GET /api/tweets?limit=20 through the router, on 2,000 stored tweets.
func BenchmarkList(b *testing.B) {
	benchDatabases(b, func(b *testing.B, url string) {
		h := benchHandler(b, url, 2000)
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
	benchDatabases(b, func(b *testing.B, url string) {
		h := benchHandler(b, url, 0)
		var n atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req := httptest.NewRequest("POST", "/api/tweets", strings.NewReader(`{"author":"bench","content":"a benchmark tweet"}`))
				req.Header.Set("Content-Type", "application/json")
				if withKey {
					req.Header.Set("Idempotency-Key", fmt.Sprintf("bench-key-%016d", n.Add(1)))
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
