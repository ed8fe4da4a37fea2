package hotwindow_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/gormstore"
	"github.com/chirp-social/chirp/backend/hotwindow"
	"github.com/chirp-social/chirp/backend/internal/testdb"
	"github.com/chirp-social/chirp/backend/internal/testkit"
)

// open returns the database's store and the window's over it.
func open(t *testing.T, url string, cfg hotwindow.Config) (db *gormstore.Store, w *hotwindow.Window, cached chirp.TweetStore) {
	t.Helper()
	w = hotwindow.New(cfg)
	db = openObserved(t, url, w)
	return db, w, w.Wrap(db)
}

// openObserved opens the database's store with w as its commit observer.
func openObserved(t *testing.T, url string, w *hotwindow.Window) *gormstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := gormstore.Open(ctx, url, gormstore.WithCommitObserver(w))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// randomQuery is any valid page query over ids up to top: every parameter combination.
func randomQuery(r *rand.Rand, top int64) chirp.PageQuery {
	q := chirp.PageQuery{Limit: 1 + r.IntN(chirp.MaxPageSize), MaxID: chirp.NoMaxID}
	if r.IntN(3) == 0 {
		q.Limit = 1 + r.IntN(25)
	}
	id := func() int64 { return r.Int64N(top + 3) }
	if r.IntN(2) == 0 {
		q.MaxID = id()
	}
	switch r.IntN(3) {
	case 0: // newest, or below MaxID
	case 1:
		q.SinceID = id()
	case 2:
		q.Forward, q.MinID = true, id()
	}
	return q
}

func same(a, b []chirp.Tweet) bool {
	return slices.EqualFunc(a, b, func(x, y chirp.Tweet) bool {
		return x.ID == y.ID && x.Author == y.Author && x.Content == y.Content &&
			x.CreatedAt.Equal(y.CreatedAt) && x.UpdatedAt.Equal(y.UpdatedAt)
	})
}

// The differential test: random creates (alone and in concurrent bursts, which the store
// commits as batches), edits and deletes through the window's store, and after each step
// random page queries of every kind, answered by the window and by the database; every answer
// must be the same. A small window makes trims and reads below it common.
func TestWindowAnswersAsTheDatabase(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		seed := uint64(time.Now().UnixNano())
		t.Logf("seed %d", seed)
		r := rand.New(rand.NewPCG(seed, 7))
		db, w, cached := open(t, url, hotwindow.Config{Size: 40})
		ctx := context.Background()
		var live []chirp.Tweet // what was created and not deleted, for edits and deletes
		var top int64
		create := func(content string) {
			d, _ := chirp.NewDraft("differ", content)
			tw, err := cached.CreateTweet(ctx, d, chirp.HashEditToken("token"))
			if err != nil {
				t.Error(err)
				return
			}
			live = append(live, tw)
			top = max(top, tw.ID)
		}
		check := func(step int) {
			for range 6 {
				q := randomQuery(r, top)
				want, wantErr := db.Tweets(ctx, q)
				got, gotErr := cached.Tweets(ctx, q)
				if (wantErr != nil) != (gotErr != nil) || !same(got, want) {
					t.Fatalf("step %d, query %+v:\n window   %v %v\n database %v %v", step, q, testkit.IDs(got), gotErr, testkit.IDs(want), wantErr)
				}
			}
		}
		for step := range 400 {
			switch op := r.IntN(10); {
			case op < 4:
				create(fmt.Sprint("tweet at step ", step))
			case op == 4: // a burst, committed as one or more batches
				var mu sync.Mutex
				var wg sync.WaitGroup
				for i := range 2 + r.IntN(8) {
					wg.Go(func() {
						d, _ := chirp.NewDraft("burst", fmt.Sprint("burst ", step, " ", i))
						tw, err := cached.CreateTweet(ctx, d, chirp.HashEditToken("token"))
						if err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						live = append(live, tw)
						top = max(top, tw.ID)
						mu.Unlock()
					})
				}
				wg.Wait()
			case op < 7 && len(live) > 0:
				tw := live[r.IntN(len(live))]
				if _, err := cached.UpdateTweet(ctx, tw.ID, chirp.Edit{Content: fmt.Sprint("edited at step ", step)}); err != nil {
					t.Fatal(err)
				}
			case op < 9 && len(live) > 0:
				i := r.IntN(len(live))
				if err := cached.DeleteTweet(ctx, live[i].ID); err != nil {
					t.Fatal(err)
				}
				live = slices.Delete(live, i, i+1)
			default:
				// A delete of what is not there changes nothing, in both.
				if err := cached.DeleteTweet(ctx, top+100); chirp.ErrorCode(err) != chirp.CodeNotFound {
					t.Fatalf("delete of a missing tweet: %v", err)
				}
			}
			check(step)
		}
		t.Logf("window: %d reads from memory, %d from the database", w.Hits(), w.Misses())
		if w.Hits() == 0 || w.Misses() == 0 {
			t.Fatalf("the test must exercise both paths: %d hits, %d misses", w.Hits(), w.Misses())
		}
	})
}

// A window made over a database that already holds tweets loads them at its first read, and
// a window that stands aside (the bus is down) answers from the database and reloads after.
func TestWindowLoadsAndStandsAside(t *testing.T) {
	url := testdb.SQLiteURL(t)
	ctx := context.Background()
	seedDB, err := gormstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		d, _ := chirp.NewDraft("seed", fmt.Sprint("old ", i))
		if _, err := seedDB.CreateTweet(ctx, d, chirp.HashEditToken("t")); err != nil {
			t.Fatal(err)
		}
	}
	seedDB.Close()

	current := true
	var mu sync.Mutex
	db, w, cached := open(t, url, hotwindow.Config{Size: 20, Current: func() bool { mu.Lock(); defer mu.Unlock(); return current }})
	newest := chirp.NewestPage()
	page, err := cached.Tweets(ctx, newest)
	want, _ := db.Tweets(ctx, newest)
	if err != nil || !same(page, want) || w.Hits() != 1 {
		t.Fatalf("first read %v %v, want %v from memory; %d hits", testkit.IDs(page), err, testkit.IDs(want), w.Hits())
	}
	mu.Lock()
	current = false
	mu.Unlock()
	// Another process's tweet, not heard of: the window must not hide it.
	other, err := gormstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	d, _ := chirp.NewDraft("elsewhere", "committed while the bus was down")
	missed, err := other.CreateTweet(ctx, d, chirp.HashEditToken("t"))
	if err != nil {
		t.Fatal(err)
	}
	if page, _ := cached.Tweets(ctx, newest); page[0].ID != missed.ID || w.Misses() != 1 {
		t.Fatalf("with the bus down: %v, %d misses", testkit.IDs(page), w.Misses())
	}
	mu.Lock()
	current = true
	mu.Unlock()
	if page, _ := cached.Tweets(ctx, newest); page[0].ID != missed.ID || w.Hits() != 2 {
		t.Fatalf("after the bus is back: %v, %d hits", testkit.IDs(page), w.Hits())
	}
}
