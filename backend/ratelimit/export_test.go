package ratelimit

import "time"

// NewForTest is New with a ceiling and a clock of the test's choosing.
func NewForTest(perMinute, burst, maxClients int, now func() time.Time) *Limiter {
	return newLimiter(perMinute, burst, maxClients, now)
}
