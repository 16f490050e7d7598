#!/bin/bash
# tests/certs/make_tls_certs.sh DIR: a throwaway PKI for the HTTPS tests, made
# with the openssl command each time the tests run (nothing here is ever
# committed):
#
#   DIR/ca.crt                 a test CA (basicConstraints CA:TRUE)
#   DIR/server.crt, server.key a server certificate it signed, valid for the
#                              IP address 127.0.0.1 and for the name only the
#                              test proxy resolves (tests/proxy), not for
#                              "localhost": a URL naming it does not match
#   DIR/other-ca.crt           an unrelated CA, which did not sign it
#
# Keys are P-256 (fast to make); certificates are valid for two days.
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"

# shellcheck disable=SC2086
openssl req -x509 $ec -keyout ca.key -out ca.crt -days 2 -subj "/CN=msgraph_security_fdw test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
# shellcheck disable=SC2086
openssl req -x509 $ec -keyout other-ca.key -out other-ca.crt -days 2 -subj "/CN=unrelated test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
# shellcheck disable=SC2086
openssl req $ec -keyout server.key -out server.csr -subj "/CN=127.0.0.1" 2>/dev/null
cat > server.ext <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:graph.proxy-test.invalid
EXT
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
    -extfile server.ext -out server.crt 2>/dev/null
openssl verify -CAfile ca.crt server.crt >/dev/null
rm -f server.csr server.ext ca.srl ca.key other-ca.key
chmod 644 ./*.crt
chmod 600 server.key
