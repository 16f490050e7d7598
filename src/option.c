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

#include "access/relation.h"
#include "access/reloptions.h"
#include "catalog/pg_class.h"
#include "catalog/pg_foreign_data_wrapper.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_user_mapping.h"
#include "catalog/pg_attribute.h"
#include "commands/defrem.h"
#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "msgraph_fdw.h"

static char *default_property_name(const char *colname);

/* What kind of value an option takes, for validation. */
typedef enum MsgraphOptionType
{
	OPT_STRING,					/* any non-empty string */
	OPT_SECRET,					/* non-empty, never shown */
	OPT_PEM_SECRET,				/* PEM key text: lines, never shown */
	OPT_PASSWORD,				/* pass phrase of a key: never shown, any bytes */
	OPT_URL,					/* https://, or http:// on loopback */
	OPT_POSITIVE_INT,
	OPT_BYTES,					/* positive int64 */
	OPT_BOOL,
	OPT_CLOUD,
	OPT_API_VERSION,
	OPT_TENANT,
	OPT_RESOURCE,
	OPT_IDENTITY_URL,			/* loopback or the instance metadata address */
	OPT_CERTIFICATE,			/* PEM certificate text */
	OPT_FILE,					/* server file path (superuser only) */
	OPT_JWT_ALGORITHM,
	OPT_NONNEG_INT,
	OPT_CA_FILE,				/* absolute path; superuser only */
	OPT_PROXY					/* http:// or https:// proxy URL, no credentials */
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
	{"max_retries", ForeignServerRelationId, OPT_NONNEG_INT},
	{"ca_file", ForeignServerRelationId, OPT_CA_FILE},
	{"proxy", ForeignServerRelationId, OPT_PROXY},
	{"streams", ForeignServerRelationId, OPT_POSITIVE_INT},
	{"identity_endpoint", ForeignServerRelationId, OPT_IDENTITY_URL},
	/* user mapping */
	{"client_id", UserMappingRelationId, OPT_STRING},
	{"client_secret", UserMappingRelationId, OPT_SECRET},
	{"access_token", UserMappingRelationId, OPT_SECRET},
	{"certificate", UserMappingRelationId, OPT_CERTIFICATE},
	{"private_key", UserMappingRelationId, OPT_PEM_SECRET},
	{"private_key_password", UserMappingRelationId, OPT_PASSWORD},
	{"certificate_file", UserMappingRelationId, OPT_FILE},
	{"private_key_file", UserMappingRelationId, OPT_FILE},
	{"jwt_algorithm", UserMappingRelationId, OPT_JWT_ALGORITHM},
	{"managed_identity", UserMappingRelationId, OPT_BOOL},
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

/*
 * The largest max_response_bytes: half of PostgreSQL's 1 GB allocation
 * limit (MaxAllocSize), so that a body of that size, the gzip bytes it was
 * decoded from and its terminating NUL always fit in one allocation each,
 * and an oversize answer is the clean ERROR of the cap rather than an
 * allocation failure.
 */
#define MAX_MAX_RESPONSE_BYTES		(INT64CONST(512) * 1024 * 1024)

/* How much of an option value an error message shows. */
#define SHOWN_VALUE_CHARS			100
#define DEFAULT_MAX_RETRIES			5
#define MAX_MAX_RETRIES				100

/*
 * The instance metadata service's token endpoint (doc/graph.md, "Managed
 * identity").
 */
#define DEFAULT_IDENTITY_ENDPOINT	"http://169.254.169.254/metadata/identity/oauth2/token"
#define METADATA_ADDRESS			"169.254.169.254"

PG_FUNCTION_INFO_V1(msgraph_security_fdw_validator);
PG_FUNCTION_INFO_V1(msgraph_check_foreign_tables);

static void validate_option_value(const MsgraphOption *opt, DefElem *def);
static void validate_url(const char *optname, const char *value);
static void validate_identity_endpoint(const char *value);
static void validate_credentials(List *options);
static void validate_certificate_credentials(DefElem *client_id, DefElem *cert,
											 DefElem *cert_file, DefElem *key,
											 DefElem *key_file, DefElem *password);
static void require_superuser(const char *optname, const char *why);
static const MsgraphCloud *find_cloud(const char *name);
static char *valid_option_list(Oid context);
static int	parse_positive_int(const char *optname, const char *value);
static int64 parse_bytes(const char *optname, const char *value);
static char *strip_trailing_slash(const char *url);
static int	parse_nonneg_int(const char *optname, const char *value, int max);
static void validate_proxy(const char *value);
static char *secret_copy(char *value);
static const char *shown(const char *value);
static bool has_control_character(const char *value);
static void validate_resource(const char *value);
static void validate_destinations(List *options);
static const char *server_option(List *options, const char *name);
static bool same_url(const char *a, const char *b);
static bool is_version_segment(const char *seg);
static void check_table_columns(Oid relid, Oid extnamespace);
static const char *similar_property(const GraphResource *res, const char *colname);
static void wipe_at_reset(char *s);
static void wipe_secret(void *arg);


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
	if (catalog == ForeignServerRelationId)
		validate_destinations(options_list);

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

	/*
	 * Values end up in request headers (tokens), URLs (hosts, paths, ids,
	 * property names) and form fields (client ids, secrets): a CR or LF
	 * there would start a header of its own.  Only PEM texts, which are
	 * lines, and the key's pass phrase, which only OpenSSL reads, may hold
	 * control characters.
	 */
	if (opt->type != OPT_CERTIFICATE && opt->type != OPT_PEM_SECRET &&
		opt->type != OPT_PASSWORD && has_control_character(value))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must not contain control characters", def->defname),
				 errdetail("Option values reach HTTP headers, URLs and forms, where a line break would start a header of its own.")));

	switch (opt->type)
	{
		case OPT_STRING:
		case OPT_SECRET:
		case OPT_PEM_SECRET:
		case OPT_PASSWORD:
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
						 errmsg("invalid value for option \"cloud\": \"%s\"", shown(value)),
						 errhint("Valid values are global, usgov, dod and china.")));
			break;
		case OPT_API_VERSION:
			if (strcmp(value, "v1.0") != 0 && strcmp(value, "beta") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"api_version\": \"%s\"", shown(value)),
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
								 errmsg("invalid value for option \"tenant_id\": \"%s\"", shown(value)),
								 errhint("Give the tenant's GUID or one of its domain names, such as contoso.onmicrosoft.com.")));
				}
				break;
			}
		case OPT_NONNEG_INT:
			(void) parse_nonneg_int(def->defname, value, MAX_MAX_RETRIES);
			break;
		case OPT_CA_FILE:
			/* the backend reads the file: only superusers may name one */
			if (!superuser())
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("only superusers may set option \"%s\"", def->defname),
						 errhint("The backend reads the file from the database server's file system.")));
			if (!is_absolute_path(value))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"%s\": \"%s\"", def->defname, shown(value)),
						 errdetail("The value must be an absolute path.")));
			break;
		case OPT_PROXY:
			validate_proxy(value);
			break;
		case OPT_IDENTITY_URL:
			validate_identity_endpoint(value);
			break;
		case OPT_CERTIFICATE:
			msgraph_check_certificate_pem(def->defname, value);
			break;
		case OPT_FILE:
			/* read only when a token is needed; who may set it: see below */
			break;
		case OPT_JWT_ALGORITHM:
			if (strcmp(value, "PS256") != 0 && strcmp(value, "RS256") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"jwt_algorithm\": \"%s\"", shown(value)),
						 errhint("Valid values are PS256 (RSASSA-PSS, the default) and RS256 (RSASSA-PKCS1-v1_5).")));
			break;
		case OPT_RESOURCE:
			validate_resource(value);
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
				 errmsg("invalid value for option \"%s\": \"%s\"", optname, shown(value)),
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
				 errmsg("invalid value for option \"%s\": \"%s\"", optname, shown(value)),
				 errdetail("Only https:// URLs are allowed, and http:// only for loopback hosts.")));
	}

	/*
	 * graph_url is the base under which the version goes: one that already
	 * ends in a version ("https://graph.microsoft.com/v1.0") would make
	 * every request ".../v1.0/v1.0/...", which Graph answers with a 400.
	 */
	if (strcmp(optname, "graph_url") == 0)
	{
		char	   *path = NULL;
		const char *last = NULL;

		if (curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK)
		{
			char	   *trimmed = strip_trailing_slash(path);

			last = strrchr(trimmed, '/');
			last = last ? last + 1 : trimmed;
			if (!is_version_segment(last))
				last = NULL;
		}
		curl_free(path);
		if (last != NULL)
		{
			curl_free(scheme);
			curl_free(host);
			curl_url_cleanup(u);
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for option \"graph_url\": \"%s\"", shown(value)),
					 errdetail("The URL ends in the version segment \"%s\"; the version is the server's api_version option.",
							   shown(last)),
					 errhint("Give the URL without the version, for example graph_url 'https://graph.microsoft.com' with api_version 'v1.0' or 'beta'.")));
		}
	}

	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
}

/*
 * Whether a path segment is a Graph API version: "v1.0", "beta", or any
 * "v<digits>[.<digits>]" a future version may be.
 */
static bool
is_version_segment(const char *seg)
{
	const char *p = seg;

	if (pg_strcasecmp(seg, "beta") == 0)
		return true;
	if (*p != 'v' && *p != 'V')
		return false;
	p++;
	if (!isdigit((unsigned char) *p))
		return false;
	while (isdigit((unsigned char) *p))
		p++;
	if (*p == '.')
	{
		p++;
		if (!isdigit((unsigned char) *p))
			return false;
		while (isdigit((unsigned char) *p))
			p++;
	}
	return *p == '\0';
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
 * The managed identity endpoint is plain HTTP on the instance metadata
 * address by design, so that is the one non-loopback host it may name:
 * anything else would send the request for the host's identity, and get
 * its token back, over the network.  Loopback stays allowed for the
 * emulator and for local identity agents.
 */
static void
validate_identity_endpoint(const char *value)
{
	CURLU	   *u = curl_url();
	char	   *scheme = NULL;
	char	   *host = NULL;
	char	   *query = NULL;
	bool		ok;

	ok = (u != NULL &&
		  curl_url_set(u, CURLUPART_URL, value, 0) == CURLUE_OK &&
		  curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
		  curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
		  curl_url_get(u, CURLUPART_QUERY, &query, 0) != CURLUE_OK &&
		  (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0));
	if (ok)
		ok = (strcmp(host, METADATA_ADDRESS) == 0 || msgraph_url_is_loopback(value));

	curl_free(scheme);
	curl_free(host);
	curl_free(query);
	curl_url_cleanup(u);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"identity_endpoint\": \"%s\"", shown(value)),
				 errdetail("The managed identity endpoint must be an http:// or https:// URL without a query on a loopback host or on the instance metadata address " METADATA_ADDRESS "."),
				 errhint("The default is " DEFAULT_IDENTITY_ENDPOINT ".")));
}

/*
 * A user mapping holds exactly one kind of credential: a client secret, a
 * certificate (as PEM text or files), the host's managed identity, or a
 * bearer token.  A mapping without any is refused now, with a HINT listing
 * the kinds, rather than at the first query (postgres_fdw's habit of an
 * empty mapping would otherwise surface as a token error much later).
 *
 * Two kinds of option act with the database server's own powers rather
 * than the user's, so only a superuser may create or change a mapping that
 * holds them (as postgres_fdw does for password_required): managed_identity
 * 'true' is the identity of the server's host, and the file options make
 * the backend read server files.
 */
static void
validate_credentials(List *options)
{
	DefElem    *client_id = NULL;
	DefElem    *secret = NULL;
	DefElem    *token = NULL;
	DefElem    *cert = NULL;
	DefElem    *cert_file = NULL;
	DefElem    *key = NULL;
	DefElem    *key_file = NULL;
	DefElem    *password = NULL;
	DefElem    *algorithm = NULL;
	DefElem    *managed = NULL;
	DefElem    *certificate_kind;
	DefElem    *kinds[4];
	DefElem    *first = NULL;
	int			i;
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "client_id") == 0)
			client_id = def;
		else if (strcmp(def->defname, "client_secret") == 0)
			secret = def;
		else if (strcmp(def->defname, "access_token") == 0)
			token = def;
		else if (strcmp(def->defname, "certificate") == 0)
			cert = def;
		else if (strcmp(def->defname, "certificate_file") == 0)
			cert_file = def;
		else if (strcmp(def->defname, "private_key") == 0)
			key = def;
		else if (strcmp(def->defname, "private_key_file") == 0)
			key_file = def;
		else if (strcmp(def->defname, "private_key_password") == 0)
			password = def;
		else if (strcmp(def->defname, "jwt_algorithm") == 0)
			algorithm = def;
		else if (strcmp(def->defname, "managed_identity") == 0 && defGetBoolean(def))
			managed = def;
	}

	if (managed)
		require_superuser("managed_identity",
						  "A managed identity is the identity of the database server's host, not of the user.");
	if (cert_file)
		require_superuser("certificate_file",
						  "The backend reads the file with the database server's privileges.");
	if (key_file)
		require_superuser("private_key_file",
						  "The backend reads the file with the database server's privileges.");

	/* one kind, named by the first of its options that is given */
	certificate_kind = cert ? cert : cert_file ? cert_file : key ? key : key_file;
	kinds[0] = secret;
	kinds[1] = certificate_kind;
	kinds[2] = managed;
	kinds[3] = token;
	for (i = 0; i < lengthof(kinds); i++)
	{
		if (kinds[i] == NULL)
			continue;
		if (first != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a user mapping may hold only one kind of credential"),
					 errdetail("Both \"%s\" and \"%s\" are given.",
							   first->defname, kinds[i]->defname),
					 errhint("Drop one of the two options.")));
		first = kinds[i];
	}
	if (first == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("a user mapping for msgraph_security_fdw needs a credential"),
				 client_id
				 ? errdetail("Option \"client_id\" names the application; its secret or certificate must come with it.")
				 : errdetail("The mapping has no option that authenticates to Graph."),
				 errhint("Give client_id with client_secret, client_id with certificate and private_key, or access_token; a superuser may give managed_identity 'true'.")));

	if (secret && !client_id)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("option \"client_secret\" requires option \"client_id\""),
				 errhint("Give the application (client) id of the app registration that owns the secret.")));
	if (token && client_id)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"access_token\" cannot be combined with option \"client_id\""),
				 errhint("A pre-acquired bearer token is used as it is; drop \"client_id\".")));
	if (password && !key && !key_file)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("option \"private_key_password\" requires option \"private_key\" or \"private_key_file\""),
				 errhint("The pass phrase decrypts the certificate's private key.")));
	if (algorithm && !certificate_kind)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"jwt_algorithm\" applies only to certificate credentials"),
				 errhint("Give the certificate and its private key too, or drop \"jwt_algorithm\".")));
	if (certificate_kind)
		validate_certificate_credentials(client_id, cert, cert_file, key, key_file,
										 password);
}

/*
 * Certificate credentials: a client id, one certificate and one private key,
 * each either as PEM text or as a file.  PEM texts are parsed here, and the
 * key decrypted with its password, so that a pasting mistake shows now
 * rather than at the first query; files are read only when a token is
 * needed (they may well be replaced in place when the certificate is
 * renewed).  Whether key and certificate belong together, and whether the
 * certificate is registered and valid, only the identity platform can say.
 */
static void
validate_certificate_credentials(DefElem *client_id, DefElem *cert, DefElem *cert_file,
								 DefElem *key, DefElem *key_file, DefElem *password)
{
	DefElem    *any = cert ? cert : cert_file ? cert_file : key ? key : key_file;

	if (!client_id)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("option \"%s\" requires option \"client_id\"", any->defname),
				 errhint("Give the application (client) id of the app registration the certificate is registered for.")));
	if (cert && cert_file)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options \"certificate\" and \"certificate_file\" cannot both be given"),
				 errhint("Give the certificate either as PEM text or as a file.")));
	if (key && key_file)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options \"private_key\" and \"private_key_file\" cannot both be given"),
				 errhint("Give the private key either as PEM text or as a file.")));
	if (!cert && !cert_file)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("certificate credentials need option \"certificate\" or \"certificate_file\""),
				 errhint("Give the certificate registered for the application; its thumbprint goes into the client assertion.")));
	if (!key && !key_file)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("certificate credentials need option \"private_key\" or \"private_key_file\""),
				 errhint("Give the certificate's private key; it signs the client assertion.")));
	if (key)
		msgraph_check_private_key_pem("private_key", defGetString(key),
									  password ? defGetString(password) : NULL);
}

/* ERROR unless the current user is a superuser (the option's why in DETAIL). */
static void
require_superuser(const char *optname, const char *why)
{
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("option \"%s\" is superuser-only", optname),
				 errdetail("%s", why),
				 errhint("User mappings with managed_identity 'true', certificate_file or private_key_file may only be created or modified by a superuser.")));
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
				 errmsg("invalid value for option \"%s\": \"%s\"", optname, shown(value)),
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
				 errmsg("invalid value for option \"%s\": \"%s\"", optname, shown(value)),
				 errdetail("The value must be a positive number of bytes.")));
	if (v > MAX_MAX_RESPONSE_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", optname, shown(value)),
				 errdetail("The value must be at most %lld bytes (512 MiB).",
						   (long long) MAX_MAX_RESPONSE_BYTES),
				 errhint("A response is held in memory whole; PostgreSQL allocates at most 1 GB at once.")));
	return (int64) v;
}

/*
 * The proxy option: http:// or https:// with a host, an optional port and
 * nothing else.  Credentials are refused: server options are readable by
 * every user of the server, so they are no place for a password.  The
 * value is not echoed, in case it holds one.
 */
static void
validate_proxy(const char *value)
{
	CURLU	   *u = curl_url();
	char	   *scheme = NULL;
	char	   *host = NULL;
	char	   *user = NULL;
	char	   *path = NULL;
	char	   *query = NULL;
	const char *problem = NULL;

	if (u == NULL ||
		curl_url_set(u, CURLUPART_URL, value, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
		curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
		curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		problem = "The value is not an absolute URL such as http://proxy.example.com:3128.";
	else if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
		problem = "Only http:// and https:// proxies are supported.";
	else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK)
		problem = "Credentials in the proxy URL would be readable by every user of the server.";
	else if ((curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK && strcmp(path, "/") != 0) ||
			 curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK)
		problem = "A proxy URL has no path and no query.";

	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_free(path);
	curl_free(query);
	curl_url_cleanup(u);
	if (problem)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"proxy\""),
				 errdetail("%s", problem)));
}

static int
parse_nonneg_int(const char *optname, const char *value, int max)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (errno != 0 || *end != '\0' || end == value || v < 0 || v > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", optname, shown(value)),
				 errdetail("The value must be an integer from 0 to %d.", max)));
	return (int) v;
}

/*
 * An option value as an error message shows it: a short prefix, control
 * characters escaped (msgraph_escape_text), so that a message never
 * quotes a whole value that did not fit, nor breaks a log line.
 */
static const char *
shown(const char *value)
{
	return msgraph_escape_text(value, strlen(value), false, SHOWN_VALUE_CHARS);
}

/* Whether a value holds a C0 control character or DEL. */
static bool
has_control_character(const char *value)
{
	const unsigned char *p;

	for (p = (const unsigned char *) value; *p; p++)
	{
		if (*p < 0x20 || *p == 0x7F)
			return true;
	}
	return false;
}

/*
 * The resource option: a relative path of plain segments, put after the
 * version as it is.  No segment may be empty, "." or ".." (libcurl would
 * resolve those, and the request would leave the version's tree: "../"
 * reaches any path of the host), and only the characters RFC 3986 lets a
 * path segment hold literally are allowed: no "?" or "#" (a query or a
 * fragment), no "%" (an escape that could spell any of those), no spaces.
 */
static void
validate_resource(const char *value)
{
	const char *seg = value;
	const char *problem = NULL;

	for (;;)
	{
		size_t		len = strcspn(seg, "/");
		size_t		i;

		if (len == 0)
			problem = "The path has an empty segment (a leading, trailing or doubled \"/\").";
		else if ((len == 1 && seg[0] == '.') ||
				 (len == 2 && seg[0] == '.' && seg[1] == '.'))
			problem = "Segments \".\" and \"..\" would lead out of the version's resources.";
		for (i = 0; problem == NULL && i < len; i++)
		{
			unsigned char c = (unsigned char) seg[i];

			if (!(isalnum(c) && c < 0x80) && strchr("-._~!$&'()*+,;=:@", c) == NULL)
				problem = "A segment may hold only ASCII letters, digits and - . _ ~ ! $ & ' ( ) * + , ; = : @ (no \"?\", \"#\", \"%\" or spaces).";
		}
		if (problem != NULL || seg[len] == '\0')
			break;
		seg += len + 1;
	}
	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"resource\": \"%s\"", shown(value)),
				 errdetail("%s", problem),
				 errhint("Give the Graph path under the version, for example security/alerts_v2.")));
}

/* The value of a server option in a validator's list, or NULL. */
static const char *
server_option(List *options, const char *name)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, name) == 0)
			return defGetString(def);
	}
	return NULL;
}

/* Whether two URLs are the same but for trailing slashes and letter case. */
static bool
same_url(const char *a, const char *b)
{
	return pg_strcasecmp(strip_trailing_slash(a), strip_trailing_slash(b)) == 0;
}

/*
 * Where a server sends credentials.  Every request to graph_url carries a
 * bearer token, login_url receives client secrets and signed assertions,
 * identity_endpoint hands out the host's own identity, and a proxy sees
 * (for plain http://, reads) all of it.  A server owner is not trusted
 * with the credentials of the roles whose mappings use the server, nor
 * with the host's managed identity, so only a superuser may create or
 * alter a server whose graph_url, login_url or identity_endpoint is not
 * the cloud's default, or that has a proxy.  The check is on the complete
 * resulting option list (a validator sees no other): a non-superuser can
 * neither set such a value nor alter any option of a server a superuser
 * gave one, so a URL a non-superuser changed is never used with anybody's
 * credentials.  Pointing a server back to the defaults (dropping the
 * option, or naming the cloud's own URL) stays open to its owner, as does
 * choosing another national cloud: those hosts are Microsoft's.  Plain
 * http:// (the emulator on loopback) follows, since no default is one,
 * except the instance metadata endpoint's, which is plain HTTP by design.
 */
static void
validate_destinations(List *options)
{
	static const char *const names[] = {"graph_url", "login_url", "identity_endpoint", "proxy"};
	const char *cloud_name = server_option(options, "cloud");
	const MsgraphCloud *cloud = find_cloud(cloud_name ? cloud_name : "global");
	int			i;

	if (superuser())
		return;
	if (cloud == NULL)
		cloud = &msgraph_clouds[0];
	for (i = 0; i < lengthof(names); i++)
	{
		const char *value = server_option(options, names[i]);
		const char *def;

		if (value == NULL)
			continue;
		if (strcmp(names[i], "graph_url") == 0)
			def = cloud->graph_url;
		else if (strcmp(names[i], "login_url") == 0)
			def = cloud->login_url;
		else if (strcmp(names[i], "identity_endpoint") == 0)
			def = DEFAULT_IDENTITY_ENDPOINT;
		else
			def = NULL;
		if (def != NULL && same_url(value, def))
			continue;
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 def != NULL
				 ? errmsg("only a superuser may set option \"%s\" to anything but the cloud's default",
						  names[i])
				 : errmsg("only a superuser may set option \"%s\"", names[i]),
				 errdetail("Requests sent there carry the credentials of the roles with a user mapping on the server; a server with such an option can only be created or altered by a superuser."),
				 def != NULL
				 ? errhint("The default of cloud \"%s\" is %s: drop the option to use it.", cloud->name, def)
				 : errhint("Drop the option, or ask a superuser to make this change.")));
	}
}

/*
 * The user mapping of a role on a server, as GetUserMapping() finds it
 * (the role's own, else PUBLIC's).  Where there is none, an ERROR that
 * names the server and shows how to create one: PostgreSQL's own message
 * names only the role.
 */
UserMapping *
msgraph_get_user_mapping(Oid userid, Oid serverid)
{
	if (!SearchSysCacheExists2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(userid),
							   ObjectIdGetDatum(serverid)) &&
		!SearchSysCacheExists2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(InvalidOid),
							   ObjectIdGetDatum(serverid)))
	{
		ForeignServer *server = GetForeignServer(serverid);
		const char *role = GetUserNameFromId(userid, false);

		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role \"%s\" has no user mapping for server \"%s\"",
						role, server->servername),
				 errdetail("Graph requests are made with the credential in the querying role's user mapping for the server, or in the PUBLIC one."),
				 errhint("Create one, for example: CREATE USER MAPPING FOR %s SERVER %s OPTIONS (client_id '...', client_secret '...');",
						 quote_identifier(role), quote_identifier(server->servername))));
	}
	return GetUserMapping(userid, serverid);
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
 * the defaults of the README ("Server options").  The cloud picks the
 * default hosts and, in every case, the token scope: graph_url overrides
 * where requests go, not which Graph the token is for.
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
	opts->max_retries = DEFAULT_MAX_RETRIES;
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
		else if (strcmp(def->defname, "max_retries") == 0)
			opts->max_retries = parse_nonneg_int(def->defname, v, MAX_MAX_RETRIES);
		else if (strcmp(def->defname, "ca_file") == 0)
			opts->ca_file = pstrdup(v);
		else if (strcmp(def->defname, "proxy") == 0)
			opts->proxy = pstrdup(v);
		else if (strcmp(def->defname, "streams") == 0)
			opts->streams = Min(parse_positive_int(def->defname, v), MSGRAPH_MAX_STREAMS);
		else if (strcmp(def->defname, "identity_endpoint") == 0)
			opts->identity_endpoint = pstrdup(v);
	}
	if (opts->identity_endpoint == NULL)
		opts->identity_endpoint = DEFAULT_IDENTITY_ENDPOINT;

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
			opts->client_secret = secret_copy(v);
			opts->cred_kind = MSGRAPH_CRED_CLIENT_SECRET;
		}
		else if (strcmp(def->defname, "access_token") == 0)
		{
			opts->access_token = secret_copy(v);
			opts->cred_kind = MSGRAPH_CRED_ACCESS_TOKEN;
		}
		else if (strcmp(def->defname, "certificate") == 0)
			opts->certificate = pstrdup(v);
		else if (strcmp(def->defname, "certificate_file") == 0)
			opts->certificate_file = pstrdup(v);
		else if (strcmp(def->defname, "private_key") == 0)
			opts->private_key = secret_copy(v);
		else if (strcmp(def->defname, "private_key_file") == 0)
			opts->private_key_file = pstrdup(v);
		else if (strcmp(def->defname, "private_key_password") == 0)
			opts->private_key_password = secret_copy(v);
		else if (strcmp(def->defname, "jwt_algorithm") == 0)
			opts->jwt_rs256 = (strcmp(v, "RS256") == 0);
		else if (strcmp(def->defname, "managed_identity") == 0 && defGetBoolean(def))
			opts->cred_kind = MSGRAPH_CRED_MANAGED_IDENTITY;
	}
	/* the validator let through a certificate and a key only together */
	if ((opts->certificate || opts->certificate_file) &&
		(opts->private_key || opts->private_key_file))
		opts->cred_kind = MSGRAPH_CRED_CERTIFICATE;
}

/*
 * A copy of a secret option value in the current memory context.  Both the
 * copy and the value (a palloc'd string of the UserMapping's option list,
 * which GetUserMapping() made) are wiped when their memory contexts are
 * reset or deleted, usually at the end of the query, so that no secret
 * lingers in freed memory.  (The catalog cache keeps its own copy of the
 * user mapping, out of our reach.)
 */
static char *
secret_copy(char *value)
{
	char	   *copy = pstrdup(value);

	wipe_at_reset(copy);
	wipe_at_reset(value);
	return copy;
}

/* Register wipe_secret() for a palloc'd string, with its own context. */
static void
wipe_at_reset(char *s)
{
	MemoryContext cxt = GetMemoryChunkContext(s);
	MemoryContextCallback *cb = MemoryContextAlloc(cxt, sizeof(MemoryContextCallback));

	cb->func = wipe_secret;
	cb->arg = s;
	MemoryContextRegisterResetCallback(cxt, cb);
}

static void
wipe_secret(void *arg)
{
	char	   *s = (char *) arg;

	explicit_bzero(s, strlen(s));
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

/*
 * The page size a scan asks for: the table's page_size option, else the
 * server's, else 0 (the endpoint's maximum).
 */
int
msgraph_page_size(ForeignServer *server, ForeignTable *table)
{
	ListCell   *lc;

	foreach(lc, table->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "page_size") == 0)
			return parse_positive_int(def->defname, defGetString(def));
	}
	foreach(lc, server->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "page_size") == 0)
			return parse_positive_int(def->defname, defGetString(def));
	}
	return 0;
}

/* The server's streams option (time windows of one scan), 1 by default. */
int
msgraph_server_streams(ForeignServer *server)
{
	ListCell   *lc;

	foreach(lc, server->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "streams") == 0)
			return Min(parse_positive_int(def->defname, defGetString(def)),
					   MSGRAPH_MAX_STREAMS);
	}
	return 1;
}

/*
 * A column's options: its property (the property option, else the
 * column's name in lowerCamelCase), and its filterable option (-1 when it
 * has none, else 0 or 1).
 */
void
msgraph_column_options(Relation rel, AttrNumber attnum, char **property, int *filterable)
{
	List	   *options = GetForeignColumnOptions(RelationGetRelid(rel), attnum);
	ListCell   *lc;

	*property = NULL;
	*filterable = -1;
	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "property") == 0)
			*property = defGetString(def);
		else if (strcmp(def->defname, "filterable") == 0)
			*filterable = defGetBoolean(def) ? 1 : 0;
	}
	if (*property == NULL)
		*property = default_property_name(
			NameStr(TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attname));
}

/*
 * The property a column reads by default: its name converted from
 * snake_case to lowerCamelCase (created_date_time -> createdDateTime).
 */
static char *
default_property_name(const char *colname)
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


/*
 * Event trigger at the end of CREATE FOREIGN TABLE, ALTER (FOREIGN) TABLE
 * and IMPORT FOREIGN SCHEMA: every column of a msgraph_security_fdw table
 * over a resource the catalog knows must read a property the catalog
 * lists.  The usual slip is a column named in camelCase without quotes:
 * createdDateTime becomes createddatetime, whose default property
 * "createddatetime" Graph would refuse with a 400 at the first query.
 * Columns with a property option are the user's explicit word (a beta
 * property, a dotted path) and are not checked; neither are tables over
 * resources the catalog does not know.
 */
Datum
msgraph_check_foreign_tables(PG_FUNCTION_ARGS)
{
	Oid			extnamespace = get_func_namespace(fcinfo->flinfo->fn_oid);
	List	   *relids = NIL;
	MemoryContext cxt = CurrentMemoryContext;
	ListCell   *lc;
	uint64		i;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_EVENT_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("msgraph_check_foreign_tables() must be called as an event trigger")));

	SPI_connect();
	if (SPI_execute("SELECT DISTINCT objid FROM pg_catalog.pg_event_trigger_ddl_commands()"
					" WHERE classid = 'pg_catalog.pg_class'::pg_catalog.regclass"
					" AND object_type IN ('foreign table', 'foreign table column')",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list the commands of the event");
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
		MemoryContext old = MemoryContextSwitchTo(cxt);

		if (!isnull)
			relids = lappend_oid(relids, DatumGetObjectId(d));
		MemoryContextSwitchTo(old);
	}
	SPI_finish();

	foreach(lc, relids)
		check_table_columns(lfirst_oid(lc), extnamespace);
	PG_RETURN_VOID();
}

/* The check of msgraph_check_foreign_tables() for one foreign table. */
static void
check_table_columns(Oid relid, Oid extnamespace)
{
	ForeignTable *table;
	ForeignServer *server;
	ForeignDataWrapper *fdw;
	const GraphResource *res;
	Relation	rel;
	TupleDesc	tupdesc;
	int			i;

	if (get_rel_relkind(relid) != RELKIND_FOREIGN_TABLE)
		return;
	table = GetForeignTable(relid);
	server = GetForeignServer(table->serverid);
	fdw = GetForeignDataWrapper(server->fdwid);
	/* a wrapper of this extension's handler, whatever its name */
	if (!OidIsValid(fdw->fdwhandler) ||
		get_func_namespace(fdw->fdwhandler) != extnamespace ||
		strcmp(get_func_name(fdw->fdwhandler), "msgraph_security_fdw_handler") != 0)
		return;
	res = graph_catalog_find_path(msgraph_table_resource(table));
	if (res == NULL)
		return;

	rel = relation_open(relid, AccessShareLock);
	tupdesc = RelationGetDescr(rel);
	for (i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(tupdesc, i);
		const char *colname = NameStr(attr->attname);
		char	   *property;
		const char *similar;
		ListCell   *lc;
		bool		given = false;

		if (attr->attisdropped)
			continue;
		foreach(lc, GetForeignColumnOptions(relid, attr->attnum))
		{
			if (strcmp(((DefElem *) lfirst(lc))->defname, "property") == 0)
				given = true;
		}
		if (given)
			continue;
		property = default_property_name(colname);
		if (graph_catalog_find_property(res, property) != NULL ||
			graph_catalog_find_derived(res, property) != NULL)
			continue;

		similar = similar_property(res, colname);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
				 errmsg("column \"%s\" of foreign table \"%s\" reads no property of %s",
						colname, RelationGetRelationName(rel), res->path),
				 errdetail("A column without a property option reads the property named after it in lowerCamelCase, here \"%s\", which %s does not have.",
						   property, res->path),
				 similar != NULL
				 ? errhint("Property \"%s\" is the column %s (an unquoted camelCase name is folded to lower case), or give the column OPTIONS (property '%s').",
						   similar, quote_identifier(msgraph_snake_case(similar)), similar)
				 : strcmp(colname, "raw") == 0
				 ? errhint("For the whole entity as Graph sends it, give the column OPTIONS (property '$').")
				 : errhint("Columns are named after properties in snake_case (created_date_time reads createdDateTime); for a property the catalog does not list, such as a beta one, give OPTIONS (property '...').")));
	}
	relation_close(rel, AccessShareLock);
}

/*
 * The property (or derived column) of res whose name matches colname but
 * for letter case and underscores (createddatetime, created_datetime:
 * createdDateTime), or NULL.
 */
static const char *
similar_property(const GraphResource *res, const char *colname)
{
	char	   *want = palloc(strlen(colname) + 1);
	char	   *w = want;
	const char *p;
	int			i;

	for (p = colname; *p; p++)
	{
		if (*p != '_')
			*w++ = pg_tolower((unsigned char) *p);
	}
	*w = '\0';
	for (i = 0; i < res->nproperties; i++)
	{
		if (pg_strcasecmp(res->properties[i].name, want) == 0)
			return res->properties[i].name;
	}
	for (i = 0; i < res->nderived; i++)
	{
		if (pg_strcasecmp(res->derived[i].name, want) == 0)
			return res->derived[i].name;
	}
	return NULL;
}
