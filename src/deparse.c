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
 * interface.md gives: $select, $filter, $orderby, $top, $count, $expand.
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
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "msgraph_fdw.h"

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
 * never disagree.  It renders a condition into buf and returns true, or
 * returns false when nothing of it can be sent.  *exact says whether Graph
 * selects exactly the rows PostgreSQL would (interface.md, "Exact
 * conditions"); a condition that is not exact is also evaluated locally.
 *
 * Rendering may widen but never narrow: an AND may drop the parts it
 * cannot send (it then is no longer exact), an OR or NOT is sent whole or
 * not at all.  The same walker runs at plan time (EXPLAIN shows values
 * known only at run time as "?") and at scan start with the run-time
 * values; if a condition that was planned exact cannot be rendered exactly
 * at run time (say a parameter holds a value that is no enum member), the
 * executor evaluates it locally.
 * ----------------------------------------------------------------
 */

/* Kind of comparison, from the operator's name. */
typedef enum CmpOp
{
	CMP_EQ, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE, CMP_OTHER
} CmpOp;

static const char *const cmp_odata[] = {"eq", "ne", "lt", "le", "gt", "ge", NULL};

static bool deparse_node(Node *node, MsgraphDeparseEnv *env, StringInfo buf,
						 bool *exact, bool *nonnullable);
static bool deparse_bool(BoolExpr *b, MsgraphDeparseEnv *env, StringInfo buf,
						 bool *exact, bool *nonnullable);
static bool deparse_opexpr(OpExpr *op, MsgraphDeparseEnv *env, StringInfo buf,
						   bool *exact, bool *nonnullable);
static bool deparse_saop(ScalarArrayOpExpr *saop, MsgraphDeparseEnv *env,
						 StringInfo buf, bool *exact, bool *nonnullable);
static bool deparse_nulltest(NullTest *nt, MsgraphDeparseEnv *env, StringInfo buf,
							 bool *exact, bool *nonnullable);
static bool deparse_timestamp_cmp(const char *name, CmpOp cmp, Datum value,
								  bool known, StringInfo buf);
static MsgraphColumnMeta *column_of(Node *node, MsgraphDeparseEnv *env, AttrNumber *attnum);
static bool column_filterable(MsgraphColumnMeta *col, MsgraphDeparseEnv *env,
							  GraphType *type, bool *nullable);
static CmpOp operator_kind(Oid opno, Oid *lefttype, Oid *righttype);
static bool value_of(Node *expr, MsgraphDeparseEnv *env, Datum *value, bool *isnull,
					 bool *known);
static bool append_literal(StringInfo buf, GraphType type, const GraphProperty *prop,
						   Oid typid, Datum value, bool *member);
static bool type_fits(GraphType gtype, Oid typid);

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
		List	   *options;
		ListCell   *lc;

		col->filterable = -1;
		if (attr->attisdropped)
			continue;
		col->typid = attr->atttypid;
		col->property = msgraph_column_property(rel, i + 1);
		options = GetForeignColumnOptions(RelationGetRelid(rel), i + 1);
		foreach(lc, options)
		{
			DefElem    *def = (DefElem *) lfirst(lc);

			if (strcmp(def->defname, "filterable") == 0)
				col->filterable = defGetBoolean(def) ? 1 : 0;
		}
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
bool
msgraph_is_value_expr(Node *node, Index relid)
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

bool
msgraph_deparse_condition(Node *cond, MsgraphDeparseEnv *env, StringInfo buf,
						  bool *exact)
{
	bool		nonnullable;

	if (env->mode == MSGRAPH_FILTER_NONE)
		return false;
	*exact = true;
	return deparse_node(cond, env, buf, exact, &nonnullable);
}

static bool
deparse_node(Node *node, MsgraphDeparseEnv *env, StringInfo buf, bool *exact,
			 bool *nonnullable)
{
	*nonnullable = true;
	if (node == NULL)
		return false;
	switch (nodeTag(node))
	{
		case T_BoolExpr:
			return deparse_bool((BoolExpr *) node, env, buf, exact, nonnullable);
		case T_OpExpr:
			return deparse_opexpr((OpExpr *) node, env, buf, exact, nonnullable);
		case T_ScalarArrayOpExpr:
			return deparse_saop((ScalarArrayOpExpr *) node, env, buf, exact, nonnullable);
		case T_NullTest:
			return deparse_nulltest((NullTest *) node, env, buf, exact, nonnullable);
		case T_RestrictInfo:
			return deparse_node((Node *) ((RestrictInfo *) node)->clause, env, buf,
								exact, nonnullable);
		default:
			return false;
	}
}

static bool
deparse_bool(BoolExpr *b, MsgraphDeparseEnv *env, StringInfo buf, bool *exact,
			 bool *nonnullable)
{
	ListCell   *lc;
	int			sent = 0;
	bool		all_exact = true;

	if (b->boolop == AND_EXPR)
	{
		StringInfoData part;

		initStringInfo(&part);
		foreach(lc, b->args)
		{
			bool		e = true;
			bool		nn;

			resetStringInfo(&part);
			if (!deparse_node((Node *) lfirst(lc), env, &part, &e, &nn))
			{
				all_exact = false;	/* a dropped part widens the AND */
				continue;
			}
			all_exact &= e;
			*nonnullable &= nn;
			appendStringInfo(buf, "%s%s", sent++ > 0 ? " and " : "", part.data);
		}
		*exact = *exact && all_exact;
		return sent > 0;
	}

	/* OR and NOT are not in the fallback set */
	if (env->mode != MSGRAPH_FILTER_FULL)
		return false;

	if (b->boolop == OR_EXPR)
	{
		StringInfoData part;
		StringInfoData all;

		initStringInfo(&part);
		initStringInfo(&all);
		foreach(lc, b->args)
		{
			bool		e = true;
			bool		nn;

			resetStringInfo(&part);
			/* every branch must be sent, or the OR would narrow */
			if (!deparse_node((Node *) lfirst(lc), env, &part, &e, &nn))
				return false;
			all_exact &= e;
			*nonnullable &= nn;
			appendStringInfo(&all, "%s(%s)", sent++ > 0 ? " or " : "", part.data);
		}
		appendStringInfo(buf, "(%s)", all.data);
		*exact = *exact && all_exact;
		return true;
	}
	else
	{
		/* NOT: only over exact conditions on non-nullable properties */
		StringInfoData part;
		bool		e = true;
		bool		nn;

		initStringInfo(&part);
		if (!deparse_node((Node *) linitial(b->args), env, &part, &e, &nn) ||
			!e || !nn)
			return false;
		appendStringInfo(buf, "not (%s)", part.data);
		return true;
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

	if (!msgraph_is_value_expr(expr, env->relid))
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
 * Write a literal for Graph.  Strings are single-quoted with quotes
 * doubled, so that no value can change the shape of the filter.  Returns
 * false for a value that cannot be written (NaN, a GUID that is not one);
 * *member is false for an enum literal that is not a member.
 */
static bool
append_literal(StringInfo buf, GraphType type, const GraphProperty *prop, Oid typid,
			   Datum value, bool *member)
{
	*member = true;
	switch (type)
	{
		case GRAPH_ENUM:
		case GRAPH_STRING:
		case GRAPH_GUID:
			{
				char	   *s = TextDatumGetCString(value);
				const char *p;

				if (type == GRAPH_ENUM && prop && prop->enumtype &&
					!graph_enum_has_member(prop->enumtype, s))
				{
					*member = false;
					return false;
				}
				appendStringInfoChar(buf, '\'');
				for (p = s; *p; p++)
				{
					if (*p == '\'')
						appendStringInfoChar(buf, '\'');
					appendStringInfoChar(buf, *p);
				}
				appendStringInfoChar(buf, '\'');
				return true;
			}
		case GRAPH_INT32:
		case GRAPH_INT64:
			if (typid == INT4OID)
				appendStringInfo(buf, "%d", DatumGetInt32(value));
			else
				appendStringInfo(buf, INT64_FORMAT, DatumGetInt64(value));
			return true;
		case GRAPH_DOUBLE:
			{
				double		d = DatumGetFloat8(value);

				if (isnan(d) || isinf(d))
					return false;
				appendStringInfoString(buf, float8out_internal(d));
				return true;
			}
		case GRAPH_BOOLEAN:
			appendStringInfoString(buf, DatumGetBool(value) ? "true" : "false");
			return true;
		default:
			return false;
	}
}

/* Append an unknown value ("?" for EXPLAIN) or a literal. */
static bool
append_value(StringInfo buf, bool known, GraphType type, const GraphProperty *prop,
			 Oid typid, Datum value, bool *member)
{
	*member = true;
	if (!known)
	{
		appendStringInfoChar(buf, '?');
		return true;
	}
	return append_literal(buf, type, prop, typid, value, member);
}

static bool
deparse_opexpr(OpExpr *op, MsgraphDeparseEnv *env, StringInfo buf, bool *exact,
			   bool *nonnullable)
{
	Node	   *left;
	Node	   *right;
	Node	   *valexpr;
	MsgraphColumnMeta *col;
	CmpOp		cmp;
	Oid			ltype;
	Oid			rtype;
	GraphType	gtype;
	bool		nullable;
	Datum		value;
	bool		isnull;
	bool		known;
	bool		member;
	static const CmpOp flipped[] = {CMP_EQ, CMP_NE, CMP_GT, CMP_GE, CMP_LT, CMP_LE, CMP_OTHER};

	if (list_length(op->args) != 2)
		return false;
	cmp = operator_kind(op->opno, &ltype, &rtype);
	if (cmp == CMP_OTHER)
		return false;
	left = linitial(op->args);
	right = lsecond(op->args);

	if ((col = column_of(left, env, NULL)) != NULL)
		valexpr = right;
	else if ((col = column_of(right, env, NULL)) != NULL)
	{
		Oid			t = ltype;

		valexpr = left;
		cmp = flipped[cmp];		/* c < col is col > c */
		ltype = rtype;
		rtype = t;
	}
	else
		return false;

	/* ltype is now the column's side of the operator, rtype the value's */
	if (!column_filterable(col, env, &gtype, &nullable))
		return false;
	if (!value_of(valexpr, env, &value, &isnull, &known) || isnull)
		return false;
	if (exprType(valexpr) != rtype)
		return false;
	*nonnullable = !nullable;

	if (gtype == GRAPH_DATETIME)
	{
		if (cmp == CMP_NE || ltype != TIMESTAMPTZOID)
			return false;
		/* timestamptz compared with a date or timestamp: as PostgreSQL does */
		if (known && rtype == DATEOID)
			value = DirectFunctionCall1(date_timestamptz, value);
		else if (known && rtype == TIMESTAMPOID)
			value = DirectFunctionCall1(timestamp_timestamptz, value);
		else if (rtype != TIMESTAMPTZOID && rtype != DATEOID && rtype != TIMESTAMPOID)
			return false;
		return deparse_timestamp_cmp(col->prop ? col->prop->name : col->property,
									 cmp, value, known, buf);
	}
	if (ltype != rtype)
		return false;

	if (env->mode == MSGRAPH_FILTER_BASIC && (cmp != CMP_EQ || col->prop == NULL))
		return false;

	switch (gtype)
	{
		case GRAPH_ENUM:
			/* eq, and ne on non-nullable properties; exact with members */
			if (cmp != CMP_EQ && !(cmp == CMP_NE && !nullable))
				return false;
			break;
		case GRAPH_STRING:
		case GRAPH_GUID:
		case GRAPH_BOOLEAN:
			/* Graph's string semantics (case) are not documented: recheck */
			if (cmp != CMP_EQ)
				return false;
			*exact = false;
			break;
		case GRAPH_INT32:
		case GRAPH_INT64:
		case GRAPH_DOUBLE:
			if (cmp == CMP_NE)
				return false;
			*exact = false;
			break;
		default:
			return false;
	}

	appendStringInfo(buf, "%s %s ", col->property, cmp_odata[cmp]);
	if (!append_value(buf, known, gtype, col->prop, ltype, value, &member))
		return false;
	return true;
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
 * col = ANY(array) and col IN (...) to "in", and 'x' = ANY(derived
 * evidence column) to the documented evidence lambda.
 */
static bool
deparse_saop(ScalarArrayOpExpr *saop, MsgraphDeparseEnv *env, StringInfo buf,
			 bool *exact, bool *nonnullable)
{
	Node	   *scalar = linitial(saop->args);
	Node	   *array = lsecond(saop->args);
	MsgraphColumnMeta *col;
	CmpOp		cmp;
	Oid			ltype;
	Oid			rtype;
	GraphType	gtype;
	bool		nullable;
	Datum		value;
	bool		isnull;
	bool		known;

	if (!saop->useOr)
		return false;
	cmp = operator_kind(saop->opno, &ltype, &rtype);
	if (cmp != CMP_EQ || ltype != rtype)
		return false;

	/* 'x' = ANY(evidence_device_names): the evidence lambdas */
	col = column_of(array, env, NULL);
	if (col != NULL)
	{
		bool		member;

		if (env->mode != MSGRAPH_FILTER_FULL || col->derived == NULL ||
			col->derived->lambda_format == NULL || ltype != TEXTOID ||
			col->typid != TEXTARRAYOID)
			return false;
		if (!value_of(scalar, env, &value, &isnull, &known) || isnull ||
			exprType(scalar) != TEXTOID)
			return false;
		{
			StringInfoData lit;

			initStringInfo(&lit);
			if (!append_value(&lit, known, GRAPH_STRING, NULL,
							  TEXTOID, value, &member))
				return false;
			appendStringInfo(buf, col->derived->lambda_format, lit.data);
		}
		*exact = false;
		*nonnullable = false;
		return true;
	}

	/* col = ANY(array): in (...) */
	col = column_of(scalar, env, NULL);
	if (col == NULL || !column_filterable(col, env, &gtype, &nullable))
		return false;
	if (gtype != GRAPH_ENUM && gtype != GRAPH_STRING && gtype != GRAPH_GUID &&
		gtype != GRAPH_INT32 && gtype != GRAPH_INT64)
		return false;
	if (env->mode == MSGRAPH_FILTER_BASIC && col->prop == NULL)
		return false;
	if (!value_of(array, env, &value, &isnull, &known) || isnull)
		return false;
	if (get_element_type(exprType(array)) != ltype)
		return false;
	*nonnullable = !nullable;
	if (gtype != GRAPH_ENUM)
		*exact = false;

	appendStringInfo(buf, "%s in (", col->property);
	if (!known)
		appendStringInfoChar(buf, '?');
	else
	{
		ArrayType  *arr = DatumGetArrayTypeP(value);
		Datum	   *elems;
		bool	   *elemnulls;
		int			nelems;
		int			i;
		int			sent = 0;
		int16		typlen;
		bool		typbyval;
		char		typalign;

		get_typlenbyvalalign(ARR_ELEMTYPE(arr), &typlen, &typbyval, &typalign);
		deconstruct_array(arr, ARR_ELEMTYPE(arr), typlen, typbyval, typalign,
						  &elems, &elemnulls, &nelems);
		if (nelems > 100)
			return false;		/* keep URLs reasonable; evaluate locally */
		for (i = 0; i < nelems; i++)
		{
			StringInfoData lit;
			bool		member;

			if (elemnulls[i])
				continue;		/* NULL equals nothing */
			initStringInfo(&lit);
			if (!append_literal(&lit, gtype, col->prop, ltype, elems[i], &member))
			{
				/* a non-member matches nothing in Graph: drop it, recheck */
				if (!member)
				{
					*exact = false;
					continue;
				}
				return false;
			}
			appendStringInfo(buf, "%s%s", sent++ > 0 ? "," : "", lit.data);
		}
		if (sent == 0)
			return false;
	}
	appendStringInfoChar(buf, ')');
	return true;
}

/* col IS [NOT] NULL to eq null / ne null: exact. */
static bool
deparse_nulltest(NullTest *nt, MsgraphDeparseEnv *env, StringInfo buf, bool *exact,
				 bool *nonnullable)
{
	MsgraphColumnMeta *col = column_of((Node *) nt->arg, env, NULL);
	GraphType	gtype;
	bool		nullable;

	if (env->mode != MSGRAPH_FILTER_FULL || nt->argisrow || col == NULL ||
		!column_filterable(col, env, &gtype, &nullable))
		return false;
	*nonnullable = true;		/* a null test is never null itself */
	appendStringInfo(buf, "%s %s null", col->property,
					 nt->nulltesttype == IS_NULL ? "eq" : "ne");
	return true;
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
			!msgraph_is_value_expr(right, env->relid))
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
			!msgraph_is_value_expr(array, env->relid))
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
