// Package gormstore keeps tweets in a SQL database through GORM: PostgreSQL for postgres://
// URLs, and otherwise an embedded, pure-Go SQLite file, with the same model and behaviour.
package gormstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"

	"github.com/chirp-social/chirp/backend"
)

// DefaultSQLitePath is the database file used when no DATABASE_URL is given.
const DefaultSQLitePath = "chirp.db"

// clientEncoding is asked for on every PostgreSQL connection, whatever the database's own
// encoding: pgx speaks UTF-8 only, and a session in another encoding (a database created
// with ENCODING 'SQL_ASCII' starts its sessions in it) fails the statements pgx sends
// without parameters. A SQL_ASCII database stores the UTF-8 bytes as they are.
const clientEncoding = "UTF8"

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

// keyRow is the idempotency_keys table: a key remembered for chirp.IdempotencyWindow with what
// its create's 201 said, the edit token in clear included (the one place a token is kept
// readable). It is inserted in the same transaction as its tweet, so a key exists if and only
// if its tweet committed. It does not refer to the tweet: the replay is the original answer,
// even after an edit or a delete.
type keyRow struct {
	Key       string    `gorm:"primaryKey;size:255"`
	TweetID   int64     `gorm:"not null"`
	Author    string    `gorm:"not null"`
	Content   string    `gorm:"not null"`
	EditToken string    `gorm:"not null"`
	CreatedAt time.Time `gorm:"not null;index;autoCreateTime:false"`
}

func (keyRow) TableName() string { return "idempotency_keys" }

// created is the original answer the key was given.
func (r keyRow) created() chirp.Created {
	at := r.CreatedAt.UTC()
	return chirp.Created{
		Tweet:     chirp.Tweet{ID: r.TweetID, Author: r.Author, Content: r.Content, CreatedAt: at, UpdatedAt: at},
		EditToken: r.EditToken,
		Replayed:  true,
	}
}

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
	// insert, so a test can hold creates open at the worst moment. It stands for more database
	// work, so it gets the context the batch's statements get, and its error rolls the batch
	// back.
	beforeCommit func(ctx context.Context, ids []int64) error
	// notifier, when set, makes the notification each write sends from inside its transaction
	// (PostgreSQL only).
	notifier Notifier
	// observer, when set, is told of every create batch in commit order (the hot window).
	observer CommitObserver

	batches BatchObserver // told of every create batch; never nil

	creates    chan *createRequest // to the writer goroutine; unbuffered, so a send means "taken"
	purgeEvery time.Duration       // how often the writer purges expired idempotency keys
	closing    chan struct{}       // closed by Close
	writerDone chan struct{}       // closed when the writer goroutine has returned
	closeOnce  sync.Once
}

var _ chirp.TweetStore = (*Store)(nil)

// Notifier makes the notification that announces a committed write to other processes (the
// event bus). The store sends it with pg_notify inside the write's transaction, so PostgreSQL
// delivers it if and only if the write commits, when it becomes visible: one per create batch,
// naming the batch's highest id; one per edit; one per delete that removed a row.
type Notifier interface {
	Created(lastID int64) (channel, payload string)
	Updated(id int64) (channel, payload string)
	Deleted(id int64) (channel, payload string)
}

// CommitObserver is told of this store's create batches, in commit order, from the one writer
// goroutine, before any of the batch's creators is answered: so a tweet is in the observer's view
// before its creator hears of it.
type CommitObserver interface {
	// Committed reports a committed batch: its tweets, in id order. Ids are taken in commit
	// order (the create lock), so every id below the batch's first is committed or never will be.
	Committed(created []chirp.Tweet)
	// Unsure reports a batch whose COMMIT failed: it may have committed all the same (a
	// connection lost during COMMIT), so what the observer holds may lack it. A batch that
	// failed before its COMMIT stored nothing, and is not reported.
	Unsure()
}

// BatchObserver hears of every create batch the writer commits or fails, for metrics: how many
// creates it carried and how long its transaction took, commit included. It is called on the
// writer goroutine, between batches, so it must not block.
type BatchObserver interface {
	Batch(size int, took time.Duration, committed bool)
}

type nopBatches struct{}

func (nopBatches) Batch(int, time.Duration, bool) {}

// Option configures Open.
type Option func(*Store)

// WithNotifier announces every committed write through n. It needs PostgreSQL: SQLite has no
// notifications (and serves one process).
func WithNotifier(n Notifier) Option { return func(s *Store) { s.notifier = n } }

// WithCommitObserver tells o of every create batch (CommitObserver).
func WithCommitObserver(o CommitObserver) Option { return func(s *Store) { s.observer = o } }

// WithBatchObserver tells b of every create batch's size and duration (BatchObserver).
func WithBatchObserver(b BatchObserver) Option { return func(s *Store) { s.batches = b } }

// Open connects to databaseURL (postgres://… or postgresql://…; sqlite:///path/file.db; or
// empty for DefaultSQLitePath) and brings the schema up to date.
func Open(ctx context.Context, databaseURL string, opts ...Option) (*Store, error) {
	return open(ctx, databaseURL, purgeInterval, opts...)
}

// open is Open with the interval between purges of expired idempotency keys.
func open(ctx context.Context, databaseURL string, purgeEvery time.Duration, opts ...Option) (*Store, error) {
	s := &Store{purgeEvery: purgeEvery}
	for _, o := range opts {
		o(s)
	}
	if s.batches == nil {
		s.batches = nopBatches{}
	}
	var dialector gorm.Dialector
	var sqlitePool *sql.DB
	switch {
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		s.postgres = true
		dialector = postgres.New(postgres.Config{DSN: databaseURL, OptionOpenDB: []stdlib.OptionOpenDB{
			stdlib.OptionBeforeConnect(func(_ context.Context, cfg *pgx.ConnConfig) error {
				// cfg is a shallow copy for this connection: its map is every connection's.
				cfg.RuntimeParams = maps.Clone(cfg.RuntimeParams)
				cfg.RuntimeParams["client_encoding"] = clientEncoding
				cfg.BuildContextWatcherHandler = watchCancels
				return nil
			}),
			stdlib.OptionAfterConnect(markInterruptedConnect),
			stdlib.OptionResetSession(discardInterrupted),
		}})
	default:
		path, err := SQLitePath(databaseURL)
		if err != nil {
			return nil, err
		}
		s.writeSlot = make(chan struct{}, 1)
		sqlitePool, err = openSQLite(ctx, path)
		if err != nil {
			return nil, fmt.Errorf("open database: %w", startError(classify(err), path))
		}
		dialector = sqlite.Dialector{Conn: sqlitePool}
		if s.notifier != nil {
			sqlitePool.Close()
			return nil, errors.New("the event bus needs PostgreSQL: SQLite serves one process")
		}
	}
	db, err := gorm.Open(dialector, &gorm.Config{
		Logger: logger.Discard,
		// Every write here is an explicit transaction (Store.transaction).
		SkipDefaultTransaction: true,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	})
	if err != nil {
		if sqlitePool != nil {
			sqlitePool.Close()
		}
		return nil, fmt.Errorf("open database: %w", startError(err, ""))
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

// Pool is the store's connection pool, for other users of the same database (the event bus
// publishes on it).
func (s *Store) Pool() *sql.DB {
	pool, _ := s.db.DB() // the store was opened on a *sql.DB: never fails
	return pool
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
// writer, a short busy timeout (sqliteBusyTimeout), write transactions that take the write
// lock at BEGIN (a deferred one that reads first can fail when it tries to write), and full
// sync so a tweet that was acknowledged survives a power cut.
func sqliteDSN(path string) string {
	return fmt.Sprintf("%s?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate",
		path, sqliteBusyTimeout.Milliseconds())
}

// sqliteBusyTimeout is how long one attempt to take SQLite's write lock waits inside SQLite
// while another process holds it. SQLite's busy loop cannot be interrupted: the driver's
// context handling interrupts statements, not the busy handler, and BEGIN ignores the context
// altogether (measured: with a 10 s busy timeout a 300 ms context still waited 10.04 s). So
// each attempt is short, and begin tries again until the context ends.
const sqliteBusyTimeout = 50 * time.Millisecond

// sqliteRetryPause separates two attempts at SQLite's write lock, in case SQLite answers busy
// without waiting.
const sqliteRetryPause = 5 * time.Millisecond

// transaction runs fn in a transaction and commits it. The transaction, its commit included,
// lives within txCtx; beginning it (on SQLite, waiting for the write lock) and fn's statements
// are bounded by ctx, which ends no later. A failure of the COMMIT itself is marked
// chirp.ErrOutcomeUnknown; any other failure stored nothing.
func (s *Store) transaction(txCtx, ctx context.Context, fn func(tx *gorm.DB) error) error {
	tx, err := s.begin(txCtx, ctx)
	if err != nil {
		return err
	}
	finished := false
	defer func() {
		if !finished { // fn failed or panicked
			tx.Rollback()
		}
	}()
	if err := fn(tx.WithContext(ctx)); err != nil {
		return rolledBack(txCtx, err)
	}
	finished = true
	err = tx.Commit().Error
	//nolint:errorlint // database/sql's own answers, returned as they are, before any COMMIT is sent
	if err == nil || err == context.Canceled || err == context.DeadlineExceeded || err == sql.ErrTxDone {
		// database/sql refuses to commit a transaction whose context has ended, and rolls it
		// back: nothing was stored.
		return rolledBack(txCtx, err)
	}
	// The COMMIT went out: it may have reached the server before the connection or the
	// context failed, and no one can tell whether it took.
	return fmt.Errorf("%w: %w", chirp.ErrOutcomeUnknown, err)
}

// commitContext is what an edit's or a delete's transaction lives in: the request's deadline
// without its cancellation. A client that goes away stops the statements (they run in the
// request's context) but never cuts off a COMMIT under way, whose outcome no one could then
// know (the window would have to stand aside); a deadline still does.
func commitContext(ctx context.Context) (context.Context, context.CancelFunc) {
	detached := context.WithoutCancel(ctx)
	if deadline, ok := ctx.Deadline(); ok {
		return context.WithDeadline(detached, deadline)
	}
	return context.WithCancel(detached)
}

// rolledBack names the reason when database/sql rolled a transaction back because its context
// ended (it then answers sql.ErrTxDone to what comes next), so that the failure is classified
// by that context: a deadline, or a client that went away.
func rolledBack(txCtx context.Context, err error) error {
	if errors.Is(err, sql.ErrTxDone) && txCtx.Err() != nil {
		return fmt.Errorf("%w (%w)", context.Cause(txCtx), err)
	}
	return err
}

// begin starts a transaction. On SQLite it is BEGIN IMMEDIATE, which waits for another
// process's writer at most sqliteBusyTimeout; begin tries again until ctx ends.
//
// On PostgreSQL it is READ COMMITTED whatever the server's default: a create batch's key
// lookup must see the batch that held the create lock before it (insertInOrder). The level
// rides the BEGIN statement itself, so it costs no round trip.
func (s *Store) begin(txCtx, ctx context.Context) (*gorm.DB, error) {
	var opts []*sql.TxOptions
	if s.postgres {
		opts = append(opts, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	}
	var tx *gorm.DB
	err := untilNotBusy(ctx, func() error {
		tx = s.db.WithContext(txCtx).Begin(opts...)
		return tx.Error
	})
	if err != nil {
		return nil, err
	}
	return tx, nil
}

// untilNotBusy calls attempt until it does not fail with SQLITE_BUSY, or until ctx ends: the
// wait for another process's lock, one sqliteBusyTimeout at a time. Other errors, PostgreSQL's
// included, return at once.
func untilNotBusy(ctx context.Context, attempt func() error) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := attempt()
		if err == nil || !sqliteBusy(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (waited for the lock until: %w)", err, ctx.Err())
		case <-time.After(sqliteRetryPause):
		}
	}
}

// openSQLite opens the pool and its first connection, trying again while the file is locked,
// until ctx ends. The first connection is the first to read the file (its journal_mode pragma
// reads the schema, and on a new file switches it to WAL), so it meets what another process
// holds for a moment: a start switching the same new file to WAL (where SQLite answers busy at
// once, without waiting, to the one of two that would deadlock), the recovery of the WAL
// index, or a stopping process checkpointing the WAL under an exclusive lock as its last
// connection closes. While this process keeps a connection open, as its pool does, no other
// process's last connection can take that lock.
func openSQLite(ctx context.Context, path string) (*sql.DB, error) {
	sqlDB, err := sql.Open(sqlite.DriverName, sqliteDSN(path))
	if err != nil {
		return nil, err
	}
	sqlDB.SetMaxOpenConns(8)
	sqlDB.SetMaxIdleConns(8)
	if err := untilNotBusy(ctx, func() error { return sqlDB.PingContext(ctx) }); err != nil {
		sqlDB.Close()
		return nil, err
	}
	return sqlDB, nil
}

// migrate creates or updates the schema. AutoMigrate is enough for two tables: tweets, whose
// only index is its primary key (the newest-first keyset pages scan it backwards), and
// idempotency_keys, with its key and an index on created_at for the purge. On PostgreSQL an
// advisory lock makes two processes starting at once take turns; on SQLite the immediate
// transaction does the same.
func (s *Store) migrate(ctx context.Context) error {
	err := s.transaction(ctx, ctx, func(tx *gorm.DB) error {
		if s.postgres {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", migrateLockKey).Error; err != nil {
				return err
			}
		}
		return tx.AutoMigrate(&tweetRow{}, &keyRow{})
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
	created, err := s.create(ctx, newCreateRequest(ctx, d, tokenHash))
	return created.Tweet, err
}

// CreateTweetOnce stores a tweet under an idempotency key, or answers the one the key already
// made. It takes the same path as CreateTweet, through the one writer: a batch looks up its
// keys under the create lock, so batches (of any process) see each other's keys committed,
// and requests with one key in one batch are made one tweet (docs/ARCHITECTURE.md).
func (s *Store) CreateTweetOnce(ctx context.Context, d chirp.Draft, token string, key chirp.IdempotencyKey) (chirp.Created, error) {
	if err := d.Validate(); err != nil {
		return chirp.Created{}, err
	}
	if _, err := chirp.ParseIdempotencyKey(string(key)); err != nil {
		return chirp.Created{}, err
	}
	req := newCreateRequest(ctx, d, chirp.HashEditToken(token))
	req.key, req.token = key, token
	return s.create(ctx, req)
}

// create hands req to the writer and waits for its answer.
func (s *Store) create(ctx context.Context, req *createRequest) (chirp.Created, error) {
	select {
	case s.creates <- req:
	case <-ctx.Done():
		return chirp.Created{}, fmt.Errorf("create tweet: %w", chirp.Unavailable(ctx.Err()))
	case <-s.closing:
		return chirp.Created{}, fmt.Errorf("create tweet: %w", chirp.Unavailable(errClosed))
	}
	// Once the writer has the request its batch may commit, so the answer is awaited even
	// past the caller's deadline: giving up here could tell a client "failed" about a tweet
	// that was stored. The writer answers within commitGrace of the deadline.
	return req.wait()
}

var errClosed = errors.New("the store is closed")

// maxCreateBatch bounds one batch's INSERT (five parameters a row).
const maxCreateBatch = 256

// A batch is bounded from the earliest deadline among its requests, so that each request is
// answered within commitGrace of its own deadline: inside the 2 s the HTTP layer leaves for
// writing an answer after a request's deadline, so every create gets one.
const (
	// insertGrace bounds waiting for the locks and the insert: a request the writer took
	// just before its deadline still has a batch that can commit.
	insertGrace = 250 * time.Millisecond
	// commitGrace bounds the whole batch, commit included. The time after insertGrace is
	// the commit's alone, so the bound seldom falls while a COMMIT is in flight, the one
	// moment whose outcome the store cannot know.
	commitGrace = time.Second
)

type createRequest struct {
	row tweetRow
	// key, when set, makes the create idempotent; token is then the edit token in clear,
	// kept with the key.
	key   chirp.IdempotencyKey
	token string
	ctx   context.Context
	done  chan createResult
}

type createResult struct {
	created chirp.Created
	err     error
}

func newCreateRequest(ctx context.Context, d chirp.Draft, tokenHash []byte) *createRequest {
	return &createRequest{
		row:  tweetRow{Author: d.Author, Content: d.Content, EditTokenHash: tokenHash},
		ctx:  ctx,
		done: make(chan createResult, 1),
	}
}

// wait returns the writer's answer.
func (r *createRequest) wait() (chirp.Created, error) {
	res := <-r.done
	return res.created, res.err
}

// sameDraft reports whether the request is for the tweet a key was given to: "the same
// body" is the same author and content after the text rules, so JSON spacing, field order,
// unknown fields, escapes, CR LF or a different Unicode normalisation do not count.
func (r *createRequest) sameDraft(author, content string) bool {
	return r.row.Author == author && r.row.Content == content
}

// purgeInterval is how often the writer deletes expired idempotency keys; purgeChunk bounds
// one purge's transaction, and a full chunk makes the writer purge again at once (between
// batches, so creates do not wait for a long purge).
const (
	purgeInterval = time.Minute
	purgeChunk    = 1000
	// purgeTimeout bounds one purge, during which creates wait for the writer: a purge takes
	// milliseconds, and one that meets a stalled database gives up long before a request's
	// deadline.
	purgeTimeout = time.Second
)

// writeCreates is the one goroutine that commits this process's creates, in batches, and
// purges expired idempotency keys between them.
func (s *Store) writeCreates() {
	defer close(s.writerDone)
	purge := time.NewTicker(s.purgeEvery)
	defer purge.Stop()
	more := false // the last purge found a full chunk
	batch := make([]*createRequest, 0, maxCreateBatch)
	for {
		purgeNow := purge.C
		if more {
			purgeNow = purgeAgain
		}
		select {
		case first := <-s.creates:
			batch = append(batch[:0], first)
		case <-purgeNow:
			// A failed purge is tried again at the next tick; the keys it left are
			// ignored by lookups meanwhile.
			more, _ = s.purgeExpired(time.Now())
			continue
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

// purgeAgain is always ready: the writer's select takes it, or a waiting create, at random.
var purgeAgain = func() chan time.Time { c := make(chan time.Time); close(c); return c }()

// purgeExpired deletes up to purgeChunk idempotency keys older than the window as of now, and
// reports whether it deleted a full chunk (there may be more). The bound is in UTC, as every
// stored time is: SQLite compares times as text.
func (s *Store) purgeExpired(now time.Time) (full bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), purgeTimeout)
	defer cancel()
	release, err := s.acquireWrite(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	var deleted int64
	err = s.transaction(ctx, ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`DELETE FROM idempotency_keys WHERE "key" IN
			(SELECT "key" FROM idempotency_keys WHERE created_at <= ? LIMIT ?)`,
			now.UTC().Add(-chirp.IdempotencyWindow), purgeChunk)
		deleted = res.RowsAffected
		return res.Error
	})
	if err != nil {
		return false, fmt.Errorf("purge idempotency keys: %w", classify(err))
	}
	return deleted == purgeChunk, nil
}

// commitCreates inserts a batch as one transaction and answers each request.
func (s *Store) commitCreates(batch []*createRequest) {
	batch = answerEnded(batch)
	if len(batch) == 0 {
		return
	}
	earliest := earliestDeadline(batch)
	txCtx, cancelTx := context.WithDeadline(context.Background(), earliest.Add(commitGrace))
	defer cancelTx()
	ctx, cancel := context.WithDeadline(txCtx, earliest.Add(insertGrace))
	defer cancel()
	now := time.Now().UTC().Truncate(time.Millisecond)
	start := time.Now()
	p, err := s.insertInOrder(txCtx, ctx, batch, now)
	s.batches.Batch(len(batch), time.Since(start), err == nil)
	if err != nil {
		err = fmt.Errorf("create tweet: %w", classify(err))
	}
	if p == nil { // failed before it knew what to do with each request
		for _, r := range batch {
			r.done <- createResult{err: err}
		}
		return
	}
	if s.observer != nil && len(p.rows) > 0 {
		if errors.Is(err, chirp.ErrOutcomeUnknown) {
			s.observer.Unsure()
		} else if err == nil {
			created := make([]chirp.Tweet, len(p.rows))
			for i, r := range p.rows {
				created[i] = r.tweet()
			}
			s.observer.Committed(created)
		}
	}
	p.answer(err)
}

// batchPlan is what a batch does with each of its requests, once it has looked up their keys:
// a request makes a tweet (inserts), follows an earlier request of the batch with the same key
// and draft (answered with that tweet, Replayed), or was decided by a key committed before (a
// replay, or KeyReused), an answer that holds whatever becomes of the batch.
type batchPlan struct {
	steps  []batchStep
	rows   []tweetRow       // the tweets to insert
	makers []*createRequest // the request that makes each of rows
}

type batchStep struct {
	req     *createRequest
	row     int  // index in rows of the tweet the request is answered with; -1 with decided
	follows bool // the tweet is an earlier request's, under the same key
	decided *createResult
}

// planBatch decides what each request does, in batch order, given the unexpired keys already
// committed. A key's first request in the batch makes the tweet; a later one with the same
// draft waits for that tweet, and one with a different draft is refused. So one key makes one
// row in the batch, and the key insert cannot meet a unique violation that would fail the
// whole batch.
func planBatch(batch []*createRequest, stored map[chirp.IdempotencyKey]keyRow, now time.Time) *batchPlan {
	p := &batchPlan{steps: make([]batchStep, len(batch)), rows: make([]tweetRow, 0, len(batch))}
	first := map[chirp.IdempotencyKey]int{} // key → its maker's index in rows
	for i, r := range batch {
		st := batchStep{req: r, row: -1}
		if k, ok := stored[r.key]; ok && r.key != "" {
			res := createResult{created: k.created()}
			if !r.sameDraft(k.Author, k.Content) {
				res = createResult{err: chirp.KeyReused()}
			}
			st.decided = &res
		} else if j, ok := first[r.key]; ok && r.key != "" {
			if maker := p.makers[j]; r.sameDraft(maker.row.Author, maker.row.Content) {
				st.row, st.follows = j, true
			} else {
				st.decided = &createResult{err: chirp.KeyReused()}
			}
		} else {
			row := r.row
			row.CreatedAt, row.UpdatedAt = now, now
			st.row = len(p.rows)
			p.rows = append(p.rows, row)
			p.makers = append(p.makers, r)
			if r.key != "" {
				first[r.key] = st.row
			}
		}
		p.steps[i] = st
	}
	return p
}

// answer tells each request its outcome; err is the batch's (nil once it committed).
func (p *batchPlan) answer(err error) {
	for _, st := range p.steps {
		switch {
		case st.decided != nil:
			st.req.done <- *st.decided
		case err != nil:
			st.req.done <- createResult{err: err}
		default:
			st.req.done <- createResult{created: chirp.Created{
				Tweet:     p.rows[st.row].tweet(),
				EditToken: p.makers[st.row].token,
				Replayed:  st.follows,
			}}
		}
	}
}

// answerEnded answers the requests whose context ended before the writer took them (the
// caller's select may hand over a request whose deadline has just passed) without inserting
// them, truthfully "not stored", and returns the others.
func answerEnded(batch []*createRequest) []*createRequest {
	live := batch[:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- createResult{err: fmt.Errorf("create tweet: %w", chirp.Unavailable(err))}
			continue
		}
		live = append(live, r)
	}
	return live
}

// earliestDeadline is the earliest deadline among the requests, or a minute from now when
// none has one.
func earliestDeadline(batch []*createRequest) time.Time {
	var earliest time.Time
	for _, r := range batch {
		if d, ok := r.ctx.Deadline(); ok && (earliest.IsZero() || d.Before(earliest)) {
			earliest = d
		}
	}
	if earliest.IsZero() {
		return time.Now().Add(time.Minute)
	}
	return earliest
}

// insertInOrder inserts a batch as one transaction living within txCtx; waiting for the locks
// and the statements are bounded by ctx. Its keys are looked up under the create lock (the
// advisory lock on PostgreSQL, the write lock of BEGIN IMMEDIATE on SQLite), so every batch
// sees the keys of every batch committed before it, from any process, and a request whose key
// is in flight in another batch meets it committed. On PostgreSQL that needs READ COMMITTED,
// which begin asks for: each statement sees what committed before it began, so the lookup,
// after the lock, sees the batch before. (Under REPEATABLE READ the snapshot would be taken
// by the lock statement itself, before the wait, and a replay in flight would fail the batch
// with a unique violation.)
//
// It returns the plan (nil when it failed before making one), whose decided answers hold even
// when err is not nil.
func (s *Store) insertInOrder(txCtx, ctx context.Context, batch []*createRequest, now time.Time) (*batchPlan, error) {
	release, err := s.acquireWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	var p *batchPlan
	err = s.transaction(txCtx, ctx, func(tx *gorm.DB) error {
		if s.postgres {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", createLockKey).Error; err != nil {
				return err
			}
		}
		stored, err := storedKeys(tx, batch, now)
		if err != nil {
			return err
		}
		p = planBatch(batch, stored, now)
		if len(p.rows) > 0 {
			if err := tx.Create(&p.rows).Error; err != nil {
				return err
			}
		}
		var keys []keyRow // the keys of the makers that have one, now that their ids are known
		for i, r := range p.makers {
			if r.key != "" {
				row := p.rows[i]
				keys = append(keys, keyRow{Key: string(r.key), TweetID: row.ID, Author: row.Author,
					Content: row.Content, EditToken: r.token, CreatedAt: now})
			}
		}
		if len(keys) > 0 {
			if err := tx.Create(&keys).Error; err != nil {
				return err
			}
		}
		if len(p.rows) > 0 {
			// Ids grow along the batch: its last row has the highest.
			if err := s.notify(tx, changeCreated, p.rows[len(p.rows)-1].ID); err != nil {
				return err
			}
		}
		if s.beforeCommit != nil {
			ids := make([]int64, len(p.rows))
			for i, r := range p.rows {
				ids[i] = r.ID
			}
			return s.beforeCommit(ctx, ids)
		}
		return nil
	})
	return p, err
}

// storedKeys returns the unexpired keys of the batch that are already committed. Expired ones
// not purged yet are deleted here, so that the key can be given anew.
func storedKeys(tx *gorm.DB, batch []*createRequest, now time.Time) (map[chirp.IdempotencyKey]keyRow, error) {
	var keys []string
	for _, r := range batch {
		if r.key != "" {
			keys = append(keys, string(r.key))
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	var rows []keyRow
	if err := tx.Where(`"key" IN ?`, keys).Find(&rows).Error; err != nil {
		return nil, err
	}
	stored := make(map[chirp.IdempotencyKey]keyRow, len(rows))
	var expired []string
	for _, k := range rows {
		if now.Sub(k.CreatedAt) >= chirp.IdempotencyWindow {
			expired = append(expired, k.Key)
			continue
		}
		stored[chirp.IdempotencyKey(k.Key)] = k
	}
	if len(expired) > 0 {
		if err := tx.Where(`"key" IN ?`, expired).Delete(&keyRow{}).Error; err != nil {
			return nil, err
		}
	}
	return stored, nil
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
	txCtx, cancel := commitContext(ctx)
	defer cancel()
	err = s.transaction(txCtx, ctx, func(tx *gorm.DB) error {
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
