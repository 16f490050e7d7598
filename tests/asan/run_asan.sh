#!/bin/bash
# tests/asan/run_asan.sh [suite ...]: the pg_regress suites (default: all of
# tests/runner/regress_schedule, through tests/runner/run_regress.sh with its usual
# set-up) and 1,000 fuzz scans against backends running the extension
# built with AddressSanitizer (and LeakSanitizer at backend exit), then a
# count of the reports that involve our library.
#
# env.md section 4 is followed as written: clang-14 builds the extension
# with -fsanitize=address; the ASan runtime and asan_early.so (the
# bindtextdomain shim) are preloaded into the postmaster only, never into
# initdb or psql; LSan suppresses only save_ps_display_args and pg_ctl.
# For pg_regress's temporary instance that is a bindir whose `postgres` is
# a script running the real one with the preload, and whose other programs
# are links to the real ones (initdb and pg_ctl resolve their links, so
# they start the real postgres, unpreloaded).
# ASan cannot see overruns inside palloc'd chunks (the server is not an
# assert build); it sees malloc'd memory: libcurl's, json-c's, ours.
#
# Holds the install lock throughout (the installed library is the ASan
# one meanwhile) and installs the ordinary build again at the end.
# Passes when the suites and the fuzz scans pass and no report names our
# code.

source "$(dirname "$0")/../runner/lib.sh"
ensure_packages clang-14 libclang-rt-14-dev
lock_install

HERE=$TOP/tests/asan
PORT=${ASAN_PORT:-54395}
BINDIR=$("$PG_CONFIG" --bindir)
WORK=$(make_workdir asan)
ASAN_RT=$(clang-14 -print-file-name=libclang_rt.asan-x86_64.so)

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

mkdir -p "$WORK/asan" "$WORK/curlbin" "$WORK/bin"
cp "$HERE/lsan.supp" "$WORK/lsan.supp"
# the suites' emu() runs curl from a backend (COPY FROM PROGRAM): /bin/sh is
# fine under the preload, curl hangs in it like psql; this curl drops it
printf '#!/bin/sh\nunset LD_PRELOAD ASAN_OPTIONS LSAN_OPTIONS\nexec /usr/bin/curl "$@"\n' \
    > "$WORK/curlbin/curl"
ASAN_ENV="PATH=$WORK/curlbin:$PATH LD_PRELOAD='$ASAN_RT $WORK/asan_early.so'"
ASAN_ENV="$ASAN_ENV ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0:log_path=$WORK/asan/asan"
ASAN_ENV="$ASAN_ENV LSAN_OPTIONS=exitcode=0:suppressions=$WORK/lsan.supp"
for f in "$BINDIR"/*; do ln -s "$f" "$WORK/bin/"; done
rm "$WORK/bin/postgres"
# LLVM's JIT registers its code with libgcc's unwinder, which the slow
# unwinder (fast_unwind_on_malloc=0) re-enters from malloc: deadlock
cat > "$WORK/bin/postgres" <<SH
#!/bin/sh
export $ASAN_ENV
exec "$BINDIR/postgres" "\$@" -c jit=off
SH
chmod 755 "$WORK/curlbin/curl" "$WORK/bin/postgres"
chown -R postgres: "$WORK"

rc=0
echo "running the regression suites under ASan"
REGRESS_NO_BUILD=1 REGRESS_BINDIR=$WORK/bin bash "$TOP/tests/runner/run_regress.sh" "$@" \
    > "$WORK/regress.log" 2>&1 || rc=$?
grep -E "^test |tests passed|tests failed" "$WORK/regress.log" || true
[ $rc -ne 0 ] && { tail -n 80 "$WORK/regress.log"; echo "FAIL: suites"; }

echo "a short fuzz run under ASan"
start_emulator "$WORK" --quiet
PGDATA_DIR=$WORK/data
runuser -u postgres -- "$BINDIR/initdb" -D "$PGDATA_DIR" --no-sync -A trust -E UTF8 \
    --no-locale -U postgres >/dev/null
runuser -u postgres -- "$BINDIR/pg_ctl" -D "$PGDATA_DIR" -l "$WORK/postgres.log" -w -t 120 \
    -p "$WORK/bin/postgres" \
    -o "-p $PORT -k $WORK -c listen_addresses='' -c fsync=off -c msgraph_security_fdw.pace_requests=off" start >/dev/null
export PGHOST=$WORK PGPORT=$PORT PGUSER=postgres
started=$(psql_run -d postgres -At -c "SELECT pg_postmaster_start_time()")
"$PY" "$TOP/tests/fuzz/driver.py" --socket-dir "$WORK" --port "$PORT" --emulator "$EMU_URL" \
    --scans "${ASAN_FUZZ_SCANS:-1000}" --seed asan || rc=1
now=$(psql_run -d postgres -At -c "SELECT pg_postmaster_start_time()")
[ "$now" = "$started" ] || { echo "FAIL: the postmaster restarted (a backend died)"; rc=1; }
grep -n -E "terminated by signal|PANIC" "$WORK/postgres.log" && rc=1
stop_cluster
sleep 2     # a postmaster writes its own report as it exits, after pg_ctl returns

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
# what they are: the first frame above the allocator, per report
for f in "$WORK"/asan/asan.*; do
    [ -e "$f" ] && awk '/==ERROR: /{e=1} e && /^    #1 /{print "  " $4; e=0}' "$f"
done | sort | uniq -c
if [ "$ours" -ne 0 ]; then rc=1; fi
[ $rc -eq 0 ] && echo "asan passed"
exit $rc
