/*-------------------------------------------------------------------------
 *
 * convert.c
 *		  Turning Graph entities (json-c objects) into tuples of the foreign
 *		  table's declared column types.
 *
 * Everything that can be decided once per scan is decided in
 * msgraph_build_columns(): where each column's value comes from (a dotted
 * property path, the whole entity, a derived column), and how it is
 * converted (a fast path for the common types, else the type's input
 * function, looked up once).  Per row only the values the query uses are
 * looked up and converted.
 *
 * A value that does not fit its column is an ERROR, never a silent
 * truncation or NULL; the error context names the table, the column, the
 * property and the row's id.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "msgraph_fdw.h"
#include "msgraph_json.h"

/* Fast paths; anything else goes through the type's input function. */
enum
{
	CONV_TEXT,
	CONV_BOOL,
	CONV_INT4,
	CONV_INT8,
	CONV_FLOAT8,
	CONV_TIMESTAMPTZ,
	CONV_JSONB,
	CONV_ARRAY,
	CONV_INPUT
};

/* Error context while converting one value. */
typedef struct ConvertContext
{
	Relation	rel;
	MsgraphColumn *col;
	const char *id;
} ConvertContext;

static void convert_error_callback(void *arg);
static Datum convert_value(MsgraphColumn *col, struct json_object *v, bool *isnull);
static Datum convert_array(MsgraphColumn *col, struct json_object *v);
static Datum convert_string_list(MsgraphColumn *col, const char **items, int nitems);
static const char *json_text(struct json_object *v, size_t *len);
static char *server_string(const char *s, size_t len);
static Datum derived_value(MsgraphColumn *col, struct json_object *entity, bool *isnull);
static bool parse_graph_timestamp(const char *s, size_t len, TimestampTz *result);
static Jsonb *json_to_jsonb(struct json_object *v);


/*
 * The property option of a column, or its default (snake_case name to
 * lowerCamelCase).
 */
char *
msgraph_column_property(Relation rel, AttrNumber attnum)
{
	List	   *options = GetForeignColumnOptions(RelationGetRelid(rel), attnum);
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "property") == 0)
			return defGetString(def);
	}
	return msgraph_default_property_name(
		NameStr(TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attname));
}

/*
 * Describe how each of the given columns (attribute numbers) is filled.
 * Called once per scan.
 */
MsgraphColumn *
msgraph_build_columns(Relation rel, const GraphResource *res, List *attnums,
					  int *ncolumns)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	MsgraphColumn *cols = palloc0(sizeof(MsgraphColumn) * Max(1, list_length(attnums)));
	int			n = 0;
	ListCell   *lc;

	foreach(lc, attnums)
	{
		AttrNumber	attnum = lfirst_int(lc);
		Form_pg_attribute attr = TupleDescAttr(tupdesc, attnum - 1);
		MsgraphColumn *col = &cols[n++];
		Oid			infunc;
		Oid			basetype;

		col->attnum = attnum;
		col->attname = pstrdup(NameStr(attr->attname));
		col->property = msgraph_column_property(rel, attnum);
		col->typid = attr->atttypid;
		col->typmod = attr->atttypmod;

		if (strcmp(col->property, "$") == 0)
			col->source = MSGRAPH_SRC_RAW;
		else if (res && (col->derived = graph_catalog_find_derived(res, col->property)) != NULL)
			col->source = MSGRAPH_SRC_DERIVED;
		else
		{
			char	   *copy = pstrdup(col->property);
			char	   *tok;
			char	   *save;

			col->source = MSGRAPH_SRC_PROPERTY;
			col->path = palloc(sizeof(char *) * (strlen(copy) + 1));
			for (tok = strtok_r(copy, ".", &save); tok; tok = strtok_r(NULL, ".", &save))
				col->path[col->npath++] = tok;
			if (col->npath == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid property \"%s\" for column \"%s\" of foreign table \"%s\"",
								col->property, col->attname, RelationGetRelationName(rel))));
		}

		/* domains convert through their input function, which checks them */
		basetype = col->typid;
		switch (basetype)
		{
			case TEXTOID:
				col->kind = CONV_TEXT;
				break;
			case BOOLOID:
				col->kind = CONV_BOOL;
				break;
			case INT4OID:
				col->kind = CONV_INT4;
				break;
			case INT8OID:
				col->kind = CONV_INT8;
				break;
			case FLOAT8OID:
				col->kind = CONV_FLOAT8;
				break;
			case TIMESTAMPTZOID:
				col->kind = CONV_TIMESTAMPTZ;
				break;
			case JSONBOID:
				col->kind = CONV_JSONB;
				break;
			default:
				col->kind = CONV_INPUT;
				break;
		}

		col->elemtype = get_element_type(col->typid);
		if (OidIsValid(col->elemtype) && get_typtype(col->typid) == TYPTYPE_BASE &&
			type_is_array(col->typid))
		{
			col->kind = CONV_ARRAY;
			get_typlenbyvalalign(col->elemtype, &col->elemlen, &col->elembyval,
								 &col->elemalign);
			getTypeInputInfo(col->elemtype, &infunc, &col->ioparam);
		}
		else
			getTypeInputInfo(col->typid, &infunc, &col->ioparam);
		fmgr_info(infunc, &col->infunc);
	}
	*ncolumns = n;
	return cols;
}

/*
 * What the columns need from Graph: the whole entity (no $select then),
 * the top-level properties to $select (after "id"), and whether $expand
 * is needed for a derived navigation column.
 */
void
msgraph_columns_needed(const GraphResource *res, MsgraphColumn *cols, int ncols,
					   bool *need_raw, StringInfo select, bool *need_expand)
{
	List	   *names = list_make1("id");
	ListCell   *lc;
	int			i;

	*need_raw = false;
	*need_expand = false;
	for (i = 0; i < ncols; i++)
	{
		MsgraphColumn *col = &cols[i];
		const char *name = NULL;
		bool		dup = false;

		switch (col->source)
		{
			case MSGRAPH_SRC_RAW:
				*need_raw = true;
				break;
			case MSGRAPH_SRC_DERIVED:
				if (col->derived->kind == GRAPH_DERIVED_EXPAND)
					*need_expand = true;
				else
					name = col->derived->source;
				break;
			case MSGRAPH_SRC_PROPERTY:
				name = col->path[0];
				break;
		}
		if (name == NULL)
			continue;
		foreach(lc, names)
		{
			if (strcmp((char *) lfirst(lc), name) == 0)
				dup = true;
		}
		if (!dup)
			names = lappend(names, (char *) name);
	}

	resetStringInfo(select);
	foreach(lc, names)
	{
		if (select->len > 0)
			appendStringInfoChar(select, ',');
		appendStringInfoString(select, (char *) lfirst(lc));
	}
}

/*
 * Fill values/nulls (indexed by attnum - 1) for the given columns from one
 * entity.  Columns not listed are left as the caller set them (NULL).
 */
void
msgraph_convert_entity(Relation rel, MsgraphColumn *cols, int ncols,
					   struct json_object *entity, Datum *values, bool *nulls)
{
	ErrorContextCallback errcb;
	ConvertContext ctx;
	int			i;

	ctx.rel = rel;
	ctx.col = NULL;
	ctx.id = msgraph_json_get_string(entity, "id");
	errcb.callback = convert_error_callback;
	errcb.arg = &ctx;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	for (i = 0; i < ncols; i++)
	{
		MsgraphColumn *col = &cols[i];
		struct json_object *v = NULL;
		int			k;
		bool		isnull = true;
		Datum		d = (Datum) 0;

		ctx.col = col;
		switch (col->source)
		{
			case MSGRAPH_SRC_RAW:
				d = convert_value(col, entity, &isnull);
				break;
			case MSGRAPH_SRC_DERIVED:
				d = derived_value(col, entity, &isnull);
				break;
			case MSGRAPH_SRC_PROPERTY:
				v = entity;
				for (k = 0; k < col->npath && v != NULL; k++)
					v = msgraph_json_get(v, col->path[k]);
				d = convert_value(col, v, &isnull);
				break;
		}
		values[col->attnum - 1] = d;
		nulls[col->attnum - 1] = isnull;
	}

	error_context_stack = errcb.previous;
}

static void
convert_error_callback(void *arg)
{
	ConvertContext *ctx = (ConvertContext *) arg;

	if (ctx->col)
		errcontext("column \"%s\" of foreign table \"%s\", property \"%s\", row id \"%s\"",
				   ctx->col->attname, RelationGetRelationName(ctx->rel),
				   ctx->col->property, ctx->id ? ctx->id : "(none)");
}

/*
 * The text form of a JSON value: a string's contents, or the JSON text of
 * anything else (numbers, booleans, objects, arrays).  The result points
 * into json-c's memory and lives as long as the page.
 */
static const char *
json_text(struct json_object *v, size_t *len)
{
	if (json_object_is_type(v, json_type_string))
	{
		*len = (size_t) json_object_get_string_len(v);
		return json_object_get_string(v);
	}
	return json_object_to_json_string_length(v, JSON_C_TO_STRING_PLAIN |
											 JSON_C_TO_STRING_NOSLASHESCAPE,
											 len);
}

/*
 * A NUL-terminated copy of s in the database encoding.  Graph sends UTF-8
 * (validated by the page parser); text cannot hold U+0000.
 */
static char *
server_string(const char *s, size_t len)
{
	char	   *conv;

	if (memchr(s, '\0', len) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNTRANSLATABLE_CHARACTER),
				 errmsg("the value holds the character U+0000, which PostgreSQL text cannot store")));
	if (GetDatabaseEncoding() == PG_UTF8)
		return pnstrdup(s, len);
	conv = pg_any_to_server(s, (int) len, PG_UTF8);
	return (conv == s) ? pnstrdup(s, len) : conv;
}

/*
 * The timestamps Graph sends, "YYYY-MM-DDTHH:MM:SS[.fffffff]Z", without
 * the general date parser.  The fraction is rounded exactly as
 * timestamptz_in rounds it (strtod of the fraction, then rint of the
 * microseconds), so both paths give the same value.  Returns false for
 * anything else, which then goes through timestamptz_in.
 */
static bool
parse_graph_timestamp(const char *s, size_t len, TimestampTz *result)
{
	struct pg_tm tm;
	fsec_t		fsec = 0;
	size_t		i;
	Timestamp	ts;

#define DIGITS2(p) (((p)[0] - '0') * 10 + ((p)[1] - '0'))
	if (len < 20 || s[len - 1] != 'Z' || s[4] != '-' || s[7] != '-' ||
		s[10] != 'T' || s[13] != ':' || s[16] != ':')
		return false;
	for (i = 0; i < 19; i++)
	{
		if (i == 4 || i == 7 || i == 10 || i == 13 || i == 16)
			continue;
		if (s[i] < '0' || s[i] > '9')
			return false;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = DIGITS2(s) * 100 + DIGITS2(s + 2);
	tm.tm_mon = DIGITS2(s + 5);
	tm.tm_mday = DIGITS2(s + 8);
	tm.tm_hour = DIGITS2(s + 11);
	tm.tm_min = DIGITS2(s + 14);
	tm.tm_sec = DIGITS2(s + 17);
#undef DIGITS2
	if (len > 20)
	{
		char		frac[16];
		size_t		n = len - 20;	/* ".fffffff" */

		if (s[19] != '.' || n < 2 || n > 10)
			return false;
		for (i = 20; i < len - 1; i++)
		{
			if (s[i] < '0' || s[i] > '9')
				return false;
		}
		memcpy(frac, s + 19, n);
		frac[n] = '\0';
		fsec = (fsec_t) rint(strtod(frac, NULL) * 1000000);
	}
	else if (s[19] != 'Z')
		return false;
	/* timestamptz_in knows no year 0 (1 BC is year 0 to tm2timestamp) */
	if (tm.tm_year < 1 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
		tm.tm_mday > day_tab[isleap(tm.tm_year)][tm.tm_mon - 1] ||
		tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 59)
		return false;
	if (tm2timestamp(&tm, fsec, NULL, &ts) != 0 || !IS_VALID_TIMESTAMP(ts))
		return false;
	*result = (TimestampTz) ts;
	return true;
}

/* A Graph timestamp string as PostgreSQL reads it, for the scan's windows. */
bool
msgraph_parse_timestamp(const char *s, TimestampTz *result)
{
	if (parse_graph_timestamp(s, strlen(s), result))
		return true;
	*result = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum(s),
													  ObjectIdGetDatum(InvalidOid),
													  Int32GetDatum(-1)));
	return true;
}

/* Add a json-c value to a jsonb being built. */
static JsonbValue *
push_json(JsonbParseState **state, struct json_object *v, JsonbIteratorToken token)
{
	JsonbValue	jv;

	switch (json_object_get_type(v))
	{
		case json_type_object:
			{
				pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
				{
					json_object_object_foreach(v, key, child)
					{
						JsonbValue	k;

						k.type = jbvString;
						k.val.string.val = key;
						k.val.string.len = (int) strlen(key);
						pushJsonbValue(state, WJB_KEY, &k);
						push_json(state, child, WJB_VALUE);
					}
				}
				return pushJsonbValue(state, WJB_END_OBJECT, NULL);
			}
		case json_type_array:
			{
				size_t		n = json_object_array_length(v);
				size_t		i;

				pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
				for (i = 0; i < n; i++)
					push_json(state, json_object_array_get_idx(v, i), WJB_ELEM);
				return pushJsonbValue(state, WJB_END_ARRAY, NULL);
			}
		case json_type_null:
			jv.type = jbvNull;
			break;
		case json_type_boolean:
			jv.type = jbvBool;
			jv.val.boolean = json_object_get_boolean(v);
			break;
		case json_type_int:
			jv.type = jbvNumeric;
			if (json_object_get_int64(v) == INT64_MAX &&
				json_object_get_uint64(v) != (uint64) INT64_MAX)
				jv.val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in,
																	 CStringGetDatum(json_object_to_json_string(v)),
																	 ObjectIdGetDatum(InvalidOid),
																	 Int32GetDatum(-1)));
			else
				jv.val.numeric = int64_to_numeric(json_object_get_int64(v));
			break;
		case json_type_double:
			/* json-c keeps the number's text as it was sent */
			jv.type = jbvNumeric;
			jv.val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in,
																 CStringGetDatum(json_object_to_json_string(v)),
																 ObjectIdGetDatum(InvalidOid),
																 Int32GetDatum(-1)));
			break;
		case json_type_string:
			jv.type = jbvString;
			jv.val.string.val = (char *) json_object_get_string(v);
			jv.val.string.len = json_object_get_string_len(v);
			if (memchr(jv.val.string.val, '\0', jv.val.string.len) != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_UNTRANSLATABLE_CHARACTER),
						 errmsg("unsupported Unicode escape sequence"),
						 errdetail("\\u0000 cannot be converted to text.")));
			break;
	}
	if (*state == NULL)
	{
		/* a scalar at the top: jsonb wraps it in a one-element raw array */
		JsonbValue	arr;

		arr.type = jbvArray;
		arr.val.array.rawScalar = true;
		arr.val.array.nElems = 1;
		pushJsonbValue(state, WJB_BEGIN_ARRAY, &arr);
		pushJsonbValue(state, WJB_ELEM, &jv);
		return pushJsonbValue(state, WJB_END_ARRAY, NULL);
	}
	return pushJsonbValue(state, token, &jv);
}

static Jsonb *
json_to_jsonb(struct json_object *v)
{
	JsonbParseState *state = NULL;

	return JsonbValueToJsonb(push_json(&state, v, WJB_VALUE));
}

/* Convert one JSON value (NULL = absent) to the column's type. */
static Datum
convert_value(MsgraphColumn *col, struct json_object *v, bool *isnull)
{
	const char *s;
	size_t		len;

	if (v == NULL || json_object_is_type(v, json_type_null))
	{
		*isnull = true;
		return (Datum) 0;
	}
	*isnull = false;

	switch (col->kind)
	{
		case CONV_TEXT:
			s = json_text(v, &len);
			if (memchr(s, '\0', len) == NULL && GetDatabaseEncoding() == PG_UTF8)
				return PointerGetDatum(cstring_to_text_with_len(s, (int) len));
			return PointerGetDatum(cstring_to_text(server_string(s, len)));

		case CONV_BOOL:
			if (json_object_is_type(v, json_type_boolean))
				return BoolGetDatum(json_object_get_boolean(v));
			break;

		case CONV_INT4:
			if (json_object_is_type(v, json_type_int))
			{
				int64		i = json_object_get_int64(v);

				if (i >= PG_INT32_MIN && i <= PG_INT32_MAX &&
					!(i == INT64_MAX && json_object_get_uint64(v) != (uint64) INT64_MAX))
					return Int32GetDatum((int32) i);
			}
			break;

		case CONV_INT8:
			if (json_object_is_type(v, json_type_int))
			{
				int64		i = json_object_get_int64(v);

				/* json-c saturates values above INT64_MAX: let int8in say so */
				if (!(i == INT64_MAX && json_object_get_uint64(v) != (uint64) INT64_MAX))
					return Int64GetDatum(i);
			}
			break;

		case CONV_FLOAT8:
			if (json_object_is_type(v, json_type_int))
				return Float8GetDatum(json_object_get_double(v));
			if (json_object_is_type(v, json_type_double))
			{
				double		d = json_object_get_double(v);

				/*
				 * json-c's strtod makes 1e400 infinite and 1e-400 zero
				 * without a word, where float8in refuses both as out of
				 * range: those (and a true zero, which is rare) go through
				 * float8in with the number as sent.
				 */
				if (isfinite(d) && d != 0.0)
					return Float8GetDatum(d);
			}
			break;

		case CONV_TIMESTAMPTZ:
			if (json_object_is_type(v, json_type_string))
			{
				TimestampTz ts;

				if (parse_graph_timestamp(json_object_get_string(v),
										  (size_t) json_object_get_string_len(v), &ts))
					return TimestampTzGetDatum(ts);
			}
			break;

		case CONV_JSONB:
			/* built from the DOM directly: no text round trip */
			if (GetDatabaseEncoding() == PG_UTF8)
				return JsonbPGetDatum(json_to_jsonb(v));
			s = json_object_to_json_string_length(v, JSON_C_TO_STRING_PLAIN |
												  JSON_C_TO_STRING_NOSLASHESCAPE,
												  &len);
			return InputFunctionCall(&col->infunc, server_string(s, len),
									 col->ioparam, col->typmod);

		case CONV_ARRAY:
			return convert_array(col, v);

		case CONV_INPUT:
			break;
	}

	/* the general case: the text form through the type's input function */
	s = json_text(v, &len);
	if (col->typid == JSONOID && json_object_is_type(v, json_type_string))
		s = json_object_to_json_string_length(v, JSON_C_TO_STRING_PLAIN |
											  JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	return InputFunctionCall(&col->infunc, server_string(s, len),
							 col->ioparam, col->typmod);
}

/* A JSON array to a one-dimensional array of the column's element type. */
static Datum
convert_array(MsgraphColumn *col, struct json_object *v)
{
	size_t		n;
	size_t		i;
	Datum	   *elems;
	bool	   *elemnulls;
	int			dims[1];
	int			lbs[1] = {1};

	if (!json_object_is_type(v, json_type_array))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input for type %s: the JSON value is not an array",
						format_type_be(col->typid))));

	n = json_object_array_length(v);
	elems = palloc(sizeof(Datum) * Max(n, 1));
	elemnulls = palloc(sizeof(bool) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		struct json_object *e = json_object_array_get_idx(v, i);
		const char *s;
		size_t		len;

		if (e == NULL || json_object_is_type(e, json_type_null))
		{
			elems[i] = (Datum) 0;
			elemnulls[i] = true;
			continue;
		}
		s = json_text(e, &len);
		elemnulls[i] = false;
		if (col->elemtype == TEXTOID)
			elems[i] = PointerGetDatum(cstring_to_text(server_string(s, len)));
		else
		{
			/* an array type's typmod is its elements' (varchar(8)[]), as in array_in */
			elems[i] = InputFunctionCall(&col->infunc, server_string(s, len),
										 col->ioparam, col->typmod);
		}
	}
	dims[0] = (int) n;
	if (n == 0)
		return PointerGetDatum(construct_empty_array(col->elemtype));
	return PointerGetDatum(construct_md_array(elems, elemnulls, 1, dims, lbs,
											  col->elemtype, col->elemlen,
											  col->elembyval, col->elemalign));
}

/*
 * A list of strings (a derived column's value, already in the database
 * encoding) in the column's type: an array directly, anything else from
 * the JSON text of the list.
 */
static Datum
convert_string_list(MsgraphColumn *col, const char **items, int nitems)
{
	StringInfoData buf;
	int			i;

	if (col->kind == CONV_ARRAY)
	{
		Datum	   *elems;
		int			dims[1];
		int			lbs[1] = {1};
		bool	   *elemnulls;

		if (nitems == 0)
			return PointerGetDatum(construct_empty_array(col->elemtype));
		elems = palloc(sizeof(Datum) * nitems);
		elemnulls = palloc0(sizeof(bool) * nitems);
		for (i = 0; i < nitems; i++)
		{
			elems[i] = (col->elemtype == TEXTOID)
				? PointerGetDatum(cstring_to_text(items[i]))
				: InputFunctionCall(&col->infunc, (char *) items[i], col->ioparam,
									col->typmod);
		}
		dims[0] = nitems;
		return PointerGetDatum(construct_md_array(elems, elemnulls, 1, dims, lbs,
												  col->elemtype, col->elemlen,
												  col->elembyval, col->elemalign));
	}

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	for (i = 0; i < nitems; i++)
	{
		if (i > 0)
			appendStringInfoChar(&buf, ',');
		escape_json(&buf, items[i]);
	}
	appendStringInfoChar(&buf, ']');
	if (col->kind == CONV_TEXT)
		return PointerGetDatum(cstring_to_text_with_len(buf.data, buf.len));
	return InputFunctionCall(&col->infunc, buf.data, col->ioparam, col->typmod);
}

/*
 * A derived column: the device names or user principal names of an
 * alert's evidence, or an expanded navigation property.  The evidence
 * columns are NULL when the alert has no evidence array and an empty
 * array when none of its evidence is of that kind.
 */
static Datum
derived_value(MsgraphColumn *col, struct json_object *entity, bool *isnull)
{
	const GraphDerived *d = col->derived;
	struct json_object *src = msgraph_json_get(entity, d->source);
	const char *want_type;
	const char **items;
	int			nitems = 0;
	size_t		n;
	size_t		i;

	if (d->kind == GRAPH_DERIVED_EXPAND)
		return convert_value(col, src, isnull);

	if (src == NULL || !json_object_is_type(src, json_type_array))
	{
		*isnull = true;
		return (Datum) 0;
	}
	*isnull = false;

	want_type = (d->kind == GRAPH_DERIVED_EVIDENCE_DEVICE_NAMES)
		? "#microsoft.graph.security.deviceEvidence"
		: "#microsoft.graph.security.userEvidence";
	n = json_object_array_length(src);
	items = palloc(sizeof(char *) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		struct json_object *e = json_object_array_get_idx(src, i);
		struct json_object *type = msgraph_json_get(e, "@odata.type");
		struct json_object *value;

		/* the lengths too: a "\u0000" must not end a name early */
		if (type == NULL || !json_object_is_type(type, json_type_string) ||
			(size_t) json_object_get_string_len(type) != strlen(want_type) ||
			strcmp(json_object_get_string(type), want_type) != 0)
			continue;
		if (d->kind == GRAPH_DERIVED_EVIDENCE_DEVICE_NAMES)
			value = msgraph_json_get(e, "deviceDnsName");
		else
			value = msgraph_json_get(msgraph_json_get(e, "userAccount"),
									 "userPrincipalName");
		if (value == NULL || !json_object_is_type(value, json_type_string))
			continue;
		/* the names are used as C strings from here on */
		items[nitems++] = server_string(json_object_get_string(value),
										(size_t) json_object_get_string_len(value));
	}
	return convert_string_list(col, items, nitems);
}
