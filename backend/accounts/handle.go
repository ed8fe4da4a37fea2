// Package accounts holds the rules of an account that need no database: what a handle may be,
// which passwords are refused, how a password is hashed and checked, and what a session token
// looks like. The stores keep accounts and sessions; the HTTP layer calls these rules.
package accounts

import (
	"fmt"
	"strings"
	"unicode/utf8"

	chirp "github.com/chirp-social/chirp/backend"
)

// MaxHandleLength is the longest handle, in characters (a handle is ASCII, so also in bytes).
const MaxHandleLength = 30

// Handle is an account's unique name, canonical: lower case, [a-z0-9_]{1,30}, not reserved.
// Only ParseHandle makes one from user input, so two handles are the same account exactly when
// they are equal strings.
type Handle string

// String returns the handle without the '@' the page shows before it.
func (h Handle) String() string { return string(h) }

// reservedHandles are refused so that no account can pass for the service or shadow a path.
var reservedHandles = map[Handle]bool{
	// Names people read as the service itself or its staff: an account with one could
	// impersonate them in a reply or a profile.
	"admin": true, "administrator": true, "root": true, "system": true, "chirp": true,
	"support": true, "help": true, "staff": true, "moderator": true, "official": true,
	"security": true,
	// Words of the API's and the page's paths (/api, /api/me, /api/sessions, the page's
	// routes, the static host's directories): a profile at /#/@me or /static must never be
	// someone's. socket.io's path needs no entry: '.' is never in a handle.
	"api": true, "me": true, "settings": true, "signin": true, "signup": true, "login": true,
	"logout": true, "register": true, "account": true, "accounts": true, "session": true,
	"sessions": true, "about": true, "www": true, "static": true, "assets": true,
	"healthz": true, "metrics": true,
	// What a buggy client sends when it has no value, and the word for a tweet without an
	// account: a tweet must never look as if "null" or "guest" wrote it.
	"null": true, "undefined": true, "guest": true,
}

// IsReserved reports whether h is one of the handles no account may take.
func IsReserved(h Handle) bool { return reservedHandles[h] }

// ParseHandle checks a handle a person typed and returns it canonical. ASCII upper case is
// folded to lower case, so "Alice" and "alice" are one account. One leading '@' is stripped,
// because people write a handle as they see it on the page ("@alice"); any other character
// outside [a-z0-9_] is refused, naming it, and nothing is folded or normalised beyond ASCII
// case: a Cyrillic 'а' or a fullwidth 'ａ' looks like 'a' but would make a second "alice".
// Errors are chirp.Invalid with the field "handle".
func ParseHandle(s string) (Handle, error) {
	s = strings.TrimPrefix(s, "@")
	if s == "" {
		return "", handleInvalid("handle is required")
	}
	for i, r := range s {
		if !handleRune(r) {
			return "", handleInvalid(fmt.Sprintf(
				"handle may contain only the letters a-z, the digits 0-9 and _; %s at position %d is not allowed",
				describeRune(r), utf8.RuneCountInString(s[:i])+1))
		}
	}
	// Every rune is ASCII now, so bytes are characters.
	if len(s) > MaxHandleLength {
		return "", handleInvalid(fmt.Sprintf("handle must be at most %d characters, not %d", MaxHandleLength, len(s)))
	}
	h := Handle(strings.ToLower(s))
	if IsReserved(h) {
		return "", handleInvalid(fmt.Sprintf("handle %q is reserved", string(h)))
	}
	return h, nil
}

func handleRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_'
}

// describeRune names a refused character so that a lookalike is told apart from the letter it
// imitates: "'а' (U+0430)"; %q escapes what would not print.
func describeRune(r rune) string {
	switch {
	case r == utf8.RuneError:
		return "a byte that is not UTF-8 (or U+FFFD)"
	case r == ' ':
		return "a space"
	default:
		return fmt.Sprintf("%q (%U)", r, r)
	}
}

func handleInvalid(msg string) error {
	return chirp.Invalid(map[string]string{"handle": msg})
}
