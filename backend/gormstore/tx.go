package gormstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/chirp-social/chirp/backend"
)

// Advisory lock keys (PostgreSQL), arbitrary but fixed: every process must use the same ones.
const (
	migrateLockKey int64 = 0x43686972_70000001 // "Chir" + 1: one schema migration at a time
	createLockKey  int64 = 0x43686972_70000002 // "Chir" + 2: creates commit one at a time, in id order
)

// acquireWrite waits for this process's SQLite write slot (a no-op on PostgreSQL).
func (s *Store) acquireWrite(ctx context.Context) (release func(), err error) {
	if s.writeSlot == nil {
		return func() {}, nil
	}
	select {
	case s.writeSlot <- struct{}{}:
		return func() { <-s.writeSlot }, nil
	case <-ctx.Done():
		return nil, chirp.Unavailable(ctx.Err())
	}
}

// sqliteBusyTimeout is how long one attempt to take SQLite's write lock waits inside SQLite
// while another process holds it. SQLite's busy loop cannot be interrupted: the driver's
// context handling interrupts statements, not the busy handler, and BEGIN ignores the context
// altogether, so a long busy timeout would outlast the request's deadline. So each attempt is
// short, and begin tries again until the context ends.
const sqliteBusyTimeout = 50 * time.Millisecond

// sqliteRetryPause separates two attempts at SQLite's write lock, in case SQLite answers busy
// without waiting.
const sqliteRetryPause = 5 * time.Millisecond

// transaction runs fn in a transaction and commits it. The transaction, its commit included,
// lives within txCtx; beginning it (on SQLite, waiting for the write lock) and fn's statements
// are bounded by ctx, which ends no later. A failure of the COMMIT itself is marked
// chirp.ErrOutcomeUnknown; any other failure stored nothing.
func (s *Store) transaction(txCtx, ctx context.Context, fn func(tx *gorm.DB) error) error {
	tx, err := s.begin(txCtx, ctx)
	if err != nil {
		return err
	}
	finished := false
	defer func() {
		if !finished { // fn failed or panicked
			tx.Rollback()
		}
	}()
	if err := fn(tx.WithContext(ctx)); err != nil {
		return rolledBack(txCtx, err)
	}
	finished = true
	err = tx.Commit().Error
	//nolint:errorlint // database/sql's own answers, returned as they are, before any COMMIT is sent
	if err == nil || err == context.Canceled || err == context.DeadlineExceeded || err == sql.ErrTxDone {
		// database/sql refuses to commit a transaction whose context has ended, and rolls it
		// back: nothing was stored.
		return rolledBack(txCtx, err)
	}
	// The COMMIT went out: it may have reached the server before the connection or the
	// context failed, and no one can tell whether it took.
	return fmt.Errorf("%w: %w", chirp.ErrOutcomeUnknown, err)
}

// commitContext is what an edit's or a delete's transaction lives in: the request's deadline
// without its cancellation. A client that goes away stops the statements (they run in the
// request's context) but never cuts off a COMMIT under way, whose outcome no one could then
// know (the window would have to stand aside); a deadline still does.
func commitContext(ctx context.Context) (context.Context, context.CancelFunc) {
	detached := context.WithoutCancel(ctx)
	if deadline, ok := ctx.Deadline(); ok {
		return context.WithDeadline(detached, deadline)
	}
	return context.WithCancel(detached)
}

// rolledBack names the reason when database/sql rolled a transaction back because its context
// ended (it then answers sql.ErrTxDone to what comes next), so that the failure is classified
// by that context: a deadline, or a client that went away.
func rolledBack(txCtx context.Context, err error) error {
	if errors.Is(err, sql.ErrTxDone) && txCtx.Err() != nil {
		return fmt.Errorf("%w (%w)", context.Cause(txCtx), err)
	}
	return err
}

// begin starts a transaction. On SQLite it is BEGIN IMMEDIATE, which waits for another
// process's writer at most sqliteBusyTimeout; begin tries again until ctx ends.
//
// On PostgreSQL it is READ COMMITTED whatever the server's default: a create batch's key
// lookup must see the batch that held the create lock before it (insertInOrder). The level
// rides the BEGIN statement itself, so it costs no round trip.
func (s *Store) begin(txCtx, ctx context.Context) (*gorm.DB, error) {
	var opts []*sql.TxOptions
	if s.postgres {
		opts = append(opts, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	}
	var tx *gorm.DB
	err := untilNotBusy(ctx, func() error {
		tx = s.db.WithContext(txCtx).Begin(opts...)
		return tx.Error
	})
	if err != nil {
		return nil, err
	}
	return tx, nil
}

// untilNotBusy calls attempt until it does not fail with SQLITE_BUSY, or until ctx ends: the
// wait for another process's lock, one sqliteBusyTimeout at a time. Other errors, PostgreSQL's
// included, return at once.
func untilNotBusy(ctx context.Context, attempt func() error) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := attempt()
		if err == nil || !sqliteBusy(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (waited for the lock until: %w)", err, ctx.Err())
		case <-time.After(sqliteRetryPause):
		}
	}
}
