package listening_test

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/chirp-social/chirp/backend/internal/listening"
)

// The records are read in the form slog's text handler writes them, quoted messages included,
// and a message is never taken for another that ends like it.
func TestAddrReadsWhatTheTextHandlerWrites(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	log.Info("debug listening", "addr", "127.0.0.1:6060")
	log.Info("listening", "addr", "127.0.0.1:8000", "server", "api")
	log.Info("listening", "addr", "127.0.0.1:3000", "server", "page")
	for _, tt := range []struct{ msg, want string }{
		{"listening", "127.0.0.1:8000"},
		{"debug listening", "127.0.0.1:6060"},
	} {
		if got, ok := listening.Addr(buf.String(), tt.msg); !ok || got != tt.want {
			t.Errorf("Addr(%q) = %q %v, want %q", tt.msg, got, ok, tt.want)
		}
	}
	if got, ok := listening.Addr(buf.String(), "metrics listening"); ok {
		t.Errorf("Addr of a record not written = %q", got)
	}
}

func TestServersNamesEachServersAddress(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	if got := listening.Servers(buf.String()); len(got) != 0 {
		t.Fatalf("before any record: %v", got)
	}
	log.Info("debug listening", "addr", "127.0.0.1:6060")
	log.Info("listening", "addr", "127.0.0.1:8000", "server", "api")
	log.Info("listening", "addr", "127.0.0.1:3000", "server", "page")
	got := listening.Servers(buf.String())
	if len(got) != 2 || got["api"] != "127.0.0.1:8000" || got["page"] != "127.0.0.1:3000" {
		t.Fatalf("Servers = %v", got)
	}
}
