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
	assert_string_equal(c.mode, "precopy");
	assert_int_equal(config_set(&c, NULL, "mode", "postcopy"), 0);
	assert_string_equal(c.mode, "postcopy");
	assert_int_equal(config_set(&c, NULL, "mode", "lazy"), -PH_ECONFIG);
	assert_string_equal(c.mode, "postcopy");
	assert_int_equal(config_set(&c, NULL, "mode", "hybrid"), 0);
	assert_string_equal(c.mode, "hybrid");
	unlink(p);
}

/* [criu] keys, and which of them reach a dump and a restore. */
static void test_criu_keys(void **state)
{
	struct criu_opts d = CRIU_OPTS_INIT, r = CRIU_OPTS_INIT;
	struct phaul_config c;
	char *p = write_tmp("[criu]\nfile_locks = yes\nlink_remap = yes\next_unix_sk = on\n"
			    "ghost_limit = 4M\nmanage_cgroups = full\ntcp_established = yes\n"
			    "shell_job = no\n");

	config_defaults(&c);
	assert_false(c.criu.file_locks);
	assert_int_equal(c.criu.ghost_limit, 0);
	assert_int_equal(c.criu.cg_mode, CRIU_CG_UNSET);
	assert_int_equal(config_load(&c, p, false), 0);
	assert_true(c.criu.file_locks && c.criu.link_remap && c.criu.ext_unix_sk);
	assert_true(c.criu.tcp_established);
	assert_false(c.criu.shell_job);
	assert_int_equal(c.criu.ghost_limit, 4u << 20);
	assert_int_equal(c.criu.cg_mode, CRIU_CG_FULL);
	assert_string_equal(criu_cg_mode_name(c.criu.cg_mode), "full");

	config_criu_opts(&c.criu, false, &d);
	assert_true(d.file_locks && d.link_remap && d.ext_unix_sk && d.tcp_established);
	assert_int_equal(d.ghost_limit, 4u << 20);
	assert_int_equal(d.cg_mode, CRIU_CG_FULL);
	/* CRIU 3.17 reads link_remap and ghost_limit only while dumping */
	config_criu_opts(&c.criu, true, &r);
	assert_true(r.file_locks && r.ext_unix_sk && r.tcp_established);
	assert_false(r.link_remap);
	assert_int_equal(r.ghost_limit, 0);
	assert_int_equal(r.cg_mode, CRIU_CG_FULL);

	assert_int_equal(config_set(&c, "criu", "manage_cgroups", "hard"), -PH_ECONFIG);
	assert_int_equal(config_set(&c, "criu", "manage_cgroups", ""), -PH_ECONFIG);
	assert_int_equal(config_set(&c, "criu", "ghost_limit", "0"), -PH_ECONFIG);
	assert_int_equal(config_set(&c, "criu", "ghost_limit", "4G"), -PH_ECONFIG);
	assert_int_equal(config_set(&c, "criu", "ghost_limit", "4095M"), 0);
	assert_int_equal(config_set(&c, "criu", "file_locks", "maybe"), -PH_ECONFIG);
	assert_int_equal(config_set(&c, "criu", "leave_running", "yes"), -PH_ECONFIG);
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

/* agent --listen bounds: "N" or "start:rate:full", and sane ranges only. */
static void test_bounds_keys(void **state)
{
	struct phaul_config c;

	config_defaults(&c);
	assert_int_equal(c.max_startups_full, 10);
	assert_int_equal(c.per_source_max_startups, 3);
	assert_int_equal(config_set(&c, "agent", "max_startups", "20"), 0);
	assert_int_equal(c.max_startups_start, 20);
	assert_int_equal(c.max_startups_full, 20);
	assert_int_equal(config_set(&c, "agent", "max_startups", "10:30:60"), 0);
	assert_int_equal(c.max_startups_start, 10);
	assert_int_equal(c.max_startups_rate, 30);
	assert_int_equal(c.max_startups_full, 60);
	assert_int_equal(config_set(&c, "agent", "max_startups", "0"), -PH_ECONFIG);
	assert_int_equal(config_set(&c, "agent", "max_startups", "60:30:10"), -PH_ECONFIG);
	assert_int_equal(config_set(&c, "agent", "max_startups", "10:101:60"), -PH_ECONFIG);
	assert_int_equal(config_set(&c, "agent", "max_startups", "10:30:60x"), -PH_ECONFIG);
	assert_int_equal(config_set(&c, "agent", "max_startups", "100000"), -PH_ECONFIG);
	assert_int_equal(config_set(&c, "agent", "per_source_max_startups", "0"), -PH_ECONFIG);
	assert_int_equal(config_set(&c, "agent", "max_sessions", "2"), 0);
	assert_int_equal(c.max_sessions, 2);
	assert_int_equal(config_set(&c, "agent", "login_grace_time", "0"), -PH_ECONFIG);
	assert_int_equal(config_set(&c, "agent", "idle_timeout", "2"), -PH_ECONFIG);
	assert_int_equal(config_set(&c, "agent", "idle_timeout", "30"), 0);
	assert_int_equal(c.idle_timeout_s, 30);
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
		cmocka_unit_test(test_criu_keys),
		cmocka_unit_test(test_errors_name_file_line_key),
		cmocka_unit_test(test_bounds_keys),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_sizes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
