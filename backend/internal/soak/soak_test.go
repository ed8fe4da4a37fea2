package soak_test

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend/internal/soak"
)

// A short soak of the real binary, so that make soak keeps working: every kind of client runs,
// nothing well-behaved fails, and the server's footprint comes back.
func TestShortSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and soaks the binary")
	}
	bin := filepath.Join(t.TempDir(), "chirp")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/chirp")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	scratch := t.TempDir()
	t.Setenv("TMPDIR", scratch) // where Run makes its folder
	var out strings.Builder
	err := soak.Run(context.Background(), soak.Config{
		Binary: bin, Duration: 5 * time.Second, Sockets: 20, Posters: 2, Readers: 2,
		// Abandoned handshakes expire within PING_TIMEOUT: keep the wait short.
		Env: []string{"PING_INTERVAL=1s", "PING_TIMEOUT=2s"},
		Out: &out,
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"posts", "sockets", "misbehaving clients: ", "soak: passed"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("the report lacks %q:\n%s", want, out.String())
		}
	}
	if left, _ := filepath.Glob(filepath.Join(scratch, "chirp-soak-*")); len(left) > 0 {
		t.Fatalf("a passing soak left %v", left)
	}
	t.Log(out.String())
}

// A failed soak keeps its folder and names it, so that the server's log can be read.
func TestFailedSoakKeepsItsFolder(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "chirp")
	script := "#!/bin/sh\necho 'level=ERROR msg=\"cannot start\"' >&2\nexit 1\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	scratch := t.TempDir()
	t.Setenv("TMPDIR", scratch)
	err := soak.Run(context.Background(), soak.Config{Binary: bin, Duration: time.Second, Out: io.Discard})
	if err == nil {
		t.Fatal("a server that cannot start passed the soak")
	}
	kept, _ := filepath.Glob(filepath.Join(scratch, "chirp-soak-*"))
	if len(kept) != 1 || !strings.Contains(err.Error(), kept[0]) {
		t.Fatalf("want the one folder kept and named: folders %v, error %v", kept, err)
	}
	if log, _ := os.ReadFile(filepath.Join(kept[0], "chirp.log")); !strings.Contains(string(log), "cannot start") {
		t.Fatalf("the kept log lacks the server's output: %q", log)
	}
}
