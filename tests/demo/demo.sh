#!/bin/bash
# tests/demo/demo.sh (`make demo`): a throwaway PostgreSQL and the Graph emulator
# with a sample tenant, then the example queries of tests/demo/demo.sql.
# Everything is stopped and removed at the end.

source "$(dirname "$0")/../runner/lib.sh"

ensure_packages
build_install

WORK=$(make_workdir demo)
cleanup() { stop_cluster; stop_emulator; rm -rf "$WORK"; }
trap cleanup EXIT

start_demo_emulator "$WORK"
start_cluster "$WORK" "${DEMO_PORT:-54392}"
echo "PostgreSQL on socket $WORK, Graph emulator on $EMU_URL"
echo
psql_run -d postgres -v base="$EMU_URL" -v secret='emu-Secret.Admin~1' \
    -e -f "$TOP/tests/demo/demo.sql"
