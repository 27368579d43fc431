// SPDX-License-Identifier: GPL-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "err.h"

static char *write_tmp(const char *text)
{
	static char path[64];
	int fd;

	strcpy(path, "/tmp/phaul-conf.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (int)strlen(text));
	close(fd);
	return path;
}

static void test_defaults(void **state)
{
	struct phaul_config c;

	config_defaults(&c);
	assert_string_equal(c.transport, "ssh");
	assert_int_equal(c.downtime_limit_ms, 300);
	assert_string_equal(c.listen, "127.0.0.1:7070");
	assert_true(c.compress);
	assert_true(c.auto_converge);
	assert_false(c.allow_downtime_overrun);
	assert_string_equal(c.policy, "predict");
	/* fs-sync writes nowhere until the operator says where CTs live */
	assert_string_equal(c.fs_root, "");
}

/* fs_root never lets a peer write over the whole host. */
static void test_fs_root(void **state)
{
	struct phaul_config c;

	config_defaults(&c);
	assert_int_equal(config_set(&c, "agent", "fs_root", "/var/lib/lxc /srv/ct"), 0);
	assert_string_equal(c.fs_root, "/var/lib/lxc /srv/ct");
	assert_int_equal(config_set(&c, "agent", "fs_root", ""), 0);
	assert_int_equal(config_set(&c, "agent", "fs_root", "/"), -PH_ECONFIG);
	assert_non_null(strstr(ph_errmsg(), "'fs_root'"));
	assert_non_null(strstr(ph_errmsg(), "never / itself"));
	assert_int_equal(config_set(&c, "agent", "fs_root", "/srv //"), -PH_ECONFIG);
	assert_int_equal(config_set(&c, "agent", "fs_root", "relative/ct"), -PH_ECONFIG);
	assert_string_equal(c.fs_root, "");
}

static void test_shipped_config_loads(void **state)
{
	struct phaul_config c;

	config_defaults(&c);
	assert_int_equal(config_load(&c, "configs/phaul.conf", false), 0);
	assert_string_equal(c.work_dir, "/var/lib/phaul");
	assert_int_equal(c.max_iterations, 8);
	/* what configs/phaul.conf says is what phaul does without it */
	assert_true(c.auto_converge);
	assert_false(c.allow_downtime_overrun);
	assert_string_equal(c.policy, "predict");
	assert_string_equal(c.fs_root, "");
}

static void test_values(void **state)
{
	struct phaul_config c;
	char *p = write_tmp("[phaul]\ntransport = tcp\nlog_level = debug\n"
			    "[migrate]\nbwlimit = 100M\ncompress = no\ndowntime_limit_ms = 50\n"
			    "auto_converge = off\nallow_downtime_overrun = yes\npolicy = fixed\n");

	config_defaults(&c);
	assert_int_equal(config_load(&c, p, false), 0);
	assert_string_equal(c.transport, "tcp");
	assert_int_equal(c.bwlimit, 100ull << 20);
	assert_false(c.compress);
	assert_int_equal(c.downtime_limit_ms, 50);
	assert_int_equal(c.log_level, 3);
	assert_false(c.auto_converge);
	assert_true(c.allow_downtime_overrun);
	assert_string_equal(c.policy, "fixed");
	assert_int_equal(config_set(&c, NULL, "policy", "greedy"), -PH_ECONFIG);
	unlink(p);
}

static void test_errors_name_file_line_key(void **state)
{
	struct phaul_config c;
	char *p = write_tmp("[phaul]\ntransport = ssh\n\ntransport = carrier-pigeon\n");

	config_defaults(&c);
	assert_int_equal(config_load(&c, p, false), -PH_ECONFIG);
	assert_non_null(strstr(ph_errmsg(), ":4:"));
	assert_non_null(strstr(ph_errmsg(), "carrier-pigeon"));
	unlink(p);

	p = write_tmp("[nonsense]\nx = 1\n");
	assert_int_equal(config_load(&c, p, false), -PH_ECONFIG);
	assert_non_null(strstr(ph_errmsg(), "unknown section"));
	unlink(p);

	p = write_tmp("[phaul]\nthis line has no equals sign\n");
	assert_int_equal(config_load(&c, p, false), -PH_ECONFIG);
	assert_non_null(strstr(ph_errmsg(), "line 2"));
	unlink(p);
}

static void test_missing(void **state)
{
	struct phaul_config c;

	config_defaults(&c);
	assert_int_equal(config_load(&c, "/nonexistent/phaul.conf", true), 0);
	assert_int_equal(config_load(&c, "/nonexistent/phaul.conf", false), -PH_ECONFIG);
}

static void test_sizes(void **state)
{
	uint64_t v;

	assert_int_equal(config_parse_size("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(config_parse_size("12k", &v), 0);
	assert_int_equal(v, 12 * 1024);
	assert_int_equal(config_parse_size("1G", &v), 0);
	assert_int_equal(v, 1ull << 30);
	assert_int_equal(config_parse_size("5MB", &v), 0);
	assert_int_equal(v, 5ull << 20);
	assert_int_not_equal(config_parse_size("fast", &v), 0);
	assert_int_not_equal(config_parse_size("10X", &v), 0);
	assert_int_not_equal(config_parse_size("", &v), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_fs_root),
		cmocka_unit_test(test_shipped_config_loads),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_errors_name_file_line_key),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_sizes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
