package gormstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	sqlite "github.com/glebarez/go-sqlite"
	"github.com/jackc/pgx/v5/pgconn"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/chirp-social/chirp/backend"
)

// classify marks the failures that mean "the database is not answering" (it is down, out of
// reach, restarting, overloaded, locked by another process, or too slow for the request's
// deadline) as chirp.CodeUnavailable, so that clients get a 503 to retry rather than a 500.
// It decides by the drivers' error types and codes, never by message text. Anything else is
// returned as it is: answered as internal, or as its own code when it already has one.
func classify(err error) error {
	if chirp.ErrorCode(err) == "" && unavailable(err) {
		return chirp.Unavailable(err)
	}
	return err
}

func unavailable(err error) bool {
	var (
		pgErr      *pgconn.PgError
		sqliteErr  *sqlite.Error
		connectErr *pgconn.ConnectError
		netErr     net.Error
	)
	switch {
	case err == nil:
		return false
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return true
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, pgconn.ErrConnClosed),
		errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &connectErr), errors.As(err, &netErr):
		// The connection could not be made or was lost: pgx reports a server that closed it
		// without a word (a proxy, a killed backend) as io.ErrUnexpectedEOF.
		return true
	case errors.As(err, &pgErr):
		return unavailableSQLState(pgErr.Code)
	case errors.As(err, &sqliteErr):
		return unavailableSQLiteCode(sqliteErr.Code())
	}
	return false
}

// unavailableSQLState: PostgreSQL's classes 08 (connection exception), 53 (insufficient
// resources: 53300 too_many_connections, 53100 disk_full, 53200 out_of_memory) and 57
// (operator intervention: 57P01 admin_shutdown from pg_terminate_backend or a fast shutdown,
// 57P02 crash_shutdown, 57P03 cannot_connect_now while starting, 57014 query_canceled from
// statement_timeout or a cancel request).
func unavailableSQLState(code string) bool {
	if len(code) != 5 {
		return false
	}
	switch code[:2] {
	case "08", "53", "57":
		return true
	}
	return false
}

// unavailableSQLiteCode: SQLite's busy and locked codes (another connection holds the lock
// this one needs), an interrupted statement (the driver interrupts a statement only when its
// context ends), and the resource failures that match PostgreSQL's class 53 (a full disk, no
// memory). Extended codes (SQLITE_BUSY_SNAPSHOT, SQLITE_LOCKED_SHAREDCACHE, …) carry their
// primary code in the low byte.
func unavailableSQLiteCode(code int) bool {
	switch code & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_INTERRUPT,
		sqlite3.SQLITE_FULL, sqlite3.SQLITE_NOMEM:
		return true
	}
	return false
}

// sqliteBusy reports whether err is SQLite saying that another connection holds the lock.
func sqliteBusy(err error) bool {
	var sqliteErr *sqlite.Error
	return errors.As(err, &sqliteErr) && sqliteErr.Code()&0xff == sqlite3.SQLITE_BUSY
}

// startError says once, in an operator's words, why the database could not be opened at
// start: pgx repeats the address in every attempt's error (one attempt with TLS and one
// without under sslmode=prefer, each "addr (host): dial error: dial tcp addr: …"), and SQLite
// answers a file in a folder that does not exist with "out of memory (14)".
func startError(err error, sqlitePath string) error {
	var connect *pgconn.ConnectError
	if errors.As(err, &connect) {
		var cause error = errors.Unwrap(connect)
		var server *pgconn.PgError
		var lookup *net.DNSError
		var dial *net.OpError
		switch {
		case errors.As(err, &server):
			cause = server
		case errors.As(err, &lookup):
			cause = lookup
		case errors.As(err, &dial):
			cause = dial.Err
		}
		c := connect.Config
		return fmt.Errorf("cannot connect to PostgreSQL at %s as user %q, database %q: %w",
			net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port))), c.User, c.Database, cause)
	}
	if sqlitePath != "" {
		dir := filepath.Dir(sqlitePath)
		if info, statErr := os.Stat(dir); errors.Is(statErr, fs.ErrNotExist) {
			return fmt.Errorf("the folder %s does not exist: create it, or name a file in another folder", dir)
		} else if statErr == nil && !info.IsDir() {
			return fmt.Errorf("%s is not a folder: name a file in a folder", dir)
		}
	}
	return err
}

// uniqueViolation reports whether err is the database refusing a row whose unique column is
// taken (PostgreSQL's 23505; SQLite's unique and primary key constraints). The caller knows which
// statement failed, and so which value was taken, and answers with its own CodeConflict: a
// unique violation is not an outage, and on PostgreSQL it is what the second of two concurrent
// inserts of one value meets once the first commits.
func uniqueViolation(err error) bool {
	return violates(err, "23505", sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

// foreignKeyViolation reports whether err is the database refusing a row that refers to a row
// that is not there (PostgreSQL's 23503; SQLite's foreign key constraint): a session or passkey
// of an account deleted meanwhile.
func foreignKeyViolation(err error) bool {
	return violates(err, "23503", sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY)
}

// violates reports whether err is PostgreSQL's SQLSTATE pgCode or one of SQLite's (extended)
// sqliteCodes.
func violates(err error, pgCode string, sqliteCodes ...int) bool {
	var pgErr *pgconn.PgError
	var sqliteErr *sqlite.Error
	switch {
	case errors.As(err, &pgErr):
		return pgErr.Code == pgCode
	case errors.As(err, &sqliteErr):
		return slices.Contains(sqliteCodes, sqliteErr.Code())
	}
	return false
}
