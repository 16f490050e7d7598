#!/bin/bash
# tests/bench/budget.sh [ALERTS [STREAMS]]: a latency-bound windowed scan
# inside Graph's /security budget.
#
# The emulator answers every page after 1 s and enforces the real limit
# (150 requests a minute per application and tenant, a sliding window);
# the extension paces its requests (msgraph_security_fdw.pace_requests =
# on).  One full scan of ALERTS alerts (default 20,000: 200 pages of 100)
# with STREAMS time windows (default 4) must end with every row and no
# 429 reaching SQL.  Figures, from the emulator's request log:
#   the request rate (requests after the first / time between the first
#   and the last arrival) as a share of the budget's 150 a minute,
#   the most requests that arrived in any 60 s, and the 429s Graph sent.
# Without pacing, four streams at 1 s a page would send 240 a minute.

source "$(dirname "$0")/../runner/lib.sh"
ALERTS=${1:-20000}
STREAMS=${2:-4}
PORT=${BENCH_PORT:-54396}

build_install
WORK=$(make_workdir bench_budget)
cleanup() { stop_cluster; stop_emulator; }
trap cleanup EXIT

start_emulator "$WORK" --quiet --throttle --latency-ms 1000 --alerts "$ALERTS" --incidents 10 \
    --now "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
MSGRAPH_PACE_REQUESTS=on start_cluster "$WORK" "$PORT"
sql() { psql_run -d postgres -At -F ' ' -v base="$EMU_URL" "$@"; }
emu() { curl -sS --noproxy '*' -X "$1" "$EMU_URL/_emulator/$2" \
            ${3:+-H 'Content-Type: application/json' --data-binary "$3"}; }

sql -v streams="$STREAMS" <<'SQL' >/dev/null
CREATE EXTENSION msgraph_security_fdw;
CREATE SERVER budget FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (tenant_id '11111111-2222-3333-4444-555555555555',
           graph_url :'base', login_url :'base', page_size '100', streams :'streams');
CREATE USER MAPPING FOR CURRENT_USER SERVER budget
  OPTIONS (client_id 'aaaaaaaa-bbbb-4ccc-8ddd-000000000001', client_secret 'emu-Secret.Admin~1');
CREATE FOREIGN TABLE budget_alerts (id text, title text, created_date_time timestamptz)
  SERVER budget OPTIONS (resource 'security/alerts_v2');
SQL
emu POST reset >/dev/null

echo "== $STREAMS streams, $ALERTS alerts in pages of 100, 1 s a page, the /security budget enforced"
t0=$(date +%s.%N)
rows=$(sql -c "SELECT count(id) FROM budget_alerts")
t1=$(date +%s.%N)
emu GET requests | "$PY" -c '
import json, sys
alerts, rows, elapsed = int(sys.argv[1]), int(sys.argv[2] or 0), float(sys.argv[3])
log = [json.loads(l) for l in sys.stdin if l.strip()]
g = sorted((r for r in log if r["kind"] == "graph"), key=lambda r: r["at"])
at = [r["at"] for r in g]
throttled = sum(r["status"] == 429 for r in g)
span = at[-1] - at[0]
rate = (len(at) - 1) / span * 60 if span > 0 else 0.0
j, most = 0, 0
for i in range(len(at)):
    while at[i] - at[j] >= 60.0:
        j += 1
    most = max(most, i - j + 1)
print("rows %d of %d in %.1f s; %d requests in %.1f s" % (rows, alerts, elapsed, len(at), span))
print("request rate %.1f a minute = %.2f of the budget (150 a minute); most in any 60 s: %d; 429s: %d"
      % (rate, rate / 150, most, throttled))
ok = rows == alerts and throttled == 0 and most <= 150
print("budget %s" % ("ok" if ok else "EXCEEDED or rows missing"))
sys.exit(0 if ok else 1)
' "$ALERTS" "$rows" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
