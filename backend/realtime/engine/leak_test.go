package engine

import (
	"testing"

	"github.com/chirp-social/chirp/backend/internal/leakcheck"
)

// TestMain fails the package's tests if they leave a goroutine behind.
func TestMain(m *testing.M) { leakcheck.Main(m) }
