package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chirp-social/chirp/backend/internal/testdb"
	"github.com/chirp-social/chirp/backend/realtime"
)

// BenchmarkFanout measures what a tab waits for: from the POST of a tweet to the newTweet
// event at each of N websocket clients (raw Engine.IO 3, as socket.io-client 2.x speaks it),
// through the whole program. It reports latency percentiles over every delivery and the
// process's heap and stack growth and goroutines per connection while idle (the clients live
// in this process too, two goroutines each: reader and pinger, so those figures are upper bounds;
// backend/bench/compare-fanout.sh measures the server alone).
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{100, 1000, 5000} {
		b.Run(fmt.Sprint("N=", n), func(b *testing.B) {
			p := start(b, map[string]string{"DATABASE_URL": testdb.SQLiteURL(b), "LOG_LEVEL": "info"})
			defer p.stop(b)
			fanout(b, []*program{p}, n)
		})
	}
}

// BenchmarkFanoutProcesses is the same on PostgreSQL with 5,000 clients: on one process, and
// split over two processes that share the database (2,500 each, POSTs alternating between
// them), so that clients of the process that did not take the POST hear of it through the
// event bus. remote-p50 less local-p50 is the NOTIFY hop.
func BenchmarkFanoutProcesses(b *testing.B) {
	const clients = 5000
	for _, procs := range []int{1, 2} {
		b.Run(fmt.Sprint("processes=", procs), func(b *testing.B) {
			url := testdb.PostgresURL(b)
			var ps []*program
			for range procs {
				p := start(b, map[string]string{"DATABASE_URL": url, "LOG_LEVEL": "info"})
				defer p.stop(b)
				ps = append(ps, p)
			}
			fanout(b, ps, clients/procs)
		})
	}
}

// delivery is one client's receipt of one round's event.
type delivery struct {
	at     time.Time
	remote bool // the client's process is not the one the round POSTed to
}

// fanout connects n clients to each process and POSTs b.N tweets, round robin over the
// processes, waiting each round until every client has the event, and a newTweet window
// more before the next.
func fanout(b *testing.B, ps []*program, n int) {
	settle()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	goroutinesBefore := runtime.NumGoroutine()
	var poster atomic.Int64 // the process the current round posts to
	total := n * len(ps)
	received := make(chan delivery, total)
	var conns []*websocket.Conn
	stop := make(chan struct{}) // ends the clients' pings
	defer func() {
		close(stop)
		for _, c := range conns {
			c.Close()
		}
	}()
	for pi, p := range ps {
		wsURL := "ws" + strings.TrimPrefix(p.base, "http") + "/socket.io/?EIO=3&transport=websocket"
		for i := range n {
			c, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
			if err != nil {
				b.Fatalf("client %d: %v", i, err)
			}
			conns = append(conns, c)
			var interval time.Duration
			for _, want := range []string{"0", "40"} { // open, then namespace connect
				_, msg, err := c.ReadMessage()
				if err != nil || !strings.HasPrefix(string(msg), want) {
					b.Fatalf("client %d handshake: %q %v", i, msg, err)
				}
				if want == "0" {
					interval = pingInterval(b, msg[1:])
				}
			}
			// The server drops a client PING_TIMEOUT after its last ping, so clients that
			// never pinged would leave during a long run; ping as socket.io-client does.
			go func() {
				tick := time.NewTicker(interval)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						if c.WriteMessage(websocket.TextMessage, []byte("2")) != nil {
							return
						}
					}
				}
			}()
			go func() {
				for {
					_, msg, err := c.ReadMessage()
					if err != nil {
						return
					}
					// The library's JSON encoder ends each frame with a newline.
					if strings.TrimSpace(string(msg)) == `42["newTweet",true]` {
						received <- delivery{at: time.Now(), remote: int64(pi) != poster.Load()}
					}
				}
			}()
		}
		// A client sees "40" just before the server registers it: wait until all are registered.
		for deadline := time.Now().Add(20 * time.Second); connections(b, p.base) != n; {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d clients registered", connections(b, p.base), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	perConn := float64((after.HeapInuse+after.StackInuse)-(before.HeapInuse+before.StackInuse)) / float64(total)
	goroutinesPerConn := float64(runtime.NumGoroutine()-goroutinesBefore) / float64(total)

	var all, local, remote []time.Duration
	b.ResetTimer()
	for i := range b.N {
		if i > 0 {
			// Each round measures an isolated post: one within the window of the last
			// broadcast would be merged into the window's trailing send and wait for it.
			b.StopTimer()
			time.Sleep(realtime.DefaultNewTweetWindow)
			b.StartTimer()
		}
		poster.Store(int64(i % len(ps)))
		start := time.Now()
		resp, err := http.Post(ps[i%len(ps)].base+"/api/tweets", "application/json", strings.NewReader(fmt.Sprintf(`{"author":"bench","content":"fan-out %d"}`, i)))
		if err != nil || resp.StatusCode != 201 {
			b.Fatalf("POST: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		timeout := time.After(10 * time.Second)
		for range total {
			select {
			case d := <-received:
				all = append(all, d.at.Sub(start))
				if d.remote {
					remote = append(remote, d.at.Sub(start))
				} else {
					local = append(local, d.at.Sub(start))
				}
			case <-timeout:
				b.Fatalf("round %d: not every client got the event in 10 s", i)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(percentile(all, 0.50), "p50-ms")
	b.ReportMetric(percentile(all, 0.99), "p99-ms")
	b.ReportMetric(percentile(all, 1), "max-ms")
	if len(remote) > 0 {
		b.ReportMetric(percentile(local, 0.50), "local-p50-ms")
		b.ReportMetric(percentile(remote, 0.50), "remote-p50-ms")
		b.ReportMetric(percentile(remote, 0.99), "remote-p99-ms")
	}
	b.ReportMetric(perConn/1024, "KiB/conn")
	b.ReportMetric(goroutinesPerConn, "goroutines/conn")
}

// pingInterval reads the interval from an Engine.IO open packet's JSON.
func pingInterval(b *testing.B, open []byte) time.Duration {
	var o struct{ PingInterval int }
	if err := json.Unmarshal(open, &o); err != nil || o.PingInterval <= 0 {
		b.Fatalf("open packet %q: %v", open, err)
	}
	return time.Duration(o.PingInterval) * time.Millisecond
}

// settle waits (at most 10 s) until the goroutine count stops falling: the testing package
// runs a benchmark once with b.N=1 before the measured run, and that run's thousands of sockets
// are still closing when the next starts, which made the per-connection figures meaningless.
func settle() {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		n := runtime.NumGoroutine()
		time.Sleep(100 * time.Millisecond)
		if runtime.NumGoroutine() >= n {
			return
		}
	}
}

// percentile of ds in milliseconds (it sorts ds).
func percentile(ds []time.Duration, q float64) float64 {
	slices.Sort(ds)
	return float64(ds[int(q*float64(len(ds)-1))].Microseconds()) / 1000
}

func connections(b *testing.B, base string) int {
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var h struct{ Connections int }
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		b.Fatal(err)
	}
	return h.Connections
}
