/*-------------------------------------------------------------------------
 *
 * jwt.c
 *		  The client assertion of certificate credentials: a JWT signed with
 *		  the user mapping's private key (doc/graph.md, "Certificate
 *		  assertion").
 *
 * Everything cryptographic is OpenSSL's: PEM parsing and decryption of the
 * certificate and the key, the thumbprint digest over the certificate's
 * DER bytes, the RSA signature and base64 (whose alphabet is only mapped
 * to base64url here).  The default is PS256 (RSASSA-PSS with SHA-256,
 * MGF1-SHA256 and a salt as long as the digest) with an "x5t#S256" header;
 * jwt_algorithm 'RS256' gives RSASSA-PKCS1-v1_5 with "x5t" (SHA-1), the
 * older documented form.
 *
 * Nothing here checks that the key belongs to the certificate, nor that the
 * certificate is still valid: the identity platform decides that, and its
 * AADSTS code says precisely what is wrong.  A key that cannot be parsed or
 * decrypted is reported here, naming the option but never its value.
 *
 * Decrypting a PKCS#8 key derives its AES key with PBKDF2 (or scrypt), and
 * the key file chooses the work factor: OpenSSL computes it in one call
 * that no cancel interrupts, and 2^31 iterations would pin the backend for
 * twenty minutes.  Keys asking for more than MAX_KEY_ITERATIONS iterations
 * (about half a second here; OpenSSL's default is 2,048 and OWASP asks for
 * 600,000 with SHA-256), or an scrypt cost N * r * p above MAX_SCRYPT_COST,
 * are refused before anything is derived.
 *
 * OpenSSL's objects live in malloc'd memory, so they are freed on the
 * error path too.  Key files are read into palloc'd buffers that are
 * wiped after parsing; OpenSSL clears the private key's numbers itself
 * when the key is freed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "storage/fd.h"

#include "msgraph_fdw.h"
#include "msgraph_json.h"

/*
 * Lifetime of an assertion: Microsoft recommends 5 to 10 minutes
 * (doc/graph.md, "Certificate assertion").
 */
#define ASSERTION_LIFETIME_SECS 600

/* The most work an encrypted private key may ask for (see above). */
#define MAX_KEY_ITERATIONS	INT64CONST(2000000)
#define MAX_SCRYPT_COST		(INT64CONST(1) << 20)

/* Largest certificate or key file read (a PEM key is a few kB). */
#define MAX_PEM_FILE_BYTES (1024 * 1024)

/* The password callback's view of private_key_password. */
typedef struct PemPassword
{
	const char *password;		/* NULL when none was given */
	bool		asked;			/* the PEM block turned out to be encrypted */
} PemPassword;

static int	pass_phrase_cb(char *buf, int size, int rwflag, void *userdata);
static char *read_pem_file(const char *optname, const char *path, int sqlstate);
static X509 *parse_certificate(const char *optname, const char *pem, int sqlstate);
static EVP_PKEY *parse_private_key(const char *optname, const char *pem,
								   const char *password, int sqlstate);
static char *openssl_reason(void);
static void check_key_cost(const char *optname, const char *pem, int sqlstate);
static int64 asn1_int64(const ASN1_INTEGER *i);
static char *base64url(const unsigned char *data, size_t len);
static char *json_text(struct json_object *obj);
static char *assertion_header(X509 *cert, bool rs256);
static char *assertion_claims(const char *client_id, const char *audience);
static char *sign_input(EVP_PKEY *key, bool rs256, const char *input);


/*
 * The signed client assertion for opts' certificate credentials, to be sent
 * to the token endpoint whose URL is audience.  palloc'd; the caller wipes
 * it after use (it stands in for a secret for its lifetime).
 */
char *
msgraph_client_assertion(MsgraphConnOptions *opts, const char *audience)
{
	X509	   *volatile cert = NULL;
	EVP_PKEY   *volatile key = NULL;
	char	   *volatile pem = NULL;
	char	   *result = NULL;

	/* the validator requires it; a mapping edited behind its back may not */
	if (opts->client_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("certificate credentials of server \"%s\" have no client_id",
						opts->servername)));

	PG_TRY();
	{
		char	   *header;
		char	   *claims;
		char	   *input;
		char	   *signature;

		if (opts->certificate_file)
		{
			pem = read_pem_file("certificate_file", opts->certificate_file,
								ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION);
			cert = parse_certificate("certificate_file", pem,
									 ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION);
			pfree(pem);
			pem = NULL;
		}
		else
			cert = parse_certificate("certificate", opts->certificate,
									 ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION);

		if (opts->private_key_file)
		{
			pem = read_pem_file("private_key_file", opts->private_key_file,
								ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION);
			key = parse_private_key("private_key_file", pem, opts->private_key_password,
									ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION);
			explicit_bzero(pem, strlen(pem));
			pfree(pem);
			pem = NULL;
		}
		else
			key = parse_private_key("private_key", opts->private_key,
									opts->private_key_password,
									ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION);

		header = assertion_header(cert, opts->jwt_rs256);
		claims = assertion_claims(opts->client_id, audience);
		input = psprintf("%s.%s", header, claims);
		signature = sign_input(key, opts->jwt_rs256, input);
		result = psprintf("%s.%s", input, signature);
	}
	PG_FINALLY();
	{
		if (pem != NULL)
			explicit_bzero(pem, strlen(pem));
		X509_free(cert);
		EVP_PKEY_free(key);
		ERR_clear_error();
	}
	PG_END_TRY();

	return result;
}

/*
 * Validator: the certificate option must hold a PEM certificate.  Errors
 * are the validator's (22023) and do not quote the value.
 */
void
msgraph_check_certificate_pem(const char *optname, const char *pem)
{
	X509_free(parse_certificate(optname, pem, ERRCODE_INVALID_PARAMETER_VALUE));
	ERR_clear_error();
}

/*
 * Validator: the private_key option must hold a PEM RSA private key that
 * the given password (NULL for none) decrypts.
 */
void
msgraph_check_private_key_pem(const char *optname, const char *pem,
							  const char *password)
{
	EVP_PKEY_free(parse_private_key(optname, pem, password,
									ERRCODE_INVALID_PARAMETER_VALUE));
	ERR_clear_error();
}

/*
 * PEM pass phrase callback.  It never prompts (OpenSSL's default callback
 * would read the backend's terminal): without private_key_password it
 * refuses, and it notes that a password was asked for so that the error
 * can say the key is encrypted.
 */
static int
pass_phrase_cb(char *buf, int size, int rwflag, void *userdata)
{
	PemPassword *pw = (PemPassword *) userdata;
	size_t		len;

	pw->asked = true;
	if (pw->password == NULL)
		return -1;
	len = strlen(pw->password);
	if (len > (size_t) size)
		return -1;
	memcpy(buf, pw->password, len);
	return (int) len;
}

/*
 * The contents of a certificate or key file, NUL-terminated, in a palloc'd
 * buffer the caller wipes.  AllocateFile closes the file if an ERROR
 * escapes.
 */
static char *
read_pem_file(const char *optname, const char *path, int sqlstate)
{
	FILE	   *f;
	StringInfoData buf;
	char		chunk[4096];
	size_t		n;

	f = AllocateFile(path, "r");
	if (f == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open file \"%s\" of option \"%s\": %m", path, optname),
				 errhint("The file is read by the database server's operating system user when a token is needed.")));

	initStringInfo(&buf);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
	{
		if (buf.len + n > MAX_PEM_FILE_BYTES)
		{
			FreeFile(f);
			explicit_bzero(buf.data, buf.len);
			explicit_bzero(chunk, sizeof(chunk));
			ereport(ERROR,
					(errcode(sqlstate),
					 errmsg("file \"%s\" of option \"%s\" is too large for a PEM file",
							path, optname)));
		}
		appendBinaryStringInfo(&buf, chunk, (int) n);
	}
	explicit_bzero(chunk, sizeof(chunk));
	if (ferror(f))
	{
		int			save_errno = errno;

		FreeFile(f);
		explicit_bzero(buf.data, buf.len);
		errno = save_errno;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read file \"%s\" of option \"%s\": %m", path, optname)));
	}
	FreeFile(f);
	return buf.data;
}

/* The first certificate of a PEM text; ERROR (errcode) if there is none. */
static X509 *
parse_certificate(const char *optname, const char *pem, int sqlstate)
{
	BIO		   *bio;
	X509	   *cert;
	PemPassword pw = {NULL, false};

	ERR_clear_error();
	bio = BIO_new_mem_buf(pem, -1);
	if (bio == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	cert = PEM_read_bio_X509(bio, NULL, pass_phrase_cb, &pw);
	BIO_free(bio);
	if (cert == NULL)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("option \"%s\" does not hold a PEM certificate", optname),
				 errdetail("OpenSSL: %s.", openssl_reason()),
				 errhint("Give the certificate registered for the application, in PEM form (\"-----BEGIN CERTIFICATE-----\").")));
	return cert;
}

/*
 * The RSA private key of a PEM text (PKCS#8 or traditional, encrypted or
 * not); ERROR (errcode) if it cannot be read, saying whether a password is
 * missing or wrong.
 */
static EVP_PKEY *
parse_private_key(const char *optname, const char *pem, const char *password,
				  int sqlstate)
{
	BIO		   *bio;
	EVP_PKEY   *key;
	PemPassword pw = {password, false};

	if (password != NULL)
		check_key_cost(optname, pem, sqlstate);
	ERR_clear_error();
	bio = BIO_new_mem_buf(pem, -1);
	if (bio == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	key = PEM_read_bio_PrivateKey(bio, NULL, pass_phrase_cb, &pw);
	BIO_free(bio);

	if (key == NULL && pw.asked && password == NULL)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("the private key of option \"%s\" is encrypted", optname),
				 errhint("Give its pass phrase in the user mapping's private_key_password option.")));
	if (key == NULL && pw.asked)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("could not decrypt the private key of option \"%s\"", optname),
				 errdetail("OpenSSL: %s.", openssl_reason()),
				 errhint("Check the user mapping's private_key_password option.")));
	if (key == NULL)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("option \"%s\" does not hold a PEM private key", optname),
				 errdetail("OpenSSL: %s.", openssl_reason()),
				 errhint("Give the certificate's RSA private key in PEM form (\"-----BEGIN PRIVATE KEY-----\" or \"-----BEGIN ENCRYPTED PRIVATE KEY-----\").")));

	if (EVP_PKEY_base_id(key) != EVP_PKEY_RSA)
	{
		EVP_PKEY_free(key);
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("the private key of option \"%s\" is not an RSA key", optname),
				 errhint("The identity platform signs client assertions with RSA only (PS256 or RS256).")));
	}
	return key;
}

/*
 * Refuse an encrypted PKCS#8 key whose key derivation asks for more work
 * than the caps allow, reading its parameters without deriving anything.
 * Keys of any other form (unencrypted, or the traditional PEM encryption,
 * whose derivation is one MD5 round) and parameters OpenSSL cannot read
 * are left to PEM_read_bio_PrivateKey() and its errors.
 */
static void
check_key_cost(const char *optname, const char *pem, int sqlstate)
{
	BIO		   *bio;
	X509_SIG   *p8;
	const X509_ALGOR *alg = NULL;
	int64		iterations = 0;
	int64		scrypt_cost = 0;

	ERR_clear_error();
	bio = BIO_new_mem_buf(pem, -1);
	if (bio == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	p8 = PEM_read_bio_PKCS8(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (p8 == NULL)
	{
		ERR_clear_error();
		return;
	}
	X509_SIG_get0(p8, &alg, NULL);
	if (alg != NULL && OBJ_obj2nid(alg->algorithm) == NID_pbes2)
	{
		PBE2PARAM  *pbe2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM),
													 alg->parameter);

		if (pbe2 != NULL && pbe2->keyfunc != NULL)
		{
			int			kdf = OBJ_obj2nid(pbe2->keyfunc->algorithm);

			if (kdf == NID_id_pbkdf2)
			{
				PBKDF2PARAM *p = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM),
														   pbe2->keyfunc->parameter);

				if (p != NULL)
					iterations = asn1_int64(p->iter);
				PBKDF2PARAM_free(p);
			}
			else if (kdf == NID_id_scrypt)
			{
				SCRYPT_PARAMS *p = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(SCRYPT_PARAMS),
															 pbe2->keyfunc->parameter);

				if (p != NULL)
				{
					int64		n = asn1_int64(p->costParameter);
					int64		r = asn1_int64(p->blockSize);
					int64		par = asn1_int64(p->parallelizationParameter);

					/* each factor is capped first, so the product cannot overflow */
					scrypt_cost = (n > MAX_SCRYPT_COST || r > MAX_SCRYPT_COST ||
								   par > MAX_SCRYPT_COST)
						? PG_INT64_MAX : n * r * par;
				}
				SCRYPT_PARAMS_free(p);
			}
		}
		PBE2PARAM_free(pbe2);
	}
	else if (alg != NULL)
	{
		/* PKCS#5 v1.5 and PKCS#12 schemes: an iteration count of their own */
		PBEPARAM   *pbe = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBEPARAM),
													alg->parameter);

		if (pbe != NULL)
			iterations = asn1_int64(pbe->iter);
		PBEPARAM_free(pbe);
	}
	X509_SIG_free(p8);
	ERR_clear_error();

	if (iterations > MAX_KEY_ITERATIONS)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("the private key of option \"%s\" asks for too many key derivation iterations", optname),
				 errdetail("Its encryption asks for %lld iterations; at most %lld are accepted, since deriving the key cannot be interrupted.",
						   (long long) iterations, (long long) MAX_KEY_ITERATIONS),
				 errhint("Encrypt the key again with fewer iterations, for example: openssl pkcs8 -topk8 -v2 aes-256-cbc -iter 600000.")));
	if (scrypt_cost > MAX_SCRYPT_COST)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("the private key of option \"%s\" asks for too costly a key derivation", optname),
				 errdetail("Its scrypt parameters ask for N * r * p above %lld, and deriving the key cannot be interrupted.",
						   (long long) MAX_SCRYPT_COST),
				 errhint("Encrypt the key again with PBKDF2, for example: openssl pkcs8 -topk8 -v2 aes-256-cbc -iter 600000.")));
}

/* An ASN.1 INTEGER as int64; PG_INT64_MAX when it does not fit, 0 if absent. */
static int64
asn1_int64(const ASN1_INTEGER *i)
{
	int64_t		v;

	if (i == NULL)
		return 0;
	if (ASN1_INTEGER_get_int64(&v, i) != 1)
		return PG_INT64_MAX;
	return (int64) v;
}

/* OpenSSL's reason for the last error, for a DETAIL (never key material). */
static char *
openssl_reason(void)
{
	unsigned long code = ERR_peek_last_error();
	const char *reason = code ? ERR_reason_error_string(code) : NULL;

	return pstrdup(reason ? reason : "no further information");
}

/*
 * base64url without padding (RFC 7515 section 2): OpenSSL's base64, with
 * '+' and '/' mapped to '-' and '_' and the trailing '=' dropped.
 */
static char *
base64url(const unsigned char *data, size_t len)
{
	char	   *out = palloc(4 * ((len + 2) / 3) + 1);
	int			n;
	int			i;

	n = EVP_EncodeBlock((unsigned char *) out, data, (int) len);
	while (n > 0 && out[n - 1] == '=')
		n--;
	out[n] = '\0';
	for (i = 0; i < n; i++)
	{
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	}
	return out;
}

/* A json-c object as compact JSON text, palloc'd; the object is released. */
static char *
json_text(struct json_object *obj)
{
	char	   *text;

	text = pstrdup(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
												  JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(obj);
	return text;
}

/*
 * base64url of the header: alg, typ and the certificate's thumbprint, the
 * digest of its DER encoding (SHA-256 for x5t#S256, SHA-1 for x5t).
 */
static char *
assertion_header(X509 *cert, bool rs256)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	struct json_object *h;
	char	   *thumbprint;
	char	   *text;

	if (X509_digest(cert, rs256 ? EVP_sha1() : EVP_sha256(), md, &mdlen) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute the certificate's thumbprint"),
				 errdetail("OpenSSL: %s.", openssl_reason())));
	thumbprint = base64url(md, mdlen);

	h = json_object_new_object();
	json_object_object_add(h, "alg", json_object_new_string(rs256 ? "RS256" : "PS256"));
	json_object_object_add(h, "typ", json_object_new_string("JWT"));
	json_object_object_add(h, rs256 ? "x5t" : "x5t#S256", json_object_new_string(thumbprint));
	text = json_text(h);
	return base64url((unsigned char *) text, strlen(text));
}

/*
 * base64url of the claims: the token endpoint as audience, the client as
 * issuer and subject, a fresh jti, and a lifetime of ASSERTION_LIFETIME_SECS
 * from now (the database server's clock).
 */
static char *
assertion_claims(const char *client_id, const char *audience)
{
	struct json_object *c;
	int64		now = (int64) time(NULL);
	char	   *text;

	c = json_object_new_object();
	json_object_object_add(c, "aud", json_object_new_string(audience));
	json_object_object_add(c, "iss", json_object_new_string(client_id));
	json_object_object_add(c, "sub", json_object_new_string(client_id));
	json_object_object_add(c, "jti", json_object_new_string(msgraph_new_request_id()));
	json_object_object_add(c, "nbf", json_object_new_int64(now));
	json_object_object_add(c, "iat", json_object_new_int64(now));
	json_object_object_add(c, "exp", json_object_new_int64(now + ASSERTION_LIFETIME_SECS));
	text = json_text(c);
	return base64url((unsigned char *) text, strlen(text));
}

/*
 * base64url of the signature of input with SHA-256: RSASSA-PSS (MGF1 with
 * SHA-256, salt length = digest length = 32 bytes, as JWA requires for
 * PS256), or RSASSA-PKCS1-v1_5 for RS256.
 */
static char *
sign_input(EVP_PKEY *key, bool rs256, const char *input)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *sig = NULL;
	size_t		siglen = 0;
	bool		ok;
	char	   *result;

	if (ctx == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));

	ok = (EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, key) == 1);
	if (ok && rs256)
		ok = (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0);
	else if (ok)
		ok = (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
			  EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) > 0 &&
			  EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0);
	if (ok)
		ok = (EVP_DigestSign(ctx, NULL, &siglen, (const unsigned char *) input,
							 strlen(input)) == 1);
	if (ok)
	{
		/* malloc'd by OpenSSL, so that no palloc can fail with ctx held */
		sig = OPENSSL_malloc(siglen);
		ok = (sig != NULL &&
			  EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *) input,
							 strlen(input)) == 1);
	}
	EVP_MD_CTX_free(ctx);

	if (!ok)
	{
		OPENSSL_free(sig);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("could not sign the client assertion"),
				 errdetail("OpenSSL: %s.", openssl_reason()),
				 errhint("Check that the private key is an RSA key of at least 2048 bits.")));
	}
	PG_TRY();
	{
		result = base64url(sig, siglen);
	}
	PG_FINALLY();
	{
		OPENSSL_free(sig);
	}
	PG_END_TRY();
	return result;
}
