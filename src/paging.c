/*-------------------------------------------------------------------------
 *
 * paging.c
 *		  Reading a scan's list pages: checking and indexing each page,
 *		  the nextLink policy, paging ahead and parallel time windows.
 *
 * A list page is kept as its body and the index that the strict walk of
 * jsoncheck.c built while checking it (where each item and each member
 * the query needs are); convert.c reads the values from the body.  A
 * nextLink is followed only to graph_url's origin and never twice in one
 * scan; a run of empty pages that never ends is an ERROR.
 *
 * Paging ahead: a scan that reads to its end goes on, from its second
 * page, as one window without bounds, so that each page is fetched while
 * the rows of the one before are returned.
 *
 * Parallel time windows: with streams > 1, the range of the snapshot
 * timestamp from the oldest row the filter selects to the scan start is
 * cut into windows paged at the same time, each in the order of that
 * timestamp; a window that holds more than its share is cut and its later
 * part given to an idle stream (split_windows).  Every window holds at
 * most two pages: the one being returned and the one being fetched.
 *
 * The interface is msgraph_windows_start() (parallel windows) or
 * msgraph_windows_page_ahead() (sequential), then msgraph_windows_next_page()
 * until it returns NULL, msgraph_windows_progress() between rows, and
 * msgraph_windows_end().  Transfers run on http.c's engine; every window's
 * memory lives in contexts below the scan's.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "jsoncheck.h"
#include "jsonpage.h"
#include "msgraph_fdw.h"
#include "msgraph_json.h"

/*
 * Empty pages with a nextLink followed in a row before the scan gives up:
 * Graph sends one now and then, a stalled or hostile service any number.
 */
#define MSGRAPH_MAX_EMPTY_RUN	100

/*
 * Ids of rows sharing a window's newest timestamp kept for a split; a
 * window with more at one instant is not split there.
 */
#define MSGRAPH_MAX_WINDOW_TIES	1000

/* rows returned between two turns of the transfers of the other windows */
#define MSGRAPH_ROWS_PER_PROGRESS 64

/*
 * One of a window's two pages: the one being returned, or the one being
 * fetched.  The body and the index arrays are kept from page to page (in
 * the window's bufs): fresh megabytes for every page would cost a page
 * fault every 4 kB.
 */
typedef struct MsgraphPageSlot
{
	MemoryContext cxt;			/* the page's small allocations, reset for each */
	MsgraphHttpResponse resp;	/* its response (keep_buffers) */
	MsgraphJsonPage index;		/* its index */
	bool	   *skip;			/* items returned before, or NULL for none */
} MsgraphPageSlot;

/*
 * One time window: its own paging, at most one page waiting (ready) and
 * one request in flight.  A window pages its range [from, to) in the order
 * of the snapshot timestamp, so that the part it has not reached yet can
 * be split off.  Timestamps here are as PostgreSQL reads Graph's (whole
 * microseconds).  Paging ahead is one window without a range.
 */
typedef struct MsgraphWindow
{
	StringInfoData next_url;	/* the URL to fetch next */
	bool		have_next;
	MsgraphTransfer *pending;		/* request in flight, or NULL */
	MemoryContext bufs;			/* what the slots keep from page to page */
	MsgraphPageSlot slots[2];
	int			fill;			/* the slot of the request in flight or ready */
	MsgraphThrottleTicket ticket;	/* how the request in flight was paced */
	MsgraphJsonPage *ready;		/* a fetched page not yet returned */
	int			empty_run;		/* empty pages with a nextLink in a row */

	/* the range, for parallel windows */
	TimestampTz from;			/* from on */
	TimestampTz to;				/* up to (not including) to */
	bool		bounded;		/* "lt to" is in the filter (else to is past
								 * the snapshot bound) */
	TimestampTz floor;			/* the last row's timestamp: none may be older */
	TimestampTz last_ts;		/* the newest timestamp of the rows returned */
	StringInfoData ties;		/* ids of the rows returned at last_ts, each
								 * after its length (an int) */
	int			nties;
	bool		many_ties;		/* too many to keep: no split at last_ts */
	bool		restarted;		/* asked again from last_ts: skip the rows
								 * returned before */
	double		rows;			/* rows returned from the range */
	double		sent;			/* rows sent since the range was asked for */
	double		expected;		/* rows to send then, by @odata.count */
	bool		counted;		/* expected is known */
	bool		carved;			/* its first count was weighed (carve_window) */
} MsgraphWindow;

/* A part of a window's range cut off to be paged later (carve_window). */
typedef struct MsgraphRange
{
	TimestampTz from;
	TimestampTz to;
	bool		bounded;
	double		rows;			/* rows it holds, as guessed */
} MsgraphRange;

/* The windows of a scan. */
struct MsgraphWindows
{
	MsgraphWindow *windows;
	int			nwindows;
	int			nstreams;		/* 1 for paging ahead */
	MsgraphRequestSpec spec;	/* a window's request but its range */
	TimestampTz snapshot;		/* the scan start */
	int			page;			/* rows per page ($top) */
	bool		splitting;		/* windows split while rows come in order */
	int			nsplits;
	double		share;			/* rows per stream, by the probe's count */
	MsgraphRange *queued;		/* ranges cut off, waiting for a stream */
	int			nqueued;
	int			rows_since_progress;
};

static MsgraphWindows *new_windows(MsgraphPager *pg, int nwindows, int nstreams);
static MsgraphWindow *new_window(MsgraphPager *pg, MsgraphWindow *w, const char *url);
static void set_window_range(MsgraphPager *pg, MsgraphWindow *w, TimestampTz from,
							 TimestampTz to, bool bounded);
static void ask_window_from(MsgraphPager *pg, MsgraphWindow *w, TimestampTz start);
static void window_request(MsgraphPager *pg, MsgraphWindow *w);
static void window_finish(MsgraphPager *pg, MsgraphWindow *w);
static bool *window_track(MsgraphPager *pg, MsgraphWindow *w, MsgraphJsonPage *page,
						  const char *url);
static bool returned_at_last_ts(MsgraphWindow *w, const char *text, const MsgraphJsonSpan *id);
static void stop_splitting(MsgraphPager *pg, const char *url);
static double window_remaining(MsgraphWindow *w);
static void split_windows(MsgraphPager *pg);
static void carve_window(MsgraphPager *pg, MsgraphWindow *w);
static void cut_window(MsgraphPager *pg, MsgraphWindow *w, TimestampTz cut);
static bool read_probe(MsgraphPager *pg, const char *url, MsgraphHttpResponse *resp,
					   TimestampTz *oldest, double *count);
static bool select_includes(const char *select, const char *prop);
static void *page_alloc(void *arg, size_t size);


/* ----------------------------------------------------------------
 * List pages
 * ----------------------------------------------------------------
 */

/* Allocator of a page's index: the memory context given. */
static void *
page_alloc(void *arg, size_t size)
{
	return MemoryContextAllocHuge((MemoryContext) arg, size);
}

/*
 * Check a list page and index it for the scan's columns (the body stays:
 * the index points into it), into page (a window's, whose arrays are
 * reused) or, when page is NULL, into a new one in the current memory
 * context.  Whatever the walk refuses is an ERROR in the walk's words, and
 * a body that is no JSON object is checked alone (msgraph_report_bad_page):
 * a refused page is never parsed into a json-c tree, which would cost
 * hundreds of times its size.  Returns a page with a "value" array, or
 * ERRORs.
 */
MsgraphJsonPage *
msgraph_page_read(MsgraphPager *pg, const char *url, MsgraphHttpResponse *resp,
				  MsgraphJsonPage *page)
{
	MsgraphJsonCheck check;
	const char *p = resp->body.data;

	if (page == NULL)
	{
		page = palloc0(sizeof(MsgraphJsonPage));
		page->alloc = page_alloc;
		page->alloc_arg = CurrentMemoryContext;
	}
	/* pages are alike: room for as many items as the last one had */
	page->items_hint = pg->index_items;
	p = msgraph_json_skip_ws(p);
	if (*p != '{')
	{
		/* an ERROR, unless the body is JSON that is no object; no DOM */
		msgraph_report_bad_page(url, resp, NULL);
		page->value.len = 0;
	}
	else if (!msgraph_json_index_page(resp->body.data, resp->body.len, pg->names, page, &check))
		msgraph_report_bad_page(url, resp, &check);
	if (page->value.len == 0 || page->text[page->value.off] != '[')
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Graph sent a page without a \"value\" array"),
				 errdetail("Request: GET %s", url)));
	pg->index_items = page->nitems;
	return page;
}

/*
 * A single entity (the answer to a get by id or to a PATCH), checked and
 * indexed as the one item of a page, so that it is read as list items
 * are: its text is checked alone first (messages name its own bytes),
 * then wrapped as {"value":[...]} and indexed for pg's names.  ERROR if
 * it is not a JSON object.
 */
MsgraphJsonPage *
msgraph_entity_read(MsgraphPager *pg, const char *method, const char *url,
					MsgraphHttpResponse *resp)
{
	static const char prefix[] = "{\"value\":[";
	MsgraphJsonCheck check;
	MsgraphJsonPage *page;
	StringInfoData text;

	if (!msgraph_json_check(resp->body.data, resp->body.len, &check))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Graph sent a response that is not valid JSON"),
				 errdetail("%s at byte %zu of %d; request: %s %s",
						   check.problem, check.offset, resp->body.len, method, url)));
	initStringInfo(&text);
	enlargeStringInfo(&text, resp->body.len + sizeof(prefix) + 2);
	appendBinaryStringInfo(&text, prefix, sizeof(prefix) - 1);
	appendBinaryStringInfo(&text, resp->body.data, resp->body.len);
	appendStringInfoString(&text, "]}");

	page = palloc0(sizeof(MsgraphJsonPage));
	page->alloc = page_alloc;
	page->alloc_arg = CurrentMemoryContext;
	page->items_hint = 1;
	if (!msgraph_json_index_page(text.data, text.len, pg->names, page, &check) ||
		page->nitems != 1 || page->text[page->items[0].off] != '{')
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Graph sent an entity that is not a JSON object"),
				 errdetail("Request: %s %s", method, url)));
	return page;
}

/*
 * The @odata.nextLink of an indexed page, checked, into next; false when
 * it has none (absent or null).  Used as json-c would give it: as a C
 * string, up to a "\u0000" if there is one.
 */
bool
msgraph_page_next_link(MsgraphPager *pg, MsgraphJsonPage *page, const char *url,
					   StringInfo next)
{
	const MsgraphJsonSpan *span = &page->next_link;
	const char *v = page->text + span->off;
	char	   *link;
	size_t		len;

	if (span->len == 0 || *v == 'n')
		return false;
	if (*v != '"')
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Graph sent an @odata.nextLink that is not a string"),
				 errdetail("Request: GET %s", url)));
	link = palloc(span->len);
	len = msgraph_json_decode_string(v + 1, span->len - 2, link);
	link[len] = '\0';
	msgraph_page_check_link(pg, link);
	resetStringInfo(next);
	appendStringInfoString(next, link);
	return true;
}

/*
 * A nextLink is followed only to graph_url's origin (the bearer token goes
 * nowhere else), and never twice in one scan (a paging loop would
 * otherwise return the same rows forever).
 */
void
msgraph_page_check_link(MsgraphPager *pg, const char *link)
{
	uint64		h = hash_bytes_extended((const unsigned char *) link, strlen(link), 0);
	int			i;

	if (!msgraph_same_origin(link, pg->opts->graph_url))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Graph sent an @odata.nextLink to another host"),
				 errdetail("The link %s is not on %s; it was not followed.",
						   link, pg->opts->graph_url)));

	for (i = 0; i < pg->nseen; i++)
	{
		if (pg->seen_links[i] == h)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("Graph's paging loops: an @odata.nextLink came back a second time"),
					 errdetail("Link: %s", link)));
	}
	if (pg->nseen == pg->maxseen)
	{
		pg->maxseen = Max(16, pg->maxseen * 2);
		pg->seen_links = pg->seen_links
			? repalloc(pg->seen_links, sizeof(uint64) * pg->maxseen)
			: MemoryContextAlloc(pg->cxt, sizeof(uint64) * pg->maxseen);
	}
	pg->seen_links[pg->nseen++] = h;
}

/*
 * Empty pages with fresh nextLinks are no loop the link check can see, yet
 * they may never end: past a limit, that is paging that stops for another
 * reason than the absence of a nextLink, an ERROR.  *run counts them.
 */
void
msgraph_page_check_empty_run(int *run, size_t nitems, bool have_next, const char *url)
{
	if (nitems > 0 || !have_next)
	{
		*run = 0;
		return;
	}
	if (++*run > MSGRAPH_MAX_EMPTY_RUN)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Graph sent %d empty pages in a row, each with an @odata.nextLink",
						*run),
				 errdetail("Last request: GET %s", url),
				 errhint("Graph's paging seems stalled; try again later.")));
}

/*
 * A page's @odata.count, if it has one that is a count (a checked number,
 * no sign).
 */
bool
msgraph_page_count(const MsgraphJsonPage *page, double *count)
{
	const char *v = page->text + page->count.off;
	size_t		len = page->count.len;
	int64_t		i;
	uint64_t	u;

	if (len == 0 || v[0] < '0' || v[0] > '9' || !msgraph_json_is_integer(v, len))
		return false;
	*count = msgraph_json_integer(v, len, &i, &u) ? (double) i : (double) u;
	return true;
}


/* ----------------------------------------------------------------
 * Windows
 * ----------------------------------------------------------------
 */

/*
 * Split the scan into time windows fetched at the same time.  One request
 * (the probe) asks Graph for the oldest snapshot timestamp the filter
 * selects and how many rows it selects; the range from there to the scan
 * start is cut into nstreams windows of equal length, each paged on its
 * own in the order of that timestamp.  Window bounds are whole
 * microseconds written with Graph's 100 ns precision ("ge b" and "lt b"),
 * so the windows partition the range exactly and the rows are those of
 * the sequential scan.  Returns false, and the scan pages sequentially
 * (with the usual 400 fallback), if Graph refuses the probe or the range
 * holds nothing.  The page index must hold the snapshot timestamp
 * (pg->ts_slot).
 */
bool
msgraph_windows_start(MsgraphPager *pg, const MsgraphRequestSpec *spec,
					  TimestampTz snapshot, int nstreams)
{
	MsgraphRequestSpec probe = *spec;
	MsgraphWindows *ws;
	MsgraphHttpResponse resp;
	TimestampTz lower;
	TimestampTz upper = snapshot;
	double		count = 0;
	char	   *url;
	int			i;

	Assert(pg->ts_slot >= 0 && pg->windows == NULL);
	probe.select = spec->snapshot_property;
	probe.orderby = psprintf("%s asc", spec->snapshot_property);
	probe.top = 1;
	probe.count = true;			/* the rows to share out */
	url = msgraph_build_url(pg->opts, &probe, false, true, snapshot);
	msgraph_get(pg->opts, url, &resp, pg->stats);
	if (resp.status != 200 || !read_probe(pg, url, &resp, &lower, &count) ||
		lower >= upper)
		return false;
	/* a microsecond before the (rounded) oldest value surely includes it */
	lower -= 1;

	ws = new_windows(pg, nstreams, nstreams);
	ws->snapshot = snapshot;
	ws->share = count > 0 ? count / nstreams : 0;
	ws->splitting = true;
	/* windows ask for the timestamp too, and in its order */
	ws->spec = *spec;
	ws->spec.orderby = probe.orderby;
	ws->spec.count = true;		/* how many rows a range holds */
	if (spec->select != NULL && !select_includes(spec->select, spec->snapshot_property))
		ws->spec.select = psprintf("%s,%s", spec->select, spec->snapshot_property);
	ws->page = Max(spec->top, 1);

	for (i = 0; i < ws->nwindows; i++)
	{
		MsgraphWindow *w = &ws->windows[i];
		TimestampTz from = lower + (upper - lower) / ws->nwindows * i;
		TimestampTz to = lower + (upper - lower) / ws->nwindows * (i + 1);

		new_window(pg, w, "");
		if (i < ws->nwindows - 1)
			set_window_range(pg, w, from, to, true);
		else
			set_window_range(pg, w, from, upper + 1, false);
	}
	for (i = 0; i < ws->nwindows; i++)
		window_request(pg, &ws->windows[i]);
	return true;
}

/* Whether a $select list names prop. */
static bool
select_includes(const char *select, const char *prop)
{
	size_t		len = strlen(prop);
	const char *p = select;

	while ((p = strstr(p, prop)) != NULL)
	{
		if ((p == select || p[-1] == ',') && (p[len] == ',' || p[len] == '\0'))
			return true;
		p += len;
	}
	return false;
}

/*
 * The probe's answer: the oldest timestamp (of its one row) and the count,
 * read through the same checked index as every list page.  False when
 * there is no row or no readable timestamp.
 */
static bool
read_probe(MsgraphPager *pg, const char *url, MsgraphHttpResponse *resp,
		   TimestampTz *oldest, double *count)
{
	MsgraphJsonPage *page = msgraph_page_read(pg, url, resp, NULL);
	const MsgraphJsonSpan *ts;
	const char *v;

	if (page->nitems < 1 || page->text[page->items[0].off] != '{')
		return false;
	ts = &page->members[pg->ts_slot];
	v = page->text + ts->off;
	if (ts->len < 2 || v[0] != '"' || memchr(v, '\\', ts->len) != NULL ||
		!msgraph_parse_timestamp(v + 1, ts->len - 2, oldest))
		return false;
	if (!msgraph_page_count(page, count))
		*count = 0;
	return true;
}

/*
 * Sequential paging from the second page on: the scan goes on as one
 * window without bounds, so that each page is fetched while the rows of
 * the one before are returned (two pages held at most), in the order of
 * the nextLinks.
 */
void
msgraph_windows_page_ahead(MsgraphPager *pg, const char *next_url, int empty_run)
{
	MsgraphWindows *ws = new_windows(pg, 1, 1);
	MsgraphWindow *w = new_window(pg, &ws->windows[0], next_url);

	w->empty_run = empty_run;
	window_request(pg, w);
}

/* The windows of a scan, in the scan's memory. */
static MsgraphWindows *
new_windows(MsgraphPager *pg, int nwindows, int nstreams)
{
	MsgraphWindows *ws = MemoryContextAllocZero(pg->cxt, sizeof(MsgraphWindows));

	ws->nwindows = nwindows;
	ws->nstreams = nstreams;
	ws->windows = MemoryContextAllocZero(pg->cxt, sizeof(MsgraphWindow) * nwindows);
	ws->queued = MemoryContextAlloc(pg->cxt, sizeof(MsgraphRange) * nwindows);
	pg->windows = ws;
	return ws;
}

/* Set up a window whose first request is url. */
static MsgraphWindow *
new_window(MsgraphPager *pg, MsgraphWindow *w, const char *url)
{
	MemoryContext oldcxt;
	int			i;

	w->bufs = AllocSetContextCreate(pg->cxt, "msgraph_security_fdw window buffers",
									ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(w->bufs);
	initStringInfo(&w->next_url);
	appendStringInfoString(&w->next_url, url);
	w->have_next = true;
	initStringInfo(&w->ties);
	for (i = 0; i < 2; i++)
	{
		MsgraphPageSlot *slot = &w->slots[i];

		slot->cxt = AllocSetContextCreate(pg->cxt, "msgraph_security_fdw page",
										  ALLOCSET_DEFAULT_SIZES);
		initStringInfo(&slot->resp.body);
		slot->resp.keep_buffers = true;
		slot->index.alloc = page_alloc;
		slot->index.alloc_arg = w->bufs;
	}
	MemoryContextSwitchTo(oldcxt);
	return w;
}

/*
 * Make w page the range [from, to) from its start (to is written only when
 * bounded).
 */
static void
set_window_range(MsgraphPager *pg, MsgraphWindow *w, TimestampTz from,
				 TimestampTz to, bool bounded)
{
	w->from = from;
	w->to = to;
	w->bounded = bounded;
	w->floor = from;
	w->last_ts = from - 1;
	resetStringInfo(&w->ties);
	w->nties = 0;
	w->many_ties = false;
	w->restarted = false;
	w->rows = 0;
	w->empty_run = 0;
	w->carved = false;
	ask_window_from(pg, w, from);
}

/* The next request of w: its range from start on, in timestamp order. */
static void
ask_window_from(MsgraphPager *pg, MsgraphWindow *w, TimestampTz start)
{
	MsgraphWindows *ws = pg->windows;
	MsgraphRequestSpec spec = ws->spec;

	spec.range = true;
	spec.range_from = start;
	spec.range_bounded = w->bounded;
	spec.range_to = w->to;
	w->sent = 0;
	w->counted = false;
	resetStringInfo(&w->next_url);
	appendStringInfoString(&w->next_url,
						   msgraph_build_url(pg->opts, &spec, false, true, ws->snapshot));
	w->have_next = true;
}

/* Start the next request of a window, if it has one. */
static void
window_request(MsgraphPager *pg, MsgraphWindow *w)
{
	MsgraphPageSlot *slot = &w->slots[w->fill];
	MemoryContext oldcxt;

	if (!w->have_next || w->pending != NULL)
		return;
	MemoryContextReset(slot->cxt);
	slot->skip = NULL;
	oldcxt = MemoryContextSwitchTo(slot->cxt);
	w->have_next = false;
	w->pending = msgraph_get_async(pg->opts, pstrdup(w->next_url.data), &slot->resp,
										 pg->stats, &w->ticket);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * A window's request finished: make its page ready, after the same checks
 * as sequential paging.  Anything but a 200 is sent again through the
 * sequential path, which refreshes tokens, retries and reports errors.
 */
static void
window_finish(MsgraphPager *pg, MsgraphWindow *w)
{
	MsgraphWindows *ws = pg->windows;
	MsgraphPageSlot *slot = &w->slots[w->fill];
	MemoryContext oldcxt = MemoryContextSwitchTo(slot->cxt);
	char	   *url = pstrdup(w->next_url.data);
	MsgraphTransfer *t = w->pending;

	/* the transfer is ended whatever happens next: no longer the window's */
	w->pending = NULL;
	/* (a page fetched again after an error has its body in slot->cxt) */
	msgraph_get_finish(pg->opts, t, url, &slot->resp, pg->stats, &w->ticket);
	if (slot->resp.status != 200)
		msgraph_report_graph_error(pg->opts, pg->res ? pg->res->read_permission : NULL,
								   url, &slot->resp, NULL, NULL);
	w->ready = msgraph_page_read(pg, url, &slot->resp, &slot->index);
	if (msgraph_page_next_link(pg, w->ready, url, &w->next_url))
		w->have_next = true;
	msgraph_page_check_empty_run(&w->empty_run, w->ready->nitems, w->have_next, url);
	msgraph_count_page(pg->stats);
	if (ws->splitting)
	{
		slot->skip = window_track(pg, w, w->ready, url);
		if (ws->splitting)
		{
			carve_window(pg, w);
			split_windows(pg);
		}
	}
	MemoryContextSwitchTo(oldcxt);
}

/*
 * Follow the timestamps of a window's page: each no older than the row
 * before, the ids at the newest kept (the ties a split must not return
 * twice).  Returns which items to skip, or NULL for none: after a split,
 * the rows at the timestamp the window was asked again from that it had
 * returned already.  A page out of order (Graph did not honour $orderby)
 * ends splitting; when a split has relied on the order, it is an ERROR.
 */
static bool *
window_track(MsgraphPager *pg, MsgraphWindow *w, MsgraphJsonPage *page, const char *url)
{
	int			nnames = pg->names->nnames;
	bool	   *skip = NULL;
	size_t		i;

	if (!w->counted && msgraph_page_count(page, &w->expected))
		w->counted = true;
	w->sent += page->nitems;
	for (i = 0; i < page->nitems; i++)
	{
		const MsgraphJsonSpan *id = &page->members[i * nnames];
		const MsgraphJsonSpan *ts = &page->members[i * nnames + pg->ts_slot];
		const char *v = page->text + ts->off;
		TimestampTz t;

		if (page->text[page->items[i].off] != '{')
			continue;			/* the scan reports it when it comes to it */
		if (ts->len < 2 || v[0] != '"' || memchr(v, '\\', ts->len) != NULL ||
			!msgraph_parse_timestamp(v + 1, ts->len - 2, &t) || t < w->floor)
		{
			stop_splitting(pg, url);
			return NULL;
		}
		w->floor = t;
		if (w->restarted &&
			(t < w->last_ts || (t == w->last_ts && returned_at_last_ts(w, page->text, id))))
		{
			if (skip == NULL)
				skip = palloc0(sizeof(bool) * page->nitems);
			skip[i] = true;
			continue;
		}
		if (t > w->last_ts)
		{
			w->last_ts = t;
			resetStringInfo(&w->ties);
			w->nties = 0;
			w->many_ties = false;
			w->restarted = false;
		}
		if (w->nties < MSGRAPH_MAX_WINDOW_TIES)
		{
			int			len = id->len;

			appendBinaryStringInfo(&w->ties, (char *) &len, sizeof(int));
			appendBinaryStringInfo(&w->ties, page->text + id->off, len);
			w->nties++;
		}
		else
			w->many_ties = true;
		w->rows += 1;
	}
	return skip;
}

/* Whether the row of this id was returned at the window's newest timestamp. */
static bool
returned_at_last_ts(MsgraphWindow *w, const char *text, const MsgraphJsonSpan *id)
{
	const char *p = w->ties.data;
	const char *end = p + w->ties.len;

	while (p < end)
	{
		int			len;

		memcpy(&len, p, sizeof(int));
		p += sizeof(int);
		if (len == (int) id->len && memcmp(p, text + id->off, len) == 0)
			return true;
		p += len;
	}
	return false;
}

/*
 * Graph sent a window out of the order asked for: no more splitting, or,
 * when a cut already relied on the order (rows could be lost or doubled),
 * an ERROR.
 */
static void
stop_splitting(MsgraphPager *pg, const char *url)
{
	if (pg->windows->nsplits > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Graph returned a time window out of the order it was asked for"),
				 errdetail("Request: GET %s", url),
				 errhint("Set the server's streams option to 1 to page sequentially.")));
	pg->windows->splitting = false;
}

/*
 * Rows a window has yet to send: by the count Graph gave for its range,
 * else guessed from how many it returned in the part it has passed.
 */
static double
window_remaining(MsgraphWindow *w)
{
	if (!w->have_next && w->pending == NULL)
		return 0;
	if (w->counted)
		return Max(w->expected - w->sent, 0);
	if (w->rows == 0)
		return 0;
	if (w->last_ts <= w->from)
		return w->rows * (double) (w->to - w->from);
	return w->rows * (double) (w->to - w->last_ts) / (double) (w->last_ts - w->from);
}

/*
 * While a stream is idle, give it a queued range (carve_window), else
 * split the window with the most left to send, more than a page, if its
 * next request is not on its way yet: the later half of the rest of its
 * range goes to the idle window (cut_window).
 */
static void
split_windows(MsgraphPager *pg)
{
	MsgraphWindows *ws = pg->windows;
	double		page = ws->page;

	for (;;)
	{
		MsgraphWindow *idle = NULL;
		MsgraphWindow *w = NULL;
		double		left = 0;
		double		others = 0;
		TimestampTz mid;
		int			i;

		for (i = 0; i < ws->nwindows; i++)
		{
			MsgraphWindow *o = &ws->windows[i];

			/* a request on its way brings a page of what is left */
			double		l = window_remaining(o) - (o->pending ? page : 0);

			if (!o->have_next && o->pending == NULL && o->ready == NULL)
				idle = o;
			else if (o->have_next && o->pending == NULL && !o->many_ties &&
					 o->to - o->last_ts >= 4 && l > left)
			{
				if (w != NULL)
					others = Max(others, left);
				w = o;
				left = l;
			}
			else
				others = Max(others, l);
		}
		if (idle != NULL && ws->nqueued > 0)
		{
			/* a range cut off before goes first, the biggest of them */
			int			k = 0;

			for (i = 1; i < ws->nqueued; i++)
			{
				if (ws->queued[i].rows > ws->queued[k].rows)
					k = i;
			}
			set_window_range(pg, idle, ws->queued[k].from, ws->queued[k].to,
							 ws->queued[k].bounded);
			ws->queued[k] = ws->queued[--ws->nqueued];
			window_request(pg, idle);
			continue;
		}
		if (idle == NULL || w == NULL || left <= page || left < others)
			return;
		mid = w->last_ts + (w->to - w->last_ts) / 2;
		set_window_range(pg, idle, mid, w->to, w->bounded);
		cut_window(pg, w, mid);
		window_request(pg, idle);
	}
}

/*
 * A window's first count came in: if the window holds more than its
 * share of the rows (the probe's count over the streams) by a page or
 * more, the part of its range past its share, as guessed from an even
 * spread over what it has not reached yet, is cut off and queued for the
 * first stream to fall idle.  So windows of unequal density even out
 * before any stream idles.
 */
static void
carve_window(MsgraphPager *pg, MsgraphWindow *w)
{
	MsgraphWindows *ws = pg->windows;
	double		left;
	double		keep;
	TimestampTz cut;

	if (w->carved || !w->counted || ws->share <= 0)
		return;
	w->carved = true;
	left = w->expected - w->sent;
	keep = ws->share - w->sent;
	if (!w->have_next || w->pending != NULL || w->many_ties ||
		w->expected - ws->share < ws->page || keep <= 0 || left <= keep ||
		ws->nqueued >= ws->nwindows)
		return;
	cut = w->last_ts + (TimestampTz) ((double) (w->to - w->last_ts) * (keep / left));
	if (cut - w->last_ts < 2 || w->to - cut < 2)
		return;
	ws->queued[ws->nqueued].from = cut;
	ws->queued[ws->nqueued].to = w->to;
	ws->queued[ws->nqueued].bounded = w->bounded;
	ws->queued[ws->nqueued].rows = left - keep;
	ws->nqueued++;
	cut_window(pg, w, cut);
}

/*
 * End w's range at cut (the rest has gone elsewhere): w is asked again
 * from its newest timestamp, its nextLink dropped, and skips the rows
 * there it has returned already.
 */
static void
cut_window(MsgraphPager *pg, MsgraphWindow *w, TimestampTz cut)
{
	TimestampTz start;

	w->to = cut;
	w->bounded = true;

	/*
	 * From a microsecond before last_ts, for every Graph value PostgreSQL
	 * reads as last_ts, but not before the range (the window before has
	 * those rows).
	 */
	start = Max(w->last_ts - 1, w->from);
	ask_window_from(pg, w, start);
	w->floor = start;
	w->restarted = true;
	pg->windows->nsplits++;
}

/*
 * The next page of the windows: one that is ready, else the first request
 * to finish; NULL when every window is done.  *skip is set to which of its
 * items to skip (rows a split window returned already), or NULL.  Taking a
 * window's page starts that window's next request, so each window holds
 * at most the page being returned and one more; the page stays valid until
 * the next call.
 */
MsgraphJsonPage *
msgraph_windows_next_page(MsgraphPager *pg, bool **skip)
{
	MsgraphWindows *ws = pg->windows;

	for (;;)
	{
		MsgraphTransfer *set[MSGRAPH_MAX_STREAMS];
		MsgraphTransfer *done;
		int			n = 0;
		int			i;

		for (i = 0; i < ws->nwindows; i++)
		{
			MsgraphWindow *w = &ws->windows[i];
			MsgraphJsonPage *page = w->ready;

			if (page == NULL)
				continue;
			*skip = w->slots[w->fill].skip;
			w->ready = NULL;
			/* the page stays in its slot; the window's next goes to the other */
			w->fill = 1 - w->fill;
			window_request(pg, w);
			if (ws->splitting)
				split_windows(pg);
			return page;
		}
		for (i = 0; i < ws->nwindows; i++)
			set[n++] = ws->windows[i].pending;
		for (i = 0; i < ws->nwindows && set[i] == NULL; i++)
			;
		if (i == ws->nwindows)
			return NULL;		/* nothing in flight, nothing ready: done */
		done = msgraph_http_wait_any(set, n);
		/* (finishing may start a request that reuses done's memory) */
		for (i = 0; i < ws->nwindows; i++)
		{
			if (ws->windows[i].pending == done)
			{
				window_finish(pg, &ws->windows[i]);
				break;
			}
		}
	}
}

/*
 * Called for every row returned: now and then, keep the other windows'
 * transfers moving.
 */
void
msgraph_windows_progress(MsgraphPager *pg)
{
	MsgraphWindows *ws = pg->windows;

	if (ws != NULL && ++ws->rows_since_progress >= MSGRAPH_ROWS_PER_PROGRESS)
	{
		ws->rows_since_progress = 0;
		msgraph_http_progress();
	}
}

/*
 * End every window's transfer, and with free_memory free the pages they
 * hold (without, when the memory is going anyway: a reset of the query's).
 */
void
msgraph_windows_end(MsgraphPager *pg, bool free_memory)
{
	MsgraphWindows *ws = pg->windows;
	int			i;

	if (ws == NULL)
		return;
	for (i = 0; i < ws->nwindows; i++)
	{
		MsgraphWindow *w = &ws->windows[i];

		if (w->pending)
			msgraph_http_end(w->pending);
		w->pending = NULL;
		w->ready = NULL;		/* memory of the window's contexts */
		if (free_memory && w->bufs != NULL)
		{
			MemoryContextDelete(w->slots[0].cxt);
			MemoryContextDelete(w->slots[1].cxt);
			MemoryContextDelete(w->bufs);
		}
	}
	if (free_memory)
	{
		pfree(ws->windows);
		pfree(ws->queued);
		pfree(ws);
	}
	pg->windows = NULL;
}

/*
 * For EXPLAIN ANALYZE: the streams of parallel windows and the windows
 * paged (the cut-off parts included); false when the scan paged
 * sequentially.
 */
bool
msgraph_windows_counts(MsgraphPager *pg, int *streams, int *windows)
{
	MsgraphWindows *ws = pg->windows;

	if (ws == NULL || ws->nstreams <= 1)
		return false;
	*streams = ws->nstreams;
	*windows = ws->nwindows + ws->nsplits;
	return true;
}
