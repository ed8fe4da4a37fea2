package gormstore

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/chirp-social/chirp/backend"
)

// sessionRow is the sessions table: a signed-in device, found by its token's hash (the token is
// never stored). It goes with its account (ON DELETE CASCADE).
type sessionRow struct {
	ID        int64       `gorm:"primaryKey;autoIncrement"`
	AccountID int64       `gorm:"not null;index"`
	Account   *accountRow `gorm:"constraint:OnDelete:CASCADE"`
	TokenHash []byte      `gorm:"not null;uniqueIndex"`
	CreatedAt time.Time   `gorm:"not null;autoCreateTime:false"`
	// LastUsedAt is indexed for the purge of idle sessions, which looks for the oldest. The index
	// costs a write at each recorded use, which is at most one a minute per session
	// (sessionTouchEvery).
	LastUsedAt time.Time `gorm:"not null;index"`
}

func (sessionRow) TableName() string { return "sessions" }

func (r sessionRow) session() chirp.Session {
	return chirp.Session{ID: r.ID, AccountID: r.AccountID, CreatedAt: r.CreatedAt.UTC(), LastUsedAt: r.LastUsedAt.UTC()}
}

// sessionColumns are what a session's reader needs; the token hash is only looked up.
var sessionColumns = []string{"id", "account_id", "created_at", "last_used_at"}

// sessionTouchEvery is how stale a session's last_used_at may be before a use moves it. Every
// signed-in request finds its session, and writing the time on each would make every read a
// write: on SQLite a turn at the one write lock and an fsync, taken from the tweets' writer; on
// PostgreSQL a new row version and its WAL per request. Expiry counts in days, so a minute's
// error in the last use changes nothing a user can see.
const sessionTouchEvery = time.Minute

// CreateSession starts a session of the account, used now. An account deleted meanwhile is
// chirp.AccountNotFound (the foreign key).
func (s *Store) CreateSession(ctx context.Context, accountID int64, tokenHash []byte, now time.Time) (chirp.Session, error) {
	if len(tokenHash) == 0 {
		return chirp.Session{}, fmt.Errorf("create session: the token hash is empty")
	}
	now = storeTime(now)
	row := sessionRow{AccountID: accountID, TokenHash: tokenHash, CreatedAt: now, LastUsedAt: now}
	err := s.write(ctx, "create session", func(tx *gorm.DB) error {
		err := tx.Omit("Account").Create(&row).Error
		if foreignKeyViolation(err) {
			return chirp.AccountNotFound()
		}
		return err
	})
	if err != nil {
		return chirp.Session{}, err
	}
	return row.session(), nil
}

// SessionByTokenHash finds the session a token opens, unless it was idle for longer than
// maxIdle as of now, and records the use when the last one recorded is sessionTouchEvery old.
// An expired session is left in place (ListSessions ignores it) and answers not found.
func (s *Store) SessionByTokenHash(ctx context.Context, tokenHash []byte, now time.Time, maxIdle time.Duration) (chirp.Session, error) {
	now = storeTime(now)
	var rows []sessionRow
	err := s.db.WithContext(ctx).Select(sessionColumns).Where("token_hash = ?", tokenHash).Limit(1).Find(&rows).Error
	if err != nil {
		return chirp.Session{}, fmt.Errorf("find session: %w", classify(err))
	}
	if len(rows) == 0 {
		return chirp.Session{}, chirp.SessionNotFound()
	}
	row := rows[0]
	if now.Sub(row.LastUsedAt) > maxIdle {
		return chirp.Session{}, chirp.SessionNotFound()
	}
	if now.Sub(row.LastUsedAt) < sessionTouchEvery {
		return row.session(), nil
	}
	// Only forward: a concurrent use that recorded a later time keeps it.
	err = s.write(ctx, "record session use", func(tx *gorm.DB) error {
		return tx.Model(&sessionRow{}).Where("id = ? AND last_used_at < ?", row.ID, now).
			Update("last_used_at", now).Error
	})
	if err != nil {
		return chirp.Session{}, err
	}
	row.LastUsedAt = now
	return row.session(), nil
}

// ListSessions lists the account's sessions used within maxIdle of now, the most recently used
// first.
func (s *Store) ListSessions(ctx context.Context, accountID int64, now time.Time, maxIdle time.Duration) ([]chirp.Session, error) {
	// The bound is in UTC, as every stored time is: SQLite compares times as text.
	since := storeTime(now).Add(-maxIdle)
	var rows []sessionRow
	err := s.db.WithContext(ctx).Select(sessionColumns).
		Where("account_id = ? AND last_used_at >= ?", accountID, since).
		Order("last_used_at DESC, id DESC").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", classify(err))
	}
	sessions := make([]chirp.Session, len(rows))
	for i, r := range rows {
		sessions[i] = r.session()
	}
	return sessions, nil
}

// DeleteSession ends one of the account's sessions. The account is part of the condition, so
// another account's session id is not found, never deleted.
func (s *Store) DeleteSession(ctx context.Context, accountID, sessionID int64) error {
	return s.write(ctx, "delete session", func(tx *gorm.DB) error {
		res := tx.Where("id = ? AND account_id = ?", sessionID, accountID).Delete(&sessionRow{})
		if res.Error == nil && res.RowsAffected == 0 {
			return chirp.SessionNotFound()
		}
		return res.Error
	})
}

// DeleteOtherSessions ends every session of the account but keepID ("sign out everywhere
// else") and says how many it ended.
func (s *Store) DeleteOtherSessions(ctx context.Context, accountID, keepID int64) (int64, error) {
	var n int64
	err := s.write(ctx, "delete other sessions", func(tx *gorm.DB) error {
		res := tx.Where("account_id = ? AND id <> ?", accountID, keepID).Delete(&sessionRow{})
		n = res.RowsAffected
		return res.Error
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// PurgeIdleSessions deletes every session idle for longer than maxIdle as of now (none of which
// SessionByTokenHash would open any more) and says how many. It deletes purgeChunk at a time,
// each chunk its own transaction, so that a long backlog never holds SQLite's one write lock for
// long. The writer runs it between create batches when the store was opened WithSessionPurge.
func (s *Store) PurgeIdleSessions(ctx context.Context, now time.Time, maxIdle time.Duration) (int64, error) {
	var total int64
	for {
		n, err := s.purgeIdleChunk(ctx, now, maxIdle)
		total += n
		if err != nil || n < purgeChunk {
			return total, err
		}
	}
}

// purgeIdleChunk deletes up to purgeChunk sessions idle for longer than maxIdle as of now. The
// bound is in UTC, as every stored time is: SQLite compares times as text.
func (s *Store) purgeIdleChunk(ctx context.Context, now time.Time, maxIdle time.Duration) (int64, error) {
	var n int64
	err := s.write(ctx, "purge idle sessions", func(tx *gorm.DB) error {
		res := tx.Exec(`DELETE FROM sessions WHERE id IN
			(SELECT id FROM sessions WHERE last_used_at < ? LIMIT ?)`, storeTime(now).Add(-maxIdle), purgeChunk)
		n = res.RowsAffected
		return res.Error
	})
	return n, err
}
