package hotwindow

import (
	"context"

	"github.com/chirp-social/chirp/backend"
)

// Sink returns the bus's sink for this process: each of another process's writes is applied to
// the window first, then handed on to next (the socket server), so the reads that the
// announcement sets off are answered from memory.
func (w *Window) Sink(next chirp.EventSink) chirp.EventSink { return &sink{w: w, next: next} }

type sink struct {
	w    *Window
	next chirp.EventSink
}

func (s *sink) TweetCreated(t chirp.Tweet) {
	s.w.heardCreated(t.ID)
	s.next.TweetCreated(t)
}

func (s *sink) TweetUpdated(t chirp.Tweet) {
	s.w.heardUpdated(t.ID)
	s.next.TweetUpdated(t)
}

func (s *sink) TweetDeleted(id int64) {
	s.w.fill.Lock()
	s.w.deleted(id)
	s.w.fill.Unlock()
	s.next.TweetDeleted(id)
}

func (s *sink) NewTweetHint() { s.next.NewTweetHint() }

// Resync: the bus was down and missed who knows what; the window reloads at the next read.
func (s *sink) Resync() {
	s.w.invalidate()
	s.next.Resync()
}

// heardCreated reads, up to lastID (another process's batch), what the window lacks. A
// failure sets the window aside: it would not hear of those tweets again.
func (w *Window) heardCreated(lastID int64) {
	w.fill.Lock()
	defer w.fill.Unlock()
	w.mu.RLock()
	behind := w.valid && lastID > w.top
	w.mu.RUnlock()
	if !behind {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	if err := w.catchUp(ctx, lastID); err != nil {
		w.invalidate()
	}
}

// heardUpdated reads the edited tweet again, when the window holds it.
func (w *Window) heardUpdated(id int64) {
	w.fill.Lock()
	defer w.fill.Unlock()
	w.mu.RLock()
	_, held := w.find(id)
	held = held && w.valid
	w.mu.RUnlock()
	if !held {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	t, err := w.db.Tweet(ctx, id)
	switch {
	case err == nil:
		w.edited(t)
	case chirp.ErrorCode(err) == chirp.CodeNotFound:
		w.deleted(id)
	default:
		w.invalidate()
	}
}
