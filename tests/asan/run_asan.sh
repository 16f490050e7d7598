#!/bin/bash
# tests/asan/run_asan.sh [suite ...]: the pg_regress suites (default: all of
# tests/regress_schedule) and a short fuzz run against a PostgreSQL whose
# backends run the extension built with AddressSanitizer (and LeakSanitizer
# at backend exit), then a count of the reports that involve our library.
#
# env.md section 4 is followed as written: clang-14 builds the extension
# with -fsanitize=address; the ASan runtime and asan_early.so (the
# bindtextdomain shim) are preloaded into the postmaster only, never into
# initdb or psql; LSan suppresses only save_ps_display_args and pg_ctl.
# ASan cannot see overruns inside palloc'd chunks (the server is not an
# assert build); it sees malloc'd memory: libcurl's, json-c's, ours.
#
# Holds the install lock throughout (the installed library is the ASan
# one meanwhile) and installs the ordinary build again at the end.
# Passes when the suites pass and no report names our code.

source "$(dirname "$0")/../lib.sh"
ensure_packages clang-14 libclang-rt-14-dev
lock_install

HERE=$TOP/tests/asan
PORT=${ASAN_PORT:-54395}
BINDIR=$("$PG_CONFIG" --bindir)
WORK=$(make_workdir asan)
ASAN_RT=$(clang-14 -print-file-name=libclang_rt.asan-x86_64.so)
if [ $# -gt 0 ]; then SUITES="$*"; else SUITES=$(cat "$TOP/tests/regress_schedule"); fi

restore() {
    stop_cluster
    stop_emulator
    # the ordinary build again, for whoever installs next
    make -s -C "$TOP" clean >/dev/null 2>&1 || true
    make -s -C "$TOP" PG_CONFIG="$PG_CONFIG" >/dev/null && \
        make -s -C "$TOP" PG_CONFIG="$PG_CONFIG" install >/dev/null
}
trap restore EXIT

echo "building with AddressSanitizer (clang-14)"
gcc -O2 -fPIC -shared -o "$WORK/asan_early.so" "$HERE/asan_early.c" -ldl
make -s -C "$TOP" clean >/dev/null
make -s -C "$TOP" PG_CONFIG="$PG_CONFIG" CC=clang-14 with_llvm=no \
    COPT="-fsanitize=address -fno-omit-frame-pointer -g -Wno-ignored-attributes -Wno-unknown-warning-option -Wno-ignored-optimization-argument" \
    >/dev/null
make -s -C "$TOP" PG_CONFIG="$PG_CONFIG" install >/dev/null
nm -D "$("$PG_CONFIG" --pkglibdir)/msgraph_security_fdw.so" > "$WORK/symbols"
grep -q __asan_report "$WORK/symbols" \
    || { echo "FAIL: the installed library is not instrumented"; exit 1; }

start_emulator "$WORK" --quiet
# the suites' emu() runs curl from a backend (COPY FROM PROGRAM): /bin/sh is
# fine under the preload, curl hangs in it like psql; this curl drops it
mkdir -p "$WORK/bin"
printf '#!/bin/sh\nunset LD_PRELOAD ASAN_OPTIONS LSAN_OPTIONS\nexec /usr/bin/curl "$@"\n' \
    > "$WORK/bin/curl"
chmod 755 "$WORK/bin/curl"
mkdir -p "$WORK/asan"
chown postgres: "$WORK/asan"
cp "$HERE/lsan.supp" "$WORK/lsan.supp"

# the cluster: initdb without the preload (it would hang), the postmaster with it
PGDATA_DIR=$WORK/data
runuser -u postgres -- "$BINDIR/initdb" -D "$PGDATA_DIR" --no-sync -A trust -E UTF8 \
    --no-locale -U postgres >/dev/null
cat >> "$PGDATA_DIR/postgresql.conf" <<CONF
port = $PORT
unix_socket_directories = '$WORK'
listen_addresses = ''
fsync = off
log_min_messages = debug1
# LLVM's JIT registers its code with libgcc's unwinder, which the slow
# unwinder below (fast_unwind_on_malloc=0) re-enters from malloc: deadlock
jit = off
# as in run_regress.sh: the suites send far more requests than Graph's
# limits allow, and pacing them would take hours
msgraph_security_fdw.pace_requests = off
msgraph_test.base_url = '$EMU_URL'
msgraph_test.client_secret = 'emu-Secret.Admin~1'
msgraph_test.reader_secret = 'emu-Secret.Reader~2'
msgraph_test.wrong_secret = 'wrong-Secret~0'
CONF
runuser -u postgres -- env PATH="$WORK/bin:$PATH" LD_PRELOAD="$ASAN_RT $WORK/asan_early.so" \
    ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0:log_path=$WORK/asan/asan" \
    LSAN_OPTIONS="exitcode=0:suppressions=$WORK/lsan.supp" \
    "$BINDIR/pg_ctl" -D "$PGDATA_DIR" -l "$WORK/postgres.log" -w -t 120 start >/dev/null
export PGHOST=$WORK PGPORT=$PORT PGUSER=postgres
started=$(psql_run -d postgres -At -c "SELECT pg_postmaster_start_time()")

mkdir -p "$WORK/input"
cp -r "$TOP/sql" "$TOP/expected" "$WORK/input/"
chown -R postgres: "$WORK"
psql_run -d postgres -c "CREATE DATABASE contrib_regression"

echo "running the regression suites under ASan: $SUITES"
PG_REGRESS=$(dirname "$(dirname "$("$PG_CONFIG" --pgxs)")")/test/regress/pg_regress
rc=0
# shellcheck disable=SC2086
runuser -u postgres -- "$PG_REGRESS" --use-existing --host="$WORK" --port="$PORT" \
    --bindir="$BINDIR" --inputdir="$WORK/input" --outputdir="$WORK" \
    --dbname=contrib_regression $SUITES || rc=$?
[ $rc -ne 0 ] && { cat "$WORK/regression.diffs" 2>/dev/null | head -100; echo "FAIL: suites"; }

echo "a short fuzz run under ASan"
"$PY" "$TOP/tests/fuzz/driver.py" --socket-dir "$WORK" --port "$PORT" --emulator "$EMU_URL" \
    --scans "${ASAN_FUZZ_SCANS:-1000}" --seed asan || rc=1

now=$(psql_run -d postgres -At -c "SELECT pg_postmaster_start_time()")
[ "$now" = "$started" ] || { echo "FAIL: the postmaster restarted (a backend died)"; rc=1; }
runuser -u postgres -- "$BINDIR/pg_ctl" -D "$PGDATA_DIR" -w stop -m fast >/dev/null
PGDATA_DIR=
sleep 2     # the postmaster writes its own report as it exits, after pg_ctl returns

# every report, and those with a frame in our sources or our library
reports=0
ours=0
for f in "$WORK"/asan/asan.*; do
    [ -e "$f" ] || continue
    n=$(grep -c -E "^==[0-9]+==ERROR: (AddressSanitizer|LeakSanitizer)" "$f" || true)
    reports=$((reports + n))
    if grep -q -E "(/src/[a-z_]+\.c:[0-9]+|msgraph_security_fdw\.so)" "$f"; then
        ours=$((ours + n))
        echo "--- report involving msgraph_security_fdw: $f"
        head -60 "$f"
    fi
done
logs=$(ls "$WORK"/asan 2>/dev/null | wc -l)
echo "ASan/LSan: $reports report(s) in $logs process log(s) (a process writes one only to report), $ours involving msgraph_security_fdw"
grep -n -E "terminated by signal|PANIC" "$WORK/postgres.log" && rc=1
if [ "$ours" -ne 0 ]; then rc=1; fi
[ $rc -eq 0 ] && echo "asan passed"
exit $rc
