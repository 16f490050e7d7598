"""Self-tests of the Graph emulator: every other test of the project trusts it.

Run:  cd tests/emulator && /usr/bin/python3 -m unittest -v test_emulator

One server runs in a thread on port 0 for the whole module (with the
command line's default counts); each test starts from POST /_emulator/reset.
The tests talk HTTP with http.client, which neither decompresses nor
rewrites URLs, so what they see is what a client gets on the wire.  Filter
results are checked against an independent evaluation of the entities that
GET /_emulator/data returns.  Nothing here depends on timing beyond a few
sleeps of about a second (token expiry, slow and hang faults).
"""

import base64
import gzip
import hashlib
import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import shutil
import unittest
import uuid
import zlib
from urllib.parse import quote, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import graph_emulator   # noqa: E402
import hunting          # noqa: E402
import odata            # noqa: E402
import query            # noqa: E402
import render           # noqa: E402
import schema           # noqa: E402
import server           # noqa: E402
import tenant           # noqa: E402
import timestamps       # noqa: E402

NOW = "2026-06-01T00:00:00Z"
NOW_TICKS = timestamps.parse(NOW)
TENANT = "11111111-2222-3333-4444-555555555555"
ADMIN = ("aaaaaaaa-bbbb-4ccc-8ddd-000000000001", "emu-Secret.Admin~1")
READER = ("aaaaaaaa-bbbb-4ccc-8ddd-000000000002", "emu-Secret.Reader~2")
SCOPE = "https://graph.microsoft.com/.default"
PREFER = {"Prefer": "include-unknown-enum-members"}
PREFER_HEADER = "Prefer: include-unknown-enum-members"
ALERTS, INCIDENTS = "security/alerts_v2", "security/incidents"
SCORES = "security/secureScores"
RISK, RISKY, SPRISK = ("identityProtection/riskDetections", "identityProtection/riskyUsers",
                       "identityProtection/servicePrincipalRiskDetections")
ALL_LISTS = (ALERTS, INCIDENTS, SCORES, RISK, RISKY, SPRISK)
DEFAULT_COUNTS = graph_emulator.counts_from(graph_emulator.parse_args([]))


def enc(value):
    """Percent-encode a query value the way the extension does (space = %20)."""
    return quote(value, safe="'(),:$")


def qs(*pairs):
    return "&".join("%s=%s" % (name, enc(value)) for name, value in pairs)


class Reply:
    """Status, lower-cased headers, raw body and the decoded body."""

    def __init__(self, resp):
        self.status = resp.status
        self.headers = {k.lower(): v for k, v in resp.getheaders()}
        self.raw = resp.read()
        self.body = (gzip.decompress(self.raw)
                     if self.headers.get("content-encoding") == "gzip" else self.raw)

    def json(self):
        return json.loads(self.body)

    def lines(self):
        return [json.loads(line) for line in self.body.decode().splitlines()]


class EmulatorCase(unittest.TestCase):
    """Shared server, token and helpers."""

    @classmethod
    def setUpClass(cls):
        data = tenant.Tenant("42", NOW_TICKS, DEFAULT_COUNTS)
        cls.httpd = server.EmulatorServer(data, quiet=True)
        cls.port = cls.httpd.port
        cls.thread = threading.Thread(target=cls.httpd.serve_forever, daemon=True)
        cls.thread.start()
        cls.token = cls.control_json("POST", "token")["access_token"]
        cls._data = {}

    @classmethod
    def tearDownClass(cls):
        cls.httpd.stop()

    def setUp(self):
        self.control("POST", "reset")

    # --- HTTP helpers ------------------------------------------------------------------
    @classmethod
    def http(cls, method, path, headers=None, body=None, timeout=30):
        conn = http.client.HTTPConnection("127.0.0.1", cls.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            return Reply(conn.getresponse())
        finally:
            conn.close()

    @classmethod
    def control(cls, method, name, obj=None):
        body = None if obj is None else json.dumps(obj)
        return cls.http(method, "/_emulator/" + name, {"Content-Type": "application/json"},
                        body)

    @classmethod
    def control_json(cls, method, name, obj=None):
        return cls.control(method, name, obj).json()

    def get(self, path, headers=None, token=None, prefer=True, version="v1.0"):
        h = {"Authorization": "Bearer " + (token or self.token)}
        if prefer:
            h.update(PREFER)
        h.update(headers or {})
        url = path if path.startswith("/") else "/%s/%s" % (version, path)
        return self.http("GET", url, h)

    def get_json(self, path, **kw):
        reply = self.get(path, **kw)
        self.assertEqual(reply.status, 200, reply.body[:500])
        return reply.json()

    def follow(self, path, **kw):
        """(items of every page, the pages) following nextLinks byte for byte."""
        items, pages = [], []
        url = path
        for _ in range(1000):
            page = self.get_json(url, **kw)
            pages.append(page)
            items.extend(page["value"])
            link = page.get("@odata.nextLink")
            if link is None:
                return items, pages
            split = urlsplit(link)
            self.assertEqual(split.netloc, "127.0.0.1:%d" % self.port)
            url = split.path + ("?" + split.query if split.query else "")
        self.fail("paging did not end")

    def ids(self, path, **kw):
        return [item["id"] for item in self.follow(path, **kw)[0]]

    def data(self, name):
        """Entities of a collection from the control API, default order."""
        if name not in self._data:
            self._data[name] = self.control("GET", "data/v1.0/" + name).lines()
        return self._data[name]

    def assertGraphError(self, reply, status, code=None, message=None):
        self.assertEqual(reply.status, status, reply.body[:400])
        err = reply.json()["error"]
        self.assertEqual(set(err) - {"details"}, {"code", "message", "innerError"})
        if code is not None:
            self.assertEqual(err["code"], code)
        if message is not None:
            self.assertRegex(err["message"], message)
        inner = err["innerError"]
        self.assertRegex(inner["date"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")
        self.assertEqual(inner["request-id"], reply.headers["request-id"])
        self.assertEqual(inner["client-request-id"], reply.headers["client-request-id"])
        return err

    def token_request(self, form, tenant_segment=TENANT, headers=None, method="POST"):
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        h.update(headers or {})
        body = "&".join("%s=%s" % (k, quote(v, safe="")) for k, v in form.items())
        return self.http(method, "/%s/oauth2/v2.0/token" % tenant_segment, h, body)

    @staticmethod
    def form(app=ADMIN, **over):
        f = {"client_id": app[0], "client_secret": app[1], "scope": SCOPE,
             "grant_type": "client_credentials"}
        f.update(over)
        return {k: v for k, v in f.items() if v is not None}


def ticks(text):
    return None if text is None else timestamps.parse(text)


# ======================================================================================
class TestCommandLine(unittest.TestCase):
    """The real entry point as the extension's scripts run it."""

    def test_port_line_options_and_sigterm(self):
        proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "graph_emulator.py"), "--port", "0",
             "--seed", "7", "--alerts", "25", "--incidents", "5", "--secure-scores", "3",
             "--risk-detections", "4", "--risky-users", "2", "--sp-risk-detections", "1",
             "--token-lifetime", "77", "--no-gzip", "--latency-ms", "0", "--now",
             "2025-01-01T00:00:00Z"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            line = proc.stdout.readline().decode()
            self.assertRegex(line, r"^\d+\n$")
            port = int(line)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("POST", "/_emulator/token")
            token = json.loads(conn.getresponse().read())
            self.assertEqual(token["expires_in"], 77)
            conn.request("GET", "/v1.0/security/alerts_v2?$count=true&$top=1",
                         headers={"Authorization": "Bearer " + token["access_token"],
                                  "Accept-Encoding": "gzip"})
            resp = conn.getresponse()
            page = json.loads(resp.read())
            self.assertIsNone(resp.getheader("Content-Encoding"))   # --no-gzip
            self.assertEqual(page["@odata.count"], 25)
            self.assertLess(ticks(page["value"][0]["createdDateTime"]),
                            timestamps.parse("2025-01-01T00:00:00Z"))
            conn.close()
        finally:
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=10)
            proc.stdout.close()
            stderr = proc.stderr.read().decode()
            proc.stderr.close()
        self.assertEqual(rc, 0, stderr)
        self.assertIn("listening on", stderr)

    def test_bad_arguments(self):
        proc = subprocess.run([sys.executable, os.path.join(HERE, "graph_emulator.py"),
                               "--now", "yesterday"], capture_output=True, timeout=10)
        self.assertEqual(proc.returncode, 2)

    def test_certificate_option(self):
        directory = tempfile.mkdtemp(prefix="emu-test-cli-")
        try:
            crt, key = make_certificate(directory, "cli")
            emulator = [sys.executable, os.path.join(HERE, "graph_emulator.py"), "--port", "0",
                        "--alerts", "1", "--incidents", "1", "--no-warmup"]
            proc = subprocess.Popen(emulator + ["--certificate", "%s=%s" % (ADMIN[0], crt)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                port = int(proc.stdout.readline())
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("GET", "/_emulator/certificates")
                listing = json.loads(conn.getresponse().read())
                conn.close()
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=10)
                proc.stdout.close()
                proc.stderr.close()
            self.assertEqual([(c["client_id"], c["x5t#S256"]) for c in listing],
                             [(ADMIN[0], b64url(hashlib.sha256(der_of(crt)).digest()))])
            for arg in ("%s=%s" % ("aaaaaaaa-bbbb-4ccc-8ddd-00000000dead", crt),
                        "%s=%s" % (ADMIN[0], key),
                        "%s=/nonexistent.crt" % ADMIN[0], ADMIN[0]):
                done = subprocess.run(emulator + ["--certificate", arg], capture_output=True,
                                      timeout=60)
                self.assertEqual(done.returncode, 2, arg)
                self.assertEqual(done.stdout, b"", arg)       # never "ready"
        finally:
            shutil.rmtree(directory, ignore_errors=True)


# ======================================================================================
class TestGenerator(unittest.TestCase):
    """Determinism and the shape of generated documents (no HTTP)."""

    @classmethod
    def setUpClass(cls):
        cls.tenant = tenant.Tenant("42", NOW_TICKS, DEFAULT_COUNTS)

    @staticmethod
    def dump(t):
        return {name: b"\n".join(render.EntityRenderer(c).many(range(len(c)), True))
                for name, c in t.collections.items()}

    def test_same_seed_same_bytes(self):
        again = tenant.Tenant("42", NOW_TICKS, DEFAULT_COUNTS)
        self.assertEqual(self.dump(self.tenant), self.dump(again))
        other = tenant.Tenant("43", NOW_TICKS, DEFAULT_COUNTS)
        self.assertNotEqual(self.dump(self.tenant)[ALERTS], self.dump(other)[ALERTS])

    def test_determinism_in_a_fresh_interpreter(self):
        # a new process has another PYTHONHASHSEED: set order must not leak in
        code = ("import sys; sys.path.insert(0, %r); import tenant, render, hashlib;"
                "t = tenant.Tenant('42', %d, {%r: 50, %r: 10});"
                "c = t.collections[%r];"
                "print(hashlib.sha256(b''.join(render.EntityRenderer(c).many("
                "range(len(c)), True))).hexdigest())" % (HERE, NOW_TICKS, ALERTS,
                                                         INCIDENTS, ALERTS))
        digests = {subprocess.run([sys.executable, "-c", code], capture_output=True,
                                  env=dict(os.environ, PYTHONHASHSEED=str(s)),
                                  check=True).stdout for s in (1, 2)}
        self.assertEqual(len(digests), 1)

    def test_counts(self):
        for name, count in DEFAULT_COUNTS.items():
            self.assertEqual(len(self.tenant.collection(name)), count, name)

    def test_properties_order_types_and_nullability(self):
        for resource in schema.RESOURCES:
            optional = resource.directory.optional if resource.directory else ()
            for doc in self.tenant.collection(resource.name).docs:
                keys = [k for k in doc if k != "@odata.type"]
                self.assertEqual(keys, [p.name for p in resource.properties
                                        if p.name in doc or p.name not in optional],
                                 resource.name)
                for prop in resource.properties:
                    if prop.name in doc:
                        self.check_value(resource, prop, doc[prop.name])

    def check_value(self, resource, prop, value):
        where = "%s.%s" % (resource.name, prop.name)
        if value is None:
            self.assertTrue(prop.nullable, where)
            return
        if prop.enum is not None:
            self.assertIn(value, prop.enum, where)
            self.assertNotEqual(value, prop.enum.sentinel, where)
        elif prop.type == schema.DATETIME:
            self.assertRegex(value, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?Z$", where)
            self.assertLess(ticks(value), NOW_TICKS, where)
        elif prop.type in (schema.STRING,):
            self.assertIsInstance(value, str, where)
        elif prop.type == schema.BOOLEAN:
            self.assertIsInstance(value, bool, where)
        elif prop.type in (schema.INT32, schema.INT64):
            self.assertTrue(isinstance(value, int) and not isinstance(value, bool), where)
        elif prop.type == schema.DOUBLE:
            self.assertIsInstance(value, float, where)
        elif prop.type == schema.STRING_COLLECTION:
            self.assertTrue(all(isinstance(v, str) for v in value), where)
        elif prop.type == schema.COMPLEX:
            self.assertIsInstance(value, dict, where)
        else:
            self.assertIsInstance(value, list, where)

    def test_every_nested_timestamp_is_before_now(self):
        stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?Z$")

        def walk(value):
            if isinstance(value, dict):
                for v in value.values():
                    yield from walk(v)
            elif isinstance(value, list):
                for v in value:
                    yield from walk(v)
            elif isinstance(value, str) and stamp.match(value):
                yield value

        seen = 0
        for c in self.tenant.collections.values():
            for doc in c.docs:
                # expiry dates lie ahead by nature (service principals' credentials)
                doc = {k: v for k, v in doc.items()
                       if k not in ("keyCredentials", "passwordCredentials")}
                for text in walk(doc):
                    seen += 1
                    self.assertLess(ticks(text), NOW_TICKS, text)
        self.assertGreater(seen, 3000)

    def test_alerts_and_incidents_always_have_created(self):
        for name in (ALERTS, INCIDENTS):
            for doc in self.tenant.collection(name).docs:
                self.assertIsNotNone(doc["createdDateTime"])

    def test_fractional_digits_mix_mostly_seven(self):
        digits = {}
        for doc in self.tenant.collection(ALERTS).docs:
            m = re.search(r"(?:\.(\d+))?Z$", doc["createdDateTime"])
            n = len(m.group(1) or "")
            digits[n] = digits.get(n, 0) + 1
        self.assertEqual(set(digits), set(range(8)))
        self.assertGreater(digits[7], sum(digits.values()) // 2)

    def test_nulls_where_nullable(self):
        alerts = self.tenant.collection(ALERTS).docs
        for name in ("assignedTo", "classification", "determination", "lastUpdateDateTime"):
            self.assertTrue(any(a[name] is None for a in alerts), name)

    def test_ids(self):
        t = self.tenant
        for a in t.collection(ALERTS).docs:
            self.assertRegex(a["id"], r"^[a-z]{2}\d{18}_-?\d+$")
        for i in t.collection(INCIDENTS).docs:
            self.assertRegex(i["id"], r"^\d+$")
        for name in (RISK, SPRISK):
            for d in t.collection(name).docs:
                self.assertRegex(d["id"], r"^[0-9a-f]{64}$")
        guid = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
        for u in t.collection(RISKY).docs:
            self.assertRegex(u["id"], guid)
        days = [s["id"] for s in t.collection(SCORES).docs]
        self.assertEqual(len(set(days)), len(days))
        for s in t.collection(SCORES).docs:
            self.assertEqual(s["id"], "%s_%s" % (TENANT, s["createdDateTime"][:10]))
        for c in t.collections.values():
            self.assertEqual(len(c.index), len(c))          # unique ids

    def test_evidence_and_pools(self):
        alerts = self.tenant.collection(ALERTS).docs
        types = {e["@odata.type"] for a in alerts for e in a["evidence"]}
        for suffix in ("deviceEvidence", "userEvidence", "fileEvidence", "ipEvidence",
                       "urlEvidence", "processEvidence"):
            self.assertIn("#microsoft.graph.security." + suffix, types)
        devices = [e["deviceDnsName"] for a in alerts for e in a["evidence"]
                   if "deviceDnsName" in e]
        upns = [e["userAccount"]["userPrincipalName"] for a in alerts for e in a["evidence"]
                if e["@odata.type"].endswith("userEvidence")]
        self.assertLess(len(set(devices)), len(devices) // 3)      # shared by several
        self.assertLess(len(set(upns)), len(upns) // 3)

    def test_incident_links(self):
        t = self.tenant
        incidents = t.collection(INCIDENTS)
        for a in t.collection(ALERTS).docs:
            self.assertIn(a["incidentId"], incidents.index)
        linked = sum(len(v) for v in t.incident_alerts.values())
        self.assertEqual(linked, len(t.collection(ALERTS)))

    def test_awkward_text_is_present(self):
        blob = json.dumps([c.docs for c in self.tenant.collections.values()],
                          ensure_ascii=False)
        for needle in ("é", "王", "🚀", "'", '\\"', "\\\\", "%", "&", "#", "+", "/"):
            self.assertIn(needle, blob)
        longest = max(len(a["description"] or "")
                      for a in self.tenant.collection(ALERTS).docs)
        self.assertGreaterEqual(longest, 10_000)
        self.assertLessEqual(longest, 110_000)

    def test_evolvable_members_appear(self):
        t = self.tenant
        self.assertTrue(any(a["serviceSource"] in schema.SERVICE_SOURCE.evolvable
                            for a in t.collection(ALERTS).docs))
        self.assertTrue(any(i["status"] == "awaitingAction"
                            for i in t.collection(INCIDENTS).docs))

    def test_identity_shapes(self):
        t = self.tenant
        for d in t.collection(RISK).docs:
            if d["additionalInfo"] is not None:
                self.assertIsInstance(json.loads(d["additionalInfo"]), list)
            if d["location"] is not None:
                self.assertIn("geoCoordinates", d["location"])
        for s in t.collection(SCORES).docs:
            self.assertTrue(s["controlScores"] and s["averageComparativeScores"])
            self.assertEqual(s["vendorInformation"]["vendor"], "Microsoft")

    def test_large_generation_is_linear(self):
        started = time.monotonic()
        t = tenant.Tenant("42", NOW_TICKS, {ALERTS: 10_000, INCIDENTS: 120})
        elapsed = time.monotonic() - started
        self.assertEqual(len(t.collection(ALERTS)), 10_000)
        self.assertLess(elapsed, 15)    # ~1 s here; 200k must stay under 30 s


# ======================================================================================
class TestTokenEndpoint(EmulatorCase):

    def check_login_error(self, reply, status, error, aadsts):
        self.assertEqual(reply.status, status, reply.body)
        self.assertTrue(reply.headers["content-type"].startswith("application/json"))
        body = reply.json()
        self.assertEqual(body["error"], error)
        self.assertEqual(body["error_codes"], [aadsts])
        self.assertTrue(body["error_description"].startswith("AADSTS%d: " % aadsts))
        self.assertIn("\r\nTrace ID: ", body["error_description"])
        self.assertRegex(body["timestamp"], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$")
        for name in ("trace_id", "correlation_id", "error_uri"):
            self.assertIn(name, body)
        return body

    def test_success(self):
        reply = self.token_request(self.form())
        self.assertEqual(reply.status, 200)
        body = reply.json()
        self.assertEqual(body["token_type"], "Bearer")
        self.assertEqual(body["expires_in"], 3599)
        self.assertEqual(body["ext_expires_in"], 3599)
        self.assertEqual(self.get(ALERTS + "?$top=1", token=body["access_token"]).status, 200)

    def test_tenant_domain_basic_auth_and_clouds(self):
        for scope in ("https://graph.microsoft.us/.default",
                      "https://dod-graph.microsoft.us/.default",
                      "https://microsoftgraph.chinacloudapi.cn/.default"):
            self.assertEqual(self.token_request(self.form(scope=scope)).status, 200, scope)
        self.assertEqual(self.token_request(self.form(), "contoso.onmicrosoft.com").status,
                         200)
        basic = base64.b64encode(("%s:%s" % (ADMIN[0], quote(ADMIN[1]))).encode()).decode()
        reply = self.token_request({"scope": SCOPE, "grant_type": "client_credentials"},
                                   headers={"Authorization": "Basic " + basic})
        self.assertEqual(reply.status, 200, reply.body)

    def test_errors(self):
        self.check_login_error(self.token_request(self.form(client_secret="wrong")),
                               401, "invalid_client", 7000215)
        self.check_login_error(self.token_request(self.form(
            client_id="aaaaaaaa-bbbb-4ccc-8ddd-00000000dead")), 400, "unauthorized_client",
            700016)
        self.check_login_error(self.token_request(self.form(), "no-such-tenant"),
                               400, "invalid_request", 90002)
        self.check_login_error(self.token_request(self.form(scope="https://x.example/.default")),
                               400, "invalid_scope", 70011)
        self.check_login_error(self.token_request(self.form(
            scope="https://graph.microsoft.com/User.Read")), 400, "invalid_scope", 70011)
        self.check_login_error(self.token_request(self.form(grant_type=None)),
                               400, "invalid_request", 900144)
        self.check_login_error(self.token_request(self.form(client_id=None)),
                               400, "invalid_request", 900144)
        self.check_login_error(self.token_request(self.form(scope=None)),
                               400, "invalid_request", 900144)
        self.check_login_error(self.token_request(self.form(client_secret=None)),
                               401, "invalid_client", 7000218)
        self.check_login_error(self.token_request(self.form(grant_type="password")),
                               400, "unsupported_grant_type", 70003)
        self.check_login_error(self.token_request(self.form(), method="GET"),
                               400, "invalid_request", 900561)
        # JSON instead of a form: the grant type cannot be found
        reply = self.http("POST", "/%s/oauth2/v2.0/token" % TENANT,
                          {"Content-Type": "application/json"}, json.dumps(self.form()))
        self.check_login_error(reply, 400, "invalid_request", 900144)

    def test_token_lifetime_config(self):
        self.control("POST", "config", {"token_lifetime": 12})
        self.assertEqual(self.token_request(self.form()).json()["expires_in"], 12)


# ======================================================================================
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
THUMBPRINT_HEADER = {"PS256": "x5t#S256", "RS256": "x5t"}


def openssl(*args, data=None):
    return subprocess.run(("openssl",) + args, input=data, capture_output=True,
                          check=True).stdout


def make_certificate(directory, name, expired=False):
    """(certificate path, key path): a fresh RSA key and its self-signed
    certificate, valid for 30 days from now or (expired) only in 2020."""
    crt, key = (os.path.join(directory, name + ext) for ext in (".crt", ".key"))
    if not expired:
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
                "-subj", "/CN=" + name, "-days", "30")
        return crt, key
    # `openssl req` cannot backdate; `openssl ca` takes explicit dates
    ca = os.path.join(directory, name + "-ca")
    os.mkdir(ca)
    open(os.path.join(ca, "index.txt"), "w").close()
    with open(os.path.join(ca, "serial"), "w") as f:
        f.write("01\n")
    conf = os.path.join(ca, "ca.cnf")
    with open(conf, "w") as f:
        f.write("[ca]\ndefault_ca = c\n[c]\ndir = %s\ndatabase = $dir/index.txt\n"
                "new_certs_dir = $dir\nserial = $dir/serial\ndefault_md = sha256\n"
                "policy = p\nunique_subject = no\n[p]\ncommonName = supplied\n" % ca)
    csr = os.path.join(ca, "req.csr")
    openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
            "-subj", "/CN=" + name)
    openssl("ca", "-batch", "-notext", "-config", conf, "-selfsign", "-keyfile", key,
            "-in", csr, "-out", crt, "-startdate", "20200101000000Z",
            "-enddate", "20210101000000Z")
    return crt, key


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def der_of(crt):
    with open(crt) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def rsa_sign(key, data, padding, saltlen=32):
    args = ["dgst", "-sha256", "-sign", key]
    if padding == "pss":
        args += ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:%d" % saltlen,
                 "-sigopt", "rsa_mgf1_md:sha256"]
    return openssl(*args, data=data)


class CertificateCase(EmulatorCase):
    """Keys and certificates made with openssl for the whole class: "good" and
    "expired" are registered for the admin app, "other" is not."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dir = tempfile.mkdtemp(prefix="emu-test-certs-")
        cls.good = make_certificate(cls.dir, "good")
        cls.other = make_certificate(cls.dir, "other")
        cls.expired = make_certificate(cls.dir, "expired", expired=True)
        for crt, _ in (cls.good, cls.expired):
            with open(crt) as f:
                reply = cls.control("POST", "certificates",
                                    {"client_id": ADMIN[0], "certificate": f.read()})
            assert reply.status == 200, reply.body

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def audience(self, tenant_segment=TENANT, host="127.0.0.1"):
        return "http://%s:%d/%s/oauth2/v2.0/token" % (host, self.port, tenant_segment)

    def assertion(self, pair=None, alg="PS256", header=None, claims=None, drop=(),
                  padding=None, saltlen=32, key=None, client=ADMIN):
        """A client assertion: by default a correct PS256 one for the admin app,
        signed with pair's key (or `key`), thumbprint of pair's certificate."""
        crt, pair_key = pair or self.good
        der = der_of(crt)
        h = {"alg": alg, "typ": "JWT"}
        if alg in THUMBPRINT_HEADER:
            digest = hashlib.sha256 if alg == "PS256" else hashlib.sha1
            h[THUMBPRINT_HEADER[alg]] = b64url(digest(der).digest())
        now = int(time.time())
        c = {"aud": self.audience(), "iss": client[0], "sub": client[0],
             "jti": str(uuid.uuid4()), "nbf": now, "iat": now, "exp": now + 600}
        h.update(header or {})
        c.update(claims or {})
        for name in drop:
            h.pop(name, None)
            c.pop(name, None)
        signing_input = (b64url(json.dumps(h).encode()) + "." +
                         b64url(json.dumps(c).encode()))
        padding = padding or ("pkcs1" if alg == "RS256" else "pss")
        signature = rsa_sign(key or pair_key, signing_input.encode(), padding, saltlen)
        return signing_input + "." + b64url(signature)

    def assertion_request(self, assertion, tenant_segment=TENANT, **over):
        form = self.form(client_secret=None, client_assertion=assertion,
                         client_assertion_type=JWT_BEARER)
        form.update(over)
        return self.token_request({k: v for k, v in form.items() if v is not None},
                                  tenant_segment)


class TestClientAssertion(CertificateCase):
    """private_key_jwt: every check of assertion.py, each failing alone."""

    check_login_error = TestTokenEndpoint.check_login_error

    def test_ps256_and_rs256_are_accepted(self):
        for alg in ("PS256", "RS256"):
            reply = self.assertion_request(self.assertion(alg=alg))
            self.assertEqual(reply.status, 200, reply.body)
            token = reply.json()["access_token"]
            self.assertEqual(self.get(ALERTS + "?$top=1", token=token).status, 200)
        # the domain name of the tenant works when the audience names it too
        reply = self.assertion_request(
            self.assertion(claims={"aud": self.audience("contoso.onmicrosoft.com")}),
            "contoso.onmicrosoft.com")
        self.assertEqual(reply.status, 200, reply.body)
        # an audience list holding the endpoint
        reply = self.assertion_request(self.assertion(
            claims={"aud": ["https://example.invalid/", self.audience()]}))
        self.assertEqual(reply.status, 200, reply.body)

    def test_request_log_shows_header_and_claims_not_the_signature(self):
        assertion = self.assertion()
        self.assertion_request(assertion)
        entry = self.control("GET", "requests").lines()[0]
        self.assertEqual(entry["kind"], "token")
        self.assertEqual(entry["scope"], SCOPE)
        self.assertEqual(entry["form"]["client_assertion_type"], JWT_BEARER)
        self.assertEqual(set(entry["assertion"]["header"]), {"alg", "typ", "x5t#S256"})
        self.assertEqual(entry["assertion"]["claims"]["iss"], ADMIN[0])
        self.assertNotIn(assertion.split(".")[2], json.dumps(entry))
        self.assertion_request("not-a-jwt")
        self.assertEqual(self.control("GET", "requests").lines()[1]["assertion"],
                         {"malformed": True})

    def test_registration(self):
        listing = self.control_json("GET", "certificates")
        self.assertEqual(len(listing), 2)
        good = [c for c in listing if c["x5t#S256"] == b64url(
            hashlib.sha256(der_of(self.good[0])).digest())]
        self.assertEqual(len(good), 1)
        self.assertEqual(good[0]["x5t"], b64url(hashlib.sha1(der_of(self.good[0])).digest()))
        self.assertEqual(good[0]["client_id"], ADMIN[0])
        self.assertIn({"client_id": ADMIN[0], "not_before": "2020-01-01T00:00:00Z",
                       "not_after": "2021-01-01T00:00:00Z"},
                      [{k: c[k] for k in ("client_id", "not_before", "not_after")}
                       for c in listing])
        with open(self.other[0]) as f:
            pem = f.read()
        for body in ({"client_id": ADMIN[0], "certificate": "no pem"},
                     {"client_id": "aaaaaaaa-bbbb-4ccc-8ddd-00000000dead", "certificate": pem},
                     {"client_id": ADMIN[0]},
                     {"client_id": ADMIN[0], "certificate": pem, "extra": 1}):
            self.assertEqual(self.control("POST", "certificates", body).status, 400, body)
        with open(self.other[1]) as f:           # a key is not a certificate
            body = {"client_id": ADMIN[0], "certificate": f.read()}
        self.assertEqual(self.control("POST", "certificates", body).status, 400)
        self.assertEqual(len(self.control_json("GET", "certificates")), 2)

    def test_malformed(self):
        good = self.assertion()
        head, claims, sig = good.split(".")
        for text in ("a.b.c", head + "." + claims, good + ".x", head + "=." + claims + "." + sig,
                     b64url(b"[1]") + "." + claims + "." + sig, "not-a-jwt"):
            self.check_login_error(self.assertion_request(text), 400, "invalid_request", 50027)
        for kwargs in ({"alg": "HS256"}, {"alg": "none"}, {"drop": ("alg",)},
                       {"header": {"typ": "JWS"}},
                       {"drop": ("x5t#S256",)}):
            body = self.check_login_error(self.assertion_request(self.assertion(**kwargs)),
                                          400, "invalid_request", 50027)
            self.assertIn("JWT token is invalid or malformed", body["error_description"])
        # the thumbprint header must be the algorithm's
        x5t = b64url(hashlib.sha1(der_of(self.good[0])).digest())
        x5t256 = b64url(hashlib.sha256(der_of(self.good[0])).digest())
        for alg, header, drop in (("PS256", {"x5t": x5t}, ("x5t#S256",)),
                                  ("RS256", {"x5t#S256": x5t256}, ("x5t",))):
            body = self.check_login_error(self.assertion_request(
                self.assertion(alg=alg, header=header, drop=drop)), 400, "invalid_request",
                50027)
            self.assertIn("No certificate thumbprint", body["error_description"])
        for name in ("aud", "iss", "sub", "jti", "nbf", "exp"):
            self.check_login_error(self.assertion_request(self.assertion(drop=(name,))),
                                   400, "invalid_request", 50027)
        for claims in ({"nbf": str(int(time.time()))}, {"exp": True}, {"iat": "now"},
                       {"jti": 7}):
            self.check_login_error(self.assertion_request(self.assertion(claims=claims)),
                                   400, "invalid_request", 50027)
        self.check_login_error(self.assertion_request(good, client_assertion_type="jwt"),
                               400, "invalid_request", 50027)
        self.check_login_error(self.assertion_request(good, client_secret=ADMIN[1]),
                               400, "invalid_request", 50027)

    def test_unknown_certificate(self):
        body = self.check_login_error(self.assertion_request(self.assertion(self.other)),
                                      401, "invalid_client", 700027)
        thumbprint = hashlib.sha256(der_of(self.other[0])).hexdigest().upper()
        self.assertIn("The key was not found., Thumbprint of key used by client: '%s'"
                      % thumbprint, body["error_description"])
        # registered for another app only
        body = self.check_login_error(self.assertion_request(
            self.assertion(client=READER), client_id=READER[0]), 401, "invalid_client", 700027)
        self.assertIn("The key was not found", body["error_description"])

    def test_signature(self):
        cases = (
            {"key": self.other[1]},                         # another key
            {"saltlen": 20},                                # PSS with a 20-byte salt
            {"padding": "pkcs1"},                           # PS256 signed as RS256
            {"alg": "RS256", "padding": "pss"},             # RS256 signed as PS256
        )
        for kwargs in cases:
            body = self.check_login_error(self.assertion_request(self.assertion(**kwargs)),
                                          401, "invalid_client", 700027)
            self.assertIn("The provided signature value did not match",
                          body["error_description"], kwargs)
            self.assertIn("Found key 'Start=", body["error_description"])
        # claims changed after signing
        head, claims, sig = self.assertion().split(".")
        forged = json.loads(base64.urlsafe_b64decode(claims + "=="))
        forged["exp"] += 3600
        text = head + "." + b64url(json.dumps(forged).encode()) + "." + sig
        self.check_login_error(self.assertion_request(text), 401, "invalid_client", 700027)

    def test_expired_certificate(self):
        body = self.check_login_error(self.assertion_request(self.assertion(self.expired)),
                                      401, "invalid_client", 700027)
        self.assertIn("The key used is expired", body["error_description"])
        self.assertIn("Found key 'Start=01/01/2020 00:00:00, End=01/01/2021 00:00:00'",
                      body["error_description"])

    def test_issuer_and_subject(self):
        other = "aaaaaaaa-bbbb-4ccc-8ddd-000000000002"
        for claims in ({"iss": other}, {"sub": other}):
            self.check_login_error(self.assertion_request(self.assertion(claims=claims)),
                                   401, "invalid_client", 700021)

    def test_audience(self):
        for aud in (self.audience(host="localhost"),
                    self.audience("contoso.onmicrosoft.com"),
                    "http://127.0.0.1:%d/%s/oauth2/token" % (self.port, TENANT),
                    "https://login.microsoftonline.com/%s/oauth2/v2.0/token" % TENANT,
                    ["https://example.invalid/"]):
            body = self.check_login_error(self.assertion_request(
                self.assertion(claims={"aud": aud})), 401, "invalid_client", 700023)
            self.assertIn("audience claim does not match Realm issuer",
                          body["error_description"])

    def test_lifetime(self):
        now = int(time.time())
        for claims in ({"nbf": now - 1000, "exp": now - 400},     # expired beyond the skew
                       {"nbf": now + 400, "exp": now + 1000}):    # not yet valid
            body = self.check_login_error(self.assertion_request(
                self.assertion(claims=claims)), 401, "invalid_client", 700024)
            self.assertIn("Client assertion is not within its valid time range",
                          body["error_description"])
        # within the five minutes of clock skew
        reply = self.assertion_request(self.assertion(claims={"nbf": now + 100,
                                                              "exp": now - 100 + 600}))
        self.assertEqual(reply.status, 200, reply.body)

    def test_replayed_jti(self):
        assertion = self.assertion()
        self.assertEqual(self.assertion_request(assertion).status, 200)
        body = self.check_login_error(self.assertion_request(assertion), 400,
                                      "invalid_request", 50027)
        self.assertIn("was used before", body["error_description"])
        jti = json.loads(base64.urlsafe_b64decode(assertion.split(".")[1] + "=="))["jti"]
        self.check_login_error(self.assertion_request(self.assertion(claims={"jti": jti})),
                               400, "invalid_request", 50027)
        # a refused assertion does not use up its jti
        fresh = str(uuid.uuid4())
        self.assertion_request(self.assertion(claims={"jti": fresh, "iss": READER[0]}))
        self.assertEqual(self.assertion_request(
            self.assertion(claims={"jti": fresh})).status, 200)


# ======================================================================================
class TestManagedIdentity(EmulatorCase):
    """The instance metadata service's managed identity endpoint."""

    SYSTEM = "aaaaaaaa-bbbb-4ccc-8ddd-0000000000a0"
    USER = "aaaaaaaa-bbbb-4ccc-8ddd-0000000000a1"
    PATH = "/metadata/identity/oauth2/token"

    def imds(self, params=None, headers=None, method="GET"):
        p = {"api-version": "2018-02-01", "resource": "https://graph.microsoft.com/"}
        p.update(params or {})
        query = "&".join("%s=%s" % (k, quote(v, safe=":/")) for k, v in p.items()
                         if v is not None)
        h = {"Metadata": "true"}
        h.update(headers or {})
        return self.http(method, self.PATH + "?" + query, {k: v for k, v in h.items()
                                                           if v is not None})

    def check_imds_error(self, reply, status, error, description=None):
        self.assertEqual(reply.status, status, reply.body)
        body = reply.json()
        self.assertEqual(set(body), {"error", "error_description"})
        self.assertEqual(body["error"], error)
        if description is not None:
            self.assertIn(description, body["error_description"])

    def test_system_assigned(self):
        reply = self.imds()
        self.assertEqual(reply.status, 200, reply.body)
        body = reply.json()
        for name in ("expires_in", "expires_on", "ext_expires_in", "not_before"):
            self.assertIsInstance(body[name], str, name)
        self.assertEqual(body["expires_in"], "3599")
        self.assertAlmostEqual(int(body["expires_on"]), time.time() + 3599, delta=5)
        self.assertEqual((body["token_type"], body["resource"], body["client_id"]),
                         ("Bearer", "https://graph.microsoft.com/", self.SYSTEM))
        self.assertEqual(body["refresh_token"], "")
        for path in ALL_LISTS:
            self.assertEqual(self.get(path + "?$top=1", token=body["access_token"]).status,
                             200, path)

    def test_user_assigned(self):
        object_id = "bbbbbbbb-cccc-4ddd-8eee-0000000000a1"
        res_id = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/"
                  "emulator/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"
                  "emu-scores-reader")
        for params in ({"client_id": self.USER}, {"object_id": object_id},
                       {"msi_res_id": res_id}):
            reply = self.imds(params)
            self.assertEqual(reply.status, 200, reply.body)
            self.assertEqual(reply.json()["client_id"], self.USER)
        token = reply.json()["access_token"]
        self.assertEqual(self.get(SCORES + "?$top=1", token=token).status, 200)
        self.assertGraphError(self.get(INCIDENTS, token=token), 403, "Forbidden")

    def test_errors(self):
        self.check_imds_error(self.imds(headers={"Metadata": None}), 400, "bad_request_102",
                              "Required metadata header not specified")
        self.check_imds_error(self.imds(headers={"Metadata": "True"}), 400,
                              "bad_request_102")
        self.check_imds_error(self.imds(headers={"X-Forwarded-For": "10.0.0.1"}), 400,
                              "invalid_request", "X-Forwarded-For")
        self.check_imds_error(self.imds(method="POST"), 405, "invalid_request")
        self.check_imds_error(self.imds({"api-version": None}), 400, "invalid_request",
                              "api-version")
        self.check_imds_error(self.imds({"api-version": "2099-01-01"}), 400,
                              "invalid_request", "api-version")
        self.check_imds_error(self.imds({"resource": None}), 400, "invalid_request",
                              "resource")
        self.check_imds_error(self.imds({"resource": "https://management.azure.com/"}), 400,
                              "invalid_resource", "AADSTS500011")
        self.check_imds_error(self.imds({"client_id": "aaaaaaaa-bbbb-4ccc-8ddd-00000000dead"}),
                              400, "invalid_request", "Identity not found")
        self.check_imds_error(self.imds({"client_id": self.USER,
                                         "object_id": "bbbbbbbb-cccc-4ddd-8eee-0000000000a1"}),
                              400, "invalid_request", "Only one of")
        reply = self.http("GET", self.PATH + "?api-version=2018-02-01&api-version=2018-02-01"
                          "&resource=https://graph.microsoft.com/", {"Metadata": "true"})
        self.check_imds_error(reply, 400, "invalid_request", "more than once")

    def test_clouds_and_request_log(self):
        for resource in ("https://graph.microsoft.us", "https://dod-graph.microsoft.us/",
                         "https://microsoftgraph.chinacloudapi.cn/"):
            self.assertEqual(self.imds({"resource": resource}).status, 200, resource)
        self.imds(headers={"Metadata": None})
        entries = self.control("GET", "requests").lines()
        self.assertEqual([e["kind"] for e in entries], ["managed_identity"] * 4)
        self.assertEqual([e["scope"] for e in entries],
                         ["https://graph.microsoft.us/.default",
                          "https://dod-graph.microsoft.us/.default",
                          "https://microsoftgraph.chinacloudapi.cn/.default",
                          "https://graph.microsoft.com/.default"])
        self.assertEqual(entries[0]["headers"]["metadata"], "true")
        self.assertNotIn("metadata", entries[3]["headers"])
        self.assertEqual(entries[0]["params"]["api-version"], "2018-02-01")
        self.assertEqual([e["status"] for e in entries], [200, 200, 200, 400])

    def test_faults_and_lifetime(self):
        self.control("POST", "faults", {"match": {"kind": "managed_identity"},
                                        "action": "status", "status": 503})
        self.check_imds_error(self.imds(), 503, "temporarily_unavailable")
        self.assertEqual(self.imds().status, 200)
        self.assertEqual(self.control("POST", "faults", {"match": {"kind": "nope"},
                                                         "action": "reset"}).status, 400)
        self.control("POST", "config", {"token_lifetime": 12})
        self.assertEqual(self.imds().json()["expires_in"], "12")


# ======================================================================================
class TestGraphAuth(EmulatorCase):

    def test_missing_unknown_and_other_schemes(self):
        for headers in ({}, {"Authorization": "Bearer "},
                        {"Authorization": "Basic abc"}, {"Authorization": "Bearer nope"}):
            reply = self.http("GET", "/v1.0/" + ALERTS, headers)
            self.assertGraphError(reply, 401, "InvalidAuthenticationToken")
            self.assertIn("www-authenticate", reply.headers)

    def test_expired(self):
        self.control("POST", "config", {"token_lifetime": 1})
        token = self.control_json("POST", "token")["access_token"]
        self.assertEqual(self.get(ALERTS + "?$top=1", token=token).status, 200)
        time.sleep(1.1)
        self.assertGraphError(self.get(ALERTS, token=token), 401,
                              "InvalidAuthenticationToken", "expired")

    def test_revoked(self):
        token = self.control_json("POST", "token")["access_token"]
        self.control("POST", "revoke-tokens")
        self.assertGraphError(self.get(ALERTS, token=token), 401,
                              "InvalidAuthenticationToken", "revoked")
        type(self).token = self.control_json("POST", "token")["access_token"]
        self.assertEqual(self.get(ALERTS + "?$top=1").status, 200)

    def test_reader_permissions(self):
        token = self.token_request(self.form(READER)).json()["access_token"]
        self.assertEqual(self.get(ALERTS + "?$top=1", token=token).status, 200)
        for path in (INCIDENTS, SCORES, RISK, RISKY, SPRISK):
            err = self.assertGraphError(self.get(path, token=token), 403, "Forbidden")
            self.assertIn(schema.RESOURCES_BY_NAME[path].read_roles[0], err["message"])


# ======================================================================================
class TestRoutingAndEnvelope(EmulatorCase):

    def test_every_list_and_get_in_both_versions(self):
        for version in ("v1.0", "beta"):
            for path in ALL_LISTS:
                page = self.get_json(path, version=version)
                self.assertEqual(page["@odata.context"], "http://127.0.0.1:%d/%s/$metadata#%s"
                                 % (self.port, version, path))
                self.assertEqual(list(page)[-1], "value")
                first = page["value"][0]
                entity = self.get_json("%s/%s" % (path, quote(first["id"])), version=version)
                self.assertTrue(entity.pop("@odata.context").endswith(path + "/$entity"))
                self.assertEqual(entity, first)

    def test_odata_type_on_security_items(self):
        for path, suffix in ((ALERTS, "alert"), (INCIDENTS, "incident")):
            for item in self.get_json(path)["value"]:
                self.assertEqual(item["@odata.type"], "#microsoft.graph.security." + suffix)
                self.assertEqual(list(item)[:2], ["@odata.type", "id"])

    def test_not_found(self):
        self.assertGraphError(self.get(ALERTS + "/da000_1"), 404, "NotFound")
        self.assertGraphError(self.get(INCIDENTS + "/999999/alerts"), 404, "NotFound")
        self.assertGraphError(self.get("security/nothing"), 404, None, "nothing")
        self.assertGraphError(self.get(ALERTS + "/x/y/z"), 404)
        self.assertGraphError(self.get("/v2.0/" + ALERTS), 404)
        self.assertGraphError(self.get("/elsewhere"), 404)

    def test_other_methods_are_405(self):
        h = {"Authorization": "Bearer " + self.token, "Content-Type": "application/json"}
        for method in ("POST", "DELETE", "PUT"):
            reply = self.http(method, "/v1.0/%s/%s" % (ALERTS, self.data(ALERTS)[0]["id"]), h,
                              "{}")
            self.assertGraphError(reply, 405)
            self.assertEqual(reply.headers["allow"], "GET, PATCH")
        for method in ("PATCH", "POST", "DELETE"):
            reply = self.http(method, "/v1.0/%s/%s" % (RISK, self.data(RISK)[0]["id"]), h, "{}")
            self.assertGraphError(reply, 405)
            self.assertEqual(reply.headers["allow"], "GET")
        reply = self.http("GET", "/v1.0/%s/dismiss" % RISKY, h)
        self.assertGraphError(reply, 405)
        self.assertEqual(reply.headers["allow"], "POST")

    def test_headers(self):
        reply = self.get(ALERTS + "?$top=3", headers={"client-request-id": "abc-123"})
        h = reply.headers
        self.assertEqual(h["content-type"], server.GRAPH_CONTENT_TYPE)
        self.assertEqual(h["client-request-id"], "abc-123")
        self.assertRegex(h["request-id"], r"^[0-9a-f-]{36}$")
        self.assertIn("ServerInfo", json.loads(h["x-ms-ags-diagnostic"]))
        self.assertIn("date", h)
        self.assertEqual(int(h["content-length"]), len(reply.raw))
        other = self.get(ALERTS + "?$top=3")
        self.assertNotEqual(other.headers["request-id"], h["request-id"])
        self.assertEqual(other.headers["client-request-id"], other.headers["request-id"])

    def test_gzip(self):
        plain = self.get(ALERTS + "?$top=50")
        zipped = self.get(ALERTS + "?$top=50", headers={"Accept-Encoding": "gzip, deflate"})
        self.assertNotIn("content-encoding", plain.headers)
        self.assertEqual(zipped.headers["content-encoding"], "gzip")
        self.assertEqual(int(zipped.headers["content-length"]), len(zipped.raw))
        self.assertLess(len(zipped.raw), len(plain.raw) // 2)
        self.assertEqual(zipped.body, plain.body)
        refused = self.get(ALERTS + "?$top=5", headers={"Accept-Encoding": "gzip;q=0, br"})
        self.assertNotIn("content-encoding", refused.headers)
        star = self.get(ALERTS + "?$top=5", headers={"Accept-Encoding": "*"})
        self.assertEqual(star.headers["content-encoding"], "gzip")

    def test_gzip_of_large_pages(self):
        # above render.PARALLEL_GZIP_BYTES the body is compressed in two halves
        plain = self.get(ALERTS + "?$top=2000")
        self.assertGreater(len(plain.raw), render.PARALLEL_GZIP_BYTES)
        zipped = self.get(ALERTS + "?$top=2000", headers={"Accept-Encoding": "gzip"})
        self.assertEqual(zipped.body, plain.body)
        inflater = zlib.decompressobj(31)
        streamed = b"".join(inflater.decompress(zipped.raw[i:i + 4096])
                            for i in range(0, len(zipped.raw), 4096)) + inflater.flush()
        self.assertEqual(streamed, plain.body)
        self.assertTrue(inflater.eof and not inflater.unused_data)
        again = self.get(ALERTS + "?$top=2000", headers={"Accept-Encoding": "gzip"})
        self.assertEqual(again.raw, zipped.raw)                  # cached, deterministic

    @unittest.skipUnless(shutil.which("curl"), "curl not installed")
    def test_gzip_through_libcurl(self):
        url = "http://127.0.0.1:%d/v1.0/%s?$top=2000" % (self.port, ALERTS)
        auth = "Authorization: Bearer " + self.token
        out = subprocess.run(["curl", "-sS", "--compressed", "-H", auth, "-H",
                              PREFER_HEADER, "-w", "\n%{size_download}", url],
                             capture_output=True, check=True).stdout
        body, _, downloaded = out.rpartition(b"\n")
        self.assertEqual(body, self.get(ALERTS + "?$top=2000").body)
        self.assertLess(int(downloaded), len(body) // 3)        # it was compressed

    def test_head_and_connection_close(self):
        reply = self.http("HEAD", "/v1.0/" + ALERTS, {"Authorization": "Bearer " + self.token})
        self.assertEqual((reply.status, reply.raw), (405, b""))
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("GET", "/v1.0/%s?$top=1" % ALERTS, headers={
            "Authorization": "Bearer " + self.token, "Connection": "close"})
        resp = conn.getresponse()
        self.assertEqual(resp.getheader("Connection"), "close")
        self.assertEqual(len(resp.read()), int(resp.getheader("Content-Length")))
        conn.close()

    def test_keep_alive(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        h = {"Authorization": "Bearer " + self.token}
        try:
            for _ in range(5):
                conn.request("GET", "/v1.0/%s?$top=10" % ALERTS, headers=h)
                resp = conn.getresponse()
                self.assertEqual(resp.status, 200)
                resp.read()
                self.assertFalse(resp.will_close)
            sock = conn.sock
            conn.request("GET", "/v1.0/%s?$top=1" % ALERTS, headers=h)
            conn.getresponse().read()
            self.assertIs(conn.sock, sock)
        finally:
            conn.close()

    def test_error_json_shape(self):
        reply = self.get(ALERTS + "?$top=0", headers={"client-request-id": "cr-1"})
        err = self.assertGraphError(reply, 400, "BadRequest")
        self.assertEqual(err["innerError"]["client-request-id"], "cr-1")
        self.assertTrue(err["innerError"]["date"].startswith("2026-06-01T00:"))


# ======================================================================================
class TestPaging(EmulatorCase):

    def test_default_page_sizes(self):
        expected = {ALERTS: 100, INCIDENTS: 50, RISK: 20, RISKY: 60, SPRISK: 40, SCORES: 90}
        for path, size in expected.items():
            self.assertEqual(len(self.get_json(path)["value"]), size, path)

    def test_top_caps(self):
        caps = {ALERTS: 2000, INCIDENTS: 50, RISK: 500, RISKY: 500, SPRISK: 100, SCORES: 100}
        for path, cap in caps.items():
            self.assertEqual(self.get(path + "?$top=%d" % cap).status, 200, path)
            self.assertGraphError(self.get(path + "?$top=%d" % (cap + 1)), 400)
            for bad in ("0", "-1", "abc", "1.5", ""):
                self.assertGraphError(self.get(path + "?$top=" + bad), 400)

    def test_incidents_top_error_is_verbatim(self):
        err = self.assertGraphError(self.get(INCIDENTS + "?$top=100"), 400, "")
        self.assertEqual(err["message"], "The query specified in the URI is not valid. The "
                         "limit of '50' for Top query has been exceeded. The value from the "
                         "incoming request is '100'.")

    def test_security_next_links_keep_options_and_add_skip(self):
        path = ALERTS + "?" + qs(("$top", "7"), ("$select", "id,severity"),
                                 ("$filter", "severity ne 'low'"))
        page = self.get_json(path)
        link = page["@odata.nextLink"]
        self.assertTrue(link.startswith("http://127.0.0.1:%d/v1.0/%s?" % (self.port, ALERTS)))
        self.assertEqual(link.split("?", 1)[1], path.split("?", 1)[1] + "&$skip=7")
        items, pages = self.follow(path)
        expected = [a["id"] for a in self.data(ALERTS) if a["severity"] != "low"]
        self.assertEqual([i["id"] for i in items], expected)
        self.assertNotIn("@odata.nextLink", pages[-1])
        self.assertTrue(all(len(p["value"]) == 7 for p in pages[:-1]))

    def test_identity_next_links_use_skiptoken(self):
        for path in (RISK, RISKY, SPRISK):
            url = path + "?$top=7&$select=id"
            page = self.get_json(url)
            link = page["@odata.nextLink"]
            self.assertRegex(link, r"\?\$top=7&\$select=id&\$skiptoken=[A-Za-z0-9_-]+$")
            items, _ = self.follow(url)
            self.assertEqual([i["id"] for i in items], [d["id"] for d in self.data(path)])

    def test_skiptoken_is_checked(self):
        link = self.get_json(RISK + "?$top=5")["@odata.nextLink"]
        token = link.rsplit("$skiptoken=", 1)[1]
        self.assertGraphError(self.get(RISK + "?$top=5&$skiptoken=garbage"), 400)
        self.assertGraphError(self.get(RISK + "?$top=6&$skiptoken=" + token), 400)
        self.assertEqual(self.get(RISK + "?$top=5&$skiptoken=" + token).status, 200)
        self.assertGraphError(self.get(ALERTS + "?$skiptoken=" + token), 400)

    def test_follow_every_list_whole(self):
        for path in ALL_LISTS:
            self.assertEqual(self.ids(path), [d["id"] for d in self.data(path)], path)

    def test_skip(self):
        all_ids = [a["id"] for a in self.data(ALERTS)]
        self.assertEqual([a["id"] for a in self.get_json(ALERTS + "?$skip=295")["value"]],
                         all_ids[295:])
        self.assertEqual(self.get_json(ALERTS + "?$skip=5000")["value"], [])
        for path in (RISK, RISKY, SPRISK):
            self.assertGraphError(self.get(path + "?$skip=1"), 400)
        self.assertGraphError(self.get(ALERTS + "?$skip=-1"), 400)

    def test_empty_pages(self):
        self.control("POST", "config", {"empty_pages": True})
        for path in (ALERTS + "?$top=40", RISK + "?$top=40"):
            items, pages = self.follow(path)
            sizes = [len(p["value"]) for p in pages]
            self.assertEqual(sizes[1::2], [0] * (len(sizes) // 2), path)
            self.assertNotEqual(sizes[0], 0)
            self.assertNotEqual(sizes[-1], 0)
            name = path.split("?")[0]
            self.assertEqual([i["id"] for i in items], [d["id"] for d in self.data(name)])

    def test_default_orders(self):
        for path in (ALERTS, INCIDENTS, SCORES):
            docs = self.data(path)
            keys = [(ticks(d["createdDateTime"]), d["id"]) for d in docs]
            self.assertEqual(keys, sorted(keys, reverse=True), path)


# ======================================================================================
class TestQueryOptions(EmulatorCase):

    def test_select_everywhere(self):
        for path in ALL_LISTS:
            resource = schema.RESOURCES_BY_NAME[path]
            name = resource.properties[-1].name
            page = self.get_json(path + "?$select=" + name)
            for item in page["value"]:
                expected = {"id", name} | ({"@odata.type"} if resource.odata_type else set())
                self.assertEqual(set(item), expected, path)
            self.assertTrue(page["@odata.context"].endswith("(%s)" % name))
            self.assertGraphError(self.get(path + "?$select=noSuchProperty"), 400)
            self.assertGraphError(self.get(path + "?$select=id,,title"), 400)
        entity_id = self.data(ALERTS)[0]["id"]
        one = self.get_json("%s/%s?$select=title,severity" % (ALERTS, entity_id))
        self.assertEqual(set(one), {"@odata.context", "@odata.type", "id", "title", "severity"})

    def test_select_values_match_full(self):
        full = self.get_json(ALERTS + "?$top=20")["value"]
        part = self.get_json(ALERTS + "?$top=20&$select=severity,evidence")["value"]
        for f, p in zip(full, part):
            self.assertEqual(p["evidence"], f["evidence"])
            self.assertEqual(p["severity"], f["severity"])

    def test_count(self):
        for path in (ALERTS, INCIDENTS, RISKY, SCORES):
            page = self.get_json(path + "?$count=true&$top=2")
            self.assertEqual(list(page)[:2], ["@odata.context", "@odata.count"])
            self.assertEqual(page["@odata.count"], len(self.data(path)))
            second = self.get_json(urlsplit(page["@odata.nextLink"]).path + "?" +
                                   urlsplit(page["@odata.nextLink"]).query)
            self.assertNotIn("@odata.count", second)
            self.assertNotIn("@odata.count", self.get_json(path + "?$count=false"))
            self.assertGraphError(self.get(path + "?$count=yes"), 400)
        filtered = self.get_json(ALERTS + "?$count=true&$top=1&" +
                                 qs(("$filter", "severity eq 'high'")))
        self.assertEqual(filtered["@odata.count"],
                         sum(a["severity"] == "high" for a in self.data(ALERTS)))
        for path in (RISK, SPRISK):
            self.assertGraphError(self.get(path + "?$count=true"), 400)

    def test_orderby(self):
        for path, props in ((ALERTS, ("createdDateTime", "lastUpdateDateTime")),
                            (INCIDENTS, ("createdDateTime", "lastUpdateDateTime")),
                            (SCORES, ("createdDateTime",))):
            docs = self.data(path)
            for prop in props:
                for direction in ("", " asc", " desc"):
                    got = self.ids(path + "?$top=37&" + qs(("$orderby", prop + direction)))
                    # OData: null sorts first ascending; ties by id, same direction
                    key = sorted(docs, key=lambda d: (d[prop] is not None,
                                                      ticks(d[prop]) or 0, d["id"]))
                    if direction == " desc":
                        key.reverse()
                    self.assertEqual(got, [d["id"] for d in key], path + prop + direction)
        ties = {}
        for a in self.data(ALERTS):
            ties.setdefault(a["createdDateTime"], []).append(a["id"])
        self.assertTrue(any(len(v) > 1 for v in ties.values()), "no ties generated")
        for bad in ("title", "createdDateTime sideways", "createdDateTime desc,id",
                    "createdDateTime  asc  x"):
            self.assertGraphError(self.get(ALERTS + "?" + qs(("$orderby", bad))), 400, None)
        self.assertGraphError(self.get(SCORES + "?$orderby=lastUpdateDateTime"), 400)
        for path in (RISK, RISKY, SPRISK):
            self.assertGraphError(self.get(path + "?$orderby=id"), 400)

    def test_expand_alerts(self):
        alerts = {a["id"]: a for a in self.data(ALERTS)}
        page = self.get_json(INCIDENTS + "?$expand=alerts&$top=10")
        for incident in page["value"]:
            self.assertEqual(list(incident)[-1], "alerts")
            for a in incident["alerts"]:
                self.assertEqual(a["incidentId"], incident["id"])
                self.assertEqual(a, alerts[a["id"]])
            expected = [a["id"] for a in alerts.values() if a["incidentId"] == incident["id"]]
            self.assertEqual([a["id"] for a in incident["alerts"]], expected)
            nav = self.ids("%s/%s/alerts" % (INCIDENTS, incident["id"]))
            self.assertEqual(nav, expected)
        one = self.get_json("%s/%s?$expand=alerts&$select=status" % (
            INCIDENTS, page["value"][0]["id"]))
        self.assertEqual(set(one), {"@odata.context", "@odata.type", "id", "status", "alerts"})
        self.assertNotIn("alerts", self.get_json(INCIDENTS)["value"][0])
        for bad in (INCIDENTS + "?$expand=comments", ALERTS + "?$expand=alerts",
                    INCIDENTS + "?$expand=alerts($select=id)"):
            self.assertGraphError(self.get(bad), 400)

    def test_incident_alerts_navigation_paging(self):
        busiest = max(self.httpd.tenant.incident_alerts.items(), key=lambda kv: len(kv[1]))
        path = "%s/%s/alerts?$top=1" % (INCIDENTS, busiest[0])
        page = self.get_json(path)
        self.assertTrue(page["@odata.context"].endswith(
            "#security/incidents('%s')/alerts" % busiest[0]))
        ids = self.ids(path)
        self.assertEqual(len(ids), len(busiest[1]))
        mine = [a for a in self.data(ALERTS) if a["incidentId"] == busiest[0]]
        self.assertEqual(ids, [a["id"] for a in mine])
        ordered = self.ids(path + "&$orderby=lastUpdateDateTime%20asc&$filter=" +
                           enc("severity ne 'low'"))
        key = sorted((a for a in mine if a["severity"] != "low"),
                     key=lambda a: (a["lastUpdateDateTime"] is not None,
                                    ticks(a["lastUpdateDateTime"]) or 0, a["id"]))
        self.assertEqual(ordered, [a["id"] for a in key])

    def test_unknown_and_repeated_options(self):
        for bad in ("$search=x", "$format=json", "$Top=1", "$top=1&$top=2", "$apply=x"):
            self.assertGraphError(self.get(ALERTS + "?" + bad), 400)
        self.assertEqual(self.get(ALERTS + "?foo=bar&$top=1").status, 200)

    def test_single_entity_refuses_list_options(self):
        entity_id = self.data(ALERTS)[0]["id"]
        for name, value in (("$top", "1"), ("$filter", "status eq 'new'"),
                            ("$count", "true"), ("$skip", "1"),
                            ("$orderby", "createdDateTime")):
            self.assertGraphError(self.get("%s/%s?%s" % (ALERTS, entity_id,
                                                         qs((name, value)))), 400)


# ======================================================================================
class TestFilter(EmulatorCase):
    """$filter results against an independent evaluation of the data dump."""

    def check(self, path, text, predicate, **kw):
        top = schema.RESOURCES_BY_NAME[path].top_max
        got = self.ids(path + "?$top=%d&" % top + qs(("$filter", text)), **kw)
        expected = [d["id"] for d in self.data(path) if predicate(d)]
        self.assertEqual(got, expected, text)
        return got

    def rejects(self, path, text, **kw):
        return self.assertGraphError(self.get(path + "?" + qs(("$filter", text)), **kw),
                                     400, "BadRequest", "^Invalid filter clause")

    def test_enum_and_string_equality(self):
        self.assertTrue(self.check(ALERTS, "severity eq 'high'",
                                   lambda a: a["severity"] == "high"))
        self.check(ALERTS, "status ne 'resolved'", lambda a: a["status"] != "resolved")
        self.check(INCIDENTS, "status eq 'active' and severity eq 'high'",
                   lambda i: i["status"] == "active" and i["severity"] == "high")
        self.check(ALERTS, "severity eq microsoft.graph.security.alertSeverity'low'",
                   lambda a: a["severity"] == "low")
        self.check(RISKY, "riskLevel eq microsoft.graph.riskLevel'medium'",
                   lambda u: u["riskLevel"] == "medium")
        self.check(ALERTS, "'high' eq severity", lambda a: a["severity"] == "high")

    def test_quotes_unicode_and_special_characters(self):
        self.check(ALERTS, "assignedTo eq 'siobhan.o''brien@contoso.com'",
                   lambda a: a["assignedTo"] == "siobhan.o'brien@contoso.com")
        self.assertTrue(self.check(ALERTS, "assignedTo eq 'ops+sec@contoso.com'",
                                   lambda a: a["assignedTo"] == "ops+sec@contoso.com"))
        self.assertTrue(self.check(RISK, "userDisplayName eq 'Ops & Sec #1 (50% + 50%)'",
                                   lambda d: d["userDisplayName"] == "Ops & Sec #1 (50% + 50%)"))
        self.assertTrue(self.check(RISK, "userDisplayName eq '王小明'",
                                   lambda d: d["userDisplayName"] == "王小明"))
        # a raw '+' is a space after decoding, so this names nobody
        reply = self.get(ALERTS + "?$filter=assignedTo%20eq%20'ops+sec@contoso.com'")
        self.assertEqual(reply.json()["value"], [])
        spaced = self.get(ALERTS + "?$filter=severity+eq+'high'&$top=2000").json()["value"]
        self.assertEqual(len(spaced), sum(a["severity"] == "high" for a in self.data(ALERTS)))

    def test_in_and_or_not_parentheses(self):
        self.check(ALERTS, "severity in ('high', 'medium')",
                   lambda a: a["severity"] in ("high", "medium"))
        self.check(ALERTS, "severity eq 'high' or severity eq 'low' and status eq 'new'",
                   lambda a: a["severity"] == "high" or (a["severity"] == "low"
                                                         and a["status"] == "new"))
        self.check(ALERTS, "(severity eq 'high' or severity eq 'low') and status eq 'new'",
                   lambda a: a["severity"] in ("high", "low") and a["status"] == "new")
        self.check(ALERTS, "not (status eq 'new')", lambda a: a["status"] != "new")
        self.check(ALERTS, "not(severity in ('high','low')) and not (assignedTo eq null)",
                   lambda a: a["severity"] not in ("high", "low") and a["assignedTo"] is not None)
        self.check(INCIDENTS, "(assignedTo eq null and status ne 'redirected') or "
                   "(classification eq 'truePositive')",
                   lambda i: (i["assignedTo"] is None and i["status"] != "redirected")
                   or i["classification"] == "truePositive")
        self.rejects(ALERTS, "not status eq 'new'")     # not binds tighter than eq

    def test_nulls(self):
        self.assertTrue(self.check(ALERTS, "assignedTo eq null", lambda a: a["assignedTo"] is None))
        self.check(ALERTS, "classification ne null", lambda a: a["classification"] is not None)
        self.check(ALERTS, "assignedTo ne 'soc1@contoso.com'",
                   lambda a: a["assignedTo"] != "soc1@contoso.com")     # nulls included
        self.check(ALERTS, "classification in ('unknown', null)",
                   lambda a: a["classification"] in ("unknown", None))
        self.assertTrue(any(a["lastUpdateDateTime"] is None for a in self.data(ALERTS)))
        self.check(ALERTS, "lastUpdateDateTime gt 2000-01-01T00:00:00Z",
                   lambda a: a["lastUpdateDateTime"] is not None)
        self.check(ALERTS, "not (lastUpdateDateTime gt 2000-01-01T00:00:00Z)",
                   lambda a: a["lastUpdateDateTime"] is None)
        self.rejects(ALERTS, "lastUpdateDateTime gt null")

    def test_timestamps_at_full_precision(self):
        alert = next(a for a in self.data(ALERTS)
                     if re.search(r"\.\d{7}Z$", a["createdDateTime"]))
        t = ticks(alert["createdDateTime"])
        as_text = timestamps.format_ticks

        def cmp(op, value):
            return self.ids(ALERTS + "?$top=2000&" + qs(("$filter", "createdDateTime %s %s"
                                                         % (op, value))))

        exact = as_text(t)
        self.assertIn(alert["id"], cmp("ge", exact))
        self.assertNotIn(alert["id"], cmp("gt", exact))
        self.assertIn(alert["id"], cmp("le", exact))
        self.assertNotIn(alert["id"], cmp("ge", as_text(t + 1)))       # 100 ns later
        self.assertIn(alert["id"], cmp("lt", as_text(t + 1)))
        self.assertIn(alert["id"], cmp("eq", exact))
        # the same instant written with an offset ('+' percent-encoded)
        shifted = timestamps.format_ticks(t + 2 * 3600 * 10**7)[:-1] + "+02:00"
        self.assertIn(alert["id"], cmp("eq", shifted))
        lo, hi = "2026-03-01T00:00:00Z", "2026-04-01T00:00:00.5Z"
        self.check(ALERTS, "createdDateTime ge %s and createdDateTime lt %s" % (lo, hi),
                   lambda a: ticks(lo) <= ticks(a["createdDateTime"]) < ticks(hi))
        for literal in ("2026-03-01T00:00Z", "2026-03-01T00:00:00.1234567Z",
                        "2026-03-01T00:00:00.1-05:30"):
            self.assertEqual(self.get(ALERTS + "?" + qs(("$filter", "createdDateTime ge "
                                                         + literal))).status, 200, literal)
        for bad in ("2026-03-01", "2026-03-01T00:00:00.12345678Z", "'2026-03-01T00:00:00Z'",
                    "2026-13-01T00:00:00Z", "2026-03-01T00:00:00z"):
            self.rejects(ALERTS, "createdDateTime ge " + bad)
        # a raw '+' offset decodes to a space: 400, as from Graph
        reply = self.get(ALERTS + "?$filter=createdDateTime%20ge%202026-03-01T00:00:00+01:00")
        self.assertGraphError(reply, 400)

    def test_lambdas(self):
        device = "ws-017.contoso.local"
        got = self.check(ALERTS, "evidence/any(e: e/microsoft.graph.security.deviceEvidence/"
                         "deviceDnsName eq '%s')" % device,
                         lambda a: any(e.get("deviceDnsName") == device for e in a["evidence"]
                                       if e["@odata.type"].endswith("deviceEvidence")))
        self.assertGreater(len(got), 1)
        upn = "jose.muller@contoso.com"
        got = self.check(ALERTS, "evidence/any(x:x/microsoft.graph.security.userEvidence/"
                         "userAccount/userPrincipalName eq '%s')" % upn,
                         lambda a: any(e["userAccount"]["userPrincipalName"] == upn
                                       for e in a["evidence"]
                                       if e["@odata.type"].endswith("userEvidence")))
        self.assertGreater(len(got), 1)
        self.check(ALERTS, "not evidence/any(e: e/microsoft.graph.security.deviceEvidence/"
                   "deviceDnsName eq '%s') and severity eq 'high'" % device,
                   lambda a: a["severity"] == "high" and not any(
                       e.get("deviceDnsName") == device for e in a["evidence"]))
        for bad in ("evidence/any(e: e/microsoft.graph.security.fileEvidence/fileDetails/"
                    "fileName eq 'a.exe')",
                    "evidence/any(e: e/microsoft.graph.security.deviceEvidence/deviceDnsName "
                    "ne 'x')",
                    "evidence/all(e: e/microsoft.graph.security.deviceEvidence/deviceDnsName "
                    "eq 'x')",
                    "evidence/any()", "mitreTechniques/any(t: t eq 'T1078')"):
            self.rejects(ALERTS, bad)
        self.rejects(INCIDENTS, "evidence/any(e: e/microsoft.graph.security.deviceEvidence/"
                     "deviceDnsName eq 'x')")

    def test_filterable_properties(self):
        samples = {ALERTS: "investigationState eq 'running'", INCIDENTS: "displayName eq 'x'",
                   RISK: "riskState eq 'atRisk'", RISKY: "riskState eq 'atRisk'",
                   SPRISK: "appId eq 'x'", SCORES: "currentScore gt 3"}
        for path, text in samples.items():
            self.rejects(path, text)
        self.rejects(ALERTS, "noSuch eq 'x'")
        self.rejects(ALERTS, "location/city eq 'x'")
        self.check(RISK, "riskEventType eq 'unlikelyTravel' or riskLevel eq 'high'",
                   lambda d: d["riskEventType"] == "unlikelyTravel" or d["riskLevel"] == "high")
        self.check(RISK, "detectionTimingType eq 'offline'",
                   lambda d: d["detectionTimingType"] == "offline")
        sp = next(d for d in self.data(SPRISK) if d["requestId"] is not None)
        self.check(SPRISK, "servicePrincipalId eq '%s'" % sp["servicePrincipalId"],
                   lambda d: d["servicePrincipalId"] == sp["servicePrincipalId"])
        self.check(SPRISK, "requestId eq '%s'" % sp["requestId"],
                   lambda d: d["requestId"] == sp["requestId"])
        self.check(RISKY, "riskDetail eq 'userPassedMFADrivenByRiskBasedPolicy'",
                   lambda u: u["riskDetail"] == "userPassedMFADrivenByRiskBasedPolicy")
        day = self.data(SCORES)[3]["createdDateTime"]
        self.check(SCORES, "createdDateTime ge %s" % day, lambda s: ticks(
            s["createdDateTime"]) >= ticks(day))

    def test_type_errors(self):
        for text in ("severity eq 'High'", "severity eq 'critical'", "severity gt 'low'",
                     "severity eq 3", "assignedTo gt 'a'", "assignedTo eq 5",
                     "createdDateTime eq 'x'", "status eq microsoft.graph.riskLevel'low'",
                     "severity eq severity", "'a' eq 'a'", "true", "severity",
                     "startswith(title,'x')", "severity has 'x'", "severity eq",
                     "(severity eq 'high'", "severity eq 'high')", "severity eq 'x''",
                     "severity eq 'high' and", "", "severity EQ 'high'",
                     "createdDateTime ge 5f0e1c2a-0000-4000-8000-000000000001",
                     "severity in ()", "severity eq 'high' xor status eq 'new'"):
            self.rejects(ALERTS, text)

    def test_evolvable_literal_needs_prefer(self):
        text = "serviceSource eq 'microsoftSentinel'"
        self.rejects(ALERTS, text, prefer=False)
        self.assertTrue(self.check(ALERTS, text,
                                   lambda a: a["serviceSource"] == "microsoftSentinel"))
        self.rejects(INCIDENTS, "status eq 'awaitingAction'", prefer=False)
        self.assertEqual(self.ids(ALERTS + "?$top=2000&" + qs(
            ("$filter", "serviceSource eq 'unknownFutureValue'"))), [])

    def test_case_insensitive_switch(self):
        text = "assignedTo eq 'soc1@contoso.com'"
        exact = self.check(ALERTS, text, lambda a: a["assignedTo"] == "soc1@contoso.com")
        self.control("POST", "config", {"case_insensitive": True})
        folded = self.check(ALERTS, text, lambda a: (a["assignedTo"] or "").lower()
                            == "soc1@contoso.com")
        self.assertTrue(exact and set(exact) < set(folded))     # SOC1@Contoso.com joins
        self.check(ALERTS, "assignedTo in ('SOC1@CONTOSO.COM')",
                   lambda a: (a["assignedTo"] or "").lower() == "soc1@contoso.com")
        self.check(ALERTS, "assignedTo ne 'SOC1@contoso.com'",
                   lambda a: (a["assignedTo"] or "").lower() != "soc1@contoso.com")
        device = "ws-upper.contoso.local"
        self.assertTrue(self.check(ALERTS, "evidence/any(e: e/microsoft.graph.security."
                                   "deviceEvidence/deviceDnsName eq '%s')" % device,
                                   lambda a: any(e.get("deviceDnsName", "").lower() == device
                                                 for e in a["evidence"])))
        self.rejects(ALERTS, "severity eq 'HIGH'")      # enums stay exact

    def test_strict_switch(self):
        self.control("POST", "config", {"strict": True})
        self.check(ALERTS, "severity eq 'high' and createdDateTime gt 2026-01-01T00:00:00Z",
                   lambda a: a["severity"] == "high"
                   and ticks(a["createdDateTime"]) > ticks("2026-01-01T00:00:00Z"))
        self.check(ALERTS, "status in ('new', 'inProgress')",
                   lambda a: a["status"] in ("new", "inProgress"))
        for text in ("severity ne 'high'", "not (severity eq 'high')",
                     "severity eq 'high' or severity eq 'low'", "assignedTo eq null",
                     "classification in ('unknown', null)",
                     "evidence/any(e: e/microsoft.graph.security.deviceEvidence/"
                     "deviceDnsName eq 'x')"):
            self.rejects(ALERTS, text)


class TestFilterUnits(unittest.TestCase):
    """The parser on its own."""

    def test_precedence(self):
        tree = odata.parse("a eq 1 or b eq 2 and not c gt 3")
        self.assertEqual(tree[0], "or")
        self.assertEqual(tree[2][0], "and")
        self.assertEqual(tree[2][2], ("cmp", "gt", ("not", ("path", ["c"])), ("lit", "int", 3)))

    def test_literals(self):
        tree = odata.parse("x in ('it''s', -5, 2.5e3, true, null, "
                           "microsoft.graph.riskLevel'low', 2024-01-01T00:00:00.5Z)")
        kinds = [(lit[1], lit[2]) for lit in tree[2]]
        self.assertEqual(kinds, [("str", "it's"), ("int", -5), ("double", 2500.0),
                                 ("bool", True), ("null", None),
                                 ("enum", ("microsoft.graph.riskLevel", "low")),
                                 ("datetime", timestamps.parse("2024-01-01T00:00:00.5Z"))])

    def test_cursor_round_trip(self):
        raw = query.split_query("$top=5&$filter=a%20eq%201")
        token = query.encode_cursor(10, False, query.query_fingerprint(raw))
        self.assertEqual(query.decode_cursor(token, raw), {"offset": 10, "empty": False})


# ======================================================================================
class TestEvolvableEnums(EmulatorCase):

    def test_without_prefer_starred_become_sentinel(self):
        alerts = {a["id"]: a for a in self.data(ALERTS)}      # with Prefer
        page = self.get(ALERTS + "?$top=2000", prefer=False)
        self.assertNotIn("preference-applied", page.headers)
        changed = 0
        for a in page.json()["value"]:
            original = alerts[a["id"]]
            if original["serviceSource"] in schema.SERVICE_SOURCE.evolvable:
                self.assertEqual(a["serviceSource"], "unknownFutureValue")
                changed += 1
            else:
                self.assertEqual(a["serviceSource"], original["serviceSource"])
            for e, o in zip(a["evidence"], original["evidence"]):
                if o["remediationStatus"] in schema.EVIDENCE_REMEDIATION_STATUS.evolvable:
                    self.assertEqual(e["remediationStatus"], "unknownFutureValue")
        self.assertGreater(changed, 0)
        incidents = self.get_json(INCIDENTS + "?$top=50", prefer=False)["value"]
        self.assertNotIn("awaitingAction", [i["status"] for i in incidents])
        sp = self.get_json(SPRISK, prefer=False)["value"]
        self.assertIn("unknownFutureValue", [d["activity"] for d in sp])
        risk = self.get_json(RISK + "?$top=500", prefer=False)["value"]
        self.assertIn("UnknownFutureValue", [d["tokenIssuerType"] for d in risk])

    def test_with_prefer(self):
        reply = self.get(ALERTS + "?$top=2000")
        self.assertEqual(reply.headers["preference-applied"], "include-unknown-enum-members")
        sources = {a["serviceSource"] for a in reply.json()["value"]}
        self.assertTrue(sources & schema.SERVICE_SOURCE.evolvable)
        both = self.get(ALERTS + "?$top=1", headers={
            "Prefer": "odata.maxpagesize=5, include-unknown-enum-members"})
        self.assertIn("preference-applied", both.headers)


# ======================================================================================
class TestControlApi(EmulatorCase):

    def test_health_config_and_reset(self):
        self.assertEqual(self.control_json("GET", "health"), {"ok": True})
        config = self.control_json("POST", "config", {"latency_ms": 5, "strict": True})
        self.assertEqual(config, {"latency_ms": 5, "case_insensitive": False, "strict": True,
                                  "empty_pages": False, "token_lifetime": 3599,
                                  "hunting_delay_ms": 0, "hunting_timeout_ms": 180000,
                                  "throttle": False, "throttle_security_per_minute": 150,
                                  "throttle_secure_score_concurrency": 4,
                                  "throttle_hunting_per_minute": 45,
                                  "throttle_identity_per_second": 1,
                                  "directory_case_sensitive": False,
                                  "managed_devices_ignore_filter": False,
                                  "delta_replay": False,
                                  "throttle_directory_units_per_10s": -1,
                                  "throttle_intune_per_20s": 2000,
                                  "throttle_intune_tenant_per_20s": 4000})
        self.assertEqual(self.control("POST", "config", {"nope": 1}).status, 400)
        self.assertEqual(self.control("POST", "config", {"strict": 1}).status, 400)
        self.assertEqual(self.control("POST", "config", {"latency_ms": -1}).status, 400)
        self.control("POST", "faults", {"action": "status", "status": 503})
        self.get(ALERTS + "?$top=1")
        self.control("POST", "reset")
        self.assertEqual(self.control_json("GET", "config")["strict"], False)
        self.assertEqual(self.control_json("GET", "faults"), [])
        self.assertEqual(self.control("GET", "requests").body, b"")
        self.assertEqual(self.get(ALERTS + "?$top=1").status, 200)   # token survived

    def test_latency(self):
        self.control("POST", "config", {"latency_ms": 300})
        started = time.monotonic()
        self.get(ALERTS + "?$top=1")
        self.assertGreaterEqual(time.monotonic() - started, 0.3)

    def test_request_log(self):
        self.token_request(self.form(), headers={"User-Agent": "ua/1"})
        raw_query = "$top=3&$filter=severity%20eq%20'high'&$select=id,title"
        reply = self.get(ALERTS + "?" + raw_query, headers={
            "client-request-id": "c-1", "Accept-Encoding": "gzip", "User-Agent": "fdw/0.1"})
        self.get(ALERTS + "/nope")
        self.http("GET", "/v1.0/" + ALERTS)
        self.control("GET", "health")
        entries = self.control("GET", "requests").lines()
        self.assertEqual([e["seq"] for e in entries], [1, 2, 3, 4])
        token, page, missing, anonymous = entries
        self.assertEqual(token["kind"], "token")
        self.assertEqual(token["form"], {"client_id": ADMIN[0], "scope": SCOPE,
                                         "grant_type": "client_credentials"})
        self.assertEqual(token["scope"], SCOPE)
        self.assertEqual((token["status"], token["rows"]), (200, 1))
        self.assertEqual(token["authorization"], "none")
        self.assertNotIn(ADMIN[1], json.dumps(entries))
        self.assertNotIn(self.token, json.dumps(entries))
        self.assertEqual(page["kind"], "graph")
        self.assertEqual(page["method"], "GET")
        self.assertEqual(page["path"], "/v1.0/" + ALERTS)
        self.assertEqual(page["query"], raw_query)
        self.assertEqual(page["params"], {"$top": "3", "$filter": "severity eq 'high'",
                                          "$select": "id,title"})
        self.assertEqual(page["headers"], {"prefer": "include-unknown-enum-members",
                                           "client-request-id": "c-1",
                                           "accept-encoding": "gzip", "user-agent": "fdw/0.1"})
        self.assertEqual(page["authorization"], "bearer")
        self.assertEqual((page["status"], page["rows"], page["bytes"]),
                         (200, 3, len(reply.raw)))
        self.assertEqual((missing["status"], missing["rows"]), (404, 0))
        self.assertEqual((anonymous["status"], anonymous["authorization"]), (401, "none"))
        self.assertEqual(entries[0], json.loads(self.control("GET", "requests").body
                                                .split(b"\n")[0]))

    def test_data_dump(self):
        lines = self.control("GET", "data/v1.0/" + ALERTS).body.split(b"\n")
        incidents = self.control("GET", "data/beta/" + INCIDENTS).lines()
        self.assertEqual(self.control("GET", "data/v1.0/security/nothing").status, 404)
        self.assertEqual(self.control("GET", "requests").body, b"")     # not logged
        self.assertEqual(lines[-1], b"")
        page = self.get(ALERTS + "?$top=2000").body
        self.assertIn(b",".join(lines[:-1]), page)
        self.assertTrue(all("alerts" not in i for i in incidents))

    def test_unknown_control(self):
        self.assertEqual(self.control("GET", "nothing").status, 404)
        self.assertEqual(self.control("GET", "reset").status, 405)


# ======================================================================================
class TestFaults(EmulatorCase):

    def fault(self, **spec):
        reply = self.control("POST", "faults", spec)
        self.assertEqual(reply.status, 200, reply.body)
        return reply.json()

    def test_status_with_retry_after(self):
        self.fault(action="status", status=429, retry_after="2.5",
                   match={"path_prefix": "/v1.0/" + ALERTS})
        reply = self.get(ALERTS)
        err = self.assertGraphError(reply, 429, "TooManyRequests")
        self.assertEqual(reply.headers["retry-after"], "2.5")
        self.assertEqual(err["message"], "Please retry again later.")
        self.assertEqual(self.get(ALERTS).status, 200)
        self.fault(action="status", status=503, code="", message="busy")
        err = self.assertGraphError(self.get(INCIDENTS), 503, "", "busy")
        self.assertNotIn("retry-after", self.get(INCIDENTS).headers)

    def test_query_contains(self):
        # a fault can single out requests by their query, e.g. $expand=alerts
        self.fault(action="status", status=500, times=5,
                   match={"path_prefix": "/v1.0/" + INCIDENTS, "query_contains": "$expand=alerts"})
        self.assertEqual(self.get(INCIDENTS + "?$top=2").status, 200)
        self.assertEqual(self.get(INCIDENTS + "?$top=2&$expand=alerts").status, 500)
        self.assertEqual(self.control("POST", "faults", {"action": "reset",
                                                         "match": {"query_contains": 3}}).status, 400)

    def test_after_times_order_and_matching(self):
        self.fault(action="status", status=500, after=1, times=2,
                   match={"method": "GET", "kind": "graph", "path_prefix": "/v1.0/security"})
        self.fault(action="status", status=502)
        statuses = [self.get(ALERTS + "?$top=1").status for _ in range(5)]
        # 1st passes the first fault and is taken by the second; then two 500s
        self.assertEqual(statuses, [502, 500, 500, 200, 200])
        self.fault(action="status", status=503, match={"kind": "token"})
        self.assertEqual(self.get(ALERTS + "?$top=1").status, 200)
        reply = self.token_request(self.form())
        self.assertEqual(reply.status, 503)
        self.assertIn("error_codes", reply.json())
        pending = self.fault(action="status", status=504, match={"path_prefix": "/beta/"})
        self.assertEqual(self.control_json("GET", "faults"), pending)
        self.assertEqual(self.get(ALERTS + "?$top=1").status, 200)
        self.assertEqual(self.get(ALERTS + "?$top=1", version="beta").status, 504)
        log = self.control("GET", "requests").lines()
        self.assertEqual(log[0]["fault"], "status")

    def test_bad_fault_specs(self):
        for spec in ({"action": "explode"}, {"action": "status"}, {"action": "slow"},
                     {"action": "reset", "times": 0}, {"action": "reset", "match": {"x": 1}},
                     {"action": "reset", "whatever": 1}, [{"action": "reset"}, {}]):
            self.assertEqual(self.control("POST", "faults", spec).status, 400, spec)
        self.assertEqual(self.control_json("GET", "faults"), [])

    def test_reset(self):
        self.fault(action="reset")
        with self.assertRaises((ConnectionError, http.client.RemoteDisconnected)):
            self.get(ALERTS)
        self.assertEqual(self.get(ALERTS + "?$top=1").status, 200)
        entry = self.control("GET", "requests").lines()[0]
        self.assertEqual((entry["status"], entry["bytes"]), (0, 0))

    def test_slow(self):
        self.fault(action="slow", delay_ms=400)
        started = time.monotonic()
        self.assertEqual(self.get(ALERTS + "?$top=1").status, 200)
        self.assertGreaterEqual(time.monotonic() - started, 0.4)

    def test_hang(self):
        self.fault(action="hang")
        with self.assertRaises(socket.timeout):
            self.http("GET", "/v1.0/" + ALERTS, {"Authorization": "Bearer " + self.token},
                      timeout=0.5)
        self.assertEqual(self.get(ALERTS + "?$top=1").status, 200)
        for _ in range(50):                       # the hung handler notices the close
            entry = self.control("GET", "requests").lines()[0]
            if entry["status"] is not None:
                break
            time.sleep(0.1)
        self.assertEqual(entry["status"], 0)

    def test_truncate(self):
        self.fault(action="truncate")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("GET", "/v1.0/%s?$top=20" % ALERTS,
                     headers={"Authorization": "Bearer " + self.token})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        length = int(resp.getheader("Content-Length"))
        with self.assertRaises(http.client.IncompleteRead) as caught:
            resp.read()
        self.assertEqual(len(caught.exception.partial), length // 2)
        conn.close()
        entry = self.control("GET", "requests").lines()[0]
        self.assertEqual(entry["bytes"], length // 2)

    def test_malformed_and_html(self):
        self.fault(action="malformed")
        reply = self.get(ALERTS)
        self.assertEqual(reply.status, 200)
        with self.assertRaises(ValueError):
            json.loads(reply.body)
        self.fault(action="html")
        reply = self.get(ALERTS)
        self.assertEqual(reply.status, 502)
        self.assertTrue(reply.headers["content-type"].startswith("text/html"))
        self.assertIn(b"<html>", reply.body)

    def test_next_link_faults(self):
        self.fault(action="wrong_host_nextlink")
        page = self.get_json(ALERTS + "?$top=5")
        self.assertTrue(page["@odata.nextLink"].startswith(
            "http://127.0.0.2:%d/v1.0/%s?$top=5&$skip=5" % (self.port, ALERTS)))
        self.fault(action="loop_nextlink")
        path = "/v1.0/%s?$top=5&$skip=10" % ALERTS
        page = self.get_json(path)
        self.assertEqual(page["@odata.nextLink"], "http://127.0.0.1:%d%s" % (self.port, path))
        # the cache must not keep the faulted page
        self.assertNotEqual(self.get_json(path)["@odata.nextLink"], page["@odata.nextLink"])



# ======================================================================================
class WriteCase(EmulatorCase):
    """Helpers for writes; every test starts from the generated data."""

    def setUp(self):
        super().setUp()
        self.assertEqual(self.control("POST", "restore").status, 200)

    def send(self, method, path, obj=None, token=None, prefer=True, raw=None,
             content_type="application/json"):
        h = {"Authorization": "Bearer " + (token or self.token)}
        if content_type:
            h["Content-Type"] = content_type
        if prefer:
            h.update(PREFER)
        body = raw if raw is not None else (None if obj is None else json.dumps(obj))
        return self.http(method, "/v1.0/" + path, h, body)

    def current(self, path):
        return self.get_json(path)

    def reader_token(self):
        return self.token_request(self.form(READER)).json()["access_token"]

    def settled_log(self):
        """The request log once every entry is complete: the server records
        status and rows just after the response went out, so a client can
        read its answer a moment before that."""
        for _ in range(100):
            entries = self.control("GET", "requests").lines()
            if all(e["status"] is not None for e in entries):
                return entries
            time.sleep(0.02)
        self.fail("requests still in flight: %r" % entries)


class TestPatch(WriteCase):

    def alert(self, **where):
        for doc in self.data(ALERTS):
            if all(doc.get(k) == v for k, v in where.items()):
                return doc
        self.fail("no alert with %r" % where)

    def test_patch_returns_the_whole_entity_and_later_gets_see_it(self):
        doc = self.alert(status="new", assignedTo=None)
        path = "%s/%s" % (ALERTS, doc["id"])
        reply = self.send("PATCH", path, {"status": "inProgress",
                                          "assignedTo": "soc1@contoso.com"})
        self.assertEqual(reply.status, 200, reply.body)
        entity = reply.json()
        self.assertTrue(entity["@odata.context"].endswith("#security/alerts_v2/$entity"))
        self.assertEqual(set(entity) - {"@odata.context"}, set(doc))
        self.assertEqual((entity["status"], entity["assignedTo"]),
                         ("inProgress", "soc1@contoso.com"))
        self.assertEqual(entity["title"], doc["title"])
        self.assertGreater(ticks(entity["lastUpdateDateTime"]), NOW_TICKS)
        # a get, a $select get, a list page and a filtered list all see it
        self.assertEqual(self.current(path)["status"], "inProgress")
        self.assertEqual(self.current(path + "?$select=assignedTo")["assignedTo"],
                         "soc1@contoso.com")
        listed = {a["id"]: a for a in self.follow(ALERTS + "?$top=2000")[0]}
        self.assertEqual(listed[doc["id"]]["status"], "inProgress")
        taken = self.ids(ALERTS + "?" + qs(("$filter", "assignedTo eq 'soc1@contoso.com'")))
        self.assertIn(doc["id"], taken)
        untaken = self.ids(ALERTS + "?" + qs(("$filter", "status eq 'new'")))
        self.assertNotIn(doc["id"], untaken)
        # the control API's dump too
        dumped = {d["id"]: d for d in self.control("GET", "data/v1.0/" + ALERTS).lines()}
        self.assertEqual(dumped[doc["id"]]["assignedTo"], "soc1@contoso.com")

    def test_resolution_stamps(self):
        doc = self.alert(status="new")
        path = "%s/%s" % (ALERTS, doc["id"])
        resolved = self.send("PATCH", path, {"status": "resolved",
                                             "classification": "truePositive",
                                             "determination": "malware"}).json()
        self.assertIsNotNone(resolved["resolvedDateTime"])
        reopened = self.send("PATCH", path, {"status": "new"}).json()
        self.assertIsNone(reopened["resolvedDateTime"])
        self.assertEqual(reopened["classification"], "truePositive")
        incident = self.data(INCIDENTS)[0]
        patched = self.send("PATCH", "%s/%s" % (INCIDENTS, incident["id"]),
                            {"customTags": ["a", "b"], "assignedTo": None}).json()
        self.assertEqual((patched["customTags"], patched["assignedTo"]), (["a", "b"], None))
        self.assertEqual(patched["lastModifiedBy"], "API-App:" + ADMIN[0])

    def test_only_documented_properties(self):
        doc = self.alert(status="new")
        path = "%s/%s" % (ALERTS, doc["id"])
        for body, message in (
                ({"title": "x"}, "'title' .* cannot be updated"),
                ({"status": "resolved", "severity": "low"}, "'severity' .* cannot be updated"),
                ({"nosuch": 1}, "'nosuch' does not exist"),
                ({"customTags": ["x"]}, "'customTags' does not exist"),
                ({"@odata.type": "#microsoft.graph.security.incident"}, "does not match")):
            self.assertGraphError(self.send("PATCH", path, body), 400, "BadRequest", message)
        self.assertEqual(self.current(path)["status"], "new")     # nothing half-applied
        ok = self.send("PATCH", path, {"@odata.type": "#microsoft.graph.security.alert",
                                       "status": "resolved"})
        self.assertEqual(ok.status, 200)
        incident_path = "%s/%s" % (INCIDENTS, self.data(INCIDENTS)[0]["id"])
        self.assertGraphError(self.send("PATCH", incident_path, {"resolvingComment": "x"}),
                              400, "BadRequest", "cannot be updated")

    def test_values_are_checked(self):
        path = "%s/%s" % (ALERTS, self.alert(status="new")["id"])
        for body in ({"status": "closed"}, {"status": "unknownFutureValue"},
                     {"status": None}, {"status": 4}, {"classification": "benignPositive"},
                     {"determination": "compromisedUser"}, {"assignedTo": 7}):
            self.assertGraphError(self.send("PATCH", path, body), 400, "BadRequest")
        for body in ({"classification": None}, {"determination": "notEnoughDataToValidate"},
                     {"assignedTo": None}):
            self.assertEqual(self.send("PATCH", path, body).status, 200, body)
        incident_path = "%s/%s" % (INCIDENTS, self.data(INCIDENTS)[0]["id"])
        for body in ({"customTags": "x"}, {"customTags": ["x", 1]}):
            self.assertGraphError(self.send("PATCH", incident_path, body), 400)
        # an evolvable member only with the Prefer header, as in a $filter
        self.assertGraphError(self.send("PATCH", incident_path, {"status": "awaitingAction"},
                                        prefer=False), 400, "BadRequest", "incidentStatus")
        reply = self.send("PATCH", incident_path, {"status": "awaitingAction"})
        self.assertEqual(reply.json()["status"], "awaitingAction")
        downgraded = self.get(incident_path, prefer=False).json()
        self.assertEqual(downgraded["status"], "unknownFutureValue")

    def test_request_errors(self):
        path = "%s/%s" % (ALERTS, self.alert(status="new")["id"])
        self.assertGraphError(self.send("PATCH", ALERTS + "/nope", {"status": "new"}),
                              404, "NotFound", "nope")
        self.assertGraphError(self.send("PATCH", path, raw="{", ), 400, "BadRequest", "JSON")
        self.assertGraphError(self.send("PATCH", path, ["status"]), 400, "BadRequest",
                              "object")
        self.assertGraphError(self.send("PATCH", path, {"status": "new"},
                                        content_type="text/plain"), 415)
        self.assertGraphError(self.send("PATCH", path + "?$select=id", {"status": "new"}),
                              400, "BadRequest", "Query options")
        self.assertGraphError(self.send("PATCH", ALERTS, {"status": "new"}), 405)

    def test_permissions(self):
        reader = self.reader_token()
        path = "%s/%s" % (ALERTS, self.alert(status="new")["id"])
        self.assertEqual(self.get(path, token=reader).status, 200)
        err = self.assertGraphError(self.send("PATCH", path, {"status": "resolved"},
                                              token=reader), 403, "Forbidden")
        self.assertIn("SecurityAlert.ReadWrite.All", err["message"])
        err = self.assertGraphError(self.send("POST", path + "/comments", {"comment": "x"},
                                              token=reader), 403, "Forbidden")
        self.assertIn("SecurityAlert.ReadWrite.All", err["message"])
        err = self.assertGraphError(self.send("POST", RISKY + "/dismiss", {"userIds": ["x"]},
                                              token=reader), 403)
        self.assertIn("IdentityRiskyUser.ReadWrite.All", err["message"])
        err = self.assertGraphError(self.send("POST", "security/runHuntingQuery",
                                              {"Query": "DeviceEvents | take 1"},
                                              token=reader), 403)
        self.assertIn("ThreatHunting.Read.All", err["message"])
        self.assertEqual(self.current(path)["status"], "new")

    def test_bodies_in_the_request_log_and_no_secrets(self):
        path = "%s/%s" % (ALERTS, self.alert(status="new")["id"])
        self.send("PATCH", path, {"status": "inProgress"})
        self.send("PATCH", path, raw="not json at all")
        self.token_request(self.form())
        entries = self.settled_log()
        patch, broken, token = entries
        self.assertEqual((patch["method"], patch["body"], patch["status"], patch["rows"]),
                         ("PATCH", {"status": "inProgress"}, 200, 1))
        self.assertEqual((broken["body_raw"], broken["status"]), ("not json at all", 400))
        self.assertNotIn("body", token)
        self.assertNotIn(ADMIN[1], json.dumps(entries))
        self.assertNotIn(self.token, json.dumps(entries))

    def test_restore_puts_the_generated_data_back(self):
        before = {name: self.control("GET", "data/v1.0/" + name).body
                  for name in (ALERTS, INCIDENTS, RISKY)}
        doc = self.alert(status="new")
        self.send("PATCH", "%s/%s" % (ALERTS, doc["id"]), {"status": "resolved"})
        self.send("POST", "%s/%s/comments" % (ALERTS, doc["id"]), {"comment": "x"})
        self.send("PATCH", "%s/%s" % (INCIDENTS, self.data(INCIDENTS)[0]["id"]),
                  {"customTags": []})
        self.send("POST", RISKY + "/dismiss", {"userIds": [self.data(RISKY)[0]["id"]]})
        reply = self.control_json("POST", "restore")
        self.assertEqual(reply, {"ok": True, "restored": 3})        # documents, not writes
        for name, body in before.items():
            self.assertEqual(self.control("GET", "data/v1.0/" + name).body, body, name)
        resolved = self.ids(ALERTS + "?" + qs(("$filter", "status eq 'resolved'")))
        self.assertNotIn(doc["id"], resolved)
        self.assertEqual(self.control_json("POST", "restore"), {"ok": True, "restored": 0})
        # reset clears the log and faults but leaves the data alone
        self.send("PATCH", "%s/%s" % (ALERTS, doc["id"]), {"status": "resolved"})
        self.control("POST", "reset")
        self.assertEqual(self.current("%s/%s" % (ALERTS, doc["id"]))["status"], "resolved")


class TestRawPaths(WriteCase):
    """Ids in paths: a percent-encoded id is one segment holding the decoded
    id (404 when no entity has it, for GET, PATCH and comments alike); dot
    segments, raw or encoded, are resolved before routing, as servers do;
    the request log keeps the request-target byte for byte."""

    def headers(self):
        return {"Authorization": "Bearer " + self.token, "Content-Type": "application/json"}

    def test_encoded_ids_are_one_segment(self):
        doc = self.data(ALERTS)[0]
        for raw, decoded in (("a%2Fb", "a/b"), ("a%3Fb", "a?b"), ("a%23b", "a#b"),
                             ("%252e%252e", "%2e%2e"), ("..%252f..", "..%2f.."),
                             ("..%2F..", "../..")):
            reply = self.get("/v1.0/%s/%s" % (ALERTS, raw))
            self.assertGraphError(reply, 404, "NotFound",
                                  "^The alert with id '%s' was not found" % re.escape(decoded))
            for method, path, body in (("PATCH", raw, '{"status": "resolved"}'),
                                       ("POST", raw + "/comments", '{"comment": "x"}')):
                reply = self.http(method, "/v1.0/%s/%s" % (ALERTS, path), self.headers(), body)
                self.assertGraphError(reply, 404, "NotFound", re.escape(decoded))
        # escapes of characters that need none name the same entity
        every = "".join("%%%02X" % b for b in doc["id"].encode())
        self.assertEqual(self.get_json("/v1.0/%s/%s" % (ALERTS, every))["id"], doc["id"])

    def test_dot_segments_are_resolved(self):
        for dots in ("..", "%2e%2e", "%2E%2E", ".%2E"):
            # a step up from the collection: no alert is looked up
            reply = self.get("/v1.0/%s/%s" % (ALERTS, dots))
            err = self.assertGraphError(reply, 404, "NotFound")
            self.assertNotIn("alert", err["message"])
            reply = self.http("PATCH", "/v1.0/%s/%s" % (ALERTS, dots), self.headers(),
                              '{"status": "resolved"}')
            self.assertGraphError(reply, 404, "NotFound")
            reply = self.http("POST", "/v1.0/%s/%s/comments" % (ALERTS, dots),
                              self.headers(), '{"comment": "x"}')
            self.assertGraphError(reply, 404, "NotFound", "^Resource not found")
            # and back down: the collection itself
            page = self.get_json("/v1.0/%s/%s/alerts_v2?$top=1" % (ALERTS, dots))
            self.assertEqual(len(page["value"]), 1)
        self.assertEqual(self.get_json("/v1.0/./security/%2E/alerts_v2?$top=1")["value"][0]["id"],
                         self.data(ALERTS)[0]["id"])
        # nothing changed
        self.assertEqual(self.control("GET", "data/v1.0/" + ALERTS).lines(), self.data(ALERTS))

    def test_request_log_keeps_the_raw_target(self):
        targets = ["/v1.0/%s/a%%2Fb" % ALERTS, "/v1.0/%s/.." % ALERTS,
                   "/v1.0/%s/%%2e%%2e/x?$select=id" % ALERTS, "/v1.0/%s/" % ALERTS,
                   "/v1.0/%s/a%%3Fb/comments" % ALERTS]
        for target in targets:
            method = "POST" if target.endswith("comments") else "GET"
            self.http(method, target, self.headers(), '{"comment": "x"}'
                      if method == "POST" else None)
        entries = self.settled_log()
        self.assertEqual([e["target"] for e in entries], targets)
        self.assertEqual([e["path"] for e in entries], [t.partition("?")[0] for t in targets])
        self.assertEqual([e["status"] for e in entries], [404] * len(targets))


class TestComments(WriteCase):

    def test_comment_list_comes_back_new_one_last(self):
        for name in (ALERTS, INCIDENTS):
            doc = next(d for d in self.data(name) if len(d["comments"]) == 2)
            path = "%s/%s/comments" % (name, doc["id"])
            reply = self.send("POST", path, {"@odata.type": "microsoft.graph.security.alertComment",
                                             "comment": "escalated \u2014 \u8abf\u67fb\u4e2d"})
            self.assertEqual(reply.status, 200, reply.body)
            body = reply.json()
            self.assertTrue(body["@odata.context"].endswith(
                "#%s('%s')/comments" % (name, doc["id"])))
            comments = body["value"]
            self.assertEqual(comments[:2], doc["comments"])
            self.assertEqual(comments[2]["comment"], "escalated \u2014 \u8abf\u67fb\u4e2d")
            self.assertEqual(comments[2]["createdByDisplayName"], "API-App:" + ADMIN[0])
            self.assertGreater(ticks(comments[2]["createdDateTime"]), NOW_TICKS)
            entity = self.current("%s/%s" % (name, doc["id"]))
            self.assertEqual(entity["comments"], comments)
            # without @odata.type too
            again = self.send("POST", path, {"comment": "second"}).json()["value"]
            self.assertEqual([c["comment"] for c in again[-2:]],
                             ["escalated \u2014 \u8abf\u67fb\u4e2d", "second"])

    def test_bad_comments(self):
        path = "%s/%s/comments" % (ALERTS, self.data(ALERTS)[0]["id"])
        for body in ({}, {"comment": ""}, {"comment": 5}, {"comment": "x", "author": "y"},
                     {"@odata.type": "microsoft.graph.security.alert", "comment": "x"}):
            self.assertGraphError(self.send("POST", path, body), 400, "BadRequest")
        self.assertGraphError(self.send("POST", ALERTS + "/nope/comments", {"comment": "x"}),
                              404, "NotFound")
        self.assertGraphError(self.send("GET", path), 405)
        self.assertEqual(len(self.current(path.rsplit("/", 1)[0])["comments"]),
                         len(self.data(ALERTS)[0]["comments"]))


class TestRiskyUserActions(WriteCase):

    def test_dismiss_and_confirm(self):
        users = [d for d in self.data(RISKY) if d["riskState"] == "atRisk"][:3]
        reply = self.send("POST", RISKY + "/dismiss",
                          {"userIds": [users[0]["id"], users[1]["id"], "not-a-risky-user"]})
        self.assertEqual((reply.status, reply.raw), (204, b""))
        self.assertNotIn("content-length", reply.headers)
        self.assertNotIn("content-type", reply.headers)
        reply = self.send("POST", RISKY + "/confirmCompromised", {"userIds": [users[2]["id"]]})
        self.assertEqual(reply.status, 204)
        states = {u["id"]: u for u in self.follow(RISKY)[0]}
        for user in users[:2]:
            got = states[user["id"]]
            self.assertEqual((got["riskState"], got["riskLevel"], got["riskDetail"]),
                             ("dismissed", "none", "adminDismissedAllRiskForUser"))
            self.assertGreater(ticks(got["riskLastUpdatedDateTime"]), NOW_TICKS)
        got = states[users[2]["id"]]
        self.assertEqual((got["riskState"], got["riskLevel"], got["riskDetail"]),
                         ("confirmedCompromised", "high", "adminConfirmedUserCompromised"))
        high = self.ids(RISKY + "?" + qs(("$filter", "riskLevel eq 'high'")))
        self.assertIn(users[2]["id"], high)
        # the connection stays usable after a 204 without a body
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            h = {"Authorization": "Bearer " + self.token, "Content-Type": "application/json"}
            conn.request("POST", "/v1.0/%s/dismiss" % RISKY, json.dumps({"userIds": ["x"]}), h)
            first = conn.getresponse()
            first.read()
            conn.request("GET", "/v1.0/%s?$top=1" % RISKY, headers=h)
            self.assertEqual((first.status, conn.getresponse().status), (204, 200))
        finally:
            conn.close()

    def test_bad_bodies(self):
        for body in ({}, {"userIds": []}, {"userIds": "x"}, {"userIds": [1]},
                     {"userIds": ["x"], "reason": "y"}):
            self.assertGraphError(self.send("POST", RISKY + "/dismiss", body), 400, "BadRequest")
        self.assertGraphError(self.send("POST", RISKY + "/forgive", {"userIds": ["x"]}), 405)


class TestHunting(WriteCase):

    def hunt(self, query=None, timespan=None, keys=("Query", "Timespan"), token=None):
        body = {}
        if query is not None:
            body[keys[0]] = query
        if timespan is not None:
            body[keys[1]] = timespan
        return self.send("POST", "security/runHuntingQuery", body, token=token)

    def rows(self, query, timespan=None):
        reply = self.hunt(query, timespan)
        self.assertEqual(reply.status, 200, reply.body)
        return reply.json()

    def test_shape_and_casing(self):
        for keys in (("Query", "Timespan"), ("query", "timespan")):
            body = self.hunt("DeviceEvents | take 5", "P30D", keys).json()
            self.assertTrue(body["@odata.context"].endswith(
                "$metadata#microsoft.graph.security.huntingQueryResults"))
            self.assertEqual(set(body), {"@odata.context", "schema", "results"})
            names = [c["name"] for c in body["schema"]]
            self.assertEqual(names[:3], ["Timestamp", "DeviceId", "DeviceName"])
            self.assertEqual(body["schema"][0]["type"], "DateTime")
            self.assertEqual(len(body["results"]), 5)
            self.assertEqual(list(body["results"][0]), names)
            self.assertRegex(body["results"][0]["Timestamp"],
                             r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$")
        entry = self.settled_log()[-1]
        self.assertEqual(entry["body"], {"query": "DeviceEvents | take 5", "timespan": "P30D"})
        self.assertEqual(entry["rows"], 5)

    def test_operators(self):
        every = self.rows("DeviceEvents", "P45D")["results"]
        def count(q, timespan="P45D"):
            return self.rows(q, timespan)["results"]
        av = count('DeviceEvents | where ActionType == "AntivirusDetection"')
        self.assertEqual(len(av), sum(r["ActionType"] == "AntivirusDetection" for r in every))
        self.assertEqual(len(count('DeviceEvents | where ActionType =~ "antivirusdetection"')),
                         len(av))
        self.assertEqual(count('DeviceEvents | where ActionType == "antivirusdetection"'), [])
        names = {r["DeviceName"] for r in count(
            'DeviceEvents | where DeviceName startswith "srv-" or DeviceName has "dc01"')}
        self.assertTrue(names and all(n.startswith("srv-") or "dc01" in n for n in names))
        inlist = count('DeviceEvents | where FileName in ("7z.exe", "svchost.exe") '
                       '| project FileName | distinct FileName')
        self.assertEqual(sorted(r["FileName"] for r in inlist), ["7z.exe", "svchost.exe"])
        self.assertEqual(count('DeviceEvents | where isempty(FileName) and SHA256 != ""'), [])
        recent = count("DeviceEvents | where Timestamp > ago(1d) and not(ReportId < 0) "
                       "| sort by Timestamp asc")
        stamps = [ticks(r["Timestamp"]) for r in recent]
        self.assertEqual(stamps, sorted(stamps))
        top = count("DeviceEvents | top 3 by ReportId")
        self.assertEqual([r["ReportId"] for r in top],
                         sorted((r["ReportId"] for r in every), reverse=True)[:3])
        self.assertEqual(count("DeviceEvents | count")[0]["Count"], len(every))
        summary = self.rows("DeviceEvents | summarize count() by ActionType", "P45D")
        self.assertEqual([c["name"] for c in summary["schema"]], ["ActionType", "count_"])
        self.assertEqual(sum(r["count_"] for r in summary["results"]), len(every))
        later = count("DeviceEvents | where Timestamp >= datetime(2026-05-31) | limit 1000")
        self.assertTrue(all(r["Timestamp"] >= "2026-05-31" for r in later))
        alerts = self.rows('AlertInfo | where Severity == "High" | project AlertId, Title',
                           "P365D")["results"]
        high = {d["id"] for d in self.data(ALERTS) if d["severity"] == "high"}
        self.assertTrue(alerts and {r["AlertId"] for r in alerts} <= high)

    def test_timespans(self):
        def n(timespan):
            return self.rows("DeviceEvents | count", timespan)["results"][0]["Count"]
        default, month = n(None), n("P30D")
        self.assertEqual(default, month)
        self.assertLess(n("P2D"), n("P7D"))
        self.assertLess(n("P7D"), month)
        self.assertEqual(n("P1W"), n("P7D"))
        self.assertEqual(n("PT48H"), n("P2D"))
        window = "2026-05-01T00:00:00Z/2026-05-15T00:00:00Z"
        self.assertEqual(n(window), n("P14D/2026-05-15T00:00:00Z"))
        self.assertEqual(n(window), n("2026-05-01T00:00:00Z/P14D"))
        self.assertEqual(n("2026-05-25T00:00:00Z"), n("2026-05-25T00:00:00Z/2026-06-02T00:00:00Z"))
        for bad in ("last week", "P", "PT", "2026-05-01/2026-05-02", "a/b/c"):
            self.assertGraphError(self.hunt("DeviceEvents | count", bad), 400, "BadRequest",
                                  "timespan")

    def test_errors_say_what_is_wrong(self):
        for query, message in (
                ("DeviceEvents | wher x", r"parsed at 'wher' on line \[1,16\]"),
                ("DeviceEvents | take", r"parsed at '<end>'"),
                ("DeviceEvents | take 3 extra", r"parsed at 'extra'"),
                ('DeviceEvents | where ActionType == "x', r"parsed at '\"'"),
                ("Nope | take 1", "table expression named 'Nope'"),
                ("DeviceEvents | where Nope == 1", "scalar expression named 'Nope'"),
                ("DeviceEvents | project Nope", "scalar expression named 'Nope'"),
                ("DeviceEvents | where nosuchfunc(1)", "scalar expression named 'nosuchfunc'"),
                ("DeviceEvents | where ReportId == \"1\"", "Cannot compare"),
                ("DeviceEvents | where DeviceName", "predicate of type bool"),
                ("DeviceEvents | where Timestamp > ago(3)", "ago\\(\\) expects a timespan"),
                ("DeviceEvents | where Timestamp > datetime(yesterday)", "datetime literal")):
            self.assertGraphError(self.hunt(query), 400, "BadRequest", message)
        self.assertGraphError(self.hunt(None), 400, "BadRequest", "'query' is missing")
        self.assertGraphError(self.hunt("   "), 400, "BadRequest", "'query' is missing")
        self.assertGraphError(self.send("POST", "security/runHuntingQuery",
                                        {"Query": "DeviceEvents", "Limit": 5}),
                              400, "BadRequest", "'Limit'")
        self.assertGraphError(self.send("GET", "security/runHuntingQuery"), 405)

    def test_delay_timeout_and_quota(self):
        self.control("POST", "config", {"hunting_delay_ms": 400})
        started = time.monotonic()
        self.assertEqual(self.hunt("DeviceEvents | take 1").status, 200)
        self.assertGreaterEqual(time.monotonic() - started, 0.4)
        self.control("POST", "config", {"hunting_delay_ms": 1000, "hunting_timeout_ms": 300})
        started = time.monotonic()
        self.assertGraphError(self.hunt("DeviceEvents | take 1"), 400, "BadRequest",
                              "exceeded the allowed limits")
        self.assertLess(time.monotonic() - started, 0.9)
        self.control("POST", "reset")
        self.control("POST", "faults", {"match": {"path_prefix": "/v1.0/security/runHuntingQuery"},
                                        "action": "status", "status": 429})
        self.assertGraphError(self.hunt("DeviceEvents | take 1"), 429, "TooManyRequests")
        self.assertEqual(self.hunt("DeviceEvents | take 1").status, 200)

    def test_tables_are_deterministic_and_day_windows_stable(self):
        served = self.rows("DeviceEvents | sort by ReportId asc", "P46D")["results"]
        fresh = hunting.Tables(tenant.Tenant("42", NOW_TICKS, DEFAULT_COUNTS), 2000)
        schema_, rows = fresh.get("DeviceEvents")
        self.assertEqual(len(rows), 2000)
        self.assertEqual([r["ReportId"] for r in served],
                         sorted(r["ReportId"] for r in rows))
        self.assertEqual(served[0], {n: hunting.to_json(min(
            rows, key=lambda r: r["ReportId"])[n]) for n, _ in schema_})
        # no event in the hour after a whole number of days before --now
        hour = 3600 * timestamps.TICKS_PER_SECOND
        for r in rows:
            age = NOW_TICKS - r["Timestamp"].ticks
            self.assertGreaterEqual(age % timestamps.TICKS_PER_DAY, hour)


class TestGzipUnits(unittest.TestCase):
    """The pieces a list page's gzip is made of (render.gzip_page)."""

    def test_crc32_combine(self):
        rng = __import__("random").Random(7)
        for n in (0, 1, 7, 8, 255, 65536, 123457):
            a = bytes(rng.randrange(256) for _ in range(rng.randrange(300)))
            b = bytes(rng.randrange(256) for _ in range(n))
            self.assertEqual(render.crc32_combine(zlib.crc32(a), zlib.crc32(b),
                                                  render.crc32_shift(len(b))),
                             zlib.crc32(a + b))

    def test_page_gzip_with_any_head(self):
        items = [b',{"id":"%d","title":"t%d"}' % (i, i % 7) for i in range(3000)]
        rest = [memoryview(items[0])[1:]] + items[1:] + [b"]}"]
        # the same items after heads of different lengths, the last in two
        # stored blocks: the second and third reuse the cached deflate
        for head in (b'{"value":[', b'{"@odata.nextLink":"x","value":[',
                     b'{"pad":"' + b"p" * 70000 + b'","value":['):
            body = render.Body([head] + rest, len(items), items)
            zipped = body.gzipped()
            self.assertEqual(gzip.decompress(zipped), body.join())
            inflater = zlib.decompressobj(31)
            self.assertEqual(inflater.decompress(zipped) + inflater.flush(), body.join())
            self.assertTrue(inflater.eof and not inflater.unused_data)


class TestKqlUnits(unittest.TestCase):
    """The KQL subset without a server."""

    def run_query(self, text, rows, schema=(("Timestamp", "datetime"), ("Name", "string"),
                                            ("N", "long"))):
        class Fixed:
            def get(self, name):
                return (schema, rows) if name == "T" else None
        return hunting.run(Fixed(), text, "2000-01-01T00:00:00Z/2100-01-01T00:00:00Z",
                           NOW_TICKS)

    def test_sort_nulls_and_default_order(self):
        t = hunting.Datetime(NOW_TICKS)
        rows = [{"Timestamp": t, "Name": "b", "N": 2}, {"Timestamp": t, "Name": None, "N": 1},
                {"Timestamp": t, "Name": "a", "N": 3}]
        _, out = self.run_query("T | sort by Name", rows)
        self.assertEqual([r["Name"] for r in out], ["b", "a", None])    # desc, nulls last
        _, out = self.run_query("T | order by Name asc", rows)
        self.assertEqual([r["Name"] for r in out], [None, "a", "b"])    # asc, nulls first
        _, out = self.run_query("T | where Name != 'a'", rows)
        self.assertEqual([r["N"] for r in out], [2, 1])                 # null != 'a'
        _, out = self.run_query("T | where Name contains 'A' or N > 2", rows)
        self.assertEqual([r["N"] for r in out], [3])

    def test_row_cap(self):
        t = hunting.Datetime(NOW_TICKS)
        rows = [{"Timestamp": t, "Name": "x", "N": i} for i in range(hunting.MAX_ROWS + 5)]
        _, out = self.run_query("T", rows)
        self.assertEqual(len(out), hunting.MAX_ROWS)

    def test_tokens_and_literals(self):
        kinds = [(t.kind, t.text) for t in hunting.tokenize(
            "T|where a!in~('x')and b>=1.5 and c>ago(90m) and d==datetime(2026-01-01)")]
        self.assertIn(("op", "!in~"), kinds)
        self.assertIn(("number", "1.5"), kinds)
        self.assertIn(("timespan", "90m"), kinds)
        self.assertIn(("datetime", "datetime(2026-01-01)"), kinds)
        self.assertEqual(hunting.Parser(r'T | where a == "q\"uote"').parse().ops[0].expr[3],
                         ("lit", 'q"uote'))


# the throttling limits, request timing and HTTPS (test_limits.py), run with these
from test_limits import (TestLimiterUnits, TestThrottleOverHttp, TestTls)  # noqa: E402,F401
# the inventories, delta queries, control changes and tenants (test_directory.py)
from test_directory import (TestInventoryData, TestDirectoryLists,  # noqa: E402,F401
                            TestManagedDevices, TestDelta, TestChanges, TestTenants,
                            TestDirectoryThrottle)


if __name__ == "__main__":
    unittest.main()
