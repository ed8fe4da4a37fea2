package soak_test

import (
	"context"
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
	t.Log(out.String())
}
