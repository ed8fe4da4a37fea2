package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/accounts"
)

// memAccounts is a chirp.AccountStore that keeps nothing: account 1 (@alice, fuzzPassword)
// with the one session fuzzSession opens, and any other handle free. Like memStore, it lets the
// fuzz targets judge how account requests are read, millions of them.
type memAccounts struct{}

const fuzzPassword = "correct horse battery staple"

// fuzzSession is the token of alice's session.
var fuzzSession, fuzzSessionHash = accounts.NewSessionToken()

var fuzzAlice = chirp.Account{ID: 1, Handle: "alice", DisplayName: "Alice", CreatedAt: time.Unix(0, 0)}

func (memAccounts) CreateAccount(_ context.Context, a chirp.NewAccount) (chirp.Account, error) {
	if a.Handle == fuzzAlice.Handle {
		return chirp.Account{}, chirp.HandleTaken(a.Handle)
	}
	return chirp.Account{ID: 2, Handle: a.Handle, DisplayName: a.DisplayName, CreatedAt: time.Unix(0, 0)}, nil
}

func (memAccounts) AccountByHandle(_ context.Context, handle string) (chirp.Account, error) {
	if handle != fuzzAlice.Handle {
		return chirp.Account{}, chirp.AccountNotFound()
	}
	return fuzzAlice, nil
}

func (memAccounts) AccountByID(_ context.Context, id int64) (chirp.Account, error) {
	if id != fuzzAlice.ID {
		return chirp.Account{}, chirp.AccountNotFound()
	}
	return fuzzAlice, nil
}

func (memAccounts) EnsureUserHandle(_ context.Context, _ int64, fresh chirp.UserHandle) (chirp.UserHandle, error) {
	return fresh, nil
}
func (memAccounts) PasswordHash(context.Context, int64) (string, error) {
	return plainPasswords{}.Hash(context.Background(), fuzzPassword)
}

func (memAccounts) SetPasswordHash(context.Context, int64, string) error             { return nil }
func (memAccounts) ReplacePasswordHash(context.Context, int64, string, int64) error  { return nil }
func (memAccounts) DeleteAccount(context.Context, int64) ([]int64, error)            { return nil, nil }
func (memAccounts) DeleteSession(context.Context, int64, int64) error                { return nil }
func (memAccounts) DeleteOtherSessions(context.Context, int64, int64) (int64, error) { return 0, nil }
func (memAccounts) PurgeIdleSessions(context.Context, time.Time, time.Duration) (int64, error) {
	return 0, nil
}

func (memAccounts) CreateSession(_ context.Context, accountID int64, _ []byte, now time.Time) (chirp.Session, error) {
	return chirp.Session{ID: 2, AccountID: accountID, CreatedAt: now, LastUsedAt: now}, nil
}

func (memAccounts) SessionByTokenHash(_ context.Context, hash []byte, now time.Time, _ time.Duration) (chirp.Session, error) {
	if !bytes.Equal(hash, fuzzSessionHash) {
		return chirp.Session{}, chirp.SessionNotFound()
	}
	return chirp.Session{ID: 1, AccountID: fuzzAlice.ID, CreatedAt: now, LastUsedAt: now}, nil
}

func (m memAccounts) ListSessions(ctx context.Context, _ int64, now time.Time, maxIdle time.Duration) ([]chirp.Session, error) {
	s, _ := m.SessionByTokenHash(ctx, fuzzSessionHash, now, maxIdle)
	return []chirp.Session{s}, nil
}

func (memAccounts) AddPasskey(_ context.Context, p chirp.Passkey) (chirp.Passkey, error) {
	return p, nil
}
func (memAccounts) PasskeysOf(context.Context, int64) ([]chirp.Passkey, error) { return nil, nil }
func (memAccounts) PasskeyByCredentialID(context.Context, []byte) (chirp.Passkey, error) {
	return chirp.Passkey{}, chirp.PasskeyNotFound()
}
func (memAccounts) UpdateSignCount(context.Context, int64, chirp.PasskeyUse) error { return nil }
func (memAccounts) DeletePasskey(context.Context, int64, int64) error              { return chirp.PasskeyNotFound() }

// plainPasswords "hashes" by prefixing: argon2id's 19 MiB a hash is what the fuzzer must not
// pay per input, and what it judges is the reading of requests, not the hashing.
type plainPasswords struct{}

func (plainPasswords) Hash(_ context.Context, password string) (string, error) {
	return "plain:" + password, nil
}

func (plainPasswords) Verify(_ context.Context, encoded, password string) (bool, error) {
	return encoded == "plain:"+password, nil
}

func (plainPasswords) VerifyUnknown(context.Context, string) error { return nil }

var handleForm = regexp.MustCompile(`^[a-z0-9_]{1,30}$`)

func FuzzSignUp(f *testing.F) {
	for _, seed := range []struct{ contentType, body string }{
		{"application/json", `{"handle":"bob","display_name":"Bob","password":"a long passphrase"}`},
		{"application/json", `{"handle":"@Bob_2","display_name":" B\u00f6b ","password":"caf\u0065\u0301 au lait"}`},
		{"application/json", `{"handle":"alice","display_name":"Alice","password":"a long passphrase"}`},
		{"application/json", `{"handle":"\u0430lice","display_name":"A","password":"a long passphrase"}`},
		{"application/json", `{"handle":"admin","display_name":"\ud800","password":"password"}`},
		{"application/json", `{"handle":"bob","display_name":"Bob","password":"bob"}`},
		{"application/json", `{"handle":"bobby","display_name":"Bob","password":"BOBBY"}`},
		{"application/json", `{"handle":1,"display_name":[],"password":{}}`},
		{"application/json", `{"handle":"bob","display_name":"Bob","password":"` + strings.Repeat("é", 129) + `"}`},
		{"application/json", `{"handle":"bob","display_name":"Bob","password":"\\ud800\\udc00 long enough"}`},
		{"application/json", `{}`},
		{"application/json", `null`},
		{"text/plain", `{"handle":"bob"}`},
	} {
		f.Add(seed.contentType, []byte(seed.body))
	}
	handler := fuzzHandler()
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		req := httptest.NewRequest("POST", "/api/accounts", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		w := serveFuzzed(t, handler, req, len(body)+len(contentType), 201, 400, 409, 413, 415, 422)
		if w.Code != 201 {
			return
		}
		var in struct {
			Token   string
			Account struct {
				Handle      string
				DisplayName string `json:"display_name"`
			}
		}
		json.Unmarshal(w.Body.Bytes(), &in)
		if !handleForm.MatchString(in.Account.Handle) || accounts.IsReserved(accounts.Handle(in.Account.Handle)) {
			t.Fatalf("accepted %.200q with the handle %q", body, in.Account.Handle)
		}
		if n := utf8.RuneCountInString(in.Account.DisplayName); n == 0 || n > chirp.MaxAuthorLength || !utf8.ValidString(in.Account.DisplayName) {
			t.Fatalf("accepted %.200q with the display name %q", body, in.Account.DisplayName)
		}
	})
}

func FuzzSignIn(f *testing.F) {
	for _, seed := range []string{
		`{"handle":"alice","password":"` + fuzzPassword + `"}`,
		`{"handle":"@ALICE","password":"` + fuzzPassword + `"}`,
		`{"handle":"alice","password":"wrong"}`,
		`{"handle":"bob","password":"` + fuzzPassword + `"}`,
		`{"handle":"a l i c e","password":""}`,
		`{"handle":"alice","password":null}`,
		`{"handle":"alice"}`,
		`{"handle":"alice","password":"\ud800"}`,
		`{"handle":["alice"],"password":1}`,
		`{"handle":"alice","password":"` + strings.Repeat("x", 9000) + `"}`,
	} {
		f.Add([]byte(seed))
	}
	handler := fuzzHandler()
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/api/sessions", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := serveFuzzed(t, handler, req, len(body), 201, 400, 401, 413, 422)
		if w.Code == 201 && !bytes.Contains(body, []byte(fuzzPassword[:7])) {
			t.Fatalf("signed in with %.200q", body)
		}
	})
}

func FuzzSetPassword(f *testing.F) {
	for _, seed := range []struct{ authorization, body string }{
		{"Bearer " + fuzzSession, `{"password":"a new long passphrase"}`},
		{"Bearer " + fuzzSession, `{"password":"alice"}`},
		{"Bearer " + fuzzSession, `{"password":"\udfff and more"}`},
		{"Bearer " + fuzzSession, `{"password":12345678}`},
		{"Bearer " + fuzzSession + "x", `{"password":"a new long passphrase"}`},
		{"Bearer " + strings.Repeat("A", 43), `{"password":"a new long passphrase"}`},
		{"Basic YWxpY2U6cGFzcw==", `{"password":"a new long passphrase"}`},
		{"", `{"password":"a new long passphrase"}`},
	} {
		f.Add(seed.authorization, []byte(seed.body))
	}
	handler := fuzzHandler()
	f.Fuzz(func(t *testing.T, authorization string, body []byte) {
		req := httptest.NewRequest("PUT", "/api/me/password", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if !validHeaderValue(authorization) {
			return // net/http would not send it
		}
		req.Header.Set("Authorization", authorization)
		w := serveFuzzed(t, handler, req, len(authorization)+len(body), 204, 400, 401, 413, 422)
		if w.Code == 204 && !strings.Contains(authorization, fuzzSession) {
			t.Fatalf("changed the password with %q", authorization)
		}
	})
}

// validHeaderValue reports whether a client could send v as a header's value.
func validHeaderValue(v string) bool {
	return !strings.ContainsAny(v, "\r\n\x00") && http.Header{"X": {v}}.Get("X") == v
}
