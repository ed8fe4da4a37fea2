package eventbus

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Channel is the one channel every process LISTENs on.
const Channel = "chirp_events"

// Kind names what a notice announces.
type Kind string

// The kinds of notice. The first three are committed writes, sent from inside their
// transaction; a relay is a client's newTweet, sent by the process the client is connected to;
// a heartbeat is a quiet listener's check that it still hears the bus (every process hears it,
// and it only counts as something heard).
const (
	Created   Kind = "created"
	Updated   Kind = "updated"
	Deleted   Kind = "deleted"
	Relay     Kind = "relay"
	Heartbeat Kind = "beat"
)

// Notice is one notification's payload: tens of bytes, far below NOTIFY's 8,000.
type Notice struct {
	Kind Kind `json:"k"`
	// ID is the tweet's id; for Created, the highest id of the create batch.
	ID int64 `json:"id,omitempty"`
	// Origin is the process that sent it: a process ignores its own notices, having delivered
	// them itself.
	Origin string `json:"o"`
	// Conn is the relaying connection, on a Relay.
	Conn string `json:"c,omitempty"`
}

// maxPayload is NOTIFY's limit on a payload.
const maxPayload = 8000

func (n Notice) encode() string {
	b, _ := json.Marshal(n) // a struct of strings and an int: never fails
	return string(b)
}

// decodeNotice reads a payload, refusing what no Chirp process sends: the channel is open to
// anyone who can connect to the database.
func decodeNotice(payload string) (Notice, error) {
	var n Notice
	if len(payload) > maxPayload {
		return n, errors.New("payload over 8000 bytes")
	}
	if err := json.Unmarshal([]byte(payload), &n); err != nil {
		return n, fmt.Errorf("payload: %w", err)
	}
	switch {
	case n.Origin == "":
		return n, errors.New("payload without an origin")
	case n.Kind == Relay, n.Kind == Heartbeat:
	case n.Kind == Created, n.Kind == Updated, n.Kind == Deleted:
		if n.ID <= 0 {
			return n, fmt.Errorf("%s notice without a tweet id", n.Kind)
		}
	default:
		return n, fmt.Errorf("unknown kind %q", n.Kind)
	}
	return n, nil
}
