package gormstore

import (
	"strconv"
	"time"

	"github.com/chirp-social/chirp/backend"
)

// tweetRow is the tweets table. The edit token's hash lives only here, never in chirp.Tweet.
type tweetRow struct {
	ID            int64     `gorm:"primaryKey;autoIncrement;index:idx_tweets_account_id_id,priority:2"`
	Author        string    `gorm:"not null"`
	Content       string    `gorm:"not null"`
	EditTokenHash []byte    `gorm:"not null"`
	CreatedAt     time.Time `gorm:"not null;autoCreateTime:false"`
	UpdatedAt     time.Time `gorm:"not null;autoUpdateTime:false"`
	// AccountID is the account that posted the tweet; NULL for a guest's (every tweet made
	// before accounts). No foreign key: SQLite cannot add one to an existing table, and
	// DeleteAccount deletes an account's tweets itself. Indexed with the id, so that a
	// profile's keyset page is one range of the index, in id order, as the timeline's is of the
	// primary key (PostgreSQL's index on account_id alone orders equal keys by their place in
	// the heap, not by id, and would have to read and sort all of an account's tweets).
	AccountID *int64 `gorm:"index:idx_tweets_account_id_id,priority:1"`
}

func (tweetRow) TableName() string { return "tweets" }

// tweet is the row as the product shows it, posted by account (nil for a guest).
func (r tweetRow) tweet(account *chirp.TweetAccount) chirp.Tweet {
	return chirp.Tweet{
		ID:        r.ID,
		Author:    r.Author,
		Content:   r.Content,
		CreatedAt: r.CreatedAt.UTC(),
		UpdatedAt: r.UpdatedAt.UTC(),
		Account:   account,
	}
}

// noEditToken is the edit_token_hash of an account's tweet. The column stays NOT NULL (making
// it nullable would rebuild the SQLite table), and an empty value can never be matched: every
// hash EditTokenMatches compares it with is a SHA-256, 32 bytes, and a comparison of unequal
// lengths fails, whatever the token (the empty one included). AuthorizeEdit does not even get
// that far: it refuses an account's tweet before it looks at the hash. Never nil, which the
// drivers would send as NULL.
var noEditToken = []byte{}

// tweetView is a tweet as every read returns it: its row without the token hash, and the
// handle and display name of its account, by a LEFT JOIN on the accounts' primary key (NULL
// for a guest's tweet). The join costs one primary-key lookup per row of the page, which is
// bounded by the page's limit: the page itself is still one range of the tweets' primary key
// (or, for a profile, of idx_tweets_account_id_id), read in order and cut at the limit.
type tweetView struct {
	ID                 int64
	Author             string
	Content            string
	CreatedAt          time.Time
	UpdatedAt          time.Time
	AccountID          *int64
	AccountHandle      *string
	AccountDisplayName *string
}

// tweetViewColumns and tweetViewJoin make a query of the tweets table into one of tweetViews.
// Every other column a query names must be qualified (tweets.id): accounts has an id too.
var tweetViewColumns = []string{
	"tweets.id", "tweets.author", "tweets.content", "tweets.created_at", "tweets.updated_at", "tweets.account_id",
	"accounts.handle AS account_handle", "accounts.display_name AS account_display_name",
}

const tweetViewJoin = "LEFT JOIN accounts ON accounts.id = tweets.account_id"

func (v tweetView) tweet() chirp.Tweet {
	var account *chirp.TweetAccount
	// An account_id whose account is gone cannot be (DeleteAccount deletes the tweets with it,
	// and a create checks its account under the create lock DeleteAccount takes too).
	if v.AccountID != nil && v.AccountHandle != nil && v.AccountDisplayName != nil {
		account = &chirp.TweetAccount{ID: *v.AccountID, Handle: *v.AccountHandle, DisplayName: *v.AccountDisplayName}
	}
	return tweetRow{ID: v.ID, Author: v.Author, Content: v.Content, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}.tweet(account)
}

// keyRow is the idempotency_keys table: a key remembered for chirp.IdempotencyWindow with what
// its create's 201 said, the edit token in clear included (the one place a token is kept
// readable; "" for an account's tweet, which has none). It is inserted in the same transaction
// as its tweet, so a key exists if and only if its tweet committed. It does not refer to the
// tweet: the replay is the original answer, even after an edit or a delete.
//
// Key is the key within its scope (scopedKey), so that one key sent by two accounts, or by an
// account and a guest, is two keys: hence its size, the longest scoped key (keyColumnSize).
type keyRow struct {
	Key       string    `gorm:"primaryKey;size:276"`
	TweetID   int64     `gorm:"not null"`
	Author    string    `gorm:"not null"`
	Content   string    `gorm:"not null"`
	EditToken string    `gorm:"not null"`
	CreatedAt time.Time `gorm:"not null;index;autoCreateTime:false"`
}

func (keyRow) TableName() string { return "idempotency_keys" }

// scopedKey is the key as stored: a guest's as sent, an account's behind "@<account id>/".
// Neither '@' nor '/' is a key character (chirp.ParseIdempotencyKey), so no guest's key can
// ever be an account's, and the id, ended by '/', tells every account's apart. Its longest is
// 1 + 19 (the digits of the largest int64) + 1 + chirp.MaxIdempotencyKey = 276 characters.
func scopedKey(key chirp.IdempotencyKey, account *chirp.TweetAccount) string {
	if account == nil {
		return string(key)
	}
	return "@" + strconv.FormatInt(account.ID, 10) + "/" + string(key)
}

// created is the original answer the key was given; account is the scope's account (nil for
// a guest's key), the one that posted the tweet.
func (r keyRow) created(account *chirp.TweetAccount) chirp.Created {
	at := r.CreatedAt.UTC()
	return chirp.Created{
		Tweet:     chirp.Tweet{ID: r.TweetID, Author: r.Author, Content: r.Content, CreatedAt: at, UpdatedAt: at, Account: account},
		EditToken: r.EditToken,
		Replayed:  true,
	}
}
