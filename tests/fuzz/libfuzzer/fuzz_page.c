/*-------------------------------------------------------------------------
 *
 * fuzz_page.c
 *		  libFuzzer harness over the parse of a Graph page: json-c's tokener
 *		  as parse_json_body() runs it, then src/jsoncheck.c.
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
 *	  smaller than the text.
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
	if (doc)
		json_object_put(doc);
	return 0;
}
