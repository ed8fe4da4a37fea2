package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/chirp-social/chirp/backend/httpapi"
	"github.com/chirp-social/chirp/backend/internal/testdb"
)

func TestSettingsSayWhetherGuestsPost(t *testing.T) {
	for _, tc := range []struct {
		name          string
		signedInOnly  bool
		wantGuestPost bool
	}{
		{"GUEST_POSTS=true", false, true},
		{"GUEST_POSTS=false", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, testdb.SQLiteURL(t), httpapi.Config{SignedInPostsOnly: tc.signedInOnly})
			r := s.on(t).do("GET", "/api/settings", "", "")
			if r.status != http.StatusOK {
				t.Fatalf("%d %s", r.status, r.body)
			}
			var got struct {
				GuestPosts *bool `json:"guest_posts"`
			}
			r.json(t, &got)
			if got.GuestPosts == nil || *got.GuestPosts != tc.wantGuestPost {
				t.Fatalf("guest_posts in %s, want %v", r.body, tc.wantGuestPost)
			}
			if cc := r.header.Get("Cache-Control"); cc != "public, max-age=60" {
				t.Fatalf("Cache-Control %q", cc)
			}
		})
	}
}
