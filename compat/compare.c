// SPDX-License-Identifier: GPL-2.0
/*
 * Two hosts' facts into one table. Each check states both values and a
 * verdict; a failure names the check, the host at fault and what was
 * required, so the operator knows what to fix and where.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat/compat.h"
#include "err.h"

const char *const compat_check_names[] = {
	"arch",	  "page-size", "kernel", "criu-version", "criu-check",	  "cpu", "soft-dirty",
	"memory", "disk",      "pids",	 "rsync",	 "auto-converge", "ct-files", "runtime",
	"ct-id",  "ct-path",   "lazy-restore", "files", NULL,
};

const char *compat_verdict_str(enum compat_verdict v)
{
	static const char *const s[] = { "ok", "warn", "FAIL", "skipped" };

	return s[v];
}

/* Is name in the comma-separated list? */
static bool forced(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p && *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len == n && !strncmp(p, name, n))
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

static struct compat_row *row(struct compat_table *t, const char *check)
{
	struct compat_row *r = &t->rows[t->nrows++];

	memset(r, 0, sizeof(*r));
	r->check = check;
	return r;
}

static void set(struct compat_row *r, enum compat_verdict v, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set(struct compat_row *r, enum compat_verdict v, const char *fmt, ...)
{
	va_list ap;

	r->verdict = v;
	if (!fmt)
		return;
	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
}

static const char *str(const char *s)
{
	return s && *s ? s : "-";
}

static void cmp_strings(struct compat_table *t, const char *check, const char *a, const char *b,
			enum compat_verdict if_differ, const char *why)
{
	struct compat_row *r = row(t, check);

	snprintf(r->src, sizeof(r->src), "%s", str(a));
	snprintf(r->dst, sizeof(r->dst), "%s", str(b));
	if (strcmp(r->src, r->dst))
		set(r, if_differ, "%s", why);
}

/* "3.17.1" -> major.minor must match: the page-server wire changes between them. */
static bool criu_wire_compatible(const char *a, const char *b)
{
	unsigned amaj, amin, bmaj, bmin;

	if (sscanf(a, "%u.%u", &amaj, &amin) != 2 || sscanf(b, "%u.%u", &bmaj, &bmin) != 2)
		return false;
	return amaj == bmaj && amin == bmin;
}

static void check_criu(struct compat_table *t, const Phaul__HostFacts *s, const Phaul__HostFacts *d)
{
	struct compat_row *r = row(t, "criu-version");

	snprintf(r->src, sizeof(r->src), "%s", str(s->criu_version));
	snprintf(r->dst, sizeof(r->dst), "%s", str(d->criu_version));
	if (!s->criu_version || !*s->criu_version || !d->criu_version || !*d->criu_version)
		set(r, COMPAT_FAIL, "criu not found on %s",
		    (!s->criu_version || !*s->criu_version) ? "the source" : "the destination");
	else if (!criu_wire_compatible(s->criu_version, d->criu_version))
		set(r, COMPAT_FAIL, "page-server wire needs the same CRIU major.minor");
	else if (strcmp(s->criu_version, d->criu_version))
		set(r, COMPAT_WARN, "different CRIU patch levels");

	r = row(t, "criu-check");
	snprintf(r->src, sizeof(r->src), "%s", s->criu_ok ? "passed" : "FAILED");
	snprintf(r->dst, sizeof(r->dst), "%s", d->criu_ok ? "passed" : "FAILED");
	if (!s->criu_ok)
		set(r, COMPAT_FAIL, "on source %s: %s", str(s->hostname), str(s->criu_msg));
	else if (!d->criu_ok)
		set(r, COMPAT_FAIL, "on destination %s: %s", str(d->hostname), str(d->criu_msg));

	r = row(t, "cpu");
	snprintf(r->src, sizeof(r->src), "%s", "cpuinfo dumped");
	snprintf(r->dst, sizeof(r->dst), "%s", d->cpu_ok ? "compatible" : "INCOMPATIBLE");
	if (!d->cpu_ok)
		set(r, COMPAT_FAIL, "on destination %s: %s", str(d->hostname), str(d->cpu_msg));
}

static void check_resources(struct compat_table *t, const Phaul__HostFacts *s,
			    const Phaul__HostFacts *d, const struct compat_req *q)
{
	struct compat_row *r = row(t, "memory");

	snprintf(r->src, sizeof(r->src), "CT needs %llu MiB",
		 (unsigned long long)q->ct_rss_kb / 1024);
	snprintf(r->dst, sizeof(r->dst), "%llu MiB available",
		 (unsigned long long)d->mem_avail_kb / 1024);
	if (d->mem_avail_kb < q->ct_rss_kb)
		set(r, COMPAT_FAIL, "destination %s has %llu MiB available, CT needs %llu MiB",
		    str(d->hostname), (unsigned long long)d->mem_avail_kb / 1024,
		    (unsigned long long)q->ct_rss_kb / 1024);

	r = row(t, "disk");
	snprintf(r->src, sizeof(r->src), "images need ~%llu MiB",
		 (unsigned long long)q->ct_images_kb / 1024);
	snprintf(r->dst, sizeof(r->dst), "%llu MiB free in %s",
		 (unsigned long long)d->disk_avail_kb / 1024, str(d->work_dir));
	if (d->disk_avail_kb < q->ct_images_kb)
		set(r, COMPAT_FAIL,
		    "work dir on destination %s has %llu MiB free, images need ~%llu MiB",
		    str(d->hostname), (unsigned long long)d->disk_avail_kb / 1024,
		    (unsigned long long)q->ct_images_kb / 1024);

	r = row(t, "pids");
	snprintf(r->src, sizeof(r->src), "%s", "-");
	if (!d->n_pids_busy) {
		snprintf(r->dst, sizeof(r->dst), "free");
	} else {
		snprintf(r->dst, sizeof(r->dst), "%llu in use (first %u)",
			 (unsigned long long)d->n_pids_busy + d->pids_busy_more, d->pids_busy[0]);
		set(r, COMPAT_FAIL,
		    "a process tree restores with its own pids; pid %u is taken on %s",
		    d->pids_busy[0], str(d->hostname));
	}
	(void)s;
}

/* What the migration will use, present where it runs: rsync (both), cgroup v2 cpu (source). */
static void check_tools(struct compat_table *t, const Phaul__HostFacts *s,
			const Phaul__HostFacts *d, const struct compat_req *q)
{
	struct compat_row *r;

	if (q->need_rsync) {
		r = row(t, "rsync");
		snprintf(r->src, sizeof(r->src), "%s", s->rsync_ok ? "found" : "MISSING");
		snprintf(r->dst, sizeof(r->dst), "%s",
			 !d->has_rsync_ok ? "unknown"
			 : d->rsync_ok	  ? "found"
					  : "MISSING");
		if (!s->rsync_ok || (d->has_rsync_ok && !d->rsync_ok))
			set(r, COMPAT_FAIL, "fs-sync needs rsync on both hosts: install it on %s",
			    !s->rsync_ok ? str(s->hostname) : str(d->hostname));
		else if (!d->has_rsync_ok)
			set(r, COMPAT_WARN,
			    "the destination's agent does not say whether it has rsync");
	}
	if (q->auto_converge) {
		r = row(t, "auto-converge");
		snprintf(r->src, sizeof(r->src), "%s",
			 s->cgroup_cpu ? "cgroup v2 cpu" : "no cgroup v2 cpu");
		snprintf(r->dst, sizeof(r->dst), "-");
		if (!s->cgroup_cpu)
			set(r, COMPAT_WARN,
			    "cannot throttle on %s (no cgroup v2 cpu controller): a CT that "
			    "dirties "
			    "memory faster than the link carries it cannot meet the downtime limit",
			    str(s->hostname));
	}
}

/* Up to three of the paths at idx, "a, b, c, ..." into buf. */
static void name_paths(char *buf, size_t len, const struct compat_files *fl, const uint32_t *idx,
		       size_t n)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && i < 3 && used < len; i++)
		used += snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
				 idx[i] < fl->n ? fl->v[idx[i]]->path : "?");
	if (n > 3 && used < len)
		snprintf(buf + used, len - used, ", ...");
}

/* The files row fails: n paths at idx are what (one, many: the verb), and the hint. */
static void files_fail(struct compat_row *r, const struct compat_files *fl, const uint32_t *idx,
		       size_t n, const Phaul__HostFacts *d, const char *what, const char *one,
		       const char *many, const char *hint)
{
	char names[256];

	name_paths(names, sizeof(names), fl, idx, n);
	snprintf(r->dst, sizeof(r->dst), "%zu %s", n, what);
	set(r, COMPAT_FAIL, "%zu path%s the CT has open %s on %s: %s (%s)", n, n == 1 ? "" : "s",
	    n == 1 ? one : many, str(d->hostname), names, hint);
}

/* The CT's open files, cwd, root and mappings outside synced paths: there on the destination? */
static void check_files(struct compat_table *t, const Phaul__HostFacts *d,
			const struct compat_files *fl)
{
	struct compat_row *r = row(t, "files");

	snprintf(r->src, sizeof(r->src), "%zu path%s%s", fl->n, fl->n == 1 ? "" : "s",
		 fl->capped ? " (capped)" : "");
	if (!d->files_checked) {
		snprintf(r->dst, sizeof(r->dst), "not checked");
		set(r, COMPAT_WARN, "the agent on %s does not check files (an older phaul)",
		    str(d->hostname));
		return;
	}
	/* an answer naming indices we never sent is the peer's mistake: shown as "?" */
	if (d->n_files_missing)
		files_fail(r, fl, d->files_missing, d->n_files_missing, d, "missing", "is missing",
			   "are missing", "use --sync DIR or make them exist");
	else if (d->n_files_differ)
		files_fail(r, fl, d->files_differ, d->n_files_differ, d, "differ",
			   "differs in type or size", "differ in type or size",
			   "CRIU restores a file of the size it had; use --sync DIR or make them "
			   "match");
	else
		snprintf(r->dst, sizeof(r->dst), "all present");
	if (r->verdict == COMPAT_OK && fl->capped)
		set(r, COMPAT_WARN, "only the first %zu of %zu paths checked", fl->n, fl->total);
	else if (r->verdict == COMPAT_OK && fl->foreign_mnt)
		set(r, COMPAT_OK,
		    "tasks in the CT's own mount namespace: their files travel with its root");
}

/* The CT type's runtime on both hosts; its id and directory free on the destination. */
static void check_ct(struct compat_table *t, const Phaul__HostFacts *s, const Phaul__HostFacts *d,
		     const struct compat_req *q)
{
	const char *dst = str(d->hostname);
	struct compat_row *r;

	if (!q->ct_runtime)
		return;
	r = row(t, "runtime");
	snprintf(r->src, sizeof(r->src), "%s", *q->ct_runtime ? q->ct_runtime : "MISSING");
	snprintf(r->dst, sizeof(r->dst), "%s",
		 !d->ct_runtime ? "unknown" : *d->ct_runtime ? d->ct_runtime : "MISSING");
	if (!*q->ct_runtime || !d->ct_runtime || !*d->ct_runtime) {
		set(r, COMPAT_FAIL, "%s needs its runtime on both hosts: %s on %s", q->ct_spec,
		    !d->ct_runtime ? "the agent does not report it (older phaul?)" : "missing",
		    !*q->ct_runtime ? str(s->hostname) : dst);
		return;
	}
	if (strcmp(q->ct_runtime, d->ct_runtime))
		set(r, COMPAT_WARN, "different runtime versions: the restore needs what the dump used");
	r = row(t, "ct-id");
	snprintf(r->src, sizeof(r->src), "in use (the CT)");
	snprintf(r->dst, sizeof(r->dst), "%s", d->ct_id_busy ? "TAKEN" : "free");
	if (d->ct_id_busy)
		set(r, COMPAT_FAIL, "%s exists on %s already; required: no CT of that id there",
		    q->ct_spec, dst);
	if (!q->ct_path)
		return;
	r = row(t, "ct-path");
	snprintf(r->src, sizeof(r->src), "%s", q->ct_path);
	snprintf(r->dst, sizeof(r->dst), "%s", d->ct_path_busy ? "TAKEN" : "free");
	if (d->ct_path_busy)
		set(r, COMPAT_FAIL,
		    "%s on %s is the directory of another CT there; required: used by none",
		    q->ct_path, dst);
}

int compat_compare(const Phaul__HostFacts *s, const Phaul__HostFacts *d, const struct compat_req *q,
		   struct compat_table *t)
{
	char ps[16], pd[16];
	struct compat_row *r;

	memset(t, 0, sizeof(*t));
	cmp_strings(t, "arch", s->arch, d->arch, COMPAT_FAIL,
		    "CRIU restores on the same architecture only");
	snprintf(ps, sizeof(ps), "%u", s->page_size);
	snprintf(pd, sizeof(pd), "%u", d->page_size);
	cmp_strings(t, "page-size", ps, pd, COMPAT_FAIL, "page size must match");
	cmp_strings(t, "kernel", s->kernel, d->kernel, COMPAT_WARN,
		    "different kernels: restore needs every feature the CT uses");
	check_criu(t, s, d);

	r = row(t, "soft-dirty");
	snprintf(r->src, sizeof(r->src), "%s", s->soft_dirty ? "yes" : "no");
	snprintf(r->dst, sizeof(r->dst), "%s", d->soft_dirty ? "yes" : "no");
	t->precopy = s->soft_dirty;
	if (!s->soft_dirty)
		set(r, q->require_precopy ? COMPAT_FAIL : COMPAT_WARN,
		    "source kernel has no soft-dirty tracking: pre-copy is off%s",
		    q->require_precopy ? " and --require-precopy was given"
				       : ", one stop-and-copy dump");

	if (q->lazy_restore) {
		r = row(t, "lazy-restore");
		snprintf(r->src, sizeof(r->src), "-");
		snprintf(r->dst, sizeof(r->dst), "%s", d->lazy_pages ? "uffd-noncoop" : "no");
		t->lazy = d->lazy_pages;
		if (!d->lazy_pages)
			set(r, COMPAT_WARN,
			    "destination has no userfaultfd non-cooperative events (criu check "
			    "--feature uffd-noncoop): it restores eagerly");
	}
	check_resources(t, s, d, q);
	check_tools(t, s, d, q);
	if (q->files)
		check_files(t, d, q->files);
	if (q->ct_scanned) {
		r = row(t, "ct-files");
		snprintf(r->src, sizeof(r->src), "%d need an option", q->ct_files);
		snprintf(r->dst, sizeof(r->dst), "-");
		if (q->ct_files)
			set(r, COMPAT_FAIL, "%s", q->ct_files_why ? q->ct_files_why : "");
		else
			snprintf(r->src, sizeof(r->src), "ok");
	}
	check_ct(t, s, d, q);

	for (int i = 0; i < t->nrows; i++) {
		r = &t->rows[i];
		if (forced(q->force, r->check) && r->verdict != COMPAT_OK)
			r->verdict = COMPAT_SKIP;
		t->nfail += r->verdict == COMPAT_FAIL;
		t->nwarn += r->verdict == COMPAT_WARN;
	}
	for (int i = 0; i < t->nrows; i++) {
		r = &t->rows[i];
		if (r->verdict == COMPAT_FAIL)
			return ph_seterr(PH_ECOMPAT,
					 "check '%s' failed: %s (source: %s, destination: %s)",
					 r->check, r->detail, r->src, r->dst);
	}
	return 0;
}

void compat_print(FILE *out, const struct compat_table *t, const char *sname, const char *dname)
{
	fprintf(out, "%-13s %-26s %-26s %s\n", "CHECK", sname, dname, "VERDICT");
	for (int i = 0; i < t->nrows; i++) {
		const struct compat_row *r = &t->rows[i];

		fprintf(out, "%-13s %-26.26s %-26.26s %s%s%s\n", r->check, r->src, r->dst,
			compat_verdict_str(r->verdict), r->detail[0] ? ": " : "", r->detail);
	}
}
