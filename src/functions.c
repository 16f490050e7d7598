/*-------------------------------------------------------------------------
 *
 * functions.c
 *		  SQL functions that send a Graph request of their own: comments on
 *		  alerts and incidents, the two identity-protection actions on risky
 *		  users, and advanced hunting.
 *
 * Each takes a server name and acts with the calling role's user mapping
 * on it (USAGE on the server is required, as for a foreign table).  The
 * writes (comments, dismiss, confirmCompromised) follow the UPDATE rules
 * of modify.c: logged at LOG level, shown as a NOTICE instead of sent
 * under msgraph_security_fdw.dry_run, and, Graph having no transactions,
 * done for good once Graph accepted them, whatever the transaction does
 * afterwards.
 *
 * Advanced hunting is a read sent as a POST.  Graph gives a query up to 3
 * minutes and up to 100,000 rows, in one response without paging, so the
 * request gets its own timeout and response cap (the server's own when
 * they are larger), and a query Graph cannot run is an ERROR carrying
 * Graph's message, which says what is wrong with the KQL.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "msgraph_fdw.h"
#include "msgraph_json.h"

PG_FUNCTION_INFO_V1(msgraph_add_comment);
PG_FUNCTION_INFO_V1(msgraph_dismiss_risky_users);
PG_FUNCTION_INFO_V1(msgraph_confirm_compromised);
PG_FUNCTION_INFO_V1(msgraph_hunting_query);

/*
 * Graph ends a hunting query after 3 minutes with an error of its own;
 * waiting a little longer lets that error, not a client timeout, decide.
 */
#define HUNTING_TIMEOUT_MS		(3 * 60 * 1000 + 30 * 1000)
/* 100,000 rows (Graph's limit) of up to about 2 kB each */
#define HUNTING_MAX_ROWS		100000
#define HUNTING_ROW_BYTES		2048
#define HUNTING_PERMISSION		"ThreatHunting.Read.All"

#define COMMENT_TYPE			"microsoft.graph.security.alertComment"

/* What an error context line names: the function and its server. */
typedef struct MsgraphCallSite
{
	const char *function;
	const char *server;
} MsgraphCallSite;

static void call_context_push(ErrorContextCallback *errcb, MsgraphCallSite *ctx,
							  const char *function, Name servername);
static void call_error_callback(void *arg);
static void server_options(Name servername, MsgraphConnOptions *opts);
static struct json_object *post_json(MsgraphConnOptions *opts, const char *path,
									 struct json_object *body, const char *properties,
									 const char *permission, bool write,
									 MsgraphHttpResponse *resp, bool *sent);
static void risky_users_action(FunctionCallInfo fcinfo, const char *action);
static Datum json_to_jsonb_datum(struct json_object *v);
static void check_id_parameter(const char *param, const char *id);


static void
call_error_callback(void *arg)
{
	MsgraphCallSite *ctx = (MsgraphCallSite *) arg;

	errcontext("%s() on server \"%s\"", ctx->function, ctx->server);
}

/* Name the function and server in the CONTEXT of errors from here on. */
static void
call_context_push(ErrorContextCallback *errcb, MsgraphCallSite *ctx, const char *function,
				  Name servername)
{
	ctx->function = function;
	ctx->server = NameStr(*servername);
	errcb->callback = call_error_callback;
	errcb->arg = ctx;
	errcb->previous = error_context_stack;
	error_context_stack = errcb;
}

/*
 * Refuse, before anything is sent, an id that cannot be one segment of a
 * request path ("", ".", ".."; see msgraph_path_segment_valid): no entity
 * has one, and sent as a segment it would address another resource.  The
 * user ids of the risky-user actions travel in the body, but are held to
 * the same rule: they are ids like any other.
 */
static void
check_id_parameter(const char *param, const char *id)
{
	if (!msgraph_path_segment_valid(id))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value \"%s\" for parameter \"%s\"", id, param),
				 errdetail("Graph ids are path segments; \".\", \"..\" and the empty string cannot be one. Nothing was sent to Graph.")));
}

/*
 * The connection options of a server of this wrapper for the calling
 * role, which needs USAGE on it and a user mapping.
 */
static void
server_options(Name servername, MsgraphConnOptions *opts)
{
	ForeignServer *server = GetForeignServerByName(NameStr(*servername), false);
	FdwRoutine *routine = GetFdwRoutineByServerId(server->serverid);
	AclResult	aclresult;

	if (routine->IsForeignRelUpdatable != msgraphIsForeignRelUpdatable)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("server \"%s\" is not a server of msgraph_security_fdw",
						NameStr(*servername))));
	aclresult = pg_foreign_server_aclcheck(server->serverid, GetUserId(), ACL_USAGE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FOREIGN_SERVER, server->servername);
	msgraph_get_conn_options(server, msgraph_get_user_mapping(GetUserId(), server->serverid), opts);
}

/*
 * POST a JSON body to path (under the version).  A write is logged, or in
 * a dry run only shown (*sent false, NULL returned).  Answers other than
 * 200 and 204 are reported as errors naming `permission` for a 403.
 * Returns the parsed answer (NULL when there is no body), owned by the
 * current memory context; resp keeps the status.
 */
static struct json_object *
post_json(MsgraphConnOptions *opts, const char *path, struct json_object *body,
		  const char *properties, const char *permission, bool write,
		  MsgraphHttpResponse *resp, bool *sent)
{
	char	   *url = psprintf("%s/%s/%s", opts->graph_url, opts->api_version, path);
	char	   *text = msgraph_json_text(body);

	*sent = false;
	if (write && msgraph_dry_run)
	{
		ereport(NOTICE,
				(errmsg("dry run: POST %s %s", path,
						pg_any_to_server(text, strlen(text), PG_UTF8))));
		return NULL;
	}
	msgraph_log_write(opts, "POST", path, properties);
	msgraph_request(opts, "POST", url, text, resp, NULL);
	*sent = true;
	if (resp->status != 200 && resp->status != 204)
		return NULL;			/* the caller reports it */
	if (resp->status == 204 || resp->body.len == 0)
		return NULL;
	return msgraph_json_own(CurrentMemoryContext, msgraph_parse_body("POST", url, resp));
}

/* A json-c value as a jsonb Datum (Graph's UTF-8 in the server encoding). */
static Datum
json_to_jsonb_datum(struct json_object *v)
{
	const char *text = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
													  JSON_C_TO_STRING_NOSLASHESCAPE);

	return DirectFunctionCall1(jsonb_in,
							   CStringGetDatum(pg_any_to_server(text, strlen(text), PG_UTF8)));
}

/*
 * msgraph_add_comment(server name, resource text, id text, comment text)
 * RETURNS jsonb: POST {resource}/{id}/comments; the comment list Graph
 * sends back (the new comment last), or NULL in a dry run.
 */
Datum
msgraph_add_comment(PG_FUNCTION_ARGS)
{
	Name		servername = PG_GETARG_NAME(0);
	char	   *resource = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *id = text_to_cstring(PG_GETARG_TEXT_PP(2));
	char	   *comment = text_to_cstring(PG_GETARG_TEXT_PP(3));
	const GraphResource *res = NULL;
	MsgraphConnOptions opts;
	MsgraphHttpResponse resp;
	struct json_object *body;
	struct json_object *answer;
	struct json_object *value;
	const GraphResource *all;
	int			n;
	int			i;
	char	   *path;
	bool		sent;
	ErrorContextCallback errcb;
	MsgraphCallSite ctx;

	call_context_push(&errcb, &ctx, "msgraph_add_comment", servername);
	/* "alerts" or "incidents": the catalog's resources that take comments */
	all = graph_catalog_resources(&n);
	for (i = 0; i < n; i++)
	{
		if (strcmp(all[i].table_name, resource) == 0 &&
			strcmp(all[i].remote_schema, "security") == 0 &&
			graph_catalog_find_property(&all[i], "comments") != NULL &&
			all[i].write_permission != NULL)
			res = &all[i];
	}
	if (res == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot comment on \"%s\"", resource),
				 errhint("The resource is \"alerts\" or \"incidents\".")));
	check_id_parameter("id", id);

	server_options(servername, &opts);
	body = msgraph_json_own(CurrentMemoryContext, json_object_new_object());
	json_object_object_add(body, "@odata.type", json_object_new_string(COMMENT_TYPE));
	json_object_object_add(body, "comment", msgraph_json_string(comment));
	path = psprintf("%s/%s/comments", res->path, msgraph_encode_path_segment(id));

	answer = post_json(&opts, path, body, "comment", res->write_permission, true,
					   &resp, &sent);
	if (!sent)
	{
		error_context_stack = errcb.previous;
		PG_RETURN_NULL();
	}
	if (resp.status == 404)
		msgraph_report_graph_error(&opts, res->write_permission, path, &resp, NULL,
								   psprintf("Graph found no %.*s with the id \"%s\".",
											(int) strlen(resource) - 1, resource, id));
	if (resp.status != 200 && resp.status != 204)
		msgraph_report_graph_error(&opts, res->write_permission, path, &resp, NULL, NULL);

	value = msgraph_json_get(answer, "value");
	if (value == NULL || !json_object_is_type(value, json_type_array))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Graph answered a comment without the comment list"),
				 errdetail("Request: POST %s", path)));
	error_context_stack = errcb.previous;
	PG_RETURN_DATUM(json_to_jsonb_datum(value));
}

/*
 * The catalog's action that an SQL function sends: POST {path}/{action}
 * {"userIds": [...]} (identityProtection/riskyUsers/dismiss ...).  An
 * empty array sends nothing; a NULL element is refused before anything
 * is sent.
 */
static void
risky_users_action(FunctionCallInfo fcinfo, const char *function)
{
	Name		servername = PG_GETARG_NAME(0);
	ArrayType  *ids = PG_GETARG_ARRAYTYPE_P(1);
	const GraphResource *res;
	const GraphAction *action = graph_catalog_find_action(function, &res);
	const char *permission;
	MsgraphConnOptions opts;
	MsgraphHttpResponse resp;
	struct json_object *body;
	struct json_object *list;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;
	char	   *path;
	bool		sent;
	ErrorContextCallback errcb;
	MsgraphCallSite ctx;

	if (action == NULL)
		elog(ERROR, "msgraph_security_fdw: no catalog action for %s()", function);
	permission = res->write_permission;
	call_context_push(&errcb, &ctx, function, servername);
	if (ARR_NDIM(ids) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("user_ids must be a one-dimensional array")));
	deconstruct_array(ids, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("user_ids must not contain NULL"),
					 errdetail("Nothing was sent to Graph.")));
		check_id_parameter("user_ids", TextDatumGetCString(elems[i]));
	}
	server_options(servername, &opts);
	if (n == 0)
	{
		error_context_stack = errcb.previous;
		return;
	}

	body = msgraph_json_own(CurrentMemoryContext, json_object_new_object());
	list = json_object_new_array();
	json_object_object_add(body, action->ids_member, list);
	for (i = 0; i < n; i++)
		json_object_array_add(list, msgraph_json_string(TextDatumGetCString(elems[i])));
	path = psprintf("%s/%s", res->path, action->name);

	(void) post_json(&opts, path, body, action->ids_member, permission, true, &resp, &sent);
	if (sent && resp.status != 200 && resp.status != 204)
		msgraph_report_graph_error(&opts, permission, path, &resp, NULL,
								   resp.status == 404
								   ? "Check the server's api_version: Graph did not find the action."
								   : NULL);
	error_context_stack = errcb.previous;
}

/* msgraph_dismiss_risky_users(server name, user_ids text[]) */
Datum
msgraph_dismiss_risky_users(PG_FUNCTION_ARGS)
{
	risky_users_action(fcinfo, "msgraph_dismiss_risky_users");
	PG_RETURN_VOID();
}

/* msgraph_confirm_compromised(server name, user_ids text[]) */
Datum
msgraph_confirm_compromised(PG_FUNCTION_ARGS)
{
	risky_users_action(fcinfo, "msgraph_confirm_compromised");
	PG_RETURN_VOID();
}

/*
 * msgraph_hunting_query(server name, query text, timespan text DEFAULT NULL)
 * RETURNS SETOF jsonb: POST security/runHuntingQuery, one jsonb per result
 * row (the keys are the query's columns).
 */
Datum
msgraph_hunting_query(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MsgraphConnOptions opts;
	MsgraphHttpResponse resp;
	MemoryContext rowcxt;
	MemoryContext oldcxt;
	struct json_object *body;
	struct json_object *answer;
	struct json_object *results;
	const char *path = "security/runHuntingQuery";
	size_t		nrows;
	size_t		i;
	bool		sent;
	ErrorContextCallback errcb;
	MsgraphCallSite ctx;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("server and query of msgraph_hunting_query() must not be NULL")));
	call_context_push(&errcb, &ctx, "msgraph_hunting_query", PG_GETARG_NAME(0));
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	server_options(PG_GETARG_NAME(0), &opts);
	opts.timeout_ms = Max(opts.timeout_ms, HUNTING_TIMEOUT_MS);
	opts.max_response_bytes = Max(opts.max_response_bytes,
								  (int64) HUNTING_MAX_ROWS * HUNTING_ROW_BYTES);

	/* the documented form: PascalCase Query and Timespan */
	body = msgraph_json_own(CurrentMemoryContext, json_object_new_object());
	json_object_object_add(body, "Query",
						   msgraph_json_string(text_to_cstring(PG_GETARG_TEXT_PP(1))));
	if (!PG_ARGISNULL(2))
		json_object_object_add(body, "Timespan",
							   msgraph_json_string(text_to_cstring(PG_GETARG_TEXT_PP(2))));

	answer = post_json(&opts, path, body, "Query", HUNTING_PERMISSION, false, &resp, &sent);
	if (resp.status == 400)
	{
		char	   *message = msgraph_error_body_message(&resp);

		msgraph_report_graph_error(&opts, HUNTING_PERMISSION, path, &resp,
								   message ? psprintf(": %s", message) : NULL,
								   "Graph could not run the KQL query; its message says why.");
	}
	if (resp.status == 429)
		msgraph_report_graph_error(&opts, HUNTING_PERMISSION, path, &resp, NULL,
								   "Advanced hunting allows a tenant some 45 queries a minute and a CPU quota per 15 minutes: wait, or run fewer or lighter queries.");
	if (resp.status != 200)
		msgraph_report_graph_error(&opts, HUNTING_PERMISSION, path, &resp, NULL, NULL);

	/* the body text is no longer needed once parsed: give it back */
	if (resp.body.data)
	{
		pfree(resp.body.data);
		resp.body.data = NULL;
	}
	results = msgraph_json_get(answer, "results");
	if (results == NULL || !json_object_is_type(results, json_type_array))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Graph answered a hunting query without a \"results\" array"),
				 errdetail("Request: POST %s", path)));

	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "msgraph_security_fdw hunting row",
								   ALLOCSET_DEFAULT_SIZES);
	nrows = json_object_array_length(results);
	for (i = 0; i < nrows; i++)
	{
		struct json_object *row = json_object_array_get_idx(results, i);
		Datum		value;
		bool		isnull = false;

		CHECK_FOR_INTERRUPTS();
		oldcxt = MemoryContextSwitchTo(rowcxt);
		value = json_to_jsonb_datum(row);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(rowcxt);
	}
	MemoryContextDelete(rowcxt);
	error_context_stack = errcb.previous;
	return (Datum) 0;
}
