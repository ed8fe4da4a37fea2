package main

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/chirp-social/chirp/backend/bench/load/internal/socketio"
)

func TestParseConfig(t *testing.T) {
	cases := []struct {
		name    string
		args    string
		check   func(c config) bool
		wantErr string // a part of the error; "" for none
	}{
		{"Defaults", "", func(c config) bool {
			return c.mode == "fanout" && c.eio == socketio.EIO4 && c.url == "http://127.0.0.1:8000" && c.host == "127.0.0.1:8000" && c.n == 1000 && c.k == 20
		}, ""},
		{"CompareAPI", "--mode api --op get --concurrency 32 --warmup 2s --duration 15s --url http://127.0.0.1:4100 --pid 42 --quiet", func(c config) bool {
			return c.mode == "api" && c.op == "get" && c.concurrency == 32 && c.warmup == 2*time.Second && c.duration == 15*time.Second && c.pid == 42 && c.quiet
		}, ""},
		{"CompareHerd", "--mode fanout --fetch --eio 3 --url http://127.0.0.1:4100 --n 2000 --k 10 --trigger post --rate 20000 --dial-concurrency 100 --pid 7 --quiet --label chirp", func(c config) bool {
			return c.fetch && c.eio == socketio.EIO3 && c.n == 2000 && c.k == 10 && c.rate == 20000 && c.dialConcurrency == 100 && c.label == "chirp"
		}, ""},
		{"Listen", "--mode listen --eio 4 --n 1000 --duration 25s --rate 5000", func(c config) bool {
			return c.mode == "listen" && c.duration == 25*time.Second && c.rate == 5000
		}, ""},
		{"Polling", "--mode listen --transport polling", func(c config) bool { return c.transport == socketio.Polling }, ""},
		{"WebsocketByDefault", "--mode listen", func(c config) bool { return c.transport == socketio.Websocket }, ""},
		{"BadTransport", "--transport flash", nil, "--transport"},
		{"Emit", "--trigger emit --gap 1s --settle 0s --deliver-timeout 3s", func(c config) bool {
			return c.trigger == "emit" && c.gap == time.Second && c.settle == 0 && c.deliverTimeout == 3*time.Second
		}, ""},
		{"PathPrefixKept", "--url http://localhost:8000/chirp/", func(c config) bool {
			return c.url == "http://localhost:8000/chirp" && c.base == "/chirp" && c.host == "localhost:8000"
		}, ""},
		{"IPv6Loopback", "--url http://[::1]:8000", func(c config) bool { return c.host == "[::1]:8000" }, ""},
		{"NotLoopback", "--url http://10.0.0.1:8000", nil, "must be loopback"},
		{"NamedHost", "--url http://example.com", nil, "must be loopback"},
		{"HTTPS", "--url https://127.0.0.1:8000", nil, "want http://"},
		{"TooManyClients", "--n 10001", nil, "--n 10001"},
		{"TooManyRounds", "--k 1001", nil, "--k 1001"},
		{"TooMuchConcurrency", "--concurrency 513", nil, "--concurrency 513"},
		{"TooLong", "--duration 301s", nil, "--duration 5m1s"},
		{"NoDuration", "--duration 0s", nil, "--duration 0s"},
		{"TimeoutTooLong", "--timeout 31m", nil, "--timeout 31m0s"},
		{"BadEIO", "--eio 2", nil, "--eio"},
		{"BadMode", "--mode storm", nil, `--mode "storm"`},
		{"BadOp", "--mode api --op delete", nil, `--op "delete"`},
		{"FetchNeedsPost", "--fetch --trigger emit", nil, "--fetch needs"},
		{"FetchNeedsFanout", "--mode api --fetch", nil, "--fetch needs"},
		{"Stray", "--n 5 extra", nil, "unexpected arguments"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseConfig(strings.Fields(c.args), io.Discard)
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("parseConfig(%q): %v", c.args, err)
				}
				if !c.check(got) {
					t.Fatalf("parseConfig(%q) = %+v", c.args, got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("parseConfig(%q) error %v, want one saying %q", c.args, err, c.wantErr)
			}
		})
	}
	t.Run("EveryProblemIsNamed", func(t *testing.T) {
		_, err := parseConfig(strings.Fields("--n 0 --k 0 --eio 9"), io.Discard)
		for _, want := range []string{"--n 0", "--k 0", "--eio"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error %v does not name %s", err, want)
			}
		}
	})
	t.Run("Help", func(t *testing.T) {
		if _, err := parseConfig([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("-h: %v, want flag.ErrHelp", err)
		}
	})
}
