"""Self-tests of the directory and Intune inventories, delta queries,
control changes and several tenants.

They share test_emulator's server harness and are run by it:
`python3 -m unittest -v test_emulator` (one class alone:
`python3 -m unittest -v test_emulator.TestDelta`).  Results are checked
against the documents of GET /_emulator/data, evaluated here independently.
"""

import http.client
import os
import subprocess
import sys
import threading
import unittest
from types import SimpleNamespace
from urllib.parse import urlsplit

from test_emulator import (ALERTS, INCIDENTS, NOW_TICKS, READER, RISK, RISKY, SPRISK,
                           DEFAULT_COUNTS, EmulatorCase, enc, qs, ticks)

import directory_data
import graph_emulator
import identity
import render
import schema
import server
import tenant
import tenants
import throttle

HERE = os.path.dirname(os.path.abspath(__file__))
USERS, DEVICES, GROUPS, SPS = "users", "devices", "groups", "servicePrincipals"
MANAGED = "deviceManagement/managedDevices"
EV = {"ConsistencyLevel": "eventual"}
USER_DEFAULTS = {"id", "businessPhones", "displayName", "givenName", "jobTitle", "mail",
                 "mobilePhone", "officeLocation", "preferredLanguage", "surname",
                 "userPrincipalName"}
SECOND_TENANT = "22222222-3333-4444-8555-666666666666"


def fold(text):
    return None if text is None else text.casefold()


# ======================================================================================
class TestInventoryData(unittest.TestCase):
    """What the generator makes (no HTTP)."""

    @classmethod
    def setUpClass(cls):
        cls.tenant = tenant.Tenant("42", NOW_TICKS, DEFAULT_COUNTS)

    def docs(self, name):
        return self.tenant.collection(name).docs

    def test_default_counts_span_several_pages(self):
        for name in (USERS, DEVICES, GROUPS, SPS):
            count = len(self.docs(name))
            self.assertEqual(count, DEFAULT_COUNTS[name])
            self.assertGreater(count, 2 * schema.RESOURCES_BY_NAME[name].top_default, name)
        self.assertEqual(len(self.docs(MANAGED)), DEFAULT_COUNTS[MANAGED])

    def test_security_data_is_what_it_was_without_inventories(self):
        counts = {k: v for k, v in DEFAULT_COUNTS.items()
                  if schema.RESOURCES_BY_NAME[k].directory is None}
        counts.update({r.name: 0 for r in schema.DIRECTORY_RESOURCES})
        bare = tenant.Tenant("42", NOW_TICKS, counts)
        for name in counts:
            if schema.RESOURCES_BY_NAME[name].directory is not None:
                continue
            self.assertEqual(
                b"".join(render.EntityRenderer(bare.collection(name)).many(
                    range(len(bare.collection(name))), True)),
                b"".join(render.EntityRenderer(self.tenant.collection(name)).many(
                    range(len(self.tenant.collection(name))), True)), name)

    def test_evidence_points_at_devices_and_users(self):
        devices = {d["deviceId"]: d for d in self.docs(DEVICES)}
        managed = {m["azureADDeviceId"]: m for m in self.docs(MANAGED)}
        users = {u["id"]: u for u in self.docs(USERS)}
        seen_devices = seen_users = seen_managed = 0
        for alert in self.docs(ALERTS):
            for e in alert["evidence"]:
                if e["@odata.type"].endswith("deviceEvidence") and e["azureAdDeviceId"]:
                    device = devices[e["azureAdDeviceId"]]
                    self.assertEqual(device["displayName"], e["deviceDnsName"].split(".")[0])
                    seen_devices += 1
                    if e["azureAdDeviceId"] in managed:
                        self.assertEqual(managed[e["azureAdDeviceId"]]["deviceName"],
                                         device["displayName"])
                        seen_managed += 1
                if e["@odata.type"].endswith("userEvidence"):
                    account = e["userAccount"]
                    user = users[account["azureAdUserId"]]
                    self.assertEqual(user["userPrincipalName"], account["userPrincipalName"])
                    self.assertEqual(user["onPremisesSecurityIdentifier"], account["userSid"])
                    seen_users += 1
        self.assertGreater(seen_devices, 50)
        self.assertGreater(seen_managed, 20)
        self.assertGreater(seen_users, 50)
        for risky in self.docs(RISKY):
            self.assertEqual(users[risky["id"]]["userPrincipalName"],
                             risky["userPrincipalName"])
        for detection in self.docs(RISK):
            self.assertEqual(users[detection["userId"]]["userPrincipalName"],
                             detection["userPrincipalName"])
        sps = {sp["id"]: sp for sp in self.docs(SPS)}
        for detection in self.docs(SPRISK):
            sp = sps[detection["servicePrincipalId"]]
            self.assertEqual(sp["appId"], detection["appId"])
            self.assertEqual(sp["displayName"], detection["servicePrincipalDisplayName"])
            self.assertLessEqual(set(detection["keyIds"]),
                                 {k["keyId"] for k in sp["keyCredentials"]})

    def test_managed_devices_are_managed_entra_devices(self):
        devices = {d["deviceId"]: d for d in self.docs(DEVICES)}
        user_ids = {u["id"] for u in self.docs(USERS)}
        unregistered = 0
        for m in self.docs(MANAGED):
            self.assertEqual(m["@odata.type"], "#microsoft.graph.managedDevice")
            self.assertIn(m["userId"], user_ids)
            for name, value in schema.MANAGED_DEVICES.directory.list_defaults.items():
                self.assertEqual(m[name], value, name)
            if m["azureADDeviceId"] == directory_data.NO_DEVICE:
                self.assertFalse(m["azureADRegistered"])
                unregistered += 1
                continue
            device = devices[m["azureADDeviceId"]]
            self.assertTrue(device["isManaged"])
            self.assertEqual(device["mdmAppId"], directory_data.INTUNE_APP_ID)
            self.assertEqual(device["displayName"], m["deviceName"])
        self.assertGreater(unregistered, 0)
        details = self.tenant.collection(MANAGED).details
        self.assertTrue(any(d["physicalMemoryInBytes"] for d in details))

    def test_case_twins_and_single_only_details(self):
        names = [u["displayName"] for u in self.docs(USERS)]
        for twin in ("Ana", "ANA", "ana"):
            self.assertEqual(names.count(twin), 1)
        details = self.tenant.collection(USERS).details
        self.assertEqual(len(details), len(names))
        self.assertEqual({p.name for p in schema.USERS.directory.single_only}, set(details[0]))
        self.assertTrue(all(not set(d) & set(u)
                            for d, u in zip(details, self.docs(USERS))))
        signed_in = [u for u in self.docs(USERS) if "signInActivity" in u]
        self.assertTrue(0 < len(signed_in) < len(names))

    def test_other_tenant_ids_and_domains(self):
        other = tenant.Tenant("7", NOW_TICKS, {ALERTS: 5, INCIDENTS: 2, USERS: 50},
                              tenant_id=SECOND_TENANT, domain="fabrikam.onmicrosoft.com")
        for a in other.collection(ALERTS).docs:
            self.assertEqual(a["tenantId"], SECOND_TENANT)
            self.assertIn("tid=" + SECOND_TENANT, a["alertWebUrl"])
        for i in other.collection(INCIDENTS).docs:
            self.assertEqual(i["tenantId"], SECOND_TENANT)
        self.assertTrue(all(u["userPrincipalName"].endswith(("@fabrikam.com",
                                                             "#EXT#@fabrikam.onmicrosoft.com"))
                            for u in other.collection(USERS).docs))


# ======================================================================================
class DirectoryCase(EmulatorCase):
    """Helpers over the shared server."""

    def data_ids(self, name, where=lambda d: True):
        return [d["id"] for d in self.data(name) if where(d)]

    def assert_refused(self, path, status=400, code="Request_UnsupportedQuery",
                       message=None, **kw):
        reply = self.get(path, **kw)
        return self.assertGraphError(reply, status, code, message)

    def token_with(self, *roles):
        """A token of an app with exactly these roles (no such app is
        registered: the store issues it directly)."""
        app = identity.App("custom", "aaaaaaaa-bbbb-4ccc-8ddd-0000000000ff", "x", roles)
        return self.httpd.tokens.issue(app, identity.GRAPH_SCOPES[0], 600)


class TestDirectoryLists(DirectoryCase):

    def test_users_default_properties_and_pages(self):
        items, pages = self.follow(USERS)
        self.assertEqual([len(p["value"]) for p in pages], [100, 100, 50])
        self.assertEqual([i["id"] for i in items], self.data_ids(USERS))
        for item in items:
            self.assertEqual(set(item), USER_DEFAULTS)
        self.assertEqual(pages[0]["@odata.context"],
                         "http://127.0.0.1:%d/v1.0/$metadata#users" % self.port)
        link = urlsplit(pages[0]["@odata.nextLink"])
        self.assertEqual(link.path, "/v1.0/users")
        self.assertTrue(link.query.startswith("$skiptoken="))
        full = self.data(USERS)[0]
        self.assertIn("accountEnabled", full)
        self.assertNotIn("aboutMe", full)                   # single GET only

    def test_select_single_only_is_501_on_a_list(self):
        self.assert_refused(USERS + "?$select=displayName,aboutMe", 501, "NotImplemented",
                            "This operation target is not yet supported.")
        user = self.data(USERS)[0]
        one = self.get_json("%s/%s?$select=aboutMe,birthday,displayName" % (USERS, user["id"]))
        self.assertEqual(set(one) - {"@odata.context"},
                         {"id", "aboutMe", "birthday", "displayName"})
        self.assertEqual(one["birthday"], "0001-01-01T00:00:00Z")
        plain = self.get_json("%s/%s" % (USERS, user["userPrincipalName"].upper()))
        self.assertEqual(set(plain) - {"@odata.context"}, USER_DEFAULTS)
        self.assertTrue(plain["@odata.context"].endswith("#users/$entity"))

    def test_page_size_caps(self):
        self.assertEqual(len(self.get_json(USERS + "?$top=999")["value"]), 250)
        self.assert_refused(USERS + "?$top=1000", code="Request_BadRequest",
                            message="Must be between 1 and 999")
        self.assert_refused(USERS + "?$top=501&$select=signInActivity", code="Request_BadRequest",
                            message="between 1 and 500")
        page = self.get_json(USERS + "?$top=500&$select=displayName,signInActivity")
        with_activity = [u for u in page["value"] if "signInActivity" in u]
        self.assertTrue(0 < len(with_activity) < len(page["value"]))
        for name in (DEVICES, GROUPS, SPS):
            self.assert_refused(name + "?$top=1000", code="Request_BadRequest")
            self.assertEqual(len(self.get_json(name)["value"]), 100)
        self.assert_refused(USERS + "?$skip=100", code="Request_BadRequest",
                            message="'\\$skip' is not supported")

    def test_permissions(self):
        reader = self.token_request(self.form(READER)).json()["access_token"]
        for name in (USERS, DEVICES, GROUPS, SPS):
            self.assert_refused(name, 403, "Authorization_RequestDenied", token=reader)
        self.assert_refused(MANAGED, 403, "Forbidden", token=reader)
        users_only = self.token_with("User.Read.All")
        self.assertEqual(self.get(USERS, token=users_only).status, 200)
        self.assert_refused(USERS + "?$select=signInActivity", 403,
                            "Authorization_RequestDenied", token=users_only)
        self.assert_refused(USERS + "?$filter=" + enc(
            "signInActivity/lastSignInDateTime ge 2026-01-01T00:00:00Z"), 403,
            "Authorization_RequestDenied", token=users_only)
        self.assert_refused(DEVICES, 403, "Authorization_RequestDenied", token=users_only)

    def filter_ids(self, name, text, headers=None, select="id"):
        path = "%s?%s" % (name, qs(("$filter", text), ("$select", select)))
        if headers:
            path += "&$count=true"
        return [i["id"] for i in self.follow(path, headers=headers)[0]]

    def test_advanced_only_operators(self):
        cases = (
            (USERS, "displayName ne 'Ana'", lambda u: fold(u["displayName"]) != "ana"),
            (USERS, "not(accountEnabled eq true)", lambda u: not u["accountEnabled"]),
            (USERS, "endsWith(mail,'.ORG')", lambda u: fold(u["mail"] or "").endswith(".org")),
            (USERS, "jobTitle eq null", lambda u: u["jobTitle"] is None),
            (USERS, "companyName eq 'Contoso Ltd.'", lambda u: u["companyName"] == "Contoso Ltd."),
            (USERS, "proxyAddresses/$count eq 0", lambda u: not u["proxyAddresses"]),
            (DEVICES, "registrationDateTime ge 2025-01-01T00:00:00Z",
             lambda d: ticks(d["registrationDateTime"]) >= ticks("2025-01-01T00:00:00Z")),
        )
        for name, text, check in cases:
            with self.subTest(text=text):
                self.assert_refused("%s?%s" % (name, qs(("$filter", text))))
                self.assert_refused("%s?%s" % (name, qs(("$filter", text))), headers=EV)
                got = self.filter_ids(name, text, EV)
                if check is not None:
                    self.assertEqual(got, self.data_ids(name, check))
        ends = self.filter_ids(USERS, "endsWith(userPrincipalName,'@contoso.com')", EV)
        self.assertEqual(ends, self.data_ids(
            USERS, lambda u: u["userPrincipalName"].lower().endswith("@contoso.com")))

    def test_orderby_rules(self):
        self.assertEqual(self.get(USERS + "?$orderby=displayName").status, 200)
        self.assert_refused(USERS + "?$orderby=createdDateTime", message="Sorting not supported")
        self.assert_refused(USERS + "?" + qs(("$filter", "accountEnabled eq true"),
                                             ("$orderby", "displayName")),
                            message="Sorting not supported")
        self.assert_refused(DEVICES + "?$orderby=displayName")
        self.assert_refused(USERS + "?$orderby=jobTitle")
        items = self.follow(DEVICES + "?$orderby=displayName%20desc&$count=true&$select="
                            "displayName", headers=EV)[0]
        names = [d["displayName"] for d in items]
        self.assertEqual([n.casefold() for n in names],
                         sorted((n.casefold() for n in names), reverse=True))

    def test_header_on_every_page_and_count_on_the_first(self):
        path = USERS + "?" + qs(("$filter", "accountEnabled ne false"), ("$select", "id"),
                                ("$top", "40")) + "&$count=true"
        items, pages = self.follow(path, headers=EV)
        self.assertGreaterEqual(len(pages), 5)
        expected = self.data_ids(USERS, lambda u: u["accountEnabled"] is not False)
        self.assertEqual([i["id"] for i in items], expected)
        self.assertEqual(pages[0]["@odata.count"], len(expected))
        self.assertTrue(all("@odata.count" not in p for p in pages[1:]))
        second = urlsplit(pages[0]["@odata.nextLink"])
        self.assertIn("$count=true", second.query)
        self.assert_refused(second.path + "?" + second.query, code="Request_BadRequest",
                            message="ConsistencyLevel: eventual")
        # $count=true without the header: a default query, no count
        page = self.get_json(USERS + "?$count=true&$top=5")
        self.assertNotIn("@odata.count", page)
        later = urlsplit(page["@odata.nextLink"])
        self.assert_refused(later.path + "?" + later.query, code="Request_BadRequest",
                            headers=dict(EV))

    def test_expand(self):
        self.assert_refused(USERS + "?$expand=manager", code="BadRequest")
        self.assert_refused(USERS + "?$expand=manager&$count=true", headers=EV,
                            message="\\$expand is not supported in an advanced query")

    def test_in_and_eq_limits_of_default_queries(self):
        users = self.data(USERS)
        ids = [u["id"] for u in users[:16]]
        text16 = "id in (%s)" % ",".join("'%s'" % i for i in ids)
        text15 = "id in (%s)" % ",".join("'%s'" % i for i in ids[:15])
        self.assertEqual(sorted(self.filter_ids(USERS, text15)), sorted(ids[:15]))
        self.assert_refused(USERS + "?" + qs(("$filter", text16)),
                            message="Max allowed: 15")
        self.assertEqual(sorted(self.filter_ids(USERS, text16, EV)), sorted(ids))
        long_value = "x" * 121
        self.assert_refused(USERS + "?" + qs(("$filter", "displayName eq '%s'" % long_value)),
                            message="longer than 120")
        self.assertEqual(self.filter_ids(USERS, "displayName eq '%s'" % long_value[:120]), [])
        self.assertEqual(self.filter_ids(USERS, "displayName eq '%s'" % long_value, EV), [])
        self.assert_refused(USERS + "?" + qs(("$filter", "id in (%s)" % ",".join(
            "'%s'" % u["id"] for u in users[:60]))) + "&$count=true", headers=EV,
            code="Request_BadRequest", message="longer than 2048")

    def test_strings_compare_without_case_unless_configured(self):
        twins = self.data_ids(USERS, lambda u: fold(u["displayName"]) == "ana")
        self.assertEqual(len(twins), 3)
        self.assertEqual(self.filter_ids(USERS, "displayName eq 'ana'"), twins)
        self.assertEqual(self.filter_ids(USERS, "displayName in ('ANA','nobody')"), twins)
        starts = self.data_ids(USERS, lambda u: fold(u["displayName"]).startswith("ana"))
        self.assertEqual(self.filter_ids(USERS, "startsWith(displayName,'aNa')"), starts)
        self.assertGreater(len(starts), 3)
        self.control("POST", "config", {"directory_case_sensitive": True})
        self.assertEqual(self.filter_ids(USERS, "displayName eq 'ana'"),
                         self.data_ids(USERS, lambda u: u["displayName"] == "ana"))
        self.assertEqual(self.filter_ids(USERS, "startswith(displayName,'Ana')"),
                         self.data_ids(USERS, lambda u: u["displayName"].startswith("Ana")))

    def test_documented_filters(self):
        users, devices = self.data(USERS), self.data(DEVICES)
        upn = users[5]["userPrincipalName"]
        cases = (
            (USERS, "userPrincipalName eq '%s'" % upn.upper(),
             lambda u: fold(u["userPrincipalName"]) == fold(upn)),
            (USERS, "accountEnabled eq false", lambda u: u["accountEnabled"] is False),
            (USERS, "createdDateTime ge 2024-01-01T00:00:00Z and createdDateTime le "
                    "2025-01-01T00:00:00Z",
             lambda u: ticks("2024-01-01T00:00:00Z") <= ticks(u["createdDateTime"])
             <= ticks("2025-01-01T00:00:00Z")),
            (USERS, "userType eq 'Guest'", lambda u: u["userType"] == "Guest"),
            (USERS, "proxyAddresses/any(p:p eq 'SMTP:%s')" % users[0]["mail"].upper(),
             lambda u: fold("SMTP:" + users[0]["mail"]) in [fold(p) for p in
                                                            u["proxyAddresses"]]),
            (USERS, "assignedLicenses/any(a:a/skuId eq %s)" % directory_data.SKUS[0],
             lambda u: any(a["skuId"] == directory_data.SKUS[0]
                           for a in u["assignedLicenses"])),
            (USERS, "signInActivity/lastSignInDateTime le 2026-05-01T00:00:00Z",
             lambda u: "signInActivity" in u and ticks(
                 u["signInActivity"]["lastSignInDateTime"]) <= ticks("2026-05-01T00:00:00Z")),
            (DEVICES, "deviceId eq '%s'" % devices[3]["deviceId"],
             lambda d: d["deviceId"] == devices[3]["deviceId"]),
            (DEVICES, "startswith(displayName,'ws-')",
             lambda d: fold(d["displayName"]).startswith("ws-")),
            (DEVICES, "operatingSystem in ('iOS','Android') and accountEnabled eq true",
             lambda d: d["operatingSystem"] in ("iOS", "Android") and d["accountEnabled"]),
            (GROUPS, "groupTypes/any(c:c eq 'Unified')", lambda g: "Unified" in g["groupTypes"]),
            (SPS, "servicePrincipalType eq 'ManagedIdentity'",
             lambda s: s["servicePrincipalType"] == "ManagedIdentity"),
        )
        for name, text, check in cases:
            with self.subTest(text=text):
                expected = self.data_ids(name, check)
                self.assertEqual(self.filter_ids(name, text), expected)
                self.assertTrue(expected)

    def test_refused_filters(self):
        cases = (
            (USERS, "createdDateTime gt 2024-01-01T00:00:00Z"),     # only ge/le
            (USERS, "signInActivity/lastSignInDateTime ge 2026-01-01T00:00:00Z and "
                    "accountEnabled eq true"),                      # alone
            (USERS, "aboutMe eq 'x'"),
            (USERS, "contains(displayName,'a')"),
            (DEVICES, "id eq 'x'"),                                 # not filterable
            (DEVICES, "physicalIds/any(p:startswith(p,'[ZTDID]'))"),  # any_eq only
            (SPS, "startswith(appId,'a')"),
        )
        for name, text in cases:
            with self.subTest(text=text):
                reply = self.get("%s?%s" % (name, qs(("$filter", text))))
                self.assertEqual(reply.status, 400, reply.body[:300])
                reply = self.get("%s?%s&$count=true" % (name, qs(("$filter", text))),
                                 headers=EV)
                self.assertEqual(reply.status, 400, reply.body[:300])
        self.assert_refused(USERS + "?" + qs(("$filter", "nope eq 'x'")), code="BadRequest",
                            message="Could not find a property named 'nope'")

    def test_alternate_keys_and_gets(self):
        device = self.data(DEVICES)[7]
        got = self.get_json("devices(deviceId='%s')?$select=displayName" % device["deviceId"])
        self.assertEqual((got["id"], got["displayName"]), (device["id"], device["displayName"]))
        self.assertEqual(self.get_json("devices/" + device["id"])["deviceId"], device["deviceId"])
        self.assert_refused("devices(deviceId='nope')", 404, "Request_ResourceNotFound")
        self.assert_refused("devices/" + device["deviceId"], 404, "Request_ResourceNotFound")
        sp = self.data(SPS)[0]
        got = self.get_json("servicePrincipals(appId='%s')" % sp["appId"])
        self.assertEqual(got["id"], sp["id"])
        self.assertEqual(self.get("users(mail='x')").status, 404)
        self.assert_refused(USERS + "/%s?$top=1" % self.data(USERS)[0]["id"],
                            code="BadRequest")

    def test_count_segment_and_resource_units(self):
        self.assert_refused(USERS + "/$count", code="Request_BadRequest",
                            message="\\$count is not currently supported")
        reply = self.get(USERS + "/$count", headers=EV)
        self.assertEqual((reply.status, reply.body), (200, b"250"))
        self.assertTrue(reply.headers["content-type"].startswith("text/plain"))
        reply = self.get(USERS + "/$count?" + qs(("$filter", "userType eq 'Guest'")),
                         headers=EV)
        self.assertEqual(int(reply.body), len(self.data_ids(USERS,
                                                            lambda u: u["userType"] == "Guest")))
        self.assertEqual(self.get(USERS).headers["x-ms-resource-unit"], "2")
        self.assertEqual(self.get(USERS + "?$select=id&$top=5").headers["x-ms-resource-unit"],
                         "1")
        self.assertNotIn("x-ms-resource-unit", self.get(ALERTS + "?$top=1").headers)

    def test_request_log_shows_the_header(self):
        self.get(USERS + "?$count=true&$top=1", headers=EV)
        entry = self.control("GET", "requests").lines()[-1]
        self.assertEqual(entry["headers"]["consistencylevel"], "eventual")
        self.assertEqual(entry["tenant"], "11111111-2222-3333-4444-555555555555")


class TestManagedDevices(DirectoryCase):

    def test_list_defaults_and_single_get(self):
        items, pages = self.follow(MANAGED + "?$top=50")
        self.assertEqual(len(pages), 4)
        self.assertEqual([i["id"] for i in items], self.data_ids(MANAGED))
        self.assertEqual(len(self.get_json(MANAGED)["value"]), 180)    # one page of ~1,000
        self.assert_refused(MANAGED + "?$top=1001", code="BadRequest")
        hidden = schema.MANAGED_DEVICES.directory.list_defaults
        for item in items:
            for name, value in hidden.items():
                self.assertEqual(item[name], value)
        device = items[0]
        plain = self.get_json(MANAGED + "/" + device["id"])
        self.assertEqual(plain["physicalMemoryInBytes"], 0)
        real = self.get_json(MANAGED + "/%s?$select=physicalMemoryInBytes,notes,deviceName"
                             % device["id"])
        self.assertGreater(real["physicalMemoryInBytes"], 0)
        self.assertEqual(real["deviceName"], device["deviceName"])
        self.assertEqual(set(real), {"@odata.context", "@odata.type", "id",
                                     "physicalMemoryInBytes", "notes", "deviceName"})

    def test_only_the_documented_filters(self):
        cutoff = "2026-05-25T00:00:00Z"
        docs = self.data(MANAGED)
        cases = (
            ("lastSyncDateTime gt %s" % cutoff,
             lambda m: ticks(m["lastSyncDateTime"]) > ticks(cutoff)),
            ("enrolledDateTime lt %s and jailBroken eq 'False'" % cutoff,
             lambda m: ticks(m["enrolledDateTime"]) < ticks(cutoff)
             and m["jailBroken"] == "False"),
            ("deviceCategoryDisplayName eq 'byod' or deviceCategoryDisplayName eq 'Kiosk'",
             lambda m: fold(m["deviceCategoryDisplayName"]) in ("byod", "kiosk")),
        )
        for text, check in cases:
            with self.subTest(text=text):
                got = [i["id"] for i in self.follow(MANAGED + "?" + qs(("$filter", text)))[0]]
                self.assertEqual(got, [m["id"] for m in docs if check(m)])
                self.assertTrue(got)
        for text in ("lastSyncDateTime ge %s" % cutoff, "jailBroken ne 'True'",
                     "jailBroken eq 'True' or deviceCategoryDisplayName eq 'BYOD'",
                     "startswith(deviceName,'ws')", "deviceName eq 'ws-017'",
                     "jailBroken in ('True')", "not(jailBroken eq 'True')"):
            with self.subTest(text=text):
                self.assert_refused(MANAGED + "?" + qs(("$filter", text)), code="BadRequest")
        for option in ("$orderby=deviceName", "$count=true", "$skip=10", "$expand=users",
                       "$search=x"):
            self.assert_refused(MANAGED + "?" + option, code="BadRequest",
                                message="Query option '%s' is not allowed"
                                % option[1:].split("=")[0].capitalize())

    def test_filters_silently_ignored(self):
        self.control("POST", "config", {"managed_devices_ignore_filter": True})
        items = self.follow(MANAGED + "?" + qs(("$filter", "jailBroken eq 'True'")))[0]
        self.assertEqual(len(items), len(self.data(MANAGED)))
        self.assert_refused(MANAGED + "?" + qs(("$filter", "deviceName eq 'x'")),
                            code="BadRequest")


# ======================================================================================
class TestDelta(DirectoryCase):
    """Rounds of users/delta and the others; every test starts from the
    generated data (restore)."""

    def setUp(self):
        super().setUp()
        self.control("POST", "restore")

    def change(self, kind, **spec):
        reply = self.control("POST", "changes/" + kind, spec)
        self.assertEqual(reply.status, 200, reply.body)
        return reply.json()

    def round(self, url, headers=None):
        """(items, pages, deltaLink path) of a whole round."""
        items, pages = [], []
        for _ in range(100):
            page = self.get_json(url, headers=headers)
            pages.append(page)
            items.extend(page["value"])
            if "@odata.nextLink" in page:
                self.assertNotIn("@odata.deltaLink", page)
                link = urlsplit(page["@odata.nextLink"])
                self.assertEqual(link.query.split("=")[0], "$skiptoken")
                url = link.path + "?" + link.query
                continue
            link = urlsplit(page["@odata.deltaLink"])
            self.assertEqual(link.query.split("=")[0], "$deltatoken")
            return items, pages, link.path + "?" + link.query
        self.fail("round did not end")

    def test_first_round_then_changes_in_the_next_round_only(self):
        items, pages, link = self.round(USERS + "/delta?$select=displayName,jobTitle")
        self.assertEqual([len(p["value"]) for p in pages], [100, 100, 50])
        self.assertEqual([i["id"] for i in items], self.data_ids(USERS))
        self.assertTrue(all(set(i) == {"id", "displayName", "jobTitle"} for i in items))
        self.assertTrue(pages[0]["@odata.context"].endswith("#users(displayName,jobTitle)"))
        empty, _, link = self.round(link)
        self.assertEqual(empty, [])
        users = self.data(USERS)
        self.change("update", collection=USERS, id=users[3]["id"], set={"jobTitle": "CISO"})
        self.change("update", collection=USERS, id=users[4]["id"], set={"city": "Porto"})
        created = self.change("create", collection=USERS, count=2)["created"]
        self.change("delete", collection=USERS, id=users[5]["id"], soft=True)
        self.change("delete", collection=USERS, id=users[6]["id"])
        got, _, link = self.round(link)
        self.assertEqual(got[0], {"id": users[3]["id"], "displayName": users[3]["displayName"],
                                  "jobTitle": "CISO"})        # city is not selected
        self.assertEqual(got[1:3], [{"id": users[5]["id"], "@removed": {"reason": "changed"}},
                                    {"id": users[6]["id"], "@removed": {"reason": "deleted"}}])
        self.assertEqual([g["id"] for g in got[3:]], created)
        self.assertEqual(self.get(USERS + "/" + users[5]["id"]).status, 404)
        # a change made while a round is read waits for the next one
        self.change("update", collection=USERS, id=users[7]["id"], set={"jobTitle": "A"})
        first = self.get_json(link, headers={"Prefer": "odata.maxpagesize=1"})
        self.assertEqual([i["id"] for i in first["value"]], [users[7]["id"]])
        self.change("update", collection=USERS, id=users[8]["id"], set={"jobTitle": "B"})
        self.change("undelete", collection=USERS, id=users[5]["id"])
        nxt = urlsplit(first["@odata.deltaLink"])
        later, _, _ = self.round(nxt.path + "?" + nxt.query)
        self.assertEqual([i["id"] for i in later], [users[5]["id"], users[8]["id"]])

    def test_minimal_latest_and_paging(self):
        page = self.get_json(DEVICES + "/delta?$deltaToken=latest")
        self.assertEqual(page["value"], [])
        link = urlsplit(page["@odata.deltaLink"])
        device = self.data(DEVICES)[2]
        self.change("update", collection=DEVICES, id=device["id"],
                    set={"operatingSystemVersion": "10.0.99999.1"})
        got, _, _ = self.round(link.path + "?" + link.query,
                               headers={"Prefer": "return=minimal"})
        self.assertEqual(got, [{"id": device["id"], "operatingSystemVersion": "10.0.99999.1"}])
        got, _, _ = self.round(link.path + "?" + link.query)
        self.assertEqual(len(got), 1)
        self.assertIn("deviceId", got[0])
        items, pages, _ = self.round(GROUPS + "/delta",
                                     headers={"Prefer": "odata.maxpagesize=80"})
        self.assertEqual([len(p["value"]) for p in pages], [80, 80, 50])
        items, _, _ = self.round(SPS + "/delta?$select=appId")
        self.assertEqual([i["id"] for i in items], self.data_ids(SPS))

    def test_refusals(self):
        for option in ("$top=5", "$orderby=displayName", "$expand=manager", "$count=true"):
            self.assert_refused(USERS + "/delta?" + option, code="Request_BadRequest")
        _, _, link = self.round(USERS + "/delta?$select=id")
        self.assert_refused(link + "&$select=displayName", code="Request_BadRequest")
        self.assert_refused(DEVICES + "/delta?" + qs(("$filter", "accountEnabled eq true")),
                            code="Request_BadRequest")
        users = self.data(USERS)
        ids = [u["id"] for u in users[:3]]
        got, _, _ = self.round(USERS + "/delta?" + qs(("$filter", " or ".join(
            "id eq '%s'" % i for i in ids))))
        self.assertEqual([g["id"] for g in got], ids)
        self.assert_refused(USERS + "/delta?" + qs(("$filter", " or ".join(
            "id eq '%s'" % u["id"] for u in users[:51]))))
        self.assert_refused(USERS + "/delta?$deltatoken=garbage", code="Request_BadRequest")

    def test_tokens_expire(self):
        _, _, link = self.round(USERS + "/delta?$select=id")
        page = self.get_json(USERS + "/delta?$select=id")
        next_page = urlsplit(page["@odata.nextLink"])
        self.control("POST", "clock", {"advance_seconds": 6 * 86400})
        self.assertEqual(self.get(link).status, 200)
        clock = self.control_json("POST", "clock", {"advance_seconds": 2 * 86400})
        self.assertTrue(clock["now"].startswith("2026-06-09"))
        self.assert_refused(link, 410, "syncStateNotFound")
        self.assert_refused(next_page.path + "?" + next_page.query, 410, "syncStateNotFound")
        self.control("POST", "clock", {"now": "2026-06-01T01:00:00Z"})
        _, _, link = self.round(DEVICES + "/delta?$select=id")
        self.assertEqual(self.control_json("POST", "delta/expire")["ok"], True)
        self.assert_refused(link, 410, "syncStateNotFound")
        _, _, link = self.round(DEVICES + "/delta?$select=id")
        self.control("POST", "restore")
        self.assert_refused(link, 410, "syncStateNotFound")

    def test_replayed_object(self):
        self.control("POST", "config", {"delta_replay": True})
        items, pages, _ = self.round(USERS + "/delta?$select=id")
        ids = [i["id"] for i in items]
        self.assertEqual(len(ids), 251)
        self.assertEqual(ids[-1], ids[0])
        self.assertEqual(len(pages[-1]["value"]), 51)


# ======================================================================================
class TestChanges(DirectoryCase):
    """Control changes of alerts and incidents (and restore)."""

    def setUp(self):
        super().setUp()
        self.control("POST", "restore")
        self.control("POST", "clock", {"now": "2026-06-01T00:00:00Z"})

    def post(self, path, spec, status=200):
        reply = self.control("POST", path, spec)
        self.assertEqual(reply.status, status, reply.body)
        return reply.json()

    def test_update_and_comment(self):
        alert = self.data(ALERTS)[10]
        self.post("changes/update", {"collection": ALERTS, "id": alert["id"],
                                     "set": {"status": "resolved", "assignedTo": "x@y"}})
        now = self.control_json("GET", "clock")["now"]
        got = self.get_json(ALERTS + "/" + alert["id"])
        self.assertEqual((got["status"], got["assignedTo"]), ("resolved", "x@y"))
        self.assertEqual(got["resolvedDateTime"], got["lastUpdateDateTime"])
        self.assertLessEqual(ticks(got["lastUpdateDateTime"]), ticks(now))
        self.assertGreater(ticks(got["lastUpdateDateTime"]), ticks(now) - 10 ** 8)
        listed = self.ids(ALERTS + "?" + qs(("$filter", "lastUpdateDateTime ge %s"
                                             % got["lastUpdateDateTime"])))
        self.assertEqual(listed, [alert["id"]])
        self.post("changes/update", {"collection": ALERTS, "id": alert["id"],
                                     "set": {"severity": "low"}, "age_seconds": 3600})
        got = self.get_json(ALERTS + "/" + alert["id"])
        self.assertLess(ticks(got["lastUpdateDateTime"]), ticks(now) - 3000 * 10 ** 7)
        incident = self.data(INCIDENTS)[0]
        self.post("changes/comment", {"collection": INCIDENTS, "id": incident["id"],
                                      "comment": "late note", "by": "ana@contoso.com"})
        self.post("changes/update", {"collection": INCIDENTS, "id": incident["id"],
                                     "set": {"status": "inProgress"}, "by": "ana@contoso.com"})
        got = self.get_json(INCIDENTS + "/" + incident["id"])
        self.assertEqual(got["comments"][-1]["comment"], "late note")
        self.assertEqual((got["status"], got["lastModifiedBy"]), ("inProgress",
                                                                  "ana@contoso.com"))
        self.post("changes/update", {"collection": ALERTS, "id": alert["id"],
                                     "set": {"status": "bogus"}}, 400)
        self.post("changes/update", {"collection": ALERTS, "id": alert["id"],
                                     "set": {"nope": 1}}, 400)
        self.post("changes/update", {"collection": ALERTS, "id": "nope",
                                     "set": {"status": "new"}}, 404)
        self.post("changes/delete", {"collection": ALERTS, "id": alert["id"]}, 400)
        self.post("changes/nope", {}, 404)

    def test_late_alerts_appear_only_after_the_call(self):
        before = self.ids(ALERTS + "?$top=2000")
        incident = self.data(INCIDENTS)[3]
        created = self.post("changes/create", {"collection": ALERTS, "count": 3,
                                               "age_seconds": 600,
                                               "incident_id": incident["id"]})["created"]
        now = ticks(self.control_json("GET", "clock")["now"])
        after = self.ids(ALERTS + "?$top=2000")
        self.assertEqual(len(after), len(before) + 3)
        self.assertEqual(set(after) - set(before), set(created))
        for alert_id in created:
            alert = self.get_json(ALERTS + "/" + alert_id)
            self.assertEqual(alert["incidentId"], incident["id"])
            self.assertEqual(alert["tenantId"], "11111111-2222-3333-4444-555555555555")
            age = now - ticks(alert["createdDateTime"])
            self.assertTrue(590 * 10 ** 7 < age < 700 * 10 ** 7, age)
            self.assertEqual(alert["lastUpdateDateTime"], alert["createdDateTime"])
        members = self.ids(INCIDENTS + "/%s/alerts" % incident["id"])
        self.assertLessEqual(set(created), set(members))
        got = self.get_json(INCIDENTS + "/" + incident["id"])
        self.assertGreaterEqual(ticks(got["lastUpdateDateTime"]),
                                ticks(self.get_json(ALERTS + "/" + created[0])[
                                    "lastUpdateDateTime"]))
        restored = self.control_json("POST", "restore")["restored"]
        self.assertGreaterEqual(restored, 4)
        self.assertEqual(self.ids(ALERTS + "?$top=2000"), before)
        self.assertEqual(self.get(ALERTS + "/" + created[0]).status, 404)

    def test_random_changes_are_seeded(self):
        spec = {"seed": 5, "alert_updates": 6, "incident_updates": 3, "comments": 2,
                "new_alerts": 2, "late_alerts": 3, "late_min_age_seconds": 120,
                "late_max_age_seconds": 300, "user_updates": 2, "user_creates": 1,
                "user_deletes": 1, "device_updates": 2, "device_creates": 1,
                "device_deletes": 1}
        first = self.post("changes/random", spec)
        self.assertEqual([len(first[k]) for k in (
            "alerts_updated", "incidents_updated", "comments", "alerts_created",
            "alerts_late", "users_updated", "users_created", "users_deleted",
            "devices_updated", "devices_created", "devices_deleted")],
            [6, 3, 2, 2, 3, 2, 1, 1, 2, 1, 1])
        now = ticks(self.control_json("GET", "clock")["now"])
        for alert_id in first["alerts_late"]:
            age = now - ticks(self.get_json(ALERTS + "/" + alert_id)["createdDateTime"])
            self.assertTrue(110 * 10 ** 7 < age < 320 * 10 ** 7, age)
        self.assertEqual(self.get(USERS + "/" + first["users_deleted"][0]).status, 404)
        self.control("POST", "restore")
        again = self.post("changes/random", spec)
        for key in ("alerts_updated", "incidents_updated", "comments", "users_updated",
                    "users_deleted", "devices_updated", "devices_deleted"):
            self.assertEqual(first[key], again[key], key)
        self.post("changes/random", {"nope": 1}, 400)

    def test_directory_changes_and_restore(self):
        user = self.data(USERS)[20]
        before = self.get_json("%s/%s?$select=aboutMe,jobTitle" % (USERS, user["id"]))
        self.post("changes/update", {"collection": USERS, "id": user["id"],
                                     "set": {"aboutMe": "changed", "jobTitle": "CTO"}})
        after = self.get_json("%s/%s?$select=aboutMe,jobTitle" % (USERS, user["id"]))
        self.assertEqual((after["aboutMe"], after["jobTitle"]), ("changed", "CTO"))
        device = self.data(DEVICES)[30]
        self.post("changes/delete", {"collection": DEVICES, "id": device["id"]})
        self.assertNotIn(device["id"], self.ids(DEVICES + "?$top=999"))
        self.post("changes/undelete", {"collection": DEVICES, "id": device["id"]}, 404)
        created = self.post("changes/create", {"collection": DEVICES, "count": 2,
                                               "set": {"displayName": "NEW-ONE"}})["created"]
        names = {d["id"]: d["displayName"] for d in self.follow(DEVICES + "?$top=999")[0]}
        self.assertEqual([names[c] for c in created], ["NEW-ONE", "NEW-ONE"])
        self.post("changes/create", {"collection": MANAGED}, 400)
        self.post("changes/update", {"collection": USERS, "id": user["id"],
                                     "set": {"accountEnabled": "yes"}}, 400)
        self.control("POST", "restore")
        self.assertEqual(self.get_json("%s/%s?$select=aboutMe,jobTitle"
                                       % (USERS, user["id"])), before)
        self.assertEqual(self.ids(DEVICES + "?$top=999"), self.data_ids(DEVICES))

    def test_clock(self):
        self.assertEqual(self.post("clock", {"now": "2026-07-01T00:00:00Z"})["now"][:16],
                         "2026-07-01T00:00")
        self.assertTrue(self.post("clock", {"advance_seconds": 86400})["now"].startswith(
            "2026-07-02T00:00"))
        self.post("clock", {"now": "bad"}, 400)
        self.post("clock", {}, 400)


# ======================================================================================
class TestTenants(DirectoryCase):
    """Several tenants from one server."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        add = cls.httpd.tenants.add
        cls.other = add(tenants.parse_option(SECOND_TENANT + ":alerts=25,incidents=5,seed=7,"
                                             "users=60,domain=fabrikam.onmicrosoft.com"))
        cls.failing = add(tenants.parse_option("33333333-3333-4333-8333-333333333333:fault=500"))
        cls.hanging = add(tenants.parse_option("44444444-4444-4444-8444-444444444444:fault=hang"))
        cls.rotated = add(tenants.parse_option("55555555-5555-4555-8555-555555555555:"
                                               "admin-secret=rotated~secret"))

    def token_for(self, tenant_segment, secret=None):
        form = self.form(**({"client_secret": secret} if secret else {}))
        return self.token_request(form, tenant_segment=tenant_segment)

    def test_each_tenant_has_its_own_data(self):
        reply = self.token_for("fabrikam.onmicrosoft.com")
        self.assertEqual(reply.status, 200)
        token = reply.json()["access_token"]
        alerts = self.ids(ALERTS + "?$top=2000", token=token)
        self.assertEqual(len(alerts), 25)
        page = self.get_json(ALERTS + "?$top=3", token=token)
        self.assertTrue(all(a["tenantId"] == SECOND_TENANT for a in page["value"]))
        self.assertEqual(len(self.ids(USERS + "?$top=999", token=token)),
                         len(self.other.data.collection(USERS)))
        self.assertNotEqual(set(alerts), set(self.ids(ALERTS + "?$top=2000")))
        dump = self.control("GET", "tenants/%s/data/v1.0/%s" % (SECOND_TENANT, ALERTS)).lines()
        self.assertEqual([a["id"] for a in dump], alerts)
        by_id = self.token_for(SECOND_TENANT.upper()).json()["access_token"]
        self.assertEqual(len(self.ids(ALERTS + "?$top=2000", token=by_id)), 25)
        minted = self.control_json("POST", "token", {"tenant": SECOND_TENANT})
        self.assertEqual(len(self.ids(ALERTS + "?$top=2000", token=minted["access_token"])),
                         25)
        self.assertEqual(self.token_for("66666666-6666-4666-8666-666666666666").json()[
            "error_codes"], [90002])

    def test_secrets_and_faults_per_tenant(self):
        refused = self.token_for(self.rotated.tenant_id)
        self.assertEqual((refused.status, refused.json()["error_codes"]), (401, [7000215]))
        self.assertEqual(self.token_for(self.rotated.tenant_id, "rotated~secret").status, 200)
        token = self.token_for(self.failing.tenant_id).json()["access_token"]
        for _ in range(3):
            self.assertGraphError(self.get(ALERTS + "?$top=1", token=token), 500,
                                  "InternalServerError")
        token = self.token_for(self.hanging.tenant_id).json()["access_token"]
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=0.5)
        conn.request("GET", "/v1.0/" + ALERTS, headers={"Authorization": "Bearer " + token})
        with self.assertRaises(OSError):
            conn.getresponse()
        conn.close()
        entries = self.control("GET", "requests").lines()
        self.assertEqual([e.get("fault") for e in entries if e["kind"] == "graph"][:3],
                         ["status"] * 3)
        self.assertEqual({e["tenant"] for e in entries if e["kind"] == "token"},
                         {self.rotated.tenant_id, self.failing.tenant_id,
                          self.hanging.tenant_id})
        # the control API changes them; a reset puts back the command line's
        changed = self.control_json("POST", "tenants/" + self.failing.tenant_id,
                                    {"fault": None})
        self.assertIsNone(changed["fault"])
        self.assertEqual(self.get(ALERTS + "?$top=1", token=self.token_for(
            self.failing.tenant_id).json()["access_token"]).status, 200)
        self.control("POST", "reset")
        self.assertEqual(self.control_json("GET", "tenants/" + self.failing.tenant_id)[
            "fault"]["status"], 500)

    def test_listing_and_adding(self):
        listing = self.control_json("GET", "tenants")
        self.assertEqual([t["primary"] for t in listing][:5], [True] + [False] * 4)
        other = [t for t in listing if t["id"] == SECOND_TENANT][0]
        self.assertEqual((other["domain"], other["counts"]["alerts"], other["seed"]),
                         ("fabrikam.onmicrosoft.com", 25, "7"))
        self.assertEqual(other["counts"]["devices"], DEFAULT_COUNTS[DEVICES])
        reply = self.control("POST", "tenants", {"id": "77777777-7777-4777-8777-777777777777",
                                                 "counts": {"alerts": 4, "incidents": 2}})
        self.assertEqual(reply.status, 201, reply.body)
        token = self.token_for("77777777-7777-4777-8777-777777777777").json()["access_token"]
        self.assertEqual(len(self.ids(ALERTS, token=token)), 4)
        for bad in ({"id": "not-a-guid"}, {"id": SECOND_TENANT},
                    {"id": "88888888-8888-4888-8888-888888888888", "counts": {"x": 1}},
                    {"id": "88888888-8888-4888-8888-888888888888", "fault": "sometimes"}):
            self.assertEqual(self.control("POST", "tenants", bad).status, 400, bad)
        self.assertEqual(self.control("POST", "changes/update", {
            "tenant": "nope", "collection": ALERTS, "id": "x", "set": {}}).status, 404)

    def test_throttle_budgets_are_per_tenant(self):
        self.control("POST", "config", {"throttle": True, "throttle_security_per_minute": 2})
        mine = self.token
        theirs = self.token_for(SECOND_TENANT).json()["access_token"]
        for _ in range(2):
            self.assertEqual(self.get(ALERTS + "?$top=1", token=mine).status, 200)
        self.assertEqual(self.get(ALERTS + "?$top=1", token=mine).status, 429)
        self.assertEqual(self.get(ALERTS + "?$top=1", token=theirs).status, 200)

    def test_command_line(self):
        args = graph_emulator.parse_args([
            "--users", "70", "--managed-devices", "20",
            "--tenant", SECOND_TENANT + ":alerts=2000,seed=7,fault=hang,reader_secret=r"])
        counts = graph_emulator.counts_from(args)
        self.assertEqual((counts[USERS], counts[MANAGED]), (70, 20))
        self.assertEqual(args.tenant, [{"id": SECOND_TENANT, "counts": {"alerts": 2000},
                                        "seed": "7", "fault": "hang",
                                        "secrets": {READER[0]: "r"}}])
        for bad in ("x:alerts=1", SECOND_TENANT + ":alerts", SECOND_TENANT + ":nope=1"):
            done = subprocess.run([sys.executable, os.path.join(HERE, "graph_emulator.py"),
                                   "--tenant", bad], capture_output=True, timeout=60)
            self.assertEqual((done.returncode, done.stdout), (2, b""), bad)


# ======================================================================================
class TestDirectoryThrottle(unittest.TestCase):
    """Resource units of directory objects and Intune's rate (no HTTP but one
    server test)."""

    def settings(self, **over):
        values = dict(throttle=True, throttle_security_per_minute=150,
                      throttle_secure_score_concurrency=4, throttle_hunting_per_minute=45,
                      throttle_identity_per_second=1, throttle_directory_units_per_10s=-1,
                      throttle_intune_per_20s=2000, throttle_intune_tenant_per_20s=4000)
        values.update(over)
        return SimpleNamespace(**values)

    def test_resource_units(self):
        units = throttle.resource_units
        self.assertEqual(units(["users"], {}), 2)
        self.assertEqual(units(["users"], {"$select": "id", "$top": "5"}), 1)
        self.assertEqual(units(["users", "x"], {}), 1)
        self.assertEqual(units(["users", "delta"], {"$select": "id"}), 4)
        self.assertEqual(units(["devices(deviceId='x')"], {"$expand": "m"}), 2)

    def test_units_window_and_size(self):
        now = [100.0]
        limiter = throttle.Limiter(lambda: now[0])
        limiter.tenant_users = {"small": 20, "big": 900}.get
        token = identity.Token(identity.ADMIN, "small", "s", 1e12)
        self.assertEqual(limiter.directory_limit(token, self.settings()), 3500)
        self.assertEqual(limiter.directory_limit(identity.Token(identity.ADMIN, "big", "s",
                                                                1e12), self.settings()), 8000)
        s = self.settings(throttle_directory_units_per_10s=5)
        for _ in range(2):
            self.assertIsNotNone(limiter.admit(["users"], token, s, ""))
        now[0] += 4
        with self.assertRaises(throttle.Throttled) as refused:
            limiter.admit(["users"], token, s, "")
        self.assertEqual(refused.exception.retry_after, "6.000")
        self.assertIn(("x-ms-throttle-information", "ResourceUnitLimitExceeded"),
                      refused.exception.headers)
        self.assertIsNotNone(limiter.admit(["users"], token, s, "$select=id"))   # 1 unit
        other = identity.Token(identity.APPS[1], "small", "s", 1e12)
        self.assertIsNotNone(limiter.admit(["users"], other, s, ""))        # per app
        now[0] += 6
        self.assertIsNotNone(limiter.admit(["users"], token, s, ""))
        self.assertIsNone(limiter.admit(["users"], token, self.settings(
            throttle_directory_units_per_10s=0), ""))
        # Intune: requests per 20 s per app and tenant
        s = self.settings(throttle_intune_per_20s=2)
        for _ in range(2):
            limiter.admit(["deviceManagement", "managedDevices"], token, s, "")
        with self.assertRaises(throttle.Throttled) as refused:
            limiter.admit(["deviceManagement", "managedDevices"], token, s, "")
        self.assertEqual(refused.exception.scope, throttle.INTUNE)

    def test_over_http(self):
        data = tenant.Tenant("42", NOW_TICKS, dict(DEFAULT_COUNTS, **{ALERTS: 5}))
        httpd = server.EmulatorServer(data, quiet=True)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        try:
            def get(path, token):
                conn = http.client.HTTPConnection("127.0.0.1", httpd.port, timeout=10)
                conn.request("GET", "/v1.0/" + path,
                             headers={"Authorization": "Bearer " + token})
                resp = conn.getresponse()
                resp.read()
                conn.close()
                return resp
            httpd.config.update({"throttle": True, "throttle_directory_units_per_10s": 4})
            token = httpd.tokens.issue(identity.ADMIN, identity.GRAPH_SCOPES[0], 600)
            self.assertEqual([get(USERS, token).status for _ in range(2)], [200, 200])
            refused = get(USERS, token)
            self.assertEqual(refused.status, 429)
            self.assertIsNotNone(refused.getheader("Retry-After"))
            self.assertTrue(refused.getheader("x-ms-throttle-scope").startswith(
                "Tenant_Application/"))
            self.assertEqual(get(ALERTS, token).status, 200)    # another budget
        finally:
            httpd.stop()


if __name__ == "__main__":
    unittest.main()
