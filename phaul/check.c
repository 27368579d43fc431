// SPDX-License-Identifier: GPL-2.0
/* phaul check [HOST]: this host's readiness, or both hosts side by side. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat/compat.h"
#include "cli.h"
#include "err.h"
#include "event.h"
#include "log.h"
#include "proto/msg.h"
#include "phaul.h"
#include "throttle.h"
#include "report.h"
#include "util.h"

/* A string of the peer's facts is cut here (a CRIU message is the longest). */
#define CHECK_PEER_STR_MAX 512

const char check_usage[] =
	"Usage: phaul check [--force CHECKS] [--require-precopy] [--json] [HOST]\n"
	"\n"
	"Without HOST: can this host migrate (CRIU works, soft-dirty)?\n"
	"With HOST: compare this host with HOST's agent; print one table.\n"
	"  --force CHECKS      comma-separated checks to skip (names as in the table)\n"
	"  --require-precopy   no soft-dirty tracking is a failure, not a warning\n"
	"  --json              the result as JSON lines on stdout\n";

const struct option check_opts[] = {
	{ "force", required_argument, NULL, 'f' },
	{ "require-precopy", no_argument, NULL, 'r' },
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* One JSON line: this host's facts and whether it can migrate. */
static void local_json(const Phaul__HostFacts *f, bool require_precopy, int code)
{
	event_head(stdout, "check");
	printf(",\"host\":");
	report_json_str(stdout, f->hostname);
	printf(",\"arch\":");
	report_json_str(stdout, f->arch);
	printf(",\"page_size\":%u,\"kernel\":", f->page_size);
	report_json_str(stdout, f->kernel);
	printf(",\"criu_version\":");
	report_json_str(stdout, f->criu_version);
	printf(",\"criu_ok\":%s,\"criu_msg\":", f->criu_ok ? "true" : "false");
	report_json_str(stdout, f->criu_ok ? "" : f->criu_msg);
	printf(",\"soft_dirty\":%s,\"require_precopy\":%s,\"mem_avail_kb\":%llu,"
	       "\"work_dir\":",
	       f->soft_dirty ? "true" : "false", require_precopy ? "true" : "false",
	       (unsigned long long)f->mem_avail_kb);
	report_json_str(stdout, f->work_dir);
	printf(",\"disk_avail_kb\":%llu,\"ok\":%s,\"exit_code\":%d}\n",
	       (unsigned long long)f->disk_avail_kb, code ? "false" : "true", code);
}

static int check_local(struct phaul_config *cfg, bool require_precopy, bool json)
{
	struct compat_probe p = { .work_dir = cfg->work_dir, .criu = true };
	Phaul__HostFacts f;
	int ok;

	if (compat_local_facts(&p, &f) < 0) {
		pr_err("cannot probe this host: %s", ph_errmsg());
		compat_facts_free(&f);
		return EXIT_FAILED;
	}
	ok = f.criu_ok && (f.soft_dirty || !require_precopy);
	if (json) {
		local_json(&f, require_precopy, ok ? EXIT_OK : EXIT_FAILED);
		goto out;
	}
	printf("host        %s\n", f.hostname);
	printf("arch        %s, page size %u\n", f.arch, f.page_size);
	printf("kernel      %s\n", f.kernel);
	printf("criu        %s\n", *f.criu_version ? f.criu_version : "not found");
	printf("criu check  %s%s%s\n", f.criu_ok ? "passed" : "FAILED", f.criu_ok ? "" : ": ",
	       f.criu_ok ? "" : f.criu_msg);
	printf("soft-dirty  %s\n",
	       f.soft_dirty ? "yes (pre-copy possible)"
			    : "no (kernel lacks CONFIG_MEM_SOFT_DIRTY: only stop-and-copy)");
	printf("memory      %llu MiB available\n", (unsigned long long)f.mem_avail_kb / 1024);
	printf("work dir    %s: %llu MiB free\n", f.work_dir,
	       (unsigned long long)f.disk_avail_kb / 1024);
	if (!f.criu_ok)
		fprintf(stderr,
			"phaul: this host cannot checkpoint or restore: CRIU %s on kernel %s: %s\n",
			*f.criu_version ? f.criu_version : "(missing)", f.kernel, f.criu_msg);
	else if (!ok)
		fprintf(stderr, "phaul: this host cannot track dirty memory (soft-dirty), which "
				"--require-precopy requires\n");
	else
		printf("verdict     ready\n");
out:
	compat_facts_free(&f);
	return ok ? EXIT_OK : EXIT_FAILED;
}

/* The peer's facts are printed in the table: one printable line each, capped. */
static void facts_vis(Phaul__HostFacts *f)
{
	char **s[] = { &f->hostname, &f->arch,	   &f->kernel, &f->criu_version,
		       &f->criu_msg, &f->work_dir, &f->cpu_msg, &f->ct_runtime };

	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		ph_strvis_inplace(*s[i], CHECK_PEER_STR_MAX);
}

/*
 * Ask the destination for its facts (with our cpuinfo for its CPUINFO_CHECK)
 * and compare. Used by check and migrate; pids are the CT's, if any.
 */
int check_remote(struct phaul_config *cfg, struct mux *m, const char *peer,
		 const struct compat_req *req, const uint32_t *pids, size_t npids,
		 struct compat_table *t)
{
	struct compat_probe p = { .work_dir = cfg->work_dir, .criu = true };
	Phaul__Msg out = PHAUL__MSG__INIT, *in = NULL;
	Phaul__CheckReq q = PHAUL__CHECK_REQ__INIT;
	Phaul__HostFacts local;
	uint8_t *cpuinfo = NULL;
	size_t cpulen = 0;
	int ret;

	if ((ret = compat_local_facts(&p, &local)) < 0) {
		ret = ph_errctx(ret, "probing this host");
		goto out;
	}
	local.has_cgroup_cpu = 1; /* only the source throttles */
	local.cgroup_cpu = throttle_available();
	if (compat_cpuinfo_dump(cfg->work_dir, &cpuinfo, &cpulen) == 0) {
		q.has_cpuinfo = 1;
		q.cpuinfo.data = cpuinfo;
		q.cpuinfo.len = cpulen;
	} else {
		pr_warn("cpuinfo dump failed: %s", ph_errmsg());
	}
	if (req->files) {
		q.files = req->files->v;
		q.n_files = req->files->n;
	}
	q.ct = (char *)req->ct_spec;
	q.ct_path = (char *)req->ct_path;
	q.ct_image = (char *)req->ct_image;
	q.pids = (uint32_t *)pids;
	q.n_pids = npids;
	out.body_case = PHAUL__MSG__BODY_CHECK_REQ;
	out.check_req = &q;
	if ((ret = msg_send(m, &out)) < 0 ||
	    (ret = msg_expect(m, PHAUL__MSG__BODY_CHECK_RESP, &in, cfg->timeout_s * 1000)) < 0)
		goto out;
	facts_vis(in->check_resp->facts);
	if (!q.has_cpuinfo) {
		/* No source cpuinfo: the destination could not compare CPUs. */
		in->check_resp->facts->cpu_ok = 0;
	}
	ret = compat_compare(&local, in->check_resp->facts, req, t);
out:
	msg_free(in);
	free(cpuinfo);
	compat_facts_free(&local);
	return ret;
}

int cmd_check(struct phaul_config *cfg, int argc, char **argv)
{
	static struct report rep; /* large; one per process */
	struct compat_req req = { .lazy_restore = !strcmp(cfg->restore, "lazy") };
	struct compat_table t = { .nrows = 0 };
	struct mux *m = NULL;
	char peer[256];
	bool json = false;
	int c, ret;

	while ((c = getopt_long(argc, argv, "h", check_opts, NULL)) != -1) {
		switch (c) {
		case 'f': req.force = optarg; break;
		case 'r': req.require_precopy = true; break;
		case 'j': json = true; break;
		case 'h': fputs(check_usage, stdout); return EXIT_OK;
		default: return cli_usage_hint("check");
		}
	}
	if (optind + 1 < argc)
		return cli_usage_error("check", "one HOST at most, got %d operands", argc - optind);
	if (req.force && cli_check_force(req.force) < 0)
		return cli_usage_error("check", "%s", ph_errmsg());
	if (optind < argc && cli_preflight(cfg, argv[optind]) < 0)
		return cli_usage_error("check", "%s", ph_errmsg());
	log_init("check", cfg->log_level);
	if (optind == argc)
		return check_local(cfg, req.require_precopy, json);
	report_init(&rep, json);
	if ((ret = connect_agent(cfg, argv[optind], &m, peer, sizeof(peer))) < 0) {
		pr_err("%s", ph_errmsg());
		return EXIT_FAILED;
	}
	ret = check_remote(cfg, m, peer, &req, NULL, 0, &t);
	if (t.nrows && json) {
		report_check(&rep, &t);
	} else if (t.nrows) {
		char host[256] = "";

		gethostname(host, sizeof(host) - 1);
		printf("\n");
		compat_print(stdout, &t, host, peer);
		printf("\n");
		fflush(stdout); /* before the verdict's error on stderr, under a pipe too */
	}
	if (ret == -PH_ECOMPAT) {
		pr_err("%s", ph_errmsg());
		ret = EXIT_REFUSED;
	} else if (ret < 0) {
		pr_err("%s", ph_errmsg());
		ret = EXIT_FAILED;
	} else {
		if (!json)
			printf("verdict: %s and %s are compatible (%d warning%s)\n", "this host",
			       peer, t.nwarn, t.nwarn == 1 ? "" : "s");
		ret = EXIT_OK;
	}
	if (json) {
		event_head(stdout, "verdict");
		printf(",\"peer\":");
		report_json_str(stdout, peer);
		printf(",\"ok\":%s,\"exit_code\":%d,\"warnings\":%d,\"error\":",
		       ret ? "false" : "true", ret, t.nwarn);
		report_json_str(stdout, ret ? ph_errmsg() : "");
		printf("}\n");
	}
	finish_agent(m, false, false, "check only", 5000);
	mux_close(m);
	return ret;
}
