package realtime_test

import (
	"bufio"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend/internal/testlog"
	"github.com/chirp-social/chirp/backend/realtime"
)

// A websocket upgrade whose client sends data before the server's 101 is refused by gorilla,
// which has hijacked the connection by then. The engine then answered it again, and net/http
// logged each such answer on its error log at WARN ("response.WriteHeader on hijacked
// connection"): any client could fill the log. It is a limit record now, at most one a minute
// per client like the others, and the rest are counted.
func TestUpgradeWithEarlyDataIsLoggedAsALimit(t *testing.T) {
	logs := &testlog.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s, err := realtime.New(realtime.Config{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(s)
	ts.Config.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn) // as cmd/chirp has it
	ts.Start()
	t.Cleanup(func() { s.Close(); ts.Close() })

	const tries = 20
	for i := range tries {
		c, err := net.DialTimeout("tcp", ts.Listener.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		// The request and a first frame in one write: the frame is buffered when gorilla
		// hijacks the connection.
		c.Write([]byte("GET /socket.io/?EIO=3&transport=websocket HTTP/1.1\r\nHost: x\r\n" +
			"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n\x81\x05hello"))
		// The server closes the connection without a 101.
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err == nil && resp.StatusCode == http.StatusSwitchingProtocols {
			t.Fatalf("try %d: upgraded", i)
		}
		c.Close()
	}
	// Each refusal has reached the log (or its summary count) once the engine has answered;
	// wait for the sessions to be gone, then for the log to settle.
	deadline := time.Now().Add(10 * time.Second)
	for s.Sessions() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions left", s.Sessions())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	var warns []string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "level=WARN") {
			warns = append(warns, line)
		}
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "msg=\"limit reached\" limit=websocket_early_data client=127.0.0.1") {
		t.Fatalf("%d tries logged %d WARN records, want one limit record:\n%s", tries, len(warns), strings.Join(warns, "\n"))
	}
}
