// SPDX-License-Identifier: GPL-2.0
/*
 * Host figures from Prometheus (metrics = prometheus URL): node_exporter's
 * series through the HTTP API (/api/v1/query), one instant query per
 * figure for the whole fleet, fetched with libcurl and parsed with jansson.
 * The CTs' figures still come from the agents.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balance.h"
#include "caps.h"
#include "err.h"

struct body {
	char *buf;
	size_t len;
	bool over;
};

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t k = size * n;
	char *nb;

	if (b->len + k > PH_PROM_RESP_MAX) {
		b->over = true;
		return 0; /* ends the transfer */
	}
	if (!(nb = realloc(b->buf, b->len + k + 1)))
		return 0;
	b->buf = nb;
	memcpy(b->buf + b->len, p, k);
	b->len += k;
	b->buf[b->len] = '\0';
	return k;
}

/* An API answer: *root owns it, *result is its data.result array. */
static int parse_answer(const char *buf, size_t len, json_t **root, json_t **result,
			json_error_t *je)
{
	const char *status;

	*root = json_loadb(buf, len, 0, je);
	status = json_string_value(json_object_get(*root, "status"));
	*result = json_object_get(json_object_get(*root, "data"), "result");
	return *root && status && !strcmp(status, "success") && json_is_array(*result) ? 0 : -1;
}

/* GET base/api/v1/query?query=q; *out: the answer's data.result array. */
static int query(const char *base, const char *q, int timeout_s, json_t **root, json_t **result)
{
	struct body b = { 0 };
	char err[CURL_ERROR_SIZE] = "", *enc = NULL, *url = NULL;
	json_error_t je;
	long code = 0;
	CURLcode rc;
	CURL *c;
	int ret = 0;

	*root = *result = NULL;
	if (!(c = curl_easy_init()))
		return ph_seterr(PH_ENOMEM, "prometheus: curl_easy_init");
	enc = curl_easy_escape(c, q, 0);
	if (!enc || asprintf(&url, "%s%s/api/v1/query?query=%s", base,
			     base[strlen(base) - 1] == '/' ? "" : "", enc) < 0) {
		url = NULL;
		ret = ph_seterr(PH_ENOMEM, "prometheus query");
		goto out;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)timeout_s);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	rc = curl_easy_perform(c);
	if (b.over) {
		ret = ph_seterr(PH_ETOOBIG, "prometheus %s: answer to %s exceeds %u bytes", base, q,
				PH_PROM_RESP_MAX);
		goto out;
	}
	if (rc != CURLE_OK) {
		ret = ph_seterr(PH_EPEER, "prometheus %s: %s", base,
				err[0] ? err : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200) {
		ret = ph_seterr(PH_EPEER, "prometheus %s: HTTP %ld for %s (required: 200)", base,
				code, q);
		goto out;
	}
	if (parse_answer(b.buf ? b.buf : "", b.len, root, result, &je) < 0)
		ret = ph_seterr(PH_EPROTO, "prometheus %s: no result vector for %s%s%s", base, q,
				*root ? "" : ": ", *root ? "" : je.text);
out:
	if (ret < 0) {
		json_decref(*root);
		*root = *result = NULL;
	}
	free(url);
	curl_free(enc);
	free(b.buf);
	curl_easy_cleanup(c);
	return ret;
}

/* The sample of instance in result: 0 and *v, or -1 when the series is missing. */
static int sample(json_t *result, const char *instance, double *v)
{
	size_t i;
	json_t *e;

	json_array_foreach(result, i, e)
	{
		const char *in = json_string_value(
			json_object_get(json_object_get(e, "metric"), "instance"));
		const char *val = json_string_value(json_array_get(json_object_get(e, "value"), 1));
		char *end;

		if (!in || !val || strcmp(in, instance))
			continue;
		*v = strtod(val, &end);
		return *end ? -1 : 0;
	}
	return -1;
}

/* One figure of node_exporter for every host. */
struct figure {
	const char *promql;
	bool required;
};

static const struct figure figures[] = {
	{ "count by (instance) (node_cpu_seconds_total{mode=\"idle\"})", true },
	{ "node_load1", true },
	{ "node_memory_MemTotal_bytes", true },
	{ "node_memory_MemAvailable_bytes", true },
	{ "rate(node_pressure_cpu_waiting_seconds_total[1m]) * 100", false },
	{ "rate(node_pressure_memory_waiting_seconds_total[1m]) * 100", false },
	{ "rate(node_pressure_io_waiting_seconds_total[1m]) * 100", false },
};
#define NFIG (sizeof(figures) / sizeof(figures[0]))

static void apply(struct bal_host *h, const double *v, const bool *got)
{
	h->ncpu = (uint32_t)v[0];
	h->load1 = v[1];
	h->mem_total_kb = (uint64_t)(v[2] / 1024);
	h->mem_avail_kb = (uint64_t)(v[3] / 1024);
	h->has_psi = got[4] && got[5] && got[6];
	h->psi_cpu = h->has_psi ? v[4] : 0;
	h->psi_mem = h->has_psi ? v[5] : 0;
	h->psi_io = h->has_psi ? v[6] : 0;
}

void bal_prom_instance(const struct bal_host_cfg *h, char *out, size_t len)
{
	const char *host = strchr(h->addr, '@') ? strchr(h->addr, '@') + 1 : h->addr;
	const char *colon = strchr(host, ':');
	size_t n = strlen(host);

	if (h->instance[0]) {
		snprintf(out, len, "%s", h->instance);
		return;
	}
	/* the address without its port: "[v6]:p" -> "[v6]", "v4:p" -> "v4" */
	if (host[0] == '[' && strchr(host, ']'))
		n = (size_t)(strchr(host, ']') - host) + 1;
	else if (colon && !strchr(colon + 1, ':'))
		n = (size_t)(colon - host);
	snprintf(out, len, "%.*s:9100", (int)n, host);
}

int bal_prom_query(const char *url, const char *const *instances, size_t n, int timeout_s,
		   struct bal_host *hosts, char **errors)
{
	json_t *root[NFIG] = { 0 }, *res[NFIG] = { 0 };
	int ret = 0;

	for (size_t f = 0; f < NFIG && ret == 0; f++)
		if ((ret = query(url, figures[f].promql, timeout_s, &root[f], &res[f])) < 0 &&
		    !figures[f].required)
			ret = 0; /* an old node_exporter without PSI: no PSI */
	for (size_t i = 0; i < n && ret == 0; i++) {
		double v[NFIG] = { 0 };
		bool got[NFIG] = { 0 };
		char msg[300] = "";

		if (!hosts[i].up)
			continue; /* its agent did not answer: that error stands */
		for (size_t f = 0; f < NFIG; f++) {
			got[f] = res[f] && sample(res[f], instances[i], &v[f]) == 0;
			if (!got[f] && figures[f].required && !msg[0])
				snprintf(msg, sizeof(msg),
					 "prometheus %s has no %s for instance \"%s\" "
					 "(node_exporter "
					 "scraped as that instance?)",
					 url, figures[f].promql, instances[i]);
		}
		if (!msg[0] && (v[0] < 1 || v[2] <= 0 || v[3] > v[2]))
			snprintf(msg, sizeof(msg), "prometheus %s: impossible figures for \"%s\"",
				 url, instances[i]);
		if (msg[0]) {
			free(errors[i]);
			errors[i] = strdup(msg);
			hosts[i].up = false;
			continue;
		}
		apply(&hosts[i], v, got);
	}
	for (size_t f = 0; f < NFIG; f++)
		json_decref(root[f]);
	return ret;
}

int bal_prom_value(const char *answer, size_t len, const char *instance, double *v)
{
	json_t *root = NULL, *result = NULL;
	json_error_t je;
	int ret = -1;

	if (parse_answer(answer, len, &root, &result, &je) == 0)
		ret = sample(result, instance, v);
	json_decref(root);
	return ret;
}
