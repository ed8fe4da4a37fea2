package check

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDockerfileBuildLine runs the Dockerfile's own build command (the RUN line, with only the
// output path moved) in backend/, and checks the result is the static binary the distroless
// image needs: no dynamic loader, no shared libraries, and it runs.
func TestDockerfileBuildLine(t *testing.T) {
	dockerfile, err := os.ReadFile("../../backend/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^RUN (CGO_ENABLED=0 go build .* -o )(\S+)( \./cmd/chirp)\s*$`).FindSubmatch(dockerfile)
	if m == nil {
		t.Fatal("no `RUN CGO_ENABLED=0 go build ... -o OUT ./cmd/chirp` line in backend/Dockerfile")
	}
	for _, want := range []string{"ARG GO_IMAGE=golang:", "FROM ${GO_IMAGE} AS build", "ARG RUNTIME_IMAGE=gcr.io/distroless/static",
		"FROM ${RUNTIME_IMAGE}", "USER nonroot", `ENTRYPOINT ["/chirp"]`, "COPY --from=build " + string(m[2]) + " /chirp"} {
		if !strings.Contains(string(dockerfile), want) {
			t.Fatalf("backend/Dockerfile lacks %q", want)
		}
	}
	out := filepath.Join(t.TempDir(), "chirp")
	line := string(m[1]) + out + string(m[3])
	cmd := exec.Command("sh", "-c", line)
	cmd.Dir = "../../backend"
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", line, err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the binary needs a dynamic loader; the distroless static image has none")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Fatalf("the binary needs %v", libs)
	}
	if b, err := exec.Command(out, "help").CombinedOutput(); err != nil || !strings.Contains(string(b), "healthcheck") {
		t.Fatalf("chirp help: %v %s", err, b)
	}
}

// TestImagesAreSettings: compose's image variables default to the official images,
// and the backend's build arguments to exactly the Dockerfile's own defaults, so that a user with
// Docker Hub builds what the Dockerfile alone would.
func TestImagesAreSettings(t *testing.T) {
	dockerfile, err := os.ReadFile("../../backend/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	p := loadFiles(t, nil, "docker-compose.yml", "docker-compose.scale.yml")
	args := p.Services["backend"].Build.Args
	for _, name := range []string{"GO_IMAGE", "RUNTIME_IMAGE"} {
		m := regexp.MustCompile(`(?m)^ARG ` + name + `=(\S+)$`).FindSubmatch(dockerfile)
		if m == nil {
			t.Fatalf("backend/Dockerfile has no ARG %s=default", name)
		}
		if got := args[name]; got == nil || *got != string(m[1]) {
			t.Errorf("compose's build arg %s is %v, the Dockerfile's default %s", name, deref(got), m[1])
		}
	}
	for service, want := range map[string]string{"db": "postgres:17-alpine", "frontend": "nginx:1.27-alpine", "balancer": "nginx:1.27-alpine"} {
		if got := p.Services[service].Image; got != want {
			t.Errorf("%s's image is %q by default, want the official %q", service, got, want)
		}
	}
	env := map[string]string{"POSTGRES_IMAGE": "local/pg:1", "NGINX_IMAGE": "local/nginx:1", "GO_IMAGE": "local/go:1", "RUNTIME_IMAGE": "local/run:1"}
	q := loadFiles(t, env, "docker-compose.yml", "docker-compose.scale.yml")
	for service, name := range map[string]string{"db": "POSTGRES_IMAGE", "frontend": "NGINX_IMAGE", "balancer": "NGINX_IMAGE"} {
		if got := q.Services[service].Image; got != env[name] {
			t.Errorf("%s's image %q does not follow %s", service, got, name)
		}
	}
	for _, name := range []string{"GO_IMAGE", "RUNTIME_IMAGE"} {
		if got := q.Services["backend"].Build.Args[name]; got == nil || *got != env[name] {
			t.Errorf("the backend's build arg %s %v does not follow %s", name, deref(got), name)
		}
	}
	// Empty, not unset, turns the balancer's `resolve` off (Debian's nginx 1.22 lacks it).
	r := loadFiles(t, map[string]string{"CHIRP_BACKEND_RESOLVE": ""}, "docker-compose.yml", "docker-compose.scale.yml")
	if got := r.Services["balancer"].Environment["CHIRP_BACKEND_RESOLVE"]; got == nil || *got != "" {
		t.Errorf("CHIRP_BACKEND_RESOLVE set empty reaches the balancer as %v", deref(got))
	}
}
