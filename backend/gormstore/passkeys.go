package gormstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/chirp-social/chirp/backend"
)

// passkeyRow is the passkeys table: a WebAuthn credential of an account, one column per field
// the relying-party library needs back (go-webauthn's "explicit fields" shape), found at sign-in
// by its credential id (unique: an authenticator's credential belongs to one account). It goes
// with its account (ON DELETE CASCADE).
type passkeyRow struct {
	ID                int64       `gorm:"primaryKey;autoIncrement"`
	AccountID         int64       `gorm:"not null;index"`
	Account           *accountRow `gorm:"constraint:OnDelete:CASCADE"`
	CredentialID      []byte      `gorm:"not null;uniqueIndex"`
	PublicKey         []byte      `gorm:"not null"`
	AttestationType   string      `gorm:"not null"`
	AttestationFormat string      `gorm:"not null"`
	// Transports, comma-separated: WebAuthn's transport names hold no comma.
	Transports   string `gorm:"not null"`
	AAGUID       []byte `gorm:"column:aaguid"`
	SignCount    int64  `gorm:"not null"` // a uint32: int64 holds all of it on both databases
	CloneWarning bool   `gorm:"not null"`
	Attachment   string `gorm:"not null"`
	// Flags is the authenticator data's flags byte, which the library rebuilds its flags from.
	Flags       int16 `gorm:"not null"`
	Attestation []byte
	Extensions  []byte
	CreatedAt   time.Time  `gorm:"not null;autoCreateTime:false"`
	LastUsedAt  *time.Time // NULL before the first sign-in
}

func (passkeyRow) TableName() string { return "passkeys" }

func newPasskeyRow(p chirp.Passkey, now time.Time) passkeyRow {
	return passkeyRow{
		AccountID:         p.AccountID,
		CredentialID:      p.CredentialID,
		PublicKey:         p.PublicKey,
		AttestationType:   p.AttestationType,
		AttestationFormat: p.AttestationFormat,
		Transports:        strings.Join(p.Transports, ","),
		AAGUID:            p.AAGUID,
		SignCount:         int64(p.SignCount),
		CloneWarning:      p.CloneWarning,
		Attachment:        p.Attachment,
		Flags:             int16(p.Flags),
		Attestation:       p.Attestation,
		Extensions:        p.Extensions,
		CreatedAt:         now,
	}
}

func (r passkeyRow) passkey() chirp.Passkey {
	p := chirp.Passkey{
		ID:                r.ID,
		AccountID:         r.AccountID,
		CredentialID:      r.CredentialID,
		PublicKey:         r.PublicKey,
		AttestationType:   r.AttestationType,
		AttestationFormat: r.AttestationFormat,
		AAGUID:            r.AAGUID,
		SignCount:         uint32(r.SignCount),
		CloneWarning:      r.CloneWarning,
		Attachment:        r.Attachment,
		Flags:             byte(r.Flags),
		Attestation:       r.Attestation,
		Extensions:        r.Extensions,
		CreatedAt:         r.CreatedAt.UTC(),
	}
	if r.Transports != "" {
		p.Transports = strings.Split(r.Transports, ",")
	}
	if r.LastUsedAt != nil {
		p.LastUsedAt = r.LastUsedAt.UTC()
	}
	return p
}

// insertPasskey inserts a passkey in tx: chirp.PasskeyTaken when its credential id is
// registered already, chirp.AccountNotFound when its account is not there.
func insertPasskey(tx *gorm.DB, p chirp.Passkey, now time.Time) (chirp.Passkey, error) {
	row := newPasskeyRow(p, now)
	err := tx.Omit("Account").Create(&row).Error
	switch {
	case uniqueViolation(err):
		return chirp.Passkey{}, chirp.PasskeyTaken()
	case foreignKeyViolation(err):
		return chirp.Passkey{}, chirp.AccountNotFound()
	case err != nil:
		return chirp.Passkey{}, err
	}
	return row.passkey(), nil
}

// AddPasskey stores a passkey of p.AccountID.
func (s *Store) AddPasskey(ctx context.Context, p chirp.Passkey) (chirp.Passkey, error) {
	if len(p.CredentialID) == 0 || len(p.PublicKey) == 0 {
		return chirp.Passkey{}, fmt.Errorf("add passkey: no credential id or public key")
	}
	var added chirp.Passkey
	err := s.write(ctx, "add passkey", func(tx *gorm.DB) error {
		var err error
		added, err = insertPasskey(tx, p, storeTime(time.Now()))
		return err
	})
	if err != nil {
		return chirp.Passkey{}, err
	}
	return added, nil
}

// PasskeysOf lists the account's passkeys, oldest first.
func (s *Store) PasskeysOf(ctx context.Context, accountID int64) ([]chirp.Passkey, error) {
	var rows []passkeyRow
	err := s.db.WithContext(ctx).Where("account_id = ?", accountID).Order("id").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("list passkeys: %w", classify(err))
	}
	passkeys := make([]chirp.Passkey, len(rows))
	for i, r := range rows {
		passkeys[i] = r.passkey()
	}
	return passkeys, nil
}

// PasskeyByCredentialID finds the passkey a sign-in names.
func (s *Store) PasskeyByCredentialID(ctx context.Context, credentialID []byte) (chirp.Passkey, error) {
	var rows []passkeyRow
	err := s.db.WithContext(ctx).Where("credential_id = ?", credentialID).Limit(1).Find(&rows).Error
	if err != nil {
		return chirp.Passkey{}, fmt.Errorf("find passkey: %w", classify(err))
	}
	if len(rows) == 0 {
		return chirp.Passkey{}, chirp.PasskeyNotFound()
	}
	return rows[0].passkey(), nil
}

// UpdateSignCount records a sign-in with the passkey: its counter, clone warning and flags, as
// the library requires after every successful sign-in, and when it was used; a zero UsedAt (a
// refused sign-in) leaves the last use as it was.
func (s *Store) UpdateSignCount(ctx context.Context, id int64, u chirp.PasskeyUse) error {
	changes := map[string]any{
		"sign_count":    int64(u.SignCount),
		"clone_warning": u.CloneWarning,
		"flags":         int16(u.Flags),
	}
	if !u.UsedAt.IsZero() {
		changes["last_used_at"] = storeTime(u.UsedAt)
	}
	return s.write(ctx, "record passkey use", func(tx *gorm.DB) error {
		res := tx.Model(&passkeyRow{}).Where("id = ?", id).Updates(changes)
		if res.Error == nil && res.RowsAffected == 0 {
			return chirp.PasskeyNotFound()
		}
		return res.Error
	})
}

// DeletePasskey removes one of the account's passkeys. The account is part of the condition,
// so another account's passkey is not found. It refuses to remove the account's last way to
// sign in (no password, no other passkey): the check and the delete are one transaction with
// the account's row locked, so two deletes at once cannot each see the other's passkey left.
func (s *Store) DeletePasskey(ctx context.Context, accountID, id int64) error {
	return s.write(ctx, "delete passkey", func(tx *gorm.DB) error {
		owner := tx.Model(&accountRow{}).Select("password_hash").Where("id = ?", accountID).Limit(1)
		if s.postgres {
			// SQLite needs no lock: its writes take turns (acquireWrite).
			owner = owner.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate})
		}
		var accounts []accountRow
		if err := owner.Find(&accounts).Error; err != nil {
			return err
		}
		if len(accounts) == 0 {
			return chirp.PasskeyNotFound()
		}
		var kept int64
		err := tx.Model(&passkeyRow{}).Where("account_id = ? AND id <> ?", accountID, id).Count(&kept).Error
		if err != nil {
			return err
		}
		if kept == 0 && accounts[0].PasswordHash == nil {
			var mine int64
			if err := tx.Model(&passkeyRow{}).Where("id = ? AND account_id = ?", id, accountID).Count(&mine).Error; err != nil {
				return err
			}
			if mine == 0 {
				return chirp.PasskeyNotFound()
			}
			return chirp.LastWayIn()
		}
		res := tx.Where("id = ? AND account_id = ?", id, accountID).Delete(&passkeyRow{})
		if res.Error == nil && res.RowsAffected == 0 {
			return chirp.PasskeyNotFound()
		}
		return res.Error
	})
}
