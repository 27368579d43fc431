// SPDX-License-Identifier: GPL-2.0
/*
 * engine/lazy.c: the counts read from a criu lazy-pages log (the lines
 * CRIU 3.17's criu/uffd.c writes at -v4), and a daemon that cannot start.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"
#include "engine/lazy.h"

static const char log_text[] = "(00.000012) Waiting for incoming connections on lazy-pages.socket\n"
			       "(00.081234) 2301-5: Found 40 VMAs in image\n"
			       "(00.081240) 2301-5: Found 16400 pages to be handled by UFFD\n"
			       "(00.082001)   2302: 2302-7: Found 3 pages to be handled by UFFD\n"
			       "(00.090001) 2301-5: #PF at 0x7f1234567000\n"
			       "(00.090010) 2301-5: uffd_copy: 0x7f1234567000/4096\n"
			       "(00.090100) 2301-5: uffd_copy: 0x7f1200000000/1048576\n"
			       "(00.090200) 2302-7: #PF at 0x55aa00001000\n"
			       "(00.090210) 2302-7: zero page at 0x55aa00001000\n"
			       "(00.090300) 2302-7: uffd_copy: 0x55aa00002000/8192\n"
			       "(00.100000) 2301-5: UFFD transferred pages: (257/16400)\n";

static void test_parse(void **state)
{
	char path[] = "/tmp/test_store_lazy.XXXXXX";
	struct criu_lazy_stats st;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, log_text, sizeof(log_text) - 1), (ssize_t)sizeof(log_text) - 1);
	close(fd);
	assert_int_equal(criu_lazy_stats_parse(path, 4096, &st), 0);
	assert_int_equal(st.tasks, 2);
	assert_int_equal(st.pages_total, 16403);
	assert_int_equal(st.pages_fault, 2);
	assert_int_equal(st.pages_copied, 1 + 256 + 2);
	assert_int_equal(st.pages_missing, 16403 - 259);
	unlink(path);
	assert_int_equal(criu_lazy_stats_parse(path, 4096, &st), -PH_ESYS);
}

/* A "criu" that exits at once: the start fails naming the daemon, no zombie left. */
static void test_daemon_fails(void **state)
{
	struct criu_lazy *l = NULL;

	setenv("PHAUL_CRIU", "/bin/false", 1);
	assert_int_equal(criu_lazy_start("/tmp", &l), -PH_ECRIU);
	assert_null(l);
	assert_non_null(strstr(ph_errmsg(), "lazy-pages"));
	unsetenv("PHAUL_CRIU");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_daemon_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
