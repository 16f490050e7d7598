/*-------------------------------------------------------------------------
 *
 * retry.c
 *		  When a Graph request is worth sending again, and how long to wait
 *		  first.
 *
 * msgraph_request() (connection.c) asks msgraph_retry_kind() about
 * every answer.  A 429 is retried after what Retry-After says (integer or
 * decimal seconds, or an HTTP-date) or, without one (identity protection
 * sends none), after an exponential backoff; 502, 503 and 504 and
 * transport failures (a reset, a timeout, a refused connection) likewise.
 * No wait may end past what is left of statement_timeout: the request
 * then fails at once, with the ERROR the README gives ("Throttling,
 * retries and timeouts").
 *
 * Only a GET is always safe to send twice.  A PATCH or POST is retried
 * only when Graph cannot have acted on it: after a 429 (Graph refuses
 * throttled requests before doing anything) or when the connection failed
 * before a byte of the request went out.
 *
 * Waits check for interrupts at least every 100 ms and show up in
 * pg_stat_activity as wait_event_type "Extension" (PostgreSQL 15 offers
 * extensions no wait event of their own).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <time.h>

#include <curl/curl.h>

#include "common/pg_prng.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "msgraph_fdw.h"

/* Longest single sleep between interrupt checks. */
#define RETRY_SLEEP_STEP_MS		100

/* Backoff without Retry-After: base << retry, capped, with jitter. */
#define BACKOFF_BASE_THROTTLED_MS	1000	/* Graph's limits are per second or minute */
#define BACKOFF_BASE_TRANSIENT_MS	500
#define BACKOFF_CAP_MS				32000

/* A Retry-After beyond a day is taken as a day (it is surely a mistake). */
#define RETRY_AFTER_MAX_MS		(INT64CONST(24) * 3600 * 1000)

static bool transient_curl_code(int code);


/*
 * Whether the answer in resp (to a request with this method) may be
 * retried, and as what.  Everything but 429, 502, 503, 504 and the
 * transport failures of transient_curl_code() is final, as is a response
 * over max_response_bytes.
 */
MsgraphRetryKind
msgraph_retry_kind(const char *method, const MsgraphHttpResponse *resp)
{
	bool		idempotent = (strcmp(method, "GET") == 0);

	if (resp->too_large)
		return MSGRAPH_RETRY_NO;
	if (resp->status == 429)
		return MSGRAPH_RETRY_THROTTLED;
	if (resp->status == 502 || resp->status == 503 || resp->status == 504)
		return idempotent ? MSGRAPH_RETRY_TRANSIENT : MSGRAPH_RETRY_NO;
	if (resp->status == 0 && transient_curl_code(resp->curl_code))
		return (idempotent || !resp->request_sent)
			? MSGRAPH_RETRY_TRANSIENT : MSGRAPH_RETRY_NO;
	return MSGRAPH_RETRY_NO;
}

/*
 * Transfers that failed on the way, not because of what either side said:
 * worth another try.  Certificate and TLS failures, bad URLs and content
 * the client refuses are not among them: trying again cannot help.
 */
static bool
transient_curl_code(int code)
{
	switch (code)
	{
		case CURLE_COULDNT_RESOLVE_PROXY:
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_CONNECT:
		case CURLE_HTTP2:
		case CURLE_PARTIAL_FILE:
		case CURLE_OPERATION_TIMEDOUT:
		case CURLE_GOT_NOTHING:
		case CURLE_SEND_ERROR:
		case CURLE_RECV_ERROR:
		case CURLE_HTTP2_STREAM:
			return true;
		default:
			return false;
	}
}

/*
 * A Retry-After header value as milliseconds to wait, or -1 when it is
 * absent or not one of HTTP's two forms: delay-seconds (Graph also sends
 * decimals, "2.128") or an HTTP-date in any of the three formats RFC 9110
 * lets a recipient accept.  A date in the past means no wait.
 */
int64
msgraph_parse_retry_after(const char *value)
{
	const char *p;
	const char *end;
	char	   *copy;
	time_t		when;
	time_t		now;
	int64		ms;

	if (value == NULL)
		return -1;
	while (*value == ' ' || *value == '\t')
		value++;
	end = value + strlen(value);
	while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (end == value)
		return -1;

	if (isdigit((unsigned char) *value))
	{
		int64		whole = 0;
		int64		frac_ms = 0;
		int			scale = 100;
		bool		round_up = false;

		for (p = value; p < end && isdigit((unsigned char) *p); p++)
		{
			whole = whole * 10 + (*p - '0');
			if (whole > RETRY_AFTER_MAX_MS / 1000)
				return RETRY_AFTER_MAX_MS;
		}
		if (p < end && *p == '.')
		{
			p++;
			if (p == end || !isdigit((unsigned char) *p))
				return -1;
			for (; p < end && isdigit((unsigned char) *p); p++)
			{
				if (scale > 0)
					frac_ms += (*p - '0') * scale;
				else if (*p != '0')
					round_up = true;
				scale /= 10;
			}
		}
		/* milliseconds, rounded up: waiting a little long is the safe side */
		if (round_up)
			frac_ms++;
		if (p != end)
			return -1;
		return Min(whole * 1000 + frac_ms, RETRY_AFTER_MAX_MS);
	}

	/* HTTP-date: IMF-fixdate, RFC 850 or asctime, all starting with a day name */
	if (!isalpha((unsigned char) *value))
		return -1;
	copy = pnstrdup(value, end - value);
	when = curl_getdate(copy, NULL);
	pfree(copy);
	if (when == (time_t) -1)
		return -1;

	/*
	 * Clamp before any arithmetic: a date some billions of years ahead
	 * (curl_getdate() takes them) would overflow the multiplication and
	 * come out negative, i.e. "no wait".
	 */
	now = time(NULL);
	if ((int64) when >= (int64) now + RETRY_AFTER_MAX_MS / 1000)
		return RETRY_AFTER_MAX_MS;
	if ((int64) when <= (int64) now)
		return 0;
	ms = ((int64) when - (int64) now) * 1000;
	return Min(ms, RETRY_AFTER_MAX_MS);
}

/*
 * How long to wait before retry number retry + 1 when the answer says
 * nothing: base * 2^retry, capped, half of it fixed and half random
 * ("equal jitter"), so that backends that failed together do not retry
 * together.
 */
int64
msgraph_backoff_ms(MsgraphRetryKind kind, int retry)
{
	int64		base = (kind == MSGRAPH_RETRY_THROTTLED)
		? BACKOFF_BASE_THROTTLED_MS : BACKOFF_BASE_TRANSIENT_MS;
	int64		ceiling = Min(BACKOFF_CAP_MS, base << Min(Max(retry, 0), 16));

	return ceiling / 2 +
		(int64) (pg_prng_double(&pg_global_prng_state) * (double) (ceiling / 2));
}

/*
 * Milliseconds left before statement_timeout cancels the statement, or -1
 * when no statement_timeout is running.
 */
int64
msgraph_statement_ms_left(void)
{
	TimestampTz finish;
	int64		left;

	if (!get_timeout_active(STATEMENT_TIMEOUT))
		return -1;
	finish = get_timeout_finish_time(STATEMENT_TIMEOUT);
	left = (int64) (finish - GetCurrentTimestamp()) / 1000;
	return Max(left, 0);
}

/*
 * Sleep for ms milliseconds on the process latch, in steps of at most
 * RETRY_SLEEP_STEP_MS, checking for interrupts after each: a cancel,
 * statement_timeout or a vanished client (client_connection_check_interval)
 * ends the wait with their ERROR or FATAL at once.
 */
void
msgraph_sleep_ms(int64 ms)
{
	TimestampTz end = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ms);

	CHECK_FOR_INTERRUPTS();
	for (;;)
	{
		long		left = (long) ((end - GetCurrentTimestamp()) / 1000);

		if (left <= 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(left, RETRY_SLEEP_STEP_MS), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * Append to an error DETAIL how the retries of the request ended: how many
 * times it was sent and, if statement_timeout stopped them, the wait that
 * did not fit.  Nothing when the request was sent once and not stopped.
 */
void
msgraph_append_retry_detail(StringInfo detail, const MsgraphHttpResponse *resp)
{
	if (resp->retries > 0)
		appendStringInfo(detail, "%sThe request was sent %d times.",
						 detail->len > 0 ? " " : "", resp->retries + 1);
	if (resp->retry_stop == MSGRAPH_RETRY_STOP_STATEMENT_TIMEOUT)
		appendStringInfo(detail, "%sRetrying would mean waiting %lld ms, past statement_timeout.",
						 detail->len > 0 ? " " : "", (long long) resp->retry_wait_ms);
}
