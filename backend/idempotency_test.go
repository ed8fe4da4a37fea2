package chirp_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	chirp "github.com/chirp-social/chirp/backend"
)

func TestParseIdempotencyKey(t *testing.T) {
	accepted := []struct{ name, key string }{
		{"UUID", "9b2f4c1e-7a3d-4e8b-b5c6-0d1e2f3a4b5c"},
		{"UUIDUpperCase", "9B2F4C1E-7A3D-4E8B-B5C6-0D1E2F3A4B5C"},
		{"Hex32", "5f0c2a7e9d8b4c1aa3e6f7b8c9d0e1f2"},
		{"Base64url22", "q3ZkP_0xR-7mWb2LtYc9Aw"},
		{"Decimal39", "314159265358979323846264338327950288419"},
		{"Prefixed", "chirp:9b2f4c1e-7a3d-4e8b-b5c6-0d1e2f3a4b5c"},
		{"Longest", longKey()},
	}
	for _, tt := range accepted {
		t.Run(tt.name, func(t *testing.T) {
			if k, err := chirp.ParseIdempotencyKey(tt.key); err != nil || string(k) != tt.key {
				t.Fatalf("%q: %q %v", tt.key, k, err)
			}
		})
	}
	refused := []struct{ name, key, why string }{
		{"Empty", "", "this one has 0 bytes"},
		{"TooLong", strings.Repeat("q3ZkP_0xR-7mWb2LtYc9Aw", 12), "this one has 264 bytes"},
		{"Space", "q3ZkP_0xR 7mWb2LtYc9Aw", `this one's byte 10 is ' '`},
		{"NotASCII", "q3ZkP_0xRé7mWb2LtYc9Aw", "this one's byte 10 is not ASCII"},
		{"Zeros16", "0000000000000000", "this one carries at most 53 bits"},
		{"Dots16", "................", "this one carries at most 96 bits"},
		{"Hex16", "5f0c2a7e9d8b4c1a", "this one carries at most 64 bits"},
		{"Hex31", "5f0c2a7e9d8b4c1aa3e6f7b8c9d0e1f", "this one carries at most 124 bits"},
		{"UUIDShort", "9b2f4c1e-7a3d-4e8b-b5c6-0d1e2f3a4b", "this one carries at most 120 bits"},
		{"Decimal38", "31415926535897932384626433832795028841", "this one carries at most 126 bits"},
		{"Base64url21", "q3ZkP_0xR-7mWb2LtYc9A", "this one carries at most 126 bits"},
		{"Zeros39", strings.Repeat("0", 39), "only 1 different character"},
		{"Dots22", strings.Repeat(".", 22), "only 1 different character"},
		{"UUIDZeros", "00000000-0000-0000-0000-000000000000", "this one carries at most 106 bits"},
		{"UUIDMax", "ffffffff-ffff-ffff-ffff-ffffffffffff", "only 1 different character"},
		{"FewCharacters", "ababababababababcdcdcdcdcdcdeeee", "only 5 different characters"},
		{"RunHex", "0123456789abcdef0123456789abcdef", `the run "0123456789"`},
		{"RunLetters", "abcdefghijklmnopqrstuvwxyz", `the run "abcdefghijklmnopqrstuvwxyz"`},
		{"RunDown", "Qz8_9876543210zyx-Lm4W", `the run "9876543210"`},
		{"RunSame", "q3ZkP_0xR-7mWb2Lzzzzzzzzzzt", `the run "zzzzzzzzzz"`},
		{"RepeatedBlock", "k3J9x_k3J9x_k3J9x_k3J9x_", `repeats the block "k3J9x_"`},
		{"RepeatedUUIDHalf", "9b2f4c1e7a3d4e8b-9b2f4c1e7a3d4e8b", `repeats the block "9b2f4c1e7a3d4e8b"`},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			k, err := chirp.ParseIdempotencyKey(tt.key)
			var e *chirp.Error
			if !errors.As(err, &e) || e.Code != chirp.CodeBadRequest {
				t.Fatalf("%q: %q %v, want bad_request", tt.key, k, err)
			}
			// The message says what a key must be, then what is wrong with this one.
			for _, want := range []string{"128 bits", "uuidgen", "32 or more hex digits", "22 or more", tt.why} {
				if !strings.Contains(e.Message, want) {
					t.Fatalf("%q: %q lacks %q", tt.key, e.Message, want)
				}
			}
		})
	}
}

// Keys made as clients make them are never refused: the pattern rules must not bite random
// keys (each rule's chance for one is below one in a hundred million).
func TestRandomIdempotencyKeysAreAccepted(t *testing.T) {
	makers := map[string]func([]byte) string{
		"UUID": func(b []byte) string {
			b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
			h := hex.EncodeToString(b)
			return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
		},
		"Hex32":       hex.EncodeToString,
		"Base64url22": base64.RawURLEncoding.EncodeToString,
	}
	for name, make := range makers {
		t.Run(name, func(t *testing.T) {
			for i := range 100_000 {
				b := make16()
				k := make(b)
				if _, err := chirp.ParseIdempotencyKey(k); err != nil {
					t.Fatalf("key %d %q: %v", i, k, err)
				}
			}
		})
	}
}

// longKey is 255 hex digits without a pattern.
func longKey() string {
	var b strings.Builder
	for i := 0; b.Len() < 255; i++ {
		sum := sha256.Sum256([]byte(fmt.Sprint(i)))
		b.WriteString(hex.EncodeToString(sum[:]))
	}
	return b.String()[:255]
}

func make16() []byte {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprint("crypto/rand: ", err))
	}
	return b
}

// FuzzParseIdempotencyKey sends what a client may put in the header: the parser never panics,
// a key it accepts is one a store may keep (at most 255 bytes of the key alphabet), and a
// refusal is the product's bad_request, with a message JSON can carry as it is.
func FuzzParseIdempotencyKey(f *testing.F) {
	for _, seed := range []string{"", "9b2f4c1e-7a3d-4e8b-b5c6-0d1e2f3a4b5c", "q3ZkP_0xR-7mWb2LtYc9Aw",
		"0000000000000000", "................", "----", "0123456789abcdef0123456789abcdef", "k3J9x_k3J9x_k3J9x_k3J9x_",
		"<a new key from uuidgen>", "é\x00\xff", strings.Repeat("a", 300)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := chirp.ParseIdempotencyKey(s)
		if err != nil {
			if chirp.ErrorCode(err) != chirp.CodeBadRequest {
				t.Fatalf("%q: refused with %v, want a bad_request", s, err)
			}
			if !utf8.ValidString(err.Error()) {
				t.Fatalf("%q: the refusal %q is not UTF-8", s, err.Error())
			}
			return
		}
		if string(k) != s || len(s) == 0 || len(s) > chirp.MaxIdempotencyKey {
			t.Fatalf("%q: accepted as %q", s, k)
		}
		for i := 0; i < len(s); i++ {
			if c := s[i]; !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-_.:", c) >= 0) {
				t.Fatalf("%q: accepted with the byte %q", s, c)
			}
		}
	})
}
