// Package hotwindow keeps the newest tweets of the timeline in memory and answers the reads
// that lie wholly inside them: the newest page, and the since_id/min_id reads of what is new
// that every tab sends at once when it hears of a tweet (the herd). It is a chirp.TweetStore
// that wraps the database's (a decorator): everything else, and every write, passes through.
//
// Its promise. Within one process, the answers the database gives: a create is in the window
// before its creator is answered (the store tells the window from its one writer goroutine,
// in commit order), an edit or delete before its request is; so a tweet is never seen before
// its commit is visible, and never skipped. Across processes, other processes' writes come in
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

	// fill serialises every change to the window, and the database reads that feed them, so
	// that a change and the read it races (a delete and a catch-up that read the tweet a moment
	// before) apply in the order they happened in the database.
	fill sync.Mutex

	mu sync.RWMutex
	// tweets, ascending by id, are every tweet with an id in (floor, top] (deletes removed):
	// the window is complete there. top is the highest id the window knows to be committed.
	tweets     []chirp.Tweet
	floor, top int64
	valid      bool

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

// Committed is the store's report of a committed create batch (gormstore.CommitObserver). Ids
// are taken in commit order, so when the batch's first id is not the one after the window's top,
// the ids between are other processes' tweets (or ids no commit used): they are read from the
// database first, so that the batch never lands above a gap. One process alone on its database
// meets no gap but those a failed insert leaves in PostgreSQL's sequence.
func (w *Window) Committed(created []chirp.Tweet) {
	w.fill.Lock()
	defer w.fill.Unlock()
	if !w.isValid() || len(created) == 0 {
		return // an invalid window reloads, batch included, at the next read
	}
	if first := created[0].ID; first > w.top+1 && !w.catchUp(first-1) {
		return
	}
	w.mu.Lock()
	w.appendLocked(created)
	w.mu.Unlock()
}

// Unsure is the store's report of a create batch that failed and may have committed all the
// same: the window cannot know, so it reloads.
func (w *Window) Unsure() { w.invalidate() }

// invalidate makes the window stand aside until it reloads.
func (w *Window) invalidate() {
	w.mu.Lock()
	w.valid = false
	w.tweets = nil
	w.mu.Unlock()
}

func (w *Window) isValid() bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.valid
}

// catchUp reads from the database every tweet in (top, to] and appends it; the caller holds
// fill. On a failure the window is invalidated and catchUp returns false.
func (w *Window) catchUp(to int64) bool {
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	from := w.top
	for from < to {
		// Forward pages from the oldest missing id; each page is newest first.
		page, err := w.db.Tweets(ctx, chirp.PageQuery{Limit: chirp.MaxPageSize, MinID: from, MaxID: to + 1, Forward: true})
		if err != nil {
			w.invalidate()
			return false
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
	w.mu.Unlock()
	return true
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

// reload reads the newest Size tweets from the database, within ctx. The caller holds fill.
func (w *Window) reload(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	var newestFirst []chirp.Tweet
	q := chirp.PageQuery{Limit: chirp.MaxPageSize, MaxID: chirp.NoMaxID}
	for len(newestFirst) < w.size {
		q.Limit = min(chirp.MaxPageSize, w.size-len(newestFirst))
		page, err := w.db.Tweets(ctx, q)
		if err != nil {
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
	w.tweets, w.floor, w.top, w.valid = tweets, floor, top, true
	w.mu.Unlock()
	w.reloads.Add(1)
	return nil
}

// errStale is a read the window cannot answer: it goes to the database.
var errStale = errors.New("outside the window")

// read answers q from memory, or errStale. It stands aside while the bus is down. When the
// window is not valid, one reader reloads it, within its own request's deadline (the database
// may be what made it invalid); the others meanwhile go to the database.
func (w *Window) read(ctx context.Context, q chirp.PageQuery) ([]chirp.Tweet, error) {
	if w.current != nil && !w.current() {
		if w.isValid() {
			w.invalidate() // whatever it missed meanwhile: reload once the bus is back
		}
		return nil, errStale
	}
	if !w.isValid() {
		if !w.fill.TryLock() {
			return nil, errStale
		}
		err := error(nil)
		if !w.isValid() {
			err = w.reload(ctx)
		}
		w.fill.Unlock()
		if err != nil {
			return nil, errStale
		}
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if !w.valid {
		return nil, errStale
	}
	return answer(w.tweets, w.floor, q)
}

// answer is q's page from tweets (ascending), complete for ids above floor, or errStale when
// the answer may reach below floor.
func answer(tweets []chirp.Tweet, floor int64, q chirp.PageQuery) ([]chirp.Tweet, error) {
	// Indexes of the first tweet above the lower bound and of the first at or above MaxID.
	hi, _ := slices.BinarySearchFunc(tweets, q.MaxID, func(t chirp.Tweet, id int64) int { return cmpID(t.ID, id) })
	if q.Forward {
		if q.MinID < floor {
			return nil, errStale
		}
		lo := above(tweets, q.MinID)
		if lo >= hi {
			return []chirp.Tweet{}, nil
		}
		return newestFirst(tweets[lo:min(hi, lo+q.Limit)]), nil
	}
	lo := above(tweets, q.SinceID)
	if hi-lo >= q.Limit {
		return newestFirst(tweets[hi-q.Limit : hi]), nil
	}
	if q.SinceID < floor {
		return nil, errStale
	}
	if lo >= hi {
		return []chirp.Tweet{}, nil
	}
	return newestFirst(tweets[lo:hi]), nil
}

func cmpID(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// above is the index of the first tweet whose id is above id.
func above(tweets []chirp.Tweet, id int64) int {
	i, found := slices.BinarySearchFunc(tweets, id, func(t chirp.Tweet, id int64) int { return cmpID(t.ID, id) })
	if found {
		i++
	}
	return i
}

// newestFirst copies ascending tweets into a page, newest first: the caller owns it.
func newestFirst(asc []chirp.Tweet) []chirp.Tweet {
	page := make([]chirp.Tweet, len(asc))
	for i, t := range asc {
		page[len(asc)-1-i] = t
	}
	return page
}

// edited replaces a tweet the window holds by a newer version of it.
func (w *Window) edited(t chirp.Tweet) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if i, found := w.find(t.ID); found && !t.UpdatedAt.Before(w.tweets[i].UpdatedAt) {
		w.tweets[i] = t
	}
}

// deleted removes a tweet from the window.
func (w *Window) deleted(id int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if i, found := w.find(id); found {
		w.tweets = slices.Delete(w.tweets, i, i+1)
	}
}

func (w *Window) find(id int64) (int, bool) {
	return slices.BinarySearchFunc(w.tweets, id, func(t chirp.Tweet, id int64) int { return cmpID(t.ID, id) })
}
