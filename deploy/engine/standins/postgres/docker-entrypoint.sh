#!/bin/sh
# The official postgres image's entrypoint contract, as far as Chirp uses it
# (https://hub.docker.com/_/postgres, "Environment Variables"):
#   - POSTGRES_PASSWORD is required; POSTGRES_USER (default postgres) is the superuser it is
#     set for; POSTGRES_DB (default POSTGRES_USER) is created;
#   - only on the first start, when PGDATA holds no cluster: a second start on the same
#     volume keeps what is there;
#   - a UTF8 cluster, listening on every address, password (scram-sha-256) auth from the
#     network, trust over the local socket;
#   - the server runs as the postgres user, and the container stops with it; SIGTERM stops it
#     fast (the official image's STOPSIGNAL is SIGINT, which `docker import` cannot set: here the
#     entrypoint turns SIGTERM into SIGINT, rather than PostgreSQL's smart shutdown, which would
#     wait for every client to leave).
set -eu

if [ "${1:-}" != postgres ]; then
	exec "$@"
fi

if [ "$(id -u)" = 0 ]; then
	mkdir -p "$PGDATA" /run/postgresql
	chown postgres:postgres "$PGDATA" /run/postgresql
	chmod 700 "$PGDATA"
	exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

POSTGRES_USER="${POSTGRES_USER:-postgres}"
POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	if [ -z "${POSTGRES_PASSWORD:-}" ]; then
		echo "docker-entrypoint.sh: the database is uninitialized and POSTGRES_PASSWORD is not set" >&2
		exit 1
	fi
	pwfile="$(mktemp)"
	printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
	initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --encoding=UTF8 --locale=C.UTF-8 \
		--auth-local=trust --auth-host=scram-sha-256 -D "$PGDATA"
	rm -f "$pwfile"
	printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
	printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"

	# Create the database on a server that listens on a socket of its own only, so that neither
	# the network nor the healthcheck (pg_isready on the usual socket) sees it half made.
	pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -k /tmp" -w start
	if [ "$POSTGRES_DB" != postgres ]; then
		# On stdin: psql substitutes :"db" (quoted as an identifier) there, never in -c.
		echo 'CREATE DATABASE :"db";' | psql -v ON_ERROR_STOP=1 -h /tmp --username="$POSTGRES_USER" \
			--dbname=postgres -v db="$POSTGRES_DB"
	fi
	pg_ctl -D "$PGDATA" -m fast -w stop
	echo "docker-entrypoint.sh: PostgreSQL init process complete; ready for start up."
fi

postgres -D "$PGDATA" &
pid=$!
trap 'kill -INT "$pid"' TERM INT
status=0
wait "$pid" || status=$?
# A trapped signal ends the first wait early: wait again for the server's own exit.
while kill -0 "$pid" 2>/dev/null; do wait "$pid" || status=$?; done
exit "$status"
