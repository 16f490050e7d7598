#!/bin/bash
# tests/certs/make_test_certs.sh DIR: the keys and certificates of the certificate
# credential tests, made afresh for every run (none is ever committed).
#
#   app.crt, app.key       RSA 2048 key and self-signed certificate, valid 30 days;
#                          the test run registers app.crt with the emulator
#   app-enc.key            app.key encrypted (PKCS#8, AES-256) with the pass
#                          phrase in app-enc.pass
#   app-costly.key         the same with 2,000,001 PBKDF2 iterations, one
#                          more than the extension accepts
#   other.crt, other.key   a second pair, never registered
#   expired.crt, .key      a pair whose certificate was valid only in 2020
#                          (registered, so that its expiry is what fails)
#
# `openssl req -x509` cannot backdate a certificate, so the expired one is
# self-signed with `openssl ca`, which takes explicit dates.
set -euo pipefail

DIR=$1
mkdir -p "$DIR"
cd "$DIR"
umask 077

for name in app other; do
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.crt" \
        -subj "/CN=msgraph-fdw-test-$name" -days 30 2>/dev/null
done

openssl rand -hex 24 > app-enc.pass
openssl pkcs8 -topk8 -v2 aes-256-cbc -in app.key -out app-enc.key \
    -passout "file:app-enc.pass"
openssl pkcs8 -topk8 -v2 aes-256-cbc -iter 2000001 -in app.key -out app-costly.key \
    -passout "file:app-enc.pass"

mkdir -p ca
: > ca/index.txt
echo 01 > ca/serial
cat > ca/ca.cnf <<'CNF'
[ ca ]
default_ca = test_ca
[ test_ca ]
dir = ca
database = $dir/index.txt
new_certs_dir = $dir
serial = $dir/serial
default_md = sha256
policy = any_name
unique_subject = no
[ any_name ]
commonName = supplied
CNF
openssl req -new -newkey rsa:2048 -nodes -keyout expired.key -out ca/expired.csr \
    -subj "/CN=msgraph-fdw-test-expired" 2>/dev/null
openssl ca -batch -notext -config ca/ca.cnf -selfsign -keyfile expired.key \
    -in ca/expired.csr -out expired.crt \
    -startdate 20200101000000Z -enddate 20210101000000Z 2>/dev/null
rm -rf ca
