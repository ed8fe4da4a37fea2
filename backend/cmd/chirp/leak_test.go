package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/chirp-social/chirp/backend/internal/leakcheck"
)

// TestMain fails the package's tests if they leave a goroutine behind (the whole program, run
// and stopped as production does), but for the library's accept loop, which is never stopped
// (leakcheck.SocketIOServe says why).
func TestMain(m *testing.M) { leakcheck.Main(removingBinary{m}, leakcheck.SocketIOServe) }

// removingBinary removes the program chirpBinary built, once every test has run.
type removingBinary struct{ m *testing.M }

func (r removingBinary) Run() int {
	code := r.m.Run()
	if builtBin != "" && buildErr == nil {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	return code
}
