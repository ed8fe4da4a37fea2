package httpapi_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/accounts"
	"github.com/chirp-social/chirp/backend/httpapi"
	"github.com/chirp-social/chirp/backend/internal/testdb"
)

const alicePassword = "correct horse battery staple"

var sessionToken = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// errorMessage is the message of a JSON error answer.
func (r response) errorMessage(t *testing.T) string {
	t.Helper()
	var e struct {
		Error struct{ Message string } `json:"error"`
	}
	r.json(t, &e)
	return e.Error.Message
}

type meOut struct {
	Handle      string `json:"handle"`
	DisplayName string `json:"display_name"`
	HasPassword bool   `json:"has_password"`
	Passkeys    int    `json:"passkeys"`
}

func (s *server) me(token string) (meOut, response) {
	s.t.Helper()
	r := s.do("GET", "/api/me", "", "", bearerOf(token)...)
	var me meOut
	if r.status == http.StatusOK {
		r.json(s.t, &me)
	}
	return me, r
}

func TestSignUp(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := newServer(t, url, httpapi.Config{})
		r := s.do("POST", "/api/accounts", jsonType, `{"handle":"@Alice","display_name":"  Alice A. ","password":"`+alicePassword+`","extra":1}`)
		if r.status != http.StatusCreated {
			t.Fatalf("%d %s", r.status, r.body)
		}
		var in signedInOut
		r.json(t, &in)
		if !sessionToken.MatchString(in.Token) || in.Account.Handle != "alice" || in.Account.DisplayName != "Alice A." || !timestamp.MatchString(in.Account.CreatedAt) {
			t.Fatalf("signed up %+v", in)
		}
		if me, r := s.me(in.Token); r.status != http.StatusOK || me != (meOut{"alice", "Alice A.", true, 0}) {
			t.Fatalf("me: %d %s", r.status, r.body)
		}

		t.Run("Taken", func(t *testing.T) {
			s := s.on(t)
			r := s.do("POST", "/api/accounts", jsonType, `{"handle":"ALICE","display_name":"Other","password":"another long one"}`)
			if r.status != http.StatusConflict || r.errorCode(t) != "conflict" || !strings.Contains(r.body, "@alice is taken") {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
		for _, c := range []struct{ name, body, field, says string }{
			{"HandleMissing", `{"display_name":"A","password":"` + alicePassword + `"}`, "handle", "is required"},
			{"HandleLookalike", `{"handle":"\u0430lice","display_name":"A","password":"` + alicePassword + `"}`, "handle", "U+0430"},
			{"HandleReserved", `{"handle":"Admin","display_name":"A","password":"` + alicePassword + `"}`, "handle", "reserved"},
			{"HandleNotString", `{"handle":7,"display_name":"A","password":"` + alicePassword + `"}`, "handle", "must be a string"},
			{"NameEmpty", `{"handle":"bob","display_name":" ","password":"` + alicePassword + `"}`, "display_name", ""},
			{"NameTooLong", `{"handle":"bob","display_name":"` + strings.Repeat("n", 51) + `","password":"` + alicePassword + `"}`, "display_name", ""},
			{"PasswordShort", `{"handle":"bob","display_name":"Bob","password":"1234567"}`, "password", "at least 8"},
			{"PasswordIsHandle", `{"handle":"bobbybobby","display_name":"Bob","password":"BobbyBobby"}`, "password", "handle"},
			{"PasswordCommon", `{"handle":"bob","display_name":"Bob","password":"Sunshine"}`, "password", "common"},
			{"PasswordNull", `{"handle":"bob","display_name":"Bob","password":null}`, "password", "is required"},
		} {
			t.Run(c.name, func(t *testing.T) {
				s := s.on(t)
				r := s.do("POST", "/api/accounts", jsonType, c.body)
				if r.status != http.StatusUnprocessableEntity || r.errorCode(t) != "invalid" {
					t.Fatalf("%d %s", r.status, r.body)
				}
				if got := r.fields(t)[c.field]; got == "" || !strings.Contains(got, c.says) {
					t.Fatalf("fields %v: want %s saying %q", r.fields(t), c.field, c.says)
				}
			})
		}
		t.Run("EveryFieldNamed", func(t *testing.T) {
			s := s.on(t)
			r := s.do("POST", "/api/accounts", jsonType, `{"handle":"a b","display_name":"","password":"x"}`)
			if f := r.fields(t); r.status != http.StatusUnprocessableEntity || len(f) != 3 {
				t.Fatalf("%d %v", r.status, f)
			}
		})
		t.Run("NotJSON", func(t *testing.T) {
			s := s.on(t)
			if r := s.do("POST", "/api/accounts", "text/plain", `handle=bob`); r.status != http.StatusUnsupportedMediaType {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	})
}

func TestSignIn(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := newServer(t, url, httpapi.Config{})
		s.signUp("alice", "Alice", alicePassword)
		passwordless(t, s, "carol")

		r := s.signIn("@ALICE", alicePassword)
		if r.status != http.StatusCreated {
			t.Fatalf("%d %s", r.status, r.body)
		}
		var in signedInOut
		r.json(t, &in)
		if me, r := s.me(in.Token); r.status != http.StatusOK || me.Handle != "alice" {
			t.Fatalf("me with the new session: %d %s", r.status, r.body)
		}

		// Every wrong sign-in gets the same answer: no guesser learns which handles exist or
		// have a password.
		for _, c := range []struct{ name, handle, password string }{
			{"WrongPassword", "alice", alicePassword + "!"},
			{"UnknownHandle", "alicia", alicePassword},
			{"MalformedHandle", "al ice", alicePassword},
			{"NoPassword", "carol", alicePassword},
			{"HugePassword", "alice", strings.Repeat("x", 8000)},
		} {
			t.Run(c.name, func(t *testing.T) {
				s := s.on(t)
				r := s.signIn(c.handle, c.password)
				if r.status != http.StatusUnauthorized || r.errorMessage(t) != "handle or password is wrong" ||
					r.header.Get("WWW-Authenticate") != `Bearer realm="chirp"` {
					t.Fatalf("%d %s", r.status, r.body)
				}
			})
		}
		t.Run("FieldsMissing", func(t *testing.T) {
			s := s.on(t)
			r := s.do("POST", "/api/sessions", jsonType, `{"handle":"alice"}`)
			if r.status != http.StatusUnprocessableEntity || r.fields(t)["password"] != "is required" {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	})
}

// passwordless makes an account that signs in only with passkeys (as a passkey sign-up does)
// and returns a session token of it.
func passwordless(t *testing.T, s *server, handle string) (chirp.Account, string) {
	t.Helper()
	ctx := context.Background()
	a, err := s.store.CreateAccount(ctx, chirp.NewAccount{Handle: handle, DisplayName: strings.ToUpper(handle)})
	if err != nil {
		t.Fatal(err)
	}
	return a, sessionOf(t, s, a.ID)
}

// sessionOf signs the account in once more, as another device would, and returns the token.
func sessionOf(t *testing.T, s *server, accountID int64) string {
	t.Helper()
	token, hash := accounts.NewSessionToken()
	if _, err := s.store.CreateSession(context.Background(), accountID, hash, time.Now()); err != nil {
		t.Fatal(err)
	}
	return token
}

// countingPasswords counts the password verifications behind each answer.
type countingPasswords struct {
	httpapi.Passwords
	verified, hashed atomic.Int32
}

func (p *countingPasswords) Hash(ctx context.Context, password string) (string, error) {
	p.hashed.Add(1)
	return p.Passwords.Hash(ctx, password)
}

func (p *countingPasswords) Verify(ctx context.Context, encoded, password string) (bool, error) {
	p.verified.Add(1)
	return p.Passwords.Verify(ctx, encoded, password)
}

func (p *countingPasswords) VerifyUnknown(ctx context.Context, password string) error {
	p.verified.Add(1)
	return p.Passwords.VerifyUnknown(ctx, password)
}

// An unknown handle, a malformed one and an account without a password cost the hasher exactly
// what a wrong password costs: one verification (VerifyUnknown checks a real hash of the same
// parameters, accounts' tests hold it to that), so no answer comes back sooner than another.
func TestEveryWrongSignInCostsOneVerification(t *testing.T) {
	h, err := testPasswords()
	if err != nil {
		t.Fatal(err)
	}
	counting := &countingPasswords{Passwords: h}
	s := newServer(t, testdb.SQLiteURL(t), httpapi.Config{Passwords: counting})
	s.signUp("alice", "Alice", alicePassword)
	passwordless(t, s, "carol")
	for _, c := range []struct{ name, handle, password string }{
		{"WrongPassword", "alice", "not the password"},
		{"UnknownHandle", "nobody", "not the password"},
		{"MalformedHandle", "no body", "not the password"},
		{"ReservedHandle", "admin", "not the password"},
		{"NoPassword", "carol", "not the password"},
		{"Right", "alice", alicePassword},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := s.on(t)
			counting.verified.Store(0)
			counting.hashed.Store(0)
			r := s.signIn(c.handle, c.password)
			if r.status != http.StatusCreated && r.status != http.StatusUnauthorized {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if v, h := counting.verified.Load(), counting.hashed.Load(); v != 1 || h != 0 {
				t.Fatalf("%d verifications and %d hashes; want exactly 1 verification", v, h)
			}
		})
	}
}

func TestSessionTokens(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		clk := newClock()
		s := newServer(t, url, httpapi.Config{Now: clk.now, SessionMaxIdle: time.Hour})
		token := s.signUp("alice", "Alice", alicePassword)
		var random [32]byte
		rand.Read(random[:])
		guessed := base64.RawURLEncoding.EncodeToString(random[:])
		invalid := accounts.SessionInvalid().Error()
		for _, c := range []struct{ name, header, says string }{
			{"Missing", "", "sign in: send Authorization: Bearer <session token>"},
			{"NotBearer", "Basic " + token, invalid},
			{"Malformed", "Bearer abc", invalid},
			{"Guessed", "Bearer " + guessed, invalid},
			{"TokenWithALineBreak", "Bearer " + token[:20] + "\t" + token[20:], invalid},
		} {
			t.Run(c.name, func(t *testing.T) {
				s := s.on(t)
				r := s.do("GET", "/api/me", "", "", "Authorization", c.header)
				if r.status != http.StatusUnauthorized || r.errorCode(t) != "unauthorized" || !strings.Contains(invalid+c.says, r.errorMessage(t)) {
					t.Fatalf("%d %s", r.status, r.body)
				}
			})
		}
		t.Run("ExpiresWhenIdle", func(t *testing.T) {
			s := s.on(t)
			other := s.signIn("alice", alicePassword)
			var in signedInOut
			other.json(t, &in)
			clk.advance(59 * time.Minute)
			if _, r := s.me(token); r.status != http.StatusOK {
				t.Fatalf("within SESSION_MAX_IDLE: %d", r.status)
			}
			clk.advance(59 * time.Minute) // 118 min after the second sign-in, 59 after token's last use
			if _, r := s.me(token); r.status != http.StatusOK {
				t.Fatalf("used 59 min ago: %d", r.status)
			}
			if _, r := s.me(in.Token); r.status != http.StatusUnauthorized {
				t.Fatalf("idle 118 min with a 1 h limit: %d %s", r.status, r.body)
			}
		})
		t.Run("ReplayAfterSignOut", func(t *testing.T) {
			s := s.on(t)
			if r := s.do("DELETE", "/api/sessions/current", "", "", bearerOf(token)...); r.status != http.StatusNoContent {
				t.Fatalf("sign out: %d %s", r.status, r.body)
			}
			for _, try := range []struct{ method, path string }{{"GET", "/api/me"}, {"DELETE", "/api/sessions/current"}, {"GET", "/api/sessions"}} {
				if r := s.do(try.method, try.path, "", "", bearerOf(token)...); r.status != http.StatusUnauthorized {
					t.Fatalf("%s %s after sign-out: %d %s", try.method, try.path, r.status, r.body)
				}
			}
			if r := s.do("POST", "/api/tweets", jsonType, `{"content":"still me?"}`, bearerOf(token)...); r.status != http.StatusUnauthorized {
				t.Fatalf("post after sign-out: %d %s", r.status, r.body)
			}
		})
	})
}

type sessionOut struct {
	ID         int64  `json:"id"`
	CreatedAt  string `json:"created_at"`
	LastUsedAt string `json:"last_used_at"`
	Current    bool   `json:"current"`
}

func TestSessionsListedAndEnded(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		clk := newClock()
		s := newServer(t, url, httpapi.Config{Now: clk.now})
		first := s.signUp("alice", "Alice", alicePassword)
		clk.advance(time.Second)
		var second, third signedInOut
		s.signIn("alice", alicePassword).json(t, &second)
		clk.advance(time.Second)
		s.signIn("alice", alicePassword).json(t, &third)
		bob := s.signUp("bob", "Bob", "bob's own passphrase")

		r := s.do("GET", "/api/sessions", "", "", bearerOf(second.Token)...)
		var list []sessionOut
		r.json(t, &list)
		if r.status != http.StatusOK || len(list) != 3 || !(list[0].ID > list[1].ID && list[1].ID > list[2].ID) ||
			list[0].Current || !list[1].Current || list[2].Current || !timestamp.MatchString(list[0].LastUsedAt) {
			t.Fatalf("sessions: %d %+v", r.status, list)
		}
		firstID := list[2].ID

		t.Run("AnotherAccountsIsNotFound", func(t *testing.T) {
			s := s.on(t)
			r := s.do("DELETE", "/api/sessions/"+itoa(firstID), "", "", bearerOf(bob)...)
			if r.status != http.StatusNotFound || r.errorCode(t) != "not_found" {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if _, r := s.me(first); r.status != http.StatusOK {
				t.Fatalf("alice's session after bob's try: %d", r.status)
			}
		})
		t.Run("BadID", func(t *testing.T) {
			s := s.on(t)
			if r := s.do("DELETE", "/api/sessions/01", "", "", bearerOf(bob)...); r.status != http.StatusBadRequest {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
		t.Run("EndOne", func(t *testing.T) {
			s := s.on(t)
			if r := s.do("DELETE", "/api/sessions/"+itoa(firstID), "", "", bearerOf(second.Token)...); r.status != http.StatusNoContent {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if _, r := s.me(first); r.status != http.StatusUnauthorized {
				t.Fatalf("the ended session: %d", r.status)
			}
			if r := s.do("DELETE", "/api/sessions/"+itoa(firstID), "", "", bearerOf(second.Token)...); r.status != http.StatusNotFound {
				t.Fatalf("ending it again: %d %s", r.status, r.body)
			}
		})
		t.Run("EverywhereElse", func(t *testing.T) {
			s := s.on(t)
			r := s.do("DELETE", "/api/sessions", "", "", bearerOf(second.Token)...)
			if r.status != http.StatusOK || strings.TrimSpace(r.body) != `{"ended":1}` {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if _, r := s.me(third.Token); r.status != http.StatusUnauthorized {
				t.Fatalf("the other session: %d", r.status)
			}
			if _, r := s.me(second.Token); r.status != http.StatusOK {
				t.Fatalf("this session: %d", r.status)
			}
			if _, r := s.me(bob); r.status != http.StatusOK {
				t.Fatalf("another account's session: %d", r.status)
			}
		})
	})
}

func TestDeleteMe(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		clk := newClock()
		s := newServer(t, url, httpapi.Config{Now: clk.now})
		stale := s.signUp("alice", "Alice", alicePassword)
		a1, a2 := s.postAs(stale, "one"), s.postAs(stale, "two")
		bob := s.signUp("bob", "Bob", "bob's own passphrase")
		b1 := s.postAs(bob, "bob's")
		guest, _ := s.post("guest", "a guest's")

		clk.advance(11 * time.Minute)
		r := s.do("DELETE", "/api/me", "", "", bearerOf(stale)...)
		if r.status != http.StatusForbidden || !strings.Contains(r.errorMessage(t), "sign in again to delete your account (within the last 10 minutes)") {
			t.Fatalf("stale session: %d %s", r.status, r.body)
		}
		var fresh signedInOut
		s.signIn("alice", alicePassword).json(t, &fresh)
		before := len(s.events.list())
		if r := s.do("DELETE", "/api/me", "", "", bearerOf(fresh.Token)...); r.status != http.StatusNoContent {
			t.Fatalf("fresh session: %d %s", r.status, r.body)
		}
		got := s.events.list()[before:]
		if strings.Join(got, ",") != "deleted "+itoa(a1.ID)+",deleted "+itoa(a2.ID) {
			t.Fatalf("announced %v, want alice's two tweets deleted", got)
		}
		for _, id := range []int64{a1.ID, a2.ID} {
			if r := s.do("GET", "/api/tweets/"+itoa(id), "", ""); r.status != http.StatusNotFound {
				t.Fatalf("alice's tweet %d: %d", id, r.status)
			}
		}
		for _, id := range []int64{b1.ID, guest.ID} {
			if r := s.do("GET", "/api/tweets/"+itoa(id), "", ""); r.status != http.StatusOK {
				t.Fatalf("another's tweet %d: %d", id, r.status)
			}
		}
		for _, token := range []string{stale, fresh.Token} {
			if _, r := s.me(token); r.status != http.StatusUnauthorized {
				t.Fatalf("a deleted account's session: %d", r.status)
			}
		}
		if r := s.do("GET", "/api/accounts/alice", "", ""); r.status != http.StatusNotFound {
			t.Fatalf("profile: %d", r.status)
		}
		if r := s.signIn("alice", alicePassword); r.status != http.StatusUnauthorized {
			t.Fatalf("sign-in: %d", r.status)
		}
		// The handle is free again.
		s.signUp("alice", "Another Alice", "a brand new passphrase")
	})
}

func TestSetPassword(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		clk := newClock()
		s := newServer(t, url, httpapi.Config{Now: clk.now})
		put := func(token, password string) response {
			b, _ := json.Marshal(map[string]string{"password": password})
			return s.do("PUT", "/api/me/password", jsonType, string(b), bearerOf(token)...)
		}
		t.Run("FirstPasswordOfAPasskeyAccount", func(t *testing.T) {
			s := s.on(t)
			carol, token := passwordless(t, s, "carol")
			clk.advance(time.Hour) // no fresh sign-in needed to add a first way
			if me, _ := s.me(token); me.HasPassword {
				t.Fatal("has a password already")
			}
			other := sessionOf(t, s, carol.ID)
			if r := put(token, "carol's new passphrase"); r.status != http.StatusNoContent {
				t.Fatalf("%d %s", r.status, r.body)
			}
			// Adding a first password leaks nothing: the account's other devices stay in.
			if _, r := s.me(other); r.status != http.StatusOK {
				t.Fatalf("another session after adding a password: %d %s", r.status, r.body)
			}
			if r := s.signIn("carol", "carol's new passphrase"); r.status != http.StatusCreated {
				t.Fatalf("sign in with it: %d %s", r.status, r.body)
			}
		})
		t.Run("ChangeNeedsAFreshSignIn", func(t *testing.T) {
			s := s.on(t)
			token := s.signUp("alice", "Alice", alicePassword)
			clk.advance(11 * time.Minute)
			if r := put(token, "a different passphrase"); r.status != http.StatusForbidden || !strings.Contains(r.body, "sign in again to change your password") {
				t.Fatalf("stale: %d %s", r.status, r.body)
			}
			var fresh signedInOut
			s.signIn("alice", alicePassword).json(t, &fresh)
			if r := put(fresh.Token, "alice"); r.status != http.StatusUnprocessableEntity || r.fields(t)["password"] == "" {
				t.Fatalf("the handle as password: %d %s", r.status, r.body)
			}
			if r := put(fresh.Token, "a different passphrase"); r.status != http.StatusNoContent {
				t.Fatalf("fresh: %d %s", r.status, r.body)
			}
			// A password is changed after a leak: whoever signed in with the old one is out.
			if _, r := s.me(token); r.status != http.StatusUnauthorized {
				t.Fatalf("the other session after the change: %d %s", r.status, r.body)
			}
			if _, r := s.me(fresh.Token); r.status != http.StatusOK {
				t.Fatalf("the session that changed it: %d %s", r.status, r.body)
			}
			if r := s.signIn("alice", alicePassword); r.status != http.StatusUnauthorized {
				t.Fatalf("the old password: %d", r.status)
			}
			if r := s.signIn("alice", "a different passphrase"); r.status != http.StatusCreated {
				t.Fatalf("the new password: %d", r.status)
			}
		})
		t.Run("NotSignedIn", func(t *testing.T) {
			s := s.on(t)
			if r := s.do("PUT", "/api/me/password", jsonType, `{"password":"whatever it is"}`); r.status != http.StatusUnauthorized {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	})
}

func TestProfile(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := newServer(t, url, httpapi.Config{})
		alice := s.signUp("alice", "Alice", alicePassword)
		bob := s.signUp("bob", "Bob", "bob's own passphrase")
		var mine []int64
		for i := range 3 {
			mine = append(mine, s.postAs(alice, "alice "+itoa(int64(i))).ID)
			s.postAs(bob, "bob")
			s.post("guest", "guest")
		}
		for _, path := range []string{"/api/accounts/alice", "/api/accounts/ALICE", "/api/accounts/@alice"} {
			r := s.do("GET", path, "", "")
			var a struct{ Handle, DisplayName string }
			r.json(t, &a)
			if r.status != http.StatusOK || a.Handle != "alice" {
				t.Fatalf("%s: %d %s", path, r.status, r.body)
			}
		}
		for _, path := range []string{"/api/accounts/carol", "/api/accounts/al%20ice", "/api/accounts/admin", "/api/accounts/carol/tweets"} {
			if r := s.do("GET", path, "", ""); r.status != http.StatusNotFound || r.errorMessage(t) != "no such account" {
				t.Fatalf("%s: %d %s", path, r.status, r.body)
			}
		}

		r := s.do("GET", "/api/accounts/Alice/tweets?limit=2", "", "")
		var page []tweetOut
		r.json(t, &page)
		if r.status != http.StatusOK || len(page) != 2 || page[0].ID != mine[2] || page[1].ID != mine[1] {
			t.Fatalf("first page: %d %v", r.status, idsOf(page))
		}
		link := r.header.Get("Link")
		want := `</api/accounts/alice/tweets?limit=2&max_id=` + itoa(mine[1]) + `>; rel="next"`
		if link != want {
			t.Fatalf("Link %q, want %q", link, want)
		}
		r = s.do("GET", "/api/accounts/alice/tweets?limit=2&max_id="+itoa(mine[1]), "", "")
		r.json(t, &page)
		if len(page) != 1 || page[0].ID != mine[0] || r.header.Get("Link") != "" {
			t.Fatalf("second page: %v, Link %q", idsOf(page), r.header.Get("Link"))
		}
		if r := s.do("GET", "/api/accounts/alice/tweets?limit=0", "", ""); r.status != http.StatusBadRequest {
			t.Fatalf("limit=0: %d", r.status)
		}
	})
}
