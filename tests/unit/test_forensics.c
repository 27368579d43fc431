// SPDX-License-Identifier: GPL-2.0
/*
 * What a migration leaves for the operator: log lines with wall-clock time
 * and migration id (a peer's id refused unless well-formed), the per-run log
 * file, pruning of old runs by count and age, a failed session's dir
 * stripped to its logs, report.json written whole, and the line naming
 * what a failure kept on each host.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <jansson.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "forensics.h"
#include "helpers.h"
#include "log.h"
#include "report.h"
#include "util.h"

static char top[] = "/tmp/phaul-fx.XXXXXX";

static int setup(void **state)
{
	strcpy(top, "/tmp/phaul-fx.XXXXXX");
	return mkdtemp(top) ? 0 : -1;
}

static int teardown(void **state)
{
	log_close_file();
	log_set_id(NULL);
	rm_tree(top);
	return 0;
}

static void test_line_format(void **state)
{
	/* 2026-12-02T02:26:26.123Z */
	struct timespec ts = { .tv_sec = 1796178386, .tv_nsec = 123456789 };
	char buf[256], small[40];
	size_t n;

	log_init("src", -1);
	assert_int_equal(log_set_id("20261202-022626-4242-0a1b2c3d"), 0);
	n = log_format(buf, sizeof(buf), &ts, LOG_ERR, NULL, "boom");
	assert_string_equal(buf, "2026-12-02T02:26:26.123Z src[20261202-022626-4242-0a1b2c3d] "
				 "error: boom\n");
	assert_int_equal(n, strlen(buf));
	log_format(buf, sizeof(buf), &ts, LOG_DEBUG, "x.c:12", "m");
	assert_non_null(strstr(buf, "] debug: x.c:12: m\n"));
	/* cut, still one line */
	n = log_format(small, sizeof(small), &ts, LOG_INFO, NULL, "a long message");
	assert_int_equal(n, sizeof(small) - 1);
	assert_ptr_equal(strchr(small, '\n'), small + n - 1);
	/* no id: none shown */
	log_set_id(NULL);
	log_format(buf, sizeof(buf), &ts, LOG_WARN, NULL, "w");
	assert_string_equal(buf, "2026-12-02T02:26:26.123Z src warn: w\n");
}

/* A peer's id reaches a line only in the documented form. */
static void test_peer_id_checked(void **state)
{
	static const char *const bad[] = { "../../etc", "a b", "id\n2026 src info: forged",
					   "x\033[2K",	"a/b", "." };
	char longid[100];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(log_set_id(bad[i]), -1);
		assert_string_equal(log_get_id(), "");
	}
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	assert_int_equal(log_set_id(longid), -1);
	assert_int_equal(log_set_id("ok-ID-1"), 0);
	assert_string_equal(log_get_id(), "ok-ID-1");
}

/* fx_begin: the run dir 0700, every line in its log file with time and id. */
static void test_run_log_file(void **state)
{
	char dir[512], path[600], *text;
	struct stat st;
	int err = dup(2), null = open("/dev/null", O_WRONLY);

	log_init("src", LOG_INFO);
	log_set_id("mig-1");
	assert_int_equal(fx_begin(top, "out-mig-1", "phaul.log", dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/" FX_RUNS_DIR "/out-mig-1", top);
	assert_string_equal(dir, path);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	dup2(null, 2);
	pr_err("first %d", 1);
	pr_info("second\nforged");
	fflush(stderr);
	dup2(err, 2);
	close(err);
	close(null);
	log_close_file();
	snprintf(path, sizeof(path), "%s/phaul.log", dir);
	text = slurp(path);
	print_message("%s", text);
	assert_non_null(strstr(text, "Z src[mig-1] error: first 1\n"));
	assert_non_null(strstr(text, "Z src[mig-1] info: second\\nforged\n"));
	assert_int_equal(text[4], '-');
	assert_int_equal(text[10], 'T');
	free(text);
	/* CRIU's stderr has a file of its own there */
	snprintf(path, sizeof(path), "%s/" FX_CRIU_STDERR, dir);
	assert_int_equal(access(path, F_OK), 0);
	/* a run is never made twice */
	assert_true(fx_begin(top, "out-mig-1", "phaul.log", dir, sizeof(dir)) < 0);
}

static void make_dir(const char *parent, const char *name, time_t mtime, bool logs_only)
{
	char path[1400], mark[1500];
	struct timespec t[2] = { { mtime, 0 }, { mtime, 0 } };

	snprintf(path, sizeof(path), "%s/%s", parent, name);
	assert_int_equal(mkdir_p(path, 0700), 0);
	if (logs_only) {
		snprintf(mark, sizeof(mark), "%s/" FX_LOGS_ONLY, path);
		close(open(mark, O_WRONLY | O_CREAT, 0600));
	}
	assert_int_equal(utimensat(AT_FDCWD, path, t, 0), 0);
}

static bool exists(const char *parent, const char *name)
{
	char path[1400];

	snprintf(path, sizeof(path), "%s/%s", parent, name);
	return access(path, F_OK) == 0;
}

static void test_prune(void **state)
{
	time_t now = 1796178386;
	char runs[600];

	snprintf(runs, sizeof(runs), "%s/" FX_RUNS_DIR, top);
	/* five runs, a day apart: run0 newest */
	for (int i = 0; i < 5; i++) {
		char name[32];

		snprintf(name, sizeof(name), "out-run%d", i);
		make_dir(runs, name, now - i * 86400 - 10, false);
	}
	/* a failed session's stripped dir, an old one, and a live (unmarked) one */
	make_dir(top, "in-new", now - 10, true);
	make_dir(top, "in-old", now - 9 * 86400, true);
	make_dir(top, "in-live", now - 9 * 86400, false);
	make_dir(top, "out-pid-1-images", now - 9 * 86400, false);
	make_dir(top, "check.AbCdEf", now - 9 * 86400, false);

	/* keep 3, no age limit: the two oldest runs go, one old stripped dir too */
	assert_int_equal(fx_prune(top, 3, 0, NULL, now), 2);
	assert_true(exists(runs, "out-run0") && exists(runs, "out-run2"));
	assert_false(exists(runs, "out-run3") || exists(runs, "out-run4"));
	/* age: 1.5 days keeps run0 and run1 (run1 is 1 day old); except spares run2 */
	assert_int_equal(fx_prune(top, 10, 2, "out-run2", now + 43200), 2);
	assert_false(exists(top, "check.AbCdEf"));
	assert_true(exists(top, "in-new"));
	assert_false(exists(top, "in-old"));
	assert_true(exists(runs, "out-run2"));
	assert_int_equal(fx_prune(top, 10, 1, NULL, now + 43200), 2);
	assert_true(exists(runs, "out-run0"));
	assert_false(exists(runs, "out-run1"));
	/* never what is not a run nor a stripped session dir */
	assert_true(exists(top, "in-live"));
	assert_true(exists(top, "out-pid-1-images"));
}

static void put(const char *dir, const char *name)
{
	char path[600];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
}

static void test_keep_logs_only(void **state)
{
	char d[600], sub[700], img[700], path[800];

	snprintf(d, sizeof(d), "%s/in-x", top);
	snprintf(sub, sizeof(sub), "%s/1", d);
	snprintf(img, sizeof(img), "%s/img", d);
	assert_int_equal(mkdir_p(sub, 0700), 0);
	assert_int_equal(mkdir_p(img, 0700), 0);
	put(d, "peer");
	put(sub, "page-server.log");
	put(sub, "pages-1.img");
	put(img, "pagemap-1.img");
	snprintf(path, sizeof(path), "%s/link.log", d);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	assert_int_equal(fx_keep_logs_only(d), 0);
	assert_true(exists(sub, "page-server.log"));
	assert_false(exists(sub, "pages-1.img"));
	assert_false(exists(d, "img"));
	assert_false(exists(d, "peer"));
	/* a symlink is no log: removed, its target untouched */
	assert_false(exists(d, "link.log"));
	assert_true(access("/etc/passwd", F_OK) == 0);
	assert_true(exists(d, FX_LOGS_ONLY));
}

/* report.json: written whole (no .tmp left), one valid JSON object. */
static void test_save_report(void **state)
{
	static struct report r;
	char path[700];
	json_t *j;
	json_error_t e;

	report_init(&r, false);
	snprintf(r.mig_id, sizeof(r.mig_id), "mig-1");
	snprintf(r.log_dir, sizeof(r.log_dir), "%s", top);
	assert_int_equal(fx_save_report(top, &r), 0);
	snprintf(path, sizeof(path), "%s/report.json", top);
	j = json_load_file(path, 0, &e);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "event")), "report");
	assert_string_equal(json_string_value(json_object_get(j, "id")), "mig-1");
	assert_string_equal(json_string_value(json_object_get(j, "log_dir")), top);
	json_decref(j);
	snprintf(path, sizeof(path), "%s/report.json.tmp", top);
	assert_int_equal(access(path, F_OK), -1);
}

/* The failure line names what each host keeps. */
static void test_failed_line(void **state)
{
	static struct report r;
	int err = dup(2), fd;
	char path[600], *text;

	report_init(&r, false);
	snprintf(r.src, sizeof(r.src), "node1");
	snprintf(r.dst, sizeof(r.dst), "node2");
	snprintf(r.log_dir, sizeof(r.log_dir), "/w/runs/out-1");
	snprintf(r.dst_log_dir, sizeof(r.dst_log_dir), "/w2/runs/in-2");
	snprintf(path, sizeof(path), "%s/err", top);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	dup2(fd, 2);
	fx_source_failed(&r, "/w/out-pid-1-x");
	fflush(stderr);
	dup2(err, 2);
	close(err);
	close(fd);
	text = slurp(path);
	print_message("%s", text);
	assert_non_null(strstr(text,
			       "error: logs kept: node1: /w/runs/out-1 (phaul.log, "
			       "report.json) and /w/out-pid-1-x (CRIU's logs, images); node2: "
			       "/w2/runs/in-2"));
	assert_string_equal(r.images_dir, "/w/out-pid-1-x");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_line_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_id_checked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_log_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keep_logs_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_report, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_line, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
