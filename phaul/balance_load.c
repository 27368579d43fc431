// SPDX-License-Identifier: GPL-2.0
/*
 * A host's load over the channel: the agent's answer to LoadReq (CPUs,
 * load averages, PSI, memory, and each CT's RSS and CPU use) and the
 * balancer's query that turns it into a struct bal_host.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "balance.h"
#include "caps.h"
#include "compat/compat.h"
#include "err.h"
#include "htype.h"
#include "log.h"
#include "proto/msg.h"
#include "spawn.h"
#include "util.h"

/* How long the agent watches the CTs' CPU time to measure their use. */
#define LOAD_SAMPLE_MS 500
/* A rule's helper (lxc-ls, systemctl) must answer within this. */
#define RULE_TIMEOUT_MS 10000
#define RULE_OUT_MAX	(64u * 1024)

/* "some avg10=1.23 ..." of /proc/pressure/what, x 1000; false if absent. */
static bool psi_some(const char *what, uint32_t *milli)
{
	char path[64], buf[512];
	const char *p;

	snprintf(path, sizeof(path), "/proc/pressure/%s", what);
	if (read_text(path, buf, sizeof(buf)) < 0 || !(p = strstr(buf, "some avg10=")))
		return false;
	*milli = (uint32_t)(strtod(p + 11, NULL) * 1000.0);
	return true;
}

static int host_figures(Phaul__LoadResp *r)
{
	char buf[256];
	double l1 = 0, l5 = 0, l15 = 0;
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	r->ncpu = n > 0 ? (uint32_t)n : 1;
	if (read_text("/proc/loadavg", buf, sizeof(buf)) < 0 ||
	    sscanf(buf, "%lf %lf %lf", &l1, &l5, &l15) != 3)
		return ph_seterr(PH_ESYS, "cannot read /proc/loadavg");
	/* Fault injection for the tests: one host of a loopback fleet looks busy. */
	if (getenv("PHAUL_FAULT_LOAD1"))
		l1 = strtod(getenv("PHAUL_FAULT_LOAD1"), NULL);
	r->load1_milli = (uint32_t)(l1 * 1000);
	r->load5_milli = (uint32_t)(l5 * 1000);
	r->load15_milli = (uint32_t)(l15 * 1000);
	r->has_load5_milli = r->has_load15_milli = 1;
	r->mem_total_kb = proc_kb("/proc/meminfo", "MemTotal");
	r->mem_avail_kb = proc_kb("/proc/meminfo", "MemAvailable");
	r->has_psi = 1;
	r->psi = psi_some("cpu", &r->psi_cpu_milli) && psi_some("memory", &r->psi_mem_milli) &&
		 psi_some("io", &r->psi_io_milli);
	r->has_psi_cpu_milli = r->has_psi_mem_milli = r->has_psi_io_milli = r->psi;
	return 0;
}

/* utime + stime of the tree, in clock ticks. */
static uint64_t tree_ticks(const struct ct *ct)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < ct->npids; i++) {
		char path[64], buf[1024], *p;
		unsigned long ut, st;

		snprintf(path, sizeof(path), "/proc/%u/stat", ct->pids[i]);
		/* comm may hold spaces and ')': fields resume after the last ')' */
		if (read_text(path, buf, sizeof(buf)) < 0 || !(p = strrchr(buf, ')')))
			continue;
		if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
			   &st) == 2)
			sum += ut + st;
	}
	return sum;
}

/*
 * Run argv (no shell), its stdout into out (NUL-terminated, at most len-1
 * bytes kept); killed at the deadline. 0 when it exited 0.
 */
static int run_capture(char *const argv[], char *out, size_t len, int timeout_ms)
{
	uint64_t deadline = now_us() + (uint64_t)timeout_ms * 1000;
	struct spawn sp = { .argv = argv, .std = { SPAWN_NULL, -1, SPAWN_NULL }, .exit_code = 127 };
	size_t used = 0;
	int p[2], status = 0, step, ret = 0;
	pid_t pid;

	out[0] = '\0';
	if (pipe2(p, O_CLOEXEC) < 0)
		return ph_seterr_errno(PH_ESYS, "pipe");
	sp.std[1] = p[1];
	if (spawn(&sp, &pid, &step) < 0) {
		close(p[0]);
		close(p[1]);
		return ph_seterr_errno(PH_ESYS, "fork");
	}
	close(p[1]);
	for (;;) {
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		uint64_t now = now_us();
		char buf[4096];
		ssize_t n;

		if (now >= deadline) {
			kill(pid, SIGKILL);
			ret = ph_seterr(PH_ETIMEDOUT, "%s did not answer within %d ms", argv[0],
					timeout_ms);
			break;
		}
		if (poll(&pfd, 1, (int)((deadline - now) / 1000) + 1) <= 0)
			continue;
		if ((n = read(p[0], buf, sizeof(buf))) <= 0)
			break;
		if (used + 1 < len) {
			size_t k = (size_t)n < len - 1 - used ? (size_t)n : len - 1 - used;

			memcpy(out + used, buf, k);
			used += k;
			out[used] = '\0';
		}
	}
	close(p[0]);
	spawn_reap(pid, &status, -1, false);
	if (ret == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		ret = ph_seterr(PH_ESYS, "%s failed (status %d)", argv[0], status);
	return ret;
}

/* A systemd unit's name as systemd allows it: no path, no option. */
static bool unit_name_ok(const char *s)
{
	if (!*s || *s == '-' || strlen(s) >= 256)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("@._:-\\", *s)))
			return false;
	return true;
}

/* Append the CTs a rule finds to names (strings malloc'ed). */
static int expand_rule(const char *rule, char ***names, size_t *n)
{
	char *out = malloc(RULE_OUT_MAX), *save = NULL;
	int ret;

	if (!out)
		return ph_seterr(PH_ENOMEM, "rule output");
	if (!strcmp(rule, "lxc:*")) {
		char *const argv[] = { "lxc-ls", "--running", "-1", NULL };

		ret = run_capture(argv, out, RULE_OUT_MAX, RULE_TIMEOUT_MS);
	} else if (!strncmp(rule, "unit:", 5) && unit_name_ok(rule + 5)) {
		char *const argv[] = { "systemctl", "show", "--property=MainPID",
				       "--value",   "--",   (char *)rule + 5,
				       NULL };

		ret = run_capture(argv, out, RULE_OUT_MAX, RULE_TIMEOUT_MS);
	} else {
		ret = ph_seterr(PH_EPROTO, "unknown rule '%.64s'", rule);
	}
	for (char *t = ret ? NULL : strtok_r(out, "\n", &save); t;
	     t = strtok_r(NULL, "\n", &save)) {
		char spec[PH_LOAD_NAME_MAX], **nn;

		if (*rule == 'u' && !strcmp(t, "0"))
			continue; /* the unit runs nothing */
		snprintf(spec, sizeof(spec), "%s:%s", *rule == 'u' ? "pid" : "lxc", t);
		if (*n >= PH_LOAD_CTS_MAX)
			break;
		if (!(nn = realloc(*names, (*n + 1) * sizeof(*nn))) || !(nn[*n] = strdup(spec))) {
			if (nn)
				*names = nn;
			ret = ph_seterr(PH_ENOMEM, "rule results");
			break;
		}
		*names = nn;
		(*n)++;
	}
	free(out);
	return ret;
}

/*
 * A CT the peer names is data: "type:id" with an id of letters, digits and
 * ._@+- not starting with '.' or '-' (no path: liblxc builds one from it).
 */
static bool ct_name_ok(const char *s)
{
	const char *id = strchr(s, ':');

	if (!id || id == s || !*++id || *id == '.' || *id == '-')
		return false;
	for (; *id; id++)
		if (!((*id >= 'a' && *id <= 'z') || (*id >= 'A' && *id <= 'Z') ||
		      (*id >= '0' && *id <= '9') || strchr("._@+-", *id)))
			return false;
	return true;
}

static int check_names(char **names, size_t n, size_t max, const char *what, bool cts)
{
	if (n > max)
		return ph_seterr(PH_ETOOBIG, "LoadReq names %zu %s (max %zu)", n, what, max);
	for (size_t i = 0; i < n; i++) {
		if (strnlen(names[i], PH_LOAD_NAME_MAX) >= PH_LOAD_NAME_MAX)
			return ph_seterr(PH_ETOOBIG, "LoadReq: a %s name exceeds %d bytes", what,
					 PH_LOAD_NAME_MAX);
		if (cts && !ct_name_ok(names[i]))
			return ph_seterr(PH_EPATH,
					 "LoadReq: refused CT name '%.64s' (TYPE:ID, ID of "
					 "letters, digits and ._@+-)",
					 names[i]);
	}
	return 0;
}

/* Figures of every CT in names, CPU sampled over LOAD_SAMPLE_MS. */
static int ct_figures(char **names, size_t n, Phaul__CtLoad *cl, Phaul__CtLoad **ptrs)
{
	struct ct *cts = calloc(n ? n : 1, sizeof(*cts));
	uint64_t *t0 = calloc(n ? n : 1, sizeof(*t0)), start, usec;
	long hz = sysconf(_SC_CLK_TCK);
	int ret = 0;

	if (!cts || !t0) {
		ret = ph_seterr(PH_ENOMEM, "CT figures");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		phaul__ct_load__init(&cl[i]);
		ptrs[i] = &cl[i];
		cl[i].ct = names[i];
		cl[i].has_found = 1;
		if (ct_open(names[i], &cts[i]) < 0 || ct_collect_tree(&cts[i]) < 0) {
			cl[i].msg = strdup(ph_errmsg());
			continue;
		}
		cl[i].found = 1;
		cl[i].has_rss_kb = 1;
		cl[i].rss_kb = cts[i].rss_kb;
		t0[i] = tree_ticks(&cts[i]);
	}
	start = now_us();
	usleep(LOAD_SAMPLE_MS * 1000);
	usec = now_us() - start;
	for (size_t i = 0; i < n; i++) {
		uint64_t d;

		if (!cl[i].found)
			continue;
		d = tree_ticks(&cts[i]);
		d = d > t0[i] ? d - t0[i] : 0;
		cl[i].has_cpu_milli = 1;
		cl[i].cpu_milli = (uint32_t)(d * 1000000000ull / (uint64_t)(hz > 0 ? hz : 100) /
					     (usec ? usec : 1));
	}
out:
	free(cts);
	free(t0);
	return ret;
}

int agent_on_load(struct agent *a, Phaul__Msg *in)
{
	Phaul__LoadReq *q = in->load_req;
	Phaul__Msg out = PHAUL__MSG__INIT;
	Phaul__LoadResp r = PHAUL__LOAD_RESP__INIT;
	Phaul__HostFacts f;
	Phaul__CtLoad *cl = NULL, **ptrs = NULL;
	struct compat_probe p = { .work_dir = a->cfg->work_dir, .criu = true };
	char **names = NULL;
	size_t n = 0, i;
	bool facts = false;
	int ret;

	if ((ret = check_names(q->cts, q->n_cts, PH_LOAD_CTS_MAX, "CTs", true)) < 0 ||
	    (ret = check_names(q->rules, q->n_rules, PH_LOAD_RULES_MAX, "rules", false)) < 0 ||
	    (ret = host_figures(&r)) < 0)
		return ret;
	for (i = 0; i < q->n_cts && ret == 0; i++) {
		char **nn = realloc(names, (n + 1) * sizeof(*nn));

		if (!nn || !(nn[n] = strdup(q->cts[i])))
			ret = ph_seterr(PH_ENOMEM, "LoadReq names");
		if (nn)
			names = nn;
		n += ret == 0;
	}
	for (i = 0; i < q->n_rules && ret == 0; i++)
		if (expand_rule(q->rules[i], &names, &n) < 0)
			pr_warn("rule %s: %s", q->rules[i],
				ph_errmsg()); /* a fact, not a failure */
	if (ret < 0)
		goto out;
	cl = calloc(n ? n : 1, sizeof(*cl));
	ptrs = calloc(n ? n : 1, sizeof(*ptrs));
	if (!cl || !ptrs) {
		ret = ph_seterr(PH_ENOMEM, "LoadResp");
		goto out;
	}
	if ((ret = ct_figures(names, n, cl, ptrs)) < 0)
		goto out;
	r.n_cts = n;
	r.cts = ptrs;
	if (q->has_facts && q->facts) {
		if (compat_local_facts(&p, &f) < 0)
			pr_warn("host facts incomplete: %s", ph_errmsg());
		r.facts = &f;
		facts = true;
	}
	out.body_case = PHAUL__MSG__BODY_LOAD_RESP;
	out.load_resp = &r;
	ret = msg_send(a->mux, &out);
	if (facts)
		compat_facts_free(&f);
out:
	for (i = 0; cl && i < n; i++)
		free(cl[i].msg);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(cl);
	free(ptrs);
	return ret;
}

/* Peer strings reach logs and the JSON record: printable ASCII, capped. */
static bool printable(const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	if (n == max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < ' ' || s[i] > '~')
			return false;
	return true;
}

int bal_load_take(const char *host, const Phaul__LoadResp *r, struct bal_host *h)
{
	if (r->n_cts > PH_LOAD_CTS_MAX)
		return ph_seterr(PH_ETOOBIG, "%s answered %zu CTs (max %d)", host, r->n_cts,
				 PH_LOAD_CTS_MAX);
	if (!r->ncpu || !r->mem_total_kb || r->mem_avail_kb > r->mem_total_kb)
		return ph_seterr(PH_EPROTO,
				 "%s answered an impossible load (%u CPUs, %llu of %llu kB)", host,
				 r->ncpu, (unsigned long long)r->mem_avail_kb,
				 (unsigned long long)r->mem_total_kb);
	h->ncpu = r->ncpu;
	h->load1 = r->load1_milli / 1000.0;
	h->mem_total_kb = r->mem_total_kb;
	h->mem_avail_kb = r->mem_avail_kb;
	h->has_psi = r->has_psi && r->psi;
	h->psi_cpu = r->psi_cpu_milli / 1000.0;
	h->psi_mem = r->psi_mem_milli / 1000.0;
	h->psi_io = r->psi_io_milli / 1000.0;
	h->cts = calloc(r->n_cts ? r->n_cts : 1, sizeof(*h->cts));
	if (!h->cts)
		return ph_seterr(PH_ENOMEM, "CTs of %s", host);
	for (size_t i = 0; i < r->n_cts; i++) {
		Phaul__CtLoad *c = r->cts[i];
		struct bal_ct *b = &h->cts[h->ncts];

		if (!printable(c->ct, BAL_CT_MAX) || (c->msg && !printable(c->msg, 1024)))
			return ph_seterr(PH_EPROTO,
					 "%s answered a CT name or note that is not "
					 "printable or over its cap",
					 host);
		if (!c->found) {
			pr_info("%s: %s not found: %s", host, c->ct, c->msg ? c->msg : "");
			continue;
		}
		snprintf(b->name, sizeof(b->name), "%s", c->ct);
		b->rss_kb = c->rss_kb;
		b->cpu = c->cpu_milli / 1000.0;
		b->movable = true;
		h->ncts++;
	}
	h->up = true;
	return 0;
}

int bal_load_send(struct mux *m, const char *const *cts, size_t ncts, const char *const *rules,
		  size_t nrules, bool facts)
{
	Phaul__Msg out = PHAUL__MSG__INIT;
	Phaul__LoadReq q = PHAUL__LOAD_REQ__INIT;

	q.cts = (char **)cts;
	q.n_cts = ncts;
	q.rules = (char **)rules;
	q.n_rules = nrules;
	q.has_facts = 1;
	q.facts = facts;
	out.body_case = PHAUL__MSG__BODY_LOAD_REQ;
	out.load_req = &q;
	return msg_send(m, &out);
}

int bal_load_recv(struct mux *m, int timeout_ms, struct bal_host *h, Phaul__HostFacts **facts)
{
	Phaul__Msg *in = NULL;
	int ret;

	if ((ret = msg_expect(m, PHAUL__MSG__BODY_LOAD_RESP, &in, timeout_ms)) < 0)
		return ret;
	if ((ret = bal_load_take(mux_peer(m), in->load_resp, h)) == 0 && facts &&
	    in->load_resp->facts) {
		/* Detach the facts so the caller owns just them. */
		*facts = in->load_resp->facts;
		in->load_resp->facts = NULL;
	}
	msg_free(in);
	return ret;
}
