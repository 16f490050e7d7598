/*-------------------------------------------------------------------------
 *
 * http.c
 *		  The HTTP engine over libcurl: every transfer of the backend on one
 *		  multi handle, waited for at once or left running, with connection
 *		  reuse, interrupt checks, a response size cap and cleanup on ERROR.
 *
 * The backend keeps one multi handle for its whole life, so that TCP and
 * TLS connections are reused across pages, transfers and queries.  A
 * request waited for is a transfer started, waited for and ended
 * (msgraph_http_perform); pages fetched ahead and parallel windows start
 * transfers and wait for whichever finishes first.  Waits poll the
 * sockets libcurl names in steps of at most 100 ms, with
 * CHECK_FOR_INTERRUPTS() between the steps: a cancel or statement_timeout
 * stops a request on a stuck endpoint within that time.  The same sockets
 * and libcurl's timer can be handed to an executor's WaitEventSet instead
 * (see "The engine" below).  A transfer ended unfinished, an ERROR
 * included, has its connection closed, so no half-read response is ever
 * reused.
 *
 * Nothing here knows about Graph; connection.c and auth.c speak Graph and
 * the identity platform through this file.  Proxies configured in the
 * server's environment are ignored on purpose (README, "Server options"):
 * the only proxy is the one a request names (the server's proxy option),
 * always used as a CONNECT tunnel.  TLS peer and host verification stay at
 * libcurl's secure defaults; a request's ca_file replaces the system's
 * trust store (for the proxy too), it never widens or disables it.
 * Request headers (the bearer token among them) are wiped before they are
 * freed.
 *
 * No ERROR is ever raised inside a libcurl callback: a longjmp out of
 * libcurl leaves its handles in the middle of a transfer, and the session
 * could not start another one.  The callbacks allocate with
 * MCXT_ALLOC_NO_OOM and, when something fails, return an error to
 * libcurl, which ends the transfer; the ERROR is raised once libcurl has
 * returned.  The body of an answer that is no success is kept only up to
 * MSGRAPH_ERROR_BODY_MAX bytes (its error object is at the start), and the
 * transfer ends there: a huge error body costs neither memory nor time.
 * Requests to loopback hosts never go through the proxy option's proxy,
 * which would otherwise see plain http:// requests, bearer tokens
 * included.
 *
 * Bodies are asked for gzipped and decoded here, not by libcurl: libcurl
 * inflates with zlib in 16 kB steps as the bytes arrive, while libdeflate
 * inflates a whole body in one call into a buffer of the size the gzip
 * trailer gives, three to four times faster on Graph's pages.  The size
 * cap applies to the decoded body, as it would with libcurl decoding.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <poll.h>

#include <curl/curl.h>
#include <libdeflate.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "port.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "msgraph_fdw.h"

/* How long one wait for socket activity lasts before interrupts are checked. */
#define HTTP_POLL_INTERVAL_MS 100

static struct libdeflate_decompressor *msgraph_inflater = NULL;

/* The Content-Encoding of a response. */
typedef enum HttpEncoding
{
	HTTP_ENCODING_IDENTITY,
	HTTP_ENCODING_GZIP,
	HTTP_ENCODING_OTHER			/* one not asked for: refused */
} HttpEncoding;

/*
 * State the libcurl callbacks write into during one transfer.  What they
 * allocate goes into cxt, the memory context current when the transfer
 * was set up: concurrent transfers progress while the scan returns rows,
 * in the executor's per-tuple context.
 */
typedef struct HttpTransfer
{
	MsgraphHttpResponse *resp;
	MemoryContext cxt;
	CURL	   *easy;
	int64		max_bytes;
	HttpEncoding encoding;
	int			error_body;		/* -1 not known yet, 1 the answer is no 2xx */
	bool		out_of_memory;	/* a callback could not allocate */
	char		errbuf[CURL_ERROR_SIZE];	/* curl's own words on a failure */
} HttpTransfer;

static size_t http_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata);
static size_t http_header_cb(char *ptr, size_t size, size_t nmemb, void *userdata);
static struct curl_slist *http_setup(CURL *h, const MsgraphHttpRequest *req,
									 MsgraphHttpResponse *resp, bool reuse,
									 HttpTransfer *xfer);
static void http_set_transport(CURL *h, const MsgraphHttpRequest *req);
static void http_detach(CURL *h, struct curl_slist *headers);
static void free_headers_wiped(struct curl_slist *headers);
static struct curl_slist *append_header(struct curl_slist *headers, const char *header);
static void http_reset_response(MsgraphHttpResponse *resp, bool reuse);
static void http_result(CURL *h, CURLcode result, HttpTransfer *xfer);
static bool errbuf_says_more(CURLcode result);
static CURLcode http_decode_body(HttpTransfer *xfer);
static int64 wire_limit(const HttpTransfer *xfer);
static CURLcode body_too_large(MsgraphHttpResponse *resp);
static char *header_value(HttpTransfer *xfer, const char *line, size_t len,
						  const char *name);
static bool append_no_oom(StringInfo target, const char *data, size_t n);
static bool is_error_body(HttpTransfer *xfer);


/*
 * Set up an easy handle for one request: options, callbacks writing into
 * resp through *xfer, headers.  Returns the header list, which the caller
 * frees (http_detach) once the transfer is over.
 */
static struct curl_slist *
http_setup(CURL *h, const MsgraphHttpRequest *req, MsgraphHttpResponse *resp,
		   bool reuse, HttpTransfer *xfer)
{
	struct curl_slist *headers = NULL;
	ListCell   *lc;

	http_reset_response(resp, reuse);
	xfer->resp = resp;
	xfer->cxt = CurrentMemoryContext;
	xfer->easy = h;
	xfer->max_bytes = req->max_response_bytes;
	xfer->encoding = HTTP_ENCODING_IDENTITY;
	xfer->error_body = -1;
	xfer->out_of_memory = false;

	/* reset options, keeping the connection cache */
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, req->url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	http_set_transport(h, req);
	/* gzip is asked for below and decoded by http_decode_body() */
	curl_easy_setopt(h, CURLOPT_HTTP_CONTENT_DECODING, 0L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, MSGRAPH_USER_AGENT);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long) req->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long) req->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, xfer);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, http_header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, xfer);
	xfer->errbuf[0] = '\0';
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, xfer->errbuf);

	if (strcmp(req->method, "GET") != 0)
	{
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);

		/*
		 * On a reused connection that turns out dead, libcurl silently
		 * sends the request again on another one, although the server may
		 * have acted on it.  A write therefore gets a connection of its
		 * own, closed after it, so that it neither reuses a connection nor
		 * leaves one more in the cache for later requests.
		 */
		curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
	}
	if (req->body != NULL)
	{
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) req->body_len);
	}

	foreach(lc, req->headers)
		headers = append_header(headers, (const char *) lfirst(lc));
	/* no "Expect: 100-continue" round trip on POST bodies */
	headers = append_header(headers, "Expect:");
	headers = append_header(headers, "Accept-Encoding: gzip");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	return headers;
}

/*
 * Clear a response for a new exchange.  With reuse (concurrent transfers,
 * whose responses their owner keeps and zeroes first) a response that
 * asks to keep its body buffers has them emptied for this exchange; any
 * other gets new ones in the current memory context, its earlier state
 * unread (callers' responses are often uninitialized).
 */
static void
http_reset_response(MsgraphHttpResponse *resp, bool reuse)
{
	StringInfoData body = resp->body;
	StringInfoData wire = resp->wire;
	bool		keep = reuse && resp->keep_buffers && body.data != NULL;

	memset(resp, 0, sizeof(*resp));
	resp->keep_buffers = keep;
	if (keep)
	{
		resp->body = body;
		resetStringInfo(&resp->body);
		resp->wire = wire;
		if (wire.data != NULL)
			resetStringInfo(&resp->wire);
	}
	else
		initStringInfo(&resp->body);
}

/* One more request header; on failure the list is freed and an ERROR raised. */
static struct curl_slist *
append_header(struct curl_slist *headers, const char *header)
{
	struct curl_slist *n = curl_slist_append(headers, header);

	if (n == NULL)
	{
		free_headers_wiped(headers);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	}
	return n;
}

/*
 * Proxy and trust store of a request.  An empty CURLOPT_PROXY disables
 * proxies, the environment's (http_proxy, https_proxy, ALL_PROXY) included;
 * an empty CURLOPT_NOPROXY makes a named proxy apply to every host,
 * whatever no_proxy says, except loopback hosts: those are reached
 * directly, as a proxy could not reach the database host's loopback
 * anyway, and would read plain http:// requests (the emulator's), tokens
 * and all.  A ca_file is the only trust store: the system's CA directory
 * is dropped too.
 */
static void
http_set_transport(CURL *h, const MsgraphHttpRequest *req)
{
	if (req->proxy != NULL && !msgraph_url_is_loopback(req->url))
	{
		curl_easy_setopt(h, CURLOPT_PROXY, req->proxy);
		curl_easy_setopt(h, CURLOPT_NOPROXY, "");
		curl_easy_setopt(h, CURLOPT_HTTPPROXYTUNNEL, 1L);
	}
	else
		curl_easy_setopt(h, CURLOPT_PROXY, "");

	if (req->ca_file != NULL)
	{
		curl_easy_setopt(h, CURLOPT_CAINFO, req->ca_file);
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
		curl_easy_setopt(h, CURLOPT_PROXY_CAINFO, req->ca_file);
		curl_easy_setopt(h, CURLOPT_PROXY_CAPATH, NULL);
	}
}

/* Forget a finished (or abandoned) transfer's callbacks and headers. */
static void
http_detach(CURL *h, struct curl_slist *headers)
{
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, NULL);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	free_headers_wiped(headers);
}

/* Free a header list, wiping each header first: one carries the token. */
static void
free_headers_wiped(struct curl_slist *headers)
{
	struct curl_slist *n;

	for (n = headers; n != NULL; n = n->next)
		explicit_bzero(n->data, strlen(n->data));
	curl_slist_free_all(headers);
}

/*
 * Whether curl's error buffer is worth more than its generic message for
 * this failure: it says which certificate check failed, which host did not
 * resolve, what the proxy answered, how the connection broke.  Not for
 * timeouts, refused connections and short bodies, where it adds only
 * milliseconds and byte counts.
 */
static bool
errbuf_says_more(CURLcode result)
{
	switch (result)
	{
		case CURLE_COULDNT_RESOLVE_PROXY:
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_SEND_ERROR:
		case CURLE_RECV_ERROR:
		case CURLE_SSL_CERTPROBLEM:
		case CURLE_SSL_CIPHER:
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_SSL_ISSUER_ERROR:
		case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		case CURLE_SSL_INVALIDCERTSTATUS:
		case CURLE_PROXY:
			return true;
		default:
			return false;
	}
}

/* The outcome of a finished transfer, into its response. */
static void
http_result(CURL *h, CURLcode result, HttpTransfer *xfer)
{
	MsgraphHttpResponse *resp = xfer->resp;
	curl_off_t	downloaded = 0;
	long		request_size = 0;

	/* an error body cut short on purpose ended the transfer early */
	if (result == CURLE_WRITE_ERROR && resp->body_cut)
		result = CURLE_OK;
	if (xfer->out_of_memory)
		result = CURLE_OUT_OF_MEMORY;
	if (result == CURLE_OK)
		result = http_decode_body(xfer);
	resp->curl_code = (int) result;
	if (result == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	else
	{
		resp->status = 0;
		resp->transport_error =
			MemoryContextStrdup(xfer->cxt,
								(xfer->errbuf[0] != '\0' && errbuf_says_more(result))
								? xfer->errbuf : curl_easy_strerror(result));
	}
	/* SIZE_DOWNLOAD counts body bytes before content decoding */
	curl_easy_getinfo(h, CURLINFO_SIZE_DOWNLOAD_T, &downloaded);
	resp->wire_bytes = (int64) downloaded;
	/* whether Graph may have seen the request: retry.c asks for non-GETs */
	curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &request_size);
	resp->request_sent = (request_size > 0);
}

/*
 * Body data as sent (gzipped or not).  Returning less than asked aborts
 * the transfer, which is how the size cap stops a response that is too
 * large.
 */
static size_t
http_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	HttpTransfer *xfer = (HttpTransfer *) userdata;
	MsgraphHttpResponse *resp = xfer->resp;
	StringInfo	target = &resp->body;
	size_t		n = size * nmemb;

	/* a gzipped body is decoded into body once complete */
	if (xfer->encoding == HTTP_ENCODING_GZIP)
	{
		target = &resp->wire;
		if (target->data == NULL)
		{
			/* beside body, which lives as long as the buffers are kept */
			target->data = MemoryContextAllocExtended(GetMemoryChunkContext(resp->body.data),
													  1024, MCXT_ALLOC_NO_OOM);
			if (target->data == NULL)
			{
				xfer->out_of_memory = true;
				return 0;
			}
			target->data[0] = '\0';
			target->len = 0;
			target->maxlen = 1024;
			target->cursor = 0;
		}
	}
	if (is_error_body(xfer) &&
		(int64) target->len + (int64) n > MSGRAPH_ERROR_BODY_MAX)
	{
		/* its first bytes are all anyone reads: keep them and stop */
		size_t		keep = MSGRAPH_ERROR_BODY_MAX - target->len;

		if (!append_no_oom(target, ptr, keep))
			xfer->out_of_memory = true;
		resp->body_cut = true;
		return 0;
	}
	if ((int64) target->len + (int64) n > wire_limit(xfer))
	{
		resp->too_large = true;
		return 0;
	}
	if (!append_no_oom(target, ptr, n))
	{
		xfer->out_of_memory = true;
		return 0;
	}
	return n;
}

/*
 * Whether the body arriving is that of an answer that is no success (nor
 * a 1xx, whose headers come before the final status): only its first
 * MSGRAPH_ERROR_BODY_MAX bytes are kept.  The status is known once the
 * first body byte arrives.
 */
static bool
is_error_body(HttpTransfer *xfer)
{
	if (xfer->error_body < 0)
	{
		long		status = 0;

		curl_easy_getinfo(xfer->easy, CURLINFO_RESPONSE_CODE, &status);
		xfer->error_body = (status < 200 || status > 299) ? 1 : 0;
	}
	return xfer->error_body == 1;
}

/*
 * appendBinaryStringInfo() for a libcurl callback: false instead of an
 * ERROR when the memory cannot be had.  The size caps keep every buffer
 * below MaxAllocSize, checked here too.
 */
static bool
append_no_oom(StringInfo target, const char *data, size_t n)
{
	size_t		need = (size_t) target->len + n + 1;

	if (need > (size_t) target->maxlen)
	{
		size_t		newlen = Max((size_t) target->maxlen, 1024);
		char	   *p;

		if (need > MaxAllocSize)
			return false;
		while (newlen < need)
			newlen *= 2;
		newlen = Min(newlen, MaxAllocSize);
		p = MemoryContextAllocExtended(GetMemoryChunkContext(target->data), newlen,
									   MCXT_ALLOC_NO_OOM);
		if (p == NULL)
			return false;
		memcpy(p, target->data, (size_t) target->len + 1);
		pfree(target->data);
		target->data = p;
		target->maxlen = (int) newlen;
	}
	memcpy(target->data + target->len, data, n);
	target->len += (int) n;
	target->data[target->len] = '\0';
	return true;
}

/*
 * The most body bytes a transfer may receive.  A gzipped body may be a
 * little longer than what it decodes to (incompressible text grows by a
 * few bytes per 16 kB block): the cap proper applies once it is decoded.
 */
static int64
wire_limit(const HttpTransfer *xfer)
{
	if (xfer->encoding == HTTP_ENCODING_IDENTITY)
		return xfer->max_bytes;
	return xfer->max_bytes + xfer->max_bytes / 256 + 1024;
}

/*
 * Decode a gzipped body from wire into body.  The gzip trailer gives the
 * decoded size (of the last member, modulo 2^32), so body is made that
 * size at once, and grows only if the body has several members or its
 * trailer is wrong.  A body that decodes to more than the cap is too
 * large.  wire is freed after, unless
 * the caller keeps the buffers.  Returns CURLE_BAD_CONTENT_ENCODING for
 * bytes that are not gzip (libdeflate checks the CRC and the size of each
 * member) or for an encoding that was not asked for.
 */
static CURLcode
http_decode_body(HttpTransfer *xfer)
{
	MsgraphHttpResponse *resp = xfer->resp;
	StringInfo	out = &resp->body;
	const unsigned char *in = (const unsigned char *) resp->wire.data;
	size_t		in_len = (size_t) resp->wire.len;
	size_t		in_done = 0;
	size_t		out_max;
	size_t		cap = (size_t) xfer->max_bytes;
	CURLcode	result = CURLE_OK;

	if (xfer->encoding == HTTP_ENCODING_IDENTITY)
		return CURLE_OK;
	if (xfer->encoding != HTTP_ENCODING_GZIP)
		return CURLE_BAD_CONTENT_ENCODING;
	if (in_len == 0)
		return CURLE_OK;		/* no body (a 204, say) */
	if (resp->body_cut)
	{
		/* the start of a gzip stream: libdeflate inflates whole streams only */
		resetStringInfo(out);
		if (!resp->keep_buffers)
		{
			pfree(resp->wire.data);
			resp->wire.data = NULL;
		}
		return CURLE_OK;
	}
	if (is_error_body(xfer))
		cap = Min(cap, MSGRAPH_ERROR_BODY_MAX);
	if (in_len < 18)
		return CURLE_BAD_CONTENT_ENCODING;

	out_max = (size_t) in[in_len - 4] | (size_t) in[in_len - 3] << 8 |
		(size_t) in[in_len - 2] << 16 | (size_t) in[in_len - 1] << 24;
	if (out_max > cap)
	{
		/*
		 * Too large, or not gzip at all (the trailer is only read, not
		 * checked, until the body is inflated): find out by inflating, with
		 * room growing up to the cap.
		 */
		out_max = Min(in_len * 8, cap);
	}
	out_max = Min(Max(out_max, 1024), cap);
	resetStringInfo(out);
	while (in_done < in_len)
	{
		size_t		used = 0;
		size_t		made = 0;
		enum libdeflate_result r;

		enlargeStringInfo(out, (int) (out_max - out->len));
		r = libdeflate_gzip_decompress_ex(msgraph_inflater, in + in_done, in_len - in_done,
										  out->data + out->len, out_max - out->len,
										  &used, &made);
		if (r == LIBDEFLATE_INSUFFICIENT_SPACE)
		{
			/* this member again, with room for twice as much */
			if (out_max == cap && is_error_body(xfer))
			{
				/* an error body that decodes to more than is read of one */
				resp->body_cut = true;
				resetStringInfo(out);
				break;
			}
			if (out_max == cap)
			{
				result = body_too_large(resp);
				break;
			}
			out_max = Min(out_max * 2, cap);
			continue;
		}
		if (r != LIBDEFLATE_SUCCESS)
		{
			result = CURLE_BAD_CONTENT_ENCODING;
			break;
		}
		in_done += used;
		out->len += (int) made;
		/* another member may follow */
		if (in_done < in_len && (size_t) out->len == out_max)
			out_max = Min(out_max * 2, cap);
	}
	if (result != CURLE_OK)
		resetStringInfo(out);
	out->data[out->len] = '\0';
	if (!resp->keep_buffers)
	{
		pfree(resp->wire.data);
		resp->wire.data = NULL;
	}
	return result;
}

/* A body that decodes to more than the cap. */
static CURLcode
body_too_large(MsgraphHttpResponse *resp)
{
	resp->too_large = true;
	return CURLE_WRITE_ERROR;
}

/* Keep the few response headers the callers use. */
static size_t
http_header_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	HttpTransfer *xfer = (HttpTransfer *) userdata;
	MsgraphHttpResponse *resp = xfer->resp;
	size_t		n = size * nmemb;
	char	   *v;

	/* a new status line starts a new response (e.g. after 100 Continue) */
	if (n > 5 && strncmp(ptr, "HTTP/", 5) == 0)
	{
		resp->request_id = NULL;
		resp->content_type = NULL;
		resp->retry_after = NULL;
		xfer->encoding = HTTP_ENCODING_IDENTITY;
		return n;
	}
	if ((v = header_value(xfer, ptr, n, "content-encoding")) != NULL)
	{
		if (pg_strcasecmp(v, "gzip") == 0)
			xfer->encoding = HTTP_ENCODING_GZIP;
		else if (pg_strcasecmp(v, "identity") != 0)
			xfer->encoding = HTTP_ENCODING_OTHER;
		pfree(v);
	}
	else if ((v = header_value(xfer, ptr, n, "request-id")) != NULL)
		resp->request_id = v;
	else if ((v = header_value(xfer, ptr, n, "content-type")) != NULL)
		resp->content_type = v;
	else if ((v = header_value(xfer, ptr, n, "retry-after")) != NULL)
		resp->retry_after = v;
	return xfer->out_of_memory ? 0 : n;
}

/*
 * If the header line is "name: value" (name case-insensitive), a copy of
 * the trimmed value in the transfer's memory context; else NULL (also
 * when the copy cannot be allocated: xfer->out_of_memory says so).
 */
static char *
header_value(HttpTransfer *xfer, const char *line, size_t len, const char *name)
{
	size_t		nlen = strlen(name);
	const char *v;
	const char *end = line + len;
	char	   *copy;

	if (len <= nlen || line[nlen] != ':' || pg_strncasecmp(line, name, nlen) != 0)
		return NULL;
	v = line + nlen + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	copy = MemoryContextAllocExtended(xfer->cxt, end - v + 1, MCXT_ALLOC_NO_OOM);
	if (copy == NULL)
	{
		xfer->out_of_memory = true;
		return NULL;
	}
	memcpy(copy, v, end - v);
	copy[end - v] = '\0';
	return copy;
}

/*
 * Percent-encode s, leaving RFC 3986's unreserved characters (ASCII
 * letters and digits, '-', '.', '_', '~') and those of keep as they are.
 * The test is on ASCII itself, not isalnum(): under a single-byte locale
 * isalnum() accepts bytes above 127, which must never go out raw.
 */
static char *
percent_encode(const char *s, const char *keep)
{
	static const char hex[] = "0123456789ABCDEF";
	StringInfoData buf;
	const unsigned char *p;

	initStringInfo(&buf);
	for (p = (const unsigned char *) s; *p; p++)
	{
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			(*p >= '0' && *p <= '9') ||
			*p == '-' || *p == '.' || *p == '_' || *p == '~' ||
			strchr(keep, *p) != NULL)
			appendStringInfoChar(&buf, (char) *p);
		else
		{
			appendStringInfoChar(&buf, '%');
			appendStringInfoChar(&buf, hex[*p >> 4]);
			appendStringInfoChar(&buf, hex[*p & 0x0F]);
		}
	}
	return buf.data;
}

/*
 * Percent-encode a query option value.  Unreserved characters and the few
 * that OData reads literally and that are safe in a query ( ' ( ) / : )
 * stay; everything else, '+', '&', '#', '%', ',', spaces and non-ASCII
 * bytes included, becomes %XX.  A literal therefore can never end the
 * option or start another.
 */
char *
msgraph_url_encode(const char *s)
{
	return percent_encode(s, "'()/:");
}

/*
 * Whether a value (an entity id) can be one segment of a request path.
 * Every string can be percent-encoded into one, except three: the empty
 * string, which leaves "resource/" (the collection, or nothing), and the
 * dot segments "." and "..", which URL resolution removes or turns into a
 * step up, in libcurl, in a proxy or at Graph alike, so that the request
 * would reach another resource with the table's token.  Encoding does not
 * help there: "%2E%2E" means ".." to a server that normalizes (RFC 3986
 * makes the two equivalent).  Callers test this first and send nothing
 * for such a value.
 */
bool
msgraph_path_segment_valid(const char *s)
{
	return s != NULL && s[0] != '\0' && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/*
 * Percent-encode a value (an entity id) as one path segment: everything
 * but unreserved characters is encoded, '/', '?', '#', '%' and the OData
 * delimiters included, so the value can neither end the segment nor start
 * the query.  A value msgraph_path_segment_valid() refuses is an ERROR
 * here: callers check first, this is the last guard before a URL is made.
 */
char *
msgraph_encode_path_segment(const char *s)
{
	if (!msgraph_path_segment_valid(s))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" cannot be a segment of a Graph request path", s ? s : ""),
				 errdetail("An id is sent as one path segment; \".\", \"..\" and the empty string cannot be one.")));
	return percent_encode(s, "");
}

/*
 * Whether url has the scheme, host and port of base.  The bearer token is
 * only ever sent to base's origin, so an @odata.nextLink elsewhere is
 * refused before it is followed.
 */
bool
msgraph_same_origin(const char *url, const char *base)
{
	CURLU	   *a = curl_url();
	CURLU	   *b = curl_url();
	char	   *sa = NULL, *sb = NULL, *ha = NULL, *hb = NULL, *pa = NULL, *pb = NULL;
	bool		same = false;

	if (a && b &&
		curl_url_set(a, CURLUPART_URL, url, 0) == CURLUE_OK &&
		curl_url_set(b, CURLUPART_URL, base, 0) == CURLUE_OK &&
		curl_url_get(a, CURLUPART_SCHEME, &sa, 0) == CURLUE_OK &&
		curl_url_get(b, CURLUPART_SCHEME, &sb, 0) == CURLUE_OK &&
		curl_url_get(a, CURLUPART_HOST, &ha, 0) == CURLUE_OK &&
		curl_url_get(b, CURLUPART_HOST, &hb, 0) == CURLUE_OK &&
		curl_url_get(a, CURLUPART_PORT, &pa, CURLU_DEFAULT_PORT) == CURLUE_OK &&
		curl_url_get(b, CURLUPART_PORT, &pb, CURLU_DEFAULT_PORT) == CURLUE_OK)
	{
		same = (pg_strcasecmp(sa, sb) == 0 &&
				pg_strcasecmp(ha, hb) == 0 &&
				strcmp(pa, pb) == 0);
	}
	curl_free(sa);
	curl_free(sb);
	curl_free(ha);
	curl_free(hb);
	curl_free(pa);
	curl_free(pb);
	curl_url_cleanup(a);
	curl_url_cleanup(b);
	return same;
}

/* A fresh random (version 4) GUID for the client-request-id header. */
char *
msgraph_new_request_id(void)
{
	uint8		u[16];

	if (!pg_strong_random(u, sizeof(u)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random values")));
	u[6] = (u[6] & 0x0F) | 0x40;
	u[8] = (u[8] & 0x3F) | 0x80;
	return psprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
					u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7],
					u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}


/* ----------------------------------------------------------------
 * The engine
 *
 * Every transfer runs on one multi handle, whether its caller waits for it
 * at once (msgraph_http_perform: start, wait, end) or lets it run while it
 * does other things (pages fetched ahead, parallel windows).  The handle
 * is driven through libcurl's socket interface: libcurl says which
 * sockets it wants watched, for what, on behalf of which transfer
 * (engine_socket_cb), and when it wants to be called even if no socket is
 * ready (engine_timer_cb).  The engine's own waits poll those sockets,
 * at most HTTP_POLL_INTERVAL_MS at a time with interrupt checks between;
 * msgraph_http_add_wait_events() hands the sockets of chosen transfers to
 * a WaitEventSet of the executor's instead (an asynchronous Append waits
 * for several scans at once), msgraph_http_timeout_ms() gives libcurl's
 * timer, and msgraph_http_socket_ready() lets libcurl act on what that
 * wait found.
 *
 * Easy handles come from a small pool, and libcurl keeps the connections
 * of the multi handle for the backend's life, so TCP and TLS connections
 * are reused across pages, transfers and queries.  The owner of a transfer
 * must end it (msgraph_http_end), also when an ERROR ends the query: a
 * transfer left attached would write into freed memory; an unfinished one
 * has its connection closed, so that no half-read answer is ever reused.
 * A transfer's own state lives outside the query's memory, so that an
 * owner's memory context callback (which runs after the contexts below
 * the query's were freed) can still end it.
 * ----------------------------------------------------------------
 */
#define ENGINE_POOL_SIZE	16
#define ENGINE_MAX_SOCKETS	64

struct MsgraphTransfer
{
	CURL	   *easy;
	struct curl_slist *headers;
	HttpTransfer xfer;
	bool		attached;
	bool		sent;			/* the request is being written */
	bool		done;			/* the response is complete */
};

/* A socket libcurl wants watched, and for which transfer. */
typedef struct EngineSocket
{
	curl_socket_t sock;
	int			what;			/* CURL_POLL_IN, _OUT or _INOUT */
	CURL	   *easy;
} EngineSocket;

static struct
{
	CURLM	   *multi;
	CURL	   *pool[ENGINE_POOL_SIZE];
	int			npool;
	EngineSocket sockets[ENGINE_MAX_SOCKETS];
	int			nsockets;
	bool		too_many_sockets;
	TimestampTz timer_at;		/* when libcurl wants to be called; 0: never */
} engine;

static void engine_init(void);
static int	engine_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp,
							 void *socketp);
static int	engine_timer_cb(CURLM *multi, long timeout_ms, void *userp);
static void engine_act(curl_socket_t sock, int ev);
static void engine_step(int max_wait_ms);
static void engine_collect(void);
static int	engine_prereq_cb(void *clientp, char *conn_primary_ip, char *conn_local_ip,
							 int conn_primary_port, int conn_local_port);

/* The multi handle and the decompressor, on first use. */
static void
engine_init(void)
{
	if (engine.multi != NULL)
		return;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not initialize libcurl")));
	if (msgraph_inflater == NULL)
		msgraph_inflater = libdeflate_alloc_decompressor();
	engine.multi = curl_multi_init();
	if (engine.multi == NULL || msgraph_inflater == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Could not create libcurl handles.")));
	curl_multi_setopt(engine.multi, CURLMOPT_SOCKETFUNCTION, engine_socket_cb);
	curl_multi_setopt(engine.multi, CURLMOPT_TIMERFUNCTION, engine_timer_cb);
}

/*
 * CURLMOPT_SOCKETFUNCTION: libcurl wants a socket watched for reading,
 * writing or both, or no more.  (No ERROR here: see the file's banner.)
 */
static int
engine_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	int			i;

	for (i = 0; i < engine.nsockets && engine.sockets[i].sock != s; i++)
		;
	if (what == CURL_POLL_REMOVE)
	{
		if (i < engine.nsockets)
			engine.sockets[i] = engine.sockets[--engine.nsockets];
		return 0;
	}
	if (i == engine.nsockets)
	{
		if (engine.nsockets == ENGINE_MAX_SOCKETS)
		{
			engine.too_many_sockets = true;
			return -1;			/* libcurl fails the transfer */
		}
		engine.nsockets++;
	}
	engine.sockets[i].sock = s;
	engine.sockets[i].what = what;
	engine.sockets[i].easy = easy;
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: when libcurl wants to be called (-1: never). */
static int
engine_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	engine.timer_at = (timeout_ms < 0) ? 0
		: TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	return 0;
}

/*
 * CURLOPT_PREREQFUNCTION: the connection is there and the request is
 * written right after this returns, in the same step of the multi handle.
 */
static int
engine_prereq_cb(void *clientp, char *conn_primary_ip, char *conn_local_ip,
				 int conn_primary_port, int conn_local_port)
{
	((MsgraphTransfer *) clientp)->sent = true;
	return CURL_PREREQFUNC_OK;
}

/* Let libcurl act on a socket that is ready, or on its timer, and collect. */
static void
engine_act(curl_socket_t sock, int ev)
{
	int			running;
	CURLMcode	mc = curl_multi_socket_action(engine.multi, sock, ev, &running);

	if (mc != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("HTTP transfer failed: %s", curl_multi_strerror(mc))));
	engine_collect();
}

/* Mark every transfer that finished done, with its outcome in its response. */
static void
engine_collect(void)
{
	CURLMsg    *msg;
	int			queued;

	while ((msg = curl_multi_info_read(engine.multi, &queued)) != NULL)
	{
		MsgraphTransfer *t = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &t);
		if (t == NULL || t->done)
			continue;
		http_result(t->easy, msg->data.result, &t->xfer);
		t->done = true;
	}
}

/*
 * One step of the engine: wait at most max_wait_ms (and no longer than
 * libcurl's timer) for one of its sockets, then let libcurl act on what is
 * ready, or on its timer when it is due.  0 only looks.
 */
static void
engine_step(int max_wait_ms)
{
	struct pollfd fds[ENGINE_MAX_SOCKETS];
	int			nfds = engine.nsockets;
	int			timeout = max_wait_ms;
	int			n;
	int			i;

	if (engine.timer_at != 0)
	{
		long		secs;
		int			usecs;

		TimestampDifference(GetCurrentTimestamp(), engine.timer_at, &secs, &usecs);
		timeout = (int) Min((int64) timeout, secs * 1000 + (usecs + 999) / 1000);
	}
	for (i = 0; i < nfds; i++)
	{
		fds[i].fd = engine.sockets[i].sock;
		fds[i].events = ((engine.sockets[i].what & CURL_POLL_IN) ? POLLIN : 0) |
			((engine.sockets[i].what & CURL_POLL_OUT) ? POLLOUT : 0);
		fds[i].revents = 0;
	}
	pgstat_report_wait_start(PG_WAIT_EXTENSION);
	n = poll(fds, nfds, timeout);
	pgstat_report_wait_end();
	if (n < 0 && errno != EINTR)
		ereport(ERROR,
				(errcode_for_socket_access(),
				 errmsg("could not wait for an HTTP transfer: %m")));
	for (i = 0; i < nfds && n > 0; i++)
	{
		int			ev = 0;

		if (fds[i].revents == 0)
			continue;
		if (fds[i].revents & (POLLIN | POLLHUP))
			ev |= CURL_CSELECT_IN;
		if (fds[i].revents & POLLOUT)
			ev |= CURL_CSELECT_OUT;
		if (fds[i].revents & (POLLERR | POLLNVAL))
			ev |= CURL_CSELECT_ERR;
		engine_act(fds[i].fd, ev);
	}
	if (engine.timer_at != 0 && GetCurrentTimestamp() >= engine.timer_at)
		engine_act(CURL_SOCKET_TIMEOUT, 0);
}

/*
 * Start a transfer; resp (the caller's) is filled when it is done.  The
 * response body is allocated in the current memory context, unless resp
 * keeps its buffers (keep_buffers, with body already made in the context
 * they live in): then their memory is reused, so that a scan's pages do
 * not each cost fresh memory (page faults cost as much as inflating the
 * page).  Nothing is sent until the engine is driven.
 */
MsgraphTransfer *
msgraph_http_start(const MsgraphHttpRequest *req, MsgraphHttpResponse *resp)
{
	MsgraphTransfer *t;

	engine_init();
	t = MemoryContextAllocZero(TopMemoryContext, sizeof(MsgraphTransfer));
	t->easy = (engine.npool > 0) ? engine.pool[--engine.npool] : curl_easy_init();
	if (t->easy == NULL)
	{
		pfree(t);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Could not create a libcurl handle.")));
	}
	PG_TRY();
	{
		t->headers = http_setup(t->easy, req, resp, true, &t->xfer);
	}
	PG_CATCH();
	{
		msgraph_http_end(t);
		PG_RE_THROW();
	}
	PG_END_TRY();
	curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
	curl_easy_setopt(t->easy, CURLOPT_PREREQFUNCTION, engine_prereq_cb);
	curl_easy_setopt(t->easy, CURLOPT_PREREQDATA, t);
	if (curl_multi_add_handle(engine.multi, t->easy) != CURLM_OK)
	{
		msgraph_http_end(t);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not start an HTTP transfer")));
	}
	t->attached = true;
	return t;
}

/*
 * Drive the engine until the request of t has been written (or its
 * transfer has ended): a request started when its turn in the throttle
 * budget came must go out then, not whenever the engine is next driven.
 * Takes as long as connecting does, with interrupt checks.
 */
void
msgraph_http_send(MsgraphTransfer *t)
{
	engine_step(0);
	while (!t->sent && !t->done)
	{
		CHECK_FOR_INTERRUPTS();
		engine_step(HTTP_POLL_INTERVAL_MS);
	}
}

/* Let the transfers progress without waiting (between rows of a scan). */
void
msgraph_http_progress(void)
{
	if (engine.multi != NULL)
		engine_step(0);
}

/*
 * Wait until one of the n transfers (NULL entries are skipped) has
 * finished and return it; the others go on meanwhile.  Interrupts are
 * checked every HTTP_POLL_INTERVAL_MS.
 */
MsgraphTransfer *
msgraph_http_wait_any(MsgraphTransfer **set, int n)
{
	for (;;)
	{
		int			i;

		for (i = 0; i < n; i++)
		{
			if (set[i] != NULL && set[i]->done)
				return set[i];
		}
		CHECK_FOR_INTERRUPTS();
		engine_step(HTTP_POLL_INTERVAL_MS);
	}
}

/*
 * End a transfer, finished or not: detach it (an unfinished one has its
 * connection closed), put its handle back into the pool and free it.
 */
void
msgraph_http_end(MsgraphTransfer *t)
{
	if (t == NULL)
		return;
	if (t->attached)
		curl_multi_remove_handle(engine.multi, t->easy);
	t->attached = false;
	curl_easy_setopt(t->easy, CURLOPT_PRIVATE, NULL);
	http_detach(t->easy, t->headers);
	t->headers = NULL;
	if (engine.npool < ENGINE_POOL_SIZE)
		engine.pool[engine.npool++] = t->easy;
	else
		curl_easy_cleanup(t->easy);
	pfree(t);
}

/*
 * Perform one HTTP exchange: start, wait, end.  Fills resp (allocated by
 * the caller, in the caller's memory context) and returns normally
 * whatever the HTTP status; a transfer that failed has resp->status 0 and
 * resp->curl_code set.  Only interrupts (cancel, timeouts) and
 * out-of-memory raise an ERROR here; the transfer is ended either way.
 */
void
msgraph_http_perform(const MsgraphHttpRequest *req, MsgraphHttpResponse *resp)
{
	MsgraphTransfer *t;
	bool		out_of_memory;

	resp->keep_buffers = false;
	t = msgraph_http_start(req, resp);
	PG_TRY();
	{
		(void) msgraph_http_wait_any(&t, 1);
	}
	PG_FINALLY();
	{
		out_of_memory = t->xfer.out_of_memory;
		msgraph_http_end(t);
	}
	PG_END_TRY();

	/* what a callback could not say itself */
	if (out_of_memory || engine.too_many_sockets)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Failed while receiving a response from %s.", req->url)));
}

/*
 * Add the sockets the n transfers wait on to an executor's WaitEventSet,
 * each with user_data; returns how many were added.  A socket appears in
 * the engine once, for the one transfer using it, so transfers of
 * different scans never add the same socket twice.
 */
int
msgraph_http_add_wait_events(WaitEventSet *set, MsgraphTransfer **ts, int n,
							 void *user_data)
{
	int			added = 0;
	int			i;
	int			j;

	for (i = 0; i < engine.nsockets; i++)
	{
		EngineSocket *s = &engine.sockets[i];

		for (j = 0; j < n; j++)
		{
			if (ts[j] != NULL && ts[j]->easy == s->easy)
			{
				uint32		events = ((s->what & CURL_POLL_IN) ? WL_SOCKET_READABLE : 0) |
					((s->what & CURL_POLL_OUT) ? WL_SOCKET_WRITEABLE : 0);

				AddWaitEventToSet(set, events, s->sock, NULL, user_data);
				added++;
				break;
			}
		}
	}
	return added;
}

/* Milliseconds until libcurl's timer is due, 0 if it is; -1: none. */
long
msgraph_http_timeout_ms(void)
{
	long		secs;
	int			usecs;

	if (engine.multi == NULL || engine.timer_at == 0)
		return -1;
	TimestampDifference(GetCurrentTimestamp(), engine.timer_at, &secs, &usecs);
	return secs * 1000 + (usecs + 999) / 1000;
}

/*
 * After an executor's wait: let libcurl act on a socket that was found
 * ready (events as WaitEventSet reports them), or, with PGINVALID_SOCKET,
 * on its timer if it is due.
 */
void
msgraph_http_socket_ready(pgsocket sock, uint32 events)
{
	if (engine.multi == NULL)
		return;
	if (sock == PGINVALID_SOCKET)
	{
		if (engine.timer_at != 0 && GetCurrentTimestamp() >= engine.timer_at)
			engine_act(CURL_SOCKET_TIMEOUT, 0);
		return;
	}
	engine_act(sock, ((events & WL_SOCKET_READABLE) ? CURL_CSELECT_IN : 0) |
			   ((events & WL_SOCKET_WRITEABLE) ? CURL_CSELECT_OUT : 0));
}
