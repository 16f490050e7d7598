/*-------------------------------------------------------------------------
 *
 * response.c
 *		  Reading Graph's answers: the one strict parse of a whole body, the
 *		  readers of error bodies, and text from the other side in messages.
 *
 * json-c alone accepts text that is not JSON and makes values of it that
 * nobody sent (NaN, invalid UTF-8, lone surrogates, saturated integers,
 * the last of duplicate names); the strict walk of jsoncheck.c refuses
 * those, and runs first on every body.  List pages are read without a DOM
 * (paging.c); what needs one (single entities, answers to writes, pages
 * whose entities get members attached) goes through msgraph_parse_body(),
 * whose cost is bounded and which checks for interrupts.
 *
 * Error bodies are read without a DOM (msgraph_error_body_string): http.c
 * keeps only their first MSGRAPH_ERROR_BODY_MAX bytes, the strict check
 * must accept them as it accepts pages, and what they say reaches a message
 * only through msgraph_escape_text(), cut short, valid in the database
 * encoding and without control characters.  So a hostile answer costs no
 * more memory or time than its first few kB, and its text can neither
 * break a log line nor replace the ERROR with an encoding failure of its
 * own.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdarg.h>

#include "catalog/namespace.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"

#include "jsoncheck.h"
#include "jsonpage.h"
#include "msgraph_fdw.h"
#include "msgraph_json.h"

static struct json_object *parse_dom(const char *text, size_t len, int max_depth,
									 const char *method, const char *url);

/*
 * The one parse of a whole Graph answer into a json-c tree: strict (valid
 * UTF-8, bounded nesting, nothing after the value), bounded in cost and
 * interruptible (parse_dom), or ERROR naming the request.
 * The caller owns the tree (msgraph_json_own() gives it to a memory
 * context).  Unless the response's buffers are kept, the body is freed:
 * the tree is all that is needed of it.
 */
struct json_object *
msgraph_parse_body(const char *method, const char *url, MsgraphHttpResponse *resp)
{
	struct json_object *doc;

	doc = parse_dom(resp->body.data, resp->body.len, MSGRAPH_JSON_MAX_DEPTH,
								 method, url);
	if (!resp->keep_buffers)
	{
		pfree(resp->body.data);
		resp->body.data = NULL;
	}
	return doc;
}

/* ----------------------------------------------------------------
 * Text from the other side, for messages
 * ----------------------------------------------------------------
 */

/*
 * Text for an error message from bytes the database did not make: at most
 * max_chars characters (then "..."), valid in the database encoding, with
 * control characters written as \n, \r, \t or \u00XX.  With utf8, s is
 * UTF-8 from Graph or the identity platform, checked here again: a byte
 * that starts no valid sequence becomes \xNN, a character the database
 * encoding cannot hold \uXXXX (\UXXXXXXXX beyond the BMP).  Without, s is
 * already in the database encoding (an option value).  The result never
 * holds a NUL, a line break or an invalid sequence, so it can neither cut
 * nor split a log line, nor make the conversion to the client's encoding
 * fail in place of the ERROR it is part of.
 */
char *
msgraph_escape_text(const char *s, size_t len, bool utf8, int max_chars)
{
	const unsigned char *p = (const unsigned char *) s;
	int			dbenc = GetDatabaseEncoding();
	Oid			proc = InvalidOid;
	bool		proc_looked = false;
	StringInfoData buf;
	size_t		i = 0;
	int			nchars = 0;

	initStringInfo(&buf);
	while (i < len)
	{
		unsigned char c = p[i];
		int			l;

		if (nchars++ >= max_chars)
		{
			appendStringInfoString(&buf, "...");
			break;
		}
		if (c < 0x80)
		{
			if (c == '\n')
				appendStringInfoString(&buf, "\\n");
			else if (c == '\r')
				appendStringInfoString(&buf, "\\r");
			else if (c == '\t')
				appendStringInfoString(&buf, "\\t");
			else if (c < 0x20 || c == 0x7F)
				appendStringInfo(&buf, "\\u%04x", c);
			else
				appendStringInfoChar(&buf, (char) c);
			i++;
			continue;
		}
		if (!utf8)
		{
			/* a whole character of the database encoding, as validated */
			l = (dbenc == PG_SQL_ASCII) ? 1 : pg_mblen((const char *) p + i);
			if (l < 1 || (size_t) l > len - i || dbenc == PG_SQL_ASCII)
			{
				appendStringInfo(&buf, "\\x%02x", c);
				i++;
				continue;
			}
			appendBinaryStringInfo(&buf, (const char *) p + i, l);
			i += l;
			continue;
		}
		l = pg_utf_mblen(p + i);
		if ((size_t) l > len - i || !pg_utf8_islegal(p + i, l))
		{
			appendStringInfo(&buf, "\\x%02x", c);
			i++;
			continue;
		}
		if (dbenc == PG_UTF8)
			appendBinaryStringInfo(&buf, (const char *) p + i, l);
		else
		{
			unsigned char out[MAX_CONVERSION_GROWTH * 4 + 1];
			int			done = 0;

			if (!proc_looked && dbenc != PG_SQL_ASCII)
				proc = FindDefaultConversionProc(PG_UTF8, dbenc);
			proc_looked = true;
			if (OidIsValid(proc))
				done = pg_do_encoding_conversion_buf(proc, PG_UTF8, dbenc,
													 (unsigned char *) p + i, l,
													 out, sizeof(out), true);
			if (done == l)
				appendStringInfoString(&buf, (char *) out);
			else
			{
				pg_wchar	cp = utf8_to_unicode(p + i);

				appendStringInfo(&buf, cp > 0xFFFF ? "\\U%08x" : "\\u%04x", (unsigned int) cp);
			}
		}
		i += l;
	}
	return buf.data;
}

/*
 * Whether the body of an error answer can be read: present, not cut off
 * at MSGRAPH_ERROR_BODY_MAX (http.c), and a JSON text the strict check of
 * pages accepts.  When it cannot, *problem says why, or is NULL for a
 * body that does not even try to be JSON (an HTML page, nothing): callers
 * then say no more than that there is no Graph error object.
 */
bool
msgraph_error_body_readable(MsgraphHttpResponse *resp, const char **problem)
{
	MsgraphJsonCheck check;
	const char *p;

	*problem = NULL;
	if (resp->body_cut)
	{
		*problem = psprintf("it is longer than the %d bytes read of an error body",
							MSGRAPH_ERROR_BODY_MAX);
		return false;
	}
	if (resp->body.data == NULL || resp->body.len == 0)
		return false;
	p = resp->body.data;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p != '{')
		return false;
	if (!msgraph_json_check(resp->body.data, resp->body.len, &check))
	{
		*problem = psprintf("it is not valid JSON (%s at byte %zu)", check.problem,
							check.offset);
		return false;
	}
	return true;
}

/*
 * The JSON value at a path of member names in a readable error body (the
 * top-level value is an object, checked), or false.
 */
static bool
error_body_value(MsgraphHttpResponse *resp, const char *const *path, int npath,
				 const char **value, size_t *len)
{
	const char *v = resp->body.data;
	size_t		vlen;
	int			i;

	while (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r')
		v++;
	vlen = (size_t) (msgraph_json_value_end(v) - v);
	for (i = 0; i < npath; i++)
	{
		if (*v != '{' ||
			!msgraph_json_member(v, vlen, path[i], strlen(path[i]), &v, &vlen))
			return false;
	}
	*value = v;
	*len = vlen;
	return true;
}

/* Whether a readable error body's top-level object has the member name. */
bool
msgraph_error_body_has(MsgraphHttpResponse *resp, const char *name)
{
	const char *v;
	size_t		len;
	const char *path[1] = {name};

	return error_body_value(resp, path, 1, &v, &len) && *v == '{';
}

/*
 * The string at a path of member names (NULL-terminated arguments) in a
 * readable error body, decoded and escaped for a message (at most
 * max_chars characters); NULL when there is no such string.  The caller
 * checked the body with msgraph_error_body_readable().
 */
char *
msgraph_error_body_string(MsgraphHttpResponse *resp, int max_chars, const char *first, ...)
{
	const char *path[8];
	int			npath = 0;
	const char *name;
	const char *v;
	size_t		len;
	char	   *decoded;
	size_t		dlen;
	va_list		ap;

	va_start(ap, first);
	for (name = first; name != NULL && npath < lengthof(path); name = va_arg(ap, const char *))
		path[npath++] = name;
	va_end(ap);

	if (!error_body_value(resp, path, npath, &v, &len) || *v != '"')
		return NULL;
	decoded = palloc(len);
	dlen = msgraph_json_decode_string(v + 1, len - 2, decoded);
	return msgraph_escape_text(decoded, dlen, true, max_chars);
}

/*
 * The decoded bytes of the top-level string member name of a readable
 * body (an error body, or another small answer such as a token response),
 * or NULL; *len is their length (they may hold NUL bytes, from \u0000).
 * Not escaped: the caller escapes what it shows.
 */
char *
msgraph_error_body_decoded(MsgraphHttpResponse *resp, const char *name, size_t *len)
{
	const char *path[1] = {name};
	const char *v;
	size_t		vlen;
	char	   *decoded;

	if (!error_body_value(resp, path, 1, &v, &vlen) || *v != '"')
		return NULL;
	decoded = palloc(vlen);
	*len = msgraph_json_decode_string(v + 1, vlen - 2, decoded);
	decoded[*len] = '\0';		/* decoding drops at least the two quotes */
	return decoded;
}

/*
 * The raw text of the top-level member name of a readable body (a number,
 * say), NUL-terminated, or NULL.
 */
char *
msgraph_error_body_raw(MsgraphHttpResponse *resp, const char *name)
{
	const char *path[1] = {name};
	const char *v;
	size_t		vlen;

	if (!error_body_value(resp, path, 1, &v, &vlen))
		return NULL;
	return pnstrdup(v, vlen);
}


/* ----------------------------------------------------------------
 * json-c trees of whole answers
 * ----------------------------------------------------------------
 */

/*
 * What json-c allocates for a tree, per object and per value (measured
 * with json-c 0.16: an object is a 16-entry hash table, some 790 bytes
 * even when empty; a scalar or array slot 70-150 bytes), and the most a
 * tree may be estimated to take: DOM_COST_FACTOR times the text plus
 * DOM_COST_FLOOR.  The trees of what Graph sends (entities, comment
 * lists, hunting results) are 6 to 30 times their text; an answer of
 * empty objects would be over 260 times, gigabytes from a few megabytes,
 * and is refused before json-c sees it.
 */
#define DOM_OBJECT_BYTES	800
#define DOM_VALUE_BYTES		100
#define DOM_COST_FACTOR		64
#define DOM_COST_FLOOR		((size_t) 16 << 20)

/* json-c is fed this much at a time, with an interrupt check in between. */
#define DOM_PARSE_STEP		((size_t) 1 << 20)

/*
 * Parse a whole answer into a json-c tree, or ERROR (HV000, DETAIL naming
 * the problem, its byte and the request).  The strict check of jsoncheck.c
 * comes first, without a tree: a text it refuses never reaches json-c,
 * nor does one whose tree would cost more than the bound above.  json-c
 * then parses in steps of DOM_PARSE_STEP bytes with CHECK_FOR_INTERRUPTS()
 * between them; its tokener and the partial tree are freed if an ERROR
 * (a cancel) escapes.  The caller owns the tree.
 */
static struct json_object *
parse_dom(const char *text, size_t len, int max_depth,
					   const char *method, const char *url)
{
	MsgraphJsonCheck check;
	struct json_tokener *volatile tok;
	struct json_object *volatile doc = NULL;
	size_t		estimate;

	if (!msgraph_json_check(text, len, &check))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Graph sent a response that is not valid JSON"),
				 errdetail("%s at byte %zu of %zu; request: %s %s",
						   check.problem, check.offset, len, method, url)));
	estimate = check.objects * DOM_OBJECT_BYTES + check.values * DOM_VALUE_BYTES + len;
	if (estimate > len * DOM_COST_FACTOR + DOM_COST_FLOOR)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Graph sent a response too costly to parse"),
				 errdetail("%zu bytes holding %zu JSON values, %zu of them objects; request: %s %s",
						   len, check.values, check.objects, method, url)));

	tok = json_tokener_new_ex(max_depth);
	if (tok == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	PG_TRY();
	{
		size_t		done = 0;
		enum json_tokener_error jerr = json_tokener_continue;

		while (doc == NULL && done < len)
		{
			size_t		step = Min(len - done, DOM_PARSE_STEP);

			CHECK_FOR_INTERRUPTS();
			doc = json_tokener_parse_ex(tok, text + done, (int) step);
			jerr = json_tokener_get_error(tok);
			if (doc == NULL && jerr != json_tokener_continue)
				break;
			done += (doc != NULL) ? json_tokener_get_parse_end(tok) : step;
		}
		/* the check accepted the text: json-c cannot fail on it but for memory */
		if (doc == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("Graph sent a response that is not valid JSON"),
					 errdetail("%s at byte %zu of %zu; request: %s %s",
							   json_tokener_error_desc(jerr), done, len, method, url)));
	}
	PG_CATCH();
	{
		json_tokener_free(tok);
		if (doc != NULL)
			json_object_put(doc);
		PG_RE_THROW();
	}
	PG_END_TRY();
	json_tokener_free(tok);
	return doc;
}

/*
 * The ERROR for a list page the strict walk refused (jsoncheck.c's
 * problem and byte), or nothing when the body is JSON after all but not a
 * page object (the caller then says there is no "value" array).  No tree
 * is ever built for a refused page.
 */
void
msgraph_report_bad_page(const char *url, MsgraphHttpResponse *resp,
						const MsgraphJsonCheck *walk)
{
	MsgraphJsonCheck check;

	if (walk == NULL || walk->problem == NULL)
	{
		if (msgraph_json_check(resp->body.data, resp->body.len, &check))
			return;
		walk = &check;
	}
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("Graph sent a response that is not valid JSON"),
			 errdetail("%s at byte %zu of %d; request: GET %s",
					   walk->problem, walk->offset, resp->body.len, url)));
}

/* The message Graph put in a readable error body, escaped; NULL if none. */
char *
msgraph_error_body_message(MsgraphHttpResponse *resp)
{
	const char *problem;

	if (!msgraph_error_body_readable(resp, &problem))
		return NULL;
	return msgraph_error_body_string(resp, 1024, "error", "message", NULL);
}
