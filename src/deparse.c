/*-------------------------------------------------------------------------
 *
 * deparse.c
 *		  Writing the Graph request of a scan: path, $select, $filter,
 *		  $orderby, $top, $count and $expand, for sending and for EXPLAIN.
 *
 * The same function renders the URL that is sent (percent-encoded, with
 * run-time values filled in) and the text EXPLAIN shows (decoded for
 * reading, with values known only at execution shown as "?"), so the two
 * cannot drift apart.  Query options always appear in the order
 * the README gives ("Reading EXPLAIN"): $select, $filter, $orderby, $top,
 * $count, $expand.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/transam.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "lib/stringinfo.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "parser/scansup.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/float.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "msgraph_fdw.h"

static bool is_value_expr(Node *node, Index relid);

static void append_option(StringInfo buf, bool *first, const char *name,
						  const char *value, bool for_display);


/*
 * Render a timestamp the way Graph's $filter reads a DateTimeOffset:
 * unquoted UTC ISO 8601 with 7 fractional digits (PostgreSQL's microseconds
 * followed by a zero: Graph counts in 100 ns).
 */
void
msgraph_format_timestamp(StringInfo buf, TimestampTz ts)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (TIMESTAMP_NOT_FINITE(ts) ||
		timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range for a Graph filter")));
	appendStringInfo(buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06d0Z",
					 tm.tm_year, tm.tm_mon, tm.tm_mday,
					 tm.tm_hour, tm.tm_min, tm.tm_sec, (int) fsec);
}

/*
 * The first request URL of a scan.  With for_display the result is
 * meant for EXPLAIN: not encoded, and run-time values are shown as "?"
 * unless have_snapshot says they are known.
 */
char *
msgraph_build_url(MsgraphConnOptions *opts, const MsgraphRequestSpec *spec,
				  bool for_display, bool have_snapshot, TimestampTz snapshot)
{
	StringInfoData url;
	StringInfoData filter;
	bool		first = true;

	initStringInfo(&url);
	appendStringInfo(&url, "%s/%s/%s", opts->graph_url, opts->api_version, spec->path);
	if (spec->id)
	{
		/* a get by id: the id is one path segment; no snapshot, no paging */
		char	   *seg = for_display ? pstrdup(spec->id) : msgraph_encode_path_segment(spec->id);

		appendStringInfo(&url, "/%s", seg);
		if (spec->select)
			append_option(&url, &first, "$select", spec->select, for_display);
		if (spec->expand)
			append_option(&url, &first, "$expand", spec->expand, for_display);
		return url.data;
	}

	initStringInfo(&filter);
	if (spec->filter)
		appendStringInfoString(&filter, spec->filter);
	if (spec->range)
	{
		/* a time window: whole microseconds, so that windows partition */
		if (filter.len > 0)
			appendStringInfoString(&filter, " and ");
		appendStringInfo(&filter, "%s ge ", spec->snapshot_property);
		msgraph_format_timestamp(&filter, spec->range_from);
		if (spec->range_bounded)
		{
			appendStringInfo(&filter, " and %s lt ", spec->snapshot_property);
			msgraph_format_timestamp(&filter, spec->range_to);
		}
	}
	if (spec->snapshot)
	{
		if (filter.len > 0)
			appendStringInfoString(&filter, " and ");
		appendStringInfo(&filter, "%s le ", spec->snapshot_property);
		if (have_snapshot)
			msgraph_format_timestamp(&filter, snapshot);
		else
			appendStringInfoChar(&filter, '?');
	}

	if (spec->select)
		append_option(&url, &first, "$select", spec->select, for_display);
	if (filter.len > 0)
		append_option(&url, &first, "$filter", filter.data, for_display);
	if (spec->orderby)
		append_option(&url, &first, "$orderby", spec->orderby, for_display);
	if (spec->top > 0)
	{
		char		top[16];

		snprintf(top, sizeof(top), "%d", spec->top);
		append_option(&url, &first, "$top", top, for_display);
	}
	if (spec->count)
		append_option(&url, &first, "$count", "true", for_display);
	if (spec->expand)
		append_option(&url, &first, "$expand", spec->expand, for_display);

	pfree(filter.data);
	return url.data;
}

static void
append_option(StringInfo buf, bool *first, const char *name, const char *value,
			  bool for_display)
{
	appendStringInfoChar(buf, *first ? '?' : '&');
	*first = false;
	appendStringInfoString(buf, name);
	appendStringInfoChar(buf, '=');
	if (for_display)
		appendStringInfoString(buf, value);
	else
	{
		char	   *enc = msgraph_url_encode(value);

		appendStringInfoString(buf, enc);
		pfree(enc);
	}
}


/* ----------------------------------------------------------------
 * Conditions to $filter
 *
 * One walker decides what may be sent and writes it, so that the two can
 * never disagree.  Given a buffer it renders the condition there; given
 * none it only classifies.  Its answer is a MsgraphCondKind:
 *
 *	LOCAL	nothing of the condition can be sent: it is evaluated locally;
 *	SENT	sent, but Graph may select more rows than PostgreSQL would (a
 *			rendering may widen, never narrow): also evaluated locally;
 *	EXACT	sent, and Graph selects exactly the rows PostgreSQL would
 *			(README, "Exact conditions"): no local recheck;
 *	NEVER	selects no row whatever Graph holds (an enum literal that
 *			differs from a member only in letter case): nothing needs to
 *			be asked at all.
 *
 * A part that is not sent leaves nothing in the buffer: every level cuts
 * the buffer back to where it started when it gives up, so that text of a
 * refused condition can never be mistaken for a sent one.  An AND may
 * drop the parts it cannot send (it is SENT then); an OR or a NOT is sent
 * whole or not at all.  NEVER goes up as logic allows: an AND with a
 * NEVER part is NEVER, an OR drops its NEVER branches (NEVER when all are),
 * a NOT over one is left local.
 *
 * The same walker runs at plan time (values known only at run time are
 * written "?") and at scan start with the run-time values; a condition
 * planned EXACT that is not rendered exactly at run time (a parameter
 * holding a non-member, say) is then rechecked by the executor.
 * ----------------------------------------------------------------
 */

/* Kind of comparison, from the operator's name. */
typedef enum CmpOp
{
	CMP_EQ, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE, CMP_OTHER
} CmpOp;

static const char *const cmp_odata[] = {"eq", "ne", "lt", "le", "gt", "ge", NULL};

/* What an element of an array compared with a column is, for Graph. */
typedef enum ElemKind
{
	ELEM_MEMBER,				/* a value that can be sent */
	ELEM_NULL,					/* SQL NULL: equals nothing */
	ELEM_CASE_VARIANT,			/* an enum member in other letter case */
	ELEM_NON_MEMBER				/* no member of the enum: not sent */
} ElemKind;

/* Write into buf, if there is one. */
#define EMIT(buf, ...) \
	do { if ((buf) != NULL) appendStringInfo((buf), __VA_ARGS__); } while (0)

static MsgraphCondKind deparse_node(Node *node, MsgraphDeparseEnv *env,
									StringInfo buf, bool *nonnullable);
static MsgraphCondKind deparse_bool(BoolExpr *b, MsgraphDeparseEnv *env,
									StringInfo buf, bool *nonnullable);
static MsgraphCondKind deparse_opexpr(OpExpr *op, MsgraphDeparseEnv *env,
									  StringInfo buf, bool *nonnullable);
static MsgraphCondKind deparse_truncated_cmp(MsgraphColumnMeta *col, const char *unit,
											 CmpOp cmp, Oid ltype, Oid rtype,
											 Node *valexpr, MsgraphDeparseEnv *env,
											 StringInfo buf, bool *nonnullable);
static MsgraphCondKind deparse_saop(ScalarArrayOpExpr *saop, MsgraphDeparseEnv *env,
									StringInfo buf, bool *nonnullable);
static MsgraphCondKind deparse_in_list(ScalarArrayOpExpr *saop, MsgraphColumnMeta *col,
									   Oid elemtype, bool negated, MsgraphDeparseEnv *env,
									   StringInfo buf, bool *nonnullable);
static MsgraphCondKind deparse_evidence(ScalarArrayOpExpr *saop, MsgraphColumnMeta *col,
										MsgraphDeparseEnv *env, StringInfo buf,
										bool *nonnullable);
static MsgraphCondKind deparse_nulltest(NullTest *nt, MsgraphDeparseEnv *env,
										StringInfo buf, bool *nonnullable);
static bool deparse_timestamp_cmp(const char *name, CmpOp cmp, Datum value,
								  bool known, StringInfo buf);
static MsgraphColumnMeta *column_of(Node *node, MsgraphDeparseEnv *env, AttrNumber *attnum);
static MsgraphColumnMeta *truncated_column_of(Node *node, MsgraphDeparseEnv *env,
											  const char **unit);
static bool column_filterable(MsgraphColumnMeta *col, MsgraphDeparseEnv *env,
							  GraphType *type, bool *nullable);
static bool enum_column(MsgraphColumnMeta *col);
static CmpOp operator_kind(Oid opno, Oid *lefttype, Oid *righttype);
static bool value_of(Node *expr, MsgraphDeparseEnv *env, Datum *value, bool *isnull,
					 bool *known);
static ElemKind element_kind(MsgraphColumnMeta *col, GraphType gtype, Datum value,
							 bool isnull, MsgraphDeparseEnv *env);
static bool append_literal(StringInfo buf, GraphType type, const GraphProperty *prop,
						   Oid typid, Datum value);
static bool type_fits(GraphType gtype, Oid typid);
static void rollback(StringInfo buf, int len);

/*
 * Describe every column of a foreign table for the deparser: its
 * property, what the catalog says of it, and its filterable option.
 */
MsgraphTableMeta *
msgraph_table_meta(Relation rel, const GraphResource *res)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	MsgraphTableMeta *meta = palloc0(sizeof(MsgraphTableMeta));
	int			i;

	meta->res = res;
	meta->natts = tupdesc->natts;
	meta->cols = palloc0(sizeof(MsgraphColumnMeta) * Max(1, tupdesc->natts));
	for (i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(tupdesc, i);
		MsgraphColumnMeta *col = &meta->cols[i];

		col->filterable = -1;
		if (attr->attisdropped)
			continue;
		col->typid = attr->atttypid;
		msgraph_column_options(rel, i + 1, &col->property, &col->filterable);
		if (res)
		{
			col->prop = graph_catalog_find_property(res, col->property);
			col->derived = graph_catalog_find_derived(res, col->property);
		}
	}
	return meta;
}

/*
 * Whether node can be evaluated once at scan start: it references no
 * column of the scanned table, calls nothing volatile and holds no
 * subquery or aggregate.  Constants, parameters (also behind casts), outer
 * columns of a parameterized join and stable expressions such as
 * now() - interval '1 day' qualify.
 */
static bool
is_value_expr(Node *node, Index relid)
{
	Relids		varnos;

	if (node == NULL)
		return false;
	if (IsA(node, Const) || IsA(node, Param))
		return true;
	varnos = pull_varnos(NULL, node);
	if (bms_is_member(relid, varnos))
		return false;
	if (contain_volatile_functions(node) || contain_subplans(node) ||
		contain_agg_clause(node) || contain_window_function(node) ||
		expression_returns_set(node))
		return false;
	return true;
}


/*
 * Classify a condition without rendering it: whether, and how exactly, it
 * can be sent (see the section comment).
 */
MsgraphCondKind
msgraph_classify_condition(Node *cond, MsgraphDeparseEnv *env)
{
	bool		nonnullable;

	return deparse_node(cond, env, NULL, &nonnullable);
}

/*
 * The $filter text of a list of conditions (ANDed, as a relation's
 * restrictions are), or NULL when none is sent.  kinds, if given, receives
 * the kind of each condition as rendered now; the caller tests for
 * MSGRAPH_COND_NEVER, which makes the whole list select no row.  This is
 * where every condition's text is written: the scan's filter, EXPLAIN's
 * and the planner's $count request all come from here.
 */
char *
msgraph_deparse_filter(List *conds, MsgraphDeparseEnv *env, MsgraphCondKind *kinds)
{
	StringInfoData buf;
	ListCell   *lc;
	int			i = 0;

	initStringInfo(&buf);
	foreach(lc, conds)
	{
		int			start = buf.len;
		bool		nonnullable;
		MsgraphCondKind kind;

		if (buf.len > 0)
			appendStringInfoString(&buf, " and ");
		kind = deparse_node((Node *) lfirst(lc), env, &buf, &nonnullable);
		if (kind == MSGRAPH_COND_LOCAL || kind == MSGRAPH_COND_NEVER)
			rollback(&buf, start);
		if (kinds)
			kinds[i] = kind;
		i++;
	}
	if (buf.len == 0)
	{
		pfree(buf.data);
		return NULL;
	}
	return buf.data;
}

/* Cut buf (if any) back to len: a part that is not sent leaves nothing. */
static void
rollback(StringInfo buf, int len)
{
	if (buf != NULL)
	{
		buf->len = len;
		buf->data[len] = '\0';
	}
}

static MsgraphCondKind
deparse_node(Node *node, MsgraphDeparseEnv *env, StringInfo buf, bool *nonnullable)
{
	*nonnullable = true;
	if (node == NULL)
		return MSGRAPH_COND_LOCAL;
	switch (nodeTag(node))
	{
		case T_BoolExpr:
			return deparse_bool((BoolExpr *) node, env, buf, nonnullable);
		case T_OpExpr:
			return deparse_opexpr((OpExpr *) node, env, buf, nonnullable);
		case T_ScalarArrayOpExpr:
			return deparse_saop((ScalarArrayOpExpr *) node, env, buf, nonnullable);
		case T_NullTest:
			return deparse_nulltest((NullTest *) node, env, buf, nonnullable);
		case T_RestrictInfo:
			return deparse_node((Node *) ((RestrictInfo *) node)->clause, env, buf,
								nonnullable);
		default:
			return MSGRAPH_COND_LOCAL;
	}
}

static MsgraphCondKind
deparse_bool(BoolExpr *b, MsgraphDeparseEnv *env, StringInfo buf, bool *nonnullable)
{
	int			start = buf ? buf->len : 0;
	ListCell   *lc;
	int			sent = 0;
	bool		widened = false;

	if (b->boolop == AND_EXPR)
	{
		foreach(lc, b->args)
		{
			int			mark = buf ? buf->len : 0;
			bool		nn;
			MsgraphCondKind k;

			if (sent > 0)
				EMIT(buf, " and ");
			k = deparse_node((Node *) lfirst(lc), env, buf, &nn);
			if (k == MSGRAPH_COND_NEVER)
			{
				/* false (or null) whatever the other parts are */
				rollback(buf, start);
				*nonnullable = nn;
				return MSGRAPH_COND_NEVER;
			}
			if (k == MSGRAPH_COND_LOCAL)
			{
				rollback(buf, mark);
				widened = true; /* a dropped part widens the AND */
				continue;
			}
			widened |= (k == MSGRAPH_COND_SENT);
			*nonnullable &= nn;
			sent++;
		}
		if (sent == 0)
			return MSGRAPH_COND_LOCAL;
		return widened ? MSGRAPH_COND_SENT : MSGRAPH_COND_EXACT;
	}

	if (b->boolop == OR_EXPR)
	{
		EMIT(buf, "(");
		foreach(lc, b->args)
		{
			int			mark = buf ? buf->len : 0;
			bool		nn;
			MsgraphCondKind k;

			if (sent > 0)
				EMIT(buf, " or ");
			EMIT(buf, "(");
			k = deparse_node((Node *) lfirst(lc), env, buf, &nn);
			/* a dropped NEVER branch still decides whether the OR can be null */
			*nonnullable &= nn;
			if (k == MSGRAPH_COND_NEVER)
			{
				rollback(buf, mark);
				continue;
			}
			/* every other branch must be sent, or the OR would narrow */
			if (k == MSGRAPH_COND_LOCAL || env->mode != MSGRAPH_FILTER_FULL)
			{
				rollback(buf, start);
				return MSGRAPH_COND_LOCAL;
			}
			EMIT(buf, ")");
			widened |= (k == MSGRAPH_COND_SENT);
			sent++;
		}
		if (sent == 0)
		{
			rollback(buf, start);
			return MSGRAPH_COND_NEVER;
		}
		EMIT(buf, ")");
		return widened ? MSGRAPH_COND_SENT : MSGRAPH_COND_EXACT;
	}

	/* NOT: only over exact conditions on non-nullable properties */
	{
		bool		nn;
		MsgraphCondKind k;

		if (env->mode != MSGRAPH_FILTER_FULL)
			return MSGRAPH_COND_LOCAL;
		EMIT(buf, "not (");
		k = deparse_node((Node *) linitial(b->args), env, buf, &nn);
		if (k != MSGRAPH_COND_EXACT || !nn)
		{
			rollback(buf, start);
			return MSGRAPH_COND_LOCAL;
		}
		EMIT(buf, ")");
		return MSGRAPH_COND_EXACT;
	}
}

/*
 * The column a node names (a Var of the scanned table, possibly under a
 * binary-compatible relabeling such as varchar to text), or NULL.
 */
static MsgraphColumnMeta *
column_of(Node *node, MsgraphDeparseEnv *env, AttrNumber *attnum)
{
	Var		   *var;

	while (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	if (node == NULL || !IsA(node, Var))
		return NULL;
	var = (Var *) node;
	if (var->varno != env->relid || var->varlevelsup != 0 ||
		var->varattno <= 0 || var->varattno > env->meta->natts)
		return NULL;
	if (env->meta->cols[var->varattno - 1].property == NULL)
		return NULL;
	if (attnum)
		*attnum = var->varattno;
	return &env->meta->cols[var->varattno - 1];
}

/*
 * Whether conditions on the column may be sent, and as what Graph type.
 * The catalog decides for known properties (the column option may
 * override it, not in the fallback mode); a property the catalog does not
 * know is sent only when the column says filterable 'true', typed by the
 * column's type.
 */
static bool
column_filterable(MsgraphColumnMeta *col, MsgraphDeparseEnv *env, GraphType *type,
				  bool *nullable)
{
	if (col->derived != NULL || strchr(col->property, '.') != NULL ||
		strcmp(col->property, "$") == 0)
		return false;

	if (col->prop)
	{
		bool		filterable = col->prop->filterable;

		if (env->mode == MSGRAPH_FILTER_FULL && col->filterable >= 0)
			filterable = (col->filterable == 1);
		if (!filterable || !type_fits(col->prop->type, col->typid))
			return false;
		*type = col->prop->type;
		*nullable = col->prop->nullable;
		return true;
	}

	if (col->filterable != 1 || env->mode != MSGRAPH_FILTER_FULL)
		return false;
	*nullable = true;
	switch (col->typid)
	{
		case TEXTOID:
		case VARCHAROID:
			*type = GRAPH_STRING;
			return true;
		case TIMESTAMPTZOID:
			*type = GRAPH_DATETIME;
			return true;
		case INT4OID:
			*type = GRAPH_INT32;
			return true;
		case INT8OID:
			*type = GRAPH_INT64;
			return true;
		case FLOAT8OID:
			*type = GRAPH_DOUBLE;
			return true;
		case BOOLOID:
			*type = GRAPH_BOOLEAN;
			return true;
		default:
			return false;
	}
}

/* Whether a column of type typid compares like the Graph type. */
static bool
type_fits(GraphType gtype, Oid typid)
{
	switch (gtype)
	{
		case GRAPH_STRING:
		case GRAPH_ENUM:
		case GRAPH_GUID:
			return typid == TEXTOID || typid == VARCHAROID;
		case GRAPH_DATETIME:
			return typid == TIMESTAMPTZOID;
		case GRAPH_BOOLEAN:
			return typid == BOOLOID;
		case GRAPH_INT32:
		case GRAPH_INT64:
			return typid == INT4OID || typid == INT8OID;
		case GRAPH_DOUBLE:
			return typid == FLOAT8OID;
		default:
			return false;
	}
}

/*
 * The comparison an operator performs, if it is a built-in one whose
 * meaning Graph shares; CMP_OTHER otherwise.
 */
static CmpOp
operator_kind(Oid opno, Oid *lefttype, Oid *righttype)
{
	HeapTuple	tup;
	Form_pg_operator form;
	const char *name;
	CmpOp		result = CMP_OTHER;

	if (opno >= FirstGenbkiObjectId)
		return CMP_OTHER;
	tup = SearchSysCache1(OPEROID, ObjectIdGetDatum(opno));
	if (!HeapTupleIsValid(tup))
		return CMP_OTHER;
	form = (Form_pg_operator) GETSTRUCT(tup);
	name = NameStr(form->oprname);
	*lefttype = form->oprleft;
	*righttype = form->oprright;
	if (strcmp(name, "=") == 0)
		result = CMP_EQ;
	else if (strcmp(name, "<>") == 0)
		result = CMP_NE;
	else if (strcmp(name, "<") == 0)
		result = CMP_LT;
	else if (strcmp(name, "<=") == 0)
		result = CMP_LE;
	else if (strcmp(name, ">") == 0)
		result = CMP_GT;
	else if (strcmp(name, ">=") == 0)
		result = CMP_GE;
	ReleaseSysCache(tup);
	return result;
}

/*
 * The value of a value expression: a Const's at any time, anything else's
 * only at run time (*known false at plan time and for EXPLAIN).
 */
static bool
value_of(Node *expr, MsgraphDeparseEnv *env, Datum *value, bool *isnull, bool *known)
{
	ListCell   *lc;

	if (!is_value_expr(expr, env->relid))
		return false;
	if (IsA(expr, Const))
	{
		*value = ((Const *) expr)->constvalue;
		*isnull = ((Const *) expr)->constisnull;
		*known = true;
		return true;
	}
	if (env->collecting)
		env->collect = lappend(env->collect, expr);
	foreach(lc, env->values)
	{
		MsgraphRuntimeValue *rv = (MsgraphRuntimeValue *) lfirst(lc);

		if (rv->expr == expr)
		{
			*value = rv->value;
			*isnull = rv->isnull;
			*known = true;
			return true;
		}
	}
	*known = false;
	*isnull = false;
	*value = (Datum) 0;
	return true;
}

/*
 * The column a node truncates to a calendar unit, if it does: "col::date"
 * (the day in the session's time zone; *unit NULL) or date_trunc('unit',
 * col) for a unit of one fixed step (*unit set).  NULL for anything else.
 */
static MsgraphColumnMeta *
truncated_column_of(Node *node, MsgraphDeparseEnv *env, const char **unit)
{
	static const char *const units[] = {
		"second", "minute", "hour", "day", "week", "month", "quarter", "year", NULL
	};
	FuncExpr   *f;
	Const	   *c;
	char	   *name;
	int			i;

	if (node == NULL || !IsA(node, FuncExpr))
		return NULL;
	f = (FuncExpr *) node;
	if (f->funcid == F_DATE_TIMESTAMPTZ && list_length(f->args) == 1)
	{
		*unit = NULL;
		return column_of(linitial(f->args), env, NULL);
	}
	if (f->funcid != F_DATE_TRUNC_TEXT_TIMESTAMPTZ || list_length(f->args) != 2 ||
		!IsA(linitial(f->args), Const))
		return NULL;
	c = (Const *) linitial(f->args);
	if (c->constisnull)
		return NULL;
	name = downcase_truncate_identifier(TextDatumGetCString(c->constvalue),
										VARSIZE_ANY_EXHDR(DatumGetPointer(c->constvalue)),
										false);
	for (i = 0; units[i] != NULL; i++)
	{
		if (strcmp(name, units[i]) == 0)
		{
			*unit = units[i];
			return column_of(lsecond(f->args), env, NULL);
		}
	}
	return NULL;
}

/* Whether the column holds members of an enum the catalog knows, as text. */
static bool
enum_column(MsgraphColumnMeta *col)
{
	return col->prop != NULL && col->prop->type == GRAPH_ENUM &&
		col->prop->enumtype != NULL && type_fits(GRAPH_ENUM, col->typid);
}

/*
 * Tell the user that a literal can never match, naming the member it
 * spells in other letter case (once per rendering that is sent).
 */
static void
notice_case_variant(MsgraphColumnMeta *col, const char *literal, const char *member,
					MsgraphDeparseEnv *env)
{
	const char *enumname;

	if (env == NULL || !env->notify)
		return;
	enumname = strrchr(col->prop->enumtype->name, '.');
	enumname = enumname ? enumname + 1 : col->prop->enumtype->name;
	ereport(NOTICE,
			(errmsg("'%s' is not a member of %s; did you mean '%s'?",
					literal, enumname, member),
			 errdetail("Graph spells enum members exactly as the schema does: \"%s\" never holds '%s', so no row matches it and nothing is sent for it.",
					   col->prop->name, literal)));
}

/*
 * What an element compared with the column is: a value that can be sent,
 * or one that matches no row (NULL, an enum member in other letter case,
 * which is noticed), or a literal that is no member of the column's enum
 * (Graph refuses it; it may be a member the catalog does not know yet).
 */
static ElemKind
element_kind(MsgraphColumnMeta *col, GraphType gtype, Datum value, bool isnull,
			 MsgraphDeparseEnv *env)
{
	char	   *s;
	const char *member;

	if (isnull)
		return ELEM_NULL;
	if (gtype != GRAPH_ENUM)
		return ELEM_MEMBER;
	s = TextDatumGetCString(value);
	if (graph_enum_has_member(col->prop->enumtype, s))
		return ELEM_MEMBER;
	member = graph_enum_case_variant(col->prop->enumtype, s);
	if (member != NULL)
	{
		notice_case_variant(col, s, member, env);
		return ELEM_CASE_VARIANT;
	}
	return ELEM_NON_MEMBER;
}

/*
 * Write a literal for Graph (into buf, if there is one).  Strings are
 * single-quoted with quotes doubled, so that no value can change the
 * shape of the filter.  Returns false for a value that cannot be written
 * (NaN, infinity).
 */
static bool
append_literal(StringInfo buf, GraphType type, const GraphProperty *prop, Oid typid,
			   Datum value)
{
	switch (type)
	{
		case GRAPH_ENUM:
		case GRAPH_STRING:
		case GRAPH_GUID:
			if (buf != NULL)
			{
				char	   *s = TextDatumGetCString(value);
				const char *p;

				appendStringInfoChar(buf, '\'');
				for (p = s; *p; p++)
				{
					if (*p == '\'')
						appendStringInfoChar(buf, '\'');
					appendStringInfoChar(buf, *p);
				}
				appendStringInfoChar(buf, '\'');
			}
			return true;
		case GRAPH_INT32:
		case GRAPH_INT64:
			if (typid == INT4OID)
				EMIT(buf, "%d", DatumGetInt32(value));
			else
				EMIT(buf, INT64_FORMAT, DatumGetInt64(value));
			return true;
		case GRAPH_DOUBLE:
			{
				double		d = DatumGetFloat8(value);

				if (isnan(d) || isinf(d))
					return false;
				EMIT(buf, "%s", float8out_internal(d));
				return true;
			}
		case GRAPH_BOOLEAN:
			EMIT(buf, "%s", DatumGetBool(value) ? "true" : "false");
			return true;
		default:
			return false;
	}
}

/*
 * col <op> value, value <op> col, and the same over a truncated column
 * (deparse_truncated_cmp).  Enum equality with a member is exact; with
 * the member in other letter case it is NEVER, whether or not the
 * property could be sent.
 */
static MsgraphCondKind
deparse_opexpr(OpExpr *op, MsgraphDeparseEnv *env, StringInfo buf, bool *nonnullable)
{
	Node	   *left;
	Node	   *right;
	Node	   *valexpr;
	MsgraphColumnMeta *col;
	const char *unit = NULL;
	bool		truncated = false;
	CmpOp		cmp;
	Oid			ltype;
	Oid			rtype;
	GraphType	gtype;
	bool		nullable;
	bool		sendable;
	Datum		value;
	bool		isnull;
	bool		known;
	static const CmpOp flipped[] = {CMP_EQ, CMP_NE, CMP_GT, CMP_GE, CMP_LT, CMP_LE, CMP_OTHER};

	if (list_length(op->args) != 2)
		return MSGRAPH_COND_LOCAL;
	cmp = operator_kind(op->opno, &ltype, &rtype);
	if (cmp == CMP_OTHER)
		return MSGRAPH_COND_LOCAL;
	left = linitial(op->args);
	right = lsecond(op->args);

	if ((col = column_of(left, env, NULL)) != NULL ||
		(truncated = (col = truncated_column_of(left, env, &unit)) != NULL))
		valexpr = right;
	else if ((col = column_of(right, env, NULL)) != NULL ||
			 (truncated = (col = truncated_column_of(right, env, &unit)) != NULL))
	{
		Oid			t = ltype;

		valexpr = left;
		cmp = flipped[cmp];		/* c < col is col > c */
		ltype = rtype;
		rtype = t;
	}
	else
		return MSGRAPH_COND_LOCAL;

	/* ltype is now the column's side of the operator, rtype the value's */
	if (truncated)
		return deparse_truncated_cmp(col, unit, cmp, ltype, rtype, valexpr, env, buf,
									 nonnullable);

	sendable = env->mode != MSGRAPH_FILTER_NONE &&
		column_filterable(col, env, &gtype, &nullable);
	if (!sendable && !(enum_column(col) && (cmp == CMP_EQ || cmp == CMP_NE)))
		return MSGRAPH_COND_LOCAL;
	if (!value_of(valexpr, env, &value, &isnull, &known) || isnull)
		return MSGRAPH_COND_LOCAL;
	if (exprType(valexpr) != rtype)
		return MSGRAPH_COND_LOCAL;

	/* an enum literal in other letter case: "=" never holds, "<>" always */
	if (enum_column(col) && known && ltype == rtype &&
		element_kind(col, GRAPH_ENUM, value, false, env) == ELEM_CASE_VARIANT)
	{
		*nonnullable = !col->prop->nullable;
		return (cmp == CMP_EQ) ? MSGRAPH_COND_NEVER : MSGRAPH_COND_LOCAL;
	}
	if (!sendable)
		return MSGRAPH_COND_LOCAL;
	*nonnullable = !nullable;

	if (gtype == GRAPH_DATETIME)
	{
		if (cmp == CMP_NE || ltype != TIMESTAMPTZOID)
			return MSGRAPH_COND_LOCAL;
		/* timestamptz compared with a date or timestamp: as PostgreSQL does */
		if (known && rtype == DATEOID)
			value = DirectFunctionCall1(date_timestamptz, value);
		else if (known && rtype == TIMESTAMPOID)
			value = DirectFunctionCall1(timestamp_timestamptz, value);
		else if (rtype != TIMESTAMPTZOID && rtype != DATEOID && rtype != TIMESTAMPOID)
			return MSGRAPH_COND_LOCAL;
		return deparse_timestamp_cmp(col->prop ? col->prop->name : col->property,
									 cmp, value, known, buf)
			? MSGRAPH_COND_EXACT : MSGRAPH_COND_LOCAL;
	}
	if (ltype != rtype)
		return MSGRAPH_COND_LOCAL;
	if (env->mode == MSGRAPH_FILTER_BASIC && (cmp != CMP_EQ || col->prop == NULL))
		return MSGRAPH_COND_LOCAL;

	switch (gtype)
	{
		case GRAPH_ENUM:
			/* eq, and ne on non-nullable properties; exact with members */
			if (cmp != CMP_EQ && !(cmp == CMP_NE && !nullable))
				return MSGRAPH_COND_LOCAL;
			if (known && !graph_enum_has_member(col->prop->enumtype,
												TextDatumGetCString(value)))
				return MSGRAPH_COND_LOCAL;	/* maybe a member not known yet */
			break;
		case GRAPH_STRING:
		case GRAPH_GUID:
		case GRAPH_BOOLEAN:
			/* Graph's string semantics (case) are not documented: recheck */
			if (cmp != CMP_EQ)
				return MSGRAPH_COND_LOCAL;
			break;
		case GRAPH_INT32:
		case GRAPH_INT64:
		case GRAPH_DOUBLE:
			if (cmp == CMP_NE)
				return MSGRAPH_COND_LOCAL;
			break;
		default:
			return MSGRAPH_COND_LOCAL;
	}
	if (known && !append_literal(NULL, gtype, col->prop, ltype, value))
		return MSGRAPH_COND_LOCAL;

	EMIT(buf, "%s %s ", col->property, cmp_odata[cmp]);
	if (!known)
		EMIT(buf, "?");
	else
		(void) append_literal(buf, gtype, col->prop, ltype, value);
	return (gtype == GRAPH_ENUM) ? MSGRAPH_COND_EXACT : MSGRAPH_COND_SENT;
}

/*
 * A comparison of a timestamp truncated to a calendar unit ("col::date",
 * date_trunc('unit', col)) as the range of the column it selects, exact.
 * With floor(v) the start of v's unit, next(s) the start of the unit after
 * s and ceil(v) = v when v starts a unit, else next(floor(v)):
 *   trunc(col) = v   is  col >= v and col < next(v)   (no row if v starts
 *                                                      no unit)
 *   trunc(col) >= v  is  col >= ceil(v)    trunc(col) > v   is  col >= next(floor(v))
 *   trunc(col) <= v  is  col < next(floor(v))   trunc(col) < v  is  col < ceil(v)
 * The units are those of the session's time zone, as PostgreSQL's own
 * casts and date_trunc() read them; the bounds are computed at scan start
 * in the same session, so they agree with a local evaluation.
 */
static MsgraphCondKind
deparse_truncated_cmp(MsgraphColumnMeta *col, const char *unit, CmpOp cmp, Oid ltype,
					  Oid rtype, Node *valexpr, MsgraphDeparseEnv *env, StringInfo buf,
					  bool *nonnullable)
{
	const char *name;
	GraphType	gtype;
	bool		nullable;
	Datum		value;
	bool		isnull;
	bool		known;
	TimestampTz floor_v = 0;
	TimestampTz next_v = 0;
	bool		starts = true;
	int			start = buf ? buf->len : 0;

	if (env->mode == MSGRAPH_FILTER_NONE || !column_filterable(col, env, &gtype, &nullable) ||
		gtype != GRAPH_DATETIME || col->typid != TIMESTAMPTZOID || cmp == CMP_NE ||
		cmp == CMP_OTHER)
		return MSGRAPH_COND_LOCAL;
	/* a day compares with a date; date_trunc()'s timestamptz as plain ones do */
	if (unit == NULL ? (ltype != DATEOID || rtype != DATEOID)
		: (ltype != TIMESTAMPTZOID ||
		   (rtype != TIMESTAMPTZOID && rtype != DATEOID && rtype != TIMESTAMPOID)))
		return MSGRAPH_COND_LOCAL;
	if (!value_of(valexpr, env, &value, &isnull, &known) || isnull ||
		exprType(valexpr) != rtype)
		return MSGRAPH_COND_LOCAL;
	if (known && unit != NULL && rtype == DATEOID)
		value = DirectFunctionCall1(date_timestamptz, value);
	else if (known && unit != NULL && rtype == TIMESTAMPOID)
		value = DirectFunctionCall1(timestamp_timestamptz, value);
	*nonnullable = !nullable;
	name = col->prop ? col->prop->name : col->property;

	if (known && unit == NULL)
	{
		DateADT		d = DatumGetDateADT(value);

		if (DATE_NOT_FINITE(d) || d >= PG_INT32_MAX - 1)
			return MSGRAPH_COND_LOCAL;
		floor_v = DatumGetTimestampTz(DirectFunctionCall1(date_timestamptz, value));
		next_v = DatumGetTimestampTz(DirectFunctionCall1(date_timestamptz,
														 DateADTGetDatum(d + 1)));
	}
	else if (known)
	{
		Datum		unit_text = CStringGetTextDatum(unit);
		Interval	step;
		TimestampTz v = DatumGetTimestampTz(value);

		if (TIMESTAMP_NOT_FINITE(v))
			return MSGRAPH_COND_LOCAL;
		memset(&step, 0, sizeof(step));
		if (strcmp(unit, "second") == 0)
			step.time = USECS_PER_SEC;
		else if (strcmp(unit, "minute") == 0)
			step.time = USECS_PER_MINUTE;
		else if (strcmp(unit, "hour") == 0)
			step.time = USECS_PER_HOUR;
		else if (strcmp(unit, "day") == 0)
			step.day = 1;
		else if (strcmp(unit, "week") == 0)
			step.day = 7;
		else if (strcmp(unit, "month") == 0)
			step.month = 1;
		else if (strcmp(unit, "quarter") == 0)
			step.month = 3;
		else
			step.month = 12;
		floor_v = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_trunc, unit_text,
														  value));
		next_v = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_trunc, unit_text,
														 DirectFunctionCall2(timestamptz_pl_interval,
																			 TimestampTzGetDatum(floor_v),
																			 IntervalPGetDatum(&step))));
		starts = (floor_v == v);
	}

	switch (cmp)
	{
		case CMP_EQ:
			if (!starts)
				return MSGRAPH_COND_NEVER;
			if (!deparse_timestamp_cmp(name, CMP_GE, TimestampTzGetDatum(floor_v), known, buf))
				return MSGRAPH_COND_LOCAL;
			EMIT(buf, " and ");
			if (!deparse_timestamp_cmp(name, CMP_LT, TimestampTzGetDatum(next_v), known, buf))
			{
				rollback(buf, start);
				return MSGRAPH_COND_LOCAL;
			}
			return MSGRAPH_COND_EXACT;
		case CMP_GE:
			return deparse_timestamp_cmp(name, CMP_GE,
										 TimestampTzGetDatum(starts ? floor_v : next_v),
										 known, buf)
				? MSGRAPH_COND_EXACT : MSGRAPH_COND_LOCAL;
		case CMP_GT:
			return deparse_timestamp_cmp(name, CMP_GE, TimestampTzGetDatum(next_v), known, buf)
				? MSGRAPH_COND_EXACT : MSGRAPH_COND_LOCAL;
		case CMP_LE:
			return deparse_timestamp_cmp(name, CMP_LT, TimestampTzGetDatum(next_v), known, buf)
				? MSGRAPH_COND_EXACT : MSGRAPH_COND_LOCAL;
		case CMP_LT:
			return deparse_timestamp_cmp(name, CMP_LT,
										 TimestampTzGetDatum(starts ? floor_v : next_v),
										 known, buf)
				? MSGRAPH_COND_EXACT : MSGRAPH_COND_LOCAL;
		default:
			return MSGRAPH_COND_LOCAL;
	}
}

/*
 * A timestamp comparison, rendered for Graph's 100 ns precision so that it
 * selects exactly the rows whose value PostgreSQL rounds into the range.
 * For a bound b (microseconds), T(b) is the first 100 ns tick whose value
 * PostgreSQL reads as b or later: b - 0.5 us when PostgreSQL rounds that
 * halfway point up, else one tick later (the rounding of the halfway point
 * is whatever timestamptz_in does with it, so it is asked).  Then
 *   col >= b  is  ge T(b)          col > b   is  gt T(b + 1 us) - 1 tick
 *   col < b   is  lt T(b)          col <= b  is  le T(b + 1 us) - 1 tick
 * and col = b is the range of both.
 */
static int64
first_tick(TimestampTz b)
{
	StringInfoData s;
	int64		half = b * 10 - 5;
	TimestampTz parsed;

	initStringInfo(&s);
	msgraph_format_timestamp(&s, b - 1);
	/* turn the trailing "0Z" of b - 1 us into "5Z": the halfway point */
	s.data[s.len - 2] = '5';
	parsed = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
													 CStringGetDatum(s.data),
													 ObjectIdGetDatum(InvalidOid),
													 Int32GetDatum(-1)));
	pfree(s.data);
	return (parsed >= b) ? half : half + 1;
}

/* Write a 100 ns tick count (since 2000-01-01) as a Graph DateTimeOffset. */
static void
append_ticks(StringInfo buf, int64 ticks)
{
	int64		us = ticks / 10;
	int			digit = (int) (ticks % 10);

	if (digit < 0)
	{
		digit += 10;
		us -= 1;
	}
	msgraph_format_timestamp(buf, us);
	buf->data[buf->len - 2] = (char) ('0' + digit);
}

static bool
deparse_timestamp_cmp(const char *name, CmpOp cmp, Datum value, bool known,
					  StringInfo buf)
{
	TimestampTz b = DatumGetTimestampTz(value);

	if (known && (TIMESTAMP_NOT_FINITE(b) || b <= MIN_TIMESTAMP + USECS_PER_DAY ||
				  b >= END_TIMESTAMP - USECS_PER_DAY))
		return false;
	if (buf == NULL)
		return cmp == CMP_GE || cmp == CMP_LT || cmp == CMP_GT || cmp == CMP_LE ||
			cmp == CMP_EQ;

	switch (cmp)
	{
		case CMP_GE:
		case CMP_LT:
			appendStringInfo(buf, "%s %s ", name, cmp_odata[cmp]);
			if (known)
				append_ticks(buf, first_tick(b));
			else
				appendStringInfoChar(buf, '?');
			return true;
		case CMP_GT:
		case CMP_LE:
			appendStringInfo(buf, "%s %s ", name, cmp_odata[cmp]);
			if (known)
				append_ticks(buf, first_tick(b + 1) - 1);
			else
				appendStringInfoChar(buf, '?');
			return true;
		case CMP_EQ:
			appendStringInfo(buf, "%s ge ", name);
			if (known)
				append_ticks(buf, first_tick(b));
			else
				appendStringInfoChar(buf, '?');
			appendStringInfo(buf, " and %s le ", name);
			if (known)
				append_ticks(buf, first_tick(b + 1) - 1);
			else
				appendStringInfoChar(buf, '?');
			return true;
		default:
			return false;
	}
}

/*
 * col = ANY(array) and col IN (...) to "in"; col <> ALL(array) and col NOT
 * IN (...) on an enum to "not (col in ...)"; 'x' = ANY(derived evidence
 * column) to the documented evidence lambda.
 */
static MsgraphCondKind
deparse_saop(ScalarArrayOpExpr *saop, MsgraphDeparseEnv *env, StringInfo buf,
			 bool *nonnullable)
{
	MsgraphColumnMeta *col;
	CmpOp		cmp;
	Oid			ltype;
	Oid			rtype;

	cmp = operator_kind(saop->opno, &ltype, &rtype);
	if (ltype != rtype || list_length(saop->args) != 2)
		return MSGRAPH_COND_LOCAL;
	if (saop->useOr && cmp == CMP_EQ &&
		(col = column_of(lsecond(saop->args), env, NULL)) != NULL)
		return deparse_evidence(saop, col, env, buf, nonnullable);
	col = column_of(linitial(saop->args), env, NULL);
	if (col == NULL)
		return MSGRAPH_COND_LOCAL;
	if (saop->useOr && cmp == CMP_EQ)
		return deparse_in_list(saop, col, ltype, false, env, buf, nonnullable);
	if (!saop->useOr && cmp == CMP_NE)
		return deparse_in_list(saop, col, ltype, true, env, buf, nonnullable);
	return MSGRAPH_COND_LOCAL;
}

/* 'x' = ANY(evidence_device_names): the evidence lambdas, rechecked. */
static MsgraphCondKind
deparse_evidence(ScalarArrayOpExpr *saop, MsgraphColumnMeta *col, MsgraphDeparseEnv *env,
				 StringInfo buf, bool *nonnullable)
{
	Node	   *scalar = linitial(saop->args);
	Datum		value;
	bool		isnull;
	bool		known;

	if (env->mode != MSGRAPH_FILTER_FULL || col->derived == NULL ||
		col->derived->lambda_format == NULL || col->typid != TEXTARRAYOID)
		return MSGRAPH_COND_LOCAL;
	if (!value_of(scalar, env, &value, &isnull, &known) || isnull ||
		exprType(scalar) != TEXTOID)
		return MSGRAPH_COND_LOCAL;
	*nonnullable = false;
	if (buf != NULL)
	{
		StringInfoData lit;

		initStringInfo(&lit);
		if (known)
			(void) append_literal(&lit, GRAPH_STRING, NULL, TEXTOID, value);
		else
			appendStringInfoChar(&lit, '?');
		appendStringInfo(buf, col->derived->lambda_format, lit.data);
		pfree(lit.data);
	}
	return MSGRAPH_COND_SENT;
}

/*
 * col IN (list) as "col in (...)", or, negated (col NOT IN (list), on a
 * non-nullable enum only), as "not (col in (...))".  Elements that match
 * no row are left out: NULLs, and enum members in other letter case (a
 * list of nothing else is NEVER, whether or not the property can be
 * sent).  A literal that is no member is left out too, but may be a member
 * the catalog does not know yet: the condition is then rechecked.
 */
static MsgraphCondKind
deparse_in_list(ScalarArrayOpExpr *saop, MsgraphColumnMeta *col, Oid elemtype,
				bool negated, MsgraphDeparseEnv *env, StringInfo buf, bool *nonnullable)
{
	Node	   *array = lsecond(saop->args);
	GraphType	gtype = GRAPH_ENUM;
	bool		nullable = true;
	bool		sendable;
	Datum		value;
	bool		isnull;
	bool		known;
	Datum	   *elems = NULL;
	bool	   *elemnulls = NULL;
	int			nelems = 0;
	int			counts[ELEM_NON_MEMBER + 1] = {0};
	int			sent = 0;
	int			i;

	sendable = env->mode != MSGRAPH_FILTER_NONE &&
		column_filterable(col, env, &gtype, &nullable) &&
		(gtype == GRAPH_ENUM || gtype == GRAPH_STRING || gtype == GRAPH_GUID ||
		 gtype == GRAPH_INT32 || gtype == GRAPH_INT64) &&
		!(env->mode == MSGRAPH_FILTER_BASIC && (col->prop == NULL || negated)) &&
		!(negated && (gtype != GRAPH_ENUM || nullable || env->mode != MSGRAPH_FILTER_FULL));
	if (!sendable && !enum_column(col))
		return MSGRAPH_COND_LOCAL;
	if (!sendable)
		gtype = GRAPH_ENUM;		/* only to find what can never match */
	if (!value_of(array, env, &value, &isnull, &known) || isnull ||
		get_element_type(exprType(array)) != elemtype)
		return MSGRAPH_COND_LOCAL;

	if (known)
	{
		ArrayType  *arr = DatumGetArrayTypeP(value);
		int16		typlen;
		bool		typbyval;
		char		typalign;

		get_typlenbyvalalign(ARR_ELEMTYPE(arr), &typlen, &typbyval, &typalign);
		deconstruct_array(arr, ARR_ELEMTYPE(arr), typlen, typbyval, typalign,
						  &elems, &elemnulls, &nelems);
		for (i = 0; i < nelems; i++)
			counts[element_kind(col, gtype, elems[i], elemnulls[i], env)]++;
		if (counts[ELEM_MEMBER] == 0)
		{
			/* nothing left that could match: "in" is NEVER, "not in" local */
			if (!negated && counts[ELEM_NON_MEMBER] == 0 && nelems > 0 &&
				counts[ELEM_CASE_VARIANT] > 0)
			{
				*nonnullable = !col->prop->nullable;
				return MSGRAPH_COND_NEVER;
			}
			return MSGRAPH_COND_LOCAL;
		}
		/* keep URLs reasonable; NOT IN with a NULL is never true: local */
		if (nelems > 100 || (negated && counts[ELEM_NULL] > 0))
			return MSGRAPH_COND_LOCAL;
	}
	if (!sendable)
		return MSGRAPH_COND_LOCAL;
	*nonnullable = !nullable && counts[ELEM_NULL] == 0;

	EMIT(buf, "%s%s in (", negated ? "not (" : "", col->property);
	if (!known)
		EMIT(buf, "?");
	for (i = 0; i < nelems && buf != NULL; i++)
	{
		if (elemnulls[i] || element_kind(col, gtype, elems[i], false, NULL) != ELEM_MEMBER)
			continue;
		if (sent++ > 0)
			appendStringInfoChar(buf, ',');
		(void) append_literal(buf, gtype, col->prop, elemtype, elems[i]);
	}
	EMIT(buf, ")%s", negated ? ")" : "");
	if (gtype != GRAPH_ENUM || counts[ELEM_NON_MEMBER] > 0)
		return MSGRAPH_COND_SENT;
	return MSGRAPH_COND_EXACT;
}

/* col IS [NOT] NULL to eq null / ne null: exact. */
static MsgraphCondKind
deparse_nulltest(NullTest *nt, MsgraphDeparseEnv *env, StringInfo buf, bool *nonnullable)
{
	MsgraphColumnMeta *col = column_of((Node *) nt->arg, env, NULL);
	GraphType	gtype;
	bool		nullable;

	if (env->mode != MSGRAPH_FILTER_FULL || nt->argisrow || col == NULL ||
		!column_filterable(col, env, &gtype, &nullable))
		return MSGRAPH_COND_LOCAL;
	*nonnullable = true;		/* a null test is never null itself */
	EMIT(buf, "%s %s null", col->property,
		 nt->nulltesttype == IS_NULL ? "eq" : "ne");
	return MSGRAPH_COND_EXACT;
}


/*
 * Whether cond is "id = value" or "id = ANY(value)", which the scan turns
 * into gets by id.  Sets the value expression and whether it is an array.
 */
bool
msgraph_id_lookup_value(Node *cond, MsgraphDeparseEnv *env, Node **value,
						bool *is_array)
{
	MsgraphColumnMeta *col;
	CmpOp		cmp;
	Oid			ltype;
	Oid			rtype;

	if (IsA(cond, RestrictInfo))
		cond = (Node *) ((RestrictInfo *) cond)->clause;

	if (IsA(cond, OpExpr) && list_length(((OpExpr *) cond)->args) == 2)
	{
		OpExpr	   *op = (OpExpr *) cond;
		Node	   *left = linitial(op->args);
		Node	   *right = lsecond(op->args);

		cmp = operator_kind(op->opno, &ltype, &rtype);
		if (cmp != CMP_EQ || ltype != TEXTOID || rtype != TEXTOID)
			return false;
		if ((col = column_of(left, env, NULL)) == NULL)
		{
			col = column_of(right, env, NULL);
			right = left;
		}
		if (col == NULL || strcmp(col->property, "id") != 0 ||
			!is_value_expr(right, env->relid))
			return false;
		*value = right;
		*is_array = false;
		return true;
	}
	if (IsA(cond, ScalarArrayOpExpr))
	{
		ScalarArrayOpExpr *saop = (ScalarArrayOpExpr *) cond;
		Node	   *array = lsecond(saop->args);

		cmp = operator_kind(saop->opno, &ltype, &rtype);
		if (!saop->useOr || cmp != CMP_EQ || ltype != TEXTOID || rtype != TEXTOID)
			return false;
		col = column_of(linitial(saop->args), env, NULL);
		if (col == NULL || strcmp(col->property, "id") != 0 ||
			!is_value_expr(array, env->relid))
			return false;
		/* a constant list: only a short one is worth a get per id */
		if (IsA(array, Const) && !((Const *) array)->constisnull &&
			ArrayGetNItems(ARR_NDIM(DatumGetArrayTypeP(((Const *) array)->constvalue)),
						   ARR_DIMS(DatumGetArrayTypeP(((Const *) array)->constvalue))) > 20)
			return false;
		*value = array;
		*is_array = true;
		return true;
	}
	return false;
}
