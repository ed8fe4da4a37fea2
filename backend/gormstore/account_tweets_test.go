package gormstore_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/gormstore"
	"github.com/chirp-social/chirp/backend/internal/testdb"
	"github.com/chirp-social/chirp/backend/internal/testkit"
)

// shown is the account as its tweets show it.
func shown(a chirp.Account) *chirp.TweetAccount {
	return &chirp.TweetAccount{ID: a.ID, Handle: a.Handle, DisplayName: a.DisplayName}
}

// accountDraft is a draft posted as the account (nil: a guest's).
func accountDraft(t *testing.T, by *chirp.TweetAccount, content string) chirp.Draft {
	t.Helper()
	author := "guest"
	if by != nil {
		author = by.DisplayName
	}
	d := draft(t, author, content)
	d.Account = by
	return d
}

// createAs stores a tweet of the account (nil: a guest's), failing the test if it cannot.
func createAs(t *testing.T, s *gormstore.Store, by *chirp.TweetAccount, content string) chirp.Tweet {
	t.Helper()
	tw, err := s.CreateTweet(context.Background(), accountDraft(t, by, content), chirp.HashEditToken("token"))
	if err != nil {
		t.Fatal(err)
	}
	return tw
}

// sameAccount compares the accounts two tweets show.
func sameAccount(a, b *chirp.TweetAccount) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

// sameTweet compares everything a tweet shows.
func sameTweet(a, b chirp.Tweet) bool {
	return a.ID == b.ID && a.Author == b.Author && a.Content == b.Content &&
		a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt) && sameAccount(a.Account, b.Account)
}

// storedTokenHash is the edit_token_hash the database holds for the tweet.
func storedTokenHash(t *testing.T, s *gormstore.Store, id int64) []byte {
	t.Helper()
	var rows []struct{ EditTokenHash []byte }
	if err := gormstore.DB(s).Raw("SELECT edit_token_hash FROM tweets WHERE id = ?", id).Scan(&rows).Error; err != nil || len(rows) != 1 {
		t.Fatalf("tweet %d's token hash: %v, %d rows", id, err, len(rows))
	}
	return rows[0].EditTokenHash
}

// Every way a tweet is made and read carries its account, the one stored (not whatever the
// draft said of its handle and name), or nil for a guest's; an account's tweet has no edit
// token at all.
func TestAccountTweetsRoundTrip(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		ctx := context.Background()
		alice := shown(newAccount(t, s, "alice"))
		// A draft names its account by id; the handle and name it carries are not stored.
		stale := &chirp.TweetAccount{ID: alice.ID, Handle: "mallory", DisplayName: "Mallory"}
		tests := []struct {
			name  string
			by    *chirp.TweetAccount
			keyed bool
			want  *chirp.TweetAccount
		}{
			{"Guest", nil, false, nil},
			{"GuestKeyed", nil, true, nil},
			{"Account", alice, false, alice},
			{"AccountKeyed", alice, true, alice},
			{"AccountAsTheDraftNamesIt", stale, false, alice},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				d := accountDraft(t, tt.by, fmt.Sprint("tweet ", i))
				token, hash, err := chirp.NewEditToken()
				if err != nil {
					t.Fatal(err)
				}
				var created chirp.Created
				if tt.keyed {
					created, err = s.CreateTweetOnce(ctx, d, token, chirp.IdempotencyKey(fmt.Sprintf("round-trip-%d-q7Zx2Lm9vB4nK", i)))
				} else {
					created.Tweet, err = s.CreateTweet(ctx, d, hash)
					created.EditToken = token
				}
				if err != nil {
					t.Fatal(err)
				}
				tw := created.Tweet
				if !sameAccount(tw.Account, tt.want) {
					t.Fatalf("created with account %+v, want %+v", tw.Account, tt.want)
				}
				if tt.keyed && tt.want != nil && created.EditToken != "" {
					t.Fatalf("an account's keyed create answered edit token %q", created.EditToken)
				}
				if got, err := s.Tweet(ctx, tw.ID); err != nil || !sameTweet(got, tw) {
					t.Fatalf("Tweet: %+v %v, want %+v", got, err, tw)
				}
				page := list(t, s, chirp.NewestPage())
				if len(page) == 0 || !sameTweet(page[0], tw) {
					t.Fatalf("newest page starts %v, want %+v", testkit.IDs(page), tw)
				}
				edited, err := s.UpdateTweet(ctx, tw.ID, chirp.Edit{Content: "edited"})
				if err != nil || !sameAccount(edited.Account, tt.want) {
					t.Fatalf("edited: %+v %v, want account %+v", edited, err, tt.want)
				}
				stored := storedTokenHash(t, s, tw.ID)
				if tt.want == nil && !chirp.EditTokenMatches(stored, created.EditToken) {
					t.Fatal("a guest's tweet lost its edit token")
				}
				if tt.want != nil && len(stored) != 0 {
					t.Fatalf("an account's tweet stores token hash %x, want none", stored)
				}
			})
		}
	})
}

// A profile is the account's tweets alone, paged by the timeline's keyset rules: compared with
// the same rules applied one tweet at a time (testkit.Page).
func TestProfilePages(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		ctx := context.Background()
		alice, bob := shown(newAccount(t, s, "alice")), shown(newAccount(t, s, "bob"))
		silent := newAccount(t, s, "silent")
		var all []chirp.Tweet
		for i := range 12 {
			for _, by := range []*chirp.TweetAccount{alice, nil, bob} {
				all = append(all, createAs(t, s, by, fmt.Sprint("tweet ", i)))
			}
		}
		var mine []int64 // alice's ids, ascending
		for _, tw := range all {
			if tw.Account != nil && tw.Account.ID == alice.ID {
				mine = append(mine, tw.ID)
			}
		}
		if err := s.DeleteTweet(ctx, mine[5]); err != nil {
			t.Fatal(err)
		}
		all = slices.DeleteFunc(all, func(tw chirp.Tweet) bool { return tw.ID == mine[5] })
		mine = slices.Delete(mine, 5, 6)
		page := func(limit int, mod func(q *chirp.PageQuery)) chirp.PageQuery {
			q := chirp.PageQuery{Limit: limit, MaxID: chirp.NoMaxID, AccountID: alice.ID}
			if mod != nil {
				mod(&q)
			}
			return q
		}
		tests := []struct {
			name string
			q    chirp.PageQuery
		}{
			{"Newest", page(20, nil)},
			{"NewestFew", page(4, nil)},
			{"MaxID", page(4, func(q *chirp.PageQuery) { q.MaxID = mine[7] })},
			{"MaxIDNotAlices", page(4, func(q *chirp.PageQuery) { q.MaxID = mine[7] + 1 })},
			{"SinceID", page(20, func(q *chirp.PageQuery) { q.SinceID = mine[8] })},
			{"SinceIDFewerThanAbove", page(2, func(q *chirp.PageQuery) { q.SinceID = mine[2] })},
			{"SinceAndMax", page(20, func(q *chirp.PageQuery) { q.SinceID, q.MaxID = mine[1], mine[6] })},
			{"ForwardFromTheStart", page(3, func(q *chirp.PageQuery) { q.Forward = true })},
			{"ForwardMinID", page(3, func(q *chirp.PageQuery) { q.Forward, q.MinID = true, mine[4] })},
			{"ForwardMinIDOfTheDeleted", page(3, func(q *chirp.PageQuery) { q.Forward, q.MinID = true, mine[4]+3 })},
			{"ForwardMinAndMax", page(20, func(q *chirp.PageQuery) { q.Forward, q.MinID, q.MaxID = true, mine[2], mine[5] })},
			{"ForwardPastTheNewest", page(20, func(q *chirp.PageQuery) { q.Forward, q.MinID = true, mine[len(mine)-1] })},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got := list(t, s, tt.q)
				if want := testkit.IDs(testkit.Page(all, tt.q)); !slices.Equal(testkit.IDs(got), want) {
					t.Fatalf("%+v: %v, want %v", tt.q, testkit.IDs(got), want)
				}
				for _, tw := range got {
					if !sameAccount(tw.Account, alice) {
						t.Fatalf("tweet %d shows account %+v", tw.ID, tw.Account)
					}
				}
			})
		}
		// An account without tweets, and one that does not exist, have empty profiles.
		for _, id := range []int64{silent.ID, math.MaxInt64} {
			if got := list(t, s, page(20, func(q *chirp.PageQuery) { q.AccountID = id })); len(got) != 0 {
				t.Fatalf("account %d's profile: %v", id, testkit.IDs(got))
			}
		}
	})
}

// An account's tweet has no edit token: every token is refused, with a message that names the
// account, even one whose hash were planted in the row.
func TestAuthorizeEditRefusesAccountTweets(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		ctx := context.Background()
		alice := shown(newAccount(t, s, "alice"))
		token, hash, err := chirp.NewEditToken()
		if err != nil {
			t.Fatal(err)
		}
		mine, err := s.CreateTweet(ctx, accountDraft(t, alice, "alice's"), hash)
		if err != nil {
			t.Fatal(err)
		}
		keyed, err := s.CreateTweetOnce(ctx, accountDraft(t, alice, "alice's keyed"), token, "refuse-keyed-q7Zx2Lm9vB4nKpT")
		if err != nil {
			t.Fatal(err)
		}
		planted, err := s.CreateTweet(ctx, accountDraft(t, alice, "alice's, planted"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := gormstore.DB(s).Exec("UPDATE tweets SET edit_token_hash = ? WHERE id = ?", chirp.HashEditToken("planted"), planted.ID).Error; err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name  string
			id    int64
			token string
		}{
			{"EmptyToken", mine.ID, ""},
			{"TheTokenGivenAtCreate", mine.ID, token},
			{"TheKeyedCreatesToken", keyed.Tweet.ID, token},
			{"AnyToken", mine.ID, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
			{"APlantedHash", planted.ID, "planted"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := s.AuthorizeEdit(ctx, tt.id, tt.token)
				if chirp.ErrorCode(err) != chirp.CodeForbidden || !strings.Contains(err.Error(), "@alice") {
					t.Fatalf("want forbidden naming @alice, got %v", err)
				}
			})
		}
		// A guest's tweet keeps working with its own token.
		guest, guestToken := create(t, s, "a guest's")
		if err := s.AuthorizeEdit(ctx, guest.ID, guestToken); err != nil {
			t.Fatalf("a guest's own token: %v", err)
		}
	})
}

// One Idempotency-Key from account A, account B and a guest is three keys: each makes its own
// tweet, none replays or refuses another's, and each replays its own (an account's with its
// account and no edit token). Alone or in one batch.
func TestIdempotencyKeyPerAccount(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		ctx := context.Background()
		a, b := shown(newAccount(t, s, "alice")), shown(newAccount(t, s, "bob"))
		posters := []*chirp.TweetAccount{a, b, nil}
		tests := []struct {
			name    string
			content func(by *chirp.TweetAccount) string // the same text from all, or each its own
			batch   bool
		}{
			{"SameTextApart", func(*chirp.TweetAccount) string { return "same" }, false},
			{"OwnTextApart", func(by *chirp.TweetAccount) string { return fmt.Sprint("own ", by) }, false},
			{"SameTextInOneBatch", func(*chirp.TweetAccount) string { return "same" }, true},
			{"OwnTextInOneBatch", func(by *chirp.TweetAccount) string { return fmt.Sprint("own ", by) }, true},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				key := chirp.IdempotencyKey(fmt.Sprintf("per-account-%d-q7Zx2Lm9vB4nKpT", i))
				token := fmt.Sprint("token ", i)
				first := make([]chirp.Created, len(posters))
				if tt.batch {
					creates := make([]gormstore.BatchCreate, len(posters))
					for j, by := range posters {
						creates[j] = gormstore.BatchCreate{Draft: accountDraft(t, by, tt.content(by)), Token: token, Key: key}
					}
					created, errs := gormstore.CommitBatch(s, creates)
					for j := range posters {
						if errs[j] != nil {
							t.Fatalf("create %d: %v", j, errs[j])
						}
					}
					first = created
				} else {
					for j, by := range posters {
						c, err := s.CreateTweetOnce(ctx, accountDraft(t, by, tt.content(by)), token, key)
						if err != nil {
							t.Fatalf("create %d: %v", j, err)
						}
						first[j] = c
					}
				}
				ids := map[int64]bool{}
				for j, by := range posters {
					c := first[j]
					ids[c.Tweet.ID] = true
					if c.Replayed || !sameAccount(c.Tweet.Account, by) {
						t.Fatalf("create %d: replayed %v, account %+v; want a new tweet of %+v", j, c.Replayed, c.Tweet.Account, by)
					}
				}
				if len(ids) != len(posters) {
					t.Fatalf("%d tweets for %d scopes", len(ids), len(posters))
				}
				for j, by := range posters {
					again, err := s.CreateTweetOnce(ctx, accountDraft(t, by, tt.content(by)), "another token", key)
					if err != nil || !again.Replayed || !sameTweet(again.Tweet, first[j].Tweet) {
						t.Fatalf("replay %d: %+v %v, want %+v", j, again, err, first[j])
					}
					wantToken := token
					if by != nil {
						wantToken = ""
					}
					if again.EditToken != wantToken {
						t.Fatalf("replay %d answered edit token %q, want %q", j, again.EditToken, wantToken)
					}
					_, err = s.CreateTweetOnce(ctx, accountDraft(t, by, "something else"), token, key)
					keyReused(t, err)
				}
			})
		}
		// A guest cannot name another scope's key: its characters are not a key's.
		scoped := chirp.IdempotencyKey(fmt.Sprintf("@%d/per-account-0-q7Zx2Lm9vB4nKpT", a.ID))
		if _, err := s.CreateTweetOnce(ctx, accountDraft(t, nil, "same"), "t", scoped); chirp.ErrorCode(err) != chirp.CodeBadRequest {
			t.Fatalf("a guest's key in an account's scope: %v", err)
		}
	})
}

// The longest key of the largest account id fits the key column (PostgreSQL's is sized).
func TestLongestScopedKeyFits(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		err := gormstore.DB(s).Exec("INSERT INTO accounts (id, handle, display_name, created_at) VALUES (?, ?, ?, ?)",
			int64(math.MaxInt64), "last", "Last", time.Now().UTC()).Error
		if err != nil {
			t.Fatal(err)
		}
		last := &chirp.TweetAccount{ID: math.MaxInt64, Handle: "last", DisplayName: "Last"}
		k := longestKey()
		c, err := s.CreateTweetOnce(context.Background(), accountDraft(t, last, "long"), "t", k)
		if err != nil || !sameAccount(c.Tweet.Account, last) {
			t.Fatalf("%+v %v", c, err)
		}
		if again, err := s.CreateTweetOnce(context.Background(), accountDraft(t, last, "long"), "t", k); err != nil || !again.Replayed {
			t.Fatalf("replay: %+v %v", again, err)
		}
	})
}

// longestKey is a random key of chirp.MaxIdempotencyKey characters.
func longestKey() chirp.IdempotencyKey {
	random := make([]byte, chirp.MaxIdempotencyKey)
	rand.Read(random)
	return chirp.IdempotencyKey(base64.RawURLEncoding.EncodeToString(random)[:chirp.MaxIdempotencyKey])
}

// A create as an account that is gone (deleted after the session was checked) stores nothing
// and says so; the guest's create in the same batch is stored.
func TestCreateAsADeletedAccount(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		ctx := context.Background()
		gone := shown(newAccount(t, s, "gone"))
		if _, err := s.DeleteAccount(ctx, gone.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateTweet(ctx, accountDraft(t, gone, "alone"), nil); chirp.ErrorCode(err) != chirp.CodeNotFound {
			t.Fatalf("alone: %v", err)
		}
		created, errs := gormstore.CommitBatch(s, []gormstore.BatchCreate{
			{Draft: accountDraft(t, gone, "in a batch"), Token: "t", Key: "deleted-account-q7Zx2Lm9vB4nKpT"},
			{Draft: accountDraft(t, nil, "a guest's"), Token: "t"},
		})
		if chirp.ErrorCode(errs[0]) != chirp.CodeNotFound || errs[1] != nil || created[1].Tweet.Account != nil {
			t.Fatalf("batch: %v, %v (%+v)", errs[0], errs[1], created[1])
		}
		if n := countRows(t, s, "tweets"); n != 1 {
			t.Fatalf("%d tweets stored, want the guest's", n)
		}
		if n := countRows(t, s, "idempotency_keys"); n != 0 {
			t.Fatalf("%d keys stored, want none", n)
		}
	})
}

// An account deleted (by another process) while a batch holding one of its tweets is open waits
// for that batch, and deletes the tweet with the rest: no tweet outlives its account.
func TestDeleteAccountWaitsForAnOpenBatch(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s, other := openStore(t, url), openStore(t, url)
		ctx := context.Background()
		alice := shown(newAccount(t, s, "alice"))
		held, release := holdFirstBatch(s, nil)
		type createResult struct {
			tw  chirp.Tweet
			err error
		}
		created := make(chan createResult, 1)
		go func() {
			tw, err := s.CreateTweet(ctx, accountDraft(t, alice, "in flight"), nil)
			created <- createResult{tw, err}
		}()
		testkit.Recv(t, held, "the batch held before its commit")
		type deleteResult struct {
			ids []int64
			err error
		}
		deleted := make(chan deleteResult, 1)
		go func() {
			ids, err := other.DeleteAccount(ctx, alice.ID)
			deleted <- deleteResult{ids, err}
		}()
		if waitBlockedOrDone(t, other, true, deleted) {
			t.Fatalf("the account was deleted while its tweet's batch was open: %+v", testkit.Recv(t, deleted, "the delete"))
		}
		close(release)
		c := testkit.Recv(t, created, "the create's answer")
		d := testkit.Recv(t, deleted, "the delete's answer")
		if c.err != nil || d.err != nil || !slices.Equal(d.ids, []int64{c.tw.ID}) {
			t.Fatalf("create %+v, delete %+v: want the delete to take the tweet", c, d)
		}
		if n := countWhere(t, s, "tweets", "account_id = ?", alice.ID); n != 0 {
			t.Fatalf("%d tweets outlived their account", n)
		}
	})
}
