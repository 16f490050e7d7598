/*-------------------------------------------------------------------------
 *
 * floor.c
 *		  The floor of the benchmarks: what fetching and parsing the pages
 *		  costs with no database around it.
 *
 * Follows @odata.nextLink from a first URL with libcurl (keep-alive, gzip
 * as the extension asks for it), parses each page with json-c and touches
 * every value of every entity, as converting all columns would.  Prints
 * "rows seconds requests bytes" on one line.
 *
 * Usage: floor URL TOKEN
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <json-c/json.h>

typedef struct Buffer
{
	char	   *data;
	size_t		len;
	size_t		cap;
} Buffer;

static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	Buffer	   *b = arg;
	size_t		n = size * nmemb;

	if (b->len + n + 1 > b->cap)
	{
		b->cap = (b->len + n + 1) * 2;
		b->data = realloc(b->data, b->cap);
		if (b->data == NULL)
			return 0;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

/* Touch every value below v; returns how many leaves were seen. */
static long
walk(struct json_object *v)
{
	long		n = 0;

	switch (json_object_get_type(v))
	{
		case json_type_object:
			{
				json_object_object_foreach(v, key, child)
				{
					(void) key;
					n += walk(child);
				}
				return n;
			}
		case json_type_array:
			{
				size_t		i;

				for (i = 0; i < json_object_array_length(v); i++)
					n += walk(json_object_array_get_idx(v, i));
				return n;
			}
		case json_type_string:
			return json_object_get_string_len(v) >= 0;
		default:
			return 1;
	}
}

int
main(int argc, char **argv)
{
	CURL	   *h;
	struct curl_slist *headers = NULL;
	char	   *url;
	char		auth[4096];
	Buffer		body = {NULL, 0, 0};
	long		rows = 0;
	long		requests = 0;
	long		leaves = 0;
	curl_off_t	bytes = 0;
	struct timespec t0, t1;

	if (argc != 3)
	{
		fprintf(stderr, "usage: floor URL TOKEN\n");
		return 2;
	}
	url = strdup(argv[1]);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", argv[2]);

	curl_global_init(CURL_GLOBAL_DEFAULT);
	h = curl_easy_init();
	headers = curl_slist_append(headers, auth);
	headers = curl_slist_append(headers, "Prefer: include-unknown-enum-members");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "gzip");
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (url != NULL)
	{
		struct json_object *doc;
		struct json_object *value;
		struct json_object *link;
		long		status = 0;
		curl_off_t	n = 0;

		body.len = 0;
		curl_easy_setopt(h, CURLOPT_URL, url);
		if (curl_easy_perform(h) != CURLE_OK)
		{
			fprintf(stderr, "transfer failed: %s\n", url);
			return 1;
		}
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(h, CURLINFO_SIZE_DOWNLOAD_T, &n);
		bytes += n;
		requests++;
		if (status != 200)
		{
			fprintf(stderr, "HTTP %ld: %s\n", status, url);
			return 1;
		}
		doc = json_tokener_parse(body.data);
		if (doc == NULL || !json_object_object_get_ex(doc, "value", &value))
		{
			fprintf(stderr, "bad page\n");
			return 1;
		}
		rows += (long) json_object_array_length(value);
		leaves += walk(value);
		free(url);
		url = NULL;
		if (json_object_object_get_ex(doc, "@odata.nextLink", &link) &&
			json_object_is_type(link, json_type_string))
			url = strdup(json_object_get_string(link));
		json_object_put(doc);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%ld %.6f %ld %lld %ld\n", rows,
		   (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
		   requests, (long long) bytes, leaves);
	curl_slist_free_all(headers);
	curl_easy_cleanup(h);
	free(body.data);
	return 0;
}
