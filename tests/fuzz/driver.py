#!/usr/bin/python3
"""Protocol fuzzing of msgraph_security_fdw against the emulator's hostile mode.

    driver.py --socket-dir DIR --port PORT --emulator URL [--scans N] [--seed S]

Each scan: pick a foreign table and some of its columns (from the seed),
arm the emulator's hostile mode for that resource with the scan's seed
(POST /_emulator/hostile), run

    SELECT json_build_object('<column>', <column>, ...)::text FROM <table>

and read back what the emulator served and meant (GET /_emulator/hostile).
The expected outcome follows from that account alone, page by page in the
order served:

* every request after the first must be the previous page's nextLink,
  byte for byte, or (after a page that must fail) a retry of the same
  request;
* a page the emulator judged an error ends the scan with its SQLSTATE;
* otherwise each item becomes a row through model.py (the README's type
  mapping, under "The tables", with PostgreSQL's input functions as the
  oracle), or fails with the conversion's SQLSTATE;
* a scan whose last page still had a nextLink and no error is a partial
  result.

The scan must end exactly so: the same rows in the same order, or an ERROR
with that SQLSTATE (the rows sent before the error must be the expected
prefix).  After every scan the connection must still be the same backend;
every 250 scans the postmaster's start time is checked.  Mismatches are
written as JSON lines to --failures; the run exits 1 if there is any, or
if the server crashed.
"""

import argparse
import base64
import http.client
import json
import os
import random
import sys
import time
from collections import Counter
from urllib.parse import urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "emulator"))

import hostile          # noqa: E402  (the emulator's strict reference parser)
import model            # noqa: E402
import pgwire           # noqa: E402

TENANT = "11111111-2222-3333-4444-555555555555"
ADMIN_ID = "aaaaaaaa-bbbb-4ccc-8ddd-000000000001"
MAX_RESPONSE_BYTES = 262144

# hand-made tables over the same resources: the other types a user may declare
TYPED_TABLES = """
CREATE TYPE fz_level AS ENUM ('low', 'medium', 'high', 'hidden', 'none', 'unknownFutureValue');
CREATE DOMAIN fz_short AS text CHECK (length(VALUE) < 12);
CREATE FOREIGN TABLE fz.alerts_typed (
  id varchar(40),
  severity integer,
  title varchar(24),
  status fz_short,
  created_date_time timestamp,
  last_update_date_time date,
  first_activity_date_time timestamptz,
  custom_details json,
  categories varchar(12)[],
  mitre_techniques text,
  incident_id bigint,
  evidence text[],
  comments jsonb,
  raw json OPTIONS (property '$')
) SERVER fz OPTIONS (resource 'security/alerts_v2');
CREATE FOREIGN TABLE fz.scores_typed (
  id text,
  active_user_count double precision,
  licensed_user_count integer,
  current_score numeric,
  max_score bigint,
  enabled_services jsonb,
  created_date_time text,
  average_comparative_scores text[],
  control_scores json
) SERVER fz OPTIONS (resource 'security/secureScores');
CREATE FOREIGN TABLE fz.users_typed (
  id uuid,
  is_deleted integer,
  is_processing text,
  risk_level fz_level,
  risk_state fz_short,
  risk_last_updated_date_time timestamptz,
  user_display_name varchar(10),
  user_principal_name boolean
) SERVER fz OPTIONS (resource 'identityProtection/riskyUsers');
CREATE FOREIGN TABLE fz.detections_typed (
  id text,
  activity_date_time timestamptz,
  lat double precision OPTIONS (property 'location.geoCoordinates.latitude'),
  city text OPTIONS (property 'location.city'),
  location jsonb,
  additional_info json,
  risk_level fz_level,
  ip_address inet
) SERVER fz OPTIONS (resource 'identityProtection/riskDetections');
"""

CAST_FUNCTION = """
CREATE FUNCTION %(name)s(v text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
  x %(type)s;
BEGIN
  x := v;          -- the type's input function, typmod and domain checks included
  RETURN to_json(x)::text;
EXCEPTION WHEN OTHERS THEN
  RETURN 'ERROR:' || SQLSTATE;
END $f$;
"""


class Table:
    def __init__(self, name, resource, columns):
        self.name = name
        self.resource = resource
        self.columns = columns


class Emulator:
    def __init__(self, url):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.conn = None

    def call(self, method, path, obj=None):
        body = None if obj is None else json.dumps(obj)
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                self.conn.request(method, "/_emulator/" + path, body=body,
                                  headers={"Content-Type": "application/json"})
                resp = self.conn.getresponse()
                data = resp.read()
                if resp.status != 200:
                    raise RuntimeError("emulator %s %s: %d %s" % (method, path, resp.status,
                                                                 data[:200]))
                return json.loads(data)
            except (ConnectionError, http.client.HTTPException):
                self.conn = None
                if attempt == 2:
                    raise


class Driver:
    def __init__(self, args):
        self.args = args
        self.emu = Emulator(args.emulator)
        self.conn = self.connect()
        self.cast_cache = {}
        self.cast_functions = {}
        self.stats = Counter()
        self.codes = Counter()
        self.mutations = Counter()
        self.failures = []

    def connect(self):
        conn = pgwire.Connection(self.args.socket_dir, self.args.port)
        conn.execute("SET timezone = 'UTC'; SET statement_timeout = '60s'; "
                     "SET client_min_messages = warning")
        return conn

    # --- set-up --------------------------------------------------------------------------
    def setup(self):
        c = self.conn
        url = self.args.emulator.rstrip("/")
        c.execute("DROP SCHEMA IF EXISTS fz CASCADE; DROP SERVER IF EXISTS fz CASCADE; "
                  "DROP TYPE IF EXISTS fz_level; DROP DOMAIN IF EXISTS fz_short")
        c.execute("CREATE EXTENSION IF NOT EXISTS msgraph_security_fdw")
        c.execute("CREATE SERVER fz FOREIGN DATA WRAPPER msgraph_security_fdw OPTIONS "
                  "(tenant_id %s, graph_url %s, login_url %s, max_response_bytes '%d')"
                  % (pgwire.literal(TENANT), pgwire.literal(url), pgwire.literal(url),
                     MAX_RESPONSE_BYTES))
        # where retries exist, none: a page that must fail fails at once
        if c.query("ALTER SERVER fz OPTIONS (ADD max_retries '0')").error:
            print("(the server has no max_retries option: no retries to turn off)")
        c.execute("CREATE USER MAPPING FOR CURRENT_USER SERVER fz OPTIONS "
                  "(client_id %s, client_secret %s)"
                  % (pgwire.literal(ADMIN_ID), pgwire.literal(self.args.client_secret)))
        c.execute("CREATE SCHEMA fz")
        c.execute("IMPORT FOREIGN SCHEMA security FROM SERVER fz INTO fz")
        c.execute("IMPORT FOREIGN SCHEMA identity_protection FROM SERVER fz INTO fz")
        c.execute(TYPED_TABLES)
        self.tables = self.read_tables()
        self.backend_pid = self.conn.pid
        self.started = c.scalar("SELECT pg_postmaster_start_time()::text")

    def read_tables(self):
        rows = self.conn.execute("""
            SELECT c.relname, (SELECT substr(o, 10) FROM unnest(t.ftoptions) o
                                WHERE o LIKE 'resource=%'),
                   a.attname, format_type(a.atttypid, a.atttypmod),
                   (SELECT substr(o, 10) FROM unnest(a.attfdwoptions) o WHERE o LIKE 'property=%'),
                   CASE WHEN ty.typelem <> 0 AND ty.typtype = 'b' AND ty.typlen = -1
                        THEN format_type(ty.typelem, a.atttypmod) END
              FROM pg_foreign_table t
              JOIN pg_class c ON c.oid = t.ftrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'fz'
              JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
              JOIN pg_type ty ON ty.oid = a.atttypid
             ORDER BY c.relname, a.attnum""").rows
        tables = {}
        for relname, resource, attname, typename, prop, elem in rows:
            if relname == "incidents" and attname == "alerts":
                continue                # $expand: not served by the hostile mode
            if prop is None:
                parts = attname.split("_")
                prop = parts[0] + "".join(p.capitalize() for p in parts[1:])
            t = tables.setdefault(relname, Table("fz." + relname, resource, []))
            t.columns.append(model.Column(attname, typename, prop, elem))
        return [tables[k] for k in sorted(tables)]

    # --- the oracle's input functions ---------------------------------------------------
    def cast(self, typename, text):
        key = (typename, text)
        hit = self.cast_cache.get(key)
        if hit is not None:
            return hit
        fn = self.cast_functions.get(typename)
        if fn is None:
            fn = "fz_in_%d" % len(self.cast_functions)
            self.conn.execute(CAST_FUNCTION % {"name": fn, "type": typename})
            self.cast_functions[typename] = fn
        out = self.conn.scalar("SELECT %s(%s)" % (fn, pgwire.literal(text)))
        if out.startswith("ERROR:"):
            result = ("error", out[6:])
        else:
            result = ("ok", model.parse_row(out))
        if len(self.cast_cache) > 200000:
            self.cast_cache.clear()
        self.cast_cache[key] = result
        return result

    # --- one scan ---------------------------------------------------------------------------
    def scan(self, seed):
        self.stats["scans"] += 1
        rng = random.Random("pick:%s" % seed)
        table = rng.choice(self.tables)
        cols = table.columns
        if rng.random() < 0.7:
            cols = rng.sample(cols, rng.randint(1, min(len(cols), 6)))
            cols.sort(key=table.columns.index)
        self.emu.call("POST", "hostile", {"seed": seed, "resource": table.resource,
                                          "max_response_bytes": MAX_RESPONSE_BYTES})
        # json_build_object(), not row_to_json() of a subquery: the same JSON
        # of each value, but no anonymous record type registered per column
        # set (those stay in CacheMemoryContext and would hide a leak)
        sql = "SELECT json_build_object(%s)::text FROM %s" % (
            ", ".join("'%s', \"%s\"" % (c.name, c.name) for c in cols), table.name)
        started = time.monotonic()
        try:
            result = self.conn.query(sql)
        except pgwire.ConnectionLost as e:
            self.crashed(seed, sql, str(e))
            return
        elapsed = time.monotonic() - started
        account = self.emu.call("GET", "hostile")
        for page in account["pages"]:
            self.mutations.update(page["mutations"])
        self.stats["pages"] += len(account["pages"])
        if self.conn.pid != self.backend_pid:
            self.fail(seed, sql, "backend", "the backend changed", None, result)
        try:
            expect = self.expect(account, cols)
        except ChainError as e:
            self.fail(seed, sql, "chain", str(e), account, result)
            return
        self.judge(seed, sql, expect, result, account, elapsed)

    def expect(self, account, cols):
        """("rows", rows) or ("error", SQLSTATE, rows before it, why)."""
        oracle = model.Oracle(self.cast)
        pages = account["pages"]
        if not pages:
            raise ChainError("the scan sent no request to the resource")
        rows = []
        outcome = None
        ahead = None        # the nextLink of a page whose rows failed
        for n, page in enumerate(pages):
            if n > 0:
                last = pages[n - 1]
                if outcome is not None:
                    if ahead is not None and page["request"] == ahead:
                        # fetched ahead while the failing page's rows were read
                        ahead = None
                        continue
                    ahead = None
                    if page["request"] != last["request"]:
                        raise ChainError("page %d requested after a failure" % n)
                    continue            # a retry of the failed request
                if last["next"] is None:
                    raise ChainError("page %d requested after the last page" % n)
                link = urlsplit(last["next"])
                want = link.path + ("?" + link.query if link.query else "")
                if page["request"] != want:
                    raise ChainError("page %d is not the nextLink: %r, not %r"
                                     % (n, page["request"], want))
            if page["expect"] == "error":
                outcome = ("error", page["sqlstate"], list(rows), page["why"])
                continue
            doc = hostile.strict_loads(base64.b64decode(page["body"]))
            for item in doc["value"]:
                try:
                    rows.append(oracle.row(cols, item))
                except model.CellError as e:
                    outcome = ("error", e.sqlstate, list(rows), str(e))
                    if page["next"] is not None:
                        link = urlsplit(page["next"])
                        ahead = link.path + ("?" + link.query if link.query else "")
                    break
            if outcome is not None:
                continue
        if outcome is not None:
            return outcome
        if pages[-1]["next"] is not None:
            return ("stopped", rows)    # the scan must not have ended here
        return ("rows", rows)

    def judge(self, seed, sql, expect, result, account, elapsed):
        got_rows = [model.parse_row(r[0]) for r in result.rows]
        want_rows = expect[1] if expect[0] in ("rows", "stopped") else expect[2]
        if expect[0] == "stopped":
            if result.error is None:
                return self.fail(seed, sql, "wrong_rows", "a partial result: paging stopped "
                                 "after %d rows with a nextLink left" % len(got_rows),
                                 account, result)
            return self.fail(seed, sql, "unexpected_error", "%s: %s" % (
                result.sqlstate, result.error.get("M")), account, result)
        if expect[0] == "rows":
            if result.error is not None:
                return self.fail(seed, sql, "unexpected_error",
                                 "%s: %s" % (result.sqlstate, result.error.get("M")),
                                 account, result)
            self.stats["scans_with_rows_expected"] += 1
        else:
            if result.error is None:
                return self.fail(seed, sql, "missing_error",
                                 "expected %s (%s), got %d rows" % (expect[1], expect[3],
                                                                    len(got_rows)),
                                 account, result)
            if result.sqlstate != expect[1]:
                return self.fail(seed, sql, "wrong_sqlstate",
                                 "expected %s (%s), got %s: %s" % (
                                     expect[1], expect[3], result.sqlstate,
                                     result.error.get("M")), account, result)
            self.codes[expect[1]] += 1
        if len(got_rows) != len(want_rows) or not all(
                model.same(g, w) for g, w in zip(got_rows, want_rows)):
            bad = next((i for i, (g, w) in enumerate(zip(got_rows, want_rows))
                        if not model.same(g, w)), min(len(got_rows), len(want_rows)))
            return self.fail(seed, sql, "wrong_rows", "row %d: got %s, expected %s" % (
                bad, _short(got_rows[bad:bad + 1]), _short(want_rows[bad:bad + 1])),
                account, result)
        self.stats["rows"] += len(got_rows)
        self.stats["values"] += sum(len(r) for r in got_rows)
        if expect[0] == "rows":
            self.stats["ok_scans"] += 1
        else:
            self.stats["error_scans"] += 1

    def fail(self, seed, sql, kind, why, account, result):
        self.stats["mismatches"] += 1
        self.stats["mismatch_" + kind] += 1
        entry = {"seed": seed, "kind": kind, "why": why, "sql": sql,
                 "error": result.error if result else None,
                 "pages": [{k: p[k] for k in ("k", "request", "status", "transport",
                                                "mutations", "expect", "sqlstate", "why")}
                           for p in (account or {}).get("pages", [])]}
        self.failures.append(entry)
        if len(self.failures) <= 20:
            print("MISMATCH %s [%s]: %s" % (seed, kind, why[:400]), flush=True)

    def crashed(self, seed, sql, why):
        self.stats["crashes"] += 1
        self.failures.append({"seed": seed, "kind": "crash", "why": why, "sql": sql})
        print("CONNECTION LOST at %s: %s" % (seed, why), flush=True)
        time.sleep(2)
        self.conn = self.connect()
        self.backend_pid = self.conn.pid
        self.cast_functions.clear()       # they live on, but be safe: recreate lazily
        self.cast_cache.clear()

    def check_server(self):
        now = self.conn.scalar("SELECT pg_postmaster_start_time()::text")
        if now != self.started:
            self.stats["restarts"] += 1
            print("the postmaster restarted: %s -> %s" % (self.started, now), flush=True)
            self.started = now

    def rss(self):
        return int(self.conn.scalar(
            "SELECT substring(pg_read_file('/proc/' || pg_backend_pid() || '/status') "
            "FROM 'VmRSS:\\s*(\\d+)')"))

    def contexts(self):
        """The backend's palloc memory (kB), in all and per context name."""
        rows = self.conn.execute(
            "SELECT name, sum(total_bytes)::bigint FROM pg_backend_memory_contexts "
            "GROUP BY name").rows
        by_name = {name: int(total) for name, total in rows}
        return sum(by_name.values()) // 1024, by_name

    def run(self):
        t0 = time.monotonic()
        rss_start = cxt_start = None
        for i in range(self.args.scans):
            self.scan("%s:%d" % (self.args.seed, i))
            if i == 99:
                # after the first scans have warmed the caches
                rss_start, cxt_start = self.rss(), self.contexts()
            if (i + 1) % 250 == 0:
                self.check_server()
            if (i + 1) % 1000 == 0:
                print("  %d scans, %d mismatches, %.0f s" % (
                    i + 1, self.stats["mismatches"], time.monotonic() - t0), flush=True)
        self.check_server()
        self.emu.call("DELETE", "hostile")
        self.report(time.monotonic() - t0, (rss_start, self.rss()),
                    (cxt_start, self.contexts()))

    def report(self, seconds, rss, contexts):
        s = self.stats
        print("fuzz: %d scans in %.0f s (seed %s): %d returned every row they should "
              "(%d rows, %d values), %d ended in the ERROR they should; %d pages served"
              % (s["scans"], seconds, self.args.seed, s["ok_scans"], s["rows"],
                 s["values"], s["error_scans"], s["pages"]))
        print("  expected errors by SQLSTATE: %s" % ", ".join(
            "%s %d" % kv for kv in sorted(self.codes.items())))
        print("  mutations applied: %s" % ", ".join(
            "%s %d" % kv for kv in self.mutations.most_common()))
        print("  mismatches: %d (wrong rows %d, missing errors %d, unexpected errors %d, "
              "wrong SQLSTATE %d, paging %d, backend changed %d)"
              % (s["mismatches"], s["mismatch_wrong_rows"], s["mismatch_missing_error"],
                 s["mismatch_unexpected_error"], s["mismatch_wrong_sqlstate"],
                 s["mismatch_chain"], s["mismatch_backend"]))
        print("  crashes (connection lost): %d, postmaster restarts: %d, backend pid %s "
              "throughout" % (s["crashes"], s["restarts"],
                              "the same" if not s["crashes"] else "changed"))
        start, end = contexts[0] or (None, {}), contexts[1]
        print("  the backend after 100 scans and at the end: RSS %s / %d kB, memory "
              "contexts %s / %d kB" % (rss[0] if rss[0] is not None else "-", rss[1],
                                       start[0] if start[0] is not None else "-", end[0]))
        grown = sorted(((end[1][n] - start[1].get(n, 0), n) for n in end[1]), reverse=True)
        print("  grown most: %s" % ", ".join("%s +%d kB" % (n, g // 1024)
                                             for g, n in grown[:4] if g > 0))
        if self.args.failures:
            with open(self.args.failures, "w") as f:
                for entry in self.failures:
                    f.write(json.dumps(entry) + "\n")


class ChainError(Exception):
    """The extension's requests did not follow the pages as served."""


def _short(rows):
    text = json.dumps(rows, default=str, ensure_ascii=True)
    return text if len(text) < 300 else text[:300] + "..."


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--socket-dir", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--emulator", required=True, help="http://127.0.0.1:PORT")
    p.add_argument("--client-secret", default="emu-Secret.Admin~1")
    p.add_argument("--scans", type=int, default=500)
    p.add_argument("--seed", default="1")
    p.add_argument("--failures", help="write mismatches here (JSON lines)")
    args = p.parse_args(argv)
    driver = Driver(args)
    driver.setup()
    driver.run()
    s = driver.stats
    return 1 if s["mismatches"] or s["crashes"] or s["restarts"] else 0


if __name__ == "__main__":
    sys.exit(main())
