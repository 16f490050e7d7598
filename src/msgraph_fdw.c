/*-------------------------------------------------------------------------
 *
 * msgraph_fdw.c
 *		  Foreign-data wrapper for the Microsoft Graph Security API: the
 *		  handler, the planner and executor callbacks of a scan, and EXPLAIN.
 *
 * Planning sorts a table's conditions with deparse.c's classifier into
 * those sent to Graph (exactly, or widened and rechecked locally), those
 * evaluated locally, and those that select no row (then nothing is sent);
 * it offers a list scan, an ordered one where Graph can sort, gets by id
 * for "id = c", parameterized paths for joins (a get by id or a filtered
 * request per outer row), and count(*) by $count as an upper path.  The
 * plan's decisions travel in MsgraphScanPlan (fdw_private); the sent
 * conditions in fdw_exprs, rendered at scan start when parameters and
 * stable expressions have their values.
 *
 * Execution: a list scan sends the first request ($select, $filter with
 * the snapshot bound "createdDateTime le <scan start>" on alerts and
 * incidents, $orderby, $top) and follows the nextLinks; paging.c reads the
 * pages, pages ahead and runs parallel time windows.  A 400 to a filter
 * narrows it (remembered per server and resource for the session); a 5xx
 * to $expand fetches the navigation per entity instead.  Lookups get each
 * id by path (404: no row); count(*) reads @odata.count of one request.
 * Only one or two pages are held whatever the number of rows: the memory
 * of a scan is bounded by its pages.  json-c DOMs (single entities, pages
 * after a failed $expand) are freed when the next page arrives, when the
 * scan ends, and by a memory context callback on ERROR or cancel.
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
 * Planner cost of one request and of fetching and converting one entity.
 * A request is a round trip of 100 ms or more against Graph, and it is
 * what Graph's throttling counts; an entity (some 2 kB on the wire) is
 * read and converted in some 20 us.  So a request costs as much as a few
 * thousand rows, and k requests of a parameterized join win over a full
 * scan about when k is below the scan's pages.
 */
#define MSGRAPH_REQUEST_COST	100.0
#define MSGRAPH_ROW_COST		(cpu_tuple_cost * 2)
/* row estimate for a resource the catalog does not know */
#define MSGRAPH_DEFAULT_ROWS	1000.0

/*
 * Pages of one entity's navigation collection (an incident's alerts after
 * a failed $expand) read at most: the collection is held whole, as the
 * one jsonb value of its column.
 */
#define MSGRAPH_MAX_NAVIGATION_PAGES 1000

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
	bool		all_exact;		/* nothing is evaluated locally */
	Selectivity remote_sel;		/* selectivity of what is sent */
	bool		lookup;			/* a restriction is a lookup by id */
	int			lookup_ids;		/* ids looked up (estimate) */
	bool		consts_only;	/* every sent condition compares with constants */
	bool		never;			/* a restriction selects no row: nothing is sent */

	/* for count(*) pushed down: the upper rel's copy */
	bool		count;
	Index		input_relid;	/* the scanned table's relid */
	List	   *input_conds;	/* its restrictions, all sent exactly */
} MsgraphRelInfo;

/* A relation's conditions as split_clauses() sorts them. */
typedef struct ClauseSplit
{
	RestrictInfo *lookup;		/* id = value or id = ANY(value), or NULL */
	Node	   *lookup_value;	/* its value expression */
	bool		lookup_array;	/* ... an array */
	List	   *remote;			/* RestrictInfos sent to Graph */
	List	   *remote_exact;	/* per remote one: 1 if Graph applies it exactly */
	List	   *local;			/* RestrictInfos evaluated locally */
	bool		all_exact;		/* nothing is evaluated locally */
	bool		never;			/* some condition selects no row */
	bool		consts_only;	/* the sent conditions hold only constants */
} ClauseSplit;

/*
 * What the planner decided for a scan, carried to the executor in the
 * ForeignScan's fdw_private.  GetForeignPlan fills one and stores it with
 * scan_plan_to_list(); BeginForeignScan reads it back with
 * scan_plan_from_list().  The conditions themselves travel in fdw_exprs,
 * so that the executor sets up their Params and nestloop parameters; for
 * count(*), which has no scan tuple, fdw_exprs holds only the run-time
 * values of the conditions, in the order the deparser meets them.
 */
typedef struct MsgraphScanPlan
{
	char	   *path;			/* resource path under the version */
	char	   *select;			/* $select, NULL for none */
	char	   *snapshot_property;	/* pinned to the scan start, NULL for none */
	char	   *orderby;		/* $orderby, NULL for none */
	char	   *expand;			/* $expand, NULL for none */
	int			top;			/* $top of the first request, 0 for none */
	int			page_size;		/* $top when a LIMIT hint cannot hold */
	List	   *retrieved_attrs;	/* attnums the scan fills */
	List	   *exact;			/* per pushed condition: 1 if planned exact */
	int			lookup;			/* 0 none, 1 get by one id, 2 by an array */
	bool		count;			/* count(*) by $count */
	int			count_relid;	/* count: varno of the conditions' Vars */
	List	   *count_conds;	/* count: the conditions */
	int			streams;		/* time windows fetched at once */
	bool		prefetch;		/* fetch a page ahead */
} MsgraphScanPlan;

/*
 * Slots of a ForeignScan's fdw_private list, one per MsgraphScanPlan
 * field, in that order: strings as String ("" for NULL), numbers and flags
 * as Integer, lists as themselves.
 */
enum FdwScanPrivateIndex
{
	FdwScanPrivatePath,
	FdwScanPrivateSelect,
	FdwScanPrivateSnapshotProp,
	FdwScanPrivateOrderBy,
	FdwScanPrivateExpand,
	FdwScanPrivateTop,
	FdwScanPrivatePageSize,
	FdwScanPrivateRetrievedAttrs,
	FdwScanPrivateExact,
	FdwScanPrivateLookup,
	FdwScanPrivateCount,
	FdwScanPrivateCountRelid,
	FdwScanPrivateCountConds,
	FdwScanPrivateStreams,
	FdwScanPrivatePrefetch
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

/* The pushed conditions of a list scan. */
typedef struct MsgraphScanConds
{
	List	   *list;			/* the conditions sent to Graph */
	List	   *exact;			/* per condition: 1 if planned exact */
	List	   *states;			/* per condition: its local evaluator, for
								 * planned exact ones */
	List	   *values;			/* MsgraphRuntimeValue of the conditions */
	List	   *recheck;		/* planned exact, not sent exactly this time */
	bool		never;			/* they select no row: nothing is sent */
} MsgraphScanConds;

/* How a list scan pages. */
typedef struct MsgraphScanPaging
{
	MsgraphPager pager;			/* page reading, paging ahead, windows */
	int			nstreams;		/* planned; 1 = sequential paging */
	bool		prefetch;		/* sequential paging fetches a page ahead */
	MsgraphJsonNames names;		/* the members list pages are indexed for */
	char	   *first_url;		/* encoded, as sent */
	bool		have_next;		/* next_url holds the link to follow */
	StringInfoData cur_url;		/* the request being made */
	StringInfoData next_url;	/* the last page's @odata.nextLink */
	int			empty_run;		/* empty pages with a nextLink in a row */
	const GraphDerived *expand_fallback;	/* $expand failed on Graph's side:
											 * navigation fetched per entity */
} MsgraphScanPaging;

/* A scan that gets entities by id. */
typedef struct MsgraphScanLookup
{
	int			kind;			/* 0 none, 1 one id, 2 an array of them */
	MsgraphRuntimeValue *value; /* the id or the array */
	List	   *ids;			/* the ids to get, at run time */
	int			next;			/* the next of them */
} MsgraphScanLookup;

/* The page (or entity) whose rows are being returned. */
typedef struct MsgraphScanPage
{
	MemoryContext cxt;			/* its body and links (sequential paging) */
	MsgraphJsonPage *index;		/* a list page as paging.c read it, or NULL */
	bool	   *skip;			/* its items to skip (split windows), or NULL */
	struct json_object *dom;	/* else a page or entity as a json-c DOM */
	struct json_object *items;	/* the DOM's items */
	size_t		nitems;
	size_t		next;			/* the next item to return */
} MsgraphScanPage;

/* Executor state of a scan. */
typedef struct MsgraphScanState
{
	/* what is scanned, for whom, and which columns */
	Relation	rel;
	Index		relid;			/* varno of the conditions' Vars */
	const GraphResource *res;
	MsgraphTableMeta *meta;
	MsgraphConnOptions opts;
	MsgraphColumn *cols;
	int			ncols;
	MemoryContext scan_cxt;		/* lives as long as the scan */

	/* the first request, and how it was narrowed */
	MsgraphRequestSpec spec;
	TimestampTz snapshot;		/* scan start, for the snapshot bound */
	int			planned_top;	/* $top planned (a LIMIT hint, maybe) */
	int			page_size;		/* $top when the hint cannot hold */
	MsgraphFilterMode mode;
	char	   *fallback;		/* EXPLAIN ANALYZE note, NULL if none */

	MsgraphScanConds cond;
	MsgraphScanPaging paging;
	MsgraphScanLookup lookup;
	MsgraphScanPage page;

	/* count(*) by $count=true: one row, then done */
	bool		count;
	bool		count_done;

	bool		begun;			/* scan_start has run for this (re)scan */
	bool		started;		/* the first request has been sent */
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
static void attach_navigation(MsgraphScanState *st, struct json_object *entity);

static MsgraphFilterMode fallback_mode(Oid serverid, const char *path);
static void remember_fallback(Oid serverid, const char *path, MsgraphFilterMode mode);
static List *retrieved_attrs_of(Relation rel, Bitmapset *attrs_used);
static Selectivity condition_selectivity(Node *node, MsgraphTableMeta *meta, Index relid);
static double remote_count(ForeignServer *server, Oid userid, MsgraphRelInfo *info,
						   Index relid, List *remote);
static void split_clauses(MsgraphRelInfo *info, Index relid, List *clauses,
						  bool allow_lookup, ClauseSplit *split);
static void add_paths_for(PlannerInfo *root, RelOptInfo *baserel, MsgraphRelInfo *info,
						  Relids required_outer, bool by_id, double rows,
						  List *pathkeys, const char *orderby, int top);
static char *orderby_for_pathkeys(PlannerInfo *root, RelOptInfo *baserel,
								  MsgraphRelInfo *info, List *pathkeys);
static void add_parameterized_paths(PlannerInfo *root, RelOptInfo *baserel,
									MsgraphRelInfo *info);
static bool ec_member_matches_var(PlannerInfo *root, RelOptInfo *rel,
								  EquivalenceClass *ec, EquivalenceMember *em,
								  void *arg);
static List *scan_plan_to_list(const MsgraphScanPlan *plan);
static void scan_plan_from_list(List *l, MsgraphScanPlan *plan);
static List *condition_values(MsgraphTableMeta *meta, Index relid, List *conds);
static ForeignScan *count_plan(PlannerInfo *root, MsgraphRelInfo *info, List *tlist,
							   Plan *outer_plan);
static char *render_filter(MsgraphScanState *st, MsgraphFilterMode mode, bool display,
						   bool notify, List **not_exact, bool *never);
static void set_scan_filter(MsgraphScanState *st, bool notify);
static void scan_start(ForeignScanState *node, MsgraphScanState *st);
static void evaluate_values(ForeignScanState *node, MsgraphScanState *st);
static void scan_free_page(MsgraphScanState *st);
static void scan_page_cleanup(void *arg);
static bool fetch_next_page(MsgraphScanState *st);
static bool fetch_next_lookup(MsgraphScanState *st);
static bool fetch_next_window_page(MsgraphScanState *st);
static const char *read_permission(const GraphResource *res);
static void parse_page(MsgraphScanState *st, const char *url, MsgraphHttpResponse *resp);
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
 * Sort conditions (RestrictInfos) of the scanned table into the lookup by
 * id, if allowed and there is one, those sent to Graph and those
 * evaluated locally, as the deparser classifies them with the values
 * known now.  Conditions sent widened are both sent and local.  A
 * condition that selects no row (NEVER) makes the scan send nothing: it
 * is sent (as nothing) and exact, and no lookup is made then.
 */
static void
split_clauses(MsgraphRelInfo *info, Index relid, List *clauses, bool allow_lookup,
			  ClauseSplit *split)
{
	MsgraphDeparseEnv env;
	ListCell   *lc;

	memset(split, 0, sizeof(ClauseSplit));
	memset(&env, 0, sizeof(env));
	env.meta = info->meta;
	env.relid = relid;
	env.mode = info->mode;
	env.collecting = true;
	split->all_exact = true;
	foreach(lc, clauses)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		MsgraphCondKind kind;
		Node	   *value;
		bool		is_array;

		if (ri->pseudoconstant)
		{
			/* a gating Result evaluates it, above this scan only */
			split->all_exact = false;
			continue;
		}
		if (allow_lookup && split->lookup == NULL &&
			msgraph_id_lookup_value((Node *) ri->clause, &env, &value, &is_array))
		{
			split->lookup = ri;
			split->lookup_value = value;
			split->lookup_array = is_array;
			continue;
		}
		kind = msgraph_classify_condition((Node *) ri->clause, &env);
		if (kind == MSGRAPH_COND_NEVER)
			split->never = true;
		if (kind != MSGRAPH_COND_LOCAL)
		{
			split->remote = lappend(split->remote, ri);
			split->remote_exact = lappend_int(split->remote_exact,
											  kind != MSGRAPH_COND_SENT);
		}
		if (kind == MSGRAPH_COND_LOCAL || kind == MSGRAPH_COND_SENT)
		{
			split->local = lappend(split->local, ri);
			split->all_exact = false;
		}
	}
	if (split->lookup != NULL && split->never)
	{
		split->local = lappend(split->local, split->lookup);
		split->lookup = NULL;
	}
	if (split->lookup != NULL)
		split->all_exact = false;
	split->consts_only = (env.collect == NIL);
}

/*
 * Estimate the relation's size, decide what of its restrictions can be
 * sent and note which columns the query needs (they decide $select).
 */
static void
msgraphGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	ForeignTable *table = GetForeignTable(foreigntableid);
	ForeignServer *server = GetForeignServer(table->serverid);
	MsgraphRelInfo *info = palloc0(sizeof(MsgraphRelInfo));
	Relation	rel;
	ClauseSplit split;
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
	page_size = msgraph_page_size(server, table);
	if (info->res)
	{
		if (!info->res->allows_top)
			page_size = 0;
		else if (page_size == 0 || page_size > info->res->top_max)
			page_size = info->res->top_max;
	}
	info->page_size = page_size;

	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid, &info->attrs_used);
	foreach(lc, baserel->baserestrictinfo)
		pull_varattnos((Node *) lfirst_node(RestrictInfo, lc)->clause, baserel->relid,
					   &info->attrs_used);

	split_clauses(info, baserel->relid, baserel->baserestrictinfo, true, &split);
	info->all_exact = split.all_exact;
	info->never = split.never;
	info->consts_only = split.consts_only;
	info->lookup = (split.lookup != NULL);
	if (info->lookup)
	{
		Node	   *value = split.lookup_value;

		info->lookup_ids = 1;
		if (split.lookup_array && IsA(value, Const))
			info->lookup_ids = ArrayGetNItems(ARR_NDIM(DatumGetArrayTypeP(((Const *) value)->constvalue)),
											  ARR_DIMS(DatumGetArrayTypeP(((Const *) value)->constvalue)));
		else if (split.lookup_array)
			info->lookup_ids = 10;
	}

	info->remote_sel = 1.0;
	foreach(lc, split.remote)
		info->remote_sel *= condition_selectivity(lfirst(lc), info->meta, baserel->relid);
	sel = info->remote_sel *
		clauselist_selectivity(root, list_difference_ptr(split.local, split.remote),
							   0, JOIN_INNER, NULL);

	/*
	 * With use_remote_estimate, ask Graph how many entities the conditions
	 * that can be sent select ($count), where the endpoint counts and the
	 * conditions hold only constants.
	 */
	if (msgraph_use_remote_estimate(server, table) && info->res &&
		info->res->allows_count && info->consts_only && !info->lookup && !info->never)
	{
		RangeTblEntry *rte = planner_rt_fetch(baserel->relid, root);
		double		count = remote_count(server, rte->checkAsUser ? rte->checkAsUser : GetUserId(),
										 info, baserel->relid, split.remote);

		/* rows = count * (local selectivity) = tuples * sel */
		if (count >= 0)
			info->tuples = Max(count, 1) / Max(info->remote_sel, 1e-6);
	}
	baserel->tuples = info->tuples;
	if (info->never)
		baserel->rows = 1;		/* the least the planner accepts */
	else if (info->lookup)
		baserel->rows = Min(info->lookup_ids, clamp_row_est(info->tuples * sel));
	else
		baserel->rows = clamp_row_est(info->tuples * sel);
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
	MsgraphRequestStats stats;
	MsgraphJsonNames names;
	MsgraphPager pager;
	double		count;
	char	   *url;

	msgraph_get_conn_options(server, msgraph_get_user_mapping(userid, server->serverid), &opts);
	memset(&env, 0, sizeof(env));
	env.meta = info->meta;
	env.relid = relid;
	env.mode = info->mode;
	memset(&spec, 0, sizeof(spec));
	spec.path = info->path;
	spec.select = "id";
	spec.filter = msgraph_deparse_filter(extract_actual_clauses(remote, false), &env, NULL);
	spec.top = 1;
	spec.count = true;
	url = msgraph_build_url(&opts, &spec, false, false, 0);

	memset(&stats, 0, sizeof(stats));
	msgraph_get(&opts, url, &resp, &stats);
	if (resp.status != 200)
		return -1;				/* planning goes on with the catalog's guess */
	memset(&pager, 0, sizeof(pager));
	pager.opts = &opts;
	pager.stats = &stats;
	pager.names = &names;
	pager.ts_slot = msgraph_columns_names(NULL, 0, NULL, &names);
	pager.cxt = CurrentMemoryContext;
	if (!msgraph_page_count(msgraph_page_read(&pager, url, &resp, NULL), &count))
		return -1;
	return count;
}

/*
 * The cost of a path: one round trip per request, conversion per entity
 * sent, and the usual per-row cost of what is returned.
 */
static void
path_cost(MsgraphRelInfo *info, double fetched, double requests, double rows,
		  Cost *startup, Cost *total)
{
	*startup = requests > 0 ? MSGRAPH_REQUEST_COST : 0;
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
	 * LIMIT n as a $top hint when the scan alone feeds the limit and every
	 * condition is sent exactly (else Graph's first rows may all fail a
	 * local condition, and pages of n would crawl through the tenant):
	 * paging still goes on until the executor stops asking, so this only
	 * saves bytes.
	 */
	if (root->limit_tuples > 0 && info->all_exact && !info->lookup &&
		bms_membership(root->all_baserels) == BMS_SINGLETON &&
		!root->parse->hasAggs && root->parse->groupClause == NIL &&
		root->parse->distinctClause == NIL && !root->parse->hasWindowFuncs &&
		root->parse->setOperations == NULL && !root->hasPseudoConstantQuals &&
		(root->query_pathkeys == NIL ||
		 orderby_for_pathkeys(root, baserel, info, root->query_pathkeys) != NULL))
	{
		if (top == 0 || root->limit_tuples < top)
			top = (int) Max(1, root->limit_tuples);
	}

	add_paths_for(root, baserel, info, NULL, false, baserel->rows, NIL, NULL,
				  root->query_pathkeys == NIL ? top : info->page_size);

	orderby = orderby_for_pathkeys(root, baserel, info, root->query_pathkeys);
	if (orderby && !info->lookup && !info->never)
		add_paths_for(root, baserel, info, NULL, false, baserel->rows,
					  root->query_pathkeys, orderby, top);

	if (!info->lookup && !info->never)
		add_parameterized_paths(root, baserel, info);
}

/*
 * Add a path: unparameterized, or parameterized by required_outer, which
 * sends one request per outer row (by_id: a get by id, else a filtered
 * list request).
 */
static void
add_paths_for(PlannerInfo *root, RelOptInfo *baserel, MsgraphRelInfo *info,
			  Relids required_outer, bool by_id, double rows,
			  List *pathkeys, const char *orderby, int top)
{
	double		per_page = info->page_size > 0 ? info->page_size : 100;
	double		fetched;
	double		requests;
	Cost		startup;
	Cost		total;
	List	   *priv;

	if (info->never && required_outer == NULL)
	{
		fetched = 0;
		requests = 0;
	}
	else if (info->lookup && required_outer == NULL)
	{
		fetched = info->lookup_ids;
		requests = info->lookup_ids;
	}
	else if (required_outer != NULL)
	{
		fetched = Max(rows, 1);
		requests = by_id ? 1 : Max(1.0, ceil(fetched / per_page));
	}
	else
	{
		fetched = clamp_row_est(info->tuples * info->remote_sel);
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
 * Parameterized paths for joins, for every join clause the planner can use
 * with this table on the inner side of a nested loop, in inner, left, semi
 * and anti joins alike (an outer join's ON clause is in joininfo; an inner
 * join's "t.col = x" is an equivalence class): "t.id = outer value" is a
 * get by id per outer row, any other clause that can be sent ("t.col =
 * outer value", "outer value = ANY(t.evidence column)") the filter of one
 * request per outer row.  Each costs a request, against the pages of a
 * full scan: the planner picks them when the outer side is small.
 */
static void
add_parameterized_paths(PlannerInfo *root, RelOptInfo *baserel, MsgraphRelInfo *info)
{
	MsgraphDeparseEnv env;
	List	   *clauses = list_copy(baserel->joininfo);
	ListCell   *lc;

	memset(&env, 0, sizeof(env));
	env.meta = info->meta;
	env.relid = baserel->relid;
	env.mode = info->mode;

	if (baserel->has_eclass_joins)
	{
		int			i;

		for (i = 0; i < info->meta->natts; i++)
		{
			MsgraphColumnMeta *col = &info->meta->cols[i];
			Var		   *var;

			if (col->property == NULL || col->derived != NULL)
				continue;
			var = makeVar(baserel->relid, i + 1, col->typid, -1, InvalidOid, 0);
			clauses = list_concat(clauses,
								  generate_implied_equalities_for_column(root, baserel,
																		 ec_member_matches_var,
																		 (void *) var,
																		 baserel->lateral_referencers));
		}
	}

	foreach(lc, clauses)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		Relids		outer;
		Node	   *value;
		bool		is_array;
		bool		by_id;
		ParamPathInfo *ppi;
		double		rows;

		if (!join_clause_is_movable_to(ri, baserel))
			continue;
		outer = bms_difference(ri->clause_relids, baserel->relids);
		if (bms_is_empty(outer))
			continue;
		by_id = msgraph_id_lookup_value((Node *) ri->clause, &env, &value, &is_array);
		if (!by_id &&
			msgraph_classify_condition((Node *) ri->clause, &env) == MSGRAPH_COND_LOCAL)
			continue;
		ppi = get_baserel_parampathinfo(root, baserel, outer);
		/* a get by id returns one entity; a filter per outer row few */
		rows = by_id && !is_array ? 1.0
			: Max(1.0, Min(ppi->ppi_rows, info->tuples * 0.001));
		add_paths_for(root, baserel, info, outer, by_id && !is_array, rows, NIL, NULL,
					  info->page_size);
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
 * of one table whose every condition is sent exactly, with constants or
 * values known at scan start, on an endpoint that allows $count.
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
		in->lookup || in->mode != MSGRAPH_FILTER_FULL || root->hasPseudoConstantQuals)
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
															1, in->never ? 0 : MSGRAPH_REQUEST_COST,
															(in->never ? 0 : MSGRAPH_REQUEST_COST) + cpu_tuple_cost,
															NIL, NULL, NIL));
}

/* The plan state as fdw_private, in the order of FdwScanPrivateIndex. */
static List *
scan_plan_to_list(const MsgraphScanPlan *plan)
{
	List	   *l = NIL;

	l = lappend(l, makeString(pstrdup(plan->path)));
	l = lappend(l, makeString(pstrdup(plan->select ? plan->select : "")));
	l = lappend(l, makeString(pstrdup(plan->snapshot_property ? plan->snapshot_property : "")));
	l = lappend(l, makeString(pstrdup(plan->orderby ? plan->orderby : "")));
	l = lappend(l, makeString(pstrdup(plan->expand ? plan->expand : "")));
	l = lappend(l, makeInteger(plan->top));
	l = lappend(l, makeInteger(plan->page_size));
	l = lappend(l, plan->retrieved_attrs);
	l = lappend(l, plan->exact);
	l = lappend(l, makeInteger(plan->lookup));
	l = lappend(l, makeInteger(plan->count));
	l = lappend(l, makeInteger(plan->count_relid));
	l = lappend(l, plan->count_conds);
	l = lappend(l, makeInteger(plan->streams));
	l = lappend(l, makeInteger(plan->prefetch));
	return l;
}

static char *
nullable_string(Node *n)
{
	char	   *s = strVal(n);

	return (s[0] == '\0') ? NULL : s;
}

/* The plan state back from fdw_private. */
static void
scan_plan_from_list(List *l, MsgraphScanPlan *plan)
{
	plan->path = strVal(list_nth(l, FdwScanPrivatePath));
	plan->select = nullable_string(list_nth(l, FdwScanPrivateSelect));
	plan->snapshot_property = nullable_string(list_nth(l, FdwScanPrivateSnapshotProp));
	plan->orderby = nullable_string(list_nth(l, FdwScanPrivateOrderBy));
	plan->expand = nullable_string(list_nth(l, FdwScanPrivateExpand));
	plan->top = intVal(list_nth(l, FdwScanPrivateTop));
	plan->page_size = intVal(list_nth(l, FdwScanPrivatePageSize));
	plan->retrieved_attrs = (List *) list_nth(l, FdwScanPrivateRetrievedAttrs);
	plan->exact = (List *) list_nth(l, FdwScanPrivateExact);
	plan->lookup = intVal(list_nth(l, FdwScanPrivateLookup));
	plan->count = intVal(list_nth(l, FdwScanPrivateCount)) != 0;
	plan->count_relid = intVal(list_nth(l, FdwScanPrivateCountRelid));
	plan->count_conds = (List *) list_nth(l, FdwScanPrivateCountConds);
	plan->streams = intVal(list_nth(l, FdwScanPrivateStreams));
	plan->prefetch = intVal(list_nth(l, FdwScanPrivatePrefetch)) != 0;
}

/*
 * The run-time values of conditions, in the order the deparser meets them
 * (with nothing known yet, as at scan start).
 */
static List *
condition_values(MsgraphTableMeta *meta, Index relid, List *conds)
{
	MsgraphDeparseEnv env;
	ListCell   *lc;

	memset(&env, 0, sizeof(env));
	env.meta = meta;
	env.relid = relid;
	env.mode = MSGRAPH_FILTER_FULL;
	env.collecting = true;
	foreach(lc, conds)
		(void) msgraph_classify_condition((Node *) lfirst(lc), &env);
	return env.collect;
}

/*
 * The plan of count(*) by $count: the conditions (all sent exactly)
 * travel in fdw_private, since an upper relation's fdw_exprs may only
 * reference its output, and their run-time values in fdw_exprs.
 */
static ForeignScan *
count_plan(PlannerInfo *root, MsgraphRelInfo *info, List *tlist, Plan *outer_plan)
{
	MsgraphScanPlan plan;
	List	   *scan_tlist = add_to_flat_tlist(NIL, root->upper_targets[UPPERREL_GROUP_AGG]->exprs);
	int			i;

	memset(&plan, 0, sizeof(plan));
	plan.path = info->path;
	plan.select = "id";
	plan.top = 1;
	plan.page_size = 1;
	plan.count = true;
	plan.count_relid = info->input_relid;
	plan.count_conds = info->input_conds;
	plan.streams = 1;
	for (i = 0; i < list_length(info->input_conds); i++)
		plan.exact = lappend_int(plan.exact, 1);
	return make_foreignscan(tlist, NIL, 0,
							condition_values(info->meta, info->input_relid, info->input_conds),
							scan_plan_to_list(&plan), scan_tlist, NIL, outer_plan);
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
	MsgraphScanPlan plan;
	ClauseSplit split;
	RangeTblEntry *rte;
	Relation	rel;
	Bitmapset  *attrs_used;
	MsgraphColumn *cols;
	int			ncols;
	bool		need_raw;
	const char *expand;
	StringInfoData select;
	List	   *fdw_exprs;
	List	   *local;
	ForeignServer *server;
	ListCell   *lc;

	if (info->count)
		return count_plan(root, info, tlist, outer_plan);

	memset(&plan, 0, sizeof(plan));
	split_clauses(info, baserel->relid, scan_clauses, true, &split);
	local = extract_actual_clauses(split.local, false);
	fdw_exprs = extract_actual_clauses(split.remote, false);
	plan.exact = split.remote_exact;

	/* a get by id sends no filter: every other condition is local */
	if (split.lookup != NULL)
	{
		foreach(lc, fdw_exprs)
			local = list_append_unique_ptr(local, lfirst(lc));
		local = lappend(local, split.lookup->clause);
		fdw_exprs = list_make1(split.lookup_value);
		plan.exact = NIL;
		plan.lookup = split.lookup_array ? 2 : 1;
	}

	/* the columns the local quals read must be fetched too */
	rte = planner_rt_fetch(baserel->relid, root);
	rel = table_open(rte->relid, NoLock);
	attrs_used = bms_copy(info->attrs_used);
	pull_varattnos((Node *) local, baserel->relid, &attrs_used);
	plan.retrieved_attrs = retrieved_attrs_of(rel, attrs_used);
	cols = msgraph_build_columns(rel, info->res, plan.retrieved_attrs, &ncols);
	initStringInfo(&select);
	msgraph_columns_needed(info->res, cols, ncols, &need_raw, &select, &expand);
	table_close(rel, NoLock);

	plan.path = info->path;
	if (!need_raw && !(info->res && !info->res->allows_select))
		plan.select = select.data;
	if (info->res && info->res->snapshot_property && !plan.lookup)
		plan.snapshot_property = (char *) info->res->snapshot_property;
	plan.expand = (char *) expand;
	plan.orderby = nullable_string(list_nth(best_path->fdw_private, FdwPathPrivateOrderBy));
	plan.top = intVal(list_nth(best_path->fdw_private, FdwPathPrivateTop));
	plan.page_size = info->page_size;

	/*
	 * Parallel time windows: for list scans pinned by the snapshot bound,
	 * neither ordered by Graph nor cut short by a LIMIT hint.
	 */
	server = GetForeignServer(GetForeignTable(rte->relid)->serverid);
	plan.streams = msgraph_server_streams(server);
	if (plan.lookup || plan.snapshot_property == NULL || !info->res->allows_orderby ||
		plan.orderby != NULL || plan.top < info->page_size ||
		best_path->path.param_info != NULL)
		plan.streams = 1;

	/*
	 * A list scan that reads to its end fetches the next page while the
	 * rows of the current one are returned.  Not under a LIMIT, nor inside
	 * a nested loop (a semi or anti join stops at its first row): there the
	 * executor will likely stop early, and a page fetched ahead in vain
	 * would cost a request of Graph's throttle budget.
	 */
	plan.prefetch = !plan.lookup && plan.top >= info->page_size &&
		root->limit_tuples < 0 && root->parse->limitCount == NULL &&
		best_path->path.param_info == NULL;

	return make_foreignscan(tlist, local, baserel->relid,
							fdw_exprs, scan_plan_to_list(&plan), NIL, NIL, outer_plan);
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

static void
msgraphBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	MsgraphScanState *st = palloc0(sizeof(MsgraphScanState));
	MsgraphScanPlan plan;
	RangeTblEntry *rte;
	Oid			userid;
	ForeignTable *table;
	ForeignServer *server;
	UserMapping *user;
	MemoryContextCallback *cb;
	ListCell   *lc;

	node->fdw_state = st;
	scan_plan_from_list(fsplan->fdw_private, &plan);
	st->count = plan.count;
	st->scan_cxt = CurrentMemoryContext;
	if (st->count)
	{
		/* an upper relation: the table is the one the conditions name */
		st->relid = plan.count_relid;
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
		: msgraph_get_user_mapping(userid, server->serverid);
	msgraph_get_conn_options(server, user, &st->opts);

	st->spec.path = plan.path;
	st->spec.select = plan.select;
	st->spec.snapshot_property = plan.snapshot_property;
	st->spec.snapshot = (plan.snapshot_property != NULL);
	st->spec.top = plan.top;
	st->spec.expand = plan.expand;
	st->spec.orderby = plan.orderby;
	st->planned_top = plan.top;
	st->page_size = plan.page_size;
	st->cond.exact = plan.exact;
	st->lookup.kind = plan.lookup;
	st->paging.nstreams = plan.streams;
	st->paging.prefetch = plan.prefetch;
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
	if (st->lookup.kind)
	{
		st->lookup.value = palloc0(sizeof(MsgraphRuntimeValue));
		st->lookup.value->expr = linitial(fsplan->fdw_exprs);
		st->lookup.value->state = ExecInitExpr((Expr *) st->lookup.value->expr,
											   (PlanState *) node);
	}
	else
	{
		List	   *found;
		ListCell   *lc2;
		int			i = 0;

		st->cond.list = st->count ? plan.count_conds : fsplan->fdw_exprs;
		forboth(lc, st->cond.list, lc2, st->cond.exact)
		{
			/* count(*) has no scan tuple to evaluate conditions on */
			st->cond.states = lappend(st->cond.states,
									  lfirst_int(lc2) && !st->count
									  ? ExecInitQual(list_make1(lfirst(lc)), (PlanState *) node)
									  : NULL);
		}

		/*
		 * The values, as the deparser will look them up (by node).  For
		 * count(*), the executor's copies are fdw_exprs, in the same order.
		 */
		found = condition_values(st->meta, st->relid, st->cond.list);
		if (st->count && list_length(found) != list_length(fsplan->fdw_exprs))
			elog(ERROR, "msgraph_security_fdw: %d run-time values planned, %d found",
				 list_length(fsplan->fdw_exprs), list_length(found));
		foreach(lc, found)
		{
			MsgraphRuntimeValue *rv = palloc0(sizeof(MsgraphRuntimeValue));

			rv->expr = (Node *) lfirst(lc);
			rv->state = ExecInitExpr(st->count ? (Expr *) list_nth(fsplan->fdw_exprs, i)
									 : (Expr *) rv->expr,
									 (PlanState *) node);
			st->cond.values = lappend(st->cond.values, rv);
			i++;
		}
	}

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	st->cols = msgraph_build_columns(st->rel, st->res, plan.retrieved_attrs, &st->ncols);
	st->paging.pager.opts = &st->opts;
	st->paging.pager.res = st->res;
	st->paging.pager.stats = &st->stats;
	st->paging.pager.names = &st->paging.names;
	st->paging.pager.cxt = st->scan_cxt;
	st->paging.pager.ts_slot = msgraph_columns_names(st->cols, st->ncols,
										st->paging.nstreams > 1 ? st->spec.snapshot_property : NULL,
										&st->paging.names);
	st->page.cxt = AllocSetContextCreate(estate->es_query_cxt,
										 "msgraph_security_fdw page",
										 ALLOCSET_DEFAULT_SIZES);

	/* json-c memory is not palloc'd: free it when the query's memory goes */
	cb = MemoryContextAlloc(estate->es_query_cxt, sizeof(MemoryContextCallback));
	cb->func = scan_page_cleanup;
	cb->arg = st;
	MemoryContextRegisterResetCallback(estate->es_query_cxt, cb);

	initStringInfo(&st->paging.cur_url);
	initStringInfo(&st->paging.next_url);
	st->snapshot = GetCurrentTimestamp();
}

/*
 * Render the pushed conditions as one $filter in the given mode (NULL for
 * none).  Exact conditions that are not sent exactly are listed in
 * *not_exact (their local evaluators), for the executor to check each row
 * against; *never is set when the conditions select no row.  With notify,
 * literals that can never match are NOTICEd.
 */
static char *
render_filter(MsgraphScanState *st, MsgraphFilterMode mode, bool display, bool notify,
			  List **not_exact, bool *never)
{
	MsgraphDeparseEnv env;
	MsgraphCondKind *kinds = palloc(sizeof(MsgraphCondKind) * (list_length(st->cond.list) + 1));
	char	   *filter;
	ListCell   *lc;
	ListCell   *lc2;
	int			i = 0;

	memset(&env, 0, sizeof(env));
	env.meta = st->meta;
	env.relid = st->relid;
	env.mode = mode;
	env.notify = notify;
	/* EXPLAIN shows what is known at plan time: run-time values as "?" */
	env.values = display ? NIL : st->cond.values;

	filter = msgraph_deparse_filter(st->cond.list, &env, kinds);
	if (not_exact)
		*not_exact = NIL;
	*never = false;
	forboth(lc, st->cond.exact, lc2, st->cond.states)
	{
		*never |= (kinds[i] == MSGRAPH_COND_NEVER);
		if (lfirst_int(lc) && kinds[i] != MSGRAPH_COND_EXACT && not_exact)
			*not_exact = lappend(*not_exact, lfirst(lc2));
		i++;
	}
	pfree(kinds);
	return filter;
}

/*
 * The filter of the scan in its current mode, with what follows from it:
 * the conditions to recheck, whether any request is needed at all, and
 * the $top: a LIMIT hint holds only while every condition is sent exactly
 * (else full pages, or a local condition would make Graph page n rows at
 * a time through the whole tenant).
 */
static void
set_scan_filter(MsgraphScanState *st, bool notify)
{
	st->spec.filter = render_filter(st, st->mode, false, notify, &st->cond.recheck, &st->cond.never);
	st->spec.top = st->planned_top;
	if (st->cond.recheck != NIL || st->mode != MSGRAPH_FILTER_FULL)
		st->spec.top = Max(st->planned_top, st->page_size);
}

/* Evaluate the run-time values of the pushed conditions, in the scan's memory. */
static void
evaluate_values(ForeignScanState *node, MsgraphScanState *st)
{
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	MemoryContext oldcxt = MemoryContextSwitchTo(st->scan_cxt);
	ListCell   *lc;
	List	   *all = list_copy(st->cond.values);

	if (st->lookup.value)
		all = lappend(all, st->lookup.value);
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
	if (st->lookup.kind)
	{
		MsgraphRuntimeValue *rv = st->lookup.value;

		/*
		 * An id that cannot be a path segment ("", ".", "..") names no
		 * entity: it is dropped here, so no request is sent for it.
		 */
		st->lookup.ids = NIL;
		st->lookup.next = 0;
		if (!rv->isnull && st->lookup.kind == 1)
		{
			char	   *id = TextDatumGetCString(rv->value);

			if (msgraph_path_segment_valid(id))
				st->lookup.ids = list_make1(id);
		}
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
				if (!msgraph_path_segment_valid(id))
					continue;
				foreach(lc, st->lookup.ids)
					dup |= (strcmp((char *) lfirst(lc), id) == 0);
				if (!dup)
					st->lookup.ids = lappend(st->lookup.ids, id);
			}
		}
	}
	else
	{
		set_scan_filter(st, true);
		st->paging.first_url = msgraph_build_url(&st->opts, &st->spec, false, true, st->snapshot);
		if (st->paging.nstreams > 1 && !st->cond.never)
			(void) msgraph_windows_start(&st->paging.pager, &st->spec, st->snapshot,
										 st->paging.nstreams);
	}
	MemoryContextSwitchTo(oldcxt);
}

/* Memory context callback: the query is over, normally or not. */
static void
scan_page_cleanup(void *arg)
{
	MsgraphScanState *st = (MsgraphScanState *) arg;

	/* the contexts below the query's are gone */
	msgraph_windows_end(&st->paging.pager, false);
	scan_free_page(st);
}

static void
scan_free_page(MsgraphScanState *st)
{
	if (st->page.dom != NULL)
	{
		json_object_put(st->page.dom);
		st->page.dom = NULL;
	}
	st->page.index = NULL;			/* memory of the page's context */
	st->page.skip = NULL;
	st->page.items = NULL;
	st->page.nitems = 0;
	st->page.next = 0;
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
	if (st->cond.never)
	{
		/* the conditions select no row: there is nothing to ask Graph */
		st->started = true;
		return ExecClearTuple(slot);
	}

	for (;;)
	{
		ListCell   *lc;
		bool		ok = true;

		ExecClearTuple(slot);
		while ((st->page.dom == NULL && st->page.index == NULL) || st->page.next >= st->page.nitems)
		{
			if (!(st->lookup.kind ? fetch_next_lookup(st)
				  : st->paging.pager.windows ? fetch_next_window_page(st)
				  : fetch_next_page(st)))
				return slot;
		}

		/* keep the other windows' transfers moving between rows */
		msgraph_windows_progress(&st->paging.pager);
		memset(slot->tts_isnull, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);
		if (st->page.index)
		{
			size_t		n = st->page.next++;

			if (st->page.skip != NULL && st->page.skip[n])
				continue;		/* a windowed scan returned it already */
			if (st->page.index->text[st->page.index->items[n].off] != '{')
				item_not_object(st, n);
			msgraph_convert_page_item(st->rel, st->cols, st->ncols, st->page.index, &st->paging.names,
									  n, slot->tts_values, slot->tts_isnull);
		}
		else
		{
			struct json_object *entity = json_object_array_get_idx(st->page.items,
																   st->page.next++);

			if (entity == NULL || !json_object_is_type(entity, json_type_object))
				item_not_object(st, st->page.next - 1);
			if (st->paging.expand_fallback)
				attach_navigation(st, entity);
			msgraph_convert_entity(st->rel, st->cols, st->ncols, entity,
								   slot->tts_values, slot->tts_isnull);
		}
		ExecStoreVirtualTuple(slot);

		/* exact conditions that could not be sent exactly this time */
		econtext->ecxt_scantuple = slot;
		foreach(lc, st->cond.recheck)
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

/*
 * Fetch the next page (the first one on the first call).  Returns false
 * when there is none; a page with zero items but a nextLink is followed.
 * A 400 on the first page of a filtered scan narrows the filter (the
 * fallback of the README's "What is sent to Graph") and tries again.
 */
static bool
fetch_next_page(MsgraphScanState *st)
{
	MsgraphHttpResponse resp;
	MemoryContext oldcxt;
	const char *url;
	bool		first;

	if (st->started && !st->paging.have_next)
		return false;
	first = !st->started;

	resetStringInfo(&st->paging.cur_url);
	appendStringInfoString(&st->paging.cur_url, first ? st->paging.first_url : st->paging.next_url.data);
	url = st->paging.cur_url.data;
	st->started = true;
	st->paging.have_next = false;

	scan_free_page(st);
	MemoryContextReset(st->page.cxt);
	oldcxt = MemoryContextSwitchTo(st->page.cxt);

	msgraph_get(&st->opts, url, &resp, &st->stats);
	while (resp.status == 400 && first && st->spec.filter != NULL &&
		   st->mode != MSGRAPH_FILTER_NONE)
	{
		MsgraphFilterMode narrower = (st->mode == MSGRAPH_FILTER_FULL)
			? MSGRAPH_FILTER_BASIC : MSGRAPH_FILTER_NONE;
		char	   *before = st->spec.filter;
		MemoryContext cxt = MemoryContextSwitchTo(st->scan_cxt);

		st->mode = narrower;
		remember_fallback(st->opts.serverid, st->spec.path, narrower);
		set_scan_filter(st, false);
		st->fallback = psprintf("Graph rejected $filter=%s; narrowed to %s",
								before, st->spec.filter ? st->spec.filter : "no $filter");
		st->paging.first_url = msgraph_build_url(&st->opts, &st->spec, false, true, st->snapshot);
		MemoryContextSwitchTo(cxt);
		ereport(DEBUG1,
				(errmsg_internal("msgraph_security_fdw: %s", st->fallback)));

		resetStringInfo(&st->paging.cur_url);
		appendStringInfoString(&st->paging.cur_url, st->paging.first_url);
		url = st->paging.cur_url.data;
		msgraph_get(&st->opts, url, &resp, &st->stats);
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

			st->paging.expand_fallback = d;
			st->spec.expand = NULL;
			st->paging.first_url = msgraph_build_url(&st->opts, &st->spec, false, true, st->snapshot);
			st->fallback = psprintf("Graph failed on $expand=%s (HTTP %ld); fetched by %s per entity",
									d->source, resp.status, d->fallback_path_format);
			MemoryContextSwitchTo(cxt);
			resetStringInfo(&st->paging.cur_url);
			appendStringInfoString(&st->paging.cur_url, st->paging.first_url);
			url = st->paging.cur_url.data;
			msgraph_get(&st->opts, url, &resp, &st->stats);
		}
	}
	if (resp.status != 200)
		msgraph_report_graph_error(&st->opts, read_permission(st->res), url, &resp, NULL, NULL);
	parse_page(st, url, &resp);
	msgraph_count_page(&st->stats);

	msgraph_page_check_empty_run(&st->paging.empty_run, st->page.nitems, st->paging.have_next, url);

	MemoryContextSwitchTo(oldcxt);
	if (st->paging.prefetch && st->paging.have_next && st->paging.nstreams <= 1 &&
		st->paging.expand_fallback == NULL)
	{
		msgraph_windows_page_ahead(&st->paging.pager, st->paging.next_url.data,
								   st->paging.empty_run);
		st->paging.have_next = false;
	}
	return true;
}

/* The application permission a read of res needs (NULL: not known). */
static const char *
read_permission(const GraphResource *res)
{
	return res ? res->read_permission : NULL;
}

/*
 * The next page of a scan paging ahead or in windows (paging.c), made the
 * current one; false when there is none.
 */
static bool
fetch_next_window_page(MsgraphScanState *st)
{
	MsgraphJsonPage *page;

	scan_free_page(st);
	MemoryContextReset(st->page.cxt);	/* the first page, before paging ahead */
	page = msgraph_windows_next_page(&st->paging.pager, &st->page.skip);
	if (page == NULL)
		return false;
	st->page.index = page;
	st->page.nitems = page->nitems;
	st->page.next = 0;
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
	const GraphDerived *d = st->paging.expand_fallback;
	const char *id = msgraph_json_get_string(entity, "id");
	struct json_object *array;
	StringInfoData url;
	StringInfoData next;
	int			pages = 0;
	int			empty_run = 0;

	if (id == NULL)
		return;
	/* the id becomes a path segment: one that cannot be is a bad answer */
	if (!msgraph_path_segment_valid(id))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Graph sent an entity whose id cannot be a path segment"),
				 errdetail("An entity of %s has the id \"%s\"; its %s would have been fetched by that id.",
						   st->spec.path, id, d->source)));
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

		msgraph_get(&st->opts, url.data, &resp, &st->stats);
		if (resp.status != 200)
			msgraph_report_graph_error(&st->opts, read_permission(st->res), url.data, &resp,
									   NULL, NULL);
		doc = msgraph_parse_body("GET", url.data, &resp);
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
		msgraph_count_page(&st->stats);
		link = msgraph_json_get(doc, "@odata.nextLink");
		resetStringInfo(&next);
		if (link != NULL && json_object_is_type(link, json_type_string))
			appendStringInfoString(&next, json_object_get_string(link));
		json_object_object_del(entity, "@msgraph.page");
		if (next.len == 0)
			break;
		msgraph_page_check_link(&st->paging.pager, next.data);
		msgraph_page_check_empty_run(&empty_run, json_object_array_length(value), true,
									 url.data);
		if (++pages > MSGRAPH_MAX_NAVIGATION_PAGES)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("the %s of one entity span more than %d pages",
							d->source, MSGRAPH_MAX_NAVIGATION_PAGES),
					 errdetail("Entity %s, request: GET %s", id, url.data)));
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
	while (st->lookup.next < list_length(st->lookup.ids))
	{
		MsgraphHttpResponse resp;
		char	   *url;

		scan_free_page(st);
		MemoryContextReset(st->page.cxt);
		oldcxt = MemoryContextSwitchTo(st->page.cxt);
		st->spec.id = (char *) list_nth(st->lookup.ids, st->lookup.next++);
		url = msgraph_build_url(&st->opts, &st->spec, false, false, 0);
		msgraph_get(&st->opts, url, &resp, &st->stats);
		if (resp.status == 404)
		{
			MemoryContextSwitchTo(oldcxt);
			continue;
		}
		if (resp.status != 200)
			msgraph_report_graph_error(&st->opts, read_permission(st->res), url, &resp, NULL, NULL);
		st->page.index = msgraph_entity_read(&st->paging.pager, "GET", url, &resp);
		st->page.nitems = 1;
		st->page.next = 0;
		msgraph_count_page(&st->stats);
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
	MsgraphJsonPage *page;
	double		count = 0;
	int			i;

	st->started = true;
	if (!st->cond.never)
	{
		oldcxt = MemoryContextSwitchTo(st->page.cxt);
		msgraph_get(&st->opts, st->paging.first_url, &resp, &st->stats);
		if (resp.status != 200)
			msgraph_report_graph_error(&st->opts, read_permission(st->res),
									   st->paging.first_url, &resp, NULL, NULL);
		page = msgraph_page_read(&st->paging.pager, st->paging.first_url, &resp, NULL);
		msgraph_count_page(&st->stats);
		if (!msgraph_page_count(page, &count) || count > (double) PG_INT64_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("Graph answered a $count request without a valid @odata.count"),
					 errdetail("Request: GET %s", st->paging.first_url)));
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(st->page.cxt);
	}
	/* (when the conditions select no row: zero, without asking Graph) */
	for (i = 0; i < slot->tts_tupleDescriptor->natts; i++)
	{
		slot->tts_values[i] = Int64GetDatum((int64) count);
		slot->tts_isnull[i] = false;
	}
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

	if (st->paging.expand_fallback == NULL)
	{
		st->page.index = msgraph_page_read(&st->paging.pager, url, resp, NULL);
		st->page.nitems = st->page.index->nitems;
		st->page.next = 0;
		st->paging.have_next = msgraph_page_next_link(&st->paging.pager, st->page.index, url,
													  &st->paging.next_url);
		return;
	}

	doc = msgraph_parse_body("GET", url, resp);
	st->page.dom = doc;
	value = msgraph_json_get(doc, "value");
	if (value == NULL || !json_object_is_type(value, json_type_array))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Graph sent a page without a \"value\" array"),
				 errdetail("Request: GET %s", url)));
	st->page.items = value;
	st->page.nitems = json_object_array_length(value);
	st->page.next = 0;

	link = msgraph_json_get(doc, "@odata.nextLink");
	if (link == NULL || json_object_is_type(link, json_type_null))
		st->paging.have_next = false;
	else if (!json_object_is_type(link, json_type_string))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Graph sent an @odata.nextLink that is not a string"),
				 errdetail("Request: GET %s", url)));
	else
	{
		msgraph_page_check_link(&st->paging.pager, json_object_get_string(link));
		resetStringInfo(&st->paging.next_url);
		appendStringInfoString(&st->paging.next_url, json_object_get_string(link));
		st->paging.have_next = true;
	}
}

static void
msgraphReScanForeignScan(ForeignScanState *node)
{
	MsgraphScanState *st = (MsgraphScanState *) node->fdw_state;

	msgraph_windows_end(&st->paging.pager, true);
	scan_free_page(st);
	st->begun = false;
	st->started = false;
	st->paging.have_next = false;
	st->paging.pager.nseen = 0;
	st->paging.empty_run = 0;
	st->spec.id = NULL;
	st->count_done = false;
}

static void
msgraphEndForeignScan(ForeignScanState *node)
{
	MsgraphScanState *st = (MsgraphScanState *) node->fdw_state;

	if (st)
	{
		msgraph_windows_end(&st->paging.pager, true);
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
		bool		never = st->cond.never;
		char	   *url;
		char	   *none = NULL;	/* why no request goes out, if none does */

		if (st->lookup.kind)
		{
			Node	   *v = st->lookup.value->expr;

			/* ids that cannot be path segments are never sent (scan_start) */
			spec.id = "?";
			if (resolved && list_length(st->lookup.ids) > 0)
				spec.id = (char *) linitial(st->lookup.ids);
			else if (IsA(v, Const) && !((Const *) v)->constisnull && st->lookup.kind == 1)
			{
				spec.id = TextDatumGetCString(((Const *) v)->constvalue);
				if (!msgraph_path_segment_valid(spec.id))
					none = psprintf("none (the id \"%s\" cannot be a path segment)", spec.id);
			}
			else if (IsA(v, Const) && !((Const *) v)->constisnull)
			{
				Datum	   *elems;
				bool	   *nulls;
				int			n;
				int			i;
				bool		refused = false;

				deconstruct_array(DatumGetArrayTypeP(((Const *) v)->constvalue),
								  TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
				/* the first id that is sent */
				for (i = 0; i < n; i++)
				{
					char	   *id;

					if (nulls[i])
						continue;
					id = TextDatumGetCString(elems[i]);
					if (msgraph_path_segment_valid(id))
					{
						spec.id = id;
						break;
					}
					refused = true;
				}
				if (i == n && refused)
					none = "none (no id of the list can be a path segment)";
			}
		}
		if (!st->lookup.kind && !resolved)
			spec.filter = render_filter(st, st->mode, true, !es->analyze, NULL, &never);
		if (never)
			ExplainPropertyText("Graph Request", "none (the conditions select no row)", es);
		else if (none != NULL)
			ExplainPropertyText("Graph Request", none, es);
		else
		{
			url = msgraph_build_url(&st->opts, &spec, true, resolved, st->snapshot);
			ExplainPropertyText("Graph Request", psprintf("GET %s", url), es);
		}
	}
	if (es->analyze)
	{
		int			streams;
		int			windows;

		ExplainPropertyInteger("Graph Requests", NULL, st->stats.requests, es);
		ExplainPropertyInteger("Graph Pages", NULL, st->stats.pages, es);
		ExplainPropertyInteger("Graph Bytes", NULL, st->stats.bytes, es);
		ExplainPropertyInteger("Graph Retries", NULL, st->stats.retries, es);
		ExplainPropertyInteger("Graph Throttled ms", NULL, st->stats.throttled_ms, es);
		if (msgraph_windows_counts(&st->paging.pager, &streams, &windows))
		{
			ExplainPropertyInteger("Graph Streams", NULL, streams, es);
			ExplainPropertyInteger("Graph Windows", NULL, windows, es);
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
	values[5] = Int64GetDatum(msgraph_tokens_fetched);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}
