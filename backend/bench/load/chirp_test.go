package main

// The tool against the real Chirp: the binary built from this checkout, on an SQLite file,
// with its limits off as the comparison scripts start it. Small runs, a few seconds in all.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// chirp is a started server.
type chirp struct {
	url string
	pid int
}

func startChirp(t *testing.T) chirp {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "chirp")
	build := exec.Command("go", "build", "-o", bin, "./cmd/chirp")
	build.Dir = filepath.Join("..", "..") // backend/
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building chirp: %v\n%s", err, out)
	}
	port := freePort(t)
	logPath := filepath.Join(dir, "chirp.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "HOST=127.0.0.1", "PORT="+strconv.Itoa(port),
		"DATABASE_URL=sqlite://"+filepath.Join(dir, "chirp.db"), "EVENT_BUS=local", "LOG_LEVEL=warn",
		"RATE_LIMIT_WRITES_PER_MINUTE=0", "SIGNIN_LIMIT_PER_MINUTE=0", "SIGNIN_ACCOUNT_LIMIT_PER_HOUR=0", "SOCKET_MAX_PER_IP=0", "SOCKET_MAX_TOTAL=0", "CONN_MAX_PER_IP=0", "CONN_MAX_TOTAL=0")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting chirp: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				t.Errorf("chirp (pid %d) outlived SIGKILL by 10 s", cmd.Process.Pid)
			}
		}
	})
	c := chirp{url: "http://127.0.0.1:" + strconv.Itoa(port), pid: cmd.Process.Pid}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(logPath)
			t.Fatalf("chirp exited before it answered /healthz: %v\n%s", err, log)
		default:
		}
		if healthy(c.url) {
			return c
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logPath)
			t.Fatalf("chirp did not answer /healthz within 30 s\n%s", log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func healthy(url string) bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(url + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

// socketsOpen is the number of socket.io connections Chirp's /healthz reports.
func socketsOpen(t *testing.T, url string) int {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(url + "/healthz")
	if err != nil {
		t.Errorf("GET /healthz: %v", err)
		return -1
	}
	defer resp.Body.Close()
	var h struct {
		Connections int `json:"connections"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Errorf("GET /healthz: %v", err)
		return -1
	}
	return h.Connections
}

// waitSockets waits up to 10 s until the socket.io connections Chirp counts satisfy ok.
func waitSockets(t *testing.T, url string, ok func(open int) bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for open := socketsOpen(t, url); !ok(open); open = socketsOpen(t, url) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s: %d connections open", what, open)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// outcome is one run of the tool: its exit status and the JSON of its last line.
type outcome struct {
	code   int
	json   map[string]any
	stderr string
}

func runTool(ctx context.Context, args string) outcome {
	var stdout, stderr bytes.Buffer
	code := run(ctx, strings.Fields(args), &stdout, &stderr)
	o := outcome{code: code, stderr: stderr.String()}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	_ = json.Unmarshal([]byte(lines[len(lines)-1]), &o.json)
	return o
}

// num is the number at a dotted path of the JSON ("ops.get.ok_req_per_s"), as the scripts
// read it; a missing field fails the test.
func (o outcome) num(t *testing.T, path string) float64 {
	t.Helper()
	var v any = o.json
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: not in the JSON %v", path, o.json)
		}
		v = m[k]
	}
	n, ok := v.(float64)
	if !ok {
		t.Fatalf("%s = %v: want a number (stderr: %s)", path, v, o.stderr)
	}
	return n
}

// sane checks a latency summary's order: 0 < p50 ≤ p95 ≤ p99 ≤ max.
func (o outcome) sane(t *testing.T, path string, count float64) {
	t.Helper()
	p50, p95, p99, mx := o.num(t, path+".p50_ms"), o.num(t, path+".p95_ms"), o.num(t, path+".p99_ms"), o.num(t, path+".max_ms")
	if !(p50 > 0 && p50 <= p95 && p95 <= p99 && p99 <= mx) {
		t.Errorf("%s: p50 %v p95 %v p99 %v max %v, want 0 < p50 ≤ p95 ≤ p99 ≤ max", path, p50, p95, p99, mx)
	}
	if n := o.num(t, path+".count"); n != count {
		t.Errorf("%s.count = %v, want %v", path, n, count)
	}
}

func TestAgainstChirp(t *testing.T) {
	srv := startChirp(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	common := fmt.Sprintf("--url %s --pid %d --quiet", srv.url, srv.pid)

	for _, tc := range []struct {
		name      string
		transport string
		fetch     bool
	}{
		{"Fanout", "websocket", false},
		{"FanoutWithTheHerd", "websocket", true},
		{"FanoutOverPolling", "polling", false},
		{"FanoutOverPollingWithTheHerd", "polling", true},
	} {
		fetch := tc.fetch
		args := "--mode fanout --eio 3 --transport " + tc.transport + " --n 50 --k 3 --trigger post --settle 100ms " + common
		if fetch {
			args += " --fetch"
		}
		t.Run(tc.name, func(t *testing.T) {
			o := runTool(ctx, args)
			if o.code != 0 {
				t.Fatalf("exit status %d: %s", o.code, o.stderr)
			}
			if d, e := o.num(t, "delivered"), o.num(t, "expected"); d != 150 || e != 150 {
				t.Errorf("delivered %v of %v, want 150 of 150", d, e)
			}
			o.sane(t, "latency", 150)
			if o.num(t, "server_rss_connected_kib") <= 0 || o.num(t, "server_rss_idle_kib") <= 0 {
				t.Errorf("the server's memory was not read: %v", o.json)
			}
			_, hasHerd := o.json["fetch_delivered"]
			if hasHerd != fetch {
				t.Fatalf("fetch_delivered in the JSON: %v, want %v", hasHerd, fetch)
			}
			if fetch {
				if d, e := o.num(t, "fetch_delivered"), o.num(t, "fetch_expected"); d != 150 || e != 150 {
					t.Errorf("fetch_delivered %v of %v, want 150 of 150", d, e)
				}
				if n := o.num(t, "fetch_errors") + o.num(t, "fetch_init_errors"); n != 0 {
					t.Errorf("fetch errors %v: %v", n, o.json["fetch_error_kinds"])
				}
				o.sane(t, "fetch_latency", 150)
				// A client reads the tweet after the event that told it: the herd's p50 is later.
				if o.num(t, "fetch_latency.p50_ms") < o.num(t, "latency.p50_ms") {
					t.Errorf("fetch_latency.p50 %v before latency.p50 %v", o.num(t, "fetch_latency.p50_ms"), o.num(t, "latency.p50_ms"))
				}
			}
		})
	}

	for _, op := range []string{"get", "post"} {
		t.Run("API"+strings.ToUpper(op), func(t *testing.T) {
			o := runTool(ctx, "--mode api --op "+op+" --concurrency 4 --warmup 200ms --duration 1s "+common)
			if o.code != 0 {
				t.Fatalf("exit status %d: %s", o.code, o.stderr)
			}
			ok := o.num(t, "ops."+op+".ok")
			if ok < 10 || o.num(t, "ops."+op+".errors") != 0 || o.num(t, "ops."+op+".ok_req_per_s") <= 0 {
				t.Errorf("ops.%s: %v", op, o.json["ops"])
			}
			o.sane(t, "ops."+op+".latency", ok)
		})
	}

	for _, tc := range []struct{ name, transport string }{
		{"ListenThroughAStormOverWebsocket", "websocket"},
		{"ListenThroughAStormOverPolling", "polling"},
	} {
		t.Run(tc.name, func(t *testing.T) { listenThroughAStorm(ctx, t, srv, tc.transport, common) })
	}

	t.Run("RefusesATargetElsewhere", func(t *testing.T) {
		if o := runTool(ctx, "--mode api --url http://192.0.2.1:8000 --quiet"); o.code != 2 || !strings.Contains(o.stderr, "loopback") {
			t.Fatalf("exit status %d, stderr %q; want 2 and a word about loopback", o.code, o.stderr)
		}
	})
}

// listenThroughAStorm holds 20 listeners while 4 connections POST for half a second.
func listenThroughAStorm(ctx context.Context, t *testing.T, srv chirp, transport, common string) {
	const n = 20
	// The clients of the runs before have closed; the server may still be letting them go.
	waitSockets(t, srv.url, func(open int) bool { return open == 0 }, "the earlier runs' clients to leave")
	listened := make(chan outcome, 1)
	go func() {
		listened <- runTool(ctx, fmt.Sprintf("--mode listen --eio 3 --transport %s --n %d --duration 3s %s", transport, n, common))
	}()
	waitSockets(t, srv.url, func(open int) bool { return open >= n }, "the listeners to connect")
	storm := runTool(ctx, "--mode api --op post --concurrency 4 --duration 500ms "+common)
	if storm.code != 0 || storm.num(t, "ops.post.ok") < 1 {
		t.Fatalf("the storm: exit status %d, %v: %s", storm.code, storm.json["ops"], storm.stderr)
	}
	var o outcome
	select {
	case o = <-listened:
	case <-time.After(20 * time.Second):
		t.Fatal("the listen run never ended")
	}
	if o.code != 0 {
		t.Fatalf("exit status %d: %s", o.code, o.stderr)
	}
	if c, d := o.num(t, "connected"), o.num(t, "disconnected_by_server"); c != n || d != 0 {
		t.Errorf("connected %v, dropped %v; want %d, 0", c, d, n)
	}
	// Chirp paces newTweet (one a window), so each listener hears at least one and at
	// most one per POST.
	lo, hi := o.num(t, "client_newtweet_events.min"), o.num(t, "client_newtweet_events.max")
	if lo < 1 || hi > storm.num(t, "ops.post.ok") {
		t.Errorf("newTweet per listener %v to %v, want 1 to %v", lo, hi, storm.num(t, "ops.post.ok"))
	}
	if o.num(t, "server_rss_max_kib") < o.num(t, "server_rss_start_kib") {
		t.Errorf("server RSS max %v below its start %v", o.num(t, "server_rss_max_kib"), o.num(t, "server_rss_start_kib"))
	}
}
