"""Control changes: what the tenant's own life does to its data between two
reads of a client (the control API's /_emulator/changes/...).

Graph's clients see alerts and incidents change (status, assignment,
classification, comments), new alerts arrive (some late: visible only now
although their timestamps are minutes old), and directory objects come,
change and go (which the delta query reports).  Tests of incremental
mirrors make those happen here, one by one or at random from a seed.

Every change goes through writes.TenantWriter (its lock, its record of the
generated documents, so that POST /_emulator/restore undoes these too) and
its on_change hook (the caches forget what changed).  Changes of directory
objects are recorded in the collection's history for delta.py.  Times come
from the emulated clock (timestamps.Clock); `age_seconds` puts a change
that far in its past.  None of this is Graph traffic: no auth, no request
log.
"""

import random

import directory_data
import schema
import tenant as tenant_module
import timestamps as ts

ALERTS, INCIDENTS = schema.ALERTS, schema.INCIDENTS
DELTA_RESOURCES = tuple(r for r in schema.DIRECTORY_RESOURCES if r.directory.delta)
ANALYST = "soc1@contoso.com"


class ChangeError(ValueError):
    """A change the control API refuses: (HTTP status, message)."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


def _resource(spec):
    name = spec.get("collection")
    resource = schema.RESOURCES_BY_NAME.get(name)
    if resource is None:
        raise ChangeError("unknown collection %r (known: %s)" % (
            name, ", ".join(r.name for r in schema.RESOURCES)))
    return resource


def _int(spec, name, default, minimum=0):
    value = spec.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ChangeError("'%s' must be an integer >= %d" % (name, minimum))
    return value


def _number(spec, name, default):
    value = spec.get(name, default)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise ChangeError("'%s' must be a number >= 0" % name)
    return value


class ChangeWriter:
    """Control changes of one tenant (a GraphService's data)."""

    def __init__(self, graph):
        self.graph = graph
        self.tenant = graph.tenant
        self.writer = graph.writer
        self.clock = graph.clock
        self._made = 0                      # seeds of generated entities
        # single-GET details as generated, for restore (the writer keeps the
        # documents): collection name -> {index: details}
        self._details = {}
        self.writer.restored.append(self._restore_details)

    # --- helpers -------------------------------------------------------------------------
    def stamp(self, age_seconds=0):
        return ts.format_ticks(self.clock.now_ticks() - int(age_seconds * ts.TICKS_PER_SECOND),
                               7)

    def index(self, resource, entity_id):
        i = self.tenant.collection(resource.name).index.get(entity_id)
        if i is None:
            raise ChangeError("no %s with id %r" % (resource.name, entity_id), 404)
        return i

    def replace(self, resource, i, doc, changed):
        self.writer._replace(resource, i, doc, changed)
        self.writer.on_change(resource, (i,))

    def rng(self, seed):
        self._made += 1
        return tenant_module.Rng("%s/changes/%s/%d" % (self.tenant.seed, seed, self._made))

    # --- update ----------------------------------------------------------------------------
    def update(self, spec):
        """{"collection", "id", "set": {...}, "age_seconds", "by"}: set properties.

        Alerts and incidents get lastUpdateDateTime = now - age_seconds
        (unless `set` gives it); an alert's status resolved sets
        resolvedDateTime; an incident's lastModifiedBy becomes `by`.  A
        directory object's change is recorded for the delta query.
        """
        resource = _resource(spec)
        values = spec.get("set")
        if not isinstance(values, dict) or not values:
            raise ChangeError("'set' must be a non-empty object of properties")
        age = _number(spec, "age_seconds", 0)
        by = spec.get("by", ANALYST)
        with self.writer._lock:
            i = self.index(resource, spec.get("id"))
            checked = self.check_values(resource, values)
            return self._update(resource, i, checked, age, by)

    def check_values(self, resource, values):
        """Property values of a control update, checked against the schema."""
        details = ()
        if resource.directory is not None:
            details = {p.name: p for p in resource.directory.single_only}
        out = {}
        for name, value in values.items():
            prop = resource.property(name) or (details.get(name) if details else None)
            if prop is None or name == "id":
                raise ChangeError("property %r cannot be set on %s" % (name, resource.name))
            out[name] = check_value(prop, value)
        return out

    def _update(self, resource, i, values, age, by):
        collection = self.tenant.collection(resource.name)
        old = collection.docs[i]
        doc = dict(old)
        detail_values = {}
        if collection.details is not None:
            # what only a single GET with $select shows lives beside the document
            rules = resource.directory
            hidden = set(rules.list_defaults or ()) | {p.name for p in rules.single_only}
            detail_values = {k: v for k, v in values.items() if k in hidden}
            values = {k: v for k, v in values.items() if k not in hidden}
        doc.update(values)
        changed = set(values) | set(detail_values)
        if resource in (ALERTS, INCIDENTS):
            now = self.stamp(age)
            if "lastUpdateDateTime" not in values:
                doc["lastUpdateDateTime"] = now
            changed.add("lastUpdateDateTime")
            if resource is ALERTS and "status" in values and "resolvedDateTime" not in values:
                doc["resolvedDateTime"] = (now if values["status"] == "resolved" else None)
                changed.add("resolvedDateTime")
            if resource is INCIDENTS:
                doc["lastModifiedBy"] = by
                changed.add("lastModifiedBy")
        if detail_values:
            self._details.setdefault(resource.name, {}).setdefault(i, collection.details[i])
            collection.details[i] = dict(collection.details[i], **detail_values)
        self.replace(resource, i, doc, changed)
        if resource in DELTA_RESOURCES:
            collection.record(i, "update", changed)
        return {"collection": resource.name, "id": doc["id"], "changed": sorted(changed)}

    def _restore_details(self):
        """Called by the writer's restore(), after the documents are back."""
        for name, originals in self._details.items():
            details = self.tenant.collection(name).details
            for i, detail in originals.items():
                if i < len(details):
                    details[i] = detail
        self._details.clear()

    # --- comments --------------------------------------------------------------------------
    def comment(self, spec):
        """{"collection", "id", "comment", "by", "age_seconds"}: add a comment."""
        resource = _resource(spec)
        if resource not in (ALERTS, INCIDENTS):
            raise ChangeError("comments exist on alerts and incidents only")
        text = spec.get("comment")
        if not isinstance(text, str) or not text:
            raise ChangeError("'comment' must be a non-empty string")
        age = _number(spec, "age_seconds", 0)
        with self.writer._lock:
            i = self.index(resource, spec.get("id"))
            return self._comment(resource, i, text, spec.get("by", ANALYST), age)

    def _comment(self, resource, i, text, by, age):
        collection = self.tenant.collection(resource.name)
        doc = dict(collection.docs[i])
        now = self.stamp(age)
        doc["comments"] = list(doc.get("comments") or ()) + [
            {"comment": text, "createdByDisplayName": by, "createdDateTime": now}]
        doc["lastUpdateDateTime"] = now
        self.replace(resource, i, doc, {"comments", "lastUpdateDateTime"})
        return {"collection": resource.name, "id": doc["id"],
                "comments": len(doc["comments"])}

    # --- creation ----------------------------------------------------------------------------
    def create(self, spec):
        """{"collection", "count", "set", "seed", ...}: new entities.

        Alerts also take `age_seconds` (their createdDateTime and
        lastUpdateDateTime are that old: a late-arriving alert) and
        `incident_id` (default: one at random); the incident's
        lastUpdateDateTime moves up to the alert's.
        """
        resource = _resource(spec)
        count = _int(spec, "count", 1, 1)
        values = spec.get("set", {})
        if not isinstance(values, dict):
            raise ChangeError("'set' must be an object of properties")
        with self.writer._lock:
            checked = self.check_values(resource, values) if values else {}
            if resource is ALERTS:
                ids = self._create_alerts(count, _number(spec, "age_seconds", 0),
                                          spec.get("incident_id"), checked,
                                          spec.get("seed", "create"))
            elif resource in DELTA_RESOURCES:
                ids = self._create_directory(resource, count, checked,
                                             spec.get("seed", "create"))
            else:
                raise ChangeError("entities of %s cannot be created" % resource.name)
        return {"collection": resource.name, "created": ids}

    def _append(self, resource, docs, details=None):
        collection = self.tenant.collection(resource.name)
        if self.writer.on_resize is not None:
            self.writer.on_resize(resource, len(collection) + len(docs))
        indices = collection.append(docs, details)
        self.writer.on_change(resource, tuple(indices))
        return indices

    def _create_alerts(self, count, age, incident_id, values, seed):
        incidents = self.tenant.collection(INCIDENTS.name)
        if incident_id is not None and incident_id not in incidents.index:
            raise ChangeError("no incident with id %r" % incident_id, 404)
        generator = self.tenant.alert_generator
        rng = self.rng(seed)
        saved = generator.rng
        generator.rng = rng
        try:
            docs = []
            for _ in range(count):
                at = self.clock.now_ticks() - int(age * ts.TICKS_PER_SECOND)
                if incident_id is not None:
                    incident = incidents.index[incident_id]
                elif len(incidents):
                    incident = rng.pick(incidents.order())
                else:
                    incident = None
                doc = generator.one(incident, None, False, at=at)
                doc["lastUpdateDateTime"] = doc["createdDateTime"]
                if doc["status"] == "resolved":
                    doc["resolvedDateTime"] = doc["createdDateTime"]
                doc.update(values)
                docs.append(doc)
        finally:
            generator.rng = saved
        self._append(ALERTS, docs)
        self._link_alerts(docs)
        return [d["id"] for d in docs]

    def _link_alerts(self, docs):
        """Put new alerts into their incidents' lists (default order) and
        move the incidents' lastUpdateDateTime up to theirs."""
        alerts = self.tenant.collection(ALERTS.name)
        incidents = self.tenant.collection(INCIDENTS.name)
        created, ids = alerts.column("createdDateTime"), alerts.column("id")
        touched = {}
        for doc in docs:
            if doc["incidentId"] is None:
                continue
            touched.setdefault(doc["incidentId"], []).append(doc)
        for incident_id, new in touched.items():
            members = self.tenant.incident_alerts.setdefault(incident_id, [])
            members = members + [alerts.index[d["id"]] for d in new]
            members.sort(key=lambda i: (created[i] is not None, created[i] or 0, ids[i]),
                         reverse=True)
            self.tenant.incident_alerts[incident_id] = members
            i = incidents.index[incident_id]
            latest = max(d["lastUpdateDateTime"] for d in new)
            if ts.parse(latest) > ts.parse(incidents.docs[i]["lastUpdateDateTime"]):
                doc = dict(incidents.docs[i], lastUpdateDateTime=latest)
                self.replace(INCIDENTS, i, doc, {"lastUpdateDateTime"})

    def _create_directory(self, resource, count, values, seed):
        collection = self.tenant.collection(resource.name)
        rng = self.rng(seed)
        docs, details = [], []
        for _ in range(count):
            doc, detail = directory_data.new_entity(self.tenant, resource, rng,
                                                    len(collection) + len(docs))
            if detail is not None:
                detail.update({k: v for k, v in values.items() if k in detail})
            doc.update({k: v for k, v in values.items() if detail is None or k not in detail})
            docs.append(doc)
            details.append(detail)
        indices = self._append(resource, docs,
                               details if collection.details is not None else None)
        for i in indices:
            collection.record(i, "create")
        return [d["id"] for d in docs]

    # --- removal -----------------------------------------------------------------------------
    def delete(self, spec):
        """{"collection", "id", "soft"}: a directory object goes (soft: restorable)."""
        resource = _resource(spec)
        if resource not in DELTA_RESOURCES:
            raise ChangeError("only %s can be deleted" % ", ".join(
                r.name for r in DELTA_RESOURCES))
        soft = spec.get("soft", False)
        if not isinstance(soft, bool):
            raise ChangeError("'soft' must be a boolean")
        with self.writer._lock:
            i = self.index(resource, spec.get("id"))
            self._delete(resource, i, soft)
        return {"collection": resource.name, "id": spec["id"], "soft": soft}

    def _delete(self, resource, i, soft):
        collection = self.tenant.collection(resource.name)
        collection.record(i, "delete", {"soft"} if soft else ())
        collection.remove(i, soft)
        self.writer.on_change(resource, (i,))

    def undelete(self, spec):
        """{"collection", "id"}: a soft-deleted directory object comes back."""
        resource = _resource(spec)
        collection = self.tenant.collection(resource.name)
        with self.writer._lock:
            found = [i for i, (_, soft) in collection.deleted.items()
                     if collection.docs[i]["id"] == spec.get("id")]
            if not found or not collection.deleted[found[0]][1]:
                raise ChangeError("no soft-deleted %s with id %r" % (resource.name,
                                                                     spec.get("id")), 404)
            collection.undelete(found[0])
            collection.record(found[0], "restore")
            self.writer.on_change(resource, (found[0],))
        return {"collection": resource.name, "id": spec["id"]}

    # --- at random ------------------------------------------------------------------------
    RANDOM_KEYS = ("seed", "alert_updates", "incident_updates", "comments", "new_alerts",
                   "late_alerts", "late_min_age_seconds", "late_max_age_seconds",
                   "user_updates", "user_creates", "user_deletes", "device_updates",
                   "device_creates", "device_deletes")

    def random(self, spec):
        """Seeded random changes of every kind; returns what changed."""
        unknown = set(spec) - set(self.RANDOM_KEYS) - {"tenant"}
        if unknown:
            raise ChangeError("unknown field(s): %s (known: %s)" % (
                ", ".join(sorted(unknown)), ", ".join(self.RANDOM_KEYS)))
        n = {key: _int(spec, key, 0) for key in self.RANDOM_KEYS
             if key not in ("seed", "late_min_age_seconds", "late_max_age_seconds")}
        low = _number(spec, "late_min_age_seconds", 60)
        high = _number(spec, "late_max_age_seconds", 600)
        if high < low:
            raise ChangeError("'late_max_age_seconds' must not be below "
                              "'late_min_age_seconds'")
        rng = random.Random("%s/random/%s" % (self.tenant.seed, spec.get("seed", 0)))
        out = {}
        with self.writer._lock:
            out["alerts_updated"] = [self._random_alert_update(rng)
                                     for _ in range(n["alert_updates"])]
            out["incidents_updated"] = [self._random_incident_update(rng)
                                        for _ in range(n["incident_updates"])]
            out["comments"] = [self._random_comment(rng) for _ in range(n["comments"])]
            out["alerts_created"] = (self._create_alerts(n["new_alerts"], 0, None, {},
                                                         rng.random())
                                     if n["new_alerts"] else [])
            late = []
            for _ in range(n["late_alerts"]):
                late += self._create_alerts(1, low + rng.random() * (high - low), None, {},
                                            rng.random())
            out["alerts_late"] = late
            for kind, resource in (("user", schema.USERS), ("device", schema.DEVICES)):
                out[kind + "s_updated"] = [self._random_directory_update(rng, resource)
                                           for _ in range(n[kind + "_updates"])]
                out[kind + "s_created"] = (self._create_directory(
                    resource, n[kind + "_creates"], {}, rng.random())
                    if n[kind + "_creates"] else [])
                out[kind + "s_deleted"] = [self._random_delete(rng, resource)
                                           for _ in range(n[kind + "_deletes"])]
        return out

    def _pick(self, rng, resource, protect=0):
        """A random live entity (not among the first `protect`)."""
        order = [i for i in self.tenant.collection(resource.name).order() if i >= protect]
        if not order:
            raise ChangeError("%s has no entity left to change" % resource.name, 409)
        return order[int(rng.random() * len(order))]

    def _random_alert_update(self, rng):
        i = self._pick(rng, ALERTS)
        status = rng.choice(("new", "inProgress", "resolved"))
        values = {"status": status, "assignedTo": rng.choice(tenant_module.ASSIGNEES + (None,))}
        if status == "resolved":
            classification = rng.choice(("truePositive", "falsePositive",
                                         "informationalExpectedActivity"))
            values["classification"] = classification
            values["determination"] = rng.choice(tenant_module.DETERMINATIONS[classification])
        return self._update(ALERTS, i, values, 0, ANALYST)["id"]

    def _random_incident_update(self, rng):
        i = self._pick(rng, INCIDENTS)
        status = rng.choice(("active", "inProgress", "resolved"))
        values = {"status": status, "assignedTo": rng.choice(tenant_module.ASSIGNEES + (None,))}
        if status == "resolved":
            values["classification"] = rng.choice(("truePositive", "falsePositive"))
            values["determination"] = rng.choice(
                tenant_module.DETERMINATIONS[values["classification"]])
        return self._update(INCIDENTS, i, values, 0, ANALYST)["id"]

    def _random_comment(self, rng):
        resource = rng.choice((ALERTS, INCIDENTS))
        i = self._pick(rng, resource)
        self._comment(resource, i, rng.choice(tenant_module.COMMENT_TEXTS), ANALYST, 0)
        return [resource.name, self.tenant.collection(resource.name).docs[i]["id"]]

    def _random_directory_update(self, rng, resource):
        i = self._pick(rng, resource)
        if resource is schema.USERS:
            values = rng.choice(({"jobTitle": rng.choice(directory_data.JOB_TITLES)},
                                 {"department": rng.choice(directory_data.DEPARTMENTS)},
                                 {"officeLocation": rng.choice(directory_data.OFFICES)},
                                 {"accountEnabled": rng.random() < 0.8},
                                 {"mobilePhone": "+351 92 %03d %04d" % (
                                     rng.randrange(1000), rng.randrange(10000))}))
        else:
            values = rng.choice(({"accountEnabled": rng.random() < 0.9},
                                 {"approximateLastSignInDateTime": self.stamp()},
                                 {"operatingSystemVersion": "10.0.22631.%d" % rng.randrange(
                                     3000, 4000)},
                                 {"displayName": "LT-%04d" % rng.randrange(10000)}))
        return self._update(resource, i, values, 0, ANALYST)["id"]

    def _random_delete(self, rng, resource):
        # the entities alerts point at stay: they are generated first
        protect = (len(self.tenant.users) + len(directory_data.CASE_TWIN_USERS)
                   if resource is schema.USERS else
                   sum(1 for d in self.tenant.devices if d["azureAdDeviceId"]) + 2)
        i = self._pick(rng, resource, protect)
        entity_id = self.tenant.collection(resource.name).docs[i]["id"]
        self._delete(resource, i, rng.random() < 0.5)
        return entity_id


def check_value(prop, value):
    """A value of a control update, checked against the property's type."""
    if value is None:
        if not prop.nullable:
            raise ChangeError("%s cannot be null" % prop.name)
        return None
    enum = prop.enum
    if enum is not None:
        if not isinstance(value, str) or value not in enum or value == enum.sentinel:
            raise ChangeError("%r is not a member of %s" % (value, enum.name))
        return value
    kind = prop.type
    if kind == schema.DATETIME:
        try:
            ts.parse(value)
        except (TypeError, ValueError):
            raise ChangeError("%s needs an ISO 8601 timestamp" % prop.name) from None
        return value
    expected = {schema.STRING: str, schema.BOOLEAN: bool, schema.STRING_COLLECTION: list,
                schema.COMPLEX: dict, schema.COMPLEX_COLLECTION: list}.get(kind)
    if kind in (schema.INT32, schema.INT64):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ChangeError("%s needs an integer" % prop.name)
        return value
    if kind == schema.DOUBLE:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ChangeError("%s needs a number" % prop.name)
        return float(value)
    if expected is not None and not isinstance(value, expected):
        raise ChangeError("%s needs a value of type %s" % (prop.name, kind))
    if kind == schema.STRING_COLLECTION and not all(isinstance(v, str) for v in value):
        raise ChangeError("%s needs strings" % prop.name)
    return value

