// Package eventbus carries Chirp's events between processes that share one PostgreSQL database,
// on LISTEN/NOTIFY. Committed writes are announced by the store from inside their transaction
// (the Bus makes their payloads: it is gormstore's Notifier), so PostgreSQL delivers a notice if
// and only if its write commits, at the moment it becomes visible. Each process listens on one
// dedicated connection and hands what other processes announced to its sink, the realtime
// server; its own notices it has already delivered itself, and skips.
package eventbus

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chirp-social/chirp/backend"
)

// Execer runs a statement on a pooled connection: relays are published with it, outside any
// transaction.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Config is what a Bus needs.
type Config struct {
	// DatabaseURL is the PostgreSQL database the processes share.
	DatabaseURL string
	Logger      *slog.Logger
	// Heartbeat is how long the listener may hear nothing before it sends a heartbeat of its
	// own through the bus, on its connection; hearing nothing at all, not even that, for
	// SilentBeats heartbeats, it counts itself down (a stalled backend, a connection cut
	// without a word) and reconnects. Zero means DefaultHeartbeat.
	Heartbeat time.Duration
}

// Defaults and bounds.
const (
	// DefaultHeartbeat (EVENT_BUS_HEARTBEAT's default): a deaf listener is noticed within 3 s,
	// and a quiet bus costs each process one NOTIFY a second, heard by every process.
	DefaultHeartbeat = time.Second
	// SilentBeats is how many heartbeats of silence make the listener count itself down: one
	// to notice the quiet and send a beat, and two more for its round trip on a loaded machine.
	SilentBeats = 3
	// The listener reconnects after firstRetry, doubling to maxRetry: back within a couple of
	// seconds of the database, without hammering one that is down.
	firstRetry = 100 * time.Millisecond
	maxRetry   = 2 * time.Second
	// relayQueue bounds the relays waiting to be published; past it they are dropped (events
	// are hints: a client that misses one catches up at the next).
	relayQueue = 256
	// statementTimeout bounds the listener's statements and each relay's publication.
	statementTimeout = 5 * time.Second
)

// Bus is one process's end of the event bus.
type Bus struct {
	log       *slog.Logger
	connCfg   *pgx.ConnConfig
	relays    Execer
	heartbeat time.Duration
	origin    string

	relayQ chan string
	stop   context.CancelFunc
	wg     sync.WaitGroup

	// downSince is when the listener last heard a notice before it lost its connection (what
	// it may have missed begins there); zero while it listens.
	mu        sync.Mutex
	downSince time.Time
	started   bool
	// heard is when the listener last heard a notice (any, a heartbeat included), in Unix
	// nanoseconds.
	heard atomic.Int64

	received, ignored, malformed, published, relaysDropped atomic.Int64
}

// New prepares a bus; Start connects it.
func New(cfg Config) (*Bus, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	connCfg, err := pgx.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("event bus: %w", err)
	}
	b := &Bus{
		log:       cfg.Logger,
		connCfg:   connCfg,
		heartbeat: cfg.Heartbeat,
		origin:    newOrigin(),
		relayQ:    make(chan string, relayQueue),
	}
	// Names the listener in pg_stat_activity, so that an operator (or a test) can find it.
	connCfg.RuntimeParams["application_name"] = b.applicationName()
	// pgx speaks UTF-8 only: a database in another encoding (SQL_ASCII) would start the
	// session in its own (as the store's connections ask too).
	connCfg.RuntimeParams["client_encoding"] = "UTF8"
	return b, nil
}

// newOrigin names this process on the bus: random, so that two processes never share one
// even on one host and port.
func newOrigin() string {
	b := make([]byte, 9)
	rand.Read(b) // never fails on Linux
	return base64.RawURLEncoding.EncodeToString(b)
}

// applicationName is the listener connection's application_name.
func (b *Bus) applicationName() string { return "chirp-bus " + b.origin }

// Created is the notice of a committed create batch whose highest id is lastID, for the store to
// send from inside the batch's transaction.
func (b *Bus) Created(lastID int64) (channel, payload string) { return b.notice(Created, lastID) }

// Updated is the notice of a committed edit.
func (b *Bus) Updated(id int64) (channel, payload string) { return b.notice(Updated, id) }

// Deleted is the notice of a committed delete.
func (b *Bus) Deleted(id int64) (channel, payload string) { return b.notice(Deleted, id) }

func (b *Bus) notice(k Kind, id int64) (channel, payload string) {
	b.published.Add(1)
	return Channel, Notice{Kind: k, ID: id, Origin: b.origin}.encode()
}

// Relayed publishes a client's newTweet relay to the other processes, without waiting: a full
// queue drops it.
func (b *Bus) Relayed(conn string) {
	select {
	case b.relayQ <- conn:
	default:
		b.relaysDropped.Add(1)
	}
}

// Start connects the listener and starts delivering other processes' notices to sink, and
// publishing relays on pool (the store's connections to the same database). The first
// connection is made here, so a process that cannot listen does not start; later losses heal in
// the background.
func (b *Bus) Start(ctx context.Context, sink chirp.EventSink, pool Execer) error {
	b.relays = pool
	conn, err := b.connect(ctx)
	if err != nil {
		return fmt.Errorf("event bus: %w", err)
	}
	b.mu.Lock()
	b.started = true
	b.mu.Unlock()
	b.heard.Store(time.Now().UnixNano())
	runCtx, stop := context.WithCancel(context.Background())
	b.stop = stop
	b.wg.Add(2)
	go func() { defer b.wg.Done(); b.listen(runCtx, conn, sink) }()
	go func() { defer b.wg.Done(); b.publishRelays(runCtx) }()
	b.log.Info("event bus listening", "channel", Channel, "origin", b.origin, "application_name", b.applicationName(), "heartbeat", b.heartbeat)
	return nil
}

// Close stops listening and publishing. Relays still queued are dropped: the process is going.
func (b *Bus) Close() {
	if b.stop != nil {
		b.stop()
	}
	b.wg.Wait()
}

// Ready reports whether the bus listens: a process that does not hear the others is not ready.
func (b *Bus) Ready() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case !b.started:
		return errors.New("event bus not started")
	case !b.downSince.IsZero():
		return fmt.Errorf("event bus down for %s", time.Since(b.downSince).Round(time.Millisecond))
	}
	return nil
}

// Up, NotificationsIn and NotificationsOut are the bus's state and traffic, for metrics: the
// notices heard from other processes and delivered, and the notices this process made.
func (b *Bus) Up() bool                 { return b.Ready() == nil }
func (b *Bus) NotificationsIn() uint64  { return uint64(b.received.Load()) }
func (b *Bus) NotificationsOut() uint64 { return uint64(b.published.Load()) }

func (b *Bus) connect(ctx context.Context) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, statementTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, b.connCfg)
	if err != nil {
		return nil, err
	}
	// The channel is a constant identifier: nothing to quote.
	if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("LISTEN: %w", err)
	}
	return conn, nil
}

// listen delivers notices until ctx ends, reconnecting whenever the connection is lost.
func (b *Bus) listen(ctx context.Context, conn *pgx.Conn, sink chirp.EventSink) {
	for {
		err := b.receive(ctx, conn, sink)
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn.Close(closeCtx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		b.setDown(err)
		if conn = b.reconnect(ctx); conn == nil {
			return
		}
		b.heard.Store(time.Now().UnixNano())
		b.setUp()
		// Whatever was committed while the bus was down was never heard here.
		sink.Resync()
	}
}

// receive hands notices to sink until the connection fails or falls silent (its error) or ctx
// ends. A PostgreSQL backend that stops answering (stopped, swapped out, cut off without a
// FIN) leaves the connection open and quiet, so quiet is checked: after a heartbeat of it the
// listener notifies the channel itself, on its own connection, and hears that notice come
// back (PostgreSQL delivers a session's notices to itself too) or any other; hearing nothing
// for SilentBeats heartbeats, it gives the connection up.
func (b *Bus) receive(ctx context.Context, conn *pgx.Conn, sink chirp.EventSink) error {
	beat := Notice{Kind: Heartbeat, Origin: b.origin}.encode()
	silence := SilentBeats * b.heartbeat
	// quiet is when the listener last heard something, or finished handing it on: the time
	// a sink takes (the hot window reading the database) is not the bus's silence.
	quiet := time.Now()
	beatSent := false
	for {
		since := time.Since(quiet)
		if since >= silence {
			return fmt.Errorf("silent: nothing heard for %v, not even this process's heartbeat", since.Round(time.Millisecond))
		}
		if !beatSent && since >= b.heartbeat {
			beatCtx, cancel := context.WithDeadline(ctx, quiet.Add(silence))
			_, err := conn.Exec(beatCtx, "SELECT pg_notify($1, $2)", Channel, beat)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("heartbeat: %w", err)
			}
			beatSent = true
		}
		wake := quiet.Add(b.heartbeat)
		if beatSent {
			wake = quiet.Add(silence)
		}
		waitCtx, cancel := context.WithDeadline(ctx, wake)
		n, err := conn.WaitForNotification(waitCtx)
		timedOut := waitCtx.Err() != nil
		cancel()
		switch {
		case err == nil:
			b.heard.Store(time.Now().UnixNano())
			b.deliver(n.Payload, sink)
			quiet, beatSent = time.Now(), false
		case ctx.Err() != nil:
			return ctx.Err()
		case timedOut && !conn.IsClosed():
			// Quiet: the loop sends a heartbeat, or finds the silence too long. A timeout
			// leaves a pgx connection usable.
		default:
			return err
		}
	}
}

func (b *Bus) deliver(payload string, sink chirp.EventSink) {
	n, err := decodeNotice(payload)
	switch {
	case err != nil:
		b.malformed.Add(1)
		b.log.Debug("event bus: notice ignored", "error", err)
		return
	case n.Kind == Heartbeat:
		return // heard, which is all it is for
	case n.Origin == b.origin:
		b.ignored.Add(1) // delivered by this process when it committed
		return
	}
	b.received.Add(1)
	switch n.Kind {
	case Created:
		sink.TweetCreated(chirp.Tweet{ID: n.ID})
	case Updated:
		sink.TweetUpdated(chirp.Tweet{ID: n.ID})
	case Deleted:
		sink.TweetDeleted(n.ID)
	case Relay:
		sink.NewTweetHint()
	}
}

// reconnect tries until it listens again (the connection) or ctx ends (nil).
func (b *Bus) reconnect(ctx context.Context) *pgx.Conn {
	wait := firstRetry
	for attempt := 1; ; attempt++ {
		// Up to a quarter more, so that processes cut by one restart do not return in step.
		pause := wait + time.Duration(mathrand.Int64N(int64(wait/4)+1))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pause):
		}
		conn, err := b.connect(ctx)
		if err == nil {
			return conn
		}
		b.log.Debug("event bus: reconnect failed", "attempt", attempt, "error", err)
		wait = min(2*wait, maxRetry)
	}
}

// setDown records the loss, logged once for the whole outage. The outage counts from the last
// notice heard: whatever was sent after it may never have arrived.
func (b *Bus) setDown(err error) {
	b.mu.Lock()
	b.downSince = time.Unix(0, b.heard.Load())
	b.mu.Unlock()
	b.log.Warn("event bus down: other processes' events are not heard until it reconnects", "error", err)
}

func (b *Bus) setUp() {
	b.mu.Lock()
	down := time.Since(b.downSince)
	b.downSince = time.Time{}
	b.mu.Unlock()
	b.log.Info("event bus back: clients are told to catch up", "down_for", down.Round(time.Millisecond))
}

// publishRelays publishes queued relays one at a time, until ctx ends.
func (b *Bus) publishRelays(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case conn := <-b.relayQ:
			payload := Notice{Kind: Relay, Origin: b.origin, Conn: conn}.encode()
			pubCtx, cancel := context.WithTimeout(ctx, statementTimeout)
			_, err := b.relays.ExecContext(pubCtx, "SELECT pg_notify($1, $2)", Channel, payload)
			cancel()
			if err != nil {
				b.relaysDropped.Add(1)
				b.log.Debug("event bus: relay not published", "error", err)
				continue
			}
			b.published.Add(1)
		}
	}
}
