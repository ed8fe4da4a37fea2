package hotwindow_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/eventbus"
	"github.com/chirp-social/chirp/backend/gormstore"
	"github.com/chirp-social/chirp/backend/hotwindow"
	"github.com/chirp-social/chirp/backend/internal/testdb"
	"github.com/chirp-social/chirp/backend/internal/testkit"
)

// nobody is a socket server without clients.
type nobody struct{}

func (nobody) TweetCreated(chirp.Tweet) {}
func (nobody) TweetUpdated(chirp.Tweet) {}
func (nobody) TweetDeleted(int64)       {}
func (nobody) NewTweetHint()            {}
func (nobody) Resync()                  {}

// process is one chirp process's storage: its database store, announcing through its bus,
// and its window, kept current by both.
func process(t *testing.T, url string) chirp.TweetStore {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bus, err := eventbus.New(eventbus.Config{DatabaseURL: url})
	if err != nil {
		t.Fatal(err)
	}
	w := hotwindow.New(hotwindow.Config{Size: 50, Current: func() bool { return bus.Ready() == nil }})
	db, err := gormstore.Open(ctx, url, gormstore.WithNotifier(bus), gormstore.WithCommitObserver(w))
	if err != nil {
		t.Fatal(err)
	}
	cached := w.Wrap(db)
	if err := bus.Start(ctx, w.Sink(nobody{}), db.Pool()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bus.Close(); db.Close() })
	return cached
}

// Two processes write at once; a reader of one process's window walks forward with min_id, as
// a tab does on each newTweet. Across processes the window may lag by the bus's delay, but it
// never shows ids out of order and never skips one: the walker sees every tweet, once, in
// ascending order.
func TestWindowNeverSkipsAcrossProcesses(t *testing.T) {
	url := testdb.PostgresURL(t)
	a, b := process(t, url), process(t, url)
	ctx := context.Background()

	var mu sync.Mutex
	var created []int64
	var writers sync.WaitGroup
	for p, store := range []chirp.TweetStore{a, b, b} {
		writers.Go(func() {
			for i := range 60 {
				var burst sync.WaitGroup
				for j := range 1 + i%4 {
					burst.Go(func() {
						d, _ := chirp.NewDraft("writer", fmt.Sprint(p, " ", i, " ", j))
						tw, err := store.CreateTweet(ctx, d, chirp.HashEditToken("t"))
						if err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						created = append(created, tw.ID)
						mu.Unlock()
					})
				}
				burst.Wait()
			}
		})
	}

	var seen []int64
	var newest int64
	walk := func() int {
		page, err := a.Tweets(ctx, chirp.PageQuery{Limit: chirp.MaxPageSize, MinID: newest, MaxID: chirp.NoMaxID, Forward: true})
		if err != nil {
			t.Fatal(err)
		}
		for i := len(page) - 1; i >= 0; i-- {
			seen = append(seen, page[i].ID)
		}
		if len(page) > 0 {
			newest = page[0].ID
		}
		return len(page)
	}
	done := make(chan struct{})
	go func() { writers.Wait(); close(done) }()
	// The writers' creates take seconds under the race detector on a loaded machine: the bound
	// is only there so that a writer that hangs fails the test rather than the suite.
	writing := time.NewTimer(6 * testkit.Timeout)
	defer writing.Stop()
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-writing.C:
			t.Fatalf("the writers did not finish within %v", 6*testkit.Timeout)
		default:
			walk()
			time.Sleep(time.Millisecond)
		}
	}
	// The bus's delay: walk until nothing new comes for a while.
	for quiet := time.Now(); time.Since(quiet) < 500*time.Millisecond; time.Sleep(20 * time.Millisecond) {
		if walk() > 0 {
			quiet = time.Now()
		}
	}
	slices.Sort(created)
	if !slices.IsSorted(seen) || !slices.Equal(seen, created) {
		t.Fatalf("the walker saw %d ids (sorted: %v), want the %d created, each once in order:\n seen    %v\n created %v",
			len(seen), slices.IsSorted(seen), len(created), seen, created)
	}
	t.Logf("%d tweets from two processes, all seen in order through one window", len(created))
}
