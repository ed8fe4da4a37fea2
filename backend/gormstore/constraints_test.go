package gormstore_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/chirp-social/chirp/backend/gormstore"
)

// The constraint checks decide by the drivers' codes: a unique violation becomes a conflict, a
// foreign key violation a missing account, and nothing else is either.
func TestConstraintViolations(t *testing.T) {
	real := sqliteErrors(t)
	pg := func(code string) error {
		return &pgconn.PgError{Severity: "ERROR", Code: code, Message: "from the server"}
	}
	for _, tc := range []struct {
		name                    string
		err                     error
		wantUnique, wantForeign bool
	}{
		{"PostgresUnique", pg("23505"), true, false},
		{"PostgresUniqueWrapped", fmt.Errorf("create account: %w", pg("23505")), true, false},
		{"PostgresForeignKey", pg("23503"), false, true},
		{"PostgresNotNull", pg("23502"), false, false},
		{"PostgresShutdown", pg("57P01"), false, false},
		{"SQLiteUnique", real.unique, true, false},
		{"SQLiteBusy", real.busy, false, false},
		{"Plain", errors.New("something else"), false, false},
		{"Nil", nil, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := gormstore.UniqueViolation(tc.err); got != tc.wantUnique {
				t.Errorf("unique violation %v, want %v", got, tc.wantUnique)
			}
			if got := gormstore.ForeignKeyViolation(tc.err); got != tc.wantForeign {
				t.Errorf("foreign key violation %v, want %v", got, tc.wantForeign)
			}
		})
	}
}
