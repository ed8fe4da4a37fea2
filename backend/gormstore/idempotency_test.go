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
	"github.com/chirp-social/chirp/backend/internal/testkit"
)

func draft(t *testing.T, author, content string) chirp.Draft {
	t.Helper()
	d, err := chirp.NewDraft(author, content)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func createOnce(t *testing.T, s *gormstore.Store, key chirp.IdempotencyKey, author, content string) (chirp.Created, error) {
	t.Helper()
	token, _, err := chirp.NewEditToken()
	if err != nil {
		t.Fatal(err)
	}
	return s.CreateTweetOnce(context.Background(), draft(t, author, content), token, key)
}

func mustCreateOnce(t *testing.T, s *gormstore.Store, key chirp.IdempotencyKey, author, content string) chirp.Created {
	t.Helper()
	c, err := createOnce(t, s, key, author, content)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// keyReused checks err is the refusal of a key used for another tweet: invalid, naming the
// field Idempotency-Key.
func keyReused(t *testing.T, err error) {
	t.Helper()
	var e *chirp.Error
	if !errors.As(err, &e) || e.Code != chirp.CodeInvalid || e.Fields["Idempotency-Key"] == "" {
		t.Fatalf("want invalid with the field Idempotency-Key, got %v", err)
	}
}

func countRows(t *testing.T, s *gormstore.Store, table string) int64 {
	t.Helper()
	var n int64
	if err := gormstore.DB(s).Table(table).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCreateOnce(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		ctx := context.Background()
		const key = "key-9b2f4c1e7a3d4e8b-q7Zx2Lm9"
		first := mustCreateOnce(t, s, key, "alice", "hello")
		if first.Replayed || first.EditToken == "" || first.Tweet.ID == 0 {
			t.Fatalf("first create: %+v", first)
		}
		if err := s.AuthorizeEdit(ctx, first.Tweet.ID, first.EditToken); err != nil {
			t.Fatalf("the token returned does not own the tweet: %v", err)
		}
		t.Run("SameDraftReplays", func(t *testing.T) {
			// The same draft after the text rules: CR LF and surrounding space do not count.
			again := mustCreateOnce(t, s, key, " alice ", "hello\r\n")
			if !again.Replayed || again.Tweet != first.Tweet || again.EditToken != first.EditToken {
				t.Fatalf("replay %+v, want %+v replayed", again, first)
			}
		})
		t.Run("DifferentContentIsRefused", func(t *testing.T) {
			_, err := createOnce(t, s, key, "alice", "hello!")
			keyReused(t, err)
		})
		t.Run("DifferentAuthorIsRefused", func(t *testing.T) {
			_, err := createOnce(t, s, key, "bob", "hello")
			keyReused(t, err)
		})
		t.Run("KeysAreCaseSensitive", func(t *testing.T) {
			other := mustCreateOnce(t, s, "KEY-9B2F4C1E7A3D4E8B-q7Zx2Lm9", "alice", "hello")
			if other.Replayed || other.Tweet.ID == first.Tweet.ID {
				t.Fatalf("another key replayed: %+v", other)
			}
		})
		t.Run("ReplayIsTheOriginalAnswer", func(t *testing.T) {
			// Even after an edit: the retrying client never got its 201, and gets that one.
			e, _ := chirp.NewEdit("edited")
			if _, err := s.UpdateTweet(ctx, first.Tweet.ID, e); err != nil {
				t.Fatal(err)
			}
			again := mustCreateOnce(t, s, key, "alice", "hello")
			if !again.Replayed || again.Tweet != first.Tweet || again.EditToken != first.EditToken {
				t.Fatalf("replay after an edit %+v, want %+v", again, first)
			}
		})
		t.Run("WithoutKeyUnchanged", func(t *testing.T) {
			a, _ := create(t, s, "hello")
			b, _ := create(t, s, "hello")
			if a.ID == b.ID {
				t.Fatal("two creates without a key made one tweet")
			}
		})
		if n := countRows(t, s, "idempotency_keys"); n != 2 {
			t.Fatalf("%d keys stored, want 2", n)
		}
	})
}

// Twenty creates with one key at once, through two stores on one database (two processes):
// one tweet, twenty identical answers, exactly one of them not a replay.
func TestCreateOnceConcurrently(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		stores := []*gormstore.Store{openStore(t, url), openStore(t, url)}
		const n = 20
		const key = "concurrent-key-0001-q7Zx2Lm9"
		start := make(chan struct{})
		answers := make([]chirp.Created, n)
		errs := make([]error, n)
		d := draft(t, "racer", "one tweet")
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				token, _, _ := chirp.NewEditToken()
				<-start // closed below, once every create is ready
				answers[i], errs[i] = stores[i%2].CreateTweetOnce(context.Background(), d, token, key)
			})
		}
		close(start)
		wg.Wait()
		made := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("create %d: %v", i, errs[i])
			}
			if !answers[i].Replayed {
				made++
			}
			if answers[i].Tweet != answers[0].Tweet || answers[i].EditToken != answers[0].EditToken {
				t.Fatalf("answer %d %+v differs from answer 0 %+v", i, answers[i], answers[0])
			}
		}
		if made != 1 {
			t.Fatalf("%d answers say they made the tweet, want 1", made)
		}
		if got := list(t, stores[0], chirp.PageQuery{Limit: 100, MaxID: chirp.NoMaxID}); len(got) != 1 {
			t.Fatalf("%d tweets stored, want 1", len(got))
		}
	})
}

// Requests with one key in one batch, beside other creates: the key makes one tweet, a
// different draft under it is refused, and the rest of the batch is stored.
func TestOneKeyTwiceInOneBatch(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		stored := mustCreateOnce(t, s, "stored-key-000001-q7Zx2Lm9", "alice", "stored before")
		creates := []gormstore.BatchCreate{
			{Draft: draft(t, "a", "plain 1"), Token: "t0"},
			{Draft: draft(t, "a", "keyed"), Token: "t1", Key: "batch-key-0000001-q7Zx2Lm9"},
			{Draft: draft(t, "a", "keyed"), Token: "t2", Key: "batch-key-0000001-q7Zx2Lm9"},
			{Draft: draft(t, "a", "other body"), Token: "t3", Key: "batch-key-0000001-q7Zx2Lm9"},
			{Draft: draft(t, "a", "plain 2"), Token: "t4"},
			{Draft: draft(t, "alice", "stored before"), Token: "t5", Key: "stored-key-000001-q7Zx2Lm9"},
			{Draft: draft(t, "alice", "not what was stored"), Token: "t6", Key: "stored-key-000001-q7Zx2Lm9"},
			{Draft: draft(t, "a", "second key"), Token: "t7", Key: "batch-key-0000002-q7Zx2Lm9"},
		}
		got, errs := gormstore.CommitBatch(s, creates)
		for _, i := range []int{0, 1, 2, 4, 5, 7} {
			if errs[i] != nil {
				t.Fatalf("create %d failed: %v", i, errs[i])
			}
		}
		keyReused(t, errs[3])
		keyReused(t, errs[6])
		if got[1].Replayed || got[1].EditToken != "t1" || !got[2].Replayed || got[2].Tweet != got[1].Tweet || got[2].EditToken != "t1" {
			t.Fatalf("one key twice in a batch: %+v and %+v", got[1], got[2])
		}
		if !got[5].Replayed || got[5].Tweet != stored.Tweet || got[5].EditToken != stored.EditToken {
			t.Fatalf("stored key: %+v, want %+v", got[5], stored)
		}
		ids := map[int64]bool{}
		for _, i := range []int{0, 1, 4, 7} {
			if got[i].Replayed || ids[got[i].Tweet.ID] {
				t.Fatalf("create %d: %+v", i, got[i])
			}
			ids[got[i].Tweet.ID] = true
		}
		if n := len(list(t, s, chirp.PageQuery{Limit: 100, MaxID: chirp.NoMaxID})); n != 5 {
			t.Fatalf("%d tweets stored, want 5 (one before, four in the batch)", n)
		}
		if n := countRows(t, s, "idempotency_keys"); n != 3 {
			t.Fatalf("%d keys stored, want 3", n)
		}
	})
}

func TestKeysSurviveReopen(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		first := mustCreateOnce(t, s, "reopen-key-000001-q7Zx2Lm9", "alice", "hello")
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = openStore(t, url)
		again := mustCreateOnce(t, s, "reopen-key-000001-q7Zx2Lm9", "alice", "hello")
		if !again.Replayed || again.Tweet != first.Tweet || again.EditToken != first.EditToken {
			t.Fatalf("after reopening: %+v, want %+v", again, first)
		}
	})
}

// age moves a key's creation back by d, as if it had been made that long ago.
func age(t *testing.T, s *gormstore.Store, key string, d time.Duration) {
	t.Helper()
	var at time.Time
	db := gormstore.DB(s).Table("idempotency_keys")
	if err := db.Select("created_at").Where(`"key" = ?`, key).Scan(&at).Error; err != nil {
		t.Fatal(err)
	}
	if err := gormstore.DB(s).Table("idempotency_keys").Where(`"key" = ?`, key).Update("created_at", at.Add(-d)).Error; err != nil {
		t.Fatal(err)
	}
}

func keysStored(t *testing.T, s *gormstore.Store) map[string]bool {
	t.Helper()
	var keys []string
	if err := gormstore.DB(s).Table("idempotency_keys").Pluck("key", &keys).Error; err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, k := range keys {
		out[k] = true
	}
	return out
}

func TestExpiredKeys(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		t.Run("PurgeRemovesExpiredOnly", func(t *testing.T) {
			mustCreateOnce(t, s, "expired-key-00001-q7Zx2Lm9", "a", "old")
			mustCreateOnce(t, s, "nearly-expired-01-q7Zx2Lm9", "a", "nearly old")
			mustCreateOnce(t, s, "fresh-key-0000001-q7Zx2Lm9", "a", "new")
			age(t, s, "expired-key-00001-q7Zx2Lm9", chirp.IdempotencyWindow+time.Minute)
			age(t, s, "nearly-expired-01-q7Zx2Lm9", chirp.IdempotencyWindow-time.Minute)
			if full, err := gormstore.PurgeExpired(s, time.Now()); err != nil || full {
				t.Fatalf("purge: full %v, %v", full, err)
			}
			got := keysStored(t, s)
			if got["expired-key-00001-q7Zx2Lm9"] || !got["nearly-expired-01-q7Zx2Lm9"] || !got["fresh-key-0000001-q7Zx2Lm9"] {
				t.Fatalf("after the purge: %v", got)
			}
			// A purged key is a new key.
			c := mustCreateOnce(t, s, "expired-key-00001-q7Zx2Lm9", "a", "another tweet")
			if c.Replayed {
				t.Fatalf("a purged key replayed: %+v", c)
			}
		})
		t.Run("ExpiredKeyNotPurgedYetIsNew", func(t *testing.T) {
			first := mustCreateOnce(t, s, "lingering-key-001-q7Zx2Lm9", "a", "old")
			age(t, s, "lingering-key-001-q7Zx2Lm9", chirp.IdempotencyWindow)
			c := mustCreateOnce(t, s, "lingering-key-001-q7Zx2Lm9", "a", "old")
			if c.Replayed || c.Tweet.ID == first.Tweet.ID {
				t.Fatalf("an expired key replayed: %+v", c)
			}
			again := mustCreateOnce(t, s, "lingering-key-001-q7Zx2Lm9", "a", "old")
			if !again.Replayed || again.Tweet != c.Tweet {
				t.Fatalf("the key given anew does not replay: %+v, want %+v", again, c)
			}
		})
		t.Run("PurgeGoesOnWhileFull", func(t *testing.T) {
			old := time.Now().Add(-2 * chirp.IdempotencyWindow)
			rows := make([]map[string]any, gormstore.PurgeChunk+1)
			for i := range rows {
				rows[i] = map[string]any{"key": fmt.Sprintf("bulk-key-%08d", i), "tweet_id": 1, "author": "a",
					"content": "c", "edit_token": "t", "created_at": old}
			}
			if err := gormstore.DB(s).Table("idempotency_keys").CreateInBatches(rows, 200).Error; err != nil {
				t.Fatal(err)
			}
			if full, err := gormstore.PurgeExpired(s, time.Now()); err != nil || !full {
				t.Fatalf("first purge: full %v, %v", full, err)
			}
			if full, err := gormstore.PurgeExpired(s, time.Now()); err != nil || full {
				t.Fatalf("second purge: full %v, %v", full, err)
			}
			for k := range keysStored(t, s) {
				if len(k) > 5 && k[:5] == "bulk-" {
					t.Fatalf("%s is left", k)
				}
			}
		})
	})
}

// A create whose key is in flight in another batch, of this process or another one, waits for
// that batch and answers its tweet; if that batch rolls back, the key was never given, and the
// waiting create makes the tweet itself.
func TestKeyInFlightWaitsForItsBatch(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		for _, tt := range []struct {
			name         string
			otherProcess bool
			firstFails   bool
		}{
			{"SameProcess", false, false},
			{"OtherProcess", true, false},
			{"SameProcessFirstRollsBack", false, true},
			{"OtherProcessFirstRollsBack", true, true},
		} {
			t.Run(tt.name, func(t *testing.T) {
				checkKeyInFlight(t, url, tt.otherProcess, tt.firstFails)
			})
		}
	})
}

// The lookup sees the batch before it even where the server's default isolation is stricter
// than READ COMMITTED: the store asks for READ COMMITTED itself.
func TestKeyInFlightUnderRepeatableRead(t *testing.T) {
	url := testdb.PostgresURL(t)
	db := testdb.Open(t, url)
	if _, err := db.Exec(`DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET default_transaction_isolation = %L',
		current_database(), 'repeatable read'); END $$`); err != nil {
		t.Fatal(err)
	}
	checkKeyInFlight(t, url, true, false)
}

func checkKeyInFlight(t *testing.T, url string, otherProcess, firstFails bool) {
	t.Helper()
	s := openStore(t, url)
	other := s
	if otherProcess {
		other = openStore(t, url)
	}
	key := chirp.IdempotencyKey(fmt.Sprintf("in-flight-key-%v-%v-q7Zx2Lm9", otherProcess, firstFails))
	before := len(list(t, s, chirp.PageQuery{Limit: 100, MaxID: chirp.NoMaxID}))
	var failure error
	if firstFails {
		failure = errors.New("the first batch fails")
	}
	held, release := holdFirstBatch(s, failure)
	type result struct {
		c   chirp.Created
		err error
	}
	d := draft(t, "alice", "hello")
	start := func(store *gormstore.Store) chan result {
		token, _, err := chirp.NewEditToken()
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan result, 1)
		go func() {
			c, err := store.CreateTweetOnce(context.Background(), d, token, key)
			done <- result{c, err}
		}()
		return done
	}
	doneA := start(s)
	testkit.Recv(t, held, "A's batch held before its commit")
	doneB := start(other)
	if waitBlockedOrDone(t, other, otherProcess, doneB) {
		t.Fatalf("B answered while the batch holding its key was open: %+v", testkit.Recv(t, doneB, "B's answer"))
	}
	close(release)
	a := testkit.Recv(t, doneA, "A's answer")
	b := testkit.Recv(t, doneB, "B's answer")
	if firstFails {
		if a.err == nil || b.err != nil || b.c.Replayed {
			t.Fatalf("A %+v, B %+v: want A failed and B made the tweet", a, b)
		}
	} else if a.err != nil || b.err != nil || a.c.Replayed || !b.c.Replayed ||
		b.c.Tweet != a.c.Tweet || b.c.EditToken != a.c.EditToken {
		t.Fatalf("A %+v, B %+v: want B to answer A's tweet", a, b)
	}
	if n := len(list(t, s, chirp.PageQuery{Limit: 100, MaxID: chirp.NoMaxID})) - before; n != 1 {
		t.Fatalf("%d tweets stored, want 1", n)
	}
}

// The writer purges on its own, without a create to prompt it.
func TestWriterPurgesExpiredKeys(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := gormstore.OpenPurgingEvery(ctx, url, 20*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		mustCreateOnce(t, s, "writer-purge-old1-q7Zx2Lm9", "a", "old")
		mustCreateOnce(t, s, "writer-purge-new1-q7Zx2Lm9", "a", "new")
		age(t, s, "writer-purge-old1-q7Zx2Lm9", chirp.IdempotencyWindow+time.Second)
		testkit.Eventually(t, "the writer to purge the expired key", func() bool {
			return !keysStored(t, s)["writer-purge-old1-q7Zx2Lm9"]
		})
		if !keysStored(t, s)["writer-purge-new1-q7Zx2Lm9"] {
			t.Fatal("the writer purged a key that had not expired")
		}
	})
}
