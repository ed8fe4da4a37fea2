package eventbus

// Stats are the bus's counters since start.
type Stats struct {
	Up bool
	// Received counts the notices heard from other processes and delivered; Ignored this
	// process's own; Malformed those no Chirp process sends.
	Received, Ignored, Malformed int64
	// Published counts the notices this process made: writes (sent if their transaction
	// commits) and relays; RelaysDropped the relays a full queue or a failed publication lost.
	Published, RelaysDropped int64
}

// Stats returns the bus's counters.
func (b *Bus) Stats() Stats {
	return Stats{
		Up:       b.Ready() == nil,
		Received: b.received.Load(), Ignored: b.ignored.Load(), Malformed: b.malformed.Load(),
		Published: b.published.Load(), RelaysDropped: b.relaysDropped.Load(),
	}
}

// Origin is this process's name on the bus.
func (b *Bus) Origin() string { return b.origin }

// ApplicationName is the listener connection's application_name, by which a test finds the
// listener in pg_stat_activity.
func (b *Bus) ApplicationName() string { return b.applicationName() }
