#!/usr/bin/env bash
# What the event bus costs one process: POST req/s and latency with EVENT_BUS=postgres and
# EVENT_BUS=local, alternating, each on a fresh database and process (the load tool's --mode api
# --op post, 32 keep-alive connections). Run it alone on the machine.
#   backend/bench/bus-cost.sh CHIRP_BINARY [REPS] [DURATION]     (defaults 3 10s)
# Needs PostgreSQL at DATABASE_URL (see lib.sh), Go, python3, curl.
set -euo pipefail
CHIRP=$(realpath "$1"); REPS=${2:-3}; DURATION=${3:-10s}
. "$(dirname "$0")/lib.sh"
for _ in $(seq "$REPS"); do
  for bus in local postgres; do
    serve "$bus" "$work" env EVENT_BUS="$bus" "$CHIRP"
    rm -f "$work/post.json"
    measure "$work/post.json" "$work/load" --mode api --op post --concurrency 32 --duration "$DURATION" --warmup 2s \
      --url "$url" --pid "$pid" --quiet
    python3 - "$bus" "$work/post.json" <<'PY'
import json, sys
x = json.loads(open(sys.argv[2]).read())["ops"]["post"]; L = x["latency"]
print(f"EVENT_BUS={sys.argv[1]:8}  {x['ok_req_per_s']:.0f} POST/s  p50 {L['p50_ms']:.2f}  p99 {L['p99_ms']:.2f} ms  errors {x['errors']}")
PY
    stop_server
  done
done
