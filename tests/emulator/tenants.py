"""Several tenants in one emulator: data, credentials, budgets and faults
of each.

A managed security provider reads many customer tenants, each with its own
credentials, data and throttle budget; one query over all of them must fail
when one tenant fails.  The emulator serves any number of tenants from one
process:

* The registered tenant (tenant.TENANT_ID, contoso.onmicrosoft.com) is
  always there; `--tenant ID[:key=value,...]` on the command line and
  `POST /_emulator/tenants` add others, each with its own seed and counts.
* A token request names its tenant in its path (by id or domain); the token
  it gets is scoped to that tenant, and every Graph request is answered
  from the data of its token's tenant (alerts and incidents carry that
  tenantId).  The same two apps are registered in every tenant; a tenant may
  register other secrets for them (`admin_secret`, `reader_secret`): the
  usual secret is then refused there (401 AADSTS7000215).
* Throttling keys are (scope, tenant[, app]) already (throttle.py): each
  tenant has its own budgets.
* A tenant may carry a fault: a fault spec (faults.py) that takes every
  request of that tenant it fits, for good (by default only Graph
  requests): "500" answers 500s, "hang" never answers, "reset" drops the
  connection.  Registered faults (POST /_emulator/faults) are offered a
  request first.
* The request log says which tenant each token and Graph request went to
  (`tenant`, null when the request named none the emulator knows).
"""

import re
import threading
from collections import OrderedDict

import changes
import faults
import graph
import identity
import schema
import tenant as tenant_module

GUID = re.compile(r"\A[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
TOKEN_PATH = re.compile(r"/([^/]+)/oauth2/v2\.0/token\Z")

#: count keys of a tenant spec -> resource names
COUNT_KEYS = {
    "alerts": schema.ALERTS.name, "incidents": schema.INCIDENTS.name,
    "secure-scores": schema.SECURE_SCORES.name,
    "risk-detections": schema.RISK_DETECTIONS.name,
    "risky-users": schema.RISKY_USERS.name,
    "sp-risk-detections": schema.SP_RISK_DETECTIONS.name,
    "users": schema.USERS.name, "devices": schema.DEVICES.name,
    "groups": schema.GROUPS.name, "service-principals": schema.SERVICE_PRINCIPALS.name,
    "managed-devices": schema.MANAGED_DEVICES.name,
}
OTHER_KEYS = ("seed", "domain", "fault", "admin-secret", "reader-secret")
APP_KEYS = {"admin-secret": identity.APPS[0], "reader-secret": identity.APPS[1]}
#: each other tenant's page cache (the registered one has graph.PAGE_CACHE_BYTES)
EXTRA_PAGE_CACHE_BYTES = 256 << 20


class TenantSpecError(ValueError):
    """A tenant declaration the command line or control API refuses."""


def fault_spec(value):
    """A tenant's fault: a fault spec (dict), or "500" / any status, "hang",
    "reset"; None clears.  Only Graph requests unless the spec's match says
    otherwise.  Returns a faults.Fault, or None."""
    if value is None:
        return None
    if isinstance(value, str):
        if value.isdigit():
            value = {"action": "status", "status": int(value)}
        elif value in ("hang", "reset"):
            value = {"action": value}
        else:
            raise TenantSpecError("a tenant's fault is a status code, 'hang', 'reset' or a "
                                  "fault object, not %r" % value)
    if not isinstance(value, dict):
        raise TenantSpecError("a tenant's fault is a status code, 'hang', 'reset' or a "
                              "fault object")
    spec = dict(value)
    spec.setdefault("match", {"kind": "graph"})
    if "after" in spec or "times" in spec:
        raise TenantSpecError("a tenant's fault holds for good: no 'after' or 'times'")
    try:
        return faults.Fault(0, spec)
    except faults.FaultSpecError as e:
        raise TenantSpecError(str(e)) from None


def parse_option(text):
    """`--tenant ID[:key=value,...]` -> a spec dict for Registry.add()."""
    tenant_id, _, rest = text.partition(":")
    spec = {"id": tenant_id, "counts": {}}
    for item in rest.split(",") if rest else ():
        key, sep, value = item.partition("=")
        key = key.strip().replace("_", "-")
        if not sep:
            raise TenantSpecError("expected key=value in --tenant, not %r" % item)
        if key in COUNT_KEYS:
            if not value.isdigit():
                raise TenantSpecError("--tenant %s: %s must be a count" % (tenant_id, key))
            spec["counts"][key] = int(value)
        elif key in APP_KEYS:
            spec.setdefault("secrets", {})[APP_KEYS[key].client_id] = value
        elif key in OTHER_KEYS:
            spec[key] = value
        else:
            raise TenantSpecError("--tenant %s: unknown key %r (known: %s)" % (
                tenant_id, key, ", ".join(list(COUNT_KEYS) + list(OTHER_KEYS))))
    return spec


class Site:
    """One tenant: its data and services, secrets and fault."""

    def __init__(self, data, graph_service, secrets=None, fault=None, seed=None):
        self.tenant_id = data.tenant_id
        self.domain = data.domain
        self.data = data
        self.graph = graph_service
        self.changes = changes.ChangeWriter(graph_service)
        self.seed = seed
        self.secrets = dict(secrets or {})
        self.fault = fault
        # what reset() goes back to
        self.initial = (dict(self.secrets), fault)

    def secret(self, app):
        """The secret this tenant registered for `app`."""
        return self.secrets.get(app.client_id, app.client_secret)

    def describe(self, primary):
        return {"id": self.tenant_id, "domain": self.domain, "primary": primary,
                "seed": self.seed,
                "counts": {key: len(self.data.collection(name))
                           for key, name in COUNT_KEYS.items()},
                "fault": self.fault.describe() if self.fault else None,
                "custom_secrets": sorted(identity.APPS_BY_CLIENT_ID[c].name
                                         for c in self.secrets)}


class Registry:
    """Every tenant of the emulator, by id and by domain."""

    def __init__(self, server, hunting_rows=2000):
        self.server = server
        self.hunting_rows = hunting_rows
        self._lock = threading.Lock()
        self.sites = OrderedDict()
        primary = Site(server.tenant, server.graph, seed=server.tenant.seed)
        self.primary = primary
        self.sites[primary.tenant_id] = primary
        server.limiter.tenant_users = self.users_count

    # --- registration ----------------------------------------------------------------------
    def add(self, spec):
        """Generate and register a tenant from a spec (parse_option(), or the
        control API's JSON); return its Site."""
        if not isinstance(spec, dict):
            raise TenantSpecError("a tenant is a JSON object")
        unknown = set(spec) - {"id", "counts", "seed", "domain", "fault", "secrets"}
        if unknown:
            raise TenantSpecError("unknown tenant field(s): %s" % ", ".join(sorted(unknown)))
        tenant_id = spec.get("id")
        if not isinstance(tenant_id, str) or not GUID.match(tenant_id):
            raise TenantSpecError("a tenant id is a lower-case GUID, not %r" % (tenant_id,))
        domain = spec.get("domain") or "tenant-%s.onmicrosoft.com" % tenant_id[:8]
        if not isinstance(domain, str) or not re.match(r"\A[a-z0-9-]+(\.[a-z0-9-]+)+\Z",
                                                       domain):
            raise TenantSpecError("%r is not a domain name" % (domain,))
        counts = dict(self.primary.data.counts)
        given = spec.get("counts") or {}
        if not isinstance(given, dict):
            raise TenantSpecError("'counts' is an object of counts")
        for key, value in given.items():
            key = key.replace("_", "-")
            if key not in COUNT_KEYS or not isinstance(value, int) or value < 0:
                raise TenantSpecError("bad count %r=%r (known: %s)" % (
                    key, value, ", ".join(COUNT_KEYS)))
            counts[COUNT_KEYS[key]] = value
        secrets = spec.get("secrets") or {}
        if not isinstance(secrets, dict) or not all(
                c in identity.APPS_BY_CLIENT_ID and isinstance(v, str) and v
                for c, v in secrets.items()):
            raise TenantSpecError("'secrets' maps registered client ids to secrets")
        fault = fault_spec(spec.get("fault"))
        seed = str(spec.get("seed") or "%s/%s" % (self.primary.seed, tenant_id))
        with self._lock:
            if self.resolve(tenant_id) is not None or self.resolve(domain) is not None:
                raise TenantSpecError("tenant %s (%s) exists already" % (tenant_id, domain))
            data = tenant_module.Tenant(seed, self.primary.data.now, counts,
                                        tenant_id=tenant_id, domain=domain)
            service = graph.GraphService(data, self.server.tokens, self.server.clock,
                                         page_cache_bytes=EXTRA_PAGE_CACHE_BYTES,
                                         hunting_rows=self.hunting_rows)
            site = Site(data, service, secrets, fault, seed)
            self.sites[tenant_id] = site
        return site

    def update(self, tenant_id, spec):
        """Change a tenant's fault and secrets (control API)."""
        site = self.site(tenant_id)
        if not isinstance(spec, dict) or set(spec) - {"fault", "secrets"}:
            raise TenantSpecError("give 'fault' and/or 'secrets'")
        if "fault" in spec:
            site.fault = fault_spec(spec["fault"])
        if "secrets" in spec:
            secrets = spec["secrets"] or {}
            if not isinstance(secrets, dict) or not all(
                    c in identity.APPS_BY_CLIENT_ID and (v is None or isinstance(v, str))
                    for c, v in secrets.items()):
                raise TenantSpecError("'secrets' maps registered client ids to secrets "
                                      "(null: the app's usual one)")
            for client_id, secret in secrets.items():
                if secret is None:
                    site.secrets.pop(client_id, None)
                else:
                    site.secrets[client_id] = secret
        return site.describe(site is self.primary)

    def reset(self):
        """Every tenant's fault and secrets as the command line set them."""
        for site in self.sites.values():
            site.secrets, site.fault = dict(site.initial[0]), site.initial[1]

    # --- lookups ---------------------------------------------------------------------------
    def resolve(self, name):
        """The Site a token path's tenant segment names (id or domain)."""
        if not name:
            return None
        name = name.lower()
        site = self.sites.get(name)
        if site is not None:
            return site
        for site in self.sites.values():
            if site.domain == name:
                return site
        return None

    def site(self, tenant_id):
        """The Site of a control call's "tenant" (default: the registered one)."""
        if tenant_id is None:
            return self.primary
        site = self.resolve(tenant_id) if isinstance(tenant_id, str) else None
        if site is None:
            raise LookupError("no tenant %r (known: %s)" % (tenant_id, ", ".join(self.sites)))
        return site

    def token_site(self, authorization):
        """The Site of a bearer token's tenant, or None."""
        auth = authorization or ""
        if auth[:7].lower() != "bearer " or not auth[7:].strip():
            return None
        token, _ = self.server.tokens.check(auth[7:].strip())
        return None if token is None else self.sites.get(token.tenant_id)

    def graph_for(self, req):
        """The GraphService that answers a Graph request: its token's tenant's
        (the registered tenant's, which then refuses it, without one)."""
        site = self.token_site(req.authorization)
        return (site or self.primary).graph

    def fault_for(self, entry, kind, method, path, raw_query, headers):
        """The tenant of a token or Graph request, noted in its log entry;
        returns that tenant's fault if it takes the request."""
        if kind == "token":
            m = TOKEN_PATH.match(path)
            site = self.resolve(m.group(1)) if m else None
        elif kind == "graph":
            site = self.token_site(headers.get("Authorization"))
        else:
            site = self.primary
        self.server.requests.annotate(entry, tenant=site.tenant_id if site else None)
        if site is not None and site.fault is not None and site.fault.fits(
                kind, method, path, raw_query):
            return site.fault
        return None

    def users_count(self, tenant_id):
        """Users of a tenant (its directory throttling limit depends on it)."""
        site = self.sites.get(tenant_id)
        return len(site.data.collection(schema.USERS.name)) if site else 0

    def listing(self):
        return [site.describe(site is self.primary) for site in self.sites.values()]

    def warm_up(self, stop):
        """Pre-serialize the other tenants' collections (after the primary's)."""
        for site in list(self.sites.values()):
            if site is not self.primary and not stop.is_set():
                site.graph.warm_up(stop)

