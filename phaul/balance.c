// SPDX-License-Identifier: GPL-2.0
/*
 * phaul balance: one run of the balancer. Lock the state, ask every host
 * for its load, decide (balance_decide.c), ask each move's source agent to
 * migrate, one move at a time, then save the state and append one JSON
 * record to work_dir/balance/log.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "balance.h"
#include "cli.h"
#include "compat/compat.h"
#include "err.h"
#include "log.h"
#include "proto/msg.h"
#include "notify.h"
#include "phaul.h"

const char balance_usage[] =
	"Usage: phaul balance [--dry-run] [--json]\n"
	"\n"
	"One run of the load balancer over the hosts of the config's [balance]\n"
	"section (from cron or a systemd timer): ask each host's agent for its load,\n"
	"score the hosts, and when the spread has held above the threshold for\n"
	"hold_runs runs, ask the busiest host's agent to migrate a CT to the idlest\n"
	"host that stays below max_target_score (at most max_moves, one at a time).\n"
	"  --dry-run   print the scores, the decision and why; move nothing, keep\n"
	"              the state as it is\n"
	"  --json      the run's record as one JSON object on stdout\n"
	"\n"
	"Exit codes: 0 nothing to do (balanced, waiting, no move qualifies, dry run,\n"
	"            or another run holds the lock), 7 moved (every move succeeded),\n"
	"            1 failed (a move failed, or fewer than two hosts answered),\n"
	"            2 usage or config.\n"
	"Every key and how to read a decision: HOWTO.md \"Load balancing\".\n";

const struct option balance_opts[] = {
	{ "dry-run", no_argument, NULL, 'n' },
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct run {
	struct phaul_config *cfg;
	struct bal_config *b;
	struct bal_state st;
	struct bal_host *hosts;
	Phaul__HostFacts **facts;
	char **errors; /* per host: why it did not answer */
	struct bal_decision d;
	bool dry_run, json;
	time_t now;
	json_t *moves; /* outcome of each move */
};

/* A config with the host's transport, for connect_agent(). */
static int connect_host(struct run *r, size_t i, struct mux **m)
{
	struct phaul_config hc = *r->cfg;
	char peer[256];

	if (r->b->hosts[i].transport[0])
		snprintf(hc.transport, sizeof(hc.transport), "%s", r->b->hosts[i].transport);
	return connect_agent(&hc, r->b->hosts[i].addr, m, peer, sizeof(peer));
}

/* End the session; the first failure's detail survives (ph_errmsg). */
static void hang_up(struct mux *m, int ret)
{
	char keep[1024];

	snprintf(keep, sizeof(keep), "%s", ph_errmsg());
	finish_agent(m, false, false, "balance", 5000);
	mux_close(m);
	if (ret < 0)
		ph_seterr(-ret, "%s", keep);
}

/* The CTs to ask host i about: its "ct =" lines. */
static size_t host_cts(const struct bal_config *b, const char *host, const char **out)
{
	size_t n = 0;

	for (size_t i = 0; i < b->ncts; i++)
		if (!strcmp(b->cts[i].host, host))
			out[n++] = b->cts[i].ct;
	return n;
}

static void mark_movable(struct run *r, struct bal_host *h)
{
	const struct bal_params *p = &r->b->p;

	for (size_t i = 0; i < h->ncts; i++) {
		struct bal_ct *c = &h->cts[i];
		struct bal_ct_state *s = bal_state_ct(&r->st, c->name, false);

		if (bal_ct_listed(r->b->excludes, r->b->nexcludes, h->name, c->name))
			c->why_not = "excluded";
		else if (bal_ct_listed(r->b->pins, r->b->npins, h->name, c->name))
			c->why_not = "pinned";
		else
			c->why_not = bal_why_not(p, s, r->now);
		c->movable = c->why_not == NULL;
	}
}

/* metrics = prometheus: the host figures from node_exporter's series. */
static void prom_figures(struct run *r)
{
	size_t n = r->b->nhosts;
	char(*inst)[BAL_ADDR_MAX] = calloc(n, sizeof(*inst));
	const char **ptr = calloc(n, sizeof(*ptr));

	if (!inst || !ptr) {
		pr_err("prometheus: out of memory");
		for (size_t i = 0; i < n; i++)
			r->hosts[i].up = false;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		bal_prom_instance(&r->b->hosts[i], inst[i], sizeof(inst[i]));
		ptr[i] = inst[i];
	}
	if (bal_prom_query(r->b->metrics_url, ptr, n, r->cfg->timeout_s, r->hosts, r->errors) < 0) {
		pr_err("%s", ph_errmsg());
		for (size_t i = 0; i < n; i++) {
			if (!r->hosts[i].up)
				continue;
			free(r->errors[i]);
			r->errors[i] = strdup(ph_errmsg());
			r->hosts[i].up = false;
		}
	}
out:
	free(inst);
	free(ptr);
}

static void host_failed(struct run *r, size_t i)
{
	free(r->errors[i]);
	r->errors[i] = strdup(ph_errmsg());
	r->hosts[i].up = false;
	pr_warn("%s: no figures: %s", r->hosts[i].name, ph_errmsg());
}

/*
 * Ask QUERY_BATCH hosts at a time: connect and send to each, then read
 * each answer, so that the agents sample their CTs at the same time.
 */
#define QUERY_BATCH 64

static void query_batch(struct run *r, size_t first, size_t n, const char **cts,
			const char *const *rules)
{
	struct mux *m[QUERY_BATCH] = { 0 };
	size_t i;

	for (i = 0; i < n; i++) {
		size_t h = first + i, nct = cts ? host_cts(r->b, r->b->hosts[h].name, cts) : 0;
		int ret;

		snprintf(r->hosts[h].name, sizeof(r->hosts[h].name), "%s", r->b->hosts[h].name);
		if ((ret = connect_host(r, h, &m[i])) == 0 &&
		    (ret = bal_load_send(m[i], cts, nct, rules, r->b->nrules, true)) < 0) {
			hang_up(m[i], ret);
			m[i] = NULL;
		}
		if (ret < 0)
			host_failed(r, h);
	}
	for (i = 0; i < n; i++) {
		size_t h = first + i;
		int ret;

		if (!m[i])
			continue;
		ret = bal_load_recv(m[i], r->cfg->timeout_s * 1000, &r->hosts[h], &r->facts[h]);
		hang_up(m[i], ret);
		if (ret < 0)
			host_failed(r, h);
		else
			mark_movable(r, &r->hosts[h]);
	}
}

static void query_hosts(struct run *r)
{
	const char *rules[8];
	const char **cts = calloc(r->b->ncts ? r->b->ncts : 1, sizeof(*cts));

	for (size_t i = 0; i < r->b->nrules; i++)
		rules[i] = r->b->rules[i];
	for (size_t i = 0; i < r->b->nhosts; i += QUERY_BATCH) {
		size_t n = r->b->nhosts - i < QUERY_BATCH ? r->b->nhosts - i : QUERY_BATCH;

		query_batch(r, i, n, cts, rules);
	}
	free(cts);
	if (!strcmp(r->b->metrics, "prometheus"))
		prom_figures(r);
}

/*
 * compat: the same comparison as phaul migrate, less CPU (the source sends
 * its cpuinfo only when it migrates; that run checks it) and the checks
 * [balance] force names.
 */
static bool compat_ok(void *arg, size_t src, size_t dst, const struct bal_ct *ct, char *why,
		      size_t len)
{
	struct run *r = arg;
	char force[300];
	struct compat_req req = { .ct_rss_kb = ct->rss_kb, .force = force };
	struct compat_table t = { .nrows = 0 };

	snprintf(force, sizeof(force), "cpu%s%s", r->b->force[0] ? "," : "", r->b->force);

	if (!r->facts[src] || !r->facts[dst]) {
		snprintf(why, len, "no host facts from %s",
			 r->facts[src] ? r->hosts[dst].name : r->hosts[src].name);
		return false;
	}
	if (compat_compare(r->facts[src], r->facts[dst], &req, &t) == 0)
		return true;
	snprintf(why, len, "compat: %s", ph_errmsg());
	return false;
}

static void on_line(void *arg, const char *line)
{
	struct run *r = arg;

	/* the migration's report and phases; its progress every second is noise here */
	if (!r->json && !strstr(line, "\"event\":\"progress\""))
		printf("  | %s\n", line);
}

/* Ask the source's agent for each move, one at a time; stop at the first failure. */
static int act(struct run *r)
{
	int ret = 0;

	for (size_t k = 0; k < r->d.nmoves; k++) {
		struct bal_move *mv = &r->d.moves[k];
		const char *ct = r->hosts[mv->src].cts[mv->ct].name;
		struct bal_ct_state *s = bal_state_ct(&r->st, ct, true);
		struct mux *m = NULL;
		int code = EXIT_FAILED;

		if (!r->json)
			printf("moving %s from %s to %s\n", ct, r->hosts[mv->src].name,
			       r->hosts[mv->dst].name);
		if ((ret = connect_host(r, mv->src, &m)) == 0) {
			ret = bal_remote_migrate(m, ct, r->b->hosts[mv->dst].addr,
						 r->cfg->timeout_s * 2000 + 10000, on_line, r,
						 &code);
			hang_up(m, ret);
		}
		json_array_append_new(
			r->moves, json_pack("{s:s, s:s, s:s, s:s, s:i, s:s?}", "ct", ct, "from",
					    r->hosts[mv->src].name, "to", r->hosts[mv->dst].name,
					    "result", ret == 0 ? "moved" : "failed", "exit_code",
					    code, "error", ret == 0 ? NULL : ph_errmsg()));
		if (s && ret == 0) {
			s->moved_at = r->now;
			snprintf(s->from, sizeof(s->from), "%s", r->hosts[mv->src].name);
		} else if (s) {
			s->failed_at = r->now;
		}
		if (ret < 0) {
			pr_err("moving %s from %s to %s: %s", ct, r->hosts[mv->src].name,
			       r->hosts[mv->dst].name, ph_errmsg());
			break;
		}
	}
	return ret;
}

static json_t *host_json(const struct run *r, size_t i)
{
	const struct bal_host *h = &r->hosts[i];
	json_t *o, *cts;

	if (!h->up)
		return json_pack("{s:s, s:b, s:s}", "host", h->name, "up", 0, "error",
				 r->errors[i] ? r->errors[i] : "");
	cts = json_array();
	for (size_t c = 0; c < h->ncts; c++)
		json_array_append_new(
			cts, json_pack("{s:s, s:I, s:f, s:b, s:s?}", "ct", h->cts[c].name, "rss_kb",
				       (json_int_t)h->cts[c].rss_kb, "cpu", h->cts[c].cpu,
				       "movable", h->cts[c].movable, "why_not",
				       h->cts[c].movable ? NULL : h->cts[c].why_not));
	o = json_pack("{s:s, s:b, s:f, s:i, s:f, s:I, s:I, s:o}", "host", h->name, "up", 1, "score",
		      h->score, "ncpu", (int)h->ncpu, "load1", h->load1, "mem_total_kb",
		      (json_int_t)h->mem_total_kb, "mem_avail_kb", (json_int_t)h->mem_avail_kb,
		      "cts", cts);
	if (o && h->has_psi)
		json_object_set_new(o, "psi",
				    json_pack("{s:f, s:f, s:f}", "cpu", h->psi_cpu, "memory",
					      h->psi_mem, "io", h->psi_io));
	return o;
}

static json_t *record(const struct run *r, const char *outcome, int exit_code)
{
	const struct bal_params *p = &r->b->p;
	json_t *hosts = json_array(), *planned = json_array(), *skips = json_array();

	for (size_t i = 0; i < r->b->nhosts; i++)
		json_array_append_new(hosts, host_json(r, i));
	for (size_t k = 0; k < r->d.nmoves; k++) {
		const struct bal_move *m = &r->d.moves[k];

		json_array_append_new(planned,
				      json_pack("{s:s, s:s, s:s, s:f, s:f, s:f, s:f, s:f}", "ct",
						r->hosts[m->src].cts[m->ct].name, "from",
						r->hosts[m->src].name, "to", r->hosts[m->dst].name,
						"src_score", m->src_before, "src_score_after",
						m->src_after, "dst_score", m->dst_before,
						"dst_score_after", m->dst_after, "gain", m->gain));
	}
	for (size_t k = 0; k < r->d.nskips; k++)
		json_array_append_new(skips, json_string(r->d.skips[k].text));
	return json_pack("{s:s, s:I, s:b, s:o, s:{s:f, s:i, s:f, s:f, s:i, s:i, s:i, s:b}, "
			 "s:f, s:f, s:f, s:b, s:i, s:s, s:o, s:o, s:O, s:s, s:i}",
			 "event", "balance", "time", (json_int_t)r->now, "dry_run", r->dry_run,
			 "hosts", hosts, "params", "threshold", p->threshold, "hold_runs",
			 (int)p->hold_runs, "min_gain", p->min_gain, "max_target_score",
			 p->max_target_score, "max_moves", (int)p->max_moves, "cooldown",
			 (int)p->cooldown_s, "fail_backoff", (int)p->fail_backoff_s, "use_psi",
			 p->use_psi, "max_score", r->d.max, "min_score", r->d.min, "spread",
			 r->d.spread, "imbalanced", r->d.imbalanced, "held", (int)r->d.held,
			 "decision", r->d.why, "planned", planned, "skipped", skips, "moves",
			 r->moves, "outcome", outcome, "exit_code", exit_code);
}

static void print_text(const struct run *r)
{
	printf("%-20s %6s %6s %7s %6s  %s\n", "host", "score", "cpus", "load1", "mem%", "CTs");
	for (size_t i = 0; i < r->b->nhosts; i++) {
		const struct bal_host *h = &r->hosts[i];

		if (!h->up) {
			printf("%-20s  down: %s\n", h->name, r->errors[i] ? r->errors[i] : "");
			continue;
		}
		printf("%-20s %6.3f %6u %7.2f %5.1f%%  %zu\n", h->name, h->score, h->ncpu, h->load1,
		       100.0 * (double)(h->mem_total_kb - h->mem_avail_kb) /
			       (double)h->mem_total_kb,
		       h->ncts);
		for (size_t c = 0; c < h->ncts; c++)
			printf("    %-30s rss %8llu kB  cpu %5.2f  %s\n", h->cts[c].name,
			       (unsigned long long)h->cts[c].rss_kb, h->cts[c].cpu,
			       h->cts[c].movable ? "movable" : h->cts[c].why_not);
	}
	printf("spread %.3f (max %.3f, min %.3f), threshold %.3f\n", r->d.spread, r->d.max,
	       r->d.min, r->b->p.threshold);
	printf("decision: %s\n", r->d.why);
	for (size_t k = 0; k < r->d.nskips; k++)
		printf("  skipped: %s\n", r->d.skips[k].text);
	for (size_t k = 0; k < r->d.nmoves; k++) {
		const struct bal_move *m = &r->d.moves[k];

		printf("  %s %s: %s (%.3f -> %.3f) to %s (%.3f -> %.3f), gain %.3f\n",
		       r->dry_run ? "would move" : "move", r->hosts[m->src].cts[m->ct].name,
		       r->hosts[m->src].name, m->src_before, m->src_after, r->hosts[m->dst].name,
		       m->dst_before, m->dst_after, m->gain);
	}
}

/* Append the record to work_dir/balance/log, one JSON object a line. */
static void log_record(const struct run *r, const char *text)
{
	char path[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/balance/log", r->cfg->work_dir);
	if (!(f = fopen(path, "ae"))) {
		pr_perror("cannot append to %s", path);
		return;
	}
	fprintf(f, "%s\n", text);
	fclose(f);
}

static void finish(struct run *r, const char *outcome, int exit_code)
{
	json_t *rec = record(r, outcome, exit_code);
	char *text = rec ? json_dumps(rec, JSON_COMPACT) : NULL;

	if (!text) {
		pr_err("cannot format the run's record");
		json_decref(rec);
		return;
	}
	log_record(r, text);
	if (r->json)
		printf("%s\n", text);
	else
		printf("outcome: %s\n", outcome);
	/* A webhook hears of runs that did something, or failed: not of every cron tick. */
	if (r->cfg->notify_url[0] && !r->dry_run && exit_code != EXIT_OK &&
	    notify_post(r->cfg->notify_url, text, 10) < 0)
		pr_warn("%s", ph_errmsg());
	free(text);
	json_decref(rec);
}

static int run_balance(struct run *r)
{
	const char *outcome = "nothing to do";
	size_t n = r->b->nhosts;
	int ret, code = EXIT_OK;

	r->hosts = calloc(n, sizeof(*r->hosts));
	r->facts = calloc(n, sizeof(*r->facts));
	r->errors = calloc(n, sizeof(*r->errors));
	r->moves = json_array();
	if (!r->hosts || !r->facts || !r->errors || !r->moves)
		return ph_seterr(PH_ENOMEM, "balance run");
	query_hosts(r);
	bal_decide(&r->b->p, r->hosts, n, r->st.held, compat_ok, r, &r->d);
	if (!r->json)
		print_text(r);
	if (r->d.nup < 2) {
		outcome = "failed";
		code = EXIT_FAILED;
	} else if (r->dry_run) {
		outcome = r->d.nmoves ? "dry run: would move" : "dry run: nothing to do";
	} else {
		r->st.held = r->d.held;
		if (r->d.nmoves) {
			ret = act(r);
			outcome = ret == 0 ? "moved" : "failed";
			code = ret == 0 ? EXIT_MOVED : EXIT_FAILED;
		}
		if (bal_state_save(&r->st) < 0) {
			pr_err("%s", ph_errmsg());
			code = EXIT_FAILED;
		}
	}
	finish(r, outcome, code);
	return code;
}

int cmd_balance(struct phaul_config *cfg, int argc, char **argv)
{
	struct run r = { .cfg = cfg, .b = &cfg->balance, .now = time(NULL) };
	int c, ret;

	while ((c = getopt_long(argc, argv, "h", balance_opts, NULL)) != -1) {
		switch (c) {
		case 'n': r.dry_run = true; break;
		case 'j': r.json = true; break;
		case 'h': fputs(balance_usage, stdout); return EXIT_OK;
		default: fputs(balance_usage, stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fputs(balance_usage, stderr);
		return EXIT_USAGE;
	}
	log_init("balance", cfg->log_level);
	if (r.b->nhosts < 2) {
		pr_err("balance: the config's [balance] section names %zu host%s (required: at "
		       "least 2 'host = NAME ADDRESS' lines)",
		       r.b->nhosts, r.b->nhosts == 1 ? "" : "s");
		return EXIT_USAGE;
	}
	ret = bal_state_open(cfg->work_dir, &r.st);
	if (ret == -PH_EINTR) {
		pr_warn("%s: this run does nothing", ph_errmsg());
		ret = EXIT_OK;
	} else if (ret < 0) {
		pr_err("%s", ph_errmsg());
		ret = EXIT_FAILED;
	} else {
		ret = run_balance(&r);
	}
	bal_state_close(&r.st);
	for (size_t i = 0; r.hosts && i < r.b->nhosts; i++) {
		free(r.hosts[i].cts);
		if (r.facts && r.facts[i])
			phaul__host_facts__free_unpacked(r.facts[i], NULL);
		free(r.errors ? r.errors[i] : NULL);
	}
	free(r.hosts);
	free(r.facts);
	free(r.errors);
	json_decref(r.moves);
	return ret;
}
