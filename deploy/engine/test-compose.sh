#!/usr/bin/env bash
# make test-compose: Chirp's compose files run for real, through the `docker compose` CLI on the
# Docker engine this machine has (frontend/test/engine/compose.test.js says what it checks). It
# installs nothing. Without an engine (or the compose plugin) it says so in one line and passes,
# unless CHIRP_REQUIRE_DOCKER is set (CI), where that fails. With STANDIN_IMAGES=1 the images
# are stand-ins built from Debian packages (deploy/engine/standins.sh), for a machine that
# reaches no image registry; otherwise the official images, or whatever POSTGRES_IMAGE,
# NGINX_IMAGE, GO_IMAGE and RUNTIME_IMAGE name.
set -euo pipefail
cd "$(dirname "$0")/../.."

missing=
if ! command -v docker >/dev/null; then
	missing="no docker command"
elif ! timeout 30 docker info >/dev/null 2>&1; then
	missing="no Docker engine answers (docker info)"
elif ! docker compose version >/dev/null 2>&1; then
	missing="no docker compose plugin"
fi
if [[ -n $missing ]]; then
	if [[ -n ${CHIRP_REQUIRE_DOCKER:-} ]]; then
		echo "test-compose: FAILED: $missing, and CHIRP_REQUIRE_DOCKER is set"
		exit 1
	fi
	echo "test-compose: skipped: $missing (set CHIRP_REQUIRE_DOCKER=1 to make that a failure)"
	exit 0
fi

start=$SECONDS
if [[ ${STANDIN_IMAGES:-} == 1 ]]; then
	images=$(deploy/engine/standins.sh)
	while IFS='=' read -r name value; do
		export "$name=$value"
	done <<<"$images"
	# Debian's nginx 1.22 has no `resolve` on upstream server lines.
	export CHIRP_BACKEND_RESOLVE=
	echo "test-compose: stand-in images ready in $((SECONDS - start)) s:" $images
fi
# The legacy builder: the one every engine has (dockerd 20.10 with no buildx plugin included).
export DOCKER_BUILDKIT="${DOCKER_BUILDKIT:-0}"
cd frontend
status=0
node --test --test-reporter=spec test/engine/compose.test.js || status=$?
echo "test-compose: $([[ $status == 0 ]] && echo passed || echo FAILED) in $((SECONDS - start)) s"
exit "$status"
