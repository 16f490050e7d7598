"""Self-tests of the emulator's throttling limits, request timing and HTTPS.

They share test_emulator's server harness and are run by it:
`python3 -m unittest -v test_emulator` (one class alone:
`python3 -m unittest -v test_emulator.TestTls`).
"""

import http.client
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
from types import SimpleNamespace

from test_emulator import (ALERTS, RISK, SCORES, DEFAULT_COUNTS, NOW_TICKS, READER,
                           EmulatorCase, Reply)

import identity
import server
import tenant
import throttle

HERE = os.path.dirname(os.path.abspath(__file__))
MAKE_CERTS = os.path.join(HERE, "..", "certs", "make_tls_certs.sh")
LIMITS = {"throttle_security_per_minute": 150, "throttle_secure_score_concurrency": 4,
          "throttle_hunting_per_minute": 45, "throttle_identity_per_second": 1,
          "throttle_directory_units_per_10s": -1, "throttle_intune_per_20s": 2000,
          "throttle_intune_tenant_per_20s": 4000}


def settings(on=True, **over):
    values = dict(LIMITS, throttle=on)
    values.update(over)
    return SimpleNamespace(**values)


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def token(app=identity.ADMIN, tenant_id="t1"):
    return identity.Token(app, tenant_id, "scope", 1e12)


class TestLimiterUnits(unittest.TestCase):
    """The sliding windows and slots, on a clock the test moves."""

    def setUp(self):
        self.clock = FakeClock()
        self.limiter = throttle.Limiter(self.clock)

    def admit(self, segments, tok=None, **over):
        return self.limiter.admit(segments, tok or token(), settings(**over))

    def test_scopes(self):
        self.assertEqual(throttle.scopes_of(["security", "alerts_v2"]), ("security",))
        self.assertEqual(throttle.scopes_of(["security", "incidents", "1", "alerts"]),
                         ("security",))
        self.assertEqual(throttle.scopes_of(["security", "secureScores"]),
                         ("security", "scores"))
        self.assertEqual(throttle.scopes_of(["security", "runHuntingQuery"]), ("hunting",))
        self.assertEqual(throttle.scopes_of(["identityProtection", "riskyUsers"]),
                         ("identity",))
        self.assertEqual(throttle.scopes_of(["me"]), ())

    def test_security_window_slides(self):
        for _ in range(150):
            self.admit(["security", "alerts_v2"])
            self.clock.now += 0.1            # 150 requests in 15 s
        with self.assertRaises(throttle.Throttled) as cm:
            self.admit(["security", "incidents"])    # the same scope for every list
        self.assertEqual(cm.exception.scope, "security")
        # the first request leaves the window 60 s after it came, 45 s from now
        self.assertAlmostEqual(float(cm.exception.retry_after), 45.0, places=2)
        self.clock.now += 44.99
        self.assertRaises(throttle.Throttled, self.admit, ["security", "alerts_v2"])
        self.clock.now += 0.02
        self.admit(["security", "alerts_v2"])      # waiting as told is enough
        self.assertRaises(throttle.Throttled, self.admit, ["security", "alerts_v2"])

    def test_security_is_per_app_and_tenant(self):
        for _ in range(150):
            self.admit(["security", "alerts_v2"])
        self.assertRaises(throttle.Throttled, self.admit, ["security", "alerts_v2"])
        reader = identity.APPS_BY_CLIENT_ID[READER[0]]
        self.admit(["security", "alerts_v2"], token(app=reader))
        self.admit(["security", "alerts_v2"], token(tenant_id="t2"))
        self.admit(["identityProtection", "riskyUsers"])   # another scope

    def test_identity_is_per_tenant_for_all_apps_without_retry_after(self):
        reader = identity.APPS_BY_CLIENT_ID[READER[0]]
        self.admit(["identityProtection", "riskDetections"])
        with self.assertRaises(throttle.Throttled) as cm:
            self.admit(["identityProtection", "riskyUsers"], token(app=reader))
        self.assertEqual(cm.exception.scope, "identity")
        self.assertIsNone(cm.exception.retry_after)
        self.admit(["identityProtection", "riskyUsers"], token(tenant_id="t2"))
        self.clock.now += 0.999
        self.assertRaises(throttle.Throttled, self.admit, ["identityProtection", "riskyUsers"])
        self.clock.now += 0.002
        self.admit(["identityProtection", "riskyUsers"])

    def test_secure_score_slots(self):
        tickets = [self.admit(["security", "secureScores"]) for _ in range(4)]
        with self.assertRaises(throttle.Throttled) as cm:
            self.admit(["security", "secureScores"])
        self.assertEqual((cm.exception.scope, cm.exception.retry_after), ("scores", "1"))
        tickets[0].release()
        tickets[0].release()                        # a second release is a no-op
        tickets.append(self.admit(["security", "secureScores"]))
        self.assertRaises(throttle.Throttled, self.admit, ["security", "secureScores"])
        # the refusals took nothing from the rate window: 5 admitted so far
        for _ in range(145):
            self.admit(["security", "alerts_v2"])
        self.assertRaises(throttle.Throttled, self.admit, ["security", "alerts_v2"])

    def test_hunting(self):
        for _ in range(45):
            self.admit(["security", "runHuntingQuery"])
        with self.assertRaises(throttle.Throttled) as cm:
            self.admit(["security", "runHuntingQuery"])
        self.assertAlmostEqual(float(cm.exception.retry_after), 60.0, places=2)

    def test_switch_zero_limits_and_unknown_callers(self):
        for _ in range(500):
            self.assertIsNone(self.limiter.admit(["security", "alerts_v2"], token(),
                                                 settings(on=False)))
        for _ in range(500):
            self.admit(["security", "alerts_v2"], throttle_security_per_minute=0)
        self.assertIsNone(self.limiter.admit(["security", "alerts_v2"], None, settings()))
        self.limiter.clear()


class TestThrottleOverHttp(EmulatorCase):
    """The limits as a client sees them: 429s, headers, bodies, the log."""

    def test_off_by_default(self):
        self.assertFalse(self.control_json("GET", "config")["throttle"])
        for _ in range(160):
            self.assertEqual(self.get(ALERTS + "?$top=1&$select=id").status, 200)

    def test_security_429_with_decimal_retry_after(self):
        self.control("POST", "config", {"throttle": True, "throttle_security_per_minute": 3})
        for _ in range(3):
            self.assertEqual(self.get(ALERTS + "?$top=1").status, 200)
        reply = self.get(ALERTS + "?$top=1")
        err = self.assertGraphError(reply, 429, "TooManyRequests", "Please retry again later.")
        self.assertIsInstance(err, dict)
        self.assertRegex(reply.headers["retry-after"], r"^\d+\.\d{3}$")
        self.assertLessEqual(float(reply.headers["retry-after"]), 60.0)
        self.assertGreater(float(reply.headers["retry-after"]), 59.0)
        log = self.control("GET", "requests").lines()
        self.assertEqual([e["status"] for e in log], [200, 200, 200, 429])
        self.assertEqual(log[-1]["throttled"], "security")
        self.assertNotIn("throttled", log[0])
        # identity protection is another scope; a reset empties the windows
        self.assertEqual(self.get(RISK + "?$top=1").status, 200)
        self.control("POST", "reset")
        self.control("POST", "config", {"throttle": True, "throttle_security_per_minute": 3})
        self.assertEqual(self.get(ALERTS + "?$top=1").status, 200)

    def test_identity_429_without_retry_after(self):
        self.control("POST", "config", {"throttle": True})
        self.assertEqual(self.get(RISK + "?$top=1").status, 200)
        reply = self.get(RISK + "?$top=1")
        self.assertGraphError(reply, 429, "TooManyRequests")
        self.assertNotIn("retry-after", reply.headers)
        time.sleep(1.05)
        self.assertEqual(self.get(RISK + "?$top=1").status, 200)

    def test_bad_tokens_are_not_counted(self):
        self.control("POST", "config", {"throttle": True, "throttle_security_per_minute": 1})
        for _ in range(3):
            self.assertEqual(self.get(ALERTS, token="nope").status, 401)
        self.assertEqual(self.get(ALERTS + "?$top=1").status, 200)

    def test_secure_score_concurrency(self):
        self.control("POST", "config", {"throttle": True, "latency_ms": 700})
        replies = []

        def one():
            replies.append(self.get(SCORES + "?$top=1"))

        threads = [threading.Thread(target=one) for _ in range(5)]
        for t in threads:
            t.start()
            time.sleep(0.05)
        for t in threads:
            t.join()
        statuses = sorted(r.status for r in replies)
        self.assertEqual(statuses, [200, 200, 200, 200, 429])
        refused = [r for r in replies if r.status == 429][0]
        self.assertEqual(refused.headers["retry-after"], "1")
        # the slots were given back with the responses
        self.assertEqual(self.get(SCORES + "?$top=1").status, 200)

    def test_config_fields(self):
        self.assertEqual(self.control("POST", "config", {"throttle": 1}).status, 400)
        self.assertEqual(self.control("POST", "config",
                                      {"throttle_identity_per_second": -1}).status, 400)
        config = self.control_json("GET", "config")
        for name, value in LIMITS.items():
            self.assertEqual(config[name], value)

    def test_request_times(self):
        self.get(ALERTS + "?$top=1")
        time.sleep(0.3)
        self.get(ALERTS + "?$top=1")
        first, second = self.control("GET", "requests").lines()
        self.assertGreaterEqual(second["at"] - first["at"], 0.29)
        self.assertLess(second["at"] - first["at"], 2.0)


@unittest.skipUnless(shutil.which("openssl"), "the openssl command makes the test PKI")
class TestTls(unittest.TestCase):
    """--tls-cert/--tls-key: the same service over HTTPS only."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="emu-tls-")
        subprocess.run(["bash", MAKE_CERTS, cls.dir], check=True)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(os.path.join(cls.dir, "server.crt"),
                                os.path.join(cls.dir, "server.key"))
        data = tenant.Tenant("42", NOW_TICKS, DEFAULT_COUNTS)
        cls.httpd = server.EmulatorServer(data, quiet=True, tls_context=context)
        cls.port = cls.httpd.port
        threading.Thread(target=cls.httpd.serve_forever, daemon=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.httpd.stop()
        shutil.rmtree(cls.dir)

    def https(self, method, path, headers=None, ca="ca.crt", host="127.0.0.1"):
        context = ssl.create_default_context(cafile=os.path.join(self.dir, ca))
        conn = http.client.HTTPSConnection(host, self.port, context=context, timeout=30)
        try:
            conn.request(method, path, headers=headers or {})
            return Reply(conn.getresponse())
        finally:
            conn.close()

    def test_pages_and_links_over_https(self):
        tok = self.https("POST", "/_emulator/token").json()["access_token"]
        auth = {"Authorization": "Bearer " + tok, "Accept-Encoding": "gzip"}
        page = self.https("GET", "/v1.0/%s?$top=2000" % ALERTS, auth)
        self.assertEqual(page.status, 200)
        body = page.json()
        self.assertEqual(len(body["value"]), DEFAULT_COUNTS[ALERTS])
        self.assertTrue(body["@odata.context"].startswith("https://127.0.0.1:%d/" % self.port))
        plain = self.https("GET", "/v1.0/%s?$top=5" % ALERTS,
                           {"Authorization": "Bearer " + tok}).json()
        self.assertEqual(plain["@odata.nextLink"],
                         "https://127.0.0.1:%d/v1.0/%s?$top=5&$skip=5" % (self.port, ALERTS))

    def test_verification_failures(self):
        with self.assertRaises(ssl.SSLCertVerificationError):
            self.https("GET", "/_emulator/health", ca="other-ca.crt")
        with self.assertRaises(ssl.SSLCertVerificationError):
            self.https("GET", "/_emulator/health", host="localhost")
        # the server goes on serving after refused handshakes
        self.assertEqual(self.https("GET", "/_emulator/health").json(), {"ok": True})

    def test_plain_http_is_refused(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            with self.assertRaises((ConnectionError, http.client.HTTPException, OSError)):
                conn.request("GET", "/_emulator/health")
                conn.getresponse().read()
        finally:
            conn.close()


if __name__ == "__main__":
    unittest.main()
