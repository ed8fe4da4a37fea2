#!/bin/sh
# Makes the nginx stand-in in the Debian root file system at $ROOT (standins.sh): the official
# image's layout and entrypoint on Debian's nginx 1.22 (which has no `resolve` on upstream server
# lines, 1.27.3+: the compose test sets CHIRP_BACKEND_RESOLVE empty for it).
set -eu
here="$(dirname "$0")"
# The official image has no default site, only conf.d, and logs to the container's output.
rm -f "$ROOT"/etc/nginx/sites-enabled/*
mkdir -p "$ROOT/docker-entrypoint.d" "$ROOT/etc/nginx/conf.d"
ln -sf /dev/stdout "$ROOT/var/log/nginx/access.log"
ln -sf /dev/stderr "$ROOT/var/log/nginx/error.log"
install -m 755 "$here/docker-entrypoint.sh" "$ROOT/docker-entrypoint.sh"
install -m 755 "$here/20-envsubst-on-templates.sh" "$ROOT/docker-entrypoint.d/20-envsubst-on-templates.sh"
