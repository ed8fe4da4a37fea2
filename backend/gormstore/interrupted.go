package gormstore

import (
	"context"
	"database/sql/driver"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// interruptedKey is where a PostgreSQL connection's CustomData holds the flag that a
// cancelled context interrupted one of its statements.
const interruptedKey = "chirp.interrupted"

// interruptHandler is pgx's own answer to a cancelled context (a deadline on the socket, so
// the read under way returns at once), which also marks the connection as interrupted.
//
// pgx reads in the background while a write is slow (15 ms, which a busy machine reaches by
// scheduling alone), and that read can still be waiting on the idle socket when the statement
// is done. A cancellation's deadline then ends it with an i/o timeout that no one reads: pgx
// clears the deadline but keeps the error, and the connection goes back to the pool with it.
// The next statement on it, from any request, fails with that timeout: a healthy client got a
// 503 because another client hung up. So an interrupted connection is never reused
// (markInterruptedConnect, discardInterrupted): the next request takes another one or a new one.
type interruptHandler struct {
	pgconn.DeadlineContextWatcherHandler
	interrupted *atomic.Bool
}

func (h *interruptHandler) HandleCancel(ctx context.Context) {
	h.interrupted.Store(true)
	h.DeadlineContextWatcherHandler.HandleCancel(ctx)
}

// watchCancels builds a connection's interruptHandler (pgconn.Config.BuildContextWatcherHandler).
func watchCancels(pgConn *pgconn.PgConn) ctxwatch.Handler {
	interrupted := new(atomic.Bool)
	pgConn.CustomData()[interruptedKey] = interrupted
	return &interruptHandler{
		DeadlineContextWatcherHandler: pgconn.DeadlineContextWatcherHandler{Conn: pgConn.Conn()},
		interrupted:                   interrupted,
	}
}

// markInterruptedConnect marks a new connection whose connect a cancelled context may have
// interrupted (stdlib.OptionAfterConnect): database/sql opens a connection in the context of
// the request that needs it, and pgx answers that cancellation during the connect with the
// same deadline, through a handler of its own.
func markInterruptedConnect(ctx context.Context, conn *pgx.Conn) error {
	if ctx.Err() != nil {
		if interrupted, _ := conn.PgConn().CustomData()[interruptedKey].(*atomic.Bool); interrupted != nil {
			interrupted.Store(true)
		}
	}
	return nil
}

// discardInterrupted refuses, as database/sql takes a connection from the pool, one that a
// cancelled context interrupted: database/sql closes it and tries another (stdlib.OptionResetSession).
func discardInterrupted(_ context.Context, conn *pgx.Conn) error {
	if interrupted, _ := conn.PgConn().CustomData()[interruptedKey].(*atomic.Bool); interrupted != nil && interrupted.Load() {
		return driver.ErrBadConn
	}
	return nil
}
