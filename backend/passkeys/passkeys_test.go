package passkeys_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/gormstore"
	"github.com/chirp-social/chirp/backend/internal/passkeytest"
	"github.com/chirp-social/chirp/backend/internal/testdb"
	"github.com/chirp-social/chirp/backend/passkeys"
)

const origin = "http://localhost:3000"

var page = passkeytest.Page{Origin: origin}

// clock is a settable clock, so that a test can let a ceremony expire without waiting.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}

type party struct {
	rp    *passkeys.RelyingParty
	store *gormstore.Store
	clock *clock
}

func newParty(t testing.TB, url string) *party {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := gormstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := &clock{}
	cfg := passkeys.Config{RPID: "localhost", Origins: []string{origin}, RPDisplayName: passkeys.DisplayName}
	rp, err := passkeys.New(cfg, s, s, passkeys.WithClock(c.now))
	if err != nil {
		t.Fatal(err)
	}
	return &party{rp: rp, store: s, clock: c}
}

// signUp makes an account with a new key, failing the test if it cannot.
func (p *party) signUp(t testing.TB, handle string) (chirp.Account, *passkeytest.Key) {
	t.Helper()
	key := passkeytest.NewKey()
	a, err := p.trySignUp(handle, key, page)
	if err != nil {
		t.Fatalf("sign up @%s: %v", handle, err)
	}
	return a, key
}

func (p *party) trySignUp(handle string, key *passkeytest.Key, pg passkeytest.Page) (chirp.Account, error) {
	return ceremony(func(ctx context.Context) (passkeys.Options, error) {
		return p.rp.BeginSignUp(ctx, handle, "Name of "+handle)
	}, key.Register, pg, p.rp.FinishSignUp)
}

func (p *party) signIn(key *passkeytest.Key, pg passkeytest.Page) (chirp.Account, error) {
	return ceremony(p.rp.BeginSignIn, key.SignIn, pg, p.rp.FinishSignIn)
}

func (p *party) add(accountID int64, key *passkeytest.Key, pg passkeytest.Page) (chirp.Passkey, error) {
	return ceremony(func(ctx context.Context) (passkeys.Options, error) {
		return p.rp.BeginAdd(ctx, accountID)
	}, key.Register, pg, func(ctx context.Context, id string, cred []byte) (chirp.Passkey, error) {
		return p.rp.FinishAdd(ctx, accountID, id, cred)
	})
}

// ceremony runs one ceremony: its options, the authenticator's answer on the page, its finish.
func ceremony[T any](begin func(context.Context) (passkeys.Options, error), answer func([]byte, passkeytest.Page) ([]byte, error),
	pg passkeytest.Page, finish func(context.Context, string, []byte) (T, error)) (T, error) {
	ctx := context.Background()
	var none T
	o, err := begin(ctx)
	if err != nil {
		return none, err
	}
	cred, err := answer(o.PublicKey, pg)
	if err != nil {
		return none, err
	}
	return finish(ctx, o.Ceremony, cred)
}

// wantError fails the test unless err is a chirp error with the code, and the message unless
// it is "".
func wantError(t *testing.T, err error, code chirp.Code, message string) {
	t.Helper()
	var e *chirp.Error
	if !errors.As(err, &e) || e.Code != code || (message != "" && e.Message != message) {
		t.Fatalf("got %v; want %s %q", err, code, message)
	}
}

// Sign up with a passkey, sign in with it without a handle, add a second, sign in with each.
func TestJourney(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		p := newParty(t, url)
		ctx := context.Background()
		alice, first := p.signUp(t, "alice")
		if alice.ID <= 0 || alice.Handle != "alice" || alice.DisplayName != "Name of alice" || alice.UserHandle.IsZero() {
			t.Fatalf("signed up %+v", alice)
		}
		if string(first.UserHandle) != string(alice.UserHandle[:]) {
			t.Fatalf("the passkey holds user handle %x, the account has %x", first.UserHandle, alice.UserHandle)
		}
		bob, bobKey := p.signUp(t, "bob")

		if got, err := p.signIn(first, page); err != nil || got != alice {
			t.Fatalf("sign in with the first passkey: %+v, %v; want %+v", got, err, alice)
		}
		if err := p.excluded(alice.ID, first); err != nil {
			t.Fatal(err)
		}
		second := passkeytest.NewKey()
		second.Flags |= passkeytest.FlagBackupEligible | passkeytest.FlagBackupState
		added, err := p.add(alice.ID, second, page)
		if err != nil || added.AccountID != alice.ID || !added.BackupEligible() || !added.BackupState() {
			t.Fatalf("add a second passkey: %+v, %v", added, err)
		}
		for i, key := range []*passkeytest.Key{first, second, first, second} {
			if got, err := p.signIn(key, page); err != nil || got != alice {
				t.Fatalf("sign-in %d: %+v, %v; want %+v", i, got, err, alice)
			}
		}
		if got, err := p.signIn(bobKey, page); err != nil || got != bob {
			t.Fatalf("bob's sign-in: %+v, %v", got, err)
		}
		stored, err := p.store.PasskeysOf(ctx, alice.ID)
		if err != nil || len(stored) != 2 {
			t.Fatalf("alice's passkeys: %+v, %v", stored, err)
		}
		for i, key := range []*passkeytest.Key{first, second} {
			if stored[i].SignCount != key.Counter || stored[i].LastUsedAt.IsZero() || stored[i].CloneWarning {
				t.Fatalf("passkey %d after its sign-ins: %+v; want counter %d", i, stored[i], key.Counter)
			}
		}
		// Another account's passkey added to bob (a client that ignores the exclusions).
		if _, err := p.add(bob.ID, first, page); chirp.ErrorCode(err) != chirp.CodeConflict {
			t.Fatalf("alice's passkey added to bob: %v", err)
		}
	})
}

// wantCause fails the test unless err's text (its cause, for the logs) holds cause: the
// refusal was for the reason the test meant.
func wantCause(t *testing.T, err error, cause string) {
	t.Helper()
	if !strings.Contains(err.Error(), cause) {
		t.Fatalf("refused for %v; want %q", err, cause)
	}
}

// excluded checks that adding a passkey to the account excludes key, one of its own.
func (p *party) excluded(accountID int64, key *passkeytest.Key) error {
	o, err := p.rp.BeginAdd(context.Background(), accountID)
	if err != nil {
		return err
	}
	if _, err := key.Register(o.PublicKey, page); err == nil {
		return fmt.Errorf("options %s do not exclude the account's own passkey", o.PublicKey)
	}
	return nil
}

func TestCeremonyRefused(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		p := newParty(t, url)
		ctx := context.Background()
		alice, key := p.signUp(t, "alice")
		over := chirp.CeremonyOver().Message

		t.Run("Replayed", func(t *testing.T) {
			o, err := p.rp.BeginSignIn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			cred, _ := key.SignIn(o.PublicKey, page)
			if _, err := p.rp.FinishSignIn(ctx, o.Ceremony, cred); err != nil {
				t.Fatal(err)
			}
			_, err = p.rp.FinishSignIn(ctx, o.Ceremony, cred)
			wantError(t, err, chirp.CodeBadRequest, over)
		})
		t.Run("ReplayedAfterAFailure", func(t *testing.T) {
			o, _ := p.rp.BeginSignIn(ctx)
			cred, _ := key.SignIn(o.PublicKey, passkeytest.Page{Origin: "http://evil.test"})
			if _, err := p.rp.FinishSignIn(ctx, o.Ceremony, cred); err == nil {
				t.Fatal("a wrong origin signed in")
			}
			good, _ := key.SignIn(o.PublicKey, page)
			_, err := p.rp.FinishSignIn(ctx, o.Ceremony, good)
			wantError(t, err, chirp.CodeBadRequest, over)
		})
		t.Run("Expired", func(t *testing.T) {
			o, _ := p.rp.BeginSignIn(ctx)
			cred, _ := key.SignIn(o.PublicKey, page)
			p.clock.advance(chirp.CeremonyLifetime + time.Second)
			defer p.clock.advance(-chirp.CeremonyLifetime - time.Second)
			_, err := p.rp.FinishSignIn(ctx, o.Ceremony, cred)
			wantError(t, err, chirp.CodeBadRequest, over)
		})
		t.Run("JustBeforeExpiry", func(t *testing.T) {
			o, _ := p.rp.BeginSignIn(ctx)
			cred, _ := key.SignIn(o.PublicKey, page)
			p.clock.advance(chirp.CeremonyLifetime - time.Second)
			defer p.clock.advance(-chirp.CeremonyLifetime + time.Second)
			if _, err := p.rp.FinishSignIn(ctx, o.Ceremony, cred); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("ForAnotherPurpose", func(t *testing.T) {
			o, _ := p.rp.BeginSignIn(ctx)
			cred, _ := passkeytest.NewKey().Register(mustJSON(t, map[string]any{
				"rp": map[string]any{"id": "localhost"}, "user": map[string]any{"id": "AAAA"}, "challenge": "AAAA"}), page)
			_, err := p.rp.FinishSignUp(ctx, o.Ceremony, cred)
			wantError(t, err, chirp.CodeBadRequest, over)
		})
		t.Run("AnotherAccountsAdd", func(t *testing.T) {
			bob, _ := p.signUp(t, "bob")
			o, err := p.rp.BeginAdd(ctx, alice.ID)
			if err != nil {
				t.Fatal(err)
			}
			cred, _ := passkeytest.NewKey().Register(o.PublicKey, page)
			_, err = p.rp.FinishAdd(ctx, bob.ID, o.Ceremony, cred)
			wantError(t, err, chirp.CodeBadRequest, over)
		})
		for _, id := range []string{"", "short", strings.Repeat("A", 42) + "=", strings.Repeat("A", 44), strings.Repeat("A", 43)} {
			t.Run("MalformedOrUnknownID", func(t *testing.T) {
				cred, _ := key.SignIn(mustJSON(t, map[string]any{"challenge": "AAAA"}), page)
				_, err := p.rp.FinishSignIn(ctx, id, cred)
				wantError(t, err, chirp.CodeBadRequest, over)
			})
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWrongOrigin(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		p := newParty(t, url)
		alice, key := p.signUp(t, "alice")
		evil := passkeytest.Page{Origin: "http://evil.test"}
		want := "the page's origin http://evil.test is not one of WEBAUTHN_ORIGINS (http://localhost:3000)"
		t.Run("SignUp", func(t *testing.T) {
			_, err := p.trySignUp("carol", passkeytest.NewKey(), evil)
			wantError(t, err, chirp.CodeBadRequest, want)
			if _, err := p.store.AccountByHandle(context.Background(), "carol"); chirp.ErrorCode(err) != chirp.CodeNotFound {
				t.Fatalf("the refused sign-up made an account: %v", err)
			}
		})
		t.Run("SignIn", func(t *testing.T) {
			_, err := p.signIn(key, evil)
			wantError(t, err, chirp.CodeBadRequest, want)
		})
		t.Run("Add", func(t *testing.T) {
			_, err := p.add(alice.ID, passkeytest.NewKey(), evil)
			wantError(t, err, chirp.CodeBadRequest, want)
		})
		t.Run("AnotherPortOfTheRPID", func(t *testing.T) {
			_, err := p.signIn(key, passkeytest.Page{Origin: "http://localhost:8080"})
			wantError(t, err, chirp.CodeBadRequest,
				"the page's origin http://localhost:8080 is not one of WEBAUTHN_ORIGINS (http://localhost:3000)")
		})
	})
}

func TestSignInRefused(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		p := newParty(t, url)
		ctx := context.Background()
		alice, key := p.signUp(t, "alice")
		cannot := passkeys.CannotSignIn().Message

		t.Run("WrongRPID", func(t *testing.T) {
			_, err := p.signIn(key, passkeytest.Page{Origin: origin, RPID: "evil.test"})
			wantError(t, err, chirp.CodeUnauthorized, cannot)
			wantCause(t, err, "Error validating the authenticator response")
		})
		t.Run("SignedByAnotherKey", func(t *testing.T) {
			other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			forged := key.WithPrivate(other)
			_, err = p.signIn(forged, page)
			wantError(t, err, chirp.CodeUnauthorized, cannot)
			wantCause(t, err, "Error validating the assertion signature")
		})
		t.Run("UnknownCredential", func(t *testing.T) {
			stranger := passkeytest.NewKey()
			stranger.UserHandle = alice.UserHandle[:] // even with the account's user handle
			_, err := p.signIn(stranger, page)
			wantError(t, err, chirp.CodeUnauthorized, cannot)
			wantCause(t, err, "no such passkey")
		})
		t.Run("AnotherAccountsUserHandle", func(t *testing.T) {
			bob, _ := p.signUp(t, "bob")
			lying := *key
			lying.UserHandle = bob.UserHandle[:]
			_, err := p.signIn(&lying, page)
			wantError(t, err, chirp.CodeUnauthorized, cannot)
			wantCause(t, err, "the user handle is not the passkey's account's")
			key.Counter = lying.Counter
		})
		t.Run("CounterWentBack", func(t *testing.T) {
			if _, err := p.signIn(key, page); err != nil {
				t.Fatal(err)
			}
			before, _ := p.store.PasskeyByCredentialID(ctx, key.ID)
			key.Counter -= 2 // the next sign-in signs with counter-1: behind the stored one
			_, err := p.signIn(key, page)
			wantError(t, err, chirp.CodeUnauthorized, "")
			if !strings.Contains(err.Error(), "counter went backwards") {
				t.Fatalf("the refusal does not say why: %v", err)
			}
			after, _ := p.store.PasskeyByCredentialID(ctx, key.ID)
			if !after.CloneWarning || after.SignCount != before.SignCount || after.Flags != before.Flags ||
				!after.LastUsedAt.Equal(before.LastUsedAt) {
				t.Fatalf("after the refused sign-in %+v; before %+v", after, before)
			}
			// The counter past the stored one signs in again; the mark stays.
			key.Counter = before.SignCount
			if got, err := p.signIn(key, page); err != nil || got != alice {
				t.Fatalf("sign-in past the stored counter: %+v, %v", got, err)
			}
			if again, _ := p.store.PasskeyByCredentialID(ctx, key.ID); !again.CloneWarning || again.SignCount != before.SignCount+1 {
				t.Fatalf("after the good sign-in %+v", again)
			}
		})
		t.Run("Counterless", func(t *testing.T) {
			synced := passkeytest.NewKey()
			synced.Counterless = true
			if _, err := p.add(alice.ID, synced, page); err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				if _, err := p.signIn(synced, page); err != nil {
					t.Fatalf("sign-in %d of a passkey without a counter: %v", i, err)
				}
			}
		})
		t.Run("NotACredential", func(t *testing.T) {
			o, _ := p.rp.BeginSignIn(ctx)
			_, err := p.rp.FinishSignIn(ctx, o.Ceremony, []byte(`{"id":"AAAA"}`))
			wantError(t, err, chirp.CodeBadRequest, "")
		})
	})
}

func TestRegistrationRefused(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		p := newParty(t, url)
		ctx := context.Background()
		p.signUp(t, "alice")
		t.Run("HandleTakenAtOptions", func(t *testing.T) {
			_, err := p.rp.BeginSignUp(ctx, "alice", "Another")
			wantError(t, err, chirp.CodeConflict, chirp.HandleTaken("alice").Message)
		})
		t.Run("HandleTakenMeanwhile", func(t *testing.T) {
			o, err := p.rp.BeginSignUp(ctx, "carol", "Carol")
			if err != nil {
				t.Fatal(err)
			}
			p.signUp(t, "carol")
			cred, _ := passkeytest.NewKey().Register(o.PublicKey, page)
			_, err = p.rp.FinishSignUp(ctx, o.Ceremony, cred)
			wantError(t, err, chirp.CodeConflict, chirp.HandleTaken("carol").Message)
		})
		t.Run("WrongRPID", func(t *testing.T) {
			_, err := p.trySignUp("dave", passkeytest.NewKey(), passkeytest.Page{Origin: origin, RPID: "evil.test"})
			wantError(t, err, chirp.CodeBadRequest, "")
			if !strings.HasPrefix(err.Error(), "bad_request: the new passkey did not verify") {
				t.Fatalf("got %v", err)
			}
		})
		t.Run("NotACredential", func(t *testing.T) {
			o, _ := p.rp.BeginSignUp(ctx, "erin", "Erin")
			_, err := p.rp.FinishSignUp(ctx, o.Ceremony, []byte(`"nope"`))
			wantError(t, err, chirp.CodeBadRequest, "")
		})
		t.Run("AddToNoAccount", func(t *testing.T) {
			_, err := p.rp.BeginAdd(ctx, 999999)
			wantError(t, err, chirp.CodeNotFound, "")
		})
	})
}

// An account made before passkeys (no user handle) gets one when it first adds a passkey, and
// signs in with it.
func TestAddToAnAccountWithoutUserHandle(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		p := newParty(t, url)
		ctx := context.Background()
		early, err := p.store.CreateAccount(ctx, chirp.NewAccount{Handle: "early", DisplayName: "Early", PasswordHash: "$argon2id$x"})
		if err != nil {
			t.Fatal(err)
		}
		// As the code before passkeys left it.
		if _, err := p.store.Pool().ExecContext(ctx, "UPDATE accounts SET user_handle = NULL WHERE id = $1", early.ID); err != nil {
			t.Fatal(err)
		}
		if a, _ := p.store.AccountByID(ctx, early.ID); !a.UserHandle.IsZero() {
			t.Fatalf("the account still has user handle %x", a.UserHandle)
		}
		key := passkeytest.NewKey()
		if _, err := p.add(early.ID, key, page); err != nil {
			t.Fatal(err)
		}
		got, err := p.store.AccountByID(ctx, early.ID)
		if err != nil || got.UserHandle.IsZero() || string(key.UserHandle) != string(got.UserHandle[:]) {
			t.Fatalf("after adding: %+v, %v; the passkey holds %x", got, err, key.UserHandle)
		}
		if signedIn, err := p.signIn(key, page); err != nil || signedIn != got {
			t.Fatalf("sign in: %+v, %v; want %+v", signedIn, err, got)
		}
	})
}
