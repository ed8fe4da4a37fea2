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
CHIRP=$(realpath "$1"); N=${2:-2000}; K=${3:-10}; REPS=${4:-3}
. "$(dirname "$0")/lib.sh"
ulimit -n 20000
run() { # label eio dir cmd...
  local label=$1 eio=$2 dir=$3; shift 3
  serve "$label" "$dir" "$@"
  "$work/sioload" --mode fanout --fetch --eio "$eio" --url "$url" --n "$N" --k "$K" --trigger post \
     --rate 20000 --dial-concurrency 100 --pid "$pid" --quiet --label "$label" 2>/dev/null | tail -1 >>"$work/$label.jsonl" || true
  stop_server
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
