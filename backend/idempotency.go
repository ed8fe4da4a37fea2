package chirp

import (
	"fmt"
	"time"
)

// IdempotencyKey is what a client sends as Idempotency-Key with a create, so that a retry of
// the same post (after a lost answer, a reload, a network change) answers the tweet it already
// made instead of making another. The key alone is the scope, from any client address: only
// the client that made it knows it. The empty key means "none".
type IdempotencyKey string

// IdempotencyWindow is how long a key is remembered, and with it the tweet's edit token in
// clear, so that a replay can answer the original 201 whole. Expired keys are purged.
const IdempotencyWindow = 24 * time.Hour

// The bounds of a key's length, in characters (all of them ASCII).
const (
	MinIdempotencyKey = 16
	MaxIdempotencyKey = 255
)

// ParseIdempotencyKey checks a key as a client sent it: 16 to 255 characters of A-Z a-z 0-9
// - _ . : (enough for a UUID, a random hex or base64url string, or a prefixed one).
func ParseIdempotencyKey(s string) (IdempotencyKey, error) {
	bad := func(why string) error {
		return Errorf(CodeBadRequest, "Idempotency-Key must be %d to %d characters of A-Z a-z 0-9 - _ . : (%s)",
			MinIdempotencyKey, MaxIdempotencyKey, why)
	}
	if len(s) < MinIdempotencyKey || len(s) > MaxIdempotencyKey {
		return "", bad(fmt.Sprintf("this one has %d bytes", len(s)))
	}
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b >= 0x80:
			return "", bad(fmt.Sprintf("byte %d is not ASCII", i+1))
		case !keyByte(b):
			return "", bad(fmt.Sprintf("byte %d is %q", i+1, b))
		}
	}
	return IdempotencyKey(s), nil
}

func keyByte(b byte) bool {
	switch {
	case 'A' <= b && b <= 'Z', 'a' <= b && b <= 'z', '0' <= b && b <= '9':
		return true
	}
	return b == '-' || b == '_' || b == '.' || b == ':'
}

// KeyReused is the error for a key that was already used, within the window, for a different
// tweet: the client should make a new key for a new tweet.
func KeyReused() *Error {
	return Invalid(map[string]string{
		"Idempotency-Key": "was already used for a different tweet; use a new key for a new tweet",
	})
}

// Created is the answer to a create: the tweet as it was created and its edit token.
type Created struct {
	Tweet     Tweet
	EditToken string
	// Replayed says the tweet was made earlier under the same idempotency key: nothing new
	// was stored, so nothing is to be announced.
	Replayed bool
}
