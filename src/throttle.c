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
 * bucket in its "virtual scheduling" form): each request reserves the next
 * free send time of its bucket under the lock and then sleeps until then,
 * so that waiting backends are served in order and never poll.  Each
 * bucket allows a burst and then an even rate, chosen so that burst +
 * rate * window stays a little below Graph's number for any window
 * (arrival times differ from send times by the network's jitter).  A 429
 * all the same (another client of the same application, a limit Graph
 * does not document) blocks the bucket for the Retry-After or backoff
 * time and halves its rate, which then recovers over a minute, without
 * bursts until it has.  The concurrency limit is a counter of requests
 * in flight.
 *
 * With the library in shared_preload_libraries the buckets live in shared
 * memory under one LWLock, so concurrent sessions queue instead of
 * tripping 429 storms; a backend that exits while holding a concurrency
 * slot gives it back (before_shmem_exit).  Without preloading each backend
 * paces only itself.  Buckets are keyed by graph_url, tenant_id, the
 * application (client_id, empty for pre-acquired tokens) and the scope;
 * a tenant named once by GUID and once by domain gets two budgets.
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

#define THROTTLE_BUCKETS		128
#define THROTTLE_MIN_FACTOR		0.1		/* a 429 halves the rate, down to this */
#define THROTTLE_RECOVERY_S		60.0	/* ... and it recovers at 1.0 per this */
#define THROTTLE_WAIT_STEP_MS	100
#define THROTTLE_MARGIN_MS		50		/* a wait must end this long before statement_timeout */
#define THROTTLE_MAX_HELD		16

typedef struct ThrottleBucket
{
	uint64		key;			/* 0: free */
	int			cls;
	int64		tat_us;			/* theoretical arrival time of the next request */
	int64		blocked_until_us;	/* after a 429 */
	double		factor;			/* share of the nominal rate */
	int64		factor_at_us;	/* when factor last changed */
	int			in_flight;		/* concurrency limits */
	int64		last_used_us;
} ThrottleBucket;

typedef struct ThrottleState
{
	LWLock	   *lock;			/* NULL in a backend's own state */
	ConditionVariable slot_freed;
	int			nbuckets;
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
static Size throttle_state_size(int nbuckets);
static ThrottleState *get_state(void);
static void throttle_lock(ThrottleState *st);
static void throttle_unlock(ThrottleState *st);
static int64 now_us(void);
static void classify_url(MsgraphConnOptions *opts, const char *url,
						 int *rate_cls, int *slot_cls);
static uint64 bucket_key(MsgraphConnOptions *opts, int cls);
static int	find_bucket(ThrottleState *st, uint64 key, int cls, int64 now);
static double bucket_factor(ThrottleBucket *b, int64 now);
static void take_slot(MsgraphConnOptions *opts, int cls, MsgraphThrottleTicket *ticket,
					  MsgraphRequestStats *stats);
static void pace(MsgraphConnOptions *opts, int cls, MsgraphThrottleTicket *ticket,
				 MsgraphRequestStats *stats);
static void give_back_slot(int bucket, uint64 key);
static void release_held_slots(int code, Datum arg);
static void count_wait(MsgraphRequestStats *stats, int64 ms);


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

static Size
throttle_state_size(int nbuckets)
{
	return add_size(offsetof(ThrottleState, buckets),
					mul_size(sizeof(ThrottleBucket), nbuckets));
}

static void
throttle_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(throttle_state_size(THROTTLE_BUCKETS));
	RequestNamedLWLockTranche("msgraph_security_fdw", 1);
}

static void
throttle_shmem_startup(void)
{
	bool		found;
	ThrottleState *st;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	st = ShmemInitStruct("msgraph_security_fdw throttle",
						 throttle_state_size(THROTTLE_BUCKETS), &found);
	if (!found)
	{
		memset(st, 0, throttle_state_size(THROTTLE_BUCKETS));
		st->lock = &(GetNamedLWLockTranche("msgraph_security_fdw"))->lock;
		ConditionVariableInit(&st->slot_freed);
		st->nbuckets = THROTTLE_BUCKETS;
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
												   throttle_state_size(THROTTLE_BUCKETS));

		st->lock = NULL;
		st->nbuckets = THROTTLE_BUCKETS;
		throttle_state = st;
		throttle_shared = false;
	}
	return throttle_state;
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
 * concurrency class, -1 for none.  The resource path is what follows
 * "/<api_version>/" in the URL (Graph's paths are case-insensitive).
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

	if (pg_strncasecmp(p, "identityProtection/", 19) == 0)
		*rate_cls = THROTTLE_IDENTITY;
	else if (pg_strncasecmp(p, "security/runHuntingQuery", 24) == 0)
		*rate_cls = THROTTLE_HUNTING;
	else if (pg_strncasecmp(p, "security/secureScore", 20) == 0)
	{
		/* secureScores and secureScoreControlProfiles */
		*rate_cls = THROTTLE_SECURITY;
		*slot_cls = THROTTLE_SCORE_SLOTS;
	}
	else if (pg_strncasecmp(p, "security/", 9) == 0)
		*rate_cls = THROTTLE_SECURITY;
}

/* The bucket key of a class for the server and application of opts. */
static uint64
bucket_key(MsgraphConnOptions *opts, int cls)
{
	char	   *s = psprintf("%s\x1f%s\x1f%s\x1f%d", opts->graph_url,
							 opts->tenant_id ? opts->tenant_id : "",
							 (throttle_limits[cls].per_app && opts->client_id)
							 ? opts->client_id : "",
							 cls);
	uint64		key = hash_bytes_extended((const unsigned char *) s, strlen(s), 0);

	pfree(s);
	return key ? key : 1;
}

/*
 * The index of the bucket for key, made if need be (the lock is held).
 * When every bucket is taken the least recently used idle one is reused;
 * -1 (no pacing) only if none is idle.
 */
static int
find_bucket(ThrottleState *st, uint64 key, int cls, int64 now)
{
	int			i;
	int			free_slot = -1;
	int			idle = -1;
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
		}
		else if (b->in_flight == 0 && b->tat_us < now && b->blocked_until_us < now &&
				 (idle < 0 || b->last_used_us < st->buckets[idle].last_used_us))
			idle = i;
	}
	i = (free_slot >= 0) ? free_slot : idle;
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

/*
 * Take this request's place in the budgets that apply to url: a
 * concurrency slot first (waiting for one), then a send time (sleeping
 * until it comes).  Waits count as throttled time.  A wait that cannot
 * end before statement_timeout is the 53400 ERROR of the README
 * ("Throttling, retries and timeouts") rather than a cancel later.  Fills
 * *ticket for msgraph_throttle_release(), which must follow whatever
 * happens to the request.
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
 * without waiting for its answer (msgraph_graph_get_async): nothing would
 * give a concurrency slot back, and nothing needs releasing.
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

	if (throttle_shared && !exit_callback_registered)
	{
		before_shmem_exit(release_held_slots, (Datum) 0);
		exit_callback_registered = true;
	}

	for (;;)
	{
		int			idx;
		int64		left;

		throttle_lock(st);
		idx = find_bucket(st, key, cls, now_us());
		if (idx < 0 || nheld >= THROTTLE_MAX_HELD)
		{
			throttle_unlock(st);
			break;				/* no bucket to be had: unpaced */
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
	count_wait(stats, (now_us() - started) / 1000);
}

static void
pace(MsgraphConnOptions *opts, int cls, MsgraphThrottleTicket *ticket,
	 MsgraphRequestStats *stats)
{
	const ThrottleLimit *limit = &throttle_limits[cls];
	ThrottleState *st = get_state();
	uint64		key = bucket_key(opts, cls);
	int64		left = msgraph_statement_ms_left();
	int64		now;
	int64		wait_us;
	int64		interval;
	int64		tolerance;
	int64		tat;
	int64		send_at;
	int			idx;

	throttle_lock(st);
	now = now_us();
	idx = find_bucket(st, key, cls, now);
	if (idx < 0)
	{
		throttle_unlock(st);
		return;
	}
	{
		ThrottleBucket *b = &st->buckets[idx];

		interval = (int64) ((double) limit->interval_us / bucket_factor(b, now));
		/* no burst while the rate recovers from a 429 */
		tolerance = (b->factor < 1.0) ? 0 : (int64) (limit->burst - 1) * interval;
		tat = Max(b->tat_us, now);
		send_at = Max(Max(tat - tolerance, now), b->blocked_until_us);
		wait_us = send_at - now;
		if (wait_us > 0 && left >= 0 && wait_us / 1000 + THROTTLE_MARGIN_MS >= left)
		{
			throttle_unlock(st);
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("throttling limit of server \"%s\" left no time for a Graph request",
							opts->servername),
					 errdetail("Graph allows %s on %s requests; the next one may be sent in %lld ms, past statement_timeout.",
							   limit->graph_limit, limit->name,
							   (long long) ((wait_us + 999) / 1000)),
					 errhint("Narrow the query or raise the limit (statement_timeout).")));
		}
		b->tat_us = Max(tat, send_at) + interval;
		b->last_used_us = now;
	}
	ticket->rate_bucket = idx;
	ticket->rate_key = key;
	throttle_unlock(st);

	if (wait_us > 0)
	{
		ereport(DEBUG2,
				(errmsg_internal("msgraph_security_fdw: %s request paced by %lld ms",
								 limit->name, (long long) ((wait_us + 999) / 1000))));
		msgraph_sleep_ms((wait_us + 999) / 1000);
		count_wait(stats, (wait_us + 999) / 1000);
	}
}

static void
count_wait(MsgraphRequestStats *stats, int64 ms)
{
	if (ms <= 0)
		return;
	if (stats)
		stats->throttled_ms += ms;
	msgraph_backend_stats.throttled_ms += ms;
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
		const ThrottleLimit *limit = &throttle_limits[b->cls];
		double		factor;
		int64		next_allowed;

		now = now_us();
		factor = bucket_factor(b, now);
		/* when the next request could have gone, burst allowance included */
		next_allowed = b->tat_us - ((factor < 1.0) ? 0 :
									(int64) (limit->burst - 1) *
									(int64) ((double) limit->interval_us / factor));
		b->factor = Max(THROTTLE_MIN_FACTOR, factor * 0.5);
		b->factor_at_us = now;
		b->blocked_until_us = Max(b->blocked_until_us, now + wait_ms * 1000);
		/* from now on without burst allowance (see pace()) */
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

/* before_shmem_exit: a backend on its way out gives back what it holds. */
static void
release_held_slots(int code, Datum arg)
{
	while (nheld > 0)
		give_back_slot(held_slots[nheld - 1].bucket, held_slots[nheld - 1].key);
}
