/*-------------------------------------------------------------------------
 *
 * response.c
 *		  Reading Graph's response bodies: the one strict parse every JSON
 *		  body goes through before a value of it is used.
 *
 * json-c alone accepts text that is not JSON and makes values of it that
 * nobody sent (NaN, invalid UTF-8, lone surrogates, saturated integers,
 * the last of duplicate names); jsoncheck.c's walk refuses those.  List
 * pages are read without a DOM (paging.c); what needs one (single
 * entities, pages whose entities get members attached) comes here.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "jsoncheck.h"
#include "msgraph_fdw.h"
#include "msgraph_json.h"

/* Parse a JSON body (strict, valid UTF-8, bounded nesting), or ERROR. */
struct json_object *
msgraph_parse_body(const char *url, MsgraphHttpResponse *resp)
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

