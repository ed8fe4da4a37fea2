package check

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

const (
	balancerTemplate = "../balancer/templates/default.conf.template"
	balancerEnvsh    = "../balancer/15-chirp-backends.envsh"
)

// TestScaleCompose loads docker-compose.yml with docker-compose.scale.yml over it, as
// `docker compose -f docker-compose.yml -f docker-compose.scale.yml up` does, and checks what
// the override promises: three backends published by nobody, the balancer on BACKEND_PORT,
// and a pinned balancer address that the backends trust, and nothing wider.
func TestScaleCompose(t *testing.T) {
	p := loadFiles(t, nil, "docker-compose.yml", "docker-compose.scale.yml")
	if names := p.ServiceNames(); !slices.Equal(sorted(names), []string{"backend", "balancer", "db", "frontend"}) {
		t.Fatalf("services %v", names)
	}
	backend, balancer := p.Services["backend"], p.Services["balancer"]

	t.Run("ThreeBackendsUnpublished", func(t *testing.T) {
		if backend.Deploy == nil || backend.Deploy.Replicas == nil || *backend.Deploy.Replicas != 3 {
			t.Fatalf("backend deploy %+v", backend.Deploy)
		}
		if len(backend.Ports) != 0 {
			t.Fatalf("a backend port is still published (the !reset is lost): %+v", backend.Ports)
		}
		// What the base file gives the backend stays: its build, database, healthcheck.
		if hc := backend.HealthCheck; hc == nil || !strings.Contains(strings.Join(hc.Test, " "), "/chirp healthcheck") {
			t.Fatalf("backend healthcheck %+v", hc)
		}
		if d, ok := backend.DependsOn["db"]; !ok || d.Condition != types.ServiceConditionHealthy {
			t.Fatalf("backend depends_on %+v", backend.DependsOn)
		}
		if url := backend.Environment["DATABASE_URL"]; url == nil || !strings.HasPrefix(*url, "postgres://") {
			t.Fatalf("DATABASE_URL %v: several backends need the one PostgreSQL", deref(url))
		}
	})
	t.Run("BalancerOnTheBackendPort", func(t *testing.T) {
		if len(balancer.Ports) != 1 || balancer.Ports[0].Published != "8000" || balancer.Ports[0].Target != 8000 {
			t.Fatalf("balancer ports %+v", balancer.Ports)
		}
		q := loadFiles(t, map[string]string{"BACKEND_PORT": "18000"}, "docker-compose.yml", "docker-compose.scale.yml")
		if got := q.Services["balancer"].Ports; len(got) != 1 || got[0].Published != "18000" {
			t.Fatalf("the balancer's port does not follow BACKEND_PORT: %+v", got)
		}
		// The page still talks to :8000, which is now the balancer.
		if api := p.Services["frontend"].Environment["API_URL"]; api == nil || *api != "http://localhost:8000" {
			t.Fatalf("frontend API_URL %v", deref(api))
		}
		if d, ok := balancer.DependsOn["backend"]; !ok || d.Condition != types.ServiceConditionHealthy {
			t.Fatalf("balancer depends_on %+v", balancer.DependsOn)
		}
		if hc := balancer.HealthCheck; hc == nil || !strings.Contains(strings.Join(hc.Test, " "), "127.0.0.1:8000") {
			t.Fatalf("balancer healthcheck %+v", hc)
		}
	})
	t.Run("BalancerImageResolves", func(t *testing.T) {
		// `resolve` on an upstream server line came to open-source nginx in 1.27.3: a floating
		// 1.27 tag (or a later minor) has it, a tag pinned below 1.27.3 does not.
		m := regexp.MustCompile(`^nginx:1\.(\d+)(?:\.(\d+))?-alpine$`).FindStringSubmatch(balancer.Image)
		if m == nil {
			t.Fatalf("balancer image %q is not nginx:1.x[.y]-alpine", balancer.Image)
		}
		minor, _ := strconv.Atoi(m[1])
		patch := 99
		if m[2] != "" {
			patch, _ = strconv.Atoi(m[2])
		}
		if minor < 27 || minor == 27 && patch < 3 {
			t.Fatalf("balancer image %q predates nginx 1.27.3's upstream resolve", balancer.Image)
		}
		env := balancer.Environment
		if v := env["CHIRP_BACKENDS"]; v == nil || *v != "backend:8000" {
			t.Fatalf("CHIRP_BACKENDS %v", deref(v))
		}
		if v := env["CHIRP_BACKEND_RESOLVE"]; v == nil || *v != "resolve" {
			t.Fatalf("CHIRP_BACKEND_RESOLVE %v", deref(v))
		}
	})
	t.Run("TemplateMounts", func(t *testing.T) {
		mounts := map[string]types.ServiceVolumeConfig{}
		for _, v := range balancer.Volumes {
			mounts[v.Target] = v
			if !v.ReadOnly {
				t.Errorf("balancer volume %s is writable", v.Target)
			}
		}
		for target, source := range map[string]string{
			"/etc/nginx/templates":                         "deploy/balancer/templates",
			"/docker-entrypoint.d/15-chirp-backends.envsh": "deploy/balancer/15-chirp-backends.envsh",
		} {
			v, ok := mounts[target]
			if !ok || !strings.HasSuffix(v.Source, source) {
				t.Fatalf("balancer mounts %v at %s, want %s", v.Source, target, source)
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Fatalf("the mounted %s: %v", source, err)
			}
		}
		// The image sources only executable .envsh files; it skips others with a notice.
		if fi, err := os.Stat(balancerEnvsh); err != nil || fi.Mode()&0o111 == 0 {
			t.Fatalf("%s is not executable: %v %v", balancerEnvsh, fi.Mode(), err)
		}
		if _, err := os.Stat(balancerTemplate); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("TrustOnlyThePinnedBalancer", func(t *testing.T) {
		net := p.Networks["default"]
		if len(net.Ipam.Config) != 1 {
			t.Fatalf("default network ipam %+v", net.Ipam)
		}
		pool := net.Ipam.Config[0]
		subnet, err := netip.ParsePrefix(pool.Subnet)
		if err != nil {
			t.Fatalf("subnet %q: %v", pool.Subnet, err)
		}
		dynamic, err := netip.ParsePrefix(pool.IPRange)
		if err != nil {
			t.Fatalf("ip_range %q: %v (without one a container started first may take the balancer's address)", pool.IPRange, err)
		}
		bn := balancer.Networks["default"]
		if bn == nil {
			t.Fatalf("balancer networks %+v", balancer.Networks)
		}
		pinned, err := netip.ParseAddr(bn.Ipv4Address)
		if err != nil {
			t.Fatalf("balancer ipv4_address %q: %v", bn.Ipv4Address, err)
		}
		if !subnet.Contains(pinned) || dynamic.Contains(pinned) || pool.Gateway == bn.Ipv4Address {
			t.Fatalf("balancer address %s: want inside %s, outside the dynamic range %s, not the gateway %s", pinned, subnet, dynamic, pool.Gateway)
		}
		trusted := backend.Environment["TRUSTED_PROXIES"]
		if trusted == nil || *trusted != pinned.String() {
			t.Fatalf("backend TRUSTED_PROXIES %v, want exactly the balancer's %s (not the subnet: its gateway must not be trusted)", deref(trusted), pinned)
		}
		// A TRUSTED_PROXIES in .env (meant for one backend behind another proxy) must not
		// widen what the replicas trust.
		q := loadFiles(t, map[string]string{"TRUSTED_PROXIES": "0.0.0.0/0"}, "docker-compose.yml", "docker-compose.scale.yml")
		if got := q.Services["backend"].Environment["TRUSTED_PROXIES"]; got == nil || *got != pinned.String() {
			t.Fatalf("TRUSTED_PROXIES from .env reaches the replicas: %v", deref(got))
		}
		for _, name := range []string{"backend", "db", "frontend"} {
			if n := p.Services[name].Networks["default"]; n != nil && n.Ipv4Address != "" {
				t.Fatalf("%s pins %s: only the balancer's address is fixed", name, n.Ipv4Address)
			}
		}
	})
	t.Run("TimeoutsOutlastTheHeartbeat", func(t *testing.T) {
		// nginx must not cut a quiet websocket or a held long-poll before the backend would.
		interval := durationEnv(t, backend, "PING_INTERVAL")
		timeout := durationEnv(t, backend, "PING_TIMEOUT")
		tmpl := readFile(t, balancerTemplate)
		for _, directive := range []string{"proxy_read_timeout", "proxy_send_timeout"} {
			m := regexp.MustCompile(directive + `\s+(\d+)s;`).FindStringSubmatch(tmpl)
			if m == nil {
				t.Fatalf("the template sets no %s in seconds", directive)
			}
			got, _ := strconv.Atoi(m[1])
			if time.Duration(got)*time.Second <= interval+timeout {
				t.Fatalf("%s %ds is not above PING_INTERVAL + PING_TIMEOUT (%s)", directive, got, interval+timeout)
			}
		}
	})
}

func durationEnv(t *testing.T, s types.ServiceConfig, name string) time.Duration {
	t.Helper()
	v := s.Environment[name]
	if v == nil {
		t.Fatalf("%s is not set", name)
	}
	d, err := time.ParseDuration(*v)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, *v, err)
	}
	return d
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// renderBalancer renders the balancer's template as the nginx image does: it sources the
// .envsh with env, then substitutes the variables the script exported (the image passes
// envsubst every variable set; these are the template's).
func renderBalancer(t *testing.T, env map[string]string) (string, error) {
	t.Helper()
	names := []string{"CHIRP_UPSTREAM_SERVERS", "CHIRP_LISTEN_DIRECTIVES", "CHIRP_RESOLVER"}
	cmd := exec.Command("sh", "-c", `. `+balancerEnvsh+` && printf '%s\0' "$CHIRP_UPSTREAM_SERVERS" "$CHIRP_LISTEN_DIRECTIVES" "$CHIRP_RESOLVER"`)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%v: %s", err, stderr.String())
	}
	values := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if len(values) != len(names) {
		t.Fatalf("the .envsh printed %q", out)
	}
	vars := map[string]string{}
	for i, name := range names {
		vars[name] = values[i]
	}
	return envsubst(readFile(t, balancerTemplate), vars), nil
}

// TestBalancerEnvsh: one list in, one server line per entry out; anything that is not
// host:port stops the container at start rather than land in nginx's configuration.
func TestBalancerEnvsh(t *testing.T) {
	line := func(addr, resolve string) string {
		return "    server " + addr + " max_fails=2 fail_timeout=10s" + resolve + ";\n"
	}
	tests := []struct {
		name, backends, resolve string
		want                    []string // server lines; nil: the script fails
		more                    map[string]string
	}{
		{"ComposeDefault", "", "resolve", []string{line("backend:8000", " resolve")}, nil},
		{"SpacesNoResolve", "127.0.0.1:8001 127.0.0.1:8002", "", []string{line("127.0.0.1:8001", ""), line("127.0.0.1:8002", "")}, nil},
		{"CommasAndNewlines", "a:1,b:2\nc:3", "", []string{line("a:1", ""), line("b:2", ""), line("c:3", "")}, nil},
		{"IPv6", "[::1]:8000", "resolve", []string{line("[::1]:8000", " resolve")}, nil},
		{"NoPort", "backend", "", nil, nil},
		{"EmptyPort", "backend:", "", nil, nil},
		{"Injection", "a:1;}server{listen:80", "", nil, nil},
		{"OnlySeparators", " , ", "", nil, nil},
		{"BadResolve", "a:1", "yes", nil, nil},
		{"BadListen", "a:1", "", nil, map[string]string{"CHIRP_LISTEN": "8000; include /etc/passwd"}},
		{"BadResolver", "a:1", "", nil, map[string]string{"CHIRP_RESOLVER": "127.0.0.1; include /etc/passwd"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"CHIRP_BACKEND_RESOLVE": tt.resolve}
			if tt.backends != "" {
				env["CHIRP_BACKENDS"] = tt.backends
			}
			maps.Copy(env, tt.more)
			site, err := renderBalancer(t, env)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("rendered %q", serverLines(site))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := serverLines(site); !slices.Equal(got, tt.want) {
				t.Fatalf("server lines %q, want %q", got, tt.want)
			}
		})
	}
}

// TestBalancerEnvshSourcedOrRun: a bad value ends a sourcing with status 1 and leaves the
// shell running (a user's interactive shell survives it), stops a shell under set -e (the
// image's entrypoint, so the container does not start half-configured), and fails when run.
func TestBalancerEnvshSourcedOrRun(t *testing.T) {
	bad := append(os.Environ(), "CHIRP_BACKENDS=no-port")
	shell := func(script string, env []string, args ...string) (string, error) {
		cmd := exec.Command("sh", append([]string{"-c", script, "sh"}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := shell(`. "$1"; echo "sourced: $?"; case $- in *f*) echo "globbing left off";; esac`, bad, balancerEnvsh)
	if err != nil || !strings.Contains(out, "sourced: 1") || !strings.Contains(out, `"no-port" is not host:port`) || strings.Contains(out, "left off") {
		t.Fatalf("sourced with a bad value: %v\n%s", err, out)
	}
	if out, err := shell(`set -e; . "$1"; echo "went on"`, bad, balancerEnvsh); err == nil || strings.Contains(out, "went on") {
		t.Fatalf("under set -e a bad value did not stop the shell: %v\n%s", err, out)
	}
	if out, err := shell(`"$1"`, bad, balancerEnvsh); err == nil {
		t.Fatalf("run with a bad value: status 0\n%s", out)
	}
	if out, err := shell(`"$1"`, os.Environ(), balancerEnvsh); err != nil {
		t.Fatalf("run with the defaults: %v\n%s", err, out)
	}
}

// TestBalancerRenderedWithoutDocker: `run-balanced.sh render`, which make run-balanced and the
// Node balancer tests use, gives exactly what the nginx image gives for the same variables,
// nginx's own $variables included, and refuses what the .envsh refuses.
func TestBalancerRenderedWithoutDocker(t *testing.T) {
	for _, env := range []map[string]string{
		{"CHIRP_BACKEND_RESOLVE": "resolve"}, // compose's
		{"CHIRP_BACKENDS": "127.0.0.1:8001 127.0.0.1:8002", "CHIRP_BACKEND_RESOLVE": "", "CHIRP_LISTEN": "127.0.0.1:8000", "CHIRP_RESOLVER": "192.0.2.53"},
	} {
		want, err := renderBalancer(t, env)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("../balancer/run-balanced.sh", "render")
		cmd.Env = os.Environ()
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		got, err := cmd.Output()
		if err != nil {
			t.Fatalf("render %v: %v", env, err)
		}
		if string(got) != want {
			t.Fatalf("render %v differs from the image's rendering:\n%s", env, got)
		}
		for _, own := range []string{"map $remote_addr $chirp_client", "proxy_set_header Upgrade $http_upgrade;"} {
			if !strings.Contains(string(got), own) {
				t.Errorf("nginx's own variables did not survive: no %q", own)
			}
		}
	}
	cmd := exec.Command("../balancer/run-balanced.sh", "render")
	cmd.Env = append(os.Environ(), "CHIRP_LISTEN=80;")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "CHIRP_LISTEN") {
		t.Fatalf("render with a bad CHIRP_LISTEN: %v\n%s", err, out)
	}
}

func serverLines(site string) []string {
	return regexp.MustCompile(`(?m)^ *server [^{\n]*;\n`).FindAllString(site, -1)
}

// TestBalancerTemplate renders the template for Debian's nginx (no `resolve`, loopback
// backends), checks it with `nginx -t`, and checks the directives socket.io depends on.
func TestBalancerTemplate(t *testing.T) {
	nginx := requireNginx(t)
	site, err := renderBalancer(t, map[string]string{"CHIRP_BACKENDS": "127.0.0.1:8001 127.0.0.1:8002", "CHIRP_BACKEND_RESOLVE": ""})
	if err != nil {
		t.Fatal(err)
	}
	nginxCheck(t, nginx, nginxDir(t), site)
	// What nginx reads: the comments (which name what is deliberately absent) left out.
	conf := regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(site, "")
	for _, want := range []string{
		"hash $chirp_client;",
		"zone chirp_backends",
		"server 127.0.0.1:8001 max_fails=2 fail_timeout=10s;",
		"server 127.0.0.1:8002 max_fails=2 fail_timeout=10s;",
		"proxy_http_version 1.1;",
		"map $http_upgrade $chirp_connection",
		"proxy_set_header Upgrade $http_upgrade;",
		"proxy_set_header Connection $chirp_connection;",
		"proxy_set_header X-Forwarded-For $remote_addr;",
		"proxy_set_header X-Forwarded-Proto $scheme;",
		"proxy_set_header Host $http_host;",
		"proxy_buffering off;",
		"proxy_next_upstream error timeout http_503;",
		// The container's, by default: compose sets neither CHIRP_LISTEN nor CHIRP_RESOLVER.
		"    listen 8000;\n    listen [::]:8000;\n    server_name _;",
		"resolver 127.0.0.11 valid=10s ipv6=off;",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("the rendered configuration lacks %q", want)
		}
	}
	for _, never := range []string{"$proxy_add_x_forwarded_for", "non_idempotent", "${"} {
		if strings.Contains(conf, never) {
			t.Errorf("the rendered configuration has %q", never)
		}
	}
}

// upstreamSeen is what one fake backend saw.
type upstreamSeen struct {
	mu       sync.Mutex
	requests []*http.Request
	drop     bool // answer nothing: close the connection once the request is read
}

func (u *upstreamSeen) count(method, path string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, r := range u.requests {
		if r.Method == method && r.URL.Path == path {
			n++
		}
	}
	return n
}

// TestBalancerProxies runs the rendered template with Debian's nginx in front of two plain
// HTTP backends and checks what socket.io and TRUSTED_PROXIES rely on: the headers the
// backends receive, that one client address always reaches one backend, that an upgrade
// passes through, that a backend that is gone is passed over, and that a POST is never sent
// twice.
func TestBalancerProxies(t *testing.T) {
	nginx := requireNginx(t)
	// Three, so that with one gone and one failing there is still one to pass requests to.
	seen := [3]*upstreamSeen{{}, {}, {}}
	var backends [3]*httptest.Server
	for i := range backends {
		u := seen[i]
		backends[i] = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			u.mu.Lock()
			u.requests = append(u.requests, r)
			drop := u.drop
			u.mu.Unlock()
			if drop {
				c, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					c.Close()
				}
				return
			}
			if r.Header.Get("Upgrade") == "websocket" {
				c, rw, err := w.(http.Hijacker).Hijack()
				if err != nil {
					return
				}
				defer c.Close()
				rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
				rw.Flush()
				line, _ := rw.ReadString('\n') // an echo across the upgraded connection
				rw.WriteString(fmt.Sprintf("backend %d: %s", i, line))
				rw.Flush()
				return
			}
			fmt.Fprintf(w, "%d", i)
		}))
		t.Cleanup(backends[i].Close)
	}
	var list []string
	for _, b := range backends {
		list = append(list, strings.TrimPrefix(b.URL, "http://"))
	}
	port, logs := runBalancer(t, nginx, strings.Join(list, ","))
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	get := func(c *http.Client, method, path string, header http.Header) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader("{}"))
		for k, v := range header {
			req.Header[k] = v
		}
		return answer(t, c, req, logs)
	}
	// lastRequest is the last request a backend saw with this path.
	lastRequest := func(path string) (*http.Request, int) {
		for i := len(seen) - 1; i >= 0; i-- {
			u := seen[i]
			u.mu.Lock()
			for j := len(u.requests) - 1; j >= 0; j-- {
				if u.requests[j].URL.Path == path {
					r := u.requests[j]
					u.mu.Unlock()
					return r, i
				}
			}
			u.mu.Unlock()
		}
		t.Fatalf("no backend saw %s", path)
		return nil, 0
	}

	t.Run("ForwardedHeaders", func(t *testing.T) {
		for _, addr := range []string{"127.0.0.1", "127.0.0.7"} {
			status, _ := get(clientFrom(addr), "GET", "/headers-"+addr, http.Header{
				"X-Forwarded-For":   {"203.0.113.9"},
				"X-Forwarded-Proto": {"https"},
			})
			if status != 200 {
				t.Fatalf("status %d", status)
			}
			r, _ := lastRequest("/headers-" + addr)
			if got := r.Header.Values("X-Forwarded-For"); !slices.Equal(got, []string{addr}) {
				t.Fatalf("X-Forwarded-For %q, want only the address nginx saw, %s (the client's forgery replaced)", got, addr)
			}
			if got := r.Header.Get("X-Forwarded-Proto"); got != "http" {
				t.Fatalf("X-Forwarded-Proto %q, want nginx's own scheme", got)
			}
			if r.Host != fmt.Sprintf("127.0.0.1:%d", port) {
				t.Fatalf("Host %q, want the client's", r.Host)
			}
		}
	})
	t.Run("OneAddressOneBackend", func(t *testing.T) {
		// 32 client addresses, three requests each: each address always reaches the same
		// backend, and the addresses are spread (the chance that 32 land on one of three is
		// about 3^-31).
		used := map[int]int{}
		for a := 10; a < 42; a++ {
			addr := fmt.Sprintf("127.0.1.%d", a)
			var got []string
			for range 3 {
				_, body := get(clientFrom(addr), "GET", "/sticky", nil)
				got = append(got, body)
			}
			if got[0] != got[1] || got[1] != got[2] {
				t.Fatalf("%s reached backends %v", addr, got)
			}
			n, _ := strconv.Atoi(got[0])
			used[n]++
		}
		if len(used) < 2 {
			t.Fatalf("32 addresses all reached one backend: %v", used)
		}
	})
	t.Run("UpgradePassesThrough", func(t *testing.T) {
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "GET /socket.io/?EIO=3&transport=websocket HTTP/1.1\r\nHost: chirp.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("status %d", resp.StatusCode)
		}
		r, _ := lastRequest("/socket.io/")
		if r.Header.Get("Upgrade") != "websocket" || !strings.EqualFold(r.Header.Get("Connection"), "upgrade") {
			t.Fatalf("the backend got Upgrade %q Connection %q", r.Header.Get("Upgrade"), r.Header.Get("Connection"))
		}
		fmt.Fprintf(conn, "ping\n")
		if line, err := br.ReadString('\n'); err != nil || !strings.HasSuffix(line, ": ping\n") {
			t.Fatalf("echo through the upgraded connection: %q %v", line, err)
		}
	})
	t.Run("PlainRequestsKeepAlive", func(t *testing.T) {
		get(clientFrom("127.0.0.1"), "GET", "/plain", nil)
		r, _ := lastRequest("/plain")
		// Go's server drops Connection from the header map only for "close"; an empty
		// header is how nginx asks to keep the connection for the next request.
		if r.Header.Get("Connection") != "" || r.Header.Get("Upgrade") != "" || r.Close {
			t.Fatalf("a plain request reached the backend with Connection %q Upgrade %q close %v", r.Header.Get("Connection"), r.Header.Get("Upgrade"), r.Close)
		}
	})
	// The next two take backends out (one gone, then one failing): they come last.
	client := clientFrom("127.0.0.1")
	whose := func(method, path string) int {
		t.Helper()
		status, body := get(client, method, path, nil)
		n, err := strconv.Atoi(body)
		if status != 200 || err != nil {
			t.Fatalf("%s %s: %d %q", method, path, status, body)
		}
		return n
	}
	gone := whose("GET", "/whose")
	var next int
	t.Run("GoneBackendPassedOver", func(t *testing.T) {
		backends[gone].Close() // connections to it are now refused
		next = whose("GET", "/after")
		if next == gone {
			t.Fatal("a closed backend answered")
		}
		for range 4 {
			if n := whose("GET", "/after"); n != next {
				t.Fatalf("after its backend left, 127.0.0.1 reached %d, then %d", next, n)
			}
		}
		// A POST that could not connect was never sent: it goes to the next backend.
		if n := whose("POST", "/after"); n != next {
			t.Fatalf("POST after the backend left reached %d, not %d", n, next)
		}
	})
	t.Run("NoSecondPOST", func(t *testing.T) {
		seen[next].mu.Lock()
		seen[next].drop = true
		seen[next].mu.Unlock()
		last := 3 - gone - next
		// A GET whose backend closes without answering is safe to send again: the last
		// backend answers it.
		if n := whose("GET", "/drop"); n != last {
			t.Fatalf("GET after a dropped connection reached %d, not %d", n, last)
		}
		// A POST that reached a backend is never sent to another: a create would be made twice.
		if status, _ := get(client, "POST", "/drop", nil); status != http.StatusBadGateway {
			t.Fatalf("POST after a dropped connection: %d, want 502", status)
		}
		if n := seen[last].count("POST", "/drop"); n != 0 {
			t.Fatalf("the POST was sent again to another backend (%d times)", n)
		}
		if n := seen[next].count("POST", "/drop"); n != 1 {
			t.Fatalf("the failing backend saw the POST %d times", n)
		}
	})
}

// runBalancer runs the rendered template (without `resolve`) with the given CHIRP_BACKENDS on
// a free loopback port until the test ends, and returns the port and nginx's stderr.
func runBalancer(t *testing.T, nginx, backends string) (int, fmt.Stringer) {
	t.Helper()
	port := freePort(t)
	site, err := renderBalancer(t, map[string]string{"CHIRP_BACKENDS": backends, "CHIRP_BACKEND_RESOLVE": "", "CHIRP_LISTEN": fmt.Sprintf("127.0.0.1:%d", port)})
	if err != nil {
		t.Fatal(err)
	}
	logs := startNginx(t, nginx, nginxDir(t), site)
	waitFor(t, fmt.Sprintf("http://127.0.0.1:%d/", port), logs)
	return port, logs
}

// clientFrom is a client on its own loopback address (Linux answers all of 127.0.0.0/8),
// with a new connection per request.
func clientFrom(addr string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(addr)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}
