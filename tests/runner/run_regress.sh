#!/bin/bash
# tests/runner/run_regress.sh: the pg_regress suites (sql/ + expected/) against a
# temporary PostgreSQL instance and a freshly started Graph emulator.
#
# The emulator's address reaches the tests through the custom setting
# msgraph_test.base_url (set in the temporary instance's configuration),
# and so do the secrets, keys and certificates the tests use, so that none
# is ever in a test file or its output.
# Usage: tests/runner/run_regress.sh [suite ...]   (default: tests/runner/regress_schedule)
# REGRESS_NO_BUILD=1 tests what is installed; REGRESS_BINDIR runs the
# temporary instance from another bindir (tests/asan/run_asan.sh).

source "$(dirname "$0")/lib.sh"
lock_install
[ -n "${REGRESS_NO_BUILD:-}" ] || build_install

# the emulator's registered apps (tests/emulator/README.md)
ADMIN_SECRET='emu-Secret.Admin~1'
READER_SECRET='emu-Secret.Reader~2'
WRONG_SECRET='wrong-Secret~0'

WORK=$(make_workdir regress)
trap 'stop_emulator; stop_tls_emulator; stop_proxy' EXIT

# certificate credentials (suite auth_cert): fresh keys and certificates,
# app.crt and expired.crt registered for the admin app
ADMIN_CLIENT_ID='aaaaaaaa-bbbb-4ccc-8ddd-000000000001'
KEYS=$WORK/keys
bash "$TOP/tests/certs/make_test_certs.sh" "$KEYS"
KEY_PASSWORD=$(cat "$KEYS/app-enc.pass")
# PEM text as a configuration string: the file parser turns \n into newlines
pem_setting() { awk '{ printf "%s\\n", $0 }' "$1"; }

# an HTTPS emulator (small tenant) for the TLS tests, a CONNECT proxy for
# the proxy tests, and the emulator most suites use
mkdir -p "$WORK/tls"
start_tls_emulator "$WORK" --no-warmup --alerts 30 --incidents 10 --secure-scores 10 \
    --risk-detections 10 --risky-users 10 --sp-risk-detections 10
start_proxy "$WORK"
start_emulator "$WORK" --certificate "$ADMIN_CLIENT_ID=$KEYS/app.crt" \
    --certificate "$ADMIN_CLIENT_ID=$KEYS/expired.crt"
# a bearer token the emulator issued, for access_token mappings: never to
# be seen in a log or an output either
ACCESS_TOKEN=$(curl -sS --noproxy '*' -X POST "$EMU_URL/_emulator/token" |
    "$PY" -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
cat > "$WORK/test.conf" <<CONF
msgraph_test.base_url = '$EMU_URL'
msgraph_test.client_secret = '$ADMIN_SECRET'
msgraph_test.reader_secret = '$READER_SECRET'
msgraph_test.wrong_secret = '$WRONG_SECRET'
msgraph_test.access_token = '$ACCESS_TOKEN'
msgraph_test.tls_url = '$TLS_URL'
msgraph_test.tls_bad_host_url = '$TLS_BAD_HOST_URL'
msgraph_test.tls_proxied_url = 'https://graph.proxy-test.invalid:${TLS_URL##*:}'
msgraph_test.ca_file = '$TLS_DIR/ca.crt'
msgraph_test.other_ca_file = '$TLS_DIR/other-ca.crt'
msgraph_test.proxy_url = '$PROXY_URL'
msgraph_test.work_dir = '$WORK'
msgraph_test.certificate = '$(pem_setting "$KEYS/app.crt")'
msgraph_test.private_key = '$(pem_setting "$KEYS/app.key")'
msgraph_test.private_key_encrypted = '$(pem_setting "$KEYS/app-enc.key")'
msgraph_test.private_key_password = '$KEY_PASSWORD'
msgraph_test.private_key_costly = '$(pem_setting "$KEYS/app-costly.key")'
msgraph_test.other_certificate = '$(pem_setting "$KEYS/other.crt")'
msgraph_test.other_private_key = '$(pem_setting "$KEYS/other.key")'
msgraph_test.expired_certificate = '$(pem_setting "$KEYS/expired.crt")'
msgraph_test.expired_private_key = '$(pem_setting "$KEYS/expired.key")'
msgraph_test.certificate_file = '$KEYS/app.crt'
msgraph_test.private_key_file = '$KEYS/app.key'
msgraph_test.private_key_encrypted_file = '$KEYS/app-enc.key'
log_min_messages = debug1
# Graph's throttling limits are paced only where a suite asks for it
# (reliability): the other suites send thousands of requests
msgraph_security_fdw.pace_requests = off
CONF
# what must never reach the server log or a test output: every full line
# of base64 of the private keys, and the pass phrase
grep -h -v -e '-----' "$KEYS"/*.key | awk 'length($0) >= 40' > "$WORK/key_lines"
echo "$KEY_PASSWORD" >> "$WORK/key_lines"

# pg_regress runs as postgres and must read sql/ and expected/
mkdir -p "$WORK/input"
cp -r "$TOP/sql" "$TOP/expected" "$WORK/input/"
chown -R postgres: "$WORK"

if [ $# -gt 0 ]; then
    SUITES="$*"
else
    SUITES=$(cat "$TOP/tests/runner/regress_schedule")
fi

PG_REGRESS=$(dirname "$(dirname "$("$PG_CONFIG" --pgxs)")")/test/regress/pg_regress
rc=0
# Proxies in the server's environment must be ignored: the server gets
# them all, pointing at the test proxy, whose log shows what went through
# it (suites that call curl themselves pass --noproxy).
# shellcheck disable=SC2086
runuser -u postgres -- env http_proxy="$PROXY_URL" https_proxy="$PROXY_URL" \
    HTTP_PROXY="$PROXY_URL" HTTPS_PROXY="$PROXY_URL" ALL_PROXY="$PROXY_URL" all_proxy="$PROXY_URL" \
    "$PG_REGRESS" \
    --temp-instance="$WORK/tmp_check" --bindir="${REGRESS_BINDIR:-$("$PG_CONFIG" --bindir)}" \
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
            -e "$ACCESS_TOKEN" \
            -f "$WORK/key_lines" "$WORK/log/postmaster.log" "$WORK/results"/*.out; then
        echo "FAIL: a secret, a key or a bearer token reached the server log or a test output"
        rc=1
    fi
fi
exit $rc
