package eventbus_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/eventbus"
	"github.com/chirp-social/chirp/backend/gormstore"
	"github.com/chirp-social/chirp/backend/internal/pgcluster"
	"github.com/chirp-social/chirp/backend/internal/testdb"
	"github.com/chirp-social/chirp/backend/internal/testlog"
)

// sink records what a bus delivers, one line an event.
type sink struct {
	mu     sync.Mutex
	events []string
	added  chan struct{}
}

func newSink() *sink { return &sink{added: make(chan struct{}, 1000)} }

func (s *sink) add(e string) {
	s.mu.Lock()
	s.events = append(s.events, e)
	s.mu.Unlock()
	s.added <- struct{}{}
}

func (s *sink) TweetCreated(t chirp.Tweet) { s.add(fmt.Sprint("created ", t.ID)) }
func (s *sink) TweetUpdated(t chirp.Tweet) { s.add(fmt.Sprint("updated ", t.ID)) }
func (s *sink) TweetDeleted(id int64)      { s.add(fmt.Sprint("deleted ", id)) }
func (s *sink) NewTweetHint()              { s.add("hint") }
func (s *sink) Resync()                    { s.add("resync") }

func (s *sink) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.events...)
}

// waitFor waits until the sink has n events and returns them.
func (s *sink) waitFor(t *testing.T, n int, within time.Duration) []string {
	t.Helper()
	deadline := time.After(within)
	for len(s.got()) < n {
		select {
		case <-s.added:
		case <-deadline:
			t.Fatalf("after %v: %d events %q, want %d", within, len(s.got()), s.got(), n)
		}
	}
	return s.got()
}

// quiet checks that nothing more arrives for a while.
func (s *sink) quiet(t *testing.T, want []string) {
	t.Helper()
	time.Sleep(300 * time.Millisecond)
	if got := s.got(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("events %q, want exactly %q", got, want)
	}
}

// process is what one chirp process has of the bus: its store, announcing through its bus, and
// the sink its bus delivers to.
type process struct {
	bus   *eventbus.Bus
	store *gormstore.Store
	sink  *sink
}

func startProcess(t *testing.T, url string, log *slog.Logger) *process {
	t.Helper()
	return startProcessBeating(t, url, log, 0)
}

// startProcessBeating is startProcess with the given heartbeat. The tests that are not about
// silence keep the default (silent after 3 s), so that a loaded machine never takes a slow
// heartbeat for a lost bus and sends a resync they do not expect.
func startProcessBeating(t *testing.T, url string, log *slog.Logger, heartbeat time.Duration) *process {
	t.Helper()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	bus, err := eventbus.New(eventbus.Config{DatabaseURL: url, Logger: log, Heartbeat: heartbeat})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := gormstore.Open(ctx, url, gormstore.WithNotifier(bus))
	if err != nil {
		t.Fatal(err)
	}
	p := &process{bus: bus, store: store, sink: newSink()}
	if err := bus.Start(ctx, p.sink, store.Pool()); err != nil {
		store.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { bus.Close(); store.Close() })
	return p
}

func (p *process) create(t *testing.T, content string) chirp.Tweet {
	t.Helper()
	d, err := chirp.NewDraft("bus", content)
	if err != nil {
		t.Fatal(err)
	}
	tw, err := p.store.CreateTweet(context.Background(), d, chirp.HashEditToken("token"))
	if err != nil {
		t.Fatal(err)
	}
	return tw
}

// Each process hears every other process's writes and relays, once each, and never its own.
func TestProcessesHearEachOther(t *testing.T) {
	url := testdb.PostgresURL(t)
	a, b := startProcess(t, url, nil), startProcess(t, url, nil)
	if a.bus.Origin() == b.bus.Origin() {
		t.Fatalf("two processes share the origin %q", a.bus.Origin())
	}
	for _, p := range []*process{a, b} {
		if err := p.bus.Ready(); err != nil {
			t.Fatalf("a started bus is not ready: %v", err)
		}
	}
	ctx := context.Background()
	tw := a.create(t, "from a")
	if _, err := b.store.UpdateTweet(ctx, tw.ID, chirp.Edit{Content: "edited by b"}); err != nil {
		t.Fatal(err)
	}
	if err := a.store.DeleteTweet(ctx, tw.ID); err != nil {
		t.Fatal(err)
	}
	b.bus.Relayed("conn-of-b")

	wantB := []string{fmt.Sprint("created ", tw.ID), fmt.Sprint("deleted ", tw.ID)}
	b.sink.waitFor(t, 2, 5*time.Second)
	b.sink.quiet(t, wantB)
	wantA := []string{fmt.Sprint("updated ", tw.ID), "hint"}
	a.sink.waitFor(t, 2, 5*time.Second)
	a.sink.quiet(t, wantA)

	sa, sb := a.bus.Stats(), b.bus.Stats()
	if sa.Received != 2 || sa.Ignored != 2 || sb.Received != 2 || sb.Ignored != 2 || !sa.Up || !sb.Up {
		t.Fatalf("stats: a %+v, b %+v", sa, sb)
	}
}

// A notice no Chirp process sends is counted and dropped; the bus goes on.
func TestMalformedNoticesAreIgnored(t *testing.T) {
	url := testdb.PostgresURL(t)
	p := startProcess(t, url, nil)
	db := testdb.Open(t, url)
	for _, payload := range []string{
		"", "not json", `{"k":"created","o":"x"}`, `{"k":"created","id":-1,"o":"x"}`,
		`{"k":"exploded","id":1,"o":"x"}`, `{"k":"relay"}`, `[1,2,3]`,
	} {
		if _, err := db.Exec("SELECT pg_notify($1, $2)", eventbus.Channel, payload); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec("SELECT pg_notify($1, $2)", eventbus.Channel, `{"k":"updated","id":7,"o":"another process"}`); err != nil {
		t.Fatal(err)
	}
	p.sink.waitFor(t, 1, 5*time.Second)
	p.sink.quiet(t, []string{"updated 7"})
	if s := p.bus.Stats(); s.Malformed != 7 || s.Received != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// Cut the listener's connection as a database restart or an operator would: it is back within
// seconds without a restart, tells its clients once to catch up, says so once at warn and once
// at info, and hears writes again.
func TestListenerHeals(t *testing.T) {
	url := testdb.PostgresURL(t)
	var logs testlog.Buffer
	a := startProcess(t, url, slog.New(slog.NewJSONHandler(&logs, nil)))
	b := startProcess(t, url, nil)

	db := testdb.Open(t, url)
	var killed int
	err := db.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1 AND datname = current_database()`, a.bus.ApplicationName()).Scan(&killed)
	if err != nil || killed != 1 {
		t.Fatalf("terminating the listener %q: %d killed, %v", a.bus.ApplicationName(), killed, err)
	}
	got := a.sink.waitFor(t, 1, 5*time.Second)
	if got[0] != "resync" {
		t.Fatalf("after the heal the sink was told %q, want one resync", got)
	}
	if err := a.bus.Ready(); err != nil {
		t.Fatalf("healed but not ready: %v", err)
	}
	tw := b.create(t, "after the heal")
	a.sink.waitFor(t, 2, 5*time.Second)
	a.sink.quiet(t, []string{"resync", fmt.Sprint("created ", tw.ID)})

	var warns, infos int
	for _, r := range logs.Records(t) {
		msg, _ := r["msg"].(string)
		switch {
		case strings.HasPrefix(msg, "event bus down"):
			warns++
			if r["level"] != "WARN" {
				t.Fatalf("the loss logged at %v", r["level"])
			}
		case strings.HasPrefix(msg, "event bus back"):
			infos++
			if r["level"] != "INFO" {
				t.Fatalf("the heal logged at %v", r["level"])
			}
		}
	}
	if warns != 1 || infos != 1 {
		t.Fatalf("%d warnings and %d infos about the bus, want one each:\n%s", warns, infos, logs.String())
	}
}

// While the listener cannot reconnect, the process is not ready; it keeps trying, and heals
// when the database lets it back.
func TestNotReadyWhileDown(t *testing.T) {
	url := testdb.PostgresURL(t)
	a := startProcess(t, url, nil)
	// A connection to the server's maintenance database, held: a database cannot refuse
	// connections to itself from within, and while it refuses, the test keeps this one.
	db, err := testdb.Open(t, os.Getenv("TEST_DATABASE_URL")).Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	// The database refuses connections for now: the listener's reconnects fail until it
	// allows them again.
	var dbname string
	if err := testdb.Open(t, url).QueryRow("SELECT current_database()").Scan(&dbname); err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) error {
		_, err := db.ExecContext(context.Background(), q, args...)
		return err
	}
	if err := exec(fmt.Sprintf("ALTER DATABASE %q ALLOW_CONNECTIONS false", dbname)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec(fmt.Sprintf("ALTER DATABASE %q ALLOW_CONNECTIONS true", dbname)) })
	if err := exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = $2", a.bus.ApplicationName(), dbname); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for a.bus.Ready() == nil {
		if time.Now().After(deadline) {
			t.Fatal("still ready 5 s after its listener was cut and could not reconnect")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Second) // several failed attempts
	if err := a.bus.Ready(); err == nil || !strings.Contains(err.Error(), "down") {
		t.Fatalf("ready while it cannot reconnect: %v", err)
	}
	if err := exec(fmt.Sprintf("ALTER DATABASE %q ALLOW_CONNECTIONS true", dbname)); err != nil {
		t.Fatal(err)
	}
	a.sink.waitFor(t, 1, 5*time.Second)
	if err := a.bus.Ready(); err != nil {
		t.Fatalf("healed but not ready: %v", err)
	}
}

// blockingPool holds every relay's publication until released, or fails it.
type blockingPool struct {
	release chan struct{}
	fail    bool
	mu      sync.Mutex
	n       int
}

func (p *blockingPool) ExecContext(ctx context.Context, _ string, _ ...any) (sql.Result, error) {
	select {
	case <-p.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	if p.fail {
		return nil, errors.New("the database is away")
	}
	return nil, nil
}

// A burst of relays while the database is slow never blocks the caller (a socket's event
// handler): the queue takes 256, the rest are dropped and counted; and relays whose
// publication fails are counted as dropped too.
func TestRelayBurstIsBoundedAndCounted(t *testing.T) {
	url := testdb.PostgresURL(t)
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprint("failing=", fail), func(t *testing.T) {
			bus, err := eventbus.New(eventbus.Config{DatabaseURL: url})
			if err != nil {
				t.Fatal(err)
			}
			pool := &blockingPool{release: make(chan struct{}), fail: fail}
			if err := bus.Start(context.Background(), newSink(), pool); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(bus.Close)
			began := time.Now()
			const burst = 1000
			for i := range burst {
				bus.Relayed(fmt.Sprint("conn-", i))
			}
			if took := time.Since(began); took > time.Second {
				t.Fatalf("%d relays took %v: Relayed blocked", burst, took)
			}
			// One taken by the publisher (perhaps), 256 queued: the rest dropped.
			if d := bus.Stats().RelaysDropped; d < burst-257 || d > burst-256 {
				t.Fatalf("%d relays dropped of %d, want %d or %d", d, burst, burst-257, burst-256)
			}
			close(pool.release)
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				s := bus.Stats()
				if s.Published+s.RelaysDropped == burst {
					if fail && s.Published != 0 || !fail && s.RelaysDropped > burst-256 {
						t.Fatalf("stats %+v", s)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("not every relay accounted for: %+v", bus.Stats())
				}
			}
		})
	}
}

// A quiet bus is not a silent one: with nothing written for many heartbeats, each listener
// hears the heartbeats and stays up, and tells its sink nothing.
func TestQuietBusStaysUp(t *testing.T) {
	url := testdb.PostgresURL(t)
	var logs testlog.Buffer
	a := startProcess(t, url, slog.New(slog.NewJSONHandler(&logs, nil)))
	b := startProcess(t, url, nil)
	// Past the 3 s after which a listener that heard nothing, its heartbeats included, is down.
	for end := time.Now().Add(4 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		for _, p := range []*process{a, b} {
			if err := p.bus.Ready(); err != nil {
				t.Fatalf("a quiet bus went down: %v\n%s", err, logs.String())
			}
		}
	}
	a.sink.quiet(t, nil)
	b.sink.quiet(t, nil)
	if s := a.bus.Stats(); s.Received != 0 || s.Ignored != 0 || s.Malformed != 0 || s.Published != 0 {
		t.Fatalf("heartbeats counted as notices: %+v", s)
	}
}

// A listener whose backend stops answering without closing the connection is down within a
// few heartbeats, not ready meanwhile, and once the database answers again it heals and tells
// its sink to resync; the outage is counted from the last notice it heard.
func TestSilentListenerGoesDown(t *testing.T) {
	cluster := pgcluster.Start(t)
	url := cluster.URL()
	var logs testlog.Buffer
	a := startProcessBeating(t, url, slog.New(slog.NewJSONHandler(&logs, nil)), 250*time.Millisecond)
	var pid int
	if err := testdb.Open(t, url).QueryRow("SELECT pid FROM pg_stat_activity WHERE application_name = $1", a.bus.ApplicationName()).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	cluster.FreezeSessions(t, pid)
	frozen := time.Now()
	t.Cleanup(func() { cluster.Thaw(t) })
	// 3 heartbeats of 250 ms, and room for a loaded machine.
	for a.bus.Ready() == nil {
		if time.Since(frozen) > 5*time.Second {
			t.Fatal("still ready 5 s after its listener's backend froze")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("down %v after the freeze", time.Since(frozen).Round(time.Millisecond))
	time.Sleep(500 * time.Millisecond)
	if err := a.bus.Ready(); err == nil || !strings.Contains(err.Error(), "down for") {
		t.Fatalf("ready while its database is frozen: %v", err)
	}
	a.sink.quiet(t, nil)
	cluster.Thaw(t)
	thawed := time.Since(frozen)
	if got := a.sink.waitFor(t, 1, 15*time.Second); got[0] != "resync" {
		t.Fatalf("after the heal the sink was told %q, want resync", got)
	}
	if err := a.bus.Ready(); err != nil {
		t.Fatalf("healed but not ready: %v", err)
	}
	for _, r := range logs.Records(t) {
		if msg, _ := r["msg"].(string); strings.HasPrefix(msg, "event bus back") {
			ns, _ := r["down_for"].(float64) // the JSON handler writes a duration in nanoseconds
			if down := time.Duration(ns); down < thawed {
				t.Fatalf("down_for=%v, want at least %v (from the last notice heard)", r["down_for"], thawed)
			}
			return
		}
	}
	t.Fatalf("no event bus back record:\n%s", logs.String())
}
