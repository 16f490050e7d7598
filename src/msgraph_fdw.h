/*-------------------------------------------------------------------------
 *
 * msgraph_fdw.h
 *		  Private declarations of msgraph_security_fdw, grouped by the file
 *		  that defines them, so that this header is also the map of the code.
 *
 * json-c's "json_object" type clashes with the SQL function json_object()
 * that utils/builtins.h declares; files that need json-c include
 * "msgraph_json.h" instead of <json-c/json.h>, which works around it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MSGRAPH_FDW_H
#define MSGRAPH_FDW_H

#include "fmgr.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "nodes/parsenodes.h"
#include "nodes/pathnodes.h"
#include "datatype/timestamp.h"
#include "utils/relcache.h"

#include "catalog.h"
#include "jsoncheck.h"

#define MSGRAPH_FDW_VERSION "0.1.0"
#define MSGRAPH_USER_AGENT "msgraph_security_fdw/" MSGRAPH_FDW_VERSION
#define MSGRAPH_MAX_STREAMS 16

/* Kinds of credential a user mapping can hold. */
typedef enum MsgraphCredentialKind
{
	MSGRAPH_CRED_NONE,
	MSGRAPH_CRED_CLIENT_SECRET,
	MSGRAPH_CRED_ACCESS_TOKEN,
	MSGRAPH_CRED_CERTIFICATE,	/* JWT client assertion (jwt.c) */
	MSGRAPH_CRED_MANAGED_IDENTITY	/* the host's managed identity */
} MsgraphCredentialKind;

/*
 * Everything a request to one server on behalf of one user needs, gathered
 * from the server, user mapping and (where they override) table options.
 * Built per scan in the scan's memory context.
 */
typedef struct MsgraphConnOptions
{
	Oid			serverid;
	Oid			userid;
	char	   *servername;

	/* server */
	char	   *tenant_id;		/* NULL if not given */
	char	   *cloud;
	char	   *graph_url;		/* no trailing slash, no version */
	char	   *login_url;		/* no trailing slash */
	char	   *scope;			/* "<cloud's Graph host>/.default" */
	char	   *api_version;
	int			page_size;		/* 0 = the endpoint's maximum */
	int			timeout_ms;
	int			connect_timeout_ms;
	int64		max_response_bytes;
	int			max_retries;	/* retries of one request (retry.c) */
	char	   *ca_file;		/* PEM file of trusted CAs, NULL: the system's */
	char	   *proxy;			/* HTTPS proxy URL, NULL for none */
	int			streams;		/* concurrent time windows of a scan */
	char	   *identity_endpoint;	/* managed identity token endpoint */

	/* user mapping */
	MsgraphCredentialKind cred_kind;
	char	   *client_id;
	char	   *client_secret;
	char	   *access_token;

	/* certificate credentials: PEM text or file of each, not both */
	char	   *certificate;
	char	   *certificate_file;
	char	   *private_key;
	char	   *private_key_file;
	char	   *private_key_password;	/* NULL when the key is not encrypted */
	bool		jwt_rs256;		/* jwt_algorithm 'RS256'; PS256 otherwise */
} MsgraphConnOptions;

/*
 * Counters of Graph requests: a statement's (EXPLAIN ANALYZE) and the
 * backend's (msgraph_request_stats()), counted together by connection.c's
 * msgraph_count_*() functions.
 */
typedef struct MsgraphRequestStats
{
	int64		requests;
	int64		pages;
	int64		bytes;			/* as received on the wire */
	int64		retries;
	int64		throttled_ms;	/* waits: pacing, Retry-After, backoff */
} MsgraphRequestStats;

extern MsgraphRequestStats msgraph_backend_stats;
extern int64 msgraph_tokens_fetched;

/* in option.c */
extern void msgraph_get_conn_options(ForeignServer *server, UserMapping *user,
									 MsgraphConnOptions *opts);
extern char *msgraph_table_resource(ForeignTable *table);
extern int	msgraph_page_size(ForeignServer *server, ForeignTable *table);
extern int	msgraph_server_streams(ForeignServer *server);
extern void msgraph_column_options(Relation rel, AttrNumber attnum, char **property,
								   int *filterable);
extern bool msgraph_use_remote_estimate(ForeignServer *server, ForeignTable *table);
extern bool msgraph_url_is_loopback(const char *url);
extern char *msgraph_snake_case(const char *camel);
extern UserMapping *msgraph_get_user_mapping(Oid userid, Oid serverid);

/* in http.c */

/*
 * How much of the body of an answer that is not a 2xx is kept: Graph's and
 * the identity platform's error objects take a few hundred bytes.
 */
#define MSGRAPH_ERROR_BODY_MAX	16384

typedef struct MsgraphHttpRequest
{
	const char *method;			/* "GET", "POST", "PATCH" */
	const char *url;			/* already percent-encoded */
	List	   *headers;		/* of char *, "Name: value" */
	const char *body;			/* NULL for none */
	size_t		body_len;
	int			timeout_ms;
	int			connect_timeout_ms;
	int64		max_response_bytes;
	const char *ca_file;		/* NULL: the system's trust store */
	const char *proxy;			/* NULL: no proxy, whatever the environment says */
} MsgraphHttpRequest;

typedef struct MsgraphHttpResponse
{
	long		status;			/* 0 when the transfer itself failed */
	StringInfoData body;		/* decoded body, NUL-terminated */
	StringInfoData wire;		/* a gzipped body as received (data NULL if none) */
	bool		keep_buffers;	/* set by the owner of a concurrent transfer's
								 * response: the next transfer into it reuses
								 * body's and wire's memory */
	int64		wire_bytes;		/* body bytes as received (compressed) */
	bool		too_large;		/* body exceeded max_response_bytes */
	bool		body_cut;		/* an answer that is no success, longer than
								 * MSGRAPH_ERROR_BODY_MAX: body holds its
								 * first bytes (none if it was gzipped) */
	int			curl_code;		/* CURLcode of the transfer */
	char	   *transport_error;	/* curl's message when curl_code != 0 */
	char	   *request_id;		/* response header request-id */
	char	   *content_type;
	char	   *retry_after;
	bool		request_sent;	/* any request byte went out (a failed connect: no) */

	/* set by msgraph_request(): how the retries ended (retry.c) */
	const char *method;			/* of the request answered */
	int			retries;		/* requests sent again before this answer */
	int			retry_stop;		/* MsgraphRetryStop */
	int64		retry_wait_ms;	/* the wait that did not fit in statement_timeout */
} MsgraphHttpResponse;

extern void msgraph_http_perform(const MsgraphHttpRequest *req,
								 MsgraphHttpResponse *resp);
typedef struct MsgraphTransfer MsgraphTransfer;
extern MsgraphTransfer *msgraph_http_start(const MsgraphHttpRequest *req,
										   MsgraphHttpResponse *resp);
extern void msgraph_http_send(MsgraphTransfer *t);
extern void msgraph_http_progress(void);
extern MsgraphTransfer *msgraph_http_wait_any(MsgraphTransfer **set, int n);
extern void msgraph_http_end(MsgraphTransfer *t);
struct WaitEventSet;
extern int	msgraph_http_add_wait_events(struct WaitEventSet *set, MsgraphTransfer **ts,
										 int n, void *user_data);
extern long msgraph_http_timeout_ms(void);
extern void msgraph_http_socket_ready(pgsocket sock, uint32 events);
extern char *msgraph_url_encode(const char *s);
extern char *msgraph_encode_path_segment(const char *s);
extern bool msgraph_path_segment_valid(const char *s);
extern bool msgraph_same_origin(const char *url, const char *base);
extern char *msgraph_new_request_id(void);

/* in auth.c */
extern const char *msgraph_get_token(MsgraphConnOptions *opts, bool force_refresh);
extern void msgraph_auth_init(void);

/* in jwt.c */
extern char *msgraph_client_assertion(MsgraphConnOptions *opts, const char *audience);
extern void msgraph_check_certificate_pem(const char *optname, const char *pem);
extern void msgraph_check_private_key_pem(const char *optname, const char *pem,
										  const char *password);

/* in connection.c */
struct json_object;

extern void msgraph_count_page(MsgraphRequestStats *stats);
extern void msgraph_count_wait(MsgraphRequestStats *stats, int64 ms, bool retry);
extern void msgraph_get(MsgraphConnOptions *opts, const char *url,
							  MsgraphHttpResponse *resp,
							  MsgraphRequestStats *stats);
struct MsgraphThrottleTicket;
extern MsgraphTransfer *msgraph_get_async(MsgraphConnOptions *opts, const char *url,
											 MsgraphHttpResponse *resp,
											 MsgraphRequestStats *stats,
											 struct MsgraphThrottleTicket *ticket);
extern void msgraph_get_finish(MsgraphConnOptions *opts, MsgraphTransfer *t,
									 const char *url, MsgraphHttpResponse *resp,
									 MsgraphRequestStats *stats,
									 struct MsgraphThrottleTicket *ticket);
extern void msgraph_request(MsgraphConnOptions *opts, const char *method,
								  const char *url, const char *body,
								  MsgraphHttpResponse *resp,
								  MsgraphRequestStats *stats);
extern void msgraph_report_graph_error(MsgraphConnOptions *opts, const char *permission,
									   const char *url, MsgraphHttpResponse *resp,
									   const char *suffix, const char *hint)
			pg_attribute_noreturn();

/* in retry.c */

/* Whether and why an answer may be retried. */
typedef enum MsgraphRetryKind
{
	MSGRAPH_RETRY_NO,			/* final: success, or an error retrying cannot fix */
	MSGRAPH_RETRY_THROTTLED,	/* 429 */
	MSGRAPH_RETRY_TRANSIENT		/* 502, 503, 504 or a transport failure */
} MsgraphRetryKind;

/* Why msgraph_request() stopped retrying, for the ERROR it leads to. */
typedef enum MsgraphRetryStop
{
	MSGRAPH_RETRY_STOP_NONE,
	MSGRAPH_RETRY_STOP_MAX_RETRIES,
	MSGRAPH_RETRY_STOP_STATEMENT_TIMEOUT
} MsgraphRetryStop;

extern MsgraphRetryKind msgraph_retry_kind(const char *method,
										   const MsgraphHttpResponse *resp);
extern int64 msgraph_parse_retry_after(const char *value);
extern int64 msgraph_backoff_ms(MsgraphRetryKind kind, int retry);
extern int64 msgraph_statement_ms_left(void);
extern void msgraph_sleep_ms(int64 ms);
extern void msgraph_append_retry_detail(StringInfo detail, const MsgraphHttpResponse *resp);

/* in throttle.c */

/*
 * A request's claim on the throttle budget: taken before it is sent,
 * given back when its answer is in (also on ERROR: see connection.c).
 */
typedef struct MsgraphThrottleTicket
{
	int			rate_bucket;	/* bucket of the rate limit paced, or -1 */
	uint64		rate_key;
	int			slot_bucket;	/* bucket holding our concurrency slot, or -1 */
	uint64		slot_key;
} MsgraphThrottleTicket;

extern void msgraph_throttle_init(void);
extern void msgraph_throttle_acquire(MsgraphConnOptions *opts, const char *url,
									 MsgraphThrottleTicket *ticket,
									 MsgraphRequestStats *stats);
extern void msgraph_throttle_pace(MsgraphConnOptions *opts, const char *url,
								  MsgraphThrottleTicket *ticket,
								  MsgraphRequestStats *stats);
extern void msgraph_throttle_release(MsgraphThrottleTicket *ticket);
extern void msgraph_throttle_penalize(MsgraphThrottleTicket *ticket, int64 wait_ms);

/* in deparse.c */

/* What deparse.c needs to know of each column of a foreign table. */
typedef struct MsgraphColumnMeta
{
	char	   *property;		/* property option or its default; NULL if dropped */
	const GraphProperty *prop;	/* catalog property of a top-level name, or NULL */
	const GraphDerived *derived;	/* catalog derived column, or NULL */
	int			filterable;		/* column option: -1 none, 0 false, 1 true */
	Oid			typid;
} MsgraphColumnMeta;

typedef struct MsgraphTableMeta
{
	const GraphResource *res;	/* NULL for a resource the catalog lacks */
	int			natts;
	MsgraphColumnMeta *cols;	/* indexed by attnum - 1 */
} MsgraphTableMeta;

/*
 * Which conditions may be sent.  The fallback mode is what the scan retries
 * with after Graph rejected a filter: eq and in on documented filterable
 * properties and timestamp ranges, under "and" only.
 */
typedef enum MsgraphFilterMode
{
	MSGRAPH_FILTER_FULL,
	MSGRAPH_FILTER_BASIC,
	MSGRAPH_FILTER_NONE
} MsgraphFilterMode;

/* A value expression of a pushed condition and, at run time, its value. */
typedef struct MsgraphRuntimeValue
{
	Node	   *expr;
	struct ExprState *state;
	Datum		value;
	bool		isnull;
} MsgraphRuntimeValue;

typedef struct MsgraphDeparseEnv
{
	MsgraphTableMeta *meta;
	Index		relid;			/* varno of the foreign table's Vars */
	MsgraphFilterMode mode;
	List	   *values;			/* of MsgraphRuntimeValue *, at run time */
	List	   *collect;		/* if collecting: value exprs are appended here */
	bool		collecting;
	bool		notify;			/* NOTICE literals that can never match */
} MsgraphDeparseEnv;

/*
 * What sending a condition to Graph does (deparse.c explains each):
 * nothing, widens it (local recheck), applies it exactly, or nothing is
 * needed because no row can qualify.
 */
typedef enum MsgraphCondKind
{
	MSGRAPH_COND_LOCAL,
	MSGRAPH_COND_SENT,
	MSGRAPH_COND_EXACT,
	MSGRAPH_COND_NEVER
} MsgraphCondKind;

/*
 * The first request of a scan, as the planner decided it.  The pushed
 * conditions themselves travel in the plan's fdw_exprs, so that Params
 * and nestloop parameters are set up by the executor.
 */
typedef struct MsgraphRequestSpec
{
	char	   *path;			/* resource path under the version */
	char	   *select;			/* $select value, NULL for none */
	char	   *filter;			/* rendered $filter, NULL for none */
	bool		snapshot;		/* add "<snapshot_property> le <scan start>" */
	char	   *snapshot_property;
	char	   *orderby;		/* $orderby value, NULL for none */
	int			top;			/* $top, 0 for none */
	bool		count;			/* $count=true */
	char	   *expand;			/* $expand value, NULL for none */
	char	   *id;				/* get by id: the id, NULL for a list */

	/* a time window of snapshot_property: "ge range_from [and lt range_to]" */
	bool		range;
	TimestampTz range_from;
	bool		range_bounded;
	TimestampTz range_to;
} MsgraphRequestSpec;

extern MsgraphTableMeta *msgraph_table_meta(Relation rel, const GraphResource *res);
extern MsgraphCondKind msgraph_classify_condition(Node *cond, MsgraphDeparseEnv *env);
extern char *msgraph_deparse_filter(List *conds, MsgraphDeparseEnv *env,
									MsgraphCondKind *kinds);
extern bool msgraph_id_lookup_value(Node *cond, MsgraphDeparseEnv *env,
									Node **value, bool *is_array);
extern char *msgraph_build_url(MsgraphConnOptions *opts,
							   const MsgraphRequestSpec *spec,
							   bool for_display, bool have_snapshot,
							   TimestampTz snapshot);
extern void msgraph_format_timestamp(StringInfo buf, TimestampTz ts);

/* in convert.c */

/* How one column of the foreign table is filled from a Graph entity. */
typedef enum MsgraphValueSource
{
	MSGRAPH_SRC_PROPERTY,		/* a (possibly dotted) property path */
	MSGRAPH_SRC_RAW,			/* "$": the whole entity */
	MSGRAPH_SRC_DERIVED			/* a derived column of the catalog */
} MsgraphValueSource;

typedef struct MsgraphColumn
{
	AttrNumber	attnum;
	char	   *attname;
	char	   *property;		/* as given or defaulted */
	MsgraphValueSource source;
	char	  **path;			/* property split at dots */
	int			npath;
	const GraphDerived *derived;
	Oid			typid;
	int32		typmod;
	int			kind;			/* convert.c's fast path for the type */
	int			slot;			/* its member in a page's index, -1 for none */
	FmgrInfo	infunc;			/* type (or element type) input function */
	Oid			ioparam;
	Oid			elemtype;		/* for arrays */
	int16		elemlen;
	bool		elembyval;
	char		elemalign;
} MsgraphColumn;

struct json_object;

extern MsgraphColumn *msgraph_build_columns(Relation rel, const GraphResource *res,
											List *attnums, int *ncolumns);
extern void msgraph_columns_needed(const GraphResource *res, MsgraphColumn *cols,
								   int ncols, bool *need_raw, StringInfo select,
								   const char **expand);
extern void msgraph_convert_entity(Relation rel, MsgraphColumn *cols, int ncols,
								   struct json_object *entity,
								   Datum *values, bool *nulls);
extern int	msgraph_columns_names(MsgraphColumn *cols, int ncols, const char *extra,
								  MsgraphJsonNames *names);
extern void msgraph_convert_page_item(Relation rel, MsgraphColumn *cols, int ncols,
									  const MsgraphJsonPage *page,
									  const MsgraphJsonNames *names, size_t n,
									  Datum *values, bool *nulls);
extern char *msgraph_column_property(Relation rel, AttrNumber attnum);
extern bool msgraph_parse_timestamp(const char *s, size_t len, TimestampTz *result);

/* in paging.c */

/*
 * What reading a scan's list pages needs and keeps: set up by the scan
 * (the first four fields and cxt), the rest kept by paging.c.
 */
typedef struct MsgraphWindows MsgraphWindows;
typedef struct MsgraphPager
{
	MsgraphConnOptions *opts;
	const GraphResource *res;	/* for error messages; NULL if unknown */
	MsgraphRequestStats *stats;
	const MsgraphJsonNames *names;	/* the members pages are indexed for */
	int			ts_slot;		/* the snapshot timestamp in names, or -1 */
	MemoryContext cxt;			/* the scan's: windows and links live here */

	size_t		index_items;	/* items of the last page (a size hint) */
	uint64	   *seen_links;		/* hashes of the links followed */
	int			nseen;
	int			maxseen;
	MsgraphWindows *windows;	/* paging ahead or windows, or NULL */
} MsgraphPager;

extern MsgraphJsonPage *msgraph_page_read(MsgraphPager *pg, const char *url,
										  MsgraphHttpResponse *resp,
										  MsgraphJsonPage *page);
extern MsgraphJsonPage *msgraph_entity_read(MsgraphPager *pg, const char *method,
											const char *url, MsgraphHttpResponse *resp);
extern bool msgraph_page_next_link(MsgraphPager *pg, MsgraphJsonPage *page,
								   const char *url, StringInfo next);
extern void msgraph_page_check_link(MsgraphPager *pg, const char *link);
extern void msgraph_page_check_empty_run(int *run, size_t nitems, bool have_next,
										 const char *url);
extern bool msgraph_page_count(const MsgraphJsonPage *page, double *count);
extern bool msgraph_windows_start(MsgraphPager *pg, const MsgraphRequestSpec *spec,
								  TimestampTz snapshot, int nstreams);
extern void msgraph_windows_page_ahead(MsgraphPager *pg, const char *next_url,
									   int empty_run);
extern MsgraphJsonPage *msgraph_windows_next_page(MsgraphPager *pg, bool **skip);
extern void msgraph_windows_progress(MsgraphPager *pg);
extern void msgraph_windows_end(MsgraphPager *pg, bool free_memory);
extern bool msgraph_windows_counts(MsgraphPager *pg, int *streams, int *windows);

/* in response.c */
extern struct json_object *msgraph_parse_body(const char *method, const char *url,
											  MsgraphHttpResponse *resp);
extern char *msgraph_escape_text(const char *s, size_t len, bool utf8, int max_chars);
extern bool msgraph_error_body_readable(MsgraphHttpResponse *resp, const char **problem);
extern bool msgraph_error_body_has(MsgraphHttpResponse *resp, const char *name);
extern char *msgraph_error_body_string(MsgraphHttpResponse *resp, int max_chars,
									   const char *first,...);
extern char *msgraph_error_body_decoded(MsgraphHttpResponse *resp, const char *name,
										size_t *len);
extern char *msgraph_error_body_raw(MsgraphHttpResponse *resp, const char *name);
extern char *msgraph_error_body_message(MsgraphHttpResponse *resp);
extern void msgraph_report_bad_page(const char *url, MsgraphHttpResponse *resp,
									const MsgraphJsonCheck *walk);

/* in import.c */
extern List *msgraph_import_foreign_schema(ImportForeignSchemaStmt *stmt,
										   Oid serverOid);

/* in modify.c */
struct ExplainState;
struct ModifyTableState;
struct ResultRelInfo;
struct ForeignScanState;
struct TupleTableSlot;
struct EState;
struct PlannerInfo;
struct ModifyTable;

extern int	msgraph_max_update_rows;
extern bool msgraph_dry_run;

extern void msgraphAddForeignUpdateTargets(PlannerInfo *root, Index rtindex,
										   RangeTblEntry *target_rte,
										   Relation target_relation);
extern List *msgraphPlanForeignModify(PlannerInfo *root, struct ModifyTable *plan,
									  Index resultRelation, int subplan_index);
extern void msgraphBeginForeignModify(struct ModifyTableState *mtstate,
									  struct ResultRelInfo *rinfo, List *fdw_private,
									  int subplan_index, int eflags);
extern struct TupleTableSlot *msgraphExecForeignUpdate(struct EState *estate,
													   struct ResultRelInfo *rinfo,
													   struct TupleTableSlot *slot,
													   struct TupleTableSlot *planSlot);
extern void msgraphEndForeignModify(struct EState *estate, struct ResultRelInfo *rinfo);
extern int	msgraphIsForeignRelUpdatable(Relation rel);
extern bool msgraphPlanDirectModify(PlannerInfo *root, struct ModifyTable *plan,
									Index resultRelation, int subplan_index);
extern void msgraphBeginDirectModify(struct ForeignScanState *node, int eflags);
extern struct TupleTableSlot *msgraphIterateDirectModify(struct ForeignScanState *node);
extern void msgraphEndDirectModify(struct ForeignScanState *node);
extern void msgraphExplainForeignModify(struct ModifyTableState *mtstate,
										struct ResultRelInfo *rinfo, List *fdw_private,
										int subplan_index, struct ExplainState *es);
extern void msgraphExplainDirectModify(struct ForeignScanState *node,
									   struct ExplainState *es);

/* what functions.c shares with the UPDATE path */
extern struct json_object *msgraph_json_own(MemoryContext cxt, struct json_object *obj);
extern struct json_object *msgraph_json_string(const char *s);
extern char *msgraph_json_text(struct json_object *obj);
extern void msgraph_log_write(MsgraphConnOptions *opts, const char *method,
							  const char *target, const char *properties);

/* in functions.c: the SQL functions msgraph_add_comment(),
 * msgraph_dismiss_risky_users(), msgraph_confirm_compromised() and
 * msgraph_hunting_query() (fmgr entry points, no prototypes needed) */
/*
 * in jsoncheck.c: the strict RFC 8259 check of response bodies, which also
 * indexes list pages; in jsonpage.c: the readers of a checked text.  Both
 * are declared in plain C headers (jsoncheck.h, jsonpage.h) so that the
 * libFuzzer harness can use them.
 */

#endif							/* MSGRAPH_FDW_H */
