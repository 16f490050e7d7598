/*-------------------------------------------------------------------------
 *
 * convert.c
 *		  Turning Graph entities into tuples of the foreign table's declared
 *		  column types.
 *
 * Everything that can be decided once per scan is decided in
 * msgraph_build_columns(): where each column's value comes from (a dotted
 * property path, the whole entity, a derived column), and how it is
 * converted (a fast path for the common types, else the type's input
 * function, looked up once).  Per row only the values the query uses are
 * looked up and converted.
 *
 * An entity is an item of a list page that the walk of jsoncheck.c has
 * checked and indexed (MsgraphJsonPage), single entities (lookups by id,
 * UPDATE ... RETURNING) included, which paging.c reads as the one item of
 * a page: the values are read from the text itself, strings without
 * escapes are copied once, jsonb is built from the text, and the first
 * component of each column's property was found by the walk.
 *
 * json-c is still needed in one case: after Graph failed on $expand, the
 * scan fetches each entity's navigation collection on its own and attaches
 * it to the entity as the member $expand would have sent, which needs a
 * tree to add to (msgraph_convert_entity).  One set of conversion rules
 * serves both forms (JsonValue below), so a value gives the same datum,
 * or the same error, whichever way it came.
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
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "jsoncheck.h"
#include "jsonpage.h"
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

/* The slot of "id" in the names a page is indexed for (msgraph_columns_names). */
#define ID_SLOT 0

/*
 * One JSON value: a json-c node, or a value of a checked text.  Both NULL:
 * absent (json-c also holds a JSON null as NULL).
 */
typedef struct JsonValue
{
	struct json_object *obj;
	const char *text;			/* the value's first byte */
	size_t		len;
} JsonValue;

/* The members of an object or the elements of an array, either kind. */
typedef struct JsonIter
{
	struct lh_entry *entry;		/* json-c object */
	struct json_object *array;	/* json-c array */
	size_t		i;
	size_t		n;
	MsgraphJsonIter text;		/* checked text */
	bool		is_text;
} JsonIter;

/* Error context while converting one value. */
typedef struct ConvertContext
{
	Relation	rel;
	MsgraphColumn *col;
	JsonValue	id;
} ConvertContext;

static void convert_entity(Relation rel, MsgraphColumn *cols, int ncols,
						   const JsonValue *entity, const char *page,
						   const MsgraphJsonSpan *members,
						   Datum *values, bool *nulls);
static void convert_error_callback(void *arg);
static Datum convert_value(MsgraphColumn *col, const JsonValue *v, bool *isnull);
static Datum convert_array(MsgraphColumn *col, const JsonValue *v);
static Datum convert_string_list(MsgraphColumn *col, const char **items, int nitems);
static char *server_string(const char *s, size_t len);
static Datum input_value(MsgraphColumn *col, char *s, Oid ioparam, int32 typmod);
static Datum derived_value(MsgraphColumn *col, const JsonValue *src, bool *isnull);
static bool parse_graph_timestamp(const char *s, size_t len, TimestampTz *result);
static Jsonb *json_to_jsonb(const JsonValue *v);
static const char *push_text(JsonbParseState **state, const char *p,
							 JsonbIteratorToken token, JsonbValue **result);

/*
 * Access to a JsonValue.  json-c's answers are the reference: for a value
 * of a checked text each function gives what json-c's DOM of the same
 * text gives (json-c's int is a number without fraction or exponent, its
 * double the others; see jsonpage.c for the text form).
 */
static inline JsonValue
jv_dom(struct json_object *obj)
{
	JsonValue	v = {obj, NULL, 0};

	return v;
}

static inline JsonValue
jv_text(const char *text, size_t len)
{
	JsonValue	v = {NULL, text, len};

	return v;
}

static json_type
jv_type(const JsonValue *v)
{
	if (v->text == NULL)
		return json_object_get_type(v->obj);	/* NULL is json_type_null */
	switch (v->text[0])
	{
		case '"':
			return json_type_string;
		case '{':
			return json_type_object;
		case '[':
			return json_type_array;
		case 't':
		case 'f':
			return json_type_boolean;
		case 'n':
			return json_type_null;
		default:
			return msgraph_json_is_integer(v->text, v->len) ? json_type_int : json_type_double;
	}
}

/*
 * A string's contents, decoded (not NUL-terminated for a text value: a
 * pointer into the page when it has no escapes, else a palloc'd copy).
 */
static const char *
jv_string(const JsonValue *v, size_t *len)
{
	const char *s;
	char	   *buf;

	if (v->text == NULL)
	{
		*len = (size_t) json_object_get_string_len(v->obj);
		return json_object_get_string(v->obj);
	}
	s = v->text + 1;
	*len = v->len - 2;
	if (memchr(s, '\\', *len) == NULL)
		return s;
	buf = palloc(*len + 1);
	*len = msgraph_json_decode_string(s, *len, buf);
	buf[*len] = '\0';
	return buf;
}

/* The JSON text of a value as json-c writes it (plain, '/' unescaped). */
static const char *
jv_json(const JsonValue *v, size_t *len)
{
	char	   *buf;

	if (v->text == NULL)
		return json_object_to_json_string_length(v->obj, JSON_C_TO_STRING_PLAIN |
												 JSON_C_TO_STRING_NOSLASHESCAPE,
												 len);
	buf = palloc(v->len + 1);
	*len = msgraph_json_render(v->text, v->len, buf);
	buf[*len] = '\0';
	return buf;
}

/*
 * The text form of a JSON value: a string's contents, or the JSON text of
 * anything else (numbers, booleans, objects, arrays).
 */
static const char *
jv_text_form(const JsonValue *v, size_t *len)
{
	if (jv_type(v) == json_type_string)
		return jv_string(v, len);
	return jv_json(v, len);
}

static bool
jv_bool(const JsonValue *v)
{
	return v->text ? v->text[0] == 't' : json_object_get_boolean(v->obj);
}

/*
 * An int's value; false when it is above INT64_MAX (json-c holds those
 * as uint64 and saturates them to INT64_MAX as int64), with *u set.
 */
static bool
jv_int64(const JsonValue *v, int64 *i, uint64 *u)
{
	if (v->text)
		return msgraph_json_integer(v->text, v->len, (int64_t *) i, (uint64_t *) u);
	*i = json_object_get_int64(v->obj);
	*u = json_object_get_uint64(v->obj);
	return !(*i == INT64_MAX && *u != (uint64) INT64_MAX);
}

/* A number's value as json-c's double (strtod of the number as sent). */
static double
jv_double(const JsonValue *v)
{
	char		local[64];
	char	   *num;
	int64		i;
	uint64		u;

	if (v->text == NULL)
		return json_object_get_double(v->obj);
	if (msgraph_json_is_integer(v->text, v->len))
		return jv_int64(v, &i, &u) ? (double) i : (double) u;
	num = (v->len < sizeof(local)) ? local : palloc(v->len + 1);
	memcpy(num, v->text, v->len);
	num[v->len] = '\0';
	return strtod(num, NULL);
}

/* A number as sent, NUL-terminated, for numeric_in. */
static char *
jv_number(const JsonValue *v)
{
	if (v->text == NULL)
		return (char *) json_object_to_json_string(v->obj);
	return pnstrdup(v->text, v->len);
}

/* The member of an object with this name; absent if v is no object. */
static JsonValue
jv_member(const JsonValue *v, const char *name)
{
	JsonValue	m = {NULL, NULL, 0};

	if (v->text == NULL)
		m.obj = msgraph_json_get(v->obj, name);
	else if (!msgraph_json_member(v->text, v->len, name, strlen(name), &m.text, &m.len))
		m.text = NULL;
	return m;
}

/* Start walking an object or array. */
static void
jv_iter_init(JsonIter *it, const JsonValue *v)
{
	memset(it, 0, sizeof(*it));
	it->is_text = (v->text != NULL);
	if (it->is_text)
		msgraph_json_iter_init(&it->text, v->text, v->len);
	else if (json_object_is_type(v->obj, json_type_object))
		it->entry = json_object_get_object(v->obj)->head;
	else
	{
		it->array = v->obj;
		it->n = json_object_array_length(v->obj);
	}
}

/*
 * The next member (*key, decoded but not always NUL-terminated, if key is
 * given) or element; false after the last.
 */
static bool
jv_iter_next(JsonIter *it, const char **key, int *keylen, JsonValue *child)
{
	if (it->is_text)
	{
		const char *raw;
		size_t		rawlen;

		child->obj = NULL;
		if (!msgraph_json_iter_next(&it->text, key ? &raw : NULL, &rawlen,
									&child->text, &child->len))
			return false;
		if (key && memchr(raw, '\\', rawlen) == NULL)
		{
			*key = raw;
			*keylen = (int) rawlen;
		}
		else if (key)
		{
			char	   *buf = palloc(rawlen + 1);

			*keylen = (int) msgraph_json_decode_string(raw, rawlen, buf);
			*key = buf;
		}
		return true;
	}
	child->text = NULL;
	if (it->array)
	{
		if (it->i >= it->n)
			return false;
		child->obj = json_object_array_get_idx(it->array, it->i++);
		return true;
	}
	if (it->entry == NULL)
		return false;
	*key = (const char *) lh_entry_k(it->entry);
	*keylen = (int) strlen(*key);
	child->obj = (struct json_object *) lh_entry_v(it->entry);
	it->entry = it->entry->next;
	return true;
}

/* The property a column reads (its option, or its name in lowerCamelCase). */
char *
msgraph_column_property(Relation rel, AttrNumber attnum)
{
	char	   *property;
	int			filterable;

	msgraph_column_options(rel, attnum, &property, &filterable);
	return property;
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
		col->slot = -1;
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
 * the top-level properties to $select (after "id"), and the navigation
 * property to $expand for a derived navigation column (NULL for none).
 */
void
msgraph_columns_needed(const GraphResource *res, MsgraphColumn *cols, int ncols,
					   bool *need_raw, StringInfo select, const char **expand)
{
	List	   *names = list_make1("id");
	ListCell   *lc;
	int			i;

	*need_raw = false;
	*expand = NULL;
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
					*expand = col->derived->source;
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
 * The member names a list page is indexed for (MsgraphJsonPage): "id"
 * (for error messages) and the first property component, or the source,
 * of each column, and extra unless it is NULL.  Sets each column's slot
 * and returns that of extra (-1 for none); the names live in the current
 * memory context.
 */
int
msgraph_columns_names(MsgraphColumn *cols, int ncols, const char *extra,
					  MsgraphJsonNames *names)
{
	const char **list = palloc(sizeof(char *) * (ncols + 2));
	size_t	   *lens = palloc(sizeof(size_t) * (ncols + 2));
	int			n = 0;
	int			extra_slot = -1;
	int			i;

	list[n++] = "id";
	for (i = 0; i < ncols; i++)
	{
		MsgraphColumn *col = &cols[i];
		const char *name = NULL;
		int			k;

		col->slot = -1;
		if (col->source == MSGRAPH_SRC_PROPERTY)
			name = col->path[0];
		else if (col->source == MSGRAPH_SRC_DERIVED)
			name = col->derived->source;
		if (name == NULL)
			continue;
		for (k = 0; k < n && strcmp(list[k], name) != 0; k++)
			;
		if (k == n)
			list[n++] = name;
		col->slot = k;
	}
	if (extra != NULL)
	{
		for (extra_slot = 0; extra_slot < n && strcmp(list[extra_slot], extra) != 0; extra_slot++)
			;
		if (extra_slot == n)
			list[n++] = extra;
	}
	for (i = 0; i < n; i++)
		lens[i] = strlen(list[i]);
	names->nnames = n;
	names->names = list;
	names->lens = lens;
	names->hashes = palloc(sizeof(uint64) * n);
	names->table = palloc(sizeof(int32) * msgraph_json_names_slots(n));
	msgraph_json_names_fill(names);
	return extra_slot;
}

/*
 * Fill values/nulls (indexed by attnum - 1) for the given columns from one
 * entity.  Columns not listed are left as the caller set them (NULL).
 */
void
msgraph_convert_entity(Relation rel, MsgraphColumn *cols, int ncols,
					   struct json_object *entity, Datum *values, bool *nulls)
{
	JsonValue	v = jv_dom(entity);

	convert_entity(rel, cols, ncols, &v, NULL, NULL, values, nulls);
}

/*
 * The same for item n of a list page indexed with the names of
 * msgraph_columns_names(cols, ...).  The item must be an object.
 */
void
msgraph_convert_page_item(Relation rel, MsgraphColumn *cols, int ncols,
						  const MsgraphJsonPage *page, const MsgraphJsonNames *names,
						  size_t n, Datum *values, bool *nulls)
{
	JsonValue	v = jv_text(page->text + page->items[n].off, page->items[n].len);

	convert_entity(rel, cols, ncols, &v, page->text,
				   page->members + n * names->nnames, values, nulls);
}

/*
 * A member of an entity: from the page's index when there is one (slot),
 * else looked up by name.
 */
static inline JsonValue
entity_member(const JsonValue *entity, const char *page, const MsgraphJsonSpan *members,
			  int slot, const char *name)
{
	if (members)
	{
		const MsgraphJsonSpan *span = &members[slot];

		if (span->len == 0)
		{
			JsonValue	none = {NULL, NULL, 0};

			return none;
		}
		return jv_text(page + span->off, span->len);
	}
	return jv_member(entity, name);
}

static void
convert_entity(Relation rel, MsgraphColumn *cols, int ncols, const JsonValue *entity,
			   const char *page, const MsgraphJsonSpan *members,
			   Datum *values, bool *nulls)
{
	ErrorContextCallback errcb;
	ConvertContext ctx;
	int			i;

	ctx.rel = rel;
	ctx.col = NULL;
	ctx.id = entity_member(entity, page, members, ID_SLOT, "id");
	errcb.callback = convert_error_callback;
	errcb.arg = &ctx;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	for (i = 0; i < ncols; i++)
	{
		MsgraphColumn *col = &cols[i];
		JsonValue	v;
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
				v = entity_member(entity, page, members, col->slot, col->derived->source);
				d = derived_value(col, &v, &isnull);
				break;
			case MSGRAPH_SRC_PROPERTY:
				v = entity_member(entity, page, members, col->slot, col->path[0]);
				for (k = 1; k < col->npath && (v.obj || v.text); k++)
					v = jv_member(&v, col->path[k]);
				d = convert_value(col, &v, &isnull);
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
	const char *id = "(none)";

	if (ctx->col == NULL)
		return;
	if ((ctx->id.obj || ctx->id.text) && jv_type(&ctx->id) == json_type_string)
	{
		size_t		len;
		const char *s = jv_string(&ctx->id, &len);

		/* a short prefix, escaped: the id is Graph's word, of any length */
		id = msgraph_escape_text(s, len, true, 64);
	}
	errcontext("column \"%s\" of foreign table \"%s\", property \"%s\", row id \"%s\"",
			   ctx->col->attname, RelationGetRelationName(ctx->rel),
			   ctx->col->property, id);
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

/* How much of a message about a value that does not fit is kept. */
#define SHOWN_MESSAGE_CHARS 200

/*
 * InputFunctionCall() of the column's input function on a value from
 * Graph.  The ERROR of a value that does not fit quotes the value (invalid
 * input syntax for type integer: "..."), which may be a whole response
 * body: its message and DETAIL are cut to a short prefix with control
 * characters escaped (msgraph_escape_text), so that no error prints more
 * of what Graph sent than that.  The error context (table, column,
 * property, id) stays as it was.
 */
static Datum
input_value(MsgraphColumn *col, char *s, Oid ioparam, int32 typmod)
{
	MemoryContext cxt = CurrentMemoryContext;
	Datum		d = (Datum) 0;

	PG_TRY();
	{
		d = InputFunctionCall(&col->infunc, s, ioparam, typmod);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		if (edata->message)
			edata->message = msgraph_escape_text(edata->message, strlen(edata->message),
												 false, SHOWN_MESSAGE_CHARS);
		if (edata->detail)
			edata->detail = msgraph_escape_text(edata->detail, strlen(edata->detail),
												false, SHOWN_MESSAGE_CHARS);
		ReThrowError(edata);
	}
	PG_END_TRY();
	return d;
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

/*
 * A Graph timestamp string of len bytes (no NUL needed) as PostgreSQL
 * reads it, for the scan's windows.
 */
bool
msgraph_parse_timestamp(const char *s, size_t len, TimestampTz *result)
{
	char	   *copy;

	if (parse_graph_timestamp(s, len, result))
		return true;
	copy = pnstrdup(s, len);
	*result = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum(copy),
													  ObjectIdGetDatum(InvalidOid),
													  Int32GetDatum(-1)));
	pfree(copy);
	return true;
}

/* A JSON scalar (type: its jv_type) as a jsonb value. */
static void
scalar_to_jsonb(const JsonValue *v, json_type type, JsonbValue *jv)
{
	int64		i;
	uint64		u;
	size_t		len;

	switch (type)
	{
		case json_type_null:
		case json_type_object:	/* not scalars: never asked for */
		case json_type_array:
			jv->type = jbvNull;
			break;
		case json_type_boolean:
			jv->type = jbvBool;
			jv->val.boolean = jv_bool(v);
			break;
		case json_type_int:
			jv->type = jbvNumeric;
			if (jv_int64(v, &i, &u))
				jv->val.numeric = int64_to_numeric(i);
			else
				jv->val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in,
																	  CStringGetDatum(jv_number(v)),
																	  ObjectIdGetDatum(InvalidOid),
																	  Int32GetDatum(-1)));
			break;
		case json_type_double:
			/* the number as it was sent (json-c keeps that text too) */
			jv->type = jbvNumeric;
			jv->val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in,
																  CStringGetDatum(jv_number(v)),
																  ObjectIdGetDatum(InvalidOid),
																  Int32GetDatum(-1)));
			break;
		case json_type_string:
			jv->type = jbvString;
			jv->val.string.val = (char *) jv_string(v, &len);
			jv->val.string.len = (int) len;
			if (memchr(jv->val.string.val, '\0', len) != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_UNTRANSLATABLE_CHARACTER),
						 errmsg("unsupported Unicode escape sequence"),
						 errdetail("\\u0000 cannot be converted to text.")));
			break;
	}
}

/* Add a scalar to a jsonb being built (alone, jsonb wraps it in a raw array). */
static JsonbValue *
push_scalar(JsonbParseState **state, JsonbValue *jv, JsonbIteratorToken token)
{
	if (*state == NULL)
	{
		JsonbValue	arr;

		arr.type = jbvArray;
		arr.val.array.rawScalar = true;
		arr.val.array.nElems = 1;
		pushJsonbValue(state, WJB_BEGIN_ARRAY, &arr);
		pushJsonbValue(state, WJB_ELEM, jv);
		return pushJsonbValue(state, WJB_END_ARRAY, NULL);
	}
	return pushJsonbValue(state, token, jv);
}

/* Add a JSON value to a jsonb being built, through JsonValue's accessors. */
static JsonbValue *
push_json(JsonbParseState **state, const JsonValue *v, JsonbIteratorToken token)
{
	json_type	type = jv_type(v);
	JsonbValue	jv;
	JsonIter	it;
	JsonValue	child;

	if (type == json_type_object)
	{
		const char *key;
		int			keylen;

		pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
		jv_iter_init(&it, v);
		while (jv_iter_next(&it, &key, &keylen, &child))
		{
			JsonbValue	k;

			k.type = jbvString;
			k.val.string.val = (char *) key;
			k.val.string.len = keylen;
			pushJsonbValue(state, WJB_KEY, &k);
			push_json(state, &child, WJB_VALUE);
		}
		return pushJsonbValue(state, WJB_END_OBJECT, NULL);
	}
	if (type == json_type_array)
	{
		pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
		jv_iter_init(&it, v);
		while (jv_iter_next(&it, NULL, NULL, &child))
			push_json(state, &child, WJB_ELEM);
		return pushJsonbValue(state, WJB_END_ARRAY, NULL);
	}
	scalar_to_jsonb(v, type, &jv);
	return push_scalar(state, &jv, token);
}

/*
 * The same for the value at p of a checked text, in one pass over it (the
 * accessors would find each container's end before walking into it).
 * Returns the byte after the value; *result is what pushJsonbValue gave
 * for its last token.
 */
static const char *
push_text(JsonbParseState **state, const char *p, JsonbIteratorToken token,
		  JsonbValue **result)
{
	JsonbValue	jv;
	JsonValue	v;
	const char *e;

	check_stack_depth();
	if (*p == '{' || *p == '[')
	{
		bool		object = (*p == '{');

		pushJsonbValue(state, object ? WJB_BEGIN_OBJECT : WJB_BEGIN_ARRAY, NULL);
		for (p = msgraph_json_skip_ws(p + 1); *p != '}' && *p != ']'; p = msgraph_json_skip_ws(p))
		{
			if (*p == ',')
				p = msgraph_json_skip_ws(p + 1);
			if (object)
			{
				JsonValue	name;
				size_t		len;

				e = msgraph_json_value_end(p);
				name = jv_text(p, e - p);
				jv.type = jbvString;
				jv.val.string.val = (char *) jv_string(&name, &len);
				jv.val.string.len = (int) len;
				pushJsonbValue(state, WJB_KEY, &jv);
				p = msgraph_json_skip_ws(msgraph_json_skip_ws(e) + 1);	/* past ':' */
			}
			p = push_text(state, p, object ? WJB_VALUE : WJB_ELEM, result);
		}
		*result = pushJsonbValue(state, object ? WJB_END_OBJECT : WJB_END_ARRAY, NULL);
		return p + 1;
	}
	e = msgraph_json_value_end(p);
	v = jv_text(p, e - p);
	scalar_to_jsonb(&v, jv_type(&v), &jv);
	*result = push_scalar(state, &jv, token);
	return e;
}

static Jsonb *
json_to_jsonb(const JsonValue *v)
{
	JsonbParseState *state = NULL;
	JsonbValue *result;

	if (v->text)
		push_text(&state, v->text, WJB_VALUE, &result);
	else
		result = push_json(&state, v, WJB_VALUE);
	return JsonbValueToJsonb(result);
}

/* Convert one JSON value (absent: NULL) to the column's type. */
static Datum
convert_value(MsgraphColumn *col, const JsonValue *v, bool *isnull)
{
	json_type	type = jv_type(v);
	const char *s;
	size_t		len;
	int64		i;
	uint64		u;

	if (type == json_type_null)
	{
		*isnull = true;
		return (Datum) 0;
	}
	*isnull = false;

	switch (col->kind)
	{
		case CONV_TEXT:
			s = jv_text_form(v, &len);
			if (memchr(s, '\0', len) == NULL && GetDatabaseEncoding() == PG_UTF8)
				return PointerGetDatum(cstring_to_text_with_len(s, (int) len));
			return PointerGetDatum(cstring_to_text(server_string(s, len)));

		case CONV_BOOL:
			if (type == json_type_boolean)
				return BoolGetDatum(jv_bool(v));
			break;

		case CONV_INT4:
			if (type == json_type_int && jv_int64(v, &i, &u) &&
				i >= PG_INT32_MIN && i <= PG_INT32_MAX)
				return Int32GetDatum((int32) i);
			break;

		case CONV_INT8:
			/* above INT64_MAX: let int8in say so */
			if (type == json_type_int && jv_int64(v, &i, &u))
				return Int64GetDatum(i);
			break;

		case CONV_FLOAT8:
			if (type == json_type_int)
				return Float8GetDatum(jv_double(v));
			if (type == json_type_double)
			{
				double		d = jv_double(v);

				/*
				 * strtod makes 1e400 infinite and 1e-400 zero without a
				 * word, where float8in refuses both as out of range: those
				 * (and a true zero, which is rare) go through float8in with
				 * the number as sent.
				 */
				if (isfinite(d) && d != 0.0)
					return Float8GetDatum(d);
			}
			break;

		case CONV_TIMESTAMPTZ:
			if (type == json_type_string)
			{
				TimestampTz ts;

				s = jv_string(v, &len);
				if (parse_graph_timestamp(s, len, &ts))
					return TimestampTzGetDatum(ts);
			}
			break;

		case CONV_JSONB:
			/* built from the value directly: no text round trip */
			if (GetDatabaseEncoding() == PG_UTF8)
				return JsonbPGetDatum(json_to_jsonb(v));
			s = jv_json(v, &len);
			return input_value(col, server_string(s, len),
									 col->ioparam, col->typmod);

		case CONV_ARRAY:
			return convert_array(col, v);

		case CONV_INPUT:
			break;
	}

	/* the general case: the text form through the type's input function */
	if (col->typid == JSONOID && type == json_type_string)
		s = jv_json(v, &len);
	else
		s = jv_text_form(v, &len);
	return input_value(col, server_string(s, len),
							 col->ioparam, col->typmod);
}

/* A JSON array to a one-dimensional array of the column's element type. */
static Datum
convert_array(MsgraphColumn *col, const JsonValue *v)
{
	size_t		n = 0;
	size_t		max = 16;
	Datum	   *elems;
	bool	   *elemnulls;
	int			dims[1];
	int			lbs[1] = {1};
	JsonIter	it;
	JsonValue	e;

	if (jv_type(v) != json_type_array)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input for type %s: the JSON value is not an array",
						format_type_be(col->typid))));

	elems = palloc(sizeof(Datum) * max);
	elemnulls = palloc(sizeof(bool) * max);
	jv_iter_init(&it, v);
	while (jv_iter_next(&it, NULL, NULL, &e))
	{
		const char *s;
		size_t		len;

		if (n == max)
		{
			max *= 2;
			elems = repalloc(elems, sizeof(Datum) * max);
			elemnulls = repalloc(elemnulls, sizeof(bool) * max);
		}
		if (jv_type(&e) == json_type_null)
		{
			elems[n] = (Datum) 0;
			elemnulls[n++] = true;
			continue;
		}
		s = jv_text_form(&e, &len);
		elemnulls[n] = false;
		if (col->elemtype == TEXTOID)
			elems[n] = PointerGetDatum(cstring_to_text(server_string(s, len)));
		else
		{
			/* an array type's typmod is its elements' (varchar(8)[]), as in array_in */
			elems[n] = input_value(col, server_string(s, len),
										 col->ioparam, col->typmod);
		}
		n++;
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
				: input_value(col, (char *) items[i], col->ioparam,
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
	return input_value(col, buf.data, col->ioparam, col->typmod);
}

/* Whether a JSON value is the string want (the whole of it: "\u0000" ends nothing). */
static bool
jv_string_is(const JsonValue *v, const char *want)
{
	size_t		len;
	const char *s;

	if (jv_type(v) != json_type_string)
		return false;
	s = jv_string(v, &len);
	return len == strlen(want) && memcmp(s, want, len) == 0;
}

/*
 * A derived column from its source member: the device names or user
 * principal names of an alert's evidence, or an expanded navigation
 * property.  The evidence columns are NULL when the alert has no evidence
 * array and an empty array when none of its evidence is of that kind.
 */
static Datum
derived_value(MsgraphColumn *col, const JsonValue *src, bool *isnull)
{
	const GraphDerived *d = col->derived;
	const char *want_type;
	const char **items;
	int			nitems = 0;
	int			max = 8;
	JsonIter	it;
	JsonValue	e;

	if (d->kind == GRAPH_DERIVED_EXPAND)
		return convert_value(col, src, isnull);

	if (jv_type(src) != json_type_array)
	{
		*isnull = true;
		return (Datum) 0;
	}
	*isnull = false;

	want_type = (d->kind == GRAPH_DERIVED_EVIDENCE_DEVICE_NAMES)
		? "#microsoft.graph.security.deviceEvidence"
		: "#microsoft.graph.security.userEvidence";
	items = palloc(sizeof(char *) * max);
	jv_iter_init(&it, src);
	while (jv_iter_next(&it, NULL, NULL, &e))
	{
		JsonValue	type;
		JsonValue	value;
		const char *s;
		size_t		len;

		if (jv_type(&e) != json_type_object)
			continue;
		type = jv_member(&e, "@odata.type");
		if (!jv_string_is(&type, want_type))
			continue;
		if (d->kind == GRAPH_DERIVED_EVIDENCE_DEVICE_NAMES)
			value = jv_member(&e, "deviceDnsName");
		else
		{
			JsonValue	account = jv_member(&e, "userAccount");

			value = jv_member(&account, "userPrincipalName");
		}
		if (jv_type(&value) != json_type_string)
			continue;
		if (nitems == max)
		{
			max *= 2;
			items = repalloc(items, sizeof(char *) * max);
		}
		/* the names are used as C strings from here on */
		s = jv_string(&value, &len);
		items[nitems++] = server_string(s, len);
	}
	return convert_string_list(col, items, nitems);
}
