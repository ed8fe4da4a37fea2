// Command soak runs `make soak`: mixed, bounded load against a chirp binary with its default
// limits (see internal/soak and docs/OPERATIONS.md).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/chirp-social/chirp/backend/internal/soak"
)

func main() {
	cfg := soak.Config{Out: os.Stdout}
	flag.StringVar(&cfg.Binary, "bin", "bin/chirp", "the chirp binary to soak")
	flag.DurationVar(&cfg.Duration, "duration", 10*time.Minute, "how long the load lasts (at most 1h)")
	flag.IntVar(&cfg.Sockets, "sockets", 1000, "concurrent well-behaved sockets (at most 5000)")
	flag.IntVar(&cfg.Posters, "posters", 20, "people posting within the limits")
	flag.IntVar(&cfg.Readers, "readers", 10, "people paging")
	flag.Parse()
	if cfg.Duration <= 0 || cfg.Duration > time.Hour || cfg.Sockets < 0 || cfg.Sockets > 5000 ||
		cfg.Posters < 0 || cfg.Posters > 250 || cfg.Readers < 0 || cfg.Readers > 250 {
		fmt.Fprintln(os.Stderr, "soak: duration 1s..1h, sockets 0..5000, posters and readers 0..250")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := soak.Run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
