#!/usr/bin/env bash
# The write storm: 32 connections POST as fast as they can for 15 s while N passive listeners
# hold websockets (sioload --mode listen), beside the same POST load with no sockets. Prints POST/s
# and p99 for both, how many listeners the server dropped, and how many newTweet each heard.
#   backend/bench/write-storm.sh CHIRP_BINARY [N]
# Needs ../shared/bench beside the checkout and PostgreSQL at $PGBASE. Run it alone on the machine.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shared=${SHARED_BENCH:-$(cd "$here/../../../shared/bench" && pwd)}
CHIRP=$(realpath "$1"); N=${2:-1000}
PGBASE=${PGBASE:-postgres://postgres@127.0.0.1:5432}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
(cd "$shared/sioload" && go build -o "$work/sioload" .)
ulimit -n 20000
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
db="storm_$$_$RANDOM"; p=$(port)
psql "$PGBASE/postgres" -qc "create database $db" >/dev/null
env HOST=127.0.0.1 PORT="$p" DATABASE_URL="$PGBASE/$db?sslmode=disable" RATE_LIMIT_WRITES_PER_MINUTE=0 \
  SOCKET_MAX_PER_IP=0 SOCKET_MAX_TOTAL=0 CONN_MAX_PER_IP=0 CONN_MAX_TOTAL=0 LOG_LEVEL=warn "$CHIRP" 2>"$work/chirp.log" &
pid=$!
cleanup() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; psql "$PGBASE/postgres" -qc "drop database if exists $db with (force)" >/dev/null; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$p/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
posts() { "$work/sioload" --mode api --op post --concurrency 32 --duration "$1" --url "http://127.0.0.1:$p" --quiet 2>/dev/null | tail -1; }
summary='import json, sys; x = json.loads(sys.stdin.read())["ops"]["post"]; print("%s: %.0f POST/s, p99 %.1f ms, errors %d" % (sys.argv[1], x["ok_req_per_s"], x["latency"]["p99_ms"], x["errors"]))'
posts 10s | python3 -c "$summary" "no sockets"
"$work/sioload" --mode listen --eio 3 --url "http://127.0.0.1:$p" --n "$N" --duration 25s --rate 5000 --pid "$pid" --quiet >"$work/listen.json" 2>/dev/null &
listen=$!
sleep 6 # the listeners connect
posts 15s | python3 -c "$summary" "with $N listeners"
wait "$listen" || true
python3 - "$work/listen.json" <<'PY'
import json, sys
x = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
c, r = x.get("client_newtweet_events", {}), x.get("client_newtweet_active_per_s", {})
print(f"listeners dropped by the server: {x.get('disconnected_by_server')}; newTweet per listener min/p50/max "
      f"{c.get('min')}/{c.get('p50')}/{c.get('max')} ({r.get('p50')}/s while the storm lasted); server RSS max {x.get('server_rss_max_kib', 0) / 1024:.0f} MiB")
PY
