package gormstore

import (
	"context"
	"fmt"

	"github.com/chirp-social/chirp/backend"
)

// Tweet returns one tweet.
func (s *Store) Tweet(ctx context.Context, id int64) (chirp.Tweet, error) {
	var rows []tweetRow
	err := s.db.WithContext(ctx).Select(publicColumns).Where("id = ?", id).Limit(1).Find(&rows).Error
	if err != nil {
		return chirp.Tweet{}, fmt.Errorf("get tweet %d: %w", id, classify(err))
	}
	if len(rows) == 0 {
		return chirp.Tweet{}, chirp.NotFound(id)
	}
	return rows[0].tweet(), nil
}

// Tweets returns one page of the timeline, newest first.
func (s *Store) Tweets(ctx context.Context, q chirp.PageQuery) ([]chirp.Tweet, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	db := s.db.WithContext(ctx).Select(publicColumns).Where("id < ?", q.MaxID).Limit(q.Limit)
	if q.Forward {
		db = db.Where("id > ?", q.MinID).Order("id ASC")
	} else {
		db = db.Where("id > ?", q.SinceID).Order("id DESC")
	}
	var rows []tweetRow
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

// AuthorizeEdit checks token against the stored hash, in constant time.
func (s *Store) AuthorizeEdit(ctx context.Context, id int64, token string) error {
	var rows []tweetRow
	err := s.db.WithContext(ctx).Select("id", "edit_token_hash").Where("id = ?", id).Limit(1).Find(&rows).Error
	if err != nil {
		return fmt.Errorf("authorize edit of tweet %d: %w", id, classify(err))
	}
	if len(rows) == 0 {
		return chirp.NotFound(id)
	}
	if !chirp.EditTokenMatches(rows[0].EditTokenHash, token) {
		return chirp.Errorf(chirp.CodeForbidden, "this edit token does not own tweet %d", id)
	}
	return nil
}
