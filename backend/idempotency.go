package chirp

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// IdempotencyKey is what a client sends as Idempotency-Key with a create, so that a retry of
// the same post (after a lost answer, a reload, a network change) answers the tweet it already
// made instead of making another. The key and the account that posts (none for a guest) are
// the scope, from any client address: only the client that made it knows it, and the same key
// from another account, or from a guest, is another key. The empty key means "none".
type IdempotencyKey string

// IdempotencyWindow is how long a key is remembered, and with it the tweet's edit token in
// clear, so that a replay can answer the original 201 whole. Expired keys are purged.
const IdempotencyWindow = 24 * time.Hour

// MaxIdempotencyKey is the longest key, in characters (all of them ASCII).
const MaxIdempotencyKey = 255

// MinIdempotencyKeyBits is the randomness a key must show, as far as the server can tell from
// its alphabet and length. A key is the only secret of a keyed create: whoever sends it with
// the tweet's author and text, which are public, is answered the tweet's edit token.
const MinIdempotencyKeyBits = 128

// The pattern rules refuse keys that a person typed or a program counted up rather than drew
// at random. Each bites a random UUID, 32 hex digits or 22 base64url characters with a chance
// below one in a hundred million (TestRandomIdempotencyKeysAreAccepted).
const (
	minKeyCharacters = 6 // different characters among its digits
	maxKeyRun        = 9 // digits in a row that step by the same -1, 0 or +1
)

// ParseIdempotencyKey checks a key as a client sent it: at most 255 characters of A-Z a-z 0-9
// - _ . :, carrying at least 128 bits (a UUID, 32 hex digits, 22 characters of base64url), and
// not one repeated character, a run or a repeated block.
func ParseIdempotencyKey(s string) (IdempotencyKey, error) {
	bad := func(format string, args ...any) error {
		return Errorf(CodeBadRequest, "Idempotency-Key must be a random key of %d bits or more (uuidgen makes one): "+
			"a UUID, 32 or more hex digits, or 22 or more characters of base64url; at most %d characters of "+
			"A-Z a-z 0-9 - _ . :, and not one repeated character, a run like 0123456789 or a repeated block (this one%s)",
			MinIdempotencyKeyBits, MaxIdempotencyKey, fmt.Sprintf(format, args...))
	}
	if len(s) == 0 || len(s) > MaxIdempotencyKey {
		return "", bad(" has %d bytes", len(s))
	}
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b >= 0x80:
			return "", bad("'s byte %d is not ASCII", i+1)
		case !keyByte(b):
			return "", bad("'s byte %d is %q", i+1, b)
		}
	}
	digits, bitsEach := keyDigits(s)
	if bits := int(float64(len(digits)) * bitsEach); bits < MinIdempotencyKeyBits {
		return "", bad(" carries at most %d bits", bits)
	}
	if n := differentBytes(digits); n < minKeyCharacters {
		return "", bad(" has only %d different characters", n)
	}
	if run := longestRun(digits); len(run) > maxKeyRun {
		return "", bad(" has the run %q", run)
	}
	if block := repeatedBlock(digits); block != "" {
		return "", bad(" repeats the block %q", block)
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

// keyDigits returns the characters of a key that carry its randomness and the bits each can
// carry at most, by the smallest alphabet the key keeps to: decimal, hex (dashes between them
// are a UUID's separators and carry nothing), or else all 66 characters (base64url's 64 and
// more; counted as 6 bits, so that 22 characters make 132).
func keyDigits(s string) (digits string, bitsEach float64) {
	within := func(in func(byte) bool) bool {
		for i := 0; i < len(s); i++ {
			if s[i] != '-' && !in(s[i]) {
				return false
			}
		}
		return true
	}
	decimal := func(b byte) bool { return '0' <= b && b <= '9' }
	hexDigit := func(b byte) bool { return decimal(b) || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F' }
	switch {
	case within(decimal):
		return strings.ReplaceAll(s, "-", ""), math.Log2(10)
	case within(hexDigit):
		return strings.ReplaceAll(s, "-", ""), 4
	}
	return s, 6
}

func differentBytes(s string) int {
	var seen [128]bool
	n := 0
	for i := 0; i < len(s); i++ {
		if !seen[s[i]] {
			seen[s[i]], n = true, n+1
		}
	}
	return n
}

// longestRun is the longest stretch of s whose characters each step from the one before by
// the same -1, 0 or +1 (0123, dcba, zzzz).
func longestRun(s string) string {
	best := s[:1]
	for start := 0; start < len(s)-1; {
		step := int(s[start+1]) - int(s[start])
		end := start + 1
		for end < len(s) && int(s[end])-int(s[end-1]) == step {
			end++
		}
		if step >= -1 && step <= 1 && end-start > len(best) {
			best = s[start:end]
		}
		start = end - 1
	}
	return best
}

// repeatedBlock is the shortest block that s repeats from start to end (the last time maybe
// in part), or "" when s is no such repetition.
func repeatedBlock(s string) string {
	for p := 1; p <= len(s)/2; p++ {
		if s[p:] == s[:len(s)-p] {
			return s[:p]
		}
	}
	return ""
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
