package check

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
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

// buildNote is what make run says before the first build (no backend/bin/chirp yet), whose
// compiling is silent for minutes; on later runs it says nothing of the kind.
const buildNote = "building chirp: the first build takes a few minutes (Go lists the modules it downloads, then compiles without a word)"

// startMakeRun starts `make run` from the repository's root on 127.0.0.1 with a scratch
// database and the given variables (PORT, WEB_PORT and the like). make run reads ENV_FILE when
// it exists; unless env names one, that is a file that does not, so that a developer's own .env
// stays out of the tests.
func startMakeRun(t *testing.T, env ...string) *makeRun {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	cmd := exec.Command("make", "--no-print-directory", "run")
	cmd.Dir = "../.."
	// As a user types it: under `make test` the outer make's MAKELEVEL and MAKEFLAGS would make
	// this one a sub-make (its messages then say make[1]).
	// The ports come from the test alone (the variables or its .env), never the caller's.
	cmd.Env = slices.DeleteFunc(cmd.Environ(), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains([]string{"MAKELEVEL", "MAKEFLAGS", "MFLAGS", "PORT", "WEB_PORT", "ENV_FILE"}, name)
	})
	cmd.Env = append(cmd.Env, "HOST=127.0.0.1", "DATABASE_URL=sqlite://"+t.TempDir()+"/chirp.db",
		"ENV_FILE="+filepath.Join(t.TempDir(), "none.env"))
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
	for stop := 1; stop <= 3; stop++ {
		_, err := os.Stat("../../backend/bin/chirp")
		firstBuild := errors.Is(err, fs.ErrNotExist)
		m := startMakeRun(t, "PORT=0", "WEB_PORT=0")
		addrs := m.addrs(t)
		switch i := strings.Index(m.out.String(), buildNote); {
		case firstBuild && (i < 0 || i > strings.Index(m.out.String(), "msg=listening")):
			t.Errorf("stop %d: no %q before the first build:\n%s", stop, buildNote, m.out)
		case !firstBuild && i >= 0:
			t.Errorf("stop %d: %q although backend/bin/chirp was built before:\n%s", stop, buildNote, m.out)
		}
		if strings.Contains(m.out.String(), "read settings from") {
			t.Errorf("make run says it read a .env that does not exist:\n%s", m.out)
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

// addrs waits for both servers' listening records (the first build may take minutes) and
// returns their addresses by server name (api, page).
func (m *makeRun) addrs(t *testing.T) map[string]string {
	t.Helper()
	listening := regexp.MustCompile(`msg=listening addr=(\S+) server=(api|page)`)
	addrs := map[string]string{}
	for deadline := time.Now().Add(3 * time.Minute); len(addrs) < 2; time.Sleep(50 * time.Millisecond) {
		for _, rec := range listening.FindAllStringSubmatch(m.out.String(), -1) {
			addrs[rec[2]] = rec[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("make run did not start both servers:\n%s", m.out)
		}
	}
	return addrs
}

// TestMakeRunReadsEnvFile copies .env.example as a newcomer does, with PORT and WEB_PORT
// changed: make run says it read the file, the API and the page listen on its ports, the URL
// it tells the reader to open is the page's, and a variable already in the environment (HOST)
// wins over the file's line.
func TestMakeRunReadsEnvFile(t *testing.T) {
	example, err := os.ReadFile("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	apiPort, pagePort := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	dotenv := string(example)
	for name, port := range map[string]string{"PORT": apiPort, "WEB_PORT": pagePort} {
		line := regexp.MustCompile(`(?m)^` + name + `=.*$`)
		if len(line.FindAllString(dotenv, -1)) != 1 {
			t.Fatalf(".env.example has not one %s= line", name)
		}
		dotenv = line.ReplaceAllString(dotenv, name+"="+port)
	}
	if !regexp.MustCompile(`(?m)^HOST=0\.0\.0\.0$`).MatchString(dotenv) {
		t.Fatal(".env.example has no HOST=0.0.0.0 line: the test of which one wins needs another variable")
	}
	envFile := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(envFile, []byte(dotenv), 0o644); err != nil {
		t.Fatal(err)
	}

	m := startMakeRun(t, "ENV_FILE="+envFile) // HOST=127.0.0.1 is in the environment
	addrs := m.addrs(t)
	if want := map[string]string{"api": "127.0.0.1:" + apiPort, "page": "127.0.0.1:" + pagePort}; !maps.Equal(addrs, want) {
		t.Fatalf("listening on %v, want .env's ports on the environment's HOST: %v\n%s", addrs, want, m.out)
	}
	out := m.out.String()
	if line := "make run: read settings from " + envFile + "\n"; !strings.HasPrefix(out, line) {
		t.Errorf("make run does not begin with %q:\n%s", line, out)
	}
	if rec := `msg="open the page in a browser" url=http://127.0.0.1:` + pagePort + "\n"; strings.Count(out, rec) != 1 {
		t.Errorf("no one %q record:\n%s", rec, out)
	}
	if status(t, "http://127.0.0.1:"+pagePort+"/") != 200 || status(t, "http://127.0.0.1:"+apiPort+"/healthz") != 200 {
		t.Fatal("the page or the API does not answer on .env's port")
	}
	syscall.Kill(-m.cmd.Process.Pid, syscall.SIGINT)
	m.wait(t, nil) // make itself ends by the signal, as it does for any Ctrl+C
	if out := m.out.String(); !strings.Contains(out, "msg=stopped server=page") || strings.Contains(out, "***") {
		t.Errorf("make run did not stop cleanly after Ctrl+C:\n%s", out)
	}
}

// TestMakeRunBadEnvFile: a line of .env that is not NAME=value stops make run before anything
// starts, naming the file and the line.
func TestMakeRunBadEnvFile(t *testing.T) {
	envFile := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(envFile, []byte("# settings\nPORT=0\nWEB_PORT 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := startMakeRun(t, "ENV_FILE="+envFile)
	if err := m.wait(t, nil); err == nil {
		t.Fatalf("make run succeeded with a bad .env:\n%s", m.out)
	}
	if want := "make run: " + envFile + " line 3 is not NAME=value: WEB_PORT 0"; !strings.Contains(m.out.String(), want) ||
		strings.Contains(m.out.String(), "msg=listening") {
		t.Fatalf("want %q and no server started:\n%s", want, m.out)
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
