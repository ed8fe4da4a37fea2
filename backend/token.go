package chirp

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
)

// editTokenBytes is the edit token's entropy: 256 bits, well above the 128 the product promises.
const editTokenBytes = 32

// NewEditToken returns a fresh random edit token, to be shown to the tweet's author once, and
// the hash to store in its place.
func NewEditToken() (token string, hash []byte, err error) {
	b := make([]byte, editTokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("read random edit token: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashEditToken(token), nil
}

// HashEditToken returns the SHA-256 of a token. Only this hash is stored with the tweet; the
// token itself is kept only with an idempotency key, for IdempotencyWindow.
func HashEditToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// EditTokenMatches reports, in constant time, whether token hashes to hash.
func EditTokenMatches(hash []byte, token string) bool {
	return subtle.ConstantTimeCompare(hash, HashEditToken(token)) == 1
}
