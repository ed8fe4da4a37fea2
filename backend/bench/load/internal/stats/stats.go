// Package stats summarizes what a load run measured: latencies in milliseconds and plain
// numbers (events, events per second, seconds), with nearest-rank percentiles so that every
// figure reported is one that was measured.
package stats

import (
	"math"
	"slices"
	"time"
)

// Latency summarizes durations; the JSON names carry the unit the comparison scripts read.
type Latency struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
}

// Dist summarizes plain numbers; the unit is in the name of the field that holds it. Min and
// P1 matter here: the listener that heard the fewest events is the one a storm hurt.
type Dist struct {
	Count int     `json:"count"`
	Min   float64 `json:"min"`
	P1    float64 `json:"p1"`
	P50   float64 `json:"p50"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
	Mean  float64 `json:"mean"`
}

// Rank is the index of the p-th percentile (0 < p ≤ 1) in n sorted values, by nearest rank:
// the smallest value with at least p of the values at or below it.
func Rank(n int, p float64) int {
	i := int(math.Ceil(p*float64(n))) - 1
	return min(max(i, 0), n-1)
}

// Ms is d in milliseconds, to the microsecond.
func Ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Round3 rounds to three decimals, so the JSON does not pretend to more precision than a
// clock read on a busy machine has.
func Round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// Latencies summarizes d, which it sorts in place.
func Latencies(d []time.Duration) Latency {
	s := Latency{Count: len(d)}
	if len(d) == 0 {
		return s
	}
	slices.Sort(d)
	var sum time.Duration
	for _, v := range d {
		sum += v
	}
	at := func(p float64) float64 { return Ms(d[Rank(len(d), p)]) }
	s.P50, s.P95, s.P99 = at(0.50), at(0.95), at(0.99)
	s.Max = Ms(d[len(d)-1])
	s.Mean = Ms(sum / time.Duration(len(d)))
	return s
}

// Numbers summarizes v, which it sorts in place.
func Numbers(v []float64) Dist {
	s := Dist{Count: len(v)}
	if len(v) == 0 {
		return s
	}
	slices.Sort(v)
	var sum float64
	for _, x := range v {
		sum += x
	}
	at := func(p float64) float64 { return Round3(v[Rank(len(v), p)]) }
	s.Min, s.P1, s.P50, s.P99, s.Max = Round3(v[0]), at(0.01), at(0.50), at(0.99), Round3(v[len(v)-1])
	s.Mean = Round3(sum / float64(len(v)))
	return s
}
