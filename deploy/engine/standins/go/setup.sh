#!/bin/sh
# Makes the Go build stand-in in the Debian root file system at $ROOT (standins.sh): the Go
# toolchain that builds the backend on this machine, and this machine's CA bundle, so that the
# Dockerfile's `go mod download` trusts a TLS proxy that this machine trusts, as a build on the
# real image would on a machine that reaches the proxy directly. Modules come from the Go module
# proxy through the build's own network.
set -eu
cp -a "$(go env GOROOT)" "$ROOT/usr/local/go"
mkdir -p "$ROOT/etc/ssl/certs" "$ROOT/go/src" "$ROOT/go/bin"
cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"
