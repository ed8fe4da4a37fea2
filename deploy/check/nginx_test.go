package check

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestNginxServesThePage renders deploy/nginx's template as the nginx image does (envsubst of
// the named variables only, after sourcing the .envsh script), checks it with `nginx -t`, and
// serves a copy of frontend/public with Debian's nginx to check the headers, /config.js and
// what must not be served.
func TestNginxServesThePage(t *testing.T) {
	nginx := requireNginx(t)
	const apiURL = "https://api.chirp.example"
	wsURL := sourceEnvsh(t, apiURL)
	if wsURL != "wss://api.chirp.example" {
		t.Fatalf("the .envsh derived API_WS_URL=%q from %s", wsURL, apiURL)
	}

	dir := nginxDir(t)
	root := filepath.Join(dir, "html")
	copyTree(t, "../../frontend/public", root)
	for _, p := range []string{dir, root} {
		os.Chmod(p, 0o755)
	}

	tmpl, err := os.ReadFile("../nginx/templates/default.conf.template")
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	site := envsubst(string(tmpl), map[string]string{"API_URL": apiURL, "API_WS_URL": wsURL})
	if !strings.Contains(site, "$uri") {
		t.Fatal("rendering lost nginx's own $uri")
	}
	// Only the address and root differ from the container: a free loopback port, the copy.
	site = strings.Replace(site, "listen 3000;", fmt.Sprintf("listen 127.0.0.1:%d;", port), 1)
	site = strings.Replace(site, "listen [::]:3000;", "", 1)
	site = strings.Replace(site, "root /usr/share/nginx/html;", "root "+root+";", 1)
	logs := startNginx(t, nginx, dir, site)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitFor(t, base+"/config.js", logs)

	tests := []struct {
		path, contentType, body string
		status                  int
	}{
		{"/", "text/html", "<title>Chirp</title>", 200},
		{"/index.html", "text/html", "<title>Chirp</title>", 200},
		{"/js/main.js", "javascript", "import", 200},
		{"/css/app.css", "text/css", ":root", 200},
		{"/config.js", "javascript", `window.CHIRP_CONFIG = {"apiUrl":"https://api.chirp.example"};`, 200},
		{"/package.json", "", "", 404},
		{"/test/", "", "", 404},
		{"/test/logic.test.js", "", "", 404},
		{"/node_modules/", "", "", 404},
		{"/.hidden", "", "", 404},
		{"/js/", "", "", 404},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := http.Get(base + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || !strings.Contains(resp.Header.Get("Content-Type"), tt.contentType) ||
				!strings.Contains(string(body), tt.body) {
				t.Fatalf("%d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			h := resp.Header
			csp := h.Get("Content-Security-Policy")
			for _, part := range []string{"script-src 'self' " + apiURL, "connect-src " + apiURL + " " + wsURL, "frame-ancestors 'none'", "default-src 'self'"} {
				if !strings.Contains(csp, part) {
					t.Fatalf("CSP %q lacks %q", csp, part)
				}
			}
			if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
				t.Fatalf("security headers %v", h)
			}
			if tt.status == 200 && h.Get("Cache-Control") != "no-cache" {
				t.Fatalf("Cache-Control %q", h.Get("Cache-Control"))
			}
		})
	}
}

// sourceEnvsh runs the image's .envsh script as its entrypoint would and returns API_WS_URL.
func sourceEnvsh(t *testing.T, apiURL string) string {
	cmd := exec.Command("sh", "-c", `. ../nginx/15-chirp-api-ws-url.envsh && printf %s "$API_WS_URL"`)
	cmd.Env = append(os.Environ(), "API_URL="+apiURL)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// envsubst replaces ${NAME} for the given names only, as the nginx image's template step does
// (it passes envsubst the list of variables that are set).
func envsubst(s string, vars map[string]string) string {
	for k, v := range vars {
		s = strings.ReplaceAll(s, "${"+k+"}", v)
	}
	return s
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitFor(t *testing.T, url string, logs fmt.Stringer) {
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not answer in 10 s:\n%s", logs)
		}
	}
}

func copyTree(t *testing.T, from, to string) {
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// requireNginx is the path of the machine's nginx; without one the test is skipped, or fails
// where CHIRP_REQUIRE_NGINX is set (CI).
func requireNginx(t *testing.T) string {
	t.Helper()
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		if os.Getenv("CHIRP_REQUIRE_NGINX") != "" {
			t.Fatal("CHIRP_REQUIRE_NGINX is set but nginx is not installed")
		}
		t.Skip("nginx is not installed (apt-get install nginx) to test the nginx configurations")
	}
	return nginx
}

// nginxDir is a prefix directory for one nginx, removed after the test: somewhere nginx's
// unprivileged workers can read, so not under the test's 0700 temp dirs.
func nginxDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "chirp-nginx-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	return dir
}

// startNginx checks site (what the image would render into conf.d, included in http{}) with
// `nginx -t` inside a minimal main configuration of its own in dir, then runs it until the
// test ends. Returns its stderr so far, for failure messages.
func startNginx(t *testing.T, nginx, dir, site string) fmt.Stringer {
	t.Helper()
	confPath := nginxCheck(t, nginx, dir, site)
	cmd := exec.Command(nginx, "-p", dir, "-c", confPath)
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// SIGTERM, not Kill: the master then stops its workers; killed, it would orphan them.
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	return logs
}

// nginxCheck writes site and a main configuration around it into dir, runs `nginx -t` on
// them and returns the main configuration's path.
func nginxCheck(t *testing.T, nginx, dir, site string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "site.conf"), []byte(site), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`daemon off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 64; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    include %[1]s/site.conf;
}
`, dir)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(nginx, "-t", "-p", dir, "-c", confPath).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s\n%s", err, out, site)
	}
	return confPath
}
