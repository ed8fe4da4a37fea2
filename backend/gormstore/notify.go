package gormstore

import (
	"fmt"

	"gorm.io/gorm"
)

// Notifier makes the notification that announces a committed write to other processes (the
// event bus). The store sends it with pg_notify inside the write's transaction, so PostgreSQL
// delivers it if and only if the write commits, when it becomes visible: one per create batch,
// naming the batch's highest id; one per edit; one per delete that removed a row.
type Notifier interface {
	Created(lastID int64) (channel, payload string)
	Updated(id int64) (channel, payload string)
	Deleted(id int64) (channel, payload string)
}

// change is a kind of committed write, as notify announces it.
type change int

const (
	changeCreated change = iota
	changeUpdated
	changeDeleted
)

// notify sends, inside tx, the notification of a change to tweet id (for created, the batch's
// highest id); nothing without a notifier.
func (s *Store) notify(tx *gorm.DB, c change, id int64) error {
	if s.notifier == nil {
		return nil
	}
	var channel, payload string
	switch c {
	case changeCreated:
		channel, payload = s.notifier.Created(id)
	case changeUpdated:
		channel, payload = s.notifier.Updated(id)
	case changeDeleted:
		channel, payload = s.notifier.Deleted(id)
	}
	if err := tx.Exec("SELECT pg_notify(?, ?)", channel, payload).Error; err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	return nil
}
