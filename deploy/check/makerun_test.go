package check

import (
	"bytes"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestMakeRun starts `make run` as the README says (on free ports instead of 8000 and 3000, and
// a scratch database) and checks it serves the API and the page, each on its own port, and
// that Ctrl+C stops both.
func TestMakeRun(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	cmd := exec.Command("make", "--no-print-directory", "run")
	cmd.Dir = "../.."
	cmd.Env = append(cmd.Environ(), "HOST=127.0.0.1", "PORT=0", "WEB_PORT=0",
		"DATABASE_URL=sqlite://"+t.TempDir()+"/chirp.db")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })

	listening := regexp.MustCompile(`msg=listening addr=(127\.0\.0\.1:\d+)`)
	var addrs []string
	for deadline := time.Now().Add(3 * time.Minute); len(addrs) < 2; time.Sleep(50 * time.Millisecond) {
		addrs = nil
		for _, m := range listening.FindAllStringSubmatch(out.String(), -1) {
			addrs = append(addrs, m[1])
		}
		if time.Now().After(deadline) {
			t.Fatalf("make run did not start both servers:\n%s", out.String())
		}
	}
	var api, page string
	for _, a := range addrs {
		if status(t, "http://"+a+"/healthz") == 200 {
			api = a
		} else {
			page = a
		}
	}
	if api == "" || page == "" {
		t.Fatalf("want the API and the page on two ports, got %v:\n%s", addrs, out.String())
	}
	if status(t, "http://"+page+"/") != 200 || status(t, "http://"+page+"/config.js") != 200 {
		t.Fatalf("the page server at %s does not serve the page", page)
	}
	if status(t, "http://"+api+"/api/tweets") != 200 {
		t.Fatal("the API does not answer")
	}
	// Ctrl+C: the terminal sends SIGINT to the whole foreground group.
	syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("make run did not stop on Ctrl+C:\n%s", out.String())
	}
	if n := strings.Count(out.String(), "msg=stopped"); n != 2 {
		t.Fatalf("%d of 2 servers stopped cleanly:\n%s", n, out.String())
	}
}

func status(t *testing.T, url string) int {
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
