// SPDX-License-Identifier: GPL-2.0
/*
 * The final report's --sync paths: a path on shared storage, an rsynced one
 * and one the migration never got to, as JSON and as text (stdout captured
 * in a temp file); its headline, the service interruption and its parts,
 * the throttle's span, rates as pages and wire, a dry run as a dry run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "report.h"

static const struct iter_report *cap_iter;

/* Run report_print (or report_iter of cap_iter) with stdout in a temp file; returns what it
 * printed. */
static char *printed(const struct report *r)
{
	static char buf[16384];
	FILE *f = tmpfile();
	int saved;
	size_t n;

	assert_non_null(f);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(f), STDOUT_FILENO) >= 0);
	if (cap_iter)
		report_iter((struct report *)r, cap_iter);
	else
		report_print(r);
	fflush(stdout);
	assert_true(dup2(saved, STDOUT_FILENO) >= 0);
	close(saved);
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void three_paths(struct report *r, bool json)
{
	struct sync_report *s;

	report_init(r, json);
	s = report_sync_path(r, "/mnt/shared/ct");
	s->probed = true;
	s->shared = true;
	s = report_sync_path(r, "/var/lib/ct \"x\"");
	s->probed = true;
	s->syncs = 3;
	s->wire_bytes = 2 * 1024 * 1024;
	report_sync_path(r, "/srv/never");
	r->fs_syncs = 3;
	r->fs_wire_bytes = 2 * 1024 * 1024;
}

static void test_json_fs_paths(void **state)
{
	static struct report r;
	const char *out;

	three_paths(&r, true);
	out = printed(&r);
	assert_non_null(strstr(out, "\"fs_syncs\":3,"));
	assert_non_null(strstr(out,
			       "\"fs_paths\":[{\"path\":\"/mnt/shared/ct\",\"mode\":\"shared\","
			       "\"shared\":true,\"syncs\":0,\"wire_bytes\":0},"
			       "{\"path\":\"/var/lib/ct \\\"x\\\"\",\"mode\":\"rsync\","
			       "\"shared\":false,\"syncs\":3,\"wire_bytes\":2097152},"
			       "{\"path\":\"/srv/never\",\"mode\":\"unknown\","
			       "\"shared\":false,\"syncs\":0,\"wire_bytes\":0}]}\n"));
}

static void test_json_no_sync(void **state)
{
	static struct report r;

	report_init(&r, true);
	assert_non_null(strstr(printed(&r), ",\"fs_paths\":[]}\n"));
}

static void test_text_fs_paths(void **state)
{
	static struct report r;
	const char *out;

	three_paths(&r, false);
	out = printed(&r);
	assert_non_null(strstr(out, "  fs sync          3 runs, 2.0 MiB on the wire"));
	assert_non_null(strstr(out, "    /mnt/shared/ct  shared storage: not copied\n"));
	assert_non_null(strstr(out, "    /var/lib/ct \"x\"  rsync: 3 runs, 2.0 MiB on the wire\n"));
	assert_non_null(strstr(out, "    /srv/never  not synced (the migration stopped before)\n"));
}

/* Only shared paths: no rsync ran, the paths are still listed. */
static void test_text_only_shared(void **state)
{
	static struct report r;
	struct sync_report *s;
	const char *out;

	report_init(&r, false);
	s = report_sync_path(&r, "/mnt/shared/ct");
	s->probed = s->shared = true;
	out = printed(&r);
	assert_non_null(strstr(out, "  fs sync          0 runs, 0.0 MiB on the wire"));
	assert_non_null(strstr(out, "    /mnt/shared/ct  shared storage: not copied\n"));
}

static void test_sync_path_cap(void **state)
{
	static struct report r;

	report_init(&r, true);
	for (int i = 0; i < PH_SYNC_MAX; i++)
		assert_non_null(report_sync_path(&r, "/p"));
	assert_null(report_sync_path(&r, "/one-too-many"));
	assert_int_equal(r.nsync, PH_SYNC_MAX);
}

/* The destination's timings (RestoreResp) and the source's, in JSON and text. */
static void test_downtime_parts(void **state)
{
	static struct report r;
	Phaul__RestoreResp q = PHAUL__RESTORE_RESP__INIT;
	char *out;

	report_init(&r, true);
	q.restore_mode = "lazy";
	q.dst_wall_us = 420000;
	q.dst_store_us = 1000;
	q.dst_lazy_start_us = 150000;
	q.dst_criu_us = 230000;
	report_restore_resp(&r, &q);
	r.dt.final_dump_us = 600000;
	r.dt.commit_us = 210000;
	r.dt.predicted_switch_us = 700000;
	out = printed(&r);
	assert_non_null(strstr(out, ",\"downtime_parts\":{\"final_dump_us\":600000,"));
	assert_non_null(strstr(out, "\"dst_wall_us\":420000,\"dst_store_us\":1000,"
				    "\"dst_lazy_start_us\":150000,\"dst_criu_us\":230000,"
				    "\"commit_us\":210000,"));
	assert_non_null(strstr(out, "\"predicted_switch_us\":700000}"));
	r.json = false;
	out = printed(&r);
	assert_non_null(strstr(out,
			       "    parts, finer   final dump 600, sync 0, images 0, restore 0 "
			       "(dst 420: store 1, lazy-pages start 150, criu 230), commit 210"));
}

/* A migration that went through: freeze at t, the parts after it. */
static void done_report(struct report *r, bool json)
{
	uint64_t t = 1000000000;

	report_init(r, json);
	snprintf(r->ct, sizeof(r->ct), "pid:42");
	snprintf(r->src, sizeof(r->src), "node1");
	snprintf(r->dst, sizeof(r->dst), "node2");
	r->transport = "tcp";
	r->mark[RM_START] = t - 9000000;
	r->mark[RM_THROTTLE] = t - 4000000;
	r->mark[RM_FREEZE] = t;
	r->mark[RM_DUMPED] = t + 120000;
	r->mark[RM_IMAGES] = t + 150000;
	r->mark[RM_RESTORED] = t + 290000;
	r->mark[RM_RUNNING] = t + 312000;
	r->downtime_us = 312000;
	r->predicted_downtime_us = 280000;
	r->limit_us = 300000;
	r->frozen_us = 298000;
	r->restore_us = 110000;
	r->total_us = 9400000;
	r->throttle_pct = 40;
	r->niter = 3;
	r->it[1] = (struct iter_report){ .iter = 1,
					 .pages = 25600,
					 .raw_bytes = 100 << 20,
					 .wire_bytes = 1 << 20,
					 .usec = 2000000 };
	r->it[2] = (struct iter_report){ .iter = 2,
					 .final = true,
					 .pages = 256,
					 .raw_bytes = 1 << 20,
					 .wire_bytes = 1 << 19,
					 .usec = 100000,
					 .throttle_pct = 40 };
	snprintf(r->log_dir, sizeof(r->log_dir), "/var/lib/phaul/runs/out-x");
}

static void test_headline(void **state)
{
	static struct report r;
	struct report_interruption in;
	char *out, *head;

	done_report(&r, false);
	report_interruption(&r, &in);
	assert_int_equal(in.total_us, 312000);
	assert_int_equal(in.dump_us, 120000);
	assert_int_equal(in.images_us, 30000);
	assert_int_equal(in.restore_us, 140000);
	assert_int_equal(in.commit_us, 22000);
	/* the parts add up to the whole */
	assert_int_equal(in.dump_us + in.images_us + in.restore_us + in.commit_us, in.total_us);
	assert_int_equal(report_throttle_us(&r), 4000000);
	out = printed(&r);
	print_message("%s", out);
	/* the headline is the first line after the title */
	head = strchr(out + 1, '\n') + 1;
	assert_int_equal(strncmp(head, "  SERVICE INTERRUPTION 312 ms", 29), 0);
	assert_non_null(strstr(out, "final dump        120 ms"));
	assert_non_null(
		strstr(out, "restore           140 ms  on node2 (CRIU's restore time 110 ms"));
	assert_non_null(strstr(out, "(CRIU frozen      298 ms"));
	assert_non_null(strstr(out, "OVER THE LIMIT   by 12 ms"));
	/* rates: pages (raw) and wire apart */
	assert_non_null(strstr(out, "50.0 MiB/s pages      0.5 MiB/s wire"));
	assert_non_null(strstr(out, "throttled for 4.0 s, up to 40%"));
	assert_null(strstr(out, "dry run"));
}

/* The final iteration never passes precopy_next(): its rate is still shown. */
static void test_final_iter_rate(void **state)
{
	static struct report r;
	struct iter_report it = { .iter = 9, .final = true, .pages = 382 };
	char *out;

	report_init(&r, false);
	it.raw_bytes = it.pages * 4096;
	it.wire_bytes = 3 * 1024 * 1024 / 2;
	it.usec = 500000;
	cap_iter = &it;
	out = printed(&r);
	cap_iter = NULL;
	print_message("%s", out);
	assert_non_null(strstr(out, "final  9:"));
	assert_non_null(strstr(out, "3.0 MiB/s"));
}

static void test_dry_run(void **state)
{
	static struct report r;
	char *out;

	report_init(&r, false);
	r.dry_run = true;
	snprintf(r.ct, sizeof(r.ct), "pid:42");
	out = printed(&r);
	print_message("%s", out);
	assert_non_null(strstr(out, "dry run of pid:42"));
	assert_non_null(strstr(out, "checks passed, nothing migrated"));
	assert_null(strstr(out, "migration of"));
	assert_null(strstr(out, "pid on target"));
	assert_null(strstr(out, "INTERRUPTION"));
}

/* The JSON report: the old fields as they were, the new beside them. */
static void test_json_interruption(void **state)
{
	static struct report r;
	json_t *j, *it, *parts;
	json_error_t e;

	done_report(&r, true);
	j = json_loads(printed(&r), 0, &e);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "downtime_us")), 312000);
	assert_int_equal(json_integer_value(json_object_get(j, "frozen_us")), 298000);
	assert_int_equal(json_integer_value(json_object_get(j, "throttle_pct")), 40);
	assert_int_equal(json_integer_value(json_object_get(j, "interruption_us")), 312000);
	parts = json_object_get(j, "interruption");
	assert_int_equal(json_integer_value(json_object_get(parts, "dump_us")), 120000);
	assert_int_equal(json_integer_value(json_object_get(parts, "images_us")), 30000);
	assert_int_equal(json_integer_value(json_object_get(parts, "restore_us")), 140000);
	assert_int_equal(json_integer_value(json_object_get(parts, "commit_us")), 22000);
	assert_int_equal(json_integer_value(json_object_get(j, "throttle_us")), 4000000);
	assert_true(json_is_false(json_object_get(j, "dry_run")));
	assert_string_equal(json_string_value(json_object_get(j, "log_dir")),
			    "/var/lib/phaul/runs/out-x");
	it = json_array_get(json_object_get(j, "iterations"), 0);
	assert_int_equal(json_integer_value(json_object_get(it, "usec")), 2000000);
	assert_true(json_number_value(json_object_get(it, "raw_bytes_per_sec")) == 52428800.0);
	assert_true(json_number_value(json_object_get(it, "wire_bytes_per_sec")) == 524288.0);
	json_decref(j);
	r.dry_run = true;
	j = json_loads(printed(&r), 0, &e);
	assert_true(json_is_true(json_object_get(j, "dry_run")));
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_fs_paths),  cmocka_unit_test(test_json_no_sync),
		cmocka_unit_test(test_text_fs_paths),  cmocka_unit_test(test_text_only_shared),
		cmocka_unit_test(test_sync_path_cap),  cmocka_unit_test(test_headline),
		cmocka_unit_test(test_dry_run),	       cmocka_unit_test(test_json_interruption),
		cmocka_unit_test(test_downtime_parts), cmocka_unit_test(test_final_iter_rate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
