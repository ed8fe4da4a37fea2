package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chirp-social/chirp/backend/web"
)

// bundle writes a small page folder, with things that must never be served beside it.
func bundle(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"index.html":     "<!doctype html><title>Chirp</title>",
		"css/app.css":    "body{}",
		"js/main.js":     "export {};",
		".env":           "SECRET=1",
		".git/config":    "[core]",
		"js/.hidden.js":  "x",
		"../outside.txt": "outside the root",
		"config.js":      "window.CHIRP_CONFIG = {apiUrl: 'http://stale.example'};",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func serve(t *testing.T, cfg web.Config) *httptest.Server {
	t.Helper()
	s, err := web.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() { ts.Close(); s.Close() })
	return ts
}

func get(t *testing.T, method, url string, host string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestServesTheBundle(t *testing.T) {
	ts := serve(t, web.Config{Root: bundle(t), APIURL: "https://api.chirp.example"})
	tests := []struct {
		name, path string
		status     int
		body, ct   string
	}{
		{"Index", "/", 200, "<title>Chirp</title>", "text/html"},
		{"IndexByName", "/index.html", 200, "<title>Chirp</title>", "text/html"},
		{"Script", "/js/main.js", 200, "export", "text/javascript"},
		{"Style", "/css/app.css", 200, "body", "text/css"},
		{"Missing", "/nope.js", 404, "", ""},
		{"NoListing", "/js/", 404, "", ""},
		{"Dotfile", "/.env", 404, "", ""},
		{"DotFolder", "/.git/config", 404, "", ""},
		{"NestedDotfile", "/js/.hidden.js", 404, "", ""},
		{"Traversal", "/../outside.txt", 404, "", ""},
		{"EncodedTraversal", "/%2e%2e/outside.txt", 404, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, "GET", ts.URL+tt.path, "")
			if resp.StatusCode != tt.status || !strings.Contains(body, tt.body) ||
				!strings.HasPrefix(resp.Header.Get("Content-Type"), tt.ct) {
				t.Fatalf("%d %q (%s)", resp.StatusCode, body, resp.Header.Get("Content-Type"))
			}
			if resp.Header.Get("Content-Security-Policy") == "" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("security headers missing: %v", resp.Header)
			}
			if tt.status == 200 && resp.Header.Get("Cache-Control") != "no-cache" {
				t.Fatalf("Cache-Control %q", resp.Header.Get("Cache-Control"))
			}
		})
	}
	if resp, _ := get(t, "POST", ts.URL+"/", ""); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
}

func TestConfigAndCSPFollowAPIURL(t *testing.T) {
	root := bundle(t)
	tests := []struct {
		name, apiURL          string
		apiPort               int
		host, wantAPI, wantWS string
	}{
		{"Configured", "https://api.chirp.example", 8000, "", "https://api.chirp.example", "wss://api.chirp.example"},
		{"ConfiguredPort", "http://localhost:8000/", 8001, "", "http://localhost:8000", "ws://localhost:8000"},
		{"FromHost", "", 8000, "chirp.local:3000", "http://chirp.local:8000", "ws://chirp.local:8000"},
		{"FromHostWithoutPort", "", 8000, "192.168.1.20", "http://192.168.1.20:8000", "ws://192.168.1.20:8000"},
		{"FromHostAtTheAPIsPort", "", 41234, "chirp.local:3000", "http://chirp.local:41234", "ws://chirp.local:41234"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := serve(t, web.Config{Root: root, APIURL: tt.apiURL, APIPort: tt.apiPort})
			resp, body := get(t, "GET", ts.URL+"/config.js", tt.host)
			want := `window.CHIRP_CONFIG = {"apiUrl":"` + tt.wantAPI + `"};` + "\n"
			if resp.StatusCode != 200 || body != want || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") ||
				resp.Header.Get("Cache-Control") != "no-cache" {
				t.Fatalf("config.js: %d %q %v", resp.StatusCode, body, resp.Header)
			}
			csp := resp.Header.Get("Content-Security-Policy")
			for _, part := range []string{
				"script-src 'self' " + tt.wantAPI,
				"connect-src " + tt.wantAPI + " " + tt.wantWS,
				"default-src 'self'",
				"frame-ancestors 'none'",
				"object-src 'none'",
			} {
				if !strings.Contains(csp, part) {
					t.Fatalf("CSP %q lacks %q", csp, part)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Fatalf("CSP allows inline or eval: %q", csp)
			}
		})
	}
}

// TestHostOnlyWhenSane: without API_URL the API's host comes from the request's Host, which the
// client chooses; only a host name or an IP literal (with a numeric port) may reach /config.js
// and the CSP, anything else is replaced by localhost.
func TestHostOnlyWhenSane(t *testing.T) {
	s, err := web.New(web.Config{Root: bundle(t), APIPort: 8000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	tests := []struct {
		name, host, wantAPI string
	}{
		{"Name", "chirp.example", "http://chirp.example:8000"},
		{"NameWithPort", "chirp.local:3000", "http://chirp.local:8000"},
		{"Localhost", "localhost:3000", "http://localhost:8000"},
		{"HyphensAndDigits", "a-1.b2.example", "http://a-1.b2.example:8000"},
		{"Punycode", "xn--bcher-kva.example", "http://xn--bcher-kva.example:8000"},
		{"IPv4WithPort", "127.0.0.1:3000", "http://127.0.0.1:8000"},
		{"IPv6WithPort", "[::1]:3000", "http://[::1]:8000"},
		{"IPv6", "[2001:db8::1]", "http://[2001:db8::1]:8000"},
		{"CSPDirective", "x;script-src:1", "http://localhost:8000"},
		{"Space", "a b", "http://localhost:8000"},
		{"Quotes", `"x"`, "http://localhost:8000"},
		{"PortNotNumeric", "x:port", "http://localhost:8000"},
		{"PortTooBig", "x:65536", "http://localhost:8000"},
		{"PortEmpty", "x:", "http://localhost:8000"},
		{"Path", "evil.example/..", "http://localhost:8000"},
		{"Empty", "", "http://localhost:8000"},
		{"IPv6WithoutBrackets", "::1", "http://localhost:8000"},
		{"IPv6Unclosed", "[::1:3000", "http://localhost:8000"},
		{"IPv6WithZone", "[fe80::1%25eth0]:3000", "http://localhost:8000"},
		{"IPv4InBrackets", "[127.0.0.1]", "http://localhost:8000"},
		{"Userinfo", "user@chirp.example", "http://localhost:8000"},
		{"Underscore", "a_b.example", "http://localhost:8000"},
		{"LeadingHyphen", "-x.example", "http://localhost:8000"},
		{"TrailingHyphen", "x-.example", "http://localhost:8000"},
		{"EmptyLabel", "a..example", "http://localhost:8000"},
		{"TrailingDot", "chirp.example.", "http://localhost:8000"},
		{"LabelTooLong", strings.Repeat("a", 64) + ".example", "http://localhost:8000"},
		{"NotASCII", "bücher.example", "http://localhost:8000"},
		{"Newline", "x\r\nSet-Cookie: a=1", "http://localhost:8000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/config.js", nil)
			req.Host = tt.host
			w := httptest.NewRecorder()
			s.ServeHTTP(w, req)
			want := `window.CHIRP_CONFIG = {"apiUrl":"` + tt.wantAPI + `"};` + "\n"
			if w.Code != 200 || w.Body.String() != want {
				t.Fatalf("config.js: %d %q, want %q", w.Code, w.Body.String(), want)
			}
			csp := w.Header().Get("Content-Security-Policy")
			if !strings.Contains(csp, "; script-src 'self' "+tt.wantAPI+"; ") {
				t.Fatalf("CSP %q does not allow scripts from %s", csp, tt.wantAPI)
			}
			if n := strings.Count(csp, ";"); n != 9 {
				t.Fatalf("CSP %q has %d separators, want the 9 between its 10 directives", csp, n)
			}
		})
	}
}

func TestRejectsBadConfig(t *testing.T) {
	root := bundle(t)
	for _, cfg := range []web.Config{
		{Root: filepath.Join(root, "missing")},
		{Root: filepath.Join(root, "index.html")},
		{Root: root, APIURL: "localhost:8000"},
		{Root: root, APIURL: "http://localhost:8000/api"},
		{Root: root, APIURL: "ftp://localhost"},
		{Root: root},                 // no API_URL and no port for the API
		{Root: root, APIPort: 70000}, // not a port
	} {
		if s, err := web.New(cfg); err == nil {
			s.Close()
			t.Errorf("accepted %+v", cfg)
		}
	}
}
