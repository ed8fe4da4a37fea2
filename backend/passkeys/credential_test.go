package passkeys

import (
	"reflect"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// Every field of the library's credential record survives chirp.Passkey, the flags' raw byte
// included (the library rebuilds its booleans from it).
func TestCredentialRoundTrip(t *testing.T) {
	yes := true
	pinLength := uint(6)
	for _, tc := range []struct {
		name string
		c    webauthn.Credential
	}{
		{"Bare", webauthn.Credential{ID: []byte{1}, PublicKey: []byte{2}, Flags: webauthn.NewCredentialFlags(0)}},
		{"EveryField", webauthn.Credential{
			ID:                []byte{1, 2, 3},
			PublicKey:         []byte{0xa5, 1, 2},
			AttestationType:   "none",
			AttestationFormat: "packed",
			Transport:         []protocol.AuthenticatorTransport{protocol.Internal, protocol.Hybrid},
			Flags: webauthn.NewCredentialFlags(protocol.FlagUserPresent | protocol.FlagUserVerified |
				protocol.FlagBackupEligible | protocol.FlagBackupState | protocol.FlagAttestedCredentialData),
			Authenticator: webauthn.Authenticator{AAGUID: make([]byte, 16), SignCount: 1 << 31, CloneWarning: true,
				Attachment: protocol.Platform},
			Attestation: webauthn.CredentialAttestation{ClientDataJSON: []byte(`{}`), ClientDataHash: []byte{9},
				AuthenticatorData: []byte{8}, PublicKeyAlgorithm: -7, Object: []byte{7}},
			Extensions: webauthn.CredentialExtensions{RK: &yes, MinPinLength: &pinLength},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := passkeyOf(&tc.c)
			if err != nil {
				t.Fatal(err)
			}
			back, err := credentialOf(p)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, tc.c) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", back, tc.c)
			}
		})
	}
}
