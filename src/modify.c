/*-------------------------------------------------------------------------
 *
 * modify.c
 *		  UPDATE of foreign tables over the Graph resources that take a
 *		  PATCH (alerts and incidents), and the plumbing every write to
 *		  Graph shares (functions.c's POSTs use it too).
 *
 * Graph has no transactions.  Every PATCH that Graph accepted stays done
 * whatever happens to the statement or the transaction afterwards, so the
 * rules below are built to fail before anything is sent wherever that can
 * be known in advance, and to say what was done when it cannot:
 *
 * - One PATCH per target row, carrying only the SET columns' properties,
 *   and only properties the catalog marks updatable (those Graph documents
 *   for its update requests).  A row that an UPDATE ... FROM joins to
 *   several rows arrives once per match; it is sent once, with the values
 *   of the first, as PostgreSQL updates a row once.  A SET of any other
 *   column, an INSERT or a DELETE is refused at plan time, with the
 *   reason, before any request; so is a constant that is not a member of
 *   an enum property (values computed per row are checked as each body is
 *   built).
 * - The id is one path segment (http.c): a row whose id cannot be one
 *   ("", ".", "..") names no entity and is not sent.
 * - msgraph_security_fdw.max_update_rows: the rows are found first.
 *   BeginForeignModify runs the UPDATE's subplan to the end once,
 *   counting the target rows and checking every row's new values as its
 *   PATCH body, and rescans it; only then does the executor start the real pass.  Past the
 *   cap, or on a value Graph's schema cannot take, the ERROR comes before
 *   any PATCH.  The price is a second scan of the resource (the cap -1
 *   turns the check and the first pass off); the real pass still counts,
 *   in case Graph's data changed between the two.
 * - msgraph_security_fdw.dry_run: each PATCH body becomes a NOTICE, nothing
 *   is sent and no row is reported changed.
 * - Every PATCH or POST sent is logged at LOG level: role, server, method,
 *   resource path with the id, and the property names (never values).
 * - A Graph failure mid-statement is an ERROR whose message says how many
 *   rows Graph had already changed.
 *
 * "WHERE id = c" (nothing else) is a direct modify: one PATCH to
 * resource/{c}, no GET first, and a 404 updates 0 rows.  Everything else
 * runs as a scan feeding ExecForeignUpdate, with the row identity "id"
 * added as a junk column.  RETURNING is computed from the entity Graph
 * sends back, converted like a scanned row.
 *
 * JSON bodies are built with json-c.  Every json-c object is tied to a
 * memory context (msgraph_json_own), so an ERROR, which resets or deletes
 * the context, frees it too.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "commands/explain.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "executor/nodeSubplan.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/appendinfo.h"
#include "optimizer/clauses.h"
#include "optimizer/inherit.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "parser/parsetree.h"
#include "utils/array.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "jsoncheck.h"
#include "msgraph_fdw.h"
#include "msgraph_json.h"

static struct json_object *datum_to_json(Datum value, Oid type, const char *what);

/* Settings (registered in _PG_init). */
int			msgraph_max_update_rows = 100;
bool		msgraph_dry_run = false;

/* the member Graph sends for members a client has not opted into */
#define ENUM_SENTINEL "unknownFutureValue"

/* JSON nesting a Graph answer may have (as the scan allows) */

/* Slots of the fdw_private list PlanForeignModify makes. */
enum MsgraphModifyPrivate
{
	FdwModifyPrivateReturning	/* Integer: 1 when RETURNING is used */
};

/* Slots of a direct-modify ForeignScan's fdw_private. */
enum MsgraphDirectPrivate
{
	FdwDirectPrivateAttrs,		/* IntList: SET columns, in fdw_exprs order */
	FdwDirectPrivateReturning,	/* Integer: 1 when RETURNING is used */
	FdwDirectPrivateSetProcessed	/* Integer: canSetTag */
};

/*
 * State of an UPDATE of one foreign table, shared by the row-by-row and
 * the direct paths.
 */
typedef struct MsgraphModifyState
{
	Relation	rel;
	const GraphResource *res;
	char	   *path;			/* resource path under the version */
	MsgraphConnOptions opts;

	/* the SET columns (in the plan's update-column order), their properties */
	int			nattrs;
	AttrNumber *attnums;
	const GraphProperty **props;
	Oid		   *types;

	/* where the subplan puts the row's id (row-by-row path) */
	AttrNumber	id_junk;
	Oid			id_type;

	/* converting Graph's answer for RETURNING and AFTER triggers */
	MsgraphColumn *cols;
	int			ncols;
	MsgraphJsonNames names;		/* the members the answer is indexed for */
	MsgraphPager reader;		/* reads the answer as a scan reads entities */
	bool		has_returning;

	/* the settings as the statement began */
	int			max_rows;
	bool		dry_run;

	/*
	 * The ids of the rows handed on so far in this pass: a row that an
	 * UPDATE ... FROM joins to several rows arrives once per match, and is
	 * sent once, for the first (as PostgreSQL updates a row once).
	 */
	HTAB	   *seen_ids;
	MemoryContext ids_cxt;		/* holds seen_ids and its strings */

	int64		rows_seen;		/* rows handed to Graph (or to the dry run) */
	int64		rows_changed;	/* PATCHes Graph accepted */
	const char *cur_id;			/* the row being sent, for messages */

	MemoryContext temp_cxt;		/* per row: bodies, answers, json-c DOMs */
	MsgraphRequestStats stats;

	/* direct modify only */
	ExprState  *id_state;
	List	   *value_states;	/* ExprState per SET column */
	bool		set_processed;
	bool		done;
} MsgraphModifyState;

/* What became of one PATCH. */
typedef enum PatchOutcome
{
	PATCH_CHANGED,				/* Graph accepted it; *entity may be NULL (204) */
	PATCH_NOT_FOUND,			/* 404: no such entity */
	PATCH_DRY_RUN				/* shown as a NOTICE, not sent */
} PatchOutcome;

static void check_update_target(PlannerInfo *root, CmdType operation, Relation rel,
								Index resultRelation);
static const char *resource_path_of(Relation rel);
static AttrNumber id_column(Relation rel);
static char *updatable_list(const GraphResource *res);
static MsgraphModifyState *modify_state_create(Relation rel, Oid userid, List *attnums,
											   bool has_returning, EState *estate,
											   bool explain_only);
static void count_rows_first(ModifyTableState *mtstate, ResultRelInfo *rinfo,
							 MsgraphModifyState *st, List *colnos);
static struct json_object *patch_body(MsgraphModifyState *st, Datum *values, bool *nulls);
static PatchOutcome patch_entity(MsgraphModifyState *st, const char *id,
								 struct json_object *body, MsgraphJsonPage **entity);
static void store_entity(MsgraphModifyState *st, TupleTableSlot *slot,
						 MsgraphJsonPage *entity);
static char *datum_id(Datum value, Oid type);
static void seen_ids_reset(MsgraphModifyState *st);
static bool seen_ids_add(MsgraphModifyState *st, const char *id);
static void check_enum_value(const char *relname, const GraphProperty *prop,
							 const char *attname, Datum value, Oid type,
							 const char *what_was_sent);
static int	enum_member_hint(const GraphEnum *e, const char *value);
static void check_set_constants(PlannerInfo *root, Relation rel, Index resultRelation,
								const GraphResource *res);
static void modify_error_callback(void *arg);
static ForeignScan *find_modifytable_subplan(PlannerInfo *root, ModifyTable *plan,
											 Index rtindex, int subplan_index);
static char *patch_url(MsgraphModifyState *st, const char *id, bool encode);
static void json_free_callback(void *arg);


/* ----------------------------------------------------------------
 * Shared plumbing of writes (also used by functions.c)
 * ----------------------------------------------------------------
 */

static void
json_free_callback(void *arg)
{
	json_object_put((struct json_object *) arg);
}

/*
 * Tie a json-c object to a memory context: it is freed when the context is
 * reset or deleted, on ERROR too.  Returns obj; NULL stays NULL.  The
 * object must not be given to another one (json_object_object_add takes
 * ownership) or freed by hand afterwards.
 */
struct json_object *
msgraph_json_own(MemoryContext cxt, struct json_object *obj)
{
	MemoryContextCallback *cb;

	if (obj == NULL)
		return NULL;
	PG_TRY();
	{
		cb = MemoryContextAlloc(cxt, sizeof(MemoryContextCallback));
	}
	PG_CATCH();
	{
		json_object_put(obj);
		PG_RE_THROW();
	}
	PG_END_TRY();
	cb->func = json_free_callback;
	cb->arg = obj;
	MemoryContextRegisterResetCallback(cxt, cb);
	return obj;
}

/* A json-c string of a server-encoded C string (Graph speaks UTF-8). */
struct json_object *
msgraph_json_string(const char *s)
{
	size_t		len = strlen(s);
	char	   *utf8 = pg_server_to_any(s, (int) len, PG_UTF8);
	struct json_object *v = json_object_new_string_len(utf8, (int) strlen(utf8));

	if (v == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	return v;
}

/* The compact text of a JSON value, palloc'd. */
char *
msgraph_json_text(struct json_object *obj)
{
	return pstrdup(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
												  JSON_C_TO_STRING_NOSLASHESCAPE));
}

/*
 * Log one write request at LOG level: who, where, what (property names,
 * never values).  `target` is the path under the version, id included.
 */
void
msgraph_log_write(MsgraphConnOptions *opts, const char *method, const char *target,
				  const char *properties)
{
	ereport(LOG,
			(errmsg("msgraph_security_fdw: role \"%s\" sends %s %s on server \"%s\" (properties: %s)",
					GetUserNameFromId(GetUserId(), false), method, target,
					opts->servername, properties),
			 errhidestmt(true),
			 errhidecontext(true)));
}

/* ----------------------------------------------------------------
 * Planning
 * ----------------------------------------------------------------
 */

/* The resource option of the foreign table. */
static const char *
resource_path_of(Relation rel)
{
	return msgraph_table_resource(GetForeignTable(RelationGetRelid(rel)));
}

/* The column holding Graph's "id" (InvalidAttrNumber if none). */
static AttrNumber
id_column(Relation rel)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	int			i;

	for (i = 1; i <= tupdesc->natts; i++)
	{
		if (TupleDescAttr(tupdesc, i - 1)->attisdropped)
			continue;
		if (strcmp(msgraph_column_property(rel, i), "id") == 0)
			return i;
	}
	return InvalidAttrNumber;
}

/* "assignedTo, classification, ..." of a resource's updatable properties. */
static char *
updatable_list(const GraphResource *res)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < res->nproperties; i++)
	{
		if (res->properties[i].updatable)
			appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "",
							 res->properties[i].name);
	}
	return buf.data;
}

/*
 * The SQL functions that send a resource's actions, for a HINT
 * ("msgraph_dismiss_risky_users() or msgraph_confirm_compromised()"), or
 * NULL when it has none.
 */
static char *
action_functions(const GraphResource *res)
{
	StringInfoData buf;
	int			i;

	if (res == NULL || res->nactions == 0)
		return NULL;
	initStringInfo(&buf);
	for (i = 0; i < res->nactions; i++)
		appendStringInfo(&buf, "%s%s()", i == 0 ? "" : i == res->nactions - 1 ? " or " : ", ",
						 res->actions[i].sql_function);
	return buf.data;
}

/*
 * Refuse, before anything is sent, what Graph cannot do: INSERT, DELETE,
 * an UPDATE of a resource without PATCH, or a SET of a column whose
 * property Graph does not let one change.  Also refuse a table without an
 * id column (UPDATE addresses entities by id) and two SET columns on the
 * same property.
 */
static void
check_update_target(PlannerInfo *root, CmdType operation, Relation rel,
					Index resultRelation)
{
	const char *path = resource_path_of(rel);
	const GraphResource *res = graph_catalog_find_path(path);
	const char *relname = RelationGetRelationName(rel);
	char	   *actions = action_functions(res);
	bool		triage = res && updatable_list(res)[0] != '\0';
	Bitmapset  *cols;
	List	   *seen = NIL;
	int			col;

	if (operation == CMD_INSERT)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot insert into foreign table \"%s\"", relname),
				 errdetail("Graph has no request that creates entities of %s.", path),
				 triage ? errhint("Microsoft Defender raises alerts and incidents itself; add to one with msgraph_add_comment().") : 0));
	if (operation == CMD_DELETE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot delete from foreign table \"%s\"", relname),
				 errdetail("Graph has no request that deletes entities of %s.", path),
				 triage ? errhint("Close them instead, for example with UPDATE ... SET status = 'resolved'.")
				 : actions ? errhint("Use %s() to %s.", res->actions[0].sql_function,
									  res->actions[0].purpose) : 0));
	if (operation != CMD_UPDATE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("foreign table \"%s\" supports UPDATE only", relname)));

	if (res == NULL || !triage)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot update foreign table \"%s\"", relname),
				 res == NULL
				 ? errdetail("The resource %s is not in the extension's catalog, which knows what Graph lets one update.", path)
				 : errdetail("Graph has no update of %s.", path),
				 actions ? errhint("Use %s to change %s.", actions, res->actions_change) : 0));

	if (id_column(rel) == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot update foreign table \"%s\": it has no column for Graph's \"id\"", relname),
				 errdetail("UPDATE sends one PATCH per row to %s/{id}.", path),
				 errhint("Add a column for the property \"id\" to the foreign table.")));

	cols = get_rel_all_updated_cols(root, find_base_rel(root, resultRelation));
	col = -1;
	while ((col = bms_next_member(cols, col)) >= 0)
	{
		AttrNumber	attnum = col + FirstLowInvalidHeapAttributeNumber;
		const char *attname;
		char	   *property;
		const GraphProperty *prop;
		ListCell   *lc;

		if (attnum <= InvalidAttrNumber)
			elog(ERROR, "system-column update is not supported");
		attname = NameStr(TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attname);
		property = msgraph_column_property(rel, attnum);
		prop = graph_catalog_find_property(res, property);
		if (prop == NULL || !prop->updatable)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot update column \"%s\" of foreign table \"%s\"", attname, relname),
					 strcmp(property, "$") == 0
					 ? errdetail("The column holds the whole entity as Graph sent it; Graph lets a PATCH of %s change only %s.",
								 path, updatable_list(res))
					 : errdetail("Graph lets a PATCH of %s change only %s, not \"%s\".",
								 path, updatable_list(res), property)));
		foreach(lc, seen)
		{
			if (strcmp((char *) lfirst(lc), property) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("two columns of foreign table \"%s\" set the Graph property \"%s\"",
								relname, property)));
		}
		seen = lappend(seen, property);
	}
	check_set_constants(root, rel, resultRelation, res);
}

/* The name of an enum type without its namespace: "alertStatus". */
static const char *
enum_short_name(const GraphEnum *e)
{
	const char *dot = strrchr(e->name, '.');

	return dot ? dot + 1 : e->name;
}

/*
 * The HINT of a value that is not a member of e: the member it differs
 * from only in letter case, if there is one, else the list of members
 * one can set.
 */
static int
enum_member_hint(const GraphEnum *e, const char *value)
{
	const char *const *m;
	StringInfoData buf;

	for (m = e->members; *m != NULL; m++)
	{
		if (strcmp(*m, ENUM_SENTINEL) != 0 && pg_strcasecmp(*m, value) == 0)
			return errhint("Graph spells members exactly: did you mean \"%s\"?", *m);
	}
	initStringInfo(&buf);
	for (m = e->members; *m != NULL; m++)
	{
		if (strcmp(*m, ENUM_SENTINEL) != 0)
			appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "", *m);
	}
	return errhint("The members of %s are %s.", enum_short_name(e), buf.data);
}

/*
 * Refuse, before it is sent, a value of an enum property that is not one
 * of its members.  Graph would answer 400, perhaps after the PATCHes of
 * other rows had gone; and members are spelt exactly, so 'Resolved' is
 * no more a status than 'closed'.  The sentinel unknownFutureValue stands
 * for members a client has not asked to see; it is no value to set.
 * `what_was_sent` ends the DETAIL.
 */
static void
check_enum_value(const char *relname, const GraphProperty *prop, const char *attname,
				 Datum value, Oid type, const char *what_was_sent)
{
	Oid			outfunc;
	bool		isvarlena;
	char	   *text;

	getTypeOutputInfo(type, &outfunc, &isvarlena);
	text = OidOutputFunctionCall(outfunc, value);
	if (strcmp(text, ENUM_SENTINEL) != 0 &&
		graph_enum_has_member(prop->enumtype, text))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("\"%s\" is not a member of %s", text, enum_short_name(prop->enumtype)),
			 errdetail("Column \"%s\" of foreign table \"%s\" sets Graph's %s, which takes only members of %s; %s.",
					   attname, relname, prop->name, prop->enumtype->name, what_was_sent),
			 enum_member_hint(prop->enumtype, text)));
}

/*
 * Check the SET values that are constants at plan time, so that a value
 * Graph cannot take is refused even when no row matches, and before
 * anything is sent (values computed per row are checked as each row's
 * PATCH body is built, all of them before the first PATCH unless
 * max_update_rows is -1).
 */
static void
check_set_constants(PlannerInfo *root, Relation rel, Index resultRelation,
					const GraphResource *res)
{
	List	   *tlist = NIL;
	List	   *attrs = NIL;
	ListCell   *lc;
	ListCell   *lc2;

	get_translated_update_targetlist(root, resultRelation, &tlist, &attrs);
	forboth(lc, tlist, lc2, attrs)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		AttrNumber	attnum = lfirst_int(lc2);
		Const	   *c = (Const *) tle->expr;
		const GraphProperty *prop;

		if (!IsA(c, Const) || c->constisnull)
			continue;
		prop = graph_catalog_find_property(res, msgraph_column_property(rel, attnum));
		if (prop != NULL && prop->type == GRAPH_ENUM)
			check_enum_value(RelationGetRelationName(rel), prop,
							 NameStr(TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attname),
							 c->constvalue, c->consttype, "nothing was sent to Graph");
	}
}

/*
 * The row identity is the entity's id: UPDATE addresses each row by
 * PATCH resource/{id}.  Nothing is added for a table without an id
 * column; planning then refuses the UPDATE with the reason.
 */
void
msgraphAddForeignUpdateTargets(PlannerInfo *root, Index rtindex,
							   RangeTblEntry *target_rte, Relation target_relation)
{
	AttrNumber	attnum = id_column(target_relation);
	Form_pg_attribute attr;
	Var		   *var;

	if (attnum == InvalidAttrNumber)
		return;
	attr = TupleDescAttr(RelationGetDescr(target_relation), attnum - 1);
	var = makeVar(rtindex, attnum, attr->atttypid, attr->atttypmod, attr->attcollation, 0);
	add_row_identity_var(root, var, rtindex, "msgraph_id");
}

List *
msgraphPlanForeignModify(PlannerInfo *root, ModifyTable *plan, Index resultRelation,
						 int subplan_index)
{
	RangeTblEntry *rte = planner_rt_fetch(resultRelation, root);
	Relation	rel = table_open(rte->relid, NoLock);
	List	   *result;

	check_update_target(root, plan->operation, rel, resultRelation);
	result = list_make1(makeInteger(plan->returningLists != NIL));
	table_close(rel, NoLock);
	return result;
}

/* UPDATE, where the catalog says the resource takes a PATCH. */
int
msgraphIsForeignRelUpdatable(Relation rel)
{
	const GraphResource *res = graph_catalog_find_path(resource_path_of(rel));

	if (res != NULL && updatable_list(res)[0] != '\0')
		return (1 << CMD_UPDATE);
	return 0;
}

/*
 * The ForeignScan under the ModifyTable that scans the result relation:
 * its direct child, or a child of an Append there (inheritance).
 */
static ForeignScan *
find_modifytable_subplan(PlannerInfo *root, ModifyTable *plan, Index rtindex,
						 int subplan_index)
{
	Plan	   *subplan = outerPlan(plan);

	if (IsA(subplan, Append))
	{
		Append	   *append = (Append *) subplan;

		if (subplan_index < list_length(append->appendplans))
			subplan = (Plan *) list_nth(append->appendplans, subplan_index);
	}
	if (IsA(subplan, ForeignScan) &&
		bms_is_member(rtindex, ((ForeignScan *) subplan)->fs_relids))
		return (ForeignScan *) subplan;
	return NULL;
}

/*
 * "UPDATE t SET c = <values> WHERE id = <value>" and nothing else: one
 * PATCH to resource/{value}, without the GET by id the scan would send.
 * Also the first place where INSERT, DELETE and non-updatable columns are
 * refused.  The SET values must not read the row (there is no old row
 * here); anything else stays on the row-by-row path.
 */
bool
msgraphPlanDirectModify(PlannerInfo *root, ModifyTable *plan, Index resultRelation,
						int subplan_index)
{
	RangeTblEntry *rte = planner_rt_fetch(resultRelation, root);
	Relation	rel;
	ForeignScan *fscan;
	MsgraphDeparseEnv env;
	Node	   *id_value;
	bool		is_array;
	List	   *processed_tlist = NIL;
	List	   *target_attrs = NIL;
	List	   *values = NIL;
	ListCell   *lc;
	ListCell   *lc2;
	bool		ok = false;

	rel = table_open(rte->relid, NoLock);
	check_update_target(root, plan->operation, rel, resultRelation);

	fscan = find_modifytable_subplan(root, plan, resultRelation, subplan_index);
	if (fscan == NULL || fscan->scan.scanrelid != resultRelation ||
		list_length(fscan->scan.plan.qual) != 1)
		goto done;

	/* the one condition left is the lookup by id the scan would have done */
	memset(&env, 0, sizeof(env));
	env.meta = msgraph_table_meta(rel, graph_catalog_find_path(resource_path_of(rel)));
	env.relid = resultRelation;
	if (!msgraph_id_lookup_value(linitial(fscan->scan.plan.qual), &env, &id_value, &is_array) ||
		is_array || contain_var_clause(id_value))
		goto done;

	/* the SET values are the first entries, one per update column */
	get_translated_update_targetlist(root, resultRelation, &processed_tlist, &target_attrs);
	forboth(lc, processed_tlist, lc2, target_attrs)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (contain_var_clause((Node *) tle->expr) || contain_subplans((Node *) tle->expr))
			goto done;
		values = lappend(values, tle->expr);
	}

	fscan->operation = CMD_UPDATE;
	fscan->resultRelation = resultRelation;
	fscan->scan.plan.qual = NIL;
	fscan->scan.plan.async_capable = false;
	fscan->fdw_exprs = lcons(id_value, values);
	fscan->fdw_private = list_make3(target_attrs,
									makeInteger(plan->returningLists != NIL),
									makeInteger(plan->canSetTag));
	ok = true;

done:
	table_close(rel, NoLock);
	return ok;
}


/* ----------------------------------------------------------------
 * Execution
 * ----------------------------------------------------------------
 */

/*
 * The state of an UPDATE: connection options for the user, the SET
 * columns (attnums, in the plan's update-column order) and their
 * properties, and the column descriptions for converting Graph's answer.
 */
static MsgraphModifyState *
modify_state_create(Relation rel, Oid userid, List *attnums, bool has_returning,
					EState *estate, bool explain_only)
{
	MsgraphModifyState *st = palloc0(sizeof(MsgraphModifyState));
	ForeignTable *table = GetForeignTable(RelationGetRelid(rel));
	ForeignServer *server = GetForeignServer(table->serverid);
	ListCell   *lc;
	int			i;

	st->rel = rel;
	st->path = msgraph_table_resource(table);
	st->res = graph_catalog_find_path(st->path);
	/* plain EXPLAIN needs no credentials: it sends nothing */
	msgraph_get_conn_options(server,
							 explain_only ? NULL : msgraph_get_user_mapping(userid, server->serverid),
							 &st->opts);
	st->has_returning = has_returning;
	st->max_rows = msgraph_max_update_rows;
	st->dry_run = msgraph_dry_run;

	st->nattrs = list_length(attnums);
	st->attnums = palloc0(sizeof(AttrNumber) * Max(1, st->nattrs));
	st->props = palloc0(sizeof(GraphProperty *) * Max(1, st->nattrs));
	st->types = palloc0(sizeof(Oid) * Max(1, st->nattrs));
	i = 0;
	foreach(lc, attnums)
	{
		AttrNumber	attnum = lfirst_int(lc);

		st->attnums[i] = attnum;
		/* planning checked that it is an updatable catalog property */
		st->props[i] = graph_catalog_find_property(st->res, msgraph_column_property(rel, attnum));
		if (st->props[i] == NULL)
			elog(ERROR, "column %d of foreign table \"%s\" is not updatable",
				 attnum, RelationGetRelationName(rel));
		st->types[i] = TupleDescAttr(RelationGetDescr(rel), attnum - 1)->atttypid;
		i++;
	}

	if (!explain_only)
	{
		TupleDesc	tupdesc = RelationGetDescr(rel);
		List	   *all = NIL;

		for (i = 1; i <= tupdesc->natts; i++)
		{
			if (!TupleDescAttr(tupdesc, i - 1)->attisdropped)
				all = lappend_int(all, i);
		}
		st->cols = msgraph_build_columns(rel, st->res, all, &st->ncols);
		st->reader.opts = &st->opts;
		st->reader.res = st->res;
		st->reader.stats = &st->stats;
		st->reader.names = &st->names;
		st->reader.ts_slot = msgraph_columns_names(st->cols, st->ncols, NULL, &st->names);
		st->reader.cxt = CurrentMemoryContext;
		st->temp_cxt = AllocSetContextCreate(estate->es_query_cxt,
											 "msgraph_security_fdw modify",
											 ALLOCSET_SMALL_SIZES);
	}
	return st;
}

void
msgraphBeginForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
						  List *fdw_private, int subplan_index, int eflags)
{
	EState	   *estate = mtstate->ps.state;
	ModifyTable *plan = (ModifyTable *) mtstate->ps.plan;
	RangeTblEntry *rte = exec_rt_fetch(rinfo->ri_RangeTableIndex, estate);
	Oid			userid = rte->checkAsUser ? rte->checkAsUser : GetUserId();
	List	   *colnos = (List *) list_nth(plan->updateColnosLists, subplan_index);
	bool		explain_only = (eflags & EXEC_FLAG_EXPLAIN_ONLY) != 0;
	MsgraphModifyState *st;
	Plan	   *subplan = outerPlanState(mtstate)->plan;
	AttrNumber	id_attnum = id_column(rinfo->ri_RelationDesc);

	st = modify_state_create(rinfo->ri_RelationDesc, userid, colnos,
							 intVal(list_nth(fdw_private, FdwModifyPrivateReturning)) != 0,
							 estate, explain_only);
	rinfo->ri_FdwState = st;
	if (explain_only)
		return;

	st->id_junk = ExecFindJunkAttributeInTlist(subplan->targetlist, "msgraph_id");
	if (!AttributeNumberIsValid(st->id_junk))
		elog(ERROR, "could not find junk msgraph_id column");
	st->id_type = TupleDescAttr(RelationGetDescr(rinfo->ri_RelationDesc), id_attnum - 1)->atttypid;
	st->ids_cxt = AllocSetContextCreate(estate->es_query_cxt,
										"msgraph_security_fdw updated ids",
										ALLOCSET_DEFAULT_SIZES);

	if (st->max_rows >= 0)
		count_rows_first(mtstate, rinfo, st, colnos);
	seen_ids_reset(st);
}

/* An entry of seen_ids: the key is the id string, held by pointer. */
typedef struct SeenId
{
	char	   *id;
} SeenId;

static uint32
seen_id_hash(const void *key, Size keysize)
{
	const char *id = *(char *const *) key;

	return hash_bytes((const unsigned char *) id, (int) strlen(id));
}

static int
seen_id_match(const void *key1, const void *key2, Size keysize)
{
	return strcmp(*(char *const *) key1, *(char *const *) key2);
}

/*
 * Start a pass over the rows with no id seen.  Ids are compared whole,
 * whatever their length (a fixed-size string key would cut them).
 */
static void
seen_ids_reset(MsgraphModifyState *st)
{
	HASHCTL		ctl;

	MemoryContextReset(st->ids_cxt);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(char *);
	ctl.entrysize = sizeof(SeenId);
	ctl.hash = seen_id_hash;
	ctl.match = seen_id_match;
	ctl.hcxt = st->ids_cxt;
	st->seen_ids = hash_create("msgraph_security_fdw updated ids", 256, &ctl,
							   HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
}

/* Remember id; false if it was seen before in this pass. */
static bool
seen_ids_add(MsgraphModifyState *st, const char *id)
{
	SeenId	   *entry;
	bool		found;

	entry = (SeenId *) hash_search(st->seen_ids, &id, HASH_ENTER, &found);
	if (!found)
		entry->id = MemoryContextStrdup(st->ids_cxt, id);
	return !found;
}

/*
 * The rows are found first: run the subplan to the end once, counting the
 * rows of this table and building each one's PATCH body (which checks the
 * new values against Graph's schema), then rescan it for the real pass.
 * Past max_update_rows, or on a value that cannot go, the ERROR comes
 * before any PATCH.
 *
 * What is counted is what the real pass sends: target rows, not join rows
 * (a row of an UPDATE ... FROM that matches several rows counts once, with
 * the values of its first match), and no row whose id cannot be a path
 * segment.
 *
 * The subplan's output starts with the SET values, in the order of the
 * plan's update column list; a "tableoid" junk column says which result
 * table a row belongs to when there are several.
 */
static void
count_rows_first(ModifyTableState *mtstate, ResultRelInfo *rinfo,
				 MsgraphModifyState *st, List *colnos)
{
	PlanState  *sub = outerPlanState(mtstate);
	AttrNumber	oid_junk = ExecFindJunkAttributeInTlist(sub->plan->targetlist, "tableoid");
	Oid			relid = RelationGetRelid(rinfo->ri_RelationDesc);
	Datum	   *values = palloc(sizeof(Datum) * Max(1, st->nattrs));
	bool	   *nulls = palloc(sizeof(bool) * Max(1, st->nattrs));
	int64		found = 0;
	ErrorContextCallback errcb;

	List	   *initplans = NIL;
	ListCell   *lc;

	/*
	 * The ModifyTable's own initplans (an uncorrelated subquery in the
	 * WHERE clause or a SET value, "WHERE id = (SELECT ...)") are set up
	 * by the executor only once BeginForeignModify has returned, yet this
	 * pass runs the subplan, which reads their values: set them up here
	 * for this pass.  They are rescanned after it, so that the executor's
	 * own set-up runs them again for the real pass, as the subplan runs
	 * again.
	 */
	foreach(lc, mtstate->ps.plan->initPlan)
		initplans = lappend(initplans,
							ExecInitSubPlan(lfirst_node(SubPlan, lc), &mtstate->ps));

	errcb.callback = modify_error_callback;
	errcb.arg = st;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	st->cur_id = NULL;
	seen_ids_reset(st);
	for (;;)
	{
		TupleTableSlot *slot = ExecProcNode(sub);
		MemoryContext oldcxt;
		Datum		idval;
		bool		isnull;
		char	   *id;
		int			i;

		if (TupIsNull(slot))
			break;
		if (AttributeNumberIsValid(oid_junk))
		{
			Datum		d = ExecGetJunkAttribute(slot, oid_junk, &isnull);

			if (isnull || DatumGetObjectId(d) != relid)
				continue;
		}
		MemoryContextReset(st->temp_cxt);
		oldcxt = MemoryContextSwitchTo(st->temp_cxt);
		st->cur_id = NULL;
		idval = ExecGetJunkAttribute(slot, st->id_junk, &isnull);
		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("a row of foreign table \"%s\" has no id to PATCH",
							RelationGetRelationName(st->rel)),
					 errdetail("Nothing was sent to Graph.")));
		id = datum_id(idval, st->id_type);
		if (!msgraph_path_segment_valid(id) || !seen_ids_add(st, id))
		{
			MemoryContextSwitchTo(oldcxt);
			continue;
		}
		if (++found > st->max_rows)
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("UPDATE of foreign table \"%s\" would change more than %d rows",
							RelationGetRelationName(st->rel), st->max_rows),
					 errdetail("msgraph_security_fdw.max_update_rows is %d; nothing was sent to Graph.",
							   st->max_rows),
					 errhint("Narrow the WHERE clause, or raise msgraph_security_fdw.max_update_rows for this statement.")));

		/* a value that cannot go is reported with the row's id */
		st->cur_id = id;
		slot_getsomeattrs(slot, st->nattrs);
		for (i = 0; i < st->nattrs; i++)
		{
			values[i] = slot->tts_values[i];
			nulls[i] = slot->tts_isnull[i];
		}
		(void) patch_body(st, values, nulls);
		MemoryContextSwitchTo(oldcxt);
	}
	st->cur_id = NULL;
	MemoryContextReset(st->temp_cxt);
	error_context_stack = errcb.previous;
	ExecReScan(sub);
	foreach(lc, initplans)
		ExecReScan(((SubPlanState *) lfirst(lc))->planstate);
}

/*
 * The PATCH body of one row: {"property": value, ...} for the SET columns,
 * in update-column order, owned by the current memory context.  NULL is
 * JSON null, refused for properties the CSDL declares non-nullable.
 */
static struct json_object *
patch_body(MsgraphModifyState *st, Datum *values, bool *nulls)
{
	struct json_object *body = msgraph_json_own(CurrentMemoryContext, json_object_new_object());
	int			i;

	for (i = 0; i < st->nattrs; i++)
	{
		const GraphProperty *prop = st->props[i];
		const char *attname = NameStr(TupleDescAttr(RelationGetDescr(st->rel),
													st->attnums[i] - 1)->attname);

		if (nulls[i] && !prop->nullable)
			ereport(ERROR,
					(errcode(ERRCODE_NOT_NULL_VIOLATION),
					 errmsg("column \"%s\" of foreign table \"%s\" cannot be set to NULL",
							attname, RelationGetRelationName(st->rel)),
					 errdetail("Graph's %s of %s is not nullable; nothing was sent for this row.",
							   prop->name, st->path)));
		if (!nulls[i] && prop->type == GRAPH_ENUM)
			check_enum_value(RelationGetRelationName(st->rel), prop, attname,
							 values[i], st->types[i], "nothing was sent for this row");
		json_object_object_add(body, prop->name,
							   nulls[i] ? NULL
							   : datum_to_json(values[i], st->types[i], attname));
	}
	return body;
}

/*
 * A SQL value as JSON for a request body: json and jsonb as they are,
 * arrays as arrays, booleans, numbers, timestamptz in Graph's form, and
 * everything else as the string of its output function.  `what` names the
 * value in errors.
 */
static struct json_object *
datum_to_json(Datum value, Oid type, const char *what)
{
	Oid			base = getBaseType(type);
	Oid			elemtype = get_element_type(base);
	struct json_object *v = NULL;

	if (OidIsValid(elemtype))
	{
		ArrayType  *arr = DatumGetArrayTypeP(value);
		int16		elemlen;
		bool		elembyval;
		char		elemalign;
		Datum	   *elems;
		bool	   *enulls;
		int			n;
		int			i;

		get_typlenbyvalalign(elemtype, &elemlen, &elembyval, &elemalign);
		deconstruct_array(arr, elemtype, elemlen, elembyval, elemalign, &elems, &enulls, &n);
		v = json_object_new_array();
		if (v == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
		PG_TRY();
		{
			for (i = 0; i < n; i++)
			{
				if (enulls[i])
					ereport(ERROR,
							(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
							 errmsg("%s cannot hold NULL elements for Graph", what)));
				json_object_array_add(v, datum_to_json(elems[i], elemtype, what));
			}
		}
		PG_CATCH();
		{
			json_object_put(v);
			PG_RE_THROW();
		}
		PG_END_TRY();
		return v;
	}

	switch (base)
	{
		case BOOLOID:
			v = json_object_new_boolean(DatumGetBool(value));
			break;
		case INT2OID:
			v = json_object_new_int64(DatumGetInt16(value));
			break;
		case INT4OID:
			v = json_object_new_int64(DatumGetInt32(value));
			break;
		case INT8OID:
			v = json_object_new_int64(DatumGetInt64(value));
			break;
		case FLOAT4OID:
			v = json_object_new_double(DatumGetFloat4(value));
			break;
		case FLOAT8OID:
			v = json_object_new_double(DatumGetFloat8(value));
			break;
		case TIMESTAMPTZOID:
			{
				StringInfoData buf;

				initStringInfo(&buf);
				msgraph_format_timestamp(&buf, DatumGetTimestampTz(value));
				v = json_object_new_string(buf.data);
				break;
			}
		case JSONOID:
		case JSONBOID:
			{
				Oid			outfunc;
				bool		isvarlena;
				char	   *text;
				char	   *utf8;
				struct json_tokener *tok;

				getTypeOutputInfo(base, &outfunc, &isvarlena);
				text = OidOutputFunctionCall(outfunc, value);
				utf8 = pg_server_to_any(text, strlen(text), PG_UTF8);
				tok = json_tokener_new_ex(MSGRAPH_JSON_MAX_DEPTH);
				if (tok == NULL)
					ereport(ERROR,
							(errcode(ERRCODE_OUT_OF_MEMORY),
							 errmsg("out of memory")));
				v = json_tokener_parse_ex(tok, utf8, strlen(utf8));
				if (json_tokener_get_error(tok) != json_tokener_success)
				{
					json_tokener_free(tok);
					if (v)
						json_object_put(v);
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
							 errmsg("%s is not JSON that can be sent to Graph", what)));
				}
				json_tokener_free(tok);
				/* JSON null parses as NULL, which json-c writes as null */
				return v;
			}
		default:
			{
				Oid			outfunc;
				bool		isvarlena;

				getTypeOutputInfo(type, &outfunc, &isvarlena);
				return msgraph_json_string(OidOutputFunctionCall(outfunc, value));
			}
	}
	if (v == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	return v;
}

/* The URL of PATCH resource/{id}; the id is sent percent-encoded. */
static char *
patch_url(MsgraphModifyState *st, const char *id, bool encode)
{
	return psprintf("%s/%s/%s/%s", st->opts.graph_url, st->opts.api_version, st->path,
					encode ? msgraph_encode_path_segment(id) : id);
}

/*
 * Send (or, in a dry run, show) the PATCH of one entity.  On success
 * *entity is the entity Graph sent back (NULL if it sent none), read as a
 * scan reads entities, in the current memory context.  A Graph error is an ERROR that says how
 * many rows Graph had already changed.
 */
static PatchOutcome
patch_entity(MsgraphModifyState *st, const char *id, struct json_object *body,
			 MsgraphJsonPage **entity)
{
	char	   *url = patch_url(st, id, true);
	char	   *target = psprintf("%s/%s", st->path, msgraph_encode_path_segment(id));
	char	   *text = msgraph_json_text(body);
	MsgraphHttpResponse resp;
	StringInfoData props;
	int			i;

	*entity = NULL;
	st->cur_id = id;
	st->rows_seen++;
	if (st->dry_run)
	{
		ereport(NOTICE,
				(errmsg("dry run: PATCH %s %s", target,
						pg_any_to_server(text, strlen(text), PG_UTF8))));
		return PATCH_DRY_RUN;
	}

	initStringInfo(&props);
	for (i = 0; i < st->nattrs; i++)
		appendStringInfo(&props, "%s%s", i > 0 ? ", " : "", st->props[i]->name);
	msgraph_log_write(&st->opts, "PATCH", target, props.data);

	msgraph_request(&st->opts, "PATCH", url, text, &resp, &st->stats);
	if (resp.status == 404)
		return PATCH_NOT_FOUND;
	if (resp.status != 200 && resp.status != 204)
		msgraph_report_graph_error(&st->opts, st->res ? st->res->write_permission : NULL,
								   url, &resp,
								   psprintf("; Graph had already changed %lld row%s of this statement",
											(long long) st->rows_changed,
											st->rows_changed == 1 ? "" : "s"),
								   resp.status == 400
								   ? "Graph refused the PATCH; its message says which property or value it does not take."
								   : NULL);
	st->rows_changed++;
	if (resp.status == 200 && resp.body.len > 0)
		*entity = msgraph_entity_read(&st->reader, "PATCH", url, &resp);
	return PATCH_CHANGED;
}

/*
 * Put the entity Graph sent back into the slot (all columns, converted as
 * a scan converts them), for RETURNING and AFTER triggers.  The values are
 * copied into the slot's own memory, since the per-row context goes.
 */
static void
store_entity(MsgraphModifyState *st, TupleTableSlot *slot, MsgraphJsonPage *entity)
{
	int			natts = slot->tts_tupleDescriptor->natts;

	ExecClearTuple(slot);
	memset(slot->tts_isnull, true, sizeof(bool) * natts);
	msgraph_convert_page_item(st->rel, st->cols, st->ncols, entity, &st->names, 0,
							  slot->tts_values, slot->tts_isnull);
	ExecStoreVirtualTuple(slot);
	ExecMaterializeSlot(slot);
}

/* The id of a row as text. */
static char *
datum_id(Datum value, Oid type)
{
	Oid			outfunc;
	bool		isvarlena;

	getTypeOutputInfo(type, &outfunc, &isvarlena);
	return OidOutputFunctionCall(outfunc, value);
}

static void
modify_error_callback(void *arg)
{
	MsgraphModifyState *st = (MsgraphModifyState *) arg;

	if (st->cur_id)
		errcontext("UPDATE of foreign table \"%s\", row with id \"%s\" (Graph had already changed %lld row%s of this statement)",
				   RelationGetRelationName(st->rel), st->cur_id,
				   (long long) st->rows_changed, st->rows_changed == 1 ? "" : "s");
	else
		errcontext("UPDATE of foreign table \"%s\"", RelationGetRelationName(st->rel));
}

TupleTableSlot *
msgraphExecForeignUpdate(EState *estate, ResultRelInfo *rinfo, TupleTableSlot *slot,
						 TupleTableSlot *planSlot)
{
	MsgraphModifyState *st = (MsgraphModifyState *) rinfo->ri_FdwState;
	ErrorContextCallback errcb;
	MemoryContext oldcxt;
	Datum	   *values;
	bool	   *nulls;
	Datum		idval;
	bool		isnull;
	char	   *id;
	struct json_object *body;
	MsgraphJsonPage *entity;
	PatchOutcome outcome;
	int			i;

	MemoryContextReset(st->temp_cxt);
	oldcxt = MemoryContextSwitchTo(st->temp_cxt);
	errcb.callback = modify_error_callback;
	errcb.arg = st;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	st->cur_id = NULL;

	idval = ExecGetJunkAttribute(planSlot, st->id_junk, &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("a row of foreign table \"%s\" has no id to PATCH",
						RelationGetRelationName(st->rel))));
	id = datum_id(idval, st->id_type);
	st->cur_id = id;

	/*
	 * Nothing to send for an id that cannot be a path segment (no entity
	 * has it), nor for a row sent already for an earlier join match.
	 */
	if (!msgraph_path_segment_valid(id) || !seen_ids_add(st, id))
	{
		st->cur_id = NULL;
		error_context_stack = errcb.previous;
		MemoryContextSwitchTo(oldcxt);
		return NULL;
	}

	/* Graph's data may have changed since the rows were counted */
	if (st->max_rows >= 0 && st->rows_seen >= st->max_rows)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("UPDATE of foreign table \"%s\" would change more than %d rows; Graph had already changed %lld row%s of this statement",
						RelationGetRelationName(st->rel), st->max_rows,
						(long long) st->rows_changed, st->rows_changed == 1 ? "" : "s"),
				 errdetail("More rows matched than when they were counted before the first PATCH.")));

	slot_getallattrs(slot);
	values = palloc(sizeof(Datum) * Max(1, st->nattrs));
	nulls = palloc(sizeof(bool) * Max(1, st->nattrs));
	for (i = 0; i < st->nattrs; i++)
	{
		values[i] = slot->tts_values[st->attnums[i] - 1];
		nulls[i] = slot->tts_isnull[st->attnums[i] - 1];
	}
	body = patch_body(st, values, nulls);

	outcome = patch_entity(st, id, body, &entity);
	/* what RETURNING and AFTER triggers see is the row Graph sent back */
	if (outcome == PATCH_CHANGED && entity != NULL &&
		(st->has_returning ||
		 (rinfo->ri_TrigDesc && rinfo->ri_TrigDesc->trig_update_after_row)))
		store_entity(st, slot, entity);

	error_context_stack = errcb.previous;
	MemoryContextSwitchTo(oldcxt);
	/* a dry run or a vanished entity changes nothing: no row to report */
	return outcome == PATCH_CHANGED ? slot : NULL;
}

void
msgraphEndForeignModify(EState *estate, ResultRelInfo *rinfo)
{
	MsgraphModifyState *st = (MsgraphModifyState *) rinfo->ri_FdwState;

	if (st && st->temp_cxt)
		MemoryContextReset(st->temp_cxt);
}

/* EXPLAIN: the request sent per row; under ANALYZE, how many went. */
void
msgraphExplainForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
							List *fdw_private, int subplan_index, ExplainState *es)
{
	MsgraphModifyState *st = (MsgraphModifyState *) rinfo->ri_FdwState;

	if (es->verbose)
		ExplainPropertyText("Graph Request",
							psprintf("PATCH %s per row", patch_url(st, "{id}", false)), es);
	if (es->analyze)
		ExplainPropertyInteger("Graph Requests", NULL, st->stats.requests, es);
}

void
msgraphBeginDirectModify(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	RangeTblEntry *rte = exec_rt_fetch(node->resultRelInfo->ri_RangeTableIndex, estate);
	Oid			userid = rte->checkAsUser ? rte->checkAsUser : GetUserId();
	List	   *priv = fsplan->fdw_private;
	bool		explain_only = (eflags & EXEC_FLAG_EXPLAIN_ONLY) != 0;
	MsgraphModifyState *st;

	st = modify_state_create(node->ss.ss_currentRelation, userid,
							 (List *) list_nth(priv, FdwDirectPrivateAttrs),
							 intVal(list_nth(priv, FdwDirectPrivateReturning)) != 0,
							 estate, explain_only);
	st->set_processed = intVal(list_nth(priv, FdwDirectPrivateSetProcessed)) != 0;
	node->fdw_state = st;
	if (explain_only)
		return;
	st->id_state = ExecInitExpr(linitial(fsplan->fdw_exprs), (PlanState *) node);
	st->value_states = ExecInitExprList(list_delete_first(list_copy(fsplan->fdw_exprs)),
										(PlanState *) node);
}

/*
 * The one PATCH of a direct modify, on the first call.  Returns the row
 * Graph sent back when there is RETURNING, else an empty slot (the
 * ModifyTable only counts what es_processed says).
 */
TupleTableSlot *
msgraphIterateDirectModify(ForeignScanState *node)
{
	MsgraphModifyState *st = (MsgraphModifyState *) node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	EState	   *estate = node->ss.ps.state;
	ResultRelInfo *rinfo = node->resultRelInfo;
	ErrorContextCallback errcb;
	MemoryContext oldcxt;
	Datum	   *values;
	bool	   *nulls;
	Datum		idval;
	bool		isnull;
	char	   *id;
	struct json_object *body;
	MsgraphJsonPage *entity;
	PatchOutcome outcome;
	ListCell   *lc;
	int			i;

	ExecClearTuple(slot);
	if (st->done)
		return slot;
	st->done = true;

	idval = ExecEvalExpr(st->id_state, econtext, &isnull);
	if (isnull)
		return slot;			/* "id = NULL" matches nothing */
	id = datum_id(idval, exprType((Node *) st->id_state->expr));
	if (!msgraph_path_segment_valid(id))
		return slot;			/* no entity has such an id: nothing to send */

	MemoryContextReset(st->temp_cxt);
	oldcxt = MemoryContextSwitchTo(st->temp_cxt);
	errcb.callback = modify_error_callback;
	errcb.arg = st;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	if (st->max_rows == 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("UPDATE of foreign table \"%s\" would change more than 0 rows",
						RelationGetRelationName(st->rel)),
				 errdetail("msgraph_security_fdw.max_update_rows is 0; nothing was sent to Graph.")));

	values = palloc(sizeof(Datum) * Max(1, st->nattrs));
	nulls = palloc(sizeof(bool) * Max(1, st->nattrs));
	i = 0;
	foreach(lc, st->value_states)
	{
		values[i] = ExecEvalExpr((ExprState *) lfirst(lc), econtext, &nulls[i]);
		i++;
	}
	body = patch_body(st, values, nulls);
	outcome = patch_entity(st, id, body, &entity);

	if (outcome == PATCH_CHANGED)
	{
		if (st->set_processed)
			estate->es_processed++;
		if (rinfo->ri_projectReturning)
		{
			if (entity != NULL)
				store_entity(st, slot, entity);
			else
				ExecStoreAllNullTuple(slot);
			/* the RETURNING list reads the row from here */
			rinfo->ri_projectReturning->pi_exprContext->ecxt_scantuple = slot;
		}
		else if (node->ss.ps.instrument)
			node->ss.ps.instrument->tuplecount += 1;
	}
	error_context_stack = errcb.previous;
	MemoryContextSwitchTo(oldcxt);
	return slot;
}

void
msgraphEndDirectModify(ForeignScanState *node)
{
	MsgraphModifyState *st = (MsgraphModifyState *) node->fdw_state;

	if (st && st->temp_cxt)
		MemoryContextReset(st->temp_cxt);
}

/* EXPLAIN: the PATCH, with the id when it is a constant. */
void
msgraphExplainDirectModify(ForeignScanState *node, ExplainState *es)
{
	MsgraphModifyState *st = (MsgraphModifyState *) node->fdw_state;
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	Node	   *idexpr = linitial(fsplan->fdw_exprs);

	if (es->verbose)
	{
		const char *id = "?";

		if (IsA(idexpr, Const) && !((Const *) idexpr)->constisnull)
			id = datum_id(((Const *) idexpr)->constvalue, ((Const *) idexpr)->consttype);
		if (!msgraph_path_segment_valid(id))
			ExplainPropertyText("Graph Request",
								psprintf("none (the id \"%s\" cannot be a path segment)", id), es);
		else
			ExplainPropertyText("Graph Request", psprintf("PATCH %s", patch_url(st, id, false)), es);
	}
	if (es->analyze)
		ExplainPropertyInteger("Graph Requests", NULL, st->stats.requests, es);
}
