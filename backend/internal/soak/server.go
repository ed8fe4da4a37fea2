package soak

import (
	"bufio"
	"context"
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
	"time"

	"github.com/chirp-social/chirp/backend/internal/listening"
)

// server is the chirp binary under soak, run with its default limits on a scratch SQLite file.
type server struct {
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:PORT
	debug  string // its DEBUG_ADDR listener, for heap and goroutine counts
	logs   *os.File
	exit   chan error
	copied chan struct{} // closed once all of chirp's stderr is in logs
}

// startServer runs bin with the production defaults (nothing set but where to listen and what
// to store in), and waits until it serves. Its stderr goes to dir/chirp.log; on an error the
// log is complete and closed.
func startServer(ctx context.Context, bin, dir string, extraEnv []string) (*server, error) {
	logs, err := os.Create(filepath.Join(dir, "chirp.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin)
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOST=127.0.0.1", "PORT=0", "DEBUG_ADDR=127.0.0.1:0",
		"DATABASE_URL=sqlite://" + filepath.Join(dir, "chirp.db"),
	}, extraEnv...)
	// A pipe of our own rather than StderrPipe, which Wait closes as soon as chirp exits:
	// what chirp wrote last (why it failed to start) would be lost before it reached the log.
	stderr, w, err := os.Pipe()
	if err != nil {
		logs.Close()
		return nil, err
	}
	cmd.Stderr = w
	err = cmd.Start()
	w.Close() // chirp holds its own copy; the read ends when chirp exits
	if err != nil {
		stderr.Close()
		logs.Close()
		return nil, err
	}
	s := &server{cmd: cmd, logs: logs, exit: make(chan error, 1), copied: make(chan struct{})}
	found := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	go func() {
		defer close(s.copied)
		defer stderr.Close()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logs, line)
			mu.Lock()
			if addr, ok := listening.Addr(line, "listening"); ok && s.base == "" {
				s.base = "http://" + addr
			}
			if addr, ok := listening.Addr(line, "debug listening"); ok && s.debug == "" {
				s.debug = "http://" + addr
			}
			if s.base != "" && s.debug != "" {
				once.Do(func() { close(found) })
			}
			mu.Unlock()
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() { s.exit <- cmd.Wait() }()
	select {
	case <-found:
	case err := <-s.exit:
		s.closeLogs()
		return nil, fmt.Errorf("chirp exited at start (%v); see %s", err, logs.Name())
	case <-time.After(60 * time.Second):
		s.close()
		return nil, fmt.Errorf("chirp did not say where it listens within 60 s; see %s", logs.Name())
	case <-ctx.Done():
		s.close()
		return nil, ctx.Err()
	}
	return s, nil
}

// stop sends SIGTERM and waits for the exit.
func (s *server) stop() error {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exit:
		return err
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		return fmt.Errorf("chirp did not stop within 30 s of SIGTERM")
	}
}

// close stops chirp and closes its log once everything it wrote is in it.
func (s *server) close() error {
	err := s.stop()
	s.closeLogs()
	return err
}

// closeLogs waits (a while) for chirp's stderr to end, then closes the log.
func (s *server) closeLogs() {
	select {
	case <-s.copied:
	case <-time.After(5 * time.Second): // something chirp started still holds its stderr
	}
	s.logs.Close()
}

// sample is the server's footprint at one moment.
type sample struct {
	heapBytes  int64 // live heap after a forced GC
	goroutines int
	rssBytes   int64
	sockets    int // /healthz's connections
}

func (s *server) sample() (sample, error) {
	var out sample
	heap, err := get(s.debug + "/debug/pprof/heap?gc=1&debug=1")
	if err != nil {
		return out, err
	}
	if out.heapBytes, err = memStat(heap, "HeapAlloc"); err != nil {
		return out, err
	}
	g, err := get(s.debug + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return out, err
	}
	first, _, _ := strings.Cut(g, "\n")
	if out.goroutines, err = strconv.Atoi(strings.TrimPrefix(first, "goroutine profile: total ")); err != nil {
		return out, fmt.Errorf("goroutine profile header %q", first)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return out, err
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			out.rssBytes = kb << 10
		}
	}
	health, err := get(s.base + "/healthz")
	if err != nil {
		return out, err
	}
	if m := regexp.MustCompile(`"connections":(\d+)`).FindStringSubmatch(health); m != nil {
		out.sockets, _ = strconv.Atoi(m[1])
	}
	return out, nil
}

func memStat(profile, name string) (int64, error) {
	m := regexp.MustCompile(`(?m)^# ` + name + ` = (\d+)$`).FindStringSubmatch(profile)
	if m == nil {
		return 0, fmt.Errorf("no %s in the heap profile", name)
	}
	return strconv.ParseInt(m[1], 10, 64)
}

func get(url string) (string, error) {
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), err
}
