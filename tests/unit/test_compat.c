// SPDX-License-Identifier: GPL-2.0
/* compat: this host's real facts, compared against variations of itself. */
#include <getopt.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "caps.h"
#include "compat/compat.h"
#include "err.h"
#include "phaul.h"

static Phaul__HostFacts src, dst;

static int setup(void **state)
{
	struct compat_probe p = { .work_dir = "/tmp" };

	assert_int_equal(compat_local_facts(&p, &src), 0);
	assert_int_equal(compat_local_facts(&p, &dst), 0);
	/* Pretend CRIU works on both, as it does inside the VMs. */
	free(src.criu_version);
	free(dst.criu_version);
	src.criu_version = strdup("3.17.1");
	dst.criu_version = strdup("3.17.1");
	src.criu_ok = dst.criu_ok = dst.cpu_ok = 1;
	src.soft_dirty = dst.soft_dirty = 1;
	return 0;
}

static int teardown(void **state)
{
	compat_facts_free(&src);
	compat_facts_free(&dst);
	return 0;
}

static struct compat_row *find(struct compat_table *t, const char *name)
{
	for (int i = 0; i < t->nrows; i++)
		if (!strcmp(t->rows[i].check, name))
			return &t->rows[i];
	fail_msg("no row %s", name);
	return NULL;
}

static void test_real_facts_are_sane(void **state)
{
	assert_true(src.page_size >= 4096);
	assert_true(strlen(src.kernel) > 0);
	assert_true(strlen(src.arch) > 0);
	assert_true(src.mem_avail_kb > 0);
	assert_true(src.disk_avail_kb > 0);
}

static void test_same_host_is_compatible(void **state)
{
	struct compat_req q = { .ct_rss_kb = 1024, .ct_images_kb = 1024 };
	struct compat_table t;

	assert_int_equal(compat_compare(&src, &dst, &q, &t), 0);
	assert_int_equal(t.nfail, 0);
	assert_true(t.precopy);
	assert_int_equal(find(&t, "arch")->verdict, COMPAT_OK);
}

static void test_criu_minor_mismatch_fails(void **state)
{
	struct compat_req q = { 0 };
	struct compat_table t;
	char *old = dst.criu_version;

	dst.criu_version = "3.18";
	assert_int_equal(compat_compare(&src, &dst, &q, &t), -PH_ECOMPAT);
	assert_int_equal(find(&t, "criu-version")->verdict, COMPAT_FAIL);
	assert_non_null(strstr(ph_errmsg(), "criu-version"));
	assert_non_null(strstr(ph_errmsg(), "3.18"));
	dst.criu_version = "3.17.0";
	assert_int_equal(compat_compare(&src, &dst, &q, &t), 0);
	assert_int_equal(find(&t, "criu-version")->verdict, COMPAT_WARN);
	dst.criu_version = old;
}

static void test_memory_and_pids(void **state)
{
	struct compat_req q = { .ct_rss_kb = dst.mem_avail_kb + 1 };
	struct compat_table t;
	uint32_t busy = (uint32_t)getpid();

	assert_int_equal(compat_compare(&src, &dst, &q, &t), -PH_ECOMPAT);
	assert_int_equal(find(&t, "memory")->verdict, COMPAT_FAIL);
	assert_non_null(strstr(ph_errmsg(), "memory"));

	q.ct_rss_kb = 0;
	dst.pids_busy[0] = busy;
	dst.n_pids_busy = 1;
	assert_int_equal(compat_compare(&src, &dst, &q, &t), -PH_ECOMPAT);
	assert_int_equal(find(&t, "pids")->verdict, COMPAT_FAIL);
	/* --force pids skips exactly that check */
	q.force = "memory,pids";
	assert_int_equal(compat_compare(&src, &dst, &q, &t), 0);
	assert_int_equal(find(&t, "pids")->verdict, COMPAT_SKIP);
	dst.n_pids_busy = 0;
}

static void test_probe_reports_busy_pids(void **state)
{
	uint32_t pids[2] = { (uint32_t)getpid(), 4194303 };
	struct compat_probe p = { .work_dir = "/tmp", .pids = pids, .npids = 2 };
	Phaul__HostFacts f;

	assert_int_equal(compat_local_facts(&p, &f), 0);
	assert_int_equal(f.n_pids_busy, 1);
	assert_int_equal(f.pids_busy[0], getpid());
	compat_facts_free(&f);
}

/* 16k busy pids: the facts list a few and count the rest, and still fit one message. */
static void test_probe_caps_busy_pids(void **state)
{
	size_t n = 16384;
	uint32_t *pids = malloc(n * sizeof(*pids));
	struct compat_probe p = { .work_dir = "/tmp", .pids = pids, .npids = n };
	Phaul__CheckResp resp = PHAUL__CHECK_RESP__INIT;
	Phaul__Msg m = PHAUL__MSG__INIT;
	struct compat_req q = { 0 };
	struct compat_table t;
	Phaul__HostFacts f;

	for (size_t i = 0; i < n; i++)
		pids[i] = (uint32_t)getpid(); /* busy */
	pids[n - 1] = 4194303;		      /* pid_max: free */
	assert_int_equal(compat_local_facts(&p, &f), 0);
	resp.facts = &f;
	m.body_case = PHAUL__MSG__BODY_CHECK_RESP;
	m.check_resp = &resp;
	assert_true(phaul__msg__get_packed_size(&m) <= PH_MSG_MAX);
	assert_true(f.n_pids_busy <= PH_CHECK_BUSY_LIST_MAX);
	assert_int_equal(f.pids_busy[0], getpid());
	assert_int_equal(f.n_pids_busy + f.pids_busy_more, n - 1);
	/* the table counts them all */
	assert_int_equal(compat_compare(&src, &f, &q, &t), -PH_ECOMPAT);
	print_message("pids: %s\n", find(&t, "pids")->dst);
	char want[64];
	snprintf(want, sizeof(want), "%llu in use",
		 (unsigned long long)f.n_pids_busy + f.pids_busy_more);
	assert_non_null(strstr(find(&t, "pids")->dst, want));
	compat_facts_free(&f);
	free(pids);
}

/* rsync where fs-sync needs it, on both hosts; the table has no row when it is not needed. */
static void test_rsync_needed(void **state)
{
	struct compat_req q = { .need_rsync = true };
	struct compat_table t;

	assert_true(src.rsync_ok); /* this host has rsync (make deps) */
	assert_int_equal(compat_compare(&src, &dst, &q, &t), 0);
	assert_int_equal(find(&t, "rsync")->verdict, COMPAT_OK);
	dst.rsync_ok = 0;
	assert_int_equal(compat_compare(&src, &dst, &q, &t), -PH_ECOMPAT);
	assert_non_null(strstr(ph_errmsg(), "check 'rsync' failed"));
	assert_non_null(strstr(ph_errmsg(), "MISSING"));
	q.need_rsync = false;
	assert_int_equal(compat_compare(&src, &dst, &q, &t), 0);
	for (int i = 0; i < t.nrows; i++)
		assert_string_not_equal(t.rows[i].check, "rsync");
	/* an agent that does not report it: a warning, not a refusal */
	q.need_rsync = true;
	dst.has_rsync_ok = 0;
	assert_int_equal(compat_compare(&src, &dst, &q, &t), 0);
	assert_int_equal(find(&t, "rsync")->verdict, COMPAT_WARN);
	dst.has_rsync_ok = dst.rsync_ok = 1;
}

/* Auto-converge without a cgroup v2 cpu controller on the source: said before anything. */
static void test_auto_converge_needs_cgroup_cpu(void **state)
{
	struct compat_req q = { .auto_converge = true };
	struct compat_table t;

	src.cgroup_cpu = 0;
	assert_int_equal(compat_compare(&src, &dst, &q, &t), 0);
	assert_int_equal(find(&t, "auto-converge")->verdict, COMPAT_WARN);
	assert_non_null(strstr(find(&t, "auto-converge")->detail, "cannot throttle"));
	src.cgroup_cpu = 1;
	assert_int_equal(compat_compare(&src, &dst, &q, &t), 0);
	assert_int_equal(find(&t, "auto-converge")->verdict, COMPAT_OK);
}

/* Lazy restore asked for: the destination's uffd-noncoop decides, a warning at worst. */
static void test_lazy_restore_row(void **state)
{
	struct compat_req q = { .lazy_restore = true };
	struct compat_table t;

	dst.lazy_pages = 0;
	assert_int_equal(compat_compare(&src, &dst, &q, &t), 0);
	assert_false(t.lazy);
	assert_int_equal(find(&t, "lazy-restore")->verdict, COMPAT_WARN);
	assert_non_null(strstr(find(&t, "lazy-restore")->detail, "uffd-noncoop"));
	dst.lazy_pages = 1;
	assert_int_equal(compat_compare(&src, &dst, &q, &t), 0);
	assert_true(t.lazy);
	assert_int_equal(find(&t, "lazy-restore")->verdict, COMPAT_OK);
	q.lazy_restore = false; /* eager asked for: no row, no lazy */
	assert_int_equal(compat_compare(&src, &dst, &q, &t), 0);
	assert_false(t.lazy);
	for (int i = 0; i < t.nrows; i++)
		assert_string_not_equal(t.rows[i].check, "lazy-restore");
}

static void test_soft_dirty(void **state)
{
	struct compat_req q = { 0 };
	struct compat_table t;

	src.soft_dirty = 0;
	assert_int_equal(compat_compare(&src, &dst, &q, &t), 0);
	assert_false(t.precopy);
	assert_int_equal(find(&t, "soft-dirty")->verdict, COMPAT_WARN);
	q.require_precopy = true;
	assert_int_equal(compat_compare(&src, &dst, &q, &t), -PH_ECOMPAT);
	src.soft_dirty = 1;
}

static void test_criu_check_failure_names_host(void **state)
{
	struct compat_req q = { 0 };
	struct compat_table t;

	dst.criu_ok = 0;
	free(dst.criu_msg);
	dst.criu_msg = strdup("vdso: Unexpected rt vDSO area bounds");
	assert_int_equal(compat_compare(&src, &dst, &q, &t), -PH_ECOMPAT);
	assert_non_null(strstr(ph_errmsg(), "destination "));
	assert_non_null(strstr(ph_errmsg(), ": vdso"));
	assert_non_null(strstr(ph_errmsg(), "; required: CRIU's own check passes"));
	/* the CPUs were not compared: said so, not "INCOMPATIBLE" */
	assert_string_equal(find(&t, "cpu")->dst, "not checked");
	assert_int_equal(find(&t, "cpu")->verdict, COMPAT_WARN);
	dst.criu_ok = 1;
}

/* Does d read "ROLE NAME: OBSERVED; required: REQUIRED"? */
static bool plain_form(const char *d, const char *name)
{
	char head[300];

	snprintf(head, sizeof(head), "source %s: ", name);
	if (strncmp(d, head, strlen(head))) {
		snprintf(head, sizeof(head), "destination %s: ", name);
		if (strncmp(d, head, strlen(head)))
			return false;
	}
	return strstr(d, "; required: ") != NULL;
}

/*
 * Every row that warns or fails says it in one form, naming the host by
 * role and name (two hosts may share a name), what was observed and what
 * is required; the table's columns are labelled by role.
 */
static void test_rows_read_plainly(void **state)
{
	struct compat_req q = { .ct_rss_kb = 1ull << 40,
				.ct_images_kb = 1ull << 40,
				.need_rsync = true,
				.auto_converge = true,
				.lazy_restore = true };
	Phaul__HostFacts s2 = src, d2 = dst;
	uint32_t busy = 42;
	struct compat_table t;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int checked = 0;

	s2.hostname = d2.hostname = "vm";
	d2.arch = "aarch64";
	d2.page_size = 16384;
	d2.kernel = "9.9.9";
	d2.criu_version = "3.18.0";
	s2.soft_dirty = 0;
	d2.lazy_pages = 0;
	d2.pids_busy = &busy;
	d2.n_pids_busy = 1;
	s2.rsync_ok = 0;
	s2.cgroup_cpu = 0;
	d2.cpu_ok = 0;
	d2.cpu_msg = "cpu feature fpu missing";
	assert_int_equal(compat_compare(&s2, &d2, &q, &t), -PH_ECOMPAT);
	for (int i = 0; i < t.nrows; i++) {
		const struct compat_row *r = &t.rows[i];

		if (r->verdict == COMPAT_OK)
			continue;
		print_message("%-13s %s\n", r->check, r->detail);
		assert_true(plain_form(r->detail, "vm"));
		checked++;
	}
	assert_true(checked >= 10);
	assert_non_null(strstr(find(&t, "memory")->detail, "; required: 1073741824 MiB"));
	assert_string_equal(find(&t, "cpu")->dst, "INCOMPATIBLE");
	/* the source's cpuinfo dump failed: its side says so, the other was not checked */
	d2.cpu_msg = COMPAT_NO_CPUINFO;
	compat_compare(&s2, &d2, &q, &t);
	assert_string_equal(find(&t, "cpu")->src, "cpuinfo dump FAILED");
	assert_string_equal(find(&t, "cpu")->dst, "not checked");
	assert_true(plain_form(find(&t, "cpu")->detail, "vm"));
	f = open_memstream(&buf, &len);
	compat_print(f, &t, "vm", "vm");
	fclose(f);
	assert_int_equal(
		strncmp(buf, "CHECK         SOURCE vm                  DESTINATION vm", 55), 0);
	free(buf);
}

/* A failed probe of this host is an error, not a NULL string printed. */
static void test_check_local_facts_fail(void **state)
{
	struct phaul_config cfg;
	char *argv[] = { "check", NULL };
	int r;

	config_defaults(&cfg);
	snprintf(cfg.work_dir, sizeof(cfg.work_dir), "/tmp");
	setenv("PHAUL_FAULT_FACTS", "1", 1);
	optind = 0;
	r = cmd_check(&cfg, 1, argv);
	unsetenv("PHAUL_FAULT_FACTS");
	assert_int_equal(r, EXIT_FAILED);
	assert_non_null(strstr(ph_errmsg(), "uname"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_facts_are_sane),
		cmocka_unit_test(test_same_host_is_compatible),
		cmocka_unit_test(test_criu_minor_mismatch_fails),
		cmocka_unit_test(test_memory_and_pids),
		cmocka_unit_test(test_probe_reports_busy_pids),
		cmocka_unit_test(test_probe_caps_busy_pids),
		cmocka_unit_test(test_rsync_needed),
		cmocka_unit_test(test_auto_converge_needs_cgroup_cpu),
		cmocka_unit_test(test_lazy_restore_row),
		cmocka_unit_test(test_soft_dirty),
		cmocka_unit_test(test_criu_check_failure_names_host),
		cmocka_unit_test(test_rows_read_plainly),
		cmocka_unit_test(test_check_local_facts_fail),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
