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
	for _, want := range []string{"FROM golang:", "FROM gcr.io/distroless/static", "USER nonroot", `ENTRYPOINT ["/chirp"]`, "COPY --from=build " + string(m[2]) + " /chirp"} {
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
