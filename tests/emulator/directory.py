"""Directory objects and Intune's managed devices: lists, gets and counts.

Users, devices, groups and service principals are directory objects, with
rules the security lists do not have (schema.DirectoryRules holds them as
data):

* Default and advanced queries.  A request is an *advanced query* when it
  carries the header `ConsistencyLevel: eventual` and `$count=true`.  Only
  an advanced query may use `ne`, `not`, `endsWith`, null comparisons,
  `/$count` of a collection, `$filter` together with `$orderby`, and the
  operators a property's rule marks advanced; a default query that uses one
  is a 400 `Request_UnsupportedQuery`.  `$expand` is refused in an advanced
  query.  Without the header `$count=true` is ignored (no count, no error).
* The header is not carried by the nextLink: every page of an advanced
  query must carry it again.  The cursor in the nextLink remembers that the
  query was advanced; a later page without the header is a 400, and so is
  a page of a default query asked with the header.
* In a default query an `in` list holds at most 15 values and a string an
  `eq` compares with at most 120 characters.  An advanced query's URL is at
  most 2,048 characters.
* String `eq`, `in`, `startsWith` and `endsWith` compare without letter
  case, as directories are seen to (config `directory_case_sensitive` makes
  them exact).  $orderby sorts strings without case too.
* `$skip` is refused; paging is by the opaque `$skiptoken` of the nextLink.
* Users: without $select a list or get sends eleven properties; the
  properties only a single GET may select are a 501 on a list; selecting or
  filtering on signInActivity needs AuditLog.Read.All (else 403) and caps
  the page at 500; signInActivity filters are never combined with another
  property's.
* Alternate keys: `devices(deviceId='...')`, `servicePrincipals(appId='...')`;
  `users/{id | userPrincipalName}`.

Managed devices (deviceManagement/managedDevices) take only $select, $top
and a $filter of the few documented forms: `lastSyncDateTime` and
`enrolledDateTime` with `lt`/`gt`, `jailBroken` and
`deviceCategoryDisplayName` with `eq` (an `or` only between `eq` on the same
property), combined with `and`.  Config `managed_devices_ignore_filter`
emulates what clients have observed: a valid filter silently ignored, every
device returned.  A list (and a get without $select) sends default values for
the properties only a get with $select has (schema list_defaults).

Refusals raise query.QueryError with the status, code and message Graph
sends; graph.py turns them into error responses.
"""

import base64
import json
import re

import odata
import query
import render
import schema
import throttle

EVENTUAL = "eventual"
DEFAULT_IN_VALUES = 15
DEFAULT_EQ_CHARS = 120
ADVANCED_URL_CHARS = 2048
LIST_OPTIONS = ("$filter", "$select", "$orderby", "$top", "$count", "$skiptoken",
                "$expand", "$search", "$skip")
_ORDERBY = re.compile(r"([A-Za-z][A-Za-z0-9]*)(?:\s+(asc|desc))?\Z")
_ALTERNATE_KEY = re.compile(r"\A([A-Za-z]+)\(([A-Za-z]+)='((?:[^']|'')*)'\)\Z")


def unsupported(message):
    return query.QueryError(message, code="Request_UnsupportedQuery")


def bad_request(message):
    return query.QueryError(message, code="Request_BadRequest")


def alternate_key(segment):
    """(collection, key property, value) of `devices(deviceId='x')`, or None."""
    m = _ALTERNATE_KEY.match(segment)
    if m is None:
        return None
    return m.group(1), m.group(2), m.group(3).replace("''", "'")


def is_advanced(req, params):
    """The request is an advanced query: the header and $count=true."""
    return eventual(req) and params.get("$count") == "true"


def eventual(req):
    value = req.headers.get("ConsistencyLevel") if req.headers is not None else None
    return value is not None and value.strip().lower() == EVENTUAL


def fold_strings(settings):
    return not settings.directory_case_sensitive


# --- the checked form of a list request ------------------------------------------------

class ListOptions:
    """A directory or Intune list request after checking (see parse())."""

    def __init__(self):
        self.select = None          # $select, schema order, or None
        self.render = None          # what the items carry (select or the defaults)
        self.filter = None          # decoded $filter text
        self.orderby = None         # (property, descending)
        self.top = None
        self.count = False          # @odata.count on the first page
        self.advanced = False
        self.offset = 0
        self.empty = False          # an inserted empty page (config empty_pages)


def parse_select(value, resource, single):
    """$select of a directory object: list properties, and on a single GET
    also the single-only ones.  A single-only property on a list is 501."""
    if value is None:
        return None
    rules = resource.directory
    names = [n.strip() for n in value.split(",")]
    if names == ["*"]:
        return None
    single_only = {p.name for p in rules.single_only}
    for name in names:
        if not name:
            raise query.QueryError("The $select option has an empty property name.")
        if name in single_only:
            if not single:
                raise query.QueryError("This operation target is not yet supported.",
                                       code="NotImplemented", status=501)
            continue
        if resource.property(name) is None:
            raise query.QueryError("Could not find a property named '%s' on type '%s'."
                                   % (name, resource.entity_type))
    wanted = set(names)
    order = [p.name for p in resource.properties] + [p.name for p in rules.single_only]
    return tuple(n for n in order if n in wanted)


def check_select_roles(resource, names, token):
    """Properties that need a role of their own (users' signInActivity)."""
    for name in names:
        roles = (resource.directory.select_roles or {}).get(name)
        if roles and not any(r in token.roles for r in roles):
            raise query.QueryError(
                "Insufficient privileges to complete the operation. Reading '%s' needs "
                "one of '%s'." % (name, ", ".join(roles)),
                code="Authorization_RequestDenied", status=403)


def parse_cursor(token, raw_query):
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        offset, advanced, empty, fingerprint = (int(data["o"]), bool(data["a"]),
                                                bool(data["e"]), data["h"])
    except (ValueError, KeyError, TypeError, UnicodeEncodeError):
        raise bad_request("The $skiptoken value is not valid.") from None
    if offset < 0 or fingerprint != query.query_fingerprint(raw_query):
        raise bad_request("The $skiptoken value does not belong to this query.")
    return offset, advanced, empty


def encode_cursor(offset, advanced, empty, fingerprint):
    data = json.dumps({"o": offset, "a": int(advanced), "e": int(empty), "h": fingerprint},
                      separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def parse_list(req, resource, token):
    """Check a list request's options; return ListOptions or raise QueryError."""
    params = req.query.params
    rules = resource.directory
    intune = resource.family == "intune"
    for name in params:
        if name.startswith("$") and name not in LIST_OPTIONS:
            raise query.QueryError("The query parameter '%s' is not supported." % name)
    o = ListOptions()
    has_header = eventual(req)
    o.advanced = not intune and is_advanced(req, params)
    if "$skiptoken" in params:
        o.offset, cursor_advanced, o.empty = parse_cursor(params["$skiptoken"], req.query)
        if cursor_advanced and not has_header:
            raise bad_request("This page belongs to an advanced query: send the header "
                              "'ConsistencyLevel: eventual' with every page of it.")
        if cursor_advanced != o.advanced:
            raise bad_request("The $skiptoken value does not belong to this query.")
    if intune:
        for name in ("$orderby", "$count", "$expand", "$skip", "$search"):
            if name in params:
                raise query.QueryError(
                    "Query option '%s' is not allowed. To allow it, set the "
                    "'AllowedQueryOptions' property on EnableQueryAttribute or "
                    "QueryValidationSettings." % name.lstrip("$").capitalize())
    if "$skip" in params:
        raise bad_request("'$skip' is not supported by the service.")
    if "$search" in params:
        if not has_header:
            raise unsupported("Request with $search query parameter only works through "
                              "MSGraph with a special request header: 'ConsistencyLevel: "
                              "eventual'")
        raise bad_request("$search is not supported by this emulator.")
    if "$expand" in params:
        if o.advanced:
            raise unsupported("$expand is not supported in an advanced query "
                              "(ConsistencyLevel: eventual and $count).")
        raise query.QueryError("Could not find a navigation property named '%s' on "
                               "type '%s'." % (params["$expand"].split(",")[0].strip(),
                                               resource.entity_type))
    if "$count" in params and params["$count"] not in ("true", "false"):
        raise query.QueryError("'%s' is not a valid count option." % params["$count"])
    o.count = o.advanced
    o.select = parse_select(params.get("$select"), resource, single=False)
    o.render = o.select if o.select is not None else rules.default_select
    o.filter = params.get("$filter")
    used = set(o.select or ())
    if o.filter is not None:
        used.update(filtered_properties(o.filter))
    check_select_roles(resource, sorted(used), token)
    o.top = parse_top(params.get("$top"), resource, used)
    if "$orderby" in params:
        o.orderby = parse_orderby(params["$orderby"], resource, o)
    if o.advanced and len(req.own_url()) > ADVANCED_URL_CHARS:
        raise bad_request("The request URL is longer than %d characters."
                          % ADVANCED_URL_CHARS)
    return o


def filtered_properties(text):
    """Top-level properties a $filter names (for select_roles); a filter
    that does not parse names none (its 400 comes later)."""
    try:
        node = odata.Parser(text).parse()
    except odata.FilterError:
        return set()
    names = set()

    def walk(n):
        if not isinstance(n, tuple):
            return
        if n[0] == "path":
            names.add(n[1][0])
        elif n[0] == "lambda":
            names.add(n[1][0])
        for child in n[1:]:
            if isinstance(child, tuple):
                walk(child)
            elif isinstance(child, list):
                for c in child:
                    walk(c)
    walk(node)
    return names


def parse_top(value, resource, used):
    if value is None:
        return None
    cap = resource.top_max
    for name, limit in (resource.directory.select_top_max or {}).items():
        if name in used:
            cap = min(cap, limit)
    if not value.isdigit() or not value.isascii() or int(value) < 1 or int(value) > cap:
        if resource.family == "intune":
            raise query.QueryError("Invalid value '%s' for $top: it must be an integer "
                                   "between 1 and %d." % (value, cap))
        raise bad_request("Invalid page size specified: '%s'. Must be between 1 and %d "
                          "inclusive." % (value, cap))
    return int(value)


def parse_orderby(value, resource, o):
    rules = resource.directory
    m = _ORDERBY.match(value.strip())
    name = m.group(1) if m else value.strip().split(" ")[0]
    if m is None or name not in rules.orderable_default + rules.orderable_advanced:
        raise unsupported("Order by '%s' is not supported." % name)
    if not o.advanced and (name in rules.orderable_advanced or o.filter is not None):
        raise unsupported("Sorting not supported for current query.")
    return (name, m.group(2) == "desc")


# --- filters ---------------------------------------------------------------------------

_LITERAL_KINDS = {schema.STRING: ("str",), schema.BOOLEAN: ("bool",),
                  schema.DATETIME: ("datetime",), schema.GUID: ("guid",),
                  schema.INT32: ("int",), schema.INT64: ("int",)}


class DirectoryCompiler:
    """Checks a $filter tree against a directory resource's rules and builds
    a predicate over entity indices.

    Refusals that no query kind allows raise at once; what only an advanced
    query allows is noted in `needs` (the first reason is the message), and
    the limits of default queries in `limits`, for check() to decide once
    the whole tree is known.
    """

    def __init__(self, resource, collection, fold):
        self.resource = resource
        self.rules = resource.directory
        self.collection = collection
        self.fold = fold
        self.needs = []
        self.limits = []
        self.properties = set()         # top-level properties named

    def check(self, advanced):
        alone = self.properties & self.rules.alone
        if alone and len(self.properties) > 1:
            raise unsupported("The property '%s' cannot be filtered together with other "
                              "properties." % sorted(alone)[0])
        if not advanced:
            if self.needs:
                raise unsupported(self.needs[0])
            if self.limits:
                raise unsupported(self.limits[0])

    def need(self, reason):
        self.needs.append(reason)

    def level(self, path, op, what=None):
        """Require `op` on `path` by its rule; note an advanced-only use."""
        levels = self.rules.filters.get(path)
        if levels is None:
            raise unsupported("Unsupported or invalid query filter clause specified for "
                              "property '%s' of resource '%s'." % (path, self.rules.entity))
        level = levels.get(op)
        if level is None:
            raise unsupported("Unsupported %s on property '%s' of resource '%s'."
                              % (what or "filter clause operator '%s'" % op, path,
                                 self.rules.entity))
        if level == schema.ADVANCED:
            self.need("The %s on property '%s' of resource '%s' needs an advanced query."
                      % (what or "operator '%s'" % op, path, self.rules.entity))

    # -- tree walk
    def compile(self, node):
        kind = node[0]
        if kind in ("and", "or"):
            left, right = self.compile(node[1]), self.compile(node[2])
            if kind == "and":
                return lambda i: left(i) and right(i)
            return lambda i: left(i) or right(i)
        if kind == "not":
            self.need("Unsupported query: the 'not' operator needs an advanced query.")
            inner = self.compile(node[1])
            return lambda i: not inner(i)
        if kind == "cmp":
            return self.comparison(*node[1:])
        if kind == "in":
            return self.membership(node[1], node[2])
        if kind == "call":
            return self.function(node[1], node[2])
        if kind == "lambda":
            return self.any(*node[1:])
        raise query.QueryError("Invalid filter clause: a boolean expression was expected, "
                               "not %s." % odata.describe(node))

    def path_type(self, node):
        """(path text, type) of a property operand, or raise."""
        if node[0] != "path":
            raise query.QueryError("Invalid filter clause: a property was expected, found "
                                   "%s." % odata.describe(node))
        segments = node[1]
        path = "/".join(segments)
        top = self.resource.property(segments[0])
        if top is None:
            raise query.QueryError("Invalid filter clause: Could not find a property named "
                                   "'%s' on type '%s'." % (segments[0],
                                                           self.resource.entity_type))
        self.properties.add(segments[0])
        if len(segments) == 1:
            return path, top.type
        if len(segments) == 2 and segments[1] == "$count":
            return path, "$count"
        kind = (self.rules.nested or {}).get(path)
        if kind is None:
            raise unsupported("Unsupported or invalid query filter clause specified for "
                              "property '%s' of resource '%s'." % (path, self.rules.entity))
        return path, kind

    def literal(self, path, kind, node, op):
        if node[0] != "lit":
            raise query.QueryError("Invalid filter clause: the right operand of '%s' must be "
                                   "a literal, not %s." % (op, odata.describe(node)))
        lit_kind, value = node[1], node[2]
        if lit_kind == "null":
            return None
        if lit_kind not in _LITERAL_KINDS.get(kind, ()):
            raise query.QueryError("Invalid filter clause: A binary operator with "
                                   "incompatible types was detected. Found operand types "
                                   "'%s' and '%s' for operator kind '%s'."
                                   % (kind, odata._edm(lit_kind), op))
        if lit_kind == "str" and op in ("eq", "in") and len(value) > DEFAULT_EQ_CHARS:
            self.limits.append("The value compared with property '%s' is longer than %d "
                               "characters." % (path, DEFAULT_EQ_CHARS))
        return value

    def comparison(self, op, left, right):
        if left[0] == "lit" and right[0] != "lit":
            op, left, right = odata._MIRROR[op], right, left
        path, kind = self.path_type(left)
        if kind == "$count":
            return self.collection_count(path, op, right)
        null = right[0] == "lit" and right[1] == "null"
        if null:
            if op not in ("eq", "ne"):
                raise query.QueryError("Invalid filter clause: the '%s' operator does not "
                                       "accept null." % op)
            self.level(path, "null", "null comparison")
            self.need("Unsupported query: null comparisons need an advanced query.")
        elif op in ("eq", "ne"):
            self.level(path, "eq", "operator '%s'" % op)
        elif op in ("ge", "le"):
            self.level(path, "range", "operator '%s'" % op)
        else:
            self.level(path, "lt_gt", "operator '%s'" % op)
        if op == "ne":
            self.need("Unsupported property filter clause operator 'NotEqualsMatch'.")
        value = self.literal(path, kind, right, op)
        column = self.collection.column(path)
        if kind == schema.STRING and self.fold and value is not None:
            return odata._folded_comparison(op, column, value)
        return odata._comparison(op, column, value)

    def collection_count(self, path, op, right):
        collection = path.rsplit("/", 1)[0]
        self.level(collection, "count", "/$count")
        self.need("Unsupported query: '/$count' of a collection needs an advanced query.")
        if right[0] != "lit" or right[1] != "int":
            raise query.QueryError("Invalid filter clause: '%s' compares with an integer."
                                   % path)
        column = self.collection.column(collection)
        return odata._comparison(op, [len(v or ()) for v in column], right[2])

    def membership(self, operand, items):
        path, kind = self.path_type(operand)
        self.level(path, "eq", "operator 'in'")
        values = [self.literal(path, kind, item, "in") for item in items]
        if len(values) > DEFAULT_IN_VALUES:
            self.limits.append("Too many child clauses specified in search filter "
                               "expression containing 'OR' operators: %d. Max allowed: %d."
                               % (len(values), DEFAULT_IN_VALUES))
        column = self.collection.column(path)
        if kind == schema.STRING and self.fold:
            wanted = frozenset(v.casefold() for v in values if v is not None)
            return lambda i: column[i] is not None and column[i].casefold() in wanted
        wanted = frozenset(values)
        return lambda i: column[i] in wanted

    def function(self, name, args, lambda_var=None, element=None):
        """startsWith / endsWith(property, 'text'); inside a lambda the
        property is the range variable (`element` then reads it)."""
        op = name.lower()
        if op not in ("startswith", "endswith"):
            raise unsupported("The function '%s' is not supported." % name)
        if len(args) != 2 or args[1][0] != "lit" or args[1][1] != "str":
            raise query.QueryError("Invalid filter clause: %s takes a property and a "
                                   "string literal." % name)
        text = args[1][2]
        test = str.startswith if op == "startswith" else str.endswith
        if self.fold:
            text = text.casefold()

        def matches(value):
            if value is None:
                return False
            return test(value.casefold() if self.fold else value, text)
        if lambda_var is not None:
            if args[0] != ("path", [lambda_var]):
                raise unsupported("Only %s(%s, '...') is supported inside any()."
                                  % (name, lambda_var))
            return element(matches)
        path, kind = self.path_type(args[0])
        if kind != schema.STRING:
            raise query.QueryError("Invalid filter clause: %s needs a string property."
                                   % name)
        if op == "endswith":
            self.need("Unsupported query: endsWith needs an advanced query.")
        self.level(path, op, "function '%s'" % name)
        column = self.collection.column(path)
        return lambda i: matches(column[i])

    def any(self, collection, var, body):
        """`coll/any(v: v eq 'x')`, `startsWith(v, 'x')`, or for collections of
        complex values `v/member eq value`."""
        path, kind = self.path_type(("path", collection))
        if kind not in (schema.STRING_COLLECTION, schema.COMPLEX_COLLECTION):
            raise unsupported("any() is only supported on collections.")
        members = (self.rules.lambda_members or {}).get(path)
        column = self.collection.column(path) if members is None else None
        if body[0] == "call":
            self.level(path, "any_startswith", "function 'startsWith' in any()")
            if members is not None:
                raise unsupported("Unsupported lambda expression on '%s'." % path)

            def element(matches):
                return lambda i: any(matches(v) for v in column[i] or ())
            return self.function(body[1], body[2], var, element)
        if body[0] != "cmp" or body[1] != "eq":
            raise unsupported("Only 'eq' and startsWith are supported inside any().")
        left, right = body[2], body[3]
        if left[0] == "lit":
            left, right = right, left
        if left[0] != "path" or left[1][0] != var:
            raise unsupported("The lambda body must compare the range variable '%s'." % var)
        self.level(path, "any_eq", "operator 'eq' in any()")
        if members is None:
            if len(left[1]) != 1:
                raise unsupported("Unsupported lambda expression on '%s'." % path)
            value = self.literal(path, schema.STRING, right, "eq")
            if self.fold:
                value = value.casefold()
                return lambda i: any(v is not None and v.casefold() == value
                                     for v in column[i] or ())
            return lambda i: value in (column[i] or ())
        if len(left[1]) != 2 or left[1][1] not in members:
            raise unsupported("Unsupported lambda expression on '%s'." % path)
        member = left[1][1]
        value = self.literal(path, members[member], right, "eq")
        values = self.collection.column("%s/%s" % (path, member))
        return lambda i: value in values[i]


class IntuneCompiler:
    """managedDevices' few filters: `lastSyncDateTime`/`enrolledDateTime`
    `lt`/`gt`, `jailBroken`/`deviceCategoryDisplayName` `eq`, joined by
    `and`; `or` only between `eq` of one property."""

    def __init__(self, resource, collection, fold):
        self.resource = resource
        self.collection = collection
        self.fold = fold

    @staticmethod
    def refuse(what):
        return query.QueryError("Invalid filter clause: %s is not supported on "
                                "managedDevices." % what)

    def compile(self, node):
        kind = node[0]
        if kind == "and":
            left, right = self.compile(node[1]), self.compile(node[2])
            return lambda i: left(i) and right(i)
        if kind == "or":
            leaves = self.or_leaves(node)
            names = {leaf[2][1][0] for leaf in leaves if leaf[0] == "cmp"}
            if (len(names) != 1 or any(leaf[0] != "cmp" or leaf[1] != "eq"
                                       for leaf in leaves)):
                raise self.refuse("'or' other than between 'eq' of one property")
            tests = [self.compile(leaf) for leaf in leaves]
            return lambda i: any(t(i) for t in tests)
        if kind == "cmp":
            return self.comparison(*node[1:])
        raise self.refuse("%s" % odata.describe(node) if kind != "not" else "'not'")

    def or_leaves(self, node):
        if node[0] == "or":
            return self.or_leaves(node[1]) + self.or_leaves(node[2])
        return [node]

    def comparison(self, op, left, right):
        if left[0] == "lit" and right[0] != "lit":
            op, left, right = odata._MIRROR[op], right, left
        if left[0] != "path" or len(left[1]) != 1:
            raise self.refuse(odata.describe(left))
        name = left[1][0]
        if self.resource.property(name) is None:
            raise query.QueryError("Invalid filter clause: Could not find a property named "
                                   "'%s' on type '%s'." % (name, self.resource.entity_type))
        levels = self.resource.directory.filters.get(name)
        wanted = "lt_gt" if op in ("lt", "gt") else "eq" if op == "eq" else None
        if levels is None or wanted is None or wanted not in levels:
            raise self.refuse("'%s %s'" % (name, op))
        kind = self.resource.property(name).type
        if right[0] != "lit" or right[1] not in _LITERAL_KINDS.get(kind, ()):
            raise query.QueryError("Invalid filter clause: '%s %s' needs a %s literal."
                                   % (name, op, kind))
        column = self.collection.column(name)
        value = right[2]
        if kind == schema.STRING and self.fold:
            return odata._folded_comparison(op, column, value)
        return odata._comparison(op, column, value)


def compile_filter(text, resource, collection, fold, advanced):
    """Parse and check a $filter; return a predicate over entity indices."""
    try:
        node = odata.Parser(text).parse()
    except odata.FilterError as e:
        raise query.QueryError("Invalid filter clause: %s" % e) from None
    if resource.family == "intune":
        return IntuneCompiler(resource, collection, fold).compile(node)
    compiler = DirectoryCompiler(resource, collection, fold)
    predicate = compiler.compile(node)
    compiler.check(advanced)
    return predicate


# --- ordering ---------------------------------------------------------------------------

def directory_order(collection, prop, descending):
    """Live entities sorted by `prop`, strings without letter case (then
    exactly, then by id), nulls first ascending."""
    column = collection.column(prop)
    ids = collection.column("id")

    def key(i):
        value = column[i]
        if isinstance(value, str):
            return (value is not None, value.casefold(), value, ids[i])
        return (value is not None, value if value is not None else 0, "", ids[i])
    result = sorted(collection.order(), key=key)
    if descending:
        result.reverse()
    return result


# --- the service ------------------------------------------------------------------------

class DirectoryService:
    """The handlers of the directory and Intune routes, over one tenant's
    GraphService (its collections, renderers and caches)."""

    def __init__(self, graph):
        self.graph = graph

    def result(self, req, status, body, resource, content_type=None):
        """A GraphResult with the resource-unit header of directory requests."""
        from graph import GraphResult      # graph.py imports this module
        extra = []
        if resource.family == "directory":
            extra.append(("x-ms-resource-unit", str(throttle.resource_units(
                req.segments, req.query.params))))
        return GraphResult(status, body, extra, content_type)

    # -- lists
    def list(self, req, resource, token):
        o = parse_list(req, resource, token)
        settings = req.settings
        generation = self.graph.data_generation
        key = ("directory", req.version, req.raw_path, req.query.raw, req.prefer, req.host,
               o.advanced, settings.generation, generation)
        cacheable = req.link_fault is None
        if cacheable:
            body = self.graph.pages.get(key)
            if body is not None:
                return self.result(req, 200, body, resource)
        matches = self.matches(req, resource, o, generation)
        body = self.render_page(req, resource, o, matches)
        if cacheable:
            self.graph.pages.put(key, body)
        return self.result(req, 200, body, resource)

    def matches(self, req, resource, o, generation):
        settings = req.settings
        fold = fold_strings(settings)
        ignore = resource.family == "intune" and settings.managed_devices_ignore_filter
        key = ("directory", resource.name, o.orderby, o.filter, fold, o.advanced, ignore,
               generation)
        found = self.graph.cached_result(key)
        if found is not None:
            return found
        collection = self.graph.tenant.collection(resource.name)
        order = (directory_order(collection, *o.orderby) if o.orderby
                 else collection.order())
        if o.filter is not None:
            predicate = compile_filter(o.filter, resource, collection, fold, o.advanced)
            if not ignore:
                order = [i for i in order if predicate(i)]
        self.graph.remember_result(key, order)
        return order

    def render_page(self, req, resource, o, matches):
        size = o.top or resource.top_default
        fingerprint = query.query_fingerprint(req.query)
        if o.empty:
            indices, next_offset, empty_next = [], o.offset, False
        else:
            indices = matches[o.offset:o.offset + size]
            next_offset = o.offset + size if o.offset + size < len(matches) else None
            empty_next = req.settings.empty_pages
        next_link = None
        if next_offset is not None:
            kept = req.query.without("$skiptoken")
            kept.append("$skiptoken=" + encode_cursor(next_offset, o.advanced, empty_next,
                                                      fingerprint))
            next_link = "%s://%s%s?%s" % (req.scheme, req.host, req.raw_path, "&".join(kept))
        from graph import _apply_link_fault, _context_url   # graph.py imports this module
        next_link = _apply_link_fault(req, next_link)
        count = len(matches) if o.count and o.offset == 0 and not o.empty else None
        items = self.graph.renderers[resource.name].items(indices, req.prefer, o.render)
        context = _context_url(req, resource.name, o.select)
        return render.Body(render.page_chunks(context, items, count, next_link), len(items),
                           items)

    # -- gets
    def lookup(self, resource, key, alternate=None):
        """Index of the live entity `key` names (id, a user's UPN, or the
        value of an alternate key), or raise the 404."""
        collection = self.graph.tenant.collection(resource.name)
        if alternate is not None:
            column = collection.column(alternate)
            for i in collection.order():
                if column[i] == key:
                    return i
        else:
            i = collection.index.get(key)
            if i is not None:
                return i
            if resource is schema.USERS and "@" in key:
                upns = collection.column("userPrincipalName")
                wanted = key.casefold()
                for i in collection.order():
                    if (upns[i] or "").casefold() == wanted:
                        return i
        if resource.family == "intune":
            raise query.QueryError("Resource not found for the segment '%s'." % key,
                                   code="ResourceNotFound", status=404)
        raise query.QueryError("Resource '%s' does not exist or one of its queried "
                               "reference-property objects are not present." % key,
                               code="Request_ResourceNotFound", status=404)

    def get(self, req, resource, key, token, alternate=None):
        params = req.query.params
        for name in params:
            if name.startswith("$") and name != "$select":
                if name in LIST_OPTIONS:
                    raise query.QueryError("Query option '%s' is not allowed on a single "
                                           "entity." % name)
                raise query.QueryError("The query parameter '%s' is not supported." % name)
        select = parse_select(params.get("$select"), resource, single=True)
        if select is not None:
            check_select_roles(resource, select, token)
        i = self.lookup(resource, key, alternate)
        collection = self.graph.tenant.collection(resource.name)
        renderer = self.graph.renderers[resource.name]
        rules = resource.directory
        if select is not None and collection.details is not None and set(select) & set(
                collection.details[i]):
            doc = dict(collection.docs[i])
            doc.update(collection.details[i])
            ordered = [p.name for p in resource.properties] + [p.name for p in
                                                               rules.single_only]
            doc = {k: doc[k] for k in ["@odata.type"] + ordered if k in doc}
            data = render.dumps(renderer.variant(doc, req.prefer, select))
        else:
            data = renderer.one(i, req.prefer, select if select is not None
                                else rules.default_select)
        from graph import _context_url          # graph.py imports this module
        context = _context_url(req, resource.name, select) + "/$entity"
        return self.result(req, 200, render.Body(render.entity_chunks(context, data), 1),
                           resource)

    # -- GET {collection}/$count
    def count(self, req, resource, token):
        if not eventual(req):
            raise bad_request("$count is not currently supported.")
        params = req.query.params
        for name in params:
            if name.startswith("$") and name != "$filter":
                raise query.QueryError("Query option '%s' is not allowed on $count." % name)
        o = ListOptions()
        o.advanced = True
        o.filter = params.get("$filter")
        if o.filter is not None:
            check_select_roles(resource, sorted(filtered_properties(o.filter)), token)
        matches = self.matches(req, resource, o, self.graph.data_generation)
        return self.result(req, 200, render.Body.of(b"%d" % len(matches)), resource,
                           "text/plain")
