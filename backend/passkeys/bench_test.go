package passkeys_test

import (
	"slices"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend/internal/testdb"
)

// BenchmarkSignIn measures a whole passkey sign-in on the server's side (its options with the
// stored ceremony, and its finish: the ceremony taken, the passkey and account read, the
// signature verified, the use recorded), the authenticator's work excluded, and reports the
// p99 beside the mean.
func BenchmarkSignIn(b *testing.B) {
	for _, db := range []struct {
		name string
		url  func(testing.TB) string
	}{{"SQLite", testdb.SQLiteURL}, {"Postgres", testdb.PostgresURL}} {
		b.Run(db.name, func(b *testing.B) {
			p := newParty(b, db.url(b))
			_, key := p.signUp(b, "alice")
			took := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				o, err := p.rp.BeginSignIn(b.Context())
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				beforeAnswer := time.Now()
				cred, err := key.SignIn(o.PublicKey, page)
				if err != nil {
					b.Fatal(err)
				}
				answering := time.Since(beforeAnswer)
				b.StartTimer()
				if _, err := p.rp.FinishSignIn(b.Context(), o.Ceremony, cred); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(start)-answering)
			}
			b.StopTimer()
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
