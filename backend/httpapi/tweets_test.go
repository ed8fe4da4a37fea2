package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/httpapi"
	"github.com/chirp-social/chirp/backend/internal/testdb"
)

var timestamp = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

func TestHealth(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := newServer(t, url, httpapi.Config{})
		if r := s.do("GET", "/healthz", "", ""); r.status != 200 || strings.TrimSpace(r.body) != `{"status":"ok"}` {
			t.Fatalf("healthz: %d %s", r.status, r.body)
		}
		if r := s.do("GET", "/readyz", "", ""); r.status != 200 {
			t.Fatalf("readyz: %d %s", r.status, r.body)
		}
		s.store.Close()
		r := s.do("GET", "/readyz", "", "")
		if r.status != http.StatusServiceUnavailable || r.errorCode(t) != "unavailable" {
			t.Fatalf("readyz with the database closed: %d %s", r.status, r.body)
		}
		if strings.Contains(r.body, "sql") {
			t.Fatalf("the answer reveals the driver: %s", r.body)
		}
	})
}

// A process whose event bus is down is not ready, and says why, without a word about the
// database (whose outage log stays quiet).
func TestReadyzReportsTheEventBus(t *testing.T) {
	var busDown atomic.Bool
	s := newServer(t, testdb.SQLiteURL(t), httpapi.Config{Ready: func() error {
		if busDown.Load() {
			return errors.New("event bus down for 1.2s")
		}
		return nil
	}})
	if r := s.do("GET", "/readyz", "", ""); r.status != 200 {
		t.Fatalf("readyz with the bus up: %d %s", r.status, r.body)
	}
	busDown.Store(true)
	r := s.do("GET", "/readyz", "", "")
	if r.status != http.StatusServiceUnavailable || r.errorCode(t) != "unavailable" || !strings.Contains(r.body, "event bus down") {
		t.Fatalf("readyz with the bus down: %d %s", r.status, r.body)
	}
	busDown.Store(false)
	if r := s.do("GET", "/readyz", "", ""); r.status != 200 {
		t.Fatalf("readyz with the bus back: %d %s", r.status, r.body)
	}
}

func TestCreate(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := newServer(t, url, httpapi.Config{})
		r := s.do("POST", "/api/tweets", "application/json; charset=utf-8",
			`{"author":" alice ","content":"Caf\u0065\u0301\r\nhello","likes":5}`)
		if r.status != http.StatusCreated {
			t.Fatalf("%d %s", r.status, r.body)
		}
		var tw tweetOut
		r.json(t, &tw)
		if tw.ID <= 0 || tw.Author != "alice" || tw.Content != "Café\nhello" {
			t.Fatalf("created %+v", tw)
		}
		if !timestamp.MatchString(tw.CreatedAt) || tw.UpdatedAt != tw.CreatedAt {
			t.Fatalf("times %q %q", tw.CreatedAt, tw.UpdatedAt)
		}
		if tw.EditToken == nil || len(*tw.EditToken) < 22 {
			t.Fatalf("edit token %v", tw.EditToken)
		}
		if loc := r.header.Get("Location"); loc != fmt.Sprintf("/api/tweets/%d", tw.ID) {
			t.Fatalf("Location %q", loc)
		}
		if got := s.events.list(); !slices.Equal(got, []string{fmt.Sprintf("created %d", tw.ID)}) {
			t.Fatalf("announced %v", got)
		}
		// What the create answered is exactly what is stored.
		g := s.do("GET", r.header.Get("Location"), "", "")
		var stored tweetOut
		g.json(t, &stored)
		tw.EditToken = nil
		if g.status != 200 || stored != tw {
			t.Fatalf("stored %+v, created %+v", stored, tw)
		}
	})
}

func TestCreateRejects(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := newServer(t, url, httpapi.Config{})
		big := `{"author":"a","content":"` + strings.Repeat("x", httpapi.MaxBodyBytes) + `"}`
		tests := []struct {
			name, contentType, body string
			status                  int
			code                    string
			fields                  []string
		}{
			{"NoContentType", "", `{"author":"a","content":"b"}`, 415, "unsupported_media_type", nil},
			{"TextPlain", "text/plain", `{"author":"a","content":"b"}`, 415, "unsupported_media_type", nil},
			{"FormEncoded", "application/x-www-form-urlencoded", "author=a&content=b", 415, "unsupported_media_type", nil},
			{"TooLarge", jsonType, big, 413, "too_large", nil},
			{"Empty", jsonType, "", 400, "bad_request", nil},
			{"WhiteSpaceOnly", jsonType, "  \n", 400, "bad_request", nil},
			{"Malformed", jsonType, `{"author":`, 400, "bad_request", nil},
			{"Syntax", jsonType, `{"author" "a"}`, 400, "bad_request", nil},
			{"Null", jsonType, `null`, 400, "bad_request", nil},
			{"Array", jsonType, `[{"author":"a","content":"b"}]`, 400, "bad_request", nil},
			{"String", jsonType, `"hello"`, 400, "bad_request", nil},
			{"TwoObjects", jsonType, `{"author":"a","content":"b"}{"author":"a","content":"b"}`, 400, "bad_request", nil},
			{"TrailingGarbage", jsonType, `{"author":"a","content":"b"} x`, 400, "bad_request", nil},
			{"InvalidUTF8", jsonType, "{\"author\":\"a\",\"content\":\"\xff\"}", 400, "bad_request", nil},
			{"EmptyObject", jsonType, `{}`, 422, "invalid", []string{"author", "content"}},
			{"NullAuthor", jsonType, `{"author":null,"content":"b"}`, 422, "invalid", []string{"author"}},
			{"NumberContent", jsonType, `{"author":"a","content":5}`, 422, "invalid", []string{"content"}},
			{"ObjectAuthor", jsonType, `{"author":{},"content":"b"}`, 422, "invalid", []string{"author"}},
			{"BlankContent", jsonType, `{"author":"a","content":" \r\n "}`, 422, "invalid", []string{"content"}},
			{"ContentTooLong", jsonType, `{"author":"a","content":"` + strings.Repeat("é", 281) + `"}`, 422, "invalid", []string{"content"}},
			{"AuthorTooLong", jsonType, `{"author":"` + strings.Repeat("a", 51) + `","content":"b"}`, 422, "invalid", []string{"author"}},
			{"AuthorNewline", jsonType, `{"author":"a\nb","content":"b"}`, 422, "invalid", []string{"author"}},
			{"ControlCharacter", jsonType, `{"author":"a","content":"a\u0007b"}`, 422, "invalid", []string{"content"}},
			{"BothBad", jsonType, `{"author":7,"content":""}`, 422, "invalid", []string{"author", "content"}},
			{"InvisibleContent", jsonType, `{"author":"a","content":" \u200b\u2060\ufeff "}`, 422, "invalid", []string{"content"}},
			{"InvisibleAuthor", jsonType, `{"author":"\u3164","content":"b"}`, 422, "invalid", []string{"author"}},
			{"LoneHighSurrogate", jsonType, `{"author":"a","content":"x\ud800y"}`, 422, "invalid", []string{"content"}},
			{"LoneLowSurrogateUpperCase", jsonType, `{"author":"a","content":"\uDC00"}`, 422, "invalid", []string{"content"}},
			{"HighSurrogateTwice", jsonType, `{"author":"a","content":"\ud83d\ud83d\ude00"}`, 422, "invalid", []string{"content"}},
			{"LoneSurrogateAfterEscapedBackslash", jsonType, `{"author":"a","content":"\\\ud800"}`, 422, "invalid", []string{"content"}},
			{"LoneSurrogateInAuthor", jsonType, `{"author":"al\uD83Dice","content":"b"}`, 422, "invalid", []string{"author"}},
			{"SurrogateAsUTF8Bytes", jsonType, "{\"author\":\"a\",\"content\":\"\xed\xa0\x80\"}", 400, "bad_request", nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := s.on(t)
				r := s.do("POST", "/api/tweets", tt.contentType, tt.body)
				if r.status != tt.status || r.errorCode(t) != tt.code {
					t.Fatalf("got %d %s, want %d %s", r.status, r.body, tt.status, tt.code)
				}
				if tt.fields != nil {
					f := r.fields(t)
					for _, name := range tt.fields {
						if f[name] == "" {
							t.Fatalf("field %q not named in %v", name, f)
						}
					}
					if len(f) != len(tt.fields) {
						t.Fatalf("fields %v, want only %v", f, tt.fields)
					}
				}
			})
		}
		t.Run("NothingStored", func(t *testing.T) {
			s := s.on(t)
			if tweets, _ := s.page(""); len(tweets) != 0 {
				t.Fatalf("rejected posts left %d tweets", len(tweets))
			}
			if ev := s.events.list(); len(ev) != 0 {
				t.Fatalf("rejected posts announced %v", ev)
			}
		})
		t.Run("TooLargeChunked", func(t *testing.T) {
			s := s.on(t)
			req, _ := http.NewRequest("POST", s.url+"/api/tweets", strings.NewReader(big))
			req.ContentLength = -1 // sent chunked: the cap must trip while reading
			req.Header.Set("Content-Type", jsonType)
			if r := s.send(req); r.status != 413 || r.errorCode(t) != "too_large" {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	})
}

func TestGetOne(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := newServer(t, url, httpapi.Config{})
		tw, _ := s.post("bob", "hi")
		tests := []struct {
			name, id string
			status   int
		}{
			{"OK", fmt.Sprint(tw.ID), 200},
			{"Missing", fmt.Sprint(tw.ID + 1), 404},
			{"MaxInt64", "9223372036854775807", 404},
			{"Zero", "0", 400},
			{"Negative", "-1", 400},
			{"LeadingZero", "0" + fmt.Sprint(tw.ID), 400},
			{"Plus", "+1", 400},
			{"Word", "abc", 400},
			{"Fraction", "1.5", 400},
			{"Overflow", "9223372036854775808", 400},
			{"Hex", "0x1", 400},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := s.on(t)
				r := s.do("GET", "/api/tweets/"+tt.id, "", "")
				if r.status != tt.status {
					t.Fatalf("%d %s", r.status, r.body)
				}
				if tt.status != 200 {
					want := map[int]string{400: "bad_request", 404: "not_found"}[tt.status]
					if code := r.errorCode(t); code != want {
						t.Fatalf("code %q", code)
					}
				}
			})
		}
	})
}

func TestPaging(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := newServer(t, url, httpapi.Config{})
		var created []int64
		for i := range 25 {
			tw, _ := s.post("pager", fmt.Sprint("tweet ", i))
			created = append(created, tw.ID)
		}
		slices.Reverse(created) // newest first

		t.Run("MaxIDUntilExhausted", func(t *testing.T) {
			s := s.on(t)
			var walked []int64
			next := "?limit=10"
			for pages := 0; next != ""; pages++ {
				if pages > 5 {
					t.Fatal("paging does not end")
				}
				tweets, link := s.page(next)
				walked = append(walked, idsOf(tweets)...)
				next = ""
				if link != "" {
					m := regexp.MustCompile(`^</api/tweets(\?[^>]+)>; rel="next"$`).FindStringSubmatch(link)
					if m == nil {
						t.Fatalf("Link %q", link)
					}
					next = m[1]
				}
				if (len(tweets) == 10) != (link != "") {
					t.Fatalf("page of %d with Link %q", len(tweets), link)
				}
			}
			if !slices.Equal(walked, created) {
				t.Fatalf("walked %v, want %v", walked, created)
			}
		})
		t.Run("LinkKeepsTheQuery", func(t *testing.T) {
			s := s.on(t)
			tweets, link := s.page(fmt.Sprintf("?limit=3&since_id=%d", created[20]))
			want := fmt.Sprintf(`</api/tweets?limit=3&max_id=%d&since_id=%d>; rel="next"`, tweets[2].ID, created[20])
			if link != want {
				t.Fatalf("Link %q, want %q", link, want)
			}
		})
		t.Run("SinceIDTakesTheNewest", func(t *testing.T) {
			s := s.on(t)
			// 15 tweets are newer than created[15]; since_id gives the newest 10 of them.
			tweets, _ := s.page(fmt.Sprintf("?limit=10&since_id=%d", created[15]))
			if !slices.Equal(idsOf(tweets), created[:10]) {
				t.Fatalf("got %v, want %v", idsOf(tweets), created[:10])
			}
		})
		t.Run("MinIDWalksForwardWithoutGaps", func(t *testing.T) {
			s := s.on(t)
			// From the 20th newest, walk forward 6 at a time: each page is the oldest 6 above
			// min_id, newest first.
			var walked []int64
			minID := created[20]
			for range 10 {
				tweets, _ := s.page(fmt.Sprintf("?limit=6&min_id=%d", minID))
				if len(tweets) == 0 {
					break
				}
				ids := idsOf(tweets)
				if !slices.IsSortedFunc(ids, func(a, b int64) int { return int(b - a) }) {
					t.Fatalf("page not newest first: %v", ids)
				}
				walked = append(ids, walked...)
				minID = ids[0]
			}
			if !slices.Equal(walked, created[:20]) {
				t.Fatalf("walked %v, want %v", walked, created[:20])
			}
		})
		t.Run("MinIDZeroStartsFromTheFirst", func(t *testing.T) {
			s := s.on(t)
			// The parameter's presence chooses the mode: min_id=0 is the two oldest, not the
			// two newest (which since_id=0 gives), and the Link keeps min_id.
			tweets, link := s.page("?limit=2&min_id=0")
			if !slices.Equal(idsOf(tweets), created[23:25]) {
				t.Fatalf("got %v, want %v", idsOf(tweets), created[23:25])
			}
			want := fmt.Sprintf(`</api/tweets?limit=2&max_id=%d&min_id=0>; rel="next"`, created[24])
			if link != want {
				t.Fatalf("Link %q, want %q", link, want)
			}
		})
		t.Run("MaxIDWithMinID", func(t *testing.T) {
			s := s.on(t)
			tweets, _ := s.page(fmt.Sprintf("?max_id=%d&min_id=%d&limit=2", created[3], created[10]))
			if !slices.Equal(idsOf(tweets), created[8:10]) {
				t.Fatalf("got %v, want %v", idsOf(tweets), created[8:10])
			}
		})
		t.Run("DefaultLimit", func(t *testing.T) {
			s := s.on(t)
			if tweets, _ := s.page(""); len(tweets) != 20 {
				t.Fatalf("default page has %d", len(tweets))
			}
		})
		t.Run("ZeroIDs", func(t *testing.T) {
			s := s.on(t)
			if tweets, _ := s.page("?since_id=0&limit=100"); len(tweets) != 25 {
				t.Fatalf("since_id=0 gave %d", len(tweets))
			}
			if tweets, _ := s.page("?max_id=0"); len(tweets) != 0 {
				t.Fatalf("max_id=0 gave %d", len(tweets))
			}
		})
		for _, q := range []string{
			"limit=abc", "limit=0", "limit=101", "limit=-1", "limit=", "limit=1.5", "limit=5&limit=6",
			"max_id=-1", "max_id=abc", "max_id=9223372036854775808", "since_id=x", "min_id=-5",
			"since_id=1&min_id=1", "since_id=0&min_id=0",
		} {
			t.Run("Rejects "+q, func(t *testing.T) {
				s := s.on(t)
				r := s.do("GET", "/api/tweets?"+q, "", "")
				if r.status != 400 || r.errorCode(t) != "bad_request" {
					t.Fatalf("%d %s", r.status, r.body)
				}
			})
		}
	})
}

func TestEditAndDelete(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := newServer(t, url, httpapi.Config{})
		tw, token := s.post("carol", "original")
		_, otherToken := s.post("dave", "other")
		path := fmt.Sprint("/api/tweets/", tw.ID)
		missing := fmt.Sprint("/api/tweets/", tw.ID+1000)
		bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
		edit := `{"content":"changed"}`

		tests := []struct {
			name, method, path, contentType, body string
			headers                               []string
			status                                int
			code                                  string
		}{
			// The order of checks: shape, then existence, then token, then content.
			{"ShapeBeforeExistence", "PATCH", missing, "text/plain", edit, bearer(token), 415, "unsupported_media_type"},
			{"BadJSONBeforeExistence", "PATCH", missing, jsonType, `{`, nil, 400, "bad_request"},
			{"BadIDFirst", "PATCH", "/api/tweets/x", jsonType, edit, nil, 400, "bad_request"},
			{"ExistenceBeforeToken", "PATCH", missing, jsonType, edit, nil, 404, "not_found"},
			{"ExistenceWithToken", "PATCH", missing, jsonType, edit, bearer(token), 404, "not_found"},
			{"NoToken", "PATCH", path, jsonType, edit, nil, 401, "unauthorized"},
			{"NotBearer", "PATCH", path, jsonType, edit, []string{"Authorization", "Basic " + token}, 401, "unauthorized"},
			{"EmptyBearer", "PATCH", path, jsonType, edit, []string{"Authorization", "Bearer "}, 401, "unauthorized"},
			{"TokenBeforeContent", "PATCH", path, jsonType, `{"content":""}`, nil, 401, "unauthorized"},
			{"WrongToken", "PATCH", path, jsonType, edit, bearer(otherToken), 403, "forbidden"},
			{"WrongTokenBeforeContent", "PATCH", path, jsonType, `{"content":5}`, bearer(otherToken), 403, "forbidden"},
			{"ContentMissing", "PATCH", path, jsonType, `{"author":"x"}`, bearer(token), 422, "invalid"},
			{"ContentTooLong", "PATCH", path, jsonType, `{"content":"` + strings.Repeat("z", 281) + `"}`, bearer(token), 422, "invalid"},
			{"ContentInvisible", "PATCH", path, jsonType, `{"content":"\u200b"}`, bearer(token), 422, "invalid"},
			{"ContentLoneSurrogate", "PATCH", path, jsonType, `{"content":"a\uDFFFb"}`, bearer(token), 422, "invalid"},
			{"DeleteMissing", "DELETE", missing, "", "", nil, 404, "not_found"},
			{"DeleteNoToken", "DELETE", path, "", "", nil, 401, "unauthorized"},
			{"DeleteWrongToken", "DELETE", path, "", "", bearer(otherToken), 403, "forbidden"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := s.on(t)
				r := s.do(tt.method, tt.path, tt.contentType, tt.body, tt.headers...)
				if r.status != tt.status || r.errorCode(t) != tt.code {
					t.Fatalf("got %d %s, want %d %s", r.status, r.body, tt.status, tt.code)
				}
				if tt.status == 401 && r.header.Get("WWW-Authenticate") == "" {
					t.Fatal("401 without WWW-Authenticate")
				}
			})
		}
		t.Run("NothingChanged", func(t *testing.T) {
			s := s.on(t)
			var now tweetOut
			s.do("GET", path, "", "").json(t, &now)
			tw.EditToken = nil
			if now != tw {
				t.Fatalf("refused requests changed the tweet: %+v, was %+v", now, tw)
			}
			if ev := s.events.list(); len(ev) != 2 {
				t.Fatalf("refused requests announced: %v", ev)
			}
		})
		t.Run("Edit", func(t *testing.T) {
			s := s.on(t)
			r := s.do("PATCH", path, jsonType, `{"content":" changed\r\n ","author":"mallory"}`, bearer(token)...)
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			var got tweetOut
			r.json(t, &got)
			if got.Content != "changed" || got.Author != "carol" || got.CreatedAt != tw.CreatedAt ||
				got.UpdatedAt <= tw.UpdatedAt || !timestamp.MatchString(got.UpdatedAt) || got.EditToken != nil {
				t.Fatalf("edited %+v, was %+v", got, tw)
			}
			if ev := s.events.list(); ev[len(ev)-1] != fmt.Sprint("updated ", tw.ID) {
				t.Fatalf("announced %v", ev)
			}
		})
		t.Run("Delete", func(t *testing.T) {
			s := s.on(t)
			if r := s.do("DELETE", path, "", "", bearer(token)...); r.status != 204 || r.body != "" {
				t.Fatalf("%d %q", r.status, r.body)
			}
			if ev := s.events.list(); ev[len(ev)-1] != fmt.Sprint("deleted ", tw.ID) {
				t.Fatalf("announced %v", ev)
			}
			if r := s.do("DELETE", path, "", "", bearer(token)...); r.status != 404 || r.errorCode(t) != "not_found" {
				t.Fatalf("second delete: %d %s", r.status, r.body)
			}
			if r := s.do("GET", path, "", ""); r.status != 404 {
				t.Fatalf("get after delete: %d", r.status)
			}
		})
	})
}

func TestEditTokenNeverShownAgain(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := newServer(t, url, httpapi.Config{})
		tw, token := s.post("erin", "secret keeper")
		tok := []string{"Authorization", "Bearer " + token}
		for _, r := range []response{
			s.do("GET", fmt.Sprint("/api/tweets/", tw.ID), "", ""),
			s.do("GET", "/api/tweets", "", ""),
			s.do("GET", "/api/tweets?since_id=0", "", ""),
			s.do("PATCH", fmt.Sprint("/api/tweets/", tw.ID), jsonType, `{"content":"x"}`, tok...),
		} {
			if r.status != 200 || strings.Contains(r.body, token) || strings.Contains(r.body, "edit_token") {
				t.Fatalf("%d %s", r.status, r.body)
			}
		}
	})
}

func TestConcurrentPosts(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := newServer(t, url, httpapi.Config{})
		const n = 50
		var wg sync.WaitGroup
		ids := make(chan int64, n)
		for i := range n {
			wg.Go(func() {
				req, _ := http.NewRequest("POST", s.url+"/api/tweets",
					strings.NewReader(fmt.Sprintf(`{"author":"crowd","content":"post %d"}`, i)))
				req.Header.Set("Content-Type", jsonType)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				defer resp.Body.Close()
				var tw tweetOut
				if err := json.NewDecoder(resp.Body).Decode(&tw); err != nil || resp.StatusCode != 201 {
					t.Errorf("create: %d %v", resp.StatusCode, err)
					return
				}
				ids <- tw.ID
			})
		}
		wg.Wait()
		close(ids)
		seen := map[int64]bool{}
		for id := range ids {
			if seen[id] {
				t.Fatalf("id %d twice", id)
			}
			seen[id] = true
		}
		listed, _ := s.page("?limit=100")
		if len(seen) != n || len(listed) != n {
			t.Fatalf("%d created, %d listed", len(seen), len(listed))
		}
		for _, tw := range listed {
			if !seen[tw.ID] {
				t.Fatalf("listed %d that no create returned", tw.ID)
			}
		}
	})
}

// failingStore is a real store whose list fails in a given way, to see how failures surface.
type failingStore struct {
	chirp.TweetStore
	fail func()
	err  error
}

func (f failingStore) Tweets(ctx context.Context, q chirp.PageQuery) ([]chirp.Tweet, error) {
	if f.fail != nil {
		f.fail()
	}
	return nil, f.err
}

func TestFailuresAreJSONAndRevealNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		real := openStore(t, url)
		tests := []struct {
			name   string
			store  failingStore
			status int
			code   string
		}{
			{"Panic", failingStore{TweetStore: real, fail: func() { panic("SELECT * FROM tweets exploded") }}, 500, "internal"},
			{"DriverError", failingStore{TweetStore: real, err: fmt.Errorf(`pq: relation "tweets" does not exist (SELECT id FROM tweets)`)}, 500, "internal"},
			{"DeadlineExceeded", failingStore{TweetStore: real, err: fmt.Errorf("list: %w", context.DeadlineExceeded)}, 503, "unavailable"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := newServer(t, url, httpapi.Config{Store: tt.store})
				r := s.do("GET", "/api/tweets", "", "")
				if r.status != tt.status || r.errorCode(t) != tt.code {
					t.Fatalf("%d %s", r.status, r.body)
				}
				for _, leak := range []string{"SELECT", "tweets", "pq:", "goroutine", ".go:"} {
					if strings.Contains(r.body, leak) {
						t.Fatalf("the answer reveals %q: %s", leak, r.body)
					}
				}
				// The server is still serving.
				if r := s.do("GET", "/healthz", "", ""); r.status != 200 {
					t.Fatalf("after the failure: %d", r.status)
				}
			})
		}
	})
}

func TestRoutingErrors(t *testing.T) {
	s := newServer(t, testdb.SQLiteURL(t), httpapi.Config{})
	tests := []struct {
		name, method, path string
		status             int
		code, allow        string
	}{
		{"UnknownAPIRoute", "GET", "/api/nope", 404, "not_found", ""},
		{"UnknownRoute", "GET", "/nope", 404, "not_found", ""},
		{"PutCollection", "PUT", "/api/tweets", 405, "method_not_allowed", "GET, HEAD, POST"},
		{"PostItem", "POST", "/api/tweets/1", 405, "method_not_allowed", "GET, HEAD, PATCH, DELETE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := s.on(t)
			r := s.do(tt.method, tt.path, jsonType, `{}`)
			if r.status != tt.status || r.errorCode(t) != tt.code {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if tt.allow != "" && r.header.Get("Allow") != tt.allow {
				t.Fatalf("Allow %q", r.header.Get("Allow"))
			}
		})
	}
}
