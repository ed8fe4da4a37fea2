// Package testkit holds the small helpers every package's tests share. Its waits are bounded: a
// regression fails the test with a message saying what never came, instead of hanging the suite
// until go test's own timeout, which names no test and prints every goroutine.
//
// These helpers call t.Fatal, so they belong on the test's goroutine; a goroutine a test starts
// reports through a channel or t.Error instead.
package testkit

import (
	"slices"
	"testing"
	"time"

	chirp "github.com/chirp-social/chirp/backend"
)

// Timeout is how long a test waits for something that, working, takes milliseconds. It is
// generous because the suite runs under the race detector on shared two-core machines.
const Timeout = 10 * time.Second

// Eventually polls cond until it holds, failing the test when it has not within Timeout.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", Timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Recv receives one value from ch, failing the test when none comes within Timeout or when ch
// is closed.
func Recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	return RecvWithin(t, ch, Timeout, what)
}

// RecvWithin is Recv with another bound, for a test whose point is how soon something comes.
func RecvWithin[T any](t testing.TB, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatalf("%s: the channel was closed", what)
		}
		return v
	case <-timer.C:
		t.Fatalf("not within %v: %s", d, what)
	}
	panic("unreachable: t.Fatalf does not return")
}

// Closed waits until ch is closed (values received on the way are dropped), failing the test
// when it is still open after Timeout.
func Closed[T any](t testing.TB, ch <-chan T, what string) {
	t.Helper()
	timer := time.NewTimer(Timeout)
	defer timer.Stop()
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timer.C:
			t.Fatalf("not within %v: %s", Timeout, what)
		}
	}
}

// IDs are the tweets' ids, in order: what most assertions about a timeline compare.
func IDs(tweets []chirp.Tweet) []int64 {
	out := make([]int64, len(tweets))
	for i, tw := range tweets {
		out[i] = tw.ID
	}
	return out
}

// Page is the answer to q over every tweet there is (ascending ids), by the keyset rules
// applied one tweet at a time: the reference the stores' answers are compared with.
func Page(all []chirp.Tweet, q chirp.PageQuery) []chirp.Tweet {
	lower := q.SinceID
	if q.Forward {
		lower = q.MinID
	}
	var in []chirp.Tweet
	for _, t := range all {
		if q.AccountID != 0 && (t.Account == nil || t.Account.ID != q.AccountID) {
			continue
		}
		if t.ID > lower && t.ID < q.MaxID {
			in = append(in, t)
		}
	}
	if q.Forward {
		in = in[:min(len(in), q.Limit)]
	} else {
		in = in[max(0, len(in)-q.Limit):]
	}
	slices.Reverse(in)
	return in
}
