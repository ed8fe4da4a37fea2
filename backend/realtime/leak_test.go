package realtime_test

import (
	"testing"

	"github.com/chirp-social/chirp/backend/internal/leakcheck"
)

// TestMain fails the package's tests if they leave a goroutine behind, but for the library's
// accept loop, which is never stopped (leakcheck.SocketIOServe says why).
func TestMain(m *testing.M) { leakcheck.Main(m, leakcheck.SocketIOServe) }
