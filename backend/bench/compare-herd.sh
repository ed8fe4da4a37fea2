#!/usr/bin/env bash
# The herd beside the Node peer, in one run on this machine: N socket clients on each server,
# K tweets POSTed; on every newTweet each client asks GET /api/tweets?since_id=… on its own
# keep-alive connection, as the page does (the load tool's --mode fanout --fetch). Prints, per
# run, the event latency and the time until every client has the tweet, and the median p99 ratio.
#   backend/bench/compare-herd.sh CHIRP_BINARY [N] [K] [REPS]     (defaults 2000 10 3)
# Needs PostgreSQL at DATABASE_URL (see lib.sh), Go, Node/npm, python3, curl. Runs alternate Chirp
# and the Node peer (backend/bench/node-peer), each on a fresh database and process; run it alone
# on the machine (only same-run ratios mean anything).
set -euo pipefail
CHIRP=$(realpath "$1"); N=${2:-2000}; K=${3:-10}; REPS=${4:-3}
. "$(dirname "$0")/lib.sh"
node_peer
raise_fd_limit
herd() { # label eio
  measure "$work/$1.jsonl" "$work/load" --mode fanout --fetch --eio "$2" --url "$url" --n "$N" --k "$K" \
     --trigger post --rate 20000 --dial-concurrency 100 --pid "$pid" --quiet --label "$1"
}
alternate "$REPS" herd
python3 - "$work" <<'PY'
import json, statistics, sys
d = sys.argv[1]
def rows(n): return [json.loads(l) for l in open(f"{d}/{n}.jsonl") if l.strip()]
med = {}
for n in ("chirp", "node-peer"):
    r = rows(n)
    for x in r:
        L, F = x["latency"], x.get("fetch_latency", {})
        print(f"{n:9} events {x['delivered']}/{x['expected']} p99 {L['p99_ms']:.1f} ms | has the tweet "
              f"{x.get('fetch_delivered')}/{x.get('fetch_expected')} p50 {F.get('p50_ms', 0):.1f} p99 {F.get('p99_ms', 0):.1f}"
              f" max {F.get('max_ms', 0):.1f} ms, errors {x.get('fetch_errors', 0)}")
    med[n] = statistics.median(x.get("fetch_latency", {}).get("p99_ms", 0) for x in r)
print(f"herd p99 ratio chirp/node-peer (median of runs): {med['chirp'] / max(med['node-peer'], 0.001):.2f}")
PY
