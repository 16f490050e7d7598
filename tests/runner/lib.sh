#!/bin/bash
# tests/runner/lib.sh: shell functions shared by the test, demo and memory scripts.
#
# Everything here runs as root on a Debian 12 machine of the project's kind:
# packages come from apt, PostgreSQL runs as the postgres OS user (initdb
# refuses root), and the Graph emulator runs under /usr/bin/python3.

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PY=/usr/bin/python3
export LC_ALL=C.UTF-8 LANG=C.UTF-8

# Packages the build, the tests and the demo need.
PACKAGES="postgresql-15 postgresql-server-dev-15 libcurl4-openssl-dev libjson-c-dev libdeflate-dev
libssl-dev gcc make libc6-dev python3 ca-certificates curl openssl"

# Install what is missing (apt-get update only when something is).
ensure_packages() {
    local missing=""
    for p in $PACKAGES "$@"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        echo "installing:$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $missing >/dev/null
    fi
}

# Serialize the scripts that install the extension and test it: the
# installed library is one per machine, so two test runs at once would test
# each other's builds.  Child scripts inherit the lock.
lock_install() {
    if [ -z "${MSGRAPH_INSTALL_LOCKED:-}" ]; then
        exec 9>/tmp/msgraph_security_fdw.install.lock
        flock 9
        export MSGRAPH_INSTALL_LOCKED=1
    fi
}

# Build and install the extension.
build_install() {
    lock_install
    make -s -C "$TOP" PG_CONFIG="$PG_CONFIG" >/dev/null
    make -s -C "$TOP" PG_CONFIG="$PG_CONFIG" install >/dev/null
}

# A scratch directory the postgres user can use.
make_workdir() {
    local d
    d=$(mktemp -d "/tmp/msgraph_${1:-test}.XXXXXX")
    chmod 755 "$d"
    chown postgres: "$d"
    echo "$d"
}

# start_emulator WORKDIR [emulator args...]: starts the emulator in the
# background; sets EMU_PID, EMU_PORT and EMU_URL.
start_emulator() {
    local work=$1
    shift
    : > "$work/emu.port"
    # (9>&-: the background server must not hold the install lock)
    "$PY" -u "$TOP/tests/emulator/graph_emulator.py" --port 0 "$@" \
        > "$work/emu.port" 2> "$work/emu.log" 9>&- &
    EMU_PID=$!
    for _ in $(seq 600); do
        [ -s "$work/emu.port" ] && break
        if ! kill -0 "$EMU_PID" 2>/dev/null; then
            echo "emulator failed to start:" >&2
            cat "$work/emu.log" >&2
            return 1
        fi
        sleep 0.1
    done
    EMU_PORT=$(head -1 "$work/emu.port")
    [ -n "$EMU_PORT" ] || { echo "emulator did not report its port" >&2; return 1; }
    EMU_URL="http://127.0.0.1:$EMU_PORT"
}

# start_demo_emulator WORKDIR: the emulator with the demo tenant (make demo,
# and the README's examples in tests/checks/readme_sql.sh): a tenant of realistic
# size (20,000 alerts, 1,000 incidents: about 110 alerts a day, a dozen of
# them new and high-severity on a known machine), whose present is the
# machine's clock, so that "the last day" means the same to PostgreSQL and
# to the emulator.
start_demo_emulator() {
    start_emulator "$1" --now "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --alerts 20000 --incidents 1000
}

# start_tls_emulator WORKDIR [emulator args...]: the PKI of tests/certs and a
# second emulator serving HTTPS with it; sets TLS_PID, TLS_URL (naming
# 127.0.0.1, which the certificate is for), TLS_BAD_HOST_URL (naming
# localhost, which it is not for) and TLS_DIR (ca.crt, other-ca.crt).
start_tls_emulator() {
    local work=$1
    shift
    TLS_DIR=$work/tls
    bash "$TOP/tests/certs/make_tls_certs.sh" "$TLS_DIR"
    local saved_pid=${EMU_PID:-} saved_port=${EMU_PORT:-} saved_url=${EMU_URL:-}
    start_emulator "$TLS_DIR" --tls-cert "$TLS_DIR/server.crt" --tls-key "$TLS_DIR/server.key" "$@"
    TLS_PID=$EMU_PID
    TLS_URL="https://127.0.0.1:$EMU_PORT"
    TLS_BAD_HOST_URL="https://localhost:$EMU_PORT"
    EMU_PID=$saved_pid EMU_PORT=$saved_port EMU_URL=$saved_url
}

stop_tls_emulator() {
    if [ -n "${TLS_PID:-}" ]; then
        kill "$TLS_PID" 2>/dev/null || true
        wait "$TLS_PID" 2>/dev/null || true
        TLS_PID=
    fi
}

# start_proxy WORKDIR: the CONNECT proxy of tests/proxy in the background;
# sets PROXY_PID and PROXY_URL.
start_proxy() {
    local work=$1
    : > "$work/proxy.port"
    "$PY" -u "$TOP/tests/proxy/connect_proxy.py" --port 0 > "$work/proxy.port" \
        2> "$work/proxy.log" 9>&- &
    PROXY_PID=$!
    for _ in $(seq 100); do
        [ -s "$work/proxy.port" ] && break
        sleep 0.1
    done
    [ -s "$work/proxy.port" ] || { echo "the proxy did not start" >&2; cat "$work/proxy.log" >&2; return 1; }
    PROXY_URL="http://127.0.0.1:$(head -1 "$work/proxy.port")"
}

stop_proxy() {
    if [ -n "${PROXY_PID:-}" ]; then
        kill "$PROXY_PID" 2>/dev/null || true
        wait "$PROXY_PID" 2>/dev/null || true
        PROXY_PID=
    fi
}

stop_emulator() {
    if [ -n "${EMU_PID:-}" ]; then
        kill "$EMU_PID" 2>/dev/null || true
        wait "$EMU_PID" 2>/dev/null || true
        EMU_PID=
    fi
}

# start_cluster WORKDIR PORT [postgres options...]: a throwaway PostgreSQL
# on a Unix socket in WORKDIR; sets PGDATA_DIR and exports
# PGHOST/PGPORT/PGUSER for psql.  The extension's pacing to Graph's
# throttling limits is off unless MSGRAPH_PACE_REQUESTS=on (the load test):
# benchmarks and checks send far more requests than Graph would allow.
start_cluster() {
    local work=$1 port=$2
    shift 2
    local bindir
    bindir=$("$PG_CONFIG" --bindir)
    PGDATA_DIR=$work/data
    runuser -u postgres -- "$bindir/initdb" -D "$PGDATA_DIR" --no-sync -A trust \
        -E UTF8 --no-locale -U postgres >/dev/null
    runuser -u postgres -- "$bindir/pg_ctl" -D "$PGDATA_DIR" -l "$work/postgres.log" -w \
        -o "-p $port -k $work -c listen_addresses='' -c fsync=off -c msgraph_security_fdw.pace_requests=${MSGRAPH_PACE_REQUESTS:-off} $*" \
        start >/dev/null 9>&-
    export PGHOST=$work PGPORT=$port PGUSER=postgres
}

stop_cluster() {
    if [ -n "${PGDATA_DIR:-}" ] && [ -d "$PGDATA_DIR" ]; then
        runuser -u postgres -- "$("$PG_CONFIG" --bindir)/pg_ctl" -D "$PGDATA_DIR" \
            -w stop -m fast >/dev/null 2>&1 || true
        PGDATA_DIR=
    fi
}

psql_run() {
    "$("$PG_CONFIG" --bindir)/psql" -X -v ON_ERROR_STOP=1 -q "$@"
}
