"""What the extension must make of the items a page meant: the type mapping
the README gives under "The tables", written out independently of
src/convert.c.

For each column of a foreign table and each item the emulator meant, the
expected SQL value (as to_json() shows it, parsed), or CellError
with the SQLSTATE the conversion must fail with.  The rules:

* an absent member, or JSON null, is SQL NULL;
* text holds a JSON string as it is and anything else as its JSON text
  (json-c's compact form); U+0000 cannot be held (22P05);
* jsonb holds the value itself (U+0000 in a string: 22P05; a number
  numeric cannot hold: numeric's error); json holds its JSON text;
* a one-dimensional array type needs a JSON array (else 22P02); each
  element as a text column would take it, through the element type's
  input function;
* boolean from a JSON boolean, integer and bigint from JSON integers in
  range, double precision from any JSON number within float8's range;
* everything else (and those types given another JSON type) is what the
  type's input function makes of the text, as a PL/pgSQL assignment of
  text to a variable of that type does it: the oracle asks PostgreSQL.

So the extension's fast paths (timestamps, numbers, booleans, jsonb built
from the DOM) are checked against PostgreSQL's own input functions.
"""

import json
import math
import re
from decimal import Decimal

MISSING = object()
INT4 = (-(1 << 31), (1 << 31) - 1)
INT8 = (-(1 << 63), (1 << 63) - 1)
DEVICE_EVIDENCE = "#microsoft.graph.security.deviceEvidence"
USER_EVIDENCE = "#microsoft.graph.security.userEvidence"


class CellError(Exception):
    def __init__(self, sqlstate, why):
        super().__init__(why)
        self.sqlstate = sqlstate


class Column:
    """One column of a foreign table, as the driver reads the catalog."""

    def __init__(self, name, typename, property_name, elemtype=None):
        self.name = name
        self.type = typename            # format_type(), e.g. "character varying(24)"
        self.property = property_name
        self.elemtype = elemtype        # format_type() of the element type, arrays only
        self.derived = {"evidenceDeviceNames": "device",
                        "evidenceUserPrincipalNames": "user"}.get(property_name)
        self.path = None if property_name == "$" else property_name.split(".")
        base = {"text": "text", "boolean": "bool", "integer": "int4", "bigint": "int8",
                "double precision": "float8", "timestamp with time zone": "timestamptz",
                "jsonb": "jsonb", "json": "json"}
        self.kind = "array" if elemtype else base.get(typename, "input")


# --- json-c's compact text of a value ------------------------------------------------------

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
            "\t": "\\t"}
_NEEDS = re.compile(r'[\x00-\x1f"\\]')


def _escape(s):
    return '"' + _NEEDS.sub(lambda m: _ESCAPES.get(m.group(0), "\\u%04x" % ord(m.group(0))),
                            s) + '"'


def jsonc_text(v):
    """json_object_to_json_string_ext(PLAIN | NOSLASHESCAPE) of a value."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, Decimal):
        return v.text                   # hostile.JFloat: json-c keeps the text
    if isinstance(v, str):
        return _escape(v)
    if isinstance(v, list):
        return "[" + ",".join(jsonc_text(e) for e in v) + "]"
    return "{" + ",".join(_escape(k) + ":" + jsonc_text(e) for k, e in v.items()) + "}"


def json_text(v):
    """convert.c's json_text(): a string's contents, else the JSON text."""
    return v if isinstance(v, str) else jsonc_text(v)


def _float(value):
    """A float8 as to_json() gave it: a number, or "Infinity", "-Infinity",
    "NaN" (strings, as json_build_object() shows them too)."""
    return value if isinstance(value, str) else float(Decimal(str(value)))


def _no_nul(s):
    if "\x00" in s:
        raise CellError("22P05", "U+0000 in a value for a text-like type")
    return s


# --- the expected cells ------------------------------------------------------------------------

class Oracle:
    """Expected values; `cast(type, text)` asks PostgreSQL's input function
    and returns ("ok", parsed to_json value) or ("error", SQLSTATE)."""

    def __init__(self, cast):
        self.cast = cast

    def via_input(self, typename, text):
        status, value = self.cast(typename, _no_nul(text))
        if status == "error":
            raise CellError(value, "%s rejects %r" % (typename, text[:60]))
        return value

    def cell(self, col, item):
        if col.derived:
            return self.derived(col, item)
        v = item
        if col.path is not None:
            for part in col.path:
                v = v.get(part, MISSING) if isinstance(v, dict) else MISSING
        if v is MISSING or v is None:
            return None
        kind = col.kind
        if kind == "text":
            return _no_nul(json_text(v))
        if kind == "bool" and isinstance(v, bool):
            return v
        if kind in ("int4", "int8") and isinstance(v, int) and not isinstance(v, bool):
            lo, hi = INT4 if kind == "int4" else INT8
            if lo <= v <= hi:
                return v
        if kind == "float8" and not isinstance(v, bool):
            if isinstance(v, int):
                return float(v)
            if isinstance(v, Decimal):
                f = float(v.text)
                if math.isfinite(f) and f != 0.0:
                    return f
                return _float(self.via_input(col.type, v.text))
        if kind == "jsonb":
            self.check_jsonb(v)
            return v
        if kind == "json":
            return v
        if kind == "array":
            if not isinstance(v, list):
                raise CellError("22P02", "not an array")
            out = []
            for e in v:
                if e is None:
                    out.append(None)
                elif col.elemtype == "text":
                    out.append(_no_nul(json_text(e)))
                else:
                    out.append(self.via_input(col.elemtype, json_text(e)))
            return out
        if kind == "float8":
            return _float(self.via_input(col.type, json_text(v)))
        return self.via_input(col.type, json_text(v))

    def check_jsonb(self, v):
        """jsonb is built walking the value in order: its first problem."""
        stack = [v]
        while stack:
            x = stack.pop()
            if isinstance(x, str):
                _no_nul(x)
            elif isinstance(x, Decimal):
                exponent = re.search(r"[eE]([+-]?\d+)$", x.text)
                if exponent and abs(int(exponent.group(1))) > 1000:
                    self.via_input("numeric", x.text)
            elif isinstance(x, list):
                stack.extend(reversed(x))
            elif isinstance(x, dict):
                stack.extend(reversed(list(x.values())))

    def derived(self, col, item):
        """The evidence columns: NULL without an evidence array."""
        ev = item.get("evidence", MISSING) if isinstance(item, dict) else MISSING
        if not isinstance(ev, list):
            return None
        want = DEVICE_EVIDENCE if col.derived == "device" else USER_EVIDENCE
        names = []
        for e in ev:
            if not isinstance(e, dict) or e.get("@odata.type") != want:
                continue
            if col.derived == "device":
                value = e.get("deviceDnsName")
            else:
                account = e.get("userAccount")
                value = account.get("userPrincipalName") if isinstance(account, dict) else None
            if isinstance(value, str):
                names.append(_no_nul(value))
        return names

    def row(self, cols, item):
        if not isinstance(item, dict):
            raise CellError("HV000", "an item that is not an object")
        return {col.name: self.cell(col, item) for col in cols}


# --- comparing ----------------------------------------------------------------------------------

def same(a, b):
    """Type-strict deep equality; numbers compare by value."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float, Decimal)) and isinstance(b, (int, float, Decimal)):
        if isinstance(a, float) or isinstance(b, float):
            return float(a) == float(b)
        return Decimal(a) == Decimal(b)
    if isinstance(a, str) or isinstance(b, str):
        return type(a) is type(b) and a == b
    if a is None or b is None:
        return a is b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return False


def _integer(text):
    # numeric prints up to 131072 digits; int() takes 4300
    return int(text) if len(text) < 1000 else Decimal(text)


def parse_row(text):
    """A json_build_object() / to_json() value, numbers exact."""
    return json.loads(text, parse_float=Decimal, parse_int=_integer)
