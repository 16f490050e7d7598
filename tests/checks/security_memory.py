#!/usr/bin/python3
"""What a hostile answer of empty objects costs a backend: memory and cancel.

    tests/checks/security_memory.py PSQL_ARGS_JSON EMULATOR_URL SIZE_MB [SIZE_MB ...]

Run by tests/checks/security_memory.sh, which starts the emulator and a throwaway
PostgreSQL with the objects used here.  For each size (in MB of body) and
each kind of answer below, the emulator's "flood" fault sends a body of
that size made of empty objects ({},{},...):

* error_400        a Graph error body (HTTP 400) around the objects
* error_400_gzip   the same, gzipped (a few kB on the wire)
* token_error      the identity platform refusing a token request so
* page_array       a 200 "page" that is a JSON array, not a page object
* page_cut         a 200 page whose "value" holds the objects, cut short
* entity           a 200 entity of a lookup by id holding the objects: read
                   through the page index, without a tree, it returns its
                   row (the one case that ends without an ERROR)
* hunting          a 200 advanced-hunting answer holding the objects: an
                   answer parsed into a tree, refused as too costly

Memory: in a fresh backend, after a warm-up query, the peak resident
memory (VmHWM) before and after the query that gets the answer; the
difference must be at most 4 times the body's size.  Cancel: the same
query in another backend, cancelled (pg_cancel_backend) as soon as the
emulator has the request; from the cancel to the end of the query (its
ERROR, whichever came first) must take less than a second.  Exits 1 if
any case fails either bound or does not end as it should (with an ERROR,
but for the entity).
"""

import json
import os
import subprocess
import sys
import time
import urllib.request

PSQL = json.loads(sys.argv[1])
EMU = sys.argv[2]
SIZES = [int(s) for s in sys.argv[3:]] or [1, 12]
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
MEMORY_FACTOR = 4.0
CANCEL_LIMIT_S = 1.0

EMPTY = {"unit": "{},"}
KINDS = {
    "error_400": (dict(EMPTY, status=400, head='{"error":{"code":"BadRequest","details":[',
                       tail="{}]}}", gzip=False),
                  {"path_prefix": "/v1.0/security/secureScores"}, "SELECT id FROM scores"),
    "error_400_gzip": (dict(EMPTY, status=400, head='{"error":{"code":"BadRequest","details":[',
                            tail="{}]}}", gzip=True),
                       {"path_prefix": "/v1.0/security/secureScores"}, "SELECT id FROM scores"),
    "token_error": (dict(EMPTY, status=400, head='{"error":"invalid_client","x":[',
                         tail="{}]}", gzip=False),
                    {"kind": "token"}, "SELECT id FROM tok_scores"),
    "page_array": (dict(EMPTY, head="[", tail="{}]", gzip=False),
                   {"path_prefix": "/v1.0/security/secureScores"}, "SELECT id FROM scores"),
    "page_cut": (dict(EMPTY, head='{"value":[', tail="{}", gzip=False),
                 {"path_prefix": "/v1.0/security/secureScores"}, "SELECT id FROM scores"),
    "entity": (dict(EMPTY, head='{"id":"s1","x":[', tail="{}]}", gzip=False),
               {"path_prefix": "/v1.0/security/secureScores/s1"},
               "SELECT id FROM scores WHERE id = 's1'"),
    "hunting": (dict(EMPTY, head='{"schema":[],"results":[', tail="{}]}", gzip=False),
                {"path_prefix": "/v1.0/security/runHuntingQuery"},
                "SELECT count(*) FROM msgraph_hunting_query('graph', 'AlertInfo')"),
}
# the kinds whose query returns normally
NO_ERROR = {"entity"}


def emu(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(EMU + "/_emulator/" + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with NO_PROXY.open(req, timeout=60) as resp:
        return resp.read().decode()


def requests():
    return [json.loads(line) for line in emu("GET", "requests").splitlines() if line]


def arm(kind, size_mb):
    spec, match, query = KINDS[kind]
    emu("POST", "reset")
    emu("POST", "faults", dict(spec, action="flood", match=match, bytes=size_mb * 1000000))
    return query


def psql(script, appname):
    env = dict(os.environ, PGAPPNAME=appname)
    p = subprocess.run(PSQL + ["-At", "-v", "ON_ERROR_STOP=0"], input=script, text=True,
                       capture_output=True, env=env, timeout=600)
    return p.stdout, p.stderr


HWM = "SELECT substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\\s*(\\d+)');"


def memory_case(kind, size_mb):
    query = arm(kind, size_mb)
    # warm-up: libcurl, a token, the catalog caches; then the peak so far
    script = "\n".join([
        "SELECT count(*) >= 0 FROM warm;",
        "SELECT msgraph_reset_tokens();" if kind == "token_error" else "SELECT 1;",
        HWM,
        "\\echo MARK",
        query + ";",
        "\\echo MARK",
        HWM])
    started = time.monotonic()
    out, err = psql(script, "secmem")
    elapsed = time.monotonic() - started
    parts = out.split("MARK")
    before = int(parts[0].strip().splitlines()[-1])
    after = int(parts[2].strip().splitlines()[-1])
    errors = [line for line in err.splitlines() if line.startswith("ERROR") or "ERROR:" in line]
    return before, after, elapsed, errors


def cancel_case(kind, size_mb):
    query = arm(kind, size_mb)
    controller = PSQL + ["-At", "-c"]
    env = dict(os.environ, PGAPPNAME="secmem_cancel")
    pre = "SELECT msgraph_reset_tokens();" if kind == "token_error" else ""
    victim = subprocess.Popen(PSQL + ["-At", "-c", pre + query], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env)
    want = "token" if kind == "token_error" else "graph"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and victim.poll() is None:
        if any(r.get("kind") == want and r.get("fault") == "flood" for r in requests()):
            break
        time.sleep(0.005)
    cancelled = time.monotonic()
    subprocess.run(controller + ["SELECT pg_cancel_backend(pid) FROM pg_stat_activity "
                                 "WHERE application_name = 'secmem_cancel'"],
                   capture_output=True, text=True)
    _, err = victim.communicate(timeout=60)
    stop = time.monotonic() - cancelled
    return stop, err.strip().splitlines()[0] if err.strip() else "(no error)"


def main():
    failures = 0
    print("%-15s %6s %10s %10s %9s %7s %9s  %s" % ("kind", "MB", "base kB", "peak kB",
                                                   "delta/size", "query s", "cancel s", "ERROR"))
    for size in SIZES:
        for kind in KINDS:
            before, after, elapsed, errors = memory_case(kind, size)
            delta_kb = max(after - before, 0)
            ratio = delta_kb * 1024.0 / (size * 1000000)
            stop, cancel_err = cancel_case(kind, size)
            ok = (ratio <= MEMORY_FACTOR and stop < CANCEL_LIMIT_S and
                  bool(errors) != (kind in NO_ERROR))
            failures += 0 if ok else 1
            print("%-15s %6d %10d %10d %9.2fx %7.2f %9.3f  %s%s" % (
                kind, size, before, after, ratio, elapsed, stop,
                errors[0][:90] if errors else "(no ERROR)",
                "" if ok else "   <-- FAIL"))
            print("%-15s %6s %10s %10s %10s %7s %9s  cancelled run: %s" % (
                "", "", "", "", "", "", "", cancel_err[:90]))
            sys.stdout.flush()
    emu("POST", "reset")
    if failures:
        print("FAIL: %d case(s) above %.0fx the body's size or slower than %.0f s to cancel"
              % (failures, MEMORY_FACTOR, CANCEL_LIMIT_S))
        return 1
    print("security memory check passed: every case at most %.0fx its body's size above the "
          "baseline, cancelled within %.0f s" % (MEMORY_FACTOR, CANCEL_LIMIT_S))
    return 0


if __name__ == "__main__":
    sys.exit(main())
