/*-------------------------------------------------------------------------
 *
 * auth.c
 *		  OAuth 2.0 access tokens for Graph: acquisition from the identity
 *		  platform (client secret or certificate) or from the host's managed
 *		  identity endpoint, and the per-backend token cache.
 *
 * Tokens are cached in TopMemoryContext, keyed by login URL, tenant,
 * client, credential kind and scope (and the credential, so that roles do
 * not share each other's tokens), and refreshed a little before they
 * expire.  Any change to a foreign server or user mapping forgets them all
 * (syscache invalidation callbacks, as postgres_fdw drops its connections),
 * so an ALTER USER MAPPING to a new secret takes effect on the next query.
 *
 * Secrets and client assertions are only ever written into the request
 * body, which is wiped after use; no message here quotes a secret, a key,
 * a token or a request body.  jwt.c builds and signs the assertions.
 *
 * Token responses and refusals are read without a DOM, after the strict
 * check of jsoncheck.c (connection.c's msgraph_error_body_* readers): an
 * endpoint that answers a megabyte of empty objects costs that megabyte,
 * not a json-c tree hundreds of times its size.  Text from the endpoint
 * reaches a message only escaped and cut short.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "msgraph_fdw.h"
#include "msgraph_json.h"

static void forget_tokens(void);

/* hex SHA-256 and its NUL */
#define TOKEN_KEY_LEN 65

#define JWT_BEARER "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#define IMDS_API_VERSION "2018-02-01"

typedef struct TokenEntry
{
	char		key[TOKEN_KEY_LEN];	/* hash key: must be first */
	char	   *access_token;	/* in TopMemoryContext */
	TimestampTz refresh_at;		/* fetch a new one from then on */
} TokenEntry;

static HTAB *token_cache = NULL;

static void token_cache_invalidate(Datum arg, int cacheid, uint32 hashvalue);
static void token_entry_clear(TokenEntry *entry);
static void token_cache_key(MsgraphConnOptions *opts, const char *kind, char *key);
static char *fetch_client_credentials_token(MsgraphConnOptions *opts, int *expires_in);
static char *fetch_managed_identity_token(MsgraphConnOptions *opts, int *expires_in);
static char *token_from_response(MsgraphHttpResponse *resp, int *expires_in,
								 const char *endpoint);
static void report_token_error(MsgraphConnOptions *opts, MsgraphHttpResponse *resp,
							   bool managed);
static char *extract_aadsts(const char *description);

PG_FUNCTION_INFO_V1(msgraph_reset_tokens);


/* Called from _PG_init: register the invalidation callbacks. */
void
msgraph_auth_init(void)
{
	CacheRegisterSyscacheCallback(FOREIGNSERVEROID, token_cache_invalidate, (Datum) 0);
	CacheRegisterSyscacheCallback(USERMAPPINGOID, token_cache_invalidate, (Datum) 0);
}

/*
 * A server or user mapping changed (or was dropped).  Which one does not
 * matter much: tokens are cheap to fetch again and changes are rare, so
 * all of them are forgotten.
 */
static void
token_cache_invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	forget_tokens();
}

/* Forget every cached token, wiping it from memory. */
static void
forget_tokens(void)
{
	HASH_SEQ_STATUS scan;
	TokenEntry *entry;

	if (token_cache == NULL)
		return;
	hash_seq_init(&scan, token_cache);
	while ((entry = (TokenEntry *) hash_seq_search(&scan)) != NULL)
		token_entry_clear(entry);
	hash_destroy(token_cache);
	token_cache = NULL;
}

static void
token_entry_clear(TokenEntry *entry)
{
	if (entry->access_token)
	{
		explicit_bzero(entry->access_token, strlen(entry->access_token));
		pfree(entry->access_token);
		entry->access_token = NULL;
	}
}

/* SQL: msgraph_reset_tokens() */
Datum
msgraph_reset_tokens(PG_FUNCTION_ARGS)
{
	forget_tokens();
	PG_RETURN_VOID();
}

/*
 * The bearer token to send with a Graph request on behalf of opts' user.
 * force_refresh fetches a new one even if a cached token looks valid (used
 * once after Graph answered 401).  A pre-acquired access_token is returned
 * as it is: it cannot be refreshed.
 */
const char *
msgraph_get_token(MsgraphConnOptions *opts, bool force_refresh)
{
	char		key[TOKEN_KEY_LEN];
	TokenEntry *entry;
	bool		found;
	char	   *token;
	int			expires_in = 0;
	int			margin;
	const char *kind;

	switch (opts->cred_kind)
	{
		case MSGRAPH_CRED_ACCESS_TOKEN:
			return opts->access_token;
		case MSGRAPH_CRED_CLIENT_SECRET:
			kind = "secret";
			break;
		case MSGRAPH_CRED_CERTIFICATE:
			kind = "certificate";
			break;
		case MSGRAPH_CRED_MANAGED_IDENTITY:
			kind = "managed_identity";
			break;
		case MSGRAPH_CRED_NONE:
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("user mapping for server \"%s\" holds no credential",
							opts->servername),
					 errhint("Give client_id with client_secret or with a certificate and its private key, managed_identity, or access_token in the user mapping.")));
			return NULL;		/* keep compiler quiet */
	}

	/* a managed identity needs no tenant: the host's identity has one */
	if (opts->tenant_id == NULL && opts->cred_kind != MSGRAPH_CRED_MANAGED_IDENTITY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("server \"%s\" has no option \"tenant_id\"", opts->servername),
				 errhint("Client credentials are issued by one tenant: give its GUID or domain in the server's tenant_id option.")));

	if (token_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = TOKEN_KEY_LEN;
		ctl.entrysize = sizeof(TokenEntry);
		ctl.hcxt = TopMemoryContext;
		token_cache = hash_create("msgraph_security_fdw tokens", 16, &ctl,
								  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}

	token_cache_key(opts, kind, key);
	entry = (TokenEntry *) hash_search(token_cache, key, HASH_ENTER, &found);
	if (!found)
	{
		entry->access_token = NULL;
		entry->refresh_at = 0;
	}

	if (entry->access_token != NULL && !force_refresh &&
		GetCurrentTimestamp() < entry->refresh_at)
		return entry->access_token;

	token_entry_clear(entry);
	if (opts->cred_kind == MSGRAPH_CRED_MANAGED_IDENTITY)
		token = fetch_managed_identity_token(opts, &expires_in);
	else
		token = fetch_client_credentials_token(opts, &expires_in);
	msgraph_tokens_fetched++;

	entry->access_token = MemoryContextStrdup(TopMemoryContext, token);
	explicit_bzero(token, strlen(token));
	pfree(token);

	/*
	 * Refresh ahead of expiry: a tenth of the lifetime, at least a second
	 * (when the lifetime allows it) and at most 5 minutes, so that a token
	 * never expires between being taken from the cache and reaching Graph.
	 */
	margin = (expires_in >= 2) ? Max(1, Min(300, expires_in / 10)) : 0;
	entry->refresh_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													(int64) (expires_in - margin) * 1000);
	return entry->access_token;
}

/* Append one part of a cache key: its length, then the text; "-" for NULL. */
static void
append_key_part(StringInfo buf, const char *part)
{
	if (part == NULL)
		appendStringInfoString(buf, "-|");
	else
		appendStringInfo(buf, "%zu:%s|", strlen(part), part);
}

/*
 * The cache key of opts' token: the hex SHA-256 of the login URL (the
 * identity endpoint for a managed identity), the tenant, the client, the
 * credential kind and the scope, and of the credential itself.  The
 * credential is in it so that two roles whose mappings name the same client
 * never share a token in one backend (SET ROLE) unless both hold its
 * credential; hashing keeps the key fixed in size and keeps no secret in
 * the clear in the cache.
 */
static void
token_cache_key(MsgraphConnOptions *opts, const char *kind, char *key)
{
	bool		managed = (opts->cred_kind == MSGRAPH_CRED_MANAGED_IDENTITY);
	StringInfoData buf;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	unsigned int i;

	initStringInfo(&buf);
	append_key_part(&buf, managed ? opts->identity_endpoint : opts->login_url);
	append_key_part(&buf, managed ? NULL : opts->tenant_id);
	append_key_part(&buf, opts->client_id);
	append_key_part(&buf, kind);
	append_key_part(&buf, opts->scope);
	append_key_part(&buf, opts->client_secret);
	append_key_part(&buf, opts->certificate);
	append_key_part(&buf, opts->certificate_file);
	append_key_part(&buf, opts->private_key);
	append_key_part(&buf, opts->private_key_file);
	append_key_part(&buf, opts->private_key_password);

	if (EVP_Digest(buf.data, buf.len, md, &mdlen, EVP_sha256(), NULL) != 1)
	{
		explicit_bzero(buf.data, buf.len);
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute a SHA-256 digest")));
	}
	explicit_bzero(buf.data, buf.len);
	pfree(buf.data);

	for (i = 0; i < mdlen && 2 * i + 2 < TOKEN_KEY_LEN; i++)
		snprintf(key + 2 * i, 3, "%02x", md[i]);
	key[2 * i] = '\0';
}

/* Append "name=value&" to buf, value form-encoded. */
static void
append_form_field(StringInfo buf, const char *name, const char *value)
{
	char	   *enc = curl_easy_escape(NULL, value, 0);

	if (enc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	if (buf->len > 0)
		appendStringInfoChar(buf, '&');
	appendStringInfo(buf, "%s=%s", name, enc);
	explicit_bzero(enc, strlen(enc));
	curl_free(enc);
}

/*
 * Client credentials grant (doc/graph.md, "Client secret" and "Certificate
 * assertion"): with the client secret, or with a client assertion signed
 * by the certificate's key and addressed to the very URL the request goes
 * to.  Returns a palloc'd token and sets *expires_in.
 */
static char *
fetch_client_credentials_token(MsgraphConnOptions *opts, int *expires_in)
{
	StringInfoData body;
	MsgraphHttpRequest req;
	MsgraphHttpResponse resp;
	char	   *tenant = msgraph_url_encode(opts->tenant_id);
	char	   *token_url = psprintf("%s/%s/oauth2/v2.0/token", opts->login_url, tenant);

	initStringInfo(&body);
	PG_TRY();
	{
		append_form_field(&body, "client_id", opts->client_id);
		append_form_field(&body, "scope", opts->scope);
		if (opts->cred_kind == MSGRAPH_CRED_CERTIFICATE)
		{
			char	   *assertion = msgraph_client_assertion(opts, token_url);

			append_form_field(&body, "client_assertion_type", JWT_BEARER);
			append_form_field(&body, "client_assertion", assertion);
			explicit_bzero(assertion, strlen(assertion));
			pfree(assertion);
		}
		else
			append_form_field(&body, "client_secret", opts->client_secret);
		append_form_field(&body, "grant_type", "client_credentials");

		memset(&req, 0, sizeof(req));
		req.method = "POST";
		req.url = token_url;
		req.headers = list_make2("Content-Type: application/x-www-form-urlencoded",
								 "Accept: application/json");
		req.body = body.data;
		req.body_len = body.len;
		req.timeout_ms = opts->timeout_ms;
		req.connect_timeout_ms = opts->connect_timeout_ms;
		req.max_response_bytes = 1024 * 1024;
		req.ca_file = opts->ca_file;
		req.proxy = opts->proxy;

		msgraph_http_perform(&req, &resp);
	}
	PG_FINALLY();
	{
		explicit_bzero(body.data, body.len);
	}
	PG_END_TRY();

	if (resp.status == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not reach the identity platform for server \"%s\"",
						opts->servername),
				 errdetail("%s (token endpoint %s).",
						   resp.transport_error ? resp.transport_error : "transfer failed",
						   token_url),
				 errhint("Check the server's login_url and the network path to it.")));

	if (resp.status != 200)
		report_token_error(opts, &resp, false);

	return token_from_response(&resp, expires_in, token_url);
}

/*
 * A managed identity's token from the instance metadata service
 * (doc/graph.md, "Managed identity"): a GET with "Metadata: true", the
 * cloud's Graph host as resource and, for a user-assigned identity, its
 * client_id.  The request names no proxy, and http.c ignores the
 * environment's, so it never leaves the host.
 */
static char *
fetch_managed_identity_token(MsgraphConnOptions *opts, int *expires_in)
{
	MsgraphHttpRequest req;
	MsgraphHttpResponse resp;
	StringInfoData url;
	char	   *resource;

	/* the scope is "<Graph host>/.default"; IMDS wants "<Graph host>/" */
	resource = pnstrdup(opts->scope, strlen(opts->scope) - strlen(".default"));

	initStringInfo(&url);
	appendStringInfo(&url, "%s?api-version=%s&resource=%s", opts->identity_endpoint,
					 IMDS_API_VERSION, msgraph_url_encode(resource));
	if (opts->client_id)
		appendStringInfo(&url, "&client_id=%s", msgraph_url_encode(opts->client_id));

	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = url.data;
	req.headers = list_make2("Metadata: true", "Accept: application/json");
	req.timeout_ms = opts->timeout_ms;
	req.connect_timeout_ms = opts->connect_timeout_ms;
	req.max_response_bytes = 1024 * 1024;
	msgraph_http_perform(&req, &resp);

	if (resp.status == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not reach the managed identity endpoint for server \"%s\"",
						opts->servername),
				 errdetail("%s (endpoint %s).",
						   resp.transport_error ? resp.transport_error : "transfer failed",
						   opts->identity_endpoint),
				 errhint("Managed identities exist only on Azure hosts; elsewhere give the server an identity_endpoint or use another kind of credential.")));

	if (resp.status != 200)
		report_token_error(opts, &resp, true);

	return token_from_response(&resp, expires_in, opts->identity_endpoint);
}

/*
 * The access token and its lifetime from a successful token response; the
 * response body is wiped.  expires_in is a JSON number from the identity
 * platform and a string from the instance metadata service.
 */
static char *
token_from_response(MsgraphHttpResponse *resp, int *expires_in, const char *endpoint)
{
	char	   *token = NULL;
	const char *problem;

	*expires_in = 0;
	if (msgraph_error_body_readable(resp, &problem))
	{
		size_t		tlen = 0;
		size_t		len = 0;
		char	   *t = msgraph_error_body_decoded(resp, "access_token", &tlen);
		char	   *text = msgraph_error_body_decoded(resp, "expires_in", &len);

		/* a token goes into a header: printable ASCII only, no NUL */
		if (t != NULL)
		{
			size_t		i;

			token = (tlen > 0) ? t : NULL;
			for (i = 0; i < tlen; i++)
			{
				if ((unsigned char) t[i] <= 0x20 || (unsigned char) t[i] >= 0x7F)
					token = NULL;
			}
			if (token == NULL)
				explicit_bzero(t, tlen);
		}
		/* a number from the identity platform, a string from the metadata service */
		if (text == NULL)
			text = msgraph_error_body_raw(resp, "expires_in");
		if (text != NULL)
		{
			char	   *end;
			long		n;

			errno = 0;
			n = strtol(text, &end, 10);
			if (errno == 0 && end != text && *end == '\0' && n > 0 && n <= INT_MAX)
				*expires_in = (int) n;
		}
	}
	explicit_bzero(resp->body.data, resp->body.len);

	if (token == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the token response carries no access token"),
				 errdetail("Token endpoint %s.", endpoint)));
	if (*expires_in <= 0)
		*expires_in = 300;
	return token;
}

/*
 * What to check when the identity platform answers with an AADSTS code
 * (doc/graph.md, "Token errors"); the codes a mistake in the server's or
 * the user mapping's options leads to.
 */
static const struct
{
	const char *code;
	const char *hint;
}			aadsts_hints[] = {
	{"AADSTS7000215", "Check the client_secret of the user mapping: it is wrong or has expired."},
	{"AADSTS700016", "Check the client_id of the user mapping and that the application is registered in the tenant."},
	{"AADSTS90002", "Check the tenant_id of the server."},
	{"AADSTS70011", "Check the server's cloud option: the token scope follows it."},
	{"AADSTS700027", "Check that the user mapping's certificate is registered for the application and still valid, and that its private key is the certificate's."},
	{"AADSTS700024", "Check the database server's clock: the client assertion's lifetime starts from it."},
	{"AADSTS700023", "Check the server's login_url and cloud: the client assertion is addressed to the token endpoint it is sent to, which must be the cloud's login host."},
	{"AADSTS700021", "Check the client_id of the user mapping: the client assertion names it as issuer and subject."},
	{"AADSTS50027", "Check the certificate and the jwt_algorithm option of the user mapping."},
};

/* The hint for an AADSTS code (NULL: none known), or the general one. */
static const char *
aadsts_hint(const char *aadsts)
{
	int			i;

	for (i = 0; aadsts != NULL && i < lengthof(aadsts_hints); i++)
	{
		if (strcmp(aadsts, aadsts_hints[i].code) == 0)
			return aadsts_hints[i].hint;
	}
	return "Check the server's tenant_id and login_url and the credentials of the user mapping.";
}

/*
 * The identity platform (or the managed identity endpoint) refused: name
 * its error and AADSTS code, give the first line of its description (it
 * never holds a credential) and a HINT matched to the code.
 */
static void
report_token_error(MsgraphConnOptions *opts, MsgraphHttpResponse *resp, bool managed)
{
	const char *error = NULL;
	char	   *description = NULL;
	char	   *aadsts = NULL;
	char	   *first_line = NULL;
	const char *problem;
	const char *hint;
	size_t		len = 0;

	if (msgraph_error_body_readable(resp, &problem))
	{
		error = msgraph_error_body_string(resp, 128, "error", NULL);
		description = msgraph_error_body_decoded(resp, "error_description", &len);
	}
	if (description != NULL)
	{
		size_t		n = strcspn(description, "\r\n");

		first_line = msgraph_escape_text(description, Min(n, len), true, 1024);
		aadsts = extract_aadsts(first_line);
	}

	if (managed)
		hint = opts->client_id
			? "Check that the user-assigned identity whose client id the user mapping gives is attached to this host, and the server's identity_endpoint."
			: "Check that this host has a system-assigned managed identity, and the server's identity_endpoint.";
	else
		hint = aadsts_hint(aadsts);

	ereport(ERROR,
			(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
			 errmsg("the %s refused the token request for server \"%s\": %s%s%s",
					managed ? "managed identity endpoint" : "identity platform",
					opts->servername,
					error ? error : psprintf("HTTP %ld", resp->status),
					aadsts ? " " : "", aadsts ? aadsts : ""),
			 first_line ? errdetail("%s", first_line)
			 : problem ? errdetail("The answer could not be read: %s.", problem) : 0,
			 errhint("%s", hint)));
}

/* The "AADSTSnnnn" code at the start of an error description, or NULL. */
static char *
extract_aadsts(const char *description)
{
	const char *p = strstr(description, "AADSTS");
	const char *q;

	if (p == NULL)
		return NULL;
	q = p + 6;
	while (isdigit((unsigned char) *q))
		q++;
	if (q == p + 6)
		return NULL;
	return pnstrdup(p, q - p);
}
