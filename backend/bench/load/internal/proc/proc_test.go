package proc

import (
	"os"
	"testing"
)

func TestParseStatus(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want Memory
	}{
		{"Both", "Name:\tchirp\nVmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\nThreads:\t9\n", Memory{40960, 51200}},
		{"KernelThreadHasNone", "Name:\tkthreadd\nThreads:\t1\n", Memory{-1, -1}},
		{"Garbled", "VmRSS:\tlots kB\n", Memory{-1, -1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := parseStatus(c.in); got != c.want {
				t.Errorf("parseStatus = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestParseStat(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want float64
	}{
		{"Plain", "42 (chirp) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 1 1 1", 3},
		{"NameWithSpacesAndParens", "42 (a (b) c) R 1 42 42 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 1 1 1", 0.1},
		{"Truncated", "42 (chirp) S 1 42", -1},
		{"NoName", "garbage", -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := parseStat(c.in); got != c.want {
				t.Errorf("parseStat = %v, want %v", got, c.want)
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want uint64
	}{
		{"Set", "Limit                     Soft Limit           Hard Limit           Units\nMax open files            20000                524288               files\n", 20000},
		{"Unlimited", "Max open files            unlimited            unlimited            files\n", 0},
		{"Missing", "Max processes             100                  100                  processes\n", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := parseLimits(c.in); got != c.want {
				t.Errorf("parseLimits = %v, want %v", got, c.want)
			}
		})
	}
}

// The readers against this very process: the files exist and parse (the tool runs on Linux only).
func TestReadSelf(t *testing.T) {
	if m := ReadMemory(0); m.RSSKiB <= 0 || m.HWMKiB < m.RSSKiB {
		t.Errorf("ReadMemory(self) = %+v, want a positive RSS at most the peak", m)
	}
	if s := ReadCPUSeconds(os.Getpid()); s < 0 {
		t.Errorf("ReadCPUSeconds(self) = %v", s)
	}
	if n := ReadOpenFileLimit(0); n == 0 {
		t.Errorf("ReadOpenFileLimit(self) = 0")
	}
	if m := ReadMemory(1 << 30); m.RSSKiB != -1 {
		t.Errorf("ReadMemory(no such pid) = %+v, want -1", m)
	}
}
