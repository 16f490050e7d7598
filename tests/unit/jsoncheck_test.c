/*-------------------------------------------------------------------------
 *
 * jsoncheck_test.c
 *		  Unit test of src/jsoncheck.c: what it accepts, what it refuses
 *		  and where it says the problem is; and what the same walk notes
 *		  of a list page when it indexes one.
 *
 *	  gcc -I src -o jsoncheck_test tests/unit/jsoncheck_test.c src/jsoncheck.c
 *
 * Prints one line per failing case and exits 1 if there is any.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
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

/*
 * A page indexed for the names "id", "t" and "\xc3\xa9": what the index
 * says, written out as "value|nextLink|item;item;..." where an item is its
 * text, then for each name ":" and the member's text ("-" when absent).
 */
typedef struct IndexCase
{
	const char *text;
	const char *expected;		/* NULL: the walk refuses the text; "#n": n items */
} IndexCase;

static const IndexCase index_tests[] = {
	{"{\"value\":[]}", "[]|-|"},
	{"{\"value\":[{\"id\":\"a\",\"t\":1}],\"@odata.nextLink\":\"h\\/x\"}",
	 "[{\"id\":\"a\",\"t\":1}]|\"h\\/x\"|{\"id\":\"a\",\"t\":1}:\"a\":1:-"},
	/* whitespace around values is no part of them; escaped names are found */
	{" { \"value\" : [ { \"\\u0069d\" : \"b\" , \"\\u00e9\" : [ 1 , 2 ] } , 5 ] } ",
	 "[ { \"\\u0069d\" : \"b\" , \"\\u00e9\" : [ 1 , 2 ] } , 5 ]|-|"
	 "{ \"\\u0069d\" : \"b\" , \"\\u00e9\" : [ 1 , 2 ] }:\"b\":-:[ 1 , 2 ];5:-:-:-"},
	/* members of nested objects and a nested "value" are not the page's */
	{"{\"x\":{\"value\":[1]},\"value\":[{\"e\":{\"id\":1},\"t\":{\"id\":2}}]}",
	 "[{\"e\":{\"id\":1},\"t\":{\"id\":2}}]|-|{\"e\":{\"id\":1},\"t\":{\"id\":2}}:-:{\"id\":2}:-"},
	/* the page's "@odata.count" (an item's is no count) */
	{"{\"@odata.count\":2,\"value\":[{\"id\":1,\"@odata.count\":5}]}",
	 "[{\"id\":1,\"@odata.count\":5}]|-|{\"id\":1,\"@odata.count\":5}:1:-:-|count 2"},
	{"{\"value\":[],\"@odata.count\" : 17 }", "[]|-||count 17"},
	/* a "value" that is no array has no items; null items are items */
	{"{\"value\":{\"id\":1}}", "{\"id\":1}|-|"},
	{"{\"value\":[null,\"s\",{}],\"@odata.nextLink\":null}",
	 "[null,\"s\",{}]|null|null:-:-:-;\"s\":-:-:-;{}:-:-:-"},
	/* many items: the arrays grow */
	{"{\"value\":[{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{\"id\":7}]}", "#257"},
	/* what the check refuses, the index refuses */
	{"{\"value\":[{\"id\":1,\"id\":2}]}", NULL},
	{"{\"value\":[{\"id\":NaN}]}", NULL},
};

static void *
test_alloc(void *arg, size_t size)
{
	(void) arg;
	return malloc(size);		/* a test: leaked on purpose */
}

static void
append_span(char *out, const char *text, MsgraphJsonSpan span)
{
	if (span.len == 0)
		strcat(out, "-");
	else
		strncat(out, text + span.off, span.len);
}

static int
index_cases(void)
{
	static const char *const names[] = {"id", "t", "\xc3\xa9"};
	size_t		lens[3] = {2, 1, 2};
	uint64_t	hashes[3];
	int32_t		table[16];
	MsgraphJsonNames nm = {3, (const char **) names, lens, hashes, table, 0};
	int			failed = 0;
	size_t		i;

	MsgraphJsonPage page;
	int			pass;

	msgraph_json_names_fill(&nm);
	memset(&page, 0, sizeof(page));

	/*
	 * Every case with a page of its own, then every case again with one page
	 * reused from case to case (its arrays kept), as a scan's windows do.
	 */
	for (pass = 0; pass < 2; pass++)
	for (i = 0; i < sizeof(index_tests) / sizeof(index_tests[0]); i++)
	{
		const IndexCase *c = &index_tests[i];
		MsgraphJsonCheck res;
		char		out[8192] = "";
		size_t		k;
		int			ok;

		if (pass == 0)
			memset(&page, 0, sizeof(page));
		page.alloc = test_alloc;
		ok = msgraph_json_index_page(c->text, strlen(c->text), &nm, &page, &res);
		if (ok)
		{
			append_span(out, c->text, page.value);
			strcat(out, "|");
			append_span(out, c->text, page.next_link);
			strcat(out, "|");
			for (k = 0; k < page.nitems && strlen(out) < sizeof(out) - 512; k++)
			{
				int			n;

				if (k > 0)
					strcat(out, ";");
				append_span(out, c->text, page.items[k]);
				for (n = 0; n < 3; n++)
				{
					strcat(out, ":");
					if (c->text[page.items[k].off] == '{')
						append_span(out, c->text, page.members[k * 3 + n]);
					else
						strcat(out, "-");
				}
			}
			if (page.count.len > 0)
			{
				strcat(out, "|count ");
				append_span(out, c->text, page.count);
			}
		}
		if (c->expected && c->expected[0] == '#')
		{
			/* a long one: so many items, the last with its id */
			size_t		n = (size_t) atoi(c->expected + 1);

			if (!ok || page.nitems != n || page.members[(n - 1) * 3].len != 1)
			{
				printf("index case %zu (pass %d): %zu items\n", i, pass, ok ? page.nitems : 0);
				failed++;
			}
		}
		else if (c->expected == NULL ? ok : !ok || strcmp(out, c->expected) != 0)
		{
			printf("index case %zu (pass %d): got %s, expected %s\n", i, pass,
				   ok ? out : res.problem, c->expected ? c->expected : "a refusal");
			failed++;
		}
	}
	printf("jsoncheck index: %zu cases twice (fresh pages, one reused page), %d failed\n",
		   sizeof(index_tests) / sizeof(index_tests[0]), failed);
	return failed;
}

/*
 * Member names longer than the walk's stack buffer, escaped and not: the
 * same name twice is a duplicate however it is written; names that differ
 * in their last byte only are not.
 */
static int
long_names(void)
{
	char		text[1024];
	char		name[301];
	MsgraphJsonCheck res;
	int			failed = 0;

	memset(name, 'a', 300);
	name[300] = '\0';
	snprintf(text, sizeof(text), "{\"%s\\u0061\":1,\"%sa\":2}", name, name);
	if (msgraph_json_check(text, strlen(text), &res) ||
		strstr(res.problem, "duplicate") == NULL)
	{
		printf("long names: an escaped duplicate went through\n");
		failed++;
	}
	snprintf(text, sizeof(text), "{\"%s\\u0061\":1,\"%sb\":2}", name, name);
	if (!msgraph_json_check(text, strlen(text), &res))
	{
		printf("long names: refused two names: %s\n", res.problem);
		failed++;
	}
	printf("jsoncheck long names: 2 cases, %d failed\n", failed);
	return failed;
}

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
	failed += long_names();
	failed += index_cases();
	return failed ? 1 : 0;
}
