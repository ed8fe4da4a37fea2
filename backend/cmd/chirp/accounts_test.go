package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chirp-social/chirp/backend/internal/passkeytest"
	"github.com/chirp-social/chirp/backend/internal/testdb"
)

// sendJSON makes one JSON request to the started program and returns its status and body.
func sendJSON(t *testing.T, method, url, body, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The program wires accounts as the variables say: GUEST_POSTS=false takes posts only from
// sessions, and the sign-in limits are on by default and logged.
func TestAccountsAsConfigured(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		p := start(t, map[string]string{"DATABASE_URL": url, "GUEST_POSTS": "false",
			"SIGNIN_LIMIT_PER_MINUTE": "", "SIGNIN_ACCOUNT_LIMIT_PER_HOUR": ""})
		if status, body := sendJSON(t, "POST", p.base+"/api/tweets", `{"author":"guest","content":"hi"}`, ""); status != http.StatusUnauthorized {
			t.Fatalf("a guest's post: %d %s", status, body)
		}
		status, body := sendJSON(t, "POST", p.base+"/api/accounts", `{"handle":"alice","display_name":"Alice","password":"correct horse battery staple"}`, "")
		var in struct{ Token string }
		if err := json.Unmarshal([]byte(body), &in); status != http.StatusCreated || err != nil {
			t.Fatalf("sign up: %d %s", status, body)
		}
		if status, body := sendJSON(t, "POST", p.base+"/api/tweets", `{"content":"signed in"}`, in.Token); status != http.StatusCreated ||
			!strings.Contains(body, `"author":"Alice"`) {
			t.Fatalf("an account's post: %d %s", status, body)
		}
		for i := range 10 {
			if status, _ := sendJSON(t, "POST", p.base+"/api/sessions", `{"handle":"alice","password":"a wrong guess"}`, ""); status != http.StatusUnauthorized {
				t.Fatalf("guess %d: %d", i, status)
			}
		}
		if status, _ := sendJSON(t, "POST", p.base+"/api/sessions", `{"handle":"alice","password":"correct horse battery staple"}`, ""); status != http.StatusTooManyRequests {
			t.Fatalf("the 11th sign-in in a minute: %d", status)
		}
		if logs := p.logs.String(); !strings.Contains(logs, "signin_per_minute=10 signin_account_per_hour=20 signin_burst=10 guest_posts=false session_max_idle=720h0m0s") {
			t.Fatalf("want the account limits in the limits record:\n%s", logs)
		}
	})
}

// The program's passkeys are for the pages WEBAUTHN_ORIGINS names, within WEBAUTHN_RP_ID: a
// sign-up and a sign-in from such a page work, one from another page is refused naming the
// variable, and the settings are logged at start.
func TestPasskeysAsConfigured(t *testing.T) {
	p := start(t, map[string]string{"DATABASE_URL": testdb.SQLiteURL(t),
		"WEBAUTHN_RP_ID": "localhost", "WEBAUTHN_ORIGINS": "http://localhost:4000, http://app.localhost:4000"})
	page := passkeytest.Page{Origin: "http://app.localhost:4000"}
	ceremony := func(path, body string, answer func([]byte, passkeytest.Page) ([]byte, error), pg passkeytest.Page) (int, string) {
		t.Helper()
		status, out := sendJSON(t, "POST", p.base+path+"/options", body, "")
		var o struct {
			Ceremony  string          `json:"ceremony"`
			PublicKey json.RawMessage `json:"publicKey"`
		}
		if err := json.Unmarshal([]byte(out), &o); status != http.StatusOK || err != nil {
			t.Fatalf("%s/options: %d %s", path, status, out)
		}
		cred, err := answer(o.PublicKey, pg)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(map[string]any{"ceremony": o.Ceremony, "credential": json.RawMessage(cred)})
		return sendJSON(t, "POST", p.base+path, string(b), "")
	}
	key := passkeytest.NewKey()
	if status, body := ceremony("/api/passkeys/signup", `{"handle":"alice","display_name":"Alice"}`, key.Register, page); status != http.StatusCreated {
		t.Fatalf("sign up: %d %s", status, body)
	}
	if status, body := ceremony("/api/passkeys/signin", `{}`, key.SignIn, page); status != http.StatusCreated ||
		!strings.Contains(body, `"handle":"alice"`) {
		t.Fatalf("sign in: %d %s", status, body)
	}
	status, body := ceremony("/api/passkeys/signin", `{}`, key.SignIn, passkeytest.Page{Origin: "http://localhost:3000"})
	if status != http.StatusBadRequest || !strings.Contains(body,
		"the page's origin http://localhost:3000 is not one of WEBAUTHN_ORIGINS (http://localhost:4000, http://app.localhost:4000)") {
		t.Fatalf("from another page: %d %s", status, body)
	}
	if logs := p.logs.String(); !strings.Contains(logs, "msg=passkeys webauthn_rp_id=localhost webauthn_origins=http://localhost:4000,http://app.localhost:4000") {
		t.Fatalf("want the passkey settings logged:\n%s", logs)
	}
}
