#!/usr/bin/env bash
# The write storm, Chirp alone: 32 connections POST as fast as they can for 10 s with no sockets,
# then for 15 s while N passive listeners hold websockets (the load tool's --mode listen). Prints
# POST/s and p99 for both, how many listeners the server dropped, and how many newTweet each heard.
# compare-storm.sh measures the same beside the Node peer.
#   backend/bench/write-storm.sh CHIRP_BINARY [N]     (default 1000)
# Needs PostgreSQL at DATABASE_URL (see lib.sh), Go, python3, curl. Run it alone on the machine.
set -euo pipefail
CHIRP=$(realpath "$1"); N=${2:-1000}
. "$(dirname "$0")/lib.sh"
raise_fd_limit
serve chirp "$work" "$CHIRP"
posts() { # FILE DURATION: 32 connections POST for DURATION
  measure "$1" "$work/load" --mode api --op post --concurrency 32 --duration "$2" --url "$url" --quiet
}
summary='import json, sys; x = json.loads(open(sys.argv[2]).read())["ops"]["post"]; print("%s: %.0f POST/s, p99 %.1f ms, errors %d" % (sys.argv[1], x["ok_req_per_s"], x["latency"]["p99_ms"], x["errors"]))'
posts "$work/alone.json" 10s
python3 -c "$summary" "no sockets" "$work/alone.json"
measure "$work/listen.json" "$work/load" --mode listen --eio 3 --url "$url" --n "$N" --duration 25s --rate 5000 --pid "$pid" --quiet &
listen=$!
sleep 6 # the listeners connect
posts "$work/storm.json" 15s
python3 -c "$summary" "with $N listeners" "$work/storm.json"
wait "$listen"
python3 - "$work/listen.json" <<'PY'
import json, sys
x = json.loads(open(sys.argv[1]).read())
c, r = x.get("client_newtweet_events", {}), x.get("client_newtweet_active_per_s", {})
print(f"listeners dropped by the server: {x.get('disconnected_by_server')}; newTweet per listener min/p50/max "
      f"{c.get('min')}/{c.get('p50')}/{c.get('max')} ({r.get('p50')}/s while the storm lasted); server RSS max {x.get('server_rss_max_kib', 0) / 1024:.0f} MiB")
PY
