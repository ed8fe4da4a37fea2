// Package hotwindow keeps the newest tweets of the timeline in memory and answers the reads
// that lie wholly inside them: the newest page, and the since_id/min_id reads of what is new
// that every tab sends at once when it hears of a tweet (the herd). It is a chirp.TweetStore
// that wraps the database's (a decorator): everything else, and every write, passes through.
//
// Its promise. Within one process, the answers the database gives: a create is in the window
// before its creator is answered (the store tells the window from its one writer goroutine,
// in commit order, without waiting: when the window cannot add it yet, it answers no read
// until it has), an edit or delete before its request is; so a tweet is never seen before its
// commit is visible, and never skipped. Across processes, other processes' writes come in
// by the event bus: the window is behind the database by the bus's delay, and still never
// out of id order and never skipping, because whenever it learns of a higher id it reads
// everything between from the database first. A process announces a tweet to its own clients
// only once the window holds it, so the reads the announcement sets off are served from memory.
// While the bus is down, and after any write whose outcome is unknown, the window stands aside
// (reads go to the database) until it has reloaded.
package hotwindow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chirp-social/chirp/backend"
)

// DefaultSize holds five newest pages of the largest size: a herd's since_id reads ask for the
// few tweets above what the tabs hold, so a window this size answers them even when a tab is
// hundreds of tweets behind.
const DefaultSize = 500

// readTimeout bounds the window's own reads of the database (reloads and catch-ups).
const readTimeout = 5 * time.Second

// Config configures a Window.
type Config struct {
	// Size is how many of the newest tweets are kept (up to a quarter more between trims); zero
	// means DefaultSize.
	Size int
	// Current reports whether the window hears every other process's writes (the event bus is
	// up); nil means there are no other processes. While it says false, reads go to the
	// database, and the window reloads when it says true again.
	Current func() bool
}

// Window is the hot window. Make it with New, hand it to the store as its commit observer
// (gormstore.WithCommitObserver), and serve through Wrap.
type Window struct {
	size    int
	current func() bool
	db      chirp.TweetStore

	// fill serialises the changes to the window that rest on a database read (reloads,
	// catch-ups, an edit heard from another process) with the edits and deletes of this
	// process, so that a change and the read it races (a delete and a catch-up that read the
	// tweet a moment before) apply in the order they happened in the database. The store's
	// writer never takes it (Committed): a create must not wait on a read it does not own.
	fill sync.Mutex

	mu sync.RWMutex
	// tweets, ascending by id, are every tweet with an id in (floor, top] (deletes removed):
	// the window is complete there. top is the highest id the window knows to be committed.
	tweets     []chirp.Tweet
	floor, top int64
	valid      bool
	// pending are this process's committed creates that the window cannot add yet, because
	// it does not know every id below them (another process's tweets the bus has not reported,
	// or a reload under way that may have read the database before their commit). Ascending;
	// the newest size+size/4 at most. While there are any, reads go to the database and the
	// next fill (a reader's, the bus's) reads the gap below them and adds them.
	pending []chirp.Tweet
	// loading is true while a reload reads the database: a batch committed meanwhile waits in
	// pending, since the reload may not have seen it.
	loading bool
	// gen counts invalidations, so that a reload that read the database before one does not
	// make the window valid with what it read.
	gen uint64

	hits, misses, reloads atomic.Uint64
}

// New makes an empty, invalid window: it loads at the first read.
func New(cfg Config) *Window {
	if cfg.Size <= 0 {
		cfg.Size = DefaultSize
	}
	return &Window{size: cfg.Size, current: cfg.Current}
}

// Wrap returns the store that serves through the window, over db, the store whose commit
// observer the window is. Call it once, before the store is used.
func (w *Window) Wrap(db chirp.TweetStore) chirp.TweetStore {
	if w.db != nil {
		panic("hotwindow: Wrap called twice")
	}
	w.db = db
	return &store{TweetStore: db, w: w}
}

// Load fills the window from the database now, rather than at the first read (at start, so
// the first herd is served from memory). It returns how many tweets it holds.
func (w *Window) Load() (int, error) {
	w.fill.Lock()
	defer w.fill.Unlock()
	if err := w.reload(context.Background()); err != nil {
		return 0, fmt.Errorf("hot window: %w", err)
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	return len(w.tweets), nil
}

// Hits counts the reads answered from memory, Misses those that went to the database.
func (w *Window) Hits() uint64   { return w.hits.Load() }
func (w *Window) Misses() uint64 { return w.misses.Load() }

// Reloads counts the window's loads of the newest tweets: the first, and one after each time it
// stood aside.
func (w *Window) Reloads() uint64 { return w.reloads.Load() }

// Committed is the store's report of a committed create batch (gormstore.CommitObserver), on
// the store's one writer, before the batch's creators are answered. It never waits for the
// database: the batch rule answers every create by its deadline + 1 s, and a reload or a
// catch-up may hold fill for a read of up to readTimeout. Ids are taken in commit order, so
// when the batch's first id is the one after the window's top, it is appended at once (a
// catch-up under way meanwhile skips what the window holds already). Otherwise the ids between
// are other processes' tweets (or ids no commit used), and the batch waits in pending, where
// reads do not find it but do not answer without it either: they go to the database until a
// fill has read the gap. One process alone on its database meets no gap but those a failed
// insert leaves in PostgreSQL's sequence.
func (w *Window) Committed(created []chirp.Tweet) {
	if len(created) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case !w.valid && !w.loading:
		// An invalid window reloads, batch included, at the next read.
	case w.valid && len(w.pending) == 0 && created[0].ID <= w.top+1:
		w.appendLocked(created)
	default:
		w.pending = append(w.pending, created...)
		if over := len(w.pending) - (w.size + w.size/4); over > 0 {
			// Only the newest are kept anyway; the gap this leaves is read like any other.
			w.pending = append([]chirp.Tweet(nil), w.pending[over:]...)
		}
	}
}

// Unsure is the store's report of a create batch that failed and may have committed all the
// same: the window cannot know, so it reloads.
func (w *Window) Unsure() { w.invalidate() }

// invalidate makes the window stand aside until it reloads.
func (w *Window) invalidate() {
	w.mu.Lock()
	w.valid = false
	w.tweets = nil
	w.pending = nil
	w.gen++
	w.mu.Unlock()
}

func (w *Window) isValid() bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.valid
}

// answers reports whether reads can be answered from memory: the window is valid and holds
// every create of this process.
func (w *Window) answers() bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.valid && len(w.pending) == 0
}

// catchUp reads from the database every tweet in (top, to] and appends it, then the pending
// creates that this makes contiguous; the caller holds fill. On a failure the window keeps
// what it read, complete up to it.
func (w *Window) catchUp(ctx context.Context, to int64) error {
	w.mu.RLock()
	from := w.top
	w.mu.RUnlock()
	for from < to {
		// Forward pages from the oldest missing id; each page is newest first.
		page, err := w.db.Tweets(ctx, chirp.PageQuery{Limit: chirp.MaxPageSize, MinID: from, MaxID: to + 1, Forward: true})
		if err != nil {
			return err
		}
		slices.Reverse(page)
		w.mu.Lock()
		w.appendLocked(page)
		w.mu.Unlock()
		if len(page) < chirp.MaxPageSize {
			break
		}
		from = page[len(page)-1].ID
	}
	w.mu.Lock()
	w.top = max(w.top, to)
	w.settleLocked()
	w.mu.Unlock()
	return nil
}

// settleLocked appends the pending creates that now lie just above top; the caller holds mu.
func (w *Window) settleLocked() {
	top, n := w.top, 0
	for n < len(w.pending) && w.pending[n].ID <= top+1 {
		top = max(top, w.pending[n].ID)
		n++
	}
	if n == 0 {
		return
	}
	w.appendLocked(w.pending[:n])
	if n == len(w.pending) {
		w.pending = nil
	} else {
		w.pending = append([]chirp.Tweet(nil), w.pending[n:]...)
	}
}

// appendLocked adds tweets (ascending ids) above top, and trims the oldest beyond the size.
func (w *Window) appendLocked(tweets []chirp.Tweet) {
	for _, t := range tweets {
		if t.ID <= w.top {
			continue // already here, or deleted since
		}
		w.tweets = append(w.tweets, t)
		w.top = t.ID
	}
	// Trimmed back to Size only once a quarter more has piled up: a fresh array (so the trimmed
	// tweets' memory is released) every Size/4 tweets, not at every create.
	if len(w.tweets) > w.size+w.size/4 {
		over := len(w.tweets) - w.size
		w.floor = w.tweets[over-1].ID
		w.tweets = append(make([]chirp.Tweet, 0, w.size+w.size/4+1), w.tweets[over:]...)
	}
}

// errSetAside is a reload that read the database before the window was set aside again.
var errSetAside = errors.New("the window was set aside during its reload")

// reload reads the newest Size tweets from the database, within ctx, and adds the pending
// creates committed meanwhile. The caller holds fill.
func (w *Window) reload(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	w.mu.Lock()
	gen := w.gen
	w.loading = true
	w.mu.Unlock()
	var newestFirst []chirp.Tweet
	q := chirp.PageQuery{Limit: chirp.MaxPageSize, MaxID: chirp.NoMaxID}
	for len(newestFirst) < w.size {
		q.Limit = min(chirp.MaxPageSize, w.size-len(newestFirst))
		page, err := w.db.Tweets(ctx, q)
		if err != nil {
			w.mu.Lock()
			w.loading, w.pending = false, nil // the next reload reads them
			w.mu.Unlock()
			return err
		}
		newestFirst = append(newestFirst, page...)
		if len(page) < q.Limit {
			break
		}
		q.MaxID = page[len(page)-1].ID
	}
	tweets := make([]chirp.Tweet, len(newestFirst), w.size+w.size/4+1)
	for i, t := range newestFirst {
		tweets[len(tweets)-1-i] = t
	}
	var floor, top int64
	if len(tweets) > 0 {
		top = tweets[len(tweets)-1].ID
		if len(tweets) == w.size { // there may be older ones
			floor = tweets[0].ID - 1
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.loading = false
	if w.gen != gen {
		w.pending = nil
		return errSetAside
	}
	w.tweets, w.floor, w.top, w.valid = tweets, floor, top, true
	w.settleLocked()
	w.reloads.Add(1)
	return nil
}

// errStale is a read the window cannot answer: it goes to the database.
var errStale = errors.New("outside the window")

// read answers q from memory, or errStale. It stands aside while the bus is down. When the
// window is not valid, one reader reloads it, within its own request's deadline (the database
// may be what made it invalid); when creates are pending, one reader reads the gap below them.
// The others meanwhile go to the database.
func (w *Window) read(ctx context.Context, q chirp.PageQuery) ([]chirp.Tweet, error) {
	if w.current != nil && !w.current() {
		if w.isValid() {
			w.invalidate() // whatever it missed meanwhile: reload once the bus is back
		}
		return nil, errStale
	}
	if !w.answers() {
		if !w.fill.TryLock() {
			return nil, errStale
		}
		err := w.refresh(ctx)
		w.fill.Unlock()
		if err != nil {
			return nil, errStale
		}
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if !w.valid || len(w.pending) > 0 {
		return nil, errStale
	}
	return answer(w.tweets, w.floor, q)
}

// refresh makes a window that cannot answer able to: it reloads an invalid one, and reads the
// gap below the pending creates of a valid one, within ctx. The caller holds fill.
func (w *Window) refresh(ctx context.Context) error {
	w.mu.RLock()
	valid, below := w.valid, int64(0)
	if len(w.pending) > 0 {
		below = w.pending[0].ID - 1
	}
	w.mu.RUnlock()
	switch {
	case !valid:
		return w.reload(ctx)
	case below > 0:
		// A failure leaves the creates pending: the next reader tries again.
		ctx, cancel := context.WithTimeout(ctx, readTimeout)
		defer cancel()
		return w.catchUp(ctx, below)
	}
	return nil
}

// edited replaces a tweet the window holds (or has pending) by a newer version of it.
func (w *Window) edited(t chirp.Tweet) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, held := range [][]chirp.Tweet{w.tweets, w.pending} {
		if i, found := findIn(held, t.ID); found && !t.UpdatedAt.Before(held[i].UpdatedAt) {
			held[i] = t
		}
	}
}

// deleted removes a tweet from the window (or from its pending creates).
func (w *Window) deleted(id int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if i, found := w.find(id); found {
		w.tweets = slices.Delete(w.tweets, i, i+1)
	}
	if i, found := findIn(w.pending, id); found {
		w.pending = slices.Delete(w.pending, i, i+1)
	}
}

func (w *Window) find(id int64) (int, bool) { return findIn(w.tweets, id) }
