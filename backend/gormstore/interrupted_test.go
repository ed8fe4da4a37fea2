package gormstore_test

import (
	"context"
	"testing"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/gormstore"
	"github.com/chirp-social/chirp/backend/internal/testdb"
	"github.com/chirp-social/chirp/backend/internal/testkit"
)

// sleepStatement is what the interrupted statements run: long enough to be under way when
// their context is cancelled, and easy to find in pg_stat_activity.
const sleepStatement = "SELECT pg_sleep(30)"

// TestInterruptedConnectionsLeaveThePool: a connection a cancelled context interrupted cannot
// serve another statement, and database/sql tries at most three connections for one statement,
// the third, when the pool is full, one that another request gives back. Were interrupted
// connections kept in the pool, requests of clients that hang up at once could hand a healthy
// request three of them in a row: a 503 with an outage logged. So each is closed as it comes
// back: after a whole pool of them the pool holds none, and reads and writes succeed.
func TestInterruptedConnectionsLeaveThePool(t *testing.T) {
	url := testdb.PostgresURL(t)
	for _, tt := range []struct {
		name      string
		interrupt func(t *testing.T, s *gormstore.Store, url string, n int)
	}{
		{"CancelledStatements", cancelStatements},
		{"StaleTimeouts", func(t *testing.T, s *gormstore.Store, _ string, n int) {
			ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
			defer cancel()
			if err := gormstore.MarkInterrupted(ctx, s, n); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, url)
			tw, token := create(t, s, "before")
			n := s.Pool().Stats().MaxOpenConnections
			tt.interrupt(t, s, url, n)
			if idle := s.Pool().Stats().Idle; idle != 0 {
				t.Fatalf("%d of %d interrupted connections were kept in the pool", idle, n)
			}

			ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
			defer cancel()
			if _, err := s.Tweets(ctx, chirp.PageQuery{Limit: 10, MaxID: chirp.NoMaxID}); err != nil {
				t.Fatalf("list after interruptions: %v", err)
			}
			if err := s.AuthorizeEdit(ctx, tw.ID, token); err != nil {
				t.Fatalf("authorize after interruptions: %v", err)
			}
			if _, err := s.UpdateTweet(ctx, tw.ID, chirp.Edit{Content: "after"}); err != nil {
				t.Fatalf("update after interruptions: %v", err)
			}
			create(t, s, "after")
		})
	}
}

// cancelStatements runs n statements at once on s's pool, each on a connection of its own, and
// cancels them while the database is still running them.
func cancelStatements(t *testing.T, s *gormstore.Store, url string, n int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, n)
	for range n {
		go func() {
			_, err := s.Pool().ExecContext(ctx, sleepStatement)
			done <- err
		}()
	}
	server := testdb.Open(t, url)
	t.Cleanup(func() {
		// The server ends a statement whose client went away only when it next talks to it.
		server.Exec("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query = $1", sleepStatement)
	})
	testkit.Eventually(t, "every statement running in the database", func() bool {
		var running int
		err := server.QueryRow("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query = $1",
			sleepStatement).Scan(&running)
		return err == nil && running == n
	})
	cancel()
	for range n {
		if err := testkit.Recv(t, done, "the answer to a cancelled statement"); err == nil {
			t.Fatal("a cancelled statement succeeded")
		}
	}
}
