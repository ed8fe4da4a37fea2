#!/bin/sh
# Makes the runtime stand-in in an empty $ROOT (standins.sh): distroless/static's nonroot
# variant as far as the backend image relies on it: no shell, a nonroot user and group 65532
# with a home, a /tmp anyone may write, CA certificates.
set -eu
here="$(dirname "$0")"
mkdir -p "$ROOT/etc/ssl/certs" "$ROOT/home/nonroot" "$ROOT/tmp"
cp "$here/passwd" "$here/group" "$ROOT/etc/"
cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/"
chown 65532:65532 "$ROOT/home/nonroot"
chmod 700 "$ROOT/home/nonroot"
chmod 1777 "$ROOT/tmp"
