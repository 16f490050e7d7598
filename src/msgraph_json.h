/*-------------------------------------------------------------------------
 *
 * msgraph_json.h
 *		  Include json-c next to PostgreSQL headers.
 *
 * utils/builtins.h (through utils/fmgrprotos.h) declares the SQL function
 * json_object(), which clashes with json-c's struct json_object typedef.
 * Every file that needs both includes this header after all PostgreSQL
 * headers: json-c's names stay as they are, PostgreSQL's json_object()
 * function, which the extension never calls, is renamed out of the way.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MSGRAPH_JSON_H
#define MSGRAPH_JSON_H

#define json_object pg_sql_json_object
#include "utils/builtins.h"
#undef json_object

#include <json-c/json.h>

/* Walk a dotted path of object members; NULL when a member is missing. */
static inline struct json_object *
msgraph_json_get(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (obj == NULL || !json_object_is_type(obj, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

/* The string value of a member, or NULL if absent or not a string. */
static inline const char *
msgraph_json_get_string(struct json_object *obj, const char *key)
{
	struct json_object *v = msgraph_json_get(obj, key);

	if (v == NULL || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

#endif							/* MSGRAPH_JSON_H */
