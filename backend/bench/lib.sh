# Sourced by the comparison scripts beside it, after `set -euo pipefail`: the load tool and the
# Node peer from ../shared/bench, free ports, and one server at a time on a fresh PostgreSQL
# database ($PGBASE) with Chirp's limits off. Cleans up on exit.
here=$(cd "$(dirname "$0")" && pwd)
shared=${SHARED_BENCH:-$(cd "$here/../../../shared/bench" && pwd)}
PGBASE=${PGBASE:-postgres://postgres@127.0.0.1:5432}
work=$(mktemp -d)
pid='' db=''
stop_server() { # stops the server serve started and drops its database
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=''; fi
  if [ -n "$db" ]; then psql "$PGBASE/postgres" -qc "drop database if exists $db with (force)" >/dev/null; db=''; fi
}
trap 'stop_server; rm -rf "$work"' EXIT
(cd "$here/load" && go build -o "$work/sioload" .)
cp -r "$shared/node-ref" "$work/node-ref" && (cd "$work/node-ref" && npm ci --silent --no-audit --no-fund)
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
# serve LABEL DIR CMD... starts CMD in DIR on a free port and a fresh database, waits until it
# answers /healthz, and sets pid and url. Its output goes to $work/LABEL.log.
serve() {
  local label=$1 dir=$2 p; shift 2
  db="bench_$$_$RANDOM"; p=$(port); url="http://127.0.0.1:$p"
  psql "$PGBASE/postgres" -qc "create database $db" >/dev/null
  (cd "$dir" && exec env PORT="$p" HOST=127.0.0.1 DATABASE_URL="$PGBASE/$db?sslmode=disable" \
     RATE_LIMIT_WRITES_PER_MINUTE=0 SOCKET_MAX_PER_IP=0 SOCKET_MAX_TOTAL=0 CONN_MAX_PER_IP=0 CONN_MAX_TOTAL=0 LOG_LEVEL=warn "$@" >"$work/$label.log" 2>&1) &
  pid=$!
  for _ in $(seq 100); do curl -fs "$url/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
}
