package gormstore_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/internal/testdb"
	"github.com/chirp-social/chirp/backend/internal/testkit"
)

func withAccount(p chirp.Passkey, accountID int64) chirp.Passkey {
	p.AccountID = accountID
	return p
}

// samePasskey compares what a passkey stores, its id and times aside.
func samePasskey(got, want chirp.Passkey) bool {
	return got.AccountID == want.AccountID &&
		bytes.Equal(got.CredentialID, want.CredentialID) &&
		bytes.Equal(got.PublicKey, want.PublicKey) &&
		got.AttestationType == want.AttestationType &&
		got.AttestationFormat == want.AttestationFormat &&
		slices.Equal(got.Transports, want.Transports) &&
		bytes.Equal(got.AAGUID, want.AAGUID) &&
		got.SignCount == want.SignCount &&
		got.CloneWarning == want.CloneWarning &&
		got.Attachment == want.Attachment &&
		got.Flags == want.Flags &&
		bytes.Equal(got.Attestation, want.Attestation) &&
		bytes.Equal(got.Extensions, want.Extensions)
}

func TestAddPasskey(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		ctx := context.Background()
		alice, bob := newAccount(t, s, "alice"), newAccount(t, s, "bob")
		addPasskey(t, s, bob.ID, 9)
		bare := chirp.Passkey{CredentialID: []byte{1}, PublicKey: []byte{2}} // every optional field empty
		most := testPasskey(2)
		most.SignCount, most.CloneWarning, most.Flags = math.MaxUint32, true, 0xff
		before := time.Now().UTC().Truncate(time.Millisecond)
		for _, tc := range []struct {
			name     string
			passkey  chirp.Passkey
			wantCode chirp.Code // "" for success
			wantErr  bool
		}{
			{"EveryField", withAccount(testPasskey(1), alice.ID), "", false},
			{"Bare", withAccount(bare, alice.ID), "", false},
			{"LargestValues", withAccount(most, alice.ID), "", false},
			{"CredentialTakenByAnotherAccount", withAccount(testPasskey(9), alice.ID), chirp.CodeConflict, false},
			{"UnknownAccount", withAccount(testPasskey(3), bob.ID+1000), chirp.CodeNotFound, false},
			{"NoCredentialID", withAccount(chirp.Passkey{PublicKey: []byte{2}}, alice.ID), "", true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				added, err := s.AddPasskey(ctx, tc.passkey)
				if tc.wantCode != "" || tc.wantErr {
					if err == nil || chirp.ErrorCode(err) != tc.wantCode {
						t.Fatalf("got %+v, %v; want an error with code %q", added, err, tc.wantCode)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if added.ID <= 0 || !samePasskey(added, tc.passkey) || added.CreatedAt.Before(before) || !added.LastUsedAt.IsZero() {
					t.Fatalf("added %+v, want %+v", added, tc.passkey)
				}
				found, err := s.PasskeyByCredentialID(ctx, tc.passkey.CredentialID)
				if err != nil || found.ID != added.ID || !samePasskey(found, tc.passkey) ||
					!found.CreatedAt.Equal(added.CreatedAt) || !found.LastUsedAt.IsZero() {
					t.Fatalf("found %+v, %v; want %+v", found, err, added)
				}
			})
		}
		t.Run("PasskeysOfOldestFirst", func(t *testing.T) {
			got, err := s.PasskeysOf(ctx, alice.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := []chirp.Passkey{withAccount(testPasskey(1), alice.ID), withAccount(bare, alice.ID), withAccount(most, alice.ID)}
			if len(got) != len(want) {
				t.Fatalf("got %d passkeys, want %d", len(got), len(want))
			}
			for i := range want {
				if !samePasskey(got[i], want[i]) || (i > 0 && got[i].ID <= got[i-1].ID) {
					t.Fatalf("passkey %d: %+v, want %+v", i, got[i], want[i])
				}
			}
		})
		t.Run("UnknownCredential", func(t *testing.T) {
			if _, err := s.PasskeyByCredentialID(ctx, []byte("nobody's")); chirp.ErrorCode(err) != chirp.CodeNotFound {
				t.Fatalf("got %v, want not found", err)
			}
		})
	})
}

func TestUpdateSignCount(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		ctx := context.Background()
		a := newAccount(t, s, "alice")
		key, other := addPasskey(t, s, a.ID, 1), addPasskey(t, s, a.ID, 2)
		used := time.Date(2026, 12, 4, 23, 30, 0, 987_654_321, time.UTC)
		use := chirp.PasskeyUse{SignCount: 41, CloneWarning: true, Flags: 0x05, UsedAt: used}
		if err := s.UpdateSignCount(ctx, key.ID, use); err != nil {
			t.Fatal(err)
		}
		got, err := s.PasskeyByCredentialID(ctx, key.CredentialID)
		if err != nil {
			t.Fatal(err)
		}
		want := key
		want.SignCount, want.CloneWarning, want.Flags = 41, true, 0x05
		if !samePasskey(got, want) || !got.LastUsedAt.Equal(used.Truncate(time.Millisecond)) || got.BackupState() {
			t.Fatalf("after the use %+v, want %+v used at %v", got, want, used)
		}
		if untouched, _ := s.PasskeyByCredentialID(ctx, other.CredentialID); !samePasskey(untouched, other) || !untouched.LastUsedAt.IsZero() {
			t.Fatalf("another passkey changed: %+v", untouched)
		}
		// A refused sign-in (no UsedAt) records its warning and leaves the last use.
		refused := chirp.PasskeyUse{SignCount: 41, CloneWarning: true, Flags: 0x1d}
		if err := s.UpdateSignCount(ctx, key.ID, refused); err != nil {
			t.Fatal(err)
		}
		got, err = s.PasskeyByCredentialID(ctx, key.CredentialID)
		want.Flags = 0x1d
		if err != nil || !samePasskey(got, want) || !got.LastUsedAt.Equal(used.Truncate(time.Millisecond)) {
			t.Fatalf("after the refused use %+v, %v; want %+v used at %v", got, err, want, used)
		}
		if err := s.UpdateSignCount(ctx, other.ID+1000, use); chirp.ErrorCode(err) != chirp.CodeNotFound {
			t.Fatalf("unknown passkey: %v", err)
		}
	})
}

func TestDeletePasskey(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		ctx := context.Background()
		alice, bob := newAccount(t, s, "alice"), newAccount(t, s, "bob")
		aliceKey, bobKey := addPasskey(t, s, alice.ID, 1), addPasskey(t, s, bob.ID, 2)
		t.Run("AnotherAccountsPasskeyIsNotFound", func(t *testing.T) {
			if err := s.DeletePasskey(ctx, alice.ID, bobKey.ID); chirp.ErrorCode(err) != chirp.CodeNotFound {
				t.Fatalf("got %v, want not found", err)
			}
			if _, err := s.PasskeyByCredentialID(ctx, bobKey.CredentialID); err != nil {
				t.Fatalf("bob's passkey: %v", err)
			}
		})
		t.Run("OwnPasskey", func(t *testing.T) {
			if err := s.DeletePasskey(ctx, alice.ID, aliceKey.ID); err != nil {
				t.Fatal(err)
			}
			if got, err := s.PasskeysOf(ctx, alice.ID); err != nil || len(got) != 0 {
				t.Fatalf("alice's passkeys %+v, %v", got, err)
			}
			if err := s.DeletePasskey(ctx, alice.ID, aliceKey.ID); chirp.ErrorCode(err) != chirp.CodeNotFound {
				t.Fatalf("second delete: %v", err)
			}
		})
	})
}

func TestDeletePasskeyKeepsTheLastWayIn(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		ctx := context.Background()
		// An account made with a passkey has no password: its passkeys are its only way in.
		passkeyOnly := func(handle string, n byte) chirp.Account {
			first := testPasskey(n)
			a, err := s.CreateAccount(ctx, chirp.NewAccount{Handle: handle, DisplayName: handle, Passkey: &first})
			if err != nil {
				t.Fatal(err)
			}
			return a
		}
		t.Run("TheOnlyPasskeyStays", func(t *testing.T) {
			carol := passkeyOnly("carol", 10)
			keys, err := s.PasskeysOf(ctx, carol.ID)
			if err != nil || len(keys) != 1 {
				t.Fatalf("%+v, %v", keys, err)
			}
			if err := s.DeletePasskey(ctx, carol.ID, keys[0].ID); chirp.ErrorCode(err) != chirp.CodeConflict {
				t.Fatalf("deleting the last way in: %v, want conflict", err)
			}
			if err := s.DeletePasskey(ctx, carol.ID, keys[0].ID+1000); chirp.ErrorCode(err) != chirp.CodeNotFound {
				t.Fatalf("an unknown passkey: %v, want not found", err)
			}
			if got, _ := s.PasskeysOf(ctx, carol.ID); len(got) != 1 {
				t.Fatalf("carol's passkeys after the refusal: %+v", got)
			}
		})
		t.Run("WithAPasswordTheLastPasskeyGoes", func(t *testing.T) {
			dave := newAccount(t, s, "dave")
			key := addPasskey(t, s, dave.ID, 11)
			if err := s.DeletePasskey(ctx, dave.ID, key.ID); err != nil {
				t.Fatal(err)
			}
		})
		// Two devices each remove one of the two passkeys at once: one of them must be refused,
		// whichever commits first, or the account is locked out for good.
		t.Run("TwoDeletesAtOnceLeaveOne", func(t *testing.T) {
			for round := range 10 {
				erin := passkeyOnly("erin"+string(rune('a'+round)), byte(20+2*round))
				addPasskey(t, s, erin.ID, byte(21+2*round))
				keys, err := s.PasskeysOf(ctx, erin.ID)
				if err != nil || len(keys) != 2 {
					t.Fatalf("%+v, %v", keys, err)
				}
				var hold *sql.Tx
				if strings.HasPrefix(url, "postgres") {
					// Rows locked elsewhere stall both deletes after whatever they read first,
					// so both have read before either deletes: the interleaving that loses the
					// account unless the check itself waits for the other delete.
					hold = testdb.HoldInTransaction(t, url, fmt.Sprintf("SELECT id FROM passkeys WHERE account_id = %d FOR UPDATE", erin.ID))
				}
				errs := make(chan error, 2)
				for _, k := range keys {
					go func() { errs <- s.DeletePasskey(ctx, erin.ID, k.ID) }()
				}
				if hold != nil {
					waiting := testdb.Open(t, url)
					testkit.Eventually(t, "both deletes wait on a lock", func() bool {
						var n int
						err := waiting.QueryRow(`SELECT count(*) FROM pg_stat_activity
							WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
						return err == nil && n == 2
					})
					hold.Rollback()
				}
				var codes []chirp.Code
				for range 2 {
					codes = append(codes, chirp.ErrorCode(<-errs))
				}
				slices.Sort(codes)
				if !slices.Equal(codes, []chirp.Code{"", chirp.CodeConflict}) {
					t.Fatalf("round %d: the two deletes answered %q, want one success and one conflict", round, codes)
				}
				if got, _ := s.PasskeysOf(ctx, erin.ID); len(got) != 1 {
					t.Fatalf("round %d: %d passkeys left, want 1", round, len(got))
				}
			}
		})
	})
}
