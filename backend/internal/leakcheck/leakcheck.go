// Package leakcheck fails a test binary that leaves goroutines behind (go.uber.org/goleak),
// after closing what the tests' own tooling shares across tests.
package leakcheck

import (
	"net/http"

	"go.uber.org/goleak"

	"github.com/chirp-social/chirp/backend/internal/testdb"
)

// SocketIOServe is go-socket.io's accept loop. realtime.New starts it, and it is never stopped
// on purpose: the library has no way to stop it that is safe while a handshake may still
// arrive (a handshake that reaches a closed server panics; see docs/realtime.md,
// "Traps avoided"), and it dies with the process. One per realtime.Server, idle.
var SocketIOServe = goleak.IgnoreTopFunction("github.com/googollee/go-socket.io/engineio.(*Server).Accept")

// Main runs the tests, then checks that no goroutine is left but those ignored. Before the
// check it closes the tests' shared PostgreSQL admin connection and the default HTTP client's
// idle keep-alive connections: both belong to the tests, not to the code under test.
func Main(m goleak.TestingM, ignore ...goleak.Option) {
	goleak.VerifyTestMain(tidy{m}, ignore...)
}

type tidy struct{ m goleak.TestingM }

func (t tidy) Run() int {
	code := t.m.Run()
	testdb.CloseAdmin()
	http.DefaultClient.CloseIdleConnections()
	return code
}
