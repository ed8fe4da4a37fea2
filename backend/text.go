package chirp

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Length limits, in Unicode code points after CleanText: what a person counts, never bytes.
const (
	MaxContentLength = 280
	MaxAuthorLength  = 50
)

// Draft is a tweet about to be posted. Build it with NewDraft, which cleans and checks it.
type Draft struct {
	Author  string
	Content string
	// Account, when set, posts the tweet as that account (Author is then its display name):
	// the tweet has no edit token, and its Idempotency-Key is the account's alone.
	Account *TweetAccount
}

// Edit is a tweet's new content. Build it with NewEdit.
type Edit struct {
	Content string
}

// NewDraft cleans author and content (CleanText) and checks them; the error is CodeInvalid and
// names every field at fault.
func NewDraft(author, content string) (Draft, error) {
	d := Draft{Author: CleanText(author), Content: CleanText(content)}
	return d, d.Validate()
}

// NewDisplayName cleans an account's display name (CleanText) and checks it by the rules of a
// tweet's author name, which it becomes on the account's tweets; the error is CodeInvalid
// naming the field "display_name".
func NewDisplayName(name string) (string, error) {
	name = CleanText(name)
	if p := authorProblem(name); p != "" {
		return "", Invalid(map[string]string{"display_name": p})
	}
	return name, nil
}

// Validate checks an already cleaned draft against the text rules.
func (d Draft) Validate() error {
	fields := map[string]string{}
	if p := authorProblem(d.Author); p != "" {
		fields["author"] = p
	}
	if p := contentProblem(d.Content); p != "" {
		fields["content"] = p
	}
	if len(fields) > 0 {
		return Invalid(fields)
	}
	return nil
}

// NewEdit cleans and checks new content for a tweet.
func NewEdit(content string) (Edit, error) {
	e := Edit{Content: CleanText(content)}
	return e, e.Validate()
}

// Validate checks an already cleaned edit against the text rules.
func (e Edit) Validate() error {
	if p := contentProblem(e.Content); p != "" {
		return Invalid(map[string]string{"content": p})
	}
	return nil
}

// CleanText is what the product stores for a piece of text: CR LF and lone CR become LF, the
// text is NFC-normalised (so "é" typed two ways counts and compares the same), and surrounding
// white space is trimmed.
func CleanText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.TrimSpace(norm.NFC.String(s))
}

// TextLength is the length the product counts: Unicode code points.
func TextLength(s string) int { return utf8.RuneCountInString(s) }

func contentProblem(s string) string {
	return textProblem(s, MaxContentLength, true)
}

func authorProblem(s string) string {
	return textProblem(s, MaxAuthorLength, false)
}

// textProblem says what is wrong with cleaned text, or "" when nothing is. Control characters
// (Unicode category Cc) are refused because they are invisible or break layouts, except line
// feed and tab in multi-line text; format characters (Cf), such as the zero-width joiner inside
// emoji sequences, are part of ordinary writing and stay.
//
// Text that holds only white space and default-ignorable code points (zero-width space, word
// joiner, BOM, variation selectors, Hangul fillers…) shows nothing, so it is empty too. Unlike
// white space they are not trimmed, anywhere: the text is stored as written and they count
// towards the length, because beside visible characters they do real work (a ZWJ inside an
// emoji sequence, a variation selector after one).
func textProblem(s string, max int, multiline bool) string {
	n := TextLength(s)
	switch {
	case n == 0:
		return "must not be empty"
	case !hasVisible(s):
		return "must not be empty: white space and invisible characters such as U+200B do not count"
	case n > max:
		return fmt.Sprintf("must be at most %d characters (it has %d)", max, n)
	}
	for _, r := range s {
		if !unicode.Is(unicode.Cc, r) {
			continue
		}
		if multiline && (r == '\n' || r == '\t') {
			continue
		}
		if multiline {
			return "must not contain control characters other than line breaks and tabs"
		}
		return "must not contain line breaks, tabs or other control characters"
	}
	return ""
}

// hasVisible reports whether s holds anything but white space (as strings.TrimSpace sees it) and
// default-ignorable code points.
func hasVisible(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return !unicode.IsSpace(r) && !unicode.Is(defaultIgnorable, r)
	})
}

// defaultIgnorable is Unicode's Default_Ignorable_Code_Point property: code points that a
// renderer shows as nothing when it does not support them. Neither the standard library nor
// golang.org/x/text exports it (unicode has Other_Default_Ignorable_Code_Point, one of its
// ingredients), so this is the property as listed in DerivedCoreProperties.txt of Unicode 15.0.0,
// the version of Go's unicode tables, with adjacent ranges merged. text_test.go checks it
// against the file's own derivation from the standard library's tables; the page uses the
// same property through \p{Default_Ignorable_Code_Point}.
var defaultIgnorable = &unicode.RangeTable{
	R16: []unicode.Range16{
		{Lo: 0x00AD, Hi: 0x00AD, Stride: 1}, // soft hyphen
		{Lo: 0x034F, Hi: 0x034F, Stride: 1}, // combining grapheme joiner
		{Lo: 0x061C, Hi: 0x061C, Stride: 1}, // Arabic letter mark
		{Lo: 0x115F, Hi: 0x1160, Stride: 1}, // Hangul choseong and jungseong fillers
		{Lo: 0x17B4, Hi: 0x17B5, Stride: 1}, // Khmer inherent vowels
		{Lo: 0x180B, Hi: 0x180F, Stride: 1}, // Mongolian variation selectors and vowel separator
		{Lo: 0x200B, Hi: 0x200F, Stride: 1}, // zero-width space, ZWNJ, ZWJ, direction marks
		{Lo: 0x202A, Hi: 0x202E, Stride: 1}, // bidirectional embeddings and overrides
		{Lo: 0x2060, Hi: 0x206F, Stride: 1}, // word joiner, invisible operators, bidi isolates
		{Lo: 0x3164, Hi: 0x3164, Stride: 1}, // Hangul filler
		{Lo: 0xFE00, Hi: 0xFE0F, Stride: 1}, // variation selectors
		{Lo: 0xFEFF, Hi: 0xFEFF, Stride: 1}, // zero-width no-break space (BOM)
		{Lo: 0xFFA0, Hi: 0xFFA0, Stride: 1}, // halfwidth Hangul filler
		{Lo: 0xFFF0, Hi: 0xFFF8, Stride: 1}, // unassigned, reserved as ignorable
	},
	R32: []unicode.Range32{
		{Lo: 0x1BCA0, Hi: 0x1BCA3, Stride: 1}, // shorthand format controls
		{Lo: 0x1D173, Hi: 0x1D17A, Stride: 1}, // musical symbol format controls
		{Lo: 0xE0000, Hi: 0xE0FFF, Stride: 1}, // tags, variation selectors supplement, reserved
	},
	LatinOffset: 1,
}
