package gormstore_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/glebarez/go-sqlite" // database/sql driver "sqlite", to lock the file from outside
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/gormstore"
	"github.com/chirp-social/chirp/backend/internal/testdb"
	"github.com/chirp-social/chirp/backend/internal/testkit"
)

type created struct {
	tw  chirp.Tweet
	err error
	at  time.Time
}

func startCreate(ctx context.Context, s *gormstore.Store, content string) chan created {
	done := make(chan created, 1)
	go func() {
		d, _ := chirp.NewDraft("tester", content)
		tw, err := s.CreateTweet(ctx, d, chirp.HashEditToken("t"))
		done <- created{tw, err, time.Now()}
	}()
	return done
}

// TestHeldBatchAnswersByItsDeadline: the batch rule. Creates B (deadline in 1 s) and C
// (deadline in 10 s) queue behind a held create A and so share the next batch, which the
// database then stalls (the hook waits for the batch's context, as a database that does not
// answer would). B must get its answer within CommitGrace of its own deadline: bounding the
// batch by its latest deadline would keep B waiting until C's, long after B's connection
// could carry an answer. Neither stalled create may be stored.
func TestHeldBatchAnswersByItsDeadline(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		held, release := make(chan struct{}), make(chan struct{})
		var batches atomic.Int32
		gormstore.SetBeforeCommit(s, func(ctx context.Context, _ []int64) error {
			if batches.Add(1) == 1 { // A's batch: hold the writer while B and C queue
				close(held)
				return awaitRelease(release)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(30 * time.Second):
				return errors.New("the batch's context never ended")
			}
		})
		t.Cleanup(func() { gormstore.SetBeforeCommit(s, nil) })

		doneA := startCreate(context.Background(), s, "A")
		testkit.Closed(t, held, "create A's batch held before its commit")
		ctxC, cancelC := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancelC()
		doneC := startCreate(ctxC, s, "C")
		ctxB, cancelB := context.WithTimeout(context.Background(), time.Second)
		defer cancelB()
		deadlineB, _ := ctxB.Deadline()
		doneB := startCreate(ctxB, s, "B")
		// A moment for B and C to reach the writer's queue. Were one late, it would have a
		// batch of its own, bounded by its own deadline: the assertions still hold.
		time.Sleep(100 * time.Millisecond)
		close(release)

		a := testkit.Recv(t, doneA, "create A's answer")
		if a.err != nil {
			t.Fatalf("create A: %v", a.err)
		}
		b := testkit.Recv(t, doneB, "create B's answer")
		if chirp.ErrorCode(b.err) != chirp.CodeUnavailable {
			t.Fatalf("create B in a stalled batch: %+v", b)
		}
		if late := b.at.Sub(deadlineB); late > gormstore.CommitGrace {
			t.Fatalf("create B answered %v after its deadline; the batch rule allows %v", late, gormstore.CommitGrace)
		}
		t.Logf("B answered %v after its deadline", b.at.Sub(deadlineB).Round(time.Millisecond))
		// C may have had a batch of its own, bounded by its own deadline.
		deadlineC, _ := ctxC.Deadline()
		c := testkit.RecvWithin(t, doneC, time.Until(deadlineC)+gormstore.CommitGrace+testkit.Timeout, "create C's answer")
		if chirp.ErrorCode(c.err) != chirp.CodeUnavailable {
			t.Fatalf("create C in a stalled batch: %+v", c)
		}

		gormstore.SetBeforeCommit(s, nil)
		d, _ := create(t, s, "D")
		if got := testkit.IDs(list(t, s, chirp.PageQuery{Limit: 10, MaxID: chirp.NoMaxID})); !slices.Equal(got, []int64{d.ID, a.tw.ID}) {
			t.Fatalf("stored %v, want only D %d and A %d: a create answered unavailable was stored", got, d.ID, a.tw.ID)
		}
	})
}

// TestEndedCreateIsNotStored: a create whose context has ended by the time the writer takes
// it is answered at once, without waiting for the lock and without being inserted.
func TestEndedCreateIsNotStored(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		unlock := holdCreateLock(t, s, url)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		d, _ := chirp.NewDraft("tester", "too late")
		wait := gormstore.SendCreate(s, ctx, d, chirp.HashEditToken("t"))
		answer := make(chan error, 1)
		go func() {
			_, err := wait()
			answer <- err
		}()
		select {
		case err := <-answer:
			if chirp.ErrorCode(err) != chirp.CodeUnavailable || !errors.Is(err, context.Canceled) {
				t.Fatalf("ended create: %v", err)
			}
		case <-time.After(10 * time.Second):
			unlock()
			err := testkit.Recv(t, answer, "an answer to the ended create, even once the lock was gone")
			t.Fatalf("an ended create waited for the lock: still no answer after 10 s (then: %v)", err)
		}
		unlock()
		tw, _ := create(t, s, "in time")
		if got := testkit.IDs(list(t, s, chirp.PageQuery{Limit: 10, MaxID: chirp.NoMaxID})); !slices.Equal(got, []int64{tw.ID}) {
			t.Fatalf("stored %v, want only %d", got, tw.ID)
		}
	})
}

// holdCreateLock makes every create of s wait, as another process's create would: it holds the
// advisory lock of creates on PostgreSQL, SQLite's write lock otherwise, until unlock.
func holdCreateLock(t *testing.T, s *gormstore.Store, url string) (unlock func()) {
	t.Helper()
	driver, dsn, lock := "pgx", url, "SELECT pg_advisory_lock($1)"
	var args []any
	if gormstore.IsPostgres(s) {
		args = []any{gormstore.CreateLockKey}
	} else {
		driver, dsn, lock = "sqlite", sqlitePath(t, url), "BEGIN IMMEDIATE"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, lock, args...); err != nil {
		t.Fatal(err)
	}
	unlocked := false
	unlock = func() {
		if !unlocked {
			unlocked = true
			conn.Close() // ends the session (PostgreSQL) or rolls back (SQLite)
			db.Close()
		}
	}
	t.Cleanup(unlock)
	return unlock
}
