// SPDX-License-Identifier: GPL-2.0
/*
 * Two hosts' facts into one table. Each row states both hosts' values and
 * a verdict; a warning or failure says, always in the same form,
 *
 *   ROLE HOST: OBSERVED; required: REQUIRED
 *
 * ("destination node2: 120 MiB available; required: 512 MiB (the CT's
 * resident memory)"), so the operator knows what to fix and where, even
 * between two hosts of the same name.
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

/* "source NAME" / "destination NAME": who a detail speaks of */
static const char *who(char *buf, size_t len, const char *role, const Phaul__HostFacts *f)
{
	snprintf(buf, len, "%s %s", role, str(f->hostname));
	return buf;
}

/* each in a buffer of its own, alive until the end of the enclosing block */
#define SRC(f) who((char[300]){ 0 }, 300, "source", f)
#define DST(f) who((char[300]){ 0 }, 300, "destination", f)

/* A value both hosts must share: the destination's differs from the source's. */
static void cmp_strings(struct compat_table *t, const char *check, const Phaul__HostFacts *d,
			const char *a, const char *b, enum compat_verdict if_differ,
			const char *required)
{
	struct compat_row *r = row(t, check);

	snprintf(r->src, sizeof(r->src), "%s", str(a));
	snprintf(r->dst, sizeof(r->dst), "%s", str(b));
	if (strcmp(r->src, r->dst))
		set(r, if_differ, "%s: %s, the source %s; required: %s", DST(d), r->dst, r->src,
		    required);
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
		set(r, COMPAT_FAIL, "%s: criu not found; required: criu on both hosts",
		    (!s->criu_version || !*s->criu_version) ? SRC(s) : DST(d));
	else if (!criu_wire_compatible(s->criu_version, d->criu_version))
		set(r, COMPAT_FAIL,
		    "%s: %s, the source %s; required: the same CRIU major.minor (the page-server "
		    "wire changes between them)",
		    DST(d), d->criu_version, s->criu_version);
	else if (strcmp(s->criu_version, d->criu_version))
		set(r, COMPAT_WARN,
		    "%s: %s, the source %s; required: the same major.minor (met); patch levels "
		    "differ",
		    DST(d), d->criu_version, s->criu_version);

	r = row(t, "criu-check");
	snprintf(r->src, sizeof(r->src), "%s", s->criu_ok ? "passed" : "FAILED");
	snprintf(r->dst, sizeof(r->dst), "%s", d->criu_ok ? "passed" : "FAILED");
	if (!s->criu_ok)
		set(r, COMPAT_FAIL, "%s: %s; required: CRIU's own check passes", SRC(s),
		    str(s->criu_msg));
	else if (!d->criu_ok)
		set(r, COMPAT_FAIL, "%s: %s; required: CRIU's own check passes", DST(d),
		    str(d->criu_msg));

	r = row(t, "cpu");
	if (!s->criu_ok || !d->criu_ok) {
		/* nothing to say of the CPUs: criu-check says why */
		snprintf(r->src, sizeof(r->src), "not checked");
		snprintf(r->dst, sizeof(r->dst), "not checked");
		set(r, COMPAT_WARN,
		    "%s: not checked, CRIU does not work there (criu-check); "
		    "required: the source's CPU features",
		    !s->criu_ok ? SRC(s) : DST(d));
	} else if (d->cpu_msg && !strcmp(d->cpu_msg, COMPAT_NO_CPUINFO)) {
		snprintf(r->src, sizeof(r->src), "cpuinfo dump FAILED");
		snprintf(r->dst, sizeof(r->dst), "not checked");
		set(r, COMPAT_FAIL,
		    "%s: its cpuinfo dump failed (logged above); required: a cpuinfo image for "
		    "the destination to check",
		    SRC(s));
	} else {
		snprintf(r->src, sizeof(r->src), "cpuinfo dumped");
		snprintf(r->dst, sizeof(r->dst), "%s", d->cpu_ok ? "compatible" : "INCOMPATIBLE");
		if (!d->cpu_ok)
			set(r, COMPAT_FAIL, "%s: %s; required: every CPU feature the source's has",
			    DST(d), str(d->cpu_msg));
	}
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
		set(r, COMPAT_FAIL,
		    "%s: %llu MiB available; required: %llu MiB (the CT's resident "
		    "memory)",
		    DST(d), (unsigned long long)d->mem_avail_kb / 1024,
		    (unsigned long long)q->ct_rss_kb / 1024);

	r = row(t, "disk");
	snprintf(r->src, sizeof(r->src), "images need ~%llu MiB",
		 (unsigned long long)q->ct_images_kb / 1024);
	snprintf(r->dst, sizeof(r->dst), "%llu MiB free in %s",
		 (unsigned long long)d->disk_avail_kb / 1024, str(d->work_dir));
	if (d->disk_avail_kb < q->ct_images_kb)
		set(r, COMPAT_FAIL, "%s: %llu MiB free in %s; required: ~%llu MiB (the images)",
		    DST(d), (unsigned long long)d->disk_avail_kb / 1024, str(d->work_dir),
		    (unsigned long long)q->ct_images_kb / 1024);

	r = row(t, "pids");
	snprintf(r->src, sizeof(r->src), "%s", "-");
	if (!d->n_pids_busy) {
		snprintf(r->dst, sizeof(r->dst), "free");
	} else {
		snprintf(r->dst, sizeof(r->dst), "%llu in use (first %u)",
			 (unsigned long long)d->n_pids_busy + d->pids_busy_more, d->pids_busy[0]);
		set(r, COMPAT_FAIL,
		    "%s: pid %u is in use; required: the CT's pids free (a process tree restores "
		    "with its own pids)",
		    DST(d), d->pids_busy[0]);
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
			set(r, COMPAT_FAIL,
			    "%s: rsync missing; required: rsync on both hosts (fs-sync needs it)",
			    !s->rsync_ok ? SRC(s) : DST(d));
		else if (!d->has_rsync_ok)
			set(r, COMPAT_WARN,
			    "%s: its agent does not say whether it has rsync (an older phaul); "
			    "required: rsync on both hosts (fs-sync needs it)",
			    DST(d));
	}
	if (q->auto_converge) {
		r = row(t, "auto-converge");
		snprintf(r->src, sizeof(r->src), "%s",
			 s->cgroup_cpu ? "cgroup v2 cpu" : "no cgroup v2 cpu");
		snprintf(r->dst, sizeof(r->dst), "-");
		if (!s->cgroup_cpu)
			set(r, COMPAT_WARN,
			    "%s: no cgroup v2 cpu controller, so phaul cannot throttle a CT that "
			    "dirties memory faster than the link carries it; required: cgroup v2 "
			    "with the cpu controller (else such a CT cannot meet the downtime "
			    "limit)",
			    SRC(s));
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

/*
 * The CT type's runtime on both hosts; its id and directory free on the
 * destination, its image there.
 */
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
	if (q->ct_image) {
		r = row(t, "ct-image");
		snprintf(r->src, sizeof(r->src), "%.*s", (int)sizeof(r->src) - 1, q->ct_image);
		snprintf(r->dst, sizeof(r->dst), "%s",
			 !d->has_ct_image_present ? "unknown"
			 : d->ct_image_present	  ? "present"
						  : "MISSING");
		if (!d->has_ct_image_present || !d->ct_image_present)
			set(r, COMPAT_FAIL,
			    "%s runs from image %s, which %s %s; required: that image there "
			    "(the same ID)",
			    q->ct_spec, q->ct_image, dst,
			    !d->has_ct_image_present ? "did not look up (older phaul?)"
						     : "does not hold");
	}
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
	cmp_strings(t, "arch", d, s->arch, d->arch, COMPAT_FAIL,
		    "the same architecture (CRIU restores on the same one only)");
	snprintf(ps, sizeof(ps), "%u", s->page_size);
	snprintf(pd, sizeof(pd), "%u", d->page_size);
	cmp_strings(t, "page-size", d, ps, pd, COMPAT_FAIL, "the same page size");
	cmp_strings(t, "kernel", d, s->kernel, d->kernel, COMPAT_WARN,
		    "every kernel feature the CT uses (not checked: the restore will tell)");
	check_criu(t, s, d);

	r = row(t, "soft-dirty");
	snprintf(r->src, sizeof(r->src), "%s", s->soft_dirty ? "yes" : "no");
	snprintf(r->dst, sizeof(r->dst), "%s", d->soft_dirty ? "yes" : "no");
	t->precopy = s->soft_dirty;
	if (!s->soft_dirty)
		set(r, q->require_precopy ? COMPAT_FAIL : COMPAT_WARN,
		    "%s: no soft-dirty tracking in its kernel; required: soft-dirty for "
		    "pre-copy%s",
		    SRC(s),
		    q->require_precopy
			    ? " (--require-precopy)"
			    : " (without it: one stop-and-copy dump, a longer downtime)");

	if (q->lazy_restore) {
		r = row(t, "lazy-restore");
		snprintf(r->src, sizeof(r->src), "-");
		snprintf(r->dst, sizeof(r->dst), "%s", d->lazy_pages ? "uffd-noncoop" : "no");
		t->lazy = d->lazy_pages;
		if (!d->lazy_pages)
			set(r, COMPAT_WARN,
			    "%s: no userfaultfd non-cooperative events (criu check --feature "
			    "uffd-noncoop); required: them for a lazy restore (without: it "
			    "restores "
			    "eagerly)",
			    DST(d));
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
	char sh[64], dh[64];

	/* by role first: two hosts may bear one name */
	snprintf(sh, sizeof(sh), "SOURCE %.19s", sname);
	snprintf(dh, sizeof(dh), "DESTINATION %.14s", dname);
	fprintf(out, "%-13s %-26s %-26s %s\n", "CHECK", sh, dh, "VERDICT");
	for (int i = 0; i < t->nrows; i++) {
		const struct compat_row *r = &t->rows[i];

		fprintf(out, "%-13s %-26.26s %-26.26s %s%s%s\n", r->check, r->src, r->dst,
			compat_verdict_str(r->verdict), r->detail[0] ? ": " : "", r->detail);
	}
}
