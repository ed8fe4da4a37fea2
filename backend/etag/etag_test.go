package etag_test

import (
	"testing"

	"github.com/chirp-social/chirp/backend/etag"
)

func TestMatches(t *testing.T) {
	const tag = `"abc"`
	for header, want := range map[string]bool{
		``:                  false,
		`"abc"`:             true,
		`W/"abc"`:           true,
		`"x", "abc"`:        true,
		` "x" ,W/"abc" `:    true,
		`*`:                 true,
		`"abd"`:             false,
		`abc`:               false,
		`"abc"-gzip`:        false,
		`"x", "y"`:          false,
		`W/"abc"-gzip, "z"`: false,
	} {
		if got := etag.Matches(header, tag); got != want {
			t.Errorf("Matches(%q, %q) = %v, want %v", header, tag, got, want)
		}
	}
}
