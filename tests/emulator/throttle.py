"""Graph's documented throttling limits, when switched on.

With the config switch `throttle` on, every authenticated Graph request is
admitted or refused (429) before it is routed, by these scopes:

| scope      | paths (after the version)                      | limit, by default             | key           |
| ---------- | ---------------------------------------------- | ----------------------------- | ------------- |
| security   | security/alerts_v2, incidents, alerts,         | 150 requests in any 60 s      | app, tenant   |
|            | secureScores, secureScoreControlProfiles       |                               |               |
| scores     | security/secureScores, secureScoreControl...   | 4 requests in flight at once  | app, tenant   |
| hunting    | security/runHuntingQuery                       | 45 requests in any 60 s       | tenant        |
| identity   | identityProtection/...                         | 1 request in any 1 s          | tenant (all   |
|            |                                                |                               | apps at once) |
| directory  | users, devices, groups, servicePrincipals      | resource units in any 10 s:   | app, tenant   |
|            | (lists, gets, delta, $count)                   | 3,500 / 5,000 / 8,000 by the  |               |
|            |                                                | tenant's users (<50, <=500)   |               |
| intune     | deviceManagement/...                           | 2,000 requests in any 20 s    | app, tenant   |
| intune_    | deviceManagement/...                           | 4,000 requests in any 20 s    | tenant (all   |
| tenant     |                                                |                               | apps at once) |

A directory request costs resource units (resource_units()): 2 for a
list, 5 for a delta page, 1 for a get or $count; $select takes one off,
$top under 20 one more, $expand adds one; at least 1.  Its 429 carries
`Retry-After` (the time until enough units have left the window),
`x-ms-throttle-scope` and `x-ms-throttle-information`.

A refused request gets 429 with the TooManyRequests body.  The security,
scores and hunting refusals carry `Retry-After` in decimal seconds (the
form of Graph's documented sample): the time until the window has room
again.  Identity protection's carry none, as documented.

Choices where Graph's documentation is silent:
* The windows slide: at most N admitted requests in any window of the
  length, measured on arrival.  Refused requests are not counted, so a
  client that waits as long as Retry-After says is admitted.
* A request counts when it is admitted, and holds its concurrency slot
  until its response is ready to be written (latency_ms included).
* Requests with a missing or bad token are not counted: they get their 401.

Limits are config fields (0 = no limit for that scope), so that tests can
run with Graph's real numbers or smaller ones.
"""

import collections
import threading
import time

SECURITY, SCORES, HUNTING, IDENTITY = "security", "scores", "hunting", "identity"
# directory objects (resource units, per app and tenant) and Intune
DIRECTORY, INTUNE, INTUNE_TENANT = "directory", "intune", "intune_tenant"
_DIRECTORY_COLLECTIONS = ("users", "devices", "groups", "servicePrincipals")

# (first segment, second segment or None for any) -> scopes, in check order
_SECURITY_LISTS = ("alerts_v2", "incidents", "alerts")
_SCORE_LISTS = ("secureScores", "secureScoreControlProfiles")


def scopes_of(segments):
    """The throttling scopes of a Graph path (decoded segments after the version)."""
    if not segments:
        return ()
    if segments[0] == "identityProtection":
        return (IDENTITY,)
    if segments[0] == "deviceManagement":
        return (INTUNE, INTUNE_TENANT)
    if segments[0] == "security" and len(segments) > 1:
        if segments[1] in _SCORE_LISTS:
            return (SECURITY, SCORES)
        if segments[1] in _SECURITY_LISTS:
            return (SECURITY,)
        if segments[1] == "runHuntingQuery":
            return (HUNTING,)
    return ()


class Throttled(Exception):
    """A refused request: the scope and the Retry-After value (None: no header)."""

    def __init__(self, scope, retry_after, headers=()):
        super().__init__(scope)
        self.scope = scope
        self.retry_after = retry_after
        self.headers = list(headers)    # more headers of the 429 (directory)


class Ticket:
    """An admitted request; release() gives back its concurrency slot, if any."""

    def __init__(self, limiter, slot_key):
        self._limiter = limiter
        self._slot_key = slot_key

    def release(self):
        if self._slot_key is not None:
            self._limiter._release(self._slot_key)
            self._slot_key = None


class Limiter:
    """Sliding windows and concurrency counts, shared by the handler threads."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._windows = collections.defaultdict(collections.deque)   # key -> arrival times
        self._in_flight = collections.Counter()                     # key -> requests
        self._units = collections.defaultdict(collections.deque)    # key -> (time, units)
        # tenant id -> its users: the directory limit depends on the size
        self.tenant_users = None

    @staticmethod
    def _limits(settings):
        """scope -> (kind, limit, window seconds)."""
        return {SECURITY: ("rate", settings.throttle_security_per_minute, 60.0),
                HUNTING: ("rate", settings.throttle_hunting_per_minute, 60.0),
                IDENTITY: ("rate", settings.throttle_identity_per_second, 1.0),
                SCORES: ("slots", settings.throttle_secure_score_concurrency, None),
                INTUNE: ("rate", settings.throttle_intune_per_20s, 20.0),
                INTUNE_TENANT: ("rate", settings.throttle_intune_tenant_per_20s, 20.0)}

    @staticmethod
    def _key(scope, token):
        if scope in (IDENTITY, HUNTING, INTUNE_TENANT):
            return (scope, token.tenant_id)
        return (scope, token.tenant_id, token.app.client_id)

    def admit(self, segments, token, settings, raw_query=""):
        """A Ticket for the request, or raise Throttled.  None when the
        switch is off or the path has no limit."""
        if not settings.throttle or token is None:
            return None
        if is_directory(segments):
            return self._admit_units(segments, token, settings, raw_query)
        scopes = scopes_of(segments)
        if not scopes:
            return None
        limits = self._limits(settings)
        with self._lock:
            # read under the lock: arrivals are appended in the order of
            # their times, which the pruning below relies on
            now = self._clock()
            # check every scope first: a refused request takes nothing
            for scope in scopes:
                kind, limit, window = limits[scope]
                if limit <= 0:
                    continue
                key = self._key(scope, token)
                if kind == "slots":
                    if self._in_flight[key] >= limit:
                        raise Throttled(scope, "1")
                    continue
                times = self._windows[key]
                while times and times[0] <= now - window:
                    times.popleft()
                if len(times) >= limit:
                    wait = times[0] + window - now
                    raise Throttled(scope, None if scope == IDENTITY
                                    else "%.3f" % max(wait, 0.001))
            slot_key = None
            for scope in scopes:
                kind, limit, window = limits[scope]
                if limit <= 0:
                    continue
                key = self._key(scope, token)
                if kind == "slots":
                    self._in_flight[key] += 1
                    slot_key = key
                else:
                    self._windows[key].append(now)
        return Ticket(self, slot_key)

    def _release(self, key):
        with self._lock:
            self._in_flight[key] -= 1
            if self._in_flight[key] <= 0:
                del self._in_flight[key]

    def clear(self):
        """Forget the windows (POST /_emulator/reset).  Requests in flight
        keep their slots until they finish."""
        with self._lock:
            self._windows.clear()
            self._units.clear()

    # --- directory objects: resource units ------------------------------------------------
    def directory_limit(self, token, settings):
        """Resource units per 10 s of (app, tenant): the config's, or as
        documented by the tenant's size (3,500 under 50 users, 5,000 up to
        500, 8,000 above)."""
        limit = settings.throttle_directory_units_per_10s
        if limit >= 0:
            return limit
        users = self.tenant_users(token.tenant_id) if self.tenant_users else 250
        return 3500 if users < 50 else 5000 if users <= 500 else 8000

    def _admit_units(self, segments, token, settings, raw_query):
        limit = self.directory_limit(token, settings)
        if limit == 0:
            return None
        from urllib.parse import parse_qsl
        params = dict(parse_qsl(raw_query or "", keep_blank_values=True))
        cost = resource_units(segments, params)
        key = (DIRECTORY, token.tenant_id, token.app.client_id)
        with self._lock:
            now = self._clock()
            window = self._units[key]
            while window and window[0][0] <= now - UNIT_WINDOW:
                window.popleft()
            used = sum(units for _, units in window)
            if used + cost > limit:
                # wait until enough of the window has gone by
                freed, wait = 0, UNIT_WINDOW
                for at, units in window:
                    freed += units
                    if used - freed + cost <= limit:
                        wait = at + UNIT_WINDOW - now
                        break
                raise Throttled(DIRECTORY, "%.3f" % max(wait, 0.001), headers=[
                    ("x-ms-throttle-scope", "Tenant_Application/ReadWrite/%s/%s"
                     % (token.app.client_id, token.tenant_id)),
                    ("x-ms-throttle-information", "ResourceUnitLimitExceeded")])
            window.append((now, cost))
        return Ticket(self, None)


UNIT_WINDOW = 10.0


def is_directory(segments):
    """A request of users, devices, groups or servicePrincipals (also by an
    alternate key: devices(deviceId='...'))."""
    return bool(segments) and segments[0].split("(")[0] in _DIRECTORY_COLLECTIONS


def resource_units(segments, params):
    """The resource units a directory request costs: 2 for a list, 5 for a
    delta page, 1 for a get or a count; $select -1, $top under 20 -1,
    $expand +1; at least 1."""
    if segments[-1] == "delta":
        cost = 5
    elif len(segments) == 1 and "(" not in segments[0]:
        cost = 2
    else:
        cost = 1
    if "$select" in params:
        cost -= 1
    top = params.get("$top", "")
    if top.isdigit() and int(top) < 20:
        cost -= 1
    if "$expand" in params:
        cost += 1
    return max(cost, 1)
