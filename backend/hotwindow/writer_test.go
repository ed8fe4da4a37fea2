package hotwindow_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/gormstore"
	"github.com/chirp-social/chirp/backend/hotwindow"
	"github.com/chirp-social/chirp/backend/internal/testdb"
	"github.com/chirp-social/chirp/backend/internal/testkit"
)

// slack is allowed over the documented bounds, for a loaded 2-core machine under the race
// detector.
const slack = time.Second

// slowReads is the database's store whose page reads, once armed, wait until released (or
// their context ends): a database slow to answer the window's reload.
type slowReads struct {
	chirp.TweetStore
	mu      sync.Mutex
	armed   bool
	entered chan struct{}
	release chan struct{}
}

func (s *slowReads) Tweets(ctx context.Context, q chirp.PageQuery) ([]chirp.Tweet, error) {
	s.mu.Lock()
	armed := s.armed
	s.armed = false
	s.mu.Unlock()
	if armed {
		s.entered <- struct{}{}
		select {
		case <-s.release:
		case <-ctx.Done():
			return nil, chirp.Unavailable(ctx.Err())
		}
	}
	return s.TweetStore.Tweets(ctx, q)
}

// TestCreateDoesNotWaitForTheWindowsReads: the window's reload reads the database slowly (up
// to its 5 s read timeout) while a create commits. The create is answered within its deadline
// + 1 s, the batch rule's promise, not when the reload ends: the store's one writer tells the
// window of the batch without waiting for a database read it does not own. Once the reload is
// done, the window answers with the tweet.
func TestCreateDoesNotWaitForTheWindowsReads(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		w := hotwindow.New(hotwindow.Config{})
		db := openObserved(t, url, w)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		slow := &slowReads{TweetStore: db, entered: make(chan struct{}, 1), release: make(chan struct{})}
		cached := w.Wrap(slow)
		d, _ := chirp.NewDraft("a", "before")
		if _, err := cached.CreateTweet(ctx, d, chirp.HashEditToken("t")); err != nil {
			t.Fatal(err)
		}

		// The window stands aside; the next read reloads it, and the database takes 5 s.
		w.Unsure()
		slow.mu.Lock()
		slow.armed = true
		slow.mu.Unlock()
		reloaded := make(chan error, 1)
		go func() {
			_, err := cached.Tweets(ctx, chirp.PageQuery{Limit: 20, MaxID: chirp.NoMaxID})
			reloaded <- err
		}()
		testkit.RecvWithin(t, slow.entered, 10*time.Second, "the reader beginning the window's reload")
		releaseAfter := time.AfterFunc(5*time.Second, func() { close(slow.release) })
		defer releaseAfter.Stop()

		const timeout = 300 * time.Millisecond
		createCtx, cancelCreate := context.WithTimeout(ctx, timeout)
		defer cancelCreate()
		d, _ = chirp.NewDraft("a", "beside the reload")
		began := time.Now()
		created, err := cached.CreateTweet(createCtx, d, chirp.HashEditToken("t"))
		took := time.Since(began)
		if err != nil {
			t.Fatalf("create beside the reload: %v", err)
		}
		t.Logf("create answered in %v beside a reload stalled for 5 s", took.Round(time.Millisecond))
		if bound := timeout + time.Second + slack; took > bound {
			t.Errorf("create answered after %v beside a slow reload, over its deadline + 1 s (%v with slack)", took.Round(time.Millisecond), bound)
		}

		if err := testkit.RecvWithin(t, reloaded, 15*time.Second, "the reload's reader finishing"); err != nil {
			t.Fatalf("the reload's reader: %v", err)
		}
		page, err := cached.Tweets(ctx, chirp.PageQuery{Limit: 20, MaxID: chirp.NoMaxID})
		if err != nil {
			t.Fatal(err)
		}
		want, err := db.Tweets(ctx, chirp.PageQuery{Limit: 20, MaxID: chirp.NoMaxID})
		if err != nil {
			t.Fatal(err)
		}
		if !same(page, want) || len(page) == 0 || page[0].ID != created.ID {
			t.Fatalf("after the reload the window answers %v, the database %v; the create was %d", testkit.IDs(page), testkit.IDs(want), created.ID)
		}
	})
}

// TestPendingCreatesAboveAGap: another process's tweet the window has not heard of lies
// between two of this process's creates, so the later ones wait in pending. Until a read fills
// the gap none is answered from memory without them; an edit and a delete of a pending tweet
// apply to it there; and the read that fills the gap answers as the database does.
func TestPendingCreatesAboveAGap(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		db, w, cached := open(t, url, hotwindow.Config{})
		other, err := gormstore.Open(ctx, url) // another process on the same database
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { other.Close() })
		create := func(s chirp.TweetStore, content string) chirp.Tweet {
			t.Helper()
			d, _ := chirp.NewDraft("a", content)
			tw, err := s.CreateTweet(ctx, d, chirp.HashEditToken("t"))
			if err != nil {
				t.Fatal(err)
			}
			return tw
		}
		newest := chirp.PageQuery{Limit: 20, MaxID: chirp.NoMaxID}
		create(cached, "mine, before")
		if _, err := cached.Tweets(ctx, newest); err != nil { // loads the window
			t.Fatal(err)
		}
		create(other, "the other process's")
		deleted := create(cached, "mine, above the gap, deleted")
		edited := create(cached, "mine, above the gap, edited")
		if err := cached.DeleteTweet(ctx, deleted.ID); err != nil {
			t.Fatal(err)
		}
		e, _ := chirp.NewEdit("edited while pending")
		if _, err := cached.UpdateTweet(ctx, edited.ID, e); err != nil {
			t.Fatal(err)
		}
		hits, reloads := w.Hits(), w.Reloads()
		page, err := cached.Tweets(ctx, newest)
		if err != nil {
			t.Fatal(err)
		}
		want, err := db.Tweets(ctx, newest)
		if err != nil {
			t.Fatal(err)
		}
		if !same(page, want) {
			t.Fatalf("the window answers %v %q, the database %v %q", testkit.IDs(page), page[0].Content, testkit.IDs(want), want[0].Content)
		}
		if w.Hits() != hits+1 || w.Reloads() != reloads {
			t.Fatalf("hits %d → %d, reloads %d → %d: the read that filled the gap was not answered from memory, or reloaded",
				hits, w.Hits(), reloads, w.Reloads())
		}
	})
}
