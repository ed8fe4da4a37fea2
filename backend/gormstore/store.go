// Package gormstore keeps tweets in a SQL database through GORM: PostgreSQL for postgres://
// URLs, and otherwise an embedded, pure-Go SQLite file, with the same model and behaviour.
package gormstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"

	"github.com/chirp-social/chirp/backend"
)

// DefaultSQLitePath is the database file used when no DATABASE_URL is given.
const DefaultSQLitePath = "chirp.db"

// Advisory lock keys (PostgreSQL), arbitrary but fixed: every process must use the same ones.
const (
	migrateLockKey int64 = 0x43686972_70000001 // "Chir" + 1: one schema migration at a time
	createLockKey  int64 = 0x43686972_70000002 // "Chir" + 2: creates commit one at a time, in id order
)

// tweetRow is the tweets table. The edit token's hash lives only here, never in chirp.Tweet.
type tweetRow struct {
	ID            int64     `gorm:"primaryKey;autoIncrement"`
	Author        string    `gorm:"not null"`
	Content       string    `gorm:"not null"`
	EditTokenHash []byte    `gorm:"not null"`
	CreatedAt     time.Time `gorm:"not null;autoCreateTime:false"`
	UpdatedAt     time.Time `gorm:"not null;autoUpdateTime:false"`
}

func (tweetRow) TableName() string { return "tweets" }

func (r tweetRow) tweet() chirp.Tweet {
	return chirp.Tweet{
		ID:        r.ID,
		Author:    r.Author,
		Content:   r.Content,
		CreatedAt: r.CreatedAt.UTC(),
		UpdatedAt: r.UpdatedAt.UTC(),
	}
}

// publicColumns are what a read needs; the token hash is only read to authorise an edit.
var publicColumns = []string{"id", "author", "content", "created_at", "updated_at"}

// Store is a chirp.TweetStore over GORM.
type Store struct {
	db       *gorm.DB
	postgres bool
	// writeSlot serialises this process's SQLite writers in Go, so that they queue without
	// SQLite's busy-wait sleeps; nil on PostgreSQL, whose locks queue writers themselves.
	writeSlot chan struct{}
	// beforeCommit, set only by tests, runs inside a create batch's transaction after the
	// insert, so a test can hold creates open at the worst moment.
	beforeCommit func(ids []int64)

	creates    chan *createRequest // to the writer goroutine; unbuffered, so a send means "taken"
	closing    chan struct{}       // closed by Close
	writerDone chan struct{}       // closed when the writer goroutine has returned
	closeOnce  sync.Once
}

var _ chirp.TweetStore = (*Store)(nil)

// Open connects to databaseURL (postgres://… or postgresql://…; sqlite:///path/file.db; or
// empty for DefaultSQLitePath) and brings the schema up to date.
func Open(ctx context.Context, databaseURL string) (*Store, error) {
	s := &Store{}
	var dialector gorm.Dialector
	switch {
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		s.postgres = true
		dialector = postgres.Open(databaseURL)
	default:
		path, err := SQLitePath(databaseURL)
		if err != nil {
			return nil, err
		}
		s.writeSlot = make(chan struct{}, 1)
		dialector = sqlite.Open(sqliteDSN(path))
	}
	db, err := gorm.Open(dialector, &gorm.Config{
		Logger: logger.Discard,
		// Every write here is either one statement or an explicit transaction.
		SkipDefaultTransaction: true,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	})
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	s.db = db
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if s.postgres {
		// Two cores serve at most a few dozen requests at once; more connections would only
		// queue inside PostgreSQL instead of here.
		sqlDB.SetMaxOpenConns(20)
		sqlDB.SetMaxIdleConns(20)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
		sqlDB.SetConnMaxLifetime(time.Hour)
	} else {
		sqlDB.SetMaxOpenConns(8)
		sqlDB.SetMaxIdleConns(8)
	}
	if err := s.migrate(ctx); err != nil {
		sqlDB.Close()
		return nil, err
	}
	s.creates = make(chan *createRequest)
	s.closing = make(chan struct{})
	s.writerDone = make(chan struct{})
	go s.writeCreates()
	return s, nil
}

// SQLitePath returns the file a non-PostgreSQL DATABASE_URL names, or an error for a URL that
// is neither.
func SQLitePath(databaseURL string) (string, error) {
	switch {
	case databaseURL == "":
		return DefaultSQLitePath, nil
	case strings.HasPrefix(databaseURL, "sqlite://"):
		path := strings.TrimPrefix(databaseURL, "sqlite://")
		if path == "" || strings.ContainsAny(path, "?#") {
			return "", fmt.Errorf("database URL %q: want sqlite:///path/to/file.db", databaseURL)
		}
		return path, nil
	default:
		return "", fmt.Errorf("database URL %q: want postgres://…, postgresql://… or sqlite:///path/to/file.db", databaseURL)
	}
}

// sqliteDSN turns on what a server needs from SQLite: WAL so readers never wait for the
// writer, a busy timeout so another process's writer is waited for instead of failing with
// "database is locked", write transactions that take the write lock at BEGIN (a deferred one
// that reads first can fail when it tries to write), and full sync so a tweet that was
// acknowledged survives a power cut.
func sqliteDSN(path string) string {
	return path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
}

// migrate creates or updates the schema. AutoMigrate is enough for one table whose only index
// is its primary key (the newest-first keyset pages scan it backwards). On PostgreSQL an
// advisory lock makes two processes starting at once take turns; on SQLite the immediate
// transaction does the same.
func (s *Store) migrate(ctx context.Context) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if s.postgres {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", migrateLockKey).Error; err != nil {
				return err
			}
		}
		return tx.AutoMigrate(&tweetRow{})
	})
	if err != nil {
		return fmt.Errorf("migrate schema: %w", classify(err))
	}
	return nil
}

// Close finishes the batch being committed, then closes the database connections. Creates
// after Close fail as unavailable.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closing)
		<-s.writerDone
		sqlDB, dbErr := s.db.DB()
		if dbErr != nil {
			err = dbErr
			return
		}
		err = sqlDB.Close()
	})
	return err
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", classify(err))
	}
	return nil
}

// CreateTweet stores a tweet and returns once it is committed.
//
// Ids come from the sequence when a row is inserted, not when it commits, so two concurrent
// creates could commit out of order and a reader that saw the later one would skip the earlier
// for good. So creates are committed one batch at a time, in id order: this process's creates
// go to one writer goroutine that inserts whatever is waiting as one transaction, and every
// batch takes one lock (across processes) before its insert and holds it to its commit
// (docs/ARCHITECTURE.md). Batching is what keeps that fast: one commit, one WAL flush, serves
// every tweet posted while the previous batch was committing.
func (s *Store) CreateTweet(ctx context.Context, d chirp.Draft, tokenHash []byte) (chirp.Tweet, error) {
	if err := d.Validate(); err != nil {
		return chirp.Tweet{}, err
	}
	req := &createRequest{
		row:  tweetRow{Author: d.Author, Content: d.Content, EditTokenHash: tokenHash},
		ctx:  ctx,
		done: make(chan createResult, 1),
	}
	select {
	case s.creates <- req:
	case <-ctx.Done():
		return chirp.Tweet{}, fmt.Errorf("create tweet: %w", chirp.Unavailable(ctx.Err()))
	case <-s.closing:
		return chirp.Tweet{}, fmt.Errorf("create tweet: %w", chirp.Unavailable(errClosed))
	}
	// Once the writer has the request its batch may commit, so the answer is awaited even
	// past the caller's deadline (the batch itself is bounded by the latest deadline in it):
	// giving up here could tell a client "failed" about a tweet that was stored.
	res := <-req.done
	return res.tweet, res.err
}

var errClosed = errors.New("the store is closed")

// maxCreateBatch bounds one batch's INSERT (five parameters a row).
const maxCreateBatch = 256

type createRequest struct {
	row  tweetRow
	ctx  context.Context
	done chan createResult
}

type createResult struct {
	tweet chirp.Tweet
	err   error
}

// writeCreates is the one goroutine that commits this process's creates, in batches.
func (s *Store) writeCreates() {
	defer close(s.writerDone)
	batch := make([]*createRequest, 0, maxCreateBatch)
	for {
		select {
		case first := <-s.creates:
			batch = append(batch[:0], first)
		case <-s.closing:
			return
		}
	collect:
		for len(batch) < maxCreateBatch {
			select {
			case r := <-s.creates:
				batch = append(batch, r)
			default:
				break collect
			}
		}
		s.commitCreates(batch)
		clear(batch) // let the requests go
	}
}

// commitCreates inserts a batch as one transaction and answers each request.
func (s *Store) commitCreates(batch []*createRequest) {
	ctx, cancel := batchContext(batch)
	defer cancel()
	now := time.Now().UTC().Truncate(time.Millisecond)
	rows := make([]tweetRow, len(batch))
	for i, r := range batch {
		rows[i] = r.row
		rows[i].CreatedAt, rows[i].UpdatedAt = now, now
	}
	err := s.insertInOrder(ctx, rows)
	for i, r := range batch {
		if err != nil {
			r.done <- createResult{err: fmt.Errorf("create tweet: %w", classify(err))}
			continue
		}
		r.done <- createResult{tweet: rows[i].tweet()}
	}
}

// batchContext bounds a batch by the latest deadline among its requests (all of them have
// given up by then), or by a minute when one has none.
func batchContext(batch []*createRequest) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, r := range batch {
		d, ok := r.ctx.Deadline()
		if !ok {
			return context.WithTimeout(context.Background(), time.Minute)
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(context.Background(), latest)
}

func (s *Store) insertInOrder(ctx context.Context, rows []tweetRow) error {
	release, err := s.acquireWrite(ctx)
	if err != nil {
		return err
	}
	defer release()
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if s.postgres {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", createLockKey).Error; err != nil {
				return err
			}
		}
		if err := tx.Create(&rows).Error; err != nil {
			return err
		}
		if s.beforeCommit != nil {
			ids := make([]int64, len(rows))
			for i, r := range rows {
				ids[i] = r.ID
			}
			s.beforeCommit(ids)
		}
		return nil
	})
}

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
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		read := tx.Select(publicColumns).Where("id = ?", id).Limit(1)
		if s.postgres {
			read = read.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate})
		}
		var rows []tweetRow
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
		return nil
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
	res := s.db.WithContext(ctx).Where("id = ?", id).Delete(&tweetRow{})
	if res.Error != nil {
		return fmt.Errorf("delete tweet %d: %w", id, classify(res.Error))
	}
	if res.RowsAffected == 0 {
		return chirp.NotFound(id)
	}
	return nil
}

// acquireWrite waits for this process's SQLite write slot (a no-op on PostgreSQL).
func (s *Store) acquireWrite(ctx context.Context) (release func(), err error) {
	if s.writeSlot == nil {
		return func() {}, nil
	}
	select {
	case s.writeSlot <- struct{}{}:
		return func() { <-s.writeSlot }, nil
	case <-ctx.Done():
		return nil, chirp.Unavailable(ctx.Err())
	}
}

// classify marks the failures that mean "the database is not answering" (it is down, out of
// reach, or too slow for the request's deadline) as chirp.CodeUnavailable, so clients get a 503
// to retry rather than a 500.
func classify(err error) error {
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, driver.ErrBadConn), errors.As(err, &connectErr), errors.As(err, &netErr):
		return chirp.Unavailable(err)
	}
	return err
}
