package accounts

import (
	"fmt"
	"strings"
	"unicode/utf8"

	chirp "github.com/chirp-social/chirp/backend"
	"golang.org/x/text/unicode/norm"
)

// The length rule of NIST SP 800-63B (5.1.1.2): at least 8 characters, and room for passphrases.
// Characters are Unicode code points after NFC, so "é" typed precomposed or as e + accent
// counts once either way.
const (
	MinPasswordLength = 8
	MaxPasswordLength = 128
)

// maxPasswordBytes refuses a huge input before it is normalised. Canonical composition turns at
// most 4 code points into one, and a code point is at most 4 bytes, so no password within
// MaxPasswordLength after NFC is longer.
const maxPasswordBytes = MaxPasswordLength * 4 * utf8.UTFMax

// CheckPassword applies the password rules of NIST SP 800-63B to a new password: its length in
// characters, and not one anybody would guess first. Every Unicode character is allowed
// (spaces, emoji) and there are no composition rules ("a digit and a symbol"), which the
// guideline advises against. Refused: the account's own handle, compared ignoring case (only
// equality: "alice2024" is long and rare enough to be the user's choice), and the commonest
// passwords (CommonPassword). Errors are chirp.Invalid with the field "password".
func CheckPassword(password string, handle Handle) error {
	if !utf8.ValidString(password) {
		return passwordInvalid("password must be text (valid UTF-8)")
	}
	if len(password) > maxPasswordBytes {
		return passwordInvalid(fmt.Sprintf("password must be at most %d characters", MaxPasswordLength))
	}
	p := norm.NFC.String(password)
	switch n := utf8.RuneCountInString(p); {
	case n < MinPasswordLength:
		return passwordInvalid(fmt.Sprintf("password must be at least %d characters, not %d", MinPasswordLength, n))
	case n > MaxPasswordLength:
		return passwordInvalid(fmt.Sprintf("password must be at most %d characters, not %d", MaxPasswordLength, n))
	}
	if handle != "" && strings.EqualFold(p, string(handle)) {
		return passwordInvalid("password must not be your handle")
	}
	if isCommonPassword(strings.ToLower(p)) {
		return passwordInvalid("this password is one of the most common ones and is guessed first; choose another")
	}
	return nil
}

// CommonPassword reports whether password, ignoring case, is on the list of common passwords
// CheckPassword refuses.
func CommonPassword(password string) bool {
	return isCommonPassword(strings.ToLower(norm.NFC.String(password)))
}

func passwordInvalid(msg string) error {
	return chirp.Invalid(map[string]string{"password": msg})
}
