"""Self-tests of hostile.py: the contract's JSON, the hostile fault actions
and the fuzzing mode.

Run:  cd tests/emulator && /usr/bin/python3 -m unittest -v test_hostile

The fuzz driver trusts the mode's account of what each page means, so the
account is checked here against the pages as a client receives them.
"""

import base64
import gzip
import http.client
import json
import os
import sys
import unittest
import zlib
from decimal import Decimal
from urllib.parse import urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import hostile                          # noqa: E402
from test_emulator import ALERTS, EmulatorCase, RISKY, SCORES   # noqa: E402


class TestStrictLoads(unittest.TestCase):
    """RFC 8259 and the limits of src/jsoncheck.c, nothing more or less."""

    def ok(self, data):
        return hostile.strict_loads(data)

    def bad(self, data):
        with self.assertRaises(hostile.NotJSON, msg=data):
            hostile.strict_loads(data)

    def test_valid(self):
        self.assertEqual(self.ok(b' {"a":[1,true,null,"x"]} \r\n\t'),
                         {"a": [1, True, None, "x"]})
        v = self.ok(b'[1e400, 1.50, -0.0, 18446744073709551615, -9223372036854775808]')
        self.assertIsInstance(v[0], hostile.JFloat)
        self.assertEqual(v[0].text, "1e400")
        self.assertEqual(v[1].text, "1.50")
        self.assertEqual(v[3:], [(1 << 64) - 1, -(1 << 63)])
        self.assertEqual(self.ok('"\\ud83d\\ude00 \u00e9 \\u0000"'.encode()), "\U0001f600 \u00e9 \x00")
        self.assertEqual(self.ok(b'{"a":{"a":1},"b":{"a":2}}'), {"a": {"a": 1}, "b": {"a": 2}})
        self.ok(b"[" * 64 + b"]" * 64)
        self.ok(b"[" * 63 + b"2" + b"]" * 63)
        self.ok(b'{"a":' * 63 + b"{}" + b"}" * 63)

    def test_not_json(self):
        for data in (b"", b"5 5", b"{}{}", b"NaN", b'{"a":Infinity}', b'{"a":-Infinity}',
                     b"{'a':1}", b'{"a":1.}', b'{"a":01}', b'{"a":.5}', b'{"a":+1}',
                     b'{"a":1,}', b"[1,]", b'{"a":"x\ty"}', b'"\\x"', b'"\\u12"', b"tru",
                     b"\xef\xbb\xbf{}", b'{"a":True}', b"\x0c{}"):
            self.bad(data)

    def test_limits(self):
        self.bad(b"[" * 65 + b"]" * 65)
        self.bad(b"[" * 64 + b"2" + b"]" * 64)
        self.bad(b"[" * 63 + b'{"a":1}' + b"]" * 63)
        self.bad(b"18446744073709551616")
        self.bad(b"-9223372036854775809")
        self.bad(b"1" * 5000)
        self.bad(b'{"a":1,"a":2}')
        self.bad(b'{"a":1,"\\u0061":2}')
        self.bad(b'{"a\\u0000":1}')
        self.bad(b'"\\ud800"')
        self.bad(b'"\\udc00x"')
        self.bad(b'{"\\ud800":1}')

    def test_utf8(self):
        self.assertEqual(self.ok('"Z\u00fcrich \u6771\u4eac"'.encode()), "Z\u00fcrich \u6771\u4eac")
        for data in (b'"\xff"', b'"\xc0\x80"', b'"\xed\xa0\x80"', b'"\xf4\x90\x80\x80"',
                     b'"\xe2\x82"', b'"\x80"', b'"\xf5\x80\x80\x80"'):
            self.bad(data)

    def test_serialize_shapes(self):
        data = hostile.serialize({"a": hostile.Raw(b"NaN"), "b": hostile.JFloat("1E5"),
                                  "c": hostile.Pairs([("x", 1), ("x", 2)]), "d": "\u00e9"})
        self.assertEqual(data, b'{"a":NaN,"b":1E5,"c":{"x":1,"x":2},"d":"\\u00e9"}')
        self.assertEqual(hostile.serialize("\u00e9", ascii_only=False), '"\u00e9"'.encode())


class TestHostileFaults(EmulatorCase):

    def fault(self, **spec):
        reply = self.control("POST", "faults", spec)
        self.assertEqual(reply.status, 200, reply.body)

    def test_body(self):
        self.fault(action="body", body='{"value":[]}', pad=5, status=201,
                   content_type="text/plain")
        reply = self.get(ALERTS)
        self.assertEqual((reply.status, reply.body), (201, b'{"value":[]}     '))
        self.assertEqual(reply.headers["content-type"], "text/plain")
        self.fault(action="body", body_b64=base64.b64encode(b"\xff\xfe").decode())
        reply = self.get(ALERTS)
        self.assertEqual((reply.status, reply.body), (200, b"\xff\xfe"))

    def test_flood(self):
        self.fault(action="flood", status=400, head='{"error":{"code":"x","filler":[',
                   unit="{},", tail="{}]}}", bytes=1000, gzip=False)
        reply = self.get(ALERTS, headers={"Accept-Encoding": "gzip"})
        self.assertEqual(reply.status, 400)
        self.assertNotIn("content-encoding", {k.lower() for k in reply.headers})
        self.assertLessEqual(len(reply.body), 1000)
        self.assertGreater(len(reply.body), 990)
        self.assertTrue(reply.body.startswith(b'{"error":{"code":"x","filler":[{},{},'))
        doc = json.loads(reply.body)
        self.assertEqual(doc["error"]["filler"], [{}] * ((1000 - 30 - 5) // 3 + 1))
        # a page of empty objects, gzip allowed
        self.fault(action="flood", head='{"value":[', unit="{},", tail="{}]}", bytes=3000)
        reply = self.get(ALERTS)
        self.assertEqual(reply.status, 200)
        self.assertEqual(len(json.loads(reply.body)["value"]), (3000 - 10 - 4) // 3 + 1)

    def test_inject(self):
        first = self.get_json(ALERTS + "?$top=2")["value"]
        self.fault(action="inject", field="title", raw="NaN")
        body = self.get(ALERTS + "?$top=2").body
        self.assertIn(b'"title":NaN', body)
        self.assertEqual(body.count(b'"title":'), 2)
        self.fault(action="inject", field="severity", raw='"x"', entity=1, duplicate=True)
        pairs = json.loads(self.get(ALERTS + "?$top=2").body, object_pairs_hook=list)
        second = dict(pairs)["value"][1]
        self.assertEqual([v for k, v in second if k == "severity"], [first[1]["severity"], "x"])
        self.fault(action="inject", field="@odata.nextLink", raw="5", entity=-1)
        self.assertEqual(self.get_json(ALERTS + "?$top=2")["@odata.nextLink"], 5)
        self.fault(action="inject", field="new", raw_b64=base64.b64encode(b'"\xc0\x80"').decode())
        self.assertIn(b'"new":"\xc0\x80"', self.get(ALERTS + "?$top=1").body)
        # the untouched page comes back as it was
        self.assertEqual(self.get_json(ALERTS + "?$top=2")["value"], first)

    def test_reverse(self):
        first = self.get_json(ALERTS + "?$top=3")["value"]
        self.fault(action="reverse")
        self.assertEqual(self.get_json(ALERTS + "?$top=3")["value"], first[::-1])
        self.assertEqual(self.get_json(ALERTS + "?$top=3")["value"], first)

    def test_cut(self):
        full = self.get(ALERTS + "?$top=3").body
        self.fault(action="cut", bytes=100)
        reply = self.get(ALERTS + "?$top=3")
        self.assertEqual(reply.body, full[:100])
        self.assertEqual(reply.headers["content-length"], "100")
        self.fault(action="cut")
        self.assertEqual(self.get(ALERTS + "?$top=3").body, full[:len(full) // 2])

    def test_empty_run(self):
        self.fault(action="empty_run", times=3, match={"path_prefix": "/v1.0/" + ALERTS})
        path, seen = "/v1.0/%s?$top=100" % ALERTS, []
        for _ in range(3):
            page = self.get_json(path)
            self.assertEqual(page["value"], [])
            link = urlsplit(page["@odata.nextLink"])
            path = link.path + "?" + link.query
            seen.append(path)
        self.assertEqual(len(set(seen)), 3)
        self.assertTrue(path.endswith("emptyrun=3"))
        page = self.get_json(path)           # the fault is used up: the real page
        self.assertEqual(len(page["value"]), 100)
        self.assertIn("emptyrun=3", page["@odata.nextLink"])
        ids, _ = self.follow(path)
        self.assertEqual(ids, self.follow("/v1.0/%s?$top=100" % ALERTS)[0])

    def test_bad_specs(self):
        for spec in ({"action": "inject", "raw": "1"}, {"action": "inject", "field": "a"},
                     {"action": "inject", "field": "a", "raw": "1", "raw_b64": "MQ=="},
                     {"action": "body"}, {"action": "body", "body_b64": "***"},
                     {"action": "flood", "bytes": 10}, {"action": "flood", "unit": "{},"},
                     {"action": "flood", "unit": "{},", "bytes": (256 << 20) + 1},
                     {"action": "flood", "unit": "{},", "bytes": 10, "gzip": "no"},
                     {"action": "cut", "bytes": -1}, {"action": "inject", "field": "a",
                                                      "raw": "1", "duplicate": "yes"}):
            self.assertEqual(self.control("POST", "faults", spec).status, 400, spec)


class TestHostileMode(EmulatorCase):
    """The account the fuzz driver reads, against what a client receives."""

    def arm(self, seed, resource=ALERTS, max_bytes=262144):
        reply = self.control("POST", "hostile", {"seed": seed, "resource": resource,
                                                 "max_response_bytes": max_bytes})
        self.assertEqual(reply.status, 200, reply.body)

    def scan(self, path, limit=20):
        """Follow a hostile scan as the extension would; the raw replies."""
        replies = []
        for _ in range(limit):
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                conn.request("GET", path, headers={"Authorization": "Bearer " + self.token,
                                                   "Accept-Encoding": "gzip",
                                                   "Prefer": "include-unknown-enum-members"})
                resp = conn.getresponse()
                raw = resp.read()
                if resp.getheader("Content-Encoding") == "gzip":
                    raw = gzip.decompress(raw)
                replies.append((resp.status, raw))
            except (http.client.HTTPException, ConnectionError, OSError, EOFError,
                    zlib.error) as e:
                replies.append((0, repr(e).encode()))
            finally:
                conn.close()
            entry = self.control_json("GET", "hostile")["pages"][-1]
            if entry["expect"] != "rows" or entry["next"] is None:
                break
            link = urlsplit(entry["next"])
            path = link.path + ("?" + link.query if link.query else "")
        return replies, self.control_json("GET", "hostile")

    def test_account_matches_the_wire(self):
        kinds = set()
        for seed in range(120):
            self.arm("t%d" % seed)
            replies, account = self.scan("/v1.0/%s?$select=id,title&$top=5" % ALERTS)
            pages = account["pages"]
            self.assertEqual(len(pages), len(replies))
            for (status, raw), page in zip(replies, pages):
                kinds.add(page["expect"])
                if page["expect"] == "rows":
                    self.assertEqual(status, 200)
                    self.assertEqual(base64.b64decode(page["body"]), raw)
                    doc = hostile.strict_loads(raw)
                    self.assertEqual(doc.get("@odata.nextLink"), page["next"])
                    for item in doc["value"]:
                        if isinstance(item, dict) and "id" in item and isinstance(item["id"], str):
                            self.assertLessEqual(set(item) - {"id", "title", "@odata.type"},
                                                 set(item), item)
                elif page["transport"] is None and page["status"] == 200:
                    # judged an error: too large, not JSON, or not a page
                    try:
                        doc = hostile.strict_loads(raw)
                    except hostile.NotJSON:
                        continue
                    self.assertTrue(len(raw) > 262144 or not isinstance(doc, dict)
                                    or not isinstance(doc.get("value"), list)
                                    or "nextLink" in page["why"], page)
                elif page["transport"] is None:
                    self.assertEqual(status, page["status"])
                    self.assertEqual(page["sqlstate"], hostile.status_sqlstate(status))
        self.assertEqual(kinds, {"rows", "error"})

    def test_same_seed_same_pages(self):
        bodies = []
        for _ in range(2):
            self.arm("same", SCORES)
            replies, _ = self.scan("/v1.0/%s?$top=5" % SCORES)
            bodies.append(replies)
        self.assertEqual(bodies[0], bodies[1])

    def test_a_clean_scan_serves_the_data(self):
        data = {d["id"]: d for d in self.data(RISKY)}
        seed = next(s for s in range(1000) if not hostile.Scenario(
            s, RISKY, [0], None, 1, "h", "/p").mutate)
        self.arm(seed, RISKY)
        replies, account = self.scan("/v1.0/%s" % RISKY)
        items = [i for _, raw in replies for i in json.loads(raw)["value"]]
        self.assertTrue(all(p["expect"] == "rows" for p in account["pages"]))
        self.assertEqual(sum(len(json.loads(raw)["value"]) for _, raw in replies),
                         sum(hostile.Scenario(seed, RISKY, [0], None, 1, "h", "/p").sizes))
        for item in items:
            self.assertEqual(item, data[item["id"]])

    def test_control(self):
        self.assertEqual(self.control("POST", "hostile", {"resource": "nope"}).status, 400)
        self.assertEqual(self.control("POST", "hostile", {"resource": ALERTS,
                                                          "max_response_bytes": 0}).status, 400)
        self.arm(1)
        self.assertEqual(self.control_json("GET", "hostile")["pages"], [])
        self.control("POST", "reset")
        self.assertIsNone(self.control_json("GET", "hostile")["seed"])
        self.assertEqual(self.get(ALERTS + "?$top=1").status, 200)   # disarmed: real Graph


class TestJudge(unittest.TestCase):
    """The verdicts, in the order the extension checks a page."""

    def scenario(self):
        sc = hostile.Scenario("j", ALERTS, [0], None, 100, "127.0.0.1:9", "/v1.0/" + ALERTS)
        sc.base_query = "$top=5"
        return sc

    def page(self, value, link=None):
        doc = {"value": value}
        if link is not None:
            doc["@odata.nextLink"] = link
        return hostile.Reply(200, json.dumps(doc).encode())

    def test_order_of_checks(self):
        sc = self.scenario()
        self.assertEqual(sc.judge(hostile.Reply(200, b"x", transport="truncate"))[:2],
                         ("error", "HV00N"))
        self.assertEqual(sc.judge(hostile.Reply(503, b"{}"))[:2], ("error", "HV00N"))
        self.assertEqual(sc.judge(hostile.Reply(404, b"{}"))[:2], ("error", "HV00R"))
        self.assertEqual(sc.judge(hostile.Reply(401, b"{}"))[:2], ("error", "42501"))
        self.assertEqual(sc.judge(hostile.Reply(429, b"{}"))[:2], ("error", "53400"))
        self.assertEqual(sc.judge(hostile.Reply(200, b'{"value":[]}' + b" " * 100))[:2],
                         ("error", "HV000"))
        self.assertEqual(sc.judge(hostile.Reply(200, b'{"value":{}}'))[:2], ("error", "HV000"))
        self.assertEqual(sc.judge(hostile.Reply(200, b'{"value":[5]}'))[0], "rows")

    def test_links(self):
        sc = self.scenario()
        one = sc.link(1)
        self.assertEqual(sc.judge(self.page([], one))[0], "rows")
        self.assertEqual(sc.judge(self.page([], one))[:3], ("error", "HV000", "nextLink loops"))
        # the first URL was never a nextLink: following it once is no loop
        self.assertEqual(sc.judge(self.page([], sc.link(0)))[0], "rows")
        self.assertEqual(sc.judge(self.page([], sc.link(0)))[2], "nextLink loops")
        self.assertEqual(sc.judge(self.page([], one.replace("http:", "HTTP:")))[0], "rows")
        for link in (5, "", "/v1.0/x", one.replace(":9", ":10"), one.replace("http", "https"),
                     one.replace("127.0.0.1", "localhost")):
            self.assertEqual(sc.judge(self.page([], link))[0], "error", link)
        self.assertEqual(sc.judge(self.page([1], None)), ("rows", None, None, None))

    def test_empty_run(self):
        sc = self.scenario()
        sc.max_bytes = 1 << 20
        for k in range(hostile.MAX_EMPTY_RUN):
            self.assertEqual(sc.judge(self.page([], sc.link(k + 1)))[0], "rows")
        self.assertEqual(sc.judge(self.page([], sc.link(1000)))[2], "too many empty pages")
        sc.empty_run = 0
        self.assertEqual(sc.judge(self.page([], None))[0], "rows")   # the end, not a run


class TestNumbers(unittest.TestCase):
    def test_jfloat_is_exact(self):
        self.assertEqual(hostile.JFloat("0.1"), Decimal("0.1"))
        self.assertEqual(hostile.JFloat("1e400").text, "1e400")


if __name__ == "__main__":
    unittest.main()
