/*-------------------------------------------------------------------------
 *
 * jsoncheck.c
 *		  A strict RFC 8259 check of a response body, and the index of a
 *		  list page built in the same pass.
 *
 * json-c parses the pages, but even with JSON_TOKENER_STRICT and
 * JSON_TOKENER_VALIDATE_UTF8 (json-c 0.16) it accepts text that is not
 * JSON, and turns some of it into values nobody sent:
 *
 *	- NaN and Infinity (which would reach jsonb as numerics jsonb cannot
 *	  hold), single-quoted strings, "1.", raw control characters in strings;
 *	- UTF-8 that is not UTF-8: overlong forms (C0 80 is a NUL), encoded
 *	  surrogates (ED A0 80), code points above U+10FFFF; text columns would
 *	  hold them as they are, in a UTF8 database;
 *	- lone surrogate escapes ("\ud800"), silently replaced with U+FFFD;
 *	- integers beyond 64 bits, saturated to INT64_MIN or UINT64_MAX;
 *	- "\u0000" in a member name, which cuts the name short;
 *	- duplicate member names, of which the last silently wins.
 *
 * msgraph_json_check() walks the text once and refuses all of those.  For
 * duplicate names it keeps a 64-bit hash of each member name (of the name
 * as decoded, so "a" and "\u0061" are the same) of the objects still
 * open, and sorts an object's hashes when it closes.  Two different names
 * with the same hash make a false "duplicate": an ERROR on a page that was
 * fine, never a wrong row, and with a 64-bit hash over names that Graph
 * chooses not a practical concern.  The hash takes eight bytes at a time,
 * and a name without escapes (all of Graph's) is hashed where it stands.
 *
 * Walking the DOM json-c built instead costs twice as much (its hash
 * tables are cache-cold), and could not say where the duplicate is.
 *
 * The check is a single forward pass with a fixed-size stack of open
 * containers; the fast path is the run of plain ASCII inside strings,
 * which is most of a page, tested eight bytes at a time.  On the project's
 * machines it checks 1.0-1.3 GB/s and indexes 0.9-1.1 GB/s on pages of
 * 2,000 alerts (json-c parses 50-150 MB/s).  It runs before json-c sees a
 * response, so its words are the ones errors about bad JSON give.
 *
 * List pages of scans are not parsed by json-c at all: the same walk, with
 * an index (msgraph_json_index_page), notes where the page's "value",
 * "@odata.nextLink" and "@odata.count" are, where each item is, and where
 * the members the scan's columns need are in each item (looked up by the
 * hash the duplicate check computes anyway).  The scan reads the values from the
 * text (jsonpage.c, convert.c).  A page the walk refuses is an ERROR in
 * the walk's words, never handed to json-c; the walk's rules being the
 * check's, nothing gets through one gate that the other stops.  The index
 * of a page is held to MSGRAPH_JSON_INDEX_FLOOR or one and a half times the
 * page's size, whichever is more, and the check counts the objects and
 * values of a text, so that the caller can tell what a json-c tree of it
 * would cost before building one.
 *
 * No PostgreSQL headers: the libFuzzer harness (tests/fuzz/libfuzzer)
 * builds this file alone.
 *
 *-------------------------------------------------------------------------
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsoncheck.h"

static uint64_t json_name_hash(const char *name, size_t len);

/* What the walk expects next. */
typedef enum
{
	WANT_VALUE,					/* a value (top level, after ':' or ',' in an array) */
	WANT_VALUE_OR_CLOSE,		/* after '[': a value or ']' */
	WANT_KEY,					/* after ',' in an object */
	WANT_KEY_OR_CLOSE,			/* after '{': a member name or '}' */
	WANT_COLON,
	WANT_COMMA_OR_CLOSE,		/* after a value inside a container */
	WANT_END					/* the top-level value is complete */
} CheckState;

/* A member name of an open object: hash of the decoded name, and where. */
typedef struct KeyEntry
{
	uint64_t	hash;
	size_t		offset;
} KeyEntry;

/* The member names of the open objects, innermost last. */
typedef struct KeyStack
{
	KeyEntry	local[256];		/* enough for every object Graph sends */
	KeyEntry   *keys;
	size_t		nkeys;
	size_t		maxkeys;
} KeyStack;

/* Multipliers of the member name hash (odd, with well-spread bits). */
#define HASH_MUL1	UINT64_C(0x9E3779B97F4A7C15)
#define HASH_MUL2	UINT64_C(0xBF58476D1CE4E5B9)

/* A byte in every lane of a word, and the lanes' top bits. */
#define LANES(b)	(UINT64_C(0x0101010101010101) * (uint8_t) (b))
#define LANE_TOPS	UINT64_C(0x8080808080808080)

static const char *check_string(const unsigned char **pp, const unsigned char *end,
								bool is_key, bool *escaped);
static const char *check_number(const unsigned char **pp, const unsigned char *end);
static int	hex4(const unsigned char *p);
static uint64_t name_hash(const unsigned char *s, size_t len);
static bool key_hash(const unsigned char *s, const unsigned char *e, bool escaped,
					 uint64_t *hash);
static bool push_key(KeyStack *ks, uint64_t hash, size_t offset);
static size_t duplicate_key(KeyEntry *keys, size_t n);


static int
hex4(const unsigned char *p)
{
	int			v = 0;
	int			i;

	for (i = 0; i < 4; i++)
	{
		int			c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/*
 * Whether one of the eight bytes of w ends the plain run of a string: a
 * control character, a quote, a backslash or a byte of a multi-byte UTF-8
 * sequence.  (x - LANES(1)) & ~x has a lane's top bit set where x has a
 * zero byte, or above one; a false hit only follows a true one, which the
 * byte loop after it stops at.
 */
static inline bool
word_ends_run(uint64_t w)
{
	uint64_t	quote = w ^ LANES('"');
	uint64_t	backslash = w ^ LANES('\\');
	uint64_t	low = (w - LANES(0x20)) | (quote - LANES(1)) | (backslash - LANES(1));

	return (((low & ~w) | w) & LANE_TOPS) != 0;
}

/*
 * A string from its opening quote; on success *pp is past the closing
 * quote, *escaped says whether it holds a backslash escape and the result
 * is NULL, else it names the problem and *pp points at it.  UTF-8 is
 * checked against RFC 3629's table (no overlong forms, no surrogates,
 * nothing above U+10FFFF).
 */
static const char *
check_string(const unsigned char **pp, const unsigned char *end, bool is_key,
			 bool *escaped)
{
	const unsigned char *p = *pp + 1;

	*escaped = false;
	for (;;)
	{
		unsigned char c;

		/* the common case, printable ASCII: eight bytes at a time */
		while (end - p >= 8)
		{
			uint64_t	w;

			memcpy(&w, p, sizeof(w));
			if (word_ends_run(w))
				break;
			p += 8;
		}
		while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
			p++;
		if (p >= end)
		{
			*pp = p;
			return "unterminated string";
		}
		c = *p;
		if (c == '"')
		{
			*pp = p + 1;
			return NULL;
		}
		*pp = p;
		if (c < 0x20)
			return "control character in a string";
		if (c == '\\')
		{
			int			u;

			*escaped = true;
			if (end - p < 2)
				return "unterminated string";
			switch (p[1])
			{
				case '"':
				case '\\':
				case '/':
				case 'b':
				case 'f':
				case 'n':
				case 'r':
				case 't':
					p += 2;
					continue;
				case 'u':
					break;
				default:
					return "invalid escape in a string";
			}
			if (end - p < 6 || (u = hex4(p + 2)) < 0)
				return "invalid \\u escape in a string";
			if (u == 0 && is_key)
				return "\\u0000 in a member name";
			if (u >= 0xDC00 && u <= 0xDFFF)
				return "lone low surrogate escape in a string";
			if (u >= 0xD800 && u <= 0xDBFF)
			{
				int			lo;

				if (end - p < 12 || p[6] != '\\' || p[7] != 'u' ||
					(lo = hex4(p + 8)) < 0xDC00 || lo > 0xDFFF)
					return "lone high surrogate escape in a string";
				p += 12;
			}
			else
				p += 6;
			continue;
		}
		/* c >= 0x80: one multi-byte UTF-8 sequence */
		{
			int			n;
			unsigned char lo = 0x80;
			unsigned char hi = 0xBF;
			int			i;

			if (c >= 0xC2 && c <= 0xDF)
				n = 1;
			else if (c >= 0xE0 && c <= 0xEF)
			{
				n = 2;
				if (c == 0xE0)
					lo = 0xA0;	/* no overlong forms */
				else if (c == 0xED)
					hi = 0x9F;	/* no surrogates */
			}
			else if (c >= 0xF0 && c <= 0xF4)
			{
				n = 3;
				if (c == 0xF0)
					lo = 0x90;
				else if (c == 0xF4)
					hi = 0x8F;	/* nothing above U+10FFFF */
			}
			else
				return "invalid UTF-8 in a string";
			if (end - p <= n)
				return "invalid UTF-8 in a string";
			if (p[1] < lo || p[1] > hi)
				return "invalid UTF-8 in a string";
			for (i = 2; i <= n; i++)
			{
				if (p[i] < 0x80 || p[i] > 0xBF)
					return "invalid UTF-8 in a string";
			}
			p += n + 1;
		}
	}
}

/*
 * A number (RFC 8259: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?).
 * An integer must fit json-c's int64 or uint64, which saturate silently.
 */
static const char *
check_number(const unsigned char **pp, const unsigned char *end)
{
	const unsigned char *p = *pp;
	const unsigned char *digits;
	size_t		ndigits;
	bool		negative = false;
	bool		integer = true;

	if (*p == '-')
	{
		negative = true;
		p++;
	}
	digits = p;
	if (p < end && *p == '0')
		p++;
	else if (p < end && *p >= '1' && *p <= '9')
	{
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	else
	{
		*pp = p;
		return "invalid number";
	}
	ndigits = p - digits;
	if (p < end && *p == '.')
	{
		integer = false;
		p++;
		if (p >= end || *p < '0' || *p > '9')
		{
			*pp = p;
			return "invalid number";
		}
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E'))
	{
		integer = false;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || *p < '0' || *p > '9')
		{
			*pp = p;
			return "invalid number";
		}
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (integer)
	{
		/* same length: digit strings compare like their values */
		const char *limit = negative ? "9223372036854775808" : "18446744073709551615";
		size_t		nlimit = strlen(limit);

		if (ndigits > nlimit ||
			(ndigits == nlimit && memcmp(digits, limit, nlimit) > 0))
		{
			*pp = digits;
			return "integer beyond the 64-bit range";
		}
	}
	*pp = p;
	return NULL;
}

/*
 * The hash of a member name as decoded, given as plain bytes: eight bytes
 * at a time, each word multiplied in and folded.  Only this process
 * compares the hashes, so the byte order does not matter.
 */
static uint64_t
name_hash(const unsigned char *s, size_t len)
{
	uint64_t	h = (uint64_t) len * HASH_MUL1;
	uint64_t	w;

	while (len >= 8)
	{
		memcpy(&w, s, sizeof(w));
		h = (h ^ w) * HASH_MUL1;
		h ^= h >> 32;
		s += 8;
		len -= 8;
	}
	if (len > 0)
	{
		/* the last bytes, one by one: a memcpy of a variable length is a call */
		w = 0;
		while (len > 0)
			w = (w << 8) | s[--len];
		h = (h ^ w) * HASH_MUL1;
		h ^= h >> 32;
	}
	h *= HASH_MUL2;
	return h ^ (h >> 29);
}

/*
 * The hash of a member name as decoded, given the text between its quotes
 * (already checked): escapes count as the UTF-8 they stand for, so "a"
 * and "\u0061" are the same name.  False when out of memory.
 */
static bool
key_hash(const unsigned char *s, const unsigned char *e, bool escaped, uint64_t *hash)
{
	unsigned char local[256];
	unsigned char *buf;
	size_t		len;

	if (!escaped)
	{
		*hash = name_hash(s, e - s);
		return true;
	}
	/* decoding never lengthens; a name too long for the stack is rare */
	buf = ((size_t) (e - s) <= sizeof(local)) ? local : malloc(e - s);
	if (buf == NULL)
		return false;
	len = msgraph_json_decode_string((const char *) s, e - s, (char *) buf);
	*hash = name_hash(buf, len);
	if (buf != local)
		free(buf);
	return true;
}

/* Remember a member name; false when out of memory. */
static bool
push_key(KeyStack *ks, uint64_t hash, size_t offset)
{
	if (ks->nkeys == ks->maxkeys)
	{
		size_t		newmax = ks->maxkeys * 2;
		KeyEntry   *grown;

		if (ks->keys == ks->local)
		{
			grown = malloc(newmax * sizeof(KeyEntry));
			if (grown != NULL)
				memcpy(grown, ks->local, sizeof(ks->local));
		}
		else
			grown = realloc(ks->keys, newmax * sizeof(KeyEntry));
		if (grown == NULL)
			return false;
		ks->keys = grown;
		ks->maxkeys = newmax;
	}
	ks->keys[ks->nkeys].hash = hash;
	ks->keys[ks->nkeys].offset = offset;
	ks->nkeys++;
	return true;
}

static int
key_entry_cmp(const void *a, const void *b)
{
	const KeyEntry *x = (const KeyEntry *) a;
	const KeyEntry *y = (const KeyEntry *) b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->offset < y->offset ? -1 : (x->offset > y->offset);
}

/*
 * The names of one object, about to close: sort them by hash and return
 * the offset of the later of two equal ones, or 0 (no name starts at
 * offset 0) when all differ.
 */
static size_t
duplicate_key(KeyEntry *keys, size_t n)
{
	size_t		i;
	size_t		found = 0;

	if (n < 2)
		return 0;
	if (n <= 32)
	{
		/* objects of Graph entities are small: insertion sort */
		for (i = 1; i < n; i++)
		{
			KeyEntry	k = keys[i];
			size_t		j = i;

			while (j > 0 && key_entry_cmp(&keys[j - 1], &k) > 0)
			{
				keys[j] = keys[j - 1];
				j--;
			}
			keys[j] = k;
		}
	}
	else
		qsort(keys, n, sizeof(KeyEntry), key_entry_cmp);
	for (i = 1; i < n; i++)
	{
		if (keys[i].hash == keys[i - 1].hash && (found == 0 || keys[i].offset < found))
			found = keys[i].offset;
	}
	return found;
}


/*
 * A Graph page as the walk indexes it (msgraph_json_index_page): where the
 * top-level "value", "@odata.nextLink" and "@odata.count" are, where each
 * item of "value" is, and in each item that is an object where the wanted members are.
 * NULL index: a plain check.
 */
typedef struct PageIndex
{
	const MsgraphJsonNames *names;
	MsgraphJsonPage *page;
	MsgraphJsonSpan *pending;	/* the span of the value about to start */
	bool		pending_items;	/* that value is "value": its items are indexed */
	bool		in_items;		/* inside the "value" array */
	MsgraphJsonSpan *members;	/* the current item's members, or NULL */
	MsgraphJsonSpan *open[MSGRAPH_JSON_MAX_DEPTH];	/* span of each open container */
	size_t		index_bytes;	/* what grow_items() has allocated so far */
	size_t		index_budget;	/* the most it may allocate */
	bool		over_budget;	/* grow_items() refused for that reason */
} PageIndex;

/* The hash of a member name given as plain bytes (no escapes). */
static uint64_t
json_name_hash(const char *name, size_t len)
{
	return name_hash((const unsigned char *) name, len);
}

/*
 * The index of a wanted name with this hash and text (between its quotes;
 * escaped: it holds a backslash escape), -1 if none, -2 when out of
 * memory.
 */
static int
find_name(const MsgraphJsonNames *names, uint64_t hash,
		  const unsigned char *s, const unsigned char *e, bool escaped)
{
	uint32_t	i = (uint32_t) hash & names->mask;

	for (;; i = (i + 1) & names->mask)
	{
		int			n = names->table[i];

		if (n < 0)
			return -1;
		if (names->hashes[n] != hash)
			continue;
		/* the hash matched: make sure of the name itself */
		if (!escaped)
		{
			if ((size_t) (e - s) == names->lens[n] && memcmp(s, names->names[n], e - s) == 0)
				return n;
		}
		else
		{
			char	   *buf = malloc(e - s);
			size_t		len;
			int			same;

			if (buf == NULL)
				return -2;
			len = msgraph_json_decode_string((const char *) s, e - s, buf);
			same = (len == names->lens[n] && memcmp(buf, names->names[n], len) == 0);
			free(buf);
			if (same)
				return n;
		}
	}
}

/* Room for one more item; false when out of memory. */
static bool
grow_items(PageIndex *ix, MsgraphJsonPage *page, size_t nnames)
{
	size_t		newmax = page->maxitems ? page->maxitems * 2 :
		page->items_hint ? page->items_hint : 256;
	MsgraphJsonSpan *items;
	MsgraphJsonSpan *members;
	size_t		bytes = newmax * (nnames + 1) * sizeof(MsgraphJsonSpan);

	/* see MSGRAPH_JSON_INDEX_FLOOR */
	if (ix->index_bytes + bytes > ix->index_budget)
	{
		ix->over_budget = true;
		return false;
	}
	ix->index_bytes += bytes;
	items = page->alloc(page->alloc_arg, newmax * sizeof(MsgraphJsonSpan));
	members = page->alloc(page->alloc_arg, newmax * nnames * sizeof(MsgraphJsonSpan));
	if (items == NULL || members == NULL)
		return false;
	if (page->nitems > 0)
	{
		memcpy(items, page->items, page->nitems * sizeof(MsgraphJsonSpan));
		memcpy(members, page->members, page->nitems * nnames * sizeof(MsgraphJsonSpan));
	}
	/* members not found stay empty: zeroed here, not item by item */
	memset(members + page->nitems * nnames, 0,
		   (newmax - page->nitems) * nnames * sizeof(MsgraphJsonSpan));
	/* the old arrays are the allocator's: a memory context frees them */
	page->items = items;
	page->members = members;
	page->maxitems = newmax;
	return true;
}

/*
 * The walk.  Check that buf[0..len) is exactly one JSON text (RFC 8259)
 * within the limits above, with no duplicate member names; with an index,
 * also record where the page's parts are.  Returns 1 if so; else 0 with
 * res->problem and res->offset (the byte where it shows) set.
 */
static int
json_walk(const char *buf, size_t len, PageIndex *ix, MsgraphJsonCheck *res)
{
	const unsigned char *start = (const unsigned char *) buf;
	const unsigned char *p = start;
	const unsigned char *end = p + len;
	char		stack[MSGRAPH_JSON_MAX_DEPTH];	/* '{' or '[' */
	size_t		key_start[MSGRAPH_JSON_MAX_DEPTH];	/* an object's first name */
	KeyStack	ks;
	int			depth = 0;
	CheckState	state = WANT_VALUE;
	const char *problem = NULL;

	res->problem = NULL;
	res->offset = 0;
	res->objects = 0;
	res->values = 0;
	ks.keys = ks.local;
	ks.nkeys = 0;
	ks.maxkeys = sizeof(ks.local) / sizeof(ks.local[0]);

	for (;;)
	{
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
			p++;
		if (p >= end)
		{
			if (state != WANT_END)
				problem = "unexpected end of the text";
			break;
		}

		switch (state)
		{
			case WANT_VALUE_OR_CLOSE:
				if (*p == ']')
					goto close;
				/* FALLTHROUGH */
			case WANT_VALUE:
				{
					MsgraphJsonSpan *span = NULL;
					const unsigned char *vstart = p;
					bool		escaped;

					if (ix)
					{
						/* an item of "value", or a member the index wants */
						if (ix->in_items && depth == 2)
						{
							size_t		nnames = (size_t) ix->names->nnames;
							MsgraphJsonPage *page = ix->page;

							if (page->nitems == page->maxitems && !grow_items(ix, page, nnames))
							{
								problem = ix->over_budget
									? "too many items for the size of the page" : "out of memory";
								break;
							}
							span = &page->items[page->nitems];
							ix->members = NULL;
							if (*p == '{')
								ix->members = page->members + page->nitems * nnames;
							page->nitems++;
						}
						else
							span = ix->pending;
						ix->pending = NULL;
						if (span)
						{
							span->off = (uint32_t) (vstart - start);
							span->len = 0;
						}
					}
					res->values++;
					if (*p == '{' || *p == '[')
					{
						if (*p == '{')
							res->objects++;
						if (depth >= MSGRAPH_JSON_MAX_DEPTH)
						{
							problem = "nesting too deep";
							break;
						}
						if (ix)
						{
							ix->open[depth] = span;
							if (depth == 1 && ix->pending_items && *p == '[')
								ix->in_items = true;
							ix->pending_items = false;
						}
						key_start[depth] = ks.nkeys;
						stack[depth++] = (char) *p;
						state = (*p == '{') ? WANT_KEY_OR_CLOSE : WANT_VALUE_OR_CLOSE;
						p++;
						continue;
					}
					if (depth >= MSGRAPH_JSON_MAX_DEPTH)
						problem = "nesting too deep";	/* a scalar is a level too */
					else if (*p == '"')
						problem = check_string(&p, end, false, &escaped);
					else if (*p == '-' || (*p >= '0' && *p <= '9'))
						problem = check_number(&p, end);
					else if (end - p >= 4 && memcmp(p, "true", 4) == 0)
						p += 4;
					else if (end - p >= 5 && memcmp(p, "false", 5) == 0)
						p += 5;
					else if (end - p >= 4 && memcmp(p, "null", 4) == 0)
						p += 4;
					else
						problem = "unexpected character where a value should be";
					if (problem)
						break;
					if (span)
						span->len = (uint32_t) (p - vstart);
					if (ix)
						ix->pending_items = false;
					state = depth == 0 ? WANT_END : WANT_COMMA_OR_CLOSE;
					continue;
				}

			case WANT_KEY_OR_CLOSE:
				if (*p == '}')
					goto close;
				/* FALLTHROUGH */
			case WANT_KEY:
				{
					const unsigned char *name = p;
					uint64_t	hash;
					bool		escaped;

					if (*p != '"')
					{
						problem = "member name expected";
						break;
					}
					if ((problem = check_string(&p, end, true, &escaped)) != NULL)
						break;
					if (!key_hash(name + 1, p - 1, escaped, &hash) ||
						!push_key(&ks, hash, (size_t) (name - start)))
					{
						p = name;
						problem = "out of memory";
						break;
					}
					if (ix)
					{
						int			n;

						ix->pending = NULL;
						ix->pending_items = false;
						if (depth == 1)
						{
							/* a member of the page itself */
							if (p - name == 7 && memcmp(name, "\"value\"", 7) == 0)
							{
								ix->pending = &ix->page->value;
								ix->pending_items = true;
							}
							else if (p - name == 17 && memcmp(name, "\"@odata.nextLink\"", 17) == 0)
								ix->pending = &ix->page->next_link;
							else if (p - name == 14 && memcmp(name, "\"@odata.count\"", 14) == 0)
								ix->pending = &ix->page->count;
						}
						else if (depth == 3 && ix->members &&
								 (n = find_name(ix->names, hash, name + 1, p - 1, escaped)) != -1)
						{
							if (n < 0)
							{
								p = name;
								problem = "out of memory";
								break;
							}
							ix->pending = &ix->members[n];
						}
					}
					state = WANT_COLON;
					continue;
				}

			case WANT_COLON:
				if (*p != ':')
				{
					problem = "':' expected after a member name";
					break;
				}
				p++;
				state = WANT_VALUE;
				continue;

			case WANT_COMMA_OR_CLOSE:
				if (*p == ',')
				{
					p++;
					state = (stack[depth - 1] == '{') ? WANT_KEY : WANT_VALUE;
					continue;
				}
				if ((*p == '}' && stack[depth - 1] == '{') ||
					(*p == ']' && stack[depth - 1] == '['))
					goto close;
				problem = "',' or the end of the container expected";
				break;

			case WANT_END:
				problem = "data after the end of the JSON text";
				break;
		}
		break;

close:
		/* *p closes the innermost container, which the state allows */
		depth--;
		if (*p == '}')
		{
			size_t		dup = duplicate_key(ks.keys + key_start[depth],
											ks.nkeys - key_start[depth]);

			if (dup != 0)
			{
				p = start + dup;
				problem = "duplicate member name in an object";
				break;
			}
			ks.nkeys = key_start[depth];
		}
		p++;
		if (ix)
		{
			if (ix->open[depth])
				ix->open[depth]->len = (uint32_t) (p - start - ix->open[depth]->off);
			if (depth == 2)
				ix->members = NULL; /* an item is complete */
			else if (depth == 1)
				ix->in_items = false;
		}
		state = depth == 0 ? WANT_END : WANT_COMMA_OR_CLOSE;
	}
	if (ks.keys != ks.local)
		free(ks.keys);
	res->problem = problem;
	res->offset = (size_t) (p - start);
	return problem == NULL;
}

/*
 * Check that buf[0..len) is exactly one JSON text (RFC 8259) within the
 * limits above, with no duplicate member names.  Returns 1 if so; else 0
 * with res->problem and res->offset (the byte where it shows) set.
 */
int
msgraph_json_check(const char *buf, size_t len, MsgraphJsonCheck *res)
{
	return json_walk(buf, len, NULL, res);
}

/*
 * Fill a name table: names->names, lens and nnames are set, hashes holds
 * nnames entries and table msgraph_json_names_slots(nnames) of them.
 */
void
msgraph_json_names_fill(MsgraphJsonNames *names)
{
	uint32_t	nslots = msgraph_json_names_slots(names->nnames);
	uint32_t	i;
	int			n;

	names->mask = nslots - 1;
	for (i = 0; i < nslots; i++)
		names->table[i] = -1;
	for (n = 0; n < names->nnames; n++)
	{
		names->hashes[n] = json_name_hash(names->names[n], names->lens[n]);
		for (i = (uint32_t) names->hashes[n] & names->mask; names->table[i] >= 0;
			 i = (i + 1) & names->mask)
			;
		names->table[i] = n;
	}
}

/* Slots of the hash table of n names: a power of two, at most half full. */
uint32_t
msgraph_json_names_slots(int n)
{
	uint32_t	slots = 16;

	while (slots < (uint32_t) n * 2)
		slots *= 2;
	return slots;
}

/*
 * The same check as msgraph_json_check(), indexing a Graph list page on
 * the way (see MsgraphJsonPage).  page->alloc and alloc_arg must be set,
 * items_hint may be; the rest of *page is filled.  A page indexed before
 * (with the same names) keeps its arrays, grown if need be.  On failure
 * the index is incomplete and must not be used.
 */
int
msgraph_json_index_page(const char *buf, size_t len, const MsgraphJsonNames *names,
						MsgraphJsonPage *page, MsgraphJsonCheck *res)
{
	PageIndex	ix;

	memset(&ix, 0, sizeof(ix));
	ix.names = names;
	ix.page = page;
	ix.index_budget = len + len / 2;
	if (ix.index_budget < MSGRAPH_JSON_INDEX_FLOOR)
		ix.index_budget = MSGRAPH_JSON_INDEX_FLOOR;
	page->text = buf;
	page->value.off = page->value.len = 0;
	page->next_link.off = page->next_link.len = 0;
	page->count.off = page->count.len = 0;
	/* arrays of an earlier page are reused: clear the members it found */
	if (page->members != NULL)
		memset(page->members, 0, page->nitems * names->nnames * sizeof(MsgraphJsonSpan));
	else
		page->maxitems = 0;
	page->nitems = 0;
	if (len > UINT32_MAX)
	{
		res->problem = "text too long";
		res->offset = 0;
		return 0;
	}
	return json_walk(buf, len, &ix, res);
}

/*
 * Decode the contents of a checked string (the bytes between its quotes)
 * into out, which has room for srclen bytes (decoding never lengthens).
 * Returns the decoded length; out is not NUL-terminated.
 */
size_t
msgraph_json_decode_string(const char *src, size_t srclen, char *out)
{
	const unsigned char *s = (const unsigned char *) src;
	const unsigned char *e = s + srclen;
	unsigned char *o = (unsigned char *) out;

	while (s < e)
	{
		const unsigned char *bs = memchr(s, '\\', e - s);
		uint32_t	u;

		if (bs == NULL)
		{
			memcpy(o, s, e - s);
			o += e - s;
			break;
		}
		memcpy(o, s, bs - s);
		o += bs - s;
		s = bs;
		switch (s[1])
		{
			case 'b':
				*o++ = '\b';
				s += 2;
				continue;
			case 'f':
				*o++ = '\f';
				s += 2;
				continue;
			case 'n':
				*o++ = '\n';
				s += 2;
				continue;
			case 'r':
				*o++ = '\r';
				s += 2;
				continue;
			case 't':
				*o++ = '\t';
				s += 2;
				continue;
			case 'u':
				break;
			default:
				*o++ = s[1];	/* " \ / */
				s += 2;
				continue;
		}
		u = (uint32_t) hex4(s + 2);
		s += 6;
		if (u >= 0xD800 && u <= 0xDBFF)
		{
			u = 0x10000 + ((u - 0xD800) << 10) + ((uint32_t) hex4(s + 2) - 0xDC00);
			s += 6;
		}
		if (u < 0x80)
			*o++ = (unsigned char) u;
		else if (u < 0x800)
		{
			*o++ = 0xC0 | (u >> 6);
			*o++ = 0x80 | (u & 0x3F);
		}
		else if (u < 0x10000)
		{
			*o++ = 0xE0 | (u >> 12);
			*o++ = 0x80 | ((u >> 6) & 0x3F);
			*o++ = 0x80 | (u & 0x3F);
		}
		else
		{
			*o++ = 0xF0 | (u >> 18);
			*o++ = 0x80 | ((u >> 12) & 0x3F);
			*o++ = 0x80 | ((u >> 6) & 0x3F);
			*o++ = 0x80 | (u & 0x3F);
		}
	}
	return (size_t) (o - (unsigned char *) out);
}
