package accounts

import (
	"encoding/base64"

	chirp "github.com/chirp-social/chirp/backend"
)

// A session token is built exactly as an edit token is (chirp.NewEditToken): 256 random bits in
// unpadded base64url, stored as its SHA-256. One construction, kept in one place.
//
// SHA-256 rather than argon2id: a slow hash protects secrets people choose, which an attacker
// holding the table can guess through. A token of 256 random bits cannot be guessed from its hash
// at any speed, and every authenticated request looks its session up, so the hash must be cheap.
const (
	sessionTokenBytes  = 32
	sessionTokenLength = 43 // base64.RawURLEncoding.EncodedLen(sessionTokenBytes)
)

// NewSessionToken returns a fresh session token, given to the client once, and the hash the
// store keeps in its place.
func NewSessionToken() (token string, hash []byte) {
	token, hash, err := chirp.NewEditToken()
	if err != nil {
		// Unreachable: crypto/rand ends the program rather than return an error.
		panic(err)
	}
	return token, hash
}

// HashSessionToken returns the hash a session is stored and looked up under.
func HashSessionToken(token string) []byte { return chirp.HashEditToken(token) }

// ParseSessionToken checks that s has a session token's form (43 base64url characters encoding
// 32 bytes) and returns it, so that garbage in an Authorization header is refused before any
// hashing or lookup. Its error is chirp.CodeUnauthorized, with the same message an unknown or
// expired token will get: a client learns nothing from which check failed.
func ParseSessionToken(s string) (string, error) {
	if len(s) != sessionTokenLength {
		return "", SessionInvalid()
	}
	// The length check is not enough alone: the decoder skips line breaks.
	if b, err := base64.RawURLEncoding.Strict().DecodeString(s); err != nil || len(b) != sessionTokenBytes {
		return "", SessionInvalid()
	}
	return s, nil
}

// SessionInvalid returns the answer to a session token that is malformed, unknown, expired or
// revoked: sign in again.
func SessionInvalid() error {
	return chirp.Errorf(chirp.CodeUnauthorized, "the session is not valid (signed out, expired or mistyped): sign in again")
}
