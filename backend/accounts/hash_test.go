package accounts_test

import (
	"context"
	"encoding/base64"
	"errors"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chirp-social/chirp/backend/accounts"
	"github.com/chirp-social/chirp/backend/internal/testkit"
	"golang.org/x/crypto/argon2"
)

func newHasher(t testing.TB, concurrent int) *accounts.Hasher {
	t.Helper()
	h, err := accounts.NewHasher(accounts.MinParams, concurrent)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

var phcForm = regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHashAndVerify(t *testing.T) {
	ctx := context.Background()
	h := newHasher(t, 2)
	const password = "correct horse battery staple"
	encoded, err := h.Hash(ctx, password)
	if err != nil {
		t.Fatal(err)
	}
	if !phcForm.MatchString(encoded) {
		t.Fatalf("Hash = %q, not the PHC string of OWASP's minimum", encoded)
	}

	t.Run("IsArgon2idOfTheSaltAndPassword", func(t *testing.T) {
		// Decoded by hand, so a salt and key swapped or mis-encoded by both sides is caught.
		parts := strings.Split(encoded, "$")
		salt, _ := base64.RawStdEncoding.DecodeString(parts[4])
		key, _ := base64.RawStdEncoding.DecodeString(parts[5])
		if want := argon2.IDKey([]byte(password), salt, 2, 19456, 1, 32); string(key) != string(want) {
			t.Fatal("the key is not argon2id(password, salt, t=2, m=19456, p=1)")
		}
	})
	for _, c := range []struct {
		name, password string
		want           bool
	}{
		{"Right", password, true},
		{"Wrong", "correct horse battery stapler", false},
		{"OtherCase", "Correct horse battery staple", false},
		{"Empty", "", false},
		{"Huge", strings.Repeat("x", 1<<20), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := h.Verify(ctx, encoded, c.password)
			if err != nil || got != c.want {
				t.Fatalf("Verify(%q) = %v, %v; want %v", c.password, got, err, c.want)
			}
		})
	}
	t.Run("HugeIsNotHashed", func(t *testing.T) {
		if got, err := h.Hash(ctx, strings.Repeat("x", 1<<20)); err == nil {
			t.Fatalf("Hash(1 MB) = %q, want an error: CheckPassword refuses it", got)
		}
	})
	t.Run("FreshSaltEachTime", func(t *testing.T) {
		again, err := h.Hash(ctx, password)
		if err != nil || again == encoded {
			t.Fatalf("a second Hash = %q, %v: want another salt", again, err)
		}
	})
}

func TestVerifyMatchesAnyNormalisation(t *testing.T) {
	ctx := context.Background()
	h := newHasher(t, 1)
	encoded, err := h.Hash(ctx, "caf\u00e9 au lait") // é precomposed, as most keyboards type it
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := h.Verify(ctx, encoded, "cafe\u0301 au lait"); !ok || err != nil {
		t.Fatalf("Verify with e + combining accent = %v, %v; want true", ok, err)
	}
}

func TestVerifyAcceptsStrongerParams(t *testing.T) {
	ctx := context.Background()
	stronger := accounts.Params{Memory: 32 * 1024, Time: 3, Threads: 2, SaltLen: 24, KeyLen: 48}
	hs, err := accounts.NewHasher(stronger, 1)
	if err != nil {
		t.Fatal(err)
	}
	encoded, err := hs.Hash(ctx, "a passphrase of mine")
	if err != nil {
		t.Fatal(err)
	}
	// Hashes written before parameters were raised (or after) still verify.
	if ok, err := newHasher(t, 1).Verify(ctx, encoded, "a passphrase of mine"); !ok || err != nil {
		t.Fatalf("Verify(%q) = %v, %v; want true", encoded, ok, err)
	}
}

func TestNewHasherRefuses(t *testing.T) {
	weaker := func(edit func(*accounts.Params)) accounts.Params {
		p := accounts.MinParams
		edit(&p)
		return p
	}
	for _, c := range []struct {
		name       string
		params     accounts.Params
		concurrent int
	}{
		{"LessMemory", weaker(func(p *accounts.Params) { p.Memory = 19*1024 - 1 }), 1},
		{"OnePass", weaker(func(p *accounts.Params) { p.Time = 1 }), 1},
		{"NoThreads", weaker(func(p *accounts.Params) { p.Threads = 0 }), 1},
		{"ShortSalt", weaker(func(p *accounts.Params) { p.SaltLen = 15 }), 1},
		{"ShortKey", weaker(func(p *accounts.Params) { p.KeyLen = 31 }), 1},
		{"HugeMemory", weaker(func(p *accounts.Params) { p.Memory = 1<<20 + 1 }), 1},
		{"NoSlots", accounts.MinParams, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			if h, err := accounts.NewHasher(c.params, c.concurrent); err == nil {
				t.Fatalf("NewHasher(%v, %d) = %v, want an error", c.params, c.concurrent, h)
			}
		})
	}
}

// validPHC is a well-formed hash at the minimum: 16 zero bytes of salt, 32 of key.
var validPHC = "$argon2id$v=19$m=19456,t=2,p=1$" + strings.Repeat("A", 22) + "$" + strings.Repeat("A", 43)

func TestVerifyRefusesMalformedHashes(t *testing.T) {
	h := newHasher(t, 1)
	salt, key := "$"+strings.Repeat("A", 22), "$"+strings.Repeat("A", 43)
	for _, c := range []struct{ name, encoded string }{
		{"Empty", ""},
		{"Bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"Argon2i", "$argon2i$v=19$m=19456,t=2,p=1" + salt + key},
		{"Version16", "$argon2id$v=16$m=19456,t=2,p=1" + salt + key},
		{"NoVersion", "$argon2id$m=19456,t=2,p=1" + salt + key},
		{"LessMemory", "$argon2id$v=19$m=19455,t=2,p=1" + salt + key},
		{"OnePass", "$argon2id$v=19$m=19456,t=1,p=1" + salt + key},
		{"NoThreads", "$argon2id$v=19$m=19456,t=2,p=0" + salt + key},
		{"ShortSalt", "$argon2id$v=19$m=19456,t=2,p=1$" + strings.Repeat("A", 20) + key},
		{"ShortKey", "$argon2id$v=19$m=19456,t=2,p=1" + salt + "$" + strings.Repeat("A", 42)},
		{"HugeMemory", "$argon2id$v=19$m=4294967295,t=2,p=1" + salt + key},
		{"MemoryOverflow", "$argon2id$v=19$m=4294967296,t=2,p=1" + salt + key},
		{"ThreadsOverflow", "$argon2id$v=19$m=19456,t=2,p=256" + salt + key},
		{"LeadingZero", "$argon2id$v=19$m=019456,t=2,p=1" + salt + key},
		{"Signed", "$argon2id$v=19$m=+19456,t=2,p=1" + salt + key},
		{"CostsReordered", "$argon2id$v=19$t=2,m=19456,p=1" + salt + key},
		{"ExtraCost", "$argon2id$v=19$m=19456,t=2,p=1,keyid=x" + salt + key},
		{"Padded", "$argon2id$v=19$m=19456,t=2,p=1" + salt + "==" + key},
		{"LineBreakInKey", "$argon2id$v=19$m=19456,t=2,p=1" + salt + "$" + strings.Repeat("A", 20) + "\n" + strings.Repeat("A", 23)},
		{"URLAlphabet", "$argon2id$v=19$m=19456,t=2,p=1" + salt + "$" + strings.Repeat("_", 43)},
		{"NoKey", "$argon2id$v=19$m=19456,t=2,p=1" + salt},
		{"Trailing", validPHC + "$"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ok, err := h.Verify(context.Background(), c.encoded, "whatever it is")
			if !errors.Is(err, accounts.ErrMalformedHash) || ok {
				t.Fatalf("Verify(%q) = %v, %v; want ErrMalformedHash", c.encoded, ok, err)
			}
		})
	}
	t.Run("WellFormedStillRuns", func(t *testing.T) {
		if ok, err := h.Verify(context.Background(), validPHC, "whatever it is"); ok || err != nil {
			t.Fatalf("Verify(validPHC) = %v, %v; want false, nil", ok, err)
		}
	})
}

// derivation is one argon2id computation as the hook saw it.
type derivation struct {
	password             string
	saltLen              int
	time, memory, keyLen uint32
	threads              uint8
}

// recordDerivations makes h note each computation (still running it) and returns what it saw.
func recordDerivations(h *accounts.Hasher) func() []derivation {
	var mu sync.Mutex
	var seen []derivation
	accounts.WrapDerive(h, func(next accounts.Derive) accounts.Derive {
		return func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
			mu.Lock()
			seen = append(seen, derivation{string(password), len(salt), time, memory, keyLen, threads})
			mu.Unlock()
			return next(password, salt, time, memory, threads, keyLen)
		}
	})
	return func() []derivation {
		mu.Lock()
		defer mu.Unlock()
		return append([]derivation(nil), seen...)
	}
}

// TestVerifyUnknownDoesAWrongPasswordsWork: an unknown handle must cost what a wrong password
// costs. Not timed (that would flake): both must run the same argon2id computation, one each.
func TestVerifyUnknownDoesAWrongPasswordsWork(t *testing.T) {
	ctx := context.Background()
	h := newHasher(t, 1)
	encoded, err := h.Hash(ctx, "the account's own password")
	if err != nil {
		t.Fatal(err)
	}
	if !phcForm.MatchString(accounts.UnknownHash(h)) {
		t.Fatalf("the unknown hash %q is not at the Hasher's parameters", accounts.UnknownHash(h))
	}
	seen := recordDerivations(h)

	if ok, err := h.Verify(ctx, encoded, "a wrong password"); ok || err != nil {
		t.Fatalf("Verify(wrong) = %v, %v", ok, err)
	}
	if err := h.VerifyUnknown(ctx, "a wrong password"); err != nil {
		t.Fatal(err)
	}
	got := seen()
	if len(got) != 2 {
		t.Fatalf("%d argon2id computations, want one for each call: %+v", len(got), got)
	}
	if got[0] != got[1] {
		t.Fatalf("wrong password computed %+v, unknown handle %+v: not the same work", got[0], got[1])
	}
}

// TestHashWaitsForAFreeSlot holds both slots of a two-slot Hasher: a third hash must queue, not
// compute, and must leave the queue when its context ends.
func TestHashWaitsForAFreeSlot(t *testing.T) {
	h := newHasher(t, 2)
	entered, release := make(chan struct{}), make(chan struct{})
	releaseAll := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseAll) // a failing test must not leave hashes parked
	var calls atomic.Int32
	accounts.WrapDerive(h, func(next accounts.Derive) accounts.Derive {
		return func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
			if calls.Add(1) <= 2 { // only the first two hold their slot
				entered <- struct{}{}
				<-release
			}
			return next(password, salt, time, memory, threads, keyLen)
		}
	})
	held := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := h.Hash(context.Background(), "a password to hash")
			held <- err
		}()
	}
	testkit.Recv(t, entered, "the first hash never started")
	testkit.Recv(t, entered, "the second hash never started")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	third := make(chan error, 1)
	go func() {
		_, err := h.Hash(ctx, "a third password")
		third <- err
	}()
	testkit.Eventually(t, "the third hash to queue for a slot", func() bool { return accounts.Waiting(h) == 1 })
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d computations ran with two slots held", n)
	}
	cancel()
	if err := testkit.Recv(t, third, "the queued hash never gave up"); !errors.Is(err, context.Canceled) {
		t.Fatalf("the queued hash, its context cancelled = %v, want context.Canceled", err)
	}
	if n := accounts.Waiting(h); n != 0 || calls.Load() != 2 {
		t.Fatalf("after it gave up: %d waiting, %d computations; want 0 and 2", n, calls.Load())
	}

	releaseAll()
	for range 2 {
		if err := testkit.Recv(t, held, "a held hash never finished"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.Hash(context.Background(), "a third password"); err != nil {
		t.Fatalf("Hash once the slots are free: %v", err)
	}
}

func FuzzParsePHC(f *testing.F) {
	f.Add(validPHC)
	f.Add("$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("B", 43))
	f.Add("$argon2id$v=19$m=019456,t=2,p=1$" + strings.Repeat("A", 22) + "$" + strings.Repeat("A", 43))
	f.Add("$argon2i$v=19$m=19456,t=2,p=1$$")
	f.Add("$argon2id$v=19$m=4294967296,t=2,p=1$$")
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := accounts.ParsePHC(s)
		if err != nil {
			if !errors.Is(err, accounts.ErrMalformedHash) {
				t.Fatalf("ParsePHC(%q): %v does not wrap ErrMalformedHash", s, err)
			}
			return
		}
		if accounts.EncodePHC(p, salt, key) != s {
			t.Fatalf("ParsePHC(%q) accepted a form it does not write", s)
		}
		if p.Memory < accounts.MinParams.Memory || p.Time < accounts.MinParams.Time || p.Threads < 1 ||
			len(salt) < 16 || len(key) < 32 || p.Memory > 1<<20 || p.Time > 16 || len(salt) > 64 || len(key) > 64 {
			t.Fatalf("ParsePHC(%q) accepted %v", s, p)
		}
	})
}

func BenchmarkHash(b *testing.B) {
	h := newHasher(b, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash(context.Background(), "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	h := newHasher(b, 1)
	encoded, err := h.Hash(context.Background(), "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := h.Verify(context.Background(), encoded, "a wrong password"); ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkVerifyParallel is sign-in throughput with the suggested bound of GOMAXPROCS*2 slots.
func BenchmarkVerifyParallel(b *testing.B) {
	h := newHasher(b, runtime.GOMAXPROCS(0)*2)
	encoded, err := h.Hash(context.Background(), "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := h.Verify(context.Background(), encoded, "a wrong password"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
