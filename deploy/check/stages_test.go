package check

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// makeTestStages is make test's stages as .ci/stages.sh runs them: each one's name in the output
// and the variable through which the Makefile gives its command, in order.
var makeTestStages = []struct{ name, variable string }{
	{"gofmt and go vet", "STAGE_CHECK"},
	{"npm packages", "STAGE_NPM_PACKAGES"},
	{"OpenAPI lint (redocly)", "STAGE_OPENAPI_LINT"},
	{"Go tests (backend)", "STAGE_GO_TESTS"},
	{"Go fuzzing (10 s a target)", "STAGE_FUZZ"},
	{"Go tests (deploy/check)", "STAGE_CHECK_TESTS"},
	{"build", "STAGE_BUILD"},
	{"Node and browser tests", "STAGE_NODE_TESTS"},
	{"docker compose (real engine)", "STAGE_COMPOSE"},
}

const (
	nodeNotRun    = "not run  Node and browser tests (they need the build and the npm packages)"
	composeNotRun = "not run  docker compose (real engine) (it needs the npm packages)"
	lintNotRun    = "not run  OpenAPI lint (redocly) (it needs the npm packages)"
)

// TestStages runs make test's stage runner with stand-in commands that print a line and
// pass or fail: a failed stage must not stop the later ones, the summary must mark each stage
// and name exactly the failed ones, the exit status must say whether any failed, and the Node
// tests must not run without this run's build and the npm packages (nor the lint and compose
// without the packages).
func TestStages(t *testing.T) {
	for _, tt := range []struct {
		name    string
		failing []string // the stages whose stand-in fails
		summary []string // the summary's lines, after "== make test: summary"
	}{
		{
			name: "EveryStagePasses",
			summary: []string{
				"  ok       gofmt and go vet",
				"  ok       npm packages",
				"  ok       OpenAPI lint (redocly)",
				"  ok       Go tests (backend)",
				"  ok       Go fuzzing (10 s a target)",
				"  ok       Go tests (deploy/check)",
				"  ok       build",
				"  ok       Node and browser tests",
				"  ok       docker compose (real engine)",
				"make test: every stage passed",
			},
		},
		{
			name:    "FirstStageFailsTheRestRun",
			failing: []string{"gofmt and go vet"},
			summary: []string{
				"  FAILED   gofmt and go vet",
				"  ok       npm packages",
				"  ok       OpenAPI lint (redocly)",
				"  ok       Go tests (backend)",
				"  ok       Go fuzzing (10 s a target)",
				"  ok       Go tests (deploy/check)",
				"  ok       build",
				"  ok       Node and browser tests",
				"  ok       docker compose (real engine)",
				"make test: FAILED: gofmt and go vet",
			},
		},
		{
			name:    "SeveralFailEachNamed",
			failing: []string{"Go tests (backend)", "Go tests (deploy/check)", "Node and browser tests"},
			summary: []string{
				"  ok       gofmt and go vet",
				"  ok       npm packages",
				"  ok       OpenAPI lint (redocly)",
				"  FAILED   Go tests (backend)",
				"  ok       Go fuzzing (10 s a target)",
				"  FAILED   Go tests (deploy/check)",
				"  ok       build",
				"  FAILED   Node and browser tests",
				"  ok       docker compose (real engine)",
				"make test: FAILED: Go tests (backend); Go tests (deploy/check); Node and browser tests",
			},
		},
		{
			name:    "BuildFailsNodeNotRun",
			failing: []string{"build"},
			summary: []string{
				"  ok       gofmt and go vet",
				"  ok       npm packages",
				"  ok       OpenAPI lint (redocly)",
				"  ok       Go tests (backend)",
				"  ok       Go fuzzing (10 s a target)",
				"  ok       Go tests (deploy/check)",
				"  FAILED   build",
				"  " + nodeNotRun,
				"  ok       docker compose (real engine)",
				"make test: FAILED: build",
			},
		},
		{
			name:    "ComposeFailsNamed",
			failing: []string{"docker compose (real engine)"},
			summary: []string{
				"  ok       gofmt and go vet",
				"  ok       npm packages",
				"  ok       OpenAPI lint (redocly)",
				"  ok       Go tests (backend)",
				"  ok       Go fuzzing (10 s a target)",
				"  ok       Go tests (deploy/check)",
				"  ok       build",
				"  ok       Node and browser tests",
				"  FAILED   docker compose (real engine)",
				"make test: FAILED: docker compose (real engine)",
			},
		},
		{
			name:    "NPMPackagesFailNodeNotRun",
			failing: []string{"npm packages"},
			summary: []string{
				"  ok       gofmt and go vet",
				"  FAILED   npm packages",
				"  " + lintNotRun,
				"  ok       Go tests (backend)",
				"  ok       Go fuzzing (10 s a target)",
				"  ok       Go tests (deploy/check)",
				"  ok       build",
				"  " + nodeNotRun,
				"  " + composeNotRun,
				"make test: FAILED: npm packages",
			},
		},
		{
			name:    "OpenAPILintFailsNamed",
			failing: []string{"OpenAPI lint (redocly)"},
			summary: []string{
				"  ok       gofmt and go vet",
				"  ok       npm packages",
				"  FAILED   OpenAPI lint (redocly)",
				"  ok       Go tests (backend)",
				"  ok       Go fuzzing (10 s a target)",
				"  ok       Go tests (deploy/check)",
				"  ok       build",
				"  ok       Node and browser tests",
				"  ok       docker compose (real engine)",
				"make test: FAILED: OpenAPI lint (redocly)",
			},
		},
		{
			name: "EveryStageFails",
			failing: []string{"gofmt and go vet", "npm packages", "OpenAPI lint (redocly)", "Go tests (backend)", "Go fuzzing (10 s a target)",
				"Go tests (deploy/check)", "build", "Node and browser tests", "docker compose (real engine)"},
			summary: []string{
				"  FAILED   gofmt and go vet",
				"  FAILED   npm packages",
				"  " + lintNotRun,
				"  FAILED   Go tests (backend)",
				"  FAILED   Go fuzzing (10 s a target)",
				"  FAILED   Go tests (deploy/check)",
				"  FAILED   build",
				"  " + nodeNotRun,
				"  " + composeNotRun,
				"make test: FAILED: gofmt and go vet; npm packages; Go tests (backend); Go fuzzing (10 s a target); Go tests (deploy/check); build",
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command("./.ci/stages.sh")
			cmd.Dir = "../.."
			cmd.Env = cmd.Environ()
			for _, s := range makeTestStages {
				// A failing stand-in leaves with exit, as a failing command list may: the stage's
				// subshell must keep that from ending the runner.
				command := "echo 'ran: " + s.name + "'"
				if slices.Contains(tt.failing, s.name) {
					command += "; exit 3"
				}
				cmd.Env = append(cmd.Env, s.variable+"="+command)
			}
			outBytes, err := cmd.CombinedOutput()
			out := string(outBytes)

			var exit *exec.ExitError
			switch {
			case len(tt.failing) == 0 && err != nil:
				t.Fatalf("every stage passed, yet the runner failed (%v):\n%s", err, out)
			case len(tt.failing) > 0 && err == nil:
				t.Errorf("%v failed, yet the runner exited 0:\n%s", tt.failing, out)
			case err != nil && (!errors.As(err, &exit) || exit.ExitCode() != 1):
				t.Errorf("the runner ended with %v, want exit status 1:\n%s", err, out)
			}

			// Each stage's header, then its own output, in order; the Node tests' only when they ran.
			nodeRuns := !slices.Contains(tt.failing, "build") && !slices.Contains(tt.failing, "npm packages")
			// The lint and compose need only the npm packages.
			packagesRun := !slices.Contains(tt.failing, "npm packages")
			rest := out
			for _, s := range makeTestStages {
				needsPackages := s.name == "docker compose (real engine)" || s.name == "OpenAPI lint (redocly)"
				if s.name == "Node and browser tests" && !nodeRuns || needsPackages && !packagesRun {
					if strings.Contains(out, "== make test: "+s.name) || strings.Contains(out, "ran: "+s.name) {
						t.Errorf("%s ran without what it needs:\n%s", s.name, out)
					}
					continue
				}
				want := "\n== make test: " + s.name + "\nran: " + s.name + "\n"
				i := strings.Index(rest, want)
				if i < 0 {
					t.Fatalf("no %q after the stages before it:\n%s", want, out)
				}
				rest = rest[i+len(want):]
			}

			summary := "\n== make test: summary\n" + strings.Join(tt.summary, "\n") + "\n"
			if !strings.HasSuffix(out, summary) {
				t.Errorf("the output does not end with the summary\n%s\ngot:\n%s", summary, out)
			}
		})
	}
}

// TestStagesNeedEveryCommand: a stage whose variable is missing must stop the runner before any
// stage runs, not run an empty command that passes.
func TestStagesNeedEveryCommand(t *testing.T) {
	cmd := exec.Command("./.ci/stages.sh")
	cmd.Dir = "../.."
	cmd.Env = cmd.Environ()
	for _, s := range makeTestStages {
		if s.variable != "STAGE_BUILD" {
			cmd.Env = append(cmd.Env, s.variable+"=true")
		}
	}
	cmd.Env = append(cmd.Env, "STAGE_BUILD=") // as if the Makefile had lost it
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "STAGE_BUILD") || strings.Contains(string(out), "== make test:") {
		t.Fatalf("want the runner to fail at once naming STAGE_BUILD; got %v:\n%s", err, out)
	}
}
