package gormstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/chirp-social/chirp/backend"
)

// CreateTweet stores a tweet and returns once it is committed. A draft with an Account is
// stored as that account's, without an edit token (tokenHash is ignored); when the account is
// gone by the time its batch commits, the create fails with chirp.AccountNotFound and stores
// nothing.
//
// Ids come from the sequence when a row is inserted, not when it commits, so two concurrent
// creates could commit out of order and a reader that saw the later one would skip the earlier
// for good. So creates are committed one batch at a time, in id order: this process's creates
// go to one writer goroutine that inserts whatever is waiting as one transaction, and every
// batch takes one lock (across processes) before its insert and holds it to its commit
// (docs/batching.md). Batching is what keeps that fast: one commit, one WAL flush, serves
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
// and requests with one key in one batch are made one tweet (docs/idempotency.md).
func (s *Store) CreateTweetOnce(ctx context.Context, d chirp.Draft, token string, key chirp.IdempotencyKey) (chirp.Created, error) {
	if err := d.Validate(); err != nil {
		return chirp.Created{}, err
	}
	if _, err := chirp.ParseIdempotencyKey(string(key)); err != nil {
		return chirp.Created{}, err
	}
	return s.create(ctx, newKeyedRequest(ctx, d, token, key))
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

// maxCreateBatch bounds one batch's INSERT (seven parameters a row).
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
	// account is the account the draft posts as, nil for a guest; only its ID is trusted: the
	// batch reads the account itself (batchAccounts).
	account *chirp.TweetAccount
	ctx     context.Context
	done    chan createResult
}

type createResult struct {
	created chirp.Created
	err     error
}

func newCreateRequest(ctx context.Context, d chirp.Draft, tokenHash []byte) *createRequest {
	r := &createRequest{
		row:  tweetRow{Author: d.Author, Content: d.Content, EditTokenHash: tokenHash},
		ctx:  ctx,
		done: make(chan createResult, 1),
	}
	if d.Account != nil {
		id := d.Account.ID
		r.account = d.Account
		r.row.AccountID, r.row.EditTokenHash = &id, noEditToken
	}
	return r
}

// newKeyedRequest is a create under key whose edit token is token, kept with the key; an
// account's tweet has none to keep (nor to replay).
func newKeyedRequest(ctx context.Context, d chirp.Draft, token string, key chirp.IdempotencyKey) *createRequest {
	r := newCreateRequest(ctx, d, chirp.HashEditToken(token))
	r.key = key
	if d.Account == nil {
		r.token = token
	}
	return r
}

// scopedKey is the request's idempotency key in its account's scope (rows.go).
func (r *createRequest) scopedKey() string { return scopedKey(r.key, r.account) }

// wait returns the writer's answer.
func (r *createRequest) wait() (chirp.Created, error) {
	res := <-r.done
	return res.created, res.err
}

// writeCreates is the one goroutine that commits this process's creates, in batches, and
// purges expired idempotency keys and ceremonies between them.
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
			more = s.purge(time.Now())
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

// purge deletes a chunk of expired idempotency keys, one of expired ceremonies and, with
// WithSessionPurge, one of idle sessions, and reports whether any chunk was full (there may be
// more). A failed purge is tried again at the next tick; the keys, ceremonies and sessions it
// left are ignored by lookups meanwhile.
func (s *Store) purge(now time.Time) (more bool) {
	more, _ = s.purgeExpired(now)
	if s.sessionMaxIdle == 0 {
		return more
	}
	ctx, cancel := context.WithTimeout(context.Background(), purgeTimeout)
	defer cancel()
	n, err := s.purgeIdleChunk(ctx, now, s.sessionMaxIdle)
	return more || (err == nil && n == purgeChunk)
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
			for i := range p.rows {
				created[i] = p.tweet(i)
			}
			s.observer.Committed(created)
		}
	}
	p.answer(err)
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
		accounts, err := batchAccounts(tx, batch)
		if err != nil {
			return err
		}
		p = planBatch(batch, stored, accounts, now)
		if len(p.rows) > 0 {
			if err := tx.Create(&p.rows).Error; err != nil {
				return err
			}
		}
		var keys []keyRow // the keys of the makers that have one, now that their ids are known
		for i, r := range p.makers {
			if r.key != "" {
				row := p.rows[i]
				keys = append(keys, keyRow{Key: r.scopedKey(), TweetID: row.ID, Author: row.Author,
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
