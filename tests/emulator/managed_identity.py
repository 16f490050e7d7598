"""The managed identity token endpoint of the Azure instance metadata service
(graph-api.md 7.5): GET /metadata/identity/oauth2/token.

    GET /metadata/identity/oauth2/token?api-version=2018-02-01
        &resource=https://graph.microsoft.com/[&client_id=...|object_id=...|msi_res_id=...]
    Metadata: true

The emulated host has a system-assigned identity (used when the request
names none) and one user-assigned identity, picked by its client_id,
object_id or msi_res_id.  Their tokens live in the same TokenStore as the
identity platform's, so Graph authorizes them by their app roles.

As IMDS does: the Metadata header must be exactly "true" (else 400
bad_request_102), a request carrying X-Forwarded-For (that is, one that
came through a proxy) is refused, the resource must be a Graph host (with
or without the trailing slash), and the success body has every number as a
string ("expires_in": "3599").  Errors are {"error", "error_description"}.
"""

import time
from dataclasses import dataclass
from urllib.parse import unquote_plus

import identity
import tenant
import schema

PATH = "/metadata/identity/oauth2/token"
API_VERSIONS = ("2018-02-01", "2019-03-11", "2019-08-01", "2019-11-01", "2020-06-01",
                "2021-02-01")
# resource -> the scope its tokens are for (and the request log's "scope")
GRAPH_HOSTS = tuple(scope[:-len("/.default")] for scope in identity.GRAPH_SCOPES)
SELECTORS = ("client_id", "object_id", "msi_res_id")


@dataclass(frozen=True)
class Identity:
    """A managed identity of the emulated host."""
    name: str
    client_id: str
    object_id: str
    msi_res_id: str             # None for the system-assigned identity
    roles: tuple

    def app(self):
        return identity.App(self.name, self.client_id, None, self.roles)


SYSTEM_ASSIGNED = Identity(
    "system-assigned", "aaaaaaaa-bbbb-4ccc-8ddd-0000000000a0",
    "bbbbbbbb-cccc-4ddd-8eee-0000000000a0", None,
    tuple(r for r in schema.ALL_PERMISSIONS if r.endswith(".Read.All")))
USER_ASSIGNED = (
    Identity("emu-scores-reader", "aaaaaaaa-bbbb-4ccc-8ddd-0000000000a1",
             "bbbbbbbb-cccc-4ddd-8eee-0000000000a1",
             "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/emulator"
             "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/emu-scores-reader",
             ("SecurityEvents.Read.All", "SecurityAlert.Read.All")),
)


class ImdsError(Exception):
    """A refused request: HTTP status, error code, description."""

    def __init__(self, status, error, description):
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def body(self):
        return {"error": self.error, "error_description": self.description}


def parse_query(raw_query):
    """Decoded query parameters; a repeated one is a 400."""
    params = {}
    for piece in raw_query.split("&") if raw_query else ():
        if not piece:
            continue
        name, _, value = piece.partition("=")
        name, value = unquote_plus(name), unquote_plus(value)
        if name in params:
            raise ImdsError(400, "invalid_request",
                            "Query parameter '%s' was given more than once." % name)
        params[name] = value
    return params


def scope_of(resource):
    """The .default scope a resource stands for, or None."""
    host = resource[:-1] if resource.endswith("/") else resource
    return host + "/.default" if host in GRAPH_HOSTS else None


def pick_identity(params):
    given = [(name, params[name]) for name in SELECTORS if name in params]
    if not given:
        return SYSTEM_ASSIGNED
    if len(given) > 1:
        raise ImdsError(400, "invalid_request",
                        "Only one of client_id, object_id and msi_res_id may be given.")
    name, value = given[0]
    for candidate in USER_ASSIGNED:
        if getattr(candidate, name).lower() == value.lower():
            return candidate
    raise ImdsError(400, "invalid_request", "Identity not found")


def issue_token(store, method, raw_query, headers, lifetime):
    """Serve one request; returns the success body or raises ImdsError.

    `headers` is the request's header mapping (case-insensitive get).
    """
    if method != "GET":
        raise ImdsError(405, "invalid_request",
                        "The managed identity endpoint only accepts GET.")
    if headers.get("Metadata") != "true":
        raise ImdsError(400, "bad_request_102", "Required metadata header not specified")
    if headers.get("X-Forwarded-For") is not None:
        raise ImdsError(400, "invalid_request",
                        "Requests with an X-Forwarded-For header are refused: the "
                        "endpoint is not reached through a proxy.")
    params = parse_query(raw_query)
    version = params.get("api-version")
    if version is None:
        raise ImdsError(400, "invalid_request",
                        "Required query variable 'api-version' is missing")
    if version not in API_VERSIONS:
        raise ImdsError(400, "invalid_request", "Invalid api-version '%s'" % version)
    resource = params.get("resource")
    if not resource:
        raise ImdsError(400, "invalid_request", "Required query variable 'resource' is missing")
    scope = scope_of(resource)
    if scope is None:
        raise ImdsError(400, "invalid_resource",
                        "AADSTS500011: The resource principal named %s was not found in the "
                        "tenant named %s. This can happen if the application has not been "
                        "installed by the administrator of the tenant."
                        % (resource, tenant.TENANT_ID))
    who = pick_identity(params)
    token = store.issue(who.app(), scope, lifetime)
    now = int(time.time())
    return {"access_token": token, "client_id": who.client_id,
            "expires_in": str(lifetime), "expires_on": str(now + lifetime),
            "ext_expires_in": str(lifetime), "not_before": str(now), "refresh_token": "",
            "resource": resource, "token_type": "Bearer"}
