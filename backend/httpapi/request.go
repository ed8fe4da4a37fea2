package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/chirp-social/chirp/backend"
)

// MaxBodyBytes caps a request body: a tweet is at most 280 characters of up to 4 bytes, so
// 16 KiB leaves room for JSON escapes and unknown fields without inviting abuse.
const MaxBodyBytes = 16 << 10

// jsonObject is a request body decoded one level deep, so that each known field can be judged
// on its own (missing, null, wrong type) after the checks that must come first.
type jsonObject map[string]json.RawMessage

// readObject reads a JSON object body, checking the request's shape in order: media type
// (415), size (413), then syntax (400).
func readObject(c *gin.Context) (jsonObject, error) {
	ct := c.GetHeader("Content-Type")
	media, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || media != "application/json" {
		return nil, chirp.Errorf(chirp.CodeUnsupportedMediaType, "the body must be JSON sent as Content-Type: application/json")
	}
	tooLarge := chirp.Errorf(chirp.CodeTooLarge, "the body must be at most %d bytes", MaxBodyBytes)
	if c.Request.ContentLength > MaxBodyBytes {
		return nil, tooLarge
	}
	// Reading the whole (capped) body before decoding means the cap trips even when the
	// decoder would have stopped early, and a second value after the object is seen.
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes))
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return nil, tooLarge
		}
		if errors.Is(err, os.ErrDeadlineExceeded) { // bodyDeadline's
			return nil, chirp.Errorf(chirp.CodeRequestTimeout, "the body did not arrive in time; send it whole, promptly")
		}
		return nil, chirp.Errorf(chirp.CodeBadRequest, "the body could not be read")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, chirp.Errorf(chirp.CodeBadRequest, "the body is empty; send a JSON object")
	}
	if !utf8.Valid(body) {
		return nil, chirp.Errorf(chirp.CodeBadRequest, "the body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var obj jsonObject
	if err := dec.Decode(&obj); err != nil {
		var syntaxErr *json.SyntaxError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntaxErr):
			return nil, chirp.Errorf(chirp.CodeBadRequest, "the body is not valid JSON (at byte %d)", syntaxErr.Offset)
		case errors.As(err, &typeErr):
			return nil, chirp.Errorf(chirp.CodeBadRequest, "the body must be a JSON object, not %s", typeErr.Value)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, chirp.Errorf(chirp.CodeBadRequest, "the body is not valid JSON (it ends too early)")
		default:
			return nil, chirp.Errorf(chirp.CodeBadRequest, "the body is not valid JSON")
		}
	}
	if obj == nil {
		return nil, chirp.Errorf(chirp.CodeBadRequest, "the body must be a JSON object, not null")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, chirp.Errorf(chirp.CodeBadRequest, "the body must hold a single JSON object")
	}
	return obj, nil
}

// str reads a required string field, recording in problems why it is missing or not a string.
func (o jsonObject) str(name string, problems map[string]string) string {
	raw, ok := o[name]
	if !ok || string(raw) == "null" {
		problems[name] = "is required"
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		problems[name] = "must be a string"
		return ""
	}
	if hasLoneSurrogate(raw) {
		problems[name] = `must not contain a lone surrogate (a \uD800–\uDFFF escape that is not half of a high-low pair)`
		return ""
	}
	return s
}

// hasLoneSurrogate reports whether a JSON string literal holds a \u escape of a UTF-16
// surrogate (D800–DFFF) that is not a high one directly followed by a low one. encoding/json
// quietly turns such an escape into U+FFFD, so the raw text is judged instead. raw has already
// decoded as a string, so every escape in it is well formed; an escaped backslash (\\ud800) is
// passed over whole and starts no escape.
func hasLoneSurrogate(raw []byte) bool {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		r, ok := unicodeEscape(raw[i:])
		if !ok {
			i++ // a two-character escape such as \\ or \"
			continue
		}
		i += 5
		if !utf16.IsSurrogate(r) {
			continue
		}
		low, ok := unicodeEscape(raw[i+1:])
		if !ok || utf16.DecodeRune(r, low) == unicode.ReplacementChar {
			return true
		}
		i += 6
	}
	return false
}

// unicodeEscape reads a \uXXXX escape (hex digits in either case) at the start of b.
func unicodeEscape(b []byte) (rune, bool) {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[2:6]), 16, 16)
	return rune(n), err == nil
}

// invalid merges the type problems found while reading fields with the text rules' verdict,
// keeping the first problem of each field.
func invalid(problems map[string]string, ruleErr error) error {
	var e *chirp.Error
	if errors.As(ruleErr, &e) {
		for field, p := range e.Fields {
			if _, seen := problems[field]; !seen {
				problems[field] = p
			}
		}
	} else if ruleErr != nil {
		return ruleErr
	}
	if len(problems) > 0 {
		return chirp.Invalid(problems)
	}
	return nil
}

// parseID reads a tweet's path id.
func parseID(s string) (int64, error) { return parseIDOf("tweet", s) }

// parseIDOf reads the path id of a thing: 1..2^63-1 in plain decimal (no sign, no leading
// zeros).
func parseIDOf(thing, s string) (int64, error) {
	id, ok := parseDecimal(s)
	if !ok || id == 0 {
		return 0, chirp.Errorf(chirp.CodeBadRequest, "%s id %q must be a whole number from 1 to %d", thing, s, int64(chirp.NoMaxID))
	}
	return id, nil
}

func parseDecimal(s string) (int64, bool) {
	if s == "" || (len(s) > 1 && s[0] == '0') || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// pageQuery parses the list query. Each parameter may appear once; ids may be 0.
func pageQuery(values url.Values) (chirp.PageQuery, error) {
	q := chirp.NewestPage()
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"max_id", &q.MaxID}, {"since_id", &q.SinceID}, {"min_id", &q.MinID}} {
		v, present, err := single(values, p.name)
		if err != nil {
			return q, err
		}
		if !present {
			continue
		}
		n, ok := parseDecimal(v)
		if !ok {
			return q, chirp.Errorf(chirp.CodeBadRequest, "%s must be a whole number from 0 to %d", p.name, int64(chirp.NoMaxID))
		}
		*p.dst = n
	}
	if values.Has("since_id") && values.Has("min_id") {
		return q, chirp.Errorf(chirp.CodeBadRequest, "since_id and min_id cannot be combined: since_id takes the newest tweets above it, min_id the oldest")
	}
	q.Forward = values.Has("min_id")
	v, present, err := single(values, "limit")
	if err != nil {
		return q, err
	}
	if present {
		n, ok := parseDecimal(v)
		if !ok || n < 1 || n > chirp.MaxPageSize {
			return q, chirp.Errorf(chirp.CodeBadRequest, "limit must be a whole number from 1 to %d", chirp.MaxPageSize)
		}
		q.Limit = int(n)
	}
	return q, q.Validate()
}

func single(values url.Values, name string) (v string, present bool, err error) {
	switch vs := values[name]; len(vs) {
	case 0:
		return "", false, nil
	case 1:
		return vs[0], true, nil
	default:
		return "", true, chirp.Errorf(chirp.CodeBadRequest, "%s is given %d times; give it once", name, len(vs))
	}
}

// nextLink is the Link header for the page after a full one: the same path and query, with
// max_id moved to the last (oldest) id returned.
func nextLink(path string, q chirp.PageQuery, lastID int64) string {
	v := url.Values{}
	v.Set("limit", strconv.Itoa(q.Limit))
	v.Set("max_id", strconv.FormatInt(lastID, 10))
	if q.SinceID > 0 {
		v.Set("since_id", strconv.FormatInt(q.SinceID, 10))
	}
	if q.Forward {
		v.Set("min_id", strconv.FormatInt(q.MinID, 10))
	}
	return fmt.Sprintf(`<%s?%s>; rel="next"`, path, v.Encode())
}
