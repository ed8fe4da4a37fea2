package main

import (
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/glebarez/go-sqlite" // database/sql driver "sqlite", for PRAGMA integrity_check

	"github.com/chirp-social/chirp/backend/internal/sockettest"
	"github.com/chirp-social/chirp/backend/internal/testdb"
	"github.com/chirp-social/chirp/backend/internal/testkit"
	"github.com/chirp-social/chirp/backend/internal/testlog"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// chirpBinary builds the program once per test binary, for tests that need a real process to
// signal, into a directory of its own under the system's temporary directory.
func chirpBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "chirp-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "chirp")
		out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput()
		if err != nil {
			buildErr = err
			builtBin = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("go build: %v\n%s", buildErr, builtBin)
	}
	return builtBin
}

// process is the program running as its own process, as production runs it.
type process struct {
	cmd    *exec.Cmd
	base   string
	logs   *testlog.Buffer
	exited chan struct{} // closed when the process has exited
	err    error         // Wait's result, once exited is closed
}

func startProcess(t *testing.T, env map[string]string) *process {
	t.Helper()
	// As start() does: the limits are off unless env sets them (these tests load the server
	// from one address), and the later entries win.
	limitsOff := []string{"RATE_LIMIT_WRITES_PER_MINUTE=0", "SIGNIN_LIMIT_PER_MINUTE=0", "SIGNIN_ACCOUNT_LIMIT_PER_HOUR=0", "SOCKET_MAX_PER_IP=0", "SOCKET_MAX_PER_NET=0", "CONN_MAX_PER_IP=0"}
	return startBinary(t, 0, append(limitsOff, envList(env)...))
}

// startBinary runs the program as its own process on a free port of 127.0.0.1, with env added
// to its environment and, unless files is 0, its file descriptor limit lowered to files
// (ulimit -n, soft and hard) as a container's limit would be.
func startBinary(t *testing.T, files int, env []string) *process {
	t.Helper()
	cmd := exec.Command(chirpBinary(t))
	if files > 0 {
		cmd = exec.Command("/bin/sh", "-c", fmt.Sprintf(`ulimit -n %d && exec "$0"`, files), chirpBinary(t))
	}
	cmd.Env = append([]string{"HOST=127.0.0.1", "PORT=0", "PATH=" + os.Getenv("PATH")}, env...)
	p := &process{cmd: cmd, logs: &testlog.Buffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		testkit.Closed(t, p.exited, "the process did not exit after SIGKILL")
	})
	listening := regexp.MustCompile(`msg=listening addr=(127\.0\.0\.1:\d+)`)
	for deadline := time.Now().Add(30 * time.Second); p.base == ""; time.Sleep(10 * time.Millisecond) {
		if m := listening.FindStringSubmatch(p.logs.String()); m != nil {
			p.base = "http://" + m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no listening record in 30 s:\n%s", p.logs)
		}
	}
	return p
}

func envList(env map[string]string) []string {
	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	return list
}

// TestSIGTERMDuringLoad signals the program while clients create and list tweets, a request
// is half sent, a client trickles a body it will never finish, and two sockets (websocket and
// polling) are connected. The half-sent request still gets its 201, the sockets are closed at
// once (so that they reconnect to the next process), the stop takes no longer than
// SHUTDOWN_TIMEOUT, every answer is right, and every tweet acknowledged is stored. As its own
// process it exits 0; run in this process (as the other tests are), it leaves no goroutine
// behind (TestMain's goleak check).
func TestSIGTERMDuringLoad(t *testing.T) {
	const shutdownTimeout = 2 * time.Second
	for _, mode := range []string{"Process", "InProcess"} {
		t.Run(mode, func(t *testing.T) {
			env := map[string]string{"DATABASE_URL": testdb.SQLiteURL(t), "SHUTDOWN_TIMEOUT": shutdownTimeout.String(), "REQUEST_TIMEOUT": "30s"}
			var base string
			var terminate func()
			var exited <-chan struct{} // closed once the program has stopped
			var stopErr func() error   // how it stopped, once exited is closed
			if mode == "Process" {
				pr := startProcess(t, env)
				base = pr.base
				terminate = func() { pr.cmd.Process.Signal(syscall.SIGTERM) }
				exited, stopErr = pr.exited, func() error { return pr.err }
			} else {
				p := start(t, env)
				base = p.base
				done := make(chan struct{})
				var err error
				terminate = func() { go func() { err = p.halt(); close(done) }() }
				exited, stopErr = done, func() error { return err }
			}
			sock := dialSocket(t, base)
			sid := sockettest.From(base, "127.0.0.1").PollingSession(t)
			pollEnded := make(chan string, 1)
			go func() { pollEnded <- pollUntilClosed(base, sid) }()

			halfSent := dial(t, base)
			body := `{"author":"half","content":"sent in two halves"}`
			halfSent.send("POST", "/api/tweets", "Content-Type: application/json", "Content-Length: "+strconv.Itoa(len(body)))
			halfSent.conn.Write([]byte(body[:10]))

			trickler := dial(t, base)
			trickler.send("POST", "/api/tweets", "Content-Type: application/json", "Content-Length: 60000")
			stopTrickle := make(chan struct{})
			defer close(stopTrickle)
			go trickler.trickle(50*time.Millisecond, stopTrickle)

			l := startLoad(t, base, 3, loadBounds{list: 5 * time.Second, create: 5 * time.Second})
			time.Sleep(500 * time.Millisecond)

			sock.expectOpen(t)
			select {
			case how := <-pollEnded:
				t.Fatalf("the polling session ended before the signal: %s", how)
			default:
			}
			l.ending.Store(true)
			began := time.Now()
			terminate()
			select {
			case <-sock.closed:
			case <-time.After(slack):
				t.Errorf("the websocket is still open %v after the signal", slack)
			}
			select {
			case how := <-pollEnded:
				t.Logf("the polling session ended: %s", how)
			case <-time.After(slack):
				t.Errorf("the polling session is still open %v after the signal", slack)
			}
			halfSent.conn.Write([]byte(body[10:]))
			if resp, answer := halfSent.response(5 * time.Second); resp.StatusCode != 201 {
				t.Errorf("the request in flight at the signal: %d %s", resp.StatusCode, answer)
			}
			select {
			case <-exited:
				if err := stopErr(); err != nil {
					t.Errorf("the stop was not clean: %v", err)
				}
			case <-time.After(shutdownTimeout + 5*time.Second):
				t.Fatalf("still running %v after the signal", time.Since(began))
			}
			if took := time.Since(began); took > shutdownTimeout+slack {
				t.Errorf("stopping took %v, SHUTDOWN_TIMEOUT is %v", took, shutdownTimeout)
			}
			acked := append(l.stop(), "sent in two halves")
			t.Logf("load: %d created, answers %v", len(acked), l.statusCounts())

			p := start(t, map[string]string{"DATABASE_URL": env["DATABASE_URL"]})
			missingTweets(t, p.base, acked)
		})
	}
}

// pollUntilClosed long-polls the session until the server closes it (an Engine.IO close
// packet, a refused sid, or no server at all) and says how it ended.
func pollUntilClosed(base, sid string) string {
	client := &http.Client{Timeout: 60 * time.Second}
	for range 1000 {
		resp, err := client.Get(base + "/socket.io/?EIO=3&transport=polling&sid=" + sid)
		if err != nil {
			return err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || strings.Contains(string(b), "1:1") {
			return fmt.Sprintf("%d %q", resp.StatusCode, b)
		}
	}
	return "still open after 1000 polls"
}

// TestSIGKILLDuringPOSTLoadOnSQLite kills the program while clients create tweets on SQLite:
// after a restart every tweet acknowledged with 201 is there and the file passes
// PRAGMA integrity_check (synchronous=FULL and WAL: an acknowledged commit is on disk).
func TestSIGKILLDuringPOSTLoadOnSQLite(t *testing.T) {
	url := testdb.SQLiteURL(t)
	pr := startProcess(t, map[string]string{"DATABASE_URL": url})
	l := startLoad(t, pr.base, 4, loadBounds{list: 5 * time.Second, create: 5 * time.Second})
	time.Sleep(time.Second)
	l.ending.Store(true)
	pr.cmd.Process.Kill()
	testkit.Closed(t, pr.exited, "the process did not exit after SIGKILL")
	acked := l.stop()
	if len(acked) == 0 {
		t.Fatal("no tweet was acknowledged before the kill")
	}

	db, err := sql.Open("sqlite", strings.TrimPrefix(url, "sqlite://"))
	if err != nil {
		t.Fatal(err)
	}
	var verdict string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&verdict); err != nil || verdict != "ok" {
		t.Fatalf("integrity_check: %q %v", verdict, err)
	}
	db.Close()

	p := start(t, map[string]string{"DATABASE_URL": url})
	missingTweets(t, p.base, acked)
	t.Logf("%d tweets acknowledged before the kill, all stored; answers %v", len(acked), l.statusCounts())
}
