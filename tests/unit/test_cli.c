// SPDX-License-Identifier: GPL-2.0
/* The command line's parsers (cli.h): HOST with ports and IPv6, --force names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"
#include "err.h"

static void host_ok(const char *spec, int def, const char *user, const char *host, int port,
		    const char *addr)
{
	struct cli_host h;
	char a[300];

	assert_int_equal(cli_parse_host(spec, def, &h), 0);
	assert_string_equal(h.user, user);
	assert_string_equal(h.host, host);
	assert_int_equal(h.port, port);
	cli_host_addr(&h, a, sizeof(a));
	assert_string_equal(a, addr);
}

static void host_bad(const char *spec, const char *why)
{
	struct cli_host h;

	assert_int_equal(cli_parse_host(spec, 7070, &h), -PH_EUSAGE);
	assert_non_null(strstr(ph_errmsg(), why));
}

static void test_host(void **state)
{
	host_ok("node2", 7070, "", "node2", 7070, "node2:7070");
	host_ok("root@node2", 22, "root", "node2", 22, "node2:22");
	host_ok("node2:17070", 7070, "", "node2", 17070, "node2:17070");
	host_ok("10.0.0.2:1", 7070, "", "10.0.0.2", 1, "10.0.0.2:1");
	host_ok("[::1]:17070", 7070, "", "::1", 17070, "[::1]:17070");
	host_ok("admin@[fd00::2]:2222", 22, "admin", "fd00::2", 2222, "[fd00::2]:2222");
	host_ok("[::1]", 7070, "", "::1", 7070, "[::1]:7070");
	host_ok("::1", 7070, "", "::1", 7070, "[::1]:7070"); /* bare IPv6: no port */
	host_ok("h:65535", 7070, "", "h", 65535, "h:65535");
}

static void test_host_refused(void **state)
{
	host_bad("node2:99999", "port '99999' is not a number in 1..65535"); /* never wraps */
	host_bad("node2:0", "port '0'");
	host_bad("node2:-1", "port '-1'");
	host_bad("node2:+80", "port '+80'");
	host_bad("node2:80x", "port '80x'");
	host_bad("node2:", "port ''");
	host_bad("[::1]:99999", "port '99999'");
	host_bad("[::1", "expected [IPV6]");
	host_bad("[::1]x", "expected [IPV6]");
	host_bad("", "no host name");
	host_bad(":7070", "no host name");
	host_bad("root@", "no host name");
	host_bad("@node2", "bad user");
	host_bad("a/b@node2", "bad user");
	host_bad("no de2", "is not a host name");
	host_bad("../etc", "is not a host name");
}

static void test_force(void **state)
{
	assert_int_equal(cli_check_force("cpu"), 0);
	assert_int_equal(cli_check_force("cpu,pids,criu-check"), 0);
	assert_int_equal(cli_check_force(""), 0);
	assert_int_equal(cli_check_force("cpu,,pids,"), 0);
	assert_int_equal(cli_check_force("cpu,bogus"), -PH_EUSAGE);
	assert_non_null(strstr(ph_errmsg(), "no check named 'bogus' (checks: arch,"));
	assert_int_equal(cli_check_force("cp"), -PH_EUSAGE); /* a prefix is no name */
	assert_int_equal(cli_check_force("cpux"), -PH_EUSAGE);
}

/* Every command has a table with --help and a usage naming the command. */
static void test_tables(void **state)
{
	int n = 0;

	for (const struct cli_cmd *c = cli_cmds; c->name; c++, n++) {
		bool help = false;

		for (const struct option *o = c->opts; o->name; o++)
			help |= !strcmp(o->name, "help") && o->val == 'h';
		assert_true(help);
		assert_non_null(strstr(c->usage, "Usage: phaul"));
		if (c->name[0])
			assert_non_null(strstr(c->usage, c->name));
	}
	assert_int_equal(n, 9); /* "", migrate, check, agent, recover, balance, status, cancel, set */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host),
		cmocka_unit_test(test_host_refused),
		cmocka_unit_test(test_force),
		cmocka_unit_test(test_tables),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
