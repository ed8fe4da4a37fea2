package main

// --mode api: --concurrency workers, each on its own keep-alive connection, send one request
// after another (closed loop) for --warmup, unmeasured, then --duration. A request counts in
// the span it started in.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chirp-social/chirp/backend/bench/load/internal/proc"
	"github.com/chirp-social/chirp/backend/bench/load/internal/rawhttp"
	"github.com/chirp-social/chirp/backend/bench/load/internal/stats"
)

// opReport is one kind of request's figures.
type opReport struct {
	Requests   int64          `json:"requests"`
	OK         int64          `json:"ok"`
	Errors     int64          `json:"errors"`
	ErrorKinds map[string]int `json:"error_kinds,omitempty"` // http_500, transport, …
	PerS       float64        `json:"req_per_s"`
	OKPerS     float64        `json:"ok_req_per_s"`
	Latency    stats.Latency  `json:"latency"` // of the answered ones
}

// apiReport is what --mode api prints as JSON; Ops is keyed by op ("get" or "post").
type apiReport struct {
	Mode              string               `json:"mode"`
	URL               string               `json:"url"`
	Op                string               `json:"op"`
	Label             string               `json:"label,omitempty"`
	Concurrency       int                  `json:"concurrency"`
	DurationS         float64              `json:"duration_s"`
	Limit             int                  `json:"limit"`
	Ops               map[string]*opReport `json:"ops"`
	TotalPerS         float64              `json:"total_req_per_s"`
	ServerPID         int                  `json:"server_pid"`
	ServerRSSStartKiB int64                `json:"server_rss_start_kib"`
	ServerRSSEndKiB   int64                `json:"server_rss_end_kib"`
	ServerCPUS        float64              `json:"server_cpu_s"`
	ToolCPUS          float64              `json:"tool_cpu_s"`
}

// apiWorker is one connection's tally, merged after the run: no lock on the hot path.
type apiWorker struct {
	requests, ok int64
	errs         map[string]int
	lat          []time.Duration
}

func runAPI(ctx context.Context, cfg config, log progress) (*apiReport, error) {
	res := &apiReport{Mode: "api", URL: cfg.url, Op: cfg.op, Label: cfg.label, Concurrency: cfg.concurrency,
		Limit: cfg.limit, Ops: map[string]*opReport{}, ServerPID: cfg.pid}
	get := rawhttp.Get(cfg.host, cfg.base+"/api/tweets?limit="+strconv.Itoa(cfg.limit))
	if err := preflight(cfg.host, get); err != nil {
		return nil, err
	}
	const timeout = 10 * time.Second
	want := 200
	if cfg.op == "post" {
		want = 201
	}
	begin := time.Now()
	measureFrom := begin.Add(cfg.warmup)
	end := measureFrom.Add(cfg.duration)
	res.ServerRSSStartKiB = proc.ReadMemory(cfg.pid).RSSKiB
	cpu0, tool0 := proc.ReadCPUSeconds(cfg.pid), proc.ReadCPUSeconds(0)
	log.say("api: %s with %d connections, warm-up %s, measured %s", strings.ToUpper(cfg.op), cfg.concurrency, cfg.warmup, cfg.duration)
	workers := make([]*apiWorker, cfg.concurrency)
	var wg sync.WaitGroup
	for w := range workers {
		tally := &apiWorker{errs: map[string]int{}}
		workers[w] = tally
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn := rawhttp.New(cfg.host)
			defer conn.Close()
			for seq := 0; ctx.Err() == nil && time.Now().Before(end); seq++ {
				req := get
				if cfg.op == "post" {
					req = rawhttp.PostJSON(cfg.host, cfg.base+"/api/tweets",
						fmt.Sprintf(`{"author":"load%d","content":"api load tweet %d from worker %d"}`, w, seq, w))
				}
				t0 := time.Now()
				status, err := conn.Do(req, timeout)
				took := time.Since(t0)
				kind := ""
				switch {
				case err != nil && ctx.Err() != nil:
					return // cut off by the run's timeout: neither an answer nor the server's error
				case err != nil:
					kind = "transport"
					sleep(ctx, 10*time.Millisecond) // no hot loop against a server that is gone
				case status != want:
					kind = "http_" + strconv.Itoa(status)
				}
				if t0.Before(measureFrom) {
					continue
				}
				tally.requests++
				if kind != "" {
					tally.errs[kind]++
					continue
				}
				tally.ok++
				tally.lat = append(tally.lat, took)
			}
		}()
	}
	wg.Wait()
	// Requests started before the end may finish after it and are counted: the span is real.
	elapsed := time.Since(measureFrom).Seconds()
	res.DurationS = stats.Round3(elapsed)
	op := &opReport{}
	var lats []time.Duration
	for _, t := range workers {
		op.Requests += t.requests
		op.OK += t.ok
		for kind, n := range t.errs {
			if op.ErrorKinds == nil {
				op.ErrorKinds = map[string]int{}
			}
			op.ErrorKinds[kind] += n
			op.Errors += int64(n)
		}
		lats = append(lats, t.lat...)
	}
	op.Latency = stats.Latencies(lats)
	op.PerS = stats.Round3(float64(op.Requests) / elapsed)
	op.OKPerS = stats.Round3(float64(op.OK) / elapsed)
	res.Ops[cfg.op] = op
	res.TotalPerS = op.PerS
	if cfg.pid > 0 {
		res.ServerRSSEndKiB = proc.ReadMemory(cfg.pid).RSSKiB
		res.ServerCPUS = stats.Round3(proc.ReadCPUSeconds(cfg.pid) - cpu0)
	}
	res.ToolCPUS = stats.Round3(proc.ReadCPUSeconds(0) - tool0)
	return res, ctx.Err()
}

// preflight sends one checked GET, so that a wrong URL fails loudly rather than as a fast
// storm of errors reported as throughput. A POST run checks the GET too: it is free and the
// server it finds is the one the POSTs will go to.
func preflight(host string, get []byte) error {
	c := rawhttp.New(host)
	defer c.Close()
	status, body, err := c.Fetch(get, 10*time.Second, nil)
	if err != nil {
		return fmt.Errorf("the first GET /api/tweets: %w", err)
	}
	var page []json.RawMessage
	if status != 200 || json.Unmarshal(body, &page) != nil {
		return fmt.Errorf("the first GET /api/tweets: HTTP %d, body %.120q", status, body)
	}
	return nil
}

// complete: an api run is complete when it ran; its errors are figures, not a failure.
func (r *apiReport) complete() bool { return true }

func (r *apiReport) summary(w io.Writer) {
	fmt.Fprintf(w, "== api %s, %d connections, %.1f s %s\n", strings.ToUpper(r.Op), r.Concurrency, r.DurationS, r.Label)
	for name, o := range r.Ops {
		fmt.Fprintf(w, "%s %.1f req/s (ok %.1f): p50 %.2f p95 %.2f p99 %.2f max %.2f ms; errors %d %v\n",
			strings.ToUpper(name), o.PerS, o.OKPerS, o.Latency.P50, o.Latency.P95, o.Latency.P99, o.Latency.Max, o.Errors, o.ErrorKinds)
	}
	if r.ServerPID > 0 {
		fmt.Fprintf(w, "server RSS %.1f → %.1f MiB, CPU %.2f s (%.0f%% of a core)\n",
			mib(r.ServerRSSStartKiB), mib(r.ServerRSSEndKiB), r.ServerCPUS, 100*r.ServerCPUS/r.DurationS)
	}
	fmt.Fprintf(w, "the tool: CPU %.2f s (%.0f%% of a core)\n", r.ToolCPUS, 100*r.ToolCPUS/r.DurationS)
}
