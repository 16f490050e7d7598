#!/usr/bin/python3
"""Measure how fast the emulator serves alerts, so it is never the bottleneck.

    /usr/bin/python3 tests/emulator/bench_emulator.py [--alerts 200000] [--top 2000]

Starts graph_emulator.py as a child process (loopback only), reports how
long generating the tenant took and the server's resident memory, then
pages through every alert with one keep-alive connection, reading whole
bodies without parsing them, and prints rows/s for:

  first pass     entities already serialized by the background warm-up
                 (its duration is reported), pages assembled and cached
  cached         second pass: pages come from the rendered-page cache
  gzip           the same with Accept-Encoding: gzip (first pass compresses)
  top=1000, $select, $filter   other page sizes, a fresh $select variant
                 (entities serialized on demand) and a filtered result set

The client shares the machine's cores with the server, so the figures are
a floor.  The run is bounded: a fixed number of passes, then it stops the
child.
"""

import argparse
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
import zlib
from urllib.parse import urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
# every alert item carries exactly one of these
ALERT_MARK = b'"@odata.type":"#microsoft.graph.security.alert"'


def start(alerts):
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "graph_emulator.py"), "--port", "0",
         "--alerts", str(alerts), "--incidents", str(max(120, alerts // 20)), "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    port = int(proc.stdout.readline())
    return proc, port, time.monotonic() - started


def wait_warm(conn, limit=300):
    """Seconds until /_emulator/stats says the warm-up is done (bounded)."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        conn.request("GET", "/_emulator/stats")
        if json.loads(conn.getresponse().read())["warm"]:
            break
        time.sleep(0.2)
    return time.monotonic() - started


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class RawClient:
    """A minimal keep-alive HTTP/1.1 client reading bodies into one buffer.

    http.client allocates a new bytes object per body, and on multi-MB pages
    the page faults of that allocation cost more than the server's work;
    this client reuses a bytearray so that the figure measures the server.
    """

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray(16 << 20)
        self.view = memoryview(self.buf)
        self.extra = b""

    def get(self, path, headers):
        """(status, body length); the body is in self.buf[:length]."""
        lines = ["GET %s HTTP/1.1" % path, "Host: 127.0.0.1"]
        lines += ["%s: %s" % kv for kv in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = self.extra
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise SystemExit("connection closed")
            head += chunk
        head, _, rest = head.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = int(re.search(rb"(?im)^content-length:\s*(\d+)", head).group(1))
        if length > len(self.buf):
            self.buf = bytearray(length)
            self.view = memoryview(self.buf)
        got = min(len(rest), length)
        self.view[:got] = rest[:got]
        self.extra = rest[got:]
        while got < length:
            n = self.sock.recv_into(self.view[got:length])
            if n == 0:
                raise SystemExit("connection closed mid-body")
            got += n
        return status, length

    def close(self):
        self.sock.close()


def scan(client, token, path, gzip=False):
    """Follow nextLinks from `path`; return (rows, body bytes, seconds).

    Rows are counted on plain bodies only; gzip passes return None and the
    caller reuses the plain count, so that the client spends its time
    reading, not inflating.
    """
    headers = {"Authorization": "Bearer " + token,
               "Prefer": "include-unknown-enum-members"}
    if gzip:
        headers["Accept-Encoding"] = "gzip"
    rows = 0 if not gzip else None
    size = 0
    url = path
    started = time.monotonic()
    for _ in range(100_000):
        status, length = client.get(url, headers)
        if status != 200:
            raise SystemExit("HTTP %d on %s" % (status, url))
        size += length
        if gzip:
            head = zlib.decompressobj(31).decompress(bytes(client.buf[:65536]), 4096)
        else:
            head = bytes(client.buf[:4096])
            rows += client.buf.count(ALERT_MARK, 0, length)
        link = next_link(head)
        if link is None:
            return rows, size, time.monotonic() - started
        split = urlsplit(link)
        url = split.path + "?" + split.query
    raise SystemExit("paging did not end")


def next_link(head):
    marker = b'"@odata.nextLink":"'
    at = head.find(marker)
    if at < 0:
        return None
    end = head.index(b'"', at + len(marker))
    return json.loads(b'"' + head[at + len(marker):end] + b'"')


def report(label, rows, size, seconds):
    print("%-28s %8d rows %8.1f MB %6.2f s  %9.0f rows/s  %7.0f MB/s"
          % (label, rows, size / 1e6, seconds, rows / seconds, size / 1e6 / seconds),
          flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--alerts", type=int, default=200_000)
    p.add_argument("--top", type=int, default=2000)
    args = p.parse_args()
    proc, port, startup = start(args.alerts)
    try:
        print("generated %d alerts and listening after %.1f s; server RSS %.0f MB"
              % (args.alerts, startup, rss_mb(proc.pid)), flush=True)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.request("POST", "/_emulator/token")
        token = json.loads(conn.getresponse().read())["access_token"]
        print("background warm-up finished %.1f s after the port line"
              % wait_warm(conn), flush=True)
        conn.close()
        conn = RawClient(port)
        base = "/v1.0/security/alerts_v2?$top=%d" % args.top
        rows, size, seconds = scan(conn, token, base)
        report("first pass, top=%d" % args.top, rows, size, seconds)
        report("cached, top=%d" % args.top, *scan(conn, token, base))
        report("gzip first pass", rows, *scan(conn, token, base, True)[1:])
        report("gzip cached", rows, *scan(conn, token, base, True)[1:])
        report("first pass, top=1000", *scan(conn, token, "/v1.0/security/alerts_v2?$top=1000"))
        report("first pass, top=1999", *scan(conn, token, "/v1.0/security/alerts_v2?$top=1999"))
        selected = base + "&$select=id,createdDateTime,severity,status,title"
        report("new $select variant", *scan(conn, token, selected))
        filtered = base + ("&$filter=createdDateTime%20ge%202026-01-01T00:00:00Z"
                           "%20and%20status%20ne%20'resolved'")
        report("first pass, $filter", *scan(conn, token, filtered))
        report("cached, $filter", *scan(conn, token, filtered))
        print("server RSS after the passes %.0f MB" % rss_mb(proc.pid), flush=True)
        conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
