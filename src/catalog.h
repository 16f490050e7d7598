/*-------------------------------------------------------------------------
 *
 * catalog.h
 *		  The resource catalog: what msgraph_security_fdw knows about each
 *		  Microsoft Graph resource it can scan.
 *
 * The catalog is plain data.  IMPORT FOREIGN SCHEMA, the JSON-to-tuple
 * conversion and the pushdown code all read it, so that adding a resource
 * means adding rows to catalog.c and nothing else.  Facts come from the
 * Graph v1.0 CSDL as summarised in doc/graph.md.
 *
 * This header includes nothing from PostgreSQL on purpose: the catalog is
 * also compiled into stand-alone test programs.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MSGRAPH_CATALOG_H
#define MSGRAPH_CATALOG_H

#include <stdbool.h>

/* The OData type of a property, as far as the extension cares. */
typedef enum GraphType
{
	GRAPH_STRING,				/* Edm.String */
	GRAPH_GUID,					/* Edm.Guid */
	GRAPH_ENUM,					/* a member of an enum type (JSON string) */
	GRAPH_DATETIME,				/* Edm.DateTimeOffset */
	GRAPH_BOOLEAN,				/* Edm.Boolean */
	GRAPH_INT32,				/* Edm.Int32 */
	GRAPH_INT64,				/* Edm.Int64 */
	GRAPH_DOUBLE,				/* Edm.Double */
	GRAPH_STRING_COLLECTION,	/* Collection(Edm.String) */
	GRAPH_ENUM_COLLECTION,		/* Collection(some enum) */
	GRAPH_COMPLEX,				/* a complex or open type */
	GRAPH_COMPLEX_COLLECTION	/* Collection(complex type) */
} GraphType;

/*
 * An enum type.  "members" lists every CSDL member in declaration order,
 * the unknownFutureValue sentinel included; those after the sentinel are
 * the evolvable members that Graph only sends (and only accepts in a
 * request) under "Prefer: include-unknown-enum-members", which the
 * extension always sends.
 */
typedef struct GraphEnum
{
	const char *name;			/* e.g. "microsoft.graph.security.alertSeverity" */
	const char *const *members; /* NULL-terminated */
} GraphEnum;

/* Column type that IMPORT FOREIGN SCHEMA declares for a property. */
typedef enum GraphColumnKind
{
	GRAPH_COL_TEXT,
	GRAPH_COL_TIMESTAMPTZ,
	GRAPH_COL_BOOLEAN,
	GRAPH_COL_INTEGER,
	GRAPH_COL_BIGINT,
	GRAPH_COL_DOUBLE,
	GRAPH_COL_TEXT_ARRAY,
	GRAPH_COL_JSONB
} GraphColumnKind;

/* One property of a resource's entity type. */
typedef struct GraphProperty
{
	const char *name;			/* JSON name, lowerCamelCase */
	GraphType	type;
	const GraphEnum *enumtype;	/* for GRAPH_ENUM and GRAPH_ENUM_COLLECTION */
	bool		nullable;		/* CSDL Nullable */
	bool		filterable;		/* Graph evaluates $filter on it */
	bool		sortable;		/* Graph evaluates $orderby on it */
	bool		updatable;		/* may be sent in a PATCH */
} GraphProperty;

/*
 * Derived columns: values the extension computes from the entity (or
 * fetches with it) rather than one property Graph sends as is.
 */
typedef enum GraphDerivedKind
{
	/* deviceDnsName of every deviceEvidence item of "evidence" */
	GRAPH_DERIVED_EVIDENCE_DEVICE_NAMES,
	/* userAccount.userPrincipalName of every userEvidence item */
	GRAPH_DERIVED_EVIDENCE_USER_PRINCIPAL_NAMES,
	/* a navigation property fetched with $expand (incidents.alerts) */
	GRAPH_DERIVED_EXPAND
} GraphDerivedKind;

typedef struct GraphDerived
{
	const char *name;			/* pseudo property name, e.g. "evidenceDeviceNames" */
	GraphDerivedKind kind;
	GraphColumnKind column;		/* column type IMPORT declares */
	const char *source;			/* property read or expanded, e.g. "evidence" */
	/* for the evidence kinds: the OData lambda filter, %s = quoted literal */
	const char *lambda_format;
	/* for GRAPH_DERIVED_EXPAND: per-entity fallback path, %s = entity id */
	const char *fallback_path_format;
} GraphDerived;

/*
 * An action of a resource: POST {path}/{name} with a list of entity ids,
 * sent by an SQL function of the extension (the write permission of the
 * resource applies).
 */
typedef struct GraphAction
{
	const char *name;			/* e.g. "dismiss" */
	const char *sql_function;	/* e.g. "msgraph_dismiss_risky_users" */
	const char *ids_member;		/* the body's member holding the ids */
	const char *purpose;		/* for hints: "dismiss a user's risk" */
} GraphAction;

/* Everything the extension knows about one resource. */
typedef struct GraphResource
{
	const char *remote_schema;	/* IMPORT FOREIGN SCHEMA name, e.g. "security" */
	const char *table_name;		/* table IMPORT creates, e.g. "alerts" */
	const char *path;			/* path under the version, e.g. "security/alerts_v2" */
	const char *entity_type;	/* e.g. "microsoft.graph.security.alert" */
	const char *read_permission;	/* least-privileged application permission */
	const char *write_permission;	/* NULL when not updatable */

	const GraphProperty *properties;	/* id first, then alphabetical */
	int			nproperties;
	const GraphDerived *derived;
	int			nderived;
	const GraphAction *actions; /* POST actions, instead of PATCH */
	int			nactions;
	const char *actions_change; /* for hints: what they change, "a risky
								 * user's state" */

	int			top_max;		/* largest $top accepted */
	int			top_default;	/* page size Graph uses without $top (0 = unknown) */
	bool		allows_top;
	bool		allows_skip;
	bool		allows_select;
	bool		allows_orderby;
	bool		allows_count;
	bool		allows_filter;

	/*
	 * Name of the timestamp the list scan pins to the scan start ("le"),
	 * so that rows created while paging do not shift pages; NULL if none.
	 */
	const char *snapshot_property;

	/* rough number of entities of a typical tenant, for planning */
	double		typical_rows;
} GraphResource;

/*
 * The throttling limit a request counts against (doc/graph.md,
 * "Throttling"), decided by its path: throttle.c paces each class in its
 * own budget.
 */
typedef enum GraphThrottleClass
{
	GRAPH_THROTTLE_NONE,		/* only Graph's global limit */
	GRAPH_THROTTLE_SECURITY,	/* /security: per application and tenant */
	GRAPH_THROTTLE_SECURE_SCORE,	/* the same, and 4 requests at a time */
	GRAPH_THROTTLE_HUNTING,		/* advanced hunting, per tenant */
	GRAPH_THROTTLE_IDENTITY_PROTECTION	/* 1 a second per tenant, all apps */
} GraphThrottleClass;

/* in catalog.c */
extern const GraphResource *graph_catalog_resources(int *nresources);
extern const GraphResource *graph_catalog_find_path(const char *path);
extern const GraphProperty *graph_catalog_find_property(const GraphResource *res,
														const char *name);
extern const GraphDerived *graph_catalog_find_derived(const GraphResource *res,
													  const char *name);
extern const GraphAction *graph_catalog_find_action(const char *sql_function,
													const GraphResource **res);
extern bool graph_enum_has_member(const GraphEnum *e, const char *member);
extern const char *graph_enum_case_variant(const GraphEnum *e, const char *literal);
extern GraphColumnKind graph_property_column_kind(const GraphProperty *prop);
extern const char *graph_column_kind_sql(GraphColumnKind kind);
extern bool graph_catalog_known_schema(const char *schema);
extern GraphThrottleClass graph_catalog_throttle_class(const char *path);
extern const char *graph_catalog_schema_list(void);

#endif							/* MSGRAPH_CATALOG_H */
