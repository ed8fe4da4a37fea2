package accounts_test

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"

	chirp "github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/accounts"
)

func TestNewSessionToken(t *testing.T) {
	token, hash := accounts.NewSessionToken()
	if len(token) != 43 {
		t.Fatalf("token %q: %d characters, want 43 (256 bits in unpadded base64url)", token, len(token))
	}
	if got, err := accounts.ParseSessionToken(token); err != nil || got != token {
		t.Fatalf("ParseSessionToken(a new token) = %q, %v", got, err)
	}
	sum := sha256.Sum256([]byte(token))
	if !bytes.Equal(hash, sum[:]) || !bytes.Equal(accounts.HashSessionToken(token), hash) {
		t.Fatal("the stored hash is not the token's SHA-256")
	}
	if other, _ := accounts.NewSessionToken(); other == token {
		t.Fatal("two new tokens are equal")
	}
}

func TestParseSessionTokenRefuses(t *testing.T) {
	good, _ := accounts.NewSessionToken()
	for _, c := range []struct{ name, token string }{
		{"Empty", ""},
		{"Short", good[:42]},
		{"Long", good + "A"},
		{"Padded", good[:42] + "="},
		{"StandardAlphabet", "+" + good[1:]},
		{"Space", " " + good[1:]},
		{"LineBreak", good[:20] + "\n" + good[21:]},
		{"NonCanonicalLastCharacter", strings.Repeat("A", 42) + "B"}, // its low bits are not zero
		{"BearerPrefix", ("Bearer " + good)[:43]},
		{"NotASCII", "é" + good[2:]},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := accounts.ParseSessionToken(c.token)
			if chirp.ErrorCode(err) != chirp.CodeUnauthorized {
				t.Fatalf("ParseSessionToken(%q) = %v, want %s", c.token, err, chirp.CodeUnauthorized)
			}
		})
	}
}
