package realtime

import (
	"fmt"
	"testing"
	"time"
)

func TestRelayLimiter(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name    string
		at      []time.Duration // when each newTweet arrives
		relayed []bool
		reports []int // what allow says to log
	}{
		{"FirstRelayedAtOnce", []time.Duration{0}, []bool{true}, []int{0}},
		{"BurstRelayedOnce",
			[]time.Duration{0, 0, 0, 1 * ms, 999 * ms},
			[]bool{true, false, false, false, false},
			[]int{0, 1, 0, 0, 0}},
		{"OneASecondLeadingEdge",
			[]time.Duration{0, 500 * ms, 1000 * ms, 1500 * ms, 2200 * ms, 2300 * ms},
			[]bool{true, false, true, false, true, false},
			[]int{0, 1, 0, 0, 0, 0}},
		{"IntervalRunsFromTheLastRelayNotTheLastDrop",
			[]time.Duration{0, 900 * ms, 1000 * ms, 1900 * ms, 2000 * ms},
			[]bool{true, false, true, false, true},
			[]int{0, 1, 0, 0, 0}},
		{"DropsReportedAtMostOnceAMinute",
			[]time.Duration{0, 1 * ms, 2 * ms, 30 * time.Second, 30*time.Second + ms, 60*time.Second + ms, 60*time.Second + 2*ms, 60*time.Second + 3*ms},
			[]bool{true, false, false, true, false, true, false, false},
			[]int{0, 1, 0, 0, 0, 0, 3, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
			now := start
			l := newRelayLimiter(time.Second, time.Minute, func() time.Time { return now })
			var relayed []bool
			var reports []int
			for _, at := range tt.at {
				now = start.Add(at)
				r, n := l.allow()
				relayed = append(relayed, r)
				reports = append(reports, n)
			}
			if fmt.Sprint(relayed) != fmt.Sprint(tt.relayed) || fmt.Sprint(reports) != fmt.Sprint(tt.reports) {
				t.Fatalf("relayed %v, reports %v; want %v, %v", relayed, reports, tt.relayed, tt.reports)
			}
		})
	}
}
