"""The control API under /_emulator/: what tests use to steer the emulator.

No authentication and no request logging: these calls are the test's own
plumbing, not traffic of the client under test.  Bodies are JSON, or NDJSON
(one compact object per line) for the request log and the data dumps.
"""

import json

import assertion
import changes
import faults
import identity
import render
import schema
import state
import tenants
import timestamps

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
        ("GET", "tenants"): "tenant_get",
        ("POST", "tenants"): "tenant_post",
        ("POST", "changes"): "change",
        ("GET", "clock"): "get_clock",
        ("POST", "clock"): "set_clock",
        ("POST", "delta"): "delta_action",
    }

    #: POST /_emulator/changes/<kind> -> changes.ChangeWriter method
    CHANGES = ("update", "comment", "create", "delete", "undelete", "random")

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
        self.server.limiter.clear()
        self.server.tenants.reset()
        return self._ok({"ok": True, "config": self.server.config.as_dict()})

    def restore(self, **_):
        """Put the generated data back: undo every write (PATCH, comments,
        riskyUser actions, control changes) since start-up or the last
        restore, in every tenant.  Delta tokens issued before expire."""
        return self._ok({"ok": True, "restored": sum(
            site.graph.writer.restore() for site in self.server.tenants.sites.values())})

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

    def mint_token(self, body, **_):
        """A token of the admin app (or {"app": "reader"}) for the registered
        tenant (or {"tenant": id or domain})."""
        spec = self._json(body)
        site = self._site(spec)
        apps = {app.name: app for app in identity.APPS}
        app = apps.get(spec.get("app", "admin")) if isinstance(spec, dict) else None
        if app is None:
            raise ControlError(400, "'app' is one of %s" % ", ".join(apps))
        lifetime = self.server.config.current.token_lifetime
        token = self.server.tokens.issue(app, identity.GRAPH_SCOPES[0], lifetime,
                                         site.tenant_id)
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
        with the Prefer header and no $select (incidents without alerts).
        Directory objects carry every property a list can return when
        $select-ed (users: signInActivity where they have one), managed
        devices what a list sends (list_defaults)."""
        return self._dump(self.server.tenants.primary, rest)

    def _dump(self, site, rest):
        version, _, name = rest.partition("/")
        resource = schema.RESOURCES_BY_NAME.get(name)
        if version not in ("v1.0", "beta") or resource is None:
            raise ControlError(404, "no collection '%s' (known: %s)" % (
                rest, ", ".join("v1.0/" + r.name for r in schema.RESOURCES)))
        renderer = site.graph.renderers[resource.name]
        order = renderer.collection.default_order()
        lines = renderer.many(order, True)
        return 200, NDJSON, b"".join(line.tobytes() + b"\n" for line in lines)

    # --- tenants, changes, the clock -----------------------------------------------------
    def _site(self, spec):
        tenant_id = spec.get("tenant") if isinstance(spec, dict) else None
        try:
            return self.server.tenants.site(tenant_id)
        except LookupError as e:
            raise ControlError(404, str(e)) from None

    def tenant_get(self, rest, **_):
        """GET tenants: the list; GET tenants/<id>/data/v1.0/<collection>: a dump."""
        if not rest:
            return self._ok(self.server.tenants.listing())
        tenant_id, _, more = rest.partition("/")
        site = self._site({"tenant": tenant_id})
        if not more.startswith("data/"):
            return self._ok(site.describe(site is self.server.tenants.primary))
        return self._dump(site, more[len("data/"):])

    def tenant_post(self, body, rest, **_):
        """POST tenants {spec}: add one; POST tenants/<id> {"fault", "secrets"}."""
        spec = self._json(body)
        try:
            if rest:
                self._site({"tenant": rest})
                return self._ok(self.server.tenants.update(rest, spec))
            site = self.server.tenants.add(spec)
        except tenants.TenantSpecError as e:
            raise ControlError(400, str(e)) from None
        return self._ok(site.describe(False), 201)

    def change(self, body, rest, **_):
        """POST changes/<kind> {..., "tenant"}: changes.ChangeWriter.<kind>."""
        if rest not in self.CHANGES:
            raise ControlError(404, "no change '%s' (known: %s)" % (rest,
                                                                 ", ".join(self.CHANGES)))
        spec = self._json(body)
        if not isinstance(spec, dict):
            raise ControlError(400, "a change is a JSON object")
        site = self._site(spec)
        spec = {k: v for k, v in spec.items() if k != "tenant"}
        try:
            return self._ok(getattr(site.changes, rest)(spec))
        except changes.ChangeError as e:
            raise ControlError(e.status, str(e)) from None

    def get_clock(self, **_):
        ticks = self.server.clock.now_ticks()
        return self._ok({"now": timestamps.format_ticks(ticks, 7)})

    def set_clock(self, body, **_):
        """{"advance_seconds": N} or {"now": "<ISO 8601>"}: move the emulated
        present (delta tokens expire on it; new alerts are stamped with it)."""
        spec = self._json(body)
        if not isinstance(spec, dict) or len(spec) != 1 or not (
                set(spec) <= {"advance_seconds", "now"}):
            raise ControlError(400, "give exactly one of 'advance_seconds' and 'now'")
        if "now" in spec:
            try:
                self.server.clock.set_now(timestamps.parse(spec["now"]))
            except (TypeError, ValueError):
                raise ControlError(400, "'now' is an ISO 8601 timestamp") from None
        else:
            value = spec["advance_seconds"]
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ControlError(400, "'advance_seconds' is a number")
            self.server.clock.advance(value)
        return self.get_clock()

    def delta_action(self, body, rest, **_):
        """POST delta/expire [{"tenant"}]: every delta token issued so far
        answers 410 (in that tenant, or in all)."""
        if rest != "expire":
            raise ControlError(404, "no delta action '%s' (known: expire)" % rest)
        spec = self._json(body)
        sites = ([self._site(spec)] if isinstance(spec, dict) and "tenant" in spec
                 else list(self.server.tenants.sites.values()))
        for site in sites:
            site.graph.delta.expire_all()
        return self._ok({"ok": True, "expired": [site.tenant_id for site in sites]})
