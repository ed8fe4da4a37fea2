package ratelimit_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend/ratelimit"
)

// clock is a time the test moves by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestAllow(t *testing.T) {
	type step struct {
		after  time.Duration // the clock moves this much first
		client string
		ok     bool
		wait   time.Duration // when refused
	}
	tests := []struct {
		name             string
		perMinute, burst int
		steps            []step
	}{
		{"BurstThenRefused", 30, 3, []step{
			{0, "a", true, 0}, {0, "a", true, 0}, {0, "a", true, 0},
			{0, "a", false, 2 * time.Second}, // 30 a minute: one token every 2 s
		}},
		{"RefusalCostsNothing", 30, 1, []step{
			{0, "a", true, 0},
			{0, "a", false, 2 * time.Second},
			{time.Second, "a", false, time.Second},
			{time.Second, "a", true, 0},
		}},
		{"TokensComeBackAtTheRate", 60, 2, []step{
			{0, "a", true, 0}, {0, "a", true, 0}, {0, "a", false, time.Second},
			{time.Second, "a", true, 0}, {0, "a", false, time.Second},
		}},
		{"ClientsAreApart", 30, 1, []step{
			{0, "a", true, 0}, {0, "a", false, 2 * time.Second}, {0, "b", true, 0}, {0, "b", false, 2 * time.Second},
		}},
		{"NeverMoreThanTheBurst", 60, 2, []step{
			{0, "a", true, 0}, {time.Hour, "a", true, 0}, {0, "a", true, 0}, {0, "a", false, time.Second},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{t: time.Unix(1_000_000, 0)}
			l := ratelimit.NewForTest(tt.perMinute, tt.burst, 100, c.now)
			for i, s := range tt.steps {
				c.advance(s.after)
				ok, wait := l.Allow(s.client)
				if ok != s.ok || wait != s.wait {
					t.Fatalf("step %d (%s): Allow = %v, %v; want %v, %v", i, s.client, ok, wait, s.ok, s.wait)
				}
			}
		})
	}
}

func TestOff(t *testing.T) {
	for _, c := range []struct{ perMinute, burst int }{{0, 10}, {30, 0}, {0, 0}} {
		l := ratelimit.New(c.perMinute, c.burst)
		for i := range 1000 {
			if ok, _ := l.Allow("a"); !ok {
				t.Fatalf("%+v: refused request %d", c, i)
			}
		}
		if l.PerMinute() != 0 || l.Burst() != 0 || l.Clients() != 0 {
			t.Fatalf("%+v: an off limit reports %d/min burst %d, %d clients", c, l.PerMinute(), l.Burst(), l.Clients())
		}
	}
}

func TestIdleClientsAreForgotten(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	l := ratelimit.NewForTest(30, 10, 1000, c.now) // full again 20 s after emptied
	for i := range 500 {
		l.Allow(fmt.Sprint("client", i))
	}
	c.advance(10 * time.Second)
	for range 10 {
		l.Allow("late") // empty now: full again at 30 s
	}
	if n := l.Clients(); n != 501 {
		t.Fatalf("%d clients after 10 s, want all 501 (none is full again)", n)
	}
	c.advance(19 * time.Second) // the early ones have been full since 2 s after their request
	l.Allow("now")
	if n := l.Clients(); n != 2 {
		t.Fatalf("%d clients after 30 s, want 2 (late, now)", n)
	}
	// A client refused a moment ago is not forgotten: its empty bucket still counts.
	for range 11 {
		l.Allow("busy")
	}
	c.advance(21 * time.Second)
	if ok, _ := l.Allow("busy"); !ok {
		t.Fatal("busy refused after its bucket filled again")
	}
}

func TestCeiling(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	l := ratelimit.NewForTest(30, 10, 100, c.now)
	for i := range 1000 {
		l.Allow(fmt.Sprint("client", i))
	}
	if n := l.Clients(); n != 100 {
		t.Fatalf("%d clients kept, want the ceiling of 100", n)
	}
}

// TestSprayedAddressesAreForgotten is the memory figure: a client spraying addresses (here
// 200 000 IPv4 and IPv6 /64 keys, all within one refill period) costs a bounded number of
// bytes per bucket, and once they have gone idle a later request sweeps them all away.
func TestSprayedAddressesAreForgotten(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates ~40 MB")
	}
	const n = 200_000
	c := &clock{t: time.Unix(1_000_000, 0)}
	l := ratelimit.NewForTest(30, 10, n, c.now)
	before := heap()
	for i := range n {
		// Keys as clientaddr.Key makes them, kept by the Limiter as its map's keys.
		if i%2 == 0 {
			l.Allow(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
		} else {
			l.Allow(fmt.Sprintf("2001:db8:%x:%x::/64", i>>16, i&0xffff))
		}
	}
	after := heap()
	if got := l.Clients(); got != n {
		t.Fatalf("%d buckets, want %d", got, n)
	}
	perBucket := float64(after-before) / n
	t.Logf("%d buckets: %.0f heap bytes each, key and map entry included", n, perBucket)
	if perBucket > 400 {
		t.Errorf("%.0f bytes a bucket: more than 400", perBucket)
	}
	c.advance(21 * time.Second) // every bucket is full again
	l.Allow("10.255.255.255")
	if got := l.Clients(); got != 1 {
		t.Fatalf("%d buckets after the spray went idle, want 1", got)
	}
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkAllow is the cost of one write's check: for a known client, and for a new address
// each time (a sprayer), sweeps and evictions at the ceiling included.
func BenchmarkAllow(b *testing.B) {
	b.Run("OneClient", func(b *testing.B) {
		l := ratelimit.New(1<<30, 1<<30)
		for b.Loop() {
			l.Allow("203.0.113.1")
		}
	})
	b.Run("Sprayed", func(b *testing.B) {
		l := ratelimit.New(30, 10)
		keys := make([]string, 1<<20)
		for i := range keys {
			keys[i] = fmt.Sprintf("2001:db8:%x:%x::/64", i>>16, i&0xffff)
		}
		i := 0
		for b.Loop() {
			l.Allow(keys[i&(len(keys)-1)])
			i++
		}
		b.ReportMetric(float64(l.Clients()), "buckets")
	})
}

// 20 an hour is one token every 3 minutes: a rate no whole number a minute can say.
func TestPerHour(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	l := ratelimit.NewPerHourForTest(20, 2, c.now)
	for i := range 2 {
		if ok, _ := l.Allow("alice"); !ok {
			t.Fatalf("attempt %d of the burst refused", i)
		}
	}
	if ok, wait := l.Allow("alice"); ok || wait != 3*time.Minute {
		t.Fatalf("past the burst: Allow = %v, %v; want refused for 3m", ok, wait)
	}
	c.advance(3 * time.Minute)
	if ok, _ := l.Allow("alice"); !ok {
		t.Fatal("refused after 3 minutes")
	}
	if l.PerHour() != 20 || l.Burst() != 2 {
		t.Fatalf("reports %d/h burst %d", l.PerHour(), l.Burst())
	}
	if off := ratelimit.NewPerHour(0, 10); off.PerHour() != 0 {
		t.Fatal("0 an hour is not off")
	}
}
