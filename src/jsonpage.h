/*-------------------------------------------------------------------------
 *
 * jsonpage.h
 *		  Reading values out of a JSON text that the strict walk of
 *		  jsoncheck.c has accepted, without building a DOM.
 *
 * Plain C (no PostgreSQL headers), like jsoncheck.h, so that the libFuzzer
 * harness can hold these readers against json-c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MSGRAPH_JSONPAGE_H
#define MSGRAPH_JSONPAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The members of an object or the elements of an array, one by one. */
typedef struct MsgraphJsonIter
{
	const char *p;				/* before the next member or element */
	const char *end;			/* the container's closing bracket */
} MsgraphJsonIter;

/* Past JSON white space. */
static inline const char *
msgraph_json_skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

extern const char *msgraph_json_value_end(const char *p);
extern void msgraph_json_iter_init(MsgraphJsonIter *it, const char *container, size_t len);
extern bool msgraph_json_iter_next(MsgraphJsonIter *it, const char **name, size_t *namelen,
								   const char **value, size_t *len);
extern bool msgraph_json_member(const char *obj, size_t objlen, const char *name,
								size_t namelen, const char **value, size_t *len);
extern bool msgraph_json_is_integer(const char *num, size_t len);
extern bool msgraph_json_integer(const char *num, size_t len, int64_t *i, uint64_t *u);
extern size_t msgraph_json_render(const char *value, size_t len, char *out);

#endif							/* MSGRAPH_JSONPAGE_H */
