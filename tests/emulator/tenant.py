"""The emulated tenant: seeded, realistic data for the six collections.

Design assumptions:

* Determinism.  Each collection draws from its own random.Random seeded
  with "<seed>/<collection>" (string seeds are hashed with SHA-512, so they
  do not depend on PYTHONHASHSEED), nothing iterates a set or a dict whose
  order could vary, and the same seed and counts give byte-identical
  documents.  Alerts depend on the incidents they link to, so changing the
  incident count changes alerts too; the other collections are independent.
* Shape.  Each document is the dict Graph would send, keys in CSDL order
  (id first, then alphabetical), "@odata.type" first where list items carry
  it.  Timestamps are UTC strings with 'Z' and 0-7 fractional digits (mostly
  7), always before --now.  Enum values come from the CSDL members, starred
  (evolvable) ones included now and then; the sentinel itself is never
  stored.  Nullable properties are sometimes null, non-nullable ones never.
* Variety that catches client bugs: accents, CJK, emoji, quotes of both
  kinds, backslashes, "%&#+/", a few 10-100 KB descriptions, device names
  and user principal names drawn from small pools so that several alerts
  share them (joins, lambdas), mixed-case variants of a few of them (case
  sensitivity), and alerts that share a createdDateTime (tie-breaking).
* Speed and memory.  Device and user profiles are built once and shared by
  every evidence item that mentions them; documents are never mutated after
  generation, so sharing is safe.  200,000 alerts take about 20 s.
"""

import bisect
import gc
import itertools
import json
import random

import directory_data
import schema
import timestamps as ts

TENANT_ID = "11111111-2222-3333-4444-555555555555"
TENANT_DOMAIN = "contoso.onmicrosoft.com"
DAY = ts.TICKS_PER_DAY
HOUR = DAY // 24
MINUTE = HOUR // 60
SECOND = ts.TICKS_PER_SECOND

# .NET ticks at the Unix epoch: MDE alert ids embed the creation time this way
DOTNET_EPOCH_TICKS = 621_355_968_000_000_000

# --- static pools --------------------------------------------------------------

SPECIAL_DISPLAY_NAMES = (
    "José Müller", "王小明", "Zoë 🚀 Rocket", "Siobhán O'Brien",
    'Robert "Bob" Tables', "佐藤 花子", "Łukasz Wiśniewski", "김민준",
    "CONTOSO\\svc-backup", "Ops & Sec #1 (50% + 50%)", "Amélie Lefèvre",
    "Nguyễn Văn An",
)
FIRST_NAMES = (
    "Ana", "Björn", "Chloé", "Dmitri", "Élodie", "Fatma", "Hiroshi", "Ingrid",
    "Jürgen", "Kwame", "Leïla", "Mateus", "Ngozi", "Olivia", "Priya",
    "Quentin", "Rafał", "Søren", "Tomás", "Ümit", "Wei", "Xiomara", "Yusuf",
    "Zeynep", "Aisha", "Bruno", "Carmen", "Dara",
)
LAST_NAMES = (
    "O'Connor", "Müller", "García", "Kowalski", "Ødegård", "Núñez", "Dubois",
    "Ivanova", "Yılmaz", "Tanaka", "Andersson", "D'Angelo", "Mensah",
    "Haddad", "Silva", "Smith", "Patel", "Okafor", "Rossi", "Novák",
)
# ASCII local parts for the special names above (UPNs are ASCII)
SPECIAL_LOCAL_PARTS = (
    "jose.muller", "xiaoming.wang", "zoe.rocket", "siobhan.o'brien",
    "bob.tables", "hanako.sato", "lukasz.wisniewski", "minjun.kim",
    "svc-backup", "ops+sec", "amelie.lefevre", "an.nguyen",
)
ASCII_FOLD = str.maketrans({
    "á": "a", "à": "a", "ä": "a", "å": "a", "ã": "a", "ç": "c", "é": "e",
    "è": "e", "ë": "e", "í": "i", "ï": "i", "ł": "l", "ñ": "n", "ó": "o",
    "ö": "o", "ø": "o", "Ø": "o", "ß": "ss", "ú": "u", "ü": "u", "Ü": "u",
    "ı": "i", "É": "e", "ş": "s", "ğ": "g", "ň": "n", "'": "",
})
DEVICE_NAMES = (
    "ws-017.contoso.local", "ws-042.contoso.local", "ws-108.contoso.local",
    "lt-amelie.contoso.local", "lt-jose.contoso.local", "srv-sql-01.contoso.local",
    "srv-sql-02.contoso.local", "srv-web-01.contoso.local", "dc01.corp.contoso.com",
    "dc02.corp.contoso.com", "build-agent-7.contoso.local", "kiosk-lobby.contoso.local",
    "WS-UPPER.CONTOSO.LOCAL", "mac-studio-9.contoso.local", "vm-linux-03.contoso.local",
    "jump-host.contoso.local", "hr-laptop-12.contoso.local", "fin-ws-33.contoso.local",
)
OS_PLATFORMS = ("Windows11", "Windows10", "WindowsServer2022", "WindowsServer2019",
                "macOS", "Linux")
CATEGORIES = ("Execution", "InitialAccess", "CredentialAccess", "LateralMovement",
              "Persistence", "DefenseEvasion", "Discovery", "Exfiltration",
              "CommandAndControl", "SuspiciousActivity", "Malware", "Ransomware")
MITRE = ("T1059.001", "T1003.001", "T1566.002", "T1078", "T1110.003", "T1486",
         "T1021.002", "T1564.001", "T1105", "T1547.001", "T1071.001", "T1562.001")
TITLES = (
    "Suspicious PowerShell command line",
    "'Mimikatz' credential theft tool",
    'Possible "pass-the-hash" attack',
    "Ransomware behavior: files encrypted under C:\\Users\\Public\\",
    "Email messages containing malicious URL removed after delivery",
    "Anomalous token 🔑 usage",
    "Connexion suspecte depuis une adresse IP inhabituelle",
    "異常なサインイン アクティビティ",
    "Unusual file deletion (50% + more) & exfiltration #2 to /tmp",
    "Suspicious inbox forwarding rule",
    "Password spray against multiple accounts",
    "Activity from infrequent country",
    "Malware detected: Trojan:Win32/Emotet.A!ml",
    "Suspected DCSync attack (replication of directory services)",
    "Multi-stage attack on one endpoint",
    "Sensitive file shared externally",
)
ANALYSTS = ("soc1@contoso.com", "Siobhán O'Brien", "王小明", "Automation",
            'Robert "Bob" Tables', "soc-team@contoso.com")
ASSIGNEES = ("soc1@contoso.com", "soc2@contoso.com", "SOC1@Contoso.com",
             "siobhan.o'brien@contoso.com", "ops+sec@contoso.com",
             "Automation", "jose.muller@contoso.com")
COMMENT_TEXTS = (
    "triage started", "Escalated to tier 2 👀", "False positive: it's the backup job",
    'User confirmed "expected" activity', "Path was C:\\Temp\\x.ps1 & more",
    "调查中", "50% done; see ticket #42 / INC+7", "Réinitialisation du mot de passe",
)
ACTORS = ("Midnight Blizzard", "Storm-0558", "Sangria Tempest", "Octo Tempest")
THREATS = (("Trojan:Win32/Emotet.A!ml", "Emotet"), ("Ransom:Win64/LockBit.B", "LockBit"),
           ("HackTool:Win32/Mimikatz", "Mimikatz"), ("Backdoor:Linux/Mirai.C", "Mirai"))
LOCATIONS = (
    ("Lisbon", "Lisboa", "PT", 38.72, -9.14), ("São Paulo", "São Paulo", "BR", -23.55, -46.63),
    ("Zürich", "Zürich", "CH", 47.37, 8.54), ("東京", "東京都", "JP", 35.68, 139.69),
    ("Kraków", "Małopolskie", "PL", 50.06, 19.94), ("Montréal", "Québec", "CA", 45.5, -73.57),
    ("Reykjavík", None, "IS", 64.15, -21.94), ("Redmond", "Washington", "US", 47.67, -122.12),
    ("Lagos", "Lagos", "NG", 6.52, 3.38), (None, None, "RU", None, None),
)
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0",
    "python-requests/2.31.0", "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0)",
    "curl/8.5.0", 'Weird "agent" \\ with % & # + / chars',
)
RISK_EVENT_TYPES = (
    "unlikelyTravel", "anonymizedIPAddress", "maliciousIPAddress", "unfamiliarFeatures",
    "malwareInfectedIPAddress", "suspiciousIPAddress", "leakedCredentials",
    "investigationsThreatIntelligence", "generic", "adminConfirmedUserCompromised",
    "passwordSpray", "impossibleTravel", "newCountry", "anomalousToken",
    "tokenIssuerAnomaly", "suspiciousBrowser", "riskyIPAddress",
    "mcasSuspiciousInboxManipulationRules", "suspiciousInboxForwarding",
    "anomalousUserActivity", "suspiciousAPITraffic",
)
SP_RISK_EVENT_TYPES = (
    "investigationsThreatIntelligence", "generic", "adminConfirmedServicePrincipalCompromised",
    "suspiciousSignins", "leakedCredentials", "anomalousServicePrincipalActivity",
    "maliciousApplication", "suspiciousApplication", "suspiciousAPITraffic",
)
SERVICE_PRINCIPAL_NAMES = (
    "Contoso Überwachung App", "Fabrikam 'Legacy' Sync", "HR-Connector (prod)",
    "数据同步服务", "Backup \\ Restore Agent", "Deploy Bot 🤖", "Reporting & BI #3",
    "Mail+Calendar Relay",
)
CONTROL_NAMES = (
    ("AdminMFAV2", "Identity",
     "Ensure multifactor authentication is enabled for all users in administrative roles"),
    ("BlockLegacyAuthentication", "Identity", "Enable policy to block legacy authentication"),
    ("PWAgePolicyNew", "Identity", "Do not expire passwords"),
    ("SelfServicePasswordReset", "Identity", "Enable self-service password reset"),
    ("mdo_safelinksforOfficeApps", "Apps", "Ensure Safe Links for Office applications is enabled"),
    ("mdo_atpprotection", "Apps",
     "Turn on Defender for Office 365 in SharePoint, OneDrive & Teams"),
    ("scid_2010", "Device", "Turn on Microsoft Defender Antivirus PUA protection in block mode"),
    ("scid_5095", "Device", "Disable 'Allow Basic authentication' for WinRM Client"),
    ("DLPEnabled", "Data", "Use DLP policies to protect sensitive data"),
    ("aad_sign_in_risk_policy", "Identity", "Turn on sign-in risk policy"),
)

# serviceSource -> (weight, alert id prefix, productName, detection sources)
SERVICE_SOURCES = (
    ("microsoftDefenderForEndpoint", 35, "da", "Microsoft Defender for Endpoint",
     ("microsoftDefenderForEndpoint", "antivirus", "smartScreen", "customDetection",
      "automatedInvestigation", "customTi", "microsoftThreatExperts")),
    ("microsoftDefenderForOffice365", 14, "fa", "Microsoft Defender for Office 365",
     ("microsoftDefenderForOffice365", "automatedInvestigation")),
    ("microsoftDefenderForIdentity", 10, "aa", "Microsoft Defender for Identity",
     ("microsoftDefenderForIdentity",)),
    ("microsoftDefenderForCloudApps", 9, "ca", "Microsoft Defender for Cloud Apps",
     ("cloudAppSecurity",)),
    ("microsoft365Defender", 8, "ed", "Microsoft 365 Defender",
     ("microsoft365Defender", "customDetection")),
    ("azureAdIdentityProtection", 6, "ad", "Azure AD Identity Protection",
     ("azureAdIdentityProtection",)),
    ("microsoftAppGovernance", 3, "ag", "App Governance",
     ("appGovernancePolicy", "appGovernanceDetection")),
    ("dataLossPrevention", 3, "dl", "Microsoft Data Loss Prevention",
     ("microsoftDataLossPrevention", "manual")),
    ("unknown", 1, "ed", None, ("unknown", "manual")),
    ("microsoftDefenderForCloud", 3, "dc", "Microsoft Defender for Cloud",
     ("microsoftDefenderForCloud", "microsoftDefenderForServers",
      "microsoftDefenderForStorage", "microsoftDefenderForKeyVault")),
    ("microsoftSentinel", 4, "sn", "Microsoft Sentinel",
     ("scheduledAlerts", "nrtAlerts", "microsoftSentinel")),
    ("microsoftInsiderRiskManagement", 1, "ir", "Insider Risk Management",
     ("microsoftInsiderRiskManagement",)),
    ("microsoftThreatIntelligence", 1, "ti", "Microsoft Threat Intelligence",
     ("microsoftThreatIntelligence",)),
    ("microsoftSecurityForAI", 1, "ai", "Microsoft Security for AI",
     ("microsoftDefenderForAIServices", "securityCopilot")),
)

DETERMINATIONS = {
    "truePositive": ("apt", "malware", "multiStagedAttack", "compromisedAccount",
                     "phishing", "maliciousUserActivity", "unwantedSoftware", "other"),
    "falsePositive": ("notMalicious", "notEnoughDataToValidate", "other"),
    "informationalExpectedActivity": ("securityTesting", "securityPersonnel",
                                      "confirmedActivity", "lineOfBusinessApplication",
                                      "other"),
    "unknown": ("unknown",),
}


_WEIGHT_CACHE = {}


class Rng(random.Random):
    """random.Random with the few draws the generator needs, kept cheap."""

    def chance(self, p):
        return self.random() < p

    def pick(self, seq):
        return seq[int(self.random() * len(seq))]

    def weighted(self, table):
        """Pick from ((value, weight), ...); weights need not sum to 1.

        The cumulative weights are computed once per table.  Tables are
        literal tuples (one object per call site) or long-lived attributes;
        the cache keeps a reference to each so that its id stays unique.
        """
        entry = _WEIGHT_CACHE.get(id(table))
        if entry is None:
            cumulative = list(itertools.accumulate(w for _, w in table))
            entry = (table, [v for v, _ in table], cumulative, cumulative[-1])
            _WEIGHT_CACHE[id(table)] = entry
        _, values, cumulative, total = entry
        return values[bisect.bisect_right(cumulative, self.random() * total)]

    def maybe(self, p_null, value):
        return None if self.random() < p_null else value

    def guid(self):
        h = "%032x" % self.getrandbits(128)
        return "%s-%s-4%s-%s%s-%s" % (h[:8], h[8:12], h[13:16],
                                      "89ab"[int(h[16], 16) & 3], h[17:20], h[20:])

    def hex(self, digits):
        return "%0*x" % (digits, self.getrandbits(digits * 4))

    def between(self, lo, hi):
        """A tick in [lo, hi)."""
        return lo + int(self.random() * max(1, hi - lo))

    def stamp(self, ticks):
        """Format ticks with 0-7 fractional digits, mostly 7."""
        digits = 7 if self.random() < 0.8 else int(self.random() * 7)
        return ts.format_ticks(ts.truncate(ticks, digits), digits)

    def ipv4(self):
        net = self.pick(("192.0.2.", "198.51.100.", "203.0.113."))
        return net + str(1 + int(self.random() * 254))

    def ip(self):
        if self.random() < 0.15:
            return "2001:db8::%x:%x" % (self.getrandbits(16), self.getrandbits(16))
        return self.ipv4()


def make_rng(seed, name):
    return Rng("%s/%s" % (seed, name))


def long_text(rng, size):
    """A description of about `size` characters, with every awkward char class."""
    paragraph = ("Défense en profondeur: the process \"powershell.exe\" ran "
                 "'Invoke-Expression' from C:\\Users\\Public\\run.ps1 — 50%% "
                 "& rising #%d + /tmp/x?y=1 ✅ 検出. ")
    parts = []
    n = 0
    while n < size:
        p = paragraph % len(parts)
        parts.append(p)
        n += len(p)
    return "".join(parts)


class Collection:
    """The entities of one resource, with the lookups the handlers need.

    `docs` keeps generation order, which is the stable default order of
    the identity protection lists.  Comparison columns (ticks for
    timestamps) and sort orders are built on first use and kept.

    Documents are never mutated: a write (writes.py) puts a new dict in
    place with replace(), which drops the columns and orders that the
    change may have made stale.  `version` counts replacements; a column
    or order computed while a replacement happened is not kept, so a
    reader racing a writer can never leave a stale one behind.
    """

    def __init__(self, resource, docs, details=None):
        self.resource = resource
        self.docs = docs
        self.index = {doc["id"]: i for i, doc in enumerate(docs)}
        self.version = 0
        self._columns = {}
        self._orders = {}
        # properties only a single GET with $select shows (directory.py):
        # one dict per entity, or None
        self.details = details
        # entities removed by a control call (index -> (change seq, soft)),
        # and the change history the delta query reads: (seq, index, kind,
        # properties), kind "create", "update", "delete" or "restore"
        self.deleted = {}
        self.changes = []
        self.seq = 0

    def __len__(self):
        return len(self.docs)

    def replace(self, i, doc, changed=None):
        """Make `doc` entity i; `changed` names the properties that differ
        (None: any of them).  The id must stay the same."""
        self.docs[i] = doc
        self.version += 1
        if changed is None:
            self._columns.clear()
            self._orders.clear()
            return
        for name in changed:
            self._columns.pop(name, None)
        for key in list(self._orders):
            prop = key[1] if key[0] == "rank" else key[0]
            if prop in changed:
                self._orders.pop(key, None)

    def column(self, name):
        """Values of one property for every entity, comparable form.

        Timestamps become ticks (None stays None).  The pseudo columns
        "evidence:device" and "evidence:upn" hold, per alert, the tuple of
        deviceDnsName / userAccount.userPrincipalName of its evidence.
        """
        col = self._columns.get(name)
        if col is None:
            version = self.version
            col = self._build_column(name)
            if self.version == version:
                self._columns[name] = col
        return col

    def _build_column(self, name, docs=None):
        """The column `name` of `docs` (default: every entity)."""
        docs = self.docs if docs is None else docs
        if name == "evidence:device":
            return [_evidence_values(d, "deviceEvidence", ("deviceDnsName",))
                    for d in docs]
        if name == "evidence:upn":
            return [_evidence_values(d, "userEvidence",
                                     ("userAccount", "userPrincipalName"))
                    for d in docs]
        if "/" in name:
            return self._nested_column(name, docs)
        prop = self.resource.property(name)
        if prop is not None and prop.type == schema.DATETIME:
            parse = ts.parse_generated
            return [None if d.get(name) is None else parse(d[name])
                    for d in docs]
        return [d.get(name) for d in docs]

    def _nested_column(self, name, docs):
        """A dotted path of a directory object ("signInActivity/lastSignInDateTime"),
        or a collection's members for its any() lambda ("assignedLicenses/skuId"):
        a tuple of the members' values."""
        rules = self.resource.directory
        head, _, member = name.partition("/")
        if rules.lambda_members and head in rules.lambda_members:
            return [tuple(item.get(member) for item in d.get(head) or ()
                          if isinstance(item, dict)) for d in docs]
        kind = (rules.nested or {}).get(name)
        values = []
        for d in docs:
            outer = d.get(head)
            value = outer.get(member) if isinstance(outer, dict) else None
            if value is not None and kind == schema.DATETIME:
                value = ts.parse_generated(value)
            values.append(value)
        return values

    def order(self, prop=None, descending=False):
        """Entity indices sorted by `prop` (ties by id), or generation order.

        OData sorts null before every value, so nulls come first ascending
        and last descending; descending is the exact reverse of ascending,
        ties included.
        """
        key = (prop, descending)
        result = self._orders.get(key)
        if result is None:
            version = self.version
            alive = range(len(self.docs))
            if self.deleted:
                deleted = self.deleted
                alive = [i for i in alive if i not in deleted]
            if prop is None:
                result = list(alive)
            else:
                col = self.column(prop)
                ids = self.column("id")
                result = sorted(alive, key=lambda i: (
                    col[i] is not None, col[i] or 0, ids[i]))
                if descending:
                    result.reverse()
            if self.version == version:
                self._orders[key] = result
        return result

    def rank(self, prop, descending):
        """rank[i] = position of entity i in order(prop, descending)."""
        key = ("rank", prop, descending)
        result = self._orders.get(key)
        if result is None:
            version = self.version
            result = [len(self.docs)] * len(self.docs)
            for position, i in enumerate(self.order(prop, descending)):
                result[i] = position
            if self.version == version:
                self._orders[key] = result
        return result

    def default_order(self):
        if self.resource.default_order is None:
            return self.order()
        return self.order(*self.resource.default_order)

    # --- growth, removal and history (control changes; delta queries) ----------
    def append(self, docs, details=None):
        """Add entities after the last one; return their indices.

        The caller has grown the renderers first (EntityRenderer.resize), so
        that a reader never meets an index it has no slot for.  Cached
        columns are extended in place; orders are rebuilt on next use.
        """
        start = len(self.docs)
        for name, col in list(self._columns.items()):
            col.extend(self._build_column(name, docs))
        if self.details is not None:
            self.details.extend(details or [{} for _ in docs])
        self.docs.extend(docs)
        for n, doc in enumerate(docs):
            self.index[doc["id"]] = start + n
        self.version += 1
        self._orders.clear()
        return list(range(start, len(self.docs)))

    def remove(self, i, soft):
        """Take entity i out of every list and get (a soft delete can be undone)."""
        self.deleted[i] = (self.seq, soft)
        self.index.pop(self.docs[i]["id"], None)
        self.version += 1
        self._orders.clear()

    def undelete(self, i):
        del self.deleted[i]
        self.index[self.docs[i]["id"]] = i
        self.version += 1
        self._orders.clear()

    def record(self, i, kind, props=None):
        """Note a change of entity i for the delta query; return its sequence."""
        self.seq += 1
        self.changes.append((self.seq, i, kind, frozenset(props or ())))
        return self.seq

    def truncate(self, length):
        """Back to the first `length` entities, none deleted, no history."""
        for i in range(length, len(self.docs)):
            self.index.pop(self.docs[i]["id"], None)
        del self.docs[length:]
        if self.details is not None:
            del self.details[length:]
        for i in self.deleted:
            if i < length:
                self.index[self.docs[i]["id"]] = i
        self.deleted.clear()
        self.changes.clear()
        self.version += 1
        self._columns.clear()
        self._orders.clear()


def _evidence_values(doc, type_suffix, path):
    wanted = "#microsoft.graph.security." + type_suffix
    values = []
    for item in doc.get("evidence") or ():
        if item.get("@odata.type") != wanted:
            continue
        value = item
        for step in path:
            value = value.get(step) if isinstance(value, dict) else None
        if isinstance(value, str):
            values.append(value)
    return tuple(values)


class Tenant:
    """All generated collections of the one registered tenant.

    `counts` maps resource names (schema.RESOURCES) to entity counts.
    Generation never changes a document afterwards; writes replace whole
    documents (Collection.replace).  `collections` maps resource
    names to Collection objects and `incident_alerts` maps an incident id to
    the indices of its alerts in the alerts' default order.
    """

    def __init__(self, seed, now_ticks, counts, tenant_id=None, domain=None):
        self.tenant_id = tenant_id or TENANT_ID
        self.domain = domain or TENANT_DOMAIN
        # UPNs and mail: contoso.com for the registered tenant, <label>.com
        # for the others (tenants.py)
        self.mail_domain = ("contoso.com" if self.domain == TENANT_DOMAIN
                            else self.domain.split(".")[0] + ".com")
        self.counts = dict(counts)
        # The documents are acyclic and live as long as the tenant, so the
        # cyclic collector only costs time here (a third of it at 200,000
        # alerts): pause it while generating.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            self._generate(seed, now_ticks, counts)
        finally:
            if was_enabled:
                gc.enable()

    def _generate(self, seed, now_ticks, counts):
        self.seed = seed
        self.now = now_ticks
        self.users = _user_directory(make_rng(seed, "users"),
                                     max(40, counts.get(schema.RISKY_USERS.name, 0)),
                                     self.mail_domain)
        self.devices = _device_profiles(make_rng(seed, "devices"), self.users[:24])
        self.service_principals = _service_principals(make_rng(seed, "sps"))
        incidents = IncidentGenerator(self, make_rng(seed, "incidents")).run(
            counts.get(schema.INCIDENTS.name, 0))
        # kept: new alerts (control changes) are made by the same generator,
        # with the same user accounts in their evidence
        self.alert_generator = AlertGenerator(self, make_rng(seed, "alerts"), incidents)
        alerts = self.alert_generator.run(counts.get(schema.ALERTS.name, 0))
        self.collections = {
            schema.ALERTS.name: Collection(schema.ALERTS, alerts),
            schema.INCIDENTS.name: Collection(schema.INCIDENTS, incidents),
            schema.SECURE_SCORES.name: Collection(
                schema.SECURE_SCORES, _secure_scores(
                    make_rng(seed, "secureScores"), now_ticks,
                    counts.get(schema.SECURE_SCORES.name, 0), self.tenant_id)),
            schema.RISK_DETECTIONS.name: Collection(
                schema.RISK_DETECTIONS, _risk_detections(
                    self, make_rng(seed, "riskDetections"),
                    counts.get(schema.RISK_DETECTIONS.name, 0))),
            schema.RISKY_USERS.name: Collection(
                schema.RISKY_USERS, _risky_users(
                    self, make_rng(seed, "riskyUsers"),
                    counts.get(schema.RISKY_USERS.name, 0))),
            schema.SP_RISK_DETECTIONS.name: Collection(
                schema.SP_RISK_DETECTIONS, _sp_risk_detections(
                    self, make_rng(seed, "spRiskDetections"),
                    counts.get(schema.SP_RISK_DETECTIONS.name, 0))),
        }
        # the inventories alerts point at (directory_data.py), each from a
        # random stream of its own
        self.collections.update(directory_data.generate(
            self, lambda name: make_rng(seed, name), counts))
        self.incident_alerts = self.link_incident_alerts()

    def collection(self, name):
        return self.collections[name]

    def link_incident_alerts(self):
        alerts = self.collections[schema.ALERTS.name]
        links = {doc["id"]: [] for doc in self.collections[schema.INCIDENTS.name].docs}
        for i in alerts.default_order():
            incident_id = alerts.docs[i]["incidentId"]
            if incident_id is not None:
                links[incident_id].append(i)
        return links


# --- shared pools ------------------------------------------------------------------

def _user_directory(rng, size, mail_domain="contoso.com"):
    """User objects: display name, UPN, account name, object id, SID."""
    users = []
    seen = set()
    for n in range(size):
        if n < len(SPECIAL_DISPLAY_NAMES):
            display, local = SPECIAL_DISPLAY_NAMES[n], SPECIAL_LOCAL_PARTS[n]
        else:
            first, last = rng.pick(FIRST_NAMES), rng.pick(LAST_NAMES)
            display = "%s %s" % (first, last)
            local = ("%s.%s" % (first, last)).lower().translate(ASCII_FOLD)
        base, k = local, 1
        while local in seen:
            k += 1
            local = "%s%d" % (base, k)
        seen.add(local)
        upn = local + "@" + mail_domain
        users.append({
            "displayName": display,
            "userPrincipalName": upn,
            "accountName": local.split("@")[0][:20],
            "id": rng.guid(),
            "sid": "S-1-5-21-1004336348-1177238915-682003330-%d" % (1100 + n),
        })
    return users


def _device_profiles(rng, users):
    """Per-device evidence properties, shared by every deviceEvidence of it."""
    profiles = []
    for name in DEVICE_NAMES:
        host, _, domain = name.partition(".")
        profiles.append({
            "azureAdDeviceId": rng.maybe(0.2, rng.guid()),
            "defenderAvStatus": rng.pick(("updated", "notUpdated", "disabled",
                                          "notReporting", "unknown")),
            "deviceDnsName": name,
            "dnsDomain": domain,
            "firstSeenDateTime": None,      # set per alert: must precede it
            "healthStatus": rng.pick(("active", "active", "inactive",
                                      "impairedCommunication", "noSensorData")),
            "hostName": host,
            "ipInterfaces": [rng.ipv4(), "fe80::%x" % rng.getrandbits(16)],
            "lastExternalIpAddress": rng.ipv4(),
            "lastIpAddress": "10.0.%d.%d" % (rng.getrandbits(8), rng.getrandbits(8)),
            "loggedOnUsers": [{"accountName": u["accountName"], "domainName": "CONTOSO"}
                              for u in (rng.pick(users), rng.pick(users))],
            "mdeDeviceId": rng.hex(40),
            "ntDomain": "CONTOSO",
            "onboardingStatus": rng.pick(("onboarded", "onboarded", "canBeOnboarded",
                                          "insufficientInfo")),
            "osBuild": rng.pick((22631, 19045, 20348, 17763, None)),
            "osPlatform": rng.pick(OS_PLATFORMS),
            "rbacGroupId": rng.pick((0, 12, 57)),
            "rbacGroupName": rng.pick(("UnassignedGroup", "Servers – Tier 0", "Laptops")),
            "resourceAccessEvents": [],
            "riskScore": rng.pick(("none", "low", "medium", "high", "informational")),
            "version": rng.pick(("22H2", "23H2", "1809", None)),
            "vmMetadata": rng.maybe(0.7, {
                "cloudProvider": "azure", "resourceId": "/subscriptions/%s/resourceGroups/rg-%s"
                "/providers/Microsoft.Compute/virtualMachines/%s" % (rng.guid(), host, host),
                "subscriptionId": rng.guid(), "vmId": rng.guid()}),
        })
    return profiles


def _service_principals(rng):
    return [{"displayName": name, "appId": rng.guid(), "id": rng.guid(),
             "keyIds": [rng.guid() for _ in range(1 + int(rng.random() * 2))]}
            for name in SERVICE_PRINCIPAL_NAMES]


def _comments(rng, lo, hi, max_count):
    """0..max_count alertComment objects with timestamps in [lo, hi)."""
    n = int(rng.random() * (max_count + 1))
    stamps = sorted(rng.between(lo, hi) for _ in range(n))
    return [{"comment": rng.pick(COMMENT_TEXTS),
             "createdByDisplayName": rng.maybe(0.1, rng.pick(ANALYSTS)),
             "createdDateTime": rng.stamp(t)} for t in stamps]


def _location(rng):
    """A signInLocation (with geoCoordinates), sometimes null."""
    if rng.chance(0.08):
        return None
    city, state, country, lat, lon = rng.pick(LOCATIONS)
    return {"city": city, "countryOrRegion": country,
            "geoCoordinates": {"altitude": None, "latitude": lat, "longitude": lon},
            "state": state}


# --- incidents ------------------------------------------------------------------------

class IncidentGenerator:
    """Incidents, ids increasing with creation time as in Defender."""

    STATUSES = (("active", 40), ("inProgress", 20), ("resolved", 30),
                ("redirected", 5), ("awaitingAction", 5))

    def __init__(self, tenant, rng):
        self.tenant = tenant
        self.rng = rng

    def run(self, count):
        rng, now = self.rng, self.tenant.now
        created = sorted(rng.between(now - 180 * DAY, now - 10 * MINUTE)
                         for _ in range(count))
        next_id = 1000 + int(rng.random() * 2000)
        long_ones = _spread(count, max(1, min(2, count // 50)))
        docs = []
        for n, c in enumerate(created):
            docs.append(self.one(str(next_id), c, n in long_ones, docs))
            next_id += 1 + int(rng.random() * 3)
        return docs

    def one(self, incident_id, created, long_description, older):
        rng, tenant = self.rng, self.tenant
        created_s = rng.stamp(created)
        created = ts.parse_generated(created_s)
        updated = rng.between(created, min(created + 3 * DAY, tenant.now - SECOND))
        status = rng.weighted(self.STATUSES)
        classification = self._classification(status)
        user = rng.pick(tenant.users[:24])
        device = rng.pick(DEVICE_NAMES)
        if long_description:
            description = long_text(rng, 10_000 + int(rng.random() * 40_000))
        else:
            description = rng.maybe(0.6, "Incident on %s involving %s: 'lateral' movement & "
                                    "\"credential\" access" % (device, user["displayName"]))
        return {
            "@odata.type": "#microsoft.graph.security.incident",
            "id": incident_id,
            "assignedTo": rng.maybe(0.45, rng.pick(ASSIGNEES)),
            "classification": classification,
            "comments": _comments(rng, created, updated + 1, 3),
            "createdDateTime": created_s,
            "customTags": rng.pick(([], [], ["lab"], ["VIP", "Ransomware"], ["équipe-rouge"])),
            "description": description,
            "determination": self._determination(classification),
            "displayName": rng.pick((
                "Multi-stage incident involving Execution & Persistence on one endpoint",
                "Suspicious activity on '%s'" % device,
                "Phishing campaign targeting %s" % user["displayName"],
                "Ransomware: files encrypted under C:\\Shares\\Finance",
                "不審なサインイン (%s)" % user["userPrincipalName"],
                "Password spray 🔐 against 12%% of accounts #%s" % incident_id,
            )),
            "incidentWebUrl": "https://security.microsoft.com/incidents/%s?tid=%s" % (
                incident_id, tenant.tenant_id),
            "lastModifiedBy": rng.pick(("Microsoft 365 Defender-IncidentCreation",
                                        "soc1@contoso.com", "Automation", None)),
            "lastUpdateDateTime": rng.stamp(updated),
            "priorityScore": rng.maybe(0.15, int(rng.random() * 101)),
            "redirectIncidentId": (rng.pick(older)["id"]
                                   if status == "redirected" and older else None),
            "resolvingComment": ("Closed: %s" % rng.pick(COMMENT_TEXTS)
                                 if status == "resolved" else None),
            "severity": rng.weighted((("high", 20), ("medium", 35), ("low", 30),
                                      ("informational", 13), ("unknown", 2))),
            "status": status,
            "summary": rng.maybe(0.7, "Attackers gained access via %s and moved to %s."
                                 % (user["userPrincipalName"], device)),
            "systemTags": rng.pick(([], [], [], ["Defender Experts"], ["Ransomware"])),
            "tenantId": tenant.tenant_id,
        }

    def _classification(self, status):
        rng = self.rng
        if status == "resolved":
            return rng.pick(("truePositive", "falsePositive",
                             "informationalExpectedActivity", "unknown"))
        return rng.weighted((("unknown", 60), (None, 15), ("truePositive", 20),
                             ("falsePositive", 5)))

    def _determination(self, classification):
        if classification is None:
            return None
        return self.rng.pick(DETERMINATIONS[classification])


def _spread(count, wanted):
    """`wanted` evenly spread indices in range(count) (for rare features)."""
    if count <= 0 or wanted <= 0:
        return frozenset()
    step = count / (wanted + 1)
    return frozenset(int(step * (k + 1)) for k in range(wanted))


# --- alerts ------------------------------------------------------------------------------

class AlertGenerator:
    """Alerts, each linked to an incident (when there are incidents).

    Every incident gets at least one alert while alerts last, then the
    rest are spread at random; an alert is created inside its incident's
    [createdDateTime, lastUpdateDateTime] window.
    """

    EVIDENCE_KINDS = (("device", 30), ("user", 30), ("file", 12), ("process", 10),
                      ("ip", 10), ("url", 8))

    def __init__(self, tenant, rng, incidents):
        self.tenant = tenant
        self.rng = rng
        self.incidents = incidents
        self.windows = [(ts.parse_generated(i["createdDateTime"]),
                         ts.parse_generated(i["lastUpdateDateTime"])) for i in incidents]
        self.users = tenant.users[:24]
        self.sources = tuple((s, s[1]) for s in SERVICE_SOURCES)
        self.seen_ids = set()
        self.user_accounts = [self._user_account(u) for u in self.users]

    def run(self, count):
        rng = self.rng
        n_inc = len(self.incidents)
        long_ones = _spread(count, max(1, min(8, count // 100)))
        docs = []
        previous = None
        for n in range(count):
            if n_inc == 0:
                incident = None
            elif n < n_inc:
                incident = n
            else:
                incident = int(rng.random() * n_inc)
            # now and then an alert shares the previous alert's exact
            # creation time: ties are what $orderby's id tie-break is for
            tie = previous if previous is not None and rng.chance(0.05) else None
            doc = self.one(incident, tie, n in long_ones)
            docs.append(doc)
            previous = doc["createdDateTime"]
        return docs

    def _user_account(self, user):
        return {"accountName": user["accountName"],
                "activeDirectoryObjectGuid": self.rng.guid(),
                "azureAdUserId": user["id"],
                "displayName": user["displayName"],
                "domainName": "CONTOSO",
                "resourceAccessEvents": [],
                "tenantId": self.tenant.tenant_id,
                "userPrincipalName": user["userPrincipalName"],
                "userSid": user["sid"]}

    def _times(self, incident, tie, at=None):
        """(createdDateTime string, its ticks) for a new alert."""
        rng, now = self.rng, self.tenant.now
        if at is not None:
            text = rng.stamp(at)
            return text, ts.parse_generated(text)
        if tie is not None:
            return tie, ts.parse_generated(tie)
        if incident is None:
            lo, hi = now - 180 * DAY, now - SECOND
        else:
            lo, hi = self.windows[incident]
            hi = max(hi, lo + 1)
        text = rng.stamp(rng.between(lo, hi))
        return text, ts.parse_generated(text)

    def _alert_id(self, source_prefix, created):
        rng = self.rng
        while True:
            alert_id = "%s%d_%d" % (source_prefix, DOTNET_EPOCH_TICKS + created,
                                    rng.getrandbits(32) - 2 ** 31)
            if alert_id not in self.seen_ids:
                self.seen_ids.add(alert_id)
                return alert_id

    def one(self, incident, tie, long_description, at=None):
        """One alert document; `at` (ticks) fixes its creation time (alerts
        made by control changes, after generation)."""
        rng, tenant = self.rng, self.tenant
        now = tenant.now
        source, _, prefix, product, detections = rng.weighted(self.sources)
        created_s, created = self._times(incident, tie, at)
        alert_id = self._alert_id(prefix, created)
        status = rng.weighted((("new", 45), ("inProgress", 20), ("resolved", 33),
                               ("unknown", 2)))
        updated = rng.between(created, now - 1)
        classification = self._classification(status)
        category = rng.pick(CATEGORIES)
        threat = rng.pick(THREATS) if category in ("Malware", "Ransomware") else (None, None)
        incident_id = None if incident is None else self.incidents[incident]["id"]
        evidence = self._evidence(created_s, created)
        first_activity = rng.between(created - 2 * HOUR, created + 1)
        if long_description:
            description = long_text(rng, 10_000 + int(rng.random() * 90_000))
        else:
            description = rng.maybe(0.05, self._description(evidence))
        return {
            "@odata.type": "#microsoft.graph.security.alert",
            "id": alert_id,
            "actorDisplayName": rng.pick(ACTORS) if rng.chance(0.08) else None,
            "additionalData": self._additional_data(),
            "alertPolicyId": None if prefix == "da" else rng.maybe(0.3, rng.guid()),
            "alertWebUrl": "https://security.microsoft.com/alerts/%s?tid=%s" % (
                alert_id, tenant.tenant_id),
            "assignedTo": rng.maybe(0.5, rng.pick(ASSIGNEES)),
            "categories": [category],
            "category": category,
            "classification": classification,
            "comments": _comments(rng, created, updated + 1, 2) if rng.chance(0.3) else [],
            "createdDateTime": created_s,
            "customDetails": rng.pick(({}, {}, {"Region": "eu-west", "Ticket": "INC-42"},
                                       {"Owner": "José", "Note": "50% & more"})),
            "description": description,
            "detectionSource": rng.pick(detections),
            "detectorId": rng.guid(),
            "determination": self._determination(classification),
            "evidence": evidence,
            "firstActivityDateTime": rng.maybe(0.03, rng.stamp(first_activity)),
            "incidentId": incident_id,
            "incidentWebUrl": None if incident_id is None else (
                "https://security.microsoft.com/incidents/%s?tid=%s" % (
                    incident_id, tenant.tenant_id)),
            "investigationState": rng.maybe(0.1, rng.pick(
                schema.INVESTIGATION_STATE.generated)),
            "lastActivityDateTime": rng.maybe(
                0.03, rng.stamp(rng.between(first_activity, created + 1))),
            "lastUpdateDateTime": rng.maybe(0.03, rng.stamp(updated)),
            "mitreTechniques": rng.sample(MITRE, int(rng.random() * 4)),
            "productName": product,
            "providerAlertId": alert_id if prefix == "da" else rng.guid(),
            "recommendedActions": rng.maybe(0.4, "1. Isolate the device.\n2. Reset the "
                                            "user's password.\n3. Review C:\\Temp\\ & 'Run' keys."),
            "resolvedDateTime": rng.stamp(updated) if status == "resolved" else None,
            "serviceSource": source,
            "severity": rng.weighted((("high", 20), ("medium", 35), ("low", 30),
                                      ("informational", 13), ("unknown", 2))),
            "status": status,
            "systemTags": rng.pick(([], [], [], [], ["Defender Experts"], ["Ransomware"])),
            "tenantId": tenant.tenant_id,
            "threatDisplayName": threat[0],
            "threatFamilyName": threat[1],
            "title": rng.maybe(0.01, rng.pick(TITLES)),
        }

    def _classification(self, status):
        rng = self.rng
        if status == "resolved":
            return rng.pick(("truePositive", "falsePositive",
                             "informationalExpectedActivity", "unknown", None))
        return rng.weighted(((None, 55), ("unknown", 30), ("truePositive", 15)))

    def _determination(self, classification):
        if classification is None:
            return None
        return self.rng.pick(DETERMINATIONS[classification])

    def _additional_data(self):
        rng = self.rng
        if rng.chance(0.8):
            return {}
        return {"dynamicContent": "Count > 5 & ratio = 50%", "detectionCount": 7,
                "nested": {"path": "C:\\Windows\\Temp", "tags": ["a", "b"]}}

    def _description(self, evidence):
        rng = self.rng
        device = next((e["deviceDnsName"] for e in evidence
                       if "deviceDnsName" in e), "an endpoint")
        return rng.pick((
            "A suspicious 'PowerShell' command ran on %s." % device,
            'The process "cmd.exe" spawned C:\\Windows\\Temp\\a.exe on %s & exited.' % device,
            "Un comportement inhabituel a été détecté sur %s (score > 90%%)." % device,
            "检测到可疑活动 on %s 🚨" % device,
            "URL https://contoso-login.example/?a=1&b=%2F#frag+x was clicked.",
        ))

    def _evidence(self, created_s, created):
        """1-4 polymorphic evidence items, at least one device or user."""
        rng = self.rng
        kinds = [rng.pick(("device", "user"))]
        for _ in range(int(rng.random() * 4)):
            kinds.append(rng.weighted(self.EVIDENCE_KINDS))
        return [self._evidence_item(kind, created_s, created) for kind in kinds]

    def _evidence_base(self, odata_type, created_s, roles):
        rng = self.rng
        remediation = rng.weighted((("none", 70), ("remediated", 8), ("prevented", 6),
                                    ("blocked", 5), ("notFound", 3), ("active", 3),
                                    ("pendingApproval", 2), ("running", 2),
                                    ("unremediated", 1)))
        return {
            "@odata.type": "#microsoft.graph.security." + odata_type,
            "createdDateTime": created_s,
            "verdict": rng.pick(("unknown", "suspicious", "malicious", "noThreatsFound")),
            "remediationStatus": remediation,
            "remediationStatusDetails": None if rng.chance(0.9) else "Quarantined by 'AV'",
            "roles": roles,
            "detailedRoles": [],
            "tags": [],
        }

    def _evidence_item(self, kind, created_s, created):
        rng = self.rng
        if kind == "device":
            item = self._evidence_base("deviceEvidence", created_s,
                                       rng.pick(([], ["compromised"], ["attacked"])))
            item.update(rng.pick(self.tenant.devices))
            item["firstSeenDateTime"] = rng.stamp(created - 200 * DAY)
            return item
        if kind == "user":
            item = self._evidence_base("userEvidence", created_s,
                                       rng.pick(([], ["compromised"], ["contextual"])))
            item["stream"] = None
            item["userAccount"] = rng.pick(self.user_accounts)
            return item
        if kind == "file":
            item = self._evidence_base("fileEvidence", created_s, ["contextual"])
            item["detectionStatus"] = rng.pick(("detected", "blocked", "prevented", None))
            item["fileDetails"] = self._file_details()
            item["mdeDeviceId"] = rng.pick(self.tenant.devices)["mdeDeviceId"]
            return item
        if kind == "process":
            item = self._evidence_base("processEvidence", created_s, [])
            item["detectionStatus"] = rng.pick(("detected", None))
            item["imageFile"] = self._file_details()
            item["mdeDeviceId"] = rng.pick(self.tenant.devices)["mdeDeviceId"]
            item["parentProcessCreationDateTime"] = rng.stamp(created - MINUTE)
            item["parentProcessId"] = int(rng.random() * 60000)
            item["parentProcessImageFile"] = self._file_details()
            item["processCommandLine"] = rng.pick((
                'powershell.exe -enc "SQBFAFgA" -w hidden',
                'cmd.exe /c "C:\\Users\\Public\\run.bat" & del %TEMP%\\x',
                "rundll32.exe C:\\Windows\\Temp\\a.dll,#1"))
            item["processCreationDateTime"] = created_s
            item["processId"] = int(rng.random() * 60000)
            item["userAccount"] = rng.pick(self.user_accounts)
            return item
        if kind == "ip":
            item = self._evidence_base("ipEvidence", created_s, ["attacker"])
            city, state, country, lat, lon = rng.pick(LOCATIONS)
            item["countryLetterCode"] = country
            item["ipAddress"] = rng.ip()
            item["location"] = {"city": city, "countryName": country,
                                "latitude": lat, "longitude": lon, "state": state}
            item["stream"] = None
            return item
        item = self._evidence_base("urlEvidence", created_s, [])
        item["url"] = rng.pick((
            "https://contoso-login.example/auth?u=a%40b&next=%2Fhome#x+y",
            "http://203.0.113.9/payload.ps1", "https://例え.テスト/パス?q=1&r=2"))
        return item

    def _file_details(self):
        rng = self.rng
        name = rng.pick(("a.exe", "invoice #42.pdf.exe", "ñandú.dll", "run.ps1",
                         "résumé (1).docm"))
        return {"fileName": name, "filePath": rng.pick((
                    "C:\\Users\\Public\\", "C:\\Windows\\Temp", "/tmp/x%20y")),
                "filePublisher": rng.maybe(0.5, "Contoso Ltd."),
                "fileSize": int(rng.random() * 5_000_000),
                "issuer": None, "md5": rng.hex(32), "sha1": rng.hex(40),
                "sha256": rng.hex(64), "sha256Ac": None,
                "signer": rng.maybe(0.6, "Microsoft Windows")}


# --- secure scores -------------------------------------------------------------------------

def _secure_scores(rng, now, count, tenant_id=TENANT_ID):
    """One score per day, the newest for the day before --now."""
    today = now - now % DAY
    docs = []
    score = 400.0 + rng.random() * 100
    for d in range(count):
        day = today - (d + 1) * DAY
        created = day + int(rng.random() * 3 * HOUR)
        score = max(50.0, score - 3 + rng.random() * 5)
        docs.append({
            "id": "%s_%s" % (tenant_id, ts.day_string(day)),
            "activeUserCount": rng.maybe(0.02, 180 + int(rng.random() * 40)),
            "averageComparativeScores": [
                {"averageScore": round(30 + rng.random() * 20, 2), "basis": "AllTenants"},
                {"averageScore": round(30 + rng.random() * 20, 2), "basis": "TotalSeats",
                 "seatSizeRangeLowerValue": "100", "seatSizeRangeUpperValue": "500"},
                {"averageScore": round(30 + rng.random() * 20, 2), "basis": "IndustryTypes",
                 "industryName": "Technology"},
            ],
            "azureTenantId": tenant_id,
            "controlScores": [
                {"controlCategory": cat, "controlName": name, "description": desc,
                 "score": round(rng.random() * 10, 2),
                 "scoreInPercentage": round(rng.random() * 100, 2),
                 "implementationStatus": rng.pick(("Implemented", "Partially – 50% & rising",
                                                   "Not implemented")),
                 "lastSynced": rng.stamp(created), "count": str(int(rng.random() * 50)),
                 "total": "50"}
                for name, cat, desc in CONTROL_NAMES],
            "createdDateTime": rng.stamp(created),
            "currentScore": round(score, 2),
            "enabledServices": ["HasExchange", "HasSharePoint", "HasOD4B", "HasMDEP",
                                "HasCloudDiscovery"],
            "licensedUserCount": rng.maybe(0.02, 250),
            "maxScore": 812.0,
            "vendorInformation": {"provider": "SecureScore", "providerVersion": None,
                                  "subProvider": None, "vendor": "Microsoft"},
        })
    return docs


# --- identity protection ---------------------------------------------------------------------

def _additional_info(rng, pairs):
    """additionalInfo: a JSON document serialized inside a string."""
    return json.dumps([{"Key": k, "Value": v} for k, v in pairs],
                      ensure_ascii=False, separators=(",", ":"))


def _detection_times(rng, now):
    activity = rng.between(now - 90 * DAY, now - HOUR)
    detected = activity + int(rng.random() * 30 * MINUTE)
    updated = detected + int(rng.random() * 2 * DAY)
    updated = min(updated, now - SECOND)
    return activity, detected, updated


def _risk_detections(tenant, rng, count):
    users = tenant.users[:24]
    docs = []
    for _ in range(count):
        user = rng.pick(users)
        activity, detected, updated = _detection_times(rng, tenant.now)
        timing = rng.weighted((("realtime", 50), ("offline", 35), ("nearRealtime", 12),
                               ("notDefined", 3)))
        ip = rng.ip()
        docs.append({
            "id": rng.hex(64),
            "activity": rng.weighted((("signin", 80), ("user", 20))),
            "activityDateTime": rng.maybe(0.02, rng.stamp(activity)),
            "additionalInfo": rng.maybe(0.05, _additional_info(rng, (
                ("userAgent", rng.pick(USER_AGENTS)),
                ("relatedLocation", {"clientCity": "Zürich", "clientCountryOrRegion": "CH"}),
                ("riskReasons", ["UnfamiliarASN", "UnfamiliarLocation"])))),
            "correlationId": rng.maybe(0.2, rng.guid()),
            "detectedDateTime": rng.maybe(0.02, rng.stamp(detected)),
            "detectionTimingType": timing,
            "ipAddress": ip,
            "lastUpdatedDateTime": rng.maybe(0.02, rng.stamp(updated)),
            "location": _location(rng),
            "requestId": rng.maybe(0.1, rng.guid()),
            "riskDetail": rng.weighted((
                ("none", 70), ("userPerformedSecuredPasswordChange", 5),
                ("adminConfirmedSigninSafe", 5), ("aiConfirmedSigninSafe", 4),
                ("userPassedMFADrivenByRiskBasedPolicy", 6), ("hidden", 3),
                ("adminDismissedAllRiskForUser", 3), ("m365DAdminDismissedDetection", 2),
                ("userChangedPasswordOnPremises", 1), ("microsoftRevokedSessions", 1))),
            "riskEventType": rng.pick(RISK_EVENT_TYPES),
            "riskLevel": rng.weighted((("low", 35), ("medium", 35), ("high", 20),
                                       ("hidden", 5), ("none", 5))),
            "riskState": rng.weighted((("atRisk", 50), ("dismissed", 15), ("remediated", 15),
                                       ("confirmedSafe", 8), ("confirmedCompromised", 7),
                                       ("none", 5))),
            "source": rng.pick(("IdentityProtection", "activeDirectory",
                                "MicrosoftCloudAppSecurity")),
            "tokenIssuerType": rng.weighted((("AzureAD", 85), ("ADFederationServices", 10),
                                             ("AzureADBackupAuth", 5))),
            "userDisplayName": user["displayName"],
            "userId": user["id"],
            "userPrincipalName": user["userPrincipalName"],
        })
    return docs


def _risky_users(tenant, rng, count):
    docs = []
    for user in tenant.users[:count]:
        updated = rng.between(tenant.now - 60 * DAY, tenant.now - MINUTE)
        docs.append({
            "id": user["id"],
            "isDeleted": rng.maybe(0.02, rng.chance(0.05)),
            "isProcessing": rng.maybe(0.02, rng.chance(0.1)),
            "riskDetail": rng.weighted((
                ("none", 60), ("adminDismissedAllRiskForUser", 10),
                ("userPerformedSecuredPasswordReset", 8), ("adminConfirmedUserCompromised", 7),
                ("userPassedMFADrivenByRiskBasedPolicy", 8), ("hidden", 2),
                ("adminConfirmedAccountSafe", 3), ("userChangedPasswordOnPremises", 2))),
            "riskLastUpdatedDateTime": rng.maybe(0.03, rng.stamp(updated)),
            "riskLevel": rng.weighted((("low", 30), ("medium", 30), ("high", 20),
                                       ("none", 15), ("hidden", 5))),
            "riskState": rng.weighted((("atRisk", 50), ("dismissed", 15), ("remediated", 20),
                                       ("confirmedCompromised", 10), ("none", 5))),
            "userDisplayName": user["displayName"],
            "userPrincipalName": user["userPrincipalName"],
        })
    return docs


def _sp_risk_detections(tenant, rng, count):
    docs = []
    for _ in range(count):
        sp = rng.pick(tenant.service_principals)
        activity, detected, updated = _detection_times(rng, tenant.now)
        docs.append({
            "id": rng.hex(64),
            "activity": rng.weighted((("servicePrincipal", 85), ("signin", 15))),
            "activityDateTime": rng.stamp(activity),
            "additionalInfo": _additional_info(rng, (("alertUrl", None),
                                                     ("clientIp", rng.ipv4()))),
            "appId": sp["appId"],
            "correlationId": rng.maybe(0.3, rng.guid()),
            "detectedDateTime": rng.stamp(detected),
            "detectionTimingType": rng.pick(("offline", "realtime")),
            "ipAddress": rng.maybe(0.1, rng.ip()),
            "keyIds": sp["keyIds"],
            "lastUpdatedDateTime": rng.stamp(updated),
            "location": _location(rng),
            "requestId": rng.maybe(0.1, rng.guid()),
            "riskDetail": rng.weighted((("none", 75), ("hidden", 10),
                                        ("adminConfirmedServicePrincipalCompromised", 8),
                                        ("adminDismissedAllRiskForServicePrincipal", 7))),
            "riskEventType": rng.pick(SP_RISK_EVENT_TYPES),
            "riskLevel": rng.weighted((("low", 30), ("medium", 35), ("high", 25),
                                       ("hidden", 10))),
            "riskState": rng.weighted((("atRisk", 60), ("dismissed", 20),
                                       ("confirmedCompromised", 15), ("none", 5))),
            "servicePrincipalDisplayName": sp["displayName"],
            "servicePrincipalId": sp["id"],
            "source": "IdentityProtection",
            "tokenIssuerType": "AzureAD",
        })
    return docs
