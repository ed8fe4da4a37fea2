package gormstore

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"github.com/chirp-social/chirp/backend"
)

// views is a query of tweetViews (rows.go) on db.
func views(db *gorm.DB) *gorm.DB {
	return db.Table("tweets").Select(tweetViewColumns).Joins(tweetViewJoin)
}

// Tweet returns one tweet, with its account.
func (s *Store) Tweet(ctx context.Context, id int64) (chirp.Tweet, error) {
	var rows []tweetView
	err := views(s.db.WithContext(ctx)).Where("tweets.id = ?", id).Limit(1).Find(&rows).Error
	if err != nil {
		return chirp.Tweet{}, fmt.Errorf("get tweet %d: %w", id, classify(err))
	}
	if len(rows) == 0 {
		return chirp.Tweet{}, chirp.NotFound(id)
	}
	return rows[0].tweet(), nil
}

// Tweets returns one page of the timeline, or of one account's tweets, newest first. Either is
// one range of an index in id order (the primary key, or idx_tweets_account_id_id), cut at the
// limit: no sort, no OFFSET.
func (s *Store) Tweets(ctx context.Context, q chirp.PageQuery) ([]chirp.Tweet, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	db := views(s.db.WithContext(ctx)).Where("tweets.id < ?", q.MaxID).Limit(q.Limit)
	if q.AccountID != 0 {
		db = db.Where("tweets.account_id = ?", q.AccountID)
	}
	if q.Forward {
		db = db.Where("tweets.id > ?", q.MinID).Order("tweets.id ASC")
	} else {
		db = db.Where("tweets.id > ?", q.SinceID).Order("tweets.id DESC")
	}
	var rows []tweetView
	if err := db.Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list tweets: %w", classify(err))
	}
	tweets := make([]chirp.Tweet, len(rows))
	for i, r := range rows {
		tweets[i] = r.tweet()
	}
	if q.Forward {
		// The oldest Limit were selected; pages are always newest first.
		for i, j := 0, len(tweets)-1; i < j; i, j = i+1, j-1 {
			tweets[i], tweets[j] = tweets[j], tweets[i]
		}
	}
	return tweets, nil
}

// AuthorizeEdit checks token against the stored hash, in constant time. An account's tweet is
// refused whatever the token: it has no edit token, only its account's sessions may change it
// (which the caller checks, not the store).
func (s *Store) AuthorizeEdit(ctx context.Context, id int64, token string) error {
	var rows []struct {
		EditTokenHash []byte
		AccountID     *int64
		Handle        *string
	}
	err := s.db.WithContext(ctx).Table("tweets").
		Select("tweets.edit_token_hash", "tweets.account_id", "accounts.handle").Joins(tweetViewJoin).
		Where("tweets.id = ?", id).Limit(1).Find(&rows).Error
	if err != nil {
		return fmt.Errorf("authorize edit of tweet %d: %w", id, classify(err))
	}
	if len(rows) == 0 {
		return chirp.NotFound(id)
	}
	row := rows[0]
	if row.AccountID != nil {
		owner := "an account"
		if row.Handle != nil {
			owner = "@" + *row.Handle
		}
		return chirp.Errorf(chirp.CodeForbidden,
			"tweet %d belongs to %s: sign in as %s to change it (an edit token cannot)", id, owner, owner)
	}
	if !chirp.EditTokenMatches(row.EditTokenHash, token) {
		return chirp.Errorf(chirp.CodeForbidden, "this edit token does not own tweet %d", id)
	}
	return nil
}
