// Package passkeytest is a software WebAuthn authenticator and browser for tests: it answers a
// ceremony's options (the "publicKey" JSON the API sends) with what a page's
// credential.toJSON() would send back, from an ES256 key of its own, with "none" attestation.
// It is written from the WebAuthn specification, not with the relying-party library, so that
// a test of the library's use does not grade the library against itself.
package passkeytest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// The authenticator data's flags (WebAuthn §6.1).
const (
	FlagUserPresent    byte = 1 << 0
	FlagUserVerified   byte = 1 << 2
	FlagBackupEligible byte = 1 << 3
	FlagBackupState    byte = 1 << 4
	FlagAttestedData   byte = 1 << 6
)

// Page is where the browser says a ceremony runs: the page's origin, and the RP ID the
// authenticator hashes into its data ("" for the one the options name).
type Page struct {
	Origin string
	RPID   string
}

// Key is one passkey: a discoverable credential held by the software authenticator.
type Key struct {
	ID         []byte
	Private    *ecdsa.PrivateKey
	UserHandle []byte // set by Register, from the options' user.id
	// Counter is the signature counter; SignIn adds one before it signs. Zero and left zero
	// with Counterless, as synced passkeys do.
	Counter     uint32
	Counterless bool
	// Flags are the flags besides UP and AT: UV, BE, BS.
	Flags byte
}

// NewKey makes a key with a random credential id.
func NewKey() *Key {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	id := make([]byte, 16)
	rand.Read(id)
	return &Key{ID: id, Private: priv, Flags: FlagUserVerified}
}

// WithPrivate is a copy of k that signs with another private key: a forger that knows the
// credential id and user handle but not the key.
func (k *Key) WithPrivate(p *ecdsa.PrivateKey) *Key {
	c := *k
	c.Private = p
	return &c
}

type creationOptions struct {
	RP struct {
		ID string `json:"id"`
	} `json:"rp"`
	User struct {
		ID string `json:"id"`
	} `json:"user"`
	Challenge string `json:"challenge"`
	Exclude   []struct {
		ID string `json:"id"`
	} `json:"excludeCredentials"`
}

type requestOptions struct {
	Challenge string `json:"challenge"`
	RPID      string `json:"rpId"`
}

var b64 = base64.RawURLEncoding

// Register answers creation options as navigator.credentials.create() and toJSON() would.
func (k *Key) Register(publicKey []byte, page Page) ([]byte, error) {
	var o creationOptions
	if err := json.Unmarshal(publicKey, &o); err != nil {
		return nil, fmt.Errorf("creation options: %w", err)
	}
	for _, e := range o.Exclude {
		if e.ID == b64.EncodeToString(k.ID) {
			return nil, fmt.Errorf("the key is excluded: it is registered already")
		}
	}
	user, err := b64.DecodeString(o.User.ID)
	if err != nil {
		return nil, fmt.Errorf("user id: %w", err)
	}
	k.UserHandle = user
	rpID := pick(page.RPID, o.RP.ID)
	clientData := clientDataJSON("webauthn.create", o.Challenge, page.Origin)

	pub := k.Private.PublicKey
	coseKey, err := cbor.Marshal(map[int]any{
		1:  2,  // kty: EC2
		3:  -7, // alg: ES256
		-1: 1,  // crv: P-256
		-2: pad32(pub.X.Bytes()),
		-3: pad32(pub.Y.Bytes()),
	})
	if err != nil {
		return nil, err
	}
	var attested bytes.Buffer
	attested.Write(make([]byte, 16)) // AAGUID: none
	binary.Write(&attested, binary.BigEndian, uint16(len(k.ID)))
	attested.Write(k.ID)
	attested.Write(coseKey)
	authData := k.authData(rpID, FlagAttestedData, attested.Bytes())
	attestation, err := cbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": authData})
	if err != nil {
		return nil, err
	}
	return k.credentialJSON(map[string]any{
		"clientDataJSON":    b64.EncodeToString(clientData),
		"attestationObject": b64.EncodeToString(attestation),
		"transports":        []string{"internal", "hybrid"},
	})
}

// SignIn answers request options as navigator.credentials.get() and toJSON() would, counting
// one more signature.
func (k *Key) SignIn(publicKey []byte, page Page) ([]byte, error) {
	var o requestOptions
	if err := json.Unmarshal(publicKey, &o); err != nil {
		return nil, fmt.Errorf("request options: %w", err)
	}
	if !k.Counterless {
		k.Counter++
	}
	clientData := clientDataJSON("webauthn.get", o.Challenge, page.Origin)
	authData := k.authData(pick(page.RPID, o.RPID), 0, nil)
	hash := sha256.Sum256(clientData)
	signed := sha256.Sum256(append(authData, hash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.Private, signed[:])
	if err != nil {
		return nil, err
	}
	return k.credentialJSON(map[string]any{
		"clientDataJSON":    b64.EncodeToString(clientData),
		"authenticatorData": b64.EncodeToString(authData),
		"signature":         b64.EncodeToString(sig),
		"userHandle":        b64.EncodeToString(k.UserHandle),
	})
}

// credentialJSON is PublicKeyCredential.toJSON() of the key with the response.
func (k *Key) credentialJSON(response map[string]any) ([]byte, error) {
	return json.Marshal(map[string]any{
		"id":                      b64.EncodeToString(k.ID),
		"rawId":                   b64.EncodeToString(k.ID),
		"type":                    "public-key",
		"authenticatorAttachment": "platform",
		"clientExtensionResults":  map[string]any{},
		"response":                response,
	})
}

// authData is rpIdHash ‖ flags ‖ signCount ‖ rest (WebAuthn §6.1).
func (k *Key) authData(rpID string, flags byte, rest []byte) []byte {
	rpHash := sha256.Sum256([]byte(rpID))
	out := append([]byte{}, rpHash[:]...)
	out = append(out, FlagUserPresent|k.Flags|flags)
	out = binary.BigEndian.AppendUint32(out, k.Counter)
	return append(out, rest...)
}

func clientDataJSON(typ, challenge, origin string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": origin, "crossOrigin": false})
	return b
}

func pick(override, fromOptions string) string {
	if override != "" {
		return override
	}
	return fromOptions
}

func pad32(b []byte) []byte {
	out := make([]byte, 32)
	copy(out[32-len(b):], b)
	return out
}
