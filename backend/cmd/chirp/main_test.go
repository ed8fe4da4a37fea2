package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/chirp-social/chirp/backend/internal/listening"
	"github.com/chirp-social/chirp/backend/internal/testdb"
	"github.com/chirp-social/chirp/backend/internal/testkit"
	"github.com/chirp-social/chirp/backend/internal/testlog"
)

type program struct {
	base   string
	logs   *testlog.Buffer
	env    map[string]string
	cancel context.CancelFunc
	done   chan error
}

// sideAddr is the address of a side listener the program logged it listens on (msg, e.g.
// "metrics listening"), ending the test when there is none.
func (p *program) sideAddr(t testing.TB, msg string) string {
	t.Helper()
	addr, ok := listening.Addr(p.logs.String(), msg)
	if !ok {
		t.Fatalf("no %q record in the logs:\n%s", msg, p.logs)
	}
	return addr
}

// start runs the whole program as production does, on a free port, and waits until it serves.
// The write and sign-in limits and the sockets and connections per address are off unless env
// sets them: these tests post and connect from one address.
func start(t testing.TB, env map[string]string) *program {
	t.Helper()
	env["HOST"] = "127.0.0.1"
	env["PORT"] = "0"
	if _, ok := env["RATE_LIMIT_WRITES_PER_MINUTE"]; !ok {
		env["RATE_LIMIT_WRITES_PER_MINUTE"] = "0"
	}
	for _, limit := range []string{"SOCKET_MAX_PER_IP", "SOCKET_MAX_PER_NET", "SIGNIN_LIMIT_PER_MINUTE", "SIGNIN_ACCOUNT_LIMIT_PER_HOUR"} {
		if _, ok := env[limit]; !ok {
			env[limit] = "0"
		}
	}
	if _, ok := env["CONN_MAX_PER_IP"]; !ok {
		env["CONN_MAX_PER_IP"] = "0"
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &program{logs: &testlog.Buffer{}, env: env, cancel: cancel, done: make(chan error, 1)}
	go func() {
		p.done <- run(ctx, []string{"chirp"}, func(k string) string { return env[k] }, io.Discard, p.logs)
	}()
	t.Cleanup(func() { p.stop(t) })
	deadline := time.Now().Add(30 * time.Second)
	for p.base == "" {
		if time.Now().After(deadline) {
			t.Fatalf("no listening record in 30 s; logs:\n%s", p.logs)
		}
		select {
		case err := <-p.done:
			t.Fatalf("run ended early: %v\n%s", err, p.logs)
		case <-time.After(10 * time.Millisecond):
		}
		if addr, ok := listening.Addr(p.logs.String(), "listening"); ok {
			p.base = "http://" + addr
			env["PORT"] = strings.Split(addr, ":")[1]
		}
	}
	for {
		if resp, err := http.Get(p.base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("/healthz never answered 200")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop sends what SIGTERM would and waits for run to return.
func (p *program) stop(t testing.TB) error {
	t.Helper()
	err := p.halt()
	if errors.Is(err, errStillRunning) {
		t.Fatal(err)
	}
	return err
}

var errStillRunning = errors.New("run did not return 30 s after the signal")

// halt is stop for a goroutine other than the test's: it returns errStillRunning where stop
// fails the test.
func (p *program) halt() error {
	p.cancel()
	select {
	case err, ok := <-p.done:
		if ok {
			close(p.done)
		}
		return err
	case <-time.After(30 * time.Second):
		return errStillRunning
	}
}

func post(t *testing.T, base, content string) *http.Response {
	t.Helper()
	resp, err := http.Post(base+"/api/tweets", "application/json",
		strings.NewReader(`{"author":"e2e","content":"`+content+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestRunServesAndStops(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		p := start(t, map[string]string{"DATABASE_URL": url, "LOG_LEVEL": "debug"})
		if resp := post(t, p.base, "hello from run"); resp.StatusCode != 201 {
			t.Fatalf("create: %d", resp.StatusCode)
		}
		env := func(k string) string { return p.env[k] }
		if err := run(context.Background(), []string{"chirp", "healthcheck"}, env, io.Discard, io.Discard); err != nil {
			t.Fatalf("healthcheck against a ready server: %v", err)
		}
		resp, err := http.Get(p.base + "/debug/pprof/")
		if err != nil || resp.StatusCode != 404 {
			t.Fatalf("pprof must never be on the public port: %v %v", err, resp)
		}
		resp.Body.Close() // an unclosed body holds its connection's goroutines (goleak)
		if err := p.stop(t); err != nil {
			t.Fatalf("run returned %v after the signal", err)
		}
		if !strings.Contains(p.logs.String(), "msg=stopped") {
			t.Fatalf("no clean stop in the logs:\n%s", p.logs)
		}
		if err := run(context.Background(), []string{"chirp", "healthcheck"}, env, io.Discard, io.Discard); err == nil {
			t.Fatal("healthcheck passed with the server stopped")
		}
	})
}

func TestDebugAddrServesPprof(t *testing.T) {
	p := start(t, map[string]string{"DATABASE_URL": testdb.SQLiteURL(t), "DEBUG_ADDR": "127.0.0.1:0"})
	resp, err := http.Get("http://" + p.sideAddr(t, "debug listening") + "/debug/pprof/goroutine?debug=1")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("pprof: %v %v", err, resp)
	}
	resp.Body.Close()
}

func TestDataSurvivesRestart(t *testing.T) {
	url := testdb.SQLiteURL(t)
	p := start(t, map[string]string{"DATABASE_URL": url})
	post(t, p.base, "kept")
	p.stop(t)
	p = start(t, map[string]string{"DATABASE_URL": url})
	resp, err := http.Get(p.base + "/api/tweets")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), `"content":"kept"`) {
		t.Fatalf("after restart: %s", body)
	}
}

// TestShutdownFinishesInFlightRequests holds a POST inside PostgreSQL (the create lock is taken
// from outside), signals the program, then lets the POST go: it must still get its 201, and
// the program must then stop cleanly.
func TestShutdownFinishesInFlightRequests(t *testing.T) {
	url := testdb.PostgresURL(t)
	p := start(t, map[string]string{"DATABASE_URL": url, "REQUEST_TIMEOUT": "20s"})
	db := testdb.Open(t, url)
	tx := testdb.HoldInTransaction(t, url, "SELECT pg_advisory_xact_lock(x'4368697270000002'::bigint)")
	status := make(chan int, 1)
	go func() {
		resp, err := http.Post(p.base+"/api/tweets", "application/json", strings.NewReader(`{"author":"a","content":"in flight"}`))
		if err != nil {
			status <- 0
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	// Wait until the POST is waiting for the lock, then signal.
	testkit.Eventually(t, "the POST reaches the database", func() bool {
		var n int
		db.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'advisory'`).Scan(&n)
		return n > 0
	})
	stopped := make(chan error, 1)
	go func() { stopped <- p.halt() }()
	time.Sleep(200 * time.Millisecond)
	select {
	case err := <-stopped:
		t.Fatalf("run returned (%v) while a request was in flight", err)
	default:
	}
	tx.Rollback()
	if got := testkit.Recv(t, status, "the in-flight POST was never answered"); got != 201 {
		t.Fatalf("in-flight POST got %d", got)
	}
	// halt gives up 30 s after the signal; this bound is only for halt itself.
	if err := testkit.RecvWithin(t, stopped, 40*time.Second, "run did not return after the signal"); err != nil {
		t.Fatal(err)
	}
}

func TestRunRefusesBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"BadPort", []string{"chirp"}, map[string]string{"PORT": "x"}, "PORT="},
		{"BadDatabaseURL", []string{"chirp"}, map[string]string{"DATABASE_URL": "mysql://x"}, "DATABASE_URL="},
		{"OriginOutsideRPID", []string{"chirp"}, map[string]string{"WEBAUTHN_RP_ID": "chirp.example", "WEBAUTHN_ORIGINS": "https://evil.example"},
			`WEBAUTHN_ORIGINS="https://evil.example": not within WEBAUTHN_RP_ID "chirp.example"`},
		{"UnknownCommand", []string{"chirp", "frobnicate"}, nil, "unknown command"},
		{"HealthcheckWithoutPort", []string{"chirp", "healthcheck"}, map[string]string{"PORT": "0"}, "PORT"},
		{"DevBadPort", []string{"chirp", "dev"}, map[string]string{"PORT": "x"}, "PORT="},
		{"DevWithoutWebRoot", []string{"chirp", "dev"}, map[string]string{"WEB_ROOT": "/nonexistent/chirp", "HOST": "127.0.0.1", "PORT": "0", "WEB_PORT": "0", "DATABASE_URL": testdb.SQLiteURL(t)}, "WEB_ROOT"},
		{"UnreachableDatabase", []string{"chirp"}, map[string]string{"DATABASE_URL": "postgres://nobody@127.0.0.1:1/none?connect_timeout=2", "PORT": "0"}, "DATABASE_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := run(ctx, tt.args, func(k string) string { return tt.env[k] }, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, tt.want)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatal("run hung")
			}
		})
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"chirp", "help"}, func(string) string { return "" }, &out, io.Discard); err != nil || !strings.Contains(out.String(), "healthcheck") {
		t.Fatalf("help: %v %q", err, out.String())
	}
}

func TestJSONLogs(t *testing.T) {
	var out testlog.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	env := map[string]string{"LOG_FORMAT": "json", "HOST": "127.0.0.1", "PORT": "0", "DATABASE_URL": testdb.SQLiteURL(t)}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"chirp"}, func(k string) string { return env[k] }, io.Discard, &out) }()
	defer func() {
		cancel()
		testkit.RecvWithin(t, done, 30*time.Second, "run did not return 30 s after the signal")
	}()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(out.String(), "\n") {
			var rec struct{ Msg, Addr, Level, Server string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
				if !regexp.MustCompile(`^127\.0\.0\.1:[1-9]\d*$`).MatchString(rec.Addr) || rec.Level != "INFO" || rec.Server != "api" {
					t.Fatalf("listening record %+v", rec)
				}
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no JSON listening record:\n%s", out.String())
}

// TestWebServesThePageFromItsOwnPort starts `chirp web`, the page server alone, and checks it
// serves the folder with its headers and the API address in /config.js.
func TestWebServesThePageFromItsOwnPort(t *testing.T) {
	root := pageBundle(t)
	env := map[string]string{"HOST": "127.0.0.1", "WEB_PORT": "0", "WEB_ROOT": root, "API_URL": "http://127.0.0.1:8000"}
	addrs, _, stop := runInBackground(t, []string{"chirp", "web"}, env, "page")
	base := "http://" + addrs["page"]
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<title>Chirp</title>") ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "connect-src http://127.0.0.1:8000 ws://127.0.0.1:8000") {
		t.Fatalf("page: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, _ = http.Get(base + "/config.js")
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"apiUrl":"http://127.0.0.1:8000"`) {
		t.Fatalf("config.js: %q", body)
	}
	if err := stop(); err != nil {
		t.Fatalf("chirp web stopped with %v", err)
	}
	env["WEB_ROOT"] = filepath.Join(root, "missing")
	if err := run(context.Background(), []string{"chirp", "web"}, func(k string) string { return env[k] }, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "WEB_ROOT") {
		t.Fatalf("missing WEB_ROOT: %v", err)
	}
	env["WEB_ROOT"], env["API_URL"] = root, "localhost:8000"
	if err := run(context.Background(), []string{"chirp", "web"}, func(k string) string { return env[k] }, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "API_URL") {
		t.Fatalf("bad API_URL: %v", err)
	}
}

// runInBackground starts run with args and env, and waits for a listening record for each
// of the named servers (api, page). It returns their addresses and a stop that ends run as
// SIGINT would and returns its error.
func runInBackground(t *testing.T, args []string, env map[string]string, names ...string) (addrs map[string]string, logs *testlog.Buffer, stop func() error) {
	t.Helper()
	logs = &testlog.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	var runErr error
	finished := make(chan struct{})
	go func() {
		runErr = run(ctx, args, func(k string) string { return env[k] }, io.Discard, logs)
		close(finished)
	}()
	stop = func() error {
		cancel()
		select {
		case <-finished:
		case <-time.After(30 * time.Second):
			t.Fatal("run did not return 30 s after the signal")
		}
		return runErr
	}
	t.Cleanup(func() { stop() })
	for deadline := time.Now().Add(30 * time.Second); len(addrs) < len(names); {
		addrs = map[string]string{}
		for server, addr := range listening.Servers(logs.String()) {
			if slices.Contains(names, server) {
				addrs[server] = addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no listening records for %v in 30 s:\n%s", names, logs)
		}
		select {
		case <-finished:
			t.Fatalf("run ended early: %v\n%s", runErr, logs)
		case <-time.After(10 * time.Millisecond):
		}
	}
	return addrs, logs, stop
}

func pageBundle(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "index.html"), []byte("<!doctype html><title>Chirp</title>"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// fetch is a GET's body, sent with the given Host header ("" for the URL's).
func fetch(t *testing.T, url, host string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestDevServesAPIAndPage starts `chirp dev` as make run does, on free ports: it logs the page's
// URL once, with the real port; the page's /config.js names the API's real port on the page's
// own host name (or API_URL when it is set); and one signal stops both servers cleanly.
func TestDevServesAPIAndPage(t *testing.T) {
	tests := []struct {
		name, apiURL, host string
		want               func(apiPort string) string
	}{
		{"PageHostAndAPIPort", "", "", func(p string) string { return "http://127.0.0.1:" + p }},
		{"OtherMachine", "", "chirp.local:3000", func(p string) string { return "http://chirp.local:" + p }},
		{"APIURLOverrides", "https://api.chirp.example", "chirp.local:3000", func(string) string { return "https://api.chirp.example" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"HOST": "127.0.0.1", "PORT": "0", "WEB_PORT": "0", "WEB_ROOT": pageBundle(t),
				"API_URL": tt.apiURL, "DATABASE_URL": testdb.SQLiteURL(t)}
			addrs, logs, stop := runInBackground(t, []string{"chirp", "dev"}, env, "api", "page")
			if got := fetch(t, "http://"+addrs["api"]+"/healthz", ""); !strings.Contains(got, `"status"`) {
				t.Fatalf("API /healthz: %q", got)
			}
			if got := fetch(t, "http://"+addrs["page"]+"/", ""); !strings.Contains(got, "<title>Chirp</title>") {
				t.Fatalf("page /: %q", got)
			}
			if url := "url=http://" + addrs["page"]; strings.Count(logs.String(), `msg="open the page in a browser" `+url+"\n") != 1 {
				t.Errorf("no one %q record for the page's real address:\n%s", url, logs)
			}
			apiPort := strings.Split(addrs["api"], ":")[1]
			want := `window.CHIRP_CONFIG = {"apiUrl":"` + tt.want(apiPort) + `"};` + "\n"
			if got := fetch(t, "http://"+addrs["page"]+"/config.js", tt.host); got != want {
				t.Fatalf("config.js: %q, want %q", got, want)
			}
			if err := stop(); err != nil {
				t.Fatalf("run returned %v after the signal", err)
			}
			for _, rec := range []string{"msg=stopped server=api", "msg=stopped server=page"} {
				if !strings.Contains(logs.String(), rec) {
					t.Fatalf("no %q in the logs:\n%s", rec, logs)
				}
			}
		})
	}
}

// TestPageURL: the URL `chirp dev` tells a newcomer to open is one a browser can open: an
// every-interface HOST becomes localhost.
func TestPageURL(t *testing.T) {
	for _, tt := range []struct{ name, host, want string }{
		{"Unset", "", "http://localhost:3000"},
		{"EveryIPv4Interface", "0.0.0.0", "http://localhost:3000"},
		{"EveryIPv6Interface", "::", "http://localhost:3000"},
		{"Loopback", "127.0.0.1", "http://127.0.0.1:3000"},
		{"IPv6Loopback", "::1", "http://[::1]:3000"},
		{"Name", "chirp.local", "http://chirp.local:3000"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := pageURL(tt.host, 3000); got != tt.want {
				t.Fatalf("pageURL(%q, 3000) = %q, want %q", tt.host, got, tt.want)
			}
		})
	}
}

// TestBusyPortNamesTheVariable: a port in use stops the program before anything is served, with
// a message naming the port and the variable that changes it; under `chirp dev` neither server
// starts.
func TestBusyPortNamesTheVariable(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)
	tests := []struct {
		name, command, variable string
	}{
		{"API", "", "PORT"},
		{"Page", "web", "WEB_PORT"},
		{"DevAPI", "dev", "PORT"},
		{"DevPage", "dev", "WEB_PORT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"HOST": "127.0.0.1", "PORT": "0", "WEB_PORT": "0", "WEB_ROOT": pageBundle(t),
				"API_URL": "http://127.0.0.1:8000", "DATABASE_URL": testdb.SQLiteURL(t), tt.variable: port}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var logs testlog.Buffer
			err := run(ctx, []string{"chirp", tt.command}, func(k string) string { return env[k] }, io.Discard, &logs)
			want := regexp.MustCompile(`^port ` + port + ` is already in use\b.*\b` + tt.variable + `\b`)
			if err == nil || !want.MatchString(err.Error()) {
				t.Fatalf("got %v, want %s", err, want)
			}
			if strings.Contains(logs.String(), "msg=listening") {
				t.Fatalf("a server started:\n%s", logs.String())
			}
		})
	}
}

// TestWebAloneFollowsPORT: `chirp web` run on its own names the API's port from PORT, the
// variable the API reads; with PORT=0 it cannot know it and says so.
func TestWebAloneFollowsPORT(t *testing.T) {
	env := map[string]string{"HOST": "127.0.0.1", "PORT": "8001", "WEB_PORT": "0", "WEB_ROOT": pageBundle(t)}
	addrs, _, _ := runInBackground(t, []string{"chirp", "web"}, env, "page")
	if got, want := fetch(t, "http://"+addrs["page"]+"/config.js", ""), `"apiUrl":"http://127.0.0.1:8001"`; !strings.Contains(got, want) {
		t.Fatalf("config.js: %q, want %s", got, want)
	}
	env["PORT"] = "0"
	if err := run(context.Background(), []string{"chirp", "web"}, func(k string) string { return env[k] }, io.Discard, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "API_URL") || !strings.Contains(err.Error(), "PORT") {
		t.Fatalf("chirp web with PORT=0 and no API_URL: %v", err)
	}
}

// The defaults apply when nothing is set: 10 writes at once, then 429; the effective limits
// are logged once at start.
func TestWriteLimitDefaults(t *testing.T) {
	p := start(t, map[string]string{"DATABASE_URL": testdb.SQLiteURL(t), "RATE_LIMIT_WRITES_PER_MINUTE": ""})
	for i := range 10 {
		if resp := post(t, p.base, fmt.Sprint("tweet ", i)); resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST %d: %s", i, resp.Status)
		}
	}
	resp := post(t, p.base, "one too many")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "2" {
		t.Fatalf("11th POST: %s, Retry-After %q", resp.Status, resp.Header.Get("Retry-After"))
	}
	if logs := p.logs.String(); strings.Count(logs, "msg=limits ") != 1 ||
		!strings.Contains(logs, "writes_per_minute=30 write_burst=10") {
		t.Fatalf("want the limits logged once at start:\n%s", logs)
	}
}

// TestEveryDatabaseEncodingStartsAgain runs Chirp twice on a PostgreSQL database of each
// encoding: the second start finds the schema the first made, and the text the first stored
// comes back as it was sent. On a database in another encoding than UTF-8 (SQL_ASCII) the second
// start is the one that would fail ("simple protocol queries must be run with
// client_encoding=UTF8").
func TestEveryDatabaseEncodingStartsAgain(t *testing.T) {
	for _, encoding := range []string{"UTF8", "SQL_ASCII"} {
		t.Run(encoding, func(t *testing.T) {
			url := testdb.PostgresURLEncoded(t, encoding)
			const text = "héllo wörld 🐦 ✓"
			p := start(t, map[string]string{"DATABASE_URL": url, "EVENT_BUS": "postgres"})
			if resp := post(t, p.base, text); resp.StatusCode != http.StatusCreated {
				t.Fatalf("create on the first start: %d", resp.StatusCode)
			}
			if err := p.stop(t); err != nil {
				t.Fatalf("first start stopped with %v", err)
			}
			p = start(t, map[string]string{"DATABASE_URL": url, "EVENT_BUS": "postgres"})
			if got := fetch(t, p.base+"/api/tweets/1", ""); !strings.Contains(got, `"content":"`+text+`"`) {
				t.Fatalf("after the second start: %s", got)
			}
			if resp := post(t, p.base, text); resp.StatusCode != http.StatusCreated {
				t.Fatalf("create on the second start: %d", resp.StatusCode)
			}
		})
	}
}
