package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend/internal/pgcluster"
	"github.com/chirp-social/chirp/backend/internal/testdb"
	"github.com/chirp-social/chirp/backend/internal/testkit"
)

// A process whose event bus cannot listen is not ready, through the whole program: /readyz
// answers 503 naming the bus while the database refuses the listener's reconnects, and 200
// once it is back, with no restart.
func TestReadyzFollowsTheEventBus(t *testing.T) {
	url := testdb.PostgresURL(t)
	p := start(t, map[string]string{"DATABASE_URL": url})
	if got := status(t, p.base+"/readyz"); got != 200 {
		t.Fatalf("/readyz %d at start", got)
	}
	m := regexp.MustCompile(`msg="event bus listening".*application_name="([^"]+)"`).FindStringSubmatch(p.logs.String())
	if m == nil {
		t.Fatalf("no event bus listening record:\n%s", p.logs)
	}
	var dbname string
	if err := testdb.Open(t, url).QueryRow("SELECT current_database()").Scan(&dbname); err != nil {
		t.Fatal(err)
	}
	// From the maintenance database: a database cannot refuse connections to itself.
	admin, err := testdb.Open(t, os.Getenv("TEST_DATABASE_URL")).Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := admin.ExecContext(context.Background(), q, args...); err != nil {
			t.Fatal(err)
		}
	}
	allow := fmt.Sprintf("ALTER DATABASE %q ALLOW_CONNECTIONS true", dbname)
	t.Cleanup(func() { admin.ExecContext(context.Background(), allow) })
	exec(fmt.Sprintf("ALTER DATABASE %q ALLOW_CONNECTIONS false", dbname))
	exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = $2", m[1], dbname)

	var body struct {
		Error struct{ Code, Message string }
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if got := getJSON(t, p.base+"/readyz", &body); got == 503 && regexp.MustCompile(`event bus down`).MatchString(body.Error.Message) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz does not report the bus down 5 s after its listener was cut: %+v", body)
		}
	}
	exec(allow)
	testkit.Eventually(t, "/readyz 200 after the database let the listener back", func() bool {
		return status(t, p.base+"/readyz") == 200
	})
}

// A listener whose backend stops answering without a word (SIGSTOP: the connection stays open,
// nothing comes) is noticed within seconds: the process is not ready, its reads are the
// database's (the hot window stands aside) rather than what it held before, and once the
// database answers again it heals, counting its outage from the last notice it heard. Before,
// such a process served a stale newest page with /readyz 200 for about 35 s.
func TestSilentListenerIsNoticed(t *testing.T) {
	cluster := pgcluster.Start(t)
	env := func() map[string]string { return map[string]string{"DATABASE_URL": cluster.URL()} }
	a, b := start(t, env()), start(t, env())
	sock := dialSocket(t, b.base)
	edited := postJSON(t, a.base, "to be edited")
	deleted := postJSON(t, a.base, "to be deleted")
	newestPage := func(p *program) string {
		t.Helper()
		var page []map[string]any
		if got := getJSON(t, p.base+"/api/tweets?limit=100", &page); got != 200 {
			t.Fatalf("GET /api/tweets: %d", got)
		}
		out, _ := json.Marshal(page)
		return string(out)
	}
	for deadline := time.Now().Add(10 * time.Second); newestPage(b) != newestPage(a); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("B does not show A's tweets 10 s after they were posted:\nA %s\nB %s", newestPage(a), newestPage(b))
		}
	}

	m := regexp.MustCompile(`msg="event bus listening".*application_name="([^"]+)"`).FindStringSubmatch(b.logs.String())
	if m == nil {
		t.Fatalf("no event bus listening record:\n%s", b.logs)
	}
	var listener int
	if err := testdb.Open(t, cluster.URL()).QueryRow("SELECT pid FROM pg_stat_activity WHERE application_name = $1", m[1]).Scan(&listener); err != nil {
		t.Fatalf("B's listener %q: %v", m[1], err)
	}
	// The postmaster too, so that B cannot simply reconnect: it stays deaf until the thaw.
	// Every session already open (the processes' pools) goes on working.
	cluster.FreezeSessions(t, listener)
	frozen := time.Now()
	t.Cleanup(func() { cluster.Thaw(t) })

	postJSON(t, a.base, "posted while B is deaf")
	patch(t, a.base, edited, "edited while B is deaf")
	deleteTweet(t, a.base, deleted)
	want := newestPage(a)
	// The bound is a few heartbeats (EVENT_BUS_HEARTBEAT, 1 s, silent after 3) with room for
	// a loaded machine.
	const within = 15 * time.Second
	for got := newestPage(b); got != want; got = newestPage(b) {
		if time.Since(frozen) > within {
			t.Fatalf("B still serves what it held %v after its listener froze:\nwant %s\ngot  %s", within, want, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("B's newest page is the database's %v after its listener froze", time.Since(frozen).Round(time.Millisecond))
	var body struct{ Error struct{ Message string } }
	if got := getJSON(t, b.base+"/readyz", &body); got != 503 || !strings.Contains(body.Error.Message, "event bus") {
		t.Fatalf("/readyz %d %q while B's listener is frozen, want 503 naming the event bus", got, body.Error.Message)
	}
	time.Sleep(time.Second) // still frozen: still not ready, still the database's answers
	if got := status(t, b.base+"/readyz"); got != 503 {
		t.Fatalf("/readyz %d while B's listener is still frozen", got)
	}
	if got := newestPage(b); got != want {
		t.Fatalf("B's newest page while still deaf:\nwant %s\ngot  %s", want, got)
	}
	if len(sock.resyncs) != 0 {
		t.Fatal("B's client was told to resync while B was still deaf")
	}

	cluster.Thaw(t)
	thawed := time.Since(frozen)
	for deadline := time.Now().Add(20 * time.Second); status(t, b.base+"/readyz") != 200; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz not 200 20 s after the thaw\n%s", b.logs)
		}
	}
	back := regexp.MustCompile(`msg="event bus back[^"]*" down_for=(\S+)`).FindStringSubmatch(b.logs.String())
	if back == nil {
		t.Fatalf("no event bus back record:\n%s", b.logs)
	}
	down, err := time.ParseDuration(back[1])
	if err != nil || down < thawed {
		t.Fatalf("down_for=%s, want at least the %v from the freeze (the last notice heard) to the thaw", back[1], thawed)
	}
	select { // what B's clients missed is theirs to read again
	case <-sock.resyncs:
	case <-time.After(10 * time.Second):
		t.Fatal("B's client was not told to resync after the heal")
	}
	postJSON(t, a.base, "after the heal")
	want = newestPage(a)
	for deadline := time.Now().Add(10 * time.Second); newestPage(b) != want; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("B does not hear A again 10 s after the heal:\nwant %s\ngot  %s", want, newestPage(b))
		}
	}
}

// tweetRef is what a test needs to edit or delete a tweet it posted.
type tweetRef struct {
	ID        int64  `json:"id"`
	EditToken string `json:"edit_token"`
}

func postJSON(t *testing.T, base, content string) tweetRef {
	t.Helper()
	var tw tweetRef
	if got := send(t, "POST", base+"/api/tweets", "", `{"author":"bus","content":"`+content+`"}`, &tw); got != 201 {
		t.Fatalf("POST: %d", got)
	}
	return tw
}

func patch(t *testing.T, base string, tw tweetRef, content string) {
	t.Helper()
	if got := send(t, "PATCH", fmt.Sprintf("%s/api/tweets/%d", base, tw.ID), tw.EditToken, `{"content":"`+content+`"}`, nil); got != 200 {
		t.Fatalf("PATCH: %d", got)
	}
}

func deleteTweet(t *testing.T, base string, tw tweetRef) {
	t.Helper()
	if got := send(t, "DELETE", fmt.Sprintf("%s/api/tweets/%d", base, tw.ID), tw.EditToken, "", nil); got != 204 {
		t.Fatalf("DELETE: %d", got)
	}
}

func send(t *testing.T, method, url, token, body string, v any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
	}
	return resp.StatusCode
}
