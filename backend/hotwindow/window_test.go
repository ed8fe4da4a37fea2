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

// randomQuery is any valid page query over ids up to top: every parameter combination, of the
// timeline or of one of accounts' tweets.
func randomQuery(r *rand.Rand, top int64, accounts ...int64) chirp.PageQuery {
	q := chirp.PageQuery{Limit: 1 + r.IntN(chirp.MaxPageSize), MaxID: chirp.NoMaxID}
	if len(accounts) > 0 && r.IntN(2) == 0 {
		q.AccountID = accounts[r.IntN(len(accounts))]
	}
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
			x.CreatedAt.Equal(y.CreatedAt) && x.UpdatedAt.Equal(y.UpdatedAt) &&
			(x.Account == nil) == (y.Account == nil) && (x.Account == nil || *x.Account == *y.Account)
	})
}

// newAccount creates an account in db, failing the test if it cannot.
func newAccount(t *testing.T, db *gormstore.Store, handle string) chirp.Account {
	t.Helper()
	a, err := db.CreateAccount(context.Background(), chirp.NewAccount{Handle: handle, DisplayName: "Name of " + handle})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// asAccount is the account as its tweets show it.
func asAccount(a chirp.Account) *chirp.TweetAccount {
	return &chirp.TweetAccount{ID: a.ID, Handle: a.Handle, DisplayName: a.DisplayName}
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
		accounts := w.WrapAccounts(db)
		ctx := context.Background()
		var live []chirp.Tweet // what was created and not deleted, for edits and deletes
		var top int64
		// Who posts: a guest, or one of two accounts (one of which is deleted now and then, and
		// made anew); profiles are read of both, and of an account that never posts.
		posters := []*chirp.TweetAccount{nil, asAccount(newAccount(t, db, "ann")), asAccount(newAccount(t, db, "bo"))}
		silent := newAccount(t, db, "silent").ID
		profiles := func() []int64 { return []int64{posters[1].ID, posters[2].ID, silent} }
		var retired []int64 // deleted accounts, whose profiles are read too
		draft := func(author, content string) chirp.Draft {
			d, _ := chirp.NewDraft(author, content)
			if d.Account = posters[r.IntN(len(posters))]; d.Account != nil {
				d.Author = d.Account.DisplayName
			}
			return d
		}
		create := func(content string) {
			d := draft("differ", content)
			tw, err := cached.CreateTweet(ctx, d, chirp.HashEditToken("token"))
			if err != nil {
				t.Error(err)
				return
			}
			live = append(live, tw)
			top = max(top, tw.ID)
		}
		var profileHits, profileMisses int // profile reads answered from memory, from the database
		check := func(step int) {
			for range 6 {
				q := randomQuery(r, top, append(profiles(), retired...)...)
				want, wantErr := db.Tweets(ctx, q)
				hits := w.Hits()
				got, gotErr := cached.Tweets(ctx, q)
				if q.AccountID != 0 && w.Hits() > hits {
					profileHits++
				} else if q.AccountID != 0 {
					profileMisses++
				}
				if (wantErr != nil) != (gotErr != nil) || !same(got, want) {
					t.Fatalf("step %d, query %+v:\n window   %v %v\n database %v %v", step, q, testkit.IDs(got), gotErr, testkit.IDs(want), wantErr)
				}
			}
		}
		for step := range 400 {
			switch op := r.IntN(11); {
			case op < 4:
				create(fmt.Sprint("tweet at step ", step))
			case op == 4: // a burst, committed as one or more batches
				var mu sync.Mutex
				var wg sync.WaitGroup
				for i := range 2 + r.IntN(8) {
					d := draft("burst", fmt.Sprint("burst ", step, " ", i))
					wg.Go(func() {
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
			case op == 9 && r.IntN(4) == 0:
				// An account goes with its tweets, and comes back as another.
				gone := posters[2]
				deleted, err := accounts.DeleteAccount(ctx, gone.ID)
				if err != nil {
					t.Fatal(err)
				}
				var mine []int64
				live = slices.DeleteFunc(live, func(tw chirp.Tweet) bool {
					if tw.Account != nil && tw.Account.ID == gone.ID {
						mine = append(mine, tw.ID)
						return true
					}
					return false
				})
				slices.Sort(mine) // bursts append in any order
				if !slices.Equal(deleted, mine) {
					t.Fatalf("step %d: deleted %v, want %v", step, deleted, mine)
				}
				retired = append(retired, gone.ID)
				posters[2] = asAccount(newAccount(t, db, fmt.Sprint("bo", step)))
			default:
				// A delete of what is not there changes nothing, in both.
				if err := cached.DeleteTweet(ctx, top+100); chirp.ErrorCode(err) != chirp.CodeNotFound {
					t.Fatalf("delete of a missing tweet: %v", err)
				}
			}
			check(step)
		}
		t.Logf("window: %d reads from memory, %d from the database", w.Hits(), w.Misses())
		t.Logf("profiles: %d reads from memory, %d from the database", profileHits, profileMisses)
		if w.Hits() == 0 || w.Misses() == 0 || profileHits == 0 || profileMisses == 0 {
			t.Fatalf("the test must exercise both paths: %d hits, %d misses (profiles: %d, %d)",
				w.Hits(), w.Misses(), profileHits, profileMisses)
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
