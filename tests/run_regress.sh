#!/bin/bash
# tests/run_regress.sh: the pg_regress suites (sql/ + expected/) against a
# temporary PostgreSQL instance and a freshly started Graph emulator.
#
# The emulator's address reaches the tests through the custom setting
# msgraph_test.base_url (set in the temporary instance's configuration).
# Usage: tests/run_regress.sh [suite ...]   (default: tests/regress_schedule)

source "$(dirname "$0")/lib.sh"
build_install

# the emulator's registered apps (tests/emulator/README.md)
ADMIN_SECRET='emu-Secret.Admin~1'
READER_SECRET='emu-Secret.Reader~2'
WRONG_SECRET='wrong-Secret~0'

WORK=$(make_workdir regress)
trap 'stop_emulator' EXIT

start_emulator "$WORK"
cat > "$WORK/test.conf" <<CONF
msgraph_test.base_url = '$EMU_URL'
msgraph_test.client_secret = '$ADMIN_SECRET'
msgraph_test.reader_secret = '$READER_SECRET'
msgraph_test.wrong_secret = '$WRONG_SECRET'
log_min_messages = debug1
CONF

# pg_regress runs as postgres and must read sql/ and expected/
mkdir -p "$WORK/input"
cp -r "$TOP/sql" "$TOP/expected" "$WORK/input/"
chown -R postgres: "$WORK"

if [ $# -gt 0 ]; then
    SUITES="$*"
else
    SUITES=$(cat "$TOP/tests/regress_schedule")
fi

PG_REGRESS=$(dirname "$(dirname "$("$PG_CONFIG" --pgxs)")")/test/regress/pg_regress
rc=0
# shellcheck disable=SC2086
runuser -u postgres -- "$PG_REGRESS" \
    --temp-instance="$WORK/tmp_check" --bindir="$("$PG_CONFIG" --bindir)" \
    --inputdir="$WORK/input" --outputdir="$WORK" \
    --no-locale --encoding=UTF8 --temp-config="$WORK/test.conf" \
    --dbname=contrib_regression \
    $SUITES || rc=$?

if [ $rc -ne 0 ]; then
    cat "$WORK/regression.diffs" 2>/dev/null || true
    echo "--- emulator log (tail)"
    tail -n 30 "$WORK/emu.log" || true
fi
# the server log must never hold a secret or a bearer token
if [ -f "$WORK/log/postmaster.log" ]; then
    if grep -F -n -e "$ADMIN_SECRET" -e "$READER_SECRET" -e "$WRONG_SECRET" -e 'Bearer ' \
            "$WORK/log/postmaster.log" "$WORK/results"/*.out; then
        echo "FAIL: a secret or a bearer token reached the server log or a test output"
        rc=1
    fi
fi
exit $rc
