package hotwindow

import (
	"context"
	"errors"

	"github.com/chirp-social/chirp/backend"
)

// store is the chirp.TweetStore that reads through the window and keeps it current with this
// process's edits and deletes (creates come from the database store's commit observer).
type store struct {
	chirp.TweetStore
	w *Window
}

func (s *store) Tweets(ctx context.Context, q chirp.PageQuery) ([]chirp.Tweet, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if page, err := s.w.read(ctx, q); err == nil {
		s.w.hits.Add(1)
		return page, nil
	}
	s.w.misses.Add(1)
	return s.TweetStore.Tweets(ctx, q)
}

func (s *store) UpdateTweet(ctx context.Context, id int64, e chirp.Edit) (chirp.Tweet, error) {
	t, err := s.TweetStore.UpdateTweet(ctx, id, e)
	s.w.wrote(id, err, func() { s.w.edited(t) })
	return t, err
}

func (s *store) DeleteTweet(ctx context.Context, id int64) error {
	err := s.TweetStore.DeleteTweet(ctx, id)
	s.w.wrote(id, err, func() { s.w.deleted(id) })
	return err
}

// WrapAccounts returns the account store that keeps the window in line with accounts' deletes,
// over db, the database's. Deleting an account deletes its tweets (chirp.AccountStore's
// DeleteAccount), and the window forgets them, as it forgets a deleted tweet, before the delete
// returns: so before the caller announces any of them, and no read after it finds one. Serve
// every account operation through it (it passes the others through).
func (w *Window) WrapAccounts(db chirp.AccountStore) chirp.AccountStore {
	return &accounts{AccountStore: db, w: w}
}

type accounts struct {
	chirp.AccountStore
	w *Window
}

func (a *accounts) DeleteAccount(ctx context.Context, accountID int64) ([]int64, error) {
	deleted, err := a.AccountStore.DeleteAccount(ctx, accountID)
	a.w.deletedAll(deleted, err)
	return deleted, err
}

// deletedAll is wrote for a delete of several tweets at once (an account's): apply on success,
// reload when its outcome is unknown, nothing else on any other failure (nothing was deleted).
func (w *Window) deletedAll(ids []int64, err error) {
	w.fill.Lock()
	defer w.fill.Unlock()
	switch {
	case err == nil:
		for _, id := range ids {
			w.deleted(id)
		}
	case errors.Is(err, chirp.ErrOutcomeUnknown):
		w.invalidate()
	}
}

// wrote brings the window in line with an edit or delete of tweet id that returned err, before
// the request is answered (and the change announced): apply on success; a tweet the database
// says is not there leaves the window too; a failure whose outcome is unknown (the COMMIT was
// under way when the database went away, chirp.ErrOutcomeUnknown) makes the window reload.
// Any other failure stored nothing (a client that hung up, a database that did not answer
// before the COMMIT, an edit refused), so the window stays as it is.
func (w *Window) wrote(id int64, err error, apply func()) {
	w.fill.Lock()
	defer w.fill.Unlock()
	switch {
	case err == nil:
		apply()
	case chirp.ErrorCode(err) == chirp.CodeNotFound:
		w.deleted(id)
	case errors.Is(err, chirp.ErrOutcomeUnknown):
		w.invalidate()
	}
}
