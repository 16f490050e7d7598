/*-------------------------------------------------------------------------
 *
 * jsoncheck_test.c
 *		  Unit test of src/jsoncheck.c: what it accepts, what it refuses
 *		  and where it says the problem is.
 *
 *	  gcc -I src -o jsoncheck_test tests/fuzz/jsoncheck_test.c src/jsoncheck.c
 *
 * Prints one line per failing case and exits 1 if there is any.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <string.h>

#include "jsoncheck.h"

typedef struct Case
{
	const char *text;
	size_t		len;			/* 0: strlen(text) */
	const char *problem;		/* NULL: valid; else a substring of the problem */
	long		offset;			/* where, -1: anywhere */
} Case;

#define OK(s)				{s, 0, NULL, -1}
#define BAD(s, p, at)		{s, 0, p, at}
#define BADN(s, n, p, at)	{s, n, p, at}

static const Case cases[] = {
	OK("{}"), OK("[]"), OK(" {\"a\":[1,-2.5e+3,true,false,null,\"x\"]} \r\n\t"),
	OK("\"x\""), OK("5"), OK("-0"), OK("[-0.0e-0]"), OK("1e400"),
	OK("18446744073709551615"), OK("-9223372036854775808"),
	OK("{\"a\":{\"a\":1},\"b\":{\"a\":2}}"), OK("[{\"x\":1},{\"x\":2}]"),
	OK("\"\\ud83d\\ude00 \\u00e9 \\u0000 \\\" \\\\ \\/ \\b\\f\\n\\r\\t\""),
	OK("\"\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf \xef\xbf\xbf\""),
	OK("{\"\":1,\"a\":2}"), OK("\"\x7f\""),
	/* nesting: 64 levels, not 65; a scalar is a level (as in json-c) */
	OK("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[2]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"),
	BAD("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[2]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", "nesting too deep", 64),
	OK("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"),
	BAD("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", "nesting too deep", 64),
	/* what json-c accepts */
	BAD("{\"a\":NaN}", "where a value should be", 5),
	BAD("{\"a\":Infinity}", "where a value should be", 5),
	BAD("{\"a\":-Infinity}", "invalid number", 6),
	BAD("{'a':1}", "member name expected", 1),
	BAD("{\"a\":1.}", "invalid number", 7),
	BAD("{\"a\":\"x\ty\"}", "control character", 7),
	BAD("{\"a\":\"\xc0\x80\"}", "invalid UTF-8", 6),
	BAD("{\"a\":\"\xed\xa0\x80\"}", "invalid UTF-8", 6),
	BAD("{\"a\":\"\xf4\x90\x80\x80\"}", "invalid UTF-8", 6),
	BAD("{\"a\":\"\xf5\x80\x80\x80\"}", "invalid UTF-8", 6),
	BAD("{\"a\":\"\xe0\x9f\xbf\"}", "invalid UTF-8", 6),
	BAD("{\"a\":\"\xf0\x8f\xbf\xbf\"}", "invalid UTF-8", 6),
	BAD("{\"a\":\"\xe2\x82\"}", "invalid UTF-8", 6),
	BAD("{\"a\":\"\\ud800y\"}", "lone high surrogate", 6),
	BAD("{\"a\":\"\\ud800\\ud800\"}", "lone high surrogate", 6),
	BAD("{\"a\":\"\\udc00\"}", "lone low surrogate", 6),
	BAD("{\"a\":18446744073709551616}", "64-bit", 5),
	BAD("{\"a\":-9223372036854775809}", "64-bit", 6),
	BAD("{\"a\\u0000\":1}", "\\u0000 in a member name", 3),
	BAD("{\"a\":1,\"a\":2}", "duplicate", 7),
	BAD("{\"a\":1,\"\\u0061\":2}", "duplicate", 7),
	BAD("{\"b\\n\":1,\"b\\u000a\":2}", "duplicate", 9),
	BAD("{\"\\/\":1,\"/\":2}", "duplicate", 8),
	BAD("{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}", "duplicate", 18),
	BAD("{\"x\":{\"a\":1,\"b\":2,\"a\":3}}", "duplicate", 18),
	/* and what json-c refuses too */
	BAD("", "unexpected end", 0), BAD("   ", "unexpected end", 3),
	BAD("{}{}", "after the end", 2), BAD("{} x", "after the end", 3),
	BAD("{\"a\":01}", "',' or the end", 6), BAD("{\"a\":-}", "invalid number", 6),
	BAD("{\"a\":1e}", "invalid number", 7), BAD("{\"a\":.5}", "where a value", 5),
	BAD("{\"a\":+1}", "where a value", 5), BAD("{\"a\":tru}", "where a value", 5),
	BAD("{\"a\":True}", "where a value", 5), BAD("{\"a\":true,}", "member name", 10),
	BAD("[1,]", "where a value", 3), BAD("[1 2]", "',' or the end", 3),
	BAD("{\"a\" 1}", "':' expected", 5), BAD("{\"a\":1]", "',' or the end", 6),
	BAD("[}", "where a value", 1), BAD("\xef\xbb\xbf{}", "where a value", 0),
	BAD("{\"a\":\"\\x\"}", "invalid escape", 6), BAD("{\"a\":\"\\u12\"}", "invalid \\u", 6),
	BAD("{\"a\":\"abc", "unterminated", 9), BAD("\"\\", "unterminated", 1),
	BAD("\f{}", "where a value", 0), BAD("{\"a\":\"\\u00\"", "invalid \\u", 6),
	BADN("{\"a\":\"x\0y\"}", 11, "control character", 7),
	BADN("{\"a\":1}\0", 8, "after the end", 7),
};

int
main(void)
{
	int			failed = 0;
	size_t		i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		const Case *c = &cases[i];
		size_t		len = c->len ? c->len : strlen(c->text);
		MsgraphJsonCheck res;
		int			ok = msgraph_json_check(c->text, len, &res);

		if (c->problem == NULL ? !ok
			: ok || strstr(res.problem, c->problem) == NULL ||
			(c->offset >= 0 && (long) res.offset != c->offset))
		{
			printf("case %zu (%.40s): got %s at %zu, expected %s at %ld\n", i, c->text,
				   ok ? "valid" : res.problem, res.offset,
				   c->problem ? c->problem : "valid", c->offset);
			failed++;
		}
	}
	printf("jsoncheck: %zu cases, %d failed\n", sizeof(cases) / sizeof(cases[0]), failed);
	return failed ? 1 : 0;
}
