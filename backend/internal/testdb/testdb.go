// Package testdb gives each test a fresh, empty database of each kind Chirp runs on: an SQLite
// file always, and a PostgreSQL database when TEST_DATABASE_URL names a server to create it in.
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", to create and drop test databases
)

// Kind names a database kind in subtest names.
type Kind string

// The kinds of database Chirp runs on.
const (
	SQLite   Kind = "SQLite"
	Postgres Kind = "Postgres"
)

// Each runs f as a subtest once per database kind, each with a fresh database URL. PostgreSQL
// runs when TEST_DATABASE_URL is set; without it the subtest is skipped with the reason, unless
// CHIRP_REQUIRE_POSTGRES is set (as CI does), where it fails.
func Each(t *testing.T, f func(t *testing.T, databaseURL string)) {
	t.Helper()
	t.Run(string(SQLite), func(t *testing.T) { f(t, SQLiteURL(t)) })
	t.Run(string(Postgres), func(t *testing.T) { f(t, PostgresURL(t)) })
}

// SQLiteURL returns the URL of a new SQLite file in the test's temporary directory.
func SQLiteURL(t testing.TB) string {
	t.Helper()
	return "sqlite://" + filepath.Join(t.TempDir(), "chirp.db")
}

// PostgresURL creates an empty PostgreSQL database for this test, dropped when it ends, and
// returns its URL.
func PostgresURL(t testing.TB) string {
	t.Helper()
	return PostgresURLEncoded(t, "")
}

// PostgresURLEncoded is PostgresURL for a database in the server encoding named (SQL_ASCII,
// UTF8, …), or in the server's default for "".
func PostgresURLEncoded(t testing.TB, encoding string) string {
	t.Helper()
	admin := adminDB(t)
	name := "chirp_test_" + randomHex(t, 8)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	create := "CREATE DATABASE " + name
	if encoding != "" {
		// template1 may hold another encoding's text: only template0 can be copied to any.
		create += " ENCODING '" + encoding + "' TEMPLATE template0"
	}
	if _, err := admin.ExecContext(ctx, create); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u, _ := url.Parse(os.Getenv("TEST_DATABASE_URL"))
	u.Path = "/" + name
	return u.String()
}

var (
	adminOnce sync.Once
	admin     *sql.DB
	adminErr  error
)

// adminDB is the connection that creates and drops test databases, shared by a test binary's
// tests (it is closed when the process exits).
func adminDB(t testing.TB) *sql.DB {
	t.Helper()
	raw := os.Getenv("TEST_DATABASE_URL")
	if raw == "" {
		if os.Getenv("CHIRP_REQUIRE_POSTGRES") != "" {
			t.Fatal("CHIRP_REQUIRE_POSTGRES is set but TEST_DATABASE_URL is not: PostgreSQL tests cannot run")
		}
		t.Skip("PostgreSQL tests skipped: set TEST_DATABASE_URL (for example postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)")
	}
	adminOnce.Do(func() {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			adminErr = fmt.Errorf("TEST_DATABASE_URL %q is not a postgres:// URL", raw)
			return
		}
		db, err := sql.Open("pgx", raw)
		if err != nil {
			adminErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := db.PingContext(ctx); err != nil {
			adminErr = fmt.Errorf("PostgreSQL at TEST_DATABASE_URL does not answer: %w", err)
			db.Close()
			return
		}
		admin = db
	})
	if adminErr != nil {
		t.Fatal(adminErr)
	}
	return admin
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// Open connects to the database at url (a PostgreSQL URL) for the test's own queries; the
// handle is closed when the test ends.
func Open(t testing.TB, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// HoldInTransaction runs statement in a transaction of its own connection to the PostgreSQL
// database at url and leaves the transaction open (rolled back when the test ends, or earlier
// by the test), so that the locks it took stall whatever needs them.
func HoldInTransaction(t testing.TB, url, statement string) *sql.Tx {
	t.Helper()
	tx, err := Open(t, url).Begin()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback() })
	if _, err := tx.Exec(statement); err != nil {
		t.Fatal(err)
	}
	return tx
}

// CloseAdmin closes the connection shared by the test binary's tests, for a TestMain that
// checks, after every test, that nothing is left running.
func CloseAdmin() {
	if admin != nil {
		admin.Close()
	}
}
