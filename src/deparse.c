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

#include "lib/stringinfo.h"
#include "utils/datetime.h"
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
	if (spec->top > 0)
	{
		char		top[16];

		snprintf(top, sizeof(top), "%d", spec->top);
		append_option(&url, &first, "$top", top, for_display);
	}
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
