#!/usr/bin/python3
"""A small HTTP CONNECT proxy for the tests of the extension's `proxy` option.

    /usr/bin/python3 tests/proxy/connect_proxy.py [--port 0]

Listens on 127.0.0.1 and prints the bound port alone on the first line of
stdout (that line means ready).  It tunnels `CONNECT host:port` to loopback
targets only (anything else is 403) and remembers every request it gets,
so that a test can tell which connections went through it.  The extension
never sends requests for loopback hosts through a proxy, so the proxy also
knows one name of its own, ALIAS (under the reserved .invalid domain, which
no resolver answers): it tunnels it to 127.0.0.1, and only a request that
went through the proxy can reach the emulators under that name.


    GET  /_proxy/log     NDJSON, one line per request since the last reset:
                         {"seq", "method", "target", "status"}
    POST /_proxy/reset   forget them

Any other request (a plain proxied `GET http://...` included) is logged
and refused with 405: the extension must tunnel.  Python 3.11 standard
library only; SIGTERM exits 0.
"""

import argparse
import ipaddress
import json
import select
import signal
import socket
import socketserver
import sys
import threading

MAX_HEAD = 64 << 10
ALIAS = "graph.proxy-test.invalid"
RELAY_CHUNK = 64 << 10


class ProxyLog:
    def __init__(self):
        self._lock = threading.Lock()
        self._entries = []

    def add(self, method, target, status):
        with self._lock:
            self._entries.append({"seq": len(self._entries) + 1, "method": method,
                                  "target": target, "status": status})

    def ndjson(self):
        with self._lock:
            return "".join(json.dumps(e) + "\n" for e in self._entries).encode()

    def clear(self):
        with self._lock:
            self._entries.clear()


def loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Handler(socketserver.BaseRequestHandler):

    def handle(self):
        sock = self.request
        sock.settimeout(30)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk or len(head) > MAX_HEAD:
                return
            head += chunk
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split(" ")
        if len(parts) != 3:
            self.reply(400, "Bad Request")
            return
        method, target, _ = parts
        if method == "GET" and target == "/_proxy/log":
            self.reply(200, "OK", self.server.log.ndjson(), "application/x-ndjson")
            return
        if method == "POST" and target == "/_proxy/reset":
            self.server.log.clear()
            self.reply(200, "OK", b'{"ok": true}\n', "application/json")
            return
        if method != "CONNECT":
            self.server.log.add(method, target, 405)
            self.reply(405, "Method Not Allowed")
            return
        host, _, port = target.rpartition(":")
        if host == ALIAS:
            host = "127.0.0.1"
        if not loopback(host) or not port.isdigit():
            self.server.log.add(method, target, 403)
            self.reply(403, "Forbidden")
            return
        try:
            upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
        except OSError:
            self.server.log.add(method, target, 502)
            self.reply(502, "Bad Gateway")
            return
        self.server.log.add(method, target, 200)
        sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        # bytes the client sent after its CONNECT head belong to the tunnel
        rest = head.split(b"\r\n\r\n", 1)[1]
        if rest:
            upstream.sendall(rest)
        self.relay(sock, upstream)

    def relay(self, a, b):
        a.settimeout(None)
        b.settimeout(None)
        try:
            while not self.server.stopping.is_set():
                readable, _, _ = select.select([a, b], [], [], 0.5)
                for src in readable:
                    data = src.recv(RELAY_CHUNK)
                    if not data:
                        return
                    (b if src is a else a).sendall(data)
        except OSError:
            return
        finally:
            b.close()

    def reply(self, status, reason, body=b"", content_type="text/plain"):
        self.request.sendall(("HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
                              "Connection: close\r\n\r\n" % (status, reason, content_type,
                                                            len(body))).encode() + body)


class ProxyServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, port):
        self.log = ProxyLog()
        self.stopping = threading.Event()
        super().__init__(("127.0.0.1", port), Handler)


def main(argv=None):
    p = argparse.ArgumentParser(description="CONNECT proxy for the tests.")
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args(argv)
    proxy = ProxyServer(args.port)

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(proxy.server_address[1], flush=True)
    try:
        proxy.serve_forever()
    except SystemExit:
        pass
    finally:
        proxy.stopping.set()
        proxy.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
