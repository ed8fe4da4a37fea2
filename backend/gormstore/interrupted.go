package gormstore

import (
	"context"
	"database/sql/driver"
	"fmt"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/stdlib"
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
// (markInterruptedConnect, validatingConn, discardInterrupted): the next request takes another
// one or a new one.
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
		if flag := interruptedFlag(conn); flag != nil {
			flag.Store(true)
		}
	}
	return nil
}

// discardInterrupted refuses, as database/sql takes a connection from the pool, one that a
// cancelled context interrupted: database/sql closes it and tries another (stdlib.OptionResetSession).
// validatingConn keeps them out of the pool as they come back; this refuses one that database/sql
// reuses without asking it (database/sql asks driver.Validator only on the way back to the pool).
func discardInterrupted(_ context.Context, conn *pgx.Conn) error {
	if interrupted(conn) {
		return driver.ErrBadConn
	}
	return nil
}

// interruptedFlag is the flag watchCancels keeps in conn, or nil when it did not build conn's
// handler.
func interruptedFlag(conn *pgx.Conn) *atomic.Bool {
	flag, _ := conn.PgConn().CustomData()[interruptedKey].(*atomic.Bool)
	return flag
}

// interrupted says whether a cancelled context interrupted conn.
func interrupted(conn *pgx.Conn) bool {
	flag := interruptedFlag(conn)
	return flag != nil && flag.Load()
}

// validatingConnector makes validatingConns.
type validatingConnector struct{ driver.Connector }

func (c validatingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	pgxConn, ok := conn.(*stdlib.Conn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("pgx made a %T, not a *stdlib.Conn", conn)
	}
	return validatingConn{pgxConn}, nil
}

// stdlibConn names the embedded connection so that its Conn method is not hidden by a field
// of the same name.
type stdlibConn = stdlib.Conn

// validatingConn is pgx's connection that, once a cancelled context interrupted it, tells
// database/sql as it comes back to the pool that it is no longer valid, and database/sql closes
// it there (driver.Validator; pgx's stdlib.Conn has none). Refusing it only when it is taken
// again (discardInterrupted) is not enough: database/sql tries at most three connections for one
// statement, the third, when the pool is full, one that another request gives back, and clients
// hanging up at once give back interrupted connections to the requests waiting for one. A healthy
// request handed three in a row fails with driver.ErrBadConn: a 503, and an outage logged.
//
// Embedding keeps every interface of pgx's connection that database/sql looks for.
type validatingConn struct{ *stdlibConn }

// IsValid implements driver.Validator.
func (c validatingConn) IsValid() bool { return !interrupted(c.Conn()) }
