package accounts

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// Params are argon2id's costs and sizes, as the PHC string records them.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over the memory
	Threads uint8
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// MinParams is OWASP's minimum for argon2id (Password Storage Cheat Sheet): 19 MiB, 2 passes,
// one thread, with a 16-byte salt and a 32-byte key. A Hasher never hashes below it, and Verify
// refuses a stored hash below it: such a hash was not written by us.
var MinParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// maxParams bound what Verify will spend on a stored hash, so that a corrupt or planted row
// cannot make one sign-in allocate gigabytes or run for minutes.
var maxParams = Params{Memory: 1 << 20, Time: 16, Threads: 16, SaltLen: 64, KeyLen: 64}

// ErrMalformedHash is wrapped by Verify's error for a stored hash it cannot read or will not
// trust. That is a fault of the store, not of the person signing in.
var ErrMalformedHash = errors.New("malformed password hash")

// derivation is argon2.IDKey's shape, so that tests can count the work done.
type derivation func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte

// Hasher hashes and verifies passwords with argon2id. Each computation holds Memory KiB for its
// duration, so at most a fixed number run at once: a burst of sign-ins waits rather than
// exhausting the process's memory.
type Hasher struct {
	params Params
	slots  chan struct{}
	// waiting counts the callers queued for a slot: the sign of a burst, for a gauge once
	// sign-in is wired, and what the tests watch to see the bound hold.
	waiting atomic.Int32
	derive  derivation
	// unknown is a real hash of a random password, verified against when the account does not
	// exist, so that an unknown handle costs what a wrong password costs.
	unknown string
}

// NewHasher returns a Hasher that writes hashes with params (at least MinParams) and runs at
// most concurrent argon2id computations at once (runtime.GOMAXPROCS(0)*2 is a fair choice: the
// CPUs stay busy and memory stays below concurrent × params.Memory).
func NewHasher(params Params, concurrent int) (*Hasher, error) {
	if err := params.check(); err != nil {
		return nil, fmt.Errorf("argon2id parameters: %w", err)
	}
	if concurrent < 1 {
		return nil, fmt.Errorf("argon2id concurrency %d: must be at least 1", concurrent)
	}
	h := &Hasher{params: params, slots: make(chan struct{}, concurrent), derive: argon2.IDKey}
	unknown, err := h.Hash(context.Background(), rand.Text())
	if err != nil {
		return nil, err
	}
	h.unknown = unknown
	return h, nil
}

// Hash returns the PHC string of password under a fresh salt:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>, both in unpadded standard base64. The password
// is hashed in NFC, as CheckPassword counts it, so that the same characters typed on another
// keyboard still match. It fails for a password longer than CheckPassword allows, and when
// ctx ends while it waits for a free slot.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if len(password) > maxPasswordBytes {
		return "", fmt.Errorf("hash password: %d bytes, longer than CheckPassword allows", len(password))
	}
	salt := make([]byte, h.params.SaltLen)
	rand.Read(salt) // never fails: crypto/rand ends the program rather than return an error.
	key, err := h.compute(ctx, h.params, salt, password)
	if err != nil {
		return "", err
	}
	return encodePHC(h.params, salt, key), nil
}

// Verify reports whether password matches the PHC string encoded, comparing in constant time.
// An encoding that is malformed, not argon2id version 19, weaker than MinParams or beyond sane
// bounds is an error wrapping ErrMalformedHash; ctx ending while it waits for a slot is ctx's
// error. A password longer than CheckPassword allows is false at once: it cannot have been set.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (bool, error) {
	p, salt, key, err := parsePHC(encoded)
	if err != nil {
		return false, err
	}
	if len(password) > maxPasswordBytes {
		return false, nil // CheckPassword let no such password be set; a megabyte costs nothing
	}
	got, err := h.compute(ctx, p, salt, password)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// VerifyUnknown does the work of a Verify that fails, for a sign-in to an account that does not
// exist (or has no password), so that its answer takes as long as a wrong password's and does
// not tell which handles exist. Its error is only ctx's.
func (h *Hasher) VerifyUnknown(ctx context.Context, password string) error {
	_, err := h.Verify(ctx, h.unknown, password)
	return err
}

// compute runs argon2id once a slot is free. A free slot is taken at once whatever ctx says:
// what matters is that a caller left waiting can leave.
func (h *Hasher) compute(ctx context.Context, p Params, salt []byte, password string) ([]byte, error) {
	select {
	case h.slots <- struct{}{}:
	default:
		h.waiting.Add(1)
		select {
		case h.slots <- struct{}{}:
			h.waiting.Add(-1)
		case <-ctx.Done():
			h.waiting.Add(-1)
			return nil, fmt.Errorf("hash password: waiting for a free slot: %w", ctx.Err())
		}
	}
	defer func() { <-h.slots }()
	return h.derive([]byte(norm.NFC.String(password)), salt, p.Time, p.Memory, p.Threads, p.KeyLen), nil
}

func (p Params) check() error {
	switch {
	case p.Memory < MinParams.Memory || p.Time < MinParams.Time || p.Threads < MinParams.Threads ||
		p.SaltLen < MinParams.SaltLen || p.KeyLen < MinParams.KeyLen:
		return fmt.Errorf("%s is below the minimum %s", p, MinParams)
	case p.Memory > maxParams.Memory || p.Time > maxParams.Time || p.Threads > maxParams.Threads ||
		p.SaltLen > maxParams.SaltLen || p.KeyLen > maxParams.KeyLen:
		return fmt.Errorf("%s is beyond the maximum %s", p, maxParams)
	}
	return nil
}

func (p Params) String() string {
	return fmt.Sprintf("m=%d KiB, t=%d, p=%d, salt %d B, key %d B", p.Memory, p.Time, p.Threads, p.SaltLen, p.KeyLen)
}

var b64 = base64.RawStdEncoding.Strict()

func encodePHC(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// parsePHC reads an argon2id PHC string. Only the canonical form is accepted (the one
// encodePHC writes: no leading zeros, no optional fields, no padding), so one hash has one
// spelling and the parser stays small.
func parsePHC(s string) (p Params, salt, key []byte, err error) {
	malformed := func(why string) error { return fmt.Errorf("%w: %s", ErrMalformedHash, why) }
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return p, nil, nil, malformed("not $argon2id$v=…$m=…,t=…,p=…$salt$key")
	}
	if parts[1] != "argon2id" {
		return p, nil, nil, malformed(fmt.Sprintf("algorithm %.20q, not argon2id", parts[1]))
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, malformed(fmt.Sprintf("version %.20q, not v=%d", parts[2], argon2.Version))
	}
	var m, t, threads uint64
	costs := strings.Split(parts[3], ",")
	if len(costs) != 3 {
		return p, nil, nil, malformed("costs are not m=…,t=…,p=…")
	}
	for i, c := range []struct {
		name string
		v    *uint64
		bits int
	}{{"m=", &m, 32}, {"t=", &t, 32}, {"p=", &threads, 8}} {
		digits, ok := strings.CutPrefix(costs[i], c.name)
		if !ok {
			return p, nil, nil, malformed(fmt.Sprintf("cost %.20q is not %sN", costs[i], c.name))
		}
		if *c.v, err = strconv.ParseUint(digits, 10, c.bits); err != nil {
			return p, nil, nil, malformed(fmt.Sprintf("cost %.20q is out of range", costs[i]))
		}
	}
	if salt, err = b64.DecodeString(parts[4]); err != nil {
		return p, nil, nil, malformed("salt is not unpadded base64")
	}
	if key, err = b64.DecodeString(parts[5]); err != nil {
		return p, nil, nil, malformed("key is not unpadded base64")
	}
	p = Params{Memory: uint32(m), Time: uint32(t), Threads: uint8(threads), SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))}
	if err := p.check(); err != nil {
		return p, nil, nil, fmt.Errorf("%w: %w", ErrMalformedHash, err)
	}
	// Leading zeros, and the line breaks base64 decoding skips, pass the steps above.
	if encodePHC(p, salt, key) != s {
		return p, nil, nil, malformed("not in canonical form")
	}
	return p, salt, key, nil
}
