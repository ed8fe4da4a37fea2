package check

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
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

// makeRun is one `make run`, in its own process group as a terminal's foreground job is.
type makeRun struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan error
}

// buildNote is what make run says before the build, which is silent for a minute or two when
// the module cache is cold.
const buildNote = "building chirp: the first build downloads Go modules and takes a minute or two"

// startMakeRun starts `make run` from the repository's root on 127.0.0.1 with a scratch
// database and the given variables (PORT, WEB_PORT and the like).
func startMakeRun(t *testing.T, env ...string) *makeRun {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	cmd := exec.Command("make", "--no-print-directory", "run")
	cmd.Dir = "../.."
	// As a user types it: under `make test` the outer make's MAKELEVEL and MAKEFLAGS would make
	// this one a sub-make (its messages then say make[1]).
	cmd.Env = slices.DeleteFunc(cmd.Environ(), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return name == "MAKELEVEL" || name == "MAKEFLAGS" || name == "MFLAGS"
	})
	cmd.Env = append(cmd.Env, "HOST=127.0.0.1", "DATABASE_URL=sqlite://"+t.TempDir()+"/chirp.db")
	cmd.Env = append(cmd.Env, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	m := &makeRun{cmd: cmd, out: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = m.out, m.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { m.done <- cmd.Wait() }()
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	return m
}

// wait waits for make to end (the first build may take minutes), calling each (if not nil)
// while it waits, then waits for every process make started to be gone.
func (m *makeRun) wait(t *testing.T, each func()) error {
	t.Helper()
	var err error
	for deadline, ended := time.Now().Add(3*time.Minute), false; !ended; {
		select {
		case err = <-m.done:
			ended = true
		case <-time.After(50 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatalf("make run did not end:\n%s", m.out)
			}
			if each != nil {
				each()
			}
		}
	}
	for i := 0; syscall.Kill(-m.cmd.Process.Pid, 0) == nil; i++ {
		if i > 200 {
			t.Fatalf("processes of make run are left after it ended:\n%s", m.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return err
}

// TestMakeRun starts `make run` as the README says (on free ports instead of 8000 and 3000, and
// a scratch database) and checks it serves the API and the page, each on its own port, with a
// /config.js that names the API's real port, and that Ctrl+C stops both without make reporting
// an error, several times over.
func TestMakeRun(t *testing.T) {
	listening := regexp.MustCompile(`msg=listening addr=(127\.0\.0\.1:\d+) server=(api|page)`)
	for stop := 1; stop <= 3; stop++ {
		m := startMakeRun(t, "PORT=0", "WEB_PORT=0")
		addrs := map[string]string{}
		for deadline := time.Now().Add(3 * time.Minute); len(addrs) < 2; time.Sleep(50 * time.Millisecond) {
			for _, rec := range listening.FindAllStringSubmatch(m.out.String(), -1) {
				addrs[rec[2]] = rec[1]
			}
			if time.Now().After(deadline) {
				t.Fatalf("make run did not start both servers:\n%s", m.out)
			}
		}
		if i := strings.Index(m.out.String(), buildNote); i < 0 || i > strings.Index(m.out.String(), "msg=listening") {
			t.Errorf("no %q before the build:\n%s", buildNote, m.out)
		}
		api, page := addrs["api"], addrs["page"]
		if api == page {
			t.Fatalf("want the API and the page on two ports, got %v:\n%s", addrs, m.out)
		}
		if status(t, "http://"+page+"/") != 200 {
			t.Fatalf("the page server at %s does not serve the page", page)
		}
		if status(t, "http://"+api+"/healthz") != 200 || status(t, "http://"+api+"/api/tweets") != 200 {
			t.Fatal("the API does not answer")
		}
		// The page asks the API on the host it was loaded from, at the API's real port.
		apiPort := api[strings.LastIndexByte(api, ':')+1:]
		for host, want := range map[string]string{
			"":                 `"apiUrl":"http://127.0.0.1:` + apiPort + `"`,
			"chirp.local:3000": `"apiUrl":"http://chirp.local:` + apiPort + `"`,
		} {
			if body := get(t, "http://"+page+"/config.js", host); !strings.Contains(body, want) {
				t.Errorf("/config.js from Host %q: %q, want %s", host, body, want)
			}
		}
		// Ctrl+C: the terminal sends SIGINT to the whole foreground group.
		syscall.Kill(-m.cmd.Process.Pid, syscall.SIGINT)
		m.wait(t, nil)
		out := m.out.String()
		if !strings.Contains(out, "msg=stopped server=api") || !strings.Contains(out, "msg=stopped server=page") {
			t.Errorf("stop %d: not both servers stopped cleanly:\n%s", stop, out)
		}
		if strings.Contains(out, "***") {
			t.Errorf("stop %d: make reported an error after Ctrl+C:\n%s", stop, out)
		}
	}
}

// TestMakeRunBusyPort takes the API's or the page's port first: make run must start neither
// server and end, failing, with one message naming the port and the variable that changes it.
func TestMakeRunBusyPort(t *testing.T) {
	for _, variable := range []string{"PORT", "WEB_PORT"} {
		t.Run(variable, func(t *testing.T) {
			busy, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer busy.Close()
			port := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)
			m := startMakeRun(t, "PORT=0", "WEB_PORT=0", variable+"="+port)
			err = m.wait(t, func() {
				if strings.Contains(m.out.String(), "msg=listening") {
					t.Fatalf("a server started although %s=%s is busy:\n%s", variable, port, m.out)
				}
			})
			if err == nil {
				t.Fatalf("make run succeeded with %s=%s busy:\n%s", variable, port, m.out)
			}
			want := regexp.MustCompile(`\bport ` + port + `\b.*\b` + variable + `\b`)
			if !want.MatchString(lastOwnLine(m.out.String())) || strings.Count(m.out.String(), "port "+port) != 1 {
				t.Fatalf("want one last message naming port %s and %s:\n%s", port, variable, m.out)
			}
		})
	}
}

// TestMakeRunBadConfig: a bad variable is reported once, and make run fails.
func TestMakeRunBadConfig(t *testing.T) {
	m := startMakeRun(t, "PORT=x", "WEB_PORT=0")
	if err := m.wait(t, nil); err == nil {
		t.Fatalf("make run succeeded with PORT=x:\n%s", m.out)
	}
	if n := strings.Count(m.out.String(), `PORT="x"`); n != 1 {
		t.Fatalf("the configuration error printed %d times, want once:\n%s", n, m.out)
	}
}

// lastOwnLine is the output's last line that is not make's own (make: *** …).
func lastOwnLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if !strings.HasPrefix(lines[i], "make: ") {
			return lines[i]
		}
	}
	return ""
}

func status(t *testing.T, url string) int {
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// get returns the body of a GET, sent with the given Host header ("" for the URL's).
func get(t *testing.T, url, host string) string {
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
	body, err := io.ReadAll(resp.Body)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return string(body)
}
