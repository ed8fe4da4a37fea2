package passkeys

import (
	"encoding/json"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/chirp-social/chirp/backend"
)

// passkeyOf is the stored form of a credential the library verified. The attestation and the
// extensions are kept as the library serialises them, whole: the library asks for every field
// of the attestation to be kept, for a later re-verification.
func passkeyOf(c *webauthn.Credential) (chirp.Passkey, error) {
	attestation, err := json.Marshal(c.Attestation)
	if err != nil {
		return chirp.Passkey{}, fmt.Errorf("serialise the attestation: %w", err)
	}
	extensions, err := json.Marshal(c.Extensions)
	if err != nil {
		return chirp.Passkey{}, fmt.Errorf("serialise the extensions: %w", err)
	}
	var transports []string
	for _, t := range c.Transport {
		transports = append(transports, string(t))
	}
	return chirp.Passkey{
		CredentialID:      c.ID,
		PublicKey:         c.PublicKey,
		AttestationType:   c.AttestationType,
		AttestationFormat: c.AttestationFormat,
		Transports:        transports,
		AAGUID:            c.Authenticator.AAGUID,
		SignCount:         c.Authenticator.SignCount,
		CloneWarning:      c.Authenticator.CloneWarning,
		Attachment:        string(c.Authenticator.Attachment),
		Flags:             byte(c.Flags.ProtocolValue()),
		Attestation:       attestation,
		Extensions:        extensions,
	}, nil
}

// credentialOf is the library's credential record for a stored passkey.
func credentialOf(p chirp.Passkey) (webauthn.Credential, error) {
	c := webauthn.Credential{
		ID:                p.CredentialID,
		PublicKey:         p.PublicKey,
		AttestationType:   p.AttestationType,
		AttestationFormat: p.AttestationFormat,
		// The library rebuilds its flags from the one byte, so that the four go together.
		Flags: webauthn.NewCredentialFlags(protocol.AuthenticatorFlags(p.Flags)),
		Authenticator: webauthn.Authenticator{
			AAGUID:       p.AAGUID,
			SignCount:    p.SignCount,
			CloneWarning: p.CloneWarning,
			Attachment:   protocol.AuthenticatorAttachment(p.Attachment),
		},
	}
	for _, t := range p.Transports {
		c.Transport = append(c.Transport, protocol.AuthenticatorTransport(t))
	}
	if len(p.Attestation) > 0 {
		if err := json.Unmarshal(p.Attestation, &c.Attestation); err != nil {
			return webauthn.Credential{}, fmt.Errorf("passkey %d's attestation: %w", p.ID, err)
		}
	}
	if len(p.Extensions) > 0 {
		if err := json.Unmarshal(p.Extensions, &c.Extensions); err != nil {
			return webauthn.Credential{}, fmt.Errorf("passkey %d's extensions: %w", p.ID, err)
		}
	}
	return c, nil
}

// user is an account as the library sees it: its user handle, names, and the credentials
// that matter to the ceremony at hand.
type user struct {
	handle      chirp.UserHandle
	name        string
	displayName string
	credentials []webauthn.Credential
}

func (u *user) WebAuthnID() []byte                         { return u.handle[:] }
func (u *user) WebAuthnName() string                       { return u.name }
func (u *user) WebAuthnDisplayName() string                { return u.displayName }
func (u *user) WebAuthnCredentials() []webauthn.Credential { return u.credentials }
