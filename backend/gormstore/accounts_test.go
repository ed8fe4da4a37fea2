package gormstore_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/gormstore"
	"github.com/chirp-social/chirp/backend/internal/testdb"
	"github.com/chirp-social/chirp/backend/internal/testkit"
)

// newAccount creates an account with a password, failing the test if it cannot.
func newAccount(t *testing.T, s *gormstore.Store, handle string) chirp.Account {
	t.Helper()
	a, err := s.CreateAccount(context.Background(), chirp.NewAccount{
		Handle: handle, DisplayName: "Name of " + handle, PasswordHash: "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA"})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// testPasskey is a passkey whose every field is set, told apart by n.
func testPasskey(n byte) chirp.Passkey {
	return chirp.Passkey{
		CredentialID:      []byte{0xc0, n, 0x00, 0xff},
		PublicKey:         []byte{0xa5, 0x01, 0x02, n},
		AttestationType:   "none",
		AttestationFormat: "packed",
		Transports:        []string{"internal", "hybrid"},
		AAGUID:            []byte{0xad, 0xce, 0, 2, n, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
		SignCount:         uint32(n),
		Attachment:        "platform",
		Flags:             0x5d, // UP, UV, BE, BS, AT
		Attestation:       []byte(`{"object":"o"}`),
		Extensions:        []byte(`{"rk":true}`),
	}
}

// addPasskey adds testPasskey(n) to the account, failing the test if it cannot.
func addPasskey(t *testing.T, s *gormstore.Store, accountID int64, n byte) chirp.Passkey {
	t.Helper()
	p, err := s.AddPasskey(context.Background(), withAccount(testPasskey(n), accountID))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// newSession starts a session of the account with the n-th test token, failing the test if it
// cannot.
func newSession(t *testing.T, s *gormstore.Store, accountID int64, n int, now time.Time) chirp.Session {
	t.Helper()
	se, err := s.CreateSession(context.Background(), accountID, tokenHash(n), now)
	if err != nil {
		t.Fatal(err)
	}
	return se
}

func TestCreateAccount(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		ctx := context.Background()
		// What the cases below find taken.
		if _, err := s.CreateAccount(ctx, chirp.NewAccount{Handle: "taken", DisplayName: "Taken", Passkey: ptr(testPasskey(9))}); err != nil {
			t.Fatal(err)
		}
		before := time.Now().UTC().Truncate(time.Millisecond)
		for _, tc := range []struct {
			name     string
			new      chirp.NewAccount
			wantCode chirp.Code // "" for success
			wantErr  bool       // a failure without a code (a caller's bug)
		}{
			{"WithPassword", chirp.NewAccount{Handle: "alice", DisplayName: "Alice ✨", PasswordHash: "$argon2id$x"}, "", false},
			{"WithoutPassword", chirp.NewAccount{Handle: "bob", DisplayName: "Bob"}, "", false},
			{"WithPasskey", chirp.NewAccount{Handle: "carol", DisplayName: "Carol", Passkey: ptr(testPasskey(1))}, "", false},
			{"HandleTaken", chirp.NewAccount{Handle: "taken", DisplayName: "Another"}, chirp.CodeConflict, false},
			{"PasskeyTaken", chirp.NewAccount{Handle: "dave", DisplayName: "Dave", Passkey: ptr(testPasskey(9))}, chirp.CodeConflict, false},
			{"NotCanonical", chirp.NewAccount{Handle: "Erin", DisplayName: "Erin"}, "", true},
			{"EmptyHandle", chirp.NewAccount{Handle: "", DisplayName: "Nobody"}, "", true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a, err := s.CreateAccount(ctx, tc.new)
				if tc.wantCode != "" || tc.wantErr {
					if err == nil || chirp.ErrorCode(err) != tc.wantCode {
						t.Fatalf("got %+v, %v; want an error with code %q", a, err, tc.wantCode)
					}
					if tc.new.Handle != "taken" {
						// Nothing of a refused create is stored: not even the account
						// whose passkey was refused after it.
						if _, err := s.AccountByHandle(ctx, tc.new.Handle); chirp.ErrorCode(err) != chirp.CodeNotFound {
							t.Fatalf("refused %q is stored: %v", tc.new.Handle, err)
						}
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if a.ID <= 0 || a.Handle != tc.new.Handle || a.DisplayName != tc.new.DisplayName ||
					a.CreatedAt.Before(before) || a.CreatedAt.Location() != time.UTC {
					t.Fatalf("created %+v from %+v", a, tc.new)
				}
				byHandle, err := s.AccountByHandle(ctx, tc.new.Handle)
				if err != nil || byHandle != a {
					t.Fatalf("by handle: %+v, %v; want %+v", byHandle, err, a)
				}
				byID, err := s.AccountByID(ctx, a.ID)
				if err != nil || byID != a {
					t.Fatalf("by id: %+v, %v; want %+v", byID, err, a)
				}
				hash, err := s.PasswordHash(ctx, a.ID)
				if err != nil || hash != tc.new.PasswordHash {
					t.Fatalf("password hash %q, %v; want %q", hash, err, tc.new.PasswordHash)
				}
				passkeys, err := s.PasskeysOf(ctx, a.ID)
				if err != nil {
					t.Fatal(err)
				}
				if tc.new.Passkey == nil {
					if len(passkeys) != 0 {
						t.Fatalf("passkeys %+v", passkeys)
					}
					return
				}
				want := *tc.new.Passkey
				want.AccountID = a.ID
				if len(passkeys) != 1 || !samePasskey(passkeys[0], want) || !passkeys[0].CreatedAt.Equal(a.CreatedAt) {
					t.Fatalf("passkeys %+v, want %+v", passkeys, want)
				}
			})
		}
	})
}

func ptr[T any](v T) *T { return &v }

func TestAccountNotFound(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		ctx := context.Background()
		a := newAccount(t, s, "alice")
		for _, tc := range []struct {
			name string
			call func() error
		}{
			{"ByHandle", func() error { _, err := s.AccountByHandle(ctx, "nobody"); return err }},
			{"ByHandleOtherCase", func() error { _, err := s.AccountByHandle(ctx, "Alice"); return err }},
			{"ByID", func() error { _, err := s.AccountByID(ctx, a.ID+1); return err }},
			{"PasswordHash", func() error { _, err := s.PasswordHash(ctx, a.ID+1); return err }},
			{"SetPasswordHash", func() error { return s.SetPasswordHash(ctx, a.ID+1, "$argon2id$y") }},
			{"DeleteAccount", func() error { _, err := s.DeleteAccount(ctx, a.ID+1); return err }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if err := tc.call(); chirp.ErrorCode(err) != chirp.CodeNotFound {
					t.Fatalf("got %v, want not found", err)
				}
			})
		}
	})
}

func TestSetPasswordHash(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		ctx := context.Background()
		a, err := s.CreateAccount(ctx, chirp.NewAccount{Handle: "alice", DisplayName: "Alice", Passkey: ptr(testPasskey(1))})
		if err != nil {
			t.Fatal(err)
		}
		other := newAccount(t, s, "bob")
		otherHash, _ := s.PasswordHash(ctx, other.ID)
		for _, hash := range []string{"$argon2id$first", "$argon2id$second"} {
			if err := s.SetPasswordHash(ctx, a.ID, hash); err != nil {
				t.Fatal(err)
			}
			if got, err := s.PasswordHash(ctx, a.ID); err != nil || got != hash {
				t.Fatalf("hash %q, %v; want %q", got, err, hash)
			}
		}
		if got, _ := s.PasswordHash(ctx, other.ID); got != otherHash {
			t.Fatalf("another account's hash changed to %q", got)
		}
		if err := s.SetPasswordHash(ctx, a.ID, ""); err == nil {
			t.Fatal("an empty hash was stored")
		}
	})
}

// Two creates of one handle at once, from two stores on one database (two processes), make
// one account: the other is told the handle is taken, never a 500 or a 503.
func TestConcurrentCreatesOfOneHandle(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		stores := []*gormstore.Store{openStore(t, url), openStore(t, url)}
		const rounds = 10
		for round := range rounds {
			handle := fmt.Sprintf("racer%d", round)
			start := make(chan struct{})
			results := make(chan error, len(stores))
			for i, s := range stores {
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
					defer cancel()
					<-start
					_, err := s.CreateAccount(ctx, chirp.NewAccount{
						Handle: handle, DisplayName: fmt.Sprintf("Racer %d", i)})
					results <- err
				}()
			}
			close(start)
			var created, taken int
			for range stores {
				err := testkit.Recv(t, results, "a create of "+handle+" never answered")
				switch {
				case err == nil:
					created++
				case chirp.ErrorCode(err) == chirp.CodeConflict:
					taken++
				default:
					t.Errorf("%s: %v", handle, err)
				}
			}
			if created != 1 || taken != 1 {
				t.Fatalf("%s: %d created, %d taken; want one of each", handle, created, taken)
			}
		}
	})
}

// setTweetAccount makes tweets an account's, as the create path of the next increment will.
func setTweetAccount(t *testing.T, s *gormstore.Store, accountID int64, tweets ...chirp.Tweet) {
	t.Helper()
	err := gormstore.DB(s).Exec("UPDATE tweets SET account_id = ? WHERE id IN ?", accountID, testkit.IDs(tweets)).Error
	if err != nil {
		t.Fatal(err)
	}
}

func TestDeleteAccount(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		ctx := context.Background()
		now := time.Now()
		alice := newAccount(t, s, "alice")
		bob := newAccount(t, s, "bob")
		var aliceTweets, bobTweets, guestTweets []chirp.Tweet
		for i := range 3 {
			a, _ := create(t, s, fmt.Sprint("alice ", i))
			b, _ := create(t, s, fmt.Sprint("bob ", i))
			g, _ := create(t, s, fmt.Sprint("guest ", i))
			aliceTweets, bobTweets, guestTweets = append(aliceTweets, a), append(bobTweets, b), append(guestTweets, g)
		}
		setTweetAccount(t, s, alice.ID, aliceTweets...)
		setTweetAccount(t, s, bob.ID, bobTweets...)
		aliceKey, bobKey := addPasskey(t, s, alice.ID, 1), addPasskey(t, s, bob.ID, 2)
		newSession(t, s, alice.ID, 1, now)
		newSession(t, s, alice.ID, 2, now)
		bobSession := newSession(t, s, bob.ID, 3, now)

		deleted, err := s.DeleteAccount(ctx, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := testkit.IDs(aliceTweets); !slices.Equal(deleted, want) {
			t.Fatalf("deleted tweets %v, want %v", deleted, want)
		}
		for _, tw := range aliceTweets {
			if _, err := s.Tweet(ctx, tw.ID); chirp.ErrorCode(err) != chirp.CodeNotFound {
				t.Fatalf("alice's tweet %d: %v", tw.ID, err)
			}
		}
		for _, tw := range append(bobTweets, guestTweets...) {
			if _, err := s.Tweet(ctx, tw.ID); err != nil {
				t.Fatalf("another's tweet %d: %v", tw.ID, err)
			}
		}
		if _, err := s.AccountByID(ctx, alice.ID); chirp.ErrorCode(err) != chirp.CodeNotFound {
			t.Fatalf("account: %v", err)
		}
		for _, hash := range [][]byte{tokenHash(1), tokenHash(2)} {
			if _, err := s.SessionByTokenHash(ctx, hash, now, time.Hour); chirp.ErrorCode(err) != chirp.CodeNotFound {
				t.Fatalf("alice's session: %v", err)
			}
		}
		if _, err := s.PasskeyByCredentialID(ctx, aliceKey.CredentialID); chirp.ErrorCode(err) != chirp.CodeNotFound {
			t.Fatalf("alice's passkey: %v", err)
		}
		if got, err := s.SessionByTokenHash(ctx, tokenHash(3), now, time.Hour); err != nil || got.ID != bobSession.ID {
			t.Fatalf("bob's session: %+v, %v", got, err)
		}
		if got, err := s.PasskeyByCredentialID(ctx, bobKey.CredentialID); err != nil || got.ID != bobKey.ID {
			t.Fatalf("bob's passkey: %+v, %v", got, err)
		}
		if _, err := s.DeleteAccount(ctx, alice.ID); chirp.ErrorCode(err) != chirp.CodeNotFound {
			t.Fatalf("second delete: %v", err)
		}
		// The handle is free again, and its passkey may be registered anew.
		again, err := s.CreateAccount(ctx, chirp.NewAccount{Handle: "alice", DisplayName: "New", Passkey: ptr(testPasskey(1))})
		if err != nil || again.ID == alice.ID {
			t.Fatalf("alice again: %+v, %v", again, err)
		}
		// An account without tweets deletes as well.
		if deleted, err := s.DeleteAccount(ctx, again.ID); err != nil || len(deleted) != 0 {
			t.Fatalf("delete without tweets: %v, %v", deleted, err)
		}
	})
}

// The database itself removes an account's sessions and passkeys with it (the foreign keys'
// ON DELETE CASCADE, which SQLite enforces only when asked), whoever deletes the row.
func TestAccountRowCascades(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		a := newAccount(t, s, "alice")
		newSession(t, s, a.ID, 1, time.Now())
		addPasskey(t, s, a.ID, 1)
		if err := gormstore.DB(s).Exec("DELETE FROM accounts WHERE id = ?", a.ID).Error; err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"sessions", "passkeys"} {
			if n := countRows(t, s, table); n != 0 {
				t.Fatalf("%s: %d rows left", table, n)
			}
		}
	})
}

// Each deleted tweet is announced to other processes from the account's delete transaction.
func TestDeleteAccountNotifies(t *testing.T) {
	url := testdb.PostgresURL(t)
	s := openNotifying(t, url)
	ctx := context.Background()
	a := newAccount(t, s, "alice")
	first, _ := create(t, s, "one")
	second, _ := create(t, s, "two")
	setTweetAccount(t, s, a.ID, first, second)
	l := listen(t, url)
	if _, err := s.DeleteAccount(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{fmt.Sprint("deleted ", first.ID), fmt.Sprint("deleted ", second.ID)} {
		if got := l.next(t, testkit.Timeout); got != want {
			t.Fatalf("notification %q, want %q", got, want)
		}
	}
}

// A second start migrates a database that has accounts again, and keeps every row: on SQLite,
// where foreign keys are enforced, a migration that rebuilt the accounts table would cascade
// its sessions and passkeys away.
func TestReopenKeepsAccounts(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		s := openStore(t, url)
		a := newAccount(t, s, "alice")
		session, key := newSession(t, s, a.ID, 1, time.Now()), addPasskey(t, s, a.ID, 1)
		s.Close()
		s = openStore(t, url)
		if got, err := s.AccountByHandle(ctx, "alice"); err != nil || got != a {
			t.Fatalf("account %+v, %v", got, err)
		}
		if got, err := s.SessionByTokenHash(ctx, tokenHash(1), time.Now(), time.Hour); err != nil || got.ID != session.ID {
			t.Fatalf("session %+v, %v", got, err)
		}
		if got, err := s.PasskeyByCredentialID(ctx, key.CredentialID); err != nil || !samePasskey(got, key) {
			t.Fatalf("passkey %+v, %v", got, err)
		}
	})
}

// On SQLite, account writes take the store's write path: while another process holds the write
// lock they wait for it within their deadline, answer 503 when it ends, and go through once the
// lock is free.
func TestAccountWritesWaitOutAnotherProcess(t *testing.T) {
	url := testdb.SQLiteURL(t)
	s := openStore(t, url)
	unlock := holdCreateLock(t, s, url)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := s.CreateAccount(ctx, chirp.NewAccount{Handle: "early", DisplayName: "Early"}); chirp.ErrorCode(err) != chirp.CodeUnavailable {
		t.Fatalf("a create while another process writes, past its deadline: %v; want unavailable", err)
	}
	answer := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
		defer cancel()
		_, err := s.CreateAccount(ctx, chirp.NewAccount{Handle: "patient", DisplayName: "Patient"})
		answer <- err
	}()
	time.Sleep(100 * time.Millisecond) // let it meet the lock
	unlock()
	if err := testkit.Recv(t, answer, "the create that waited for the lock"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AccountByHandle(context.Background(), "early"); chirp.ErrorCode(err) != chirp.CodeNotFound {
		t.Fatalf("the create answered 503 was stored: %v", err)
	}
}

func TestReplacePasswordHashEndsTheOtherSessions(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		ctx := context.Background()
		now := time.Now()
		alice, bob := newAccount(t, s, "alice"), newAccount(t, s, "bob")
		kept, other := newSession(t, s, alice.ID, 1, now), newSession(t, s, alice.ID, 2, now)
		bobs := newSession(t, s, bob.ID, 3, now)
		const changed = "$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdA$bmV3aGFzaA"
		if err := s.ReplacePasswordHash(ctx, alice.ID, changed, kept.ID); err != nil {
			t.Fatal(err)
		}
		if got, err := s.PasswordHash(ctx, alice.ID); err != nil || got != changed {
			t.Fatalf("alice's hash %q, %v", got, err)
		}
		live, err := s.ListSessions(ctx, alice.ID, now, time.Hour)
		if err != nil || len(live) != 1 || live[0].ID != kept.ID {
			t.Fatalf("alice's sessions %+v, %v; want only %d (not %d)", live, err, kept.ID, other.ID)
		}
		if live, err := s.ListSessions(ctx, bob.ID, now, time.Hour); err != nil || len(live) != 1 || live[0].ID != bobs.ID {
			t.Fatalf("bob's sessions %+v, %v: another account's change ended them", live, err)
		}
		if err := s.ReplacePasswordHash(ctx, bob.ID+1000, changed, 0); chirp.ErrorCode(err) != chirp.CodeNotFound {
			t.Fatalf("an unknown account: %v", err)
		}
	})
}
