package gormstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"

	"github.com/chirp-social/chirp/backend"
)

// batchPlan is what a batch does with each of its requests, once it has looked up their keys
// and accounts: a request makes a tweet (inserts), follows an earlier request of the batch with
// the same key and draft (answered with that tweet, Replayed), or was decided by a key committed
// before (a replay, or KeyReused) or by its account being gone, an answer that holds whatever
// becomes of the batch.
type batchPlan struct {
	steps    []batchStep
	rows     []tweetRow            // the tweets to insert
	accounts []*chirp.TweetAccount // the account of each of rows, as stored; nil for a guest's
	makers   []*createRequest      // the request that makes each of rows
}

type batchStep struct {
	req     *createRequest
	row     int  // index in rows of the tweet the request is answered with; -1 with decided
	follows bool // the tweet is an earlier request's, under the same key
	decided *createResult
}

// planBatch decides what each request does, in batch order, given the unexpired keys already
// committed (by scoped key) and the batch's accounts as stored. A key's first request in the
// batch makes the tweet; a later one with the same draft waits for that tweet, and one with a
// different draft is refused. So one key makes one row in the batch, and the key insert cannot
// meet a unique violation that would fail the whole batch. Keys are compared in their scope: the
// same key from two accounts, or from an account and a guest, is two keys.
func planBatch(batch []*createRequest, stored map[string]keyRow, accounts map[int64]*chirp.TweetAccount, now time.Time) *batchPlan {
	p := &batchPlan{steps: make([]batchStep, len(batch)), rows: make([]tweetRow, 0, len(batch))}
	first := map[string]int{} // scoped key → its maker's index in rows
	for i, r := range batch {
		st := batchStep{req: r, row: -1}
		var account *chirp.TweetAccount
		if r.account != nil {
			account = accounts[r.account.ID]
		}
		key := r.scopedKey()
		if r.account != nil && account == nil {
			st.decided = &createResult{err: chirp.AccountNotFound()}
		} else if k, ok := stored[key]; ok && r.key != "" {
			res := createResult{created: k.created(account)}
			if !r.sameDraft(k.Author, k.Content) {
				res = createResult{err: chirp.KeyReused()}
			}
			st.decided = &res
		} else if j, ok := first[key]; ok && r.key != "" {
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
			p.accounts = append(p.accounts, account)
			p.makers = append(p.makers, r)
			if r.key != "" {
				first[key] = st.row
			}
		}
		p.steps[i] = st
	}
	return p
}

// tweet is the i-th of the plan's rows as the product shows it.
func (p *batchPlan) tweet(i int) chirp.Tweet { return p.rows[i].tweet(p.accounts[i]) }

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
				Tweet:     p.tweet(st.row),
				EditToken: p.makers[st.row].token,
				Replayed:  st.follows,
			}}
		}
	}
}

// sameDraft reports whether the request is for the tweet a key was given to: "the same
// body" is the same author and content after the text rules, so JSON spacing, field order,
// unknown fields, escapes, CR LF or a different Unicode normalisation do not count.
func (r *createRequest) sameDraft(author, content string) bool {
	return r.row.Author == author && r.row.Content == content
}

// batchAccounts reads the accounts the batch's drafts post as, by id, under the create lock.
// DeleteAccount takes that lock too, so an account the batch finds here is not deleted before
// the batch commits its tweets (whose rows would then outlive it, with no one to delete or
// edit them), and one deleted before is not found: its creates are refused. The handle and
// display name read here are what the created tweets (and replays) carry.
func batchAccounts(tx *gorm.DB, batch []*createRequest) (map[int64]*chirp.TweetAccount, error) {
	var ids []int64
	for _, r := range batch {
		if r.account != nil {
			ids = append(ids, r.account.ID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	slices.Sort(ids)
	ids = slices.Compact(ids) // one per account, however many of its creates the batch holds
	var rows []accountRow
	if err := tx.Select("id", "handle", "display_name").Where("id IN ?", ids).Find(&rows).Error; err != nil {
		return nil, err
	}
	accounts := make(map[int64]*chirp.TweetAccount, len(rows))
	for _, a := range rows {
		accounts[a.ID] = &chirp.TweetAccount{ID: a.ID, Handle: a.Handle, DisplayName: a.DisplayName}
	}
	return accounts, nil
}

// storedKeys returns the unexpired keys of the batch that are already committed. Expired ones
// not purged yet are deleted here, so that the key can be given anew.
func storedKeys(tx *gorm.DB, batch []*createRequest, now time.Time) (map[string]keyRow, error) {
	var keys []string
	for _, r := range batch {
		if r.key != "" {
			keys = append(keys, r.scopedKey())
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	var rows []keyRow
	if err := tx.Where(`"key" IN ?`, keys).Find(&rows).Error; err != nil {
		return nil, err
	}
	stored := make(map[string]keyRow, len(rows))
	var expired []string
	for _, k := range rows {
		if now.Sub(k.CreatedAt) >= chirp.IdempotencyWindow {
			expired = append(expired, k.Key)
			continue
		}
		stored[k.Key] = k
	}
	if len(expired) > 0 {
		if err := tx.Where(`"key" IN ?`, expired).Delete(&keyRow{}).Error; err != nil {
			return nil, err
		}
	}
	return stored, nil
}

// purgeInterval is how often the writer deletes expired idempotency keys and ceremonies;
// purgeChunk bounds how many of each one purge's transaction deletes, and a full chunk makes
// the writer purge again at once (between batches, so creates do not wait for a long purge).
const (
	purgeInterval = time.Minute
	purgeChunk    = 1000
	// purgeTimeout bounds one purge, during which creates wait for the writer: a purge takes
	// milliseconds, and one that meets a stalled database gives up long before a request's
	// deadline.
	purgeTimeout = time.Second
)

// purgeAgain is always ready: the writer's select takes it, or a waiting create, at random.
var purgeAgain = func() chan time.Time { c := make(chan time.Time); close(c); return c }()

// purgeExpired deletes up to purgeChunk idempotency keys older than the window as of now, and
// up to purgeChunk ceremonies expired as of now, and reports whether it deleted a full chunk
// of either (there may be more). The bounds are in UTC, as every stored time is: SQLite
// compares times as text.
func (s *Store) purgeExpired(now time.Time) (full bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), purgeTimeout)
	defer cancel()
	release, err := s.acquireWrite(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	err = s.transaction(ctx, ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`DELETE FROM idempotency_keys WHERE "key" IN
			(SELECT "key" FROM idempotency_keys WHERE created_at <= ? LIMIT ?)`,
			now.UTC().Add(-chirp.IdempotencyWindow), purgeChunk)
		if res.Error != nil {
			return res.Error
		}
		full = res.RowsAffected == purgeChunk
		res = tx.Exec(`DELETE FROM ceremonies WHERE id IN
			(SELECT id FROM ceremonies WHERE expires_at <= ? LIMIT ?)`, now.UTC(), purgeChunk)
		full = full || res.RowsAffected == purgeChunk
		return res.Error
	})
	if err != nil {
		return false, fmt.Errorf("purge idempotency keys and ceremonies: %w", classify(err))
	}
	return full, nil
}
