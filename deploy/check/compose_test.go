// Package check tests what cannot run on a machine without a Docker engine: that
// docker-compose.yml says what Chirp needs (loaded with compose-go, the library Docker Compose
// itself uses) and that the backend's Dockerfile builds what the tests build.
package check

import (
	"context"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

func loadProject(t *testing.T, env map[string]string) *types.Project {
	t.Helper()
	return loadFiles(t, env, "docker-compose.yml")
}

// loadFiles loads the repository's compose files as `docker compose -f a -f b` does: each
// later file overrides the ones before.
func loadFiles(t *testing.T, env map[string]string, files ...string) *types.Project {
	t.Helper()
	var envList []string
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	var paths []string
	for _, f := range files {
		paths = append(paths, "../../"+f)
	}
	opts, err := cli.NewProjectOptions(paths,
		cli.WithWorkingDirectory("../.."),
		cli.WithEnv(envList),
		cli.WithName("chirp"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("%s do not load: %v", strings.Join(files, " + "), err)
	}
	return p
}

func TestComposeServices(t *testing.T) {
	p := loadProject(t, nil)
	if names := p.ServiceNames(); !slices.Equal(sorted(names), []string{"backend", "db", "frontend"}) {
		t.Fatalf("services %v", names)
	}
	db, backend, frontend := p.Services["db"], p.Services["backend"], p.Services["frontend"]

	t.Run("Ports", func(t *testing.T) {
		for name, want := range map[string]string{"backend": "8000", "frontend": "3000"} {
			s := p.Services[name]
			if len(s.Ports) != 1 || s.Ports[0].Published != want || s.Ports[0].Target != mustAtoi(want) {
				t.Fatalf("%s ports %+v", name, s.Ports)
			}
		}
		if len(db.Ports) != 0 {
			t.Fatalf("the database is published: %+v", db.Ports)
		}
	})
	t.Run("PortsFromEnv", func(t *testing.T) {
		q := loadProject(t, map[string]string{"BACKEND_PORT": "18000", "FRONTEND_PORT": "13000"})
		if q.Services["backend"].Ports[0].Published != "18000" || q.Services["frontend"].Ports[0].Published != "13000" {
			t.Fatalf("ports do not follow .env: %+v %+v", q.Services["backend"].Ports, q.Services["frontend"].Ports)
		}
		// The page must follow the moved API (make test-compose found it still on :8000).
		if api := q.Services["frontend"].Environment["API_URL"]; api == nil || *api != "http://localhost:18000" {
			t.Fatalf("the page's API_URL %v does not follow BACKEND_PORT", deref(api))
		}
		r := loadProject(t, map[string]string{"BACKEND_PORT": "18000", "API_URL": "https://api.example"})
		if api := r.Services["frontend"].Environment["API_URL"]; api == nil || *api != "https://api.example" {
			t.Fatalf("API_URL of .env is not the page's: %v", deref(api))
		}
	})
	t.Run("Healthchecks", func(t *testing.T) {
		for name, want := range map[string]string{"db": "pg_isready", "backend": "/chirp healthcheck", "frontend": "/config.js"} {
			hc := p.Services[name].HealthCheck
			if hc == nil || !strings.Contains(strings.Join(hc.Test, " "), want) {
				t.Fatalf("%s healthcheck %+v", name, hc)
			}
		}
	})
	t.Run("DependsOn", func(t *testing.T) {
		if d, ok := backend.DependsOn["db"]; !ok || d.Condition != types.ServiceConditionHealthy {
			t.Fatalf("backend depends_on %+v", backend.DependsOn)
		}
		if _, ok := frontend.DependsOn["backend"]; !ok {
			t.Fatalf("frontend depends_on %+v", frontend.DependsOn)
		}
	})
	t.Run("Volume", func(t *testing.T) {
		if _, ok := p.Volumes["db-data"]; !ok {
			t.Fatalf("volumes %v", p.Volumes)
		}
		// The image's major version decides where its data lives: from 18 on the image wants
		// the volume at /var/lib/postgresql, before 18 at /var/lib/postgresql/data; a mismatch
		// makes the container exit at start.
		m := regexp.MustCompile(`^postgres:(\d+)`).FindStringSubmatch(db.Image)
		if m == nil {
			t.Fatalf("db image %q is not an official postgres image with a pinned major version", db.Image)
		}
		want := "/var/lib/postgresql/data"
		if mustAtoi(m[1]) >= 18 {
			want = "/var/lib/postgresql"
		}
		if len(db.Volumes) != 1 || db.Volumes[0].Source != "db-data" || db.Volumes[0].Target != want {
			t.Fatalf("db volumes %+v, want db-data at %s", db.Volumes, want)
		}
	})
	t.Run("BackendEnvironment", func(t *testing.T) {
		url := backend.Environment["DATABASE_URL"]
		if url == nil || !strings.HasPrefix(*url, "postgres://chirp:chirp-dev-only@db:5432/chirp") {
			t.Fatalf("DATABASE_URL %v", url)
		}
		if backend.Build == nil || backend.Build.Context == "" || !strings.HasSuffix(backend.Build.Context, "backend") {
			t.Fatalf("backend build %+v", backend.Build)
		}
		if backend.Restart != "unless-stopped" || backend.StopSignal != "SIGTERM" {
			t.Fatalf("restart %q stop signal %q", backend.Restart, backend.StopSignal)
		}
	})
	t.Run("FrontendServesOnlyPublic", func(t *testing.T) {
		var targets []string
		for _, v := range frontend.Volumes {
			targets = append(targets, v.Target)
			if v.Target == "/usr/share/nginx/html" && !strings.HasSuffix(v.Source, "frontend/public") {
				t.Fatalf("the web root is %s, not frontend/public", v.Source)
			}
			if !v.ReadOnly {
				t.Fatalf("volume %s is writable", v.Target)
			}
		}
		if !slices.Contains(targets, "/usr/share/nginx/html") || !slices.Contains(targets, "/etc/nginx/templates") {
			t.Fatalf("frontend volumes %v", targets)
		}
		if api := frontend.Environment["API_URL"]; api == nil || *api != "http://localhost:8000" {
			t.Fatalf("API_URL %v", api)
		}
	})
}

// Every variable the compose files read must be documented in .env.example.
func TestEveryVariableIsInEnvExample(t *testing.T) {
	var compose []byte
	for _, f := range []string{"../../docker-compose.yml", "../../docker-compose.scale.yml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		compose = append(compose, b...)
	}
	example, err := os.ReadFile("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^([A-Z_][A-Z0-9_]*)=`).FindAllStringSubmatch(string(example), -1) {
		documented[m[1]] = true
	}
	used := regexp.MustCompile(`\$\{([A-Z_][A-Z0-9_]*)`).FindAllStringSubmatch(string(compose), -1)
	if len(used) < 10 {
		t.Fatalf("found only %d variables in the compose files", len(used))
	}
	for _, m := range used {
		if !documented[m[1]] {
			t.Errorf("%s is used by a compose file but not in .env.example", m[1])
		}
	}
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

func mustAtoi(s string) uint32 {
	var n uint32
	for _, r := range s {
		n = n*10 + uint32(r-'0')
	}
	return n
}

// notPassedToBackend are the backend variables of .env.example that docker-compose.yml does
// not pass through to the backend's container, each for its reason.
var notPassedToBackend = map[string]string{
	"HOST":         "the container listens on 0.0.0.0, the image's default",
	"PORT":         "the container's port is 8000; BACKEND_PORT publishes it",
	"DATABASE_URL": "compose builds it from POSTGRES_* for its own db service",
	"DEBUG_ADDR":   "pprof stays off in compose: loopback inside a container is unreachable anyway",
	"WEB_PORT":     "chirp web's: compose serves the page with nginx",
	"WEB_ROOT":     "chirp web's: compose serves the page with nginx",
	"API_URL":      "chirp web's: compose gives it to the frontend (nginx) service",
}

// Every backend variable of .env.example (those from its "# Backend" section on) reaches the
// backend's container with the value .env gives it, except the named ones above.
func TestBackendVariablesReachTheContainer(t *testing.T) {
	example, err := os.ReadFile("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(example), "\n# Backend")
	if !ok {
		t.Fatal(`.env.example has no "# Backend" section`)
	}
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^([A-Z_][A-Z0-9_]*)=`).FindAllStringSubmatch(section, -1) {
		names = append(names, m[1])
	}
	if len(names) < 10 {
		t.Fatalf("found only %d backend variables in .env.example: %v", len(names), names)
	}
	env := map[string]string{}
	for _, name := range names {
		env[name] = "from-env-" + strings.ToLower(name)
	}
	backend := loadProject(t, env).Services["backend"]
	for _, name := range names {
		got := backend.Environment[name]
		if _, skip := notPassedToBackend[name]; skip {
			if got != nil && *got == env[name] {
				t.Errorf("%s of .env reaches the backend although it is listed as not passed (%s): remove it from the list", name, notPassedToBackend[name])
			}
			continue
		}
		if got == nil || *got != env[name] {
			t.Errorf("%s of .env does not reach the backend's container (environment: %v); add %s: ${%s:-default} to its environment:", name, deref(got), name, name)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "<unset>"
	}
	return *s
}

// The page's origin is where compose publishes the frontend: passkeys work at
// http://localhost:${FRONTEND_PORT} without a WEBAUTHN_ORIGINS of its own.
func TestWebAuthnOriginFollowsFrontendPort(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{nil, "http://localhost:3000"},
		{map[string]string{"FRONTEND_PORT": "3100"}, "http://localhost:3100"},
		{map[string]string{"FRONTEND_PORT": "3100", "WEBAUTHN_ORIGINS": "https://chirp.example"}, "https://chirp.example"},
	} {
		got := loadProject(t, tc.env).Services["backend"].Environment["WEBAUTHN_ORIGINS"]
		if got == nil || *got != tc.want {
			t.Errorf("%v: WEBAUTHN_ORIGINS %v, want %s", tc.env, deref(got), tc.want)
		}
	}
}
