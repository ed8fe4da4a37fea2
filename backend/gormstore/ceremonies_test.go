package gormstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/gormstore"
	"github.com/chirp-social/chirp/backend/internal/testdb"
)

func ceremonyID(n int) []byte {
	sum := sha256.Sum256(fmt.Appendf(nil, "ceremony %d", n))
	return sum[:]
}

func saveCeremony(t *testing.T, s *gormstore.Store, n int, c chirp.Ceremony) {
	t.Helper()
	if err := s.SaveCeremony(context.Background(), ceremonyID(n), c); err != nil {
		t.Fatal(err)
	}
}

func TestTakeCeremony(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		ctx := context.Background()
		now := time.Now()
		later := now.Add(chirp.CeremonyLifetime)
		saveCeremony(t, s, 1, chirp.Ceremony{Purpose: "signup", State: []byte(`{"a":1}`), ExpiresAt: later})
		saveCeremony(t, s, 2, chirp.Ceremony{Purpose: "add", AccountID: 7, State: []byte{0, 1, 0xff}, ExpiresAt: later})
		saveCeremony(t, s, 3, chirp.Ceremony{Purpose: "signin", ExpiresAt: now.Add(-time.Millisecond)})
		saveCeremony(t, s, 4, chirp.Ceremony{Purpose: "signin", ExpiresAt: later})
		if err := s.SaveCeremony(ctx, ceremonyID(1), chirp.Ceremony{Purpose: "signin", ExpiresAt: later}); err == nil {
			t.Fatal("a second ceremony under one id hash was saved")
		}
		for _, tc := range []struct {
			name   string
			n      int
			now    time.Time
			want   chirp.Ceremony
			wantOK bool
		}{
			{"SignUp", 1, now, chirp.Ceremony{Purpose: "signup", State: []byte(`{"a":1}`), ExpiresAt: later}, true},
			{"Used", 1, now, chirp.Ceremony{}, false},
			{"AddWithBinaryState", 2, now, chirp.Ceremony{Purpose: "add", AccountID: 7, State: []byte{0, 1, 0xff}, ExpiresAt: later}, true},
			{"Expired", 3, now, chirp.Ceremony{}, false},
			{"ExpiresAtTheInstant", 4, later, chirp.Ceremony{}, false},
			{"Unknown", 99, now, chirp.Ceremony{}, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.TakeCeremony(ctx, ceremonyID(tc.n), tc.now)
				if !tc.wantOK {
					if chirp.ErrorCode(err) != chirp.CodeBadRequest {
						t.Fatalf("got %+v, %v; want the ceremony over", got, err)
					}
					return
				}
				if err != nil || got.Purpose != tc.want.Purpose || got.AccountID != tc.want.AccountID ||
					!bytes.Equal(got.State, tc.want.State) || !got.ExpiresAt.Equal(tc.want.ExpiresAt.Truncate(time.Millisecond)) {
					t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
				}
			})
		}
		// Before its expiry the same ceremony is still there: only the clock made it over.
		if _, err := s.TakeCeremony(ctx, ceremonyID(4), now); err != nil {
			t.Fatalf("ceremony 4 before its expiry: %v", err)
		}
	})
}

// Of many answers racing for one ceremony, from as many goroutines (PostgreSQL: as many
// connections), exactly one takes it.
func TestTakeCeremonyOnce(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		for round := range 5 {
			saveCeremony(t, s, round, chirp.Ceremony{Purpose: "signin", ExpiresAt: time.Now().Add(time.Minute)})
			const racers = 8
			var wg sync.WaitGroup
			results := make(chan error, racers)
			for range racers {
				wg.Go(func() {
					_, err := s.TakeCeremony(context.Background(), ceremonyID(round), time.Now())
					results <- err
				})
			}
			wg.Wait()
			close(results)
			taken := 0
			for err := range results {
				switch {
				case err == nil:
					taken++
				case chirp.ErrorCode(err) != chirp.CodeBadRequest:
					t.Fatalf("round %d: %v", round, err)
				}
			}
			if taken != 1 {
				t.Fatalf("round %d: taken %d times, want once", round, taken)
			}
		}
	})
}

func TestPurgeExpiredCeremonies(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		now := time.Now()
		saveCeremony(t, s, 1, chirp.Ceremony{Purpose: "signin", ExpiresAt: now.Add(-time.Second)})
		saveCeremony(t, s, 2, chirp.Ceremony{Purpose: "signin", ExpiresAt: now.Add(time.Minute)})
		if full, err := gormstore.PurgeExpired(s, now); err != nil || full {
			t.Fatalf("purge: full %v, %v", full, err)
		}
		if n := countRows(t, s, "ceremonies"); n != 1 {
			t.Fatalf("%d ceremonies after the purge, want the unexpired one", n)
		}
		if _, err := s.TakeCeremony(context.Background(), ceremonyID(2), now); err != nil {
			t.Fatalf("the unexpired ceremony: %v", err)
		}

		old := now.Add(-time.Hour)
		rows := make([]map[string]any, gormstore.PurgeChunk+1)
		for i := range rows {
			rows[i] = map[string]any{"id_hash": ceremonyID(1000 + i), "purpose": "signin", "account_id": 0,
				"state": []byte{}, "expires_at": old}
		}
		if err := gormstore.DB(s).Table("ceremonies").CreateInBatches(rows, 200).Error; err != nil {
			t.Fatal(err)
		}
		if full, err := gormstore.PurgeExpired(s, now); err != nil || !full {
			t.Fatalf("first purge: full %v, %v", full, err)
		}
		if full, err := gormstore.PurgeExpired(s, now); err != nil || full {
			t.Fatalf("second purge: full %v, %v", full, err)
		}
		if n := countRows(t, s, "ceremonies"); n != 0 {
			t.Fatalf("%d ceremonies after the purges", n)
		}
	})
}

func TestUserHandles(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		// An account made before user handles, as that code made it.
		old, err := gormstore.OpenPreUserHandles(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		err = gormstore.DB(old).Exec(`INSERT INTO accounts (handle, display_name, password_hash, created_at)
			VALUES (?, ?, ?, ?)`, "early", "Early", "$argon2id$x", time.Now().UTC()).Error
		old.Close()
		if err != nil {
			t.Fatal(err)
		}
		s := openStore(t, url)
		early, err := s.AccountByHandle(ctx, "early")
		if err != nil || !early.UserHandle.IsZero() {
			t.Fatalf("the early account: %+v, %v; want no user handle", early, err)
		}

		given := chirp.NewUserHandle()
		made, err := s.CreateAccount(ctx, chirp.NewAccount{Handle: "given", DisplayName: "Given", UserHandle: given})
		if err != nil || made.UserHandle != given {
			t.Fatalf("created %+v, %v; want user handle %x", made, err, given)
		}
		a, b := newAccount(t, s, "alice"), newAccount(t, s, "bob")
		if a.UserHandle.IsZero() || b.UserHandle.IsZero() || a.UserHandle == b.UserHandle {
			t.Fatalf("made user handles %x and %x", a.UserHandle, b.UserHandle)
		}
		if _, err := s.CreateAccount(ctx, chirp.NewAccount{Handle: "copycat", DisplayName: "C", UserHandle: given}); err == nil {
			t.Fatal("a second account with one user handle was created")
		}

		fresh := chirp.NewUserHandle()
		for _, tc := range []struct {
			name      string
			accountID int64
			want      chirp.UserHandle
			wantCode  chirp.Code
		}{
			{"NoneYet", early.ID, fresh, ""},
			{"KeptOnceGiven", early.ID, fresh, ""},
			{"HasOne", a.ID, a.UserHandle, ""},
			{"NoSuchAccount", b.ID + 1000, chirp.UserHandle{}, chirp.CodeNotFound},
		} {
			t.Run(tc.name, func(t *testing.T) {
				offered := fresh
				if tc.name != "NoneYet" {
					offered = chirp.NewUserHandle()
				}
				got, err := s.EnsureUserHandle(ctx, tc.accountID, offered)
				if chirp.ErrorCode(err) != tc.wantCode || got != tc.want {
					t.Fatalf("got %x, %v; want %x, code %q", got, err, tc.want, tc.wantCode)
				}
				if tc.wantCode == "" {
					if again, err := s.AccountByID(ctx, tc.accountID); err != nil || again.UserHandle != tc.want {
						t.Fatalf("read back %+v, %v", again, err)
					}
				}
			})
		}
	})
}
