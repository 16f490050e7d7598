/*-------------------------------------------------------------------------
 *
 * connection.c
 *		  Requests to Graph on behalf of a user mapping, and the mapping of
 *		  Graph's answers to PostgreSQL errors.
 *
 * Every Graph request goes through msgraph_request(): it attaches the
 * bearer token and the headers of doc/graph.md ("Request headers"), takes
 * the request's place in the throttle budget (throttle.c), retries
 * throttled and failed attempts as retry.c decides, refreshes the token
 * once when Graph answers 401, and counts requests, bytes, retries and
 * waits.  Whether a status is an error is the caller's call (a 404 on a get
 * by id is "no row");
 * msgraph_report_graph_error() turns one into the ERROR of the README's
 * "Errors" table, with Graph's code, message and request-id.
 *
 * Graph's answers are read by response.c: error bodies without a DOM,
 * whatever they say reaching a message only escaped and cut short.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "miscadmin.h"

#include "msgraph_fdw.h"
#include "msgraph_json.h"
#include "jsonpage.h"

static void count_request(MsgraphRequestStats *stats);

static void count_bytes(MsgraphRequestStats *stats, int64 bytes);

MsgraphRequestStats msgraph_backend_stats;
int64		msgraph_tokens_fetched;

/* A retry's wait must end this long before statement_timeout would fire. */
#define RETRY_MARGIN_MS 50

/* How much of Graph's error text a message quotes, in characters. */
#define ERROR_CODE_CHARS 128
#define ERROR_MESSAGE_CHARS 1024

static void graph_request_once(MsgraphConnOptions *opts, const char *method,
							   const char *url, const char *body, const char *token,
							   MsgraphHttpResponse *resp);
static char *graph_http_request(MsgraphConnOptions *opts, const char *method,
								const char *url, const char *body, const char *token,
								MsgraphHttpRequest *req);
static void wipe_header(char *header);
static void graph_attempt(MsgraphConnOptions *opts, const char *method,
						  const char *url, const char *body, const char *token,
						  MsgraphHttpResponse *resp, MsgraphRequestStats *stats,
						  MsgraphThrottleTicket *ticket);
static void report_transport_error(MsgraphConnOptions *opts, const char *method,
								   const char *url, MsgraphHttpResponse *resp);
static char *query_option(const char *url, const char *name);
static void report_too_large(MsgraphConnOptions *opts, const char *method,
							 const char *url) pg_attribute_noreturn();
static void graph_exchange(MsgraphConnOptions *opts, const char *method, const char *url,
						   const char *body, MsgraphHttpResponse *resp,
						   MsgraphRequestStats *stats, MsgraphThrottleTicket *answered);


/*
 * Counting: each into the statement's counters (stats, may be NULL) and
 * the backend's, here only.  A request is counted when it has gone out, its
 * bytes when its answer is in, a wait when it is over (retry: the wait of a
 * retry, which is counted too).
 */
static void
count_request(MsgraphRequestStats *stats)
{
	if (stats)
		stats->requests++;
	msgraph_backend_stats.requests++;
}

static void
count_bytes(MsgraphRequestStats *stats, int64 bytes)
{
	if (stats)
		stats->bytes += bytes;
	msgraph_backend_stats.bytes += bytes;
}

void
msgraph_count_page(MsgraphRequestStats *stats)
{
	if (stats)
		stats->pages++;
	msgraph_backend_stats.pages++;
}

void
msgraph_count_wait(MsgraphRequestStats *stats, int64 ms, bool retry)
{
	if (stats)
	{
		stats->throttled_ms += ms;
		stats->retries += retry ? 1 : 0;
	}
	msgraph_backend_stats.throttled_ms += ms;
	msgraph_backend_stats.retries += retry ? 1 : 0;
}

/* GET url from Graph: msgraph_request() without a body. */
void
msgraph_get(MsgraphConnOptions *opts, const char *url,
				  MsgraphHttpResponse *resp, MsgraphRequestStats *stats)
{
	msgraph_request(opts, "GET", url, NULL, resp, stats);
}

/*
 * Send one request (absolute, percent-encoded url; body JSON or NULL) to
 * Graph.  On return resp holds Graph's final answer, whatever its status:
 *
 * - 429, 502, 503, 504 and transport failures are retried up to the
 *   server's max_retries, after Retry-After or a backoff (retry.c); a
 *   PATCH or POST only where Graph cannot have acted on it.  No wait ends
 *   past statement_timeout: the last answer is returned instead, with
 *   resp->retry_stop saying why, for msgraph_report_graph_error();
 * - a 401 is retried once with a freshly fetched token;
 * - a transfer that failed outright (no HTTP answer), after its retries,
 *   is reported here (HV00N).
 *
 * Each attempt first waits for its turn in the throttle budget.
 */
void
msgraph_request(MsgraphConnOptions *opts, const char *method, const char *url,
					  const char *body, MsgraphHttpResponse *resp,
					  MsgraphRequestStats *stats)
{
	graph_exchange(opts, method, url, body, resp, stats, NULL);
}

/*
 * The transfer of an asynchronous GET (msgraph_get_async) finished:
 * end it and count what came.  An answer but a 200 goes on as
 * msgraph_get() would after its first attempt (retries, a fresh
 * token, the budget told of a 429), so that the request is sent no more
 * often than max_retries allows; ticket is the one the asynchronous start
 * paced with.  resp then holds the final answer.
 */
void
msgraph_get_finish(MsgraphConnOptions *opts, MsgraphTransfer *t, const char *url,
						 MsgraphHttpResponse *resp, MsgraphRequestStats *stats,
						 MsgraphThrottleTicket *ticket)
{
	msgraph_http_end(t);
	count_bytes(stats, resp->wire_bytes);
	resp->method = "GET";
	if (resp->too_large)
		report_too_large(opts, "GET", url);
	if (resp->status != 200)
		graph_exchange(opts, "GET", url, NULL, resp, stats, ticket);
}

/*
 * The attempts of a request; with answered, resp already holds the answer
 * to a first attempt paced by answered.
 */
static void
graph_exchange(MsgraphConnOptions *opts, const char *method, const char *url,
			   const char *body, MsgraphHttpResponse *resp,
			   MsgraphRequestStats *stats, MsgraphThrottleTicket *answered)
{
	const char *token = msgraph_get_token(opts, false);
	bool		refreshed = false;
	int			retries = 0;
	int			stop = MSGRAPH_RETRY_STOP_NONE;
	int64		stopped_wait = 0;

	for (;;)
	{
		MsgraphThrottleTicket ticket;
		MsgraphRetryKind kind;
		int64		wait_ms;
		int64		left;

		if (answered)
		{
			ticket = *answered;
			answered = NULL;
		}
		else
			graph_attempt(opts, method, url, body, token, resp, stats, &ticket);

		if (resp->status == 401 && !refreshed && opts->cred_kind != MSGRAPH_CRED_ACCESS_TOKEN)
		{
			/* the cached token was revoked or expired early: once more */
			token = msgraph_get_token(opts, true);
			refreshed = true;
			continue;
		}

		kind = msgraph_retry_kind(method, resp);
		if (kind == MSGRAPH_RETRY_NO)
			break;
		wait_ms = msgraph_parse_retry_after(resp->retry_after);
		if (wait_ms < 0)
			wait_ms = msgraph_backoff_ms(kind, retries);
		/* the whole budget learns of a 429, retried or not */
		if (kind == MSGRAPH_RETRY_THROTTLED)
			msgraph_throttle_penalize(&ticket, wait_ms);
		if (retries >= opts->max_retries)
		{
			stop = MSGRAPH_RETRY_STOP_MAX_RETRIES;
			break;
		}
		left = msgraph_statement_ms_left();
		if (left >= 0 && wait_ms + RETRY_MARGIN_MS >= left)
		{
			stop = MSGRAPH_RETRY_STOP_STATEMENT_TIMEOUT;
			stopped_wait = wait_ms;
			break;
		}

		ereport(DEBUG1,
				(errmsg_internal("msgraph_security_fdw: %s %s: %s; retry %d of %d in %lld ms",
								 method, url,
								 resp->status ? psprintf("HTTP %ld", resp->status)
								 : (resp->transport_error ? resp->transport_error : "transfer failed"),
								 retries + 1, opts->max_retries, (long long) wait_ms)));
		msgraph_sleep_ms(wait_ms);
		retries++;
		msgraph_count_wait(stats, wait_ms, true);
	}

	resp->retries = retries;
	resp->retry_stop = stop;
	resp->retry_wait_ms = stopped_wait;
	if (resp->status == 0)
		report_transport_error(opts, method, url, resp);
}

/*
 * One attempt: its place in the throttle budget, the exchange, and the
 * counters.  The budget's concurrency slot is given back whatever happens,
 * an ERROR (a cancel mid-transfer) included.
 */
static void
graph_attempt(MsgraphConnOptions *opts, const char *method, const char *url,
			  const char *body, const char *token, MsgraphHttpResponse *resp,
			  MsgraphRequestStats *stats, MsgraphThrottleTicket *ticket)
{
	msgraph_throttle_acquire(opts, url, ticket, stats);
	PG_TRY();
	{
		graph_request_once(opts, method, url, body, token, resp);
	}
	PG_FINALLY();
	{
		msgraph_throttle_release(ticket);
	}
	PG_END_TRY();
	resp->method = method;
	count_request(stats);
	count_bytes(stats, resp->wire_bytes);
}

/*
 * Start a GET of url without waiting for it (parallel time windows, and
 * sequential paging a page ahead), counted as it goes out.  The caller
 * waits with msgraph_http_wait_any() and hands the finished transfer to
 * msgraph_get_finish(), which counts the answer and, for any answer but a
 * 200, refreshes tokens and retries as msgraph_get() does.
 * The start waits for the request's turn in the throttle budget's rate
 * (not for a concurrency slot: nothing would give it back), counting the
 * wait in stats, and returns once the request is on its way: the budget
 * counts it from its turn, so it must not wait for the transfers to be
 * driven later (by then another request of the budget may have gone).
 * The token is fetched before the turn is taken for the same reason.
 */
MsgraphTransfer *
msgraph_get_async(MsgraphConnOptions *opts, const char *url,
						MsgraphHttpResponse *resp, MsgraphRequestStats *stats,
						MsgraphThrottleTicket *ticket)
{
	MsgraphHttpRequest req;
	char	   *auth;
	MsgraphTransfer *t;

	auth = graph_http_request(opts, "GET", url, NULL, msgraph_get_token(opts, false), &req);
	PG_TRY();
	{
		msgraph_throttle_pace(opts, url, ticket, stats);
		t = msgraph_http_start(&req, resp);
	}
	PG_FINALLY();
	{
		/* libcurl holds its own copy of the header */
		wipe_header(auth);
	}
	PG_END_TRY();
	PG_TRY();
	{
		msgraph_http_send(t);
	}
	PG_CATCH();
	{
		/* (a cancel while connecting) the caller never saw the transfer */
		msgraph_http_end(t);
		PG_RE_THROW();
	}
	PG_END_TRY();
	count_request(stats);
	return t;
}

/*
 * The one place a Graph request is made: the bearer token, the headers
 * every request carries (doc/graph.md, "Request headers"), the body and
 * the transport options of the server.  Returns the Authorization header,
 * which the caller wipes (wipe_header) once the request has been handed
 * to http.c.
 */
static char *
graph_http_request(MsgraphConnOptions *opts, const char *method, const char *url,
				   const char *body, const char *token, MsgraphHttpRequest *req)
{
	char	   *auth = psprintf("Authorization: Bearer %s", token);

	memset(req, 0, sizeof(*req));
	req->method = method;
	req->url = url;
	req->headers = list_make4(auth,
							  "Accept: application/json",
							  "Prefer: include-unknown-enum-members",
							  psprintf("client-request-id: %s", msgraph_new_request_id()));
	if (body != NULL)
	{
		req->headers = lappend(req->headers, "Content-Type: application/json; charset=utf-8");
		req->body = body;
		req->body_len = strlen(body);
	}
	req->timeout_ms = opts->timeout_ms;
	req->connect_timeout_ms = opts->connect_timeout_ms;
	req->max_response_bytes = opts->max_response_bytes;
	req->ca_file = opts->ca_file;
	req->proxy = opts->proxy;
	return auth;
}

/* Wipe and free a header that held a secret. */
static void
wipe_header(char *header)
{
	explicit_bzero(header, strlen(header));
	pfree(header);
}

/* One exchange, waited for (http.c: start, wait, end). */
static void
graph_request_once(MsgraphConnOptions *opts, const char *method, const char *url,
				   const char *body, const char *token, MsgraphHttpResponse *resp)
{
	MsgraphHttpRequest req;
	char	   *auth = graph_http_request(opts, method, url, body, token, &req);

	PG_TRY();
	{
		msgraph_http_perform(&req, resp);
	}
	PG_FINALLY();
	{
		wipe_header(auth);
	}
	PG_END_TRY();

	if (resp->too_large)
		report_too_large(opts, method, url);
}

/* A response cut off at max_response_bytes: HV000, never retried. */
static void
report_too_large(MsgraphConnOptions *opts, const char *method, const char *url)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("Graph response exceeds max_response_bytes (%lld bytes)",
					(long long) opts->max_response_bytes),
			 errdetail("Request: %s %s", method, url),
			 errhint("Raise the server's max_response_bytes option or lower its page_size.")));
}

/* A request that got no HTTP answer, after its retries: HV00N. */
static void
report_transport_error(MsgraphConnOptions *opts, const char *method, const char *url,
					   MsgraphHttpResponse *resp)
{
	bool		timeout = (resp->curl_code == 28);	/* CURLE_OPERATION_TIMEDOUT */
	StringInfoData detail;

	initStringInfo(&detail);
	appendStringInfo(&detail, "Request: %s %s", method, url);
	msgraph_append_retry_detail(&detail, resp);
	ereport(ERROR,
			(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
			 errmsg("could not complete a Graph request for server \"%s\": %s",
					opts->servername,
					resp->transport_error ? resp->transport_error : "transfer failed"),
			 errdetail("%s", detail.data),
			 timeout
			 ? errhint("The request took longer than the server's timeout_ms (%d ms).",
					   opts->timeout_ms)
			 : errhint("Check the server's graph_url%s and the network path to it.",
					   opts->proxy ? ", its proxy" : "")));
}

/*
 * Report a Graph answer that is not a success as an ERROR, the one way
 * every Graph error is reported (the README's "Errors" table).  The
 * message names the HTTP status and Graph's error.code (which may be
 * empty), the DETAIL Graph's message and request-id (and the $filter sent,
 * for a 400), the HINT what to check.
 *
 * permission is the application permission the request needs (the 401 and
 * 403 hints name it; NULL when not known): for a read the resource's read
 * permission, for a write its write permission.  suffix, if not NULL, is
 * appended to the message ("; Graph had already changed 3 rows").  hint,
 * if not NULL, replaces the hint the status gives (a write or function
 * that knows better what its caller should check).
 */
void
msgraph_report_graph_error(MsgraphConnOptions *opts, const char *permission,
						   const char *url, MsgraphHttpResponse *resp,
						   const char *suffix, const char *hint)
{
	const char *code = NULL;
	const char *message = NULL;
	const char *request_id = NULL;
	const char *problem = NULL;
	bool		err = false;
	StringInfoData detail;
	int			sqlstate;
	char	   *status_hint = NULL;
	char	   *filter;

	if (msgraph_error_body_readable(resp, &problem))
	{
		err = msgraph_error_body_has(resp, "error");
		code = msgraph_error_body_string(resp, ERROR_CODE_CHARS, "error", "code", NULL);
		message = msgraph_error_body_string(resp, ERROR_MESSAGE_CHARS, "error", "message", NULL);
		request_id = msgraph_error_body_string(resp, ERROR_CODE_CHARS,
											   "error", "innerError", "request-id", NULL);
	}
	/* the header, when Graph sends one, is the request's own id */
	if (resp->request_id != NULL)
		request_id = msgraph_escape_text(resp->request_id, strlen(resp->request_id),
										 false, ERROR_CODE_CHARS);

	initStringInfo(&detail);
	if (message)
		appendStringInfo(&detail, "Graph says: %s", message);
	else if (problem != NULL)
		appendStringInfo(&detail, "Graph's error body could not be read: %s.", problem);
	else if (!err)
		appendStringInfoString(&detail, "The response carries no Graph error object.");
	if (request_id)
		appendStringInfo(&detail, "%srequest-id: %s", detail.len > 0 ? " " : "", request_id);
	msgraph_append_retry_detail(&detail, resp);

	switch (resp->status)
	{
		case 400:
			sqlstate = ERRCODE_FDW_ERROR;
			filter = query_option(url, "$filter");
			if (filter)
				appendStringInfo(&detail, " $filter sent: %s", filter);
			status_hint = "Graph rejected the request; simplify the WHERE clause or report the query.";
			break;
		case 401:
			sqlstate = ERRCODE_INSUFFICIENT_PRIVILEGE;
			status_hint = (opts->cred_kind == MSGRAPH_CRED_ACCESS_TOKEN)
				? "Graph refused the bearer token; a pre-acquired access_token cannot be refreshed: give the user mapping a new one."
				: "Graph refused a freshly issued token: check that the application belongs to the tenant and the cloud of the server.";
			if (permission != NULL)
				status_hint = psprintf("%s The table needs the %s application permission.",
									   status_hint, permission);
			break;
		case 403:
			sqlstate = ERRCODE_INSUFFICIENT_PRIVILEGE;
			if (permission != NULL)
				status_hint = psprintf("Grant the application the %s application permission (with admin consent), and check the user mapping's credentials.",
									   permission);
			else
				status_hint = "Check the application permissions of the app registration and the user mapping's credentials.";
			break;
		case 404:
			sqlstate = ERRCODE_FDW_TABLE_NOT_FOUND;
			status_hint = "Check the foreign table's resource option and the server's api_version.";
			break;
		case 429:
			sqlstate = ERRCODE_CONFIGURATION_LIMIT_EXCEEDED;
			if (resp->retry_stop == MSGRAPH_RETRY_STOP_STATEMENT_TIMEOUT)
				status_hint = "Narrow the query or raise the limit (statement_timeout).";
			else
				status_hint = psprintf("Narrow the query or raise the limit (the server's max_retries, now %d).",
									   opts->max_retries);
			break;
		default:
			if (resp->status >= 500)
			{
				sqlstate = ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION;
				status_hint = "Graph had a problem serving the request; try again later.";
			}
			else
				sqlstate = ERRCODE_FDW_ERROR;
			break;
	}

	if (hint == NULL)
		hint = status_hint;
	ereport(ERROR,
			(errcode(sqlstate),
			 errmsg("Graph request failed with HTTP status %ld, error code \"%s\"%s",
					resp->status, code ? code : "", suffix ? suffix : ""),
			 errdetail("%s", detail.data),
			 hint ? errhint("%s", hint) : 0));
}

/*
 * The decoded value of a query option of url, for messages; NULL if the
 * URL has none.
 */
static char *
query_option(const char *url, const char *name)
{
	const char *q = strchr(url, '?');
	size_t		nlen = strlen(name);
	StringInfoData buf;

	while (q != NULL)
	{
		q++;
		if (strncmp(q, name, nlen) == 0 && q[nlen] == '=')
		{
			const char *p = q + nlen + 1;

			initStringInfo(&buf);
			for (; *p && *p != '&'; p++)
			{
				if (*p == '%' && isxdigit((unsigned char) p[1]) && isxdigit((unsigned char) p[2]))
				{
					char		hex[3] = {p[1], p[2], '\0'};

					appendStringInfoChar(&buf, (char) strtol(hex, NULL, 16));
					p += 2;
				}
				else
					appendStringInfoChar(&buf, *p);
			}
			return buf.data;
		}
		q = strchr(q, '&');
	}
	return NULL;
}
