package passkeys_test

import (
	"strings"
	"testing"

	"github.com/chirp-social/chirp/backend/passkeys"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rpID    string
		origins []string
		want    []string // what the error must say, each; none for a valid config
	}{
		{"Localhost", "localhost", []string{"http://localhost:3000"}, nil},
		{"PublicDomain", "chirp.example", []string{"https://chirp.example"}, nil},
		{"Subdomains", "chirp.example", []string{"https://www.chirp.example", "https://app.chirp.example:8443"}, nil},
		{"LocalhostSubdomain", "localhost", []string{"http://app.localhost:3000"}, nil},
		{"EmptyRPID", "", []string{"http://localhost:3000"}, []string{`WEBAUTHN_RP_ID="":`}},
		{"RPIDWithScheme", "https://chirp.example", []string{"https://chirp.example"}, []string{"WEBAUTHN_RP_ID", "without scheme or port"}},
		{"RPIDWithPort", "localhost:3000", []string{"http://localhost:3000"}, []string{"WEBAUTHN_RP_ID"}},
		{"RPIDUpperCase", "Chirp.Example", []string{"https://chirp.example"}, []string{"WEBAUTHN_RP_ID", "lower case"}},
		{"RPIDAddress", "127.0.0.1", []string{"http://127.0.0.1:3000"}, []string{"WEBAUTHN_RP_ID"}},
		{"NoOrigin", "localhost", nil, []string{`WEBAUTHN_ORIGINS="": no origin`}},
		{"OriginWithPath", "localhost", []string{"http://localhost:3000/"}, []string{"WEBAUTHN_ORIGINS", "not an origin"}},
		{"OriginWithoutScheme", "localhost", []string{"localhost:3000"}, []string{"WEBAUTHN_ORIGINS", "not an origin"}},
		{"OriginOtherScheme", "localhost", []string{"ftp://localhost"}, []string{"WEBAUTHN_ORIGINS", "not an origin"}},
		{"OriginUpperCase", "chirp.example", []string{"https://Chirp.example"}, []string{"WEBAUTHN_ORIGINS", "lower case"}},
		{"OriginOutsideRPID", "chirp.example", []string{"https://evil.example"}, []string{`WEBAUTHN_ORIGINS="https://evil.example": not within WEBAUTHN_RP_ID "chirp.example"`}},
		{"OriginSuffixNotSubdomain", "chirp.example", []string{"https://notchirp.example"}, []string{"not within WEBAUTHN_RP_ID"}},
		{"PlainHTTPInPublic", "chirp.example", []string{"http://chirp.example"}, []string{"WEBAUTHN_ORIGINS", "https"}},
		{"EveryProblemAtOnce", "", []string{"nope", "https://a.example/x"}, []string{`WEBAUTHN_RP_ID=""`, `WEBAUTHN_ORIGINS="nope"`, `WEBAUTHN_ORIGINS="https://a.example/x"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := passkeys.Config{RPID: tc.rpID, Origins: tc.origins, RPDisplayName: passkeys.DisplayName}.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
		})
	}
}
