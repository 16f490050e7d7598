/*-------------------------------------------------------------------------
 *
 * fuzz_page.c
 *		  libFuzzer harness over the parse of a Graph page: json-c's tokener
 *		  as parse_json_body() runs it, src/jsoncheck.c, and the DOM-free
 *		  reading of list pages (the walk's index, src/jsonpage.c).
 *
 * Besides what ASan and UBSan catch, every input checks that the two
 * gates agree on what gets through:
 *
 *	- the check never accepts text json-c refuses (json-c runs first, so
 *	  that would only mean the check is lax, but it would be a bug);
 *	- when both accept, the document json-c built holds every member of
 *	  the text (no duplicate was collapsed into one), and its serialization
 *	  is valid UTF-8 without surrogates (no lone surrogate became U+FFFD
 *	  unnoticed, no invalid byte got in);
 *	- when the check refuses a duplicate, json-c's document really is
 *	  smaller than the text;
 *	- the walk that indexes a page accepts and refuses exactly what the
 *	  check does, at the same byte;
 *	- when json-c and the check accept, what the scan reads from the text
 *	  is what it would read from json-c's DOM: the items of "value", each
 *	  wanted member of an item (present or not, its JSON text as json-c
 *	  writes it, strings decoded alike), members of nested objects, the
 *	  nextLink, and the whole document's text as json-c writes it.
 *
 * The conversion to tuples (src/convert.c) needs a backend; the fuzz
 * driver (tests/fuzz/driver.py) covers it through the extension.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "jsoncheck.h"
#include "jsonpage.h"

/* The member names the harness indexes items for. */
static const char *const wanted[] = {"id", "a", "b", "x", "t", "value", "\xc3\xa9", ""};
#define NWANTED ((int) (sizeof(wanted) / sizeof(wanted[0])))

static void *
fuzz_alloc(void *arg, size_t size)
{
	void	  **list = (void **) arg;
	void	  **block = malloc(sizeof(void *) + size);

	/* a chain of blocks, freed together after the input */
	if (block == NULL)
		return NULL;
	block[0] = *list;
	*list = block;
	return block + 1;
}

static void
fuzz_free_all(void **list)
{
	while (*list)
	{
		void	  **block = (void **) *list;

		*list = block[0];
		free(block);
	}
}

/* json-c's text of a node (NULL: JSON null), as convert.c asks for it. */
static const char *
dom_text(struct json_object *o, size_t *len)
{
	return json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN |
											 JSON_C_TO_STRING_NOSLASHESCAPE, len);
}

/* A value of the text and the json-c node of the same value agree. */
static void
same_value(const char *v, size_t vlen, struct json_object *o)
{
	char	   *buf = malloc(vlen + 1);
	size_t		n = msgraph_json_render(v, vlen, buf);
	size_t		dlen;
	const char *d = dom_text(o, &dlen);

	if (n > vlen || n != dlen || memcmp(buf, d, n) != 0)
		abort();				/* the text form differs from json-c's */
	if (msgraph_json_value_end(v) != v + vlen)
		abort();				/* the span is not the value */
	if (v[0] == '"')
	{
		n = msgraph_json_decode_string(v + 1, vlen - 2, buf);
		if (n != (size_t) json_object_get_string_len(o) ||
			memcmp(buf, json_object_get_string(o), n) != 0)
			abort();			/* decoded unlike json-c */
	}
	else if (v[0] == '-' || (v[0] >= '0' && v[0] <= '9'))
	{
		int64_t		i;
		uint64_t	u;

		if (msgraph_json_is_integer(v, vlen) != json_object_is_type(o, json_type_int))
			abort();			/* int or double unlike json-c */
		if (json_object_is_type(o, json_type_int) &&
			(msgraph_json_integer(v, vlen, &i, &u)
			 ? i != json_object_get_int64(o)
			 : u != json_object_get_uint64(o) || json_object_get_int64(o) != INT64_MAX))
			abort();			/* another integer */
	}
	if (v[0] == '{')
	{
		int			k;

		/* members of a nested object, found by name */
		for (k = 0; k < NWANTED; k++)
		{
			const char *m;
			size_t		mlen;
			struct json_object *mo;
			int			in_dom = json_object_object_get_ex(o, wanted[k], &mo);

			if (msgraph_json_member(v, vlen, wanted[k], strlen(wanted[k]), &m, &mlen) != in_dom)
				abort();
			if (in_dom && mo != NULL)
				same_value(m, mlen, mo);
		}
	}
	free(buf);
}

/*
 * Index the text as a list page and hold the index against the check and,
 * when there is one, json-c's DOM.
 */
static void
check_index(const char *text, size_t size, int check_ok, const MsgraphJsonCheck *check,
			struct json_object *doc)
{
	const char *names[NWANTED];
	size_t		lens[NWANTED];
	uint64_t	hashes[NWANTED];
	int32_t		table[64];
	MsgraphJsonNames nm;
	MsgraphJsonPage page;
	MsgraphJsonCheck res;
	void	   *blocks = NULL;
	int			ok;
	int			k;
	struct json_object *value;
	struct json_object *link;
	size_t		lead;

	for (k = 0; k < NWANTED; k++)
	{
		names[k] = wanted[k];
		lens[k] = strlen(wanted[k]);
	}
	nm.nnames = NWANTED;
	nm.names = names;
	nm.lens = lens;
	nm.hashes = hashes;
	nm.table = table;
	if (msgraph_json_names_slots(NWANTED) > 64)
		abort();
	msgraph_json_names_fill(&nm);
	memset(&page, 0, sizeof(page));
	page.alloc = fuzz_alloc;
	page.alloc_arg = &blocks;
	ok = msgraph_json_index_page(text, size, &nm, &page, &res);
	if (ok != check_ok ||
		(!ok && (strcmp(res.problem, check->problem) != 0 || res.offset != check->offset)))
		abort();				/* the indexing walk judges unlike the check */
	if (!ok || doc == NULL)
	{
		fuzz_free_all(&blocks);
		return;
	}

	/* the whole document, without the whitespace around it */
	lead = strspn(text, " \t\r\n");
	while (size > lead && strchr(" \t\r\n", text[size - 1]) != NULL)
		size--;
	same_value(text + lead, size - lead, doc);
	if (json_object_is_type(doc, json_type_object) &&
		json_object_object_get_ex(doc, "value", &value) &&
		json_object_is_type(value, json_type_array))
	{
		size_t		i;

		if (page.value.len == 0 || text[page.value.off] != '[' ||
			page.nitems != json_object_array_length(value))
			abort();			/* items missed or invented */
		for (i = 0; i < page.nitems; i++)
		{
			struct json_object *item = json_object_array_get_idx(value, i);
			const MsgraphJsonSpan *span = &page.items[i];

			if (item == NULL)
			{
				if (span->len != 4 || memcmp(text + span->off, "null", 4) != 0)
					abort();
				continue;
			}
			same_value(text + span->off, span->len, item);
			if (!json_object_is_type(item, json_type_object))
				continue;
			for (k = 0; k < NWANTED; k++)
			{
				const MsgraphJsonSpan *m = &page.members[i * NWANTED + k];
				struct json_object *mo;
				int			in_dom = json_object_object_get_ex(item, wanted[k], &mo);

				if ((m->len != 0) != in_dom)
					abort();	/* a member missed or invented */
				if (in_dom && mo != NULL)
					same_value(text + m->off, m->len, mo);
			}
		}
	}
	else if (page.value.len != 0 && text[page.value.off] == '[')
		abort();				/* a "value" array json-c does not see */
	if (json_object_is_type(doc, json_type_object) &&
		json_object_object_get_ex(doc, "@odata.nextLink", &link) && link != NULL)
	{
		if (page.next_link.len == 0)
			abort();
		same_value(text + page.next_link.off, page.next_link.len, link);
	}
	fuzz_free_all(&blocks);
}

/* Members in the text: one ':' outside strings each, in valid JSON. */
static long long
text_members(const uint8_t *p, size_t n)
{
	long long	count = 0;
	int			in_string = 0;
	size_t		i;

	for (i = 0; i < n; i++)
	{
		if (in_string)
		{
			if (p[i] == '\\')
				i++;
			else if (p[i] == '"')
				in_string = 0;
		}
		else if (p[i] == '"')
			in_string = 1;
		else if (p[i] == ':')
			count++;
	}
	return count;
}

static long long
dom_members(struct json_object *o)
{
	long long	n = 0;

	if (json_object_is_type(o, json_type_object))
	{
		json_object_object_foreach(o, key, child)
		{
			(void) key;
			n += 1 + (child ? dom_members(child) : 0);
		}
	}
	else if (json_object_is_type(o, json_type_array))
	{
		size_t		i;

		for (i = 0; i < json_object_array_length(o); i++)
		{
			struct json_object *e = json_object_array_get_idx(o, i);

			n += e ? dom_members(e) : 0;
		}
	}
	return n;
}

/* An independent UTF-8 check: decode, then range-check each code point. */
static int
utf8_ok(const unsigned char *s, size_t n)
{
	size_t		i = 0;

	while (i < n)
	{
		unsigned int cp;
		int			len;
		int			k;

		if (s[i] < 0x80)
		{
			i++;
			continue;
		}
		if ((s[i] & 0xE0) == 0xC0)
			len = 2, cp = s[i] & 0x1F;
		else if ((s[i] & 0xF0) == 0xE0)
			len = 3, cp = s[i] & 0x0F;
		else if ((s[i] & 0xF8) == 0xF0)
			len = 4, cp = s[i] & 0x07;
		else
			return 0;
		if (i + len > n)
			return 0;
		for (k = 1; k < len; k++)
		{
			if ((s[i + k] & 0xC0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
			(cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
			return 0;
		i += len;
	}
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_tokener *tok = json_tokener_new_ex(MSGRAPH_JSON_MAX_DEPTH);
	struct json_object *doc;
	enum json_tokener_error jerr;
	size_t		consumed;
	int			jsonc_ok;
	MsgraphJsonCheck check;
	int			check_ok;

	char	   *text = malloc(size + 1);

	/* the readers need a NUL after the text, as response bodies have */
	memcpy(text, data, size);
	text[size] = '\0';
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	doc = json_tokener_parse_ex(tok, (const char *) data, (int) size);
	jerr = json_tokener_get_error(tok);
	consumed = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	/* a JSON null is a NULL document */
	jsonc_ok = (jerr == json_tokener_success && consumed == size);

	check_ok = msgraph_json_check((const char *) data, size, &check);
	if (!check_ok && (check.problem == NULL || check.offset > size))
		abort();				/* a refusal says what and where */

	if (check_ok && !jsonc_ok && jerr != json_tokener_continue)
	{
		/*
		 * json-c refuses what the check accepts.  json-c reports a bare
		 * number at the top ("5") as incomplete (continue), not an error:
		 * that one is expected.
		 */
		abort();
	}
	if (check_ok && jsonc_ok)
	{
		size_t		len;
		const char *out;

		if (dom_members(doc) != text_members(data, size))
			abort();			/* a duplicate got through */
		out = json_object_to_json_string_length(doc, JSON_C_TO_STRING_PLAIN, &len);
		if (!utf8_ok((const unsigned char *) out, len))
			abort();			/* invalid UTF-8 or a surrogate got through */
	}
	if (!check_ok && jsonc_ok && strstr(check.problem, "duplicate") != NULL &&
		dom_members(doc) >= text_members(data, size))
		abort();				/* a duplicate that was none */
	check_index(text, size, check_ok, &check, check_ok && jsonc_ok ? doc : NULL);
	free(text);
	if (doc)
		json_object_put(doc);
	return 0;
}
