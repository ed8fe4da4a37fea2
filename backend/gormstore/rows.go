package gormstore

import (
	"time"

	"github.com/chirp-social/chirp/backend"
)

// tweetRow is the tweets table. The edit token's hash lives only here, never in chirp.Tweet.
type tweetRow struct {
	ID            int64     `gorm:"primaryKey;autoIncrement"`
	Author        string    `gorm:"not null"`
	Content       string    `gorm:"not null"`
	EditTokenHash []byte    `gorm:"not null"`
	CreatedAt     time.Time `gorm:"not null;autoCreateTime:false"`
	UpdatedAt     time.Time `gorm:"not null;autoUpdateTime:false"`
	// AccountID is the account that posted the tweet; NULL for a guest's (every tweet made
	// before accounts). No foreign key: SQLite cannot add one to an existing table, and
	// DeleteAccount deletes an account's tweets itself.
	AccountID *int64 `gorm:"index"`
}

func (tweetRow) TableName() string { return "tweets" }

func (r tweetRow) tweet() chirp.Tweet {
	return chirp.Tweet{
		ID:        r.ID,
		Author:    r.Author,
		Content:   r.Content,
		CreatedAt: r.CreatedAt.UTC(),
		UpdatedAt: r.UpdatedAt.UTC(),
	}
}

// publicColumns are what a read needs; the token hash is only read to authorise an edit.
var publicColumns = []string{"id", "author", "content", "created_at", "updated_at"}

// keyRow is the idempotency_keys table: a key remembered for chirp.IdempotencyWindow with what
// its create's 201 said, the edit token in clear included (the one place a token is kept
// readable). It is inserted in the same transaction as its tweet, so a key exists if and only
// if its tweet committed. It does not refer to the tweet: the replay is the original answer,
// even after an edit or a delete.
type keyRow struct {
	Key       string    `gorm:"primaryKey;size:255"`
	TweetID   int64     `gorm:"not null"`
	Author    string    `gorm:"not null"`
	Content   string    `gorm:"not null"`
	EditToken string    `gorm:"not null"`
	CreatedAt time.Time `gorm:"not null;index;autoCreateTime:false"`
}

func (keyRow) TableName() string { return "idempotency_keys" }

// created is the original answer the key was given.
func (r keyRow) created() chirp.Created {
	at := r.CreatedAt.UTC()
	return chirp.Created{
		Tweet:     chirp.Tweet{ID: r.TweetID, Author: r.Author, Content: r.Content, CreatedAt: at, UpdatedAt: at},
		EditToken: r.EditToken,
		Replayed:  true,
	}
}
