/*-------------------------------------------------------------------------
 *
 * option.c
 *		  Validation of the options of msgraph_security_fdw's servers, user
 *		  mappings, foreign tables and columns, and their gathering into the
 *		  structures the scan uses.
 *
 * The table of valid options below is the single list the validator, its
 * HINT and the getters read.  Values are checked as completely as can be
 * done without talking to Graph: URLs for scheme and host, numbers for
 * range, names for membership.  Secrets are never echoed in a message.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>

#include "access/reloptions.h"
#include "catalog/pg_foreign_data_wrapper.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_user_mapping.h"
#include "catalog/pg_attribute.h"
#include "commands/defrem.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "msgraph_fdw.h"

/* What kind of value an option takes, for validation. */
typedef enum MsgraphOptionType
{
	OPT_STRING,					/* any non-empty string */
	OPT_SECRET,					/* non-empty, never shown */
	OPT_URL,					/* https://, or http:// on loopback */
	OPT_POSITIVE_INT,
	OPT_BYTES,					/* positive int64 */
	OPT_BOOL,
	OPT_CLOUD,
	OPT_API_VERSION,
	OPT_TENANT,
	OPT_RESOURCE
} MsgraphOptionType;

typedef struct MsgraphOption
{
	const char *name;
	Oid			context;		/* catalog the option belongs to */
	MsgraphOptionType type;
} MsgraphOption;

static const MsgraphOption msgraph_options[] = {
	/* server */
	{"tenant_id", ForeignServerRelationId, OPT_TENANT},
	{"cloud", ForeignServerRelationId, OPT_CLOUD},
	{"graph_url", ForeignServerRelationId, OPT_URL},
	{"login_url", ForeignServerRelationId, OPT_URL},
	{"api_version", ForeignServerRelationId, OPT_API_VERSION},
	{"page_size", ForeignServerRelationId, OPT_POSITIVE_INT},
	{"timeout_ms", ForeignServerRelationId, OPT_POSITIVE_INT},
	{"connect_timeout_ms", ForeignServerRelationId, OPT_POSITIVE_INT},
	{"max_response_bytes", ForeignServerRelationId, OPT_BYTES},
	{"use_remote_estimate", ForeignServerRelationId, OPT_BOOL},
	{"streams", ForeignServerRelationId, OPT_POSITIVE_INT},
	/* user mapping */
	{"client_id", UserMappingRelationId, OPT_STRING},
	{"client_secret", UserMappingRelationId, OPT_SECRET},
	{"access_token", UserMappingRelationId, OPT_SECRET},
	/* foreign table */
	{"resource", ForeignTableRelationId, OPT_RESOURCE},
	{"page_size", ForeignTableRelationId, OPT_POSITIVE_INT},
	{"use_remote_estimate", ForeignTableRelationId, OPT_BOOL},
	/* column */
	{"property", AttributeRelationId, OPT_STRING},
	{"filterable", AttributeRelationId, OPT_BOOL},
	{NULL, InvalidOid, OPT_STRING}
};

/* The national clouds: default hosts and the token scope. */
typedef struct MsgraphCloud
{
	const char *name;
	const char *graph_url;
	const char *login_url;
} MsgraphCloud;

static const MsgraphCloud msgraph_clouds[] = {
	{"global", "https://graph.microsoft.com", "https://login.microsoftonline.com"},
	{"usgov", "https://graph.microsoft.us", "https://login.microsoftonline.us"},
	{"dod", "https://dod-graph.microsoft.us", "https://login.microsoftonline.us"},
	{"china", "https://microsoftgraph.chinacloudapi.cn", "https://login.chinacloudapi.cn"},
	{NULL, NULL, NULL}
};

#define DEFAULT_TIMEOUT_MS			30000
#define DEFAULT_CONNECT_TIMEOUT_MS	10000
#define DEFAULT_MAX_RESPONSE_BYTES	(INT64CONST(64) * 1024 * 1024)

PG_FUNCTION_INFO_V1(msgraph_security_fdw_validator);

static void validate_option_value(const MsgraphOption *opt, DefElem *def);
static void validate_url(const char *optname, const char *value);
static void validate_credentials(List *options);
static const MsgraphCloud *find_cloud(const char *name);
static char *valid_option_list(Oid context);
static int	parse_positive_int(const char *optname, const char *value);
static int64 parse_bytes(const char *optname, const char *value);
static char *strip_trailing_slash(const char *url);


/*
 * Validate the generic options given to a FOREIGN DATA WRAPPER, SERVER,
 * USER MAPPING or FOREIGN TABLE (or one of its columns) that uses
 * msgraph_security_fdw.  Called with the complete resulting option list, so
 * checks that span options (one credential kind, a required resource) can
 * be done here too.
 */
Datum
msgraph_security_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options_list = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	bool		have_resource = false;
	ListCell   *cell;

	foreach(cell, options_list)
	{
		DefElem    *def = (DefElem *) lfirst(cell);
		const MsgraphOption *opt;

		for (opt = msgraph_options; opt->name; opt++)
		{
			if (opt->context == catalog && strcmp(opt->name, def->defname) == 0)
				break;
		}

		if (opt->name == NULL)
		{
			char	   *valid = valid_option_list(catalog);

			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\"", def->defname),
					 valid[0] != '\0'
					 ? errhint("Valid options in this context are: %s", valid)
					 : errhint("There are no valid options in this context.")));
		}

		validate_option_value(opt, def);
		if (opt->type == OPT_RESOURCE)
			have_resource = true;
	}

	if (catalog == UserMappingRelationId)
		validate_credentials(options_list);

	if (catalog == ForeignTableRelationId && !have_resource)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("option \"resource\" is required for a msgraph_security_fdw foreign table"),
				 errhint("Give the Graph path under the version, for example OPTIONS (resource 'security/alerts_v2').")));

	PG_RETURN_VOID();
}

/*
 * Check one option's value.  Messages name the option; the value is shown
 * only for options that cannot hold a secret.
 */
static void
validate_option_value(const MsgraphOption *opt, DefElem *def)
{
	char	   *value = defGetString(def);

	if (value[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must not be empty", def->defname)));

	switch (opt->type)
	{
		case OPT_STRING:
		case OPT_SECRET:
			break;
		case OPT_URL:
			validate_url(def->defname, value);
			break;
		case OPT_POSITIVE_INT:
			(void) parse_positive_int(def->defname, value);
			break;
		case OPT_BYTES:
			(void) parse_bytes(def->defname, value);
			break;
		case OPT_BOOL:
			(void) defGetBoolean(def);
			break;
		case OPT_CLOUD:
			if (find_cloud(value) == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"cloud\": \"%s\"", value),
						 errhint("Valid values are global, usgov, dod and china.")));
			break;
		case OPT_API_VERSION:
			if (strcmp(value, "v1.0") != 0 && strcmp(value, "beta") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"api_version\": \"%s\"", value),
						 errhint("Valid values are v1.0 and beta.")));
			break;
		case OPT_TENANT:
			{
				const char *p;

				/* a GUID or a domain name: both fit in this alphabet */
				for (p = value; *p; p++)
				{
					if (!(isalnum((unsigned char) *p) || *p == '-' || *p == '.'))
						ereport(ERROR,
								(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
								 errmsg("invalid value for option \"tenant_id\": \"%s\"", value),
								 errhint("Give the tenant's GUID or one of its domain names, such as contoso.onmicrosoft.com.")));
				}
				break;
			}
		case OPT_RESOURCE:
			if (value[0] == '/' || strstr(value, "?") != NULL ||
				strstr(value, "://") != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"resource\": \"%s\"", value),
						 errhint("Give a path under the version without a query, for example security/alerts_v2.")));
			break;
	}
}

/*
 * A URL option must be absolute https://, or http:// to a loopback host so
 * that tests and the demo can use the bundled emulator.  TLS is never
 * optional anywhere else.
 */
static void
validate_url(const char *optname, const char *value)
{
	CURLU	   *u = curl_url();
	char	   *scheme = NULL;
	char	   *host = NULL;
	char	   *query = NULL;
	bool		ok;

	ok = (u != NULL &&
		  curl_url_set(u, CURLUPART_URL, value, 0) == CURLUE_OK &&
		  curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
		  curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK);
	if (ok && curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK)
		ok = false;				/* a base URL carries no query */

	if (!ok)
	{
		curl_free(scheme);
		curl_free(host);
		curl_free(query);
		curl_url_cleanup(u);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", optname, value),
				 errdetail("The value is not an absolute URL without a query.")));
	}

	if (strcmp(scheme, "https") != 0 &&
		!(strcmp(scheme, "http") == 0 && msgraph_url_is_loopback(value)))
	{
		curl_free(scheme);
		curl_free(host);
		curl_url_cleanup(u);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", optname, value),
				 errdetail("Only https:// URLs are allowed, and http:// only for loopback hosts.")));
	}

	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
}

/*
 * Whether the URL's host is a loopback address: 127.0.0.0/8, ::1 or
 * localhost.  Anything unparsable is not loopback.
 */
bool
msgraph_url_is_loopback(const char *url)
{
	CURLU	   *u = curl_url();
	char	   *host = NULL;
	bool		result = false;

	if (u != NULL &&
		curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
	{
		if (pg_strcasecmp(host, "localhost") == 0 ||
			strcmp(host, "[::1]") == 0)
			result = true;
		else if (strncmp(host, "127.", 4) == 0)
		{
			int			a, b, c, d;
			char		extra;

			result = (sscanf(host, "%d.%d.%d.%d%c", &a, &b, &c, &d, &extra) == 4 &&
					  a == 127 && b >= 0 && b <= 255 && c >= 0 && c <= 255 &&
					  d >= 0 && d <= 255);
		}
	}
	curl_free(host);
	curl_url_cleanup(u);
	return result;
}

/*
 * A user mapping holds exactly one kind of credential.  A mapping without
 * any is accepted here (CREATE USER MAPPING without OPTIONS is common while
 * setting up) and refused when a query needs a token.
 */
static void
validate_credentials(List *options)
{
	bool		has_client_id = false;
	bool		has_secret = false;
	bool		has_token = false;
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "client_id") == 0)
			has_client_id = true;
		else if (strcmp(def->defname, "client_secret") == 0)
			has_secret = true;
		else if (strcmp(def->defname, "access_token") == 0)
			has_token = true;
	}

	if (has_secret && has_token)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a user mapping may hold only one kind of credential"),
				 errdetail("Both \"client_secret\" and \"access_token\" are given."),
				 errhint("Drop one of the two options.")));
	if (has_secret && !has_client_id)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("option \"client_secret\" requires option \"client_id\""),
				 errhint("Give the application (client) id of the app registration that owns the secret.")));
	if (has_token && has_client_id)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"access_token\" cannot be combined with option \"client_id\""),
				 errhint("A pre-acquired bearer token is used as it is; drop \"client_id\".")));
}

static const MsgraphCloud *
find_cloud(const char *name)
{
	const MsgraphCloud *c;

	for (c = msgraph_clouds; c->name; c++)
	{
		if (strcmp(c->name, name) == 0)
			return c;
	}
	return NULL;
}

/* Comma-separated names of the options valid for a catalog, for HINTs. */
static char *
valid_option_list(Oid context)
{
	StringInfoData buf;
	const MsgraphOption *opt;

	initStringInfo(&buf);
	for (opt = msgraph_options; opt->name; opt++)
	{
		if (opt->context != context)
			continue;
		if (buf.len > 0)
			appendStringInfoString(&buf, ", ");
		appendStringInfoString(&buf, opt->name);
	}
	return buf.data;
}

static int
parse_positive_int(const char *optname, const char *value)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (errno != 0 || *end != '\0' || end == value || v <= 0 || v > INT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", optname, value),
				 errdetail("The value must be a positive integer.")));
	return (int) v;
}

static int64
parse_bytes(const char *optname, const char *value)
{
	char	   *end;
	long long	v;

	errno = 0;
	v = strtoll(value, &end, 10);
	if (errno != 0 || *end != '\0' || end == value || v <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", optname, value),
				 errdetail("The value must be a positive number of bytes.")));
	return (int64) v;
}

static char *
strip_trailing_slash(const char *url)
{
	char	   *s = pstrdup(url);
	size_t		len = strlen(s);

	while (len > 0 && s[len - 1] == '/')
		s[--len] = '\0';
	return s;
}

/*
 * Gather the options of a server and a user mapping into opts, applying
 * the defaults of interface.md.  The cloud picks the default hosts and, in
 * every case, the token scope: graph_url overrides where requests go, not
 * which Graph the token is for.
 */
void
msgraph_get_conn_options(ForeignServer *server, UserMapping *user,
						 MsgraphConnOptions *opts)
{
	const MsgraphCloud *cloud;
	ListCell   *lc;

	memset(opts, 0, sizeof(*opts));
	opts->serverid = server->serverid;
	opts->userid = user ? user->userid : InvalidOid;
	opts->servername = pstrdup(server->servername);
	opts->cloud = "global";
	opts->api_version = "v1.0";
	opts->timeout_ms = DEFAULT_TIMEOUT_MS;
	opts->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
	opts->max_response_bytes = DEFAULT_MAX_RESPONSE_BYTES;
	opts->streams = 1;

	foreach(lc, server->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		char	   *v = defGetString(def);

		if (strcmp(def->defname, "tenant_id") == 0)
			opts->tenant_id = pstrdup(v);
		else if (strcmp(def->defname, "cloud") == 0)
			opts->cloud = pstrdup(v);
		else if (strcmp(def->defname, "graph_url") == 0)
			opts->graph_url = strip_trailing_slash(v);
		else if (strcmp(def->defname, "login_url") == 0)
			opts->login_url = strip_trailing_slash(v);
		else if (strcmp(def->defname, "api_version") == 0)
			opts->api_version = pstrdup(v);
		else if (strcmp(def->defname, "page_size") == 0)
			opts->page_size = parse_positive_int(def->defname, v);
		else if (strcmp(def->defname, "timeout_ms") == 0)
			opts->timeout_ms = parse_positive_int(def->defname, v);
		else if (strcmp(def->defname, "connect_timeout_ms") == 0)
			opts->connect_timeout_ms = parse_positive_int(def->defname, v);
		else if (strcmp(def->defname, "max_response_bytes") == 0)
			opts->max_response_bytes = parse_bytes(def->defname, v);
		else if (strcmp(def->defname, "streams") == 0)
			opts->streams = Min(parse_positive_int(def->defname, v), MSGRAPH_MAX_STREAMS);
	}

	cloud = find_cloud(opts->cloud);
	if (cloud == NULL)
		cloud = &msgraph_clouds[0];
	if (opts->graph_url == NULL)
		opts->graph_url = pstrdup(cloud->graph_url);
	if (opts->login_url == NULL)
		opts->login_url = pstrdup(cloud->login_url);
	opts->scope = psprintf("%s/.default", cloud->graph_url);

	opts->cred_kind = MSGRAPH_CRED_NONE;
	if (user == NULL)
		return;
	foreach(lc, user->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		char	   *v = defGetString(def);

		if (strcmp(def->defname, "client_id") == 0)
			opts->client_id = pstrdup(v);
		else if (strcmp(def->defname, "client_secret") == 0)
		{
			opts->client_secret = pstrdup(v);
			opts->cred_kind = MSGRAPH_CRED_CLIENT_SECRET;
		}
		else if (strcmp(def->defname, "access_token") == 0)
		{
			opts->access_token = pstrdup(v);
			opts->cred_kind = MSGRAPH_CRED_ACCESS_TOKEN;
		}
	}
}

/* The resource option of a foreign table (the validator made it required). */
char *
msgraph_table_resource(ForeignTable *table)
{
	ListCell   *lc;

	foreach(lc, table->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "resource") == 0)
		{
			char	   *path = strip_trailing_slash(defGetString(def));

			return path;
		}
	}
	ereport(ERROR,
			(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
			 errmsg("foreign table \"%s\" has no option \"resource\"",
					get_rel_name(table->relid))));
	return NULL;				/* keep compiler quiet */
}

/*
 * Whether planning may ask Graph for row counts: the table's
 * use_remote_estimate, else the server's, else false.
 */
bool
msgraph_use_remote_estimate(ForeignServer *server, ForeignTable *table)
{
	ListCell   *lc;

	foreach(lc, table->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "use_remote_estimate") == 0)
			return defGetBoolean(def);
	}
	foreach(lc, server->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "use_remote_estimate") == 0)
			return defGetBoolean(def);
	}
	return false;
}

/* The table's page_size option, or 0 when it has none. */
int
msgraph_table_page_size(ForeignTable *table)
{
	ListCell   *lc;

	foreach(lc, table->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "page_size") == 0)
			return parse_positive_int(def->defname, defGetString(def));
	}
	return 0;
}

/*
 * The property a column reads by default: its name converted from
 * snake_case to lowerCamelCase (created_date_time -> createdDateTime).
 */
char *
msgraph_default_property_name(const char *colname)
{
	StringInfoData buf;
	bool		upper_next = false;
	const char *p;

	initStringInfo(&buf);
	for (p = colname; *p; p++)
	{
		if (*p == '_')
		{
			/* leading underscores stay, inner ones start a new word */
			if (buf.len > 0)
				upper_next = true;
			else
				appendStringInfoChar(&buf, '_');
			continue;
		}
		appendStringInfoChar(&buf, upper_next ? pg_toupper((unsigned char) *p) : *p);
		upper_next = false;
	}
	return buf.data;
}

/* The column name IMPORT gives a property: lowerCamelCase to snake_case. */
char *
msgraph_snake_case(const char *camel)
{
	StringInfoData buf;
	const char *p;

	initStringInfo(&buf);
	for (p = camel; *p; p++)
	{
		if (isupper((unsigned char) *p))
		{
			if (buf.len > 0)
				appendStringInfoChar(&buf, '_');
			appendStringInfoChar(&buf, pg_tolower((unsigned char) *p));
		}
		else
			appendStringInfoChar(&buf, *p);
	}
	return buf.data;
}
