/*-------------------------------------------------------------------------
 *
 * msgraph_fdw.c
 *		  Foreign-data wrapper for the Microsoft Graph Security API: the
 *		  handler, planner and executor callbacks of a scan, and EXPLAIN.
 *
 * A scan sends one list request and follows @odata.nextLink page by page
 * until a page has none.  Only the current page is held (as a json-c DOM,
 * freed when the next page arrives, when the scan ends, and by a memory
 * context callback when an ERROR or cancel ends the query early), so the
 * memory a scan needs is bounded by one page whatever the number of rows.
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
#include "access/table.h"
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
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "parser/parsetree.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "msgraph_fdw.h"
#include "msgraph_json.h"

PG_MODULE_MAGIC;

/* Planner cost of one request (a round trip) and of converting one row. */
#define MSGRAPH_REQUEST_COST	1000.0
#define MSGRAPH_ROW_COST		(cpu_tuple_cost * 10)
/* row estimate for a resource the catalog does not know */
#define MSGRAPH_DEFAULT_ROWS	1000.0
/* JSON nesting a page may have; evidence objects nest about 7 deep */
#define MSGRAPH_JSON_MAX_DEPTH	64

/* Planner state of a foreign table, in baserel->fdw_private. */
typedef struct MsgraphRelInfo
{
	char	   *path;
	const GraphResource *res;	/* NULL for a resource the catalog lacks */
	Bitmapset  *attrs_used;
	int			page_size;		/* $top to send, 0 for none */
	double		tuples;			/* estimated entities of the resource */
} MsgraphRelInfo;

/* Slots of a ForeignScan's fdw_private list. */
enum MsgraphScanPrivate
{
	FdwScanPrivatePath,			/* String */
	FdwScanPrivateSelect,		/* String, "" for none */
	FdwScanPrivateFilter,		/* String, "" for none */
	FdwScanPrivateSnapshotProp, /* String, "" for none */
	FdwScanPrivateTop,			/* Integer */
	FdwScanPrivateExpand,		/* String, "" for none */
	FdwScanPrivateRetrievedAttrs	/* List of Integer attnums */
};

/* Executor state of a scan. */
typedef struct MsgraphScanState
{
	Relation	rel;
	const GraphResource *res;
	MsgraphConnOptions opts;
	MsgraphRequestSpec spec;

	MsgraphColumn *cols;
	int			ncols;

	TimestampTz snapshot;		/* scan start, for the snapshot bound */
	char	   *first_url;		/* encoded, as sent */
	bool		started;		/* the first request has been sent */
	bool		have_next;		/* next_url holds the link to follow */
	StringInfoData cur_url;		/* the request being made */
	StringInfoData next_url;	/* the last page's @odata.nextLink */

	MemoryContext page_cxt;		/* the current page's body and links */
	struct json_object *page;	/* json-c DOM of the current page */
	struct json_object *items;	/* its "value" array */
	size_t		nitems;
	size_t		next_item;

	uint64	   *seen_links;		/* hashes of followed links, to catch loops */
	int			nseen;
	int			maxseen;

	MsgraphRequestStats stats;
} MsgraphScanState;

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

static List *retrieved_attrs_of(Relation rel, Bitmapset *attrs_used);
static void scan_free_page(MsgraphScanState *st);
static void scan_page_cleanup(void *arg);
static bool fetch_next_page(MsgraphScanState *st);
static void parse_page(MsgraphScanState *st, const char *url, MsgraphHttpResponse *resp);
static void check_next_link(MsgraphScanState *st, const char *link);
static void scan_error_callback(void *arg);
static char *nullable_string(Node *n);


void
_PG_init(void)
{
	msgraph_auth_init();
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

	PG_RETURN_POINTER(routine);
}

/*
 * Estimate the relation's size from the catalog and note which columns
 * the query needs (they decide $select).
 */
static void
msgraphGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	ForeignTable *table = GetForeignTable(foreigntableid);
	ForeignServer *server = GetForeignServer(table->serverid);
	MsgraphRelInfo *info = palloc0(sizeof(MsgraphRelInfo));
	ListCell   *lc;
	int			page_size;
	double		sel;

	info->path = msgraph_table_resource(table);
	info->res = graph_catalog_find_path(info->path);
	info->tuples = info->res ? info->res->typical_rows : MSGRAPH_DEFAULT_ROWS;

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
	foreach(lc, baserel->baserestrictinfo)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);

		pull_varattnos((Node *) ri->clause, baserel->relid, &info->attrs_used);
	}

	sel = clauselist_selectivity(root, baserel->baserestrictinfo, 0, JOIN_INNER, NULL);
	baserel->tuples = info->tuples;
	baserel->rows = clamp_row_est(info->tuples * sel);
	baserel->fdw_private = info;
}

/* One path: the full list scan, costed per request and per row. */
static void
msgraphGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	MsgraphRelInfo *info = (MsgraphRelInfo *) baserel->fdw_private;
	double		per_page = info->page_size > 0 ? info->page_size : 100;
	double		pages = Max(1.0, ceil(info->tuples / per_page));
	Cost		startup_cost = MSGRAPH_REQUEST_COST;
	Cost		total_cost;

	total_cost = startup_cost + (pages - 1) * MSGRAPH_REQUEST_COST +
		info->tuples * MSGRAPH_ROW_COST + baserel->rows * cpu_tuple_cost;

	add_path(baserel, (Path *) create_foreignscan_path(root, baserel, NULL,
													   baserel->rows,
													   startup_cost, total_cost,
													   NIL, NULL, NULL, NIL));
}

/*
 * Decide the first request of the scan and keep it in fdw_private.  Every
 * condition stays a local qual.
 */
static ForeignScan *
msgraphGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
					  ForeignPath *best_path, List *tlist, List *scan_clauses,
					  Plan *outer_plan)
{
	MsgraphRelInfo *info = (MsgraphRelInfo *) baserel->fdw_private;
	RangeTblEntry *rte = planner_rt_fetch(baserel->relid, root);
	Relation	rel = table_open(rte->relid, NoLock);
	List	   *retrieved_attrs = retrieved_attrs_of(rel, info->attrs_used);
	MsgraphColumn *cols;
	int			ncols;
	bool		need_raw;
	bool		need_expand;
	StringInfoData select;
	List	   *fdw_private;
	const char *snapshot_prop = "";

	cols = msgraph_build_columns(rel, info->res, retrieved_attrs, &ncols);
	initStringInfo(&select);
	msgraph_columns_needed(info->res, cols, ncols, &need_raw, &select, &need_expand);
	table_close(rel, NoLock);

	if (need_raw || (info->res && !info->res->allows_select))
		resetStringInfo(&select);
	if (info->res && info->res->snapshot_property)
		snapshot_prop = info->res->snapshot_property;

	fdw_private = list_make5(makeString(info->path),
							 makeString(select.data),
							 makeString(""),
							 makeString(pstrdup(snapshot_prop)),
							 makeInteger(info->page_size));
	fdw_private = lappend(fdw_private, makeString(need_expand ? "alerts" : ""));
	fdw_private = lappend(fdw_private, retrieved_attrs);

	scan_clauses = extract_actual_clauses(scan_clauses, false);

	return make_foreignscan(tlist, scan_clauses, baserel->relid,
							NIL, fdw_private, NIL, NIL, outer_plan);
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

	node->fdw_state = st;
	st->rel = node->ss.ss_currentRelation;

	rte = exec_rt_fetch(fsplan->scan.scanrelid, estate);
	userid = rte->checkAsUser ? rte->checkAsUser : GetUserId();
	table = GetForeignTable(RelationGetRelid(st->rel));
	server = GetForeignServer(table->serverid);
	user = GetUserMapping(userid, server->serverid);
	msgraph_get_conn_options(server, user, &st->opts);

	st->spec.path = strVal(list_nth(priv, FdwScanPrivatePath));
	st->spec.select = nullable_string(list_nth(priv, FdwScanPrivateSelect));
	st->spec.filter = nullable_string(list_nth(priv, FdwScanPrivateFilter));
	st->spec.snapshot_property = nullable_string(list_nth(priv, FdwScanPrivateSnapshotProp));
	st->spec.snapshot = (st->spec.snapshot_property != NULL);
	st->spec.top = intVal(list_nth(priv, FdwScanPrivateTop));
	st->spec.expand = nullable_string(list_nth(priv, FdwScanPrivateExpand));
	st->res = graph_catalog_find_path(st->spec.path);

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	st->cols = msgraph_build_columns(st->rel, st->res,
									 (List *) list_nth(priv, FdwScanPrivateRetrievedAttrs),
									 &st->ncols);
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
	st->first_url = msgraph_build_url(&st->opts, &st->spec, false, true, st->snapshot);
}

/* Memory context callback: the query is over, normally or not. */
static void
scan_page_cleanup(void *arg)
{
	scan_free_page((MsgraphScanState *) arg);
}

static void
scan_free_page(MsgraphScanState *st)
{
	if (st->page != NULL)
	{
		json_object_put(st->page);
		st->page = NULL;
	}
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

static TupleTableSlot *
msgraphIterateForeignScan(ForeignScanState *node)
{
	MsgraphScanState *st = (MsgraphScanState *) node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	struct json_object *entity;

	ExecClearTuple(slot);

	while (st->page == NULL || st->next_item >= st->nitems)
	{
		if (!fetch_next_page(st))
			return slot;
	}

	entity = json_object_array_get_idx(st->items, st->next_item++);
	if (entity == NULL || !json_object_is_type(entity, json_type_object))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Graph sent an item that is not a JSON object"),
				 errdetail("Item %zu of a page of foreign table \"%s\".",
						   st->next_item - 1, RelationGetRelationName(st->rel))));

	memset(slot->tts_isnull, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);
	msgraph_convert_entity(st->rel, st->cols, st->ncols, entity,
						   slot->tts_values, slot->tts_isnull);
	ExecStoreVirtualTuple(slot);
	return slot;
}

/*
 * Fetch the next page (the first one on the first call).  Returns false
 * when there is none; a page with zero items but a nextLink is followed.
 */
static bool
fetch_next_page(MsgraphScanState *st)
{
	ErrorContextCallback errcb;
	MsgraphHttpResponse resp;
	MemoryContext oldcxt;
	const char *url;

	if (st->started && !st->have_next)
		return false;

	resetStringInfo(&st->cur_url);
	appendStringInfoString(&st->cur_url, st->started ? st->next_url.data : st->first_url);
	url = st->cur_url.data;
	st->started = true;
	st->have_next = false;

	errcb.callback = scan_error_callback;
	errcb.arg = st;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	scan_free_page(st);
	MemoryContextReset(st->page_cxt);
	oldcxt = MemoryContextSwitchTo(st->page_cxt);

	msgraph_graph_get(&st->opts, url, &resp, &st->stats);
	if (resp.status != 200)
		msgraph_report_graph_error(&st->opts, st->res, url, &resp);
	parse_page(st, url, &resp);
	st->stats.pages++;
	msgraph_backend_stats.pages++;

	MemoryContextSwitchTo(oldcxt);
	error_context_stack = errcb.previous;
	return true;
}

/*
 * Parse a page body (strict JSON, valid UTF-8, bounded nesting), keep its
 * DOM and remember its nextLink after checking it.
 */
static void
parse_page(MsgraphScanState *st, const char *url, MsgraphHttpResponse *resp)
{
	struct json_tokener *tok;
	struct json_object *doc;
	struct json_object *value;
	struct json_object *link;
	enum json_tokener_error jerr;
	size_t		consumed;

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
				 errmsg("Graph sent a page that is not valid JSON"),
				 errdetail("%s at byte %zu of %d; request: GET %s",
						   doc == NULL || jerr != json_tokener_success
						   ? json_tokener_error_desc(jerr) : "trailing data",
						   consumed, resp->body.len, url)));
	}
	/* the DOM is all we need from the body */
	pfree(resp->body.data);
	resp->body.data = NULL;

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
		MemoryContext cxt = GetMemoryChunkContext(st);

		st->maxseen = Max(16, st->maxseen * 2);
		st->seen_links = st->seen_links
			? repalloc(st->seen_links, sizeof(uint64) * st->maxseen)
			: MemoryContextAlloc(cxt, sizeof(uint64) * st->maxseen);
	}
	st->seen_links[st->nseen++] = h;
}

static void
msgraphReScanForeignScan(ForeignScanState *node)
{
	MsgraphScanState *st = (MsgraphScanState *) node->fdw_state;

	scan_free_page(st);
	st->started = false;
	st->have_next = false;
	st->nseen = 0;
}

static void
msgraphEndForeignScan(ForeignScanState *node)
{
	MsgraphScanState *st = (MsgraphScanState *) node->fdw_state;

	if (st)
		scan_free_page(st);
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
		char	   *url = msgraph_build_url(&st->opts, &st->spec, true,
											resolved, st->snapshot);

		ExplainPropertyText("Graph Request", psprintf("GET %s", url), es);
	}
	if (es->analyze)
	{
		ExplainPropertyInteger("Graph Requests", NULL, st->stats.requests, es);
		ExplainPropertyInteger("Graph Pages", NULL, st->stats.pages, es);
		ExplainPropertyInteger("Graph Bytes", NULL, st->stats.bytes, es);
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
