package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chirp-social/chirp/backend/internal/testdb"
)

// BenchmarkFanout measures what a tab waits for: from the POST of a tweet to the newTweet
// event at each of N websocket clients (raw Engine.IO 3, as socket.io-client 2.x speaks it),
// through the whole program. It reports latency percentiles over every delivery and the
// process's heap and stack growth per connection (the clients live in this process too, so
// that figure is an upper bound; ../shared/bench/compare-fanout.sh measures the server alone).
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprint("N=", n), func(b *testing.B) { benchFanout(b, n) })
	}
}

func benchFanout(b *testing.B, n int) {
	p := start(b, map[string]string{"DATABASE_URL": testdb.SQLiteURL(b), "LOG_LEVEL": "info"})
	defer p.stop(b)
	wsURL := "ws" + strings.TrimPrefix(p.base, "http") + "/socket.io/?EIO=3&transport=websocket"

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	received := make(chan time.Time, n)
	var conns []*websocket.Conn
	for i := range n {
		c, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
		if err != nil {
			b.Fatalf("client %d: %v", i, err)
		}
		conns = append(conns, c)
		for _, want := range []string{"0", "40"} { // open, then namespace connect
			if _, msg, err := c.ReadMessage(); err != nil || !strings.HasPrefix(string(msg), want) {
				b.Fatalf("client %d handshake: %q %v", i, msg, err)
			}
		}
		go func() {
			for {
				_, msg, err := c.ReadMessage()
				if err != nil {
					return
				}
				// The library's JSON encoder ends each frame with a newline.
				if strings.TrimSpace(string(msg)) == `42["newTweet",true]` {
					received <- time.Now()
				}
			}
		}()
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// A client sees "40" just before the server registers it: wait until all are registered.
	for deadline := time.Now().Add(10 * time.Second); connections(b, p.base) != n; {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d clients registered", connections(b, p.base), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	perConn := float64((after.HeapInuse+after.StackInuse)-(before.HeapInuse+before.StackInuse)) / float64(n)

	var lat []time.Duration
	var mu sync.Mutex
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		resp, err := http.Post(p.base+"/api/tweets", "application/json", strings.NewReader(fmt.Sprintf(`{"author":"bench","content":"fan-out %d"}`, i)))
		if err != nil || resp.StatusCode != 201 {
			b.Fatalf("POST: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		timeout := time.After(10 * time.Second)
		for range n {
			select {
			case at := <-received:
				mu.Lock()
				lat = append(lat, at.Sub(start))
				mu.Unlock()
			case <-timeout:
				b.Fatalf("round %d: not every client got the event in 10 s", i)
			}
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(pct(1), "max-ms")
	b.ReportMetric(perConn/1024, "KiB/conn")
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
