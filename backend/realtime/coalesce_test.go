package realtime

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeClock runs timers only when the test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	clock   *fakeClock
	at      time.Time
	f       func()
	stopped bool
	fired   bool
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) stopper {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clock: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	was := !t.stopped && !t.fired
	t.stopped = true
	return was
}

// advanceTo moves the clock to at, firing every timer due by then at its own time, in order.
func (c *fakeClock) advanceTo(at time.Time) {
	for {
		c.mu.Lock()
		var next *fakeTimer
		for _, t := range c.timers {
			if !t.stopped && !t.fired && !t.at.After(at) && (next == nil || t.at.Before(next.at)) {
				next = t
			}
		}
		if next == nil {
			if at.After(c.now) {
				c.now = at
			}
			c.mu.Unlock()
			return
		}
		next.fired = true
		c.now = next.at
		c.mu.Unlock()
		next.f() // as time.AfterFunc does: outside the clock's lock
	}
}

// live is the number of timers neither fired nor stopped.
func (c *fakeClock) live() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.stopped && !t.fired {
			n++
		}
	}
	return n
}

func TestHintCoalescer(t *testing.T) {
	const ms = time.Millisecond
	type hint struct {
		at     time.Duration
		except string // the relaying client; "" for a committed tweet
	}
	type send struct {
		at     time.Duration
		except string
	}
	every := func(step, until time.Duration, except string) []hint {
		var hs []hint
		for at := time.Duration(0); at <= until; at += step {
			hs = append(hs, hint{at, except})
		}
		return hs
	}
	tests := []struct {
		name    string
		hints   []hint
		closeAt time.Duration // 0: never
		want    []send
	}{
		{"IsolatedHintLeavesAtOnce", []hint{{0, ""}}, 0, []send{{0, ""}}},
		{"IsolatedHintsEachLeaveAtOnce",
			[]hint{{0, ""}, {100 * ms, ""}, {350 * ms, "a"}},
			0, []send{{0, ""}, {100 * ms, ""}, {350 * ms, "a"}}},
		{"BurstIsOneLeadingAndOneTrailingSend",
			every(ms, 50*ms, ""),
			0, []send{{0, ""}, {100 * ms, ""}}},
		{"ThousandHintsASecondAreTenSendsASecond",
			every(ms, 999*ms, ""),
			0, []send{{0, ""}, {100 * ms, ""}, {200 * ms, ""}, {300 * ms, ""}, {400 * ms, ""}, {500 * ms, ""},
				{600 * ms, ""}, {700 * ms, ""}, {800 * ms, ""}, {900 * ms, ""}, {1000 * ms, ""}}},
		{"WindowRunsFromTheTrailingSend",
			[]hint{{0, ""}, {10 * ms, ""}, {150 * ms, ""}, {260 * ms, ""}},
			0, []send{{0, ""}, {100 * ms, ""}, {200 * ms, ""}, {300 * ms, ""}}},
		{"LeadingRelaySkipsItsSender",
			[]hint{{0, "a"}},
			0, []send{{0, "a"}}},
		{"RelayOnlyMergeSkipsTheRelayer",
			[]hint{{0, ""}, {10 * ms, "a"}, {20 * ms, "a"}},
			0, []send{{0, ""}, {100 * ms, "a"}}},
		{"RelaysOfTwoClientsReachBoth",
			[]hint{{0, "a"}, {10 * ms, "a"}, {20 * ms, "b"}},
			0, []send{{0, "a"}, {100 * ms, ""}}},
		{"RelayThenPostReachesTheRelayer",
			[]hint{{0, "a"}, {10 * ms, "a"}, {20 * ms, ""}},
			0, []send{{0, "a"}, {100 * ms, ""}}},
		{"PostThenRelayReachesTheRelayer",
			[]hint{{0, "a"}, {10 * ms, ""}, {20 * ms, "a"}},
			0, []send{{0, "a"}, {100 * ms, ""}}},
		{"CloseStopsTheTrailingSend",
			[]hint{{0, ""}, {10 * ms, ""}, {30 * ms, ""}},
			20 * ms, []send{{0, ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
			clk := &fakeClock{now: start}
			var got []send
			h := newHintCoalescer(100*ms, 0, clk, func(except string) int {
				got = append(got, send{clk.now.Sub(start), except})
				return 1
			})
			closed := false
			for _, hn := range tt.hints {
				if tt.closeAt > 0 && !closed && hn.at >= tt.closeAt {
					clk.advanceTo(start.Add(tt.closeAt))
					h.close()
					closed = true
				}
				clk.advanceTo(start.Add(hn.at))
				h.hint(hn.except)
			}
			clk.advanceTo(start.Add(time.Hour))
			if !slices.Equal(got, tt.want) {
				t.Fatalf("sends %v, want %v", got, tt.want)
			}
			if n := clk.live(); n != 0 {
				t.Fatalf("%d timers left armed", n)
			}
		})
	}
}

// During a storm (after a trailing send) the window is the clients the send reached times
// perClient, when that is more than the window: a storm costs the process a bounded share of
// CPU however many clients listen. A leading send keeps the plain window.
func TestHintCoalescerWindowGrowsWithClients(t *testing.T) {
	const ms = time.Millisecond
	storm := func(until time.Duration) []time.Duration {
		var at []time.Duration
		for d := time.Duration(0); d <= until; d += ms {
			at = append(at, d)
		}
		return at
	}
	tests := []struct {
		name    string
		clients []int // reached by each send in turn (the last repeats)
		hints   []time.Duration
		want    []time.Duration
	}{
		{"FewClientsKeepTheWindow", []int{50}, storm(999 * ms),
			[]time.Duration{0, 100 * ms, 200 * ms, 300 * ms, 400 * ms, 500 * ms, 600 * ms, 700 * ms, 800 * ms, 900 * ms, 1000 * ms}},
		{"ManyClientsWidenItInAStorm", []int{250}, storm(999 * ms),
			[]time.Duration{0, 100 * ms, 350 * ms, 600 * ms, 850 * ms, 1100 * ms}},
		{"AnIsolatedHintStillLeavesAtOnce", []int{250}, []time.Duration{0, 300 * ms, 700 * ms},
			[]time.Duration{0, 300 * ms, 700 * ms}},
		{"HintsAWindowApartAreNeverHeld", []int{250}, []time.Duration{0, 100 * ms, 210 * ms, 320 * ms},
			[]time.Duration{0, 100 * ms, 210 * ms, 320 * ms}},
		{"EachTrailingSendSizesTheNextWindow", []int{50, 400, 120, 50}, storm(700 * ms),
			[]time.Duration{0, 100 * ms, 500 * ms, 620 * ms, 720 * ms}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
			clk := &fakeClock{now: start}
			var got []time.Duration
			h := newHintCoalescer(100*ms, ms, clk, func(string) int {
				got = append(got, clk.now.Sub(start))
				return tt.clients[min(len(got), len(tt.clients))-1]
			})
			for _, at := range tt.hints {
				clk.advanceTo(start.Add(at))
				h.hint("")
			}
			clk.advanceTo(start.Add(time.Hour))
			if !slices.Equal(got, tt.want) {
				t.Fatalf("sends at %v, want %v", got, tt.want)
			}
		})
	}
}

// Close stops an armed trailing timer rather than letting it fire into closed clients.
func TestHintCoalescerCloseStopsItsTimer(t *testing.T) {
	clk := &fakeClock{now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	sends := 0
	h := newHintCoalescer(time.Second, 0, clk, func(string) int { sends++; return 1 })
	h.hint("")
	h.hint("")
	if clk.live() != 1 {
		t.Fatalf("%d timers armed after a merged hint, want 1", clk.live())
	}
	h.close()
	if clk.live() != 0 {
		t.Fatal("close left the trailing timer armed")
	}
	h.hint("")
	clk.advanceTo(clk.Now().Add(time.Hour))
	if sends != 1 {
		t.Fatalf("%d sends, want only the leading one", sends)
	}
}
