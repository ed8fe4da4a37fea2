package testkit_test

import (
	"slices"
	"testing"
	"time"

	chirp "github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/internal/testkit"
)

func TestRecvReturnsTheValue(t *testing.T) {
	ch := make(chan int, 1)
	go func() { time.Sleep(10 * time.Millisecond); ch <- 7 }()
	if got := testkit.Recv(t, ch, "the value"); got != 7 {
		t.Fatalf("got %d, want 7", got)
	}
}

// fatalRecorder notes whether the helper failed, and stops the helper's goroutine as t.Fatal
// does, so a failing helper can be tested without failing this test.
type fatalRecorder struct {
	testing.TB
	failed string
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.failed = format
	panic(f)
}

func failsWith(t *testing.T, run func(tb testing.TB)) bool {
	t.Helper()
	rec := &fatalRecorder{TB: t}
	func() {
		defer func() {
			if r := recover(); r != nil && r != rec {
				panic(r)
			}
		}()
		run(rec)
	}()
	return rec.failed != ""
}

func TestRecvFailsOnSilenceAndOnClose(t *testing.T) {
	silent := make(chan int)
	if !failsWith(t, func(tb testing.TB) { testkit.RecvWithin(tb, silent, 20*time.Millisecond, "nothing") }) {
		t.Error("a silent channel did not fail the receive")
	}
	closed := make(chan int)
	close(closed)
	if !failsWith(t, func(tb testing.TB) { testkit.Recv(tb, closed, "closed") }) {
		t.Error("a closed channel did not fail the receive")
	}
}

func TestEventuallyAndClosed(t *testing.T) {
	start := time.Now()
	testkit.Eventually(t, "20 ms to pass", func() bool { return time.Since(start) > 20*time.Millisecond })
	ch := make(chan struct{})
	go func() { ch <- struct{}{}; close(ch) }()
	testkit.Closed(t, ch, "the channel to close")
}

func TestIDs(t *testing.T) {
	got := testkit.IDs([]chirp.Tweet{{ID: 3}, {ID: 1}})
	if !slices.Equal(got, []int64{3, 1}) {
		t.Fatalf("got %v", got)
	}
}
