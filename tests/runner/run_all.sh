#!/bin/bash
# tests/runner/run_all.sh: every test of the project (`make test`), on a fresh
# Debian 12 machine as root: installs what is missing, builds and installs
# the extension, then runs the catalog check, the emulator's self-tests,
# the unit test of the JSON check, the pg_regress suites against the
# emulator, every sql example of README.md against the demo tenant, the
# pushdown check, the memory checks (also of hostile answers:
# tests/checks/security_memory.sh), a short protocol fuzzing run (tests/fuzz;
# `make fuzz` is the long one), the cancel timings, 10-second versions of
# the load test's two workloads (`make load` and `make load-identity` are
# the long ones), and the check that one role's cancelled waits leave the
# throttle budget it shares with others alone.

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

step catalog make -s -C "$TOP/tests/unit/catalog" check
step emulator bash -c "cd '$TOP/tests/emulator' && '$PY' -m unittest -q test_emulator test_hostile"
JC=$(mktemp -d /tmp/msgraph_jsoncheck.XXXXXX)
step jsoncheck bash -c "gcc -O1 -Wall -I '$TOP/src' -o '$JC/jsoncheck_test' '$TOP/tests/unit/jsoncheck_test.c' '$TOP/src/jsoncheck.c' && '$JC/jsoncheck_test'"
step regress bash "$TOP/tests/runner/run_regress.sh"
step readme bash "$TOP/tests/checks/readme_sql.sh"
step pushdown bash "$TOP/tests/checks/pushdown_check.sh" 50000
step memory bash "$TOP/tests/checks/memcheck.sh" 2000 50000
step security_memory bash "$TOP/tests/checks/security_memory.sh" 1 12
step fuzz bash "$TOP/tests/fuzz/run_fuzz.sh" 400
step cancel bash "$TOP/tests/checks/cancel_timing.sh" 3
step load bash "$TOP/tests/load/run_load.sh" 10
step load-identity bash "$TOP/tests/load/run_load.sh" 10 4 --identity
step cancelled-waits bash "$TOP/tests/load/run_cancelled_waits.sh"

echo
[ -n "$failures" ] && echo "failed steps:$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
