package gormstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/jackc/pgx/v5"
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
	return func() (chirp.Tweet, error) {
		created, err := req.wait()
		return created.Tweet, err
	}
}

// PurgeExpired runs one purge of expired idempotency keys as of now, as the writer does
// every purgeInterval; it reports whether it deleted a full chunk.
func PurgeExpired(s *Store, now time.Time) (full bool, err error) { return s.purgeExpired(now) }

// OpenPurgingEvery is Open with the writer purging expired keys every d instead of every
// minute.
func OpenPurgingEvery(ctx context.Context, databaseURL string, d time.Duration, opts ...Option) (*Store, error) {
	return open(ctx, databaseURL, d, opts...)
}

// PurgeChunk is how many keys one purge deletes at most.
const PurgeChunk = purgeChunk

// CreateLockKey is the advisory lock every create batch takes on PostgreSQL.
const CreateLockKey = createLockKey

// BatchCreate is one create of a batch that CommitBatch commits; Key may be empty.
type BatchCreate struct {
	Draft chirp.Draft
	Token string
	Key   chirp.IdempotencyKey
}

// CommitBatch commits creates as one batch, as the writer does with creates that were all
// waiting at once, and returns each one's answer in order.
func CommitBatch(s *Store, creates []BatchCreate) ([]chirp.Created, []error) {
	batch := make([]*createRequest, len(creates))
	for i, c := range creates {
		batch[i] = newKeyedRequest(context.Background(), c.Draft, c.Token, c.Key)
	}
	s.commitCreates(batch)
	created, errs := make([]chirp.Created, len(batch)), make([]error, len(batch))
	for i, r := range batch {
		created[i], errs[i] = r.wait()
	}
	return created, errs
}

// MarkInterrupted takes n connections of s's PostgreSQL pool at once, marks each as a cancelled
// context marks one whose statement was done but whose background read it ended (the stale
// i/o timeout that is left in it), and gives them back.
func MarkInterrupted(ctx context.Context, s *Store, n int) error {
	conns := make([]*sql.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := s.Pool().Conn(ctx)
		if err != nil {
			return err
		}
		conns = append(conns, c)
		err = c.Raw(func(driverConn any) error {
			interruptedFlag(driverConn.(interface{ Conn() *pgx.Conn }).Conn()).Store(true)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// preAccountsTweetRow and preAccountsKeyRow are the schema as it was before accounts (main at
// 0158957): a database made by that code, to migrate from. Frozen: never change them.
type preAccountsTweetRow struct {
	ID            int64     `gorm:"primaryKey;autoIncrement"`
	Author        string    `gorm:"not null"`
	Content       string    `gorm:"not null"`
	EditTokenHash []byte    `gorm:"not null"`
	CreatedAt     time.Time `gorm:"not null;autoCreateTime:false"`
	UpdatedAt     time.Time `gorm:"not null;autoUpdateTime:false"`
}

func (preAccountsTweetRow) TableName() string { return "tweets" }

type preAccountsKeyRow struct {
	Key       string    `gorm:"primaryKey;size:255"`
	TweetID   int64     `gorm:"not null"`
	Author    string    `gorm:"not null"`
	Content   string    `gorm:"not null"`
	EditToken string    `gorm:"not null"`
	CreatedAt time.Time `gorm:"not null;index;autoCreateTime:false"`
}

func (preAccountsKeyRow) TableName() string { return "idempotency_keys" }

// OpenPreAccounts opens the database as the code before accounts did, migrating it to that
// code's schema.
func OpenPreAccounts(ctx context.Context, databaseURL string) (*Store, error) {
	return Open(ctx, databaseURL, func(s *Store) { s.schema = []any{&preAccountsTweetRow{}, &preAccountsKeyRow{}} })
}

// preUserHandleAccountRow is the accounts table as the first accounts code made it, before
// WebAuthn user handles.
type preUserHandleAccountRow struct {
	ID           int64  `gorm:"primaryKey;autoIncrement"`
	Handle       string `gorm:"not null;uniqueIndex"`
	DisplayName  string `gorm:"not null"`
	PasswordHash *string
	CreatedAt    time.Time `gorm:"not null;autoCreateTime:false"`
}

func (preUserHandleAccountRow) TableName() string { return "accounts" }

// OpenPreUserHandles opens the database as the first accounts code did, its accounts without
// user handles.
func OpenPreUserHandles(ctx context.Context, databaseURL string) (*Store, error) {
	return Open(ctx, databaseURL, func(s *Store) {
		s.schema = []any{&tweetRow{}, &keyRow{}, &preUserHandleAccountRow{}}
	})
}

// SessionTouchEvery is how stale a session's last use may be before a use records it.
const SessionTouchEvery = sessionTouchEvery

// UniqueViolation and ForeignKeyViolation are the constraint checks, for the table test.
var (
	UniqueViolation     = uniqueViolation
	ForeignKeyViolation = foreignKeyViolation
)
