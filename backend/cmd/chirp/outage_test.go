package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chirp-social/chirp/backend/internal/pgcluster"
	"github.com/chirp-social/chirp/backend/internal/testkit"
)

// Slack allowed over the documented bounds, for a loaded 2-core machine under the race detector.
const slack = time.Second

// TestDatabaseDownAndBack runs Chirp on a PostgreSQL server of the test's own and, under a
// steady load of creates and lists, stops it, starts it again, freezes every one of its
// processes (SIGSTOP) and thaws them. While the database is away every request gets a JSON 503
// within REQUEST_TIMEOUT (a create: within its deadline + 1 s, the batch rule's worst case),
// /readyz is 503 and /healthz 200, and a socket stays connected; afterwards everything works
// again on the same kept-alive connections, without restarting Chirp, and every tweet
// acknowledged with 201 is stored.
func TestDatabaseDownAndBack(t *testing.T) {
	cluster := pgcluster.Start(t)
	const requestTimeout = time.Second
	p := start(t, map[string]string{"DATABASE_URL": cluster.URL(), "REQUEST_TIMEOUT": requestTimeout.String()})
	sock := dialSocket(t, p.base)
	reads, writes := dial(t, p.base), dial(t, p.base)
	l := startLoad(t, p.base, 3, loadBounds{list: requestTimeout + slack, create: requestTimeout + time.Second + slack})

	works := func(phase string) {
		t.Helper()
		sock.drain()
		if resp, body := writes.request("POST", "/api/tweets", `{"author":"probe","content":"`+phase+`"}`, 5*time.Second); resp.StatusCode != 201 {
			t.Fatalf("%s: create on the kept-alive connection: %d %s", phase, resp.StatusCode, body)
		}
		l.acknowledge(phase)
		if resp, body := reads.request("GET", "/api/tweets", "", 5*time.Second); resp.StatusCode != 200 || !strings.Contains(body, `"content":"`+phase+`"`) {
			t.Fatalf("%s: list on the kept-alive connection: %d %s", phase, resp.StatusCode, body)
		}
		if got := status(t, p.base+"/readyz"); got != 200 {
			t.Fatalf("%s: /readyz %d", phase, got)
		}
		sock.expectNewTweet(t, phase)
	}
	// recovers waits (boundedly) for the first success after the database is back: requests
	// already on their way when it came back may still fail, and the pool replaces the
	// connections the server ended.
	recovers := func(phase string) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); status(t, p.base+"/readyz") != 200; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: /readyz is not 200 20 s after the database came back\n%s", phase, cluster.Log())
			}
		}
		works(phase)
	}
	unavailable := func(phase string) {
		t.Helper()
		for range 3 {
			for _, c := range []struct {
				conn               *rawConn
				method, path, body string
				bound              time.Duration
			}{
				// A read the database must answer: the newest page may come from the hot
				// window, which holds what was committed before the outage.
				{reads, "GET", "/api/tweets/1", "", requestTimeout + slack},
				{writes, "POST", "/api/tweets", `{"author":"probe","content":"refused"}`, requestTimeout + time.Second + slack},
			} {
				began := time.Now()
				resp, body := c.conn.request(c.method, c.path, c.body, 10*time.Second)
				if took := time.Since(began); took > c.bound {
					t.Errorf("%s: %s answered after %v, over %v", phase, c.method, took, c.bound)
				}
				if resp.StatusCode != 503 || !isJSONError(resp, body, "unavailable") {
					t.Fatalf("%s: %s on the kept-alive connection: %d %s", phase, c.method, resp.StatusCode, body)
				}
			}
		}
		if got := status(t, p.base+"/readyz"); got != 503 {
			t.Fatalf("%s: /readyz %d, want 503", phase, got)
		}
		var health struct{ Connections int }
		if got := getJSON(t, p.base+"/healthz", &health); got != 200 || health.Connections < 1 {
			t.Fatalf("%s: /healthz %d with %d connections, want 200 and the socket", phase, got, health.Connections)
		}
	}

	time.Sleep(300 * time.Millisecond)
	works("before")

	cluster.Stop(t)
	unavailable("stopped")
	cluster.Restart(t)
	recovers("restarted")

	cluster.Freeze(t)
	unavailable("frozen")
	cluster.Thaw(t)
	recovers("thawed")

	time.Sleep(300 * time.Millisecond)
	acked := l.stop()
	if l.count(503) == 0 {
		t.Error("the load never met the outage (no 503 at all)")
	}
	t.Logf("load: %d created, %d lists, answers %v", len(acked), l.lists.Load(), l.statusCounts())
	missingTweets(t, p.base, acked)
	sock.expectOpen(t)
}

// rawConn.request sends one request with an optional JSON body on the kept-alive connection and
// reads its answer.
func (c *rawConn) request(method, target, body string, wait time.Duration) (*http.Response, string) {
	c.t.Helper()
	headers := []string{}
	if body != "" || method == "POST" {
		headers = append(headers, "Content-Type: application/json", "Content-Length: "+strconv.Itoa(len(body)))
	}
	c.send(method, target, headers...)
	if _, err := io.WriteString(c.conn, body); err != nil {
		c.t.Fatal(err)
	}
	return c.response(wait)
}

func isJSONError(resp *http.Response, body, code string) bool {
	var e struct{ Error struct{ Code string } }
	return strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") &&
		json.Unmarshal([]byte(body), &e) == nil && e.Error.Code == code
}

func status(t *testing.T, url string) int {
	t.Helper()
	return getJSON(t, url, nil)
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	client := http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
	}
	return resp.StatusCode
}

// loadBounds are the longest each kind of request may take to be answered.
type loadBounds struct{ list, create time.Duration }

// load is a steady stream of creates and lists from several clients, each on its own
// kept-alive connections, that remembers every tweet acknowledged with 201.
type load struct {
	t      *testing.T
	done   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	acked  []string
	status map[int]int
	lists  atomic.Int64
	// ending is set just before the server is stopped or killed: from then on a request may
	// fail without an answer (a client retries those elsewhere), but never be answered wrongly.
	ending atomic.Bool
}

// startLoad starts clients that each create a tweet and list the newest page, in a loop, until
// stop. Every answer must be a 201 (or 200), or a JSON 503, within bounds.
func startLoad(t *testing.T, base string, clients int, bounds loadBounds) *load {
	l := &load{t: t, done: make(chan struct{}), status: map[int]int{}}
	for w := range clients {
		l.wg.Go(func() {
			client := &http.Client{Timeout: 30 * time.Second}
			for n := 0; ; n++ {
				select {
				case <-l.done:
					return
				default:
				}
				content := fmt.Sprintf("load %d-%d", w, n)
				l.do(client, "POST", base+"/api/tweets", `{"author":"load","content":"`+content+`"}`, bounds.create, content)
				l.do(client, "GET", base+"/api/tweets", "", bounds.list, "")
			}
		})
	}
	t.Cleanup(func() { l.stop() })
	return l
}

func (l *load) do(client *http.Client, method, url, body string, bound time.Duration, content string) {
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	began := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		// A connection refused or cut is a client's problem to retry, but while the server
		// is meant to be up it must never happen.
		if !l.ending.Load() {
			l.t.Errorf("%s: %v", method, err)
		}
		time.Sleep(50 * time.Millisecond)
		return
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(began)
	l.mu.Lock()
	l.status[resp.StatusCode]++
	l.mu.Unlock()
	switch {
	case resp.StatusCode == 201 && method == "POST":
		l.acknowledge(content)
	case resp.StatusCode == 200 && method == "GET":
		l.lists.Add(1)
	case resp.StatusCode == 503 && isJSONError(resp, string(b), "unavailable"):
	default:
		l.t.Errorf("%s: %d %s", method, resp.StatusCode, b)
	}
	if took > bound {
		l.t.Errorf("%s answered %d after %v, over %v", method, resp.StatusCode, took, bound)
	}
}

func (l *load) acknowledge(content string) {
	l.mu.Lock()
	l.acked = append(l.acked, content)
	l.mu.Unlock()
}

// stop ends the load and returns the content of every tweet acknowledged.
func (l *load) stop() []string {
	select {
	case <-l.done:
	default:
		close(l.done)
	}
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.acked...)
}

func (l *load) count(status int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.status[status]
}

func (l *load) statusCounts() map[int]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[int]int{}
	for k, v := range l.status {
		out[k] = v
	}
	return out
}

// missingTweets fails the test for every acknowledged content that the API does not list.
func missingTweets(t *testing.T, base string, acked []string) {
	t.Helper()
	stored := map[string]bool{}
	for maxID := ""; ; {
		var page []struct {
			ID      int64
			Content string
		}
		url := base + "/api/tweets?limit=100"
		if maxID != "" {
			url += "&max_id=" + maxID
		}
		if got := getJSON(t, url, &page); got != 200 {
			t.Fatalf("listing: %d", got)
		}
		for _, tw := range page {
			stored[tw.Content] = true
		}
		if len(page) < 100 {
			break
		}
		maxID = strconv.FormatInt(page[len(page)-1].ID, 10)
	}
	var missing []string
	for _, c := range acked {
		if !stored[c] {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%d of %d acknowledged tweets are not stored: %.20q", len(missing), len(acked), missing)
	}
}

// socketClient is a raw Engine.IO 3 websocket client, as socket.io-client 2.x speaks it, that
// counts the newTweet (and resync) events it receives and notices when its connection ends.
type socketClient struct {
	conn    *websocket.Conn
	events  chan struct{}
	resyncs chan struct{}
	closed  chan struct{}
	err     error
}

func dialSocket(t *testing.T, base string) *socketClient {
	t.Helper()
	wsURL := "ws" + strings.TrimPrefix(base, "http") + "/socket.io/?EIO=3&transport=websocket"
	conn, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	for _, want := range []string{"0", "40"} { // open, then the namespace's connect
		if _, msg, err := conn.ReadMessage(); err != nil || !strings.HasPrefix(string(msg), want) {
			t.Fatalf("socket handshake: %q %v", msg, err)
		}
	}
	s := &socketClient{conn: conn, events: make(chan struct{}, 1024), resyncs: make(chan struct{}, 16), closed: make(chan struct{})}
	go func() {
		defer close(s.closed)
		for {
			_, msg, err := conn.ReadMessage()
			if err != nil {
				s.err = err
				return
			}
			received := map[string]chan struct{}{`42["newTweet",true]`: s.events, `42["resync",true]`: s.resyncs}
			if ch := received[strings.TrimSpace(string(msg))]; ch != nil {
				select {
				case ch <- struct{}{}:
				default:
				}
			}
		}
	}()
	// The client sees "40" just before the server registers it.
	testkit.Eventually(t, "the socket is registered", func() bool {
		var health struct{ Connections int }
		return getJSON(t, base+"/healthz", &health) != 200 || health.Connections >= 1
	})
	return s
}

// expectNewTweet waits for a newTweet event (events coalesce, so one may stand for several).
func (s *socketClient) expectNewTweet(t *testing.T, phase string) {
	t.Helper()
	select {
	case <-s.events:
	case <-s.closed:
		t.Fatalf("%s: the socket was closed: %v", phase, s.err)
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no newTweet event in 10 s", phase)
	}
}

// drain forgets the events received so far.
func (s *socketClient) drain() {
	for {
		select {
		case <-s.events:
		default:
			return
		}
	}
}

func (s *socketClient) expectOpen(t *testing.T) {
	t.Helper()
	select {
	case <-s.closed:
		t.Fatalf("the socket was closed: %v", s.err)
	default:
	}
}
