#!/usr/bin/env bash
# The API beside the Node peer with 10,000 tweets stored: 32 keep-alive connections, GET the
# newest page (limit 20) for 15 s, then POST for 15 s (the load tool's --mode api). Runs alternate
# Chirp and the peer (backend/bench/node-peer), each on a fresh database and process filled with
# the same 10,000 tweets through its own POST /api/tweets; prints req/s and latency per run and
# the median ratios.
#   backend/bench/compare-api.sh CHIRP_BINARY [REPS] [STORED] [DURATION]     (defaults 3 10000 15s)
# Needs PostgreSQL at DATABASE_URL (see lib.sh), Go, Node/npm, python3, curl. Run it alone on the
# machine.
set -euo pipefail
CHIRP=$(realpath "$1"); REPS=${2:-3}; STORED=${3:-10000}; DURATION=${4:-15s}
. "$(dirname "$0")/lib.sh"
node_peer
fill() { # port: STORED tweets, 16 connections, each POST checked
  python3 - "$1" "$STORED" <<'PY'
import http.client, json, sys, threading
port, total = int(sys.argv[1]), int(sys.argv[2])
lock, left = threading.Lock(), [total]
def worker():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while True:
        with lock:
            if left[0] == 0: return
            left[0] -= 1; i = left[0]
        c.request("POST", "/api/tweets", json.dumps({"author": "bench", "content": f"stored tweet {i}"}),
                  {"Content-Type": "application/json"})
        r = c.getresponse(); r.read()
        if r.status != 201: raise SystemExit(f"fill: POST answered {r.status}")
ts = [threading.Thread(target=worker) for _ in range(16)]
for t in ts: t.start()
for t in ts: t.join()
PY
}
api() { # label
  fill "${url##*:}"
  rm -f "$work/get.json" "$work/post.json"
  for op in get post; do
    measure "$work/$op.json" "$work/load" --mode api --op "$op" --concurrency 32 --warmup 2s --duration "$DURATION" \
      --url "$url" --pid "$pid" --quiet
  done
  printf '{"get":%s,"post":%s}\n' "$(cat "$work/get.json")" "$(cat "$work/post.json")" >>"$work/$1.jsonl"
}
alternate "$REPS" api
python3 - "$work" "$STORED" <<'PY'
import json, statistics, sys
d, stored = sys.argv[1], sys.argv[2]
med = {}
for name in ("chirp", "node-peer"):
    rows = [json.loads(l) for l in open(f"{d}/{name}.jsonl") if l.strip()]
    for x in rows:
        g, p = x["get"]["ops"]["get"], x["post"]["ops"]["post"]
        print(f"{name:9} {stored} stored | GET newest page {g['ok_req_per_s']:7.0f} req/s p99 {g['latency']['p99_ms']:6.1f} ms, "
              f"errors {g['errors']} | POST {p['ok_req_per_s']:7.0f} req/s p99 {p['latency']['p99_ms']:6.1f} ms, errors {p['errors']}")
    med[name] = {op: statistics.median(x[op]["ops"][op]["ok_req_per_s"] for x in rows) for op in ("get", "post")}
for op in ("get", "post"):
    print(f"{op.upper()} req/s chirp/node-peer (median of runs): {med['chirp'][op] / max(med['node-peer'][op], 0.001):.1f}x")
PY
