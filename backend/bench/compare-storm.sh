#!/usr/bin/env bash
# The write storm beside the Node peer: on each server, 32 connections POST as fast as they can
# for 10 s with no sockets, then for 15 s while N passive listeners (the load tool's --mode listen)
# hold websockets. Prints POST/s and p99 both ways, how many listeners the server dropped and how
# many newTweet each heard, and the median ratios. Runs alternate Chirp and the Node peer
# (backend/bench/node-peer), each on a fresh database and process; run it alone on the machine.
#   backend/bench/compare-storm.sh CHIRP_BINARY [N] [REPS]     (defaults 1000 3)
# Needs PostgreSQL at DATABASE_URL (see lib.sh), Go, Node/npm, python3, curl.
set -euo pipefail
CHIRP=$(realpath "$1"); N=${2:-1000}; REPS=${3:-3}
. "$(dirname "$0")/lib.sh"
node_peer
raise_fd_limit
storm() { # label eio
  rm -f "$work"/{alone,listen,storm}.json
  measure "$work/alone.json" "$work/load" --mode api --op post --concurrency 32 --duration 10s --url "$url" --quiet
  measure "$work/listen.json" "$work/load" --mode listen --eio "$2" --url "$url" --n "$N" --duration 25s --rate 5000 \
     --pid "$pid" --quiet &
  local listen=$!
  sleep 6 # the listeners connect
  measure "$work/storm.json" "$work/load" --mode api --op post --concurrency 32 --duration 15s --url "$url" --quiet
  wait "$listen"
  python3 - "$work" >>"$work/$1.jsonl" <<'PY'
import json, sys
d = sys.argv[1]
def last(n): return json.loads(open(f"{d}/{n}.json").read().strip().splitlines()[-1])
print(json.dumps({"alone": last("alone")["ops"]["post"], "storm": last("storm")["ops"]["post"], "listen": last("listen")}))
PY
}
alternate "$REPS" storm
python3 - "$work" "$N" <<'PY'
import json, statistics, sys
d, n = sys.argv[1], sys.argv[2]
med = {}
for name in ("chirp", "node-peer"):
    rows = [json.loads(l) for l in open(f"{d}/{name}.jsonl") if l.strip()]
    for x in rows:
        a, s, l = x["alone"], x["storm"], x["listen"]
        c = l.get("client_newtweet_events", {})
        print(f"{name:9} alone {a['ok_req_per_s']:7.0f} POST/s p99 {a['latency']['p99_ms']:7.1f} ms | with {n} listeners "
              f"{s['ok_req_per_s']:7.0f} POST/s p99 {s['latency']['p99_ms']:7.1f} ms, errors {s['errors']} | "
              f"connected {l.get('connected')}, dropped {l.get('disconnected_by_server')}, newTweet per listener "
              f"min/p50/max {c.get('min')}/{c.get('p50')}/{c.get('max')}, server RSS max {l.get('server_rss_max_kib', 0) / 1024:.0f} MiB | "
              f"CPU s while listening: server {l.get('server_cpu_listen_s', 0):.1f}, the listeners' whole run {l.get('tool_cpu_s', 0):.1f}")
    med[name] = {
        "storm": statistics.median(x["storm"]["ok_req_per_s"] for x in rows),
        "p99x": statistics.median(x["storm"]["latency"]["p99_ms"] / max(x["alone"]["latency"]["p99_ms"], 0.001) for x in rows),
    }
print(f"POST/s under the storm, chirp/node-peer (median of runs): {med['chirp']['storm'] / max(med['node-peer']['storm'], 0.001):.1f}x")
print(f"POST p99 under the storm / alone (median): chirp {med['chirp']['p99x']:.2f}x, node-peer {med['node-peer']['p99x']:.2f}x")
PY
