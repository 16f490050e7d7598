/*-------------------------------------------------------------------------
 *
 * jsonpage.c
 *		  Readers over a checked JSON text: skip a value, walk a container,
 *		  find a member, read an integer, and write a value the way json-c
 *		  writes it.
 *
 * The scan reads list pages straight from the response body: the walk of
 * jsoncheck.c checks the page and notes where each item and each member a
 * query needs are (MsgraphJsonPage); convert.c then reads those values
 * with the functions here.  The text has been checked, so nothing here
 * checks it again: every function assumes valid JSON and runs off its end
 * otherwise.
 *
 * The text a column gets for a JSON value that is not a string (an object
 * in a text column, a number through an input function) must be what the
 * json-c DOM gave before, and still gives for single entities:
 * msgraph_json_render() writes json-c's JSON_C_TO_STRING_PLAIN |
 * JSON_C_TO_STRING_NOSLASHESCAPE form (no whitespace, strings escaped as
 * json-c escapes them, numbers as sent except the integer -0, which json-c
 * holds as 0).  That form is never longer than the text it comes from.
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "jsoncheck.h"
#include "jsonpage.h"

static bool json_name_equals(const char *raw, size_t rawlen, const char *name,
									 size_t namelen);

/*
 * Past the closing quote of the string that starts at p: the first '"'
 * not escaped, i.e. after an even run of backslashes.  strchr is safe in
 * a checked, NUL-terminated text, where every string is closed and no NUL
 * comes before the quote.
 */
static const char *
string_end(const char *p)
{
	p++;
	for (;;)
	{
		const char *q = strchr(p, '"');
		const char *b = q;

		while (b > p && b[-1] == '\\')
			b--;
		if (((q - b) & 1) == 0)
			return q + 1;
		p = q + 1;
	}
}

/*
 * Past the end of the value that starts at p.  Only a NUL-terminated
 * buffer is safe to scan like this (the response bodies are).
 */
const char *
msgraph_json_value_end(const char *p)
{
	int			depth = 0;

	do
	{
		switch (*p)
		{
			case '"':
				p = string_end(p);
				break;
			case '{':
			case '[':
				depth++;
				p++;
				break;
			case '}':
			case ']':
				depth--;
				p++;
				break;
			case 't':
			case 'n':
				p += 4;
				break;
			case 'f':
				p += 5;
				break;
			default:
				if (depth == 0)
				{
					/* a number */
					p += strspn(p, "-+.0123456789eE");
					return p;
				}
				p++;			/* whitespace, ',' or ':' (or a number's byte) */
				break;
		}
	} while (depth > 0);
	return p;
}

/* Start walking the members or elements of the container at container. */
void
msgraph_json_iter_init(MsgraphJsonIter *it, const char *container, size_t len)
{
	it->p = container + 1;
	it->end = container + len - 1;
}

/*
 * The next member (name: the raw bytes between its quotes) or element
 * (name NULL if asked for); false after the last one.
 */
bool
msgraph_json_iter_next(MsgraphJsonIter *it, const char **name, size_t *namelen,
					   const char **value, size_t *len)
{
	const char *p = msgraph_json_skip_ws(it->p);
	const char *e;

	if (*p == ',')
		p = msgraph_json_skip_ws(p + 1);
	if (p >= it->end)
		return false;
	if (*it->end == '}')
	{
		e = string_end(p);
		if (name)
		{
			*name = p + 1;
			*namelen = (size_t) (e - p - 2);
		}
		p = msgraph_json_skip_ws(msgraph_json_skip_ws(e) + 1);	/* past ':' */
	}
	else if (name)
	{
		*name = NULL;
		*namelen = 0;
	}
	e = msgraph_json_value_end(p);
	*value = p;
	*len = (size_t) (e - p);
	it->p = e;
	return true;
}

/* Whether the raw bytes of a member name decode to name. */
static bool
json_name_equals(const char *raw, size_t rawlen, const char *name, size_t namelen)
{
	char		local[256];
	size_t		len;

	if (memchr(raw, '\\', rawlen) == NULL)
		return rawlen == namelen && memcmp(raw, name, namelen) == 0;
	if (rawlen < namelen || rawlen > sizeof(local))
	{
		/* decoding never lengthens; an escaped name this long is no name we look for */
		return false;
	}
	len = msgraph_json_decode_string(raw, rawlen, local);
	return len == namelen && memcmp(local, name, namelen) == 0;
}

/* The member of an object with this (decoded) name; false if absent. */
bool
msgraph_json_member(const char *obj, size_t objlen, const char *name, size_t namelen,
					const char **value, size_t *len)
{
	MsgraphJsonIter it;
	const char *raw;
	size_t		rawlen;

	if (*obj != '{')
		return false;
	msgraph_json_iter_init(&it, obj, objlen);
	while (msgraph_json_iter_next(&it, &raw, &rawlen, value, len))
	{
		if (json_name_equals(raw, rawlen, name, namelen))
			return true;
	}
	return false;
}

/* A number without fraction or exponent: json-c's int, else its double. */
bool
msgraph_json_is_integer(const char *num, size_t len)
{
	size_t		i;

	for (i = 0; i < len; i++)
	{
		if (num[i] == '.' || num[i] == 'e' || num[i] == 'E')
			return false;
	}
	return true;
}

/*
 * The value of an integer (checked to fit 64 bits, as json-c holds it):
 * true with *i when it fits int64, false with *u when it is above
 * INT64_MAX.
 */
bool
msgraph_json_integer(const char *num, size_t len, int64_t *i, uint64_t *u)
{
	bool		negative = (num[0] == '-');
	uint64_t	v = 0;
	size_t		k;

	for (k = negative ? 1 : 0; k < len; k++)
		v = v * 10 + (uint64_t) (num[k] - '0');
	if (negative)
	{
		/* at most 2^63: -(v - 1) - 1 stays in range */
		*i = v == 0 ? 0 : -(int64_t) (v - 1) - 1;
		return true;
	}
	if (v > (uint64_t) INT64_MAX)
	{
		*u = v;
		return false;
	}
	*i = (int64_t) v;
	return true;
}

/* Write a checked string's contents escaped as json-c escapes them. */
static char *
render_string(const char *s, const char *e, char *o)
{
	static const char hex[] = "0123456789abcdef";

	*o++ = '"';
	while (s < e)
	{
		const char *bs = memchr(s, '\\', e - s);
		char		dec[4];
		size_t		esc;
		size_t		n;
		unsigned char c;

		if (bs == NULL)
			bs = e;
		memcpy(o, s, bs - s);	/* plain bytes: json-c leaves them as they are */
		o += bs - s;
		s = bs;
		if (s >= e)
			break;
		/* one escape (a surrogate pair is two): decode it, write it json-c's way */
		if (s[1] != 'u')
			esc = 2;
		else if ((s[2] == 'd' || s[2] == 'D') && memchr("89abAB", s[3], 6) != NULL)
			esc = 12;
		else
			esc = 6;
		n = msgraph_json_decode_string(s, esc, dec);
		s += esc;
		c = (unsigned char) dec[0];
		if (n > 1 || c >= 0x20)
		{
			if (n == 1 && (c == '"' || c == '\\'))
				*o++ = '\\';
			memcpy(o, dec, n);
			o += n;
			continue;
		}
		*o++ = '\\';
		switch (c)
		{
			case '\b':
				*o++ = 'b';
				break;
			case '\f':
				*o++ = 'f';
				break;
			case '\n':
				*o++ = 'n';
				break;
			case '\r':
				*o++ = 'r';
				break;
			case '\t':
				*o++ = 't';
				break;
			default:
				*o++ = 'u';
				*o++ = '0';
				*o++ = '0';
				*o++ = hex[c >> 4];
				*o++ = hex[c & 0xF];
				break;
		}
	}
	*o++ = '"';
	return o;
}

/*
 * Write the checked value at value[0..len) as json-c writes it with
 * JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE into out, which
 * has room for len bytes.  Returns the length written (no NUL added).
 */
size_t
msgraph_json_render(const char *value, size_t len, char *out)
{
	const char *p = value;
	const char *end = value + len;
	char	   *o = out;

	while (p < end)
	{
		const char *e;

		switch (*p)
		{
			case ' ':
			case '\t':
			case '\n':
			case '\r':
				p++;
				break;
			case '"':
				e = string_end(p);
				o = render_string(p + 1, e - 1, o);
				p = e;
				break;
			case '-':
				e = p + strspn(p, "-+.0123456789eE");
				if (e - p == 2 && p[1] == '0')
					*o++ = '0'; /* json-c's int has no negative zero */
				else
				{
					memcpy(o, p, e - p);
					o += e - p;
				}
				p = e;
				break;
			default:
				*o++ = *p++;
				break;
		}
	}
	return (size_t) (o - out);
}
