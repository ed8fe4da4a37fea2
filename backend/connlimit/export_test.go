package connlimit

// Stats is a snapshot of the counts, as a struct a test can print.
type Stats struct {
	Open       int // connections open, idle ones included
	Idle       int // kept-alive connections waiting for a request
	IdleClosed int // idle connections closed to make room, since start
}

// Stats returns the counts now.
func (l *Limiter) Stats() Stats {
	open, idle, closed := l.Counts()
	return Stats{Open: open, Idle: idle, IdleClosed: int(closed)}
}
