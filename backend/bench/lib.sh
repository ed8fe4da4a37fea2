# Sourced by the benchmark scripts beside it, after `set -euo pipefail`: builds the load tool,
# installs the Node peer (node_peer), finds free ports, runs one server at a time on a fresh
# PostgreSQL database with Chirp's limits off (serve), and keeps each load run's JSON report
# (measure). Everything it makes lives in a scratch folder removed on exit.
#
#   DATABASE_URL  any database of the PostgreSQL server to measure on (default
#                 postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable): each server gets
#                 a database of its own on that server, dropped after its run.
#   LOAD_TOOL     a load tool already built (its path): used instead of building backend/bench/load.
here=$(cd "$(dirname "$0")" && pwd)
DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
case $DATABASE_URL in
  postgres://* | postgresql://*) ;;
  *) echo "DATABASE_URL must be a PostgreSQL URL (postgres://user@host:5432/db), not $DATABASE_URL" >&2; exit 2 ;;
esac
# The server part and the options of DATABASE_URL, to name the scratch databases on that server.
pg_scheme=${DATABASE_URL%%://*} pg_rest=${DATABASE_URL#*://} pg_query=''
case $pg_rest in *\?*) pg_query="?${pg_rest#*\?}" pg_rest=${pg_rest%%\?*} ;; esac
pg_server=${pg_rest%%/*}
psql "$DATABASE_URL" -Xqc 'select 1' >/dev/null || { echo "PostgreSQL does not answer at DATABASE_URL=$DATABASE_URL" >&2; exit 2; }
work=$(mktemp -d)
pid='' db=''
stop_server() { # stops the server serve started and drops its database
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=''; fi
  if [ -n "$db" ]; then psql "$DATABASE_URL" -Xqc "drop database if exists $db with (force)" >/dev/null; db=''; fi
}
trap 'stop_server; rm -rf "$work"' EXIT
if [ -n "${LOAD_TOOL:-}" ]; then cp "$LOAD_TOOL" "$work/load"
else
(cd "$here/load" && go build -o "$work/load" .)
fi
# node_peer installs backend/bench/node-peer into the scratch folder ($work/node-peer), exactly
# as its package-lock.json pins it: a copy, so that the checkout gets no node_modules and two
# runs at once do not install over each other.
node_peer() {
  mkdir "$work/node-peer"
  cp "$here"/node-peer/{package.json,package-lock.json,*.js} "$work/node-peer/"
  (cd "$work/node-peer" && npm ci --silent --no-audit --no-fund --prefer-offline)
}
# raise_fd_limit: thousands of sockets need more descriptors than the usual 1024, for the server
# (started from this shell) and the load tool alike.
raise_fd_limit() {
  local hard; hard=$(ulimit -Hn)
  if [ "$hard" = unlimited ] || [ "$hard" -ge 20000 ]; then ulimit -n 20000; else ulimit -n "$hard"; fi
}
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
# serve LABEL DIR CMD... starts CMD in DIR on a free port and a fresh database, waits until it
# answers /readyz (Chirp: the database and its event bus; the peer: the database), and sets pid
# and url. Its output goes to $work/LABEL.log; one that never gets ready stops the script.
serve() {
  local label=$1 dir=$2 p; shift 2
  db="bench_$$_$RANDOM"; p=$(port); url="http://127.0.0.1:$p"; server_log="$work/$label.log"
  psql "$DATABASE_URL" -Xqc "create database $db" >/dev/null
  (cd "$dir" && exec env PORT="$p" HOST=127.0.0.1 DATABASE_URL="$pg_scheme://$pg_server/$db$pg_query" \
     RATE_LIMIT_WRITES_PER_MINUTE=0 SIGNIN_LIMIT_PER_MINUTE=0 SIGNIN_ACCOUNT_LIMIT_PER_HOUR=0 SOCKET_MAX_PER_IP=0 SOCKET_MAX_TOTAL=0 CONN_MAX_PER_IP=0 CONN_MAX_TOTAL=0 LOG_LEVEL=warn "$@" >"$server_log" 2>&1) &
  pid=$!
  for _ in $(seq 300); do curl -fs "$url/readyz" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "$label ($*) was not ready at $url/readyz within 30 s; its log:" >&2
  tail -20 "$server_log" >&2
  exit 1
}
# measure FILE CMD... runs the load tool's CMD and appends its report (the last line it prints,
# one JSON object) to FILE. The tool exits 1 when something was not delivered and still reports:
# that report is kept, for the summary to show. A run that printed no report stops the script
# with the tool's and the server's last lines.
measure() {
  local file=$1 out; shift
  out=$(mktemp "$work/tool.XXXXXX")
  "$@" >"$out" 2>"$out.err" || true
  if [[ $(tail -1 "$out") != \{* ]]; then
    echo "the load tool printed no report: ${*#"$work/"}" >&2
    tail -5 "$out.err" >&2
    echo "the server's log:" >&2
    tail -10 "$server_log" >&2
    exit 1
  fi
  tail -1 "$out" >>"$file"
}
# alternate REPS FN: REPS times, Chirp ($CHIRP) and then the Node peer (after node_peer), each
# served fresh; FN LABEL EIO runs the load against $url (EIO: the Engine.IO version the server
# speaks, 3 for Chirp's socket.io 2 protocol, 4 for the peer's socket.io 4). Alternating spreads
# the machine's changing load over both.
alternate() {
  local fn=$2
  for _ in $(seq "$1"); do
    serve chirp "$work" "$CHIRP"; "$fn" chirp 3; stop_server
    serve node-peer "$work/node-peer" node server.js; "$fn" node-peer 4; stop_server
  done
}
