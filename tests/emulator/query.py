"""Query options: splitting the raw query string and checking each option.

The raw query string is kept segment by segment exactly as received,
because nextLinks must repeat the client's options byte for byte; the
decoded values are what the checks and the filter parser see.  Decoding
follows graph-api.md section 4: percent-decoding as UTF-8, and '+' means a
space (Graph accepts it), so a literal '+' must arrive as %2B.

Every option Graph would refuse on a route raises QueryError with the
status, error code and message the response carries.  Options that do not
start with '$' are ignored (kept in nextLinks), as Graph ignores unknown
plain parameters.
"""

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from urllib.parse import unquote, unquote_plus


KNOWN_OPTIONS = ("$filter", "$select", "$orderby", "$top", "$skip", "$count",
                 "$expand", "$skiptoken")
_POSITIVE_INT = re.compile(r"[0-9]+\Z")
_ORDERBY = re.compile(r"([A-Za-z][A-Za-z0-9]*)(?:\s+(asc|desc))?\Z")


class QueryError(Exception):
    """An option Graph refuses: status, Graph error code, message."""

    def __init__(self, message, code="BadRequest", status=400, details=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


@dataclass
class RawQuery:
    """The query string: raw segments in order, and decoded options.

    `segments` holds (raw text, decoded name) for every non-empty
    '&'-separated piece; `params` maps decoded names to decoded values.
    """
    raw: str
    segments: list
    params: dict

    def without(self, *names):
        """Raw segments whose option is not one of `names` (nextLink building)."""
        return [raw for raw, name in self.segments if name not in names]


def split_query(raw):
    """Split and decode a raw query string; raises QueryError.

    A repeated $ option is refused, as ODataLib does ("Query option
    '$top' was specified more than once").
    """
    segments, params = [], {}
    for piece in raw.split("&") if raw else ():
        if not piece:
            continue
        name, sep, value = piece.partition("=")
        try:
            name = unquote(name, errors="strict")
            value = unquote_plus(value, errors="strict")
        except UnicodeDecodeError:
            raise QueryError("The query string is not valid UTF-8 after "
                             "percent-decoding.") from None
        if name in params and name.startswith("$"):
            raise QueryError("Query option '%s' was specified more than once, but "
                             "it must be specified at most once." % name)
        segments.append((piece, name))
        params[name] = value
    return RawQuery(raw, segments, params)


# --- the checked form ------------------------------------------------------------------

@dataclass
class ListQuery:
    """The options of a collection request after checking."""
    filter: str = None          # decoded $filter text
    select: tuple = None        # property names in schema order, or None
    orderby: tuple = None       # (property, descending) or None
    top: int = None
    skip: int = 0
    count: bool = False
    expand: tuple = ()
    cursor: dict = None         # decoded $skiptoken, or None


def check_options(raw_query, resource, single):
    """Refuse options the route does not take; return the ListQuery.

    `single` is True for a get by id, where only $select (and $expand where
    the resource has navigation properties) are allowed.
    """
    params = raw_query.params
    for name in params:
        if name.startswith("$") and name not in KNOWN_OPTIONS:
            raise QueryError("The query parameter '%s' is not supported." % name)
    if single:
        for name in params:
            if name in KNOWN_OPTIONS and name not in ("$select", "$expand"):
                raise QueryError("Query option '%s' is not allowed on a single "
                                 "entity." % name)
    q = ListQuery()
    q.select = parse_select(params.get("$select"), resource)
    q.expand = parse_expand(params.get("$expand"), resource)
    if single:
        return q
    q.top = parse_top(params.get("$top"), resource)
    q.skip = parse_skip(params.get("$skip"), resource)
    q.count = parse_count(params.get("$count"), resource)
    q.orderby = parse_orderby(params.get("$orderby"), resource)
    if "$filter" in params:
        q.filter = params["$filter"]
    if "$skiptoken" in params:
        q.cursor = parse_cursor(params["$skiptoken"], raw_query, resource, q.skip)
    return q


def parse_cursor(token, raw_query, resource, skip):
    """Check a $skiptoken.  Identity lists page with it; security lists
    page with $skip and see one only in the nextLink to an inserted empty
    page (config empty_pages), where it must agree with $skip."""
    cursor = decode_cursor(token, raw_query)
    if resource.paging == "skip" and not (cursor["empty"] and cursor["offset"] == skip):
        raise QueryError("The $skiptoken value is not valid.")
    return cursor


def _not_allowed(option):
    # the ASP.NET OData wording Graph services built on it return
    return QueryError("Query option '%s' is not allowed. To allow it, set the "
                      "'AllowedQueryOptions' property on EnableQueryAttribute or "
                      "QueryValidationSettings." % option.lstrip("$").capitalize())


def parse_select(value, resource):
    if value is None:
        return None
    names = [n.strip() for n in value.split(",")]
    if names == ["*"]:
        return None
    for name in names:
        if not name:
            raise QueryError("The $select option has an empty property name.")
        if resource.property(name) is None:
            raise QueryError("Could not find a property named '%s' on type '%s'."
                             % (name, resource.entity_type))
    wanted = set(names)
    return tuple(p.name for p in resource.properties if p.name in wanted)


def parse_expand(value, resource):
    if value is None:
        return ()
    names = tuple(n.strip() for n in value.split(","))
    for name in names:
        if name not in resource.expandable:
            raise QueryError("Property '%s' on type '%s' is not a navigation property "
                             "that can be expanded." % (name, resource.entity_type))
    return names


def parse_top(value, resource):
    if value is None:
        return None
    if not _POSITIVE_INT.match(value) or int(value) <= 0:
        raise QueryError("Invalid value '%s' for $top query option found. The $top "
                         "query option requires a positive integer value." % value)
    top = int(value)
    if top > resource.top_max:
        raise QueryError(
            "The query specified in the URI is not valid. The limit of '%d' for Top "
            "query has been exceeded. The value from the incoming request is '%s'."
            % (resource.top_max, value), code=resource.top_error_code, details=[])
    return top


def parse_skip(value, resource):
    if value is None:
        return 0
    if resource.paging != "skip":
        raise _not_allowed("$skip")
    if not _POSITIVE_INT.match(value):
        raise QueryError("Invalid value '%s' for $skip query option found. The $skip "
                         "query option requires a non-negative integer value." % value)
    return int(value)


def parse_count(value, resource):
    if value is None:
        return False
    if not resource.allows_count:
        raise _not_allowed("$count")
    if value not in ("true", "false"):
        raise QueryError("'%s' is not a valid count option." % value)
    return value == "true"


def parse_orderby(value, resource):
    if value is None:
        return None
    if not resource.orderable:
        raise _not_allowed("$orderby")
    m = _ORDERBY.match(value.strip())
    if m is None or m.group(1) not in resource.orderable:
        shown = value.split(",")[0].split()[0] if value.strip() else value
        raise QueryError("Order by '%s' is not allowed. To allow it, set the "
                         "'AllowedOrderByProperties' property on EnableQueryAttribute "
                         "or QueryValidationSettings." % shown)
    return (m.group(1), m.group(2) == "desc")


# --- cursors ($skiptoken) -------------------------------------------------------------------

def query_fingerprint(raw_query):
    """Hash of the options that define a result set (all but the cursors).

    A cursor carries it so that a $skiptoken replayed with other options is
    refused, as Graph's tokens are bound to their query.
    """
    text = "&".join(raw_query.without("$skip", "$skiptoken"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def encode_cursor(offset, empty, fingerprint):
    data = json.dumps({"o": offset, "e": int(empty), "h": fingerprint},
                      separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def decode_cursor(token, raw_query):
    """The {offset, empty} a $skiptoken stands for; raises QueryError."""
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        offset, empty, fingerprint = int(data["o"]), bool(data["e"]), data["h"]
    except (ValueError, KeyError, TypeError, UnicodeEncodeError):
        raise QueryError("The $skiptoken value is not valid.") from None
    if offset < 0 or fingerprint != query_fingerprint(raw_query):
        raise QueryError("The $skiptoken value does not belong to this query.")
    return {"offset": offset, "empty": empty}
