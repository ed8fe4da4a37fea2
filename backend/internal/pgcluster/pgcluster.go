// Package pgcluster runs a private PostgreSQL server for one test, with the machine's own
// binaries (initdb and pg_ctl under /usr/lib/postgresql/*/bin), on a spare loopback port, so
// that the test can stop, freeze and restart it. It never touches any other server: the shared
// one that other tests use must never be stopped or frozen.
package pgcluster

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", to wait for the server
)

// Cluster is a PostgreSQL server of the test's own.
type Cluster struct {
	bin  string // the directory of initdb, pg_ctl and postgres
	dir  string // owned by the server's user: data/, the socket and the log
	port int
	cred *syscall.Credential // the server's user when the test runs as root (initdb refuses root)

	mu     sync.Mutex
	frozen []int // processes stopped by Freeze, postmaster first
}

// Start initialises a cluster in a new temporary directory and starts it; the cluster is
// stopped and removed when the test ends. Without the binaries the test is skipped with the
// reason, unless CHIRP_REQUIRE_POSTGRES is set, where it fails.
func Start(t testing.TB) *Cluster {
	t.Helper()
	bin := findBin()
	if bin == "" {
		const why = "no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin"
		if os.Getenv("CHIRP_REQUIRE_POSTGRES") != "" {
			t.Fatal("CHIRP_REQUIRE_POSTGRES is set but there are " + why)
		}
		t.Skip("private PostgreSQL tests skipped: " + why)
	}
	dir, err := os.MkdirTemp("", "chirp-pgcluster-")
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{bin: bin, dir: dir}
	t.Cleanup(func() { c.remove(t) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root, the cluster needs the user postgres: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	c.port = sparePort(t)
	// fsync=off: the tests stop the server cleanly or kill processes, never the machine.
	c.run(t, "initdb", "-D", c.data(), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C")
	c.Restart(t)
	return c
}

// URL is the cluster's database postgres, for the superuser postgres.
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// Stop shuts the server down (fast: sessions are ended, as an operator's restart does).
func (c *Cluster) Stop(t testing.TB) {
	t.Helper()
	c.run(t, "pg_ctl", "-D", c.data(), "-m", "fast", "-w", "-t", "60", "stop")
}

// Restart starts the stopped server on the same port and waits until it accepts queries.
func (c *Cluster) Restart(t testing.TB) {
	t.Helper()
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s -c fsync=off -c max_connections=60", c.port, c.dir)
	c.run(t, "pg_ctl", "-D", c.data(), "-l", filepath.Join(c.dir, "server.log"), "-o", opts, "-w", "-t", "60", "start")
	db, err := sql.Open("pgx", c.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := db.PingContext(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the private PostgreSQL does not answer 30 s after its start: %v\n%s", err, c.Log())
		}
	}
}

// Freeze stops every process of the cluster with SIGSTOP (the postmaster first, so that it
// forks no new backend meanwhile, then each of its children): connections are accepted by the
// kernel but nothing answers, as with a server that hangs.
func (c *Cluster) Freeze(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	pm := c.postmaster(t)
	if err := syscall.Kill(pm, syscall.SIGSTOP); err != nil {
		t.Fatalf("SIGSTOP postmaster %d: %v", pm, err)
	}
	c.frozen = []int{pm}
	for _, pid := range children(pm) {
		// A child that exited since it was listed cannot be stopped; that is fine.
		if syscall.Kill(pid, syscall.SIGSTOP) == nil {
			c.frozen = append(c.frozen, pid)
		}
	}
}

// FreezeSessions stops the postmaster (so that no new connection is served: a connect
// hangs, as with a server that hangs) and the backends of the given sessions, with SIGSTOP,
// and leaves every other session running. Each pid must be a backend of this cluster (a
// child of its postmaster), never another server's process. Thaw continues them.
func (c *Cluster) FreezeSessions(t testing.TB, backends ...int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	pm := c.postmaster(t)
	own := children(pm)
	for _, pid := range backends {
		if !slices.Contains(own, pid) {
			t.Fatalf("process %d is not a backend of this cluster (postmaster %d)", pid, pm)
		}
	}
	for _, pid := range append([]int{pm}, backends...) {
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			c.thaw()
			t.Fatalf("SIGSTOP %d: %v", pid, err)
		}
		c.frozen = append(c.frozen, pid)
	}
}

// Thaw continues every process Freeze or FreezeSessions stopped, the children before the
// postmaster.
func (c *Cluster) Thaw(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.thaw()
}

func (c *Cluster) thaw() {
	for _, pid := range slices.Backward(c.frozen) {
		syscall.Kill(pid, syscall.SIGCONT)
	}
	c.frozen = nil
}

// Log is the server's log so far, for failure messages.
func (c *Cluster) Log() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
	return string(b)
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

// postmaster reads the running server's process id from postmaster.pid.
func (c *Cluster) postmaster(t testing.TB) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.data(), "postmaster.pid"))
	if err != nil {
		t.Fatalf("the private PostgreSQL is not running: %v", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		t.Fatalf("postmaster.pid: %q", line)
	}
	return pid
}

// remove stops the server whatever state it is in and removes its directory.
func (c *Cluster) remove(t testing.TB) {
	c.mu.Lock()
	c.thaw()
	c.mu.Unlock()
	if _, err := os.Stat(filepath.Join(c.data(), "postmaster.pid")); err == nil {
		cmd := c.command("pg_ctl", "-D", c.data(), "-m", "immediate", "-w", "-t", "30", "stop")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("stopping the private PostgreSQL: %v\n%s", err, out)
		}
	}
	os.RemoveAll(c.dir)
}

func (c *Cluster) run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := c.command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s\n%s", name, strings.Join(args, " "), err, out, c.Log())
	}
}

func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	return cmd
}

// findBin returns the newest /usr/lib/postgresql/<version>/bin that has initdb and pg_ctl.
func findBin() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "pg_ctl")) {
			return d
		}
	}
	return ""
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// sparePort asks the kernel for a free loopback port. Another process could take it before
// the server binds it; the start then fails loudly rather than touching anything else.
func sparePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// children lists the processes whose parent is pid, from /proc.
func children(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces and parentheses, so read after the last ')'.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}
