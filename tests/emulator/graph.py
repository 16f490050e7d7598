"""Microsoft Graph: the routing table and the handlers behind it.

A request goes through, in order: authentication (401), routing (404),
method (405), the route's app role for that method (403), query options
(400), entity lookup (404), then rendering.  The routing table is data:
each route maps methods to handler methods of GraphService, and may name
the app roles a method needs (writes need the ReadWrite roles, hunting its
own); otherwise the resource's read roles apply.

Lists are computed in two cached steps: the matching entity indices for
(resource, scope, $orderby, $filter, settings, data generation), then the
rendered body for the exact request (path, raw query, Prefer, Host, config
generation, data generation).  A nextLink follows the next page of the same
cached result set, so paging a large filtered collection costs one filter
evaluation, not one per page.  Writes (writes.py) bump the data generation,
so no list rendered before a write is served after it.

Directory objects and Intune's managed devices have rules of their own:
their routes lead to directory.py (lists, gets, alternate keys, $count)
and delta.py (delta queries).
"""

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import delta
import directory
import hunting
import odata
import query
import render
import schema
import writes

ID = "{id}"                     # a route pattern segment matching any id
PREFER_ENUMS = "include-unknown-enum-members"
WWW_AUTHENTICATE = ('WWW-Authenticate', 'Bearer realm="", authorization_uri='
                    '"https://login.microsoftonline.com/common/oauth2/authorize", '
                    'client_id="00000003-0000-0000-c000-000000000000"')
MAX_RESULT_SETS = 128
# a scan's snapshot bound, the last conjunct of its $filter
_SNAPSHOT_BOUND = re.compile(r"^(?:(.+) and )?createdDateTime le "
                             r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)$", re.S)
PAGE_CACHE_BYTES = 1 << 30


class GraphError(Exception):
    """A Graph error response: status, error.code, error.message."""

    def __init__(self, status, code, message, headers=(), details=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = list(headers)
        self.details = details


@dataclass
class GraphRequest:
    """What the handlers need to know about one Graph request."""
    method: str
    version: str                # "v1.0" or "beta"
    raw_path: str               # as received, without the query
    segments: list              # percent-decoded path segments after the version
    query: query.RawQuery
    host: str                   # the Host header: nextLinks are built on it
    prefer: bool                # Prefer: include-unknown-enum-members
    authorization: str          # the Authorization header or None
    settings: object            # state.Settings snapshot
    link_fault: str = None      # "wrong_host_nextlink" / "loop_nextlink" / None
    body: bytes = b""           # the request body (PATCH and POST)
    content_type: str = None    # its Content-Type header
    scheme: str = "http"        # "https" on a TLS port: links are built with it
    headers: object = None      # the request's headers (ConsistencyLevel, Prefer)

    def own_url(self):
        url = "%s://%s%s" % (self.scheme, self.host, self.raw_path)
        return url + "?" + self.query.raw if self.query.raw else url


@dataclass
class GraphResult:
    status: int
    body: render.Body
    headers: list = field(default_factory=list)
    content_type: str = None    # None: Graph's JSON content type


@dataclass(frozen=True)
class Route:
    """A path pattern, the resource whose app role guards it, its methods.

    `methods` maps an HTTP method to the name of a GraphService handler,
    called as handler(request, route, ids) with the ids the pattern's ID
    segments matched.  `roles` maps a method to the app roles any one of
    which it needs; methods not in it need one of the resource's read roles.
    """
    pattern: tuple
    resource: schema.Resource
    methods: dict
    roles: dict = field(default_factory=dict)


def _routes():
    routes = []
    # actions first: their last segment would otherwise match {id}
    for action in writes.RISKY_USER_ACTIONS:
        routes.append(Route(("identityProtection", "riskyUsers", action), schema.RISKY_USERS,
                            {"POST": "risky_user_action"},
                            {"POST": schema.RISKY_USERS.write_roles}))
    routes.append(Route(("security", "runHuntingQuery"), None, {"POST": "run_hunting_query"},
                        {"POST": schema.HUNTING_ROLES}))
    for resource in schema.DIRECTORY_RESOURCES:
        # directory.py and delta.py; the fixed segments before {id}
        parts = tuple(resource.name.split("/"))
        routes.append(Route(parts, resource, {"GET": "list_directory"}))
        if resource.directory.delta:
            routes.append(Route(parts + ("delta",), resource, {"GET": "delta_directory"}))
        if resource.directory.count_segment:
            routes.append(Route(parts + ("$count",), resource, {"GET": "count_directory"}))
        routes.append(Route(parts + (ID,), resource, {"GET": "get_directory"}))
    for resource in schema.RESOURCES:
        if resource.directory is not None:
            continue
        parts = tuple(resource.name.split("/"))
        routes.append(Route(parts, resource, {"GET": "list_collection"}))
        if resource.updatable:
            routes.append(Route(parts + (ID,), resource,
                                {"GET": "get_entity", "PATCH": "patch_entity"},
                                {"PATCH": resource.write_roles}))
            routes.append(Route(parts + (ID, "comments"), resource,
                                {"POST": "post_comment"}, {"POST": resource.write_roles}))
        else:
            routes.append(Route(parts + (ID,), resource, {"GET": "get_entity"}))
    routes.append(Route(("security", "incidents", ID, "alerts"), schema.INCIDENTS,
                        {"GET": "list_incident_alerts"}))
    return tuple(routes)


ROUTES = _routes()
#: resource name -> the route of GET {collection}(key='value')
ALTERNATE_KEY_ROUTES = {
    r.name: Route(tuple(r.name.split("/")) + ("(key)",), r,
                  {"GET": "get_by_alternate_key"})
    for r in schema.DIRECTORY_RESOURCES if r.directory.alternate_keys}


def match_route(segments):
    """(route, ids) for decoded path segments, or raise the 404."""
    alternate = directory.alternate_key(segments[-1]) if segments else None
    if alternate is not None:
        name = "/".join(segments[:-1] + [alternate[0]])
        route = ALTERNATE_KEY_ROUTES.get(name)
        if route is not None and alternate[1] in route.resource.directory.alternate_keys:
            return route, [alternate[1], alternate[2]]
    for route in ROUTES:
        if len(route.pattern) != len(segments):
            continue
        ids = []
        for want, got in zip(route.pattern, segments):
            if want is ID:
                if not got:
                    break
                ids.append(got)
            elif want != got:
                break
        else:
            return route, ids
    raise GraphError(404, "NotFound", "Resource not found for the segment '%s'."
                     % _first_unknown_segment(segments))


def _first_unknown_segment(segments):
    for k in range(len(segments)):
        prefix = segments[:k + 1]
        if not any(len(r.pattern) > k and all(w is ID or w == g for w, g in
                                               zip(r.pattern, prefix)) for r in ROUTES):
            return segments[k]
    return segments[-1] if segments else ""


class GraphService:
    """Serves Graph requests from the tenant's collections."""

    def __init__(self, tenant, tokens, clock, page_cache_bytes=PAGE_CACHE_BYTES,
                 hunting_rows=2000):
        self.tenant = tenant
        self.tokens = tokens
        self.renderers = {name: render.EntityRenderer(c)
                          for name, c in tenant.collections.items()}
        self.pages = render.PageCache(page_cache_bytes)
        self._results = OrderedDict()
        self._results_lock = threading.Lock()
        self.warm = False               # set once warm_up() has finished
        self.data_generation = 0        # bumped by every write
        self.writer = writes.TenantWriter(tenant, clock, self.data_changed, self.resized)
        self.hunting = hunting.HuntingService(tenant, clock, hunting_rows)
        self.clock = clock
        self.directory = directory.DirectoryService(self)
        self.delta = delta.DeltaService(self, clock)
        self.writer.restored.append(self.delta.expire_all)

    def data_changed(self, resource, indices):
        """Documents were replaced (writes.py): forget what was made of them."""
        renderer = self.renderers[resource.name]
        for i in indices:
            renderer.invalidate(i)
        self.data_generation += 1
        self.pages.clear()
        with self._results_lock:
            self._results.clear()

    def resized(self, resource, length):
        """A collection will hold `length` entities (before an append) or
        was cut back to it (restore): the renderer's slots follow."""
        self.renderers[resource.name].resize(length)

    def cached_result(self, key):
        """A result set remembered under `key` (directory.py, delta.py)."""
        with self._results_lock:
            found = self._results.get(key)
            if found is not None:
                self._results.move_to_end(key)
            return found

    def remember_result(self, key, value):
        self._remember(key, value)

    def handle(self, req):
        """Return a GraphResult, or raise GraphError for an error response."""
        token = self.authenticate(req)
        route, ids = match_route(req.segments)
        handler = route.methods.get(req.method)
        if handler is None:
            raise GraphError(405, "MethodNotAllowed",
                             "The requested resource does not support http method '%s'."
                             % req.method, headers=[("Allow", ", ".join(route.methods))])
        self.authorize(token, route.roles.get(req.method) or route.resource.read_roles,
                       route.resource)
        try:
            result = getattr(self, handler)(req, route, ids, token)
        except query.QueryError as e:
            raise GraphError(e.status, e.code, e.message, details=e.details) from None
        except writes.WriteError as e:
            raise GraphError(e.status, e.code, e.message) from None
        except hunting.HuntingError as e:
            raise GraphError(400, "BadRequest", str(e)) from None
        if req.prefer:
            result.headers.append(("Preference-Applied", PREFER_ENUMS))
        return result

    # --- auth -------------------------------------------------------------------------------
    def authenticate(self, req):
        auth = req.authorization or ""
        if auth[:7].lower() != "bearer " or not auth[7:].strip():
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.",
                             headers=[WWW_AUTHENTICATE])
        token, reason = self.tokens.check(auth[7:].strip())
        if token is None:
            raise GraphError(401, "InvalidAuthenticationToken", reason,
                             headers=[WWW_AUTHENTICATE])
        return token

    @staticmethod
    def authorize(token, roles, resource=None):
        if not any(role in token.roles for role in roles):
            if resource is not None and resource.family == "directory":
                raise GraphError(403, "Authorization_RequestDenied",
                                 "Insufficient privileges to complete the operation.")
            raise GraphError(403, "Forbidden",
                             "Missing role permissions on the request. API requires one "
                             "of '%s'. Roles on the request '%s'."
                             % (", ".join(roles), ", ".join(token.roles)))

    # --- directory objects and managed devices (directory.py, delta.py) ---------------------
    def list_directory(self, req, route, ids, token):
        return self.directory.list(req, route.resource, token)

    def get_directory(self, req, route, ids, token):
        return self.directory.get(req, route.resource, ids[0], token)

    def get_by_alternate_key(self, req, route, ids, token):
        return self.directory.get(req, route.resource, ids[1], token, alternate=ids[0])

    def count_directory(self, req, route, ids, token):
        return self.directory.count(req, route.resource, token)

    def delta_directory(self, req, route, ids, token):
        return self.delta.handle(req, route.resource, token)

    # --- handlers ------------------------------------------------------------------------------
    def list_collection(self, req, route, ids, token):
        resource = route.resource
        return self.list_page(req, resource, None, resource.name)

    def list_incident_alerts(self, req, route, ids, token):
        incident_id = ids[0]
        members = self.tenant.incident_alerts.get(incident_id)
        if members is None:
            raise _not_found(route.resource, incident_id)
        context = "security/incidents('%s')/alerts" % incident_id
        return self.list_page(req, schema.ALERTS, (incident_id, members), context)

    def get_entity(self, req, route, ids, token):
        resource = route.resource
        q = query.check_options(req.query, resource, single=True)
        collection = self.tenant.collection(resource.name)
        i = collection.index.get(ids[0])
        if i is None:
            raise _not_found(resource, ids[0])
        data = self.renderers[resource.name].one(i, req.prefer, q.select)
        if q.expand:
            data = self.expand_alerts([i], [data], req.prefer)[0]
        context = _context_url(req, resource.name, q.select) + "/$entity"
        return GraphResult(200, render.Body(render.entity_chunks(context, data), 1))

    # --- writes (writes.py has the rules) -------------------------------------------------------
    @staticmethod
    def _no_options(req):
        if req.query.params:
            raise GraphError(400, "BadRequest", "Query options are not supported on %s "
                             "requests to this resource." % req.method)

    def patch_entity(self, req, route, ids, token):
        """PATCH alerts_v2/{id} or incidents/{id}: 200 with the updated entity."""
        self._no_options(req)
        resource = route.resource
        changes = writes.parse_json_body(req.body, req.content_type)
        i = self.writer.patch(resource, ids[0], changes, req.prefer, token.app)
        data = self.renderers[resource.name].one(i, req.prefer)
        context = _context_url(req, resource.name, None) + "/$entity"
        return GraphResult(200, render.Body(render.entity_chunks(context, data), 1))

    def post_comment(self, req, route, ids, token):
        """POST .../{id}/comments: 200 with the whole comment list."""
        self._no_options(req)
        resource = route.resource
        body = writes.parse_json_body(req.body, req.content_type)
        comments = self.writer.add_comment(resource, ids[0], body, token.app)
        context = _context_url(req, "%s('%s')/comments" % (resource.name, ids[0]), None)
        return GraphResult(200, render.Body.of(render.dumps(
            {"@odata.context": context, "value": comments}), len(comments)))

    def risky_user_action(self, req, route, ids, token):
        """POST riskyUsers/dismiss or /confirmCompromised: 204."""
        self._no_options(req)
        body = writes.parse_json_body(req.body, req.content_type)
        self.writer.risky_user_action(route.pattern[-1], body)
        return GraphResult(204, render.Body.of(b""))

    def run_hunting_query(self, req, route, ids, token):
        """POST security/runHuntingQuery: schema and results in one response."""
        self._no_options(req)
        body = writes.parse_json_body(req.body, req.content_type)
        result, rows = self.hunting.execute(body, req.settings)
        context = ("http://%s/%s/$metadata#microsoft.graph.security.huntingQueryResults"
                   % (req.host, req.version))
        out = {"@odata.context": context}
        out.update(result)
        return GraphResult(200, render.Body.of(render.dumps(out), rows))

    # --- lists -----------------------------------------------------------------------------------
    def list_page(self, req, resource, scope, context_path):
        """One page of a collection (or of `scope`, (key, member indices))."""
        q = query.check_options(req.query, resource, single=False)
        cacheable = req.link_fault is None
        generation = self.data_generation
        key = (req.version, req.raw_path, req.query.raw, req.prefer, req.host,
               req.settings.generation, generation)
        if cacheable:
            body = self.pages.get(key)
            if body is not None:
                return GraphResult(200, body)
        matches = self.matches(req, resource, scope, q, generation)
        body = self.render_page(req, resource, q, matches, context_path)
        if cacheable:
            self.pages.put(key, body)
        return GraphResult(200, body)

    def matches(self, req, resource, scope, q, generation):
        """Indices of the entities the request selects, in response order."""
        settings = req.settings
        key = (resource.name, scope and scope[0], q.orderby, q.filter, req.prefer,
               settings.case_insensitive, settings.strict, generation)
        with self._results_lock:
            found = self._results.get(key)
            if found is not None:
                self._results.move_to_end(key)
                return found
        collection = self.tenant.collection(resource.name)
        if scope is None:
            order = collection.order(*q.orderby) if q.orderby else collection.default_order()
        elif q.orderby:
            # a scope is small (one incident's alerts): sort it, do not
            # filter the whole collection's order
            order = sorted(scope[1], key=collection.rank(*q.orderby).__getitem__)
        else:
            order = scope[1]            # already in default order
        text = q.filter
        if text is not None:
            options = odata.FilterOptions(req.prefer, settings.case_insensitive,
                                          settings.strict)
            try:
                predicate = odata.compile_filter(text, resource, collection, options)
                reduced = self._without_universal_bound(text, resource, collection, options,
                                                        scope is None)
            except odata.FilterError as e:
                raise GraphError(400, "BadRequest", "Invalid filter clause: %s" % e) from None
            if reduced != text:
                # the same entities as the filter without the bound: its
                # result set, computed once for every scan start
                rkey = key[:3] + (reduced,) + key[4:]
                with self._results_lock:
                    found = self._results.get(rkey)
                if found is None:
                    if reduced is not None:
                        predicate = odata.compile_filter(reduced, resource, collection, options)
                        found = [i for i in order if predicate(i)]
                    else:
                        found = order
                    self._remember(rkey, found)
                self._remember(key, found)
                return found
            order = [i for i in order if predicate(i)]
        self._remember(key, order)
        return order

    def _remember(self, key, order):
        with self._results_lock:
            self._results[key] = order
            while len(self._results) > MAX_RESULT_SETS:
                self._results.popitem(last=False)

    @staticmethod
    def _without_universal_bound(text, resource, collection, options, whole):
        """`text` without a trailing `createdDateTime le T` that every entity
        satisfies (no null createdDateTime, the latest at or before T), or
        `text` itself.  A conjunct true for every entity changes nothing
        wherever it stands; None when it was the whole filter."""
        m = _SNAPSHOT_BOUND.match(text)
        if m is None or not whole:
            return text
        ascending = collection.order("createdDateTime", False)
        if not ascending or collection.docs[ascending[0]].get("createdDateTime") is None:
            return text
        bound = odata.compile_filter("createdDateTime le " + m.group(2), resource,
                                     collection, options)
        if not bound(ascending[-1]):
            return text
        return m.group(1)

    def render_page(self, req, resource, q, matches, context_path):
        size = q.top or resource.top_default
        if q.cursor is not None:
            offset, empty = q.cursor["offset"], q.cursor["empty"]
        else:
            offset, empty = q.skip, False
        if empty:
            # an inserted empty page (config empty_pages) leads to the real one
            indices, next_link = [], self.next_link(req, resource, offset, False)
        else:
            indices = matches[offset:offset + size]
            next_link = None
            if offset + size < len(matches):
                next_link = self.next_link(req, resource, offset + size,
                                           req.settings.empty_pages)
        next_link = _apply_link_fault(req, next_link)
        count = len(matches) if q.count and offset == 0 and not empty else None
        renderer = self.renderers[resource.name]
        if q.expand:
            items = [b"," + data for data in self.expand_alerts(
                indices, renderer.many(indices, req.prefer, q.select), req.prefer)]
        else:
            items = renderer.items(indices, req.prefer, q.select)
        context = _context_url(req, context_path, q.select)
        return render.Body(render.page_chunks(context, items, count, next_link), len(items),
                           items)

    def next_link(self, req, resource, offset, empty):
        """Absolute nextLink: the client's options plus the cursor.

        Security lists page with $skip (and, before an inserted empty page,
        a $skiptoken marking it); identity lists with an opaque $skiptoken.
        """
        kept = req.query.without("$skip", "$skiptoken")
        fingerprint = query.query_fingerprint(req.query)
        if resource.paging == "skip":
            kept.append("$skip=%d" % offset)
            if empty:
                kept.append("$skiptoken=" + query.encode_cursor(offset, True, fingerprint))
        else:
            kept.append("$skiptoken=" + query.encode_cursor(offset, empty, fingerprint))
        return "%s://%s%s?%s" % (req.scheme, req.host, req.raw_path, "&".join(kept))

    def warm_up(self, stop):
        """Pre-serialize every collection's default variant (background)."""
        for resource in schema.RESOURCES:
            renderer = self.renderers[resource.name]
            select = resource.directory and resource.directory.default_select
            renderer.warm(renderer.collection.default_order(), stop, select)
        self.warm = not stop.is_set()

    def stats(self):
        return {"warm": self.warm, "page_cache": self.pages.stats(),
                "result_sets": len(self._results)}

    def expand_alerts(self, incident_indices, items, prefer):
        """Incident bytes with their alerts embedded ($expand=alerts)."""
        incidents = self.tenant.collection(schema.INCIDENTS.name)
        alerts = self.renderers[schema.ALERTS.name]
        links = self.tenant.incident_alerts
        return [render.with_navigation(
                    data, "alerts", alerts.many(links[incidents.docs[i]["id"]], prefer))
                for i, data in zip(incident_indices, items)]


def _not_found(resource, entity_id):
    return GraphError(404, "NotFound", "The %s with id '%s' was not found."
                      % (resource.entity_type.rsplit(".", 1)[1], entity_id))


def _context_url(req, path, select):
    url = "%s://%s/%s/$metadata#%s" % (req.scheme, req.host, req.version, path)
    if select is not None:
        url += "(%s)" % ",".join(select)
    return url


def _apply_link_fault(req, next_link):
    """The nextLink a wrong_host_nextlink / loop_nextlink fault sends instead."""
    if req.link_fault == "loop_nextlink":
        return req.own_url()
    if req.link_fault == "wrong_host_nextlink":
        url = next_link or req.own_url()
        port = req.host.rpartition(":")[2] if ":" in req.host else "80"
        rest = url.split("/", 3)[3]
        return "%s://127.0.0.2:%s/%s" % (req.scheme, port, rest)
    return next_link
