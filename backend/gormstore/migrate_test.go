package gormstore_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/gormstore"
	"github.com/chirp-social/chirp/backend/internal/testdb"
)

// A database made by the code before accounts migrates: its tweets stay, as guests' tweets
// whose edit tokens still work, and accounts and new tweets work beside them.
func TestMigrateFromBeforeAccounts(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		old, err := gormstore.OpenPreAccounts(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		migrator := gormstore.DB(old).Migrator()
		if migrator.HasColumn("tweets", "account_id") || migrator.HasTable("accounts") {
			old.Close()
			t.Fatal("the schema before accounts already has them: this test would prove nothing")
		}
		// A tweet as that code inserted it, and its idempotency key.
		token, hash, err := chirp.NewEditToken()
		if err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
		var guestID int64
		err = gormstore.DB(old).Raw(`INSERT INTO tweets (author, content, edit_token_hash, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?) RETURNING id`, "guest", "from before accounts", hash, at, at).Scan(&guestID).Error
		if err != nil {
			t.Fatal(err)
		}
		err = gormstore.DB(old).Exec(`INSERT INTO idempotency_keys ("key", tweet_id, author, content, edit_token, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`, "k1", guestID, "guest", "from before accounts", token, at).Error
		if err != nil {
			t.Fatal(err)
		}
		old.Close()

		s := openStore(t, url)
		guest, err := s.Tweet(ctx, guestID)
		if err != nil || guest.Author != "guest" || guest.Content != "from before accounts" || !guest.CreatedAt.Equal(at) {
			t.Fatalf("the old tweet: %+v, %v", guest, err)
		}
		if err := s.AuthorizeEdit(ctx, guestID, token); err != nil {
			t.Fatalf("the old tweet's edit token: %v", err)
		}
		var accountID *int64
		if err := gormstore.DB(s).Raw("SELECT account_id FROM tweets WHERE id = ?", guestID).Scan(&accountID).Error; err != nil || accountID != nil {
			t.Fatalf("the old tweet's account: %v, %v; want NULL", accountID, err)
		}
		if !gormstore.DB(s).Migrator().HasIndex("tweets", "idx_tweets_account_id_id") {
			t.Fatal("no index on tweets (account_id, id)")
		}
		if keys := countRows(t, s, "idempotency_keys"); keys != 1 {
			t.Fatalf("%d idempotency keys, want the one from before", keys)
		}
		newer, _ := create(t, s, "after accounts")
		if newer.ID <= guestID {
			t.Fatalf("new tweet %d after the old %d", newer.ID, guestID)
		}
		a := newAccount(t, s, "alice")
		newSession(t, s, a.ID, 1, time.Now())
		addPasskey(t, s, a.ID, 1)
		// The key column was widened for an account's scope around the longest key.
		mine, err := s.CreateTweetOnce(ctx, accountDraft(t, shown(a), "alice's"), "t", longestKey())
		if err != nil {
			t.Fatalf("the longest key of an account: %v", err)
		}
		// Guests' tweets are no one's: deleting an account leaves them.
		if deleted, err := s.DeleteAccount(ctx, a.ID); err != nil || !slices.Equal(deleted, []int64{mine.Tweet.ID}) {
			t.Fatalf("delete account: %v, %v; want alice's tweet %d alone", deleted, err, mine.Tweet.ID)
		}
		if _, err := s.Tweet(ctx, guestID); err != nil {
			t.Fatalf("the old tweet after an account's delete: %v", err)
		}
	})
}

// A database made by the first code with accounts, whose index of tweets.account_id was on
// that column alone, migrates to the index on (account_id, id) and drops the old one, which
// the new one makes useless.
func TestMigrateReplacesTheAccountIndex(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		if err := gormstore.DB(s).Exec("CREATE INDEX idx_tweets_account_id ON tweets (account_id)").Error; err != nil {
			t.Fatal(err)
		}
		s.Close()
		s = openStore(t, url)
		m := gormstore.DB(s).Migrator()
		if m.HasIndex("tweets", "idx_tweets_account_id") || !m.HasIndex("tweets", "idx_tweets_account_id_id") {
			t.Fatalf("old index left: %v, new index there: %v", m.HasIndex("tweets", "idx_tweets_account_id"), m.HasIndex("tweets", "idx_tweets_account_id_id"))
		}
	})
}
