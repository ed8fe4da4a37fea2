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
func textProblem(s string, max int, multiline bool) string {
	n := TextLength(s)
	switch {
	case n == 0:
		return "must not be empty"
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
