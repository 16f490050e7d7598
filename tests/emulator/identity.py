"""The identity platform: registered apps, the token endpoint, issued tokens.

Only the client-credentials grant exists (POST /{tenant}/oauth2/v2.0/token,
form-encoded), with the client secret in the form or in HTTP Basic
(RFC 6749 section 2.3.1).  Errors have the identity platform's shape
(graph-api.md 7.3): error, error_description starting with "AADSTSnnnn:",
error_codes, timestamp, trace_id, correlation_id, error_uri.

Tokens are random opaque strings remembered with their app, roles, tenant,
scope and expiry; Graph requests are authorized against that record.  A
client_assertion (certificate, JWT) is checked by assertion.py against the
certificates registered for the app.
"""

import base64
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from urllib.parse import unquote_plus

import assertion as assertion_module
import schema
import tenant

GRAPH_SCOPES = (
    "https://graph.microsoft.com/.default",
    "https://graph.microsoft.us/.default",
    "https://dod-graph.microsoft.us/.default",
    "https://microsoftgraph.chinacloudapi.cn/.default",
)
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True)
class App:
    """A registered application (client) and the app roles it was granted."""
    name: str
    client_id: str
    client_secret: str
    roles: tuple


APPS = (
    App("admin", "aaaaaaaa-bbbb-4ccc-8ddd-000000000001", "emu-Secret.Admin~1",
        schema.ALL_PERMISSIONS),
    App("reader", "aaaaaaaa-bbbb-4ccc-8ddd-000000000002", "emu-Secret.Reader~2",
        ("SecurityAlert.Read.All",)),
)
APPS_BY_CLIENT_ID = {app.client_id: app for app in APPS}
ADMIN = APPS[0]
TENANT_NAMES = (tenant.TENANT_ID, tenant.TENANT_DOMAIN)


@dataclass(frozen=True)
class Token:
    """What an issued access token stands for."""
    app: App
    tenant_id: str
    scope: str
    expires_at: float           # time.monotonic() deadline

    @property
    def roles(self):
        return self.app.roles


class TokenStore:
    """Issued tokens.  revoke_all() makes every token issued so far invalid."""

    def __init__(self):
        self._tokens = {}
        self._revoked = set()
        self._lock = threading.Lock()

    def issue(self, app, scope, lifetime, tenant_id=None):
        value = secrets.token_urlsafe(48)
        token = Token(app, tenant_id or tenant.TENANT_ID, scope, time.monotonic() + lifetime)
        with self._lock:
            self._tokens[value] = token
        return value

    def check(self, value):
        """(Token, None) when valid, else (None, reason for the 401 message)."""
        with self._lock:
            token = self._tokens.get(value)
            revoked = value in self._revoked
        if token is None:
            if revoked:
                return None, "Access token validation failure: the token has been revoked."
            return None, "Access token validation failure: the token was not issued here."
        if time.monotonic() >= token.expires_at:
            return None, "Lifetime validation failed, the token is expired."
        return token, None

    def revoke_all(self):
        with self._lock:
            self._revoked.update(self._tokens)
            self._tokens.clear()


# --- the token endpoint ----------------------------------------------------------------------

class TokenError(Exception):
    """A refused token request: HTTP status, OAuth error, AADSTS number, text."""

    def __init__(self, status, error, aadsts, text):
        super().__init__(text)
        self.status = status
        self.error = error
        self.aadsts = aadsts
        self.text = text

    def body(self, clock):
        trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
        stamp = clock.login_timestamp()
        return {
            "error": self.error,
            "error_description": "AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s"
                                 "\r\nTimestamp: %s" % (self.aadsts, self.text, trace_id,
                                                        correlation_id, stamp),
            "error_codes": [self.aadsts],
            "timestamp": stamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": "https://login.microsoftonline.com/error?code=%d" % self.aadsts,
        }


def _missing(name):
    return TokenError(400, "invalid_request", 900144,
                      "The request body must contain the following parameter: '%s'." % name)


def basic_credentials(authorization):
    """(client_id, secret) from an HTTP Basic header, or (None, None).

    RFC 6749 2.3.1: both parts are form-urlencoded before base64.
    """
    if not authorization or not authorization[:6].lower() == "basic ":
        return None, None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise TokenError(401, "invalid_client", 7000215,
                         "Invalid client secret provided. The Basic authorization "
                         "header could not be decoded.") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return None, None
    return unquote_plus(client_id), unquote_plus(secret)


def issue_token(store, tenant_segment, form, authorization, lifetime,
                certificates=None, audience=None, tenants=None):
    """Run the client-credentials grant; return the success body.

    `form` maps field names to values (first occurrence wins).  Raises
    TokenError in the order the identity platform checks: tenant, grant,
    client, scope, credential.  A client assertion is checked against
    `certificates` (an assertion.CertificateRegistry) and must be addressed
    to `audience`, the URL of this token endpoint.  `tenants`
    (tenants.Registry) knows the emulator's tenants by id and domain, and
    each tenant's secrets of the registered apps; without it only the
    registered tenant exists.
    """
    if tenants is not None:
        site = tenants.resolve(tenant_segment)
        known = site is not None
    else:
        site, known = None, tenant_segment in TENANT_NAMES
    if not known:
        raise TokenError(400, "invalid_request", 90002,
                         "Tenant '%s' not found. Check to make sure you have the correct "
                         "tenant ID and are signing into the correct cloud."
                         % tenant_segment)
    grant_type = form.get("grant_type")
    if not grant_type:
        raise _missing("grant_type")
    if grant_type != "client_credentials":
        raise TokenError(400, "unsupported_grant_type", 70003,
                         "The app requested an unsupported grant type '%s'." % grant_type)
    basic_id, basic_secret = basic_credentials(authorization)
    client_id = form.get("client_id") or basic_id
    if not client_id:
        raise _missing("client_id")
    app = APPS_BY_CLIENT_ID.get(client_id)
    if app is None:
        raise TokenError(400, "unauthorized_client", 700016,
                         "Application with identifier '%s' was not found in the directory "
                         "'%s'. This can happen if the application has not been installed "
                         "by the administrator of the tenant." % (client_id, tenant_segment))
    scope = form.get("scope")
    if not scope:
        raise _missing("scope")
    if scope not in GRAPH_SCOPES:
        raise TokenError(400, "invalid_scope", 70011,
                         "The provided value for the input parameter 'scope' is not valid. "
                         "The scope %s is not valid." % scope)
    authenticate_client(app, form, basic_secret, certificates, audience,
                        site.secret(app) if site is not None else app.client_secret)
    access_token = store.issue(app, scope, lifetime,
                               site.tenant_id if site is not None else None)
    return {"token_type": "Bearer", "expires_in": lifetime,
            "ext_expires_in": lifetime, "access_token": access_token}


def authenticate_client(app, form, basic_secret, certificates=None, audience=None,
                        expected_secret=None):
    """Check the client's credential: a secret (the app's, or the one its
    tenant registered: `expected_secret`), or a JWT client assertion."""
    if expected_secret is None:
        expected_secret = app.client_secret
    assertion = form.get("client_assertion")
    secret = form.get("client_secret")
    if secret is None:
        secret = basic_secret
    if assertion is not None:
        if secret is not None:
            raise TokenError(400, "invalid_request", 50027,
                             "Only one client credential may be sent: client_secret or "
                             "client_assertion.")
        verify_client_assertion(app, form.get("client_assertion_type"), assertion,
                                certificates, audience)
        return
    if secret is None:
        raise TokenError(401, "invalid_client", 7000218,
                         "The request body must contain the following parameter: "
                         "'client_assertion' or 'client_secret'.")
    if not secrets.compare_digest(secret.encode(), expected_secret.encode()):
        raise TokenError(401, "invalid_client", 7000215,
                         "Invalid client secret provided. Ensure the secret being sent in "
                         "the request is the client secret value, not the client secret "
                         "ID, for a secret added to app '%s'." % app.client_id)


def verify_client_assertion(app, assertion_type, assertion, certificates, audience):
    """Check a private_key_jwt client assertion (graph-api.md 7.2).

    The checks themselves are assertion.CertificateRegistry.verify()'s; an
    app without any registered certificate refuses every assertion the way
    Entra refuses one signed by an unknown key.
    """
    if assertion_type != JWT_BEARER:
        raise TokenError(400, "invalid_request", 50027,
                         "Invalid client_assertion_type: expected '%s'." % JWT_BEARER)
    if certificates is None:
        raise TokenError(401, "invalid_client", 700027,
                         "Client assertion failed signature validation: no certificate is "
                         "registered for app '%s' in this emulator." % app.client_id)
    try:
        certificates.verify(app.client_id, assertion, audience)
    except assertion_module.Refused as e:
        raise TokenError(e.status, e.error, e.aadsts, e.text) from None
