package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/chirp-social/chirp/backend/internal/sockettest"
	"github.com/chirp-social/chirp/backend/internal/testdb"
	"github.com/chirp-social/chirp/backend/internal/testkit"
)

// scrape is one reading of /metrics: each sample by its name and labels as written
// (`chirp_http_requests_total{method="GET",route="/healthz",status="200"}`).
type scrape map[string]float64

func scrapeMetrics(t *testing.T, addr string) scrape {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("/metrics: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	s := scrape{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		s[line[:i]] = v
	}
	return s
}

// labelValues lists the values one label takes in a metric's samples.
func (s scrape) labelValues(metric, label string) map[string]bool {
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(metric) + `\{.*\b` + label + `="([^"]*)"`)
	out := map[string]bool{}
	for k := range s {
		if m := re.FindStringSubmatch(k); m != nil {
			out[m[1]] = true
		}
	}
	return out
}

// waitMetric waits until sample reaches want in the program's metrics: some counters move just
// after the client has seen what they count.
func waitMetric(t *testing.T, addr, sample string, want float64) scrape {
	t.Helper()
	var s scrape
	reached := false
	defer func() {
		if !reached {
			t.Logf("%s is %v, want %v", sample, s[sample], want)
		}
	}()
	testkit.Eventually(t, fmt.Sprintf("%s reaches %v", sample, want), func() bool {
		s = scrapeMetrics(t, addr)
		return s[sample] == want
	})
	reached = true
	return s
}

// A scripted session through the whole program moves each counter by exactly what happened.
func TestMetricsCountASession(t *testing.T) {
	p := start(t, map[string]string{
		"DATABASE_URL":                 testdb.SQLiteURL(t),
		"METRICS_ADDR":                 "127.0.0.1:0",
		"SOCKET_MAX_PER_IP":            "1",
		"RATE_LIMIT_WRITES_PER_MINUTE": "1",
		"RATE_LIMIT_BURST":             "3",
	})
	m := regexp.MustCompile(`msg="metrics listening" addr=(127\.0\.0\.1:\d+)`).FindStringSubmatch(p.logs.String())
	if m == nil {
		t.Fatalf("no metrics listener in the logs:\n%s", p.logs)
	}
	addr := m[1]
	resp, err := http.Get(p.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/metrics on the public port: %d", resp.StatusCode)
	}
	before := scrapeMetrics(t, addr)
	for _, name := range []string{`go_goroutines`, `process_resident_memory_bytes`, `go_sql_max_open_connections{db_name="chirp"}`,
		`chirp_socket_connections{transport="websocket"}`, `chirp_socket_sessions`, `chirp_socket_full`} {
		if _, ok := before[name]; !ok {
			t.Fatalf("no %s in /metrics", name)
		}
	}

	// A socket client, and a second handshake from its address that the limit refuses.
	client := sockettest.From(p.base, "127.0.0.2")
	ws := client.WebsocketSession(t)
	waitMetric(t, addr, `chirp_socket_connections{transport="websocket"}`, 1)
	status, _, body := client.Handshake(t)
	sockettest.Refused(t, "2nd handshake", status, body, http.StatusTooManyRequests, "rate_limited")

	// Three posts, each seen by the socket before the next (so none coalesce), and a fourth
	// past the write budget.
	for i := range 3 {
		if resp := post(t, p.base, fmt.Sprint("counted ", i)); resp.StatusCode != http.StatusCreated {
			t.Fatalf("post %d: %d", i, resp.StatusCode)
		}
		sockettest.AwaitNewTweet(t, ws)
	}
	if resp := post(t, p.base, "over the budget"); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("4th post: %d", resp.StatusCode)
	}
	// The client relays twice within a second: one passes, one is throttled.
	for range 2 {
		ws.WriteMessage(websocket.TextMessage, []byte(`42["newTweet",true]`))
	}
	waitMetric(t, addr, `chirp_socket_relays_total{result="throttled"}`, 1)
	// Unknown paths: counted under one label value, never their own.
	for _, path := range []string{"/nowhere", "/api/nope/1", "/wp-login.php?x=1"} {
		resp, err := http.Get(p.base + path)
		if err != nil || resp.StatusCode != http.StatusNotFound {
			t.Fatalf("%s: %v %v", path, err, resp)
		}
		resp.Body.Close()
	}
	ws.Close()
	after := waitMetric(t, addr, `chirp_socket_disconnects_total{reason="closed"}`, 1)

	moved := func(sample string) float64 { return after[sample] - before[sample] }
	for sample, want := range map[string]float64{
		`chirp_http_requests_total{method="POST",route="/api/tweets",status="201"}`:    3,
		`chirp_http_requests_total{method="POST",route="/api/tweets",status="429"}`:    1,
		`chirp_http_requests_total{method="GET",route="unmatched",status="404"}`:       3,
		`chirp_http_request_duration_seconds_count{method="POST",route="/api/tweets"}`: 4,
		`chirp_socket_connects_total`:                                    1,
		`chirp_socket_disconnects_total{reason="closed"}`:                1,
		`chirp_socket_refused_total{reason="max_per_ip"}`:                1,
		`chirp_socket_events_sent_total{event="newTweet"}`:               3,
		`chirp_socket_relays_total{result="passed"}`:                     1,
		`chirp_socket_relays_total{result="throttled"}`:                  1,
		`chirp_limit_refusals_total{limit="writes"}`:                     1,
		`chirp_limit_refusals_total{limit="SOCKET_MAX_PER_IP"}`:          1,
		`chirp_create_batch_size_count`:                                  3,
		`chirp_create_batch_size_sum`:                                    3,
		`chirp_create_batch_duration_seconds_count{outcome="committed"}`: 3,
	} {
		if got := moved(sample); got != want {
			t.Errorf("%s moved by %v, want %v", sample, got, want)
		}
	}
	if n := moved(`chirp_http_requests_total{method="GET",route="/socket.io/*any",status="101"}`); n != 1 {
		t.Errorf("%v websocket upgrades counted as 101, want 1", n)
	}
	if n := after[`chirp_socket_connections{transport="websocket"}`]; n != 0 {
		t.Errorf("%v websocket connections after the close", n)
	}
	// Socket long-polls and upgrades are counted, not timed.
	for k := range after {
		if strings.HasPrefix(k, "chirp_http_request_duration_seconds") && strings.Contains(k, "socket.io") {
			t.Errorf("socket.io requests timed: %s", k)
		}
	}
	routes := after.labelValues("chirp_http_requests_total", "route")
	for route := range routes {
		switch route {
		case "/healthz", "/readyz", "/api/tweets", "/api/tweets/:id", "/api/openapi.json", "/socket.io/*any", "unmatched":
		default:
			t.Errorf("route label %q: only templates and unmatched may appear", route)
		}
	}
	if !routes["unmatched"] {
		t.Errorf("no unmatched route label among %v", routes)
	}
}

// With METRICS_ADDR empty (the default) no metrics listener starts.
func TestMetricsOffByDefault(t *testing.T) {
	p := start(t, map[string]string{"DATABASE_URL": testdb.SQLiteURL(t)})
	if strings.Contains(p.logs.String(), "metrics listening") {
		t.Fatalf("a metrics listener without METRICS_ADDR:\n%s", p.logs)
	}
}
