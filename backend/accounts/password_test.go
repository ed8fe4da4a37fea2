package accounts_test

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/chirp-social/chirp/backend/accounts"
	"golang.org/x/text/unicode/norm"
)

func TestCheckPassword(t *testing.T) {
	const eAcute = "e\u0301" // two code points, one character once composed
	ok := []struct{ name, password string }{
		{"Passphrase", "correct horse battery staple"},
		{"EightCharacters", "zq8vLm2p"},
		{"OnlySpaces", strings.Repeat(" ", 8)},
		{"Emoji", strings.Repeat("🔑", 8)},
		{"EightOnceComposed", strings.Repeat(eAcute, 8)},
		{"LongestComposed", strings.Repeat(eAcute, 128)},
		{"Longest", strings.Repeat("x", 127) + "y"},
		{"HandleWithMore", "alice_1234!"},
		{"CommonWithMore", "password-for-chirp"},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			if err := accounts.CheckPassword(c.password, "alice_1234"); err != nil {
				t.Fatalf("CheckPassword(%q): %v", c.password, err)
			}
		})
	}

	refused := []struct{ name, password, says string }{
		{"Empty", "", "at least 8 characters, not 0"},
		{"Seven", "zq8vLm2", "at least 8 characters, not 7"},
		{"SevenOnceComposed", strings.Repeat(eAcute, 7), "at least 8 characters, not 7"},
		{"TooLong", strings.Repeat("x", 129), "at most 128 characters, not 129"},
		{"TooLongComposed", strings.Repeat(eAcute, 129), "at most 128 characters, not 129"},
		{"Huge", strings.Repeat("x", 1<<20), "at most 128 characters"},
		{"NotUTF8", "zq8vLm2p\xff", "valid UTF-8"},
		{"Handle", "alice_1234", "your handle"},
		{"HandleOtherCase", "ALICE_1234", "your handle"},
		{"Common", "password", "most common"},
		{"CommonOtherCase", "PassWord", "most common"},
		{"CommonDigits", "12345678", "most common"},
		{"CommonKeyboard", "qwertyuiop", "most common"},
		{"CommonNineDigits", "123456789", "most common"},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			err := accounts.CheckPassword(c.password, "alice_1234")
			if err == nil {
				t.Fatalf("CheckPassword(%.40q) passed, want an error", c.password)
			}
			if msg := fieldProblem(t, err, "password"); !strings.Contains(msg, c.says) {
				t.Fatalf("CheckPassword(%.40q): %q does not say %q", c.password, msg, c.says)
			}
		})
	}
}

// TestCommonPasswordsList checks the generated file is what CheckPassword assumes: folded,
// sorted, unique, within the length rule, and the real list (its best-known entries present).
func TestCommonPasswordsList(t *testing.T) {
	lines := strings.Split(strings.TrimSuffix(accounts.CommonPasswordsText, "\n"), "\n")
	if len(lines) < 9000 {
		t.Fatalf("%d common passwords, want the ~9,500 of zxcvbn's top 30,000 within the length rule", len(lines))
	}
	if !slices.IsSorted(lines) || len(slices.Compact(slices.Clone(lines))) != len(lines) {
		t.Fatal("the list is not sorted and unique")
	}
	for _, l := range lines {
		n := utf8.RuneCountInString(l)
		if l != strings.ToLower(norm.NFC.String(l)) || n < accounts.MinPasswordLength || n > accounts.MaxPasswordLength {
			t.Fatalf("%q: not folded or outside the length rule", l)
		}
	}
	for _, p := range []string{"password", "12345678", "qwertyuiop", "iloveyou", "sunshine", "trustno1", "football"} {
		if !accounts.CommonPassword(p) || !accounts.CommonPassword(strings.ToUpper(p)) {
			t.Errorf("%q is not on the list", p)
		}
	}
	if accounts.CommonPassword("correct horse battery staple") {
		t.Error("a passphrase is on the list")
	}
}

func FuzzCheckPassword(f *testing.F) {
	f.Add("correct horse battery staple", "alice")
	f.Add("password", "alice")
	f.Add("ALICE_1234", "alice_1234")
	f.Add(strings.Repeat("e\u0301", 8), "bob")
	f.Add("zq8vLm2p\xff", "bob")
	f.Add(strings.Repeat("\u0344", 50), "bob")
	f.Fuzz(func(t *testing.T, password, handle string) {
		h, err := accounts.ParseHandle(handle)
		if err != nil {
			h = "" // an account always has a valid handle
		}
		if err := accounts.CheckPassword(password, h); err != nil {
			fieldProblem(t, err, "password")
			return
		}
		p := norm.NFC.String(password)
		if n := utf8.RuneCountInString(p); !utf8.ValidString(password) || n < accounts.MinPasswordLength || n > accounts.MaxPasswordLength {
			t.Fatalf("CheckPassword(%q) passed with %d characters", password, n)
		}
		if accounts.CommonPassword(password) || (h != "" && strings.EqualFold(p, string(h))) {
			t.Fatalf("CheckPassword(%q, %q) passed a common password or the handle", password, h)
		}
	})
}
