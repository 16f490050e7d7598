#!/bin/bash
# tests/checks/readme_sql.sh: every ```sql block of README.md, run as written
# against the demo tenant (the emulator of `make demo`) in a throwaway
# PostgreSQL.  Fails on any error, and lists the blocks it did not run.
#
# Each block runs in a psql session of its own (ON_ERROR_STOP), in the
# order of the README, except that the set-up blocks (those that create
# the extension) run first, as a reader runs them before any query.  After
# them this script does what the README leaves to the reader: it points
# the server they created at the demo tenant (graph_url and login_url, and
# the credentials of the emulator's app in the user mapping) and creates
# `assets`, the local table of machines and owners the triage example
# joins with (every machine the demo tenant's alerts name, with an owner).
#
# A block that cannot run as written against the demo tenant is marked in
# the README by the line "<!-- not run: reason -->" just before it; it is
# listed here with that reason.  A marker with no block after it, or with
# no reason, is an error.

source "$(dirname "$0")/../runner/lib.sh"
build_install

README=${1:-$TOP/README.md}
PORT=${README_PORT:-54393}
ADMIN_CLIENT_ID='aaaaaaaa-bbbb-4ccc-8ddd-000000000001'
ADMIN_SECRET='emu-Secret.Admin~1'

WORK=$(make_workdir readme)
cleanup() { stop_cluster; stop_emulator; rm -rf "$WORK"; }
trap cleanup EXIT

# the blocks, one file each, and an index: number, README line, kind
# (setup, run or skip) and the reason of a skip
mkdir -p "$WORK/blocks"
"$PY" - "$README" "$WORK/blocks" <<'PY'
import re
import sys

readme, out = sys.argv[1], sys.argv[2]
lines = open(readme, encoding="utf-8").read().split("\n")
opening = re.compile(r"^(\s*)```sql\s*$")
closing = re.compile(r"^\s*```\s*$")
marker = re.compile(r"^\s*<!--\s*not run:(.*?)-->\s*$")
index, pending, n, i = [], None, 0, 0
while i < len(lines):
    line = lines[i]
    m = marker.match(line)
    if m:
        if pending is not None:
            sys.exit("README line %d: a \"not run\" marker with no sql block after it" % pending[0])
        if not m.group(1).strip():
            sys.exit("README line %d: a \"not run\" marker must give its reason" % (i + 1))
        pending = (i + 1, m.group(1).strip())
        i += 1
        continue
    m = opening.match(line)
    if m:
        indent, start, body = len(m.group(1)), i + 1, []
        i += 1
        while i < len(lines) and not closing.match(lines[i]):
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        if i == len(lines):
            sys.exit("README line %d: a sql block that does not end" % start)
        n += 1
        text = "\n".join(body) + "\n"
        if pending is not None:
            kind, reason = "skip", pending[1]
        elif re.search(r"\bCREATE\s+EXTENSION\b", text, re.I):
            kind, reason = "setup", ""
        else:
            kind, reason = "run", ""
        with open("%s/%03d.sql" % (out, n), "w", encoding="utf-8") as f:
            f.write(text)
        index.append("%03d\t%d\t%s\t%s" % (n, start, kind, reason))
        pending = None
    elif pending is not None and line.strip():
        sys.exit("README line %d: a \"not run\" marker with no sql block after it" % pending[0])
    i += 1
if pending is not None:
    sys.exit("README line %d: a \"not run\" marker with no sql block after it" % pending[0])
with open(out + "/index", "w", encoding="utf-8") as f:
    f.write("".join(entry + "\n" for entry in index))
PY
chown -R postgres: "$WORK"

start_demo_emulator "$WORK"
start_cluster "$WORK" "$PORT"
psql_run -d postgres -c 'CREATE DATABASE readme'

failed=""
ran=""
skipped=""
# run_block NUMBER LINE: one block, as written, in a session of its own
run_block() {
    echo "--- README.md line $2"
    if psql_run -d readme -a -f "$WORK/blocks/$1.sql"; then
        ran="$ran $2"
    else
        failed="$failed $2"
    fi
}

while IFS=$'\t' read -r num line kind reason; do
    [ "$kind" = setup ] && run_block "$num" "$line"
done < "$WORK/blocks/index"

# what the README leaves to the reader: the demo tenant's address and app,
# and an inventory of machines (the secret is not echoed)
echo "--- connecting server graph to the demo tenant, creating assets"
if ! psql_run -d readme -v base="$EMU_URL" -v client_id="$ADMIN_CLIENT_ID" \
        -v secret="$ADMIN_SECRET" <<'SQL'
ALTER SERVER graph OPTIONS (ADD graph_url :'base', ADD login_url :'base');
ALTER USER MAPPING FOR CURRENT_USER SERVER graph
  OPTIONS (SET client_id :'client_id', SET client_secret :'secret');
CREATE TABLE assets (device_name text PRIMARY KEY, owner text NOT NULL);
INSERT INTO assets
SELECT d, split_part(d, '.', 1) || '-owner@contoso.com'
  FROM (SELECT DISTINCT unnest(evidence_device_names) AS d FROM graph.alerts) s;
SELECT count(*) AS machines_in_assets FROM assets;
SQL
then
    echo "FAIL: the set-up blocks did not leave a server \"graph\" with a user mapping and the graph.alerts table"
    exit 1
fi

while IFS=$'\t' read -r num line kind reason; do
    case $kind in
        run) run_block "$num" "$line" ;;
        skip) skipped="$skipped
  line $line: $reason" ;;
    esac
done < "$WORK/blocks/index"

echo
echo "README.md sql blocks run as written:${ran:- none}"
echo "not run (marked in the README):${skipped:- none}"
if [ -n "$failed" ]; then
    echo "FAIL: the blocks at these lines of README.md failed:$failed"
    exit 1
fi
[ -n "$ran" ] || { echo "FAIL: no sql block of README.md was run"; exit 1; }
