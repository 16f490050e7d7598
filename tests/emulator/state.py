"""Mutable emulator state shared by the handlers: runtime config, request log.

Both are changed through the control API while requests are in flight, so
each is guarded by its own lock.  Readers of the config take one immutable
Settings snapshot per request, so a request never sees half an update; the
snapshot's `generation` goes into cache keys, so that pages rendered under
older settings are never served under newer ones.
"""

import json
import threading
import time
from collections import namedtuple

#: Graph's per-request limit of advanced hunting (graph-api.md 6)
HUNTING_TIMEOUT_MS = 180_000

# name -> (type, minimum for ints)
CONFIG_FIELDS = {
    "latency_ms": (int, 0),
    "case_insensitive": (bool, None),
    "strict": (bool, None),
    "empty_pages": (bool, None),
    "token_lifetime": (int, 1),
    "hunting_delay_ms": (int, 0),       # how long a hunting query runs
    "hunting_timeout_ms": (int, 1),     # past this it fails (Graph: 3 minutes)
    # Graph's throttling limits (throttle.py): the switch, then each limit (0 = none)
    "throttle": (bool, None),
    "throttle_security_per_minute": (int, 0),
    "throttle_secure_score_concurrency": (int, 0),
    "throttle_hunting_per_minute": (int, 0),
    "throttle_identity_per_second": (int, 0),
    # directory objects and managed devices (directory.py, delta.py)
    "directory_case_sensitive": (bool, None),       # string eq/in/startsWith exact
    "managed_devices_ignore_filter": (bool, None),  # a valid $filter is ignored
    "delta_replay": (bool, None),                   # a round sends an object twice
    # their throttling: resource units per 10 s per app and tenant (-1: by
    # the tenant's size, as documented), Intune requests per 20 s
    "throttle_directory_units_per_10s": (int, -1),
    "throttle_intune_per_20s": (int, 0),
    "throttle_intune_tenant_per_20s": (int, 0),
}

# graph-api.md 8.4
DEFAULT_THROTTLE_LIMITS = {
    "throttle_security_per_minute": 150,
    "throttle_secure_score_concurrency": 4,
    "throttle_hunting_per_minute": 45,
    "throttle_identity_per_second": 1,
    "throttle_directory_units_per_10s": -1,
    "throttle_intune_per_20s": 2000,
    "throttle_intune_tenant_per_20s": 4000,
}

#: defaults of the fields a server's command line does not set
FIELD_DEFAULTS = dict(DEFAULT_THROTTLE_LIMITS, directory_case_sensitive=False,
                      managed_devices_ignore_filter=False, delta_replay=False)

Settings = namedtuple("Settings", list(CONFIG_FIELDS) + ["generation"])


class ConfigError(ValueError):
    """A config update the control API refuses (400)."""


class Config:
    """Runtime switches, reset to the command line's values on demand."""

    def __init__(self, defaults):
        self._defaults = dict(FIELD_DEFAULTS)
        self._defaults.update(defaults)
        self._lock = threading.Lock()
        self._generation = 0
        self.current = Settings(generation=0, **self._defaults)

    def update(self, changes):
        """Apply a JSON object of changes (all or nothing); return as_dict()."""
        if not isinstance(changes, dict):
            raise ConfigError("the config must be a JSON object")
        for name, value in changes.items():
            if name not in CONFIG_FIELDS:
                raise ConfigError("unknown config key '%s' (known: %s)"
                                  % (name, ", ".join(CONFIG_FIELDS)))
            kind, minimum = CONFIG_FIELDS[name]
            # bool is a subclass of int: refuse true for a number and 1 for a switch
            if type(value) is not kind or (minimum is not None and value < minimum):
                raise ConfigError("'%s' must be %s" % (name, "a boolean" if kind is bool
                                                       else "an integer >= %d" % minimum))
        with self._lock:
            values = self.current._asdict()
            values.update(changes)
            self._generation += 1
            values["generation"] = self._generation
            self.current = Settings(**values)
        return self.as_dict()

    def reset(self):
        with self._lock:
            self._generation += 1
            self.current = Settings(generation=self._generation, **self._defaults)

    def as_dict(self):
        values = self.current._asdict()
        del values["generation"]
        return values


class RequestLog:
    """Every non-control request since the last reset, in arrival order.

    An entry is created when the request arrives (so `seq` is its arrival
    rank) and completed when its response has been sent; until then its
    status is null.  A listing waits (a second at most) for the entries
    whose response is already on the wire but not yet completed, so that a
    client which has read a reply and then asks for the log finds it there.
    `at` is the arrival time in seconds since the log was
    created (monotonic clock), for tests that time retries and pacing.
    Entries are plain dicts so that listing them is one json.dumps each.
    """

    def __init__(self):
        self._entries = []
        self._seq = 0
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)
        self._written = set()           # ids of entries sent in full, not completed

    def start(self, **fields):
        with self._lock:
            self._seq += 1
            entry = {"seq": self._seq}
            entry.update(fields)
            entry["at"] = round(time.monotonic() - self._started, 4)
            entry.update(status=None, rows=0, bytes=0)
            self._entries.append(entry)
        return entry

    def written(self, entry):
        """The response of `entry` has been written; finish() follows."""
        with self._lock:
            self._written.add(id(entry))

    def annotate(self, entry, **fields):
        """Add fields to an entry (the tenant a request went to)."""
        with self._lock:
            entry.update(fields)

    def finish(self, entry, status, rows, sent_bytes, fault=None, throttled=None):
        with self._lock:
            self._written.discard(id(entry))
            self._settled.notify_all()
            entry["status"] = status
            entry["rows"] = rows
            entry["bytes"] = sent_bytes
            if fault is not None:
                entry["fault"] = fault
            if throttled is not None:
                entry["throttled"] = throttled

    def ndjson(self):
        with self._lock:
            self._settled.wait_for(lambda: not self._written, timeout=1.0)
            lines = [json.dumps(e, ensure_ascii=False, separators=(",", ":"))
                     for e in self._entries]
        return "".join(line + "\n" for line in lines).encode("utf-8")

    def clear(self):
        with self._lock:
            self._entries.clear()
            self._written.clear()
            self._seq = 0
