#!/bin/bash
# tests/load/run_load.sh [SECONDS [SESSIONS]] [--no-preload] [--identity]:
# concurrent sessions against an emulator that enforces Graph's real
# throttling limits (150 requests a minute per application on /security, 1
# a second per tenant on identity protection without Retry-After, 4 secure
# score requests at once).  Default: 60 s, 8 sessions (`make load`);
# run_all.sh runs a 10-second version of each workload.
#
# The library is in shared_preload_libraries, so the sessions share one
# throttle budget and queue for it.  pgbench runs the mixed workload of
# tests/load/q_*.sql, or with --identity only the joins and scans of the
# two identity protection tables (q_identity_*.sql and q_risk*.sql: `make
# load-identity`, 5 minutes, 4 sessions), which all share the one request
# a second of the tenant; meanwhile the backends' resident memory is
# sampled.
# Passes when the emulator sent no 429 (with the shared budget), no query
# failed, every session ran to the end, and no backend's memory grew by
# more than MAX_GROWTH_KB in the second half of the run.
# --no-preload runs the same without the shared budget (each backend
# paces only itself), for comparison: expect the emulator's 429s then.

source "$(dirname "$0")/../runner/lib.sh"
build_install

SECONDS_TO_RUN=60
SESSIONS=8
PRELOAD=yes
WORKLOAD=mixed
positional=()
for arg in "$@"; do
    case $arg in
        --no-preload) PRELOAD=no ;;
        --identity) WORKLOAD=identity ;;
        *) positional+=("$arg") ;;
    esac
done
[ ${#positional[@]} -ge 1 ] && SECONDS_TO_RUN=${positional[0]}
[ ${#positional[@]} -ge 2 ] && SESSIONS=${positional[1]}
PORT=${LOAD_PORT:-54393}
MAX_GROWTH_KB=${MAX_GROWTH_KB:-8192}
LATENCY_MS=${LOAD_LATENCY_MS:-40}      # Graph answers in tens of milliseconds at best

WORK=$(make_workdir load)
cleanup() { kill "${SAMPLER:-}" 2>/dev/null || true; stop_cluster; stop_emulator; }
trap cleanup EXIT

start_emulator "$WORK" --quiet --throttle --latency-ms "$LATENCY_MS"
extra=""
[ "$PRELOAD" = yes ] && extra="-c shared_preload_libraries=msgraph_security_fdw"
MSGRAPH_PACE_REQUESTS=on start_cluster "$WORK" "$PORT" $extra
BIN=$("$PG_CONFIG" --bindir)

psql_run -d postgres -v base="$EMU_URL" -v secret='emu-Secret.Admin~1' \
    -f "$TOP/tests/load/setup.sql" >/dev/null
if [ "$WORKLOAD" = identity ]; then
    # pages of 40 detections and 20 users: each scan pages (a page ahead of
    # its rows) on the budget the two tables share
    psql_run -d postgres -c "ALTER FOREIGN TABLE graph.risk_detections OPTIONS (ADD page_size '40')" \
        -c "ALTER FOREIGN TABLE graph.risky_users OPTIONS (ADD page_size '20')"
fi
# the set-up's requests do not count
curl -sS --noproxy '*' -X POST "$EMU_URL/_emulator/reset" >/dev/null
curl -sS --noproxy '*' -X POST "$EMU_URL/_emulator/config" -d '{"throttle": true}' >/dev/null

if [ "$WORKLOAD" = identity ]; then
    scripts=(
        -f "$TOP/tests/load/q_identity_hash_join.sql@3"
        -f "$TOP/tests/load/q_identity_filtered_join.sql@2"
        -f "$TOP/tests/load/q_identity_semi_join.sql@2"
        -f "$TOP/tests/load/q_risk_detections.sql@1"
        -f "$TOP/tests/load/q_risky_users.sql@1"
    )
else
    scripts=(
        -f "$TOP/tests/load/q_alert_by_id.sql@4"
        -f "$TOP/tests/load/q_alerts_recent.sql@2"
        -f "$TOP/tests/load/q_alerts_join.sql@1"
        -f "$TOP/tests/load/q_incidents.sql@2"
        -f "$TOP/tests/load/q_secure_scores.sql@3"
        -f "$TOP/tests/load/q_risk_detections.sql@1"
        -f "$TOP/tests/load/q_risky_users.sql@1"
        -f "$TOP/tests/load/q_identity_hash_join.sql@1"
    )
fi

# resident memory of the pgbench backends every 2 s: "elapsed pid kB"
sample() {
    local start=$SECONDS
    while true; do
        for pid in $(psql_run -d postgres -At -c \
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench'" 2>/dev/null); do
            kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
            [ -n "$kb" ] && echo "$((SECONDS - start)) $pid $kb"
        done
        sleep 2
    done
}
sample > "$WORK/rss.txt" &
SAMPLER=$!

rc=0
"$BIN/pgbench" -h "$PGHOST" -p "$PGPORT" -U postgres -n -c "$SESSIONS" -j "$SESSIONS" \
    -T "$SECONDS_TO_RUN" "${scripts[@]}" -r --failures-detailed postgres \
    > "$WORK/pgbench.out" 2> "$WORK/pgbench.err" || rc=$?
kill "$SAMPLER" 2>/dev/null || true
wait "$SAMPLER" 2>/dev/null || true
SAMPLER=

curl -sS --noproxy '*' "$EMU_URL/_emulator/requests" > "$WORK/requests.ndjson"
"$PY" - "$WORK" "$SECONDS_TO_RUN" "$SESSIONS" "$PRELOAD" "$rc" "$MAX_GROWTH_KB" "$WORKLOAD" <<'PY'
import collections, json, re, sys

work, seconds, sessions, preload, rc, max_growth, workload = sys.argv[1:]
seconds, sessions, rc, max_growth = int(seconds), int(sessions), int(rc), int(max_growth)
out = open(work + "/pgbench.out").read()
err = open(work + "/pgbench.err").read()

def grab(pattern, default=None):
    m = re.search(pattern, out)
    return int(m.group(1)) if m else default

done = grab(r"number of transactions actually processed: (\d+)", 0)
failed = grab(r"number of failed transactions: (\d+)", 0)
aborted = len(re.findall(r"client \d+ aborted", err))
errors = [line for line in err.splitlines() if "ERROR" in line]
server_errors = [line for line in open(work + "/postgres.log") if "ERROR:" in line]
errors += server_errors

reqs = [json.loads(line) for line in open(work + "/requests.ndjson")]
graph = [r for r in reqs if r["kind"] == "graph"]
tokens = [r for r in reqs if r["kind"] == "token"]
throttled = collections.Counter(r.get("throttled") for r in graph if r["status"] == 429)
def scope(r):
    p = r["path"]
    if "/identityProtection/" in p:
        return "identity"
    if "/secureScores" in p:
        return "secure scores"
    return "other /security"
per_scope = collections.Counter(scope(r) for r in graph)
span = (max(r["at"] for r in graph) - min(r["at"] for r in graph)) if graph else 0

# the busiest 60 s (security) and 1 s (identity) windows, by arrival
def busiest(times, window):
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best
security_times = [r["at"] for r in graph if scope(r) != "identity" and r["status"] != 429]
identity_times = [r["at"] for r in graph if scope(r) == "identity" and r["status"] != 429]
# the closest two identity protection requests came, by arrival
identity_all = sorted(r["at"] for r in graph if scope(r) == "identity")
identity_gaps = [b - a for a, b in zip(identity_all, identity_all[1:])]

# memory: per backend, the first sample after the warm-up (a sixth of the
# run, at least 4 s), the first after half of the run, and the last one;
# the second half must not grow by more than MAX_GROWTH_KB
warm = max(4, seconds // 6)
first, mid, last = {}, {}, {}
for line in open(work + "/rss.txt"):
    t, pid, kb = map(int, line.split())
    if t >= warm and pid not in first:
        first[pid] = kb
    if t >= seconds // 2 and pid not in mid:
        mid[pid] = kb
    last[pid] = kb
growth = {pid: last[pid] - mid[pid] for pid in mid}
early = {pid: mid[pid] - first[pid] for pid in mid if pid in first}

print("load: %s workload, %d sessions for %d s, shared budget: %s"
      % (workload, sessions, seconds, preload))
print("  queries: %d done, %d failed, %d sessions aborted, pgbench exit %d"
      % (done, failed, aborted, rc))
print("  Graph requests: %d (%s), token requests: %d, over %.1f s"
      % (len(graph), ", ".join("%s %d" % kv for kv in sorted(per_scope.items())),
         len(tokens), span))
print("  busiest windows: %d /security requests in 60 s (limit 150), %d identity"
      " requests in 1 s (limit 1)" % (busiest(security_times, 60.0), busiest(identity_times, 1.0)))
if identity_gaps:
    print("  identity requests: %d, closest two %.3f s apart, %d closer than 1 s"
          % (len(identity_all), min(identity_gaps), sum(1 for g in identity_gaps if g < 1.0)))
print("  429s sent by the emulator: %d %s; 429s surfaced to SQL: %d"
      % (sum(throttled.values()), dict(throttled),
         sum(1 for e in server_errors if "429" in e or "53400" in e)))
if growth:
    print("  backend RSS (kB) at %d s: %s" % (warm, sorted(first.values())))
    print("  backend RSS (kB) at %d s: %s" % (seconds // 2, sorted(mid.values())))
    print("  backend RSS (kB) at the end: %s" % sorted(last[p] for p in mid))
    print("  growth in the first half: max %d kB, mean %.0f kB; in the second half: "
          "max %d kB, mean %.0f kB (limit %d kB)"
          % (max(early.values()), sum(early.values()) / len(early), max(growth.values()),
             sum(growth.values()) / len(growth), max_growth))
for e in errors[:5]:
    print("  error: " + e)
# with the shared budget Graph never has to refuse a request
ok = (rc == 0 and failed == 0 and aborted == 0 and not errors and done > 0
      and (preload == "no" or not throttled)
      and len(growth) == sessions and max(growth.values()) <= max_growth)
print("load test %s" % ("passed" if ok else "FAILED"))
sys.exit(0 if ok else 1)
PY
