/*-------------------------------------------------------------------------
 *
 * jsoncheck.h
 *		  A strict RFC 8259 check of a response body: what json-c accepts
 *		  but no JSON text holds is refused.
 *
 * Plain C (no PostgreSQL headers), so that tests/fuzz/libfuzzer can build
 * jsoncheck.c alone.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MSGRAPH_JSONCHECK_H
#define MSGRAPH_JSONCHECK_H

#include <stddef.h>

typedef struct MsgraphJsonCheck
{
	const char *problem;		/* NULL when the text is valid */
	size_t		offset;			/* byte where the problem shows */
} MsgraphJsonCheck;

/*
 * How deep values may nest, json-c's way: a value inside n arrays or
 * objects is at depth n + 1, scalars included (json-c's default is 32).
 */
#define MSGRAPH_JSON_MAX_DEPTH	64

extern int	msgraph_json_check(const char *buf, size_t len, MsgraphJsonCheck *res);

#endif							/* MSGRAPH_JSONCHECK_H */
