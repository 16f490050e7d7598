"""The control API under /_emulator/: what tests use to steer the emulator.

No authentication and no request logging: these calls are the test's own
plumbing, not traffic of the client under test.  Bodies are JSON, or NDJSON
(one compact object per line) for the request log and the data dumps.
"""

import json

import assertion
import faults
import identity
import render
import schema
import state

JSON = "application/json; charset=utf-8"
NDJSON = "application/x-ndjson; charset=utf-8"


class ControlError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class ControlAPI:
    """Routes /_emulator/<name> to a method; `ROUTES` is the table."""

    # (method, name) -> handler; "data" takes the rest of the path
    ROUTES = {
        ("GET", "health"): "health",
        ("GET", "stats"): "stats",
        ("GET", "requests"): "requests",
        ("POST", "reset"): "reset",
        ("POST", "restore"): "restore",
        ("GET", "config"): "get_config",
        ("POST", "config"): "set_config",
        ("GET", "faults"): "list_faults",
        ("POST", "faults"): "add_faults",
        ("DELETE", "faults"): "clear_faults",
        ("POST", "revoke-tokens"): "revoke_tokens",
        ("POST", "token"): "mint_token",
        ("GET", "data"): "data",
        ("POST", "hostile"): "arm_hostile",
        ("GET", "hostile"): "hostile_account",
        ("DELETE", "hostile"): "disarm_hostile",
        ("GET", "certificates"): "list_certificates",
        ("POST", "certificates"): "add_certificate",
        ("DELETE", "certificates"): "clear_certificates",
    }

    def __init__(self, server):
        self.server = server

    def handle(self, method, path, body):
        """Return (status, content type, body bytes) for a control request."""
        name, _, rest = path[len("/_emulator/"):].partition("/")
        handler = self.ROUTES.get((method, name))
        try:
            if handler is None:
                known = any(n == name for _, n in self.ROUTES)
                raise ControlError(405 if known else 404, "no control endpoint %s %s"
                                   % (method, path))
            result = getattr(self, handler)(body=body, rest=rest)
        except ControlError as e:
            result = (e.status, JSON, render.dumps({"error": str(e)}))
        return result

    @staticmethod
    def _json(body):
        try:
            return json.loads(body or b"{}")
        except ValueError as e:
            raise ControlError(400, "the body is not JSON: %s" % e) from None

    @staticmethod
    def _ok(obj, status=200):
        return status, JSON, render.dumps(obj)

    # --- endpoints -----------------------------------------------------------------------
    def health(self, **_):
        return self._ok({"ok": True})

    def stats(self, **_):
        """Warm-up done?  Page cache use.  For benchmarks and debugging."""
        return self._ok(self.server.graph.stats())

    def requests(self, **_):
        return 200, NDJSON, self.server.requests.ndjson()

    def reset(self, **_):
        """Forget the request log and faults, restore the command-line config.

        Issued tokens stay valid: a test's setup token survives resets.
        """
        self.server.requests.clear()
        self.server.faults.clear()
        self.server.hostile.disarm()
        self.server.config.reset()
        return self._ok({"ok": True, "config": self.server.config.as_dict()})

    def restore(self, **_):
        """Put the generated data back: undo every write (PATCH, comments,
        riskyUser actions) since start-up or the last restore."""
        return self._ok({"ok": True, "restored": self.server.graph.writer.restore()})

    def get_config(self, **_):
        return self._ok(self.server.config.as_dict())

    def set_config(self, body, **_):
        try:
            return self._ok(self.server.config.update(self._json(body)))
        except state.ConfigError as e:
            raise ControlError(400, str(e)) from None

    def list_faults(self, **_):
        return self._ok(self.server.faults.pending())

    def add_faults(self, body, **_):
        try:
            return self._ok(self.server.faults.add(self._json(body)))
        except faults.FaultSpecError as e:
            raise ControlError(400, str(e)) from None

    def clear_faults(self, **_):
        self.server.faults.clear()
        return self._ok([])

    def revoke_tokens(self, **_):
        self.server.tokens.revoke_all()
        return self._ok({"ok": True})

    def mint_token(self, **_):
        lifetime = self.server.config.current.token_lifetime
        token = self.server.tokens.issue(identity.ADMIN, identity.GRAPH_SCOPES[0], lifetime)
        return self._ok({"token_type": "Bearer", "access_token": token,
                         "expires_in": lifetime})

    def arm_hostile(self, body, **_):
        """Arm the fuzzing mode for one scan (hostile.HostileMode.arm)."""
        try:
            return self._ok(self.server.hostile.arm(self._json(body)))
        except ValueError as e:
            raise ControlError(400, str(e)) from None

    def hostile_account(self, **_):
        """The pages the armed scan served and what each must yield."""
        return self._ok(self.server.hostile.account())

    def disarm_hostile(self, **_):
        self.server.hostile.disarm()
        return self._ok({"armed": None})
    def list_certificates(self, **_):
        return self._ok(self.server.certificates.listing())

    def add_certificate(self, body, **_):
        """Register {"client_id", "certificate": PEM} for a registered app."""
        spec = self._json(body)
        if not isinstance(spec, dict) or set(spec) != {"client_id", "certificate"}:
            raise ControlError(400, "give exactly 'client_id' and 'certificate' (PEM text)")
        if spec["client_id"] not in identity.APPS_BY_CLIENT_ID:
            raise ControlError(400, "no registered app has client_id %r" % spec["client_id"])
        if not isinstance(spec["certificate"], str):
            raise ControlError(400, "'certificate' must be PEM text")
        try:
            return self._ok(self.server.certificates.register(spec["client_id"],
                                                              spec["certificate"]))
        except assertion.CertificateError as e:
            raise ControlError(400, str(e)) from None

    def clear_certificates(self, **_):
        self.server.certificates.clear()
        return self._ok([])

    def data(self, rest, **_):
        """Every entity of a collection, one line each, as a list page sends it
        with the Prefer header and no $select (incidents without alerts)."""
        version, _, name = rest.partition("/")
        resource = schema.RESOURCES_BY_NAME.get(name)
        if version not in ("v1.0", "beta") or resource is None:
            raise ControlError(404, "no collection '%s' (known: %s)" % (
                rest, ", ".join("v1.0/" + r.name for r in schema.RESOURCES)))
        renderer = self.server.graph.renderers[resource.name]
        order = renderer.collection.default_order()
        lines = renderer.many(order, True)
        return 200, NDJSON, b"".join(line.tobytes() + b"\n" for line in lines)
