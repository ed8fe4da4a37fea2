package accounts

// Derive is argon2.IDKey's shape, for tests that watch or hold a Hasher's computations.
type Derive = derivation

// WrapDerive replaces h's argon2id computation with wrap(the current one). Call it before h is
// shared between goroutines.
func WrapDerive(h *Hasher, wrap func(next Derive) Derive) { h.derive = wrap(h.derive) }

// Waiting is how many callers wait for one of h's slots.
func Waiting(h *Hasher) int { return int(h.waiting.Load()) }

// UnknownHash is the hash VerifyUnknown checks against.
func UnknownHash(h *Hasher) string { return h.unknown }

// ParsePHC and EncodePHC are the PHC string's reader and writer.
var (
	ParsePHC  = parsePHC
	EncodePHC = encodePHC
)

// ReservedHandles lists the handles no account may take.
func ReservedHandles() []Handle {
	hs := make([]Handle, 0, len(reservedHandles))
	for h := range reservedHandles {
		hs = append(hs, h)
	}
	return hs
}

// CommonPasswordsText is the embedded list, one password a line.
var CommonPasswordsText = commonPasswordsText
