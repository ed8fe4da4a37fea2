package web_test

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chirp-social/chirp/backend/web"
)

// FuzzRequestHost sends /config.js with any Host header: the Host goes into the page's
// Content-Security-Policy and config.js, so whatever it holds may never add a directive (as
// "x;script-src:1" would) nor break out of the script's string.
func FuzzRequestHost(f *testing.F) {
	for _, host := range []string{
		"localhost", "localhost:3000", "chirp.example", "127.0.0.1:3000", "[::1]:3000",
		"x;script-src:1", "x; script-src 'unsafe-inline'", `x"</script>`, "x\ny", "[::1%eth0]",
		"a..b", "-a", strings.Repeat("a", 300), ":", "", "x:99999",
	} {
		f.Add(host)
	}
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("<title>Chirp</title>"), 0o644); err != nil {
		f.Fatal(err)
	}
	s, err := web.New(web.Config{Root: dir, APIPort: 8000})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	directives := func(csp string) []string {
		var names []string
		for _, d := range strings.Split(csp, ";") {
			name, _, _ := strings.Cut(strings.TrimSpace(d), " ")
			names = append(names, name)
		}
		return names
	}
	base := httptest.NewRecorder()
	s.ServeHTTP(base, httptest.NewRequest("GET", "/config.js", nil))
	want := strings.Join(directives(base.Header().Get("Content-Security-Policy")), ",")

	f.Fuzz(func(t *testing.T, host string) {
		req := httptest.NewRequest("GET", "/config.js", nil)
		req.Host = host
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != 200 {
			t.Fatalf("Host %q: %d", host, w.Code)
		}
		csp := w.Header().Get("Content-Security-Policy")
		if got := strings.Join(directives(csp), ","); got != want {
			t.Fatalf("Host %q changed the policy's directives: %q", host, csp)
		}
		if body := w.Body.String(); strings.Count(body, `"`)%2 != 0 || strings.ContainsAny(body, "<\n\r") && !strings.ContainsAny(base.Body.String(), "<\n\r") {
			t.Fatalf("Host %q: config.js %q", host, body)
		}
	})
}
