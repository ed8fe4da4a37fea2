package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend/internal/testdb"
	"github.com/chirp-social/chirp/backend/internal/testlog"
)

// What the program says when it cannot start names the cause in the operator's words, once.
func TestStartFailuresSayWhatIsWrong(t *testing.T) {
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(free.Addr().(*net.TCPAddr).Port)
	free.Close() // nothing binds it: the two settings meet each other, not another program
	missing := filepath.Join(t.TempDir(), "missing", "dir")
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    []string // in the error
		wantNot []string
	}{
		{"MissingFolder", []string{"chirp"}, map[string]string{"DATABASE_URL": "sqlite://" + missing + "/x.db"},
			[]string{"DATABASE_URL", "the folder " + missing + " does not exist"}, []string{"out of memory"}},
		{"SamePort", []string{"chirp", "dev"}, map[string]string{"PORT": port, "WEB_PORT": port, "WEB_ROOT": pageBundle(t),
			"DATABASE_URL": testdb.SQLiteURL(t)},
			[]string{"PORT and WEB_PORT are both " + port}, []string{"the program that has it"}},
		{"RefusedPostgres", []string{"chirp"}, map[string]string{"DATABASE_URL": "postgres://nobody@127.0.0.1:1/none?connect_timeout=2"},
			[]string{"DATABASE_URL", "127.0.0.1:1", "connection refused"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.env["HOST"] = "127.0.0.1"
			if tt.env["PORT"] == "" {
				tt.env["PORT"] = "0"
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var logs testlog.Buffer
			err := run(ctx, tt.args, func(k string) string { return tt.env[k] }, io.Discard, &logs)
			if err == nil {
				t.Fatal("started")
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%q lacks %q", msg, w)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(msg, w) {
					t.Errorf("%q says %q", msg, w)
				}
			}
			// Each fact once: the address and the cause are not repeated by the layers.
			for _, w := range tt.want[1:] {
				if n := strings.Count(msg, w); n > 1 {
					t.Errorf("%q says %q %d times", msg, w, n)
				}
			}
			if strings.Contains(logs.String(), "msg=listening") {
				t.Errorf("a server started:\n%s", logs.String())
			}
		})
	}
}

// DEBUG_ADDR serves pprof (heap contents, goroutine stacks) without any check: an address
// other than loopback is warned about, naming the variable. 192.0.2.1 (TEST-NET-1) is no
// address of this machine, so nothing is exposed: the start fails after the warning.
func TestDebugAddrOffLoopbackIsWarned(t *testing.T) {
	for _, tt := range []struct {
		addr string
		warn bool
	}{{"192.0.2.1:0", true}, {"127.0.0.1:0", false}} {
		t.Run(tt.addr, func(t *testing.T) {
			env := map[string]string{"HOST": "127.0.0.1", "PORT": "0", "DATABASE_URL": testdb.SQLiteURL(t), "DEBUG_ADDR": tt.addr}
			if !tt.warn {
				_, logs, stop := runInBackground(t, []string{"chirp"}, env, "api")
				if err := stop(); err != nil {
					t.Fatal(err)
				}
				if strings.Contains(logs.String(), "level=WARN") {
					t.Fatalf("warned:\n%s", logs)
				}
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var logs testlog.Buffer
			run(ctx, []string{"chirp"}, func(k string) string { return env[k] }, io.Discard, &logs)
			if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "DEBUG_ADDR") ||
				!strings.Contains(logs.String(), "127.0.0.1") {
				t.Fatalf("no WARN naming DEBUG_ADDR and 127.0.0.1:\n%s", logs.String())
			}
		})
	}
}

// Durations are written in one readable form in both log formats ("10s", "1.5ms"), not as
// nanoseconds in JSON.
func TestJSONLogsWriteDurationsAsText(t *testing.T) {
	env := map[string]string{"LOG_FORMAT": "json", "HOST": "127.0.0.1", "PORT": "0", "DATABASE_URL": testdb.SQLiteURL(t)}
	var logs testlog.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"chirp"}, func(k string) string { return env[k] }, io.Discard, &logs)
	}()
	stop := sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			return errStillRunning
		}
	})
	t.Cleanup(func() { stop() })
	var addr string
	for deadline := time.Now().Add(30 * time.Second); addr == ""; {
		if time.Now().After(deadline) {
			t.Fatalf("no listening record:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
		for _, rec := range records(logs.String()) {
			if rec["msg"] == "listening" {
				addr, _ = rec["addr"].(string)
			}
		}
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	checked := map[string]bool{}
	for _, rec := range records(logs.String()) {
		for _, key := range []string{"duration", "timeout"} {
			v, ok := rec[key]
			if !ok {
				continue
			}
			s, isText := v.(string)
			if _, err := time.ParseDuration(s); !isText || err != nil {
				t.Errorf("%s of %q is %v (%T), not a duration as text", key, rec["msg"], v, v)
			}
			checked[rec["msg"].(string)+" "+key] = true
		}
	}
	if !checked["request duration"] || !checked["shutting down timeout"] {
		t.Fatalf("checked %v; logs:\n%s", checked, logs.String())
	}
}

func records(logs string) []map[string]any {
	var recs []map[string]any
	for _, line := range strings.Split(logs, "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil {
			recs = append(recs, rec)
		}
	}
	return recs
}
