// Package proc reads what Linux says about a process (the server under test, or this tool):
// its memory, its CPU time and its open-file limit. Pid 0 means this process. A figure that
// cannot be read is -1, so a report shows it was not measured rather than a zero.
package proc

import (
	"os"
	"strconv"
	"strings"
)

// Memory is a process's resident set and its peak, in KiB (VmRSS and VmHWM).
type Memory struct {
	RSSKiB, HWMKiB int64
}

func path(pid int, file string) string {
	if pid <= 0 {
		return "/proc/self/" + file
	}
	return "/proc/" + strconv.Itoa(pid) + "/" + file
}

// ReadMemory reads /proc/PID/status.
func ReadMemory(pid int) Memory {
	b, err := os.ReadFile(path(pid, "status"))
	if err != nil {
		return Memory{-1, -1}
	}
	return parseStatus(string(b))
}

// ReadCPUSeconds is the process's user plus system time, all threads, in seconds.
func ReadCPUSeconds(pid int) float64 {
	b, err := os.ReadFile(path(pid, "stat"))
	if err != nil {
		return -1
	}
	return parseStat(string(b))
}

// ReadOpenFileLimit is the soft limit on open files of a process; 0 when unknown.
func ReadOpenFileLimit(pid int) uint64 {
	b, err := os.ReadFile(path(pid, "limits"))
	if err != nil {
		return 0
	}
	return parseLimits(string(b))
}

func parseStatus(s string) Memory {
	m := Memory{-1, -1}
	for _, line := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			m.RSSKiB = firstInt(v)
		} else if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			m.HWMKiB = firstInt(v)
		}
	}
	return m
}

func firstInt(s string) int64 {
	f := strings.Fields(s)
	if len(f) == 0 {
		return -1
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// userHZ is the unit of /proc/PID/stat's times; 100 on every Linux this runs on.
const userHZ = 100

// parseStat reads utime and stime (fields 14 and 15). The command name (field 2) may hold
// spaces and parentheses, so the fields are counted from its closing parenthesis.
func parseStat(s string) float64 {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3, the state
	if len(f) < 13 {
		return -1
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return (ut + st) / userHZ
}

func parseLimits(s string) uint64 {
	for _, line := range strings.Split(s, "\n") {
		// "Max open files            20000                20000                files"
		if rest, ok := strings.CutPrefix(line, "Max open files"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				n, _ := strconv.ParseUint(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}
