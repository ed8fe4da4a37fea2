package ratelimit

import "time"

// NewForTest is New with a ceiling and a clock of the test's choosing.
func NewForTest(perMinute, burst, maxClients int, now func() time.Time) *Limiter {
	return newLimiter(perMinute, time.Minute, burst, maxClients, now)
}

// NewPerHourForTest is NewPerHour with a clock of the test's choosing.
func NewPerHourForTest(perHour, burst int, now func() time.Time) *Limiter {
	return newLimiter(perHour, time.Hour, burst, DefaultMaxClients, now)
}

// Clients is how many buckets the Limiter keeps.
func (l *Limiter) Clients() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
