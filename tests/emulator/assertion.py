"""Client assertions (private_key_jwt, graph-api.md 7.2): registered certificates
and the checks the identity platform makes before it accepts one.

A certificate is registered for an app (command line --certificate, or POST
/_emulator/certificates) as PEM text.  An assertion is a compact JWT:
base64url header, claims and signature, without padding.  It is accepted
only if all of these hold, checked in this order:

* it is three base64url parts of JSON objects, "alg" is PS256 or RS256
  ("typ", if present, is "JWT"), and the header carries the thumbprint that
  goes with the algorithm: "x5t#S256" (SHA-256 of the certificate's DER
  bytes) for PS256, "x5t" (SHA-1) for RS256 (interface.md pairs them so);
* the thumbprint is that of a certificate registered for the client;
* the certificate is within its validity period now;
* the signature verifies with the certificate's public key: RSASSA-PSS with
  SHA-256, MGF1-SHA256 and exactly 32 bytes of salt for PS256,
  RSASSA-PKCS1-v1_5 with SHA-256 for RS256;
* iss and sub are both the form's client_id;
* aud is the URL of the token endpoint the request was sent to, with the
  emulator's canonical address http://127.0.0.1:PORT (as the identity
  platform wants its own login host, not an alias of it);
* nbf <= now < exp, within a clock skew of five minutes;
* its jti was not seen before in an accepted assertion of that client.

Error codes follow Entra: AADSTS50027 (malformed JWT), 700027 (key not
found, expired, or bad signature; the description names the thumbprint in
hex as Entra does), 700021 (iss/sub), 700023 (aud), 700024 (lifetime).
Entra documents no code for a replayed jti; the emulator answers 50027.

Python's standard library has no RSA, so the signature and the certificate's
public key and dates come from the `openssl` command (OpenSSL 3), with the
PSS parameters given explicitly so that a wrong salt length fails.
"""

import base64
import binascii
import calendar
import hashlib
import json
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
CLOCK_SKEW = 300
THUMBPRINT_HEADER = {"PS256": "x5t#S256", "RS256": "x5t"}
_B64URL = re.compile(r"[A-Za-z0-9_-]*\Z")
_PSS_OPTIONS = ("-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32",
                "-sigopt", "rsa_mgf1_md:sha256")


class Refused(Exception):
    """An assertion the identity platform refuses: status, error, AADSTS, text."""

    def __init__(self, status, error, aadsts, text):
        super().__init__(text)
        self.status = status
        self.error = error
        self.aadsts = aadsts
        self.text = text


class CertificateError(ValueError):
    """A certificate that cannot be registered (the control API's 400)."""


def _malformed(reason):
    return Refused(400, "invalid_request", 50027,
                   "JWT token is invalid or malformed. %s" % reason)


def b64url_decode(text):
    """Bytes of unpadded base64url text; ValueError for anything else."""
    if not isinstance(text, str) or not _B64URL.match(text) or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url_encode(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def split(assertion):
    """(header dict, claims dict, signing input bytes, signature bytes).

    Raises Refused (AADSTS50027) unless the assertion is a compact JWT of
    two JSON objects and a signature, all unpadded base64url.
    """
    parts = assertion.split(".")
    if len(parts) != 3:
        raise _malformed("A JWT has three parts separated by '.'.")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except (ValueError, UnicodeDecodeError):
        raise _malformed("A part is not unpadded base64url of JSON.") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise _malformed("The header and the claims must be JSON objects.")
    return header, claims, (parts[0] + "." + parts[1]).encode("ascii"), signature


def summary(assertion):
    """What the request log shows of an assertion: header and claims, never
    the signature; {"malformed": true} when it cannot be split."""
    try:
        header, claims, _, _ = split(assertion)
    except Refused:
        return {"malformed": True}
    return {"header": header, "claims": claims}


def _openssl(args, data):
    """Run the openssl command; (return code, stdout bytes)."""
    proc = subprocess.run([OPENSSL] + list(args), input=data, capture_output=True,
                          timeout=30, check=False)
    return proc.returncode, proc.stdout


def _openssl_date(text):
    """Epoch seconds of openssl's 'Jan  1 00:00:00 2020 GMT'."""
    return calendar.timegm(time.strptime(text.strip(), "%b %d %H:%M:%S %Y GMT"))


def _entra_date(epoch):
    """Entra's key date form in error texts: '01/31/2026 17:00:39'."""
    return time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(epoch))


@dataclass(frozen=True)
class Certificate:
    """A registered certificate: its thumbprints, validity and public key."""
    client_id: str
    sha1: bytes
    sha256: bytes
    not_before: int             # epoch seconds
    not_after: int
    public_key_path: str        # PEM file for openssl dgst -verify

    def describe(self):
        return {"client_id": self.client_id, "x5t": b64url_encode(self.sha1),
                "x5t#S256": b64url_encode(self.sha256),
                "not_before": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.not_before)),
                "not_after": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.not_after))}

    def found_key(self):
        return "Found key 'Start=%s, End=%s'" % (_entra_date(self.not_before),
                                                 _entra_date(self.not_after))


class CertificateRegistry:
    """Certificates per client, the jti values already used, and verify().

    Public keys are written to a private temporary directory for the openssl
    command; the directory goes when the process exits (or on close()).
    """

    def __init__(self):
        self._dir = tempfile.mkdtemp(prefix="graph-emulator-certs-")
        self._certs = {}            # (client_id, header name, raw digest) -> Certificate
        self._jtis = {}             # (client_id, jti) -> epoch until which it is kept
        self._lock = threading.Lock()

    def close(self):
        shutil.rmtree(self._dir, ignore_errors=True)

    def register(self, client_id, pem):
        """Register a PEM certificate (RSA key) for a client; returns describe()."""
        try:
            der = ssl.PEM_cert_to_DER_cert(pem)
        except (ValueError, TypeError, binascii.Error):
            raise CertificateError("'certificate' is not a PEM certificate") from None
        rc, out = _openssl(["x509", "-inform", "DER", "-noout", "-startdate", "-enddate"],
                           der)
        if rc != 0:
            raise CertificateError("openssl cannot read the certificate")
        dates = dict(line.split("=", 1) for line in out.decode().splitlines() if "=" in line)
        rc, public_key = _openssl(["x509", "-inform", "DER", "-noout", "-pubkey"], der)
        if rc != 0:
            raise CertificateError("openssl cannot read the certificate's public key")
        rc, text = _openssl(["pkey", "-pubin", "-noout", "-text_pub"], public_key)
        if rc != 0 or b"Modulus:" not in text:
            raise CertificateError("the certificate's key is not an RSA key")
        fd, path = tempfile.mkstemp(suffix=".pem", dir=self._dir)
        with os.fdopen(fd, "wb") as f:
            f.write(public_key)
        cert = Certificate(client_id, hashlib.sha1(der).digest(), hashlib.sha256(der).digest(),
                           _openssl_date(dates["notBefore"]), _openssl_date(dates["notAfter"]),
                           path)
        with self._lock:
            self._certs[(client_id, "x5t", cert.sha1)] = cert
            self._certs[(client_id, "x5t#S256", cert.sha256)] = cert
        return cert.describe()

    def listing(self):
        with self._lock:
            certs = {id(c): c for c in self._certs.values()}
        return sorted((c.describe() for c in certs.values()),
                      key=lambda d: (d["client_id"], d["x5t#S256"]))

    def clear(self):
        with self._lock:
            self._certs.clear()

    def verify(self, client_id, assertion, audience, now=None):
        """Accept an assertion for client_id sent to `audience`, or raise Refused."""
        now = time.time() if now is None else now
        header, claims, signing_input, signature = split(assertion)
        alg = header.get("alg")
        if alg not in THUMBPRINT_HEADER:
            raise _malformed("The algorithm %s is not supported: use PS256 or RS256."
                             % json.dumps(alg))
        if header.get("typ", "JWT") != "JWT":
            raise _malformed("The header's typ must be JWT.")
        name = THUMBPRINT_HEADER[alg]
        if name not in header:
            raise _malformed("No certificate thumbprint specified in token header "
                             "(%s needs %s)." % (alg, name))
        try:
            thumbprint = b64url_decode(header[name])
        except ValueError:
            raise _malformed("The %s header is not unpadded base64url." % name) from None
        hex_thumbprint = thumbprint.hex().upper()
        with self._lock:
            cert = self._certs.get((client_id, name, thumbprint))
        if cert is None:
            raise Refused(401, "invalid_client", 700027,
                          "Client assertion contains an invalid signature. [Reason - The key "
                          "was not found., Thumbprint of key used by client: '%s', Please "
                          "visit the Azure Portal, Graph Explorer or directly use MS Graph to "
                          "see configured keys for app Id '%s'.]"
                          % (hex_thumbprint, client_id))
        if not cert.not_before <= now <= cert.not_after:
            raise Refused(401, "invalid_client", 700027,
                          "Client assertion contains an invalid signature. [Reason - The key "
                          "used is expired., Thumbprint of key used by client: '%s', %s]"
                          % (hex_thumbprint, cert.found_key()))
        if not self._signature_ok(cert, alg, signing_input, signature):
            raise Refused(401, "invalid_client", 700027,
                          "Client assertion contains an invalid signature. [Reason - The "
                          "provided signature value did not match the expected signature "
                          "value., Thumbprint of key used by client: '%s', %s]"
                          % (hex_thumbprint, cert.found_key()))
        self._check_claims(client_id, claims, audience, now)

    def _check_claims(self, client_id, claims, audience, now):
        for name, kind in (("aud", (str, list)), ("iss", str), ("sub", str), ("jti", str),
                           ("nbf", int), ("exp", int)):
            value = claims.get(name)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise _malformed("The claim '%s' is missing or of the wrong type." % name)
        if "iat" in claims and (not isinstance(claims["iat"], int)
                                or isinstance(claims["iat"], bool)):
            raise _malformed("The claim 'iat' must be a number of seconds.")
        if claims["iss"] != client_id or claims["sub"] != client_id:
            raise Refused(401, "invalid_client", 700021,
                          "Client assertion application identifier doesn't match "
                          "'client_id' parameter. Review the documentation at "
                          "https://learn.microsoft.com/entra/identity-platform/"
                          "certificate-credentials.")
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if audience not in audiences:
            raise Refused(401, "invalid_client", 700023,
                          "Client assertion audience claim does not match Realm issuer. "
                          "Review the documentation at https://learn.microsoft.com/entra/"
                          "identity-platform/certificate-credentials.")
        if not claims["nbf"] - CLOCK_SKEW <= now < claims["exp"] + CLOCK_SKEW:
            raise Refused(401, "invalid_client", 700024,
                          "Client assertion is not within its valid time range. Current "
                          "time: %s, assertion valid from %s, expiry time of assertion %s."
                          % (_iso(now), _iso(claims["nbf"]), _iso(claims["exp"])))
        key = (client_id, claims["jti"])
        with self._lock:
            for old in [k for k, until in self._jtis.items() if until < now]:
                del self._jtis[old]
            if key in self._jtis:
                raise _malformed("The assertion's jti '%s' was used before: an assertion "
                                 "is accepted once." % claims["jti"])
            self._jtis[key] = claims["exp"] + CLOCK_SKEW

    @staticmethod
    def _signature_ok(cert, alg, signing_input, signature):
        fd, path = tempfile.mkstemp(suffix=".sig", dir=os.path.dirname(cert.public_key_path))
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(signature)
            args = ["dgst", "-sha256", "-verify", cert.public_key_path, "-signature", path]
            if alg == "PS256":
                args += _PSS_OPTIONS
            rc, _ = _openssl(args, signing_input)
            return rc == 0
        finally:
            os.unlink(path)


def _iso(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%S.0000000Z", time.gmtime(epoch))
