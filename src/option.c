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
	OPT_RESOURCE,
	OPT_IDENTITY_URL,			/* loopback or the instance metadata address */
	OPT_CERTIFICATE,			/* PEM certificate text */
	OPT_FILE,					/* server file path (superuser only) */
	OPT_JWT_ALGORITHM
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
	{"identity_endpoint", ForeignServerRelationId, OPT_IDENTITY_URL},
	/* user mapping */
	{"client_id", UserMappingRelationId, OPT_STRING},
	{"client_secret", UserMappingRelationId, OPT_SECRET},
	{"access_token", UserMappingRelationId, OPT_SECRET},
	{"certificate", UserMappingRelationId, OPT_CERTIFICATE},
	{"private_key", UserMappingRelationId, OPT_SECRET},
	{"private_key_password", UserMappingRelationId, OPT_SECRET},
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

/* The instance metadata service's token endpoint (graph-api.md 7.5). */
#define DEFAULT_IDENTITY_ENDPOINT	"http://169.254.169.254/metadata/identity/oauth2/token"
#define METADATA_ADDRESS			"169.254.169.254"

PG_FUNCTION_INFO_V1(msgraph_security_fdw_validator);

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
						 errmsg("invalid value for option \"jwt_algorithm\": \"%s\"", value),
						 errhint("Valid values are PS256 (RSASSA-PSS, the default) and RS256 (RSASSA-PKCS1-v1_5).")));
			break;
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
				 errmsg("invalid value for option \"identity_endpoint\": \"%s\"", value),
				 errdetail("The managed identity endpoint must be an http:// or https:// URL without a query on a loopback host or on the instance metadata address " METADATA_ADDRESS "."),
				 errhint("The default is " DEFAULT_IDENTITY_ENDPOINT ".")));
}

/*
 * A user mapping holds exactly one kind of credential: a client secret, a
 * certificate (as PEM text or files), the host's managed identity, or a
 * bearer token.  A mapping without any is accepted here (CREATE USER
 * MAPPING without OPTIONS is common while setting up) and refused when a
 * query needs a token.
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
			opts->client_secret = pstrdup(v);
			opts->cred_kind = MSGRAPH_CRED_CLIENT_SECRET;
		}
		else if (strcmp(def->defname, "access_token") == 0)
		{
			opts->access_token = pstrdup(v);
			opts->cred_kind = MSGRAPH_CRED_ACCESS_TOKEN;
		}
		else if (strcmp(def->defname, "certificate") == 0)
			opts->certificate = pstrdup(v);
		else if (strcmp(def->defname, "certificate_file") == 0)
			opts->certificate_file = pstrdup(v);
		else if (strcmp(def->defname, "private_key") == 0)
			opts->private_key = pstrdup(v);
		else if (strcmp(def->defname, "private_key_file") == 0)
			opts->private_key_file = pstrdup(v);
		else if (strcmp(def->defname, "private_key_password") == 0)
			opts->private_key_password = pstrdup(v);
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
