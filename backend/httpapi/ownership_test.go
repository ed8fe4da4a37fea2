package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/httpapi"
	"github.com/chirp-social/chirp/backend/internal/testdb"
)

func TestAccountTweets(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := newServer(t, url, httpapi.Config{})
		alice := s.signUp("alice", "Alice", alicePassword)
		bob := s.signUp("bob", "Bob", "bob's own passphrase")

		r := s.do("POST", "/api/tweets", jsonType, `{"author":"mallory","content":"mine"}`, bearerOf(alice)...)
		var tw tweetOut
		r.json(t, &tw)
		if r.status != http.StatusCreated || tw.Author != "Alice" || tw.Account == nil || tw.Account.Handle != "alice" ||
			tw.Account.DisplayName != "Alice" || strings.Contains(r.body, "edit_token") {
			t.Fatalf("posted as alice: %d %s", r.status, r.body)
		}
		for _, path := range []string{"/api/tweets/" + itoa(tw.ID), "/api/tweets?limit=1"} {
			if r := s.do("GET", path, "", ""); !strings.Contains(r.body, `"account":{"handle":"alice","display_name":"Alice"}`) {
				t.Fatalf("GET %s: %s", path, r.body)
			}
		}
		guest, guestToken := s.post("guest", "a guest's")
		if r := s.do("GET", "/api/tweets/"+itoa(guest.ID), "", ""); !strings.Contains(r.body, `"account":null`) || guest.Account != nil {
			t.Fatalf("a guest's tweet: %s", r.body)
		}

		t.Run("NoAuthorOfItsOwn", func(t *testing.T) {
			s := s.on(t)
			r := s.do("POST", "/api/tweets", jsonType, `{"content":"no author needed"}`, bearerOf(alice)...)
			if r.status != http.StatusCreated {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if r := s.do("POST", "/api/tweets", jsonType, `{"author":"Alice"}`, bearerOf(alice)...); r.status != http.StatusUnprocessableEntity || r.fields(t)["content"] == "" {
				t.Fatalf("no content: %d %s", r.status, r.body)
			}
		})
		t.Run("InvalidSessionOnPost", func(t *testing.T) {
			s := s.on(t)
			before := len(s.events.list())
			for _, h := range []string{"Bearer nonsense", "Bearer " + guestToken, "Token " + alice} {
				r := s.do("POST", "/api/tweets", jsonType, `{"author":"ann","content":"hi"}`, "Authorization", h)
				if r.status != http.StatusUnauthorized || r.errorCode(t) != "unauthorized" {
					t.Fatalf("%q: %d %s", h, r.status, r.body)
				}
			}
			if len(s.events.list()) != before {
				t.Fatal("a refused post was announced")
			}
		})
		edit := func(s *server, id int64, headers ...string) response {
			return s.do("PATCH", "/api/tweets/"+itoa(id), jsonType, `{"content":"edited"}`, headers...)
		}
		t.Run("OwnerEditsFromAnySession", func(t *testing.T) {
			s := s.on(t)
			var other signedInOut
			s.signIn("alice", alicePassword).json(t, &other)
			r := edit(s, tw.ID, bearerOf(other.Token)...)
			var got tweetOut
			r.json(t, &got)
			if r.status != http.StatusOK || got.Content != "edited" || got.Account == nil || got.Account.Handle != "alice" {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
		t.Run("AnotherAccountIsForbidden", func(t *testing.T) {
			s := s.on(t)
			for _, r := range []response{edit(s, tw.ID, bearerOf(bob)...), s.do("DELETE", "/api/tweets/"+itoa(tw.ID), "", "", bearerOf(bob)...)} {
				if r.status != http.StatusForbidden || r.errorMessage(t) != "this tweet is @alice's" {
					t.Fatalf("%d %s", r.status, r.body)
				}
			}
		})
		t.Run("NoSessionOnAccountTweet", func(t *testing.T) {
			s := s.on(t)
			if r := edit(s, tw.ID); r.status != http.StatusUnauthorized {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
		t.Run("GuestTokenOnAccountTweet", func(t *testing.T) {
			s := s.on(t)
			// A guest's edit token has a session token's form; it opens no session.
			if r := edit(s, tw.ID, bearerOf(guestToken)...); r.status != http.StatusUnauthorized {
				t.Fatalf("%d %s", r.status, r.body)
			}
			// Nor does the account tweet's own stored token hash open it: the store refuses
			// edit tokens on an account's tweet whatever they are.
			if err := s.store.AuthorizeEdit(context.Background(), tw.ID, guestToken); chirp.ErrorCode(err) != chirp.CodeForbidden {
				t.Fatalf("AuthorizeEdit on an account's tweet: %v", err)
			}
		})
		t.Run("SessionOnGuestTweet", func(t *testing.T) {
			s := s.on(t)
			if r := edit(s, guest.ID, bearerOf(alice)...); r.status != http.StatusForbidden {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if r := edit(s, guest.ID, bearerOf(guestToken)...); r.status != http.StatusOK {
				t.Fatalf("the guest's own token: %d %s", r.status, r.body)
			}
		})
		t.Run("OwnerDeletes", func(t *testing.T) {
			s := s.on(t)
			if r := s.do("DELETE", "/api/tweets/"+itoa(tw.ID), "", "", bearerOf(alice)...); r.status != http.StatusNoContent {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if r := s.do("DELETE", "/api/tweets/"+itoa(tw.ID), "", "", bearerOf(alice)...); r.status != http.StatusNotFound {
				t.Fatalf("again: %d %s", r.status, r.body)
			}
		})
	})
}

func TestGuestPostsOff(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := newServer(t, url, httpapi.Config{SignedInPostsOnly: true})
		r := s.do("POST", "/api/tweets", jsonType, `{"author":"ann","content":"hi"}`)
		if r.status != http.StatusUnauthorized || r.errorMessage(t) != "sign in to post (this server takes no guest posts)" {
			t.Fatalf("a guest's post: %d %s", r.status, r.body)
		}
		if len(s.events.list()) != 0 {
			t.Fatal("a refused post was announced")
		}
		alice := s.signUp("alice", "Alice", alicePassword)
		if tw := s.postAs(alice, "signed in"); tw.Account == nil {
			t.Fatalf("posted %+v", tw)
		}
	})
}
