"""Advanced hunting: POST security/runHuntingQuery over generated tables.

Real advanced hunting runs KQL over Defender's event tables.  The emulator
has two tables and a small KQL subset: enough for a client to show that a
query goes out with its timespan, comes back as `schema` + `results` in one
response (graph-api.md section 6), and that a query Graph cannot run is a
400 with a message that says why.

Tables (built on first use, deterministic for a seed):

* DeviceEvents: `--hunting-rows` rows over the tenant's devices and users,
  Timestamp spread over the 45 days before --now, never in the hour after
  a whole number of days before it (so that whole-day windows give the
  same rows while the emulated clock runs on, for an hour);
* AlertInfo: one row per generated alert (AlertId = the alert's id).

The subset, one tabular expression:

    Table [| where <predicate>] [| take N | limit N] [| project c1, c2]
          [| sort by c [asc|desc], ...] [| order by ...] [| top N by c [asc|desc]]
          [| distinct c1, ...] [| count] [| summarize count() [by c1, ...]]

Predicates: == != =~ !~ < <= > >= contains !contains has !has startswith
endswith in (...) !in (...) in~ (...), and, or, not(...), parentheses;
literals "..." '...' numbers true false datetime(...) and timespans (7d 2h
30m 10s 100ms); functions ago() now() isempty() isnotempty() tolower()
toupper().  String comparisons are case-sensitive except =~ !~ in~ and the
substring operators, as in KQL.  Sort defaults to descending, as in KQL.

The body is {"Query": ..., "Timespan": ...} in either casing.  The
timespan (default: the 30 days before now) bounds Timestamp before the
query runs; its forms are start/end, duration/end, start/duration, a bare
ISO 8601 duration (back from now) and a single datetime (from then to now).
At most 100,000 rows come back.  Config `hunting_delay_ms` makes a query
take that long; past `hunting_timeout_ms` (Graph's 3 minutes by default)
it fails with a 400 instead, as a long query does in Graph.
"""

import re
import threading
import time
from dataclasses import dataclass

import tenant as tenant_module
import timestamps as ts

MAX_ROWS = 100_000
HOUR_TICKS = 3600 * ts.TICKS_PER_SECOND
DEFAULT_DAYS = 30
HISTORY_DAYS = 45


class HuntingError(Exception):
    """A query Graph refuses: 400 BadRequest with this message."""


# --- values ---------------------------------------------------------------------------------

@dataclass(frozen=True, order=True)
class Datetime:
    ticks: int


@dataclass(frozen=True, order=True)
class Timespan:
    ticks: int


TYPE_NAMES = {str: "string", int: "long", float: "real", bool: "bool",
              Datetime: "datetime", Timespan: "timespan", type(None): "null"}
SCHEMA_TYPES = {"string": "String", "long": "Int64", "real": "Double", "bool": "Boolean",
                "datetime": "DateTime", "timespan": "TimeSpan"}


def _type_name(v):
    return TYPE_NAMES.get(type(v), type(v).__name__)


def to_json(v):
    if isinstance(v, Datetime):
        return ts.format_ticks(v.ticks, 7)
    if isinstance(v, Timespan):
        return str(v.ticks)
    return v


# --- tables ---------------------------------------------------------------------------------

ACTION_TYPES = ("AntivirusDetection", "PowerShellCommand", "SmartScreenUrlWarning",
                "ExploitGuardNetworkProtectionBlocked", "UsbDriveMounted",
                "ScheduledTaskCreated", "DnsQueryResponse", "LdapSearch",
                "AsrExecutableEmailContentBlocked", "BrowserLaunchedToOpenUrl")
FILE_NAMES = ("powershell.exe", "mimikatz.exe", "invoice.pdf.exe", "svchost.exe",
              "rundll32.exe", "7z.exe", "backup.ps1", "Rapport-été.docm", "报告.xlsx",
              "")
FOLDERS = ("C:\\Windows\\System32", "C:\\Users\\%s\\Downloads", "C:\\Temp",
           "C:\\ProgramData\\Microsoft", "\\\\fileserver\\share$\\%s", "")
INITIATING = ("explorer.exe", "winword.exe", "outlook.exe", "cmd.exe", "powershell.exe",
              "services.exe")

DEVICE_EVENTS_SCHEMA = (("Timestamp", "datetime"), ("DeviceId", "string"),
                        ("DeviceName", "string"), ("ActionType", "string"),
                        ("FileName", "string"), ("FolderPath", "string"),
                        ("SHA256", "string"), ("InitiatingProcessFileName", "string"),
                        ("InitiatingProcessAccountName", "string"),
                        ("ReportId", "long"))
ALERT_INFO_SCHEMA = (("Timestamp", "datetime"), ("AlertId", "string"), ("Title", "string"),
                     ("Category", "string"), ("Severity", "string"),
                     ("ServiceSource", "string"), ("DetectionSource", "string"),
                     ("AttackTechniques", "string"))


def _device_events(data, count):
    rng = tenant_module.make_rng(data.seed, "hunting/DeviceEvents")
    now = data.now
    rows = []
    for n in range(count):
        device = rng.pick(data.devices)
        user = rng.pick(data.users)
        folder = rng.pick(FOLDERS)
        if "%s" in folder:
            folder = folder % user["accountName"]
        file_name = rng.pick(FILE_NAMES)
        ticks = ts.truncate(rng.between(now - HISTORY_DAYS * ts.TICKS_PER_DAY, now - 1), 7)
        # keep clear of the hour after each whole day before --now, so
        # that whole-day windows (ago(7d), P30D) select the same rows
        # during the emulator's first hour, while its clock runs on
        if (now - ticks) % ts.TICKS_PER_DAY < HOUR_TICKS:
            ticks -= HOUR_TICKS
        rows.append({
            "Timestamp": Datetime(ticks),
            "DeviceId": device["mdeDeviceId"],
            "DeviceName": device["deviceDnsName"],
            "ActionType": rng.pick(ACTION_TYPES),
            "FileName": file_name,
            "FolderPath": folder,
            "SHA256": rng.hex(64) if file_name else "",
            "InitiatingProcessFileName": rng.pick(INITIATING),
            "InitiatingProcessAccountName": user["accountName"],
            "ReportId": 1000 + n,
        })
    rows.sort(key=lambda r: (r["Timestamp"], r["ReportId"]))
    return rows


def _alert_info(data):
    rows = []
    for doc in data.collection("security/alerts_v2").docs:
        created = doc.get("createdDateTime")
        rows.append({
            "Timestamp": Datetime(ts.parse_generated(created)) if created else None,
            "AlertId": doc["id"],
            "Title": doc.get("title") or "",
            "Category": doc.get("category") or "",
            "Severity": (doc.get("severity") or "").capitalize(),
            "ServiceSource": doc.get("productName") or "",
            "DetectionSource": doc.get("detectionSource") or "",
            "AttackTechniques": "[%s]" % ",".join('"%s"' % t for t in
                                                   doc.get("mitreTechniques") or ()),
        })
    return rows


class Tables:
    """The hunting tables of a tenant, generated on first use."""

    def __init__(self, data, device_event_rows):
        self.data = data
        self.device_event_rows = device_event_rows
        self._tables = {}
        self._lock = threading.Lock()

    def get(self, name):
        """(schema, rows) of a table, or None if there is no such table."""
        with self._lock:
            if name not in self._tables:
                if name == "DeviceEvents":
                    self._tables[name] = (DEVICE_EVENTS_SCHEMA,
                                          _device_events(self.data, self.device_event_rows))
                elif name == "AlertInfo":
                    self._tables[name] = (ALERT_INFO_SCHEMA, _alert_info(self.data))
                else:
                    return None
            return self._tables[name]


# --- the request --------------------------------------------------------------------------

def query_parameters(body):
    """(query, timespan or None) of a runHuntingQuery body, either casing."""
    query = timespan = None
    for key, value in body.items():
        lower = key.lower()
        if lower == "query":
            query = value
        elif lower == "timespan":
            timespan = value
        else:
            raise HuntingError("The parameter '%s' in the request payload is not a valid "
                               "parameter for the operation 'runHuntingQuery'." % key)
    if not isinstance(query, str) or not query.strip():
        raise HuntingError("The parameter 'query' is missing or empty.")
    if timespan is not None and not isinstance(timespan, str):
        raise HuntingError("The parameter 'timespan' must be a string.")
    return query, timespan


_DURATION = re.compile(r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?"
                       r"(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?\Z")


def _duration_ticks(text):
    m = _DURATION.match(text)
    if m is None or text in ("P", "PT") or text.endswith("T"):
        return None
    y, mo, w, d, h, mi, s = m.groups()
    days = int(y or 0) * 365 + int(mo or 0) * 30 + int(w or 0) * 7 + int(d or 0)
    seconds = days * 86400 + int(h or 0) * 3600 + int(mi or 0) * 60 + float(s or 0)
    return int(seconds * ts.TICKS_PER_SECOND)


def time_range(timespan, now):
    """[start, end] ticks of a Timespan parameter (graph-api.md 6)."""
    if timespan is None:
        return now - DEFAULT_DAYS * ts.TICKS_PER_DAY, now

    def moment(text):
        try:
            return ts.parse(text)
        except ValueError:
            return None

    parts = timespan.split("/")
    bad = HuntingError("The timespan '%s' is not valid: use start/end, duration/end, "
                       "start/duration, a duration or a datetime in ISO 8601." % timespan)
    if len(parts) == 1:
        duration = _duration_ticks(parts[0])
        if duration is not None:
            return now - duration, now
        start = moment(parts[0])
        if start is None:
            raise bad
        return start, now
    if len(parts) != 2:
        raise bad
    a, b = parts
    start, end = moment(a), moment(b)
    if start is not None and end is not None:
        return start, end
    if end is not None and _duration_ticks(a) is not None:
        return end - _duration_ticks(a), end
    if start is not None and _duration_ticks(b) is not None:
        return start, start + _duration_ticks(b)
    raise bad


def run(tables, query_text, timespan, now):
    """(schema [(name, type)], rows [dict]) of a query; raise HuntingError."""
    pipeline = Parser(query_text).parse()
    found = tables.get(pipeline.table)
    if found is None:
        raise HuntingError("Failed to resolve table expression named '%s'" % pipeline.table)
    schema, rows = found
    start, end = time_range(timespan, now)
    rows = [r for r in rows if r["Timestamp"] is not None
            and start <= r["Timestamp"].ticks <= end]
    schema = list(schema)
    for op in pipeline.ops:
        schema, rows = op.apply(schema, rows, now)
    return schema, rows[:MAX_ROWS]


def response_body(schema, rows):
    return {"schema": [{"name": n, "type": SCHEMA_TYPES[t]} for n, t in schema],
            "results": [{n: to_json(r.get(n)) for n, _ in schema} for r in rows]}


# --- parsing --------------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<datetime>datetime\s*\([^()]*\))
  | (?P<timespan>\d+(?:\.\d+)?(?:ms|d|h|m|s)(?![A-Za-z0-9_]))
  | (?P<number>\d+(?:\.\d+)?(?![A-Za-z_]))
  | (?P<op>==|!=|=~|!~|<=|>=|<|>|\||\(|\)|,|!contains(?![\w])|!has(?![\w])
           |!in~?(?![\w])|in~)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
""", re.X)
_SPAN_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}


@dataclass
class Token:
    kind: str
    text: str
    pos: int


def tokenize(text):
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise syntax_error(text[pos:pos + 1], pos)
        if m.lastgroup != "space":
            tokens.append(Token(m.lastgroup, m.group(), pos))
        pos = m.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def syntax_error(near, pos):
    return HuntingError("Query could not be parsed at '%s' on line [1,%d]" % (near, pos + 1))


def _unquote(text):
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)


@dataclass
class Pipeline:
    table: str
    ops: list


class Parser:
    """Recursive descent over the tokens of one query."""

    def __init__(self, text):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    # token helpers
    def peek(self):
        return self.tokens[self.i]

    def next(self):
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def fail(self, tok=None):
        tok = tok or self.peek()
        return syntax_error(tok.text or "<end>", tok.pos)

    def expect(self, text):
        tok = self.next()
        if tok.text != text:
            raise self.fail(tok)
        return tok

    def accept(self, text):
        if self.peek().text == text:
            self.i += 1
            return True
        return False

    def name(self):
        tok = self.next()
        if tok.kind != "name":
            raise self.fail(tok)
        return tok.text

    def integer(self):
        tok = self.next()
        if tok.kind != "number" or "." in tok.text:
            raise self.fail(tok)
        return int(tok.text)

    # grammar
    def parse(self):
        table = self.name()
        ops = []
        while self.accept("|"):
            ops.append(self.operator())
        if self.peek().kind != "end":
            raise self.fail()
        return Pipeline(table, ops)

    def operator(self):
        tok = self.next()
        word = tok.text
        if word == "where":
            return Where(self.expression())
        if word in ("take", "limit"):
            return Take(self.integer())
        if word == "project":
            return Project(self.names())
        if word in ("sort", "order"):
            self.expect("by")
            return Sort(self.sort_keys())
        if word == "top":
            n = self.integer()
            self.expect("by")
            return Top(n, self.sort_keys())
        if word == "count":
            return Count()
        if word == "distinct":
            return Distinct(self.names())
        if word == "summarize":
            self.expect("count")
            self.expect("(")
            self.expect(")")
            by = self.names() if self.accept("by") else []
            return Summarize(by)
        raise self.fail(tok)

    def names(self):
        names = [self.name()]
        while self.accept(","):
            names.append(self.name())
        return names

    def sort_keys(self):
        keys = []
        while True:
            name = self.name()
            descending = True
            if self.peek().text in ("asc", "desc"):
                descending = self.next().text == "desc"
            keys.append((name, descending))
            if not self.accept(","):
                return keys

    def expression(self):
        left = self.conjunction()
        while self.accept("or"):
            left = ("or", left, self.conjunction())
        return left

    def conjunction(self):
        left = self.comparison()
        while self.accept("and"):
            left = ("and", left, self.comparison())
        return left

    COMPARISONS = ("==", "!=", "=~", "!~", "<", "<=", ">", ">=", "contains", "!contains",
                   "has", "!has", "startswith", "endswith")

    def comparison(self):
        left = self.primary()
        tok = self.peek()
        if tok.text in self.COMPARISONS:
            self.i += 1
            return ("cmp", tok.text, left, self.primary(), tok.pos)
        if tok.text in ("in", "!in", "in~", "!in~"):
            self.i += 1
            self.expect("(")
            items = [self.primary()]
            while self.accept(","):
                items.append(self.primary())
            self.expect(")")
            return ("in", tok.text, left, items, tok.pos)
        return left

    def primary(self):
        tok = self.next()
        if tok.kind == "string":
            return ("lit", _unquote(tok.text))
        if tok.kind == "number":
            return ("lit", float(tok.text) if "." in tok.text else int(tok.text))
        if tok.kind == "datetime":
            return ("lit", datetime_literal(tok.text))
        if tok.kind == "timespan":
            number = tok.text.rstrip("dhms")
            unit = tok.text[len(number):]
            return ("lit", Timespan(int(float(number) * _SPAN_UNITS[unit]
                                        * ts.TICKS_PER_SECOND)))
        if tok.text == "(":
            inner = self.expression()
            self.expect(")")
            return inner
        if tok.kind != "name":
            raise self.fail(tok)
        if tok.text in ("true", "false"):
            return ("lit", tok.text == "true")
        if self.peek().text == "(":
            self.i += 1
            args = []
            if not self.accept(")"):
                args.append(self.expression())
                while self.accept(","):
                    args.append(self.expression())
                self.expect(")")
            return ("call", tok.text, args, tok.pos)
        return ("col", tok.text, tok.pos)


def datetime_literal(text):
    """The value of datetime(2026-05-01), datetime(2026-05-01T10:00:00Z), ..."""
    raw = text[text.index("(") + 1:-1].strip()
    value = raw if "T" in raw else raw + "T00:00:00"
    if not value.endswith("Z") and not re.search(r"[+-]\d\d:\d\d\Z", value):
        value += "Z"
    try:
        return Datetime(ts.parse(value))
    except ValueError:
        raise HuntingError("The datetime literal 'datetime(%s)' is not valid." % raw) from None


# --- evaluation -----------------------------------------------------------------------------

FUNCTIONS = ("ago", "now", "isempty", "isnotempty", "tolower", "toupper", "not")


def compile_expression(node, columns):
    """A function row, now -> value for an expression; names are checked here."""
    kind = node[0]
    if kind == "lit":
        value = node[1]
        return lambda row, now: value
    if kind == "col":
        name = node[1]
        if name not in columns:
            raise HuntingError("Failed to resolve scalar expression named '%s'" % name)
        return lambda row, now: row.get(name)
    if kind in ("and", "or"):
        a, b = compile_expression(node[1], columns), compile_expression(node[2], columns)
        if kind == "and":
            return lambda row, now: bool(a(row, now)) and bool(b(row, now))
        return lambda row, now: bool(a(row, now)) or bool(b(row, now))
    if kind == "call":
        return _compile_call(node, columns)
    if kind == "cmp":
        return _compile_comparison(node, columns)
    if kind == "in":
        _, op, left, items, _pos = node
        left_f = compile_expression(left, columns)
        if any(i[0] != "lit" for i in items):
            raise HuntingError("The '%s' operator expects a list of literals." % op)
        values = [i[1] for i in items]
        fold = op.endswith("~")
        wanted = {v.lower() if fold and isinstance(v, str) else v for v in values}
        negate = op.startswith("!")

        def test(row, now):
            v = left_f(row, now)
            if fold and isinstance(v, str):
                v = v.lower()
            return (v in wanted) != negate
        return test
    raise HuntingError("Unsupported expression.")


def _compile_call(node, columns):
    _, name, args, pos = node
    if name not in FUNCTIONS:
        raise HuntingError("Failed to resolve scalar expression named '%s'" % name)
    fs = [compile_expression(a, columns) for a in args]
    wanted = 0 if name == "now" else 1
    if len(fs) != wanted:
        raise HuntingError("Function '%s' expects %d argument(s), got %d."
                           % (name, wanted, len(fs)))
    if name == "now":
        return lambda row, now: Datetime(now)
    f = fs[0]
    if name == "ago":
        def ago(row, now):
            span = f(row, now)
            if not isinstance(span, Timespan):
                raise HuntingError("ago() expects a timespan, got %s." % _type_name(span))
            return Datetime(now - span.ticks)
        return ago
    if name == "isempty":
        return lambda row, now: f(row, now) in (None, "")
    if name == "isnotempty":
        return lambda row, now: f(row, now) not in (None, "")
    if name == "not":
        return lambda row, now: not f(row, now)
    if name == "tolower":
        return lambda row, now: (f(row, now) or "").lower()
    return lambda row, now: (f(row, now) or "").upper()


def _compile_comparison(node, columns):
    _, op, left, right, pos = node
    a, b = compile_expression(left, columns), compile_expression(right, columns)

    def compare(row, now):
        x, y = a(row, now), b(row, now)
        if x is None or y is None:
            return op in ("!=", "!~", "!contains", "!has") and x is not y
        if op in ("==", "!=", "<", "<=", ">", ">="):
            numeric = (int, float)
            if not (type(x) is type(y) or (isinstance(x, numeric) and isinstance(y, numeric)
                                           and not isinstance(x, bool)
                                           and not isinstance(y, bool))):
                raise HuntingError("Cannot compare values of types %s and %s. Try adding "
                                   "explicit casts." % (_type_name(x), _type_name(y)))
            return {"==": x == y, "!=": x != y, "<": x < y, "<=": x <= y,
                    ">": x > y, ">=": x >= y}[op]
        if not isinstance(x, str) or not isinstance(y, str):
            raise HuntingError("The operator '%s' expects string operands, got %s and %s."
                               % (op, _type_name(x), _type_name(y)))
        x, y = x.lower(), y.lower()
        if op in ("=~", "!~"):
            return (x == y) == (op == "=~")
        if op in ("contains", "!contains"):
            return (y in x) == (op == "contains")
        if op in ("has", "!has"):
            found = re.search(r"(?<![a-z0-9])%s(?![a-z0-9])" % re.escape(y), x) is not None
            return found == (op == "has")
        if op == "startswith":
            return x.startswith(y)
        return x.endswith(y)
    return compare


def _check_names(names, schema):
    known = {n for n, _ in schema}
    for name in names:
        if name not in known:
            raise HuntingError("Failed to resolve scalar expression named '%s'" % name)


class Where:
    def __init__(self, expr):
        self.expr = expr

    def apply(self, schema, rows, now):
        if self.expr[0] == "col" or (self.expr[0] == "lit" and
                                     not isinstance(self.expr[1], bool)):
            raise HuntingError("The where operator expects a predicate of type bool.")
        test = compile_expression(self.expr, {n for n, _ in schema})
        return schema, [r for r in rows if test(r, now) is True]


class Take:
    def __init__(self, n):
        self.n = n

    def apply(self, schema, rows, now):
        return schema, rows[:self.n]


class Project:
    def __init__(self, names):
        self.names = names

    def apply(self, schema, rows, now):
        _check_names(self.names, schema)
        types = dict(schema)
        return ([(n, types[n]) for n in self.names],
                [{n: r.get(n) for n in self.names} for r in rows])


def _sorted(rows, keys):
    # stable sorts from the last key to the first; nulls first ascending and
    # last descending, as KQL sorts
    rows = list(rows)
    for name, descending in reversed(keys):
        present = [r for r in rows if r.get(name) is not None]
        missing = [r for r in rows if r.get(name) is None]
        present.sort(key=lambda r: r[name], reverse=descending)
        rows = present + missing if descending else missing + present
    return rows


class Sort:
    def __init__(self, keys):
        self.keys = keys

    def apply(self, schema, rows, now):
        _check_names([k for k, _ in self.keys], schema)
        return schema, _sorted(rows, self.keys)


class Top:
    def __init__(self, n, keys):
        self.n = n
        self.keys = keys

    def apply(self, schema, rows, now):
        _check_names([k for k, _ in self.keys], schema)
        return schema, _sorted(rows, self.keys)[:self.n]


class Count:
    def apply(self, schema, rows, now):
        return [("Count", "long")], [{"Count": len(rows)}]


class Distinct:
    def __init__(self, names):
        self.names = names

    def apply(self, schema, rows, now):
        _check_names(self.names, schema)
        types = dict(schema)
        seen = {}
        for r in rows:
            key = tuple(r.get(n) for n in self.names)
            seen.setdefault(key, {n: r.get(n) for n in self.names})
        return [(n, types[n]) for n in self.names], list(seen.values())


class Summarize:
    def __init__(self, by):
        self.by = by

    def apply(self, schema, rows, now):
        _check_names(self.by, schema)
        types = dict(schema)
        groups = {}
        for r in rows:
            key = tuple(r.get(n) for n in self.by)
            group = groups.get(key)
            if group is None:
                group = groups[key] = dict(zip(self.by, key), count_=0)
            group["count_"] += 1
        return ([(n, types[n]) for n in self.by] + [("count_", "long")],
                list(groups.values()))


# --- the service ------------------------------------------------------------------------------

class HuntingService:
    """runHuntingQuery for a tenant: tables, clock and the timing switches."""

    def __init__(self, data, clock, device_event_rows):
        self.tables = Tables(data, device_event_rows)
        self.clock = clock

    def execute(self, body, settings):
        """The response object of a runHuntingQuery body; raise HuntingError."""
        query_text, timespan = query_parameters(body)
        delay = settings.hunting_delay_ms
        if delay >= settings.hunting_timeout_ms:
            time.sleep(settings.hunting_timeout_ms / 1000.0)
            raise HuntingError("Query execution has exceeded the allowed limits. The query "
                               "ran longer than %g seconds and was cancelled."
                               % (settings.hunting_timeout_ms / 1000.0))
        started = time.monotonic()
        schema, rows = run(self.tables, query_text, timespan, self.clock.now_ticks())
        left = delay / 1000.0 - (time.monotonic() - started)
        if left > 0:
            time.sleep(left)
        return response_body(schema, rows), len(rows)
