package gormstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/gormstore"
	"github.com/chirp-social/chirp/backend/internal/testdb"
)

// batchLog is a gormstore.BatchObserver that remembers every batch.
type batchLog struct {
	mu        sync.Mutex
	sizes     []int
	committed []bool
	took      []time.Duration
}

func (b *batchLog) Batch(size int, took time.Duration, committed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sizes = append(b.sizes, size)
	b.committed = append(b.committed, committed)
	b.took = append(b.took, took)
}

// The observer hears of every batch: how many creates it carried (concurrent creates share
// one), whether it committed, and how long it took.
func TestBatchesAreObserved(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		obs := &batchLog{}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := gormstore.Open(ctx, url, gormstore.WithBatchObserver(obs))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })

		const creates = 40
		var wg sync.WaitGroup
		for i := range creates {
			wg.Go(func() {
				if _, _, err := tryCreate(s, fmt.Sprint("batched ", i)); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		obs.mu.Lock()
		total := 0
		for i, n := range obs.sizes {
			total += n
			if !obs.committed[i] || obs.took[i] <= 0 {
				t.Errorf("batch %d of %d: committed %v in %v", i, n, obs.committed[i], obs.took[i])
			}
		}
		if total != creates {
			t.Fatalf("batches %v carry %d creates, want %d", obs.sizes, total, creates)
		}
		obs.mu.Unlock()

		// A batch that fails is heard of as failed.
		gormstore.SetBeforeCommit(s, func(context.Context, []int64) error { return errors.New("the disk is full") })
		d, _ := chirp.NewDraft("tester", "never stored")
		if _, err := s.CreateTweet(context.Background(), d, chirp.HashEditToken("t")); err == nil {
			t.Fatal("a failed batch's create succeeded")
		}
		obs.mu.Lock()
		defer obs.mu.Unlock()
		if last := len(obs.sizes) - 1; obs.sizes[last] != 1 || obs.committed[last] {
			t.Fatalf("the failed batch was heard of as %d creates, committed %v", obs.sizes[last], obs.committed[last])
		}
	})
}
