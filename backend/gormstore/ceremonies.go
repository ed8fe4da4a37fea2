package gormstore

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/chirp-social/chirp/backend"
)

var _ chirp.CeremonyStore = (*Store)(nil)

// ceremonyRow is the ceremonies table: a WebAuthn ceremony begun, found by its id's hash,
// deleted when it is taken, and purged with the expired idempotency keys once it has expired
// (purgeExpired). No foreign key to its account: an account deleted meanwhile fails the
// ceremony's finish instead, and the row goes with the next purge.
type ceremonyRow struct {
	ID        int64     `gorm:"primaryKey;autoIncrement"`
	IDHash    []byte    `gorm:"not null;uniqueIndex"`
	Purpose   string    `gorm:"not null"`
	AccountID int64     `gorm:"not null"` // 0 for a sign-up or a sign-in
	State     []byte    `gorm:"not null"`
	ExpiresAt time.Time `gorm:"not null;index"`
}

func (ceremonyRow) TableName() string { return "ceremonies" }

// SaveCeremony stores a ceremony under the hash of its id.
func (s *Store) SaveCeremony(ctx context.Context, idHash []byte, c chirp.Ceremony) error {
	if len(idHash) == 0 || c.Purpose == "" {
		return errors.New("save ceremony: no id hash or purpose")
	}
	row := ceremonyRow{IDHash: idHash, Purpose: c.Purpose, AccountID: c.AccountID, State: c.State,
		ExpiresAt: storeTime(c.ExpiresAt)}
	if row.State == nil {
		row.State = []byte{}
	}
	return s.write(ctx, "save ceremony", func(tx *gorm.DB) error {
		return tx.Create(&row).Error
	})
}

// TakeCeremony finds the ceremony and deletes it in one transaction. Two answers racing for one
// ceremony both read it, but only the one whose DELETE removed the row may use it: on
// PostgreSQL the second DELETE waits for the first's commit and then finds nothing; on SQLite
// write transactions take turns.
func (s *Store) TakeCeremony(ctx context.Context, idHash []byte, now time.Time) (chirp.Ceremony, error) {
	var taken chirp.Ceremony
	err := s.write(ctx, "take ceremony", func(tx *gorm.DB) error {
		var rows []ceremonyRow
		if err := tx.Where("id_hash = ?", idHash).Limit(1).Find(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return chirp.CeremonyOver()
		}
		res := tx.Where("id = ?", rows[0].ID).Delete(&ceremonyRow{})
		if res.Error != nil {
			return res.Error
		}
		r := rows[0]
		// An expired one stays for the purge: the error rolls the delete back.
		if res.RowsAffected == 0 || !now.Before(r.ExpiresAt) {
			return chirp.CeremonyOver()
		}
		taken = chirp.Ceremony{Purpose: r.Purpose, AccountID: r.AccountID, State: r.State, ExpiresAt: r.ExpiresAt.UTC()}
		return nil
	})
	if err != nil {
		return chirp.Ceremony{}, err
	}
	return taken, nil
}
