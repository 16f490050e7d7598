#!/bin/bash
# tests/checks/pushdown_check.sh: what pushdown saves, on a 50,000-alert tenant
# whose alerts lead up to now.  Checks from the emulator's request log that
#  - a selective query makes the emulator send only the rows returned
#    (ratio 1.00) and only the selected properties;
#  - LIMIT 5 is one request with $top=5, WHERE id = ... one GET by id,
#    count(*) WHERE status = 'new' one request;
#  - a join of 20 local asset rows to alerts on device name takes at most
#    20 requests and no unfiltered list request.
# Prints the figures; exits non-zero if one does not hold.

source "$(dirname "$0")/../runner/lib.sh"
build_install

ALERTS=${1:-50000}
PORT=${PUSHDOWN_PORT:-54394}
WORK=$(make_workdir pushdown)
cleanup() { stop_cluster; stop_emulator; }
trap cleanup EXIT

start_emulator "$WORK" --alerts "$ALERTS" --incidents 200 --now "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
start_cluster "$WORK" "$PORT"
sql() { psql_run -d postgres -At -F ' ' -v base="$EMU_URL" -v server_sql="$TOP/tests/runner/graph_server.sql" "$@"; }
emu() { curl -sS -X "$1" "$EMU_URL/_emulator/$2"; }

sql <<'SQL'
\i :server_sql
IMPORT FOREIGN SCHEMA security FROM SERVER graph INTO graph;
SQL

fail=0
check() {  # check NAME CONDITION-TEXT ok?
    if [ "$3" = 1 ]; then echo "ok:   $1 ($2)"; else echo "FAIL: $1 ($2)"; fail=1; fi
}
# log_sum FIELD: sum of a numeric field over the Graph requests logged
log() { emu GET requests | "$PY" -c "$1"; }

# 1. selective query: rows sent / rows returned, and the properties sent
emu POST reset >/dev/null
rows=$(sql -c "SELECT count(id) FROM graph.alerts WHERE severity = 'high' AND created_date_time > now() - interval '1 day'")
read -r sent requests props <<<"$(log '
import json, sys
rs = [json.loads(l) for l in sys.stdin if l.strip()]
g = [r for r in rs if r["kind"] == "graph"]
print(sum(r["rows"] for r in g), len(g), ",".join(sorted({p for r in g for p in r["params"].get("$select", "*").split(",")})))')"
ratio=$(awk -v a="$sent" -v b="$rows" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')
check "selective query" "$rows rows returned, $sent sent in $requests requests, ratio $ratio, \$select=$props" \
    "$([ "$ratio" = "1.00" ] && [ "$rows" -gt 0 ] && [ "$props" = "createdDateTime,id,severity" ] && echo 1)"

# 2. LIMIT 5
emu POST reset >/dev/null
sql -c "SELECT id FROM graph.alerts WHERE severity = 'high' LIMIT 5" >/dev/null
read -r n top <<<"$(log '
import json, sys
g = [json.loads(l) for l in sys.stdin if l.strip()]
g = [r for r in g if r["kind"] == "graph"]
print(len(g), g[0]["params"].get("$top") if g else "-")')"
check "LIMIT 5" "$n request(s), \$top=$top" "$([ "$n" = 1 ] && [ "$top" = 5 ] && echo 1)"

# 3. WHERE id = ...
id=$(sql -c "SELECT id FROM graph.alerts WHERE severity = 'low' LIMIT 1")
emu POST reset >/dev/null
got=$(sql -c "SELECT id FROM graph.alerts WHERE id = '$id'")
read -r n path <<<"$(log '
import json, sys
g = [json.loads(l) for l in sys.stdin if l.strip()]
g = [r for r in g if r["kind"] == "graph"]
print(len(g), g[0]["path"] if g else "-")')"
check "WHERE id" "$n request(s): GET $path" "$([ "$n" = 1 ] && [ "$got" = "$id" ] && [ "$path" = "/v1.0/security/alerts_v2/$id" ] && echo 1)"

# 4. count(*) WHERE status = 'new'
emu POST reset >/dev/null
count=$(sql -c "SELECT count(*) FROM graph.alerts WHERE status = 'new'")
read -r n cnt <<<"$(log '
import json, sys
g = [json.loads(l) for l in sys.stdin if l.strip()]
g = [r for r in g if r["kind"] == "graph"]
print(len(g), g[0]["params"].get("$count") if g else "-")')"
check "count(*)" "$count alerts counted with $n request(s), \$count=$cnt" "$([ "$n" = 1 ] && [ "$cnt" = true ] && echo 1)"

# 5. a join of 20 local assets on device name
sql <<'SQL'
CREATE TABLE assets (device_name text PRIMARY KEY, owner text);
INSERT INTO assets
SELECT d, 'owner ' || row_number() OVER ()
  FROM (SELECT DISTINCT unnest(evidence_device_names) d
          FROM (SELECT evidence_device_names FROM graph.alerts LIMIT 2000) a
         ORDER BY 1 LIMIT 20) s;
-- an inventory also holds devices that never raised an alert
INSERT INTO assets
SELECT 'quiet-' || i || '.contoso.local', 'owner'
  FROM generate_series(1, 20 - (SELECT count(*) FROM assets)) i;
ANALYZE assets;
-- planning needs to know the tenant is large: ask Graph for counts
ALTER SERVER graph OPTIONS (ADD use_remote_estimate 'true');
SQL
emu POST reset >/dev/null
joined=$(sql -c "SELECT count(*) FROM assets s JOIN graph.alerts a ON s.device_name = ANY (a.evidence_device_names) WHERE a.severity = 'high'")
read -r n unfiltered planning <<<"$(log '
import json, sys
g = [json.loads(l) for l in sys.stdin if l.strip()]
g = [r for r in g if r["kind"] == "graph"]
lists = [r for r in g if r["params"].get("$count") != "true"]
print(len(lists), sum(1 for r in lists if "evidence/any" not in r["params"].get("$filter", "")),
      len(g) - len(lists))')"
assets=$(sql -c "SELECT count(*) FROM assets")
check "join of $assets assets" "$joined rows with $n list requests, $unfiltered unfiltered; $planning \$count request(s) for planning" \
    "$([ "$n" -le 20 ] && [ "$unfiltered" = 0 ] && [ "$joined" -gt 0 ] && echo 1)"

[ $fail = 0 ] && echo "pushdown check passed"
exit $fail
