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

# (first segment, second segment or None for any) -> scopes, in check order
_SECURITY_LISTS = ("alerts_v2", "incidents", "alerts")
_SCORE_LISTS = ("secureScores", "secureScoreControlProfiles")


def scopes_of(segments):
    """The throttling scopes of a Graph path (decoded segments after the version)."""
    if not segments:
        return ()
    if segments[0] == "identityProtection":
        return (IDENTITY,)
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

    def __init__(self, scope, retry_after):
        super().__init__(scope)
        self.scope = scope
        self.retry_after = retry_after


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

    @staticmethod
    def _limits(settings):
        """scope -> (kind, limit, window seconds)."""
        return {SECURITY: ("rate", settings.throttle_security_per_minute, 60.0),
                HUNTING: ("rate", settings.throttle_hunting_per_minute, 60.0),
                IDENTITY: ("rate", settings.throttle_identity_per_second, 1.0),
                SCORES: ("slots", settings.throttle_secure_score_concurrency, None)}

    @staticmethod
    def _key(scope, token):
        if scope in (IDENTITY, HUNTING):
            return (scope, token.tenant_id)
        return (scope, token.tenant_id, token.app.client_id)

    def admit(self, segments, token, settings):
        """A Ticket for the request, or raise Throttled.  None when the
        switch is off or the path has no limit."""
        if not settings.throttle or token is None:
            return None
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
