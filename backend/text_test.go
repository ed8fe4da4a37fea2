package chirp_test

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"unicode"

	"github.com/chirp-social/chirp/backend"
)

// textRules mirrors docs/text-rules.json, the vectors the page checks itself against too.
type textRules struct {
	Limits  map[string]int `json:"limits"`
	Vectors []struct {
		Name    string `json:"name"`
		Field   string `json:"field"`
		Input   string `json:"input"`
		Valid   bool   `json:"valid"`
		Stored  string `json:"stored"`
		Length  int    `json:"length"`
		Problem string `json:"problem"`
	} `json:"vectors"`
}

// problemKinds ties the vectors' problem names to the start of the messages the server gives.
var problemKinds = map[string]string{
	"empty":    "must not be empty",
	"too_long": "must be at most",
	"control":  "must not contain",
}

func TestTextRulesVectors(t *testing.T) {
	raw, err := os.ReadFile("../docs/text-rules.json")
	if err != nil {
		t.Fatal(err)
	}
	var rules textRules
	if err := json.Unmarshal(raw, &rules); err != nil {
		t.Fatal(err)
	}
	if rules.Limits["content"] != chirp.MaxContentLength || rules.Limits["author"] != chirp.MaxAuthorLength {
		t.Fatalf("limits in the vectors %v differ from the code's", rules.Limits)
	}
	if len(rules.Vectors) < 30 {
		t.Fatalf("only %d vectors", len(rules.Vectors))
	}
	for _, v := range rules.Vectors {
		if v.Problem == "surrogate" {
			// encoding/json has already turned the lone surrogate into U+FFFD by now: the
			// HTTP layer judges these on the raw body (httpapi's TestTextRulesVectorsOverHTTP).
			continue
		}
		t.Run(v.Name, func(t *testing.T) {
			var stored string
			var err error
			switch v.Field {
			case "content":
				var e chirp.Edit
				e, err = chirp.NewEdit(v.Input)
				stored = e.Content
				// A draft must clean and judge content the same way an edit does.
				d, derr := chirp.NewDraft("someone", v.Input)
				if d.Content != stored || (derr == nil) != (err == nil) {
					t.Fatalf("draft and edit disagree: %q/%v vs %q/%v", d.Content, derr, stored, err)
				}
			case "author":
				var d chirp.Draft
				d, err = chirp.NewDraft(v.Input, "content")
				stored = d.Author
			default:
				t.Fatalf("unknown field %q", v.Field)
			}
			if v.Valid {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				if stored != v.Stored {
					t.Fatalf("stored %q, want %q", stored, v.Stored)
				}
				if n := chirp.TextLength(stored); n != v.Length {
					t.Fatalf("length %d, want %d", n, v.Length)
				}
				return
			}
			var ce *chirp.Error
			if !errors.As(err, &ce) || ce.Code != chirp.CodeInvalid {
				t.Fatalf("want an invalid error, got %v", err)
			}
			msg, ok := ce.Fields[v.Field]
			if !ok || len(ce.Fields) != 1 {
				t.Fatalf("want exactly %q named, got %v", v.Field, ce.Fields)
			}
			if want := problemKinds[v.Problem]; want == "" || !strings.HasPrefix(msg, want) {
				t.Fatalf("problem %q: message %q does not start with %q", v.Problem, msg, want)
			}
		})
	}
}

// TestDefaultIgnorableTable checks the table copied from DerivedCoreProperties.txt against the
// derivation that file states, computed from the standard library's own property tables:
// Other_Default_Ignorable_Code_Point + Cf + Variation_Selector - White_Space - FFF9..FFFB -
// 13430..13440 - Prepended_Concatenation_Mark.
func TestDefaultIgnorableTable(t *testing.T) {
	derived := func(r rune) bool {
		switch {
		case unicode.Is(unicode.White_Space, r), r >= 0xFFF9 && r <= 0xFFFB, r >= 0x13430 && r <= 0x13440,
			unicode.Is(unicode.Prepended_Concatenation_Mark, r):
			return false
		}
		return unicode.In(r, unicode.Other_Default_Ignorable_Code_Point, unicode.Cf, unicode.Variation_Selector)
	}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if got, want := unicode.Is(chirp.DefaultIgnorable, r), derived(r); got != want {
			t.Errorf("U+%04X: in the table %v, by the derivation %v (Unicode %s)", r, got, want, unicode.Version)
		}
	}
}

func TestDraftNamesEveryBadField(t *testing.T) {
	_, err := chirp.NewDraft(" ", strings.Repeat("x", 281))
	var ce *chirp.Error
	if !errors.As(err, &ce) || len(ce.Fields) != 2 {
		t.Fatalf("want both fields named, got %v", err)
	}
}

func TestNewDisplayName(t *testing.T) {
	for _, c := range []struct{ name, in, want, problem string }{
		{"Cleaned", "  Alice ", "Alice", ""},
		{"Empty", " ", "", "display_name"},
		{"TooLong", strings.Repeat("a", chirp.MaxAuthorLength+1), "", "display_name"},
		{"Longest", strings.Repeat("é", chirp.MaxAuthorLength), strings.Repeat("é", chirp.MaxAuthorLength), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := chirp.NewDisplayName(c.in)
			var ce *chirp.Error
			if c.problem != "" {
				if !errors.As(err, &ce) || ce.Code != chirp.CodeInvalid || ce.Fields[c.problem] == "" {
					t.Fatalf("NewDisplayName(%q) = %q, %v; want a problem with %s", c.in, got, err, c.problem)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("NewDisplayName(%q) = %q, %v; want %q", c.in, got, err, c.want)
			}
		})
	}
}

func TestEditToken(t *testing.T) {
	tok, hash, err := chirp.NewEditToken()
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) < 22 { // 128 bits in base64 is 22 characters
		t.Fatalf("token %q is too short", tok)
	}
	tok2, _, _ := chirp.NewEditToken()
	if tok == tok2 {
		t.Fatal("two tokens are the same")
	}
	tests := []struct {
		name  string
		token string
		want  bool
	}{
		{"Right", tok, true},
		{"Other", tok2, false},
		{"Empty", "", false},
		{"Prefix", tok[:len(tok)-1], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := chirp.EditTokenMatches(hash, tt.token); got != tt.want {
				t.Fatalf("match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPageQueryValidate(t *testing.T) {
	tests := []struct {
		name string
		q    chirp.PageQuery
		ok   bool
	}{
		{"Default", chirp.PageQuery{Limit: 20}, true},
		{"MaxAndSince", chirp.PageQuery{Limit: 1, MaxID: 9, SinceID: 2}, true},
		{"MaxAndMin", chirp.PageQuery{Limit: 100, MaxID: 9, MinID: 2, Forward: true}, true},
		{"MinZero", chirp.PageQuery{Limit: 100, MaxID: 9, Forward: true}, true},
		{"MinWithoutForward", chirp.PageQuery{Limit: 100, MaxID: 9, MinID: 2}, false},
		{"LimitZero", chirp.PageQuery{Limit: 0}, false},
		{"LimitTooBig", chirp.PageQuery{Limit: 101}, false},
		{"SinceAndMin", chirp.PageQuery{Limit: 5, SinceID: 1, MinID: 1, Forward: true}, false},
		{"Negative", chirp.PageQuery{Limit: 5, MaxID: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.q.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && chirp.ErrorCode(err) != chirp.CodeBadRequest {
				t.Fatalf("code %q", chirp.ErrorCode(err))
			}
		})
	}
}
