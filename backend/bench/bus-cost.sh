#!/usr/bin/env bash
# What the event bus costs one process: POST req/s and latency with EVENT_BUS=postgres and
# EVENT_BUS=local, alternating, each on a fresh database and process (sioload --mode api --op post,
# 32 keep-alive connections). Run it alone on the machine.
#   backend/bench/bus-cost.sh CHIRP_BINARY [REPS] [DURATION]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shared=${SHARED_BENCH:-$(cd "$here/../../../shared/bench" && pwd)}
CHIRP=$(realpath "$1"); REPS=${2:-3}; DURATION=${3:-10s}
PGBASE=${PGBASE:-postgres://postgres@127.0.0.1:5432}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
(cd "$shared/sioload" && go build -o "$work/sioload" .)
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
for _ in $(seq "$REPS"); do
  for bus in local postgres; do
    db="buscost_$$_$RANDOM"; p=$(port)
    psql "$PGBASE/postgres" -qc "create database $db" >/dev/null
    env HOST=127.0.0.1 PORT="$p" DATABASE_URL="$PGBASE/$db?sslmode=disable" EVENT_BUS="$bus" \
      RATE_LIMIT_WRITES_PER_MINUTE=0 LOG_LEVEL=warn "$CHIRP" 2>"$work/$bus.log" &
    pid=$!
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:$p/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
    "$work/sioload" --mode api --op post --concurrency 32 --duration "$DURATION" --warmup 2s \
      --url "http://127.0.0.1:$p" --pid "$pid" --quiet 2>/dev/null | tail -1 | python3 -c "
import json, sys
x = json.loads(sys.stdin.read())['ops']['post']; L = x['latency']
print(f\"EVENT_BUS=$bus  {x['ok_req_per_s']:.0f} POST/s  p50 {L['p50_ms']:.2f}  p99 {L['p99_ms']:.2f} ms  errors {x['errors']}\")"
    kill "$pid"; wait "$pid" 2>/dev/null || true
    psql "$PGBASE/postgres" -qc "drop database if exists $db with (force)" >/dev/null
  done
done
