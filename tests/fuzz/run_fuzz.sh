#!/bin/bash
# tests/fuzz/run_fuzz.sh [SCANS [SEED]]: protocol fuzzing (driver.py) against
# a throwaway PostgreSQL and the emulator's hostile mode.
#
# Passes when every scan returned exactly the rows the emulator meant or
# the ERROR it had to, the backend survived every scan, the postmaster never
# restarted, and the server log has no crash in it.  SCANS defaults to 300
# (the short run of tests/runner/run_all.sh); `make fuzz` runs 5,000.

source "$(dirname "$0")/../runner/lib.sh"
build_install

SCANS=${1:-300}
SEED=${2:-1}
PORT=${FUZZ_PORT:-54393}

WORK=$(make_workdir fuzz)
cleanup() { stop_cluster; stop_emulator; }
trap cleanup EXIT

start_emulator "$WORK" --quiet
start_cluster "$WORK" "$PORT"

rc=0
"$PY" "$TOP/tests/fuzz/driver.py" --socket-dir "$WORK" --port "$PORT" \
    --emulator "$EMU_URL" --scans "$SCANS" --seed "$SEED" \
    --failures "$WORK/failures.jsonl" || rc=$?

# a backend that died would show here even if the driver missed it
if grep -n -E "terminated by signal|was terminated|PANIC|TRAP:|server process .* exited" \
        "$WORK/postgres.log"; then
    echo "FAIL: the server log shows a crashed backend"
    rc=1
fi
[ -s "$WORK/failures.jsonl" ] && echo "mismatches written to $WORK/failures.jsonl"
[ $rc -eq 0 ] && echo "fuzz passed"
exit $rc
