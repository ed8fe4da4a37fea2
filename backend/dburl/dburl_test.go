package dburl_test

import (
	"strings"
	"testing"

	"github.com/chirp-social/chirp/backend/dburl"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, raw string
		want      dburl.URL
		ok        bool
	}{
		{"EmptyIsTheDefaultFile", "", dburl.URL{Kind: dburl.SQLite, Path: "chirp.db"}, true},
		{"SQLiteAbsolute", "sqlite:///var/lib/chirp/chirp.db", dburl.URL{Kind: dburl.SQLite, Path: "/var/lib/chirp/chirp.db"}, true},
		{"SQLiteRelative", "sqlite://relative.db", dburl.URL{Kind: dburl.SQLite, Path: "relative.db"}, true},
		{"SQLiteWithoutPath", "sqlite://", dburl.URL{}, false},
		{"SQLiteWithQuery", "sqlite:///x.db?mode=ro", dburl.URL{}, false},
		{"SQLiteWithFragment", "sqlite:///x.db#top", dburl.URL{}, false},
		{"Postgres", "postgres://chirp:secret@db:5432/chirp?sslmode=disable", dburl.URL{Kind: dburl.PostgreSQL}, true},
		{"PostgreSQLScheme", "postgresql://chirp@db/chirp", dburl.URL{Kind: dburl.PostgreSQL}, true},
		{"PostgresWithoutHost", "postgres:///chirp", dburl.URL{}, false},
		{"PostgresUnparsable", "postgres://db:port/chirp", dburl.URL{}, false},
		{"OtherScheme", "mysql://x", dburl.URL{}, false},
		{"OtherSchemeWithHost", "mysql://root@db/chirp", dburl.URL{}, false},
		{"NoScheme", "chirp.db", dburl.URL{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := dburl.Parse(tt.raw)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("Parse(%q) = %+v, %v", tt.raw, got, err)
			}
		})
	}
}

// A PostgreSQL URL may carry a password: a refusal must not repeat it.
func TestParseDoesNotRepeatAPassword(t *testing.T) {
	_, err := dburl.Parse("postgres://chirp:hunter2@/chirp")
	if err == nil {
		t.Fatal("a PostgreSQL URL without a host was accepted")
	}
	if msg := err.Error(); strings.Contains(msg, "hunter2") {
		t.Fatalf("the refusal repeats the password: %s", msg)
	}
}
