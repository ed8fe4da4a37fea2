package serving_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/chirp-social/chirp/backend/serving"
)

// TestClosersCloseLastOpenedFirst: what was opened last is closed first, so nothing is closed
// while something opened on top of it still runs; a second Close closes nothing twice.
func TestClosersCloseLastOpenedFirst(t *testing.T) {
	var closers serving.Closers
	var closed []string
	for _, name := range []string{"database", "event bus", "metrics listener"} {
		closers.Add(func() error { closed = append(closed, name); return nil })
	}
	if err := closers.Close(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"metrics listener", "event bus", "database"}; !slices.Equal(closed, want) {
		t.Fatalf("closed %q, want %q", closed, want)
	}
	if err := closers.Close(); err != nil || len(closed) != 3 {
		t.Fatalf("a second Close: %v, closed %q", err, closed)
	}
}

// TestClosersCloseEverythingDespiteErrors: a close that fails does not leave what is below it
// open, and every failure is reported.
func TestClosersCloseEverythingDespiteErrors(t *testing.T) {
	var closers serving.Closers
	errBus, errListener := errors.New("bus"), errors.New("listener")
	var closed []string
	closers.Add(func() error { closed = append(closed, "database"); return nil })
	closers.Add(func() error { closed = append(closed, "event bus"); return errBus })
	closers.Add(func() error { closed = append(closed, "listener"); return errListener })
	err := closers.Close()
	if !errors.Is(err, errBus) || !errors.Is(err, errListener) {
		t.Fatalf("Close returned %v, want both failures", err)
	}
	if want := []string{"listener", "event bus", "database"}; !slices.Equal(closed, want) {
		t.Fatalf("closed %q, want %q", closed, want)
	}
}
