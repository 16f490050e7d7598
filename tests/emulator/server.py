"""HTTP plumbing: one port for Graph, the token endpoint and the control API.

Request kinds, told apart by path:

* /_emulator/...                   control API (control.py): no auth, no log
* /{tenant}/oauth2/v2.0/token      identity platform (identity.py, assertion.py)
* /metadata/identity/oauth2/token  managed identity endpoint (managed_identity.py)
* /v1.0/... and /beta/...          Graph (graph.py)

Every token and Graph request is logged (state.RequestLog) and offered to
the injected faults (faults.py) before it is served; list requests of the
resource the fuzzing mode is armed for are then answered by hostile.py;
Graph requests pass Graph's throttling limits (throttle.py) when the config
switches them on.  With a TLS context the port speaks HTTPS only
(handshakes happen in the connection's thread, never in the accepting
one).  Performance choices
follow env.md section 3 pitfall 13: HTTP/1.1 keep-alive with a
Content-Length on every response, TCP_NODELAY, a listen backlog of 128,
daemon threads, and bodies served from pre-rendered bytes (render.py).
"""

import json
import logging
import re
import select
import socket
import ssl
import struct
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote

import assertion
import control
import faults
import graph
import hostile
import identity
import managed_identity
import query
import render
import state
import tenants
import throttle
import timestamps

log = logging.getLogger("graph_emulator")


def remove_dot_segments(path):
    """RFC 3986 section 5.2.4 on a raw absolute path.  A segment that is
    "." or ".." once "%2E" is decoded counts as a dot segment too (section
    6.2.2.2: percent-encoded unreserved characters are the same URI); no
    other escape is decoded here.  "/v1.0/a/b/.." is "/v1.0/a/"."""
    segments = path.split("/")[1:]
    out = []
    for i, segment in enumerate(segments):
        dots = re.sub("%2[eE]", ".", segment)
        last = i == len(segments) - 1
        if dots in (".", ".."):
            if dots == ".." and out:
                out.pop()
            if last:
                out.append("")
            continue
        out.append(segment)
    return "/" + "/".join(out)

GRAPH_CONTENT_TYPE = ("application/json;odata.metadata=minimal;odata.streaming=true;"
                      "IEEE754Compatible=false;charset=utf-8")
LOGIN_CONTENT_TYPE = "application/json; charset=utf-8"
AGS_DIAGNOSTIC = json.dumps({"ServerInfo": {
    "DataCenter": "Emulator Loopback", "Slice": "E", "Ring": "5",
    "ScaleUnit": "000", "RoleInstance": "EMU000127001"}}, separators=(",", ":"))
TOKEN_PATH = re.compile(r"/([^/]+)/oauth2/v2\.0/token\Z")
MAX_REQUEST_BODY = 16 << 20
LOGGED_RAW_BODY = 4096             # bytes of a non-JSON Graph body kept in the log
IOV_MAX = 1024
TLS_HANDSHAKE_TIMEOUT = 10
TLS_WRITE_BATCH = 256 << 10
LOGGED_HEADERS = ("prefer", "client-request-id", "accept-encoding", "user-agent",
                  "content-type", "metadata", "x-forwarded-for", "consistencylevel")
MALFORMED_BODY = b'{"value":[{"id":"malformed",,"title":"cut here'
HTML_502 = (b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>"
            b"<body><h1>502 Bad Gateway</h1><p>The gateway received an invalid "
            b"response from the upstream server.</p></body></html>\n")
DEFAULT_ERROR_CODES = {400: "BadRequest", 401: "InvalidAuthenticationToken",
                       403: "Forbidden", 404: "NotFound", 409: "Conflict",
                       429: "TooManyRequests", 500: "InternalServerError",
                       501: "NotImplemented", 502: "BadGateway",
                       503: "ServiceUnavailable", 504: "GatewayTimeout"}


class Response:
    """A response ready to send: status, body (render.Body), type, headers."""

    def __init__(self, status, body, content_type, headers=(), compressible=True):
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = list(headers)
        self.compressible = compressible


def json_body(obj, rows=0):
    return render.Body.of(render.dumps(obj), rows)


def accepts_gzip(header):
    """True when an Accept-Encoding value allows gzip (q > 0, or * allowed)."""
    if not header:
        return False
    star = False
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        coding = coding.strip().lower()
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if coding in ("gzip", "x-gzip"):
            return q > 0
        if coding == "*":
            star = q > 0
    return star


def send_chunks(sock, chunks, limit=None):
    """Write the first `limit` bytes (default: all) of `chunks` to `sock`.

    Scatter-gather: sendmsg() takes up to IOV_MAX (1024) buffers per call,
    so a page is written without ever being joined.  A send may be partial
    (the socket has a timeout, so it is non-blocking underneath); the loop
    resumes mid-chunk.
    """
    if limit is None:
        limit = sum(len(c) for c in chunks)
    views = []
    budget = limit
    for chunk in chunks:
        if budget <= 0:
            break
        view = memoryview(chunk)
        if len(view) > budget:
            view = view[:budget]
        if len(view):
            views.append(view)
        budget -= len(view)
    if isinstance(sock, ssl.SSLSocket):
        # no sendmsg() on TLS sockets: write batches of joined chunks
        batch, size = [], 0
        for view in views:
            batch.append(view)
            size += len(view)
            if size >= TLS_WRITE_BATCH:
                sock.sendall(b"".join(batch))
                batch, size = [], 0
        if batch:
            sock.sendall(b"".join(batch))
        return
    start = 0
    while start < len(views):
        sent = sock.sendmsg(views[start:start + IOV_MAX])
        while sent:
            size = len(views[start])
            if sent >= size:
                sent -= size
                start += 1
            else:
                views[start] = views[start][sent:]
                sent = 0


class EmulatorServer(ThreadingHTTPServer):
    """The listening server and all state the handlers share."""

    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, tenant, host="127.0.0.1", port=0, gzip=True, latency_ms=0,
                 token_lifetime=3599, quiet=False, hunting_rows=2000, throttle_limits=False,
                 tls_context=None):
        self.tenant = tenant
        self.clock = timestamps.Clock(tenant.now)
        self.gzip = gzip
        self.quiet = quiet
        self.tls_context = tls_context
        self.scheme = "https" if tls_context is not None else "http"
        defaults = {"latency_ms": latency_ms, "case_insensitive": False,
                    "strict": False, "empty_pages": False,
                    "token_lifetime": token_lifetime,
                    "hunting_delay_ms": 0,
                    "hunting_timeout_ms": state.HUNTING_TIMEOUT_MS,
                    "throttle": throttle_limits}
        defaults.update(state.DEFAULT_THROTTLE_LIMITS)
        self.config = state.Config(defaults)
        self.limiter = throttle.Limiter()
        self.requests = state.RequestLog()
        self.faults = faults.FaultRegistry()
        self.tokens = identity.TokenStore()
        self.certificates = assertion.CertificateRegistry()
        self.graph = graph.GraphService(tenant, self.tokens, self.clock,
                                        hunting_rows=hunting_rows)
        self.hostile = hostile.HostileMode(self.graph, tenant)
        self.tenants = tenants.Registry(self, hunting_rows)
        self.control = control.ControlAPI(self)
        self.stopping = threading.Event()
        super().__init__((host, port), Handler)

    @property
    def port(self):
        return self.server_address[1]

    @property
    def base_url(self):
        """The canonical address: client assertions must be addressed to it."""
        return "%s://127.0.0.1:%d" % (self.scheme, self.port)

    def get_request(self):
        sock, addr = super().get_request()
        if self.tls_context is not None:
            # the handshake runs in the handler's thread (Handler.setup)
            sock = self.tls_context.wrap_socket(sock, server_side=True,
                                                do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        """A failed TLS handshake (a client that refused the certificate) is
        worth one log line, not a traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, (ssl.SSLError, ConnectionError, socket.timeout)):
            if not self.quiet:
                log.info("%s:%d - TLS handshake failed: %s", client_address[0],
                         client_address[1], error)
            return
        super().handle_error(request, client_address)

    def stop(self):
        """Stop serving; hanging requests notice and return."""
        self.stopping.set()
        self.shutdown()
        self.server_close()
        self.certificates.close()


class Handler(BaseHTTPRequestHandler):
    """One connection; each request goes through dispatch()."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "graph-emulator"
    sys_version = ""
    timeout = 600                      # idle keep-alive connections go after that

    def setup(self):
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(TLS_HANDSHAKE_TIMEOUT)
            self.request.do_handshake()
        super().setup()

    def do_GET(self):
        self.dispatch()

    do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def log_message(self, fmt, *args):  # http.server's own messages (bad requests)
        log.warning("%s - %s", self.address_string(), fmt % args)

    # --- dispatch ---------------------------------------------------------------------------
    def dispatch(self):
        started = time.monotonic()
        self.head_sent = False
        self.throttle_ticket = None
        self.throttled = None
        self.log_entry = None
        self.request_id = str(uuid.uuid4())
        self.client_request_id = self.headers.get("client-request-id") or self.request_id
        path, _, raw_query = self.path.partition("?")
        try:
            body = self.read_body()
        except ValueError as e:
            self.close_connection = True
            self.send(Response(400, json_body({"error": str(e)}), LOGIN_CONTENT_TYPE,
                               compressible=False))
            return
        if path.startswith("/_emulator/"):
            self.serve_control(path, body)
            return
        m = TOKEN_PATH.match(path)
        kind = ("token" if m else
                "managed_identity" if path == managed_identity.PATH else "graph")
        entry = self.server.requests.start(**self.log_fields(kind, path, raw_query, body))
        self.log_entry = entry
        status, rows, sent, fault = 0, 0, 0, None
        try:
            tenant_fault = self.server.tenants.fault_for(entry, kind, self.command, path,
                                                         raw_query or "", self.headers)
            fault = (self.server.faults.take(kind, self.command, path, raw_query or "")
                     or tenant_fault)
            status, rows, sent = self.serve(kind, path, raw_query, body, m, fault)
        except (ConnectionError, socket.timeout):
            self.close_connection = True
        except Exception:                       # a bug: say so, keep serving
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True
            if not self.head_sent:
                status = 500
                self.send(self.graph_error(500, "InternalServerError",
                                           "The emulator failed; see its log."))
        finally:
            if self.throttle_ticket is not None:
                self.throttle_ticket.release()
            self.server.requests.finish(entry, status, rows, sent,
                                        fault.action if fault else None, self.throttled)
            if not self.server.quiet:
                log.info("%s %s -> %s %dB %.1fms%s", self.command, self.path, status or "-",
                         sent, (time.monotonic() - started) * 1000,
                         " [fault %s]" % fault.action if fault else "")

    def serve_control(self, path, body):
        try:
            status, content_type, data = self.server.control.handle(self.command, path, body)
        except Exception:                       # a bug: say so, keep serving
            traceback.print_exc(file=sys.stderr)
            status, content_type, data = 500, LOGIN_CONTENT_TYPE, b'{"error":"internal"}'
        self.send(Response(status, render.Body.of(data), content_type, compressible=False))

    def serve(self, kind, path, raw_query, body, token_match, fault):
        """Serve a token or Graph request under an optional fault.

        Returns (status, rows, body bytes sent); status 0 when the fault
        sent no response at all.
        """
        action = fault.action if fault else None
        if action == "reset":
            self.reset_connection()
            return 0, 0, 0
        if action == "hang":
            self.hang()
            return 0, 0, 0
        if action == "slow":
            time.sleep(fault.delay_ms / 1000.0)
        if action in ("status", "malformed", "html", "body", "flood"):
            response = self.fault_response(kind, fault)
        elif kind == "token":
            response = self.token_response(token_match, body, path)
        elif kind == "managed_identity":
            response = self.managed_identity_response(raw_query)
        elif action is None and self.server.hostile.wants(self.command, path):
            return self.send_hostile(self.server.hostile.serve(
                path, raw_query, self.host(), self.prefers_enums()))
        elif action == "empty_run":
            response = Response(200, render.Body.of(hostile.empty_run_page(
                self.host(), path, raw_query)), GRAPH_CONTENT_TYPE, self.graph_headers())
        else:
            response = self.graph_response(path, raw_query, body, action)
            if action in ("inject", "cut", "reverse") and response.status == 200:
                response = Response(200, render.Body.of(hostile.rewrite_page(
                    response.body.join(), fault)), GRAPH_CONTENT_TYPE, response.headers)
        if kind == "graph" and self.server.config.current.latency_ms:
            time.sleep(self.server.config.current.latency_ms / 1000.0)
        if self.throttle_ticket is not None:
            # the answer is ready: the request no longer holds a slot (a
            # client that hears it and sends the next one finds it free)
            self.throttle_ticket.release()
        sent = self.send(response, truncate=(action == "truncate"))
        return response.status, (response.body.rows if response.status < 400 else 0), sent

    def read_body(self):
        """The request body (Content-Length or chunked); b"" when none."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_REQUEST_BODY:
                    raise ValueError("request body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_REQUEST_BODY:
            raise ValueError("request body too large")
        return self.rfile.read(length) if length else b""

    def log_fields(self, kind, path, raw_query, body):
        """The request log's view of a request: never secrets or tokens."""
        try:
            params = query.split_query(raw_query).params
        except query.QueryError:
            params = {}
        headers = {name: self.headers[name] for name in LOGGED_HEADERS
                   if self.headers.get(name) is not None}
        auth = self.headers.get("Authorization")
        # the request-target exactly as the request line had it (http.server
        # folds a leading "//" of self.path; nothing else is changed)
        words = self.requestline.split()
        target = words[1] if len(words) >= 2 else self.path
        fields = {"kind": kind, "method": self.command, "target": target, "path": path,
                  "query": raw_query, "params": params, "headers": headers,
                  "authorization": ("none" if auth is None else
                                    "bearer" if auth[:7].lower() == "bearer " else "other")}
        if kind == "token":
            form = self.form(body)
            fields["form"] = {k: form[k] for k in ("client_id", "scope", "grant_type",
                                                   "client_assertion_type") if k in form}
            fields["scope"] = form.get("scope")
            if "client_assertion" in form:
                fields["assertion"] = assertion.summary(form["client_assertion"])
        elif kind == "managed_identity":
            try:
                resource = managed_identity.parse_query(raw_query).get("resource")
            except managed_identity.ImdsError:
                resource = None
            fields["scope"] = resource and managed_identity.scope_of(resource) or resource
        elif body:
            # Graph bodies (PATCH, comments, actions, hunting) hold no
            # secrets: the token travels in the Authorization header
            try:
                fields["body"] = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                fields["body_raw"] = body[:LOGGED_RAW_BODY].decode("utf-8", "replace")
        return fields

    def form(self, body):
        """Form fields of a urlencoded body (first occurrence wins)."""
        content_type = self.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
            return {}
        fields = {}
        try:
            pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True,
                              errors="strict")
        except (UnicodeDecodeError, ValueError):
            return {}
        for name, value in pairs:
            fields.setdefault(name, value)
        return fields

    # --- the three kinds of responses -----------------------------------------------------------
    def token_response(self, token_match, body, path):
        server = self.server
        headers = [("Cache-Control", "no-store, no-cache"), ("Pragma", "no-cache"),
                   ("x-ms-request-id", self.request_id),
                   ("client-request-id", self.client_request_id)]
        try:
            if self.command != "POST":
                raise identity.TokenError(
                    400, "invalid_request", 900561, "The endpoint only accepts POST, OPTIONS "
                    "requests. Received a %s request." % self.command)
            tenant_segment = unquote(token_match.group(1))
            result = identity.issue_token(server.tokens, tenant_segment, self.form(body),
                                          self.headers.get("Authorization"),
                                          server.config.current.token_lifetime,
                                          server.certificates, server.base_url + path,
                                          tenants=server.tenants)
            return Response(200, json_body(result, 1), LOGIN_CONTENT_TYPE, headers,
                            compressible=False)
        except identity.TokenError as e:
            return Response(e.status, json_body(e.body(server.clock)), LOGIN_CONTENT_TYPE,
                            headers, compressible=False)

    def managed_identity_response(self, raw_query):
        server = self.server
        try:
            result = managed_identity.issue_token(server.tokens, self.command, raw_query,
                                                  self.headers,
                                                  server.config.current.token_lifetime)
            return Response(200, json_body(result, 1), LOGIN_CONTENT_TYPE, compressible=False)
        except managed_identity.ImdsError as e:
            return Response(e.status, json_body(e.body()), LOGIN_CONTENT_TYPE,
                            compressible=False)

    def graph_response(self, path, raw_query, body, link_fault):
        server = self.server
        settings = server.config.current
        try:
            version, segments = self.graph_path(path)
            self.admit(segments, settings, raw_query)
            req = graph.GraphRequest(
                method=self.command, version=version, raw_path=path, segments=segments,
                query=query.split_query(raw_query), host=self.host(),
                prefer=self.prefers_enums(), authorization=self.headers.get("Authorization"),
                settings=settings,
                link_fault=link_fault if link_fault in ("wrong_host_nextlink",
                                                        "loop_nextlink") else None,
                body=body, content_type=self.headers.get("Content-Type"),
                scheme=server.scheme, headers=self.headers)
            result = server.tenants.graph_for(req).handle(req)
            return Response(result.status, result.body,
                            result.content_type or GRAPH_CONTENT_TYPE,
                            self.graph_headers() + result.headers,
                            compressible=result.status != 204)
        except query.QueryError as e:
            return self.graph_error(e.status, e.code, e.message, details=e.details)
        except graph.GraphError as e:
            return self.graph_error(e.status, e.code, e.message, e.headers, e.details)
        except throttle.Throttled as e:
            self.throttled = e.scope
            extra = [("Retry-After", e.retry_after)] if e.retry_after is not None else []
            extra += getattr(e, "headers", [])
            return self.graph_error(429, "TooManyRequests", "Please retry again later.", extra)

    def admit(self, segments, settings, raw_query=""):
        """Pass Graph's throttling limits or raise throttle.Throttled.  A
        request without a valid token is not counted (it gets its 401)."""
        auth = self.headers.get("Authorization") or ""
        token = None
        if auth[:7].lower() == "bearer " and auth[7:].strip():
            token, _ = self.server.tokens.check(auth[7:].strip())
        self.throttle_ticket = self.server.limiter.admit(segments, token, settings, raw_query)

    def graph_path(self, path):
        """(version, decoded segments) of a Graph path, or raise the 404.

        Dot segments are resolved first, as HTTP servers and Graph's front
        end do: a "..", raw or as "%2E%2E", steps up, so it never reaches a
        handler as an id.  Every other segment is one decoded value: "a%2Fb"
        is the id "a/b", not two segments."""
        version, _, rest = remove_dot_segments(path)[1:].partition("/")
        if version not in ("v1.0", "beta"):
            raise graph.GraphError(404, "NotFound", "Invalid version: %s" % version)
        try:
            return version, [unquote(s, errors="strict") for s in rest.split("/")]
        except UnicodeDecodeError:
            raise graph.GraphError(400, "BadRequest", "The path is not valid UTF-8.") from None

    def fault_response(self, kind, fault):
        """The response of a status / malformed / html / body / flood fault."""
        if fault.action == "flood":
            extra = [("Retry-After", fault.retry_after)] if fault.retry_after is not None else []
            return Response(fault.status, render.Body.of(fault.flood_bytes()),
                            fault.content_type or GRAPH_CONTENT_TYPE,
                            self.graph_headers() + extra, compressible=fault.gzip)
        if fault.action == "body":
            return Response(fault.status, render.Body.of(fault.body_bytes()),
                            fault.content_type or GRAPH_CONTENT_TYPE, self.graph_headers())
        if fault.action == "html":
            return Response(502, render.Body.of(HTML_502), "text/html; charset=utf-8",
                            compressible=False)
        if fault.action == "malformed":
            content = GRAPH_CONTENT_TYPE if kind == "graph" else LOGIN_CONTENT_TYPE
            return Response(200, render.Body.of(MALFORMED_BODY), content,
                            self.graph_headers() if kind == "graph" else ())
        extra = [("Retry-After", fault.retry_after)] if fault.retry_after is not None else []
        if kind == "managed_identity":
            error = managed_identity.ImdsError(
                fault.status, fault.code or "temporarily_unavailable",
                fault.message or "Injected fault: HTTP %d." % fault.status)
            return Response(fault.status, json_body(error.body()), LOGIN_CONTENT_TYPE, extra,
                            compressible=False)
        if kind == "token":
            error = identity.TokenError(
                fault.status, fault.code or ("temporarily_unavailable"
                                             if fault.status >= 429 else "invalid_request"),
                50196 if fault.status >= 429 else 90014,
                fault.message or "Injected fault: HTTP %d." % fault.status)
            return Response(fault.status, json_body(error.body(self.server.clock)),
                            LOGIN_CONTENT_TYPE, extra, compressible=False)
        code = fault.code if fault.code is not None else DEFAULT_ERROR_CODES.get(
            fault.status, "UnknownError")
        message = fault.message or ("Please retry again later." if fault.status == 429
                                    else "Injected fault: HTTP %d." % fault.status)
        return self.graph_error(fault.status, code, message, extra)

    def graph_error(self, status, code, message, headers=(), details=None):
        error = {"code": code, "message": message}
        if details is not None:
            error["details"] = details
        error["innerError"] = {"date": self.server.clock.graph_date(),
                               "request-id": self.request_id,
                               "client-request-id": self.client_request_id}
        return Response(status, json_body({"error": error}), GRAPH_CONTENT_TYPE,
                        self.graph_headers() + list(headers))

    def graph_headers(self):
        return [("request-id", self.request_id),
                ("client-request-id", self.client_request_id),
                ("x-ms-ags-diagnostic", AGS_DIAGNOSTIC), ("OData-Version", "4.0")]

    def host(self):
        return self.headers.get("Host") or "127.0.0.1:%d" % self.server.port

    def prefers_enums(self):
        values = self.headers.get_all("Prefer") or ()
        return any(p.strip().lower() == graph.PREFER_ENUMS
                   for v in values for p in v.split(","))

    # --- the wire ----------------------------------------------------------------------------
    def send(self, response, truncate=False):
        """Write a response; return the body bytes put on the wire.

        With `truncate` (fault), the real Content-Length goes out but only
        half of the body, then the connection closes.
        """
        body = response.body
        chunks, length = body.chunks, body.length
        if response.status == 204:
            # no body, and so neither Content-Type nor Content-Length (RFC 9110)
            return self.send_no_content(response)
        headers = [("Date", timestamps.http_date()), ("Content-Type", response.content_type)]
        if response.compressible and self.server.gzip:
            headers.append(("Vary", "Accept-Encoding"))
            if accepts_gzip(self.headers.get("Accept-Encoding")):
                data = body.gzipped()
                chunks, length = [data], len(data)
                headers.append(("Content-Encoding", "gzip"))
        headers.append(("Content-Length", str(length)))
        headers.extend(response.headers)
        if self.close_connection or truncate:
            headers.append(("Connection", "close"))
        head = "HTTP/1.1 %d %s\r\n%s\r\n" % (
            response.status, self.responses.get(response.status, ("Unknown",))[0],
            "".join("%s: %s\r\n" % h for h in headers))
        self.head_sent = True
        if self.command == "HEAD":
            self.write([head.encode("latin-1")])
            return 0
        limit = length
        if truncate:
            limit = length // 2
            self.close_connection = True
        self.write([head.encode("latin-1")] + chunks, len(head) + limit)
        return limit

    def write(self, chunks, limit=None):
        """Put bytes on the wire; the request's log entry learns it is sent.

        It learns it first: a client may read the last byte and ask for the
        log before send_chunks() returns here, and the log must then wait
        for this entry's finish() rather than list it unfinished."""
        if self.log_entry is not None:
            self.server.requests.written(self.log_entry)
        send_chunks(self.connection, chunks, limit)

    def send_no_content(self, response):
        headers = [("Date", timestamps.http_date())] + response.headers
        if self.close_connection:
            headers.append(("Connection", "close"))
        head = "HTTP/1.1 204 No Content\r\n%s\r\n" % "".join("%s: %s\r\n" % h
                                                              for h in headers)
        self.head_sent = True
        self.write([head.encode("latin-1")])
        return 0

    def send_hostile(self, reply):
        """Put a hostile.Reply on the wire; (status, rows, body bytes sent)."""
        if reply.transport == "reset":
            self.reset_connection()
            return 0, 0, 0
        data = reply.body
        headers = [("Date", timestamps.http_date()), ("Content-Type", reply.content_type)]
        headers += self.graph_headers() + reply.headers
        if reply.transport == "bad_gzip":
            # a deflate block of the reserved type 3: no decoder accepts it
            data = render.GZIP_HEADER + b"\x07not deflate" + data[:32]
            headers.append(("Content-Encoding", "gzip"))
        elif (reply.compress and self.server.gzip
              and accepts_gzip(self.headers.get("Accept-Encoding"))):
            data = hostile.gzip_bytes(data)
            headers.append(("Content-Encoding", "gzip"))
        length = limit = len(data)
        if reply.transport == "truncate":
            limit = reply.limit
        elif reply.transport == "short_length":
            length = limit = reply.limit
        headers.append(("Content-Length", str(length)))
        if reply.transport is not None:
            self.close_connection = True
            headers.append(("Connection", "close"))
        head = "HTTP/1.1 %d %s\r\n%s\r\n" % (
            reply.status, self.responses.get(reply.status, ("Unknown",))[0],
            "".join("%s: %s\r\n" % h for h in headers))
        self.head_sent = True
        self.write([head.encode("latin-1"), data], len(head) + limit)
        return reply.status, 0, limit

    def reset_connection(self):
        """Abort the connection: RST, no response (fault "reset")."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            # the descriptor really closes (with RST) when finish() closes
            # the handler's file objects
            self.connection.close()
        except OSError:
            pass

    def hang(self):
        """Send nothing until the client goes away or the server stops."""
        self.close_connection = True
        sock = self.connection
        while not self.server.stopping.is_set():
            try:
                readable, _, _ = select.select([sock], [], [], 0.2)
                if readable and not sock.recv(65536):
                    return
            except (OSError, ValueError):
                return
