package httpapi_test

import (
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend/httpapi"
	"github.com/chirp-social/chirp/backend/internal/testdb"
	"github.com/chirp-social/chirp/backend/internal/testkit"
)

const key = "9b2f4c1e-7a3d-4e8b-b5c6-0d1e2f3a4b5c"

func TestIdempotencyKeyRefused(t *testing.T) {
	s := newServer(t, testdb.SQLiteURL(t), httpapi.Config{})
	body := `{"author":"alice","content":"hello"}`
	tests := []struct {
		name   string
		values []string
		want   string // in the message
	}{
		{"Empty", []string{""}, "has 0 bytes"},
		{"TooLong", []string{strings.Repeat("k3J9x_Qa", 32)}, "has 256 bytes"},
		{"Space", []string{"q3ZkP_0xR 7mWb2LtYc9Aw"}, `byte 10 is ' '`},
		{"Slash", []string{"q3ZkP_0xR/7mWb2LtYc9Aw"}, `byte 10 is '/'`},
		{"Control", []string{"q3ZkP_0xR\t7mWb2LtYc9Aw"}, `byte 10 is '\\t'`},
		{"NotASCII", []string{"q3ZkP_0xRé7mWb2LtYc9Aw"}, "byte 10 is not ASCII"},
		{"Short", []string{"5f0c2a7e9d8b4c1a"}, "carries at most 64 bits"},
		{"Zeros", []string{"0000000000000000"}, "carries at most 53 bits"},
		{"Dots", []string{"................"}, "carries at most 96 bits"},
		{"OneCharacter", []string{strings.Repeat("f", 32)}, "only 1 different character"},
		{"Run", []string{"0123456789abcdef0123456789abcdef"}, `the run \"0123456789\"`},
		{"RepeatedBlock", []string{"k3J9x_k3J9x_k3J9x_k3J9x_"}, `repeats the block \"k3J9x_\"`},
		{"DocsExample", []string{docsExampleKey(t)}, "byte 1 is '<'"},
		{"Twice", []string{key, key}, "given 2 times"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := s.on(t)
			req, _ := http.NewRequest("POST", s.url+"/api/tweets", strings.NewReader(body))
			req.Header.Set("Content-Type", jsonType)
			for _, v := range tt.values {
				req.Header.Add("Idempotency-Key", v)
			}
			r := s.send(req)
			if r.status != http.StatusBadRequest || r.errorCode(t) != "bad_request" ||
				!strings.Contains(r.body, "Idempotency-Key") || !strings.Contains(r.body, tt.want) {
				t.Fatalf("%d %s (want 400 naming Idempotency-Key and %q)", r.status, r.body, tt.want)
			}
		})
	}
	// Before the body: a bad key is a 400 however bad the body is.
	if r := s.do("POST", "/api/tweets", jsonType, `{}`, "Idempotency-Key", "short"); r.status != http.StatusBadRequest {
		t.Fatalf("a bad key with a bad body: %d %s", r.status, r.body)
	}
	for _, k := range []string{key, "q3ZkP_0xR-7mWb2LtYc9Aw", strings.Repeat("k3J9x_Qa", 32)[:254] + "Z"} {
		if r := s.do("POST", "/api/tweets", jsonType, body, "Idempotency-Key", k); r.status != http.StatusCreated {
			t.Fatalf("the key %q: %d %s", k, r.status, r.body)
		}
	}
	if n := len(s.events.list()); n != 3 {
		t.Fatalf("%d tweets announced, want 3 (only the good keys)", n)
	}
}

func TestIdempotentCreate(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := newServer(t, url, httpapi.Config{})
		first := s.do("POST", "/api/tweets", jsonType, `{"author":"alice","content":"hello"}`, "Idempotency-Key", key)
		if first.status != http.StatusCreated {
			t.Fatalf("%d %s", first.status, first.body)
		}
		var tw tweetOut
		first.json(t, &tw)
		t.Run("SameBodyReplays", func(t *testing.T) {
			s := s.on(t)
			// Another spelling of the same tweet: field order, spacing, unknown fields,
			// escapes and CR LF do not make it another one.
			again := s.do("POST", "/api/tweets", jsonType, "{ \"content\": \"hell\\u006f\\r\\n\",\n \"author\": \"alice\", \"x\": 1 }",
				"Idempotency-Key", key)
			if again.status != http.StatusCreated || again.body != first.body {
				t.Fatalf("replay %d %s, want the original %s", again.status, again.body, first.body)
			}
			if loc := again.header.Get("Location"); loc != first.header.Get("Location") || loc != fmt.Sprintf("/api/tweets/%d", tw.ID) {
				t.Fatalf("Location %q, want %q", loc, first.header.Get("Location"))
			}
		})
		t.Run("DifferentBodyIsInvalid", func(t *testing.T) {
			s := s.on(t)
			r := s.do("POST", "/api/tweets", jsonType, `{"author":"alice","content":"hello again"}`, "Idempotency-Key", key)
			if r.status != http.StatusUnprocessableEntity || r.errorCode(t) != "invalid" || r.fields(t)["Idempotency-Key"] == "" {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
		t.Run("ReplayAfterEditIsTheOriginal", func(t *testing.T) {
			s := s.on(t)
			r := s.do("PATCH", fmt.Sprintf("/api/tweets/%d", tw.ID), jsonType, `{"content":"edited"}`, "Authorization", "Bearer "+*tw.EditToken)
			if r.status != http.StatusOK {
				t.Fatalf("edit: %d %s", r.status, r.body)
			}
			again := s.do("POST", "/api/tweets", jsonType, `{"author":"alice","content":"hello"}`, "Idempotency-Key", key)
			if again.status != http.StatusCreated || again.body != first.body {
				t.Fatalf("replay %d %s, want the original %s", again.status, again.body, first.body)
			}
		})
		// The replays announced nothing: one newTweet, for the one tweet made.
		if got := s.events.list(); !slices.Equal(got, []string{fmt.Sprintf("created %d", tw.ID), fmt.Sprintf("updated %d", tw.ID)}) {
			t.Fatalf("announced %v", got)
		}
		t.Run("RefusedBodyDoesNotTakeTheKey", func(t *testing.T) {
			s := s.on(t)
			const other = "another-key-9b2f4c1e7a3d"
			r := s.do("POST", "/api/tweets", jsonType, `{"author":"alice","content":"   "}`, "Idempotency-Key", other)
			if r.status != http.StatusUnprocessableEntity || r.fields(t)["content"] == "" {
				t.Fatalf("%d %s", r.status, r.body)
			}
			r = s.do("POST", "/api/tweets", jsonType, `{"author":"alice","content":"fixed"}`, "Idempotency-Key", other)
			if r.status != http.StatusCreated {
				t.Fatalf("the key after a refused body: %d %s", r.status, r.body)
			}
		})
		t.Run("NoKeyUnchanged", func(t *testing.T) {
			s := s.on(t)
			a, _ := s.post("alice", "hello")
			b, _ := s.post("alice", "hello")
			if a.ID == b.ID || a.ID == tw.ID {
				t.Fatalf("creates without a key: %d, %d (keyed %d)", a.ID, b.ID, tw.ID)
			}
		})
		if listed, _ := s.page("?limit=100"); len(listed) != 4 {
			t.Fatalf("%d tweets listed, want 4", len(listed))
		}
	})
}

// Twenty posts with one key at once: one tweet, announced once, and twenty identical answers.
func TestIdempotentConcurrentPosts(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := newServer(t, url, httpapi.Config{})
		const n = 20
		answers := make([]response, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				req, _ := http.NewRequest("POST", s.url+"/api/tweets", strings.NewReader(`{"author":"crowd","content":"once"}`))
				req.Header.Set("Content-Type", jsonType)
				req.Header.Set("Idempotency-Key", key)
				select {
				case <-start:
				case <-time.After(testkit.Timeout):
					t.Errorf("post %d: the start never came", i)
					return
				}
				r, err := roundTrip(http.DefaultClient, req)
				if err != nil {
					t.Errorf("post %d: %v", i, err)
					return
				}
				answers[i] = r
			})
		}
		close(start)
		wg.Wait()
		for i, r := range answers {
			if r.status != http.StatusCreated || r.body != answers[0].body || r.header.Get("Location") != answers[0].header.Get("Location") {
				t.Fatalf("answer %d: %d %s, answer 0: %d %s", i, r.status, r.body, answers[0].status, answers[0].body)
			}
		}
		if got := s.events.list(); len(got) != 1 {
			t.Fatalf("announced %v, want one created", got)
		}
		if listed, _ := s.page("?limit=100"); len(listed) != 1 {
			t.Fatalf("%d tweets listed, want 1", len(listed))
		}
	})
}

// docsExampleKey is the key of docs/API.md's curl example: whoever runs it as it stands must
// be refused, or everyone who does would share one tweet and its edit token.
func docsExampleKey(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/API.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`-H '?Idempotency-Key: ([^'\n]*)'?`).FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/API.md has no curl example with an Idempotency-Key")
	}
	return string(m[1])
}

// An Idempotency-Key is the account's own: alice's retry replays her tweet, while the same key
// from bob or a guest is another key and makes another tweet.
func TestIdempotencyKeyPerAccount(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := newServer(t, url, httpapi.Config{})
		alice := s.signUp("alice", "Alice", alicePassword)
		bob := s.signUp("bob", "Bob", "bob's own passphrase")
		postWithKey := func(headers ...string) tweetOut {
			r := s.do("POST", "/api/tweets", jsonType, `{"content":"hello"}`, append([]string{"Idempotency-Key", key}, headers...)...)
			if r.status != http.StatusCreated {
				t.Fatalf("%d %s", r.status, r.body)
			}
			var tw tweetOut
			r.json(t, &tw)
			return tw
		}
		first := postWithKey(bearerOf(alice)...)
		if again := postWithKey(bearerOf(alice)...); again.ID != first.ID || again.EditToken != nil {
			t.Fatalf("alice's retry: %+v, want tweet %d replayed without an edit token", again, first.ID)
		}
		ofBob := postWithKey(bearerOf(bob)...)
		r := s.do("POST", "/api/tweets", jsonType, `{"author":"guest","content":"hello"}`, "Idempotency-Key", key)
		var guest tweetOut
		r.json(t, &guest)
		if ofBob.ID == first.ID || guest.ID == first.ID || guest.ID == ofBob.ID || ofBob.Account.Handle != "bob" || guest.Account != nil {
			t.Fatalf("alice %d, bob %+v, guest %d %s: want three tweets", first.ID, ofBob, guest.ID, r.body)
		}
	})
}
