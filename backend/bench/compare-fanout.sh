#!/usr/bin/env bash
# Event fan-out beside the Node peer, in one run on this machine (these machines are shared and
# noisy: only ratios from one run mean anything). N socket clients on each server, K tweets
# POSTed one at a time; each round waits until every client has its newTweet. Runs alternate
# Chirp and the peer, each on a fresh database and process. Prints, per run, the latency from the
# POST to each client's receipt (p50/p99/max over all N×K) and the server's memory per
# connection, then the median ratios Chirp / node-peer (below 1: Chirp is faster or smaller).
#   backend/bench/compare-fanout.sh CHIRP_BINARY [N] [K] [REPS]     (defaults 5000 20 2)
# Needs PostgreSQL at DATABASE_URL (see lib.sh), Go, Node/npm, python3, curl. Run it alone on the
# machine.
set -euo pipefail
CHIRP=$(realpath "$1"); N=${2:-5000}; K=${3:-20}; REPS=${4:-2}
. "$(dirname "$0")/lib.sh"
node_peer
raise_fd_limit
fanout() { # label eio
  measure "$work/$1.jsonl" "$work/load" --mode fanout --eio "$2" --url "$url" --n "$N" --k "$K" \
     --trigger post --rate 20000 --dial-concurrency 100 --pid "$pid" --quiet --label "$1"
}
alternate "$REPS" fanout
python3 - "$work" <<'PY'
import json, statistics, sys
d = sys.argv[1]
med = {}
for name in ("chirp", "node-peer"):
    rows = [json.loads(l) for l in open(f"{d}/{name}.jsonl") if l.strip()]
    for x in rows:
        L = x["latency"]
        print(f"{name:9} delivered {x['delivered']}/{x['expected']}  p50 {L['p50_ms']:.1f}  p99 {L['p99_ms']:.1f}  max {L['max_ms']:.1f} ms"
              f"  RSS idle {x.get('server_rss_idle_kib', 0) / 1024:.0f} MiB, connected {x.get('server_rss_connected_kib', 0) / 1024:.0f} MiB,"
              f" {x.get('server_kib_per_conn', 0):.1f} KiB/conn, end {x.get('server_rss_end_kib', 0) / 1024:.0f} MiB")
    med[name] = (statistics.median(x["latency"]["p99_ms"] for x in rows),
                 statistics.median(x.get("server_kib_per_conn", 0) for x in rows))
print(f"p99 ratio chirp/node-peer: {med['chirp'][0] / max(med['node-peer'][0], 0.001):.2f}   "
      f"KiB/conn ratio: {med['chirp'][1] / max(med['node-peer'][1], 0.001):.2f}")
PY
