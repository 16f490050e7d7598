/*-------------------------------------------------------------------------
 *
 * import.c
 *		  IMPORT FOREIGN SCHEMA: CREATE FOREIGN TABLE commands written from
 *		  the resource catalog.
 *
 * Graph has no schema endpoint the extension would want to trust at import
 * time, so the catalog is the source: every v1.0 property becomes a
 * column named in snake_case (id first, the others in catalog order), then
 * the derived columns, then "raw jsonb OPTIONS (property '$')".  No
 * request is sent.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"

#include "msgraph_fdw.h"

static bool table_selected(ImportForeignSchemaStmt *stmt, const char *table);
static char *table_definition(ImportForeignSchemaStmt *stmt, ForeignServer *server,
							  const GraphResource *res);


List *
msgraph_import_foreign_schema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	ForeignServer *server = GetForeignServer(serverOid);
	const GraphResource *resources;
	int			nresources;
	int			i;
	List	   *commands = NIL;

	if (!graph_catalog_known_schema(stmt->remote_schema))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_SCHEMA_NOT_FOUND),
				 errmsg("remote schema \"%s\" is not known to msgraph_security_fdw",
						stmt->remote_schema),
				 errdetail("Known remote schemas: %s.", graph_catalog_schema_list())));

	/* options on IMPORT itself: none are defined */
	if (stmt->options != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid option \"%s\"",
						((DefElem *) linitial(stmt->options))->defname),
				 errhint("IMPORT FOREIGN SCHEMA of msgraph_security_fdw takes no options.")));

	resources = graph_catalog_resources(&nresources);
	for (i = 0; i < nresources; i++)
	{
		const GraphResource *res = &resources[i];

		if (strcmp(res->remote_schema, stmt->remote_schema) != 0)
			continue;
		if (!table_selected(stmt, res->table_name))
			continue;
		commands = lappend(commands, table_definition(stmt, server, res));
	}
	return commands;
}

/* LIMIT TO and EXCEPT, as postgres_fdw applies them. */
static bool
table_selected(ImportForeignSchemaStmt *stmt, const char *table)
{
	ListCell   *lc;
	bool		listed = false;

	foreach(lc, stmt->table_list)
	{
		RangeVar   *rv = (RangeVar *) lfirst(lc);

		if (strcmp(rv->relname, table) == 0)
			listed = true;
	}
	switch (stmt->list_type)
	{
		case FDW_IMPORT_SCHEMA_LIMIT_TO:
			return listed;
		case FDW_IMPORT_SCHEMA_EXCEPT:
			return !listed;
		case FDW_IMPORT_SCHEMA_ALL:
		default:
			return true;
	}
}

static char *
table_definition(ImportForeignSchemaStmt *stmt, ForeignServer *server,
				 const GraphResource *res)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	appendStringInfo(&buf, "CREATE FOREIGN TABLE %s (\n",
					 quote_identifier(res->table_name));
	for (i = 0; i < res->nproperties; i++)
	{
		const GraphProperty *p = &res->properties[i];

		appendStringInfo(&buf, "  %s %s,\n",
						 quote_identifier(msgraph_snake_case(p->name)),
						 graph_column_kind_sql(graph_property_column_kind(p)));
	}
	for (i = 0; i < res->nderived; i++)
	{
		const GraphDerived *d = &res->derived[i];

		appendStringInfo(&buf, "  %s %s,\n",
						 quote_identifier(msgraph_snake_case(d->name)),
						 graph_column_kind_sql(d->column));
	}
	appendStringInfoString(&buf, "  raw jsonb OPTIONS (property '$')\n");
	appendStringInfo(&buf, ") SERVER %s OPTIONS (resource %s)",
					 quote_identifier(server->servername),
					 quote_literal_cstr(res->path));
	return buf.data;
}
