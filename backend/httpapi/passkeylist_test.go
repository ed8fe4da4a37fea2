package httpapi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/httpapi"
	"github.com/chirp-social/chirp/backend/internal/testdb"
)

type passkeyOut struct {
	ID             int64   `json:"id"`
	CreatedAt      string  `json:"created_at"`
	LastUsedAt     *string `json:"last_used_at"`
	BackupEligible bool    `json:"backup_eligible"`
	BackedUp       bool    `json:"backed_up"`
}

// addPasskey stores a passkey of the account as a registration would.
func addPasskey(t *testing.T, s *server, accountID int64, credential string, flags byte) chirp.Passkey {
	t.Helper()
	p, err := s.store.AddPasskey(context.Background(), chirp.Passkey{
		AccountID: accountID, CredentialID: []byte(credential), PublicKey: []byte("public key of " + credential), Flags: flags,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMyPasskeys(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := newServer(t, url, httpapi.Config{})
		carol, token := passwordless(t, s, "carol")
		first := addPasskey(t, s, carol.ID, "carol's phone", 1<<3|1<<4) // backup eligible, backed up
		list := func() []passkeyOut {
			r := s.do("GET", "/api/me/passkeys", "", "", bearerOf(token)...)
			var out []passkeyOut
			r.json(t, &out)
			if r.status != http.StatusOK {
				t.Fatalf("list: %d %s", r.status, r.body)
			}
			return out
		}
		if got := list(); len(got) != 1 || got[0].ID != first.ID || got[0].LastUsedAt != nil || !got[0].BackupEligible || !got[0].BackedUp ||
			!timestamp.MatchString(got[0].CreatedAt) {
			t.Fatalf("passkeys: %+v", got)
		}
		if me, _ := s.me(token); me.Passkeys != 1 || me.HasPassword {
			t.Fatalf("me: %+v", me)
		}

		r := s.do("DELETE", "/api/me/passkeys/"+itoa(first.ID), "", "", bearerOf(token)...)
		if r.status != http.StatusConflict || r.errorMessage(t) != "this passkey is your last way to sign in: add a password or another passkey first" {
			t.Fatalf("the last way to sign in: %d %s", r.status, r.body)
		}
		second := addPasskey(t, s, carol.ID, "carol's laptop", 0)
		bob := s.signUp("bob", "Bob", "bob's own passphrase")
		if r := s.do("DELETE", "/api/me/passkeys/"+itoa(first.ID), "", "", bearerOf(bob)...); r.status != http.StatusNotFound {
			t.Fatalf("bob removing carol's: %d %s", r.status, r.body)
		}
		if r := s.do("DELETE", "/api/me/passkeys/"+itoa(first.ID), "", "", bearerOf(token)...); r.status != http.StatusNoContent {
			t.Fatalf("with another left: %d %s", r.status, r.body)
		}
		if got := list(); len(got) != 1 || got[0].ID != second.ID || got[0].BackupEligible {
			t.Fatalf("after removing one: %+v", got)
		}
		for _, c := range []struct {
			path   string
			status int
		}{{"/api/me/passkeys/" + itoa(first.ID), http.StatusNotFound}, {"/api/me/passkeys/x", http.StatusBadRequest}} {
			if r := s.do("DELETE", c.path, "", "", bearerOf(token)...); r.status != c.status {
				t.Fatalf("DELETE %s: %d %s", c.path, r.status, r.body)
			}
		}
		// With a password, the last passkey may go.
		if r := s.do("PUT", "/api/me/password", jsonType, `{"password":"carol's passphrase"}`, bearerOf(token)...); r.status != http.StatusNoContent {
			t.Fatalf("password: %d %s", r.status, r.body)
		}
		if r := s.do("DELETE", "/api/me/passkeys/"+itoa(second.ID), "", "", bearerOf(token)...); r.status != http.StatusNoContent {
			t.Fatalf("the last passkey beside a password: %d %s", r.status, r.body)
		}
		if r := s.do("GET", "/api/me/passkeys", "", ""); r.status != http.StatusUnauthorized {
			t.Fatalf("not signed in: %d", r.status)
		}
	})
}
