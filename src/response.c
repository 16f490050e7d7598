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

/*
 * Parse a JSON body (strict, valid UTF-8, bounded nesting and cost), or
 * ERROR: msgraph_json_parse_dom().  json-c also accepts text that is not
 * JSON and makes values of it that nobody sent (see jsoncheck.c), so the
 * strict check runs first and refuses those without building a tree.
 */
struct json_object *
msgraph_parse_body(const char *url, MsgraphHttpResponse *resp)
{
	struct json_object *doc;

	doc = msgraph_json_parse_dom(resp->body.data, resp->body.len, MSGRAPH_JSON_MAX_DEPTH,
								 "GET", url);
	/* the DOM is all that is needed from the body (unless it is kept) */
	if (!resp->keep_buffers)
	{
		pfree(resp->body.data);
		resp->body.data = NULL;
	}
	return doc;
}
