// SPDX-License-Identifier: GPL-2.0
/*
 * engine/criu.c criu_hint() and criu_log_errors(): CRIU 3.17's error lines
 * (verbatim from its sources and from dumps in the VM harness) turned into
 * errors that name the option that would allow the object, or say why it
 * cannot move.
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

#include "engine/criu.h"

/* Each line as CRIU 3.17 writes it, and a word its hint must contain. */
static const struct {
	const char *line, *want;
} lines[] = {
	{ "(00.041231) Error (criu/file-lock.c:110): Some file locks are hold by dumping tasks! "
	  "You can try --file-locks to dump them.",
	  "--file-locks ([criu] file_locks)" },
	{ "(00.041231) Error (criu/file-lock.c:362): Some file locks are hold by dumping tasks!"
	  "You can try --file-locks to dump them.",
	  "--file-locks" },
	{ "(00.020000) Error (criu/file-lock.c:102): Unresolved lock found pid 77 ino 1234",
	  "cannot be migrated" },
	{ "(00.010101) Error (criu/files-reg.c:1042): Can't create link remap for /srv/x. Use "
	  "link-remap option.",
	  "--link-remap ([criu] link_remap)" },
	{ "(00.031000) Error (criu/files-reg.c:950): Can't dump ghost file /var/lib/wl/ghost of "
	  "2097152 size, increase limit",
	  "--ghost-limit SIZE ([criu] ghost_limit)" },
	{ "(00.012000) Error (criu/sk-unix.c:864): External socket is used. Consider using "
	  "--ext-unix-sk option.",
	  "--ext-unix-sk ([criu] ext_unix_sk)" },
	{ "(00.300000) Error (criu/sk-unix.c:1911): External socket found in image. Consider "
	  "using the --ext-unix-sk option to allow restoring it.",
	  "restore needs --ext-unix-sk" },
	{ "(00.012000) Error (criu/sk-unix.c:870): Can't dump half of stream unix connection.",
	  "cannot be migrated" },
	{ "(00.012000) Error (criu/sk-unix.c:876): Can't dump name-less external socket.",
	  "nameless socket" },
	{ "(00.050000) Error (criu/fsnotify.c:263): Can't find suitable path for handle (dev "
	  "0x1a ino 0x3f): -2",
	  "inotify" },
};

static void test_hint_per_line(void **state)
{
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		const char *h = criu_hint(lines[i].line);

		if (!h || !strstr(h, lines[i].want))
			fail_msg("line %zu: hint '%s' lacks '%s'", i, h ? h : "(none)",
				 lines[i].want);
	}
}

static void test_no_hint_for_other_lines(void **state)
{
	assert_null(criu_hint("(00.001) Error (criu/util.c:631): Unable to restore TCP_CORK"));
	assert_null(criu_hint("(00.002) Error (criu/cr-dump.c:2093): Dumping FAILED."));
	assert_null(criu_hint(""));
}

static char *write_log(const char *text)
{
	static char path[64];
	int fd;

	strcpy(path, "/tmp/phaul-hint.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (int)strlen(text));
	close(fd);
	return path;
}

/* The hint comes whole even when the error lines fill the buffer. */
static void test_log_errors_carry_the_hint(void **state)
{
	char out[CRIU_ERRS_LEN], big[4096];
	char *p;

	snprintf(big, sizeof(big),
		 "(00.001) Info: dumping\n"
		 "%s\n"
		 "(00.043) Error (criu/cr-dump.c:1590): Dump files (pid: 4242) failed with -1\n"
		 "(00.044) Error (criu/cr-dump.c:2093): Dumping FAILED. %0300d\n"
		 "(00.045) Error (criu/cr-dump.c:2094): And more %0300d\n",
		 lines[0].line, 0, 0);
	p = write_log(big);
	criu_log_errors(p, out, sizeof(out));
	unlink(p);
	assert_non_null(strstr(out, "Dumping FAILED"));
	assert_non_null(strstr(out, " -- the tree holds file locks"));
	assert_non_null(strstr(out, "(--sync them)"));

	p = write_log("(00.044) Error (criu/cr-dump.c:2093): Dumping FAILED.\n");
	criu_log_errors(p, out, sizeof(out));
	unlink(p);
	assert_string_equal(out, "Error (criu/cr-dump.c:2093): Dumping FAILED.");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hint_per_line),
		cmocka_unit_test(test_no_hint_for_other_lines),
		cmocka_unit_test(test_log_errors_carry_the_hint),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
