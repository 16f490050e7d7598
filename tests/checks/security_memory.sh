#!/bin/bash
# tests/checks/security_memory.sh [SIZE_MB ...]: what answers of empty objects
# (error bodies, refused pages, a costly entity; default 1 and 12 MB) cost
# a backend in memory, and how fast a cancel stops it.  The cases and the
# bounds are in tests/checks/security_memory.py; this script sets up the emulator
# and a throwaway PostgreSQL.  `make test` runs 1 and 12 MB, `make
# security-large` 60 MB.

source "$(dirname "$0")/../runner/lib.sh"
build_install

SIZES=${*:-1 12}
PORT=${SECMEM_PORT:-54397}
WORK=$(make_workdir secmem)
cleanup() { stop_cluster; stop_emulator; }
trap cleanup EXIT

start_emulator "$WORK" --quiet --no-warmup --alerts 50 --incidents 5 --secure-scores 5 \
    --risk-detections 5 --risky-users 5 --sp-risk-detections 5
start_cluster "$WORK" "$PORT"

# scores: the table the floods answer (a bearer token the emulator issued,
# so that no token request precedes); warm: a real page first;
# tok_scores: a server of its own whose token request is refused
TOKEN=$(curl -sS --noproxy '*' -X POST "$EMU_URL/_emulator/token" |
    "$PY" -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
psql_run -d postgres -v base="$EMU_URL" -v token="$TOKEN" <<'SQL'
CREATE EXTENSION msgraph_security_fdw;
CREATE SERVER graph FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (tenant_id '11111111-2222-3333-4444-555555555555', graph_url :'base', login_url :'base',
           max_retries '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph OPTIONS (access_token :'token');
CREATE FOREIGN TABLE scores (id text) SERVER graph OPTIONS (resource 'security/secureScores');
CREATE FOREIGN TABLE warm (id text, title text) SERVER graph OPTIONS (resource 'security/alerts_v2');
CREATE SERVER tok FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (tenant_id '11111111-2222-3333-4444-555555555555', graph_url :'base', login_url :'base',
           max_retries '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER tok
  OPTIONS (client_id 'aaaaaaaa-bbbb-4ccc-8ddd-000000000002', client_secret 'emu-Secret.Reader~2');
CREATE FOREIGN TABLE tok_scores (id text) SERVER tok OPTIONS (resource 'security/secureScores');
SQL

# shellcheck disable=SC2086
PSQL_ARGS=$("$PY" -c 'import json, sys; print(json.dumps(sys.argv[1:]))' \
    "$("$PG_CONFIG" --bindir)/psql" -X -q -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres)
# shellcheck disable=SC2086
"$PY" "$TOP/tests/checks/security_memory.py" "$PSQL_ARGS" "$EMU_URL" $SIZES
