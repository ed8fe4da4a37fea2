package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/accounts"
	"github.com/chirp-social/chirp/backend/gormstore"
	"github.com/chirp-social/chirp/backend/httpapi"
	"github.com/chirp-social/chirp/backend/passkeys"
)

// events records what the API announced.
type events struct {
	mu  sync.Mutex
	got []string
}

func (e *events) add(s string) { e.mu.Lock(); e.got = append(e.got, s); e.mu.Unlock() }

func (e *events) TweetCreated(t chirp.Tweet) { e.add("created " + itoa(t.ID)) }
func (e *events) TweetUpdated(t chirp.Tweet) { e.add("updated " + itoa(t.ID)) }
func (e *events) TweetDeleted(id int64)      { e.add("deleted " + itoa(id)) }

func (e *events) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.got...)
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// server is the real router over a real store, served on a free port.
type server struct {
	t      *testing.T
	url    string
	store  *gormstore.Store
	events *events
}

// on is the server as a subtest uses it: its helpers fail the subtest, on the subtest's own
// goroutine, rather than the test that made the server.
func (s *server) on(t *testing.T) *server {
	c := *s
	c.t = t
	return &c
}

func openStore(t *testing.T, databaseURL string) *gormstore.Store {
	t.Helper()
	s, err := gormstoreOpen(databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newServer(t *testing.T, databaseURL string, cfg httpapi.Config) *server {
	t.Helper()
	s := &server{t: t, store: openStore(t, databaseURL), events: &events{}}
	if cfg.Store == nil {
		cfg.Store = s.store
	}
	cfg.Announcer = s.events
	withAccounts(t, &cfg, s.store)
	ts := httptest.NewServer(checked(t, httpapi.New(cfg)))
	t.Cleanup(ts.Close)
	s.url = ts.URL
	return s
}

type response struct {
	status int
	header http.Header
	body   string
}

// json decodes the body into v, failing the test when it is not JSON.
func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("body %q is not JSON: %v", r.body, err)
	}
}

// errorCode checks the body is the product's JSON error and returns its code.
func (r response) errorCode(t *testing.T) string {
	t.Helper()
	var e struct {
		Error struct {
			Code    string            `json:"code"`
			Message string            `json:"message"`
			Fields  map[string]string `json:"fields"`
		} `json:"error"`
	}
	r.json(t, &e)
	if e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("not an error body: %s", r.body)
	}
	if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("error Content-Type %q", r.header.Get("Content-Type"))
	}
	return e.Error.Code
}

func (r response) fields(t *testing.T) map[string]string {
	var e struct {
		Error struct {
			Fields map[string]string `json:"fields"`
		} `json:"error"`
	}
	r.json(t, &e)
	return e.Error.Fields
}

const jsonType = "application/json"

// do sends a request; headers come in name, value pairs.
// do sends a request and reads its answer. A transport failure ends the test, so do belongs on
// the test's goroutine; a goroutine the test starts uses request.
func (s *server) do(method, path, contentType, body string, headers ...string) response {
	s.t.Helper()
	r, err := s.request(method, path, contentType, body, headers...)
	if err != nil {
		s.t.Fatal(err)
	}
	return r
}

// request is do for any goroutine: it reports a transport failure instead of ending the test.
func (s *server) request(method, path, contentType, body string, headers ...string) (response, error) {
	req, err := newRequest(method, s.url+path, contentType, body, headers...)
	if err != nil {
		return response{}, err
	}
	return roundTrip(http.DefaultClient, req)
}

// send is do for a request the test built.
func (s *server) send(req *http.Request) response {
	s.t.Helper()
	r, err := roundTrip(http.DefaultClient, req)
	if err != nil {
		s.t.Fatal(err)
	}
	return r
}

// newRequest builds a request with body (none when empty) and headers, given as name, value
// pairs.
func newRequest(method, url, contentType, body string, headers ...string) (*http.Request, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req, nil
}

// roundTrip sends req with client and reads the whole answer, on any goroutine.
func roundTrip(client *http.Client, req *http.Request) (response, error) {
	resp, err := client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}, nil
}

type tweetOut struct {
	ID        int64   `json:"id"`
	Author    string  `json:"author"`
	Content   string  `json:"content"`
	CreatedAt string  `json:"created_at"`
	UpdatedAt string  `json:"updated_at"`
	EditToken *string `json:"edit_token"`
	Account   *struct {
		Handle      string `json:"handle"`
		DisplayName string `json:"display_name"`
	} `json:"account"`
}

// post creates a tweet and returns it with its edit token.
func (s *server) post(author, content string) (tweetOut, string) {
	s.t.Helper()
	b, _ := json.Marshal(map[string]string{"author": author, "content": content})
	r := s.do("POST", "/api/tweets", jsonType, string(b))
	if r.status != http.StatusCreated {
		s.t.Fatalf("create: %d %s", r.status, r.body)
	}
	var tw tweetOut
	r.json(s.t, &tw)
	if tw.EditToken == nil {
		s.t.Fatal("no edit_token in the create response")
	}
	return tw, *tw.EditToken
}

// page lists tweets and returns them with the Link header.
func (s *server) page(query string) ([]tweetOut, string) {
	s.t.Helper()
	r := s.do("GET", "/api/tweets"+query, "", "")
	if r.status != http.StatusOK {
		s.t.Fatalf("list %s: %d %s", query, r.status, r.body)
	}
	var tweets []tweetOut
	r.json(s.t, &tweets)
	return tweets, r.header.Get("Link")
}

func idsOf(tweets []tweetOut) []int64 {
	out := make([]int64, len(tweets))
	for i, t := range tweets {
		out[i] = t.ID
	}
	return out
}

// testPasswords is one Hasher at the cheapest parameters accounts allows, shared by the
// package's tests: making one hashes once.
var testPasswords = sync.OnceValues(func() (*accounts.Hasher, error) {
	return accounts.NewHasher(accounts.MinParams, 4)
})

// withAccounts gives cfg the store's accounts, the test hasher and passkeys for pages at
// testOrigin, unless the test chose.
func withAccounts(t testing.TB, cfg *httpapi.Config, store *gormstore.Store) {
	t.Helper()
	if cfg.Accounts == nil {
		cfg.Accounts = store
	}
	if cfg.Passkeys == nil {
		rp, err := passkeys.New(passkeys.Config{RPID: "localhost", Origins: []string{testOrigin}, RPDisplayName: passkeys.DisplayName},
			cfg.Accounts, store)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Passkeys = rp
	}
	if cfg.Passwords == nil {
		h, err := testPasswords()
		if err != nil {
			t.Fatal(err)
		}
		cfg.Passwords = h
	}
}

// bearer is the Authorization header of token, as do takes headers.
func bearerOf(token string) []string { return []string{"Authorization", "Bearer " + token} }

type signedInOut struct {
	Token   string `json:"token"`
	Account struct {
		Handle      string `json:"handle"`
		DisplayName string `json:"display_name"`
		CreatedAt   string `json:"created_at"`
	} `json:"account"`
}

// signUp creates an account with a password and returns its session token.
func (s *server) signUp(handle, name, password string) string {
	s.t.Helper()
	b, _ := json.Marshal(map[string]string{"handle": handle, "display_name": name, "password": password})
	r := s.do("POST", "/api/accounts", jsonType, string(b))
	if r.status != http.StatusCreated {
		s.t.Fatalf("sign up @%s: %d %s", handle, r.status, r.body)
	}
	var out signedInOut
	r.json(s.t, &out)
	return out.Token
}

// signIn sends a sign-in with handle and password.
func (s *server) signIn(handle, password string, headers ...string) response {
	s.t.Helper()
	b, _ := json.Marshal(map[string]string{"handle": handle, "password": password})
	return s.do("POST", "/api/sessions", jsonType, string(b), headers...)
}

// postAs creates a tweet with the session token and returns it.
func (s *server) postAs(token, content string) tweetOut {
	s.t.Helper()
	b, _ := json.Marshal(map[string]string{"author": "mallory", "content": content})
	r := s.do("POST", "/api/tweets", jsonType, string(b), bearerOf(token)...)
	if r.status != http.StatusCreated {
		s.t.Fatalf("create as an account: %d %s", r.status, r.body)
	}
	var tw tweetOut
	r.json(s.t, &tw)
	return tw
}

// clock is a time a test moves by hand; sessions are dated and judged by it.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func gormstoreOpen(url string) (*gormstore.Store, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return gormstore.Open(ctx, url)
}
