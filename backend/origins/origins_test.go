package origins_test

import (
	"testing"

	"github.com/chirp-social/chirp/backend/origins"
)

func TestPolicy(t *testing.T) {
	const page, other = "https://chirp.example", "https://evil.example"
	for _, tc := range []struct {
		name    string
		list    []string
		any     bool
		allowed map[string]bool
	}{
		{"None", nil, true, map[string]bool{"": true, page: true, other: true}},
		{"Star", []string{"*"}, true, map[string]bool{"": true, page: true, other: true}},
		{"List", []string{page}, false, map[string]bool{"": true, page: true, other: false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := origins.New(tc.list)
			if p.Any() != tc.any {
				t.Errorf("Any() = %v, want %v", p.Any(), tc.any)
			}
			for origin, want := range tc.allowed {
				if got := p.Allows(origin); got != want {
					t.Errorf("Allows(%q) = %v, want %v", origin, got, want)
				}
			}
		})
	}
}
