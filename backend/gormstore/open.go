package gormstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/chirp-social/chirp/backend/dburl"
)

// clientEncoding is asked for on every PostgreSQL connection, whatever the database's own
// encoding: pgx speaks UTF-8 only, and a session in another encoding (a database created
// with ENCODING 'SQL_ASCII' starts its sessions in it) fails the statements pgx sends
// without parameters. A SQL_ASCII database stores the UTF-8 bytes as they are.
const clientEncoding = "UTF8"

// Open connects to the database databaseURL names (dburl.Parse) and brings the schema up to
// date.
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
	where, err := dburl.Parse(databaseURL)
	if err != nil {
		return nil, err
	}
	var dialector gorm.Dialector
	var pool *sql.DB
	switch where.Kind {
	case dburl.PostgreSQL:
		s.postgres = true
		pool, err = openPostgres(databaseURL)
		if err != nil {
			return nil, fmt.Errorf("open database: %w", startError(err, ""))
		}
		dialector = postgres.New(postgres.Config{Conn: pool})
	default: // dburl.SQLite
		s.writeSlot = make(chan struct{}, 1)
		pool, err = openSQLite(ctx, where.Path)
		if err != nil {
			return nil, fmt.Errorf("open database: %w", startError(classify(err), where.Path))
		}
		dialector = sqlite.Dialector{Conn: pool}
		if s.notifier != nil {
			pool.Close()
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
		pool.Close()
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

// openPostgres makes the pool of PostgreSQL connections. It builds the pool itself, rather
// than leave that to gorm's dialector, for the connections to be validatingConns.
func openPostgres(databaseURL string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return nil, err
	}
	connector := stdlib.GetConnector(*cfg,
		stdlib.OptionBeforeConnect(func(_ context.Context, cfg *pgx.ConnConfig) error {
			// cfg is a shallow copy for this connection: its map is every connection's.
			cfg.RuntimeParams = maps.Clone(cfg.RuntimeParams)
			cfg.RuntimeParams["client_encoding"] = clientEncoding
			cfg.BuildContextWatcherHandler = watchCancels
			return nil
		}),
		stdlib.OptionAfterConnect(markInterruptedConnect),
		stdlib.OptionResetSession(discardInterrupted),
	)
	return sql.OpenDB(validatingConnector{connector}), nil
}

// sqliteDSN turns on what a server needs from SQLite: WAL so readers never wait for the
// writer, a short busy timeout (sqliteBusyTimeout), write transactions that take the write
// lock at BEGIN (a deferred one that reads first can fail when it tries to write), and full
// sync so a tweet that was acknowledged survives a power cut. Foreign keys are enforced, as
// PostgreSQL always does (SQLite's default is not to), so that an account's sessions and passkeys
// go with it on both.
func sqliteDSN(path string) string {
	return fmt.Sprintf("%s?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_txlock=immediate",
		path, sqliteBusyTimeout.Milliseconds())
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

// migrate creates or updates the schema. AutoMigrate is enough while tables only gain columns,
// indexes and new tables: tweets, whose keyset pages scan its primary key, plus a nullable
// account_id with an index on (account_id, id) (a database made before accounts keeps its
// tweets as guests'); idempotency_keys, with an index on created_at for the purge; accounts
// (with a nullable user_handle, which accounts made before passkeys lack), sessions and
// passkeys; and ceremonies, with an index on expires_at for the purge (docs/storage.md). On
// PostgreSQL an advisory lock makes two processes starting at once take turns; on SQLite the
// immediate transaction does the same.
func (s *Store) migrate(ctx context.Context) error {
	models := s.schema
	if models == nil {
		models = currentSchema()
	}
	err := s.transaction(ctx, ctx, func(tx *gorm.DB) error {
		if s.postgres {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", migrateLockKey).Error; err != nil {
				return err
			}
		}
		if err := tx.AutoMigrate(models...); err != nil {
			return err
		}
		if s.schema != nil {
			return nil
		}
		if s.postgres {
			if err := widenKeyColumn(tx); err != nil {
				return err
			}
		}
		// The first index of tweets.account_id, on it alone, is idx_tweets_account_id_id's
		// prefix: every query it served, the new one serves, and profiles' pages better.
		if m := tx.Migrator(); m.HasIndex("tweets", "idx_tweets_account_id") {
			return m.DropIndex("tweets", "idx_tweets_account_id")
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("migrate schema: %w", classify(err))
	}
	return nil
}

// keyColumnSize is the length of idempotency_keys.key, as keyRow's tag declares it: the longest
// scoped key (scopedKey).
const keyColumnSize = 276

// widenKeyColumn makes PostgreSQL's idempotency_keys.key as long as keyColumnSize, in a database
// made when it was 255. AutoMigrate does not: GORM's PostgreSQL migrator takes varchar(255) and
// varchar(276) for one type. Widening a varchar is a change of the catalogue alone in
// PostgreSQL: no row is rewritten, the primary key's index stays. (SQLite declares it text, of
// any length.)
func widenKeyColumn(tx *gorm.DB) error {
	columns, err := tx.Migrator().ColumnTypes(&keyRow{})
	if err != nil {
		return err
	}
	for _, c := range columns {
		if n, ok := c.Length(); c.Name() == "key" && ok && n < keyColumnSize {
			return tx.Exec(fmt.Sprintf(`ALTER TABLE idempotency_keys ALTER COLUMN "key" TYPE varchar(%d)`, keyColumnSize)).Error
		}
	}
	return nil
}

// currentSchema is the models migrate brings up, each table after the tables it refers to.
func currentSchema() []any {
	return []any{&tweetRow{}, &keyRow{}, &accountRow{}, &sessionRow{}, &passkeyRow{}, &ceremonyRow{}}
}
