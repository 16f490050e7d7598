/*-------------------------------------------------------------------------
 *
 * jsoncheck.h
 *		  A strict RFC 8259 check of a response body: what json-c accepts
 *		  but no JSON text holds is refused.  The same walk can index a
 *		  Graph list page on the way, for the scan to read without a DOM.
 *
 * Plain C (no PostgreSQL headers), so that tests/fuzz/libfuzzer can build
 * jsoncheck.c alone.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MSGRAPH_JSONCHECK_H
#define MSGRAPH_JSONCHECK_H

#include <stddef.h>
#include <stdint.h>

typedef struct MsgraphJsonCheck
{
	const char *problem;		/* NULL when the text is valid */
	size_t		offset;			/* byte where the problem shows */
	size_t		objects;		/* objects seen (json-c's costliest nodes) */
	size_t		values;			/* values seen, member values included */
} MsgraphJsonCheck;

/*
 * How deep values may nest, json-c's way: a value inside n arrays or
 * objects is at depth n + 1, scalars included (json-c's default is 32).
 */
#define MSGRAPH_JSON_MAX_DEPTH	64

extern int	msgraph_json_check(const char *buf, size_t len, MsgraphJsonCheck *res);

/*
 * The index of a page may take at most one and a half times the page's
 * size, or this many bytes where that is more (every page Graph sends
 * fits the floor: 2,000 items of 60 wanted members take under 1 MB).  A
 * page of millions of tiny items ({} takes 3 bytes, its index entry 8
 * bytes per wanted member) is refused rather than indexed at many times
 * its size.
 */
#define MSGRAPH_JSON_INDEX_FLOOR	((size_t) 1 << 20)

/* Where one JSON value is in a text; len 0 means there is none. */
typedef struct MsgraphJsonSpan
{
	uint32_t	off;
	uint32_t	len;
} MsgraphJsonSpan;

/*
 * Member names to pick out of each item of a page, with a hash table the
 * walk looks them up in (msgraph_json_names_fill fills hashes and table).
 */
typedef struct MsgraphJsonNames
{
	int			nnames;
	const char **names;			/* as decoded, not NUL-terminated */
	const size_t *lens;
	uint64_t   *hashes;			/* the hash of each (jsoncheck.c) */
	int32_t    *table;			/* name index or -1, msgraph_json_names_slots() */
	uint32_t	mask;
} MsgraphJsonNames;

/*
 * A list page as msgraph_json_index_page() leaves it: the top-level
 * "value", "@odata.nextLink" and "@odata.count" of the page object, each
 * item of "value" (when it is an array), and for each item that is an
 * object the members named in MsgraphJsonNames:
 * members[item * nnames + name].  Spans are
 * offsets into text, which must outlive the index.  Arrays come from
 * alloc (never freed here: the caller's memory context does that), the
 * first with room for items_hint items; a page that is indexed again keeps
 * them (zero items and members NULL the first time).
 */
typedef struct MsgraphJsonPage
{
	const char *text;
	MsgraphJsonSpan value;
	MsgraphJsonSpan next_link;
	MsgraphJsonSpan count;		/* "@odata.count" */
	size_t		nitems;
	MsgraphJsonSpan *items;
	MsgraphJsonSpan *members;
	size_t		maxitems;
	size_t		items_hint;		/* items the first allocation has room for
								 * (0: 256), e.g. the last page's count */
	void	   *(*alloc) (void *arg, size_t size);	/* NULL when out of memory */
	void	   *alloc_arg;
} MsgraphJsonPage;

extern int	msgraph_json_index_page(const char *buf, size_t len,
									const MsgraphJsonNames *names,
									MsgraphJsonPage *page, MsgraphJsonCheck *res);
extern uint32_t msgraph_json_names_slots(int n);
extern void msgraph_json_names_fill(MsgraphJsonNames *names);
extern size_t msgraph_json_decode_string(const char *src, size_t srclen, char *out);

#endif							/* MSGRAPH_JSONCHECK_H */
