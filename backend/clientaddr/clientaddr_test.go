package clientaddr_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/chirp-social/chirp/backend/clientaddr"
)

func TestAddr(t *testing.T) {
	trusted, err := clientaddr.ParseTrusted("10.0.0.0/8, 192.168.1.1, ::1")
	if err != nil {
		t.Fatal(err)
	}
	r := clientaddr.New(trusted)
	tests := []struct {
		name, remote, xff, want string
	}{
		{"NoProxy", "203.0.113.7:5555", "", "203.0.113.7"},
		{"UntrustedPeerHeaderIgnored", "203.0.113.7:5555", "198.51.100.1", "203.0.113.7"},
		{"TrustedPeer", "10.1.2.3:80", "198.51.100.1", "198.51.100.1"},
		{"RightmostUntrusted", "10.1.2.3:80", "6.6.6.6, 198.51.100.1, 10.9.9.9", "198.51.100.1"},
		{"AllHopsTrusted", "10.1.2.3:80", "10.5.5.5, 192.168.1.1", "10.5.5.5"},
		{"MalformedHopStops", "10.1.2.3:80", "198.51.100.1, garbage, 10.9.9.9", "10.9.9.9"},
		{"SingleTrustedAddress", "192.168.1.1:80", "198.51.100.2", "198.51.100.2"},
		{"IPv6Peer", "[2001:db8::1]:443", "", "2001:db8::1"},
		{"IPv6LoopbackTrusted", "[::1]:80", "2001:db8::7", "2001:db8::7"},
		{"MappedIPv4", "[::ffff:203.0.113.9]:80", "", "203.0.113.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			req.RemoteAddr = tt.remote
			if tt.xff != "" {
				req.Header.Set("X-Forwarded-For", tt.xff)
			}
			if got := r.Addr(req).String(); got != tt.want {
				t.Fatalf("Addr = %s, want %s", got, tt.want)
			}
		})
	}
}

// The API takes its client address from Gin (SetTrustedProxies), the socket server from
// Resolver: both must name the same client for every request.
func TestAgreesWithGin(t *testing.T) {
	const list = "10.0.0.0/8,192.168.1.1"
	trusted, _ := clientaddr.ParseTrusted(list)
	r := clientaddr.New(trusted)
	gin.SetMode(gin.ReleaseMode)
	engine := gin.New()
	engine.RemoteIPHeaders = []string{"X-Forwarded-For"}
	if err := engine.SetTrustedProxies(r.Trusted()); err != nil {
		t.Fatal(err)
	}
	var fromGin string
	engine.GET("/", func(c *gin.Context) { fromGin = c.ClientIP() })
	for _, c := range []struct{ remote, xff string }{
		{"203.0.113.7:5555", ""},
		{"203.0.113.7:5555", "198.51.100.1"},
		{"10.1.2.3:80", "198.51.100.1"},
		{"10.1.2.3:80", "6.6.6.6, 198.51.100.1, 10.9.9.9"},
		{"10.1.2.3:80", "10.5.5.5, 192.168.1.1"},
		{"192.168.1.1:80", "198.51.100.2"},
	} {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = c.remote
		if c.xff != "" {
			req.Header.Set("X-Forwarded-For", c.xff)
		}
		engine.ServeHTTP(httptest.NewRecorder(), req)
		if got := r.Addr(req).String(); got != fromGin {
			t.Errorf("%s via %q: Resolver %s, Gin %s", c.remote, c.xff, got, fromGin)
		}
	}
}

func TestForwardedByUntrusted(t *testing.T) {
	trusted, _ := clientaddr.ParseTrusted("10.0.0.1")
	r := clientaddr.New(trusted)
	req := func(remote, xff string) *http.Request {
		q := httptest.NewRequest("GET", "/", nil)
		q.RemoteAddr = remote
		if xff != "" {
			q.Header.Set("X-Forwarded-For", xff)
		}
		return q
	}
	if !r.ForwardedByUntrusted(req("10.0.0.2:1", "1.2.3.4")) {
		t.Fatal("an untrusted proxy's header is not noticed")
	}
	if r.ForwardedByUntrusted(req("10.0.0.1:1", "1.2.3.4")) || r.ForwardedByUntrusted(req("10.0.0.2:1", "")) {
		t.Fatal("noticed a trusted proxy, or a request without the header")
	}
}

func TestKey(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"203.0.113.7", "203.0.113.7"},
		{"::ffff:203.0.113.7", "203.0.113.7"},
		{"2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
	}
	for _, tt := range tests {
		if got := clientaddr.Key(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("Key(%s) = %s, want %s", tt.addr, got, tt.want)
		}
	}
}

func TestPrefixKey(t *testing.T) {
	tests := []struct {
		addr           string
		v4Bits, v6Bits int
		want           string
	}{
		{"203.0.113.7", 24, 48, "203.0.113.0/24"},
		{"::ffff:203.0.113.200", 24, 48, "203.0.113.0/24"},
		{"203.0.113.7", 32, 48, "203.0.113.7"},
		{"2001:db8:1:2:aaaa::1", 24, 48, "2001:db8:1::/48"},
		{"2001:db8:1:ffff::1", 24, 48, "2001:db8:1::/48"},
		{"2001:db8:1:2::1", 24, 128, "2001:db8:1:2::1"},
	}
	for _, tt := range tests {
		if got := clientaddr.PrefixKey(netip.MustParseAddr(tt.addr), tt.v4Bits, tt.v6Bits); got != tt.want {
			t.Errorf("PrefixKey(%s, %d, %d) = %s, want %s", tt.addr, tt.v4Bits, tt.v6Bits, got, tt.want)
		}
	}
}

func TestParseTrusted(t *testing.T) {
	got, err := clientaddr.ParseTrusted(" 10.0.0.0/8 ,192.168.1.1,,2001:db8::/32 ")
	if err != nil || len(got) != 3 || got[1].String() != "192.168.1.1/32" {
		t.Fatalf("got %v, %v", got, err)
	}
	if got, err := clientaddr.ParseTrusted(""); err != nil || len(got) != 0 {
		t.Fatalf("empty: %v, %v", got, err)
	}
	for _, bad := range []string{"10.0.0.0/33", "nope", "10.0.0.1:80"} {
		if _, err := clientaddr.ParseTrusted(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestWarnUntrustedOnce(t *testing.T) {
	trusted, _ := clientaddr.ParseTrusted("10.0.0.0/8")
	r := clientaddr.New(trusted)
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	send := func(remote, xff string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = remote
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		r.WarnUntrusted(req, log)
	}
	send("203.0.113.7:5555", "")        // no header: nothing to say
	send("10.1.2.3:80", "198.51.100.1") // a trusted proxy
	if logs.Len() != 0 {
		t.Fatalf("warned without cause: %s", logs.String())
	}
	send("203.0.113.7:5555", "198.51.100.1")
	send("203.0.113.8:5555", "198.51.100.2")
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 || !strings.Contains(logs.String(), "TRUSTED_PROXIES") ||
		!strings.Contains(logs.String(), "peer=203.0.113.7") {
		t.Fatalf("want one warning naming TRUSTED_PROXIES and the peer, got %d:\n%s", n, logs.String())
	}
}
