// Package gormstore keeps tweets in a SQL database through GORM: PostgreSQL for postgres://
// URLs, and otherwise an embedded, pure-Go SQLite file, with the same model and behaviour.
package gormstore

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/chirp-social/chirp/backend"
)

// Store is a chirp.TweetStore over GORM.
type Store struct {
	db       *gorm.DB
	postgres bool
	// writeSlot serialises this process's SQLite writers in Go, so that they queue without
	// SQLite's busy-wait sleeps; nil on PostgreSQL, whose locks queue writers themselves.
	writeSlot chan struct{}
	// beforeCommit, set only by tests, runs inside a create batch's transaction after the
	// insert, so a test can hold creates open at the worst moment. It stands for more database
	// work, so it gets the context the batch's statements get, and its error rolls the batch
	// back.
	beforeCommit func(ctx context.Context, ids []int64) error
	// notifier, when set, makes the notification each write sends from inside its transaction
	// (PostgreSQL only).
	notifier Notifier
	// observer, when set, is told of every create batch in commit order (the hot window).
	observer CommitObserver

	batches BatchObserver // told of every create batch; never nil
	// schema, set only by tests, is the models migrate brings up instead of currentSchema
	// (an older schema, to migrate from).
	schema []any

	creates    chan *createRequest // to the writer goroutine; unbuffered, so a send means "taken"
	purgeEvery time.Duration       // how often the writer purges expired idempotency keys
	// sessionMaxIdle, when not 0, makes the writer purge sessions idle for longer, as it
	// purges expired keys (WithSessionPurge).
	sessionMaxIdle time.Duration
	closing        chan struct{} // closed by Close
	writerDone     chan struct{} // closed when the writer goroutine has returned
	closeOnce      sync.Once
}

var _ chirp.TweetStore = (*Store)(nil)

// CommitObserver is told of this store's create batches, in commit order, from the one writer
// goroutine, before any of the batch's creators is answered: so a tweet is in the observer's view
// before its creator hears of it.
type CommitObserver interface {
	// Committed reports a committed batch: its tweets, in id order. Ids are taken in commit
	// order (the create lock), so every id below the batch's first is committed or never will be.
	Committed(created []chirp.Tweet)
	// Unsure reports a batch whose COMMIT failed: it may have committed all the same (a
	// connection lost during COMMIT), so what the observer holds may lack it. A batch that
	// failed before its COMMIT stored nothing, and is not reported.
	Unsure()
}

// BatchObserver hears of every create batch the writer commits or fails, for metrics: how many
// creates it carried and how long its transaction took, commit included. It is called on the
// writer goroutine, between batches, so it must not block.
type BatchObserver interface {
	Batch(size int, took time.Duration, committed bool)
}

type nopBatches struct{}

func (nopBatches) Batch(int, time.Duration, bool) {}

// Option configures Open.
type Option func(*Store)

// WithNotifier announces every committed write through n. It needs PostgreSQL: SQLite has no
// notifications (and serves one process).
func WithNotifier(n Notifier) Option { return func(s *Store) { s.notifier = n } }

// WithCommitObserver tells o of every create batch (CommitObserver).
func WithCommitObserver(o CommitObserver) Option { return func(s *Store) { s.observer = o } }

// WithBatchObserver tells b of every create batch's size and duration (BatchObserver).
func WithBatchObserver(b BatchObserver) Option { return func(s *Store) { s.batches = b } }

// WithSessionPurge makes the store delete the sessions idle for longer than maxIdle (the
// SESSION_MAX_IDLE that sign-ins are checked with), as it deletes expired idempotency keys:
// on its writer, between create batches, a chunk at a time, every minute.
func WithSessionPurge(maxIdle time.Duration) Option {
	return func(s *Store) { s.sessionMaxIdle = maxIdle }
}

// Pool is the store's connection pool, for other users of the same database (the event bus
// publishes on it).
func (s *Store) Pool() *sql.DB {
	pool, _ := s.db.DB() // the store was opened on a *sql.DB: never fails
	return pool
}

// Close finishes the batch being committed, then closes the database connections. Creates
// after Close fail as unavailable.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closing)
		<-s.writerDone
		sqlDB, dbErr := s.db.DB()
		if dbErr != nil {
			err = dbErr
			return
		}
		err = sqlDB.Close()
	})
	return err
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", classify(err))
	}
	return nil
}
