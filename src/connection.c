/*-------------------------------------------------------------------------
 *
 * connection.c
 *		  Requests to Graph on behalf of a user mapping, and the mapping of
 *		  Graph's answers to PostgreSQL errors.
 *
 * Every Graph request goes through msgraph_graph_request(): it attaches the
 * bearer token and the headers interface.md requires, takes the request's
 * place in the throttle budget (throttle.c), retries throttled and failed
 * attempts as retry.c decides, refreshes the token once when Graph answers
 * 401, and counts requests, bytes, retries and waits.  Whether a status is
 * an error is the caller's call (a 404 on a get by id is "no row");
 * msgraph_report_graph_error() turns one into the ERROR of interface.md's
 * table, with Graph's code, message and request-id.
 *
 * Error bodies are read without a DOM (msgraph_error_body_string): http.c
 * keeps only their first MSGRAPH_ERROR_BODY_MAX bytes, the strict check of
 * jsoncheck.c must accept them as it accepts pages, and what they say
 * reaches a message only through msgraph_escape_text(), cut short, valid
 * in the database encoding and without control characters.  So a hostile
 * answer costs no more memory or time than its first few kB, and its text
 * can neither break a log line nor replace the ERROR with an encoding
 * failure of its own.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdarg.h>

#include "catalog/namespace.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"

#include "msgraph_fdw.h"
#include "msgraph_json.h"
#include "jsonpage.h"

MsgraphStats msgraph_backend_stats;

/* A retry's wait must end this long before statement_timeout would fire. */
#define RETRY_MARGIN_MS 50

/* How much of Graph's error text a message quotes, in characters. */
#define ERROR_CODE_CHARS 128
#define ERROR_MESSAGE_CHARS 1024

static void graph_request_once(MsgraphConnOptions *opts, const char *method,
							   const char *url, const char *body, const char *token,
							   MsgraphHttpResponse *resp);
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
static const char *needed_permission(const GraphResource *res,
									 const MsgraphHttpResponse *resp);


/* GET url from Graph: msgraph_graph_request() without a body. */
void
msgraph_graph_get(MsgraphConnOptions *opts, const char *url,
				  MsgraphHttpResponse *resp, MsgraphRequestStats *stats)
{
	msgraph_graph_request(opts, "GET", url, NULL, resp, stats);
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
msgraph_graph_request(MsgraphConnOptions *opts, const char *method, const char *url,
					  const char *body, MsgraphHttpResponse *resp,
					  MsgraphRequestStats *stats)
{
	graph_exchange(opts, method, url, body, resp, stats, NULL);
}

/*
 * An asynchronous GET (msgraph_graph_get_async) was answered with anything
 * but a 200: go on as msgraph_graph_get() would after its first attempt
 * (retries, a fresh token, the budget told of a 429), so that the request
 * is sent no more often than max_retries allows.  ticket is the one the
 * asynchronous start paced with.
 */
void
msgraph_graph_get_resume(MsgraphConnOptions *opts, const char *url,
						 MsgraphHttpResponse *resp, MsgraphRequestStats *stats,
						 MsgraphThrottleTicket *ticket)
{
	resp->method = "GET";
	if (resp->too_large)
		report_too_large(opts, "GET", url);
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
		if (stats)
		{
			stats->retries++;
			stats->throttled_ms += wait_ms;
		}
		msgraph_backend_stats.retries++;
		msgraph_backend_stats.throttled_ms += wait_ms;
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
	if (stats)
	{
		stats->requests++;
		stats->bytes += resp->wire_bytes;
	}
}

/*
 * Start a GET of url without waiting for it (parallel time windows).  The
 * caller waits with msgraph_http_async_wait(), counts the request, and
 * hands any answer but 200 to msgraph_graph_get_resume(), which refreshes
 * tokens and retries as msgraph_graph_get() does.
 * The start waits for the request's turn in the throttle budget's rate
 * (not for a concurrency slot: nothing would give it back).
 */
MsgraphAsync *
msgraph_graph_get_async(MsgraphConnOptions *opts, const char *url,
						MsgraphHttpResponse *resp, MsgraphThrottleTicket *ticket)
{
	MsgraphHttpRequest req;
	char	   *auth;
	MsgraphAsync *a;

	msgraph_throttle_pace(opts, url, ticket, NULL);
	auth = psprintf("Authorization: Bearer %s", msgraph_get_token(opts, false));
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = url;
	req.headers = list_make4(auth,
							 "Accept: application/json",
							 "Prefer: include-unknown-enum-members",
							 psprintf("client-request-id: %s", msgraph_new_request_id()));
	req.timeout_ms = opts->timeout_ms;
	req.connect_timeout_ms = opts->connect_timeout_ms;
	req.max_response_bytes = opts->max_response_bytes;
	req.ca_file = opts->ca_file;
	req.proxy = opts->proxy;
	PG_TRY();
	{
		a = msgraph_http_async_start(&req, resp);
	}
	PG_FINALLY();
	{
		/* libcurl holds its own copy of the header */
		explicit_bzero(auth, strlen(auth));
		pfree(auth);
	}
	PG_END_TRY();
	msgraph_backend_stats.requests++;
	return a;
}

static void
graph_request_once(MsgraphConnOptions *opts, const char *method, const char *url,
				   const char *body, const char *token, MsgraphHttpResponse *resp)
{
	MsgraphHttpRequest req;
	char	   *auth = psprintf("Authorization: Bearer %s", token);

	memset(&req, 0, sizeof(req));
	req.method = method;
	req.url = url;
	req.headers = list_make4(auth,
							 "Accept: application/json",
							 "Prefer: include-unknown-enum-members",
							 psprintf("client-request-id: %s", msgraph_new_request_id()));
	if (body != NULL)
	{
		req.headers = lappend(req.headers, "Content-Type: application/json; charset=utf-8");
		req.body = body;
		req.body_len = strlen(body);
	}
	req.timeout_ms = opts->timeout_ms;
	req.connect_timeout_ms = opts->connect_timeout_ms;
	req.max_response_bytes = opts->max_response_bytes;
	req.ca_file = opts->ca_file;
	req.proxy = opts->proxy;

	PG_TRY();
	{
		msgraph_http_perform(&req, resp);
	}
	PG_FINALLY();
	{
		explicit_bzero(auth, strlen(auth));
		pfree(auth);
	}
	PG_END_TRY();

	msgraph_backend_stats.requests++;
	msgraph_backend_stats.bytes += resp->wire_bytes;

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
 * Report a Graph answer that is not a success as an ERROR.  The message
 * names the HTTP status and Graph's error.code (which may be empty), the
 * DETAIL Graph's message and request-id, the HINT what to check.
 */
void
msgraph_report_graph_error(MsgraphConnOptions *opts, const GraphResource *res,
						   const char *url, MsgraphHttpResponse *resp)
{
	const char *code = NULL;
	const char *message = NULL;
	const char *request_id = NULL;
	const char *problem = NULL;
	bool		err = false;
	StringInfoData detail;
	int			sqlstate;
	char	   *hint = NULL;
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
			hint = "Graph rejected the request; simplify the WHERE clause or report the query.";
			break;
		case 401:
			sqlstate = ERRCODE_INSUFFICIENT_PRIVILEGE;
			hint = (opts->cred_kind == MSGRAPH_CRED_ACCESS_TOKEN)
				? "Graph refused the bearer token; a pre-acquired access_token cannot be refreshed: give the user mapping a new one."
				: "Graph refused a freshly issued token: check that the application belongs to the tenant and the cloud of the server.";
			if (needed_permission(res, resp) != NULL)
				hint = psprintf("%s The table needs the %s application permission.",
								hint, needed_permission(res, resp));
			break;
		case 403:
			sqlstate = ERRCODE_INSUFFICIENT_PRIVILEGE;
			if (needed_permission(res, resp) != NULL)
				hint = psprintf("Grant the application the %s application permission (with admin consent), and check the user mapping's credentials.",
								needed_permission(res, resp));
			else
				hint = "Check the application permissions of the app registration and the user mapping's credentials.";
			break;
		case 404:
			sqlstate = ERRCODE_FDW_TABLE_NOT_FOUND;
			hint = "Check the foreign table's resource option and the server's api_version.";
			break;
		case 429:
			sqlstate = ERRCODE_CONFIGURATION_LIMIT_EXCEEDED;
			if (resp->retry_stop == MSGRAPH_RETRY_STOP_STATEMENT_TIMEOUT)
				hint = "Narrow the query or raise the limit (statement_timeout).";
			else
				hint = psprintf("Narrow the query or raise the limit (the server's max_retries, now %d).",
								opts->max_retries);
			break;
		default:
			if (resp->status >= 500)
			{
				sqlstate = ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION;
				hint = "Graph had a problem serving the request; try again later.";
			}
			else
				sqlstate = ERRCODE_FDW_ERROR;
			break;
	}

	ereport(ERROR,
			(errcode(sqlstate),
			 errmsg("Graph request failed with HTTP status %ld, error code \"%s\"",
					resp->status, code ? code : ""),
			 errdetail("%s", detail.data),
			 hint ? errhint("%s", hint) : 0));
}

/*
 * The least-privileged application permission the request needs: the
 * resource's write permission for anything but a GET, else its read one.
 * NULL when the catalog does not know the resource.
 */
static const char *
needed_permission(const GraphResource *res, const MsgraphHttpResponse *resp)
{
	if (res == NULL)
		return NULL;
	if (resp->method != NULL && strcmp(resp->method, "GET") != 0 &&
		res->write_permission != NULL)
		return res->write_permission;
	return res->read_permission;
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
struct json_object *
msgraph_json_parse_dom(const char *text, size_t len, int max_depth,
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
