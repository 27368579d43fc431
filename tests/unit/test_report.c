// SPDX-License-Identifier: GPL-2.0
/*
 * The final report's --sync paths: a path on shared storage, an rsynced one
 * and one the migration never got to, as JSON and as text (stdout captured
 * in a temp file).
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

#include "report.h"

/* Run report_print with stdout in a temp file; returns what it printed. */
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
	assert_non_null(strstr(out, "  downtime parts   final dump 600, sync 0, images 0, restore 0 "
				    "(dst 420: store 1, lazy-pages start 150, criu 230), commit 210"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_fs_paths),
		cmocka_unit_test(test_json_no_sync),
		cmocka_unit_test(test_text_fs_paths),
		cmocka_unit_test(test_text_only_shared),
		cmocka_unit_test(test_sync_path_cap),
		cmocka_unit_test(test_downtime_parts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
