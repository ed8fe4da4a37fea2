package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend/internal/testdb"
)

// TestClientHangUpIsNotAnOutage sends, for 5 s, requests that reach the database (a tweet by
// id, an edit and a delete with the right token, a create, /readyz) on connections the client
// closes right after sending them, against a healthy database. A client that hangs up is
// "client closed" (499 in the access record, at DEBUG, and in the metrics): never an ERROR,
// never a 503, and never a reason for the hot window to stand aside.
func TestClientHangUpIsNotAnOutage(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		p := start(t, map[string]string{"DATABASE_URL": url, "METRICS_ADDR": "127.0.0.1:0", "LOG_LEVEL": "debug"})
		addr := p.sideAddr(t, "metrics listening")

		// Tweets to edit (again and again) and to delete (each once), with their tokens.
		type owned struct {
			ID        int64
			EditToken string `json:"edit_token"`
		}
		create := func(content string) owned {
			resp, err := http.Post(p.base+"/api/tweets", "application/json",
				strings.NewReader(`{"author":"hangup","content":"`+content+`"}`))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var o owned
			if resp.StatusCode != 201 || json.NewDecoder(resp.Body).Decode(&o) != nil {
				t.Fatalf("create %s: %d", content, resp.StatusCode)
			}
			return o
		}
		var edits []owned
		for i := range 10 {
			edits = append(edits, create(fmt.Sprint("edited ", i)))
		}
		var deletes []owned
		for i := range 200 {
			deletes = append(deletes, create(fmt.Sprint("deleted ", i)))
		}
		var nextDelete atomic.Int64

		host := strings.TrimPrefix(p.base, "http://")
		request := func(i int) string {
			var method, target, body, auth string
			switch i % 5 {
			case 0:
				method, target = "GET", fmt.Sprint("/api/tweets/", edits[i%len(edits)].ID)
			case 1:
				o := edits[i%len(edits)]
				method, target, auth = "PATCH", fmt.Sprint("/api/tweets/", o.ID), o.EditToken
				body = fmt.Sprintf(`{"content":"edit %d"}`, i)
			case 2:
				if n := nextDelete.Add(1) - 1; n < int64(len(deletes)) {
					o := deletes[n]
					method, target, auth = "DELETE", fmt.Sprint("/api/tweets/", o.ID), o.EditToken
				} else {
					method, target = "GET", fmt.Sprint("/api/tweets/", deletes[0].ID)
				}
			case 3:
				method, target, body = "POST", "/api/tweets", fmt.Sprintf(`{"author":"hangup","content":"gone %d"}`, i)
			default:
				method, target = "GET", "/readyz"
			}
			var b strings.Builder
			fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, target, host)
			if auth != "" {
				b.WriteString("Authorization: Bearer " + auth + "\r\n")
			}
			if body != "" {
				fmt.Fprintf(&b, "Content-Type: application/json\r\nContent-Length: %d\r\n", len(body))
			}
			b.WriteString("\r\n" + body)
			return b.String()
		}

		before := scrapeMetrics(t, addr)
		var sent atomic.Int64
		var wg sync.WaitGroup
		end := time.Now().Add(5 * time.Second)
		for w := range 4 {
			wg.Go(func() {
				for i := w; i < 4*5000 && time.Now().Before(end); i += 4 {
					conn, err := net.Dial("tcp", host)
					if err != nil {
						continue
					}
					if _, err := io.WriteString(conn, request(i)); err == nil {
						sent.Add(1)
					}
					conn.Close()
				}
			})
		}
		wg.Wait()

		// The server finishes what it took on: wait until the request count stops moving.
		total := func(s scrape) (n float64) {
			for k, v := range s {
				if strings.HasPrefix(k, "chirp_http_requests_total{") {
					n += v
				}
			}
			return n
		}
		after := scrapeMetrics(t, addr)
		for deadline := time.Now().Add(15 * time.Second); ; {
			time.Sleep(500 * time.Millisecond)
			next := scrapeMetrics(t, addr)
			if total(next) == total(after) {
				break
			}
			after = next
			if time.Now().After(deadline) {
				t.Fatal("requests still being answered 15 s after the load")
			}
		}
		moved := func(status string) (n float64) {
			for k, v := range after {
				if strings.HasPrefix(k, "chirp_http_requests_total{") && strings.Contains(k, `status="`+status+`"`) {
					n += v - before[k]
				}
			}
			return n
		}
		logs := p.logs.String()
		t.Logf("%d requests sent and hung up on; answers counted: %v 499, %v 503, %v in all",
			sent.Load(), moved("499"), moved("503"), total(after)-total(before))
		if n := strings.Count(logs, "level=ERROR"); n != 0 {
			t.Errorf("%d ERROR records for clients that hung up on a healthy database, want 0; the first:\n%.3000s",
				n, firstLine(logs, "level=ERROR"))
		}
		if n := moved("503"); n != 0 {
			t.Errorf("%v requests counted 503, want 0", n)
		}
		if moved("499") == 0 {
			t.Error("no request counted 499: the load never hung up while a request was in the database")
		}
		closed := regexp.MustCompile(`level=(\w+) msg=request .*\bstatus=499 `).FindAllStringSubmatch(logs, -1)
		if float64(len(closed)) != moved("499") {
			t.Errorf("%d access records of 499, %v counted in the metrics", len(closed), moved("499"))
		}
		for _, c := range closed {
			if c[1] != "DEBUG" {
				t.Errorf("an access record of 499 at %s, want DEBUG", c[1])
				break
			}
		}

		// The window still answers: no reload, and the newest page from memory.
		hits, misses, reloads := after["chirp_hot_window_hits_total"], after["chirp_hot_window_misses_total"], after["chirp_hot_window_reloads_total"]
		if reloads != before["chirp_hot_window_reloads_total"] {
			t.Errorf("the hot window reloaded %v times under hang-ups, want 0", reloads-before["chirp_hot_window_reloads_total"])
		}
		if got := status(t, p.base+"/api/tweets"); got != 200 {
			t.Fatalf("newest page after the load: %d", got)
		}
		final := scrapeMetrics(t, addr)
		if final["chirp_hot_window_hits_total"] != hits+1 || final["chirp_hot_window_misses_total"] != misses ||
			final["chirp_hot_window_reloads_total"] != reloads {
			t.Errorf("the newest page after the load: hits %v → %v, misses %v → %v, reloads %v → %v; want it from memory",
				hits, final["chirp_hot_window_hits_total"], misses, final["chirp_hot_window_misses_total"],
				reloads, final["chirp_hot_window_reloads_total"])
		}
	})
}

// firstLine is logs from the start of the first line that contains s.
func firstLine(logs, s string) string {
	if i := strings.Index(logs, s); i >= 0 {
		return logs[strings.LastIndexByte(logs[:i], '\n')+1:]
	}
	return ""
}
