package gormstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/gormstore"
	"github.com/chirp-social/chirp/backend/internal/testdb"
)

const testChannel = "chirp_store_test"

// plainNotifier names each change plainly, so that a test reads what was sent.
type plainNotifier struct{}

func (plainNotifier) Created(id int64) (string, string) {
	return testChannel, fmt.Sprint("created ", id)
}
func (plainNotifier) Updated(id int64) (string, string) {
	return testChannel, fmt.Sprint("updated ", id)
}
func (plainNotifier) Deleted(id int64) (string, string) {
	return testChannel, fmt.Sprint("deleted ", id)
}

// listener is a test's own LISTEN connection.
type listener struct{ conn *pgx.Conn }

func listen(t *testing.T, url string) *listener {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, "LISTEN "+testChannel); err != nil {
		t.Fatal(err)
	}
	return &listener{conn: conn}
}

// next is the next notification's payload, or "" when none comes within a while.
func (l *listener) next(t *testing.T, within time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	n, err := l.conn.WaitForNotification(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ""
		}
		t.Fatal(err)
	}
	return n.Payload
}

func openNotifying(t *testing.T, url string) *gormstore.Store {
	t.Helper()
	s, err := gormstore.Open(context.Background(), url, gormstore.WithNotifier(plainNotifier{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Each committed write sends one notification from its transaction: a create batch one, naming
// its highest id; an edit and a delete one each; a delete that found nothing none.
func TestCommittedWritesNotify(t *testing.T) {
	url := testdb.PostgresURL(t)
	s := openNotifying(t, url)
	l := listen(t, url)

	var batch []gormstore.BatchCreate
	for i := range 3 {
		d, _ := chirp.NewDraft("batcher", fmt.Sprint("batch ", i))
		batch = append(batch, gormstore.BatchCreate{Draft: d, Token: fmt.Sprint("token-", i)})
	}
	created, errs := gormstore.CommitBatch(s, batch)
	var highest int64
	for i, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
		highest = max(highest, created[i].Tweet.ID)
	}
	if got, want := l.next(t, 5*time.Second), fmt.Sprint("created ", highest); got != want {
		t.Fatalf("after a batch of 3: got %q, want %q", got, want)
	}
	if extra := l.next(t, 300*time.Millisecond); extra != "" {
		t.Fatalf("a batch sent more than one notification: then %q", extra)
	}

	ctx := context.Background()
	if _, err := s.UpdateTweet(ctx, highest, chirp.Edit{Content: "edited"}); err != nil {
		t.Fatal(err)
	}
	if got, want := l.next(t, 5*time.Second), fmt.Sprint("updated ", highest); got != want {
		t.Fatalf("after an edit: got %q, want %q", got, want)
	}
	if err := s.DeleteTweet(ctx, highest); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTweet(ctx, highest); chirp.ErrorCode(err) != chirp.CodeNotFound {
		t.Fatalf("second delete: %v", err)
	}
	if got, want := l.next(t, 5*time.Second), fmt.Sprint("deleted ", highest); got != want {
		t.Fatalf("after a delete: got %q, want %q", got, want)
	}
	if extra := l.next(t, 300*time.Millisecond); extra != "" {
		t.Fatalf("a delete that found nothing notified %q", extra)
	}
}

// A write that rolls back announces nothing: the first notification heard is the next write's
// that commits.
func TestRolledBackWritesNotifyNothing(t *testing.T) {
	url := testdb.PostgresURL(t)
	s := openNotifying(t, url)
	l := listen(t, url)
	ctx := context.Background()

	failed := errors.New("the batch fails after its insert")
	gormstore.SetBeforeCommit(s, func(context.Context, []int64) error { return failed })
	d, _ := chirp.NewDraft("doomed", "rolled back")
	if _, err := s.CreateTweet(ctx, d, chirp.HashEditToken("t")); err == nil {
		t.Fatal("the create committed despite its failure")
	}
	gormstore.SetBeforeCommit(s, nil)
	if _, err := s.UpdateTweet(ctx, 999, chirp.Edit{Content: "nothing here"}); chirp.ErrorCode(err) != chirp.CodeNotFound {
		t.Fatalf("edit of a missing tweet: %v", err)
	}
	kept, _ := create(t, s, "committed")
	got := l.next(t, 5*time.Second)
	if want := fmt.Sprint("created ", kept.ID); got != want {
		t.Fatalf("first notification %q, want %q: a rolled-back write was announced", got, want)
	}
}

func TestNotificationsNeedPostgres(t *testing.T) {
	_, err := gormstore.Open(context.Background(), testdb.SQLiteURL(t), gormstore.WithNotifier(plainNotifier{}))
	if err == nil || !strings.Contains(err.Error(), "PostgreSQL") {
		t.Fatalf("an SQLite store with a notifier: %v", err)
	}
}
