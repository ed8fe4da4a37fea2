package gormstore

import (
	"context"

	"gorm.io/gorm"

	"github.com/chirp-social/chirp/backend"
)

// SetBeforeCommit lets a test hold a create open between its insert and its commit, or stall
// it like a slow database until the batch's context ends.
func SetBeforeCommit(s *Store, f func(ctx context.Context, ids []int64) error) { s.beforeCommit = f }

// DB exposes the store's connection pool so a test can look at the server's state.
func DB(s *Store) *gorm.DB { return s.db }

// IsPostgres says which kind of database the store opened.
func IsPostgres(s *Store) bool { return s.postgres }

// Classify is classify, for the table test.
var Classify = classify

// CommitGrace is how long after its deadline a create taken by the writer may wait for its
// answer.
const CommitGrace = commitGrace

// SendCreate hands a create to the writer even when ctx has already ended, as CreateTweet's
// select may when the writer frees up at that very moment, and returns the wait for its
// answer.
func SendCreate(s *Store, ctx context.Context, d chirp.Draft, tokenHash []byte) (wait func() (chirp.Tweet, error)) {
	req := newCreateRequest(ctx, d, tokenHash)
	s.creates <- req
	return req.wait
}

// CreateLockKey is the advisory lock every create batch takes on PostgreSQL.
const CreateLockKey = createLockKey
