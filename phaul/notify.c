// SPDX-License-Identifier: GPL-2.0
#include <curl/curl.h>
#include <string.h>

#include "err.h"
#include "notify.h"

/* The receiver's answer is not ours to keep. */
static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	return size * n;
}

int notify_post(const char *url, const char *body, int timeout_s)
{
	struct curl_slist *hdr = NULL;
	char err[CURL_ERROR_SIZE] = "";
	long code = 0;
	CURLcode rc;
	CURL *c;
	int ret = 0;

	if (!(c = curl_easy_init()))
		return ph_seterr(PH_ENOMEM, "notify: curl_easy_init");
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)(timeout_s < 5 ? timeout_s : 5));
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)timeout_s);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK)
		ret = ph_seterr(PH_EPEER, "notify %s: %s", url,
				err[0] ? err : curl_easy_strerror(rc));
	else if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK &&
		 (code < 200 || code > 299))
		ret = ph_seterr(PH_EPEER, "notify %s: HTTP %ld (required: 2xx)", url, code);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	return ret;
}
