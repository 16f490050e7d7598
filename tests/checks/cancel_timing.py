#!/usr/bin/python3
"""How fast a cancel, statement_timeout or a vanished client stops a query
that waits on Graph, and what the backend keeps afterwards.

    tests/checks/cancel_timing.py PSQL_ARGS_JSON EMULATOR_URL [ROUNDS]

Run by tests/checks/cancel_timing.sh, which starts the emulator and a throwaway
PostgreSQL (the library preloaded) with the objects of sql/setup.sql.
Every case is measured ROUNDS times (default 10):

* cancel_hung       pg_cancel_backend() while a request hangs (no answer)
* cancel_backoff    pg_cancel_backend() while waiting out Retry-After: 30
* cancel_pacing     pg_cancel_backend() while queued in the shared budget,
                    which another session's 429 blocked for 3 s
* statement_timeout statement_timeout = 1s on a hung request (overshoot)
* client_gone       the client killed (SIGKILL) during a hang, with
                    client_connection_check_interval = 250ms: until the
                    backend is gone
Then one long-lived session goes through 20 cancels of each kind, and
its open descriptors and resident memory are compared before and after;
and after the hung, timed-out and killed sessions (pacing on: each held a
secure score slot of the shared budget), four sessions at once must each
get one of the 4 slots (none was kept).

The stop time runs from the moment pg_cancel_backend() returned (or the
client was killed) to the moment the client psql exited with the ERROR
(or the backend left pg_stat_activity).  Exits 1 if any stop took 1 s or
more, any case did not end as expected, or the session kept descriptors.
"""

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

PSQL = json.loads(sys.argv[1])
EMU = sys.argv[2]
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 10
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
LIMIT_S = 1.0


def emu(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(EMU + "/_emulator/" + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with NO_PROXY.open(req, timeout=30) as resp:
        return resp.read().decode()


def requests():
    return [json.loads(line) for line in emu("GET", "requests").splitlines() if line]


def wait_until(pred, timeout=10.0, step=0.005):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return False


class Controller:
    """A psql session kept open to run small statements quickly."""

    def __init__(self):
        env = dict(os.environ, PGAPPNAME="cancel_controller")
        self.p = subprocess.Popen(PSQL + ["-At", "-v", "ON_ERROR_STOP=0"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, bufsize=1, env=env)

    def one(self, query):
        """The first line of output of query (which must print one line)."""
        self.p.stdin.write(query.rstrip(";") + ";\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().rstrip("\n")

    def close(self):
        self.p.stdin.close()
        self.p.wait()


CTL = None


def backend_of(appname):
    out = CTL.one("SELECT coalesce(max(pid), 0) FROM pg_stat_activity WHERE application_name = '%s'"
                  % appname)
    return int(out or 0)


def state_of(pid):
    return CTL.one("SELECT coalesce(max(coalesce(wait_event_type, '') || '/' || state), 'gone') "
                   "FROM pg_stat_activity WHERE pid = %d" % pid)


def client(appname, *statements):
    env = dict(os.environ, PGAPPNAME=appname)
    args = list(PSQL) + ["-v", "ON_ERROR_STOP=1"]
    for s in statements:
        args += ["-c", s]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)


def in_flight():
    return any(r["status"] is None for r in requests())


def saw_status(status):
    return lambda: any(r["status"] == status for r in requests())


def case_cancel(fault, ready, preface=(), before=None):
    """One cancel: (stop seconds, wait event seen, ERROR text ok)."""
    emu("POST", "reset")
    if before:
        before()
    emu("POST", "faults", fault)
    p = client("cancel_client", *preface, "SELECT count(id) FROM graph.secure_scores")
    pid = 0
    if not wait_until(lambda: backend_of("cancel_client") != 0):
        raise RuntimeError("the client did not connect")
    pid = backend_of("cancel_client")
    if not wait_until(ready):
        raise RuntimeError("the client did not reach its wait")
    seen = state_of(pid)
    CTL.one("SELECT pg_cancel_backend(%d)" % pid)
    t0 = time.monotonic()
    p.wait(timeout=30)
    stop = time.monotonic() - t0
    err = p.stderr.read()
    p.stdout.close()
    p.stderr.close()
    return stop, seen, "canceling statement due to user request" in err


def block_budget():
    """Another session's 429 (Retry-After: 3) blocks the shared budget; the
    cancel comes long before the block ends, and it has ended by the time
    all_slots_free() runs."""
    emu("POST", "faults", {"match": {"path_prefix": "/v1.0/security/secureScores"},
                           "action": "status", "status": 429, "retry_after": "3"})
    p = client("cancel_blocker", "SET msgraph_security_fdw.pace_requests = on",
               "SELECT count(id) FROM graph0.secure_scores")
    p.wait(timeout=30)
    err = p.stderr.read()
    p.stdout.close()
    p.stderr.close()
    if "53400" not in err and "429" not in err:
        raise RuntimeError("the blocking request did not get its 429: " + err)


PACE = "SET msgraph_security_fdw.pace_requests = on"


def case_statement_timeout():
    emu("POST", "reset")
    emu("POST", "faults", {"match": {"path_prefix": "/v1.0/security/secureScores"},
                           "action": "hang"})
    p = client("cancel_client", PACE, "SET statement_timeout = '1s'",
               "SELECT count(id) FROM graph.secure_scores")
    if not wait_until(in_flight):
        raise RuntimeError("no request in flight")
    # the statement started before its request arrived: measure from there
    t_request = time.monotonic()
    p.wait(timeout=30)
    elapsed = time.monotonic() - t_request
    err = p.stderr.read()
    p.stdout.close()
    p.stderr.close()
    return elapsed - 1.0, "canceling statement due to statement timeout" in err


def case_client_gone():
    emu("POST", "reset")
    emu("POST", "faults", {"match": {"path_prefix": "/v1.0/security/secureScores"},
                           "action": "hang"})
    p = client("cancel_client", PACE, "SET client_connection_check_interval = '250ms'",
               "SELECT count(id) FROM graph.secure_scores")
    wait_until(lambda: backend_of("cancel_client") != 0)
    pid = backend_of("cancel_client")
    if not wait_until(in_flight):
        raise RuntimeError("no request in flight")
    p.send_signal(signal.SIGKILL)
    t0 = time.monotonic()
    p.wait()
    gone = wait_until(lambda: state_of(pid) == "gone", timeout=10, step=0.005)
    stop = time.monotonic() - t0
    p.stdout.close()
    p.stderr.close()
    return stop, gone


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def long_lived_session():
    """20 cancels of each kind in one backend: what does it keep?"""
    out = tempfile.TemporaryFile(mode="w+")
    env = dict(os.environ, PGAPPNAME="cancel_session")
    p = subprocess.Popen(PSQL + ["-v", "ON_ERROR_STOP=0"], stdin=subprocess.PIPE, stdout=out,
                         stderr=subprocess.STDOUT, text=True, bufsize=1, env=env)

    def send(q):
        p.stdin.write(q + "\n")
        p.stdin.flush()

    def idle():
        return state_of(pid).endswith("/idle")

    emu("POST", "reset")
    send("SELECT count(id) FROM graph.secure_scores;")
    wait_until(lambda: backend_of("cancel_session") != 0)
    pid = backend_of("cancel_session")
    wait_until(idle)
    before = (fds(pid), rss_kb(pid))
    cancels = 0
    for kind in ("hang", "backoff") * 20:
        emu("POST", "reset")
        fault = ({"match": {"path_prefix": "/v1.0/security/secureScores"}, "action": "hang"}
                 if kind == "hang" else
                 {"match": {"path_prefix": "/v1.0/security/secureScores"}, "action": "status",
                  "status": 429, "retry_after": "30"})
        emu("POST", "faults", fault)
        send("SELECT count(id) FROM graph.secure_scores;")
        wait_until(in_flight if kind == "hang" else saw_status(429))
        time.sleep(0.02)
        CTL.one("SELECT pg_cancel_backend(%d)" % pid)
        if wait_until(idle):
            cancels += 1
    emu("POST", "reset")
    send("SELECT count(id) FROM graph.secure_scores;")
    wait_until(idle)
    time.sleep(0.2)
    after = (fds(pid), rss_kb(pid))
    send("\\q")
    p.wait(timeout=30)
    out.seek(0)
    text = out.read()
    return before, after, cancels, text.count("canceling statement due to user request")


def all_slots_free():
    """Four hung secure score requests at once: all four must reach the
    emulator, so no slot of the budget is still held by a backend that was
    cancelled or killed above."""
    emu("POST", "reset")
    emu("POST", "faults", {"match": {"path_prefix": "/v1.0/security/secureScores"},
                           "action": "hang", "times": 4})
    clients = [client("cancel_slots", PACE, "SELECT count(id) FROM graph.secure_scores")
               for _ in range(4)]
    reached = wait_until(lambda: sum(r["status"] is None and r["kind"] == "graph"
                                     for r in requests()) == 4)
    if not reached:
        print("  in flight: %d; sessions: %s" % (
            sum(r["status"] is None and r["kind"] == "graph" for r in requests()),
            CTL.one("SELECT string_agg(coalesce(wait_event_type, '-') || '/' || state, ' ') "
                    "FROM pg_stat_activity WHERE application_name = 'cancel_slots'")))
    CTL.one("SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = 'cancel_slots'")
    for p in clients:
        p.wait(timeout=30)
        p.stdout.close()
        p.stderr.close()
    return reached


def summary(name, values):
    return "%-18s n=%d  median %4.0f ms  max %4.0f ms" % (
        name, len(values), statistics.median(values) * 1000, max(values) * 1000)


FAILURES = []


def check(cond, what):
    """Note a failed check by name; True when it held."""
    if not cond:
        FAILURES.append(what)
    return bool(cond)


def main():
    global CTL
    CTL = Controller()
    ok = True
    hung, backoff, pacing, timeouts, gone = [], [], [], [], []
    hang = {"match": {"path_prefix": "/v1.0/security/secureScores"}, "action": "hang"}
    throttled = {"match": {"path_prefix": "/v1.0/security/secureScores"}, "action": "status",
                 "status": 429, "retry_after": "30"}
    # hung requests hold a secure score slot of the shared budget (pacing
    # on): a cancel, a timeout and a vanished client must all give it back
    for _ in range(ROUNDS):
        stop, seen, err_ok = case_cancel(hang, in_flight, preface=(PACE,))
        hung.append(stop)
        ok &= check(err_ok and seen == "Extension/active", "cancel_hung: %s, error %s" % (seen, err_ok))
        stop, seen, err_ok = case_cancel(throttled, saw_status(429))
        backoff.append(stop)
        ok &= check(err_ok and seen == "Extension/active", "cancel_backoff: %s, error %s" % (seen, err_ok))
        overshoot, err_ok = case_statement_timeout()
        timeouts.append(overshoot)
        ok &= check(err_ok, "statement_timeout: the ERROR")
        stop, was_gone = case_client_gone()
        gone.append(stop)
        ok &= check(was_gone, "client_gone: the backend stayed")
    slots = all_slots_free()
    # (each of these blocks the budget for 3 s and halves its rate)
    for _ in range(ROUNDS):
        # (the client's own token request, the second after the blocker's,
        # is a wait too: the budget's comes after it)
        stop, seen, err_ok = case_cancel(
            {"match": {"path_prefix": "/v1.0/nothing"}, "action": "hang"},
            lambda: (sum(r["kind"] == "token" and r["status"] is not None
                         for r in requests()) >= 2 and
                     state_of(backend_of("cancel_client")) == "Extension/active"),
            preface=(PACE,), before=block_budget)
        pacing.append(stop)
        # queued in the budget: nothing reached the emulator after the 429
        sent = len([r for r in requests() if r["kind"] == "graph"])
        ok &= check(err_ok and seen == "Extension/active" and sent == 1,
                    "cancel_pacing: %s, error %s, %d requests" % (seen, err_ok, sent))
    for name, values in (("cancel_hung", hung), ("cancel_backoff", backoff),
                         ("cancel_pacing", pacing), ("statement_timeout", timeouts),
                         ("client_gone", gone)):
        print(summary(name, values))
        ok &= check(max(values) < LIMIT_S, "%s: %.3f s" % (name, max(values)))
    print("(statement_timeout: time past the 1 s timeout, counted from the request's arrival)")
    before, after, cancels, errors = long_lived_session()
    print("long-lived session: %d of 40 cancels ended the query (%d ERRORs seen); "
          "descriptors %d -> %d, VmRSS %d kB -> %d kB"
          % (cancels, errors, before[0], after[0], before[1], after[1]))
    ok &= check(cancels == 40 and errors == 40 and after[0] == before[0], "long-lived session")
    print("shared budget after %d cancels, timeouts and killed clients: %s"
          % (3 * ROUNDS, "4 of 4 secure score slots free" if slots else "a slot is still held"))
    ok &= check(slots, "shared budget slots")
    CTL.close()
    for what in FAILURES:
        print("  failed: " + what)
    print("cancel timing %s" % ("passed" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
