"""Resource schemas: what each emulated Graph collection is and accepts.

Everything the emulator enforces about a resource (its properties and their
OData types, which ones $filter and $orderby accept, page sizes, paging
style, the permission it needs) is data in this file, transcribed from
graph-api.md sections 1 and 2 (the v1.0 CSDL).  The request handlers read
these tables and contain no per-resource special cases, so adding a
resource is adding a table.

Enum members are listed in CSDL declaration order, sentinel included.
Members declared after the `unknownFutureValue` sentinel are "evolvable"
(starred in graph-api.md): Graph sends them, and accepts them in a request,
only under `Prefer: include-unknown-enum-members`.
"""

from dataclasses import dataclass

SECURITY_NS = "microsoft.graph.security."
GRAPH_NS = "microsoft.graph."


class Enum:
    """An OData enum type: qualified name and members, in CSDL order.

    Most Graph enums end their first members with the `unknownFutureValue`
    sentinel; a few older ones (Intune's) have none, and then every member
    is regular and none is evolvable.
    """

    def __init__(self, name, members):
        self.name = name
        self.members = tuple(members)
        # tokenIssuerType spells its sentinel "UnknownFutureValue"
        self.sentinel = next(
            (m for m in self.members if m.lower() == "unknownfuturevalue"), None)
        if self.sentinel is None:
            self.regular = frozenset(self.members)
            self.evolvable = frozenset()
            self.generated = self.members
            return
        cut = self.members.index(self.sentinel)
        self.regular = frozenset(self.members[:cut + 1])
        self.evolvable = frozenset(self.members[cut + 1:])
        self.generated = self.members[:cut] + self.members[cut + 1:]

    def __contains__(self, member):
        return member in self.regular or member in self.evolvable

    def __repr__(self):
        return "Enum(%s)" % self.name


def _enum(namespace, name, members):
    return Enum(namespace + name, members.split())


# --- security enums (graph-api.md 1.1.2, 1.2, 1.10) ------------------------

ALERT_CLASSIFICATION = _enum(SECURITY_NS, "alertClassification", """
    unknown falsePositive truePositive informationalExpectedActivity
    unknownFutureValue""")
ALERT_DETERMINATION = _enum(SECURITY_NS, "alertDetermination", """
    unknown apt malware securityPersonnel securityTesting unwantedSoftware
    other multiStagedAttack compromisedAccount phishing maliciousUserActivity
    notMalicious notEnoughDataToValidate confirmedActivity
    lineOfBusinessApplication unknownFutureValue""")
ALERT_SEVERITY = _enum(SECURITY_NS, "alertSeverity", """
    unknown informational low medium high unknownFutureValue""")
ALERT_STATUS = _enum(SECURITY_NS, "alertStatus", """
    unknown new inProgress resolved unknownFutureValue""")
SERVICE_SOURCE = _enum(SECURITY_NS, "serviceSource", """
    unknown microsoftDefenderForEndpoint microsoftDefenderForIdentity
    microsoftDefenderForCloudApps microsoftDefenderForOffice365
    microsoft365Defender azureAdIdentityProtection microsoftAppGovernance
    dataLossPrevention unknownFutureValue microsoftDefenderForCloud
    microsoftSentinel microsoftInsiderRiskManagement
    microsoftThreatIntelligence microsoftSecurityForAI""")
DETECTION_SOURCE = _enum(SECURITY_NS, "detectionSource", """
    unknown microsoftDefenderForEndpoint antivirus smartScreen customTi
    microsoftDefenderForOffice365 automatedInvestigation
    microsoftThreatExperts customDetection microsoftDefenderForIdentity
    cloudAppSecurity microsoft365Defender azureAdIdentityProtection manual
    microsoftDataLossPrevention appGovernancePolicy appGovernanceDetection
    unknownFutureValue microsoftDefenderForCloud microsoftSentinel
    microsoftDefenderForIoT microsoftDefenderForServers
    microsoftDefenderForStorage microsoftDefenderForDNS
    microsoftDefenderForDatabases microsoftDefenderForContainers
    microsoftDefenderForNetwork microsoftDefenderForAppService
    microsoftDefenderForKeyVault microsoftDefenderForResourceManager
    microsoftDefenderForApiManagement nrtAlerts scheduledAlerts
    microsoftDefenderThreatIntelligenceAnalytics builtInMl
    microsoftInsiderRiskManagement microsoftThreatIntelligence
    microsoftDefenderForAIServices securityCopilot""")
INVESTIGATION_STATE = _enum(SECURITY_NS, "investigationState", """
    unknown terminated successfullyRemediated benign failed
    partiallyRemediated running pendingApproval pendingResource queued
    innerFailure preexistingAlert unsupportedOs unsupportedAlertType
    suppressedAlert partiallyInvestigated terminatedByUser
    terminatedBySystem unknownFutureValue""")
INCIDENT_STATUS = _enum(SECURITY_NS, "incidentStatus", """
    active resolved inProgress redirected unknownFutureValue awaitingAction""")
EVIDENCE_REMEDIATION_STATUS = _enum(SECURITY_NS, "evidenceRemediationStatus", """
    none remediated prevented blocked notFound unknownFutureValue active
    pendingApproval declined unremediated running partiallyRemediated""")
EVIDENCE_ROLE = _enum(SECURITY_NS, "evidenceRole", """
    unknown contextual scanned source destination created added compromised
    edited attacked attacker commandAndControl loaded suspicious
    policyViolator unknownFutureValue""")
EVIDENCE_VERDICT = _enum(SECURITY_NS, "evidenceVerdict", """
    unknown suspicious malicious noThreatsFound unknownFutureValue""")
DETECTION_STATUS = _enum(SECURITY_NS, "detectionStatus", """
    detected blocked prevented unknownFutureValue""")
DEVICE_HEALTH_STATUS = _enum(SECURITY_NS, "deviceHealthStatus", """
    active inactive impairedCommunication noSensorData
    noSensorDataImpairedCommunication unknown unknownFutureValue""")
DEVICE_RISK_SCORE = _enum(SECURITY_NS, "deviceRiskScore", """
    none informational low medium high unknownFutureValue""")
ONBOARDING_STATUS = _enum(SECURITY_NS, "onboardingStatus", """
    insufficientInfo onboarded canBeOnboarded unsupported unknownFutureValue""")
DEFENDER_AV_STATUS = _enum(SECURITY_NS, "defenderAvStatus", """
    notReporting disabled notUpdated updated unknown notSupported
    unknownFutureValue""")

# --- identity protection enums (graph-api.md 1.9) --------------------------

RISK_LEVEL = _enum(GRAPH_NS, "riskLevel", """
    low medium high hidden none unknownFutureValue""")
RISK_STATE = _enum(GRAPH_NS, "riskState", """
    none confirmedSafe remediated dismissed atRisk confirmedCompromised
    unknownFutureValue""")
RISK_DETAIL = _enum(GRAPH_NS, "riskDetail", """
    none adminGeneratedTemporaryPassword userPerformedSecuredPasswordChange
    userPerformedSecuredPasswordReset adminConfirmedSigninSafe
    aiConfirmedSigninSafe userPassedMFADrivenByRiskBasedPolicy
    adminDismissedAllRiskForUser adminConfirmedSigninCompromised hidden
    adminConfirmedUserCompromised unknownFutureValue
    m365DAdminDismissedDetection adminConfirmedServicePrincipalCompromised
    adminDismissedAllRiskForServicePrincipal userChangedPasswordOnPremises
    adminDismissedRiskForSignIn adminConfirmedAccountSafe
    microsoftRevokedSessions""")
ACTIVITY_TYPE = _enum(GRAPH_NS, "activityType", """
    signin user unknownFutureValue servicePrincipal""")
RISK_DETECTION_TIMING_TYPE = _enum(GRAPH_NS, "riskDetectionTimingType", """
    notDefined realtime nearRealtime offline unknownFutureValue""")
TOKEN_ISSUER_TYPE = _enum(GRAPH_NS, "tokenIssuerType", """
    AzureAD ADFederationServices UnknownFutureValue AzureADBackupAuth
    ADFederationServicesMFAAdapter NPSExtension""")


# --- property types ---------------------------------------------------------

STRING = "Edm.String"
DATETIME = "Edm.DateTimeOffset"
BOOLEAN = "Edm.Boolean"
INT32 = "Edm.Int32"
INT64 = "Edm.Int64"
GUID = "Edm.Guid"
DOUBLE = "Edm.Double"
STRING_COLLECTION = "Collection(Edm.String)"
COMPLEX = "complex"
COMPLEX_COLLECTION = "Collection(complex)"


@dataclass(frozen=True)
class Property:
    """One structural property: JSON name, OData type, CSDL nullability."""
    name: str
    type: object            # one of the type constants above, or an Enum
    nullable: bool = True

    @property
    def enum(self):
        return self.type if isinstance(self.type, Enum) else None


def _props(*specs):
    """Build a property tuple from (name, type[, nullable]) triples."""
    return tuple(Property(*spec) for spec in specs)


# --- permissions (graph-api.md 1.1-1.7) -------------------------------------

#: every application permission graph-api.md names, read and write
ALL_PERMISSIONS = (
    "SecurityAlert.Read.All", "SecurityAlert.ReadWrite.All",
    "SecurityIncident.Read.All", "SecurityIncident.ReadWrite.All",
    "SecurityEvents.Read.All", "SecurityEvents.ReadWrite.All",
    "IdentityRiskEvent.Read.All",
    "IdentityRiskyUser.Read.All", "IdentityRiskyUser.ReadWrite.All",
    "ThreatHunting.Read.All",
    # directory and Intune inventories (DIRECTORY_RESOURCES below)
    "User.Read.All", "Device.Read.All", "GroupMember.Read.All",
    "Application.Read.All", "DeviceManagementManagedDevices.Read.All",
    "AuditLog.Read.All",
)


# --- resources ---------------------------------------------------------------

@dataclass(frozen=True)
class Resource:
    """One collection: its entity type and what its list and get accept.

    `read_roles` lists the app roles any one of which allows GET (least
    privileged first); `orderable` is empty where $orderby is refused;
    `paging` is "skip" ($skip nextLinks, security lists) or "skiptoken"
    (opaque cursor, identity protection lists).  `updatable` and
    `write_roles` say what a PATCH may change and which app role the
    writes (PATCH, comments, the riskyUser actions) need.  `evolvable_paths` are the
    nested enum values (beyond top-level enum properties) that are replaced
    by the sentinel when the client did not ask for evolvable members.
    """
    name: str                       # collection path under the version
    entity_type: str                # qualified CSDL type name
    properties: tuple
    read_roles: tuple
    filterable: frozenset
    top_max: int
    top_default: int
    paging: str
    allows_count: bool
    orderable: tuple = ()
    expandable: tuple = ()          # navigation properties $expand accepts
    evidence_lambdas: bool = False  # the two documented evidence/any forms
    odata_type: str = None          # "@odata.type" carried by list items
    top_error_code: str = "BadRequest"
    evolvable_paths: tuple = ()     # ((path..., Enum), ...), "*" = any item
    default_order: tuple = None     # (property, descending) or None
    updatable: frozenset = frozenset()  # properties a PATCH may set (graph-api.md 5)
    write_roles: tuple = ()         # app roles for PATCH, comments and actions
    # --- directory objects and Intune (directory.py): see DirectoryRules
    family: str = "security"        # "security", "directory" or "intune"
    directory: object = None        # a DirectoryRules, for the two other families

    def __post_init__(self):
        object.__setattr__(
            self, "by_name", {p.name: p for p in self.properties})

    def property(self, name):
        return self.by_name.get(name)

    def enum_paths(self):
        """Every enum value path that may hold an evolvable member."""
        top = tuple(((p.name,), p.enum) for p in self.properties
                    if p.enum is not None and p.enum.evolvable)
        return top + self.evolvable_paths


ALERT_PROPERTIES = _props(
    ("id", STRING, False),
    ("actorDisplayName", STRING),
    ("additionalData", COMPLEX),
    ("alertPolicyId", STRING),
    ("alertWebUrl", STRING),
    ("assignedTo", STRING),
    ("categories", STRING_COLLECTION),
    ("category", STRING),
    ("classification", ALERT_CLASSIFICATION),
    ("comments", COMPLEX_COLLECTION),
    ("createdDateTime", DATETIME),
    ("customDetails", COMPLEX),
    ("description", STRING),
    ("detectionSource", DETECTION_SOURCE),
    ("detectorId", STRING),
    ("determination", ALERT_DETERMINATION),
    ("evidence", COMPLEX_COLLECTION),
    ("firstActivityDateTime", DATETIME),
    ("incidentId", STRING),
    ("incidentWebUrl", STRING),
    ("investigationState", INVESTIGATION_STATE),
    ("lastActivityDateTime", DATETIME),
    ("lastUpdateDateTime", DATETIME),
    ("mitreTechniques", STRING_COLLECTION),
    ("productName", STRING),
    ("providerAlertId", STRING),
    ("recommendedActions", STRING),
    ("resolvedDateTime", DATETIME),
    ("serviceSource", SERVICE_SOURCE, False),
    ("severity", ALERT_SEVERITY, False),
    ("status", ALERT_STATUS, False),
    ("systemTags", STRING_COLLECTION),
    ("tenantId", STRING),
    ("threatDisplayName", STRING),
    ("threatFamilyName", STRING),
    ("title", STRING),
)

INCIDENT_PROPERTIES = _props(
    ("id", STRING, False),
    ("assignedTo", STRING),
    ("classification", ALERT_CLASSIFICATION),
    ("comments", COMPLEX_COLLECTION),
    ("createdDateTime", DATETIME, False),
    ("customTags", STRING_COLLECTION),
    ("description", STRING),
    ("determination", ALERT_DETERMINATION),
    ("displayName", STRING),
    ("incidentWebUrl", STRING),
    ("lastModifiedBy", STRING),
    ("lastUpdateDateTime", DATETIME, False),
    ("priorityScore", INT32),
    ("redirectIncidentId", STRING),
    ("resolvingComment", STRING),
    ("severity", ALERT_SEVERITY, False),
    ("status", INCIDENT_STATUS, False),
    ("summary", STRING),
    ("systemTags", STRING_COLLECTION),
    ("tenantId", STRING),
)

RISK_DETECTION_PROPERTIES = _props(
    ("id", STRING, False),
    ("activity", ACTIVITY_TYPE),
    ("activityDateTime", DATETIME),
    ("additionalInfo", STRING),
    ("correlationId", STRING),
    ("detectedDateTime", DATETIME),
    ("detectionTimingType", RISK_DETECTION_TIMING_TYPE),
    ("ipAddress", STRING),
    ("lastUpdatedDateTime", DATETIME),
    ("location", COMPLEX),
    ("requestId", STRING),
    ("riskDetail", RISK_DETAIL),
    ("riskEventType", STRING),
    ("riskLevel", RISK_LEVEL),
    ("riskState", RISK_STATE),
    ("source", STRING),
    ("tokenIssuerType", TOKEN_ISSUER_TYPE),
    ("userDisplayName", STRING),
    ("userId", STRING),
    ("userPrincipalName", STRING),
)

RISKY_USER_PROPERTIES = _props(
    ("id", STRING, False),
    ("isDeleted", BOOLEAN),
    ("isProcessing", BOOLEAN),
    ("riskDetail", RISK_DETAIL),
    ("riskLastUpdatedDateTime", DATETIME),
    ("riskLevel", RISK_LEVEL),
    ("riskState", RISK_STATE),
    ("userDisplayName", STRING),
    ("userPrincipalName", STRING),
)

SP_RISK_DETECTION_PROPERTIES = _props(
    ("id", STRING, False),
    ("activity", ACTIVITY_TYPE),
    ("activityDateTime", DATETIME),
    ("additionalInfo", STRING),
    ("appId", STRING),
    ("correlationId", STRING),
    ("detectedDateTime", DATETIME),
    ("detectionTimingType", RISK_DETECTION_TIMING_TYPE),
    ("ipAddress", STRING),
    ("keyIds", STRING_COLLECTION),
    ("lastUpdatedDateTime", DATETIME),
    ("location", COMPLEX),
    ("requestId", STRING),
    ("riskDetail", RISK_DETAIL),
    ("riskEventType", STRING),
    ("riskLevel", RISK_LEVEL),
    ("riskState", RISK_STATE),
    ("servicePrincipalDisplayName", STRING),
    ("servicePrincipalId", STRING),
    ("source", STRING),
    ("tokenIssuerType", TOKEN_ISSUER_TYPE),
)

SECURE_SCORE_PROPERTIES = _props(
    ("id", STRING, False),
    ("activeUserCount", INT32),
    ("averageComparativeScores", COMPLEX_COLLECTION),
    ("azureTenantId", STRING, False),
    ("controlScores", COMPLEX_COLLECTION),
    ("createdDateTime", DATETIME),
    ("currentScore", DOUBLE),
    ("enabledServices", STRING_COLLECTION),
    ("licensedUserCount", INT32),
    ("maxScore", DOUBLE),
    ("vendorInformation", COMPLEX),
)

ALERTS = Resource(
    name="security/alerts_v2",
    entity_type=SECURITY_NS + "alert",
    properties=ALERT_PROPERTIES,
    read_roles=("SecurityAlert.Read.All", "SecurityAlert.ReadWrite.All"),
    filterable=frozenset({
        "assignedTo", "classification", "determination", "createdDateTime",
        "lastUpdateDateTime", "severity", "serviceSource", "status"}),
    evidence_lambdas=True,
    top_max=2000, top_default=100, top_error_code="",
    paging="skip", allows_count=True,
    orderable=("createdDateTime", "lastUpdateDateTime"),
    odata_type="#" + SECURITY_NS + "alert",
    evolvable_paths=((("evidence", "*", "remediationStatus"),
                      EVIDENCE_REMEDIATION_STATUS),),
    default_order=("createdDateTime", True),
    updatable=frozenset({"status", "classification", "determination", "assignedTo"}),
    write_roles=("SecurityAlert.ReadWrite.All",),
)

INCIDENTS = Resource(
    name="security/incidents",
    entity_type=SECURITY_NS + "incident",
    properties=INCIDENT_PROPERTIES,
    read_roles=("SecurityIncident.Read.All", "SecurityIncident.ReadWrite.All"),
    filterable=frozenset({
        "assignedTo", "classification", "createdDateTime", "determination",
        "lastUpdateDateTime", "severity", "status"}),
    top_max=50, top_default=50, top_error_code="",
    paging="skip", allows_count=True,
    orderable=("createdDateTime", "lastUpdateDateTime"),
    expandable=("alerts",),
    odata_type="#" + SECURITY_NS + "incident",
    default_order=("createdDateTime", True),
    updatable=frozenset({"status", "classification", "determination", "assignedTo",
                         "customTags"}),
    write_roles=("SecurityIncident.ReadWrite.All",),
)

SECURE_SCORES = Resource(
    name="security/secureScores",
    entity_type=GRAPH_NS + "secureScore",
    properties=SECURE_SCORE_PROPERTIES,
    read_roles=("SecurityEvents.Read.All", "SecurityEvents.ReadWrite.All"),
    filterable=frozenset({"createdDateTime"}),
    top_max=100, top_default=100,
    paging="skip", allows_count=True,
    orderable=("createdDateTime",),
    default_order=("createdDateTime", True),
)

RISK_DETECTIONS = Resource(
    name="identityProtection/riskDetections",
    entity_type=GRAPH_NS + "riskDetection",
    properties=RISK_DETECTION_PROPERTIES,
    read_roles=("IdentityRiskEvent.Read.All",),
    filterable=frozenset({
        "riskEventType", "riskLevel", "userDisplayName",
        "detectionTimingType", "activityDateTime", "detectedDateTime",
        "lastUpdatedDateTime"}),
    top_max=500, top_default=20,
    paging="skiptoken", allows_count=False,
)

RISKY_USERS = Resource(
    name="identityProtection/riskyUsers",
    entity_type=GRAPH_NS + "riskyUser",
    properties=RISKY_USER_PROPERTIES,
    read_roles=("IdentityRiskyUser.Read.All", "IdentityRiskyUser.ReadWrite.All"),
    filterable=frozenset({
        "riskLevel", "userDisplayName", "riskDetail",
        "riskLastUpdatedDateTime"}),
    top_max=500, top_default=100,
    paging="skiptoken", allows_count=True,
    write_roles=("IdentityRiskyUser.ReadWrite.All",),
)

SP_RISK_DETECTIONS = Resource(
    name="identityProtection/servicePrincipalRiskDetections",
    entity_type=GRAPH_NS + "servicePrincipalRiskDetection",
    properties=SP_RISK_DETECTION_PROPERTIES,
    read_roles=("IdentityRiskEvent.Read.All",),
    filterable=frozenset({
        "requestId", "servicePrincipalId", "riskEventType", "riskLevel",
        "activityDateTime", "detectedDateTime", "lastUpdatedDateTime"}),
    top_max=100, top_default=100,
    paging="skiptoken", allows_count=False,
)

#: app role of POST security/runHuntingQuery (graph-api.md 6)
HUNTING_ROLES = ("ThreatHunting.Read.All",)



# --- directory objects and Intune's managed devices --------------------------
#
# Directory objects (users, devices, groups, service principals) follow rules
# no security list has: a "default" query and an "advanced" one (the header
# `ConsistencyLevel: eventual` and `$count=true`), filters allowed per
# property and per operator in one or both, few properties without $select
# (users), properties only a single GET may select, alternate keys and the
# delta query.  Intune's managed devices accept only a handful of filters.
# DirectoryRules holds all of that as data; directory.py enforces it.

DEFAULT, ADVANCED = "D", "A"        # the query kind an operator needs

#: filter operators a rule may name ("in" follows "eq"; "ne" and "not" are
#: advanced wherever "eq" is allowed at all)
FILTER_OPS = ("eq", "startswith", "endswith", "range", "lt_gt", "null",
              "any_eq", "any_startswith", "count")


def _filters(spec):
    """{property path: {op: level}} from {"p1 p2": "eq=D startswith=A", ...}."""
    out = {}
    for names, ops in spec.items():
        levels = {}
        for item in ops.split():
            op, _, level = item.partition("=")
            assert op in FILTER_OPS and level in (DEFAULT, ADVANCED), item
            levels[op] = level
        for name in names.split():
            out[name] = levels
    return out


@dataclass(frozen=True, eq=False)
class DirectoryRules:
    """What a directory or Intune collection accepts beyond Resource.

    `default_select` are the properties a list or get sends without
    $select (None: every list property).  `single_only` are Property
    objects only a single GET may $select (a list answers 501 for them).
    `optional` properties may be absent from a document (users who never
    signed in have no signInActivity).  `filters` maps a property path
    ("displayName", "signInActivity/lastSignInDateTime", a collection for
    its any() lambda) to {operator: level}; `nested` gives the types of
    the dotted paths, `lambda_members` the member types of collections of
    complex values ({member: type}).  `alone` names properties whose
    filters may not be combined with any other property's.  `select_roles`
    and `select_top_max` are what selecting (or filtering on) a property
    adds: an app role it also needs, a lower page size cap.
    `orderable_default` / `orderable_advanced`: $orderby in a default query
    or only in an advanced one.  `list_defaults`: values a list (and a get
    without $select) sends in place of the real ones, which only a get
    with $select has (managed devices).  `entity` is the type's short name
    in Graph's messages.
    """
    entity: str
    default_select: tuple = None
    single_only: tuple = ()
    optional: frozenset = frozenset()
    filters: dict = None
    nested: dict = None
    lambda_members: dict = None
    alone: frozenset = frozenset()
    select_roles: dict = None
    select_top_max: dict = None
    orderable_default: tuple = ()
    orderable_advanced: tuple = ()
    alternate_keys: tuple = ()
    delta: bool = False
    delta_filter_ids: int = 0       # users/delta: $filter=id eq .. or .. (at most N)
    list_defaults: dict = None
    count_segment: bool = False     # GET {collection}/$count (advanced only)


USER_PROPERTIES = _props(
    ("id", STRING, False),
    ("accountEnabled", BOOLEAN),
    ("assignedLicenses", COMPLEX_COLLECTION),
    ("businessPhones", STRING_COLLECTION),
    ("city", STRING),
    ("companyName", STRING),
    ("country", STRING),
    ("createdDateTime", DATETIME),
    ("creationType", STRING),
    ("department", STRING),
    ("displayName", STRING),
    ("employeeId", STRING),
    ("employeeType", STRING),
    ("externalUserState", STRING),
    ("givenName", STRING),
    ("imAddresses", STRING_COLLECTION),
    ("jobTitle", STRING),
    ("lastPasswordChangeDateTime", DATETIME),
    ("mail", STRING),
    ("mailNickname", STRING),
    ("mobilePhone", STRING),
    ("officeLocation", STRING),
    ("onPremisesImmutableId", STRING),
    ("onPremisesLastSyncDateTime", DATETIME),
    ("onPremisesSamAccountName", STRING),
    ("onPremisesSecurityIdentifier", STRING),
    ("onPremisesSyncEnabled", BOOLEAN),
    ("otherMails", STRING_COLLECTION),
    ("preferredLanguage", STRING),
    ("proxyAddresses", STRING_COLLECTION),
    ("signInActivity", COMPLEX),
    ("surname", STRING),
    ("usageLocation", STRING),
    ("userPrincipalName", STRING),
    ("userType", STRING),
)

USER_SINGLE_ONLY = _props(
    ("aboutMe", STRING),
    ("birthday", DATETIME, False),
    ("hireDate", DATETIME, False),
    ("interests", STRING_COLLECTION),
    ("mailboxSettings", COMPLEX),
    ("mySite", STRING),
    ("pastProjects", STRING_COLLECTION),
    ("preferredName", STRING),
    ("responsibilities", STRING_COLLECTION),
    ("schools", STRING_COLLECTION),
    ("skills", STRING_COLLECTION),
)

SIGN_IN_ACTIVITY = ("lastSignInDateTime", "lastNonInteractiveSignInDateTime",
                    "lastSuccessfulSignInDateTime")

USERS = Resource(
    name="users",
    entity_type=GRAPH_NS + "user",
    properties=USER_PROPERTIES,
    read_roles=("User.Read.All", "User.ReadWrite.All", "Directory.Read.All"),
    filterable=frozenset(),
    top_max=999, top_default=100,
    paging="skiptoken", allows_count=True,
    family="directory",
    directory=DirectoryRules(
        entity="User",
        default_select=("businessPhones", "displayName", "givenName", "id", "jobTitle",
                        "mail", "mobilePhone", "officeLocation", "preferredLanguage",
                        "surname", "userPrincipalName"),
        single_only=USER_SINGLE_ONLY,
        optional=frozenset({"signInActivity"}),
        filters=_filters({
            "id accountEnabled": "eq=D",
            "userPrincipalName": "eq=D startswith=D endswith=A",
            "displayName givenName surname mailNickname jobTitle department city "
            "country usageLocation": "eq=D startswith=D null=A",
            "mail": "eq=D startswith=D endswith=A null=A",
            "createdDateTime": "eq=D range=D null=A",
            "onPremisesSyncEnabled onPremisesSecurityIdentifier": "eq=D null=A",
            "onPremisesImmutableId": "eq=D",
            "onPremisesLastSyncDateTime": "eq=D range=D",
            "onPremisesSamAccountName": "eq=A startswith=A",
            "employeeId": "eq=D null=A",
            "employeeType companyName mobilePhone officeLocation":
                "eq=A startswith=A null=A",
            "userType": "eq=D null=A",
            "creationType externalUserState": "eq=D",
            "proxyAddresses otherMails imAddresses": "any_eq=D any_startswith=D count=A",
            "assignedLicenses": "any_eq=D count=A",
            " ".join("signInActivity/" + p for p in SIGN_IN_ACTIVITY): "eq=D range=D",
        }),
        nested={"signInActivity/" + p: DATETIME for p in SIGN_IN_ACTIVITY},
        lambda_members={"assignedLicenses": {"skuId": GUID}},
        alone=frozenset({"signInActivity"}),
        select_roles={"signInActivity": ("AuditLog.Read.All",)},
        select_top_max={"signInActivity": 500},
        orderable_default=("displayName", "userPrincipalName"),
        orderable_advanced=("createdDateTime",),
        delta=True, delta_filter_ids=50, count_segment=True),
)

DEVICE_PROPERTIES = _props(
    ("id", STRING, False),
    ("accountEnabled", BOOLEAN),
    ("approximateLastSignInDateTime", DATETIME),
    ("complianceExpirationDateTime", DATETIME),
    ("deviceId", STRING),
    ("displayName", STRING),
    ("extensionAttributes", COMPLEX),
    ("isCompliant", BOOLEAN),
    ("isManaged", BOOLEAN),
    ("manufacturer", STRING),
    ("mdmAppId", STRING),
    ("model", STRING),
    ("onPremisesLastSyncDateTime", DATETIME),
    ("onPremisesSecurityIdentifier", STRING),
    ("onPremisesSyncEnabled", BOOLEAN),
    ("operatingSystem", STRING),
    ("operatingSystemVersion", STRING),
    ("physicalIds", STRING_COLLECTION),
    ("profileType", STRING),
    ("registrationDateTime", DATETIME),
    ("systemLabels", STRING_COLLECTION),
    ("trustType", STRING),
)

EXTENSION_ATTRIBUTES = tuple("extensionAttribute%d" % n for n in range(1, 16))

DEVICES = Resource(
    name="devices",
    entity_type=GRAPH_NS + "device",
    properties=DEVICE_PROPERTIES,
    read_roles=("Device.Read.All", "Directory.Read.All"),
    filterable=frozenset(),
    top_max=999, top_default=100,
    paging="skiptoken", allows_count=True,
    family="directory",
    directory=DirectoryRules(
        entity="Device",
        default_select=tuple(p.name for p in DEVICE_PROPERTIES
                             if p.name != "extensionAttributes"),
        filters=_filters({
            "accountEnabled deviceId isCompliant isManaged trustType profileType "
            "onPremisesSecurityIdentifier": "eq=D",
            "physicalIds": "any_eq=D",
            "displayName operatingSystem operatingSystemVersion": "eq=D startswith=D",
            "approximateLastSignInDateTime onPremisesLastSyncDateTime": "eq=D range=D",
            "registrationDateTime": "eq=A range=A null=A",
            " ".join("extensionAttributes/" + a for a in EXTENSION_ATTRIBUTES):
                "eq=A startswith=A null=A",
        }),
        nested={"extensionAttributes/" + a: STRING for a in EXTENSION_ATTRIBUTES},
        orderable_advanced=("approximateLastSignInDateTime", "displayName"),
        alternate_keys=("deviceId",),
        delta=True, count_segment=True),
)

GROUP_PROPERTIES = _props(
    ("id", STRING, False),
    ("assignedLicenses", COMPLEX_COLLECTION),
    ("classification", STRING),
    ("createdDateTime", DATETIME),
    ("description", STRING),
    ("displayName", STRING),
    ("expirationDateTime", DATETIME),
    ("groupTypes", STRING_COLLECTION),
    ("isAssignableToRole", BOOLEAN),
    ("licenseProcessingState", COMPLEX),
    ("mail", STRING),
    ("mailEnabled", BOOLEAN),
    ("mailNickname", STRING),
    ("membershipRule", STRING),
    ("membershipRuleProcessingState", STRING),
    ("onPremisesLastSyncDateTime", DATETIME),
    ("onPremisesSecurityIdentifier", STRING),
    ("onPremisesSyncEnabled", BOOLEAN),
    ("proxyAddresses", STRING_COLLECTION),
    ("renewedDateTime", DATETIME),
    ("securityEnabled", BOOLEAN),
    ("securityIdentifier", STRING),
    ("visibility", STRING),
)

GROUPS = Resource(
    name="groups",
    entity_type=GRAPH_NS + "group",
    properties=GROUP_PROPERTIES,
    read_roles=("GroupMember.Read.All", "Group.Read.All", "Directory.Read.All"),
    filterable=frozenset(),
    top_max=999, top_default=100,
    paging="skiptoken", allows_count=True,
    family="directory",
    directory=DirectoryRules(
        entity="Group",
        default_select=tuple(p.name for p in GROUP_PROPERTIES
                             if p.name not in ("assignedLicenses",
                                               "licenseProcessingState")),
        filters=_filters({
            "id mailEnabled securityEnabled onPremisesSyncEnabled "
            "onPremisesSecurityIdentifier securityIdentifier": "eq=D",
            "displayName mail mailNickname": "eq=D startswith=D null=A",
            "description": "eq=A startswith=A",
            "groupTypes": "any_eq=D",
            "proxyAddresses": "any_eq=D any_startswith=D",
            "createdDateTime": "eq=A range=A",
        }),
        orderable_default=("displayName",),
        delta=True, count_segment=True),
)

SERVICE_PRINCIPAL_PROPERTIES = _props(
    ("id", STRING, False),
    ("accountEnabled", BOOLEAN),
    ("appDisplayName", STRING),
    ("appId", STRING),
    ("appOwnerOrganizationId", STRING),
    ("appRoleAssignmentRequired", BOOLEAN),
    ("description", STRING),
    ("displayName", STRING),
    ("homepage", STRING),
    ("keyCredentials", COMPLEX_COLLECTION),
    ("notes", STRING),
    ("passwordCredentials", COMPLEX_COLLECTION),
    ("preferredSingleSignOnMode", STRING),
    ("replyUrls", STRING_COLLECTION),
    ("servicePrincipalNames", STRING_COLLECTION),
    ("servicePrincipalType", STRING),
    ("signInAudience", STRING),
    ("tags", STRING_COLLECTION),
)

SERVICE_PRINCIPALS = Resource(
    name="servicePrincipals",
    entity_type=GRAPH_NS + "servicePrincipal",
    properties=SERVICE_PRINCIPAL_PROPERTIES,
    read_roles=("Application.Read.All", "Directory.Read.All"),
    filterable=frozenset(),
    top_max=999, top_default=100,
    paging="skiptoken", allows_count=True,
    family="directory",
    directory=DirectoryRules(
        entity="ServicePrincipal",
        filters=_filters({
            "appId accountEnabled servicePrincipalType": "eq=D",
            "displayName": "eq=D startswith=D",
        }),
        orderable_advanced=("displayName",),
        alternate_keys=("appId",),
        delta=True, count_segment=True),
)

# --- Intune ------------------------------------------------------------------

COMPLIANCE_STATE = _enum(GRAPH_NS, "complianceState", """
    unknown compliant noncompliant conflict error inGracePeriod configManager""")
MANAGED_DEVICE_OWNER_TYPE = _enum(GRAPH_NS, "managedDeviceOwnerType", """
    unknown company personal""")
MANAGEMENT_AGENT_TYPE = _enum(GRAPH_NS, "managementAgentType", """
    eas mdm easMdm intuneClient easIntuneClient configurationManagerClient
    configurationManagerClientMdm configurationManagerClientMdmEas unknown jamf
    googleCloudDevicePolicyController""")
DEVICE_ENROLLMENT_TYPE = _enum(GRAPH_NS, "deviceEnrollmentType", """
    unknown userEnrollment deviceEnrollmentManager appleBulkWithUser
    appleBulkWithoutUser windowsAzureADJoin windowsBulkUserless
    windowsAutoEnrollment windowsBulkAzureDomainJoin windowsCoManagement""")
PARTNER_THREAT_STATE = _enum(GRAPH_NS, "managedDevicePartnerReportedHealthState", """
    unknown activated deactivated secured lowSeverity mediumSeverity
    highSeverity unresponsive compromised misconfigured""")

MANAGED_DEVICE_PROPERTIES = _props(
    ("id", STRING, False),
    ("activationLockBypassCode", STRING),
    ("azureADDeviceId", STRING),
    ("azureADRegistered", BOOLEAN),
    ("complianceState", COMPLIANCE_STATE, False),
    ("deviceCategoryDisplayName", STRING),
    ("deviceEnrollmentType", DEVICE_ENROLLMENT_TYPE, False),
    ("deviceName", STRING),
    ("emailAddress", STRING),
    ("enrolledDateTime", DATETIME, False),
    ("ethernetMacAddress", STRING),
    ("iccid", STRING),
    ("imei", STRING),
    ("isEncrypted", BOOLEAN, False),
    ("isSupervised", BOOLEAN, False),
    ("jailBroken", STRING),
    ("lastSyncDateTime", DATETIME, False),
    ("managedDeviceOwnerType", MANAGED_DEVICE_OWNER_TYPE, False),
    ("managementAgent", MANAGEMENT_AGENT_TYPE, False),
    ("manufacturer", STRING),
    ("model", STRING),
    ("notes", STRING),
    ("operatingSystem", STRING),
    ("osVersion", STRING),
    ("partnerReportedThreatState", PARTNER_THREAT_STATE, False),
    ("physicalMemoryInBytes", INT64, False),
    ("serialNumber", STRING),
    ("udid", STRING),
    ("userDisplayName", STRING),
    ("userId", STRING),
    ("userPrincipalName", STRING),
    ("wiFiMacAddress", STRING),
)

MANAGED_DEVICES = Resource(
    name="deviceManagement/managedDevices",
    entity_type=GRAPH_NS + "managedDevice",
    properties=MANAGED_DEVICE_PROPERTIES,
    read_roles=("DeviceManagementManagedDevices.Read.All",
                "DeviceManagementManagedDevices.ReadWrite.All"),
    filterable=frozenset(),
    # about 1,000 a page is what clients observe; the maximum $top is not
    # documented, so the emulator takes that as both
    top_max=1000, top_default=1000,
    paging="skiptoken", allows_count=False,
    odata_type="#" + GRAPH_NS + "managedDevice",
    family="intune",
    directory=DirectoryRules(
        entity="ManagedDevice",
        filters=_filters({
            "lastSyncDateTime enrolledDateTime": "lt_gt=D",
            "jailBroken deviceCategoryDisplayName": "eq=D",
        }),
        list_defaults={"activationLockBypassCode": None, "ethernetMacAddress": None,
                       "iccid": None, "notes": None, "physicalMemoryInBytes": 0,
                       "udid": None}),
)

RESOURCES = (ALERTS, INCIDENTS, SECURE_SCORES,
             RISK_DETECTIONS, RISKY_USERS, SP_RISK_DETECTIONS,
             USERS, DEVICES, GROUPS, SERVICE_PRINCIPALS, MANAGED_DEVICES)
RESOURCES_BY_NAME = {r.name: r for r in RESOURCES}
#: the collections of directory.py (directory objects and managed devices)
DIRECTORY_RESOURCES = (USERS, DEVICES, GROUPS, SERVICE_PRINCIPALS, MANAGED_DEVICES)
