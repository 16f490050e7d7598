"""Injected faults: what the control API registers and requests consume.

A fault is {"match": {...}, "after": K, "times": N, "action": ..., ...}.
Semantics, in one place because the tests of the extension depend on them:

* A request is offered to the pending faults in registration order.
* A fault whose match does not fit the request ignores it.
* A fitting fault still waiting (after > 0) counts the request, lets it
  pass, and the request is offered to the next fault.
* The first fitting fault that is armed (after == 0) takes the request: its
  times goes down by one (it is dropped at zero) and no later fault sees
  that request.

Matching fields, all optional: query_contains (a substring of the raw,
undecoded query string), method (case-insensitive), path_prefix
(against the raw path, no query) and kind ("graph", "token" or
"managed_identity").  Control requests never fault.

The actions "body", "inject", "cut", "reverse" and "empty_run" send broken
pages of one precise kind; hostile.py builds them.  "flood" sends a large
body made of a head, one unit repeated and a tail (megabytes of empty
objects as an error body or a page), built here without a control request
of that size.
"""

import base64
import binascii
import itertools
import threading

ACTIONS = ("status", "reset", "slow", "hang", "truncate", "malformed", "html",
           "wrong_host_nextlink", "loop_nextlink", "body", "inject", "cut", "reverse",
           "empty_run", "flood")
# the largest body a flood fault may send
FLOOD_MAX_BYTES = 256 << 20
_MATCH_KEYS = ("method", "path_prefix", "kind", "query_contains")


class FaultSpecError(ValueError):
    """A fault description the control API refuses (400)."""


def _require(cond, message):
    if not cond:
        raise FaultSpecError(message)


def _check_int(spec, name, default, minimum):
    value = spec.get(name, default)
    _require(isinstance(value, int) and not isinstance(value, bool) and value >= minimum,
             "'%s' must be an integer >= %d" % (name, minimum))
    return value


class Fault:
    """One registered fault with its remaining counters."""

    def __init__(self, fault_id, spec):
        _require(isinstance(spec, dict), "a fault must be a JSON object")
        unknown = set(spec) - {"match", "after", "times", "action", "status", "code",
                               "message", "retry_after", "delay_ms", "body", "body_b64",
                               "content_type", "pad", "entity", "field", "raw", "raw_b64",
                               "duplicate", "bytes", "head", "unit", "tail", "gzip"}
        _require(not unknown, "unknown fault field(s): %s" % ", ".join(sorted(unknown)))
        match = spec.get("match", {})
        _require(isinstance(match, dict) and set(match) <= set(_MATCH_KEYS),
                 "'match' may only hold %s" % ", ".join(_MATCH_KEYS))
        _require(all(isinstance(v, str) for v in match.values()),
                 "'match' values must be strings")
        _require(match.get("kind") in (None, "graph", "token", "managed_identity"),
                 "'match.kind' must be 'graph', 'token' or 'managed_identity'")
        self.id = fault_id
        self.match = dict(match)
        if "method" in self.match:            # HTTP methods are upper case on the wire
            self.match["method"] = self.match["method"].upper()
        self.action = spec.get("action")
        _require(self.action in ACTIONS, "'action' must be one of %s" % ", ".join(ACTIONS))
        self.after = _check_int(spec, "after", 0, 0)
        self.times = _check_int(spec, "times", 1, 1)
        self.status = None
        if self.action in ("status", "body", "flood"):
            self.status = _check_int(spec, "status", None if self.action == "status" else 200,
                                     100)
            _require(self.status <= 599, "'status' must be an HTTP status code")
        self.code = spec.get("code")
        self.message = spec.get("message")
        self.retry_after = spec.get("retry_after")
        _require(self.code is None or isinstance(self.code, str), "'code' must be a string")
        _require(self.message is None or isinstance(self.message, str),
                 "'message' must be a string")
        _require(self.retry_after is None or isinstance(self.retry_after, str),
                 "'retry_after' must be a string (the header value)")
        self.delay_ms = (_check_int(spec, "delay_ms", None, 0)
                         if self.action == "slow" else None)
        self._hostile_fields(spec)
        self._flood_fields(spec)

    def _flood_fields(self, spec):
        """Fields of flood: head, unit, tail (text), bytes (the body's size,
        at most FLOOD_MAX_BYTES), gzip (whether it may be compressed)."""
        for name in ("head", "unit", "tail"):
            _require(spec.get(name) is None or isinstance(spec[name], str),
                     "'%s' must be a string" % name)
        self.head = spec.get("head")
        self.unit = spec.get("unit")
        self.tail = spec.get("tail")
        self.gzip = spec.get("gzip", True)
        _require(isinstance(self.gzip, bool), "'gzip' must be a boolean")
        if self.action == "flood":
            _require(self.unit, "'flood' needs a non-empty 'unit'")
            _require(self.cut_bytes is not None and self.cut_bytes <= FLOOD_MAX_BYTES,
                     "'flood' needs 'bytes', at most %d" % FLOOD_MAX_BYTES)

    def flood_bytes(self):
        """The body of a flood fault: head, as many units as fit in bytes
        with the tail, tail (at least one unit)."""
        head = (self.head or "").encode("utf-8")
        unit = self.unit.encode("utf-8")
        tail = (self.tail or "").encode("utf-8")
        count = max(1, (self.cut_bytes - len(head) - len(tail)) // len(unit))
        return head + unit * count + tail

    def _hostile_fields(self, spec):
        """Fields of body (body | body_b64, content_type, pad), inject (entity,
        field, raw | raw_b64, duplicate) and cut (bytes)."""
        for name in ("body", "body_b64", "content_type", "field", "raw", "raw_b64"):
            _require(spec.get(name) is None or isinstance(spec[name], str),
                     "'%s' must be a string" % name)
        for name in ("body_b64", "raw_b64"):
            if spec.get(name) is not None:
                try:
                    base64.b64decode(spec[name], validate=True)
                except (binascii.Error, ValueError):
                    raise FaultSpecError("'%s' must be base64" % name) from None
        self.body_text = spec.get("body")
        self.body_b64 = spec.get("body_b64")
        self.content_type = spec.get("content_type")
        self.pad = _check_int(spec, "pad", 0, 0)
        self.entity = _check_int(spec, "entity", 0, -1)
        self.field = spec.get("field")
        self.raw = spec.get("raw")
        self.raw_b64 = spec.get("raw_b64")
        self.duplicate = spec.get("duplicate", False)
        _require(isinstance(self.duplicate, bool), "'duplicate' must be a boolean")
        self.cut_bytes = _check_int(spec, "bytes", None, 0) if "bytes" in spec else None
        if self.action == "body":
            _require((self.body_text is None) != (self.body_b64 is None),
                     "'body' needs exactly one of 'body' and 'body_b64'")
        if self.action == "inject":
            _require(self.field is not None, "'inject' needs 'field'")
            _require((self.raw is None) != (self.raw_b64 is None),
                     "'inject' needs exactly one of 'raw' and 'raw_b64'")

    def body_bytes(self):
        """The body of a "body" fault, padded with spaces."""
        data = (base64.b64decode(self.body_b64) if self.body_b64 is not None
                else self.body_text.encode("utf-8"))
        return data + b" " * self.pad

    def fits(self, kind, method, path, query=""):
        m = self.match
        return ((m.get("kind") is None or m["kind"] == kind)
                and (m.get("method") is None or m["method"] == method)
                and (m.get("path_prefix") is None or path.startswith(m["path_prefix"]))
                and (m.get("query_contains") is None or m["query_contains"] in query))

    def describe(self):
        out = {"id": self.id, "match": self.match, "after": self.after,
               "times": self.times, "action": self.action}
        for name in ("status", "code", "message", "retry_after", "delay_ms", "content_type",
                     "field", "raw", "raw_b64", "body_b64", "head", "unit", "tail"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.body_text is not None:
            out["body"] = self.body_text
        if self.action == "inject":
            out.update(entity=self.entity, duplicate=self.duplicate)
        if self.pad:
            out["pad"] = self.pad
        if self.cut_bytes is not None:
            out["bytes"] = self.cut_bytes
        if self.action == "flood":
            out["gzip"] = self.gzip
        return out


class FaultRegistry:
    """Pending faults in registration order (thread-safe)."""

    def __init__(self):
        self._faults = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, specs):
        """Register one spec or a list of them; all or none (FaultSpecError)."""
        if not isinstance(specs, list):
            specs = [specs]
        with self._lock:
            new = [Fault(next(self._ids), spec) for spec in specs]
            self._faults.extend(new)
        return [f.describe() for f in new]

    def take(self, kind, method, path, query=""):
        """The fault that takes this request, or None (see module docstring)."""
        with self._lock:
            for fault in self._faults:
                if not fault.fits(kind, method, path, query):
                    continue
                if fault.after > 0:
                    fault.after -= 1
                    continue
                fault.times -= 1
                if fault.times == 0:
                    self._faults.remove(fault)
                return fault
        return None

    def pending(self):
        with self._lock:
            return [f.describe() for f in self._faults]

    def clear(self):
        with self._lock:
            self._faults.clear()
