package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/httpapi"
)

// The fuzz targets below send what a client could send through the real router and its
// middleware (httpapi.New's handler), over a store kept in memory so that millions of inputs
// run in minutes: the targets are the reading and checking of requests, which the store never
// sees unless they pass. Nothing may panic (recoverPanics would answer 500), answer 500, answer
// anything but JSON, or allocate far more than the request's size. `go test` runs the seeds
// (here and in testdata/fuzz); `make fuzz` looks further.

// memStore is a chirp.TweetStore holding tweet 1 (edit token "t0ken") and accepting any create.
type memStore struct{}

var fuzzTweet = chirp.Tweet{ID: 1, Author: "a", Content: "c", CreatedAt: time.Unix(0, 0), UpdatedAt: time.Unix(0, 0)}

func (memStore) CreateTweet(_ context.Context, d chirp.Draft, _ []byte) (chirp.Tweet, error) {
	t := fuzzTweet
	t.Author, t.Content = d.Author, d.Content
	return t, nil
}

// CreateTweetOnce treats every key as new: the fuzz targets judge how requests are read, not
// what the store keeps.
func (s memStore) CreateTweetOnce(ctx context.Context, d chirp.Draft, token string, _ chirp.IdempotencyKey) (chirp.Created, error) {
	t, err := s.CreateTweet(ctx, d, nil)
	return chirp.Created{Tweet: t, EditToken: token}, err
}

func (memStore) Tweet(_ context.Context, id int64) (chirp.Tweet, error) {
	if id != 1 {
		return chirp.Tweet{}, chirp.Errorf(chirp.CodeNotFound, "no tweet %d", id)
	}
	return fuzzTweet, nil
}

func (memStore) Tweets(_ context.Context, q chirp.PageQuery) ([]chirp.Tweet, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	return []chirp.Tweet{fuzzTweet}, nil
}

func (s memStore) AuthorizeEdit(ctx context.Context, id int64, token string) error {
	if _, err := s.Tweet(ctx, id); err != nil {
		return err
	}
	if token != "t0ken" {
		return chirp.Errorf(chirp.CodeForbidden, "wrong token")
	}
	return nil
}

func (s memStore) UpdateTweet(_ context.Context, id int64, e chirp.Edit) (chirp.Tweet, error) {
	t := fuzzTweet
	t.Content = e.Content
	return t, nil
}

func (memStore) DeleteTweet(context.Context, int64) error { return nil }
func (memStore) Ping(context.Context) error               { return nil }

func fuzzHandler() http.Handler {
	return httpapi.New(httpapi.Config{Store: memStore{}, Accounts: memAccounts{}, Passwords: plainPasswords{}, RequestTimeout: 5 * time.Second})
}

// serveFuzzed sends one request through handler and checks the answer against allowed.
func serveFuzzed(t *testing.T, handler http.Handler, req *http.Request, size int, allowed ...int) *httptest.ResponseRecorder {
	t.Helper()
	var sent []byte
	if req.Body != nil {
		sent, _ = io.ReadAll(req.Body) // before the count: the body is the fuzzer's, not the API's
		req.Body = io.NopCloser(bytes.NewReader(sent))
	}
	before := allocatedBytes()
	w := httptest.NewRecorder()
	handler.ServeHTTP(w, req)
	if grown := allocatedBytes() - before; grown > 4<<20+64*uint64(size) {
		t.Fatalf("%s %.80q allocated %d bytes for a %d-byte request", req.Method, req.URL.RequestURI(), grown, size)
	}
	found := false
	for _, s := range allowed {
		found = found || s == w.Code
	}
	if !found {
		t.Fatalf("%s %.80q answered %d %.200s, want one of %v", req.Method, req.URL.RequestURI(), w.Code, w.Body, allowed)
	}
	if ct := w.Header().Get("Content-Type"); w.Code == http.StatusNoContent && w.Body.Len() > 0 ||
		w.Code != http.StatusNoContent && (!strings.HasPrefix(ct, "application/json") || !json.Valid(w.Body.Bytes())) {
		t.Fatalf("%s answered %d with %q: %.200q", req.Method, w.Code, ct, w.Body)
	}
	// Whatever the fuzzer sends, the answer is one the OpenAPI document describes, and a
	// request the API accepted is one the document allows.
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.check(req, sent, w.Code, w.Header(), w.Body.Bytes()); err != nil {
		t.Fatalf("%s %.80q: %v", req.Method, req.URL.RequestURI(), err)
	}
	return w
}

// checkStoredText fails when a 2xx answer carries text the rules should have refused.
func checkStoredText(t *testing.T, w *httptest.ResponseRecorder, body []byte) {
	t.Helper()
	var got struct{ Author, Content string }
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{got.Author, got.Content} {
		// U+FFFD only where the client sent it: a lone surrogate escape must not become one.
		sentFFFD := bytes.Contains(body, []byte("\uFFFD")) || bytes.Contains(bytes.ToLower(body), []byte(`\ufffd`))
		if !utf8.ValidString(s) || strings.ContainsRune(s, utf8.RuneError) && !sentFFFD {
			t.Fatalf("accepted %.200q and stored %q", body, s)
		}
	}
	if n := utf8.RuneCountInString(got.Content); n == 0 || n > 4*280 {
		t.Fatalf("accepted content of %d characters from %.200q", n, body)
	}
}

func FuzzCreateTweet(f *testing.F) {
	for _, seed := range []struct{ contentType, body string }{
		{"application/json", `{"author":"ann","content":"hello"}`},
		{"application/json; charset=utf-8", `{"author":"ann","content":"a\u00e9\ud83d\ude00"}`},
		{"application/json", `{"author":"ann","content":"\ud800"}`},
		{"application/json", `{"author":"\udc00x","content":"lone low"}`},
		{"application/json", `{"author":"ann","content":"\\ud800"}`},
		{"application/json", `{"author":"ann","content":"hi"} {"second":1}`},
		{"application/json", `{"author":"ann","content":18446744073709551615}`},
		{"application/json", `{"author":null,"content":[1,2]}`},
		{"application/json", `null`},
		{"application/json", `"text"`},
		{"application/json", ``},
		{"application/json", "{\"author\":\"ann\",\"content\":\"\xff\"}"},
		{"text/plain", `{"author":"ann","content":"hello"}`},
		{"application/json", `{"author":"ann","content":"` + strings.Repeat("x", 281) + `"}`},
		{"application/json", `{"author":"ann","content":"` + strings.Repeat("é", 280) + `"}`},
		{"application/json", `{"author":"ann","content":" \u200b\u0000 "}`},
		{"application/json", `[` + strings.Repeat(`[`, 2000)},
	} {
		f.Add(seed.contentType, []byte(seed.body))
	}
	handler := fuzzHandler()
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		req := httptest.NewRequest("POST", "/api/tweets", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		w := serveFuzzed(t, handler, req, len(body)+len(contentType), 201, 400, 413, 415, 422)
		if w.Code == 201 {
			checkStoredText(t, w, body)
		}
	})
}

func FuzzEditTweet(f *testing.F) {
	for _, seed := range []struct{ id, authorization, body string }{
		{"1", "Bearer t0ken", `{"content":"edited"}`},
		{"1", "Bearer t0ken", `{"content":"\ud800"}`},
		{"1", "Bearer t0ken", `{"content":"\\ud800\udfff"}`},
		{"1", "Bearer t0ken", `{"content":18446744073709551615}`},
		{"1", "bearer  t0ken ", `{"content":"x","author":"ignored"}`},
		{"1", "Bearer wrong", `{"content":"x"}`},
		{"1", "", `{"content":"x"}`},
		{"2", "Bearer t0ken", `{"content":"x"}`},
		{"18446744073709551615", "Bearer t0ken", `{"content":"x"}`},
		{"9223372036854775807", "Bearer t0ken", `{"content":"x"}`},
		{"0", "Bearer t0ken", `{"content":"x"}`},
		{"01", "Bearer t0ken", `{"content":"x"}`},
		{"-1", "Bearer t0ken", `{"content":"x"}`},
		{"1", "Bearer t0ken", `{}`},
	} {
		f.Add(seed.id, seed.authorization, []byte(seed.body))
	}
	handler := fuzzHandler()
	f.Fuzz(func(t *testing.T, id, authorization string, body []byte) {
		req, err := http.NewRequest("PATCH", "http://chirp.test/api/tweets/"+id, bytes.NewReader(body))
		if err != nil || req.URL.Path != "/api/tweets/"+id || strings.Contains(id, "/") {
			return // another path (Gin redirects /api/tweets// to /api/tweets/), not an id
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", authorization)
		w := serveFuzzed(t, handler, req, len(id)+len(authorization)+len(body), 200, 400, 401, 403, 404, 405, 413, 422)
		if w.Code == 200 {
			checkStoredText(t, w, body)
		}
	})
}

func FuzzListQuery(f *testing.F) {
	for _, seed := range []string{
		"", "limit=20", "max_id=100&since_id=5", "min_id=0", "min_id=0&limit=100", "since_id=0",
		"max_id=0", "limit=0", "limit=101", "limit=18446744073709551615", "max_id=18446744073709551615",
		"max_id=9223372036854775807", "max_id=9223372036854775808", "since_id=1&min_id=1",
		"max_id=1&max_id=2", "max_id=-1", "max_id=+1", "max_id=01", "max_id=1e3", "limit=%00",
		"%zz", "max_id=%E2%80%8B1", ";;;&&&==",
	} {
		f.Add(seed)
	}
	handler := fuzzHandler()
	f.Fuzz(func(t *testing.T, query string) {
		req, err := http.NewRequest("GET", "http://chirp.test/api/tweets?"+query, nil)
		if err != nil {
			return
		}
		serveFuzzed(t, handler, req, len(query), 200, 400)
	})
}

func allocatedBytes() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}
