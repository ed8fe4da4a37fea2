package chirp

import (
	"context"
	"time"
)

// CeremonyLifetime is how long a WebAuthn ceremony may take, from its options to its answer.
// The browser's own timeout is shorter; the rest is slack for a slow network.
const CeremonyLifetime = 5 * time.Minute

// Ceremony is a WebAuthn ceremony begun and not finished: what the server must remember
// between the options it sent and the credential the page sends back. It is kept in the
// database, not in a process's memory, so that the answer may reach any process.
type Ceremony struct {
	// Purpose names the ceremony ("signup", "signin", "add"): an id given for one is never
	// good for another.
	Purpose string
	// AccountID is the account a passkey is being added to; 0 for a sign-up or a sign-in.
	AccountID int64
	// State is what the relying party needs to finish (the WebAuthn library's session data
	// and, for a sign-up, the handle asked for), serialised by it: opaque here.
	State     []byte
	ExpiresAt time.Time
}

// CeremonyStore keeps ceremonies under the SHA-256 of their id: the id itself, which the
// client holds, is never stored.
type CeremonyStore interface {
	// SaveCeremony stores a ceremony under the hash of its id.
	SaveCeremony(ctx context.Context, idHash []byte, c Ceremony) error
	// TakeCeremony finds the ceremony and deletes it, in one step, so that it is used at most
	// once, however many answers race for it; CeremonyOver when there is none, or it had
	// expired as of now.
	TakeCeremony(ctx context.Context, idHash []byte, now time.Time) (Ceremony, error)
}

// CeremonyOver is the error for a ceremony id that is unknown, used already or expired.
func CeremonyOver() *Error {
	return Errorf(CodeBadRequest, "this passkey ceremony is over (used, expired after %v, or unknown): start again",
		CeremonyLifetime)
}
