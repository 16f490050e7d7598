/*-------------------------------------------------------------------------
 *
 * throttle.c
 *		  Pacing of Graph requests to Graph's documented throttling limits,
 *		  in a budget every backend shares when the library is preloaded.
 *
 * Graph throttles by scope (doc/graph.md, "Throttling"): 150 requests a
 * minute per application and tenant on /security (alerts_v2, incidents and
 * secure scores alike), 4 concurrent secure score requests per application and
 * tenant, 45 hunting queries a minute per tenant, and 1 request a second
 * per tenant, for all applications together, on identity protection.
 * Requests that would pass a limit get 429, and usage keeps counting while
 * a client is throttled, so the cheapest way through is not to pass it:
 * each request takes its place in the budget of its scope before it is
 * sent, and waits its turn.
 *
 * Rate limits are paced with the generic cell rate algorithm (a token
 * bucket in its "virtual scheduling" form), counted on the times requests
 * are actually sent: each bucket allows a burst and then an even rate,
 * chosen so that burst + rate * window stays a little below Graph's number
 * for any window (arrival times differ from send times by the network's
 * jitter).  The requests waiting for a bucket queue in the order they came:
 * only the first may go, once the algorithm allows it, and its send time
 * is booked as it leaves the queue, just before the request is written.
 * A place in the queue is all a waiting request holds, one per backend:
 * a wait that ends in a cancel or an ERROR leaves the queue and the
 * requests behind move up, so that no budget is ever booked for requests
 * that were not sent.  (Booking a send time ahead and sleeping until then
 * would keep the times of cancelled waits, and of requests that go out
 * later than booked, such as a transfer started without being driven.)
 * A 429 all the same (another client of the same application, a limit
 * Graph does not document) blocks the bucket for the Retry-After or
 * backoff time and halves its rate, which then recovers over a minute,
 * without bursts until it has.  The concurrency limit is a counter of
 * requests in flight.
 *
 * With the library in shared_preload_libraries the buckets and the queue
 * places live in shared memory under one LWLock, so concurrent sessions
 * queue instead of tripping 429 storms; a backend that exits gives back
 * its concurrency slot and its place in a queue (before_shmem_exit).
 * Without preloading each backend paces only itself.  Buckets are keyed
 * by graph_url and tenant_id (both without regard to case), the
 * application (client_id, empty for pre-acquired tokens) where Graph's
 * limit is per application, and the scope; a tenant named once by GUID
 * and once by domain gets two budgets.  The table has room for every
 * bucket that concurrent requests can hold; when it is full the bucket
 * used least recently that no request holds is reused, the idle ones
 * first, so pacing never stops for want of a bucket.
 *
 * msgraph_security_fdw.pace_requests (superuser, default on) turns the
 * pacing off; retries still honour Retry-After.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <time.h>

#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/backendid.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/wait_event.h"

#include "msgraph_fdw.h"

typedef enum ThrottleClass
{
	THROTTLE_SECURITY,			/* rate: /security, per app and tenant */
	THROTTLE_SCORE_SLOTS,		/* concurrency: secure scores, per app and tenant */
	THROTTLE_HUNTING,			/* rate: runHuntingQuery, per tenant */
	THROTTLE_IDENTITY,			/* rate: identity protection, per tenant */
	THROTTLE_NCLASSES
} ThrottleClass;

typedef struct ThrottleLimit
{
	const char *name;			/* for messages */
	bool		per_app;		/* keyed by application too */
	int64		interval_us;	/* rate limits: one request per interval ... */
	int			burst;			/* ... after a burst of this many */
	int			slots;			/* concurrency limits: requests in flight */
	const char *graph_limit;	/* what Graph documents, for messages */
} ThrottleLimit;

/*
 * burst + window / interval: /security 8 + 60 s / 0.43 s = 147 of 150
 * (a steady 140 a minute, 93% of the budget);
 * hunting 5 + 60 s / 1.6 s = 42 of 45; identity protection 1 per 1.2 s
 * (the window is one second: the margin absorbs the network's jitter).
 */
static const ThrottleLimit throttle_limits[THROTTLE_NCLASSES] = {
	{"/security", true, 430000, 8, 0,
	"150 requests per minute per application and tenant"},
	{"secure score", true, 0, 0, 4,
	"4 concurrent requests per application and tenant"},
	{"advanced hunting", false, 1600000, 5, 0,
	"45 requests per minute per tenant"},
	{"identity protection", false, 1200000, 1, 0,
	"1 request per second per tenant for all applications"},
};

#define THROTTLE_BUCKETS		128		/* plus two for each backend (see below) */
#define THROTTLE_MIN_FACTOR		0.1		/* a 429 halves the rate, down to this */
#define THROTTLE_RECOVERY_S		60.0	/* ... and it recovers at 1.0 per this */
#define THROTTLE_WAIT_STEP_MS	100
#define THROTTLE_MARGIN_MS		50		/* a wait must end this long before statement_timeout */
#define THROTTLE_MAX_HELD		4

typedef struct ThrottleBucket
{
	uint64		key;			/* 0: free */
	int			cls;
	int64		tat_us;			/* theoretical arrival time of the next request */
	int64		blocked_until_us;	/* after a 429 */
	double		factor;			/* share of the nominal rate */
	int64		factor_at_us;	/* when factor last changed */
	int			in_flight;		/* concurrency limits */
	int			waiting;		/* requests in its queue */
	uint64		next_place;		/* the place the next one to queue gets */
	int64		last_used_us;
} ThrottleBucket;

/*
 * A backend's place in the queue of a rate bucket.  A backend waits for one
 * request at a time, so one place each is all there is: a backend can
 * never hold more than one booking.
 */
typedef struct ThrottlePlace
{
	int			bucket;			/* -1: not queued */
	uint64		key;
	uint64		place;			/* its order in the bucket's queue */
} ThrottlePlace;

typedef struct ThrottleState
{
	LWLock	   *lock;			/* NULL in a backend's own state */
	ConditionVariable slot_freed;	/* a concurrency slot was given back */
	ConditionVariable queue_moved;	/* a request left a queue */
	int			nbuckets;
	int			nplaces;
	ThrottlePlace *places;		/* nplaces of them, after the buckets */
	ThrottleBucket buckets[FLEXIBLE_ARRAY_MEMBER];
} ThrottleState;

static bool msgraph_pace_requests = true;

static ThrottleState *throttle_state = NULL;
static bool throttle_shared = false;

/* concurrency slots this backend holds, given back if it exits */
static struct
{
	int			bucket;
	uint64		key;
}			held_slots[THROTTLE_MAX_HELD];
static int	nheld = 0;
static bool exit_callback_registered = false;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void throttle_shmem_request(void);
static void throttle_shmem_startup(void);
static int	shared_buckets(void);
static Size throttle_state_size(int nbuckets, int nplaces);
static void init_state(ThrottleState *st, int nbuckets, int nplaces);
static ThrottleState *get_state(void);
static ThrottlePlace *my_place(ThrottleState *st);
static void register_exit_callback(void);
static void throttle_lock(ThrottleState *st);
static void throttle_unlock(ThrottleState *st);
static int64 now_us(void);
static void classify_url(MsgraphConnOptions *opts, const char *url,
						 int *rate_cls, int *slot_cls);
static uint64 bucket_key(MsgraphConnOptions *opts, int cls);
static int	find_bucket(ThrottleState *st, uint64 key, int cls, int64 now);
static double bucket_factor(ThrottleBucket *b, int64 now);
static int64 bucket_interval(ThrottleBucket *b, int64 now);
static int64 bucket_tolerance(ThrottleBucket *b, int64 interval);
static int	places_ahead(ThrottleState *st, ThrottlePlace *me);
static int64 projected_send(ThrottleBucket *b, int ahead, int64 now);
static void take_slot(MsgraphConnOptions *opts, int cls, MsgraphThrottleTicket *ticket,
					  MsgraphRequestStats *stats);
static void pace(MsgraphConnOptions *opts, int cls, MsgraphThrottleTicket *ticket,
				 MsgraphRequestStats *stats);
static int	join_queue(ThrottleState *st, uint64 key, int cls);
static void leave_queue(ThrottleState *st);
static void wait_for_turn(ThrottleState *st, int64 wait_us);
static void give_back_slot(int bucket, uint64 key);
static void release_on_exit(int code, Datum arg);


/*
 * Called from _PG_init: the setting, and the shared memory when the
 * library is being preloaded.
 */
void
msgraph_throttle_init(void)
{
	DefineCustomBoolVariable("msgraph_security_fdw.pace_requests",
							 "Paces Graph requests to Graph's documented throttling limits.",
							 "Shared by all backends when the library is in shared_preload_libraries.",
							 &msgraph_pace_requests,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = throttle_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = throttle_shmem_startup;
}

/*
 * Shared buckets: room for every bucket that requests can hold at once
 * (each backend at most two: the concurrency slot of the request it sends
 * and the queue it waits in), and as many again for the budgets that are
 * idle but still counting.
 */
static int
shared_buckets(void)
{
	return THROTTLE_BUCKETS + 2 * MaxBackends;
}

static Size
throttle_state_size(int nbuckets, int nplaces)
{
	Size		size = add_size(offsetof(ThrottleState, buckets),
								mul_size(sizeof(ThrottleBucket), nbuckets));

	return add_size(MAXALIGN(size), mul_size(sizeof(ThrottlePlace), nplaces));
}

/* Empty buckets and places (st zeroed, its lock set by the caller). */
static void
init_state(ThrottleState *st, int nbuckets, int nplaces)
{
	int			i;

	st->nbuckets = nbuckets;
	st->nplaces = nplaces;
	st->places = (ThrottlePlace *) ((char *) st +
									MAXALIGN(offsetof(ThrottleState, buckets) +
											 sizeof(ThrottleBucket) * nbuckets));
	for (i = 0; i < nplaces; i++)
		st->places[i].bucket = -1;
}

static void
throttle_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(throttle_state_size(shared_buckets(), MaxBackends));
	RequestNamedLWLockTranche("msgraph_security_fdw", 1);
}

static void
throttle_shmem_startup(void)
{
	bool		found;
	ThrottleState *st;
	Size		size = throttle_state_size(shared_buckets(), MaxBackends);

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	st = ShmemInitStruct("msgraph_security_fdw throttle", size, &found);
	if (!found)
	{
		memset(st, 0, size);
		st->lock = &(GetNamedLWLockTranche("msgraph_security_fdw"))->lock;
		ConditionVariableInit(&st->slot_freed);
		ConditionVariableInit(&st->queue_moved);
		init_state(st, shared_buckets(), MaxBackends);
	}
	LWLockRelease(AddinShmemInitLock);
	throttle_state = st;
	throttle_shared = true;
}

/* The shared state, or this backend's own when the library was not preloaded. */
static ThrottleState *
get_state(void)
{
	if (throttle_state == NULL)
	{
		ThrottleState *st = MemoryContextAllocZero(TopMemoryContext,
												   throttle_state_size(THROTTLE_BUCKETS, 1));

		st->lock = NULL;
		init_state(st, THROTTLE_BUCKETS, 1);
		throttle_state = st;
		throttle_shared = false;
	}
	return throttle_state;
}

/* This backend's queue place: by backend id in shared memory. */
static ThrottlePlace *
my_place(ThrottleState *st)
{
	if (!throttle_shared)
		return &st->places[0];
	if (MyBackendId < 1 || MyBackendId > st->nplaces)
		elog(ERROR, "backend id %d out of range for the throttle state", MyBackendId);
	return &st->places[MyBackendId - 1];
}

/* A backend that holds shared throttle state gives it back when it exits. */
static void
register_exit_callback(void)
{
	if (throttle_shared && !exit_callback_registered)
	{
		before_shmem_exit(release_on_exit, (Datum) 0);
		exit_callback_registered = true;
	}
}

static void
throttle_lock(ThrottleState *st)
{
	if (st->lock)
		LWLockAcquire(st->lock, LW_EXCLUSIVE);
}

static void
throttle_unlock(ThrottleState *st)
{
	if (st->lock)
		LWLockRelease(st->lock);
}

/* A clock that all processes share and that never jumps: microseconds. */
static int64
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * The limits a request to url is subject to: a rate class and a
 * concurrency class, -1 for none, as the catalog classes its path (what
 * follows "/<api_version>/" in the URL).
 */
static void
classify_url(MsgraphConnOptions *opts, const char *url, int *rate_cls, int *slot_cls)
{
	char	   *marker = psprintf("/%s/", opts->api_version);
	const char *scheme_end = strstr(url, "://");
	const char *path = scheme_end ? strchr(scheme_end + 3, '/') : NULL;
	const char *p = path ? strstr(path, marker) : NULL;

	*rate_cls = -1;
	*slot_cls = -1;
	pfree(marker);
	if (p == NULL)
		return;
	p += strlen(opts->api_version) + 2;

	switch (graph_catalog_throttle_class(p))
	{
		case GRAPH_THROTTLE_IDENTITY_PROTECTION:
			*rate_cls = THROTTLE_IDENTITY;
			break;
		case GRAPH_THROTTLE_HUNTING:
			*rate_cls = THROTTLE_HUNTING;
			break;
		case GRAPH_THROTTLE_SECURE_SCORE:
			*rate_cls = THROTTLE_SECURITY;
			*slot_cls = THROTTLE_SCORE_SLOTS;
			break;
		case GRAPH_THROTTLE_SECURITY:
			*rate_cls = THROTTLE_SECURITY;
			break;
		case GRAPH_THROTTLE_NONE:
			break;
	}
}

/*
 * The bucket key of a class for the server and application of opts.  Host
 * names and tenants are compared without regard to case, as Graph does: a
 * server written "https://Graph.Microsoft.com" shares the budget of one
 * written in lower case.
 */
static uint64
bucket_key(MsgraphConnOptions *opts, int cls)
{
	char	   *s = psprintf("%s\x1f%s\x1f%s\x1f%d", opts->graph_url,
							 opts->tenant_id ? opts->tenant_id : "",
							 (throttle_limits[cls].per_app && opts->client_id)
							 ? opts->client_id : "",
							 cls);
	char	   *c;
	uint64		key;

	for (c = s; *c; c++)
		*c = pg_ascii_tolower((unsigned char) *c);
	key = hash_bytes_extended((const unsigned char *) s, strlen(s), 0);
	pfree(s);
	return key ? key : 1;
}

/*
 * The index of the bucket for key, made if need be (the lock is held).
 * When every bucket is taken, one that no request holds (no concurrency
 * slot in use, nobody queued) is reused: the least recently used of those
 * whose budget has nothing left to count, else the least recently used of
 * all (its schedule is forgotten, which can only let a request of that
 * budget go early).  The table is sized so that one is always there.
 */
static int
find_bucket(ThrottleState *st, uint64 key, int cls, int64 now)
{
	int			i;
	int			free_slot = -1;
	int			idle = -1;
	int			unheld = -1;
	ThrottleBucket *b;

	for (i = 0; i < st->nbuckets; i++)
	{
		b = &st->buckets[i];
		if (b->key == key && b->cls == cls)
			return i;
		if (b->key == 0)
		{
			if (free_slot < 0)
				free_slot = i;
			continue;
		}
		if (b->in_flight > 0 || b->waiting > 0)
			continue;
		if (b->tat_us <= now && b->blocked_until_us <= now &&
			(idle < 0 || b->last_used_us < st->buckets[idle].last_used_us))
			idle = i;
		if (unheld < 0 || b->last_used_us < st->buckets[unheld].last_used_us)
			unheld = i;
	}
	i = (free_slot >= 0) ? free_slot : (idle >= 0) ? idle : unheld;
	if (i < 0)
		return -1;
	b = &st->buckets[i];
	memset(b, 0, sizeof(*b));
	b->key = key;
	b->cls = cls;
	b->factor = 1.0;
	b->factor_at_us = now;
	b->last_used_us = now;
	return i;
}

/* The bucket's share of its nominal rate now, recovering since the last 429. */
static double
bucket_factor(ThrottleBucket *b, int64 now)
{
	if (b->factor < 1.0)
	{
		b->factor = Min(1.0, b->factor +
						(double) (now - b->factor_at_us) / (THROTTLE_RECOVERY_S * 1000000.0));
		b->factor_at_us = now;
	}
	return b->factor;
}

/* The time between two requests of the bucket now. */
static int64
bucket_interval(ThrottleBucket *b, int64 now)
{
	return (int64) ((double) throttle_limits[b->cls].interval_us / bucket_factor(b, now));
}

/* How far ahead of its theoretical time a request may go: the burst. */
static int64
bucket_tolerance(ThrottleBucket *b, int64 interval)
{
	/* no burst while the rate recovers from a 429 */
	if (b->factor < 1.0)
		return 0;
	return (int64) (throttle_limits[b->cls].burst - 1) * interval;
}

/* How many requests are ahead of me in the queue of my bucket. */
static int
places_ahead(ThrottleState *st, ThrottlePlace *me)
{
	int			i;
	int			ahead = 0;

	for (i = 0; i < st->nplaces; i++)
	{
		ThrottlePlace *p = &st->places[i];

		if (p != me && p->bucket == me->bucket && p->key == me->key && p->place < me->place)
			ahead++;
	}
	return ahead;
}

/*
 * When a request with ahead requests before it in the queue of b may be
 * sent, if they all go as soon as the budget allows.
 */
static int64
projected_send(ThrottleBucket *b, int ahead, int64 now)
{
	int64		interval = bucket_interval(b, now);
	int64		tolerance = bucket_tolerance(b, interval);
	int64		tat = b->tat_us;
	int64		send_at = now;
	int			i;

	for (i = 0; i <= ahead; i++)
	{
		send_at = Max(Max(tat - tolerance, now), b->blocked_until_us);
		tat = Max(tat, send_at) + interval;
	}
	return send_at;
}

/*
 * Take this request's place in the budgets that apply to url: a
 * concurrency slot first (waiting for one), then its turn in the rate
 * (waiting in the queue).  Waits count as throttled time.  A wait that
 * cannot end before statement_timeout is the 53400 ERROR of the README
 * ("Throttling, retries and timeouts") rather than a cancel later.  Fills
 * *ticket for msgraph_throttle_release(), which must follow whatever
 * happens to the request; the caller sends the request at once.
 */
void
msgraph_throttle_acquire(MsgraphConnOptions *opts, const char *url,
						 MsgraphThrottleTicket *ticket, MsgraphRequestStats *stats)
{
	int			rate_cls;
	int			slot_cls;

	ticket->rate_bucket = -1;
	ticket->slot_bucket = -1;
	if (!msgraph_pace_requests)
		return;
	classify_url(opts, url, &rate_cls, &slot_cls);
	if (slot_cls >= 0)
		take_slot(opts, slot_cls, ticket, stats);
	if (rate_cls >= 0)
	{
		/* a cancel (or 53400) while paced gives the slot back at once */
		PG_TRY();
		{
			pace(opts, rate_cls, ticket, stats);
		}
		PG_CATCH();
		{
			msgraph_throttle_release(ticket);
			PG_RE_THROW();
		}
		PG_END_TRY();
	}
}

/*
 * Only the rate part of msgraph_throttle_acquire(), for a request started
 * without waiting for its answer (msgraph_get_async): nothing would
 * give a concurrency slot back, and nothing needs releasing.  The caller
 * must get the request onto the wire at once (msgraph_http_async_send):
 * its send time is booked when this returns.
 */
void
msgraph_throttle_pace(MsgraphConnOptions *opts, const char *url,
					  MsgraphThrottleTicket *ticket, MsgraphRequestStats *stats)
{
	int			rate_cls;
	int			slot_cls;

	ticket->rate_bucket = -1;
	ticket->slot_bucket = -1;
	if (!msgraph_pace_requests)
		return;
	classify_url(opts, url, &rate_cls, &slot_cls);
	if (rate_cls >= 0)
		pace(opts, rate_cls, ticket, stats);
}

static void
take_slot(MsgraphConnOptions *opts, int cls, MsgraphThrottleTicket *ticket,
		  MsgraphRequestStats *stats)
{
	const ThrottleLimit *limit = &throttle_limits[cls];
	ThrottleState *st = get_state();
	uint64		key = bucket_key(opts, cls);
	int64		started = now_us();
	bool		sleeping = false;

	register_exit_callback();
	if (nheld >= THROTTLE_MAX_HELD)
		elog(ERROR, "too many throttle concurrency slots held");

	for (;;)
	{
		int			idx;
		int64		left;

		throttle_lock(st);
		idx = find_bucket(st, key, cls, now_us());
		if (idx < 0)
		{
			throttle_unlock(st);
			elog(ERROR, "no free throttle bucket");
		}
		if (st->buckets[idx].in_flight < limit->slots)
		{
			st->buckets[idx].in_flight++;
			st->buckets[idx].last_used_us = now_us();
			held_slots[nheld].bucket = idx;
			held_slots[nheld].key = key;
			nheld++;
			ticket->slot_bucket = idx;
			ticket->slot_key = key;
			throttle_unlock(st);
			break;
		}
		throttle_unlock(st);

		left = msgraph_statement_ms_left();
		if (left >= 0 && left <= THROTTLE_MARGIN_MS)
		{
			if (sleeping)
				ConditionVariableCancelSleep();
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("throttling limit of server \"%s\" left no time for a Graph request",
							opts->servername),
					 errdetail("Graph allows %s on %s requests; none of them ended before statement_timeout.",
							   limit->graph_limit, limit->name),
					 errhint("Narrow the query or raise the limit (statement_timeout).")));
		}
		if (throttle_shared)
		{
			/* the first call only prepares the sleep and returns */
			(void) ConditionVariableTimedSleep(&st->slot_freed, THROTTLE_WAIT_STEP_MS,
											   PG_WAIT_EXTENSION);
			sleeping = true;
		}
		else
			msgraph_sleep_ms(THROTTLE_WAIT_STEP_MS);
	}
	if (sleeping)
		ConditionVariableCancelSleep();
	msgraph_count_wait(stats, (now_us() - started) / 1000, false);
}

/*
 * Wait for this request's turn in the rate budget of class cls and book
 * its send time, now.  The request queues behind those that came before
 * it; the first in the queue goes as soon as the budget allows, and the
 * time it leaves is the send time the budget counts.  A cancel, a
 * statement_timeout or any other ERROR while waiting leaves the queue, so
 * that a wait that ends without a request books nothing.
 */
static void
pace(MsgraphConnOptions *opts, int cls, MsgraphThrottleTicket *ticket,
	 MsgraphRequestStats *stats)
{
	const ThrottleLimit *limit = &throttle_limits[cls];
	ThrottleState *st = get_state();
	uint64		key = bucket_key(opts, cls);
	int64		started = now_us();
	int			idx;

	register_exit_callback();
	idx = join_queue(st, key, cls);
	if (throttle_shared)
		ConditionVariablePrepareToSleep(&st->queue_moved);
	PG_TRY();
	{
		for (;;)
		{
			ThrottlePlace *me;
			ThrottleBucket *b;
			int64		now;
			int64		send_at;
			int64		left;
			int			ahead;

			throttle_lock(st);
			me = my_place(st);
			b = &st->buckets[idx];
			now = now_us();
			ahead = places_ahead(st, me);
			send_at = projected_send(b, ahead, now);
			if (ahead == 0 && send_at <= now)
			{
				/* my turn: the budget counts this request from now */
				b->tat_us = Max(b->tat_us, now) + bucket_interval(b, now);
				b->last_used_us = now;
				b->waiting--;
				me->bucket = -1;
				throttle_unlock(st);
				break;
			}
			throttle_unlock(st);

			left = msgraph_statement_ms_left();
			if (left >= 0 && (send_at - now) / 1000 + THROTTLE_MARGIN_MS >= left)
				ereport(ERROR,
						(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
						 errmsg("throttling limit of server \"%s\" left no time for a Graph request",
								opts->servername),
						 errdetail("Graph allows %s on %s requests; the next one may be sent in %lld ms, past statement_timeout.",
								   limit->graph_limit, limit->name,
								   (long long) ((send_at - now + 999) / 1000)),
						 errhint("Narrow the query or raise the limit (statement_timeout).")));
			wait_for_turn(st, send_at - now);
		}
	}
	PG_CATCH();
	{
		if (throttle_shared)
			ConditionVariableCancelSleep();
		leave_queue(st);
		PG_RE_THROW();
	}
	PG_END_TRY();
	if (throttle_shared)
	{
		ConditionVariableCancelSleep();
		/* the next in the queue is first now */
		ConditionVariableBroadcast(&st->queue_moved);
	}

	ticket->rate_bucket = idx;
	ticket->rate_key = key;
	if (now_us() - started >= 1000)
		ereport(DEBUG2,
				(errmsg_internal("msgraph_security_fdw: %s request paced by %lld ms",
								 limit->name, (long long) ((now_us() - started) / 1000))));
	msgraph_count_wait(stats, (now_us() - started) / 1000, false);
}

/*
 * Queue for the bucket of key: the index of the bucket, held (not to be
 * reused) as long as anyone waits in its queue.  A place this backend
 * still holds (it cannot, but one booking per backend is the rule) is
 * given up first.
 */
static int
join_queue(ThrottleState *st, uint64 key, int cls)
{
	ThrottlePlace *me;
	int			idx;

	leave_queue(st);
	throttle_lock(st);
	me = my_place(st);
	idx = find_bucket(st, key, cls, now_us());
	if (idx < 0)
	{
		throttle_unlock(st);
		elog(ERROR, "no free throttle bucket");
	}
	st->buckets[idx].waiting++;
	st->buckets[idx].last_used_us = now_us();
	me->bucket = idx;
	me->key = key;
	me->place = st->buckets[idx].next_place++;
	throttle_unlock(st);
	return idx;
}

/* Give up this backend's place in a queue, if it has one. */
static void
leave_queue(ThrottleState *st)
{
	ThrottlePlace *me;
	bool		left = false;

	if (st == NULL)
		return;
	throttle_lock(st);
	me = my_place(st);
	if (me->bucket >= 0)
	{
		ThrottleBucket *b = &st->buckets[me->bucket];

		if (b->key == me->key && b->waiting > 0)
			b->waiting--;
		me->bucket = -1;
		left = true;
	}
	throttle_unlock(st);
	/* the requests behind move up */
	if (left && throttle_shared)
		ConditionVariableBroadcast(&st->queue_moved);
}

/*
 * Sleep until wait_us have passed or, with other backends, until a queue
 * moves (the prepared condition variable), whichever comes first.
 * Interrupts are checked either way.
 */
static void
wait_for_turn(ThrottleState *st, int64 wait_us)
{
	long		ms = (long) ((wait_us + 999) / 1000);

	ms = Max(ms, 1);
	if (throttle_shared)
		(void) ConditionVariableTimedSleep(&st->queue_moved, ms, PG_WAIT_EXTENSION);
	else
		msgraph_sleep_ms(ms);
}


/*
 * Graph answered 429 to a request paced by ticket: block its bucket for
 * wait_ms (what the retry will wait anyway), so that other requests of the
 * budget wait too, and halve its rate.
 */
void
msgraph_throttle_penalize(MsgraphThrottleTicket *ticket, int64 wait_ms)
{
	ThrottleState *st;
	ThrottleBucket *b;
	int64		now;

	if (ticket->rate_bucket < 0 || throttle_state == NULL)
		return;
	st = throttle_state;
	throttle_lock(st);
	b = &st->buckets[ticket->rate_bucket];
	if (b->key == ticket->rate_key)
	{
		double		factor;
		int64		next_allowed;

		now = now_us();
		factor = bucket_factor(b, now);
		/* when the next request could have gone, burst allowance included */
		next_allowed = b->tat_us - bucket_tolerance(b, bucket_interval(b, now));
		b->factor = Max(THROTTLE_MIN_FACTOR, factor * 0.5);
		b->factor_at_us = now;
		b->blocked_until_us = Max(b->blocked_until_us, now + wait_ms * 1000);
		/* from now on without burst allowance (see bucket_tolerance()) */
		b->tat_us = Max(Max(next_allowed, now), b->blocked_until_us);
	}
	throttle_unlock(st);
}

/* The request of ticket is over: give back its concurrency slot. */
void
msgraph_throttle_release(MsgraphThrottleTicket *ticket)
{
	if (ticket->slot_bucket >= 0)
	{
		give_back_slot(ticket->slot_bucket, ticket->slot_key);
		ticket->slot_bucket = -1;
	}
}

static void
give_back_slot(int bucket, uint64 key)
{
	ThrottleState *st = throttle_state;
	int			i;

	if (st == NULL)
		return;
	for (i = 0; i < nheld; i++)
	{
		if (held_slots[i].bucket == bucket && held_slots[i].key == key)
		{
			held_slots[i] = held_slots[--nheld];
			break;
		}
	}
	throttle_lock(st);
	if (st->buckets[bucket].key == key && st->buckets[bucket].in_flight > 0)
		st->buckets[bucket].in_flight--;
	throttle_unlock(st);
	if (throttle_shared)
		ConditionVariableBroadcast(&st->slot_freed);
}

/*
 * before_shmem_exit: a backend on its way out gives back what it holds, its
 * concurrency slots and its place in a queue.
 */
static void
release_on_exit(int code, Datum arg)
{
	while (nheld > 0)
		give_back_slot(held_slots[nheld - 1].bucket, held_slots[nheld - 1].key);
	leave_queue(throttle_state);
}
