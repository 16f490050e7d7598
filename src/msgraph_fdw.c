/*-------------------------------------------------------------------------
 *
 * msgraph_fdw.c
 *		  Foreign-data wrapper for the Microsoft Graph Security API: the
 *		  handler, planner and executor callbacks of a scan, and EXPLAIN.
 *
 * A scan sends one list request and follows @odata.nextLink page by page
 * until a page has none.  Only the current page is held, so the memory a
 * scan needs is bounded by one page whatever the number of rows.  A list
 * page is kept as its body and the index the strict walk of jsoncheck.c
 * built while checking it (where each item and each member the query
 * needs are), all in the page's memory context, reset when the next page
 * arrives; convert.c reads the values from the body.  Single entities
 * (lookups by id) and the pages of a scan whose $expand failed are json-c
 * DOMs instead, freed when the next page arrives, when the scan ends, and
 * by a memory context callback when an ERROR or cancel ends the query.
 *
 * Planning decides the first request (deparse.c renders it): $select of
 * the columns the query needs (none when the whole entity "raw" is
 * needed), $top from the page size, $expand for derived navigation
 * columns, and for alerts and incidents the snapshot bound
 * "createdDateTime le <scan start>".  Conditions are evaluated locally.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/explain.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/planmain.h"
#include "optimizer/paths.h"
#include "optimizer/restrictinfo.h"
#include "optimizer/tlist.h"
#include "parser/parsetree.h"
#include "utils/array.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "jsoncheck.h"
#include "jsonpage.h"
#include "msgraph_fdw.h"
#include "msgraph_json.h"

PG_MODULE_MAGIC;

/*
 * Planner cost of one request (a round trip, about 100 ms against Graph)
 * and of fetching and converting one entity (some 2 kB on the wire): a
 * request costs as much as a few hundred rows, so that a handful of
 * filtered requests (a parameterized join) beats listing a whole tenant.
 */
#define MSGRAPH_REQUEST_COST	100.0
#define MSGRAPH_ROW_COST		(cpu_tuple_cost * 20)
/* row estimate for a resource the catalog does not know */
#define MSGRAPH_DEFAULT_ROWS	1000.0
/*
 * Empty pages with a nextLink followed in a row before the scan gives up:
 * Graph sends one now and then, a stalled or hostile service any number.
 */
#define MSGRAPH_MAX_EMPTY_RUN	100

/*
 * Ids of rows sharing a window's newest timestamp kept for a split; a
 * window with more at one instant is not split there.
 */
#define MSGRAPH_MAX_WINDOW_TIES	1000

/* Planner state of a foreign table, in baserel->fdw_private. */
typedef struct MsgraphRelInfo
{
	char	   *path;
	const GraphResource *res;	/* NULL for a resource the catalog lacks */
	MsgraphTableMeta *meta;
	MsgraphFilterMode mode;		/* the session's word on this server and resource */
	Bitmapset  *attrs_used;
	int			page_size;		/* $top to send, 0 for none */
	double		tuples;			/* estimated entities of the resource */
	bool		all_exact;		/* every restriction is sent exactly */
	Selectivity remote_sel;		/* selectivity of what is sent */
	bool		lookup;			/* a restriction is a lookup by id */
	int			lookup_ids;		/* ids looked up (estimate) */
	bool		consts_only;	/* every sent condition compares with constants */

	/* for count(*) pushed down: the upper rel's copy */
	bool		count;
	Index		input_relid;	/* the scanned table's relid */
	List	   *input_conds;	/* its restrictions, all sent exactly */
} MsgraphRelInfo;

/* Slots of a ForeignScan's fdw_private list. */
enum MsgraphScanPrivate
{
	FdwScanPrivatePath,			/* String */
	FdwScanPrivateSelect,		/* String, "" for none */
	FdwScanPrivateSnapshotProp, /* String, "" for none */
	FdwScanPrivateTop,			/* Integer */
	FdwScanPrivateExpand,		/* String, "" for none */
	FdwScanPrivateOrderBy,		/* String, "" for none */
	FdwScanPrivateRetrievedAttrs,	/* List of Integer attnums */
	FdwScanPrivateExact,		/* List of Integer, one per pushed condition */
	FdwScanPrivateLookup,		/* Integer: 0 none, 1 scalar, 2 array */
	FdwScanPrivateCount,		/* Integer: 1 for count(*) by $count */
	FdwScanPrivateCountRelid,	/* Integer: varno of the conditions' Vars */
	FdwScanPrivateCountConds,	/* List of the conditions, for count(*) */
	FdwScanPrivateStreams,		/* Integer: time windows to fetch at once */
	FdwScanPrivatePrefetch		/* Integer: 1 to fetch a page ahead */
};

/*
 * Slots of a ForeignPath's fdw_private list: what differs between the
 * paths of one relation.
 */
enum MsgraphPathPrivate
{
	FdwPathPrivateOrderBy,		/* String, "" for none */
	FdwPathPrivateTop			/* Integer, the $top hint */
};

/*
 * One of a window's two pages: the one being returned, or the one being
 * fetched.  The body and the index arrays are kept from page to page (in
 * the window's bufs): fresh megabytes for every page would cost a page
 * fault every 4 kB.
 */
typedef struct MsgraphPageSlot
{
	MemoryContext cxt;			/* the page's small allocations, reset for each */
	MsgraphHttpResponse resp;	/* its response (keep_buffers) */
	MsgraphJsonPage index;		/* its index */
	bool	   *skip;			/* items returned before, or NULL for none */
} MsgraphPageSlot;

/*
 * One time window of a scan fetched in parallel windows: its own paging,
 * at most one page waiting (ready) and one request in flight.  A window
 * pages its range [from, to) in the order of the snapshot timestamp, so
 * that the part it has not reached yet can be split off (split_windows).
 * Timestamps here are as PostgreSQL reads Graph's (whole microseconds).
 */
typedef struct MsgraphWindow
{
	StringInfoData next_url;	/* the URL to fetch next */
	bool		have_next;
	MsgraphAsync *pending;		/* request in flight, or NULL */
	MemoryContext bufs;			/* what the slots keep from page to page */
	MsgraphPageSlot slots[2];
	int			fill;			/* the slot of the request in flight or ready */
	MsgraphThrottleTicket ticket;	/* how the request in flight was paced */
	MsgraphJsonPage *ready;		/* a fetched page not yet returned */
	int			empty_run;		/* empty pages with a nextLink in a row */

	TimestampTz from;			/* the range: from on */
	TimestampTz to;				/* up to (not including) to */
	bool		bounded;		/* "lt to" is in the filter (else to is past
								 * the snapshot bound) */
	TimestampTz floor;			/* the last row's timestamp: none may be older */
	TimestampTz last_ts;		/* the newest timestamp of the rows returned */
	StringInfoData ties;		/* ids of the rows returned at last_ts, each
								 * after its length (an int) */
	int			nties;
	bool		many_ties;		/* too many to keep: no split at last_ts */
	bool		restarted;		/* asked again from last_ts: skip the rows
								 * returned before */
	double		rows;			/* rows returned from the range */
	double		sent;			/* rows sent since the range was asked for */
	double		expected;		/* rows to send then, by @odata.count */
	bool		counted;		/* expected is known */
	bool		carved;			/* its first count was weighed (carve_window) */
} MsgraphWindow;

/* A part of a window's range cut off to be paged later (carve_window). */
typedef struct MsgraphRange
{
	TimestampTz from;
	TimestampTz to;
	bool		bounded;
	double		rows;			/* rows it holds, as guessed */
} MsgraphRange;

/* Executor state of a scan. */
typedef struct MsgraphScanState
{
	Relation	rel;
	const GraphResource *res;
	MsgraphTableMeta *meta;
	MsgraphConnOptions opts;
	MsgraphRequestSpec spec;
	Index		relid;

	MsgraphColumn *cols;
	int			ncols;

	/* pushed conditions, their planned exactness and local evaluators */
	List	   *conds;
	List	   *exact;
	List	   *cond_states;	/* ExprState per condition (for exact ones) */
	List	   *values;			/* MsgraphRuntimeValue of the conditions */
	List	   *recheck;		/* exact conditions not sent exactly this time */
	MsgraphFilterMode mode;
	char	   *fallback;		/* EXPLAIN ANALYZE note, NULL if none */

	/* parallel time windows */
	int			nstreams;		/* planned; 1 = sequential paging */
	bool		prefetch;		/* sequential paging fetches a page ahead */
	MsgraphWindow *windows;		/* NULL when paging sequentially */
	int			nwindows;
	int			rows_since_progress;
	MsgraphRequestSpec wspec;	/* a window's request but its range */
	int			ts_slot;		/* the snapshot timestamp in names */
	bool		splitting;		/* windows split while rows come in order */
	int			nsplits;
	double		share;			/* rows per stream, by the probe's count */
	MsgraphRange *queued;		/* ranges cut off, waiting for a stream */
	int			nqueued;
	bool	   *skip;			/* of the current page: items to skip */

	/* $expand failed on Graph's side: navigation fetched per entity */
	const GraphDerived *expand_fallback;

	/* count(*) by $count=true: one row, then done */
	bool		count;
	bool		count_done;

	/* lookup by id */
	int			lookup;			/* 0 none, 1 scalar, 2 array */
	MsgraphRuntimeValue *lookup_value;
	List	   *ids;
	int			next_id;

	TimestampTz snapshot;		/* scan start, for the snapshot bound */
	char	   *first_url;		/* encoded, as sent */
	bool		begun;			/* scan_start has run for this (re)scan */
	bool		started;		/* the first request has been sent */
	bool		have_next;		/* next_url holds the link to follow */
	StringInfoData cur_url;		/* the request being made */
	StringInfoData next_url;	/* the last page's @odata.nextLink */

	MemoryContext scan_cxt;		/* lives as long as the scan */
	MemoryContext page_cxt;		/* the current page's body and links */
	MsgraphJsonNames names;		/* the members list pages are indexed for */
	MsgraphJsonPage *index;		/* the current list page, or NULL */
	size_t		index_items;	/* items of the last page indexed */
	struct json_object *page;	/* or the current page as a json-c DOM */
	struct json_object *items;	/* its "value" array */
	size_t		nitems;
	size_t		next_item;

	uint64	   *seen_links;		/* hashes of followed links, to catch loops */
	int			nseen;
	int			maxseen;
	int			empty_run;		/* empty pages with a nextLink in a row */

	MsgraphRequestStats stats;
} MsgraphScanState;

/*
 * What the session learnt about filters Graph rejects: per server and
 * resource, the narrower filter mode to use from now on.
 */
typedef struct FallbackKey
{
	Oid			serverid;
	char		path[NAMEDATALEN * 2];
} FallbackKey;

typedef struct FallbackEntry
{
	FallbackKey key;
	MsgraphFilterMode mode;
} FallbackEntry;

static HTAB *fallback_cache = NULL;

PG_FUNCTION_INFO_V1(msgraph_security_fdw_handler);
PG_FUNCTION_INFO_V1(msgraph_request_stats);

void		_PG_init(void);

static void msgraphGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel,
									 Oid foreigntableid);
static void msgraphGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel,
								   Oid foreigntableid);
static ForeignScan *msgraphGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel,
										  Oid foreigntableid, ForeignPath *best_path,
										  List *tlist, List *scan_clauses,
										  Plan *outer_plan);
static void msgraphBeginForeignScan(ForeignScanState *node, int eflags);
static TupleTableSlot *msgraphIterateForeignScan(ForeignScanState *node);
static void msgraphReScanForeignScan(ForeignScanState *node);
static void msgraphEndForeignScan(ForeignScanState *node);
static void msgraphExplainForeignScan(ForeignScanState *node, ExplainState *es);
static List *msgraphImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid);
static void msgraphGetForeignUpperPaths(PlannerInfo *root, UpperRelationKind stage,
										RelOptInfo *input_rel, RelOptInfo *output_rel,
										void *extra);
static bool fetch_count(MsgraphScanState *st, TupleTableSlot *slot);
static TupleTableSlot *iterate_scan(ForeignScanState *node, MsgraphScanState *st);
static void start_windows(MsgraphScanState *st);
static void window_request(MsgraphScanState *st, MsgraphWindow *w);
static void window_finish(MsgraphScanState *st, MsgraphWindow *w);
static bool fetch_next_window_page(MsgraphScanState *st);
static void end_windows(MsgraphScanState *st, bool free_memory);
static void start_prefetch(MsgraphScanState *st);
static MsgraphWindow *new_window(MsgraphScanState *st, MsgraphWindow *w, const char *url);
static bool select_lists(const char *select, const char *prop);
static void set_window_range(MsgraphScanState *st, MsgraphWindow *w, TimestampTz from,
							 TimestampTz to, bool bounded);
static void window_range_url(MsgraphScanState *st, MsgraphWindow *w, TimestampTz start);
static bool *window_track(MsgraphScanState *st, MsgraphWindow *w, MsgraphJsonPage *page,
						  const char *url);
static bool window_tie(MsgraphWindow *w, const char *text, const MsgraphJsonSpan *id);
static void window_out_of_order(MsgraphScanState *st, const char *url);
static bool page_count(MsgraphJsonPage *page, double *count);
static double window_remaining(MsgraphWindow *w);
static void split_windows(MsgraphScanState *st);
static void carve_window(MsgraphScanState *st, MsgraphWindow *w);
static void cut_window(MsgraphScanState *st, MsgraphWindow *w, TimestampTz cut);
static void attach_navigation(MsgraphScanState *st, struct json_object *entity);

static MsgraphFilterMode fallback_mode(Oid serverid, const char *path);
static void remember_fallback(Oid serverid, const char *path, MsgraphFilterMode mode);
static List *retrieved_attrs_of(Relation rel, Bitmapset *attrs_used);
static Selectivity condition_selectivity(Node *node, MsgraphTableMeta *meta, Index relid);
static double remote_count(ForeignServer *server, Oid userid, MsgraphRelInfo *info,
						   Index relid, List *remote);
static void add_paths_for(PlannerInfo *root, RelOptInfo *baserel, MsgraphRelInfo *info,
						  Relids required_outer, List *param_clauses, double rows,
						  List *pathkeys, const char *orderby, int top);
static char *orderby_for_pathkeys(PlannerInfo *root, RelOptInfo *baserel,
								  MsgraphRelInfo *info, List *pathkeys);
static void add_parameterized_paths(PlannerInfo *root, RelOptInfo *baserel,
									MsgraphRelInfo *info);
static bool ec_member_matches_var(PlannerInfo *root, RelOptInfo *rel,
								  EquivalenceClass *ec, EquivalenceMember *em,
								  void *arg);
static char *render_filter(MsgraphScanState *st, MsgraphFilterMode mode, bool display,
						   List **not_exact);
static void scan_start(ForeignScanState *node, MsgraphScanState *st);
static void evaluate_values(ForeignScanState *node, MsgraphScanState *st);
static void scan_free_page(MsgraphScanState *st);
static void scan_page_cleanup(void *arg);
static bool fetch_next_page(MsgraphScanState *st);
static bool fetch_next_lookup(MsgraphScanState *st);
static struct json_object *parse_json_body(const char *url, MsgraphHttpResponse *resp);
static void parse_page(MsgraphScanState *st, const char *url, MsgraphHttpResponse *resp);
static MsgraphJsonPage *index_page(MsgraphScanState *st, const char *url,
									MsgraphHttpResponse *resp, MsgraphJsonPage *page);
static void *page_alloc(void *arg, size_t size);
static bool page_next_link(MsgraphScanState *st, MsgraphJsonPage *page, const char *url,
						   StringInfo next);
static void check_next_link(MsgraphScanState *st, const char *link);
static void check_empty_run(int *run, size_t nitems, bool have_next, const char *url);
static void scan_error_callback(void *arg);
static void item_not_object(MsgraphScanState *st, size_t n) pg_attribute_noreturn();
static char *nullable_string(Node *n);


void
_PG_init(void)
{
	msgraph_auth_init();
	msgraph_throttle_init();

	/* the guard rails of UPDATE (modify.c) */
	DefineCustomIntVariable("msgraph_security_fdw.max_update_rows",
							"Most rows one UPDATE of a Graph foreign table may change.",
							"The rows are found first; past this, the UPDATE fails before any PATCH is sent. -1 removes the cap.",
							&msgraph_max_update_rows,
							100, -1, INT_MAX,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	DefineCustomBoolVariable("msgraph_security_fdw.dry_run",
							 "Show each PATCH (and write POST) to Graph as a NOTICE instead of sending it.",
							 NULL,
							 &msgraph_dry_run,
							 false,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
	MarkGUCPrefixReserved("msgraph_security_fdw");
}

Datum
msgraph_security_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	routine->GetForeignRelSize = msgraphGetForeignRelSize;
	routine->GetForeignPaths = msgraphGetForeignPaths;
	routine->GetForeignPlan = msgraphGetForeignPlan;
	routine->BeginForeignScan = msgraphBeginForeignScan;
	routine->IterateForeignScan = msgraphIterateForeignScan;
	routine->ReScanForeignScan = msgraphReScanForeignScan;
	routine->EndForeignScan = msgraphEndForeignScan;
	routine->ExplainForeignScan = msgraphExplainForeignScan;
	routine->ImportForeignSchema = msgraphImportForeignSchema;
	routine->GetForeignUpperPaths = msgraphGetForeignUpperPaths;

	/* UPDATE (modify.c); INSERT and DELETE are refused while planning */
	routine->AddForeignUpdateTargets = msgraphAddForeignUpdateTargets;
	routine->PlanForeignModify = msgraphPlanForeignModify;
	routine->BeginForeignModify = msgraphBeginForeignModify;
	routine->ExecForeignUpdate = msgraphExecForeignUpdate;
	routine->EndForeignModify = msgraphEndForeignModify;
	routine->IsForeignRelUpdatable = msgraphIsForeignRelUpdatable;
	routine->PlanDirectModify = msgraphPlanDirectModify;
	routine->BeginDirectModify = msgraphBeginDirectModify;
	routine->IterateDirectModify = msgraphIterateDirectModify;
	routine->EndDirectModify = msgraphEndDirectModify;
	routine->ExplainForeignModify = msgraphExplainForeignModify;
	routine->ExplainDirectModify = msgraphExplainDirectModify;

	PG_RETURN_POINTER(routine);
}

static MsgraphFilterMode
fallback_mode(Oid serverid, const char *path)
{
	FallbackKey key;
	FallbackEntry *entry;

	if (fallback_cache == NULL)
		return MSGRAPH_FILTER_FULL;
	memset(&key, 0, sizeof(key));
	key.serverid = serverid;
	strlcpy(key.path, path, sizeof(key.path));
	entry = hash_search(fallback_cache, &key, HASH_FIND, NULL);
	return entry ? entry->mode : MSGRAPH_FILTER_FULL;
}

static void
remember_fallback(Oid serverid, const char *path, MsgraphFilterMode mode)
{
	FallbackKey key;
	FallbackEntry *entry;

	if (fallback_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(FallbackKey);
		ctl.entrysize = sizeof(FallbackEntry);
		ctl.hcxt = TopMemoryContext;
		fallback_cache = hash_create("msgraph_security_fdw filter fallbacks", 16, &ctl,
									 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	memset(&key, 0, sizeof(key));
	key.serverid = serverid;
	strlcpy(key.path, path, sizeof(key.path));
	entry = hash_search(fallback_cache, &key, HASH_ENTER, NULL);
	entry->mode = mode;
}

/*
 * Selectivity of a condition that is sent to Graph.  Foreign tables have
 * no statistics, and PostgreSQL's defaults (0.005 for any equality) are
 * far off for enums of a handful of members, so the catalog's word is
 * used: an enum equality selects one member in n, a range a third, a
 * string equality or an evidence lambda few rows.
 */
static Selectivity
condition_selectivity(Node *node, MsgraphTableMeta *meta, Index relid)
{
	ListCell   *lc;
	Selectivity s;

	if (node == NULL)
		return 1.0;
	if (IsA(node, RestrictInfo))
		node = (Node *) ((RestrictInfo *) node)->clause;
	if (IsA(node, BoolExpr))
	{
		BoolExpr   *b = (BoolExpr *) node;

		if (b->boolop == NOT_EXPR)
			return 1.0 - condition_selectivity(linitial(b->args), meta, relid);
		s = (b->boolop == AND_EXPR) ? 1.0 : 0.0;
		foreach(lc, b->args)
		{
			Selectivity c = condition_selectivity(lfirst(lc), meta, relid);

			s = (b->boolop == AND_EXPR) ? s * c : s + c - s * c;
		}
		return s;
	}
	if (IsA(node, NullTest))
		return 0.5;
	if (IsA(node, OpExpr) || IsA(node, ScalarArrayOpExpr))
	{
		List	   *args = IsA(node, OpExpr) ? ((OpExpr *) node)->args
			: ((ScalarArrayOpExpr *) node)->args;
		const GraphProperty *prop = NULL;
		int			members = 0;
		int			nvalues = 1;
		Oid			opno = IsA(node, OpExpr) ? ((OpExpr *) node)->opno
			: ((ScalarArrayOpExpr *) node)->opno;
		char	   *opname = get_opname(opno);

		foreach(lc, args)
		{
			Node	   *a = lfirst(lc);

			while (a && IsA(a, RelabelType))
				a = (Node *) ((RelabelType *) a)->arg;
			if (a && IsA(a, Var) && ((Var *) a)->varno == relid &&
				((Var *) a)->varattno > 0 && ((Var *) a)->varattno <= meta->natts)
			{
				MsgraphColumnMeta *col = &meta->cols[((Var *) a)->varattno - 1];

				if (col->derived)
					return 0.01;	/* 'x' = ANY(evidence column) */
				prop = col->prop;
			}
			else if (a && IsA(a, Const) && !((Const *) a)->constisnull &&
					 type_is_array(((Const *) a)->consttype))
			{
				ArrayType  *arr = DatumGetArrayTypeP(((Const *) a)->constvalue);

				nvalues = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
			}
		}
		if (prop && prop->type == GRAPH_ENUM && prop->enumtype)
		{
			const char *const *m;

			for (m = prop->enumtype->members; *m; m++)
				members++;
			members = Max(members - 1, 1);	/* not unknownFutureValue */
			s = Min(1.0, (double) nvalues / members);
			return (opname && strcmp(opname, "<>") == 0) ? 1.0 - s : s;
		}
		if (prop && prop->type == GRAPH_DATETIME)
			return (opname && strcmp(opname, "=") == 0) ? 0.001 : 0.33;
		if (opname && strcmp(opname, "=") == 0)
			return Min(1.0, 0.01 * nvalues);
		return 0.33;
	}
	return 0.33;
}

/*
 * Estimate the relation's size, decide what of its restrictions can be
 * sent (the same walker renders them in GetForeignPlan) and note which
 * columns the query needs (they decide $select).
 */
static void
msgraphGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	ForeignTable *table = GetForeignTable(foreigntableid);
	ForeignServer *server = GetForeignServer(table->serverid);
	MsgraphRelInfo *info = palloc0(sizeof(MsgraphRelInfo));
	Relation	rel;
	MsgraphDeparseEnv env;
	List	   *remote = NIL;
	List	   *local = NIL;
	ListCell   *lc;
	int			page_size;
	double		sel;

	info->path = msgraph_table_resource(table);
	info->res = graph_catalog_find_path(info->path);
	info->tuples = info->res ? info->res->typical_rows : MSGRAPH_DEFAULT_ROWS;
	info->mode = fallback_mode(server->serverid, info->path);
	rel = table_open(foreigntableid, NoLock);
	info->meta = msgraph_table_meta(rel, info->res);
	table_close(rel, NoLock);

	/* page size: the table's, else the server's, clamped to the maximum */
	page_size = msgraph_table_page_size(table);
	if (page_size == 0)
	{
		foreach(lc, server->options)
		{
			DefElem    *def = (DefElem *) lfirst(lc);

			if (strcmp(def->defname, "page_size") == 0)
				page_size = atoi(defGetString(def));
		}
	}
	if (info->res)
	{
		if (!info->res->allows_top)
			page_size = 0;
		else if (page_size == 0 || page_size > info->res->top_max)
			page_size = info->res->top_max;
	}
	info->page_size = page_size;

	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid, &info->attrs_used);

	memset(&env, 0, sizeof(env));
	env.meta = info->meta;
	env.relid = baserel->relid;
	env.mode = info->mode;
	env.collecting = true;
	info->all_exact = true;
	foreach(lc, baserel->baserestrictinfo)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		StringInfoData buf;
		bool		exact;
		Node	   *value;
		bool		is_array;

		pull_varattnos((Node *) ri->clause, baserel->relid, &info->attrs_used);
		if (!info->lookup && msgraph_id_lookup_value((Node *) ri->clause, &env, &value, &is_array))
		{
			info->lookup = true;
			info->lookup_ids = 1;
			if (is_array && IsA(value, Const))
				info->lookup_ids = ArrayGetNItems(ARR_NDIM(DatumGetArrayTypeP(((Const *) value)->constvalue)),
												  ARR_DIMS(DatumGetArrayTypeP(((Const *) value)->constvalue)));
			else if (is_array)
				info->lookup_ids = 10;
			info->all_exact = false;
			continue;
		}
		initStringInfo(&buf);
		if (msgraph_deparse_condition((Node *) ri->clause, &env, &buf, &exact))
			remote = lappend(remote, ri);
		else
			local = lappend(local, ri);
		if (!exact || buf.len == 0)
			info->all_exact = false;
	}
	/* values known only at run time were collected by the walker */
	info->consts_only = (env.collect == NIL);

	info->remote_sel = 1.0;
	foreach(lc, remote)
		info->remote_sel *= condition_selectivity(lfirst(lc), info->meta, baserel->relid);
	sel = info->remote_sel * clauselist_selectivity(root, local, 0, JOIN_INNER, NULL);

	/*
	 * With use_remote_estimate, ask Graph how many entities the conditions
	 * that can be sent select ($count), where the endpoint counts and the
	 * conditions hold only constants.
	 */
	if (msgraph_use_remote_estimate(server, table) && info->res &&
		info->res->allows_count && info->consts_only && !info->lookup)
	{
		RangeTblEntry *rte = planner_rt_fetch(baserel->relid, root);
		double		count = remote_count(server, rte->checkAsUser ? rte->checkAsUser : GetUserId(),
										 info, baserel->relid, remote);

		/* rows = count * (local selectivity) = tuples * sel */
		if (count >= 0)
			info->tuples = Max(count, 1) / Max(info->remote_sel, 1e-6);
	}
	baserel->tuples = info->tuples;
	baserel->rows = info->lookup ? Min(info->lookup_ids, clamp_row_est(info->tuples * sel))
		: clamp_row_est(info->tuples * sel);
	baserel->fdw_private = info;
}

/*
 * The number of entities Graph holds that match the sendable conditions
 * (planning with use_remote_estimate): one $count=true&$top=1 request.
 * Returns -1 when Graph gives no count.
 */
static double
remote_count(ForeignServer *server, Oid userid, MsgraphRelInfo *info, Index relid,
			 List *remote)
{
	MsgraphConnOptions opts;
	MsgraphRequestSpec spec;
	MsgraphDeparseEnv env;
	MsgraphHttpResponse resp;
	StringInfoData filter;
	struct json_tokener *tok;
	struct json_object *doc;
	struct json_object *count;
	double		result = -1;
	ListCell   *lc;
	char	   *url;

	msgraph_get_conn_options(server, GetUserMapping(userid, server->serverid), &opts);
	memset(&env, 0, sizeof(env));
	env.meta = info->meta;
	env.relid = relid;
	env.mode = info->mode;
	initStringInfo(&filter);
	foreach(lc, remote)
	{
		StringInfoData part;
		bool		exact;

		initStringInfo(&part);
		if (msgraph_deparse_condition((Node *) ((RestrictInfo *) lfirst(lc))->clause,
									  &env, &part, &exact))
			appendStringInfo(&filter, "%s%s", filter.len > 0 ? " and " : "", part.data);
	}
	memset(&spec, 0, sizeof(spec));
	spec.path = info->path;
	spec.select = "id";
	spec.filter = filter.len > 0 ? filter.data : NULL;
	spec.top = 1;
	spec.count = true;
	url = msgraph_build_url(&opts, &spec, false, false, 0);

	msgraph_graph_get(&opts, url, &resp, NULL);
	if (resp.status != 200)
		return -1;				/* planning goes on with the catalog's guess */
	tok = json_tokener_new_ex(MSGRAPH_JSON_MAX_DEPTH);
	doc = json_tokener_parse_ex(tok, resp.body.data, resp.body.len);
	json_tokener_free(tok);
	count = msgraph_json_get(doc, "@odata.count");
	if (count != NULL && json_object_is_type(count, json_type_int))
		result = (double) json_object_get_int64(count);
	if (doc)
		json_object_put(doc);
	return result;
}

/*
 * The cost of a path: one round trip per request, conversion per entity
 * sent, and the usual per-row cost of what is returned.
 */
static void
path_cost(MsgraphRelInfo *info, double fetched, double requests, double rows,
		  Cost *startup, Cost *total)
{
	*startup = MSGRAPH_REQUEST_COST;
	*total = requests * MSGRAPH_REQUEST_COST + fetched * MSGRAPH_ROW_COST +
		rows * cpu_tuple_cost;
}

/*
 * The paths: the list scan (or the gets by id), an ordered one where Graph
 * can sort, and parameterized ones for joins.
 */
static void
msgraphGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	MsgraphRelInfo *info = (MsgraphRelInfo *) baserel->fdw_private;
	int			top = info->page_size;
	char	   *orderby;

	/*
	 * LIMIT n as a $top hint when the scan alone feeds the limit and
	 * nothing is filtered locally: paging still goes on until the executor
	 * stops asking, so this only saves bytes.
	 */
	if (root->limit_tuples > 0 && info->all_exact && !info->lookup &&
		bms_membership(root->all_baserels) == BMS_SINGLETON &&
		!root->parse->hasAggs && root->parse->groupClause == NIL &&
		root->parse->distinctClause == NIL && !root->parse->hasWindowFuncs &&
		root->parse->setOperations == NULL &&
		(root->query_pathkeys == NIL ||
		 orderby_for_pathkeys(root, baserel, info, root->query_pathkeys) != NULL))
	{
		if (top == 0 || root->limit_tuples < top)
			top = (int) Max(1, root->limit_tuples);
	}

	add_paths_for(root, baserel, info, NULL, NIL, baserel->rows, NIL, NULL,
				  root->query_pathkeys == NIL ? top : info->page_size);

	orderby = orderby_for_pathkeys(root, baserel, info, root->query_pathkeys);
	if (orderby && !info->lookup)
		add_paths_for(root, baserel, info, NULL, NIL, baserel->rows,
					  root->query_pathkeys, orderby, top);

	if (!info->lookup)
		add_parameterized_paths(root, baserel, info);
}

static void
add_paths_for(PlannerInfo *root, RelOptInfo *baserel, MsgraphRelInfo *info,
			  Relids required_outer, List *param_clauses, double rows,
			  List *pathkeys, const char *orderby, int top)
{
	double		per_page = info->page_size > 0 ? info->page_size : 100;
	double		fetched;
	double		requests;
	Cost		startup;
	Cost		total;
	List	   *priv;

	if (info->lookup && required_outer == NULL)
	{
		fetched = info->lookup_ids;
		requests = info->lookup_ids;
	}
	else
	{
		fetched = clamp_row_est(info->tuples * info->remote_sel);
		if (required_outer != NULL)
			fetched = Max(rows, 1);
		requests = Max(1.0, ceil(fetched / per_page));
	}
	path_cost(info, fetched, requests, rows, &startup, &total);
	/* Graph sorting costs nothing here, but prefer the unsorted path on ties */
	if (pathkeys != NIL)
		total += 0.01;

	priv = list_make2(makeString(orderby ? pstrdup(orderby) : ""), makeInteger(top));
	add_path(baserel, (Path *) create_foreignscan_path(root, baserel, NULL, rows,
													   startup, total, pathkeys,
													   required_outer, NULL, priv));
}

/*
 * $orderby for the query's ordering, if Graph can produce it: one sort
 * key, a sortable timestamp of the resource, that can hold no NULL in the
 * scan (non-nullable, or excluded by the snapshot bound), so that NULL
 * ordering cannot differ from PostgreSQL's.
 */
static char *
orderby_for_pathkeys(PlannerInfo *root, RelOptInfo *baserel, MsgraphRelInfo *info,
					 List *pathkeys)
{
	PathKey    *pk;
	EquivalenceMember *em = NULL;
	ListCell   *lc;
	Oid			opclass;

	if (info->res == NULL || !info->res->allows_orderby || list_length(pathkeys) != 1)
		return NULL;
	pk = linitial(pathkeys);
	if (pk->pk_strategy != BTLessStrategyNumber && pk->pk_strategy != BTGreaterStrategyNumber)
		return NULL;
	opclass = GetDefaultOpClass(TIMESTAMPTZOID, BTREE_AM_OID);
	if (!OidIsValid(opclass) || pk->pk_opfamily != get_opclass_family(opclass))
		return NULL;

	foreach(lc, pk->pk_eclass->ec_members)
	{
		EquivalenceMember *m = lfirst(lc);

		if (IsA(m->em_expr, Var) && ((Var *) m->em_expr)->varno == baserel->relid &&
			bms_equal(m->em_relids, baserel->relids))
		{
			em = m;
			break;
		}
	}
	if (em == NULL)
		return NULL;
	{
		Var		   *var = (Var *) em->em_expr;
		MsgraphColumnMeta *col;

		if (var->varattno <= 0 || var->varattno > info->meta->natts)
			return NULL;
		col = &info->meta->cols[var->varattno - 1];
		if (col->prop == NULL || !col->prop->sortable || col->typid != TIMESTAMPTZOID)
			return NULL;
		if (col->prop->nullable &&
			!(info->res->snapshot_property &&
			  strcmp(info->res->snapshot_property, col->prop->name) == 0))
			return NULL;
		return psprintf("%s %s", col->prop->name,
						pk->pk_strategy == BTLessStrategyNumber ? "asc" : "desc");
	}
}

/*
 * Parameterized paths for joins: a join clause "col = outer value" (or
 * "outer value = ANY(evidence column)") that can be sent becomes part of
 * the filter, one request per outer row, which the planner picks when the
 * outer side is small.
 */
static void
add_parameterized_paths(PlannerInfo *root, RelOptInfo *baserel, MsgraphRelInfo *info)
{
	MsgraphDeparseEnv env;
	ListCell   *lc;

	memset(&env, 0, sizeof(env));
	env.meta = info->meta;
	env.relid = baserel->relid;
	env.mode = info->mode;

	foreach(lc, baserel->joininfo)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		Relids		outer;
		StringInfoData buf;
		bool		exact;
		ParamPathInfo *ppi;
		double		rows;

		if (!join_clause_is_movable_to(ri, baserel))
			continue;
		outer = bms_difference(ri->clause_relids, baserel->relids);
		if (bms_is_empty(outer) || bms_overlap(outer, baserel->relids))
			continue;
		initStringInfo(&buf);
		if (!msgraph_deparse_condition((Node *) ri->clause, &env, &buf, &exact))
			continue;
		ppi = get_baserel_parampathinfo(root, baserel, outer);
		/* a lookup per outer row returns few entities */
		rows = Max(1.0, Min(ppi->ppi_rows, info->tuples * 0.001));
		add_paths_for(root, baserel, info, outer, list_make1(ri), rows, NIL, NULL,
					  info->page_size);
	}

	/* equivalence classes: t.col = outer.x written as a join condition */
	if (baserel->has_eclass_joins)
	{
		int			i;

		for (i = 0; i < info->meta->natts; i++)
		{
			MsgraphColumnMeta *col = &info->meta->cols[i];
			List	   *clauses;
			ListCell   *lc2;
			Var		   *var;

			if (col->property == NULL || col->derived != NULL)
				continue;
			var = makeVar(baserel->relid, i + 1, col->typid, -1, InvalidOid, 0);
			clauses = generate_implied_equalities_for_column(root, baserel,
															 ec_member_matches_var,
															 (void *) var,
															 baserel->lateral_referencers);
			foreach(lc2, clauses)
			{
				RestrictInfo *ri = lfirst_node(RestrictInfo, lc2);
				Relids		outer = bms_difference(ri->clause_relids, baserel->relids);
				StringInfoData buf;
				bool		exact;
				ParamPathInfo *ppi;
				double		rows;

				if (bms_is_empty(outer) || !join_clause_is_movable_to(ri, baserel))
					continue;
				initStringInfo(&buf);
				if (!msgraph_deparse_condition((Node *) ri->clause, &env, &buf, &exact) &&
					strcmp(col->property, "id") != 0)
					continue;
				ppi = get_baserel_parampathinfo(root, baserel, outer);
				rows = Max(1.0, Min(ppi->ppi_rows, info->tuples * 0.001));
				add_paths_for(root, baserel, info, outer, list_make1(ri), rows, NIL, NULL,
							  info->page_size);
			}
		}
	}
}

/* Callback for generate_implied_equalities_for_column. */
static bool
ec_member_matches_var(PlannerInfo *root, RelOptInfo *rel, EquivalenceClass *ec,
					  EquivalenceMember *em, void *arg)
{
	Var		   *var = (Var *) arg;
	Node	   *expr = (Node *) em->em_expr;

	while (expr && IsA(expr, RelabelType))
		expr = (Node *) ((RelabelType *) expr)->arg;
	return (expr && IsA(expr, Var) && ((Var *) expr)->varno == var->varno &&
			((Var *) expr)->varattno == var->varattno &&
			((Var *) expr)->varlevelsup == 0);
}

/*
 * count(*) of a foreign table as one request with $count=true: only when
 * the query is a plain count(*) (no grouping, no HAVING, no other output)
 * of one table whose every condition is sent exactly with constants, on
 * an endpoint that allows $count.
 */
static void
msgraphGetForeignUpperPaths(PlannerInfo *root, UpperRelationKind stage,
							RelOptInfo *input_rel, RelOptInfo *output_rel,
							void *extra)
{
	MsgraphRelInfo *in = (MsgraphRelInfo *) input_rel->fdw_private;
	MsgraphRelInfo *info;
	PathTarget *target = root->upper_targets[UPPERREL_GROUP_AGG];
	Query	   *parse = root->parse;
	ListCell   *lc;

	if (stage != UPPERREL_GROUP_AGG || output_rel->fdw_private != NULL ||
		input_rel->reloptkind != RELOPT_BASEREL || in == NULL)
		return;
	if (in->res == NULL || !in->res->allows_count || !in->all_exact ||
		!in->consts_only || in->lookup || in->mode != MSGRAPH_FILTER_FULL)
		return;
	if (parse->groupClause || parse->groupingSets || parse->havingQual ||
		parse->hasWindowFuncs || !parse->hasAggs || target == NULL ||
		target->exprs == NIL)
		return;
	foreach(lc, target->exprs)
	{
		Aggref	   *agg = (Aggref *) lfirst(lc);

		if (!IsA(agg, Aggref) || agg->aggfnoid != F_COUNT_ || !agg->aggstar ||
			agg->aggfilter || agg->aggdistinct || agg->aggorder ||
			agg->agglevelsup != 0)
			return;
	}

	info = palloc(sizeof(MsgraphRelInfo));
	*info = *in;
	info->count = true;
	info->input_relid = input_rel->relid;
	info->input_conds = extract_actual_clauses(input_rel->baserestrictinfo, false);
	output_rel->fdw_private = info;

	add_path(output_rel, (Path *) create_foreign_upper_path(root, output_rel, target,
															1, MSGRAPH_REQUEST_COST,
															MSGRAPH_REQUEST_COST + cpu_tuple_cost,
															NIL, NULL, NIL));
}

/*
 * Decide the first request of the scan.  The conditions that can be sent
 * go to fdw_exprs (rendered at scan start, when run-time values are
 * known); those not sent exactly stay local quals.  A lookup by id keeps
 * its condition local too, as a recheck.
 */
static ForeignScan *
msgraphGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
					  ForeignPath *best_path, List *tlist, List *scan_clauses,
					  Plan *outer_plan)
{
	MsgraphRelInfo *info = (MsgraphRelInfo *) baserel->fdw_private;
	RangeTblEntry *rte;
	Relation	rel;
	Bitmapset  *attrs_used;
	List	   *retrieved_attrs;
	MsgraphColumn *cols;
	int			ncols;
	bool		need_raw;
	bool		need_expand;
	StringInfoData select;
	List	   *fdw_private;
	List	   *fdw_exprs = NIL;
	List	   *exact_flags = NIL;
	List	   *local = NIL;
	const char *snapshot_prop = "";
	MsgraphDeparseEnv env;
	ListCell   *lc;
	int			lookup = 0;
	Node	   *lookup_value = NULL;

	if (info->count)
	{
		/*
		 * count(*): the conditions (constants only) travel in fdw_private,
		 * since an upper relation's fdw_exprs may only reference its output.
		 */
		List	   *scan_tlist = add_to_flat_tlist(NIL, root->upper_targets[UPPERREL_GROUP_AGG]->exprs);

		fdw_private = list_make5(makeString(info->path), makeString("id"),
								 makeString(""), makeInteger(1), makeString(""));
		fdw_private = lappend(fdw_private, makeString(""));
		fdw_private = lappend(fdw_private, NIL);
		foreach(lc, info->input_conds)
			exact_flags = lappend_int(exact_flags, 1);
		fdw_private = lappend(fdw_private, exact_flags);
		fdw_private = lappend(fdw_private, makeInteger(0));
		fdw_private = lappend(fdw_private, makeInteger(1));
		fdw_private = lappend(fdw_private, makeInteger(info->input_relid));
		fdw_private = lappend(fdw_private, info->input_conds);
		fdw_private = lappend(fdw_private, makeInteger(1));
		fdw_private = lappend(fdw_private, makeInteger(0));
		return make_foreignscan(tlist, NIL, 0, NIL, fdw_private, scan_tlist, NIL,
								outer_plan);
	}

	rte = planner_rt_fetch(baserel->relid, root);
	rel = table_open(rte->relid, NoLock);
	attrs_used = bms_copy(info->attrs_used);

	memset(&env, 0, sizeof(env));
	env.meta = info->meta;
	env.relid = baserel->relid;
	env.mode = info->mode;

	foreach(lc, scan_clauses)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		StringInfoData buf;
		bool		exact;
		bool		is_array;
		Node	   *value;

		if (ri->pseudoconstant)
			continue;			/* handled by a gating Result node */
		if (lookup == 0 && msgraph_id_lookup_value((Node *) ri->clause, &env, &value, &is_array))
		{
			lookup = is_array ? 2 : 1;
			lookup_value = value;
			local = lappend(local, ri->clause);
			continue;
		}
		initStringInfo(&buf);
		if (msgraph_deparse_condition((Node *) ri->clause, &env, &buf, &exact))
		{
			fdw_exprs = lappend(fdw_exprs, ri->clause);
			exact_flags = lappend_int(exact_flags, exact ? 1 : 0);
			if (!exact)
				local = lappend(local, ri->clause);
		}
		else
			local = lappend(local, ri->clause);
	}

	/* a get by id sends no filter: every other condition is local */
	if (lookup)
	{
		foreach(lc, fdw_exprs)
		{
			if (!list_member(local, lfirst(lc)))
				local = lappend(local, lfirst(lc));
		}
		fdw_exprs = list_make1(lookup_value);
		exact_flags = NIL;
	}

	/* the columns the local quals read must be fetched too */
	pull_varattnos((Node *) local, baserel->relid, &attrs_used);
	retrieved_attrs = retrieved_attrs_of(rel, attrs_used);
	cols = msgraph_build_columns(rel, info->res, retrieved_attrs, &ncols);
	initStringInfo(&select);
	msgraph_columns_needed(info->res, cols, ncols, &need_raw, &select, &need_expand);
	table_close(rel, NoLock);

	if (need_raw || (info->res && !info->res->allows_select))
		resetStringInfo(&select);
	if (info->res && info->res->snapshot_property && !lookup)
		snapshot_prop = info->res->snapshot_property;

	fdw_private = list_make5(makeString(info->path),
							 makeString(select.data),
							 makeString(pstrdup(snapshot_prop)),
							 list_nth(best_path->fdw_private, FdwPathPrivateTop),
							 makeString(need_expand ? "alerts" : ""));
	fdw_private = lappend(fdw_private, list_nth(best_path->fdw_private, FdwPathPrivateOrderBy));
	fdw_private = lappend(fdw_private, retrieved_attrs);
	fdw_private = lappend(fdw_private, exact_flags);
	fdw_private = lappend(fdw_private, makeInteger(lookup));
	fdw_private = lappend(fdw_private, makeInteger(0));
	fdw_private = lappend(fdw_private, makeInteger(0));
	fdw_private = lappend(fdw_private, NIL);

	/*
	 * Parallel time windows: for list scans pinned by the snapshot bound,
	 * neither ordered by Graph nor cut short by a LIMIT hint.
	 */
	{
		int			streams = 1;
		ForeignServer *server = GetForeignServer(GetForeignTable(rte->relid)->serverid);
		bool		limited = intVal(list_nth(best_path->fdw_private,
											  FdwPathPrivateTop)) < info->page_size;
		ListCell   *lc2;

		foreach(lc2, server->options)
		{
			DefElem    *def = (DefElem *) lfirst(lc2);

			if (strcmp(def->defname, "streams") == 0)
				streams = Min(atoi(defGetString(def)), MSGRAPH_MAX_STREAMS);
		}
		if (lookup || snapshot_prop[0] == '\0' || !info->res->allows_orderby ||
			strVal(list_nth(best_path->fdw_private, FdwPathPrivateOrderBy))[0] != '\0' ||
			limited || best_path->path.param_info != NULL)
			streams = 1;
		fdw_private = lappend(fdw_private, makeInteger(Max(streams, 1)));

		/*
		 * A list scan that reads to its end fetches the next page while
		 * the rows of the current one are returned; not under a LIMIT
		 * hint, where the executor will likely stop within the first page.
		 */
		fdw_private = lappend(fdw_private, makeInteger(!lookup && !limited));
	}

	return make_foreignscan(tlist, local, baserel->relid,
							fdw_exprs, fdw_private, NIL, NIL, outer_plan);
}

/*
 * The attribute numbers the scan must fill: those used, or every live
 * column when the whole row is referenced.
 */
static List *
retrieved_attrs_of(Relation rel, Bitmapset *attrs_used)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	bool		whole_row = bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, attrs_used);
	List	   *result = NIL;
	int			i;

	for (i = 1; i <= tupdesc->natts; i++)
	{
		if (TupleDescAttr(tupdesc, i - 1)->attisdropped)
			continue;
		if (whole_row ||
			bms_is_member(i - FirstLowInvalidHeapAttributeNumber, attrs_used))
			result = lappend_int(result, i);
	}
	return result;
}

static char *
nullable_string(Node *n)
{
	char	   *s = strVal(n);

	return (s[0] == '\0') ? NULL : s;
}

static void
msgraphBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	MsgraphScanState *st = palloc0(sizeof(MsgraphScanState));
	RangeTblEntry *rte;
	Oid			userid;
	ForeignTable *table;
	ForeignServer *server;
	UserMapping *user;
	MemoryContextCallback *cb;
	List	   *priv = fsplan->fdw_private;
	MsgraphDeparseEnv env;
	ListCell   *lc;
	ListCell   *lc2;

	node->fdw_state = st;
	st->count = intVal(list_nth(priv, FdwScanPrivateCount)) != 0;
	st->scan_cxt = CurrentMemoryContext;
	if (st->count)
	{
		/* an upper relation: the table is the one the conditions name */
		st->relid = intVal(list_nth(priv, FdwScanPrivateCountRelid));
		st->rel = ExecOpenScanRelation(estate, bms_next_member(fsplan->fs_relids, -1),
									   eflags);
	}
	else
	{
		st->rel = node->ss.ss_currentRelation;
		st->relid = fsplan->scan.scanrelid;
	}

	rte = exec_rt_fetch(bms_next_member(fsplan->fs_relids, -1), estate);
	userid = rte->checkAsUser ? rte->checkAsUser : GetUserId();
	table = GetForeignTable(RelationGetRelid(st->rel));
	server = GetForeignServer(table->serverid);
	/* plain EXPLAIN needs no credentials: it sends nothing */
	user = (eflags & EXEC_FLAG_EXPLAIN_ONLY) ? NULL
		: GetUserMapping(userid, server->serverid);
	msgraph_get_conn_options(server, user, &st->opts);

	st->spec.path = strVal(list_nth(priv, FdwScanPrivatePath));
	st->spec.select = nullable_string(list_nth(priv, FdwScanPrivateSelect));
	st->spec.snapshot_property = nullable_string(list_nth(priv, FdwScanPrivateSnapshotProp));
	st->spec.snapshot = (st->spec.snapshot_property != NULL);
	st->spec.top = intVal(list_nth(priv, FdwScanPrivateTop));
	st->spec.expand = nullable_string(list_nth(priv, FdwScanPrivateExpand));
	st->spec.orderby = nullable_string(list_nth(priv, FdwScanPrivateOrderBy));
	st->exact = (List *) list_nth(priv, FdwScanPrivateExact);
	st->lookup = intVal(list_nth(priv, FdwScanPrivateLookup));
	st->nstreams = intVal(list_nth(priv, FdwScanPrivateStreams));
	st->prefetch = intVal(list_nth(priv, FdwScanPrivatePrefetch)) != 0;
	st->res = graph_catalog_find_path(st->spec.path);
	st->meta = msgraph_table_meta(st->rel, st->res);
	if (st->count)
	{
		/* $count requests carry no snapshot bound */
		st->spec.count = true;
		st->spec.snapshot = false;
	}
	st->mode = fallback_mode(server->serverid, st->spec.path);

	/*
	 * Value expressions of the pushed conditions are evaluated at scan
	 * start; exact conditions also get a local evaluator, used when they
	 * cannot be sent exactly this time.
	 */
	memset(&env, 0, sizeof(env));
	env.meta = st->meta;
	env.relid = st->relid;
	env.mode = MSGRAPH_FILTER_FULL;
	env.collecting = true;
	if (st->lookup)
	{
		st->lookup_value = palloc0(sizeof(MsgraphRuntimeValue));
		st->lookup_value->expr = linitial(fsplan->fdw_exprs);
		st->lookup_value->state = ExecInitExpr((Expr *) st->lookup_value->expr,
											   (PlanState *) node);
	}
	else
	{
		st->conds = st->count ? (List *) list_nth(priv, FdwScanPrivateCountConds)
			: fsplan->fdw_exprs;
		forboth(lc, st->conds, lc2, st->exact)
		{
			StringInfoData buf;
			bool		exact;

			initStringInfo(&buf);
			(void) msgraph_deparse_condition((Node *) lfirst(lc), &env, &buf, &exact);
			/* count(*) has no scan tuple to evaluate conditions on */
			st->cond_states = lappend(st->cond_states,
									  lfirst_int(lc2) && !st->count
									  ? ExecInitQual(list_make1(lfirst(lc)), (PlanState *) node)
									  : NULL);
		}
		foreach(lc, env.collect)
		{
			MsgraphRuntimeValue *rv = palloc0(sizeof(MsgraphRuntimeValue));

			rv->expr = (Node *) lfirst(lc);
			rv->state = ExecInitExpr((Expr *) rv->expr, (PlanState *) node);
			st->values = lappend(st->values, rv);
		}
	}

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	st->cols = msgraph_build_columns(st->rel, st->res,
									 (List *) list_nth(priv, FdwScanPrivateRetrievedAttrs),
									 &st->ncols);
	st->ts_slot = msgraph_columns_names(st->cols, st->ncols,
										st->nstreams > 1 ? st->spec.snapshot_property : NULL,
										&st->names);
	st->page_cxt = AllocSetContextCreate(estate->es_query_cxt,
										 "msgraph_security_fdw page",
										 ALLOCSET_DEFAULT_SIZES);

	/* json-c memory is not palloc'd: free it when the query's memory goes */
	cb = MemoryContextAlloc(estate->es_query_cxt, sizeof(MemoryContextCallback));
	cb->func = scan_page_cleanup;
	cb->arg = st;
	MemoryContextRegisterResetCallback(estate->es_query_cxt, cb);

	initStringInfo(&st->cur_url);
	initStringInfo(&st->next_url);
	st->snapshot = GetCurrentTimestamp();
}

/*
 * Render the pushed conditions as one $filter in the given mode.  Exact
 * conditions that are not sent exactly are listed in *not_exact (their
 * local evaluators), for the executor to check each row against.
 */
static char *
render_filter(MsgraphScanState *st, MsgraphFilterMode mode, bool display, List **not_exact)
{
	MsgraphDeparseEnv env;
	StringInfoData filter;
	ListCell   *lc;
	ListCell   *lc2;
	ListCell   *lc3;

	memset(&env, 0, sizeof(env));
	env.meta = st->meta;
	env.relid = st->relid;
	env.mode = mode;
	/* EXPLAIN shows what is known at plan time: run-time values as "?" */
	env.values = display ? NIL : st->values;

	initStringInfo(&filter);
	if (not_exact)
		*not_exact = NIL;
	forthree(lc, st->conds, lc2, st->exact, lc3, st->cond_states)
	{
		StringInfoData part;
		bool		exact = false;
		bool		sent;

		initStringInfo(&part);
		sent = msgraph_deparse_condition((Node *) lfirst(lc), &env, &part, &exact);
		if (sent)
			appendStringInfo(&filter, "%s%s", filter.len > 0 ? " and " : "", part.data);
		if (lfirst_int(lc2) && !(sent && exact) && not_exact)
			*not_exact = lappend(*not_exact, lfirst(lc3));
	}
	return filter.len > 0 ? filter.data : NULL;
}

/* Evaluate the run-time values of the pushed conditions, in the scan's memory. */
static void
evaluate_values(ForeignScanState *node, MsgraphScanState *st)
{
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	MemoryContext oldcxt = MemoryContextSwitchTo(st->scan_cxt);
	ListCell   *lc;
	List	   *all = list_copy(st->values);

	if (st->lookup_value)
		all = lappend(all, st->lookup_value);
	foreach(lc, all)
	{
		MsgraphRuntimeValue *rv = (MsgraphRuntimeValue *) lfirst(lc);
		Oid			type = exprType(rv->expr);
		int16		typlen;
		bool		typbyval;

		rv->value = ExecEvalExpr(rv->state, econtext, &rv->isnull);
		get_typlenbyval(type, &typlen, &typbyval);
		if (!rv->isnull)
			rv->value = datumCopy(rv->value, typbyval, typlen);
	}
	MemoryContextSwitchTo(oldcxt);
}

/*
 * Scan start (and restart after a rescan): run-time values are known now,
 * so render the filter, or the ids to get, and the first URL.
 */
static void
scan_start(ForeignScanState *node, MsgraphScanState *st)
{
	MemoryContext oldcxt;

	evaluate_values(node, st);
	oldcxt = MemoryContextSwitchTo(st->scan_cxt);
	if (st->lookup)
	{
		MsgraphRuntimeValue *rv = st->lookup_value;

		st->ids = NIL;
		st->next_id = 0;
		if (!rv->isnull && st->lookup == 1)
			st->ids = list_make1(TextDatumGetCString(rv->value));
		else if (!rv->isnull)
		{
			ArrayType  *arr = DatumGetArrayTypeP(rv->value);
			Datum	   *elems;
			bool	   *nulls;
			int			n;
			int			i;

			deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
			for (i = 0; i < n; i++)
			{
				char	   *id;
				ListCell   *lc;
				bool		dup = false;

				if (nulls[i])
					continue;
				id = TextDatumGetCString(elems[i]);
				foreach(lc, st->ids)
					dup |= (strcmp((char *) lfirst(lc), id) == 0);
				if (!dup)
					st->ids = lappend(st->ids, id);
			}
		}
	}
	else
	{
		st->spec.filter = render_filter(st, st->mode, false, &st->recheck);
		st->first_url = msgraph_build_url(&st->opts, &st->spec, false, true, st->snapshot);
		if (st->nstreams > 1)
			start_windows(st);
	}
	MemoryContextSwitchTo(oldcxt);
}

/*
 * Split the scan into time windows fetched at the same time.  One request
 * asks Graph for the oldest snapshot timestamp the filter selects; the
 * range from there to the scan start is cut into nstreams windows of
 * equal length, each paged on its own in the order of that timestamp.
 * Window bounds are whole microseconds written with Graph's 100 ns
 * precision ("ge b" and "lt b"), so the windows partition the range
 * exactly and the rows are those of the sequential scan.  A window that
 * turns out to hold more than the others is split again as streams fall
 * idle (split_windows).  If Graph rejects the probe, or the range holds
 * nothing, the scan pages sequentially (with the usual 400 fallback).
 */
static void
start_windows(MsgraphScanState *st)
{
	MsgraphRequestSpec probe = st->spec;
	MsgraphHttpResponse resp;
	struct json_object *doc;
	struct json_object *value;
	const char *oldest;
	TimestampTz lower;
	TimestampTz upper = st->snapshot;
	char	   *url;
	int			i;

	st->splitting = false;
	st->nsplits = 0;
	st->share = 0;
	st->nqueued = 0;
	probe.select = st->spec.snapshot_property;
	probe.orderby = psprintf("%s asc", st->spec.snapshot_property);
	probe.top = 1;
	probe.count = true;			/* the rows to share out */
	url = msgraph_build_url(&st->opts, &probe, false, true, st->snapshot);
	msgraph_graph_get(&st->opts, url, &resp, &st->stats);
	if (resp.status != 200)
		return;
	doc = parse_json_body(url, &resp);
	value = msgraph_json_get(doc, "value");
	oldest = (value && json_object_is_type(value, json_type_array) &&
			  json_object_array_length(value) > 0)
		? msgraph_json_get_string(json_object_array_get_idx(value, 0),
								  st->spec.snapshot_property)
		: NULL;
	if (oldest == NULL || !msgraph_parse_timestamp(oldest, strlen(oldest), &lower) || lower >= upper)
	{
		json_object_put(doc);
		return;
	}
	value = msgraph_json_get(doc, "@odata.count");
	if (value && json_object_is_type(value, json_type_int) && json_object_get_int64(value) > 0)
		st->share = (double) json_object_get_int64(value) / st->nstreams;
	json_object_put(doc);
	/* a microsecond before the (rounded) oldest value surely includes it */
	lower -= 1;

	/* windows ask for the timestamp too, and in its order */
	st->wspec = st->spec;
	st->wspec.orderby = probe.orderby;
	if (st->spec.select != NULL && !select_lists(st->spec.select, st->spec.snapshot_property))
		st->wspec.select = psprintf("%s,%s", st->spec.select, st->spec.snapshot_property);
	st->splitting = (st->ts_slot >= 0);

	st->nwindows = st->nstreams;
	st->windows = palloc0(sizeof(MsgraphWindow) * st->nwindows);
	st->queued = palloc(sizeof(MsgraphRange) * st->nwindows);
	for (i = 0; i < st->nwindows; i++)
	{
		MsgraphWindow *w = &st->windows[i];
		TimestampTz from = lower + (upper - lower) / st->nwindows * i;
		TimestampTz to = lower + (upper - lower) / st->nwindows * (i + 1);

		new_window(st, w, "");
		if (i < st->nwindows - 1)
			set_window_range(st, w, from, to, true);
		else
			set_window_range(st, w, from, upper + 1, false);
	}
	for (i = 0; i < st->nwindows; i++)
		window_request(st, &st->windows[i]);
}

/* Whether a $select list names prop. */
static bool
select_lists(const char *select, const char *prop)
{
	size_t		len = strlen(prop);
	const char *p = select;

	while ((p = strstr(p, prop)) != NULL)
	{
		if ((p == select || p[-1] == ',') && (p[len] == ',' || p[len] == '\0'))
			return true;
		p += len;
	}
	return false;
}

/*
 * Make w page the range [from, to) from its start (to is written only when
 * bounded).
 */
static void
set_window_range(MsgraphScanState *st, MsgraphWindow *w, TimestampTz from,
				 TimestampTz to, bool bounded)
{
	w->from = from;
	w->to = to;
	w->bounded = bounded;
	w->floor = from;
	w->last_ts = from - 1;
	resetStringInfo(&w->ties);
	w->nties = 0;
	w->many_ties = false;
	w->restarted = false;
	w->rows = 0;
	w->empty_run = 0;
	w->carved = false;
	window_range_url(st, w, from);
}

/* The next request of w: its range from start on, in timestamp order. */
static void
window_range_url(MsgraphScanState *st, MsgraphWindow *w, TimestampTz start)
{
	MsgraphRequestSpec spec = st->wspec;
	StringInfoData filter;
	const char *prop = st->spec.snapshot_property;

	initStringInfo(&filter);
	if (st->spec.filter)
		appendStringInfo(&filter, "%s and ", st->spec.filter);
	appendStringInfo(&filter, "%s ge ", prop);
	msgraph_format_timestamp(&filter, start);
	if (w->bounded)
	{
		appendStringInfo(&filter, " and %s lt ", prop);
		msgraph_format_timestamp(&filter, w->to);
	}
	spec.filter = filter.data;
	spec.count = true;			/* how many rows the range holds */
	w->sent = 0;
	w->counted = false;
	resetStringInfo(&w->next_url);
	appendStringInfoString(&w->next_url,
						   msgraph_build_url(&st->opts, &spec, false, true, st->snapshot));
	w->have_next = true;
	pfree(filter.data);
}

/* Start the next request of a window, if it has one. */
static void
window_request(MsgraphScanState *st, MsgraphWindow *w)
{
	MemoryContext oldcxt;

	MsgraphPageSlot *slot = &w->slots[w->fill];

	if (!w->have_next || w->pending != NULL)
		return;
	MemoryContextReset(slot->cxt);
	slot->skip = NULL;
	oldcxt = MemoryContextSwitchTo(slot->cxt);
	w->have_next = false;
	w->pending = msgraph_graph_get_async(&st->opts, pstrdup(w->next_url.data), &slot->resp,
										 &st->stats, &w->ticket);
	st->stats.requests++;
	MemoryContextSwitchTo(oldcxt);
}

/*
 * A window's request finished: make its page ready, after the same checks
 * as sequential paging.  Anything but a 200 is sent again through the
 * sequential path, which refreshes tokens, retries and reports errors.
 */
static void
window_finish(MsgraphScanState *st, MsgraphWindow *w)
{
	MsgraphPageSlot *slot = &w->slots[w->fill];
	MemoryContext oldcxt = MemoryContextSwitchTo(slot->cxt);
	char	   *url = pstrdup(w->next_url.data);

	msgraph_http_async_end(w->pending);
	w->pending = NULL;
	st->stats.bytes += slot->resp.wire_bytes;
	msgraph_backend_stats.bytes += slot->resp.wire_bytes;
	if (slot->resp.status != 200)
	{
		/* (a page fetched again this way has its body in slot->cxt) */
		msgraph_graph_get_resume(&st->opts, url, &slot->resp, &st->stats, &w->ticket);
		if (slot->resp.status != 200)
			msgraph_report_graph_error(&st->opts, st->res, url, &slot->resp);
	}
	w->ready = index_page(st, url, &slot->resp, &slot->index);
	if (page_next_link(st, w->ready, url, &w->next_url))
		w->have_next = true;
	check_empty_run(&w->empty_run, w->ready->nitems, w->have_next, url);
	st->stats.pages++;
	msgraph_backend_stats.pages++;
	if (st->splitting)
	{
		slot->skip = window_track(st, w, w->ready, url);
		if (st->splitting)
		{
			carve_window(st, w);
			split_windows(st);
		}
	}
	MemoryContextSwitchTo(oldcxt);
}

/*
 * Follow the timestamps of a window's page: each no older than the row
 * before, the ids at the newest kept (the ties a split must not return
 * twice).  Returns which items to skip, or NULL for none: after a split,
 * the rows at the timestamp the window was asked again from that it had
 * returned already.  A page out of order (Graph did not honour $orderby)
 * ends splitting; when a split has relied on the order, it is an ERROR.
 */
static bool *
window_track(MsgraphScanState *st, MsgraphWindow *w, MsgraphJsonPage *page, const char *url)
{
	int			nnames = st->names.nnames;
	bool	   *skip = NULL;
	size_t		i;

	if (!w->counted && page->count.len > 0 &&
		page_count(page, &w->expected))
		w->counted = true;
	w->sent += page->nitems;
	for (i = 0; i < page->nitems; i++)
	{
		const MsgraphJsonSpan *id = &page->members[i * nnames];
		const MsgraphJsonSpan *ts = &page->members[i * nnames + st->ts_slot];
		const char *v = page->text + ts->off;
		TimestampTz t;

		if (page->text[page->items[i].off] != '{')
			continue;			/* the scan reports it when it comes to it */
		if (ts->len < 2 || v[0] != '"' || memchr(v, '\\', ts->len) != NULL ||
			!msgraph_parse_timestamp(v + 1, ts->len - 2, &t) || t < w->floor)
		{
			window_out_of_order(st, url);
			return NULL;
		}
		w->floor = t;
		if (w->restarted &&
			(t < w->last_ts || (t == w->last_ts && window_tie(w, page->text, id))))
		{
			if (skip == NULL)
				skip = palloc0(sizeof(bool) * page->nitems);
			skip[i] = true;
			continue;
		}
		if (t > w->last_ts)
		{
			w->last_ts = t;
			resetStringInfo(&w->ties);
			w->nties = 0;
			w->many_ties = false;
			w->restarted = false;
		}
		if (w->nties < MSGRAPH_MAX_WINDOW_TIES)
		{
			int			len = id->len;

			appendBinaryStringInfo(&w->ties, (char *) &len, sizeof(int));
			appendBinaryStringInfo(&w->ties, page->text + id->off, len);
			w->nties++;
		}
		else
			w->many_ties = true;
		w->rows += 1;
	}
	return skip;
}

/* Whether id is among the window's ties. */
static bool
window_tie(MsgraphWindow *w, const char *text, const MsgraphJsonSpan *id)
{
	const char *p = w->ties.data;
	const char *end = p + w->ties.len;

	while (p < end)
	{
		int			len;

		memcpy(&len, p, sizeof(int));
		p += sizeof(int);
		if (len == (int) id->len && memcmp(p, text + id->off, len) == 0)
			return true;
		p += len;
	}
	return false;
}

static void
window_out_of_order(MsgraphScanState *st, const char *url)
{
	if (st->nsplits > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Graph returned a time window out of the order it was asked for"),
				 errdetail("Request: GET %s", url),
				 errhint("Set the server's streams option to 1 to page sequentially.")));
	st->splitting = false;
}

/* A page's @odata.count, if it is a count (a checked number, no sign). */
static bool
page_count(MsgraphJsonPage *page, double *count)
{
	const char *v = page->text + page->count.off;
	size_t		len = page->count.len;
	int64_t		i;
	uint64_t	u;

	if (v[0] < '0' || v[0] > '9' || !msgraph_json_is_integer(v, len))
		return false;
	*count = msgraph_json_integer(v, len, &i, &u) ? (double) i : (double) u;
	return true;
}

/*
 * Rows a window has yet to send: by the count Graph gave for its range,
 * else guessed from how many it returned in the part it has passed.
 */
static double
window_remaining(MsgraphWindow *w)
{
	if (!w->have_next && w->pending == NULL)
		return 0;
	if (w->counted)
		return Max(w->expected - w->sent, 0);
	if (w->rows == 0)
		return 0;
	if (w->last_ts <= w->from)
		return w->rows * (double) (w->to - w->from);
	return w->rows * (double) (w->to - w->last_ts) / (double) (w->last_ts - w->from);
}

/*
 * While a stream is idle, give it a queued range (carve_window), else
 * split the window with the most left to send, more than a page, if its
 * next request is not on its way yet: the later half of the rest of its
 * range goes to the idle window (cut_window).
 */
static void
split_windows(MsgraphScanState *st)
{
	double		page = Max(st->spec.top, 1);

	for (;;)
	{
		MsgraphWindow *idle = NULL;
		MsgraphWindow *w = NULL;
		double		left = 0;
		double		others = 0;
		TimestampTz mid;
		int			i;

		for (i = 0; i < st->nwindows; i++)
		{
			MsgraphWindow *o = &st->windows[i];
			/* a request on its way brings a page of what is left */
			double		l = window_remaining(o) - (o->pending ? page : 0);

			if (!o->have_next && o->pending == NULL && o->ready == NULL)
				idle = o;
			else if (o->have_next && o->pending == NULL && !o->many_ties &&
					 o->to - o->last_ts >= 4 && l > left)
			{
				if (w != NULL)
					others = Max(others, left);
				w = o;
				left = l;
			}
			else
				others = Max(others, l);
		}
		if (idle != NULL && st->nqueued > 0)
		{
			/* a range cut off before goes first, the biggest of them */
			int			k = 0;

			for (i = 1; i < st->nqueued; i++)
			{
				if (st->queued[i].rows > st->queued[k].rows)
					k = i;
			}
			set_window_range(st, idle, st->queued[k].from, st->queued[k].to,
							 st->queued[k].bounded);
			st->queued[k] = st->queued[--st->nqueued];
			window_request(st, idle);
			continue;
		}
		if (idle == NULL || w == NULL || left <= page || left < others)
			return;
		mid = w->last_ts + (w->to - w->last_ts) / 2;
		set_window_range(st, idle, mid, w->to, w->bounded);
		cut_window(st, w, mid);
		window_request(st, idle);
	}
}

/*
 * A window's first count came in: if the window holds more than its
 * share of the rows (the probe's count over the streams) by a page or
 * more, the part of its range past its share, as guessed from an even
 * spread over what it has not reached yet, is cut off and queued for the
 * first stream to fall idle.  So windows of unequal density even out
 * before any stream idles.
 */
static void
carve_window(MsgraphScanState *st, MsgraphWindow *w)
{
	double		page = Max(st->spec.top, 1);
	double		left;
	double		keep;
	TimestampTz cut;

	if (w->carved || !w->counted || st->share <= 0)
		return;
	w->carved = true;
	left = w->expected - w->sent;
	keep = st->share - w->sent;
	if (!w->have_next || w->pending != NULL || w->many_ties ||
		w->expected - st->share < page || keep <= 0 || left <= keep ||
		st->nqueued >= st->nwindows)
		return;
	cut = w->last_ts + (TimestampTz) ((double) (w->to - w->last_ts) * (keep / left));
	if (cut - w->last_ts < 2 || w->to - cut < 2)
		return;
	st->queued[st->nqueued].from = cut;
	st->queued[st->nqueued].to = w->to;
	st->queued[st->nqueued].bounded = w->bounded;
	st->queued[st->nqueued].rows = left - keep;
	st->nqueued++;
	cut_window(st, w, cut);
}

/*
 * End w's range at cut (the rest has gone elsewhere): w is asked again
 * from its newest timestamp, its nextLink dropped, and skips the rows
 * there it has returned already.
 */
static void
cut_window(MsgraphScanState *st, MsgraphWindow *w, TimestampTz cut)
{
	TimestampTz start;

	w->to = cut;
	w->bounded = true;

	/*
	 * From a microsecond before last_ts, for every Graph value PostgreSQL
	 * reads as last_ts, but not before the range (the window before has
	 * those rows).
	 */
	start = Max(w->last_ts - 1, w->from);
	window_range_url(st, w, start);
	w->floor = start;
	w->restarted = true;
	st->nsplits++;
}

/*
 * The next page of a windowed scan: one that is ready, else the first
 * request to finish.  Taking a window's page starts that window's next
 * request, so each window holds at most the page being returned and one
 * more.  Returns false when every window is done.
 */
static bool
fetch_next_window_page(MsgraphScanState *st)
{
	bool		found = false;

	scan_free_page(st);
	MemoryContextReset(st->page_cxt);	/* the first page, before prefetching */
	for (;;)
	{
		MsgraphAsync *set[MSGRAPH_MAX_STREAMS];
		MsgraphAsync *done;
		int			n = 0;
		int			i;

		for (i = 0; i < st->nwindows && !found; i++)
		{
			MsgraphWindow *w = &st->windows[i];

			if (w->ready == NULL)
				continue;
			st->index = w->ready;
			st->skip = w->slots[w->fill].skip;
			w->ready = NULL;
			st->nitems = st->index->nitems;
			st->next_item = 0;
			/* the page stays in its slot; the window's next goes to the other */
			w->fill = 1 - w->fill;
			window_request(st, w);
			if (st->splitting)
				split_windows(st);
			found = true;
		}
		if (found)
			break;
		for (i = 0; i < st->nwindows; i++)
			set[n++] = st->windows[i].pending;
		for (i = 0; i < st->nwindows && set[i] == NULL; i++)
			;
		if (i == st->nwindows)
			break;				/* nothing in flight, nothing ready: done */
		done = msgraph_http_async_wait(set, n);
		/* (finishing may start a request that reuses done's memory) */
		for (i = 0; i < st->nwindows; i++)
		{
			if (st->windows[i].pending == done)
			{
				window_finish(st, &st->windows[i]);
				break;
			}
		}
	}
	return found;
}

/* End every window's transfer and free the pages they hold. */
static void
end_windows(MsgraphScanState *st, bool free_memory)
{
	int			i;

	for (i = 0; i < st->nwindows; i++)
	{
		MsgraphWindow *w = &st->windows[i];

		if (w->pending)
			msgraph_http_async_end(w->pending);
		w->pending = NULL;
		w->ready = NULL;		/* memory of the window's contexts */
		if (free_memory)
		{
			MemoryContextDelete(w->slots[0].cxt);
			MemoryContextDelete(w->slots[1].cxt);
			MemoryContextDelete(w->bufs);
		}
	}
	if (free_memory && st->windows)
		pfree(st->windows);
	st->windows = NULL;
	st->nwindows = 0;
}

/*
 * Sequential paging from the second page on: the scan goes on as one
 * window without bounds, so that each page is fetched while the rows of
 * the one before are returned (two pages held at most), in the order of
 * the nextLinks.
 */
static void
start_prefetch(MsgraphScanState *st)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(st->scan_cxt);
	MsgraphWindow *w;

	st->windows = palloc0(sizeof(MsgraphWindow));
	st->nwindows = 1;
	w = new_window(st, &st->windows[0], st->next_url.data);
	w->empty_run = st->empty_run;
	st->have_next = false;
	MemoryContextSwitchTo(oldcxt);
	window_request(st, w);
}

/* Set up a window whose first request is url (in the current context). */
static MsgraphWindow *
new_window(MsgraphScanState *st, MsgraphWindow *w, const char *url)
{
	MemoryContext oldcxt;
	int			i;

	initStringInfo(&w->next_url);
	appendStringInfoString(&w->next_url, url);
	w->have_next = true;
	w->bufs = AllocSetContextCreate(st->scan_cxt, "msgraph_security_fdw window buffers",
									ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(w->bufs);
	initStringInfo(&w->ties);
	for (i = 0; i < 2; i++)
	{
		MsgraphPageSlot *slot = &w->slots[i];

		slot->cxt = AllocSetContextCreate(st->scan_cxt, "msgraph_security_fdw page",
										  ALLOCSET_DEFAULT_SIZES);
		initStringInfo(&slot->resp.body);
		slot->resp.keep_buffers = true;
		slot->index.alloc = page_alloc;
		slot->index.alloc_arg = w->bufs;
	}
	MemoryContextSwitchTo(oldcxt);
	return w;
}

/* Memory context callback: the query is over, normally or not. */
static void
scan_page_cleanup(void *arg)
{
	MsgraphScanState *st = (MsgraphScanState *) arg;

	end_windows(st, false);		/* the contexts below the query's are gone */
	scan_free_page(st);
}

static void
scan_free_page(MsgraphScanState *st)
{
	if (st->page != NULL)
	{
		json_object_put(st->page);
		st->page = NULL;
	}
	st->index = NULL;			/* memory of the page's context */
	st->skip = NULL;
	st->items = NULL;
	st->nitems = 0;
	st->next_item = 0;
}

static void
scan_error_callback(void *arg)
{
	MsgraphScanState *st = (MsgraphScanState *) arg;

	errcontext("foreign table \"%s\"", RelationGetRelationName(st->rel));
}

/*
 * Return the next row.  Errors raised while fetching name the foreign
 * table (conversion errors name the column too).
 */
static TupleTableSlot *
msgraphIterateForeignScan(ForeignScanState *node)
{
	MsgraphScanState *st = (MsgraphScanState *) node->fdw_state;
	ErrorContextCallback errcb;
	TupleTableSlot *slot;

	errcb.callback = scan_error_callback;
	errcb.arg = st;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	slot = iterate_scan(node, st);
	error_context_stack = errcb.previous;
	return slot;
}

static TupleTableSlot *
iterate_scan(ForeignScanState *node, MsgraphScanState *st)
{
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	ExprContext *econtext = node->ss.ps.ps_ExprContext;

	if (!st->begun)
	{
		scan_start(node, st);
		st->begun = true;
	}
	if (st->count)
	{
		ExecClearTuple(slot);
		if (!st->count_done && fetch_count(st, slot))
			ExecStoreVirtualTuple(slot);
		st->count_done = true;
		return slot;
	}

	for (;;)
	{
		ListCell   *lc;
		bool		ok = true;

		ExecClearTuple(slot);
		while ((st->page == NULL && st->index == NULL) || st->next_item >= st->nitems)
		{
			if (!(st->lookup ? fetch_next_lookup(st)
				  : st->windows ? fetch_next_window_page(st)
				  : fetch_next_page(st)))
				return slot;
		}

		/* keep the other windows' transfers moving between rows */
		if (st->windows && ++st->rows_since_progress >= 64)
		{
			st->rows_since_progress = 0;
			msgraph_http_async_progress(0);
		}
		memset(slot->tts_isnull, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);
		if (st->index)
		{
			size_t		n = st->next_item++;

			if (st->skip != NULL && st->skip[n])
				continue;		/* a windowed scan returned it already */
			if (st->index->text[st->index->items[n].off] != '{')
				item_not_object(st, n);
			msgraph_convert_page_item(st->rel, st->cols, st->ncols, st->index, &st->names,
									  n, slot->tts_values, slot->tts_isnull);
		}
		else
		{
			struct json_object *entity = json_object_array_get_idx(st->items,
																   st->next_item++);

			if (entity == NULL || !json_object_is_type(entity, json_type_object))
				item_not_object(st, st->next_item - 1);
			if (st->expand_fallback)
				attach_navigation(st, entity);
			msgraph_convert_entity(st->rel, st->cols, st->ncols, entity,
								   slot->tts_values, slot->tts_isnull);
		}
		ExecStoreVirtualTuple(slot);

		/* exact conditions that could not be sent exactly this time */
		econtext->ecxt_scantuple = slot;
		foreach(lc, st->recheck)
		{
			if (!ExecQual((ExprState *) lfirst(lc), econtext))
			{
				ok = false;
				break;
			}
		}
		if (ok)
			return slot;
		ResetExprContext(econtext);
	}
}

/* An item of a page is no entity: an ERROR naming it. */
static void
item_not_object(MsgraphScanState *st, size_t n)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("Graph sent an item that is not a JSON object"),
			 errdetail("Item %zu of a page of foreign table \"%s\".",
					   n, RelationGetRelationName(st->rel))));
}

/* Parse a JSON body (strict, valid UTF-8, bounded nesting), or ERROR. */
static struct json_object *
parse_json_body(const char *url, MsgraphHttpResponse *resp)
{
	struct json_tokener *tok;
	struct json_object *doc;
	enum json_tokener_error jerr;
	size_t		consumed;
	MsgraphJsonCheck check;

	tok = json_tokener_new_ex(MSGRAPH_JSON_MAX_DEPTH);
	if (tok == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	doc = json_tokener_parse_ex(tok, resp->body.data, resp->body.len);
	jerr = json_tokener_get_error(tok);
	consumed = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);

	if (doc == NULL || jerr != json_tokener_success || consumed != (size_t) resp->body.len)
	{
		if (doc)
			json_object_put(doc);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Graph sent a response that is not valid JSON"),
				 errdetail("%s at byte %zu of %d; request: GET %s",
						   jerr == json_tokener_continue
						   ? "unexpected end of the text"	/* json-c: "continue" */
						   : doc == NULL || jerr != json_tokener_success
						   ? json_tokener_error_desc(jerr) : "trailing data",
						   consumed, resp->body.len, url)));
	}

	/*
	 * json-c also accepts text that is not JSON and makes values of it that
	 * nobody sent (NaN, invalid UTF-8, lone surrogates, saturated integers,
	 * the last of duplicate names): see jsoncheck.c.  Refuse those before
	 * a single value is used.
	 */
	if (!msgraph_json_check(resp->body.data, resp->body.len, &check))
	{
		json_object_put(doc);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Graph sent a response that is not valid JSON"),
				 errdetail("%s at byte %zu of %d; request: GET %s",
						   check.problem, check.offset, resp->body.len, url)));
	}
	/* the DOM is all that is needed from the body (unless it is kept) */
	if (!resp->keep_buffers)
	{
		pfree(resp->body.data);
		resp->body.data = NULL;
	}
	return doc;
}

/*
 * Fetch the next page (the first one on the first call).  Returns false
 * when there is none; a page with zero items but a nextLink is followed.
 * A 400 on the first page of a filtered scan narrows the filter (the
 * fallback of interface.md) and tries again.
 */
static bool
fetch_next_page(MsgraphScanState *st)
{
	MsgraphHttpResponse resp;
	MemoryContext oldcxt;
	const char *url;
	bool		first;

	if (st->started && !st->have_next)
		return false;
	first = !st->started;

	resetStringInfo(&st->cur_url);
	appendStringInfoString(&st->cur_url, first ? st->first_url : st->next_url.data);
	url = st->cur_url.data;
	st->started = true;
	st->have_next = false;

	scan_free_page(st);
	MemoryContextReset(st->page_cxt);
	oldcxt = MemoryContextSwitchTo(st->page_cxt);

	msgraph_graph_get(&st->opts, url, &resp, &st->stats);
	while (resp.status == 400 && first && st->spec.filter != NULL &&
		   st->mode != MSGRAPH_FILTER_NONE)
	{
		MsgraphFilterMode narrower = (st->mode == MSGRAPH_FILTER_FULL)
			? MSGRAPH_FILTER_BASIC : MSGRAPH_FILTER_NONE;
		char	   *before = st->spec.filter;
		MemoryContext cxt = MemoryContextSwitchTo(st->scan_cxt);

		st->mode = narrower;
		remember_fallback(st->opts.serverid, st->spec.path, narrower);
		st->spec.filter = render_filter(st, narrower, false, &st->recheck);
		st->fallback = psprintf("Graph rejected $filter=%s; narrowed to %s",
								before, st->spec.filter ? st->spec.filter : "no $filter");
		st->first_url = msgraph_build_url(&st->opts, &st->spec, false, true, st->snapshot);
		MemoryContextSwitchTo(cxt);
		ereport(DEBUG1,
				(errmsg_internal("msgraph_security_fdw: %s", st->fallback)));

		resetStringInfo(&st->cur_url);
		appendStringInfoString(&st->cur_url, st->first_url);
		url = st->cur_url.data;
		msgraph_graph_get(&st->opts, url, &resp, &st->stats);
	}
	if (resp.status >= 500 && first && st->spec.expand != NULL)
	{
		/*
		 * Graph is known to fail on $expand=alerts over large tenants:
		 * list without it and fetch each entity's navigation by its path.
		 */
		const GraphDerived *d = st->res ? graph_catalog_find_derived(st->res, st->spec.expand) : NULL;

		if (d != NULL && d->fallback_path_format != NULL)
		{
			MemoryContext cxt = MemoryContextSwitchTo(st->scan_cxt);

			st->expand_fallback = d;
			st->spec.expand = NULL;
			st->first_url = msgraph_build_url(&st->opts, &st->spec, false, true, st->snapshot);
			st->fallback = psprintf("Graph failed on $expand=%s (HTTP %ld); fetched by %s per entity",
									d->source, resp.status, d->fallback_path_format);
			MemoryContextSwitchTo(cxt);
			resetStringInfo(&st->cur_url);
			appendStringInfoString(&st->cur_url, st->first_url);
			url = st->cur_url.data;
			msgraph_graph_get(&st->opts, url, &resp, &st->stats);
		}
	}
	if (resp.status != 200)
		msgraph_report_graph_error(&st->opts, st->res, url, &resp);
	parse_page(st, url, &resp);
	st->stats.pages++;
	msgraph_backend_stats.pages++;

	check_empty_run(&st->empty_run, st->nitems, st->have_next, url);

	MemoryContextSwitchTo(oldcxt);
	if (st->prefetch && st->have_next && st->nstreams <= 1 && st->expand_fallback == NULL)
		start_prefetch(st);
	return true;
}

/*
 * After a failed $expand: GET the navigation collection of one entity
 * (every page of it) and attach it under its name, as $expand would have.
 * The array belongs to the entity, so it goes with the page.
 */
static void
attach_navigation(MsgraphScanState *st, struct json_object *entity)
{
	const GraphDerived *d = st->expand_fallback;
	const char *id = msgraph_json_get_string(entity, "id");
	struct json_object *array;
	StringInfoData url;
	StringInfoData next;
	int			pages = 0;

	if (id == NULL)
		return;
	array = json_object_new_array();
	json_object_object_add(entity, d->source, array);

	initStringInfo(&url);
	initStringInfo(&next);
	appendStringInfo(&url, "%s/%s/", st->opts.graph_url, st->opts.api_version);
	appendStringInfo(&url, d->fallback_path_format, msgraph_encode_path_segment(id));
	for (;;)
	{
		MsgraphHttpResponse resp;
		struct json_object *doc;
		struct json_object *value;
		struct json_object *link;
		size_t		i;

		msgraph_graph_get(&st->opts, url.data, &resp, &st->stats);
		if (resp.status != 200)
			msgraph_report_graph_error(&st->opts, st->res, url.data, &resp);
		doc = parse_json_body(url.data, &resp);
		/* the page document hangs off the entity until its items are moved */
		json_object_object_add(entity, "@msgraph.page", doc);
		value = msgraph_json_get(doc, "value");
		if (value == NULL || !json_object_is_type(value, json_type_array))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("Graph sent a page without a \"value\" array"),
					 errdetail("Request: GET %s", url.data)));
		for (i = 0; i < json_object_array_length(value); i++)
			json_object_array_add(array, json_object_get(json_object_array_get_idx(value, i)));
		st->stats.pages++;
		link = msgraph_json_get(doc, "@odata.nextLink");
		resetStringInfo(&next);
		if (link != NULL && json_object_is_type(link, json_type_string))
			appendStringInfoString(&next, json_object_get_string(link));
		json_object_object_del(entity, "@msgraph.page");
		if (next.len == 0)
			break;
		if (!msgraph_same_origin(next.data, st->opts.graph_url) || ++pages > 10000)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("Graph sent an @odata.nextLink that cannot be followed"),
					 errdetail("Link: %s", next.data)));
		resetStringInfo(&url);
		appendStringInfoString(&url, next.data);
	}
}

/*
 * Get the next id of a lookup scan.  A 404 means there is no such entity:
 * no row.  Returns false when every id has been looked up.
 */
static bool
fetch_next_lookup(MsgraphScanState *st)
{
	MemoryContext oldcxt;

	st->started = true;
	while (st->next_id < list_length(st->ids))
	{
		MsgraphHttpResponse resp;
		struct json_object *doc;
		char	   *url;

		scan_free_page(st);
		MemoryContextReset(st->page_cxt);
		oldcxt = MemoryContextSwitchTo(st->page_cxt);
		st->spec.id = (char *) list_nth(st->ids, st->next_id++);
		url = msgraph_build_url(&st->opts, &st->spec, false, false, 0);
		msgraph_graph_get(&st->opts, url, &resp, &st->stats);
		if (resp.status == 404)
		{
			MemoryContextSwitchTo(oldcxt);
			continue;
		}
		if (resp.status != 200)
			msgraph_report_graph_error(&st->opts, st->res, url, &resp);
		doc = parse_json_body(url, &resp);
		if (!json_object_is_type(doc, json_type_object))
		{
			json_object_put(doc);
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("Graph sent an entity that is not a JSON object"),
					 errdetail("Request: GET %s", url)));
		}
		/* hold the entity as a one-item page */
		st->page = json_object_new_array();
		json_object_array_add(st->page, doc);
		st->items = st->page;
		st->nitems = 1;
		st->next_item = 0;
		st->stats.pages++;
		msgraph_backend_stats.pages++;
		MemoryContextSwitchTo(oldcxt);
			return true;
	}
	return false;
}

/*
 * count(*) by one request: $count=true&$top=1, reading @odata.count.
 * Every output column is that count.  Returns false only if it is absent.
 */
static bool
fetch_count(MsgraphScanState *st, TupleTableSlot *slot)
{
	MsgraphHttpResponse resp;
	MemoryContext oldcxt;
	struct json_object *doc;
	struct json_object *count;
	int64		n;
	int			i;

	st->started = true;
	oldcxt = MemoryContextSwitchTo(st->page_cxt);
	msgraph_graph_get(&st->opts, st->first_url, &resp, &st->stats);
	if (resp.status != 200)
		msgraph_report_graph_error(&st->opts, st->res, st->first_url, &resp);
	doc = parse_json_body(st->first_url, &resp);
	st->page = doc;
	st->stats.pages++;
	msgraph_backend_stats.pages++;
	count = msgraph_json_get(doc, "@odata.count");
	if (count == NULL || !json_object_is_type(count, json_type_int) ||
		(n = json_object_get_int64(count)) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Graph answered a $count request without a valid @odata.count"),
				 errdetail("Request: GET %s", st->first_url)));
	for (i = 0; i < slot->tts_tupleDescriptor->natts; i++)
	{
		slot->tts_values[i] = Int64GetDatum(n);
		slot->tts_isnull[i] = false;
	}
	scan_free_page(st);
	MemoryContextSwitchTo(oldcxt);
	return true;
}

/*
 * Keep a page, checked and indexed, and remember its nextLink after
 * checking it.  After a failed $expand the entities get members attached
 * (attach_navigation): the page is a json-c DOM then.
 */
static void
parse_page(MsgraphScanState *st, const char *url, MsgraphHttpResponse *resp)
{
	struct json_object *doc;
	struct json_object *value;
	struct json_object *link;

	if (st->expand_fallback == NULL)
	{
		st->index = index_page(st, url, resp, NULL);
		st->nitems = st->index->nitems;
		st->next_item = 0;
		st->have_next = page_next_link(st, st->index, url, &st->next_url);
		return;
	}

	doc = parse_json_body(url, resp);
	st->page = doc;
	value = msgraph_json_get(doc, "value");
	if (value == NULL || !json_object_is_type(value, json_type_array))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Graph sent a page without a \"value\" array"),
				 errdetail("Request: GET %s", url)));
	st->items = value;
	st->nitems = json_object_array_length(value);
	st->next_item = 0;

	link = msgraph_json_get(doc, "@odata.nextLink");
	if (link == NULL || json_object_is_type(link, json_type_null))
		st->have_next = false;
	else if (!json_object_is_type(link, json_type_string))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Graph sent an @odata.nextLink that is not a string"),
				 errdetail("Request: GET %s", url)));
	else
	{
		check_next_link(st, json_object_get_string(link));
		resetStringInfo(&st->next_url);
		appendStringInfoString(&st->next_url, json_object_get_string(link));
		st->have_next = true;
	}
}

/* Allocator of a page's index: the memory context given. */
static void *
page_alloc(void *arg, size_t size)
{
	return MemoryContextAllocHuge((MemoryContext) arg, size);
}

/*
 * Check a list page and index it for the scan's columns (the body stays:
 * the index points into it), into page (a window's, whose arrays are
 * reused) or, when page is NULL, into a new one in the current memory
 * context.  Whatever the walk refuses, and a body that is no JSON object,
 * goes through parse_json_body() as every other response does, so that
 * the messages are the same: json-c's, else the check's.  Returns a page
 * with a "value" array, or ERRORs.
 */
static MsgraphJsonPage *
index_page(MsgraphScanState *st, const char *url, MsgraphHttpResponse *resp,
		   MsgraphJsonPage *page)
{
	MsgraphJsonCheck check;
	const char *p = resp->body.data;

	if (page == NULL)
	{
		page = palloc0(sizeof(MsgraphJsonPage));
		page->alloc = page_alloc;
		page->alloc_arg = CurrentMemoryContext;
	}
	/* pages are alike: room for as many items as the last one had */
	page->items_hint = st->index_items;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p != '{' ||
		!msgraph_json_index_page(resp->body.data, resp->body.len, &st->names, page, &check))
	{
		/* an ERROR, unless the body is JSON that is no object */
		json_object_put(parse_json_body(url, resp));
		page->value.len = 0;
	}
	if (page->value.len == 0 || page->text[page->value.off] != '[')
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Graph sent a page without a \"value\" array"),
				 errdetail("Request: GET %s", url)));
	st->index_items = page->nitems;
	return page;
}

/*
 * The @odata.nextLink of an indexed page, checked, into next; false when
 * it has none (absent or null).  Used as json-c would give it: as a C
 * string, up to a "\u0000" if there is one.
 */
static bool
page_next_link(MsgraphScanState *st, MsgraphJsonPage *page, const char *url, StringInfo next)
{
	const MsgraphJsonSpan *span = &page->next_link;
	const char *v = page->text + span->off;
	char	   *link;
	size_t		len;

	if (span->len == 0 || *v == 'n')
		return false;
	if (*v != '"')
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Graph sent an @odata.nextLink that is not a string"),
				 errdetail("Request: GET %s", url)));
	link = palloc(span->len);
	len = msgraph_json_decode_string(v + 1, span->len - 2, link);
	link[len] = '\0';
	check_next_link(st, link);
	resetStringInfo(next);
	appendStringInfoString(next, link);
	return true;
}

/*
 * A nextLink is followed only to graph_url's origin (the bearer token goes
 * nowhere else), and never twice in one scan (a paging loop would
 * otherwise return the same rows forever).
 */
static void
check_next_link(MsgraphScanState *st, const char *link)
{
	uint64		h = hash_bytes_extended((const unsigned char *) link, strlen(link), 0);
	int			i;

	if (!msgraph_same_origin(link, st->opts.graph_url))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Graph sent an @odata.nextLink to another host"),
				 errdetail("The link %s is not on %s; it was not followed.",
						   link, st->opts.graph_url)));

	for (i = 0; i < st->nseen; i++)
	{
		if (st->seen_links[i] == h)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("Graph's paging loops: an @odata.nextLink came back a second time"),
					 errdetail("Link: %s", link)));
	}
	if (st->nseen == st->maxseen)
	{
		st->maxseen = Max(16, st->maxseen * 2);
		st->seen_links = st->seen_links
			? repalloc(st->seen_links, sizeof(uint64) * st->maxseen)
			: MemoryContextAlloc(st->scan_cxt, sizeof(uint64) * st->maxseen);
	}
	st->seen_links[st->nseen++] = h;
}

/*
 * Empty pages with fresh nextLinks are no loop the link check can see, yet
 * they may never end: past a limit, that is paging that stops for another
 * reason than the absence of a nextLink, an ERROR.  *run counts them.
 */
static void
check_empty_run(int *run, size_t nitems, bool have_next, const char *url)
{
	if (nitems > 0 || !have_next)
	{
		*run = 0;
		return;
	}
	if (++*run > MSGRAPH_MAX_EMPTY_RUN)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Graph sent %d empty pages in a row, each with an @odata.nextLink",
						*run),
				 errdetail("Last request: GET %s", url),
				 errhint("Graph's paging seems stalled; try again later.")));
}

static void
msgraphReScanForeignScan(ForeignScanState *node)
{
	MsgraphScanState *st = (MsgraphScanState *) node->fdw_state;

	end_windows(st, true);
	scan_free_page(st);
	st->begun = false;
	st->started = false;
	st->have_next = false;
	st->nseen = 0;
	st->empty_run = 0;
	st->spec.id = NULL;
	st->count_done = false;
}

static void
msgraphEndForeignScan(ForeignScanState *node)
{
	MsgraphScanState *st = (MsgraphScanState *) node->fdw_state;

	if (st)
	{
		end_windows(st, true);
		scan_free_page(st);
	}
}

/*
 * EXPLAIN VERBOSE shows the first request, decoded, with run-time values
 * as "?" (resolved under ANALYZE); ANALYZE adds the request counters.
 */
static void
msgraphExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	MsgraphScanState *st = (MsgraphScanState *) node->fdw_state;

	if (es->verbose)
	{
		bool		resolved = es->analyze && st->started;
		MsgraphRequestSpec spec = st->spec;
		char	   *url;

		if (st->lookup)
		{
			Node	   *v = st->lookup_value->expr;

			spec.id = "?";
			if (resolved && list_length(st->ids) > 0)
				spec.id = (char *) linitial(st->ids);
			else if (IsA(v, Const) && !((Const *) v)->constisnull && st->lookup == 1)
				spec.id = TextDatumGetCString(((Const *) v)->constvalue);
			else if (IsA(v, Const) && !((Const *) v)->constisnull)
			{
				Datum	   *elems;
				bool	   *nulls;
				int			n;

				deconstruct_array(DatumGetArrayTypeP(((Const *) v)->constvalue),
								  TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
				if (n > 0 && !nulls[0])
					spec.id = TextDatumGetCString(elems[0]);
			}
		}
		else if (!resolved)
			spec.filter = render_filter(st, st->mode, true, NULL);
		url = msgraph_build_url(&st->opts, &spec, true, resolved, st->snapshot);
		ExplainPropertyText("Graph Request", psprintf("GET %s", url), es);
	}
	if (es->analyze)
	{
		ExplainPropertyInteger("Graph Requests", NULL, st->stats.requests, es);
		ExplainPropertyInteger("Graph Pages", NULL, st->stats.pages, es);
		ExplainPropertyInteger("Graph Bytes", NULL, st->stats.bytes, es);
		ExplainPropertyInteger("Graph Retries", NULL, st->stats.retries, es);
		ExplainPropertyInteger("Graph Throttled ms", NULL, st->stats.throttled_ms, es);
		if (st->windows != NULL && st->nstreams > 1)
		{
			ExplainPropertyInteger("Graph Streams", NULL, st->nstreams, es);
			ExplainPropertyInteger("Graph Windows", NULL, st->nwindows + st->nsplits, es);
		}
		if (st->fallback)
			ExplainPropertyText("Graph Fallback", st->fallback, es);
	}
}

static List *
msgraphImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	return msgraph_import_foreign_schema(stmt, serverOid);
}

/* SQL: msgraph_request_stats(), this backend's counters. */
Datum
msgraph_request_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		values[6];
	bool		nulls[6] = {false};

	InitMaterializedSRF(fcinfo, 0);
	values[0] = Int64GetDatum(msgraph_backend_stats.requests);
	values[1] = Int64GetDatum(msgraph_backend_stats.pages);
	values[2] = Int64GetDatum(msgraph_backend_stats.bytes);
	values[3] = Int64GetDatum(msgraph_backend_stats.retries);
	values[4] = Int64GetDatum(msgraph_backend_stats.throttled_ms);
	values[5] = Int64GetDatum(msgraph_backend_stats.tokens_fetched);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}
