package hotwindow_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/hotwindow"
	"github.com/chirp-social/chirp/backend/internal/testdb"
	"github.com/chirp-social/chirp/backend/internal/testkit"
)

// A profile's pages are answered from memory when they lie in the window, each tweet with its
// account, and after the account is deleted through WrapAccounts no read, from memory or not,
// finds any of its tweets: the window forgot them before DeleteAccount returned, so before the
// caller announces them.
func TestWindowForgetsADeletedAccountsTweets(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		db, w, cached := open(t, url, hotwindow.Config{Size: 40})
		accounts := w.WrapAccounts(db)
		ctx := context.Background()
		alice, bob := asAccount(newAccount(t, db, "alice")), asAccount(newAccount(t, db, "bob"))
		var aliceIDs []int64
		for i := range 10 {
			for _, by := range []*chirp.TweetAccount{alice, bob, nil} {
				d, _ := chirp.NewDraft("guest", fmt.Sprint("tweet ", i))
				if d.Account = by; by != nil {
					d.Author = by.DisplayName
				}
				tw, err := cached.CreateTweet(ctx, d, chirp.HashEditToken("token"))
				if err != nil {
					t.Fatal(err)
				}
				if by == alice {
					aliceIDs = append(aliceIDs, tw.ID)
				}
			}
		}
		slices.Reverse(aliceIDs) // pages are newest first
		profile := chirp.PageQuery{Limit: 20, MaxID: chirp.NoMaxID, AccountID: alice.ID}
		hits := w.Hits()
		page, err := cached.Tweets(ctx, profile)
		if err != nil || !slices.Equal(testkit.IDs(page), aliceIDs) || w.Hits() != hits+1 {
			t.Fatalf("alice's profile: %v %v, want %v from memory (%d hits before, %d after)",
				testkit.IDs(page), err, aliceIDs, hits, w.Hits())
		}
		for _, tw := range page {
			if tw.Account == nil || *tw.Account != *alice {
				t.Fatalf("tweet %d of alice's profile shows account %+v", tw.ID, tw.Account)
			}
		}

		deleted, err := accounts.DeleteAccount(ctx, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		slices.Reverse(aliceIDs)
		if !slices.Equal(deleted, aliceIDs) {
			t.Fatalf("deleted %v, want %v", deleted, aliceIDs)
		}
		tests := []struct {
			name string
			q    chirp.PageQuery
		}{
			{"Timeline", chirp.PageQuery{Limit: chirp.MaxPageSize, MaxID: chirp.NoMaxID}},
			{"TimelineForward", chirp.PageQuery{Limit: chirp.MaxPageSize, MaxID: chirp.NoMaxID, Forward: true, MinID: aliceIDs[0] - 1}},
			{"Profile", profile},
			{"ProfileSince", chirp.PageQuery{Limit: 20, MaxID: chirp.NoMaxID, AccountID: alice.ID, SinceID: aliceIDs[0]}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				hits := w.Hits()
				page, err := cached.Tweets(ctx, tt.q)
				if err != nil {
					t.Fatal(err)
				}
				if w.Hits() != hits+1 {
					t.Fatalf("answered from the database: the test would not see what the window holds")
				}
				for _, tw := range page {
					if slices.Contains(deleted, tw.ID) || (tw.Account != nil && tw.Account.ID == alice.ID) {
						t.Fatalf("deleted account's tweet %d served: %v", tw.ID, testkit.IDs(page))
					}
				}
				if tt.q.AccountID == 0 && len(page) != 20 {
					t.Fatalf("%d tweets left, want bob's and the guest's 20", len(page))
				}
			})
		}
	})
}
