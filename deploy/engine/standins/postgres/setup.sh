#!/bin/sh
# Makes the postgres stand-in in the Debian root file system at $ROOT (standins.sh).
set -eu
here="$(dirname "$0")"
# The package's default cluster goes: the image makes its own in PGDATA on first start, and
# Debian's client wrappers (pg_isready, psql) would look for that one, on another port.
rm -rf "$ROOT/etc/postgresql/15" "$ROOT/var/lib/postgresql/15"
mkdir -p "$ROOT/var/lib/postgresql/data" "$ROOT/run/postgresql"
chroot "$ROOT" chown -R postgres:postgres /var/lib/postgresql /run/postgresql
install -m 755 "$here/docker-entrypoint.sh" "$ROOT/usr/local/bin/docker-entrypoint.sh"
