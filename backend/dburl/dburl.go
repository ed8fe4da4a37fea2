// Package dburl says what a DATABASE_URL names: a PostgreSQL database or an SQLite file. It is
// the one reading of that setting: config validates with it, the store opens what it names.
package dburl

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// DefaultSQLitePath is the database file used when no DATABASE_URL is given.
const DefaultSQLitePath = "chirp.db"

// Kind is the kind of database a URL names.
type Kind int

// The kinds of database Chirp runs on.
const (
	SQLite Kind = iota + 1
	PostgreSQL
)

// URL is what a DATABASE_URL names.
type URL struct {
	Kind Kind
	// Path is the SQLite file; empty for PostgreSQL, whose driver takes the URL as it is.
	Path string
}

// Parse reads a DATABASE_URL: postgres://… or postgresql://… with a host; sqlite://path
// (sqlite:///abs/file.db, or sqlite://relative.db) with no query or fragment, since the store
// adds its own parameters to the path; or "" for DefaultSQLitePath.
func Parse(raw string) (URL, error) {
	switch {
	case raw == "":
		return URL{Kind: SQLite, Path: DefaultSQLitePath}, nil
	case strings.HasPrefix(raw, "sqlite://"):
		path := strings.TrimPrefix(raw, "sqlite://")
		if path == "" || strings.ContainsAny(path, "?#") {
			return URL{}, fmt.Errorf("database URL %q: want sqlite:///path/to/file.db", raw)
		}
		return URL{Kind: SQLite, Path: path}, nil
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		// The URL is not quoted back: it may hold a password.
		if u, err := url.Parse(raw); err != nil || u.Host == "" {
			return URL{}, errors.New("database URL: want postgres://user:password@host:5432/db, with a host")
		}
		return URL{Kind: PostgreSQL}, nil
	default:
		return URL{}, fmt.Errorf("database URL %q: want postgres://…, postgresql://… or sqlite:///path/to/file.db", raw)
	}
}
