#!/bin/bash
# tests/checks/cancel_timing.sh [ROUNDS]: how fast pg_cancel_backend(),
# statement_timeout and a vanished client stop a query waiting on Graph (a
# hung request, a Retry-After wait, a queue in the shared throttle budget),
# and what a backend keeps after 40 cancels.  The figures and the checks
# are in tests/checks/cancel_timing.py; this script sets up the emulator and a
# throwaway PostgreSQL with the library preloaded.

source "$(dirname "$0")/../runner/lib.sh"
build_install

ROUNDS=${1:-10}
PORT=${CANCEL_PORT:-54394}
WORK=$(make_workdir cancel)
cleanup() { stop_cluster; stop_emulator; }
trap cleanup EXIT

start_emulator "$WORK" --quiet
start_cluster "$WORK" "$PORT" -c shared_preload_libraries=msgraph_security_fdw

# graph0 shares graph's budget (same Graph, tenant and application) but
# never retries: it is how one session blocks the budget for the others
psql_run -d postgres -v base="$EMU_URL" <<'SQL'
CREATE EXTENSION msgraph_security_fdw;
CREATE SERVER graph FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (tenant_id '11111111-2222-3333-4444-555555555555', graph_url :'base', login_url :'base');
CREATE SERVER graph0 FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (tenant_id '11111111-2222-3333-4444-555555555555', graph_url :'base', login_url :'base',
           max_retries '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph
  OPTIONS (client_id 'aaaaaaaa-bbbb-4ccc-8ddd-000000000001', client_secret 'emu-Secret.Admin~1');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph0
  OPTIONS (client_id 'aaaaaaaa-bbbb-4ccc-8ddd-000000000001', client_secret 'emu-Secret.Admin~1');
CREATE SCHEMA graph;
CREATE SCHEMA graph0;
IMPORT FOREIGN SCHEMA security LIMIT TO (secure_scores) FROM SERVER graph INTO graph;
IMPORT FOREIGN SCHEMA security LIMIT TO (secure_scores) FROM SERVER graph0 INTO graph0;
SQL

PSQL_ARGS=$("$PY" -c 'import json, sys; print(json.dumps(sys.argv[1:]))' \
    "$("$PG_CONFIG" --bindir)/psql" -X -q -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres)
"$PY" "$TOP/tests/checks/cancel_timing.py" "$PSQL_ARGS" "$EMU_URL" "$ROUNDS"
