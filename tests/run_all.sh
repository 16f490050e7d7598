#!/bin/bash
# tests/run_all.sh: every test of the project (`make test`), on a fresh
# Debian 12 machine as root: installs what is missing, builds and installs
# the extension, then runs the catalog check, the emulator's self-tests,
# the pg_regress suites against the emulator, the memory check, the cancel
# timings and a 10-second version of the load test.

source "$(dirname "$0")/lib.sh"

ensure_packages
build_install

passed=0
failed=0
failures=""
step() {
    local name=$1
    shift
    echo "=== $name"
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures="$failures $name"
    fi
}

step catalog make -s -C "$TOP/tests/catalog" check
step emulator bash -c "cd '$TOP/tests/emulator' && '$PY' -m unittest -q test_emulator"
step regress bash "$TOP/tests/run_regress.sh"
step pushdown bash "$TOP/tests/pushdown_check.sh" 50000
step memory bash "$TOP/tests/memcheck.sh" 2000 50000
step cancel bash "$TOP/tests/cancel_timing.sh" 3
step load bash "$TOP/tests/load/run_load.sh" 10

echo
[ -n "$failures" ] && echo "failed steps:$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
