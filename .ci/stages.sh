#!/usr/bin/env bash
# make test's stages, in order (issue 9). Every stage runs even when an earlier one failed, so
# one run shows everything that is broken; the summary at the end names the failed stages, and
# then this fails. The Node tests run only on a binary built by this run (never a stale one) and
# with their packages installed; the packages come first because some Go tests check the
# socket.io client file they hold.
#
# The Makefile's test target gives each stage's command in a variable, so that deploy/check's
# TestStages can run this same list, and the rule about the Node tests, with stand-in commands.
set -euo pipefail

# A missing variable would otherwise be an empty command, which passes.
: "${STAGE_CHECK:?}" "${STAGE_NPM_PACKAGES:?}" "${STAGE_OPENAPI_LINT:?}" "${STAGE_GO_TESTS:?}" "${STAGE_FUZZ:?}"
: "${STAGE_CHECK_TESTS:?}" "${STAGE_BUILD:?}" "${STAGE_NODE_TESTS:?}" "${STAGE_COMPOSE:?}"

results=() failed=()

# stage NAME COMMAND runs COMMAND in a subshell (its cd and exit stay there) and records whether
# it passed; it returns COMMAND's status.
stage() {
  printf '\n== make test: %s\n' "$1"
  if (eval "$2"); then
    results+=("ok       $1")
  else
    results+=("FAILED   $1")
    failed+=("$1")
    return 1
  fi
}

stage "gofmt and go vet" "$STAGE_CHECK" || true
packages=1
stage "npm packages" "$STAGE_NPM_PACKAGES" || packages=
# The linter is one of the npm packages.
if [[ -n $packages ]]; then
  stage "OpenAPI lint (redocly)" "$STAGE_OPENAPI_LINT" || true
else
  results+=("not run  OpenAPI lint (redocly) (it needs the npm packages)")
fi
stage "Go tests (backend)" "$STAGE_GO_TESTS" || true
stage "Go fuzzing (10 s a target)" "$STAGE_FUZZ" || true
stage "Go tests (deploy/check)" "$STAGE_CHECK_TESTS" || true
built=1
stage "build" "$STAGE_BUILD" || built=
if [[ -n $built && -n $packages ]]; then
  stage "Node and browser tests" "$STAGE_NODE_TESTS" || true
else
  results+=("not run  Node and browser tests (they need the build and the npm packages)")
fi
# Its tabs are Chromium driven by the npm packages' playwright-core; it builds its own image.
if [[ -n $packages ]]; then
  stage "docker compose (real engine)" "$STAGE_COMPOSE" || true
else
  results+=("not run  docker compose (real engine) (it needs the npm packages)")
fi

printf '\n== make test: summary\n'
printf '  %s\n' "${results[@]}"
if ((${#failed[@]})); then
  printf -v list '%s; ' "${failed[@]}"
  echo "make test: FAILED: ${list%; }"
  exit 1
fi
echo "make test: every stage passed"
