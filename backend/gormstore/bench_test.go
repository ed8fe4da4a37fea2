package gormstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/internal/testdb"
)

// BenchmarkCreateAs is a create through the store from 32 goroutines (batched as the API's
// are), by a guest and by an account (whose batch also reads its accounts under the create
// lock), each with and without an Idempotency-Key: what posting as an account costs the store.
func BenchmarkCreateAs(b *testing.B) {
	for _, db := range []struct {
		name string
		url  func(testing.TB) string
	}{{"SQLite", testdb.SQLiteURL}, {"Postgres", testdb.PostgresURL}} {
		b.Run(db.name, func(b *testing.B) {
			for _, poster := range []string{"Guest", "Account"} {
				for _, keyed := range []bool{false, true} {
					b.Run(fmt.Sprintf("%s/Key=%v", poster, keyed), func(b *testing.B) {
						benchCreateAs(b, db.url(b), poster == "Account", keyed)
					})
				}
			}
		})
	}
}

func benchCreateAs(b *testing.B, url string, asAccount, keyed bool) {
	s := openStore(b, url)
	d, err := chirp.NewDraft("bench", "a benchmark tweet")
	if err != nil {
		b.Fatal(err)
	}
	if asAccount {
		a, err := s.CreateAccount(context.Background(), chirp.NewAccount{Handle: "bench", DisplayName: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		d.Account = shown(a)
	}
	hash := chirp.HashEditToken("t")
	var n atomic.Int64
	b.SetParallelism(16) // 32 goroutines on 2 cores
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			var err error
			if keyed {
				_, err = s.CreateTweetOnce(ctx, d, "t", chirp.IdempotencyKey(fmt.Sprintf("bench-key-%d-q7Zx2Lm9Kp3Wd8Rt", n.Add(1))))
			} else {
				_, err = s.CreateTweet(ctx, d, hash)
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}
