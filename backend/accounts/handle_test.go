package accounts_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	chirp "github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/accounts"
)

// fieldProblem returns the message err gives for field, failing unless err is chirp.Invalid.
func fieldProblem(t testing.TB, err error, field string) string {
	t.Helper()
	if chirp.ErrorCode(err) != chirp.CodeInvalid {
		t.Fatalf("error %v: want code %q", err, chirp.CodeInvalid)
	}
	var e *chirp.Error
	_ = errors.As(err, &e)
	msg := e.Fields[field]
	if msg == "" {
		t.Fatalf("error %v names no problem with %q", err, field)
	}
	return msg
}

func TestParseHandle(t *testing.T) {
	ok := []struct{ name, in, want string }{
		{"Lower", "alice", "alice"},
		{"OneCharacter", "a", "a"},
		{"DigitsAndUnderscore", "_bob_42", "_bob_42"},
		{"UpperFolded", "Alice_B", "alice_b"},
		{"AtStripped", "@alice", "alice"},
		{"AtAndUpper", "@ALICE", "alice"},
		{"Longest", strings.Repeat("z", 30), strings.Repeat("z", 30)},
		{"ReservedWordInside", "admin_fan", "admin_fan"},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			h, err := accounts.ParseHandle(c.in)
			if err != nil {
				t.Fatalf("ParseHandle(%q): %v", c.in, err)
			}
			if string(h) != c.want {
				t.Fatalf("ParseHandle(%q) = %q, want %q", c.in, h, c.want)
			}
		})
	}

	refused := []struct{ name, in, says string }{
		{"Empty", "", "required"},
		{"OnlyAt", "@", "required"},
		{"TwoAts", "@@alice", `'@' (U+0040) at position 1`},
		{"AtInside", "al@ice", `'@' (U+0040) at position 3`},
		{"Space", "al ice", "a space at position 3"},
		{"LeadingSpace", " alice", "a space at position 1"},
		{"TrailingNewline", "alice\n", `'\n' (U+000A) at position 6`},
		{"CyrillicA", "\u0430lice", `'а' (U+0430) at position 1`},
		{"CyrillicInside", "ali\u0441e", `'с' (U+0441) at position 4`},
		{"FullwidthA", "\uff41lice", `'ａ' (U+FF41)`},
		{"ZeroWidthSpace", "ali\u200bce", `'\u200b' (U+200B) at position 4`},
		{"LatinWithAccent", "alicé", `'é' (U+00E9) at position 5`},
		{"KelvinSign", "\u212aelvin", "U+212A"}, // folds to 'k' under Unicode case rules
		{"Dot", "socket.io", `'.' (U+002E) at position 7`},
		{"Hyphen", "alice-b", `'-' (U+002D)`},
		{"NotUTF8", "ali\xffce", "not UTF-8"},
		{"TooLong", strings.Repeat("z", 31), "at most 30 characters, not 31"},
		{"Reserved", "admin", `"admin" is reserved`},
		{"ReservedUpper", "ROOT", `"root" is reserved`},
		{"ReservedWithAt", "@me", `"me" is reserved`},
		{"ReservedNull", "null", `"null" is reserved`},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			h, err := accounts.ParseHandle(c.in)
			if err == nil {
				t.Fatalf("ParseHandle(%q) = %q, want an error", c.in, h)
			}
			if msg := fieldProblem(t, err, "handle"); !strings.Contains(msg, c.says) {
				t.Fatalf("ParseHandle(%q): %q does not say %q", c.in, msg, c.says)
			}
		})
	}
}

// TestReservedHandlesAreHandles keeps the list honest: an entry the alphabet refuses anyway
// would be dead, and every entry must be refused as reserved in any case.
func TestReservedHandlesAreHandles(t *testing.T) {
	for _, h := range accounts.ReservedHandles() {
		if !handleForm.MatchString(string(h)) {
			t.Errorf("reserved %q is not of a handle's form", h)
		}
		for _, in := range []string{string(h), strings.ToUpper(string(h)), "@" + string(h)} {
			_, err := accounts.ParseHandle(in)
			if err == nil || !strings.Contains(fieldProblem(t, err, "handle"), "reserved") {
				t.Errorf("ParseHandle(%q) = %v, want reserved", in, err)
			}
		}
	}
}

var handleForm = regexp.MustCompile(`^[a-z0-9_]{1,30}$`)

func FuzzParseHandle(f *testing.F) {
	for _, s := range []string{"alice", "@Alice", "@@a", "\u0430lice", "\uff41", "admin", "a b", strings.Repeat("x", 31), "ali\xffce", "\u212a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := accounts.ParseHandle(s)
		if err != nil {
			fieldProblem(t, err, "handle")
			return
		}
		if !handleForm.MatchString(string(h)) || accounts.IsReserved(h) {
			t.Fatalf("ParseHandle(%q) = %q: not a handle", s, h)
		}
		// Only ASCII case and one '@' may differ between what was typed and the handle.
		if want := strings.ToLower(strings.TrimPrefix(s, "@")); string(h) != want {
			t.Fatalf("ParseHandle(%q) = %q, want %q", s, h, want)
		}
		if again, err := accounts.ParseHandle(string(h)); err != nil || again != h {
			t.Fatalf("ParseHandle(%q) = %q, %v: a handle must parse as itself", h, again, err)
		}
	})
}
