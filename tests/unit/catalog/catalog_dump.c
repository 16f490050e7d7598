/*-------------------------------------------------------------------------
 *
 * catalog_dump.c
 *		  Print the whole resource catalog of msgraph_security_fdw as one
 *		  JSON document on stdout.
 *
 * The catalog is plain C data, which is hard to review and impossible to
 * check from a script; this program turns it into JSON so that
 * check_catalog.py can assert its invariants and a reviewer can diff it.
 * Every field of every struct is printed, plus what the lookup functions
 * answer for a few inputs ("lookups"), so that the functions are tested
 * through the same document.
 *
 * It links src/catalog.c directly and uses only the C library, as the
 * catalog itself does: no PostgreSQL installation is needed.
 *
 * IDENTIFICATION
 *		  tests/unit/catalog/catalog_dump.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "../../../src/catalog.h"

/* Print "s" as a JSON string, or null. */
static void
put_string(const char *s)
{
	const unsigned char *p;

	if (s == NULL)
	{
		fputs("null", stdout);
		return;
	}

	putchar('"');
	for (p = (const unsigned char *) s; *p != '\0'; p++)
	{
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static void
put_bool(bool b)
{
	fputs(b ? "true" : "false", stdout);
}

/* Print ",\n" before every item of a list but the first. */
static void
put_separator(int i)
{
	if (i > 0)
		fputs(",", stdout);
	fputs("\n", stdout);
}

static const char *
graph_type_name(GraphType type)
{
	switch (type)
	{
		case GRAPH_STRING:
			return "string";
		case GRAPH_GUID:
			return "guid";
		case GRAPH_ENUM:
			return "enum";
		case GRAPH_DATETIME:
			return "datetime";
		case GRAPH_BOOLEAN:
			return "boolean";
		case GRAPH_INT32:
			return "int32";
		case GRAPH_INT64:
			return "int64";
		case GRAPH_DOUBLE:
			return "double";
		case GRAPH_STRING_COLLECTION:
			return "string_collection";
		case GRAPH_ENUM_COLLECTION:
			return "enum_collection";
		case GRAPH_COMPLEX:
			return "complex";
		case GRAPH_COMPLEX_COLLECTION:
			return "complex_collection";
	}
	return "INVALID";
}

static const char *
derived_kind_name(GraphDerivedKind kind)
{
	switch (kind)
	{
		case GRAPH_DERIVED_EVIDENCE_DEVICE_NAMES:
			return "evidence_device_names";
		case GRAPH_DERIVED_EVIDENCE_USER_PRINCIPAL_NAMES:
			return "evidence_user_principal_names";
		case GRAPH_DERIVED_EXPAND:
			return "expand";
	}
	return "INVALID";
}

static void
put_enum(const GraphEnum *e)
{
	int			i;
	bool		found;
	bool		flipped_found;

	if (e == NULL)
	{
		fputs("null", stdout);
		return;
	}

	fputs("{\"name\": ", stdout);
	put_string(e->name);
	fputs(", \"members\": [", stdout);
	for (i = 0; e->members[i] != NULL; i++)
	{
		if (i > 0)
			fputs(", ", stdout);
		put_string(e->members[i]);
	}
	fputs("]", stdout);

	/*
	 * What graph_enum_has_member answers for every member, and for every
	 * member with the case of its first letter flipped (which must never
	 * match: enum literals are case-sensitive).
	 */
	fputs(", \"all_members_found\": ", stdout);
	found = true;
	flipped_found = false;
	for (i = 0; e->members[i] != NULL; i++)
	{
		char		flipped[128];

		found = found && graph_enum_has_member(e, e->members[i]);
		snprintf(flipped, sizeof(flipped), "%s", e->members[i]);
		if (flipped[0] >= 'a' && flipped[0] <= 'z')
			flipped[0] = (char) (flipped[0] - 'a' + 'A');
		else if (flipped[0] >= 'A' && flipped[0] <= 'Z')
			flipped[0] = (char) (flipped[0] - 'A' + 'a');
		flipped_found = flipped_found || graph_enum_has_member(e, flipped);
	}
	put_bool(found);
	fputs(", \"case_flipped_found\": ", stdout);
	put_bool(flipped_found);
	fputs(", \"empty_string_found\": ", stdout);
	put_bool(graph_enum_has_member(e, ""));
	fputs("}", stdout);
}

static void
put_property(const GraphProperty *p)
{
	fputs("        {\"name\": ", stdout);
	put_string(p->name);
	fputs(", \"type\": ", stdout);
	put_string(graph_type_name(p->type));
	fputs(", \"column_sql\": ", stdout);
	put_string(graph_column_kind_sql(graph_property_column_kind(p)));
	fputs(", \"nullable\": ", stdout);
	put_bool(p->nullable);
	fputs(", \"filterable\": ", stdout);
	put_bool(p->filterable);
	fputs(", \"sortable\": ", stdout);
	put_bool(p->sortable);
	fputs(", \"updatable\": ", stdout);
	put_bool(p->updatable);
	fputs(", \"enum\": ", stdout);
	put_enum(p->enumtype);
	fputs("}", stdout);
}

static void
put_derived(const GraphDerived *d)
{
	fputs("        {\"name\": ", stdout);
	put_string(d->name);
	fputs(", \"kind\": ", stdout);
	put_string(derived_kind_name(d->kind));
	fputs(", \"column_sql\": ", stdout);
	put_string(graph_column_kind_sql(d->column));
	fputs(", \"source\": ", stdout);
	put_string(d->source);
	fputs(", \"lambda_format\": ", stdout);
	put_string(d->lambda_format);
	fputs(", \"fallback_path_format\": ", stdout);
	put_string(d->fallback_path_format);
	fputs("}", stdout);
}

static void
put_resource(const GraphResource *r)
{
	int			i;

	fputs("    {\n      \"remote_schema\": ", stdout);
	put_string(r->remote_schema);
	fputs(",\n      \"table_name\": ", stdout);
	put_string(r->table_name);
	fputs(",\n      \"path\": ", stdout);
	put_string(r->path);
	fputs(",\n      \"entity_type\": ", stdout);
	put_string(r->entity_type);
	fputs(",\n      \"read_permission\": ", stdout);
	put_string(r->read_permission);
	fputs(",\n      \"write_permission\": ", stdout);
	put_string(r->write_permission);
	printf(",\n      \"nproperties\": %d", r->nproperties);
	printf(",\n      \"nderived\": %d", r->nderived);
	printf(",\n      \"top_max\": %d", r->top_max);
	printf(",\n      \"top_default\": %d", r->top_default);
	fputs(",\n      \"allows_top\": ", stdout);
	put_bool(r->allows_top);
	fputs(",\n      \"allows_skip\": ", stdout);
	put_bool(r->allows_skip);
	fputs(",\n      \"allows_select\": ", stdout);
	put_bool(r->allows_select);
	fputs(",\n      \"allows_orderby\": ", stdout);
	put_bool(r->allows_orderby);
	fputs(",\n      \"allows_count\": ", stdout);
	put_bool(r->allows_count);
	fputs(",\n      \"allows_filter\": ", stdout);
	put_bool(r->allows_filter);
	fputs(",\n      \"snapshot_property\": ", stdout);
	put_string(r->snapshot_property);
	printf(",\n      \"typical_rows\": %.0f", r->typical_rows);

	fputs(",\n      \"properties\": [", stdout);
	for (i = 0; i < r->nproperties; i++)
	{
		put_separator(i);
		put_property(&r->properties[i]);
	}
	fputs("\n      ],\n      \"derived\": [", stdout);
	for (i = 0; i < r->nderived; i++)
	{
		put_separator(i);
		put_derived(&r->derived[i]);
	}
	fputs("\n      ]\n    }", stdout);
}

/*
 * Answers of the lookup functions for inputs whose answers check_catalog.py
 * knows: each item is {"function", "argument", "result"}.
 */
static void
put_lookups(void)
{
	static const char *const paths[] = {
		"security/alerts_v2", "/security/alerts_v2", "security/alerts_v2/",
		"/security/alerts_v2/", "Security/Alerts_v2", "security/alerts",
		"security/alerts_v2/x", "security", "", "/", "//security/alerts_v2",
	};
	static const char *const schemas[] = {
		"security", "identity_protection", "Security", "identityProtection",
		"", "nope",
	};
	const GraphResource *incidents = graph_catalog_find_path("security/incidents");
	int			count = 0;
	int			i;

	fputs("  \"lookups\": [", stdout);

	for (i = 0; i < (int) (sizeof(paths) / sizeof(paths[0])); i++)
	{
		const GraphResource *r = graph_catalog_find_path(paths[i]);

		put_separator(count++);
		fputs("    {\"function\": \"graph_catalog_find_path\", \"argument\": ", stdout);
		put_string(paths[i]);
		fputs(", \"result\": ", stdout);
		put_string(r != NULL ? r->path : NULL);
		fputs("}", stdout);
	}

	for (i = 0; i < (int) (sizeof(schemas) / sizeof(schemas[0])); i++)
	{
		put_separator(count++);
		fputs("    {\"function\": \"graph_catalog_known_schema\", \"argument\": ", stdout);
		put_string(schemas[i]);
		fputs(", \"result\": ", stdout);
		put_bool(graph_catalog_known_schema(schemas[i]));
		fputs("}", stdout);
	}

	/* property and derived lookups against incidents: hits, misses, case */
	if (incidents != NULL)
	{
		static const char *const names[] = {
			"id", "status", "Status", "alerts", "createdDateTime",
			"created_date_time", "nope",
		};

		for (i = 0; i < (int) (sizeof(names) / sizeof(names[0])); i++)
		{
			const GraphProperty *p = graph_catalog_find_property(incidents, names[i]);
			const GraphDerived *d = graph_catalog_find_derived(incidents, names[i]);

			put_separator(count++);
			fputs("    {\"function\": \"graph_catalog_find_property\", \"argument\": ", stdout);
			put_string(names[i]);
			fputs(", \"result\": ", stdout);
			put_string(p != NULL ? p->name : NULL);
			fputs("}", stdout);

			put_separator(count++);
			fputs("    {\"function\": \"graph_catalog_find_derived\", \"argument\": ", stdout);
			put_string(names[i]);
			fputs(", \"result\": ", stdout);
			put_string(d != NULL ? d->name : NULL);
			fputs("}", stdout);
		}
	}

	fputs("\n  ]", stdout);
}

int
main(void)
{
	const GraphResource *all;
	int			n;
	int			i;

	all = graph_catalog_resources(&n);

	fputs("{\n  \"schema_list\": ", stdout);
	put_string(graph_catalog_schema_list());
	fputs(",\n  \"resources\": [", stdout);
	for (i = 0; i < n; i++)
	{
		put_separator(i);
		put_resource(&all[i]);
	}
	fputs("\n  ],\n", stdout);
	put_lookups();
	fputs("\n}\n", stdout);

	return ferror(stdout) ? 1 : 0;
}
