// SPDX-License-Identifier: GPL-2.0
/*
 * Auto-converge's cgroup helpers on real /proc texts. Moving processes
 * between cgroups needs a cgroup v2 hierarchy phaul may write to: that part
 * runs in the VM harness (scenario 46).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "throttle.h"
#include "util.h"

static void test_parse_v2_line(void **state)
{
	char cg[64];

	assert_int_equal(throttle_parse_proc_cgroup("0::/\n", cg, sizeof(cg)), 0);
	assert_string_equal(cg, "/");
	/* hybrid hierarchy: v1 lines first */
	assert_int_equal(throttle_parse_proc_cgroup("12:cpu,cpuacct:/x\n1:name=systemd:/y\n"
						    "0::/user.slice/session-1.scope\n",
						    cg, sizeof(cg)),
			 0);
	assert_string_equal(cg, "/user.slice/session-1.scope");
}

static void test_parse_rejects(void **state)
{
	char cg[8];

	assert_true(throttle_parse_proc_cgroup("12:cpu:/x\n", cg, sizeof(cg)) < 0); /* v1 only */
	assert_true(throttle_parse_proc_cgroup("0::\n", cg, sizeof(cg)) < 0);
	assert_true(throttle_parse_proc_cgroup("0::relative\n", cg, sizeof(cg)) < 0);
	assert_true(throttle_parse_proc_cgroup("0::/far/too/long/for/it\n", cg, sizeof(cg)) < 0);
	assert_true(throttle_parse_proc_cgroup("", cg, sizeof(cg)) < 0);
}

/* This process's own /proc/self/cgroup parses (the host runs cgroup v2). */
static void test_parse_own(void **state)
{
	char text[4096], cg[256];

	assert_int_equal(read_text("/proc/self/cgroup", text, sizeof(text)), 0);
	if (!strstr(text, "0::"))
		skip();
	assert_int_equal(throttle_parse_proc_cgroup(text, cg, sizeof(cg)), 0);
	assert_true(cg[0] == '/');
}

static void test_cpu_max(void **state)
{
	char buf[32];

	throttle_cpu_max(0, buf, sizeof(buf));
	assert_string_equal(buf, "max 100000");
	throttle_cpu_max(20, buf, sizeof(buf));
	assert_string_equal(buf, "80000 100000");
	throttle_cpu_max(99, buf, sizeof(buf));
	assert_string_equal(buf, "1000 100000");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_v2_line),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_parse_own),
		cmocka_unit_test(test_cpu_max),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
