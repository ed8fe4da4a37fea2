package stats_test

import (
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend/bench/load/internal/stats"
)

func TestRank(t *testing.T) {
	cases := []struct {
		name string
		n    int
		p    float64
		want int
	}{
		{"OneValue", 1, 0.99, 0},
		{"MedianOfTwoIsTheFirst", 2, 0.50, 0},
		{"MedianOfThree", 3, 0.50, 1},
		{"P99OfHundredIsTheNinetyNinth", 100, 0.99, 98},
		{"P99OfThousandOne", 1001, 0.99, 990},
		{"P1OfHundred", 100, 0.01, 0},
		{"MaxNeverPastTheEnd", 10, 1, 9},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := stats.Rank(c.n, c.p); got != c.want {
				t.Errorf("Rank(%d, %v) = %d, want %d", c.n, c.p, got, c.want)
			}
		})
	}
}

func TestLatencies(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		d := make([]time.Duration, len(v))
		for i, x := range v {
			d[i] = time.Duration(x) * time.Millisecond
		}
		return d
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // unsorted on purpose
	}
	cases := []struct {
		name string
		in   []time.Duration
		want stats.Latency
	}{
		{"Empty", nil, stats.Latency{}},
		{"One", ms(7), stats.Latency{Count: 1, P50: 7, P95: 7, P99: 7, Max: 7, Mean: 7}},
		{"Unsorted", ms(30, 10, 20), stats.Latency{Count: 3, P50: 20, P95: 30, P99: 30, Max: 30, Mean: 20}},
		{"Hundred", ms(hundred...), stats.Latency{Count: 100, P50: 50, P95: 95, P99: 99, Max: 100, Mean: 50.5}},
		{"Microseconds", []time.Duration{1500 * time.Microsecond}, stats.Latency{Count: 1, P50: 1.5, P95: 1.5, P99: 1.5, Max: 1.5, Mean: 1.5}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := stats.Latencies(c.in); got != c.want {
				t.Errorf("Latencies = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestNumbers(t *testing.T) {
	cases := []struct {
		name string
		in   []float64
		want stats.Dist
	}{
		{"Empty", nil, stats.Dist{}},
		{"One", []float64{4}, stats.Dist{Count: 1, Min: 4, P1: 4, P50: 4, P99: 4, Max: 4, Mean: 4}},
		{"MinIsTheFewest", []float64{10, 3, 10, 10}, stats.Dist{Count: 4, Min: 3, P1: 3, P50: 10, P99: 10, Max: 10, Mean: 8.25}},
		{"RoundedToThreeDecimals", []float64{1.23456, 2.0004}, stats.Dist{Count: 2, Min: 1.235, P1: 1.235, P50: 1.235, P99: 2, Max: 2, Mean: 1.617}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := stats.Numbers(c.in); got != c.want {
				t.Errorf("Numbers = %+v, want %+v", got, c.want)
			}
		})
	}
}
