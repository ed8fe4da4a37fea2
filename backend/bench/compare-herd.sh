#!/usr/bin/env bash
# The herd beside the Node peer, in one run on this machine: N socket clients on each server,
# K tweets POSTed; on every newTweet each client asks GET /api/tweets?since_id=… on its own
# keep-alive connection, as the page does (sioload --fanout --fetch). Prints, per run, the
# event latency and the time until every client has the tweet, and the median p99 ratio.
#   backend/bench/compare-herd.sh CHIRP_BINARY [N] [K] [REPS]
# Needs ../shared/bench beside the checkout (node-ref, sioload), PostgreSQL at $PGBASE (default
# postgres://postgres@127.0.0.1:5432), Go, Node/npm. Runs alternate Chirp and node-ref, each on a
# fresh database and process; run it alone on the machine (only same-run ratios mean anything).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shared=${SHARED_BENCH:-$(cd "$here/../../../shared/bench" && pwd)}
CHIRP=$(realpath "$1"); N=${2:-2000}; K=${3:-10}; REPS=${4:-3}
PGBASE=${PGBASE:-postgres://postgres@127.0.0.1:5432}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
(cd "$shared/sioload" && go build -o "$work/sioload" .)
cp -r "$shared/node-ref" "$work/node-ref" && (cd "$work/node-ref" && npm ci --silent --no-audit --no-fund)
ulimit -n 20000
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
run() { # label eio dir cmd...
  local label=$1 eio=$2 dir=$3; shift 3
  local db="herd_$$_$RANDOM" p; p=$(port)
  psql "$PGBASE/postgres" -qc "create database $db" >/dev/null
  (cd "$dir" && exec env PORT=$p HOST=127.0.0.1 DATABASE_URL="$PGBASE/$db?sslmode=disable" \
     RATE_LIMIT_WRITES_PER_MINUTE=0 SOCKET_MAX_PER_IP=0 SOCKET_MAX_TOTAL=0 LOG_LEVEL=warn "$@" >"$work/$label.log" 2>&1) &
  local pid=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$p/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  "$work/sioload" --mode fanout --fetch --eio "$eio" --url "http://127.0.0.1:$p" --n "$N" --k "$K" --trigger post \
     --rate 20000 --dial-concurrency 100 --pid "$pid" --quiet --label "$label" 2>/dev/null | tail -1 >>"$work/$label.jsonl" || true
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  psql "$PGBASE/postgres" -qc "drop database if exists $db with (force)" >/dev/null
}
for _ in $(seq "$REPS"); do
  run chirp 3 "$work" "$CHIRP"
  run node-ref 4 "$work/node-ref" node server.js
done
python3 - "$work" <<'PY'
import json, statistics, sys
d = sys.argv[1]
def rows(n): return [json.loads(l) for l in open(f"{d}/{n}.jsonl") if l.strip()]
med = {}
for n in ("chirp", "node-ref"):
    r = rows(n)
    for x in r:
        L, F = x["latency"], x.get("fetch_latency", {})
        print(f"{n:9} events {x['delivered']}/{x['expected']} p99 {L['p99_ms']:.1f} ms | has the tweet "
              f"{x.get('fetch_delivered')}/{x.get('fetch_expected')} p50 {F.get('p50_ms', 0):.1f} p99 {F.get('p99_ms', 0):.1f}"
              f" max {F.get('max_ms', 0):.1f} ms, errors {x.get('fetch_errors', 0)}")
    med[n] = statistics.median(x.get("fetch_latency", {}).get("p99_ms", 0) for x in r)
print(f"herd p99 ratio chirp/node-ref (median of runs): {med['chirp'] / max(med['node-ref'], 0.001):.2f}")
PY
