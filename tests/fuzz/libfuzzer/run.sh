#!/bin/bash
# tests/fuzz/libfuzzer/run.sh [SECONDS]: libFuzzer (with ASan and UBSan) over
# the page parse: json-c's tokener as the extension runs it, then
# src/jsoncheck.c (fuzz_page.c says what each input checks).  Builds with
# clang-14 outside PostgreSQL; needs no server and no lock.

source "$(dirname "$0")/../../runner/lib.sh"
ensure_packages clang-14 libclang-rt-14-dev libfuzzer-14-dev

SECONDS_TO_RUN=${1:-60}
WORK=$(mktemp -d /tmp/msgraph_libfuzzer.XXXXXX)
HERE=$TOP/tests/fuzz/libfuzzer

clang-14 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -I "$TOP/src" -o "$WORK/fuzz_page" "$HERE/fuzz_page.c" "$TOP/src/jsoncheck.c" "$TOP/src/jsonpage.c" -ljson-c
"$PY" "$HERE/seeds.py" "$WORK/corpus"
mkdir -p "$WORK/crashes"
rc=0
"$WORK/fuzz_page" -max_total_time="$SECONDS_TO_RUN" -max_len=65536 -print_final_stats=1 \
    -dict="$HERE/json.dict" -artifact_prefix="$WORK/crashes/" "$WORK/corpus" \
    > "$WORK/fuzz.log" 2>&1 || rc=$?
grep -E "^stat::(number_of_executed_units|peak_rss_mb|new_units_added)|ERROR|SUMMARY|Done" \
    "$WORK/fuzz.log" || true
echo "corpus: $(ls "$WORK/corpus" | wc -l) inputs; log: $WORK/fuzz.log"
if [ $rc -ne 0 ] || [ -n "$(ls "$WORK/crashes")" ]; then
    echo "FAIL: libFuzzer found a crash or a broken property: $WORK/crashes"
    exit 1
fi
echo "libfuzzer passed"
