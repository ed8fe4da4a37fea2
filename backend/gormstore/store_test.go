package gormstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/dburl"
	"github.com/chirp-social/chirp/backend/gormstore"
	"github.com/chirp-social/chirp/backend/internal/testdb"
	"github.com/chirp-social/chirp/backend/internal/testkit"
)

func openStore(t testing.TB, url string) *gormstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := gormstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func create(t *testing.T, s *gormstore.Store, content string) (chirp.Tweet, string) {
	t.Helper()
	tw, token, err := tryCreate(s, content)
	if err != nil {
		t.Fatal(err)
	}
	return tw, token
}

// tryCreate is create for a goroutine a test starts, which reports its failure itself.
func tryCreate(s *gormstore.Store, content string) (chirp.Tweet, string, error) {
	d, err := chirp.NewDraft("tester", content)
	if err != nil {
		return chirp.Tweet{}, "", err
	}
	token, hash, err := chirp.NewEditToken()
	if err != nil {
		return chirp.Tweet{}, "", err
	}
	tw, err := s.CreateTweet(context.Background(), d, hash)
	return tw, token, err
}

func list(t *testing.T, s *gormstore.Store, q chirp.PageQuery) []chirp.Tweet {
	t.Helper()
	tweets, err := s.Tweets(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	return tweets
}

// sqlitePath is the file an SQLite database URL names.
func sqlitePath(t *testing.T, url string) string {
	t.Helper()
	where, err := dburl.Parse(url)
	if err != nil || where.Kind != dburl.SQLite {
		t.Fatalf("%q names no SQLite file: %v", url, err)
	}
	return where.Path
}

// awaitRelease is a test hook's wait, on the writer goroutine, for the test to let its batch
// go. It is bounded, and its end fails the batch, so that a test that failed before releasing
// the batch cannot hang the writer and with it the store's Close.
func awaitRelease(release <-chan struct{}) error {
	select {
	case <-release:
		return nil
	case <-time.After(testkit.Timeout):
		return errors.New("the test never released the held batch")
	}
}

func TestCreateGetRoundTrip(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		before := time.Now().UTC().Truncate(time.Millisecond)
		tw, _ := create(t, s, "héllo\nwörld")
		if tw.ID <= 0 || tw.Author != "tester" || tw.Content != "héllo\nwörld" {
			t.Fatalf("created %+v", tw)
		}
		if tw.CreatedAt.Before(before) || tw.CreatedAt.Location() != time.UTC || !tw.UpdatedAt.Equal(tw.CreatedAt) {
			t.Fatalf("times %v / %v", tw.CreatedAt, tw.UpdatedAt)
		}
		got, err := s.Tweet(context.Background(), tw.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got != tw {
			t.Fatalf("read back %+v, want %+v", got, tw)
		}
		_, err = s.Tweet(context.Background(), tw.ID+1)
		if chirp.ErrorCode(err) != chirp.CodeNotFound {
			t.Fatalf("missing tweet: %v", err)
		}
	})
}

// Ids must keep growing even after the newest tweet is deleted (SQLite reuses rowids unless
// the table is AUTOINCREMENT), or a reader's since_id would hide the next tweet.
func TestIDsNeverReused(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		a, _ := create(t, s, "a")
		b, _ := create(t, s, "b")
		if err := s.DeleteTweet(context.Background(), b.ID); err != nil {
			t.Fatal(err)
		}
		c, _ := create(t, s, "c")
		if !(a.ID < b.ID && b.ID < c.ID) {
			t.Fatalf("ids %d %d %d do not grow", a.ID, b.ID, c.ID)
		}
	})
}

func TestPages(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		var all []int64
		for i := range 7 {
			tw, _ := create(t, s, fmt.Sprint("tweet ", i))
			all = append(all, tw.ID)
		}
		slices.Reverse(all) // newest first
		tests := []struct {
			name string
			q    chirp.PageQuery
			want []int64
		}{
			{"Newest", chirp.PageQuery{Limit: 3, MaxID: chirp.NoMaxID}, all[:3]},
			{"Older", chirp.PageQuery{Limit: 3, MaxID: all[2]}, all[3:6]},
			{"SinceTakesNewest", chirp.PageQuery{Limit: 2, MaxID: chirp.NoMaxID, SinceID: all[6]}, all[:2]},
			{"MinTakesOldest", chirp.PageQuery{Limit: 2, MaxID: chirp.NoMaxID, MinID: all[6], Forward: true}, all[4:6]},
			{"MinWithMax", chirp.PageQuery{Limit: 10, MaxID: all[1], MinID: all[4], Forward: true}, all[2:4]},
			{"MinZeroTakesTheFirst", chirp.PageQuery{Limit: 2, MaxID: chirp.NoMaxID, Forward: true}, all[5:]},
			{"SinceZeroIsEverything", chirp.PageQuery{Limit: 100, MaxID: chirp.NoMaxID}, all},
			{"MaxZeroIsNothing", chirp.PageQuery{Limit: 100, MaxID: 0}, []int64{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if got := testkit.IDs(list(t, s, tt.q)); !slices.Equal(got, tt.want) {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			})
		}
	})
}

func TestEditAndDelete(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		ctx := context.Background()
		tw, token := create(t, s, "first")
		_, other := create(t, s, "other")

		if err := s.AuthorizeEdit(ctx, tw.ID, other); chirp.ErrorCode(err) != chirp.CodeForbidden {
			t.Fatalf("wrong token: %v", err)
		}
		if err := s.AuthorizeEdit(ctx, tw.ID+100, token); chirp.ErrorCode(err) != chirp.CodeNotFound {
			t.Fatalf("missing tweet: %v", err)
		}
		if err := s.AuthorizeEdit(ctx, tw.ID, token); err != nil {
			t.Fatalf("right token: %v", err)
		}
		// Two edits within the same millisecond must still move UpdatedAt forward.
		e1, _ := chirp.NewEdit("second")
		u1, err := s.UpdateTweet(ctx, tw.ID, e1)
		if err != nil {
			t.Fatal(err)
		}
		e2, _ := chirp.NewEdit("third")
		u2, err := s.UpdateTweet(ctx, tw.ID, e2)
		if err != nil {
			t.Fatal(err)
		}
		if u2.Content != "third" || !u2.CreatedAt.Equal(tw.CreatedAt) || !u1.UpdatedAt.After(tw.UpdatedAt) || !u2.UpdatedAt.After(u1.UpdatedAt) {
			t.Fatalf("after edits: %+v (was %+v, then %+v)", u2, tw, u1)
		}
		if got, _ := s.Tweet(ctx, tw.ID); got != u2 {
			t.Fatalf("stored %+v, want %+v", got, u2)
		}
		if err := s.DeleteTweet(ctx, tw.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteTweet(ctx, tw.ID); chirp.ErrorCode(err) != chirp.CodeNotFound {
			t.Fatalf("second delete: %v", err)
		}
		if _, err := s.UpdateTweet(ctx, tw.ID, e1); chirp.ErrorCode(err) != chirp.CodeNotFound {
			t.Fatalf("update of deleted tweet: %v", err)
		}
	})
}

func TestConcurrentCreates(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		const n = 50
		var wg sync.WaitGroup
		errs := make(chan error, n)
		got := make(chan int64, n)
		for i := range n {
			wg.Go(func() {
				d, _ := chirp.NewDraft("racer", fmt.Sprint("tweet ", i))
				tw, err := s.CreateTweet(context.Background(), d, chirp.HashEditToken("t"))
				if err != nil {
					errs <- err
					return
				}
				got <- tw.ID
			})
		}
		wg.Wait()
		close(errs)
		close(got)
		for err := range errs {
			t.Error(err)
		}
		seen := map[int64]bool{}
		for id := range got {
			if seen[id] {
				t.Fatalf("id %d handed out twice", id)
			}
			seen[id] = true
		}
		if stored := list(t, s, chirp.PageQuery{Limit: 100, MaxID: chirp.NoMaxID}); len(stored) != n || len(seen) != n {
			t.Fatalf("%d created, %d stored, want %d", len(seen), len(stored), n)
		}
	})
}

// TestCreatesCommitInIDOrder drives the store's own create path into the interleaving that
// loses tweets when ids are not committed in order: create A has its id and is held open
// before its commit; create B comes next, from this process or from another one sharing the
// database; a reader lists in between. Once the reader has seen a tweet, no tweet with a
// smaller id may appear later.
func TestCreatesCommitInIDOrder(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		for _, otherProcess := range []bool{false, true} {
			name := map[bool]string{false: "SameProcess", true: "OtherProcess"}[otherProcess]
			t.Run(name, func(t *testing.T) {
				s := openStore(t, url)
				bStore := s
				if otherProcess {
					bStore = openStore(t, url)
				}
				checkCommitOrder(t, s, bStore)
			})
		}
	})
}

func checkCommitOrder(t *testing.T, s, bStore *gormstore.Store) {
	ctx := context.Background()
	seed, _ := create(t, s, "seed")

	held, release := make(chan int64, 1), make(chan struct{})
	var first atomic.Bool
	gormstore.SetBeforeCommit(s, func(_ context.Context, ids []int64) error {
		if first.CompareAndSwap(false, true) { // only A's batch is held
			held <- ids[0]
			return awaitRelease(release)
		}
		return nil
	})
	t.Cleanup(func() { gormstore.SetBeforeCommit(s, nil) })
	type result struct {
		tw  chirp.Tweet
		err error
	}
	start := func(store *gormstore.Store, content string) chan result {
		done := make(chan result, 1)
		go func() {
			d, _ := chirp.NewDraft("tester", content)
			tw, err := store.CreateTweet(ctx, d, chirp.HashEditToken("t"))
			done <- result{tw, err}
		}()
		return done
	}
	doneA := start(s, "A")
	idA := testkit.Recv(t, held, "create A's batch held before its commit")
	doneB := start(bStore, "B")
	bFinishedEarly := waitBlockedOrDone(t, bStore, s != bStore, doneB)

	seen := list(t, s, chirp.PageQuery{Limit: 100, MaxID: chirp.NoMaxID, SinceID: seed.ID})
	close(release)
	a := testkit.Recv(t, doneA, "create A's answer")
	b := testkit.Recv(t, doneB, "create B's answer")
	if a.err != nil || b.err != nil {
		t.Fatalf("creates failed: %v, %v", a.err, b.err)
	}
	if a.tw.ID != idA || b.tw.ID <= a.tw.ID {
		t.Fatalf("ids: A %d (held %d), B %d", a.tw.ID, idA, b.tw.ID)
	}
	if bFinishedEarly {
		t.Errorf("create B (id %d) committed while A (id %d) was still open", b.tw.ID, a.tw.ID)
	}
	// The invariant, stated as a reader would check it.
	newestSeen := seed.ID
	for _, tw := range seen {
		newestSeen = max(newestSeen, tw.ID)
	}
	after := list(t, s, chirp.PageQuery{Limit: 100, MaxID: chirp.NoMaxID, SinceID: seed.ID})
	for _, tw := range after {
		if tw.ID < newestSeen && !slices.Contains(testkit.IDs(seen), tw.ID) {
			t.Errorf("tweet %d appeared after the reader had seen tweet %d: a reader walking with since_id skips it", tw.ID, newestSeen)
		}
	}
}

// waitBlockedOrDone waits until create B is provably waiting for its turn or has finished, and
// reports whether it finished. A B from another process on PostgreSQL shows in
// pg_stat_activity as waiting on the advisory lock. Elsewhere the wait happens where it cannot
// be observed (in Go, or in SQLite's busy loop), so B gets a generous moment to finish instead:
// if it finishes, the order was broken.
// holdFirstBatch holds the store's next create batch between its insert and its commit: held
// receives once it is held, and closing release lets it go on, to commit, or to fail with
// failure when that is not nil. Later batches are not held.
func holdFirstBatch(s *gormstore.Store, failure error) (held <-chan struct{}, release chan struct{}) {
	heldOnce, release := make(chan struct{}, 1), make(chan struct{})
	var once sync.Once
	gormstore.SetBeforeCommit(s, func(context.Context, []int64) error {
		var err error
		once.Do(func() {
			heldOnce <- struct{}{}
			if err = awaitRelease(release); err == nil {
				err = failure
			}
		})
		return err
	})
	return heldOnce, release
}

func waitBlockedOrDone[T any](t *testing.T, s *gormstore.Store, otherProcess bool, done chan T) bool {
	t.Helper()
	observable := otherProcess && gormstore.IsPostgres(s)
	start := time.Now()
	for time.Since(start) < 10*time.Second {
		select {
		case r := <-done:
			done <- r // put it back for the caller
			return true
		case <-time.After(20 * time.Millisecond):
		}
		if !observable {
			if time.Since(start) > 500*time.Millisecond {
				return false
			}
			continue
		}
		var waiting int64
		err := gormstore.DB(s).Raw(`SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'`).Scan(&waiting).Error
		if err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			return false
		}
	}
	t.Fatal("create B neither waited for A nor finished within 10 s")
	return false
}

func TestMigrateConcurrently(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Go(func() {
				s, err := gormstore.Open(context.Background(), url)
				if err != nil {
					errs <- err
					return
				}
				s.Close()
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		s := openStore(t, url)
		create(t, s, "after concurrent starts")
	})
}

// TestOpenWaitsOutAnotherProcessLock: two processes starting on an SQLite file that a third
// holds locked for a moment both start once the lock is gone, rather than fail with
// SQLITE_BUSY. A store is the process here; the holder is a plain connection of its own.
func TestOpenWaitsOutAnotherProcessLock(t *testing.T) {
	const hold = 300 * time.Millisecond
	tests := []struct {
		name string
		// lock takes the lock on the file at path and returns its release.
		lock func(t *testing.T, path string) (release func())
	}{
		// Another process writing: the starts' migrations wait at BEGIN IMMEDIATE.
		{"WriteTransaction", func(t *testing.T, path string) func() {
			db := rawSQLite(t, path, "")
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(`INSERT INTO tweets (author, content, edit_token_hash, created_at, updated_at)
				VALUES ('holder', 'held', x'00', '2026-01-01', '2026-01-01')`); err != nil {
				t.Fatal(err)
			}
			return func() {
				if err := tx.Commit(); err != nil {
					t.Error(err)
				}
			}
		}},
		// A stopping process: its last connection checkpoints the WAL into the file and deletes
		// it under an exclusive lock on the file, which every first read (the journal_mode
		// pragma of a start's first connection) waits for. Exclusive locking mode holds that
		// same lock for as long as the test needs, and its close is that last checkpoint.
		{"ExclusiveFileLock", func(t *testing.T, path string) func() {
			db := rawSQLite(t, path, "&_pragma=locking_mode(EXCLUSIVE)")
			if _, err := db.Exec("BEGIN EXCLUSIVE"); err != nil {
				t.Fatal(err)
			}
			return func() {
				if _, err := db.Exec("COMMIT"); err != nil {
					t.Error(err)
				}
				if err := db.Close(); err != nil {
					t.Error(err)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := testdb.SQLiteURL(t)
			path := sqlitePath(t, url)
			// The file exists, in WAL mode, with its schema, as after an earlier start.
			first := openStore(t, url)
			first.Close()

			release := tt.lock(t, path)
			locked := time.Now()
			var wg sync.WaitGroup
			var released time.Time
			wg.Go(func() {
				time.Sleep(hold)
				released = time.Now()
				release()
			})
			stores := make([]*gormstore.Store, 2)
			errs := make([]error, 2)
			opened := make([]time.Time, 2)
			for i := range stores {
				wg.Go(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					stores[i], errs[i] = gormstore.Open(ctx, url)
					opened[i] = time.Now()
				})
			}
			wg.Wait()
			for i, s := range stores {
				if errs[i] != nil {
					t.Errorf("start %d, %v after the lock was taken: %v", i, opened[i].Sub(locked).Round(time.Millisecond), errs[i])
					continue
				}
				t.Cleanup(func() { s.Close() })
				if opened[i].Before(released) {
					t.Errorf("start %d opened %v before the lock was released: it never met the lock", i, released.Sub(opened[i]))
				}
				create(t, s, fmt.Sprintf("after the lock, from start %d", i))
			}
		})
	}
}

// rawSQLite opens the SQLite file at path as another process would, with the store's busy
// timeout and write transactions that take the write lock at BEGIN, plus extra DSN parameters.
func rawSQLite(t *testing.T, path, extra string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(50)&_txlock=immediate"+extra)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func TestUnavailableAfterClose(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s, err := gormstore.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if err := s.Ping(context.Background()); err == nil {
			t.Fatal("ping after close succeeded")
		}
		d, _ := chirp.NewDraft("late", "after close")
		if _, err := s.CreateTweet(context.Background(), d, chirp.HashEditToken("t")); chirp.ErrorCode(err) != chirp.CodeUnavailable {
			t.Fatalf("create after close: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second close: %v", err)
		}
	})
}

func TestRequestDeadlineIsUnavailable(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := s.Tweets(ctx, chirp.NewestPage())
		if chirp.ErrorCode(err) != chirp.CodeUnavailable || !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled list: %v", err)
		}
	})
}
