package gormstore

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/chirp-social/chirp/backend"
)

// UpdateTweet replaces a tweet's content. UpdatedAt moves forward by at least a millisecond,
// even for two edits within one, so that "edited" always shows and edits order by it.
func (s *Store) UpdateTweet(ctx context.Context, id int64, e chirp.Edit) (chirp.Tweet, error) {
	if err := e.Validate(); err != nil {
		return chirp.Tweet{}, err
	}
	release, err := s.acquireWrite(ctx)
	if err != nil {
		return chirp.Tweet{}, fmt.Errorf("update tweet %d: %w", id, err)
	}
	defer release()
	var updated chirp.Tweet
	txCtx, cancel := commitContext(ctx)
	defer cancel()
	err = s.transaction(txCtx, ctx, func(tx *gorm.DB) error {
		read := views(tx).Where("tweets.id = ?", id).Limit(1)
		if s.postgres {
			// Of tweets alone: PostgreSQL cannot lock the nullable side of an outer join.
			read = read.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate, Table: clause.Table{Name: "tweets"}})
		}
		var rows []tweetView
		if err := read.Find(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return chirp.NotFound(id)
		}
		row := rows[0]
		now := time.Now().UTC().Truncate(time.Millisecond)
		if floor := row.UpdatedAt.UTC().Add(time.Millisecond); now.Before(floor) {
			now = floor
		}
		err := tx.Model(&tweetRow{}).Where("id = ?", id).
			Updates(map[string]any{"content": e.Content, "updated_at": now}).Error
		if err != nil {
			return err
		}
		row.Content, row.UpdatedAt = e.Content, now
		updated = row.tweet()
		return s.notify(tx, changeUpdated, id)
	})
	if err != nil {
		if chirp.ErrorCode(err) != "" {
			return chirp.Tweet{}, err
		}
		return chirp.Tweet{}, fmt.Errorf("update tweet %d: %w", id, classify(err))
	}
	return updated, nil
}

// DeleteTweet removes a tweet.
func (s *Store) DeleteTweet(ctx context.Context, id int64) error {
	release, err := s.acquireWrite(ctx)
	if err != nil {
		return fmt.Errorf("delete tweet %d: %w", id, err)
	}
	defer release()
	// A transaction even for one statement: on SQLite that is how a write waits for another
	// process's writer within the request's deadline (begin).
	var deleted int64
	txCtx, cancel := commitContext(ctx)
	defer cancel()
	err = s.transaction(txCtx, ctx, func(tx *gorm.DB) error {
		res := tx.Where("id = ?", id).Delete(&tweetRow{})
		if res.Error != nil {
			return res.Error
		}
		deleted = res.RowsAffected
		if deleted == 0 {
			return nil
		}
		return s.notify(tx, changeDeleted, id)
	})
	if err != nil {
		return fmt.Errorf("delete tweet %d: %w", id, classify(err))
	}
	if deleted == 0 {
		return chirp.NotFound(id)
	}
	return nil
}
