"""Hostile Graph: broken and adversarial responses, on demand or from a seed.

Two users:

* the fault actions "body", "inject", "cut", "reverse" and "empty_run" (faults.py) that
  the regression suite sql/hostile.sql uses to send one precise kind of
  breakage: rewrite_page() and empty_run_page() implement them;

* the fuzzing mode (HostileMode, steered by POST /_emulator/hostile): every
  list request of the armed resource gets a page mutated from a seed, in
  types, sizes, encodings and structure, and the mode writes down what the
  client must make of each page it served: the items it meant, or that the
  page must end the scan in an ERROR (with which SQLSTATE).  The fuzz driver
  (tests/fuzz/driver.py) reads that account back with GET /_emulator/hostile
  and checks the extension against it.

What a page "means" is decided by the contract's JSON (interface.md: every
response body is UTF-8 JSON), judged by strict_loads(): RFC 8259 exactly,
plus the limits the extension documents for what it can hold faithfully
(integers within 64 bits, nesting up to MAX_DEPTH, no duplicate member
names, no U+0000 in a member name).  Everything a mutation produces is
judged by that function, so a mutation may be as random as it likes: the
judgement, not the mutation, says what the page means.

Python 3.11 standard library only.
"""

import base64
import copy
import gzip
import json
import random
import re
import threading
from decimal import Decimal
from urllib.parse import unquote, urlsplit

#: how deep values may nest, a scalar inside n containers at depth n + 1 (src/jsoncheck.h)
MAX_DEPTH = 64
#: consecutive empty pages with a nextLink a scan follows (src/msgraph_fdw.c)
MAX_EMPTY_RUN = 100
INT_MIN, UINT_MAX = -(1 << 63), (1 << 64) - 1
GRAPH_TYPE = "application/json;odata.metadata=minimal;odata.streaming=true;charset=utf-8"
PAGE_PARAM = "hzpage"          # a plain query parameter: Graph ignores those


# === the contract's JSON ==============================================================

class NotJSON(ValueError):
    """A body that is not a JSON text the extension may accept."""


class JFloat(Decimal):
    """A JSON number with a fraction or an exponent; keeps its text as sent."""

    def __new__(cls, text):
        self = Decimal.__new__(cls, text)
        self.text = text
        return self


def _int(text):
    try:
        value = int(text)
    except ValueError:                  # more digits than int() takes
        raise NotJSON("integer beyond the 64-bit range") from None
    if not INT_MIN <= value <= UINT_MAX:
        raise NotJSON("integer beyond the 64-bit range")
    return value


def _constant(name):
    raise NotJSON("%s is not JSON" % name)


def _object(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise NotJSON("duplicate member name %r" % key)
        if "\x00" in key:
            raise NotJSON("U+0000 in a member name")
        obj[key] = value
    return obj


_SURROGATE = re.compile("[\ud800-\udfff]")


def strict_loads(data):
    """The value of a body (bytes) under the contract, or raise NotJSON.

    JSON floats come back as JFloat (exact, with their text), integers as
    int.  Python's decoder already refuses what RFC 8259 refuses except
    NaN/Infinity (refused here), lone surrogate escapes (decoded as lone
    surrogates: refused after the parse) and depth (checked after it).
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise NotJSON("invalid UTF-8 at byte %d" % e.start) from None
    try:
        value = json.loads(text, strict=True, parse_constant=_constant, parse_float=JFloat,
                           parse_int=_int, object_pairs_hook=_object)
    except RecursionError:
        raise NotJSON("nesting too deep") from None
    except NotJSON:
        raise
    except ValueError as e:
        raise NotJSON(str(e)) from None
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if depth > MAX_DEPTH:           # json-c's way: scalars are a level too
            raise NotJSON("nesting too deep")
        if isinstance(v, dict):
            for key, child in v.items():
                if _SURROGATE.search(key):
                    raise NotJSON("lone surrogate in a member name")
                stack.append((child, depth + 1))
        elif isinstance(v, list):
            stack.extend((child, depth + 1) for child in v)
        elif isinstance(v, str) and _SURROGATE.search(v):
            raise NotJSON("lone surrogate in a string")
    return value


# === serialization with shapes json.dumps refuses =======================================

class Raw(bytes):
    """Bytes spliced into a body verbatim (invalid JSON on purpose, or not)."""


class Pairs(list):
    """An object as (name, value) pairs: duplicate names allowed."""


def serialize(value, ascii_only=True):
    """JSON bytes of value; Raw, Pairs and JFloat are written as they are."""
    out = []
    _write(value, ascii_only, out)
    return b"".join(out)


def _write(value, ascii_only, out):
    if isinstance(value, Raw):
        out.append(bytes(value))
    elif value is None:
        out.append(b"null")
    elif value is True:
        out.append(b"true")
    elif value is False:
        out.append(b"false")
    elif isinstance(value, JFloat):
        out.append(value.text.encode("ascii"))
    elif isinstance(value, int):
        out.append(str(value).encode("ascii"))
    elif isinstance(value, float):
        out.append(repr(value).encode("ascii"))
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=ascii_only).encode("utf-8"))
    elif isinstance(value, (dict, Pairs)):
        items = value.items() if isinstance(value, dict) else value
        out.append(b"{")
        for n, (key, child) in enumerate(items):
            if n:
                out.append(b",")
            _write(key, ascii_only, out)
            out.append(b":")
            _write(child, ascii_only, out)
        out.append(b"}")
    elif isinstance(value, list):
        out.append(b"[")
        for n, child in enumerate(value):
            if n:
                out.append(b",")
            _write(child, ascii_only, out)
        out.append(b"]")
    else:
        raise TypeError("cannot serialize %r" % (value,))


# === the fault actions of the regression suite ==========================================

def decode_raw(fault):
    """The bytes a fault gives as "raw" (text, sent as UTF-8) or "raw_b64"."""
    if fault.raw_b64 is not None:
        return base64.b64decode(fault.raw_b64)
    return fault.raw.encode("utf-8")


def rewrite_page(data, fault):
    """A Graph body rewritten by an "inject", "cut" or "reverse" fault.

    inject: the member `field` of item `entity` of "value" (-1: of the page
    itself) becomes the raw bytes; with `duplicate` the raw bytes are a
    second member of that name after the first.  A body that is not a page
    (an error) is returned unchanged.
    cut: the first `bytes` bytes of the body (default: half).
    reverse: the items of "value" in the opposite order, as a service that
    ignored $orderby (and sent its own order) might.
    """
    if fault.action == "cut":
        return data[:fault.cut_bytes if fault.cut_bytes is not None else len(data) // 2]
    try:
        page = json.loads(data)
    except ValueError:
        return data
    if not isinstance(page, dict) or not isinstance(page.get("value"), list):
        return data
    if fault.action == "reverse":
        page["value"].reverse()
        return serialize(page)
    if fault.entity == -1:
        target = page
    elif fault.entity < len(page["value"]) and isinstance(page["value"][fault.entity], dict):
        target = page["value"][fault.entity]
    else:
        return data
    raw = Raw(decode_raw(fault))
    pairs = Pairs(target.items())
    if fault.duplicate:
        pairs.append((fault.field, raw))
    else:
        for n, (key, _) in enumerate(pairs):
            if key == fault.field:
                pairs[n] = (key, raw)
                break
        else:
            pairs.append((fault.field, raw))
    if fault.entity == -1:
        return serialize(pairs)
    page["value"][fault.entity] = pairs
    return serialize(page)


def empty_run_page(host, path, raw_query):
    """An empty page whose nextLink is the request's own URL with the plain
    parameter emptyrun counted up: a fresh link every time, which the real
    handler ignores once the fault is used up (so paging goes on where it
    was)."""
    kept, run = [], 0
    for piece in raw_query.split("&") if raw_query else ():
        name, _, value = piece.partition("=")
        if name == "emptyrun":
            run = int(value) if value.isdigit() else 0
        elif piece:
            kept.append(piece)
    kept.append("emptyrun=%d" % (run + 1))
    page = {"@odata.context": "http://%s/v1.0/$metadata#hostile" % host,
            "@odata.nextLink": "http://%s%s?%s" % (host, path, "&".join(kept)),
            "value": []}
    return serialize(page)


# === the fuzzing mode ========================================================================

def status_sqlstate(status):
    """The SQLSTATE interface.md gives a non-200 Graph answer."""
    if status in (401, 403):
        return "42501"
    if status == 404:
        return "HV00R"
    if status == 429:
        return "53400"
    if status >= 500:
        return "HV00N"
    return "HV000"


def origin(url):
    """(scheme, host, port) of an absolute URL, None for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return (parts.scheme.lower(), parts.hostname.lower(),
            port or (443 if parts.scheme.lower() == "https" else 80))


class Reply:
    """A hostile response as the server must put it on the wire.

    transport: None, "reset" (RST, no response), "truncate" (the full
    Content-Length, then only `limit` body bytes and a close), "bad_gzip"
    (Content-Encoding gzip over bytes that are not gzip) or "short_length"
    (Content-Length `limit`, less than the body, then a close).
    """

    def __init__(self, status, body, content_type=GRAPH_TYPE, transport=None, limit=None,
                 compress=True, headers=()):
        self.status = status
        self.body = body
        self.content_type = content_type
        self.transport = transport
        self.limit = limit
        self.compress = compress and transport is None
        self.headers = list(headers)

    def seen_body(self):
        """The decoded body the client ends up with, if the transfer works."""
        if self.transport == "short_length":
            return self.body[:self.limit]
        return self.body


_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\Z")

STRINGS = ("", "x", "42", "-7", "3.5", "1e3", "true", "false", "yes", "no", "on", "off",
           "t", "f", "1", "0", "null", "high", "low", "unknownFutureValue", "Infinity",
           "NaN", "-0", "2024-01-01", "20240101", "epoch", "infinity", "-infinity",
           "2024-02-30T00:00:00Z", "2024-01-01T00:00:00Z", "2024-01-01 00:00:00+02",
           "\u00e9t\u00e9", "\x00", "a\x00b", "\t\n\r\x01\x1f\x7f", "\"quoted\" \\back\\",
           "\U0001f600 emoji", "\u2028\u2029", "\ufeffbom", "\uffff", "\U0010ffff",
           "'; DROP TABLE x; --", "{\"a\":1}", "[1,2]", "  padded  ", "{1,2}",
           "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
NUMBERS = (0, -1, 1, 42, (1 << 31) - 1, 1 << 31, -(1 << 31), -(1 << 31) - 1, (1 << 63) - 1,
           1 << 63, (1 << 64) - 1, INT_MIN, "1.5", "-0.0", "0.0", "1E5", "1e+2", "2.5e-3",
           "1e308", "1.7976931348623157e308", "1e309", "-1e309", "1e400", "1e-400",
           "5e-324", "4.9e-325", "0.1e1", "123456789012345678901234567890.5", "1e100000",
           "-1e-100000", "3.0", "100.0", "12345678901234567890.0")


def _number(rng):
    n = rng.choice(NUMBERS)
    if isinstance(n, str):
        return JFloat(n)
    if rng.random() < 0.2:
        return rng.randrange(-10 ** rng.randrange(1, 19), 10 ** rng.randrange(1, 19))
    return n


def random_value(rng, depth=0):
    """Any JSON value, weighted towards the ones conversions trip over."""
    r = rng.random()
    if r < 0.08:
        return None
    if r < 0.16:
        return rng.choice((True, False))
    if r < 0.42:
        return _number(rng)
    if r < 0.72 or depth > 2:
        s = rng.choice(STRINGS)
        if rng.random() < 0.15:
            s = s * rng.randrange(2, 50)
        return s
    if r < 0.86:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    return {rng.choice(("a", "b", "id", "value", "\u00e9", "x y", "")): random_value(rng, depth + 1)
            for _ in range(rng.randrange(0, 4))}


def timestamp_variant(rng, ts):
    """A timestamp Graph-like or not: digits, zones, out-of-range fields."""
    base = ts[:19] if len(ts) >= 19 else "2025-01-02T03:04:05"
    choice = rng.randrange(16)
    if choice == 0:
        return base + "." + "".join(rng.choice("0123456789")
                                    for _ in range(rng.randrange(1, 11))) + "Z"
    if choice == 1:
        return base + "Z"
    if choice == 2:
        return base.lower() + ".5z"
    if choice == 3:
        return base + rng.choice(("+00:00", "+01:30", "-05:00", "+14:00", "-12:00", "+99:00"))
    if choice == 4:
        return base
    if choice == 5:
        return base[:10]
    if choice == 6:
        return base.replace("T", " ") + "Z"
    if choice == 7:
        return base[:11] + rng.choice(("24:00:00", "23:59:60", "25:00:00", "12:60:00"))[:8] + "Z"
    if choice == 8:
        return rng.choice(("0000", "0001", "9999", "1969", "2038", "10000"))[:4] + base[4:] + "Z"
    if choice == 9:
        return base[:5] + rng.choice(("02-29", "02-30", "13-01", "00-10", "12-32", "04-31")) \
            + base[10:] + ".1234567Z"
    if choice == 10:
        return "9999-12-31T23:59:59.9999999Z"
    if choice == 11:
        return base + ".Z"
    if choice == 12:
        return base + ".9999995Z"
    if choice == 13:
        return " " + base + "Z "
    if choice == 14:
        return base + ".1234567ZZ"
    return base + "." + "".join(rng.choice("0123456789") for _ in range(7)) + "Z"


def deep_value(depth, rng):
    """Arrays and objects nested `depth` levels, innermost a string."""
    value = "deep"
    for _ in range(depth):
        value = [value] if rng.random() < 0.5 else {"d": value}
    return value


class PageContext:
    """What one page's mutations work on."""

    def __init__(self, rng, page, items, scenario, k):
        self.rng = rng
        self.page = page            # dict: the envelope, "value" = items
        self.items = items          # the entity dicts (mutable)
        self.scenario = scenario
        self.k = k
        self.ascii_only = True
        self.byte_ops = []          # applied after serialization
        self.size_op = None         # (target length) after the byte ops
        self.reply = None           # an HTTP-level Reply, if the page is replaced
        self.names = []


def _pick_item(ctx):
    dicts = [i for i in ctx.items if isinstance(i, dict)]
    return ctx.rng.choice(dicts) if dicts else None


def _pick_field(ctx, item):
    keys = [k for k in item if k != "@odata.type"] or list(item)
    return ctx.rng.choice(keys) if keys else None


def m_retype(ctx):
    item = _pick_item(ctx)
    if item is None:
        return
    field = _pick_field(ctx, item)
    if field is not None:
        item[field] = random_value(ctx.rng)


def m_drop(ctx):
    item = _pick_item(ctx)
    if item:
        field = _pick_field(ctx, item)
        if field is not None:
            del item[field]


def m_null(ctx):
    item = _pick_item(ctx)
    if item:
        field = _pick_field(ctx, item)
        if field is not None:
            item[field] = None


def m_timestamp(ctx):
    item = _pick_item(ctx)
    if not item:
        return
    fields = [k for k, v in item.items() if isinstance(v, str) and _TIMESTAMP.match(v)]
    if fields:
        field = ctx.rng.choice(fields)
        item[field] = timestamp_variant(ctx.rng, item[field])


def m_number(ctx):
    item = _pick_item(ctx)
    if not item:
        return
    fields = [k for k, v in item.items() if isinstance(v, (int, Decimal)) and v is not True
              and v is not False]
    field = ctx.rng.choice(fields) if fields else _pick_field(ctx, item)
    if field is not None:
        item[field] = _number(ctx.rng)


def m_unicode(ctx):
    """Escapes, control characters, U+0000, astral characters in a string."""
    item = _pick_item(ctx)
    if not item:
        return
    fields = [k for k, v in item.items() if isinstance(v, str)]
    if not fields:
        return
    field = ctx.rng.choice(fields)
    extra = ctx.rng.choice(("\x00", "\x01", "\x1f", "\t", "\"", "\\", "/", "\u00e9",
                            "\u4e2d\u6587", "\U0001f512", "\u2028", "\ufeff", "\U0010fffd"))
    s = item[field]
    pos = ctx.rng.randrange(len(s) + 1)
    item[field] = s[:pos] + extra + s[pos:]
    if ctx.rng.random() < 0.5:
        ctx.ascii_only = False


def m_dup_key(ctx):
    """A member name twice in one object (the page must be an ERROR)."""
    dicts = [n for n, i in enumerate(ctx.items) if isinstance(i, dict) and i]
    if not dicts:
        return
    n = ctx.rng.choice(dicts)
    item = ctx.items[n]
    field = _pick_field(ctx, item)
    pairs = Pairs(item.items())
    value = item[field] if ctx.rng.random() < 0.5 else random_value(ctx.rng)
    pairs.insert(ctx.rng.randrange(len(pairs) + 1), (field, value))
    ctx.items[n] = pairs


def m_unknown(ctx):
    item = _pick_item(ctx)
    if item is not None:
        item[ctx.rng.choice(("x-hostile", "@odata.etag", "IDS", "id ", "Severity"))] = \
            random_value(ctx.rng)


def m_deep(ctx):
    """Nesting around the limit: the page object is depth 1, an item 3,
    its members 4."""
    item = _pick_item(ctx)
    if item:
        field = _pick_field(ctx, item)
        if field is not None:
            item[field] = deep_value(ctx.rng.randrange(MAX_DEPTH - 6, MAX_DEPTH + 4), ctx.rng)


def m_long(ctx):
    item = _pick_item(ctx)
    if item:
        field = _pick_field(ctx, item)
        if field is not None:
            unit = ctx.rng.choice(("a", "\u00e9", "\U0001f600", "x\\y\"z"))
            item[field] = unit * ctx.rng.randrange(1000, 40000)


def m_many_keys(ctx):
    item = _pick_item(ctx)
    if item:
        field = _pick_field(ctx, item)
        if field is not None:
            item[field] = {"k%d" % i: i for i in range(ctx.rng.randrange(100, 5000))}


def m_wrap(ctx):
    item = _pick_item(ctx)
    if item:
        field = _pick_field(ctx, item)
        if field is not None:
            item[field] = [item[field]] if ctx.rng.random() < 0.5 else {"v": item[field]}


def m_evidence(ctx):
    """The evidence list the derived columns read from, made odd."""
    item = _pick_item(ctx)
    if not item or not isinstance(item.get("evidence"), list):
        return
    ev = item["evidence"]
    r = ctx.rng.randrange(6)
    if r == 0 or not ev:
        item["evidence"] = random_value(ctx.rng)
    elif r == 1:
        ev.append(random_value(ctx.rng))
    else:
        e = ctx.rng.choice(ev)
        if not isinstance(e, dict):
            return
        key = ctx.rng.choice(("@odata.type", "deviceDnsName", "userAccount"))
        if key == "@odata.type":
            e[key] = ctx.rng.choice(("#microsoft.graph.security.deviceEvidence",
                                     "#microsoft.graph.security.userEvidence",
                                     "#microsoft.graph.security.DeviceEvidence",
                                     "#microsoft.graph.security.deviceEvidence\x00x", 5, None))
        elif key == "deviceDnsName":
            e[key] = ctx.rng.choice(("ws-1", "a\x00b", "", 7, None, ["x"], "\u00e9.local"))
        else:
            e[key] = ctx.rng.choice(({"userPrincipalName": "u\x00@x"},
                                     {"userPrincipalName": 5}, "x", None,
                                     {"userPrincipalName": "\U0001f600@contoso.com"}))


def m_item_type(ctx):
    if ctx.items:
        n = ctx.rng.randrange(len(ctx.items))
        ctx.items[n] = ctx.rng.choice((5, "x", None, [], [1], True, JFloat("1.5")))


def m_value_type(ctx):
    choice = ctx.rng.randrange(6)
    if choice == 0:
        del ctx.page["value"]
    else:
        ctx.page["value"] = (None, {}, "[]", 5, {"value": []})[choice - 1]


def m_top_type(ctx):
    ctx.page.clear()
    ctx.page["__top__"] = ctx.rng.choice(([], [{"id": "x"}], "page", 5, None, True))


def m_next_type(ctx):
    ctx.page["@odata.nextLink"] = ctx.rng.choice((5, {}, [], True, JFloat("1.5"), None, ""))


def m_next_elsewhere(ctx):
    sc = ctx.scenario
    link = sc.link(ctx.k + 1)
    port = sc.host.rpartition(":")[2]
    ctx.page["@odata.nextLink"] = ctx.rng.choice((
        link.replace("127.0.0.1", "127.0.0.2", 1),
        link.replace("127.0.0.1", "localhost", 1),
        link.replace(":" + port, ":%d" % ((int(port) % 60000) + 1), 1),
        link.replace("http://", "https://", 1),
        link.split(sc.host, 1)[1],
        "not a url", "//127.0.0.1:%s/v1.0/x" % port, "ftp://127.0.0.1:%s/x" % port))


def m_next_loop(ctx):
    """A nextLink that was already followed (or the first URL, which was not)."""
    ctx.page["@odata.nextLink"] = ctx.scenario.link(ctx.rng.randrange(ctx.k + 1))


def m_next_case(ctx):
    """The same origin spelt differently: followed."""
    if ctx.k + 1 < ctx.scenario.npages:
        ctx.page["@odata.nextLink"] = ctx.scenario.link(ctx.k + 1).replace("http://", "HTTP://", 1)


def m_next_drop(ctx):
    """The nextLink absent or null: the scan ends here, with these rows."""
    if ctx.rng.random() < 0.5:
        ctx.page.pop("@odata.nextLink", None)
    else:
        ctx.page["@odata.nextLink"] = None


def m_envelope(ctx):
    """Members a client must ignore."""
    ctx.page[ctx.rng.choice(("@odata.count", "@odata.context", "@odata.deltaLink",
                             "@microsoft.graph.tips", "x"))] = random_value(ctx.rng)


def m_many_items(ctx):
    if ctx.items:
        base = list(ctx.items)
        while len(ctx.items) < 120:
            ctx.items.append(copy.deepcopy(ctx.rng.choice(base)))


def m_raw_utf8(ctx):
    ctx.ascii_only = False


# byte-level: after serialization, within the "value" part of the body
def b_cut(ctx):
    ctx.byte_ops.append(("cut", ctx.rng.random()))


def b_flip(ctx):
    ctx.byte_ops.append(("flip", [(ctx.rng.random(), ctx.rng.randrange(256))
                                  for _ in range(ctx.rng.randrange(1, 4))]))


INSERTS = (b"\x00", b"\x01", b"\x1f", b"\t", b"\n", b"\x7f", b"\xc0\x80", b"\xed\xa0\x80",
           b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\x80", b"\xbf", b"\xe2\x82", b"\xff",
           b"\xc3\xa9", b"\xf0\x9f\x98\x80", b"\\ud800", b"\\udc00", b"\\ud800\\u0041",
           b"\\x", b"\\u12", b"\\u0000", b"\\'", b"'", b'"', b",", b"]", b"}", b"NaN", b"\\")


def b_insert(ctx):
    ctx.byte_ops.append(("insert", ctx.rng.random(), ctx.rng.choice(INSERTS)))


def b_syntax(ctx):
    ctx.byte_ops.append(("syntax", ctx.rng.randrange(9), ctx.rng.random()))


def s_pad(ctx):
    """Whitespace up to around max_response_bytes: just under, at, over."""
    limit = ctx.scenario.max_bytes
    ctx.size_op = limit + ctx.rng.choice((-1000, -1, 0, 1, 2, 5000))


def h_status(ctx):
    status = ctx.rng.choice((400, 401, 403, 404, 405, 409, 429, 500, 501, 502, 503, 504,
                             201, 204, 206, 302, 418))
    r = ctx.rng.randrange(5)
    if r == 0:
        body, ctype = b"<html><body>Service Unavailable</body></html>", "text/html"
    elif r == 1:
        body, ctype = b"", GRAPH_TYPE
    elif r == 2:
        body, ctype = (b'{"error":{"code":"bad\xff\xfe","message":"broken \xc0\x80 bytes'
                       b' \\u0000 here"}}'), GRAPH_TYPE
    else:
        body = serialize({"error": {"code": ctx.rng.choice(("", "BadRequest", "x" * 300)),
                                    "message": random_value(ctx.rng),
                                    "innerError": {"request-id": "r-%d" % ctx.k}}})
        ctype = GRAPH_TYPE
    if status in (204, 304):
        body = b""                      # no body allowed: none sent
    headers = [("Retry-After", "0")] if status in (429, 503) else []
    ctx.reply = Reply(status, body, ctype, headers=headers)


def h_html200(ctx):
    ctx.reply = Reply(200, b"<!DOCTYPE html><html><head><title>Sign in</title></head>"
                      b"<body>Please sign in.</body></html>", "text/html; charset=utf-8")


def h_transport(ctx):
    kind = ctx.rng.choice(("reset", "truncate", "bad_gzip", "short_length"))
    ctx.byte_ops.append(("transport", kind, ctx.rng.random()))


MUTATIONS = (
    # name, weight, function
    ("retype", 14, m_retype), ("drop", 4, m_drop), ("null", 3, m_null),
    ("timestamp", 10, m_timestamp), ("number", 8, m_number), ("unicode", 8, m_unicode),
    ("dup_key", 3, m_dup_key), ("unknown", 3, m_unknown), ("deep", 3, m_deep),
    ("long", 2, m_long), ("many_keys", 1, m_many_keys), ("wrap", 3, m_wrap),
    ("evidence", 6, m_evidence), ("item_type", 2, m_item_type),
    ("value_type", 2, m_value_type), ("top_type", 1, m_top_type),
    ("next_type", 2, m_next_type), ("next_elsewhere", 2, m_next_elsewhere),
    ("next_loop", 2, m_next_loop), ("next_case", 2, m_next_case),
    ("next_drop", 1, m_next_drop), ("envelope", 3, m_envelope),
    ("many_items", 1, m_many_items), ("raw_utf8", 3, m_raw_utf8),
    ("cut", 4, b_cut), ("flip", 5, b_flip), ("insert", 8, b_insert), ("syntax", 5, b_syntax),
    ("pad", 2, s_pad), ("status", 4, h_status), ("html200", 1, h_html200),
    ("transport", 3, h_transport),
)
_NAMES = [m[0] for m in MUTATIONS]
_WEIGHTS = [m[1] for m in MUTATIONS]
_FUNCS = {m[0]: m[2] for m in MUTATIONS}


def apply_byte_ops(data, ops):
    """The body after the byte-level mutations (which stay inside "value")."""
    start = data.find(b'"value":')
    start = start + 8 if start >= 0 else 0
    transport = None
    for op in ops:
        span = max(len(data) - start, 1)
        if op[0] == "cut":
            data = data[:start + int(op[1] * span)]
        elif op[0] == "flip":
            data = bytearray(data)
            for where, byte in op[1]:
                pos = start + int(where * span)
                if pos < len(data):
                    data[pos] = byte
            data = bytes(data)
        elif op[0] == "insert":
            pos = start + int(op[1] * span)
            data = data[:pos] + op[2] + data[pos:]
        elif op[0] == "syntax":
            data = _syntax(data, start, op[1], op[2])
        elif op[0] == "transport":
            transport = (op[1], op[2])
    return data, transport


def _syntax(data, start, which, where):
    pos = start + int(where * max(len(data) - start, 1))
    if which == 0:                      # a double quote becomes a single one
        q = data.find(b'"', pos)
        return data if q < 0 else data[:q] + b"'" + data[q + 1:]
    if which == 1:                      # a comma goes
        c = data.find(b",", pos)
        return data if c < 0 else data[:c] + data[c + 1:]
    if which == 2:                      # a trailing comma
        c = data.find(b"}", pos)
        return data if c < 0 else data[:c] + b"," + data[c:]
    if which == 3:
        return data + b"garbage"
    if which == 4:
        return b"\xef\xbb\xbf" + data
    if which == 5:                      # a value becomes NaN / Infinity
        c = data.find(b":", pos)
        if c < 0:
            return data
        end = c + 1
        while end < len(data) and data[end:end + 1] not in (b",", b"}"):
            end += 1
        return data[:c + 1] + (b"NaN", b"Infinity", b"-Infinity", b"1.", b".5", b"+1",
                               b"01", b"True")[int(where * 8) % 8] + data[end:]
    if which == 6:                      # whitespace RFC 8259 does not allow
        return data[:pos] + b"\x0c" + data[pos:]
    if which == 7:                      # a member name with \u0000 in it
        q = data.find(b'":', pos)
        return data if q < 0 else data[:q] + b"\\u0000" + data[q:]
    return data + b" \r\n\t "           # trailing whitespace: still JSON


class Scenario:
    """One armed scan: the pages a seed makes, and what each must yield."""

    def __init__(self, seed, resource, collection, renderer, max_bytes, host, path):
        self.seed = seed
        self.resource = resource
        self.collection = collection
        self.renderer = renderer
        self.max_bytes = max_bytes
        self.host = host
        self.path = path
        rng = random.Random("scan:%s" % seed)
        self.mutate = rng.random() < 0.9       # a tenth of the scans are clean
        self.npages = rng.choice((1, 1, 2, 2, 2, 3, 3, 4, 5))
        self.sizes = [rng.choice((0, 1, 2, 2, 3, 3, 4, 5, 8)) for _ in range(self.npages)]
        self.start = rng.randrange(max(len(collection), 1))    # last: it depends on the size
        self.base_query = None
        self.served = []                        # the account the driver reads
        self.followed = []                      # nextLinks accepted so far
        self.empty_run = 0

    def link(self, k):
        """The URL of page k (page 0: the client's first URL)."""
        query = self.base_query
        if k > 0:
            query = (query + "&" if query else "") + "%s=%d" % (PAGE_PARAM, k)
        return "http://%s%s%s" % (self.host, self.path, "?" + query if query else "")

    def serve(self, raw_query, prefer):
        """(Reply, account entry) for one request of the armed resource."""
        pieces = [p for p in raw_query.split("&") if p] if raw_query else []
        k = 0
        kept = []
        for piece in pieces:
            name, _, value = piece.partition("=")
            if name == PAGE_PARAM and value.isdigit():
                k = int(value)
            else:
                kept.append(piece)
        if self.base_query is None:
            self.base_query = "&".join(kept)
        select = None
        for piece in kept:
            name, _, value = piece.partition("=")
            if unquote(name) == "$select":
                select = tuple(v for v in unquote(value).split(",") if v)
        if k >= self.npages:
            reply = Reply(404, serialize({"error": {"code": "NotFound",
                                                    "message": "no such hostile page"}}))
            return reply, self.account(k, raw_query, reply, ["beyond"])
        reply, names = self.build(k, select, prefer)
        return reply, self.account(k, raw_query, reply, names)

    def build(self, k, select, prefer):
        rng = random.Random("page:%s:%d" % (self.seed, k))
        n = len(self.collection)
        offset = self.start + sum(self.sizes[:k])
        items = [self.renderer.document((offset + i) % n, prefer, select)
                 for i in range(self.sizes[k])] if n else []
        items = json.loads(json.dumps(items))          # private, mutable copies
        page = {"@odata.context": "http://%s/v1.0/$metadata#%s" % (self.host, self.resource)}
        if k + 1 < self.npages:
            page["@odata.nextLink"] = self.link(k + 1)
        page["value"] = items
        ctx = PageContext(rng, page, items, self, k)
        if self.mutate and rng.random() < 0.6:
            for name in rng.choices(_NAMES, _WEIGHTS, k=rng.choice((1, 1, 1, 2, 2, 3))):
                _FUNCS[name](ctx)
                ctx.names.append(name)
        if ctx.reply is not None:
            return ctx.reply, ctx.names
        if "__top__" in page:
            body = serialize(page["__top__"], ctx.ascii_only)
        else:
            if "value" in page:                         # keep "value" last, as Graph does
                page["value"] = page.pop("value")
            body = serialize(page, ctx.ascii_only)
        body, transport = apply_byte_ops(body, ctx.byte_ops)
        if ctx.size_op is not None and len(body) < ctx.size_op and body.endswith(b"}"):
            body = body[:-1] + b" " * (ctx.size_op - len(body)) + b"}"
        if transport is None:
            return Reply(200, body), ctx.names
        kind, where = transport
        if kind == "truncate":
            return Reply(200, body, transport=kind, limit=int(where * len(body))), ctx.names
        if kind == "short_length":
            return Reply(200, body, transport=kind,
                         limit=max(0, int(where * len(body)) - 1)), ctx.names
        return Reply(200, body, transport=kind), ctx.names

    def account(self, k, raw_query, reply, names):
        """Judge one served page (in serving order) and write it down."""
        entry = {"k": k, "request": "%s%s" % (self.path, "?" + raw_query if raw_query else ""),
                 "status": reply.status, "transport": reply.transport, "mutations": names}
        expect, sqlstate, why, link = self.judge(reply)
        entry.update(expect=expect, sqlstate=sqlstate, why=why, next=link)
        if expect == "rows":
            entry["body"] = base64.b64encode(reply.seen_body()).decode("ascii")
        self.served.append(entry)
        return entry

    def judge(self, reply):
        """("rows", None, None, nextLink or None) or ("error", SQLSTATE, why, None).

        Pages are judged in the order they are served, against what the
        client has followed so far, as the extension checks them: transfer,
        status, size, JSON, envelope, nextLink (origin, loop), empty runs.
        """
        if reply.transport in ("reset", "truncate", "bad_gzip"):
            return "error", "HV00N", "transport: %s" % reply.transport, None
        if reply.status != 200:
            return "error", status_sqlstate(reply.status), "HTTP %d" % reply.status, None
        body = reply.seen_body()
        if len(body) > self.max_bytes:
            return "error", "HV000", "%d bytes over max_response_bytes" % len(body), None
        try:
            doc = strict_loads(body)
        except NotJSON as e:
            return "error", "HV000", "not JSON: %s" % e, None
        if not isinstance(doc, dict) or not isinstance(doc.get("value"), list):
            return "error", "HV000", "not a page", None
        link = doc.get("@odata.nextLink")
        if link is not None:
            if not isinstance(link, str):
                return "error", "HV000", "nextLink not a string", None
            if origin(link) != origin("http://" + self.host):
                return "error", "HV000", "nextLink elsewhere", None
            if link in self.followed:
                return "error", "HV000", "nextLink loops", None
        if not doc["value"] and link is not None:
            self.empty_run += 1
            if self.empty_run > MAX_EMPTY_RUN:
                return "error", "HV000", "too many empty pages", None
        else:
            self.empty_run = 0
        if link is not None:
            self.followed.append(link)
        return "rows", None, None, link


class HostileMode:
    """The armed scenario, if any (thread-safe; one scan at a time)."""

    def __init__(self, graph_service, tenant):
        self.graph = graph_service
        self.tenant = tenant
        self.scenario = None
        self.resource = None
        self.lock = threading.Lock()

    def arm(self, spec):
        """Arm a scan: {"seed", "resource", "max_response_bytes"}."""
        if not isinstance(spec, dict):
            raise ValueError("the hostile spec must be a JSON object")
        resource = spec.get("resource")
        if resource not in self.tenant.collections:
            raise ValueError("unknown resource %r" % (resource,))
        max_bytes = spec.get("max_response_bytes", 64 << 20)
        if not isinstance(max_bytes, int) or max_bytes < 1:
            raise ValueError("max_response_bytes must be a positive integer")
        with self.lock:
            self.resource = resource
            self.scenario = ("pending", spec.get("seed"), max_bytes)
        return {"armed": resource, "seed": spec.get("seed")}

    def disarm(self):
        with self.lock:
            self.scenario = None
            self.resource = None

    def account(self):
        with self.lock:
            sc = self.scenario
            if sc is None or isinstance(sc, tuple):
                return {"seed": sc[1] if sc else None, "pages": []}
            return {"seed": sc.seed, "npages": sc.npages, "pages": list(sc.served)}

    def wants(self, method, path):
        resource = self.resource
        return (resource is not None and method == "GET"
                and path.split("/", 2)[-1] == resource and path.startswith(("/v1.0/", "/beta/")))

    def serve(self, path, raw_query, host, prefer):
        """The Reply for a request of the armed resource."""
        with self.lock:
            sc = self.scenario
            if isinstance(sc, tuple):
                _, seed, max_bytes = sc
                sc = self.scenario = Scenario(
                    seed, self.resource, self.tenant.collection(self.resource),
                    self.graph.renderers[self.resource], max_bytes, host, path)
            reply, _ = sc.serve(raw_query, prefer)
            return reply


def gzip_bytes(data):
    return gzip.compress(data, compresslevel=1, mtime=0)
