// Command load is Chirp's load tool for the comparison scripts in backend/bench: it measures
// Chirp (Engine.IO 3) and the Node peer (Engine.IO 4) alike. Modes: fanout (N socket.io
// clients, K broadcasts, optionally the herd of reads each sets off), listen (passive clients
// while something else writes) and api (closed-loop GET or POST). Loopback targets only,
// every phase bounded. The last line of stdout is one JSON object with every figure.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// result is what a mode measured.
type result interface {
	// summary writes the figures for a reader, before the JSON line.
	summary(w io.Writer)
	// complete says whether the run saw everything it should have (every event delivered, no
	// listener dropped): the exit status says so too.
	complete() bool
}

// run is the whole program: exit status 0 when the run was complete, 1 when it was not (or
// failed), 2 for bad flags.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseConfig(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "load: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	log := progress{w: stderr, quiet: cfg.quiet}
	var res result
	switch cfg.mode {
	case "fanout":
		res, err = runFanout(ctx, cfg, log)
	case "listen":
		res, err = runListen(ctx, cfg, log)
	case "api":
		res, err = runAPI(ctx, cfg, log)
	}
	code := 0
	if err != nil {
		fmt.Fprintf(stderr, "load: %v\n", err)
		code = 1
	}
	if res == nil {
		return 1
	}
	res.summary(stdout)
	line, err := json.Marshal(res)
	if err != nil {
		fmt.Fprintf(stderr, "load: encoding the result: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, string(line))
	if !res.complete() {
		code = 1
	}
	return code
}

// progress writes what a run is doing to stderr, unless --quiet.
type progress struct {
	w     io.Writer
	quiet bool
}

func (p progress) say(format string, a ...any) {
	if !p.quiet {
		fmt.Fprintf(p.w, "[load %s] "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, a...)...)
	}
}

// warn writes even with --quiet: something about the run's figures the reader must know.
func (p progress) warn(format string, a ...any) {
	fmt.Fprintf(p.w, "load: warning: "+format+"\n", a...)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func mib(kib int64) float64 { return float64(kib) / 1024 }
