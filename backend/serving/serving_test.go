package serving_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend/internal/testkit"
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

// aside serves h as a side listener called "side" and returns it with its address, read from
// its listening record as tests of the program do.
func aside(t *testing.T, logs *testlog.Buffer, h http.Handler) (*serving.Aside, string) {
	t.Helper()
	a, err := serving.ServeAside(slog.New(slog.NewTextHandler(logs, nil)), "side", "SIDE_ADDR", "127.0.0.1:0", h)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`msg="side listening" addr=(127\.0\.0\.1:\d+)`).FindStringSubmatch(logs.String())
	if m == nil {
		a.Stop(time.Second)
		t.Fatalf("no listening record:\n%s", logs)
	}
	return a, m[1]
}

// held is a handler that says when a request has come and answers it only once released (or
// once the request is cut).
func held() (h http.Handler, entered <-chan struct{}, release chan<- struct{}) {
	in, out := make(chan struct{}, 1), make(chan struct{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in <- struct{}{}
		select {
		case <-out:
		case <-r.Context().Done():
		}
	}), in, out
}

// get sends a GET to addr and reports its status (0 when the request failed) on the channel.
func get(addr string) <-chan int {
	status := make(chan int, 1)
	go func() {
		resp, err := (&http.Client{Timeout: 20 * time.Second}).Get("http://" + addr + "/")
		if err != nil {
			status <- 0
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	return status
}

// TestAsideStopFinishesInFlightRequests: a side listener stops as the public servers do: it
// stops accepting at once, and a request it is serving (a profile being taken, a scrape)
// finishes before Stop returns.
func TestAsideStopFinishesInFlightRequests(t *testing.T) {
	var logs testlog.Buffer
	h, entered, release := held()
	a, addr := aside(t, &logs, h)
	status := get(addr)
	testkit.Recv(t, entered, "the request never reached the handler")
	stopped := make(chan error, 1)
	go func() { stopped <- a.Stop(10 * time.Second) }()
	testkit.Eventually(t, "the side listener still accepts after Stop began", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) while a request was in flight", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if got := testkit.Recv(t, status, "the in-flight request never ended"); got != http.StatusOK {
		t.Fatalf("the in-flight request got %d, want 200", got)
	}
	if err := testkit.Recv(t, stopped, "Stop never returned after the request finished"); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if strings.Contains(logs.String(), "level=WARN") {
		t.Fatalf("a clean stop warned:\n%s", logs.String())
	}
}

// TestAsideStopCutsAtTheTimeout: a request that does not finish holds Stop only until the
// timeout; then it is cut, and the cut is logged with the listener's name.
func TestAsideStopCutsAtTheTimeout(t *testing.T) {
	var logs testlog.Buffer
	h, entered, release := held()
	defer close(release)
	a, addr := aside(t, &logs, h)
	status := get(addr)
	testkit.Recv(t, entered, "the request never reached the handler")
	stopped := make(chan error, 1)
	began := time.Now()
	go func() { stopped <- a.Stop(300 * time.Millisecond) }()
	if err := testkit.Recv(t, stopped, "Stop still waits for a request past its timeout"); err != nil {
		t.Fatalf("Stop: %v; a stop that cut a request is still clean", err)
	}
	if took := time.Since(began); took < 300*time.Millisecond {
		t.Fatalf("Stop returned after %v, before its 300ms timeout", took)
	}
	if got := testkit.Recv(t, status, "the cut request never ended"); got != 0 {
		t.Fatalf("the cut request got %d, want its connection closed", got)
	}
	if !strings.Contains(logs.String(), `msg="connections still open at the shutdown timeout were closed" server=side`) {
		t.Fatalf("the cut is not logged:\n%s", logs.String())
	}
}

// TestAsideStopsTwice: a second Stop (a closer stack and an error path both stopping it) gets
// the first one's answer at once rather than waiting for ever on a server that already ended.
func TestAsideStopsTwice(t *testing.T) {
	var logs testlog.Buffer
	a, _ := aside(t, &logs, http.NotFoundHandler())
	if err := a.Stop(time.Second); err != nil {
		t.Fatalf("first Stop: %v", err)
	}
	again := make(chan error, 1)
	go func() { again <- a.Stop(time.Second) }()
	if err := testkit.Recv(t, again, "a second Stop never returned"); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}
