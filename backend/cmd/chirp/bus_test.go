package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend/internal/testdb"
)

// A process whose event bus cannot listen is not ready, through the whole program: /readyz
// answers 503 naming the bus while the database refuses the listener's reconnects, and 200
// once it is back, with no restart.
func TestReadyzFollowsTheEventBus(t *testing.T) {
	url := testdb.PostgresURL(t)
	p := start(t, map[string]string{"DATABASE_URL": url})
	if got := status(t, p.base+"/readyz"); got != 200 {
		t.Fatalf("/readyz %d at start", got)
	}
	m := regexp.MustCompile(`msg="event bus listening".*application_name="([^"]+)"`).FindStringSubmatch(p.logs.String())
	if m == nil {
		t.Fatalf("no event bus listening record:\n%s", p.logs)
	}
	var dbname string
	if err := testdb.Open(t, url).QueryRow("SELECT current_database()").Scan(&dbname); err != nil {
		t.Fatal(err)
	}
	// From the maintenance database: a database cannot refuse connections to itself.
	admin, err := testdb.Open(t, os.Getenv("TEST_DATABASE_URL")).Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := admin.ExecContext(context.Background(), q, args...); err != nil {
			t.Fatal(err)
		}
	}
	allow := fmt.Sprintf("ALTER DATABASE %q ALLOW_CONNECTIONS true", dbname)
	t.Cleanup(func() { admin.ExecContext(context.Background(), allow) })
	exec(fmt.Sprintf("ALTER DATABASE %q ALLOW_CONNECTIONS false", dbname))
	exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = $2", m[1], dbname)

	var body struct {
		Error struct{ Code, Message string }
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if got := getJSON(t, p.base+"/readyz", &body); got == 503 && regexp.MustCompile(`event bus down`).MatchString(body.Error.Message) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz does not report the bus down 5 s after its listener was cut: %+v", body)
		}
	}
	exec(allow)
	for deadline := time.Now().Add(10 * time.Second); status(t, p.base+"/readyz") != 200; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("/readyz not 200 10 s after the database let the listener back")
		}
	}
}
