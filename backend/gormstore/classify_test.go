package gormstore_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	neturl "net/url"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	sqlite "github.com/glebarez/go-sqlite"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/gormstore"
	"github.com/chirp-social/chirp/backend/internal/testdb"
)

// TestClassify tells apart the failures that mean "the database is not answering, try again"
// (unavailable: 503) from the others (left as they are: 500, or their own code), over the
// drivers' own error values: SQLite's are made by the driver itself, PostgreSQL's are built
// (a server shutting down cannot be asked to).
func TestClassify(t *testing.T) {
	real := sqliteErrors(t)
	pg := func(code string) error {
		return &pgconn.PgError{Severity: "FATAL", Code: code, Message: "from the server"}
	}
	const unavailable, unchanged = chirp.CodeUnavailable, chirp.Code("")
	tests := []struct {
		name string
		err  error
		want chirp.Code
	}{
		{"PostgresAdminShutdown", pg("57P01"), unavailable}, // pg_terminate_backend, fast shutdown
		{"PostgresCrashShutdown", pg("57P02"), unavailable},
		{"PostgresCannotConnectNow", pg("57P03"), unavailable}, // starting up or in recovery
		{"PostgresQueryCanceled", pg("57014"), unavailable},    // statement_timeout, a cancel request
		{"PostgresConnectionFailure", pg("08006"), unavailable},
		{"PostgresTooManyConnections", pg("53300"), unavailable},
		{"PostgresDiskFull", pg("53100"), unavailable},
		{"PostgresWrapped", fmt.Errorf("list tweets: %w", fmt.Errorf("gorm: %w", pg("57P01"))), unavailable},
		{"PostgresUniqueViolation", pg("23505"), unchanged},
		{"PostgresUndefinedTable", pg("42P01"), unchanged},
		{"PostgresConnClosed", fmt.Errorf("exec: %w", pgconn.ErrConnClosed), unavailable},
		{"ConnectionReset", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, unavailable},
		{"ClosedMidMessage", fmt.Errorf("list tweets: %w", io.ErrUnexpectedEOF), unavailable},
		{"BadConn", driver.ErrBadConn, unavailable},
		{"SQLiteBusy", real.busy, unavailable},
		{"SQLiteBusySnapshot", real.busySnapshot, unavailable},
		{"SQLiteBusyWrapped", fmt.Errorf("create tweet: %w", real.busy), unavailable},
		{"SQLiteLocked", real.locked, unavailable},
		{"SQLiteInterrupted", real.interrupted, unavailable},
		{"SQLiteUniqueViolation", real.unique, unchanged},
		{"DeadlineExceeded", fmt.Errorf("list tweets: %w", context.DeadlineExceeded), unavailable},
		{"Canceled", context.Canceled, unavailable},
		{"PlainError", errors.New("something else went wrong"), unchanged},
		{"NotFoundKeepsItsCode", chirp.NotFound(7), chirp.CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := gormstore.Classify(tt.err)
			if code := chirp.ErrorCode(got); code != tt.want {
				t.Fatalf("classify(%v) has code %q, want %q", tt.err, code, tt.want)
			}
			if !errors.Is(got, tt.err) {
				t.Fatalf("classify(%v) = %v lost its cause", tt.err, got)
			}
		})
	}
	t.Run("PostgresConnectionCut", func(t *testing.T) {
		err := postgresConnectionCut(t)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("a query over a cut connection said %v (%T), want io.ErrUnexpectedEOF", err, err)
		}
		if got := gormstore.Classify(err); chirp.ErrorCode(got) != unavailable {
			t.Fatalf("a connection closed under pgx: %v is not unavailable", err)
		}
	})
}

type sqliteErrorValues struct {
	busy, busySnapshot, locked, interrupted, unique error
}

// sqliteErrors makes the SQLite driver fail in each of the ways classify must know, and checks
// that each failure carries the code it is meant to.
func sqliteErrors(t *testing.T) sqliteErrorValues {
	t.Helper()
	path := filepath.Join(t.TempDir(), "errors.db")
	db, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	conn := func() *sql.Conn {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	type execer interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
	}
	exec := func(on execer, query string) error { _, err := on.ExecContext(ctx, query); return err }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(exec(db, "CREATE TABLE t (x INTEGER PRIMARY KEY)"))
	must(exec(db, "INSERT INTO t VALUES (1)"))
	var v sqliteErrorValues

	// Busy: another connection holds the write lock.
	writer, reader := conn(), conn()
	must(exec(writer, "BEGIN IMMEDIATE"))
	v.busy = exec(reader, "BEGIN IMMEDIATE")
	// Busy snapshot: reader's transaction read before writer committed, then wants to write.
	must(exec(reader, "BEGIN"))
	var n int
	must(reader.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n))
	must(exec(writer, "INSERT INTO t VALUES (2)"))
	must(exec(writer, "COMMIT"))
	v.busySnapshot = exec(reader, "INSERT INTO t VALUES (3)")
	must(exec(reader, "ROLLBACK"))

	// Locked: a connection drops a table it is still reading.
	c := conn()
	rows, err := c.QueryContext(ctx, "SELECT x FROM t")
	must(err)
	rows.Next()
	v.locked = exec(c, "DROP TABLE t")
	must(rows.Close())

	// Interrupted: the driver interrupts a statement when its context ends. SQLite ignores an
	// interrupt that comes before the statement runs (a busy machine can take that long to
	// start it), and the statement then runs to its end: so it is bounded (a few seconds under
	// the race detector, where a million rows take half a minute) and tried again.
	for wait := 20 * time.Millisecond; wait < 10*time.Second; wait *= 2 {
		short, cancel := context.WithTimeout(ctx, wait)
		_, v.interrupted = db.ExecContext(short,
			"WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 100000) SELECT count(*) FROM c")
		cancel()
		if se := (*sqlite.Error)(nil); errors.As(v.interrupted, &se) && se.Code() == 9 {
			break
		}
	}

	v.unique = exec(db, "INSERT INTO t VALUES (1)")

	for _, e := range []struct {
		err  error
		code int
	}{{v.busy, 5}, {v.busySnapshot, 517}, {v.locked, 6}, {v.interrupted, 9}, {v.unique, 1555}} {
		var se *sqlite.Error
		if !errors.As(e.err, &se) || se.Code() != e.code {
			t.Fatalf("the driver said %v (%T), want an *sqlite.Error with code %d", e.err, e.err, e.code)
		}
	}
	return v
}

// postgresConnectionCut returns what a query says when the server's end of its connection
// closes without a word (a proxy giving up, a backend killed): a proxy in between takes the
// query, then closes both sides instead of passing it on.
func postgresConnectionCut(t *testing.T) error {
	t.Helper()
	u, err := neturl.Parse(testdb.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	server := u.Host
	var armed atomic.Bool
	go func() {
		client, err := ln.Accept()
		if err != nil {
			return
		}
		defer client.Close()
		upstream, err := net.Dial("tcp", server)
		if err != nil {
			return
		}
		defer upstream.Close()
		go io.Copy(client, upstream)
		buf := make([]byte, 32<<10)
		for {
			n, err := client.Read(buf)
			if err != nil || armed.Load() {
				return // the deferred closes cut both sides
			}
			if _, err := upstream.Write(buf[:n]); err != nil {
				return
			}
		}
	}()
	u.Host = ln.Addr().String()
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := db.Conn(ctx) // the one connection through the proxy
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.ExecContext(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	armed.Store(true)
	var n int
	err = conn.QueryRowContext(ctx, "SELECT 2").Scan(&n)
	if err == nil {
		t.Fatal("a query over a cut connection succeeded")
	}
	return err
}
