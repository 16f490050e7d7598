/*-------------------------------------------------------------------------
 *
 * catalog.c
 *		  The resource catalog: static tables describing every Graph resource
 *		  msgraph_security_fdw can scan, and the few lookups over them.
 *
 * Everything here is constant data compiled into the binary; nothing is
 * allocated and nothing is ever written, so the tables are safe to share
 * between backends and need no locking or cleanup.
 *
 * The facts (property names, OData types, nullability, enum members, query
 * options, page limits, permissions) are those of the Graph v1.0 CSDL as
 * summarised in doc/graph.md ("Resources", "Query options and page
 * sizes"); which properties are filterable, sortable and updatable, and
 * why, is its "Filterable, sortable and updatable properties".
 * When the service changes, edit the rows here and nothing else.
 *
 * Properties of a resource are listed "id" first and then alphabetically,
 * which is also the column order IMPORT FOREIGN SCHEMA produces, so keep it.
 *
 * This file deliberately includes no PostgreSQL header (see catalog.h): it
 * is also linked into stand-alone test programs such as
 * tests/unit/catalog/catalog_dump.c.
 *
 * IDENTIFICATION
 *		  src/catalog.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdbool.h>
#include <string.h>

#include "catalog.h"

/* PostgreSQL's c.h has this, but we may not include it here. */
#define lengthof(array) ((int) (sizeof(array) / sizeof((array)[0])))

/* ASCII lower case, independent of the locale */
static inline char
ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char) (c + ('a' - 'A')) : c;
}


/*
 * Enum types
 *
 * Members are in CSDL declaration order.  The unknownFutureValue sentinel is
 * kept, and so are the evolvable members after it: the extension always
 * sends "Prefer: include-unknown-enum-members", so Graph returns and accepts
 * them as themselves.  Pushdown treats only listed members as valid literals,
 * so a member missing here is merely evaluated locally, never wrongly sent;
 * a member listed here that Graph does not know would be a 400, which is why
 * only CSDL members belong in these lists.
 *
 * Member names are case-sensitive: they are camelCase, except tokenIssuerType
 * whose members are PascalCase.
 */
#define DEFINE_GRAPH_ENUM(var, qualified_name, ...) \
	static const char *const var##_members[] = {__VA_ARGS__, NULL}; \
	static const GraphEnum var = {qualified_name, var##_members}

/* microsoft.graph.security: shared by alerts and incidents */
DEFINE_GRAPH_ENUM(enum_alert_classification,
				  "microsoft.graph.security.alertClassification",
				  "unknown", "falsePositive", "truePositive",
				  "informationalExpectedActivity", "unknownFutureValue");

DEFINE_GRAPH_ENUM(enum_alert_determination,
				  "microsoft.graph.security.alertDetermination",
				  "unknown", "apt", "malware", "securityPersonnel",
				  "securityTesting", "unwantedSoftware", "other",
				  "multiStagedAttack", "compromisedAccount", "phishing",
				  "maliciousUserActivity", "notMalicious",
				  "notEnoughDataToValidate", "confirmedActivity",
				  "lineOfBusinessApplication", "unknownFutureValue");

DEFINE_GRAPH_ENUM(enum_alert_severity,
				  "microsoft.graph.security.alertSeverity",
				  "unknown", "informational", "low", "medium", "high",
				  "unknownFutureValue");

/* alerts only */
DEFINE_GRAPH_ENUM(enum_alert_status,
				  "microsoft.graph.security.alertStatus",
				  "unknown", "new", "inProgress", "resolved",
				  "unknownFutureValue");

DEFINE_GRAPH_ENUM(enum_service_source,
				  "microsoft.graph.security.serviceSource",
				  "unknown", "microsoftDefenderForEndpoint",
				  "microsoftDefenderForIdentity",
				  "microsoftDefenderForCloudApps",
				  "microsoftDefenderForOffice365", "microsoft365Defender",
				  "azureAdIdentityProtection", "microsoftAppGovernance",
				  "dataLossPrevention", "unknownFutureValue",
				  "microsoftDefenderForCloud", "microsoftSentinel",
				  "microsoftInsiderRiskManagement",
				  "microsoftThreatIntelligence", "microsoftSecurityForAI");

DEFINE_GRAPH_ENUM(enum_detection_source,
				  "microsoft.graph.security.detectionSource",
				  "unknown", "microsoftDefenderForEndpoint", "antivirus",
				  "smartScreen", "customTi", "microsoftDefenderForOffice365",
				  "automatedInvestigation", "microsoftThreatExperts",
				  "customDetection", "microsoftDefenderForIdentity",
				  "cloudAppSecurity", "microsoft365Defender",
				  "azureAdIdentityProtection", "manual",
				  "microsoftDataLossPrevention", "appGovernancePolicy",
				  "appGovernanceDetection", "unknownFutureValue",
				  "microsoftDefenderForCloud", "microsoftSentinel",
				  "microsoftDefenderForIoT", "microsoftDefenderForServers",
				  "microsoftDefenderForStorage", "microsoftDefenderForDNS",
				  "microsoftDefenderForDatabases",
				  "microsoftDefenderForContainers",
				  "microsoftDefenderForNetwork",
				  "microsoftDefenderForAppService",
				  "microsoftDefenderForKeyVault",
				  "microsoftDefenderForResourceManager",
				  "microsoftDefenderForApiManagement", "nrtAlerts",
				  "scheduledAlerts",
				  "microsoftDefenderThreatIntelligenceAnalytics",
				  "builtInMl", "microsoftInsiderRiskManagement",
				  "microsoftThreatIntelligence",
				  "microsoftDefenderForAIServices", "securityCopilot");

DEFINE_GRAPH_ENUM(enum_investigation_state,
				  "microsoft.graph.security.investigationState",
				  "unknown", "terminated", "successfullyRemediated", "benign",
				  "failed", "partiallyRemediated", "running",
				  "pendingApproval", "pendingResource", "queued",
				  "innerFailure", "preexistingAlert", "unsupportedOs",
				  "unsupportedAlertType", "suppressedAlert",
				  "partiallyInvestigated", "terminatedByUser",
				  "terminatedBySystem", "unknownFutureValue");

/* incidents only; note there is no "unknown" member */
DEFINE_GRAPH_ENUM(enum_incident_status,
				  "microsoft.graph.security.incidentStatus",
				  "active", "resolved", "inProgress", "redirected",
				  "unknownFutureValue", "awaitingAction");

/* microsoft.graph: shared by the identity protection resources */

/*
 * The underlying values of riskLevel are not in severity order (hidden and
 * none come after high), which is one reason pushdown never sends lt/gt on
 * enums; the order below is declaration order, not an ordering of risk.
 */
DEFINE_GRAPH_ENUM(enum_risk_level,
				  "microsoft.graph.riskLevel",
				  "low", "medium", "high", "hidden", "none",
				  "unknownFutureValue");

DEFINE_GRAPH_ENUM(enum_risk_state,
				  "microsoft.graph.riskState",
				  "none", "confirmedSafe", "remediated", "dismissed",
				  "atRisk", "confirmedCompromised", "unknownFutureValue");

DEFINE_GRAPH_ENUM(enum_risk_detail,
				  "microsoft.graph.riskDetail",
				  "none", "adminGeneratedTemporaryPassword",
				  "userPerformedSecuredPasswordChange",
				  "userPerformedSecuredPasswordReset",
				  "adminConfirmedSigninSafe", "aiConfirmedSigninSafe",
				  "userPassedMFADrivenByRiskBasedPolicy",
				  "adminDismissedAllRiskForUser",
				  "adminConfirmedSigninCompromised", "hidden",
				  "adminConfirmedUserCompromised", "unknownFutureValue",
				  "m365DAdminDismissedDetection",
				  "adminConfirmedServicePrincipalCompromised",
				  "adminDismissedAllRiskForServicePrincipal",
				  "userChangedPasswordOnPremises",
				  "adminDismissedRiskForSignIn", "adminConfirmedAccountSafe",
				  "microsoftRevokedSessions");

DEFINE_GRAPH_ENUM(enum_activity_type,
				  "microsoft.graph.activityType",
				  "signin", "user", "unknownFutureValue", "servicePrincipal");

DEFINE_GRAPH_ENUM(enum_risk_detection_timing_type,
				  "microsoft.graph.riskDetectionTimingType",
				  "notDefined", "realtime", "nearRealtime", "offline",
				  "unknownFutureValue");

/* PascalCase members, unlike every other enum here */
DEFINE_GRAPH_ENUM(enum_token_issuer_type,
				  "microsoft.graph.tokenIssuerType",
				  "AzureAD", "ADFederationServices", "UnknownFutureValue",
				  "AzureADBackupAuth", "ADFederationServicesMFAAdapter",
				  "NPSExtension");


/*
 * Properties
 *
 * One row per property.  The last argument is a set of flags; a property
 * without NUL is declared Nullable="false" in the CSDL.  FLT, SRT and UPD say
 * what Graph is known to accept for the property in $filter, $orderby and a
 * PATCH body: only what Graph documents (or, for lists that document no
 * filterable properties, what Microsoft's own examples filter on plus the
 * resource's timestamps; doc/graph.md, "Filterable, sortable and updatable
 * properties").  Claiming too little costs a local filter; claiming too
 * much costs a 400 and the narrower retry of the README's "What is sent to
 * Graph".
 *
 * "id" is never FLT: a condition on it becomes a GET by path instead.
 */
#define NUL		0x01			/* CSDL Nullable (the default in Graph) */
#define FLT		0x02			/* filterable */
#define SRT		0x04			/* sortable */
#define UPD		0x08			/* updatable */

#define PROP(name, type, flags) \
	{(name), (type), NULL, \
	 ((flags) & NUL) != 0, ((flags) & FLT) != 0, \
	 ((flags) & SRT) != 0, ((flags) & UPD) != 0}

#define PROP_ENUM(name, enumvar, flags) \
	{(name), GRAPH_ENUM, &(enumvar), \
	 ((flags) & NUL) != 0, ((flags) & FLT) != 0, \
	 ((flags) & SRT) != 0, ((flags) & UPD) != 0}

/*
 * security/alerts_v2: microsoft.graph.security.alert (doc/graph.md,
 * "Alerts")
 */
static const GraphProperty alert_properties[] = {
	PROP("id", GRAPH_STRING, 0),
	PROP("actorDisplayName", GRAPH_STRING, NUL),
	PROP("additionalData", GRAPH_COMPLEX, NUL),
	PROP("alertPolicyId", GRAPH_STRING, NUL),
	PROP("alertWebUrl", GRAPH_STRING, NUL),
	PROP("assignedTo", GRAPH_STRING, NUL | FLT | UPD),
	PROP("categories", GRAPH_STRING_COLLECTION, NUL),
	/* deprecated in favour of "categories", still sent */
	PROP("category", GRAPH_STRING, NUL),
	PROP_ENUM("classification", enum_alert_classification, NUL | FLT | UPD),
	PROP("comments", GRAPH_COMPLEX_COLLECTION, NUL),
	PROP("createdDateTime", GRAPH_DATETIME, NUL | FLT | SRT),
	PROP("customDetails", GRAPH_COMPLEX, NUL),
	PROP("description", GRAPH_STRING, NUL),
	PROP_ENUM("detectionSource", enum_detection_source, NUL),
	PROP("detectorId", GRAPH_STRING, NUL),
	PROP_ENUM("determination", enum_alert_determination, NUL | FLT | UPD),
	/* polymorphic; the derived columns below read into it */
	PROP("evidence", GRAPH_COMPLEX_COLLECTION, NUL),
	PROP("firstActivityDateTime", GRAPH_DATETIME, NUL),
	PROP("incidentId", GRAPH_STRING, NUL),
	PROP("incidentWebUrl", GRAPH_STRING, NUL),
	/* filtering on it is a 400 (doc/graph.md, "Alerts") */
	PROP_ENUM("investigationState", enum_investigation_state, NUL),
	PROP("lastActivityDateTime", GRAPH_DATETIME, NUL),
	PROP("lastUpdateDateTime", GRAPH_DATETIME, NUL | FLT | SRT),
	PROP("mitreTechniques", GRAPH_STRING_COLLECTION, NUL),
	PROP("productName", GRAPH_STRING, NUL),
	PROP("providerAlertId", GRAPH_STRING, NUL),
	PROP("recommendedActions", GRAPH_STRING, NUL),
	PROP("resolvedDateTime", GRAPH_DATETIME, NUL),
	PROP_ENUM("serviceSource", enum_service_source, FLT),
	PROP_ENUM("severity", enum_alert_severity, FLT),
	PROP_ENUM("status", enum_alert_status, FLT | UPD),
	PROP("systemTags", GRAPH_STRING_COLLECTION, NUL),
	PROP("tenantId", GRAPH_STRING, NUL),
	PROP("threatDisplayName", GRAPH_STRING, NUL),
	PROP("threatFamilyName", GRAPH_STRING, NUL),
	PROP("title", GRAPH_STRING, NUL),
};

/*
 * The evidence collection is polymorphic and grows, so it is exposed whole
 * as jsonb; these two columns pull out the values people join on, and let
 * "'x' = ANY(col)" go to Graph as the lambda the alerts v1-to-v2 migration
 * guide documents.
 */
static const GraphDerived alert_derived[] = {
	{
		.name = "evidenceDeviceNames",
		.kind = GRAPH_DERIVED_EVIDENCE_DEVICE_NAMES,
		.column = GRAPH_COL_TEXT_ARRAY,
		.source = "evidence",
		.lambda_format = "evidence/any(e: e/microsoft.graph.security.deviceEvidence/deviceDnsName eq %s)",
		.fallback_path_format = NULL,
	},
	{
		.name = "evidenceUserPrincipalNames",
		.kind = GRAPH_DERIVED_EVIDENCE_USER_PRINCIPAL_NAMES,
		.column = GRAPH_COL_TEXT_ARRAY,
		.source = "evidence",
		.lambda_format = "evidence/any(e: e/microsoft.graph.security.userEvidence/userAccount/userPrincipalName eq %s)",
		.fallback_path_format = NULL,
	},
};

/*
 * security/incidents: microsoft.graph.security.incident (doc/graph.md,
 * "Incidents")
 */
static const GraphProperty incident_properties[] = {
	PROP("id", GRAPH_STRING, 0),
	PROP("assignedTo", GRAPH_STRING, NUL | FLT | UPD),
	PROP_ENUM("classification", enum_alert_classification, NUL | FLT | UPD),
	PROP("comments", GRAPH_COMPLEX_COLLECTION, NUL),
	PROP("createdDateTime", GRAPH_DATETIME, FLT | SRT),
	PROP("customTags", GRAPH_STRING_COLLECTION, NUL | UPD),
	PROP("description", GRAPH_STRING, NUL),
	PROP_ENUM("determination", enum_alert_determination, NUL | FLT | UPD),
	PROP("displayName", GRAPH_STRING, NUL),
	PROP("incidentWebUrl", GRAPH_STRING, NUL),
	PROP("lastModifiedBy", GRAPH_STRING, NUL),
	PROP("lastUpdateDateTime", GRAPH_DATETIME, FLT | SRT),
	PROP("priorityScore", GRAPH_INT32, NUL),
	PROP("redirectIncidentId", GRAPH_STRING, NUL),
	PROP("resolvingComment", GRAPH_STRING, NUL),
	PROP_ENUM("severity", enum_alert_severity, FLT),
	PROP_ENUM("status", enum_incident_status, FLT | UPD),
	PROP("summary", GRAPH_STRING, NUL),
	PROP("systemTags", GRAPH_STRING_COLLECTION, NUL),
	PROP("tenantId", GRAPH_STRING, NUL),
};

/*
 * "alerts" is a navigation property, present only under $expand=alerts.
 * $expand together with $filter has been seen failing with a persistent 500
 * on large tenants, hence the per-incident fallback path.
 */
static const GraphDerived incident_derived[] = {
	{
		.name = "alerts",
		.kind = GRAPH_DERIVED_EXPAND,
		.column = GRAPH_COL_JSONB,
		.source = "alerts",
		.lambda_format = NULL,
		.fallback_path_format = "security/incidents/%s/alerts",
	},
};

/*
 * security/secureScores: microsoft.graph.secureScore (doc/graph.md,
 * "Secure scores")
 */
static const GraphProperty secure_score_properties[] = {
	PROP("id", GRAPH_STRING, 0),
	PROP("activeUserCount", GRAPH_INT32, NUL),
	PROP("averageComparativeScores", GRAPH_COMPLEX_COLLECTION, NUL),
	PROP("azureTenantId", GRAPH_STRING, 0),
	PROP("controlScores", GRAPH_COMPLEX_COLLECTION, NUL),
	PROP("createdDateTime", GRAPH_DATETIME, NUL | FLT | SRT),
	PROP("currentScore", GRAPH_DOUBLE, NUL),
	PROP("enabledServices", GRAPH_STRING_COLLECTION, NUL),
	PROP("licensedUserCount", GRAPH_INT32, NUL),
	PROP("maxScore", GRAPH_DOUBLE, NUL),
	PROP("vendorInformation", GRAPH_COMPLEX, NUL),
};

/*
 * identityProtection/riskDetections: microsoft.graph.riskDetection
 * (doc/graph.md, "Risk detections").  The docs list no filterable
 * properties; FLT marks the ones Microsoft's examples filter on, plus the
 * timestamps.  riskEventType and source are free strings in the CSDL, not
 * enums, and the set of values keeps growing, so they must stay
 * GRAPH_STRING.
 */
static const GraphProperty risk_detection_properties[] = {
	PROP("id", GRAPH_STRING, 0),
	PROP_ENUM("activity", enum_activity_type, NUL),
	PROP("activityDateTime", GRAPH_DATETIME, NUL | FLT),
	/* a JSON document serialized inside a string; kept as text */
	PROP("additionalInfo", GRAPH_STRING, NUL),
	PROP("correlationId", GRAPH_STRING, NUL),
	PROP("detectedDateTime", GRAPH_DATETIME, NUL | FLT),
	PROP_ENUM("detectionTimingType", enum_risk_detection_timing_type, NUL | FLT),
	PROP("ipAddress", GRAPH_STRING, NUL),
	PROP("lastUpdatedDateTime", GRAPH_DATETIME, NUL | FLT),
	PROP("location", GRAPH_COMPLEX, NUL),
	PROP("requestId", GRAPH_STRING, NUL),
	PROP_ENUM("riskDetail", enum_risk_detail, NUL),
	PROP("riskEventType", GRAPH_STRING, NUL | FLT),
	PROP_ENUM("riskLevel", enum_risk_level, NUL | FLT),
	PROP_ENUM("riskState", enum_risk_state, NUL),
	PROP("source", GRAPH_STRING, NUL),
	PROP_ENUM("tokenIssuerType", enum_token_issuer_type, NUL),
	PROP("userDisplayName", GRAPH_STRING, NUL | FLT),
	PROP("userId", GRAPH_STRING, NUL),
	PROP("userPrincipalName", GRAPH_STRING, NUL),
};

/*
 * identityProtection/riskyUsers: microsoft.graph.riskyUser (doc/graph.md,
 * "Risky users").  The contained "history" navigation is not a column; it
 * has a path of its own.  Dismiss and confirmCompromised are actions, not
 * PATCHes, so nothing here is UPD.
 */
static const GraphProperty risky_user_properties[] = {
	PROP("id", GRAPH_STRING, 0),
	PROP("isDeleted", GRAPH_BOOLEAN, NUL),
	PROP("isProcessing", GRAPH_BOOLEAN, NUL),
	PROP_ENUM("riskDetail", enum_risk_detail, NUL | FLT),
	PROP("riskLastUpdatedDateTime", GRAPH_DATETIME, NUL | FLT),
	PROP_ENUM("riskLevel", enum_risk_level, NUL | FLT),
	PROP_ENUM("riskState", enum_risk_state, NUL),
	PROP("userDisplayName", GRAPH_STRING, NUL | FLT),
	PROP("userPrincipalName", GRAPH_STRING, NUL),
};

/*
 * identityProtection/servicePrincipalRiskDetections:
 * microsoft.graph.servicePrincipalRiskDetection (doc/graph.md, "Service
 * principal risk detections").
 * requestId and servicePrincipalId are the two the resource page marks as
 * filterable; riskEventType and riskLevel come from the list page's example.
 */
static const GraphProperty sp_risk_detection_properties[] = {
	PROP("id", GRAPH_STRING, 0),
	PROP_ENUM("activity", enum_activity_type, NUL),
	PROP("activityDateTime", GRAPH_DATETIME, NUL | FLT),
	PROP("additionalInfo", GRAPH_STRING, NUL),
	PROP("appId", GRAPH_STRING, NUL),
	PROP("correlationId", GRAPH_STRING, NUL),
	PROP("detectedDateTime", GRAPH_DATETIME, NUL | FLT),
	PROP_ENUM("detectionTimingType", enum_risk_detection_timing_type, NUL),
	PROP("ipAddress", GRAPH_STRING, NUL),
	PROP("keyIds", GRAPH_STRING_COLLECTION, NUL),
	PROP("lastUpdatedDateTime", GRAPH_DATETIME, NUL | FLT),
	PROP("location", GRAPH_COMPLEX, NUL),
	PROP("requestId", GRAPH_STRING, NUL | FLT),
	PROP_ENUM("riskDetail", enum_risk_detail, NUL),
	PROP("riskEventType", GRAPH_STRING, NUL | FLT),
	PROP_ENUM("riskLevel", enum_risk_level, NUL | FLT),
	PROP_ENUM("riskState", enum_risk_state, NUL),
	PROP("servicePrincipalDisplayName", GRAPH_STRING, NUL),
	PROP("servicePrincipalId", GRAPH_STRING, NUL | FLT),
	PROP("source", GRAPH_STRING, NUL),
	PROP_ENUM("tokenIssuerType", enum_token_issuer_type, NUL),
};

/*
 * identityProtection/riskyUsers takes no PATCH: a user's risk is dismissed
 * or confirmed by an action over a list of user ids.
 */
static const GraphAction risky_user_actions[] = {
	{"dismiss", "msgraph_dismiss_risky_users", "userIds", "dismiss a user's risk"},
	{"confirmCompromised", "msgraph_confirm_compromised", "userIds",
	"confirm that a user is compromised"},
};

#undef PROP
#undef PROP_ENUM
#undef NUL
#undef FLT
#undef SRT
#undef UPD


/*
 * Resources
 *
 * Query-option flags follow doc/graph.md, "Query options and page sizes":
 * anything documented on the list page or announced by a CSDL capability
 * annotation is allowed; options the CSDL says are unsupported, or that
 * neither source mentions, are not.  top_max is the largest $top we send;
 * where Graph's limit is undocumented it is the value integrations are
 * known to use (alerts_v2) or a conservative guess.  top_default is 0
 * where the service's page size is not known.  typical_rows are rough
 * planning figures, not facts.
 *
 * Order matters only for IMPORT FOREIGN SCHEMA, which creates tables in
 * this order.
 */
static const GraphResource resources[] = {
	{
		.remote_schema = "security",
		.table_name = "alerts",
		.path = "security/alerts_v2",
		.entity_type = "microsoft.graph.security.alert",
		.read_permission = "SecurityAlert.Read.All",
		.write_permission = "SecurityAlert.ReadWrite.All",
		.properties = alert_properties,
		.nproperties = lengthof(alert_properties),
		.derived = alert_derived,
		.nderived = lengthof(alert_derived),
		.top_max = 2000,
		.top_default = 0,
		.allows_top = true,
		.allows_skip = true,
		.allows_select = true,
		.allows_orderby = true,
		.allows_count = true,
		.allows_filter = true,
		.snapshot_property = "createdDateTime",
		.typical_rows = 10000,
	},
	{
		.remote_schema = "security",
		.table_name = "incidents",
		.path = "security/incidents",
		.entity_type = "microsoft.graph.security.incident",
		.read_permission = "SecurityIncident.Read.All",
		.write_permission = "SecurityIncident.ReadWrite.All",
		.properties = incident_properties,
		.nproperties = lengthof(incident_properties),
		.derived = incident_derived,
		.nderived = lengthof(incident_derived),
		/* $top=100 is a 400 "limit of '50' for Top query" */
		.top_max = 50,
		.top_default = 50,
		.allows_top = true,
		.allows_skip = true,
		.allows_select = true,
		.allows_orderby = true,
		.allows_count = true,
		.allows_filter = true,
		.snapshot_property = "createdDateTime",
		.typical_rows = 2000,
	},
	{
		.remote_schema = "security",
		.table_name = "secure_scores",
		.path = "security/secureScores",
		.entity_type = "microsoft.graph.secureScore",
		.read_permission = "SecurityEvents.Read.All",
		.write_permission = NULL,
		.properties = secure_score_properties,
		.nproperties = lengthof(secure_score_properties),
		.derived = NULL,
		.nderived = 0,
		.top_max = 100,
		.top_default = 0,
		.allows_top = true,
		.allows_skip = true,
		.allows_select = true,
		.allows_orderby = true,
		.allows_count = true,
		.allows_filter = true,
		.snapshot_property = NULL,
		/* one record per day, about 90 days kept */
		.typical_rows = 90,
	},
	{
		.remote_schema = "identity_protection",
		.table_name = "risk_detections",
		.path = "identityProtection/riskDetections",
		.entity_type = "microsoft.graph.riskDetection",
		.read_permission = "IdentityRiskEvent.Read.All",
		.write_permission = NULL,
		.properties = risk_detection_properties,
		.nproperties = lengthof(risk_detection_properties),
		.derived = NULL,
		.nderived = 0,
		.top_max = 500,
		.top_default = 20,
		.allows_top = true,
		.allows_skip = false,
		.allows_select = true,
		.allows_orderby = false,
		.allows_count = false,
		.allows_filter = true,
		.snapshot_property = NULL,
		.typical_rows = 5000,
	},
	{
		.remote_schema = "identity_protection",
		.table_name = "risky_users",
		.path = "identityProtection/riskyUsers",
		.entity_type = "microsoft.graph.riskyUser",
		.read_permission = "IdentityRiskyUser.Read.All",
		/* for the dismiss and confirmCompromised actions, not for PATCH */
		.write_permission = "IdentityRiskyUser.ReadWrite.All",
		.properties = risky_user_properties,
		.nproperties = lengthof(risky_user_properties),
		.derived = NULL,
		.nderived = 0,
		.actions = risky_user_actions,
		.nactions = lengthof(risky_user_actions),
		.actions_change = "a risky user's state",
		.top_max = 500,
		.top_default = 0,
		.allows_top = true,
		.allows_skip = false,
		.allows_select = true,
		.allows_orderby = false,
		.allows_count = true,
		.allows_filter = true,
		.snapshot_property = NULL,
		.typical_rows = 500,
	},
	{
		.remote_schema = "identity_protection",
		.table_name = "service_principal_risk_detections",
		.path = "identityProtection/servicePrincipalRiskDetections",
		.entity_type = "microsoft.graph.servicePrincipalRiskDetection",
		.read_permission = "IdentityRiskEvent.Read.All",
		.write_permission = NULL,
		.properties = sp_risk_detection_properties,
		.nproperties = lengthof(sp_risk_detection_properties),
		.derived = NULL,
		.nderived = 0,
		/* undocumented; a conservative guess */
		.top_max = 100,
		.top_default = 0,
		.allows_top = true,
		.allows_skip = false,
		.allows_select = true,
		.allows_orderby = false,
		.allows_count = false,
		.allows_filter = true,
		.snapshot_property = NULL,
		.typical_rows = 200,
	},
};


/*
 * graph_catalog_resources
 *		Return the whole resource table and store its length in *nresources.
 *
 * The array is static and lives as long as the process.
 */
const GraphResource *
graph_catalog_resources(int *nresources)
{
	if (nresources != NULL)
		*nresources = lengthof(resources);
	return resources;
}

/*
 * graph_catalog_find_path
 *		Find the resource whose path is "path", or NULL.
 *
 * Users write the foreign table option "resource" by hand, so one leading
 * and one trailing slash are forgiven ("/security/alerts_v2/").  Anything
 * else must match exactly, case included: Graph itself is lenient about
 * case in paths, but a table whose path differs from the catalog's only in
 * case is more likely a typo than intent, and the catalog's spelling is what
 * the request will use.
 */
const GraphResource *
graph_catalog_find_path(const char *path)
{
	size_t		len;
	int			i;

	if (path == NULL)
		return NULL;

	if (path[0] == '/')
		path++;
	len = strlen(path);
	if (len > 0 && path[len - 1] == '/')
		len--;
	if (len == 0)
		return NULL;

	for (i = 0; i < lengthof(resources); i++)
	{
		const char *candidate = resources[i].path;

		if (strlen(candidate) == len && strncmp(candidate, path, len) == 0)
			return &resources[i];
	}
	return NULL;
}

/*
 * graph_catalog_find_property
 *		Find the property with JSON name "name" in "res", or NULL.
 *
 * JSON member names are case-sensitive, and so is this lookup: a column
 * whose property option differs in case names nothing Graph will send.
 * Dotted paths ("location.city") are the caller's business; pass the first
 * segment.  A linear search is fine for a few dozen properties.
 */
const GraphProperty *
graph_catalog_find_property(const GraphResource *res, const char *name)
{
	int			i;

	if (res == NULL || name == NULL)
		return NULL;

	for (i = 0; i < res->nproperties; i++)
	{
		if (strcmp(res->properties[i].name, name) == 0)
			return &res->properties[i];
	}
	return NULL;
}

/*
 * graph_catalog_find_derived
 *		Find the derived column with pseudo property name "name", or NULL.
 *
 * Same rules as graph_catalog_find_property.  Derived names never collide
 * with property names of the same resource (tests/unit/catalog checks it), so a
 * caller may try either lookup first.
 */
const GraphDerived *
graph_catalog_find_derived(const GraphResource *res, const char *name)
{
	int			i;

	if (res == NULL || name == NULL)
		return NULL;

	for (i = 0; i < res->nderived; i++)
	{
		if (strcmp(res->derived[i].name, name) == 0)
			return &res->derived[i];
	}
	return NULL;
}

/*
 * graph_catalog_find_action
 *		The action an SQL function sends, and (in *res) its resource; NULL
 *		if no resource has one for that function.
 */
const GraphAction *
graph_catalog_find_action(const char *sql_function, const GraphResource **res)
{
	int			i;
	int			j;

	for (i = 0; i < lengthof(resources); i++)
	{
		for (j = 0; j < resources[i].nactions; j++)
		{
			if (strcmp(resources[i].actions[j].sql_function, sql_function) == 0)
			{
				*res = &resources[i];
				return &resources[i].actions[j];
			}
		}
	}
	return NULL;
}

/*
 * graph_enum_has_member
 *		Is "member" one of the members of enum type "e"?
 *
 * Case-sensitive on purpose.  Pushdown treats "col = 'member'" as exact (no
 * local recheck) only when the literal is a member; PostgreSQL compares text
 * case-sensitively, while Graph's enum comparison may not be, so a literal
 * such as 'High' must not count as a member or Graph could return rows that
 * PostgreSQL would not.
 */
bool
graph_enum_has_member(const GraphEnum *e, const char *member)
{
	const char *const *m;

	if (e == NULL || member == NULL)
		return false;

	for (m = e->members; *m != NULL; m++)
	{
		if (strcmp(*m, member) == 0)
			return true;
	}
	return false;
}

/*
 * graph_enum_case_variant
 *		The member of "e" that "literal" spells in other letter case, or NULL
 *		when there is none (the literal is a member, or no member at all).
 *
 * Graph sends and compares members exactly as the schema spells them, so
 * a condition "col = 'High'" can never match: the caller knows that no row
 * qualifies and which member the user probably meant.  ASCII case folding
 * only: every member name is ASCII.
 */
const char *
graph_enum_case_variant(const GraphEnum *e, const char *literal)
{
	const char *const *m;

	if (e == NULL || literal == NULL || graph_enum_has_member(e, literal))
		return NULL;

	for (m = e->members; *m != NULL; m++)
	{
		const char *a = *m;
		const char *b = literal;

		while (*a && *b && ascii_lower(*a) == ascii_lower(*b))
			a++, b++;
		if (*a == '\0' && *b == '\0')
			return *m;
	}
	return NULL;
}

/*
 * graph_property_column_kind
 *		The column type IMPORT FOREIGN SCHEMA declares for "prop".
 *
 * This is the type mapping the README gives under "The tables".  Enums
 * become text rather than PostgreSQL enum types because Graph adds members
 * over time and a new member must not break a scan.
 */
GraphColumnKind
graph_property_column_kind(const GraphProperty *prop)
{
	switch (prop->type)
	{
		case GRAPH_STRING:
		case GRAPH_GUID:
		case GRAPH_ENUM:
			return GRAPH_COL_TEXT;
		case GRAPH_DATETIME:
			return GRAPH_COL_TIMESTAMPTZ;
		case GRAPH_BOOLEAN:
			return GRAPH_COL_BOOLEAN;
		case GRAPH_INT32:
			return GRAPH_COL_INTEGER;
		case GRAPH_INT64:
			return GRAPH_COL_BIGINT;
		case GRAPH_DOUBLE:
			return GRAPH_COL_DOUBLE;
		case GRAPH_STRING_COLLECTION:
		case GRAPH_ENUM_COLLECTION:
			return GRAPH_COL_TEXT_ARRAY;
		case GRAPH_COMPLEX:
		case GRAPH_COMPLEX_COLLECTION:
			return GRAPH_COL_JSONB;
	}

	/*
	 * Not reached for valid input; no default label above, so that the
	 * compiler warns when a GraphType is added without a mapping.  jsonb can
	 * hold any JSON value, which makes it the safe answer.
	 */
	return GRAPH_COL_JSONB;
}

/*
 * graph_column_kind_sql
 *		The SQL type name for "kind", as IMPORT FOREIGN SCHEMA writes it.
 *
 * The names are spelled the way format_type() prints them, so that the
 * generated CREATE FOREIGN TABLE reads like pg_dump output.
 */
const char *
graph_column_kind_sql(GraphColumnKind kind)
{
	switch (kind)
	{
		case GRAPH_COL_TEXT:
			return "text";
		case GRAPH_COL_TIMESTAMPTZ:
			return "timestamp with time zone";
		case GRAPH_COL_BOOLEAN:
			return "boolean";
		case GRAPH_COL_INTEGER:
			return "integer";
		case GRAPH_COL_BIGINT:
			return "bigint";
		case GRAPH_COL_DOUBLE:
			return "double precision";
		case GRAPH_COL_TEXT_ARRAY:
			return "text[]";
		case GRAPH_COL_JSONB:
			return "jsonb";
	}
	/* not reached; see graph_property_column_kind */
	return "jsonb";
}

/*
 * Which throttling limit a path counts against, by its first segments
 * (the longest prefix listed first; Graph's paths are case-insensitive).
 * Paths of resources the catalog does not know count against the limit of
 * their family too, so that a hand-written table is paced as well.
 */
static const struct
{
	const char *prefix;
	GraphThrottleClass cls;
}			throttle_prefixes[] = {
	{"identityProtection/", GRAPH_THROTTLE_IDENTITY_PROTECTION},
	{"security/runHuntingQuery", GRAPH_THROTTLE_HUNTING},
	/* secureScores and secureScoreControlProfiles */
	{"security/secureScore", GRAPH_THROTTLE_SECURE_SCORE},
	{"security/", GRAPH_THROTTLE_SECURITY},
};

/*
 * graph_catalog_throttle_class
 *		The throttling limit a request to "path" (under the version) counts
 *		against.
 */
GraphThrottleClass
graph_catalog_throttle_class(const char *path)
{
	int			i;

	for (i = 0; path != NULL && i < lengthof(throttle_prefixes); i++)
	{
		const char *a = throttle_prefixes[i].prefix;
		const char *b = path;

		while (*a && ascii_lower(*a) == ascii_lower(*b))
			a++, b++;
		if (*a == '\0')
			return throttle_prefixes[i].cls;
	}
	return GRAPH_THROTTLE_NONE;
}

/*
 * graph_catalog_known_schema
 *		Is "schema" a remote schema IMPORT FOREIGN SCHEMA accepts?
 *
 * Case-sensitive, like the remote schema name PostgreSQL passes us (it has
 * already been case-folded by the parser unless the user quoted it).
 */
bool
graph_catalog_known_schema(const char *schema)
{
	int			i;

	if (schema == NULL)
		return false;

	for (i = 0; i < lengthof(resources); i++)
	{
		if (strcmp(resources[i].remote_schema, schema) == 0)
			return true;
	}
	return false;
}

/*
 * graph_catalog_schema_list
 *		The known remote schemas, sorted and comma separated, for the error
 *		message about an unknown one.
 *
 * A literal, because building it would need memory management this file is
 * meant to stay free of.  tests/unit/catalog/check_catalog.py fails if it
 * disagrees with the resource table.
 */
const char *
graph_catalog_schema_list(void)
{
	return "identity_protection, security";
}
