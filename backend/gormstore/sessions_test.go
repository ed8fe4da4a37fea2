package gormstore_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend"
	"github.com/chirp-social/chirp/backend/gormstore"
	"github.com/chirp-social/chirp/backend/internal/testdb"
	"github.com/chirp-social/chirp/backend/internal/testkit"
)

// tokenHash is the hash of the n-th test token: 32 bytes, as a real token's SHA-256.
func tokenHash(n int) []byte {
	h := sha256.Sum256(fmt.Appendf(nil, "token %d", n))
	return h[:]
}

// storedLastUse is what the database holds as the session's last use.
func storedLastUse(t *testing.T, s *gormstore.Store, id int64) time.Time {
	t.Helper()
	var at time.Time
	if err := gormstore.DB(s).Raw("SELECT last_used_at FROM sessions WHERE id = ?", id).Scan(&at).Error; err != nil {
		t.Fatal(err)
	}
	return at.UTC()
}

func sessionIDs(sessions []chirp.Session) []int64 {
	ids := make([]int64, len(sessions))
	for i, s := range sessions {
		ids[i] = s.ID
	}
	return ids
}

const maxIdle = 30 * 24 * time.Hour

func TestSessionByTokenHash(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		ctx := context.Background()
		a := newAccount(t, s, "alice")
		t0 := time.Date(2026, 12, 4, 23, 0, 0, 123_456_789, time.UTC)
		for i, tc := range []struct {
			name      string
			uses      []time.Duration // after t0, in order; the last one's answer is checked
			wantFound bool
			wantLast  time.Duration // after t0: LastUsedAt answered and stored
		}{
			{"JustCreated", []time.Duration{0}, true, 0},
			{"UsedWithinAMinuteIsNotRecorded", []time.Duration{gormstore.SessionTouchEvery - time.Millisecond}, true, 0},
			{"UsedAfterAMinuteIsRecorded", []time.Duration{gormstore.SessionTouchEvery}, true, gormstore.SessionTouchEvery},
			{"IdleExactlyMaxIdle", []time.Duration{maxIdle}, true, maxIdle},
			{"IdleLongerExpires", []time.Duration{maxIdle + time.Millisecond}, false, 0},
			{"UseKeepsItAlive", []time.Duration{20 * 24 * time.Hour, 40 * 24 * time.Hour}, true, 40 * 24 * time.Hour},
			{"ExpiredStaysExpired", []time.Duration{maxIdle + time.Hour, maxIdle + time.Hour + time.Minute}, false, 0},
			{"AnEarlierClockDoesNotMoveItBack", []time.Duration{2 * time.Hour, time.Hour}, true, 2 * time.Hour},
		} {
			t.Run(tc.name, func(t *testing.T) {
				hash := tokenHash(100 + i)
				created, err := s.CreateSession(ctx, a.ID, hash, t0)
				if err != nil {
					t.Fatal(err)
				}
				want0 := t0.Truncate(time.Millisecond)
				if created.AccountID != a.ID || !created.CreatedAt.Equal(want0) || !created.LastUsedAt.Equal(want0) {
					t.Fatalf("created %+v", created)
				}
				var got chirp.Session
				for _, after := range tc.uses {
					got, err = s.SessionByTokenHash(ctx, hash, t0.Add(after), maxIdle)
				}
				if !tc.wantFound {
					if chirp.ErrorCode(err) != chirp.CodeNotFound {
						t.Fatalf("got %+v, %v; want not found", got, err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				wantLast := want0.Add(tc.wantLast)
				if got.ID != created.ID || got.AccountID != a.ID || !got.CreatedAt.Equal(want0) || !got.LastUsedAt.Equal(wantLast) {
					t.Fatalf("got %+v, want last use %v", got, wantLast)
				}
				if stored := storedLastUse(t, s, created.ID); !stored.Equal(wantLast) {
					t.Fatalf("stored last use %v, want %v", stored, wantLast)
				}
			})
		}
		t.Run("UnknownToken", func(t *testing.T) {
			if _, err := s.SessionByTokenHash(ctx, tokenHash(-1), t0, maxIdle); chirp.ErrorCode(err) != chirp.CodeNotFound {
				t.Fatalf("got %v, want not found", err)
			}
		})
		t.Run("UnknownAccount", func(t *testing.T) {
			if _, err := s.CreateSession(ctx, a.ID+1000, tokenHash(-2), t0); chirp.ErrorCode(err) != chirp.CodeNotFound {
				t.Fatalf("got %v, want not found", err)
			}
		})
		t.Run("EmptyTokenHash", func(t *testing.T) {
			if _, err := s.CreateSession(ctx, a.ID, nil, t0); err == nil {
				t.Fatal("a session without a token hash was stored")
			}
		})
	})
}

func TestListSessions(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		ctx := context.Background()
		alice, bob := newAccount(t, s, "alice"), newAccount(t, s, "bob")
		now := time.Date(2026, 12, 4, 23, 0, 0, 0, time.UTC)
		var ids []int64
		for i, age := range []time.Duration{maxIdle + time.Second, 3 * time.Hour, time.Hour, 2 * time.Hour} {
			ids = append(ids, newSession(t, s, alice.ID, i, now.Add(-age)).ID)
		}
		newSession(t, s, bob.ID, 10, now)
		got, err := s.ListSessions(ctx, alice.ID, now, maxIdle)
		if err != nil {
			t.Fatal(err)
		}
		// Most recently used first; the expired one and bob's are not listed.
		if want := []int64{ids[2], ids[3], ids[1]}; !slices.Equal(sessionIDs(got), want) {
			t.Fatalf("listed %v, want %v", sessionIDs(got), want)
		}
		if none, err := s.ListSessions(ctx, alice.ID+1000, now, maxIdle); err != nil || len(none) != 0 {
			t.Fatalf("unknown account: %v, %v", none, err)
		}
	})
}

func TestDeleteSessions(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		ctx := context.Background()
		now := time.Now()
		alice, bob := newAccount(t, s, "alice"), newAccount(t, s, "bob")
		var aliceIDs []int64
		for i := range 4 {
			aliceIDs = append(aliceIDs, newSession(t, s, alice.ID, i, now).ID)
		}
		bobSession := newSession(t, s, bob.ID, 10, now)
		listed := func(accountID int64) []int64 {
			t.Helper()
			got, err := s.ListSessions(ctx, accountID, now, maxIdle)
			if err != nil {
				t.Fatal(err)
			}
			ids := sessionIDs(got)
			slices.Sort(ids)
			return ids
		}

		t.Run("AnotherAccountsSessionIsNotFound", func(t *testing.T) {
			if err := s.DeleteSession(ctx, alice.ID, bobSession.ID); chirp.ErrorCode(err) != chirp.CodeNotFound {
				t.Fatalf("got %v, want not found", err)
			}
			if got := listed(bob.ID); !slices.Equal(got, []int64{bobSession.ID}) {
				t.Fatalf("bob's sessions %v", got)
			}
		})
		t.Run("OwnSession", func(t *testing.T) {
			if err := s.DeleteSession(ctx, alice.ID, aliceIDs[0]); err != nil {
				t.Fatal(err)
			}
			if _, err := s.SessionByTokenHash(ctx, tokenHash(0), now, maxIdle); chirp.ErrorCode(err) != chirp.CodeNotFound {
				t.Fatalf("deleted session still opens: %v", err)
			}
			if err := s.DeleteSession(ctx, alice.ID, aliceIDs[0]); chirp.ErrorCode(err) != chirp.CodeNotFound {
				t.Fatalf("second delete: %v", err)
			}
		})
		t.Run("OtherSessions", func(t *testing.T) {
			n, err := s.DeleteOtherSessions(ctx, alice.ID, aliceIDs[2])
			if err != nil || n != 2 {
				t.Fatalf("deleted %d, %v; want 2", n, err)
			}
			if got := listed(alice.ID); !slices.Equal(got, []int64{aliceIDs[2]}) {
				t.Fatalf("alice's sessions %v, want only %d", got, aliceIDs[2])
			}
			if got := listed(bob.ID); !slices.Equal(got, []int64{bobSession.ID}) {
				t.Fatalf("bob's sessions %v", got)
			}
			if n, err := s.DeleteOtherSessions(ctx, alice.ID, aliceIDs[2]); err != nil || n != 0 {
				t.Fatalf("again: %d, %v", n, err)
			}
		})
	})
}

// The purge deletes exactly the sessions SessionByTokenHash no longer opens, of every account,
// however many (more than one chunk), and says how many.
func TestPurgeIdleSessions(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		s := openStore(t, url)
		ctx := context.Background()
		alice, bob := newAccount(t, s, "alice"), newAccount(t, s, "bob")
		now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
		tests := []struct {
			name    string
			account int64
			idle    time.Duration
			purged  bool
		}{
			{"Fresh", alice.ID, 0, false},
			{"IdleExactlyMaxIdle", alice.ID, maxIdle, false},
			{"IdleAMillisecondLonger", alice.ID, maxIdle + time.Millisecond, true},
			{"IdleForYears", bob.ID, 3 * 365 * 24 * time.Hour, true},
			{"AnotherAccountsFresh", bob.ID, time.Hour, false},
		}
		for i, tt := range tests {
			newSession(t, s, tt.account, i, now.Add(-tt.idle))
		}
		// A backlog beyond one chunk, as a store that never purged would have.
		// One statement: a transaction each would take most of a minute on SQLite.
		backlog := gormstore.PurgeChunk + 7
		values, args := make([]string, backlog), make([]any, 0, 4*backlog)
		for i := range backlog {
			at := now.Add(-maxIdle - time.Duration(i+1)*time.Second)
			values[i] = "(?, ?, ?, ?)"
			args = append(args, bob.ID, tokenHash(1000+i), at, at)
		}
		err := gormstore.DB(s).Exec("INSERT INTO sessions (account_id, token_hash, created_at, last_used_at) VALUES "+
			strings.Join(values, ", "), args...).Error
		if err != nil {
			t.Fatal(err)
		}
		n, err := s.PurgeIdleSessions(ctx, now, maxIdle)
		if want := int64(backlog + 2); err != nil || n != want {
			t.Fatalf("purged %d, %v; want %d", n, err, want)
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := s.SessionByTokenHash(ctx, tokenHash(i), now, maxIdle)
				if found := err == nil; found == tt.purged {
					t.Fatalf("after the purge: %v; want purged %v", err, tt.purged)
				}
			})
		}
		if n, err := s.PurgeIdleSessions(ctx, now, maxIdle); err != nil || n != 0 {
			t.Fatalf("second purge: %d, %v", n, err)
		}
	})
}

// A store opened WithSessionPurge purges idle sessions on its own, as it purges expired keys.
func TestWriterPurgesIdleSessions(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := gormstore.OpenPurgingEvery(ctx, url, 20*time.Millisecond, gormstore.WithSessionPurge(maxIdle))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		a := newAccount(t, s, "alice")
		now := time.Now()
		idle := newSession(t, s, a.ID, 1, now.Add(-maxIdle-time.Minute))
		live := newSession(t, s, a.ID, 2, now)
		alive := func(id int64) bool { return countWhere(t, s, "sessions", "id = ?", id) == 1 }
		testkit.Eventually(t, "the writer to purge the idle session", func() bool { return !alive(idle.ID) })
		if !alive(live.ID) {
			t.Fatal("the writer purged a live session")
		}
	})
}

// countWhere counts the table's rows that match the condition.
func countWhere(t *testing.T, s *gormstore.Store, table, where string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := gormstore.DB(s).Table(table).Where(where, args...).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}
