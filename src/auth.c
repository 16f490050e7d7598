/*-------------------------------------------------------------------------
 *
 * auth.c
 *		  OAuth 2.0 access tokens for Graph: acquisition from the identity
 *		  platform and the per-backend token cache.
 *
 * Tokens are cached in TopMemoryContext, keyed by login URL, tenant,
 * client, credential kind and scope, and refreshed a little before they
 * expire.  Any change to a foreign server or user mapping forgets them all
 * (syscache invalidation callbacks, as postgres_fdw drops its connections),
 * so an ALTER USER MAPPING to a new secret takes effect on the next query.
 *
 * Secrets are only ever written into the request body, which is wiped
 * after use; no message here quotes a secret, a token or a request body.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>

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

#define TOKEN_KEY_LEN 1024

typedef struct TokenEntry
{
	char		key[TOKEN_KEY_LEN];	/* hash key: must be first */
	char	   *access_token;	/* in TopMemoryContext */
	TimestampTz refresh_at;		/* fetch a new one from then on */
} TokenEntry;

static HTAB *token_cache = NULL;

static void token_cache_invalidate(Datum arg, int cacheid, uint32 hashvalue);
static void token_entry_clear(TokenEntry *entry);
static char *fetch_client_secret_token(MsgraphConnOptions *opts, int *expires_in);
static void report_token_error(MsgraphConnOptions *opts, MsgraphHttpResponse *resp);
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
	msgraph_forget_tokens();
}

/* Forget every cached token, wiping it from memory. */
void
msgraph_forget_tokens(void)
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
	msgraph_forget_tokens();
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
		case MSGRAPH_CRED_NONE:
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("user mapping for server \"%s\" holds no credential",
							opts->servername),
					 errhint("Give client_id and client_secret, or access_token, in the user mapping.")));
			return NULL;		/* keep compiler quiet */
	}

	if (opts->tenant_id == NULL)
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

	memset(key, 0, sizeof(key));
	snprintf(key, sizeof(key), "%s|%s|%s|%s|%s",
			 opts->login_url, opts->tenant_id,
			 opts->client_id ? opts->client_id : "", kind, opts->scope);
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
	token = fetch_client_secret_token(opts, &expires_in);
	msgraph_backend_stats.tokens_fetched++;

	entry->access_token = MemoryContextStrdup(TopMemoryContext, token);
	explicit_bzero(token, strlen(token));
	pfree(token);

	/* refresh ahead of expiry: a tenth of the lifetime, at most 5 minutes */
	margin = Min(300, expires_in / 10);
	entry->refresh_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													(int64) (expires_in - margin) * 1000);
	return entry->access_token;
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
 * Client credentials grant with a client secret (graph-api.md 7.1).
 * Returns a palloc'd token and sets *expires_in.
 */
static char *
fetch_client_secret_token(MsgraphConnOptions *opts, int *expires_in)
{
	StringInfoData body;
	MsgraphHttpRequest req;
	MsgraphHttpResponse resp;
	char	   *tenant = msgraph_url_encode(opts->tenant_id);
	struct json_object *doc;
	struct json_object *v;
	char	   *token;

	initStringInfo(&body);
	append_form_field(&body, "client_id", opts->client_id);
	append_form_field(&body, "scope", opts->scope);
	append_form_field(&body, "client_secret", opts->client_secret);
	append_form_field(&body, "grant_type", "client_credentials");

	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = psprintf("%s/%s/oauth2/v2.0/token", opts->login_url, tenant);
	req.headers = list_make2("Content-Type: application/x-www-form-urlencoded",
							 "Accept: application/json");
	req.body = body.data;
	req.body_len = body.len;
	req.timeout_ms = opts->timeout_ms;
	req.connect_timeout_ms = opts->connect_timeout_ms;
	req.max_response_bytes = 1024 * 1024;
	req.ca_file = opts->ca_file;
	req.proxy = opts->proxy;

	PG_TRY();
	{
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
				 errdetail("%s (token endpoint %s/%s/oauth2/v2.0/token).",
						   resp.transport_error ? resp.transport_error : "transfer failed",
						   opts->login_url, tenant),
				 errhint("Check the server's login_url and the network path to it.")));

	if (resp.status != 200)
		report_token_error(opts, &resp);

	doc = json_tokener_parse(resp.body.data);
	token = NULL;
	*expires_in = 0;
	if (doc != NULL)
	{
		const char *t = msgraph_json_get_string(doc, "access_token");

		if (t != NULL && t[0] != '\0')
		{
			token = pstrdup(t);
			/* json-c frees strings without wiping them */
			explicit_bzero((char *) t, strlen(t));
		}
		v = msgraph_json_get(doc, "expires_in");
		/* a number here; a string from managed identity endpoints */
		if (v != NULL)
			*expires_in = json_object_get_int(v);
		json_object_put(doc);
	}
	explicit_bzero(resp.body.data, resp.body.len);

	if (token == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the identity platform sent a token response without an access token"),
				 errdetail("Token endpoint %s/%s/oauth2/v2.0/token.", opts->login_url, tenant)));
	if (*expires_in <= 0)
		*expires_in = 300;
	return token;
}

/*
 * The identity platform refused: name its error and AADSTS code, give the
 * first line of its description (it never holds the secret) and a HINT
 * matched to the code.
 */
static void
report_token_error(MsgraphConnOptions *opts, MsgraphHttpResponse *resp)
{
	struct json_object *doc = json_tokener_parse(resp->body.data);
	const char *error = NULL;
	const char *description = NULL;
	char	   *aadsts = NULL;
	char	   *first_line = NULL;
	const char *hint;

	if (doc != NULL)
	{
		error = msgraph_json_get_string(doc, "error");
		description = msgraph_json_get_string(doc, "error_description");
	}
	if (description != NULL)
	{
		size_t		n = strcspn(description, "\r\n");

		first_line = pnstrdup(description, n);
		aadsts = extract_aadsts(description);
	}

	if (aadsts && strcmp(aadsts, "AADSTS7000215") == 0)
		hint = "Check the client_secret of the user mapping: it is wrong or has expired.";
	else if (aadsts && strcmp(aadsts, "AADSTS700016") == 0)
		hint = "Check the client_id of the user mapping and that the application is registered in the tenant.";
	else if (aadsts && strcmp(aadsts, "AADSTS90002") == 0)
		hint = "Check the tenant_id of the server.";
	else if (aadsts && strcmp(aadsts, "AADSTS70011") == 0)
		hint = "Check the server's cloud option: the token scope follows it.";
	else
		hint = "Check the server's tenant_id and login_url and the credentials of the user mapping.";

	PG_TRY();
	{
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("the identity platform refused the token request for server \"%s\": %s%s%s",
						opts->servername,
						error ? error : psprintf("HTTP %ld", resp->status),
						aadsts ? " " : "", aadsts ? aadsts : ""),
				 first_line ? errdetail("%s", first_line) : 0,
				 errhint("%s", hint)));
	}
	PG_FINALLY();
	{
		if (doc != NULL)
			json_object_put(doc);
	}
	PG_END_TRY();
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
