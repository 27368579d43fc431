// SPDX-License-Identifier: GPL-2.0
/* The [balance] section: hosts, CTs, rules, pins and every threshold. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "balance.h"
#include "config.h"

void bal_config_defaults(struct bal_config *b)
{
	memset(b, 0, sizeof(*b));
	strcpy(b->metrics, "agent");
	b->p.threshold = 0.20;
	b->p.hold_runs = 3;
	b->p.min_gain = 0.02;
	b->p.max_target_score = 0.85;
	b->p.max_moves = 1;
	b->p.cooldown_s = 6 * 3600;
	b->p.fail_backoff_s = 3600;
	b->p.use_psi = false;
}

void bal_config_free(struct bal_config *b)
{
	free(b->hosts);
	free(b->cts);
	free(b->pins);
	free(b->excludes);
	b->hosts = NULL;
	b->cts = b->pins = b->excludes = NULL;
	b->nhosts = b->ncts = b->npins = b->nexcludes = 0;
}

/* Split v into at most max whitespace-separated words (v is modified). */
static size_t words(char *v, char **w, size_t max)
{
	size_t n = 0;
	char *save = NULL;

	for (char *t = strtok_r(v, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (n == max)
			return max + 1;
		w[n++] = t;
	}
	return n;
}

static int copy(char *dst, size_t len, const char *src)
{
	if (strlen(src) >= len)
		return -1;
	strcpy(dst, src);
	return 0;
}

/* A CT spec as phaul migrate takes it: "type:id", printable, no spaces. */
static bool ct_spec_ok(const char *s)
{
	const char *colon = strchr(s, ':');

	if (!colon || colon == s || !colon[1] || s[0] == '-')
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

static int add_host(struct bal_config *b, char *v)
{
	struct bal_host_cfg *h;
	char *w[3];
	size_t n = words(v, w, 3);

	if (n < 2 || n > 3 || b->nhosts == BAL_HOSTS_MAX || w[1][0] == '-')
		return -1;
	if (n == 3 && strcmp(w[2], "ssh") && strcmp(w[2], "tcp"))
		return -1;
	for (size_t i = 0; i < b->nhosts; i++)
		if (!strcmp(b->hosts[i].name, w[0]))
			return -1;
	h = realloc(b->hosts, (b->nhosts + 1) * sizeof(*h));
	if (!h)
		return -1;
	b->hosts = h;
	h = &b->hosts[b->nhosts];
	memset(h, 0, sizeof(*h));
	if (copy(h->name, sizeof(h->name), w[0]) || copy(h->addr, sizeof(h->addr), w[1]) ||
	    (n == 3 && copy(h->transport, sizeof(h->transport), w[2])))
		return -1;
	b->nhosts++;
	return 0;
}

/* "HOST CT" (host_required) or "[HOST] CT" into *list. */
static int add_ct(struct bal_ct_cfg **list, size_t *n, char *v, bool host_required)
{
	struct bal_ct_cfg *l, c = { .host = "" };
	char *w[2];
	size_t nw = words(v, w, 2);

	if (nw < (host_required ? 2u : 1u) || nw > 2)
		return -1;
	if (nw == 2 && copy(c.host, sizeof(c.host), w[0]))
		return -1;
	if (copy(c.ct, sizeof(c.ct), w[nw - 1]) || !ct_spec_ok(c.ct) || *n >= 65536)
		return -1;
	l = realloc(*list, (*n + 1) * sizeof(*l));
	if (!l)
		return -1;
	*list = l;
	l[(*n)++] = c;
	return 0;
}

/* "NAME INSTANCE": the node_exporter instance label of a host declared above. */
static int set_instance(struct bal_config *b, char *v)
{
	char *w[2];

	if (words(v, w, 2) != 2)
		return -1;
	for (size_t i = 0; i < b->nhosts; i++)
		if (!strcmp(b->hosts[i].name, w[0]))
			return copy(b->hosts[i].instance, sizeof(b->hosts[i].instance), w[1]);
	return -1;
}

static int add_rule(struct bal_config *b, const char *v)
{
	bool ok = !strcmp(v, "lxc:*") || (!strncmp(v, "unit:", 5) && ct_spec_ok(v));

	if (!ok || b->nrules == sizeof(b->rules) / sizeof(b->rules[0]))
		return -1;
	return copy(b->rules[b->nrules++], sizeof(b->rules[0]), v);
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi))
		return -1;
	*out = v;
	return 0;
}

static int parse_unsigned(const char *s, unsigned long lo, unsigned long hi, unsigned *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int set_metrics(struct bal_config *b, char *v)
{
	char *w[2];
	size_t n = words(v, w, 2);

	if (n == 1 && !strcmp(w[0], "agent")) {
		strcpy(b->metrics, "agent");
		return 0;
	}
	if (n != 2 || strcmp(w[0], "prometheus") ||
	    (strncmp(w[1], "http://", 7) && strncmp(w[1], "https://", 8)))
		return -1;
	strcpy(b->metrics, "prometheus");
	return copy(b->metrics_url, sizeof(b->metrics_url), w[1]);
}

int bal_config_set(struct bal_config *b, const char *key, const char *value)
{
	char v[1024];

	if (copy(v, sizeof(v), value))
		return -1;
	if (!strcmp(key, "host"))
		return add_host(b, v);
	if (!strcmp(key, "ct"))
		return add_ct(&b->cts, &b->ncts, v, true);
	if (!strcmp(key, "pin"))
		return add_ct(&b->pins, &b->npins, v, false);
	if (!strcmp(key, "exclude"))
		return add_ct(&b->excludes, &b->nexcludes, v, false);
	if (!strcmp(key, "instance"))
		return set_instance(b, v);
	if (!strcmp(key, "rule"))
		return add_rule(b, v);
	if (!strcmp(key, "metrics"))
		return set_metrics(b, v);
	if (!strcmp(key, "force"))
		return copy(b->force, sizeof(b->force), v);
	if (!strcmp(key, "threshold"))
		return parse_double(v, 0.01, 1.0, &b->p.threshold);
	if (!strcmp(key, "min_gain"))
		return parse_double(v, 0.0, 1.0, &b->p.min_gain);
	if (!strcmp(key, "max_target_score"))
		return parse_double(v, 0.05, 2.0, &b->p.max_target_score);
	if (!strcmp(key, "hold_runs"))
		return parse_unsigned(v, 1, 1000, &b->p.hold_runs);
	if (!strcmp(key, "max_moves"))
		return parse_unsigned(v, 1, BAL_MOVES_MAX, &b->p.max_moves);
	if (!strcmp(key, "cooldown"))
		return parse_unsigned(v, 0, 30 * 86400, &b->p.cooldown_s);
	if (!strcmp(key, "fail_backoff"))
		return parse_unsigned(v, 0, 30 * 86400, &b->p.fail_backoff_s);
	if (!strcmp(key, "use_psi"))
		return config_parse_bool(v, &b->p.use_psi);
	return -2;
}

bool bal_ct_listed(const struct bal_ct_cfg *list, size_t n, const char *host, const char *ct)
{
	for (size_t i = 0; i < n; i++)
		if ((!list[i].host[0] || !strcmp(list[i].host, host)) && !strcmp(list[i].ct, ct))
			return true;
	return false;
}
