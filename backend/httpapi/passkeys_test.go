package httpapi_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/chirp-social/chirp/backend/httpapi"
	"github.com/chirp-social/chirp/backend/internal/passkeytest"
	"github.com/chirp-social/chirp/backend/internal/testdb"
	"github.com/chirp-social/chirp/backend/ratelimit"
)

// testOrigin is the page origin the test servers' passkeys are for (WEBAUTHN_ORIGINS).
const testOrigin = "http://localhost:3000"

var testPage = passkeytest.Page{Origin: testOrigin}

type ceremonyOut struct {
	Ceremony  string          `json:"ceremony"`
	PublicKey json.RawMessage `json:"publicKey"`
}

// options asks path for a ceremony's options, failing the test unless it gets them.
func (s *server) options(path, body string, headers ...string) ceremonyOut {
	s.t.Helper()
	r := s.do("POST", path, jsonType, body, headers...)
	if r.status != http.StatusOK {
		s.t.Fatalf("%s: %d %s", path, r.status, r.body)
	}
	var o ceremonyOut
	r.json(s.t, &o)
	if len(o.Ceremony) != 43 || len(o.PublicKey) == 0 {
		s.t.Fatalf("%s: options %s", path, r.body)
	}
	return o
}

// finish sends a ceremony's answer: the authenticator's credential for the options, from pg.
func (s *server) finish(path string, o ceremonyOut, answer func([]byte, passkeytest.Page) ([]byte, error), pg passkeytest.Page, headers ...string) response {
	s.t.Helper()
	cred, err := answer(o.PublicKey, pg)
	if err != nil {
		s.t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"ceremony": o.Ceremony, "credential": json.RawMessage(cred)})
	return s.do("POST", path, jsonType, string(b), headers...)
}

// passkeySignUp makes an account with a new passkey and returns its session token and key.
func (s *server) passkeySignUp(handle string) (string, *passkeytest.Key) {
	s.t.Helper()
	key := passkeytest.NewKey()
	o := s.options("/api/passkeys/signup/options", `{"handle":"`+handle+`","display_name":"Name of `+handle+`"}`)
	r := s.finish("/api/passkeys/signup", o, key.Register, testPage)
	if r.status != http.StatusCreated {
		s.t.Fatalf("passkey sign-up @%s: %d %s", handle, r.status, r.body)
	}
	var out signedInOut
	r.json(s.t, &out)
	if out.Account.Handle != handle || len(out.Token) != 43 {
		s.t.Fatalf("signed up %s", r.body)
	}
	return out.Token, key
}

// passkeySignIn signs in with key through both steps and returns the answer.
func (s *server) passkeySignIn(key *passkeytest.Key, pg passkeytest.Page) response {
	s.t.Helper()
	return s.finish("/api/passkeys/signin", s.options("/api/passkeys/signin/options", `{}`), key.SignIn, pg)
}

// signedInAs checks the answer is a sign-in of handle, and returns its token.
func signedInAs(t *testing.T, r response, handle string) string {
	t.Helper()
	var out signedInOut
	if r.status != http.StatusCreated {
		t.Fatalf("sign-in: %d %s", r.status, r.body)
	}
	r.json(t, &out)
	if out.Account.Handle != handle {
		t.Fatalf("signed in as %s, want @%s", r.body, handle)
	}
	return out.Token
}

// meOf is the account the token signs in, failing the test unless GET /api/me answers.
func (s *server) meOf(token string) meOut {
	s.t.Helper()
	m, r := s.me(token)
	if r.status != http.StatusOK {
		s.t.Fatalf("me: %d %s", r.status, r.body)
	}
	return m
}

// Sign up with a passkey, sign in with it (no handle), add a second, sign in with each; an
// account made with a password adds one too.
func TestPasskeyRoutes(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := newServer(t, url, httpapi.Config{})
		token, first := s.passkeySignUp("alice")
		if m := s.meOf(token); m.Handle != "alice" || m.HasPassword || m.Passkeys != 1 {
			t.Fatalf("me after the sign-up: %+v", m)
		}
		again := signedInAs(t, s.passkeySignIn(first, testPage), "alice")

		o := s.options("/api/me/passkeys/options", `{}`, bearerOf(again)...)
		if _, err := first.Register(o.PublicKey, testPage); err == nil {
			t.Fatalf("the options %s do not exclude the account's passkey", o.PublicKey)
		}
		second := passkeytest.NewKey()
		r := s.finish("/api/me/passkeys", o, second.Register, testPage, bearerOf(again)...)
		var added struct {
			ID         int64   `json:"id"`
			LastUsedAt *string `json:"last_used_at"`
		}
		if r.status != http.StatusCreated {
			t.Fatalf("add a passkey: %d %s", r.status, r.body)
		}
		r.json(t, &added)
		if added.ID <= 0 || added.LastUsedAt != nil {
			t.Fatalf("added %s", r.body)
		}
		for _, key := range []*passkeytest.Key{first, second, second} {
			signedInAs(t, s.passkeySignIn(key, testPage), "alice")
		}
		if m := s.meOf(token); m.Passkeys != 2 {
			t.Fatalf("me after adding: %+v", m)
		}

		// An account made with a password adds a passkey and signs in with it.
		bobToken := s.signUp("bob", "Bob", "correct horse battery staple")
		bobKey := passkeytest.NewKey()
		o = s.options("/api/me/passkeys/options", `{}`, bearerOf(bobToken)...)
		if r := s.finish("/api/me/passkeys", o, bobKey.Register, testPage, bearerOf(bobToken)...); r.status != http.StatusCreated {
			t.Fatalf("bob adds a passkey: %d %s", r.status, r.body)
		}
		bobAgain := signedInAs(t, s.passkeySignIn(bobKey, testPage), "bob")
		if m := s.meOf(bobAgain); !m.HasPassword || m.Passkeys != 1 {
			t.Fatalf("bob: %+v", m)
		}
	})
}

func TestPasskeyRoutesRefuse(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := newServer(t, url, httpapi.Config{})
		token, key := s.passkeySignUp("alice")
		bobToken, _ := s.passkeySignUp("bob")
		evil := passkeytest.Page{Origin: "http://evil.test"}
		for _, tc := range []struct {
			name       string
			send       func(s *server) response
			status     int
			code       string
			message    string            // "" for any
			fieldsWant map[string]string // nil for none checked
		}{
			{"HandleTaken", func(s *server) response {
				return s.do("POST", "/api/passkeys/signup/options", jsonType, `{"handle":"ALICE","display_name":"A"}`)
			}, 409, "conflict", "the handle @alice is taken", nil},
			{"HandleAndNameBroken", func(s *server) response {
				return s.do("POST", "/api/passkeys/signup/options", jsonType, `{"handle":"a b","display_name":""}`)
			}, 422, "invalid", "", map[string]string{"handle": "", "display_name": ""}},
			{"NotJSON", func(s *server) response {
				return s.do("POST", "/api/passkeys/signin/options", "text/plain", `{}`)
			}, 415, "unsupported_media_type", "", nil},
			{"NoCredential", func(s *server) response {
				return s.do("POST", "/api/passkeys/signin", jsonType, `{"ceremony":"x"}`)
			}, 422, "invalid", "", map[string]string{"credential": ""}},
			{"CredentialNotAnObject", func(s *server) response {
				return s.do("POST", "/api/passkeys/signin", jsonType, `{"ceremony":7,"credential":"text"}`)
			}, 422, "invalid", "", map[string]string{"ceremony": "", "credential": ""}},
			{"UnknownCeremony", func(s *server) response {
				o := ceremonyOut{Ceremony: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", PublicKey: json.RawMessage(`{"challenge":"AAAA"}`)}
				return s.finish("/api/passkeys/signin", o, key.SignIn, testPage)
			}, 400, "bad_request", "", nil},
			{"Replayed", func(s *server) response {
				o := s.options("/api/passkeys/signin/options", `{}`)
				cred, _ := key.SignIn(o.PublicKey, testPage)
				b, _ := json.Marshal(map[string]any{"ceremony": o.Ceremony, "credential": json.RawMessage(cred)})
				if r := s.do("POST", "/api/passkeys/signin", jsonType, string(b)); r.status != http.StatusCreated {
					s.t.Fatalf("first use: %d %s", r.status, r.body)
				}
				return s.do("POST", "/api/passkeys/signin", jsonType, string(b))
			}, 400, "bad_request", "", nil},
			{"WrongOriginSignIn", func(s *server) response { return s.passkeySignIn(key, evil) },
				400, "bad_request", "the page's origin http://evil.test is not one of WEBAUTHN_ORIGINS (http://localhost:3000)", nil},
			{"WrongOriginSignUp", func(s *server) response {
				o := s.options("/api/passkeys/signup/options", `{"handle":"carol","display_name":"Carol"}`)
				return s.finish("/api/passkeys/signup", o, passkeytest.NewKey().Register, evil)
			}, 400, "bad_request", "the page's origin http://evil.test is not one of WEBAUTHN_ORIGINS (http://localhost:3000)", nil},
			{"WrongRPID", func(s *server) response {
				return s.passkeySignIn(key, passkeytest.Page{Origin: testOrigin, RPID: "evil.test"})
			}, 401, "unauthorized", "this passkey cannot sign in", nil},
			{"UnknownPasskey", func(s *server) response { return s.passkeySignIn(passkeytest.NewKey(), testPage) },
				401, "unauthorized", "this passkey cannot sign in", nil},
			{"AddWithoutSession", func(s *server) response {
				return s.do("POST", "/api/me/passkeys/options", jsonType, `{}`)
			}, 401, "unauthorized", "", nil},
			{"AddWithAnotherAccountsCeremony", func(s *server) response {
				o := s.options("/api/me/passkeys/options", `{}`, bearerOf(token)...)
				return s.finish("/api/me/passkeys", o, passkeytest.NewKey().Register, testPage, bearerOf(bobToken)...)
			}, 400, "bad_request", "", nil},
			{"AddAPasskeyOfAnotherAccount", func(s *server) response {
				o := s.options("/api/me/passkeys/options", `{}`, bearerOf(bobToken)...)
				return s.finish("/api/me/passkeys", o, key.Register, testPage, bearerOf(bobToken)...)
			}, 409, "conflict", "this passkey is registered already", nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := tc.send(s.on(t))
				if r.status != tc.status || r.errorCode(t) != tc.code {
					t.Fatalf("got %d %s; want %d %s", r.status, r.body, tc.status, tc.code)
				}
				var e struct {
					Error struct {
						Message string `json:"message"`
					} `json:"error"`
				}
				r.json(t, &e)
				if tc.message != "" && e.Error.Message != tc.message {
					t.Fatalf("message %q; want %q", e.Error.Message, tc.message)
				}
				fields := r.fields(t)
				for f := range tc.fieldsWant {
					if fields[f] == "" {
						t.Fatalf("fields %v do not name %s", fields, f)
					}
				}
			})
		}
	})
}

// A passkey sign-in spends the address's sign-in budget, as a password's does.
func TestPasskeySignInLimit(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := newServer(t, url, httpapi.Config{SignInLimit: ratelimit.New(1, 1)})
		_, key := s.passkeySignUp("alice")
		signedInAs(t, s.passkeySignIn(key, testPage), "alice")
		r := s.passkeySignIn(key, testPage)
		if r.status != http.StatusTooManyRequests || r.errorCode(t) != "rate_limited" || r.header.Get("Retry-After") == "" {
			t.Fatalf("second sign-in: %d %v %s", r.status, r.header, r.body)
		}
		if r := s.signIn("alice", "any password at all"); r.status != http.StatusTooManyRequests {
			t.Fatalf("a password sign-in after it: %d %s", r.status, r.body)
		}
	})
}

// Each options step stores a ceremony row, so a client asking for options in a loop spends its
// write budget like a poster: the table grows only as fast as the limit lets it.
func TestPasskeyOptionsSpendTheWriteBudget(t *testing.T) {
	// A burst of 2 that refills once a minute: the third ask in a row is over budget.
	s := newServer(t, testdb.SQLiteURL(t), httpapi.Config{WriteLimit: ratelimit.New(1, 2)})
	for i, want := range []int{http.StatusOK, http.StatusOK, http.StatusTooManyRequests} {
		r := s.do("POST", "/api/passkeys/signin/options", jsonType, `{}`)
		if r.status != want {
			t.Fatalf("options %d: %d %s, want %d", i+1, r.status, r.body, want)
		}
		if want == http.StatusTooManyRequests && (r.errorCode(t) != "rate_limited" || r.header.Get("Retry-After") == "") {
			t.Fatalf("refused without the limit's answer: %v %s", r.header, r.body)
		}
	}
}
