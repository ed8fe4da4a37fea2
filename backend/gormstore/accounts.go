package gormstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/chirp-social/chirp/backend"
)

var _ chirp.AccountStore = (*Store)(nil)

// accountRow is the accounts table. The handle is stored canonical (lower-case) under a unique
// index, so that two accounts can never have handles that differ only in case, whatever races.
type accountRow struct {
	ID           int64   `gorm:"primaryKey;autoIncrement"`
	Handle       string  `gorm:"not null;uniqueIndex"`
	DisplayName  string  `gorm:"not null"`
	PasswordHash *string // a PHC string; NULL for an account without a password
	// UserHandle is the WebAuthn user handle, unique: a passkey names its account by it.
	// NULL for an account made before passkeys until it adds one (both databases let a
	// unique index hold many NULLs).
	UserHandle []byte    `gorm:"uniqueIndex"`
	CreatedAt  time.Time `gorm:"not null;autoCreateTime:false"`
}

func (accountRow) TableName() string { return "accounts" }

func (r accountRow) account() chirp.Account {
	a := chirp.Account{ID: r.ID, Handle: r.Handle, DisplayName: r.DisplayName, CreatedAt: r.CreatedAt.UTC()}
	copy(a.UserHandle[:], r.UserHandle) // every stored handle is one this store took whole
	return a
}

// accountColumns are what a read of an account needs: the password hash is read only for a
// sign-in (PasswordHash).
var accountColumns = []string{"id", "handle", "display_name", "user_handle", "created_at"}

// storeTime is the store's clock: UTC, to the millisecond, so that what is returned is exactly
// what is stored.
func storeTime(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// CreateAccount stores a new account, and its first passkey when it has one, in one transaction.
// A taken handle is found by the unique index, not by a read first: of two concurrent creates
// of one handle, from any process, the second meets the first's row (on PostgreSQL it waits for
// the first's commit) and fails with chirp.HandleTaken.
func (s *Store) CreateAccount(ctx context.Context, a chirp.NewAccount) (chirp.Account, error) {
	if a.Handle == "" || a.Handle != strings.ToLower(a.Handle) {
		return chirp.Account{}, fmt.Errorf("create account: handle %q is not canonical", a.Handle)
	}
	if a.UserHandle.IsZero() {
		a.UserHandle = chirp.NewUserHandle()
	}
	row := accountRow{Handle: a.Handle, DisplayName: a.DisplayName, UserHandle: a.UserHandle[:], CreatedAt: storeTime(time.Now())}
	if a.PasswordHash != "" {
		row.PasswordHash = &a.PasswordHash
	}
	err := s.write(ctx, "create account", func(tx *gorm.DB) error {
		if err := tx.Create(&row).Error; err != nil {
			if uniqueViolation(err) {
				return chirp.HandleTaken(a.Handle)
			}
			return err
		}
		if a.Passkey == nil {
			return nil
		}
		p := *a.Passkey
		p.AccountID = row.ID
		_, err := insertPasskey(tx, p, row.CreatedAt)
		return err
	})
	if err != nil {
		return chirp.Account{}, err
	}
	return row.account(), nil
}

// AccountByHandle finds an account by its canonical handle.
func (s *Store) AccountByHandle(ctx context.Context, handle string) (chirp.Account, error) {
	return s.findAccount(ctx, "handle = ?", handle)
}

// AccountByID finds an account.
func (s *Store) AccountByID(ctx context.Context, id int64) (chirp.Account, error) {
	return s.findAccount(ctx, "id = ?", id)
}

func (s *Store) findAccount(ctx context.Context, where string, arg any) (chirp.Account, error) {
	var rows []accountRow
	err := s.db.WithContext(ctx).Select(accountColumns).Where(where, arg).Limit(1).Find(&rows).Error
	if err != nil {
		return chirp.Account{}, fmt.Errorf("find account: %w", classify(err))
	}
	if len(rows) == 0 {
		return chirp.Account{}, chirp.AccountNotFound()
	}
	return rows[0].account(), nil
}

// EnsureUserHandle gives the account the user handle fresh unless it has one, and returns the
// one it has. The update only fills a NULL, so of two concurrent calls the first wins and
// both return its handle.
func (s *Store) EnsureUserHandle(ctx context.Context, accountID int64, fresh chirp.UserHandle) (chirp.UserHandle, error) {
	if fresh.IsZero() {
		return chirp.UserHandle{}, errors.New("ensure user handle: the handle is zero")
	}
	var handle chirp.UserHandle
	err := s.write(ctx, "give a user handle", func(tx *gorm.DB) error {
		err := tx.Model(&accountRow{}).Where("id = ? AND user_handle IS NULL", accountID).
			Update("user_handle", fresh[:]).Error
		if err != nil {
			return err
		}
		var rows []accountRow
		if err := tx.Select("id", "user_handle").Where("id = ?", accountID).Limit(1).Find(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return chirp.AccountNotFound()
		}
		handle = rows[0].account().UserHandle
		return nil
	})
	if err != nil {
		return chirp.UserHandle{}, err
	}
	return handle, nil
}

// PasswordHash is the account's password hash, or "" when it has none.
func (s *Store) PasswordHash(ctx context.Context, accountID int64) (string, error) {
	var rows []accountRow
	err := s.db.WithContext(ctx).Select("id", "password_hash").Where("id = ?", accountID).Limit(1).Find(&rows).Error
	if err != nil {
		return "", fmt.Errorf("read password hash: %w", classify(err))
	}
	if len(rows) == 0 {
		return "", chirp.AccountNotFound()
	}
	if rows[0].PasswordHash == nil {
		return "", nil
	}
	return *rows[0].PasswordHash, nil
}

// SetPasswordHash gives the account a password, or replaces it.
func (s *Store) SetPasswordHash(ctx context.Context, accountID int64, hash string) error {
	if hash == "" {
		return errors.New("set password hash: the hash is empty")
	}
	return s.write(ctx, "set password hash", func(tx *gorm.DB) error { return setPasswordHash(tx, accountID, hash) })
}

// ReplacePasswordHash replaces the account's password and ends its sessions but keepSessionID,
// in one transaction: a changed password never leaves the old one's sessions open.
func (s *Store) ReplacePasswordHash(ctx context.Context, accountID int64, hash string, keepSessionID int64) error {
	if hash == "" {
		return errors.New("replace password hash: the hash is empty")
	}
	return s.write(ctx, "replace password hash", func(tx *gorm.DB) error {
		if err := setPasswordHash(tx, accountID, hash); err != nil {
			return err
		}
		return tx.Where("account_id = ? AND id <> ?", accountID, keepSessionID).Delete(&sessionRow{}).Error
	})
}

func setPasswordHash(tx *gorm.DB, accountID int64, hash string) error {
	res := tx.Model(&accountRow{}).Where("id = ?", accountID).Update("password_hash", hash)
	if res.Error == nil && res.RowsAffected == 0 {
		return chirp.AccountNotFound()
	}
	return res.Error
}

// DeleteAccount deletes the account, its tweets and (by the foreign keys' cascade) its sessions
// and passkeys, in one transaction, and returns the deleted tweets' ids, ascending. Each deleted
// tweet is announced on the bus from inside the transaction, as DeleteTweet does, so that other
// processes hear of it only if it commits; telling this process's clients is the caller's, with
// the ids returned (and the hot window's, which wraps this method: hotwindow.WrapAccounts).
//
// On PostgreSQL it first takes the create lock, as every create batch does: a batch that
// checked the account before this delete committed would otherwise commit its tweet after it,
// a tweet of no account that nothing deletes (batchAccounts). On SQLite, BEGIN IMMEDIATE
// serialises it with the batches already.
func (s *Store) DeleteAccount(ctx context.Context, accountID int64) ([]int64, error) {
	var deleted []int64
	err := s.write(ctx, "delete account", func(tx *gorm.DB) error {
		if s.postgres {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", createLockKey).Error; err != nil {
				return err
			}
		}
		var ids []int64
		if err := tx.Model(&tweetRow{}).Where("account_id = ?", accountID).Order("id").Pluck("id", &ids).Error; err != nil {
			return err
		}
		if len(ids) > 0 {
			if err := tx.Where("account_id = ?", accountID).Delete(&tweetRow{}).Error; err != nil {
				return err
			}
		}
		res := tx.Where("id = ?", accountID).Delete(&accountRow{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return chirp.AccountNotFound()
		}
		for _, id := range ids {
			if err := s.notify(tx, changeDeleted, id); err != nil {
				return err
			}
		}
		deleted = ids
		return nil
	})
	if err != nil {
		return nil, err
	}
	return deleted, nil
}

// write runs fn as one write transaction by the store's rules for writes other than creates of
// tweets (which go through the writer): on SQLite it first takes this process's write slot, and
// BEGIN IMMEDIATE waits out another process's writer within ctx (tx.go); the COMMIT is never cut
// off by a client that goes away (commitContext). A product error fn returns is returned as it
// is; any other failure is wrapped with what and classified.
func (s *Store) write(ctx context.Context, what string, fn func(tx *gorm.DB) error) error {
	release, err := s.acquireWrite(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer release()
	txCtx, cancel := commitContext(ctx)
	defer cancel()
	err = s.transaction(txCtx, ctx, fn)
	if err == nil {
		return nil
	}
	if chirp.ErrorCode(err) != "" && !errors.Is(err, chirp.ErrOutcomeUnknown) {
		return err
	}
	return fmt.Errorf("%s: %w", what, classify(err))
}
