#!/bin/bash
# tests/checks/memcheck.sh [SMALL [LARGE]]: the scan's memory is bounded by a page.
#
# Scans SMALL and then LARGE alerts (default 2,000 and 200,000), every
# column converted and output, each in a fresh backend, and compares the
# backends' peak resident memory (VmHWM from /proc/self/status).  Fails if
# the large scan peaks above 1.5 times the small one.

source "$(dirname "$0")/../runner/lib.sh"
build_install

SMALL=${1:-2000}
LARGE=${2:-200000}
PORT=${MEMCHECK_PORT:-54391}

WORK=$(make_workdir memcheck)
cleanup() { stop_cluster; stop_emulator; }
trap cleanup EXIT

start_emulator "$WORK" --alerts "$LARGE" --incidents 20 --risk-detections 5 \
    --risky-users 5 --sp-risk-detections 5 --secure-scores 5
start_cluster "$WORK" "$PORT"

psql_run -d postgres -v base="$EMU_URL" -v server_sql="$TOP/tests/runner/graph_server.sql" <<'SQL'
\i :server_sql
IMPORT FOREIGN SCHEMA security LIMIT TO (alerts) FROM SERVER graph INTO graph;
SQL

# peak_after N: rows scanned, then the backend's VmHWM in kB
peak_after() {
    psql_run -d postgres -At -F ' ' <<SQL
SELECT count(*), sum(length(a::text)) > 0 FROM (SELECT a FROM graph.alerts a LIMIT $1) s;
SELECT substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\s*(\d+)');
SQL
}

small=$(peak_after "$SMALL")
large=$(peak_after "$LARGE")
small_rows=$(echo "$small" | head -1 | cut -d' ' -f1)
large_rows=$(echo "$large" | head -1 | cut -d' ' -f1)
small_kb=$(echo "$small" | tail -1)
large_kb=$(echo "$large" | tail -1)
ratio=$(awk -v a="$large_kb" -v b="$small_kb" 'BEGIN { printf "%.2f", a / b }')
echo "VmHWM after $small_rows alerts: $small_kb kB; after $large_rows alerts: $large_kb kB; ratio $ratio"
if [ "$small_rows" != "$SMALL" ] || [ "$large_rows" != "$LARGE" ]; then
    echo "FAIL: the scans did not return the expected rows"
    exit 1
fi
awk -v r="$ratio" 'BEGIN { exit !(r <= 1.5) }' || { echo "FAIL: ratio above 1.5"; exit 1; }
echo "memory check passed"
