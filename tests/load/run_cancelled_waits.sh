#!/bin/bash
# tests/load/run_cancelled_waits.sh [WAITS [SESSIONS]]: one role must not be
# able to stall the throttle budget another role shares with it.
#
# The identity protection budget is shared by every application and role of
# a tenant (Graph counts it per tenant), and with the library in
# shared_preload_libraries by every backend.  A role with a bogus
# access_token runs queries on it from SESSIONS backends (default 10), and
# each run still waiting for its turn is cancelled, until WAITS (default
# 300) were.  Then a valid role's query, in a backend of its own, must wait
# for its turn no longer than the budget's rate requires: one interval of
# 1.2 s after the last request that was sent (MAX_WAIT_MS, default 1500,
# leaves 300 ms for a busy machine).  Were the cancelled waits' turns kept,
# it would wait WAITS x 1.2 s (six minutes for 300).
# The emulator enforces Graph's limits: no request may get a 429 either.

source "$(dirname "$0")/../runner/lib.sh"
build_install

WAITS=${1:-300}
SESSIONS=${2:-10}
PORT=${CANCELLED_WAITS_PORT:-54394}
MAX_WAIT_MS=${MAX_WAIT_MS:-1500}

WORK=$(make_workdir cancelled_waits)
cleanup() { stop_cluster; stop_emulator; }
trap cleanup EXIT

start_emulator "$WORK" --quiet --throttle
MSGRAPH_PACE_REQUESTS=on start_cluster "$WORK" "$PORT" \
    -c shared_preload_libraries=msgraph_security_fdw -c max_connections=$((SESSIONS + 10))

rc=0
psql_run -d postgres -v base="$EMU_URL" -v secret='emu-Secret.Admin~1' \
    -v waits="$((WAITS + SESSIONS))" -v sessions="$SESSIONS" \
    -f "$TOP/tests/load/cancelled_waits.sql" > "$WORK/out.txt" 2> "$WORK/err.txt" || rc=$?
curl -sS --noproxy '*' "$EMU_URL/_emulator/requests" > "$WORK/requests.ndjson"
cat "$WORK/out.txt"
if [ $rc -ne 0 ]; then
    cat "$WORK/err.txt"
    echo "cancelled waits test FAILED (psql exit $rc)"
    exit 1
fi

"$PY" - "$WORK" "$WAITS" "$MAX_WAIT_MS" <<'PY'
import json, re, sys

work, waits, max_wait = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = open(work + "/out.txt").read()
cancelled = int(re.search(r"other role: (\d+) runs cancelled", out).group(1))
sent = int(re.search(r"(\d+) seen sent", out).group(1))
waited = int(re.search(r"waited (\d+) ms", out).group(1))
reqs = [json.loads(line) for line in open(work + "/requests.ndjson")]
graph = [r for r in reqs if r["kind"] == "graph"]
refused = sum(1 for r in graph if r["status"] == 429)
# the other role's runs that reached Graph (all but the last request) but
# were cancelled while on the wire are no cancelled waits
reached = len(graph) - 1
waits_cancelled = cancelled - (reached - sent)
print("  cancelled waits: %d (of %d runs cancelled, %d reached Graph)"
      % (waits_cancelled, cancelled, reached))
# the valid role's request is the last one; the one before, the last the
# other role sent
gap = graph[-1]["at"] - graph[-2]["at"] if len(graph) >= 2 else None
print("  Graph requests: %d (%d refused with 401, %d with 429); the valid role's came %s s"
      " after the one before"
      % (len(graph), sum(1 for r in graph if r["status"] == 401), refused,
         "%.3f" % gap if gap is not None else "-"))
ok = (waits_cancelled >= waits and waited <= max_wait and refused == 0
      and graph and graph[-1]["status"] == 200)
print("cancelled waits test %s (the valid role waited %d ms, at most %d allowed)"
      % ("passed" if ok else "FAILED", waited, max_wait))
sys.exit(0 if ok else 1)
PY
