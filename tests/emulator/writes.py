"""Writes: PATCH of alerts and incidents, comments, the riskyUser actions.

graph-api.md sections 5 and 1.5 say what Graph accepts; where it is silent
the emulator takes the strict choice (section 9.10), so that a client that
sends more than the documented properties finds out here:

* PATCH security/alerts_v2/{id} and security/incidents/{id} accept only the
  resource's `updatable` properties (schema.py), with values of their type:
  enum members by name (not the sentinel; evolvable ones only under the
  Prefer header, as in a $filter), strings, string collections, null where
  the CSDL allows it.  Anything else is a 400 and changes nothing.  Success
  sets lastUpdateDateTime (and resolvedDateTime on alerts, lastModifiedBy on
  incidents) and answers 200 with the whole entity.
* POST .../{id}/comments takes {"@odata.type", "comment"} and answers 200
  with the entity's whole comment list, the new comment last.
* POST identityProtection/riskyUsers/dismiss and /confirmCompromised take
  {"userIds": [...]}, change the risk state of the users among them that
  are risky users (others are ignored) and answer 204.

Generated documents are shared and never mutated: a write builds a new
dict and puts it in place (tenant.Collection.replace); the original stays
in `_originals` until restore() (POST /_emulator/restore) puts every
generated document back.  Writes are serialized by one lock; readers take
no lock (see Collection and EntityRenderer for how they stay consistent).
"""

import json
import threading

import schema
import timestamps as ts

COMMENT_TYPE = "microsoft.graph.security.alertComment"

#: riskyUser action -> the state it leaves a user in
RISKY_USER_ACTIONS = {
    "dismiss": {"riskState": "dismissed", "riskDetail": "adminDismissedAllRiskForUser",
                "riskLevel": "none"},
    "confirmCompromised": {"riskState": "confirmedCompromised",
                           "riskDetail": "adminConfirmedUserCompromised",
                           "riskLevel": "high"},
}


class WriteError(Exception):
    """A refused write: HTTP status, Graph error code, message."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def bad_request(message):
    return WriteError(400, "BadRequest", message)


def parse_json_body(body, content_type):
    """The JSON object of a write's body, or raise the 400 / 415."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media != "application/json":
        raise WriteError(415, "UnsupportedMediaType",
                         "The request's Content-Type must be application/json.")
    try:
        obj = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise bad_request("The request body is not valid JSON: %s" % e) from None
    if not isinstance(obj, dict):
        raise bad_request("The request body must be a JSON object.")
    return obj


def actor_name(app):
    """How Defender records a change made by an application."""
    return "API-App:%s" % app.client_id


class TenantWriter:
    """Applies writes to the tenant's collections and can undo them all.

    `on_change(resource, indices)` is called (under the write lock) after
    documents were replaced, for the caches to forget them.
    """

    def __init__(self, tenant, clock, on_change, on_resize=None):
        self.tenant = tenant
        self.clock = clock
        self.on_change = on_change
        # on_resize(resource, length): a collection grows (before) or was cut
        # back (after); changes.py appends, restore() cuts back
        self.on_resize = on_resize
        self._lock = threading.Lock()
        self._originals = {}            # collection name -> {index: generated doc}
        self._generated = {name: len(c) for name, c in tenant.collections.items()}
        self.restored = []              # callbacks of restore(): delta tokens expire

    def _now(self):
        return ts.format_ticks(self.clock.now_ticks(), 7)

    def _replace(self, resource, i, doc, changed):
        collection = self.tenant.collection(resource.name)
        self._originals.setdefault(resource.name, {}).setdefault(i, collection.docs[i])
        collection.replace(i, doc, changed)

    def _index(self, resource, entity_id):
        i = self.tenant.collection(resource.name).index.get(entity_id)
        if i is None:
            raise WriteError(404, "NotFound", "The %s with id '%s' was not found."
                             % (resource.entity_type.rsplit(".", 1)[1], entity_id))
        return i

    # --- PATCH ---------------------------------------------------------------------------
    def patch(self, resource, entity_id, changes, prefer, app):
        """Apply a PATCH body (a dict); return the entity's index."""
        with self._lock:
            i = self._index(resource, entity_id)
            values = self._check_patch(resource, changes, prefer)
            collection = self.tenant.collection(resource.name)
            old = collection.docs[i]
            doc = dict(old)
            doc.update(values)
            now = self._now()
            doc["lastUpdateDateTime"] = now
            if resource is schema.ALERTS and "status" in values:
                if values["status"] == "resolved" and old.get("status") != "resolved":
                    doc["resolvedDateTime"] = now
                elif values["status"] != "resolved":
                    doc["resolvedDateTime"] = None
            if resource is schema.INCIDENTS:
                doc["lastModifiedBy"] = actor_name(app)
            changed = set(values) | {"lastUpdateDateTime", "resolvedDateTime",
                                     "lastModifiedBy"}
            self._replace(resource, i, doc, changed)
            self.on_change(resource, (i,))
            return i

    def _check_patch(self, resource, changes, prefer):
        """The property values of a PATCH body, checked; raise the 400."""
        values = {}
        for name, value in changes.items():
            if name == "@odata.type":
                if value not in (resource.entity_type, "#" + resource.entity_type):
                    raise bad_request("The @odata.type '%s' does not match the entity "
                                      "type '%s'." % (value, resource.entity_type))
                continue
            prop = resource.property(name)
            if prop is None:
                raise bad_request(
                    "The property '%s' does not exist on type '%s'. Make sure to only "
                    "use property names that are defined by the type."
                    % (name, resource.entity_type))
            if name not in resource.updatable:
                raise bad_request("The property '%s' of type '%s' cannot be updated."
                                  % (name, resource.entity_type))
            values[name] = _check_value(prop, value, prefer)
        return values

    # --- comments --------------------------------------------------------------------------
    def add_comment(self, resource, entity_id, body, app):
        """Append a comment; return the entity's whole comment list."""
        with self._lock:
            i = self._index(resource, entity_id)
            unknown = set(body) - {"@odata.type", "comment"}
            if unknown:
                raise bad_request("The property '%s' does not exist on type '%s'."
                                  % (sorted(unknown)[0], COMMENT_TYPE))
            if body.get("@odata.type", COMMENT_TYPE) not in (COMMENT_TYPE, "#" + COMMENT_TYPE):
                raise bad_request("The @odata.type '%s' is not '%s'."
                                  % (body["@odata.type"], COMMENT_TYPE))
            text = body.get("comment")
            if not isinstance(text, str) or not text.strip():
                raise bad_request("The comment must be a non-empty string.")
            collection = self.tenant.collection(resource.name)
            doc = dict(collection.docs[i])
            now = self._now()
            comments = list(doc.get("comments") or ())
            comments.append({"comment": text, "createdByDisplayName": actor_name(app),
                             "createdDateTime": now})
            doc["comments"] = comments
            doc["lastUpdateDateTime"] = now
            self._replace(resource, i, doc, {"comments", "lastUpdateDateTime"})
            self.on_change(resource, (i,))
            return comments

    # --- riskyUser actions -------------------------------------------------------------------
    def risky_user_action(self, action, body):
        """dismiss / confirmCompromised; return how many users changed."""
        user_ids = body.get("userIds")
        if set(body) - {"userIds"}:
            raise bad_request("The parameter '%s' in the request payload is not a valid "
                              "parameter for the operation '%s'."
                              % (sorted(set(body) - {"userIds"})[0], action))
        if (not isinstance(user_ids, list) or not user_ids
                or not all(isinstance(u, str) and u for u in user_ids)):
            raise bad_request("The parameter 'userIds' must be a non-empty array of "
                              "user ids.")
        resource = schema.RISKY_USERS
        collection = self.tenant.collection(resource.name)
        state = RISKY_USER_ACTIONS[action]
        with self._lock:
            changed = []
            now = self._now()
            for user_id in dict.fromkeys(user_ids):
                i = collection.index.get(user_id)
                if i is None:
                    continue
                doc = dict(collection.docs[i])
                doc.update(state)
                doc["riskLastUpdatedDateTime"] = now
                self._replace(resource, i, doc, set(state) | {"riskLastUpdatedDateTime"})
                changed.append(i)
            if changed:
                self.on_change(resource, tuple(changed))
            return len(changed)

    # --- restore ----------------------------------------------------------------------------
    def restore(self):
        """Put every generated document back; return how many were changed
        (control changes included: created entities are dropped, deleted ones
        come back, the delta history is forgotten)."""
        with self._lock:
            restored = 0
            for name, originals in self._originals.items():
                resource = schema.RESOURCES_BY_NAME[name]
                collection = self.tenant.collection(name)
                for i, doc in originals.items():
                    collection.replace(i, doc, None)
                restored += len(originals)
                self.on_change(resource, tuple(originals))
            self._originals.clear()
            for name, length in self._generated.items():
                collection = self.tenant.collection(name)
                if len(collection) == length and not collection.deleted \
                        and not collection.changes:
                    continue
                restored += len(collection) - length + len(collection.deleted)
                collection.truncate(length)
                resource = schema.RESOURCES_BY_NAME[name]
                if self.on_resize is not None:
                    self.on_resize(resource, length)
                self.on_change(resource, ())
                if name == schema.ALERTS.name:
                    self.tenant.incident_alerts = self.tenant.link_incident_alerts()
            for callback in self.restored:
                callback()
            return restored


def _check_value(prop, value, prefer):
    """A PATCH value of one property, checked against its OData type."""
    if value is None:
        if not prop.nullable:
            raise bad_request("The property '%s' cannot be null." % prop.name)
        return None
    enum = prop.enum
    if enum is not None:
        if (not isinstance(value, str) or value not in enum or value == enum.sentinel
                or (value in enum.evolvable and not prefer)):
            raise bad_request("Cannot convert the literal '%s' to the expected type '%s'."
                              % (value, enum.name))
        return value
    if prop.type == schema.STRING:
        if not isinstance(value, str):
            raise bad_request("The property '%s' expects a value of type 'Edm.String'."
                              % prop.name)
        return value
    if prop.type == schema.STRING_COLLECTION:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad_request("The property '%s' expects a collection of 'Edm.String'."
                              % prop.name)
        return list(value)
    raise bad_request("The property '%s' cannot be updated." % prop.name)
