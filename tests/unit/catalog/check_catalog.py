#!/usr/bin/python3
"""Sanity checks over the JSON that catalog_dump prints.

Usage: ./catalog_dump | python3 check_catalog.py

These are the invariants the rest of the extension relies on without
checking them itself (IMPORT FOREIGN SCHEMA's column order and names, the
pushdown code's lookups), plus one cross-check: the filterable properties,
which are spelled twice on purpose (here as doc/graph.md, "Filterable,
sortable and updatable properties", and the README's "What is sent to
Graph" name them, and as flags in catalog.c), because a misspelt one would
silently turn a pushed condition into a full scan or a 400.  Exits non-zero
and lists every failure.
"""

import json
import re
import sys

SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
LOWER_CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")

# the type mapping of the README, "The tables"
COLUMN_SQL = {
    "string": "text",
    "guid": "text",
    "enum": "text",
    "datetime": "timestamp with time zone",
    "boolean": "boolean",
    "int32": "integer",
    "int64": "bigint",
    "double": "double precision",
    "string_collection": "text[]",
    "enum_collection": "text[]",
    "complex": "jsonb",
    "complex_collection": "jsonb",
}

# doc/graph.md, "Filterable, sortable and updatable properties": the
# documented sets, and for lists without one what Microsoft's examples
# filter on plus the timestamps
FILTERABLE = {
    "security/alerts_v2": {
        "assignedTo", "classification", "determination", "createdDateTime",
        "lastUpdateDateTime", "severity", "serviceSource", "status"},
    "security/incidents": {
        "assignedTo", "classification", "createdDateTime", "determination",
        "lastUpdateDateTime", "severity", "status"},
    "security/secureScores": {"createdDateTime"},
    "identityProtection/riskDetections": {
        "riskEventType", "riskLevel", "userDisplayName", "detectionTimingType",
        "activityDateTime", "detectedDateTime", "lastUpdatedDateTime"},
    "identityProtection/riskyUsers": {
        "riskLevel", "userDisplayName", "riskDetail", "riskLastUpdatedDateTime"},
    "identityProtection/servicePrincipalRiskDetections": {
        "requestId", "servicePrincipalId", "riskEventType", "riskLevel",
        "activityDateTime", "detectedDateTime", "lastUpdatedDateTime"},
}

# what the lookups in catalog_dump.c must answer
EXPECTED_LOOKUPS = {
    ("graph_catalog_find_path", "security/alerts_v2"): "security/alerts_v2",
    ("graph_catalog_find_path", "/security/alerts_v2"): "security/alerts_v2",
    ("graph_catalog_find_path", "security/alerts_v2/"): "security/alerts_v2",
    ("graph_catalog_find_path", "/security/alerts_v2/"): "security/alerts_v2",
    ("graph_catalog_find_path", "Security/Alerts_v2"): None,
    ("graph_catalog_find_path", "security/alerts"): None,
    ("graph_catalog_find_path", "security/alerts_v2/x"): None,
    ("graph_catalog_find_path", "security"): None,
    ("graph_catalog_find_path", ""): None,
    ("graph_catalog_find_path", "/"): None,
    ("graph_catalog_find_path", "//security/alerts_v2"): None,
    ("graph_catalog_known_schema", "security"): True,
    ("graph_catalog_known_schema", "identity_protection"): True,
    ("graph_catalog_known_schema", "Security"): False,
    ("graph_catalog_known_schema", "identityProtection"): False,
    ("graph_catalog_known_schema", ""): False,
    ("graph_catalog_known_schema", "nope"): False,
    ("graph_catalog_find_property", "id"): "id",
    ("graph_catalog_find_property", "status"): "status",
    ("graph_catalog_find_property", "Status"): None,
    ("graph_catalog_find_property", "alerts"): None,
    ("graph_catalog_find_property", "createdDateTime"): "createdDateTime",
    ("graph_catalog_find_property", "created_date_time"): None,
    ("graph_catalog_find_property", "nope"): None,
    ("graph_catalog_find_derived", "id"): None,
    ("graph_catalog_find_derived", "status"): None,
    ("graph_catalog_find_derived", "Status"): None,
    ("graph_catalog_find_derived", "alerts"): "alerts",
    ("graph_catalog_find_derived", "createdDateTime"): None,
    ("graph_catalog_find_derived", "created_date_time"): None,
    ("graph_catalog_find_derived", "nope"): None,
}


def camel_to_snake(name):
    """createdDateTime -> created_date_time, as IMPORT FOREIGN SCHEMA does."""
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def snake_to_camel(name):
    """created_date_time -> createdDateTime, the column option default."""
    return re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), name)


def check(doc):
    errors = []

    def fail(where, message):
        errors.append("%s: %s" % (where, message))

    resources = doc["resources"]
    if not resources:
        fail("catalog", "no resources")

    schemas = sorted({r["remote_schema"] for r in resources})
    if doc["schema_list"] != ", ".join(schemas):
        fail("schema_list", "%r, expected %r" % (doc["schema_list"], ", ".join(schemas)))

    for key, what in (("table_name", "table name"), ("path", "path")):
        seen = [r[key] for r in resources]
        for value in sorted({v for v in seen if seen.count(v) > 1}):
            fail("catalog", "duplicate %s %r" % (what, value))

    for r in resources:
        where = r["path"]
        props = r["properties"]
        names = [p["name"] for p in props]
        by_name = {p["name"]: p for p in props}

        if not SNAKE.match(r["table_name"]):
            fail(where, "table name %r is not snake_case" % r["table_name"])
        if not SNAKE.match(r["remote_schema"]):
            fail(where, "remote schema %r is not snake_case" % r["remote_schema"])
        if r["path"].startswith("/") or r["path"].endswith("/"):
            fail(where, "path must not start or end with '/'")
        if r["nproperties"] != len(props) or r["nderived"] != len(r["derived"]):
            fail(where, "nproperties/nderived disagree with the arrays")

        if not props or props[0]["name"] != "id":
            fail(where, "first property is not id")
        elif props[0]["nullable"] or props[0]["type"] != "string":
            fail(where, "id must be a non-nullable string")
        elif props[0]["filterable"] or props[0]["updatable"]:
            fail(where, "id must be neither filterable nor updatable")

        if names[1:] != sorted(names[1:]):
            fail(where, "properties after id are not in alphabetical order")
        for name in sorted({n for n in names if names.count(n) > 1}):
            fail(where, "duplicate property %r" % name)

        if r["snapshot_property"] is not None:
            snap = by_name.get(r["snapshot_property"])
            if snap is None or snap["type"] != "datetime" or not snap["filterable"]:
                fail(where, "snapshot property must be a filterable timestamp")

        if r["top_max"] <= 0 or not 0 <= r["top_default"] <= r["top_max"]:
            fail(where, "top_max/top_default out of range")
        if r["write_permission"] is None and any(p["updatable"] for p in props):
            fail(where, "updatable properties but no write permission")
        if any(p["filterable"] for p in props) and not r["allows_filter"]:
            fail(where, "filterable properties on a resource without $filter")
        if any(p["sortable"] for p in props) and not r["allows_orderby"]:
            fail(where, "sortable properties on a resource without $orderby")

        for p in props:
            pw = "%s.%s" % (where, p["name"])
            if not LOWER_CAMEL.match(p["name"]):
                fail(pw, "not lowerCamelCase")
            elif snake_to_camel(camel_to_snake(p["name"])) != p["name"]:
                fail(pw, "snake_case round trip gives %r"
                     % snake_to_camel(camel_to_snake(p["name"])))
            if COLUMN_SQL.get(p["type"]) != p["column_sql"]:
                fail(pw, "type %s maps to %r" % (p["type"], p["column_sql"]))

            e = p["enum"]
            if p["type"] in ("enum", "enum_collection"):
                if e is None:
                    fail(pw, "enum property without an enum type")
                    continue
                members = e["members"]
                if not e["name"].startswith("microsoft.graph."):
                    fail(pw, "enum name %r is not fully qualified" % e["name"])
                for m in sorted({m for m in members if members.count(m) > 1}):
                    fail(pw, "duplicate enum member %r" % m)
                if not members or any(m == "" for m in members):
                    fail(pw, "empty enum or empty member")
                if not any(m.lower() == "unknownfuturevalue" for m in members):
                    fail(pw, "enum without the unknownFutureValue sentinel")
                if not e["all_members_found"]:
                    fail(pw, "graph_enum_has_member misses a member")
                if e["case_flipped_found"] or e["empty_string_found"]:
                    fail(pw, "graph_enum_has_member is not exact")
            elif e is not None:
                fail(pw, "enum type on a non-enum property")

        for d in r["derived"]:
            dw = "%s.%s (derived)" % (where, d["name"])
            if d["name"] in by_name:
                fail(dw, "collides with a property")
            if snake_to_camel(camel_to_snake(d["name"])) != d["name"]:
                fail(dw, "snake_case round trip fails")
            if d["source"] not in by_name and d["kind"] != "expand":
                fail(dw, "source %r is not a property" % d["source"])
            if d["kind"] == "expand":
                if not d["fallback_path_format"] or d["fallback_path_format"].count("%s") != 1:
                    fail(dw, "expand needs a fallback path with one %s")
                if d["lambda_format"] is not None:
                    fail(dw, "expand with a lambda")
            else:
                if not d["lambda_format"] or d["lambda_format"].count("%s") != 1:
                    fail(dw, "evidence column needs a lambda with one %s")
                if d["fallback_path_format"] is not None:
                    fail(dw, "evidence column with a fallback path")
                if d["column_sql"] != "text[]":
                    fail(dw, "evidence column is not text[]")

        expected = FILTERABLE.get(r["path"])
        if expected is None:
            fail(where, "no documented filterable list in check_catalog.py")
        else:
            for name in sorted(expected - set(by_name)):
                fail(where, "filterable property %r does not exist" % name)
            for name in sorted(expected & set(by_name)):
                if not by_name[name]["filterable"]:
                    fail(where, "%r is documented filterable but not marked" % name)
            for name in sorted({p["name"] for p in props if p["filterable"]} - expected):
                fail(where, "%r is marked filterable but not documented" % name)

        # pushdown compares scalars and string arrays, never jsonb
        for p in props:
            if (p["filterable"] or p["sortable"]) and p["column_sql"] in ("jsonb", "text[]"):
                fail("%s.%s" % (where, p["name"]), "filterable or sortable non-scalar")

    seen = set()
    for item in doc["lookups"]:
        key = (item["function"], item["argument"])
        seen.add(key)
        if key not in EXPECTED_LOOKUPS:
            fail("lookups", "unexpected %s(%r)" % key)
        elif item["result"] != EXPECTED_LOOKUPS[key]:
            fail("lookups", "%s(%r) gave %r, expected %r"
                 % (key + (item["result"], EXPECTED_LOOKUPS[key])))
    for key in sorted(set(EXPECTED_LOOKUPS) - seen):
        fail("lookups", "%s(%r) not reported" % key)

    return errors


def main():
    doc = json.load(sys.stdin)
    errors = check(doc)
    for e in errors:
        print("check_catalog: " + e, file=sys.stderr)
    if errors:
        return 1
    nprops = sum(len(r["properties"]) for r in doc["resources"])
    print("check_catalog: %d resources, %d properties: ok"
          % (len(doc["resources"]), nprops))
    return 0


if __name__ == "__main__":
    sys.exit(main())
