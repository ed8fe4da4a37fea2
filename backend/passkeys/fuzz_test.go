package passkeys

import (
	"errors"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/internal/passkeytest"
)

// FuzzParseCredential feeds a credential body (what the page's credential.toJSON() should be)
// to both readers: whatever it is, the answer is the credential or a bad request, never a
// panic or another error, and a credential that passes names one of the configured origins.
func FuzzParseCredential(f *testing.F) {
	key := passkeytest.NewKey()
	page := passkeytest.Page{Origin: "http://localhost:3000"}
	created, err := key.Register([]byte(`{"rp":{"id":"localhost"},"user":{"id":"dXNlcg"},"challenge":"Y2hhbGxlbmdlY2hhbGxlbmdl"}`), page)
	if err != nil {
		f.Fatal(err)
	}
	asserted, err := key.SignIn([]byte(`{"rpId":"localhost","challenge":"Y2hhbGxlbmdlY2hhbGxlbmdl"}`), page)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{string(created), string(asserted), ``, `null`, `{}`, `[]`, `"x"`,
		`{"id":"AA","rawId":"AA","type":"public-key","response":{}}`,
		`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","attestationObject":"oA"}}`,
		`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"AA","signature":"AA"}}`,
	} {
		f.Add([]byte(seed))
	}
	rp := &RelyingParty{cfg: Config{RPID: "localhost", Origins: []string{"http://localhost:3000"}, RPDisplayName: DisplayName}}
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := rp.parseCreation(body)
		check(t, "registration", err, func() string { return c.Response.CollectedClientData.Origin })
		a, err := rp.parseAssertion(body)
		check(t, "sign-in", err, func() string { return a.Response.CollectedClientData.Origin })
	})
}

func check(t *testing.T, what string, err error, origin func() string) {
	t.Helper()
	if err != nil {
		var e *chirp.Error
		if !errors.As(err, &e) || e.Code != chirp.CodeBadRequest || e.Message == "" {
			t.Fatalf("%s: %v is not a bad request", what, err)
		}
		return
	}
	if o := origin(); !protocol.IsOriginInHaystack(o, []string{"http://localhost:3000"}) {
		t.Fatalf("%s: read with origin %q", what, o)
	}
}
