package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/chirp-social/chirp/backend/bench/load/internal/socketio"
)

// The bounds of one run: the tool shares a small machine with the server it measures, and a
// typo must not turn into an hour of load or a million sockets.
const (
	maxClients     = 10000
	maxRounds      = 1000
	maxConcurrency = 512
	maxDuration    = 300 * time.Second
	maxTimeout     = 30 * time.Minute
	maxWait        = time.Minute // --deliver-timeout, --connect-timeout, --settle
	maxGap         = 10 * time.Second
)

// config is one run, as the flags asked for it and checked.
type config struct {
	mode  string // fanout | listen | api
	url   string // http://host:port[/prefix], no trailing slash
	host  string // host:port, for raw requests
	base  string // the URL's path prefix ("" at the root)
	path  string // the socket.io path
	label string
	pid   int // the server's, for its memory and CPU; 0: not measured
	quiet bool

	timeout time.Duration // the whole run

	// fanout and listen
	eio             socketio.Dialect
	transport       socketio.Transport
	n               int
	rate            int // connections opened per second
	dialConcurrency int // handshakes in flight
	connectTimeout  time.Duration

	// fanout
	k              int
	trigger        string // post | emit
	fetch          bool
	deliverTimeout time.Duration
	gap, settle    time.Duration

	// api; listen uses duration too
	op          string // get | post
	concurrency int
	duration    time.Duration
	warmup      time.Duration
	limit       int
}

// parseConfig reads the flags and reports every bad one at once.
func parseConfig(args []string, stderr io.Writer) (config, error) {
	var c config
	var eio int
	var transport string
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.mode, "mode", "fanout", "fanout | listen | api")
	fs.StringVar(&c.url, "url", "http://127.0.0.1:8000", "the server (loopback only)")
	fs.StringVar(&c.path, "path", "/socket.io/", "the socket.io path")
	fs.StringVar(&c.label, "label", "", "free text copied into the result")
	fs.IntVar(&c.pid, "pid", 0, "the server's process id: report its memory (VmRSS) and CPU time")
	fs.BoolVar(&c.quiet, "quiet", false, "no progress lines on stderr")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Minute, "cap on the whole run (at most 30m)")

	fs.IntVar(&eio, "eio", 4, "fanout, listen: Engine.IO version, 3 (Chirp: go-socket.io v1.7.0) or 4 (socket.io 3/4: the Node peer)")
	fs.StringVar(&transport, "transport", "websocket", "fanout, listen: websocket or polling (the clients stay on it)")
	fs.IntVar(&c.n, "n", 1000, "fanout, listen: clients (at most 10000)")
	fs.IntVar(&c.rate, "rate", 1000, "fanout, listen: connections opened per second")
	fs.IntVar(&c.dialConcurrency, "dial-concurrency", 100, "fanout, listen: handshakes in flight at most")
	fs.DurationVar(&c.connectTimeout, "connect-timeout", 15*time.Second, "fanout, listen: one client's handshake")

	fs.IntVar(&c.k, "k", 20, "fanout: broadcasts, one a round (at most 1000)")
	fs.StringVar(&c.trigger, "trigger", "post", `fanout: post (POST /api/tweets) | emit (one more client emits 42["newTweet",true])`)
	fs.BoolVar(&c.fetch, "fetch", false, "fanout: on each newTweet every client GETs /api/tweets?since_id=… on its own keep-alive connection, as the page does (needs --trigger post)")
	fs.DurationVar(&c.deliverTimeout, "deliver-timeout", 10*time.Second, "fanout: how long a round waits for every client")
	fs.DurationVar(&c.gap, "gap", 200*time.Millisecond, "fanout: pause between rounds")
	fs.DurationVar(&c.settle, "settle", 2*time.Second, "fanout: pause after connecting, before measuring memory and the first round")

	fs.StringVar(&c.op, "op", "get", "api: get (GET /api/tweets?limit=L) | post (POST /api/tweets)")
	fs.IntVar(&c.concurrency, "concurrency", 32, "api: workers, each with its own keep-alive connection (at most 512)")
	fs.DurationVar(&c.duration, "duration", 15*time.Second, "api: measured time; listen: time listening after connecting (at most 300s)")
	fs.DurationVar(&c.warmup, "warmup", 0, "api: unmeasured time before --duration")
	fs.IntVar(&c.limit, "limit", 20, "api: the GET's limit")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	var problems []error
	bad := func(format string, a ...any) { problems = append(problems, fmt.Errorf(format, a...)) }
	if err := c.setURL(); err != nil {
		problems = append(problems, err)
	}
	d, err := socketio.ParseDialect(eio)
	if err != nil {
		bad("--eio: %v", err)
	}
	c.eio = d
	if c.transport, err = socketio.ParseTransport(transport); err != nil {
		bad("--transport: %v", err)
	}
	switch c.mode {
	case "fanout", "listen", "api":
	default:
		bad("--mode %q: want fanout, listen or api", c.mode)
	}
	inRange := func(name string, v, lo, hi int) {
		if v < lo || v > hi {
			bad("--%s %d: want %d to %d", name, v, lo, hi)
		}
	}
	inRange("n", c.n, 1, maxClients)
	inRange("k", c.k, 1, maxRounds)
	inRange("concurrency", c.concurrency, 1, maxConcurrency)
	inRange("rate", c.rate, 1, 100000)
	inRange("dial-concurrency", c.dialConcurrency, 1, maxClients)
	inRange("limit", c.limit, 1, 1000)
	within := func(name string, v, lo, hi time.Duration, zeroOK bool) {
		if v < lo || v > hi || (v == 0 && !zeroOK) {
			bad("--%s %s: want %s to %s", name, v, lo, hi)
		}
	}
	within("duration", c.duration, 0, maxDuration, false)
	within("warmup", c.warmup, 0, maxDuration, true)
	within("timeout", c.timeout, 0, maxTimeout, false)
	within("connect-timeout", c.connectTimeout, 0, maxWait, false)
	within("deliver-timeout", c.deliverTimeout, 0, maxWait, false)
	within("settle", c.settle, 0, maxWait, true)
	within("gap", c.gap, 0, maxGap, true)
	if c.trigger != "post" && c.trigger != "emit" {
		bad("--trigger %q: want post or emit", c.trigger)
	}
	if c.op != "get" && c.op != "post" {
		bad("--op %q: want get or post", c.op)
	}
	if c.fetch && (c.mode != "fanout" || c.trigger != "post") {
		bad("--fetch needs --mode fanout --trigger post: the herd reads the tweet a round posted")
	}
	if c.pid < 0 {
		bad("--pid %d: want a process id", c.pid)
	}
	return c, errors.Join(problems...)
}

// setURL keeps targets on this machine: a load tool pointed elsewhere is an attack.
func (c *config) setURL() error {
	u, err := url.Parse(c.url)
	if err != nil || u.Scheme != "http" || u.Host == "" || u.RawQuery != "" {
		return fmt.Errorf("--url %q: want http://127.0.0.1:PORT", c.url)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("--url %q: the target must be loopback (127.0.0.0/8, ::1 or localhost)", c.url)
	}
	c.base = strings.TrimRight(u.Path, "/")
	c.host = u.Host
	c.url = "http://" + u.Host + c.base
	return nil
}
