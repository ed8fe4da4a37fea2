package serving_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend/internal/testlog"
	"github.com/chirp-social/chirp/backend/serving"
)

func server(t *testing.T, name string) serving.Server {
	t.Helper()
	ln, err := serving.Listen("127.0.0.1", 0, "PORT")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) })
	return serving.Server{Name: name, HTTP: &http.Server{Handler: h, ReadHeaderTimeout: time.Second}, Listener: ln}
}

func answers(s serving.Server) bool {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + s.Listener.Addr().String() + "/")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

// TestOneFailingStopsAll: when one server stops serving on its own, Run shuts the others down
// and returns the failure, so a process never goes on with half of what it should serve.
func TestOneFailingStopsAll(t *testing.T) {
	a, b := server(t, "a"), server(t, "b")
	var logs testlog.Buffer
	done := make(chan error, 1)
	go func() {
		done <- serving.Run(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)), 5*time.Second, a, b)
	}()
	if !answers(a) || !answers(b) {
		t.Fatalf("not serving:\n%s", logs.String())
	}
	a.Listener.Close() // a's Serve fails, as it would on an accept error
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "serve a") {
			t.Fatalf("Run returned %v, want a's failure", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run went on with one server failed")
	}
	if answers(b) {
		t.Fatal("b still serves after a failed")
	}
	if !strings.Contains(logs.String(), "msg=stopped server=b") || strings.Contains(logs.String(), "msg=stopped server=a") {
		t.Fatalf("logs:\n%s", logs.String())
	}
}
