// SPDX-License-Identifier: GPL-2.0
/*
 * The base's process and full-I/O helpers with real programs and pipes:
 * exec failures and pre_exec steps reported, exit statuses reaped, a child
 * past its deadline killed with its group, only kept fds inherited, short
 * writes and reads completed, a closed socket reader EPIPE not SIGPIPE.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "spawn.h"
#include "util.h"

static pid_t run_sh(const char *script, int out, bool group)
{
	char *argv[] = { "sh", "-c", (char *)script, NULL };
	struct spawn sp = { .path = "/bin/sh",
			    .argv = argv,
			    .std = { SPAWN_NULL, out, SPAWN_INHERIT },
			    .own_group = group,
			    .close_fds = true,
			    .report = true,
			    .exit_code = 127 };
	pid_t pid;
	int step;

	assert_int_equal(spawn(&sp, &pid, &step), 0);
	assert_true(pid > 0);
	return pid;
}

static void test_exit_status(void **state)
{
	pid_t pid = run_sh("exit 3", SPAWN_NULL, false);
	int st;

	assert_int_equal(spawn_reap(pid, &st, -1, false), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 3);
	/* Reaped once: a second reap finds no child. */
	assert_int_equal(spawn_reap(pid, &st, 0, false), -1);
	assert_int_equal(errno, ECHILD);
	assert_int_equal(st, 0);
}

static void test_exec_failure_reported(void **state)
{
	char *argv[] = { "nope", NULL };
	struct spawn sp = { .path = "/nonexistent/phaul-nope",
			    .argv = argv,
			    .std = { SPAWN_NULL, SPAWN_NULL, SPAWN_NULL },
			    .report = true,
			    .exit_code = 127 };
	pid_t pid;
	int step;

	assert_int_equal(spawn(&sp, &pid, &step), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(step, 0);
	assert_int_equal(pid, -1);
	/* Not reported: the child's exit code says it. */
	sp.report = false;
	assert_int_equal(spawn(&sp, &pid, &step), 0);
	assert_int_equal(spawn_reap(pid, &step, -1, false), pid);
	assert_true(WIFEXITED(step));
	assert_int_equal(WEXITSTATUS(step), 127);
}

static int fail_step(void *arg)
{
	errno = EPERM;
	return *(int *)arg;
}

static void test_pre_exec_step(void **state)
{
	char *argv[] = { "true", NULL };
	int code = 4, step;
	struct spawn sp = { .path = "/bin/true",
			    .argv = argv,
			    .std = { SPAWN_NULL, SPAWN_NULL, SPAWN_NULL },
			    .pre_exec = fail_step,
			    .arg = &code,
			    .report = true,
			    .exit_code = 127 };
	pid_t pid;

	assert_int_equal(spawn(&sp, &pid, &step), -1);
	assert_int_equal(step, 4);
	assert_int_equal(errno, EPERM);
}

static void test_reap_deadline_kills_group(void **state)
{
	int p[2], st;
	char c;
	pid_t pid;
	struct pollfd pf = { .events = POLLIN };

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pf.fd = p[0];
	/* A grandchild holds the pipe: EOF only once the whole group is dead. */
	pid = run_sh("sleep 30 & sleep 30", p[1], true);
	close(p[1]);
	assert_int_equal(spawn_reap(pid, &st, 100, true), pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
	/* Within 2 s, not when sleep would end: the grandchild was killed too. */
	assert_int_equal(poll(&pf, 1, 2000), 1);
	assert_int_equal(read(p[0], &c, 1), 0);
	close(p[0]);
}

static void test_only_kept_fds(void **state)
{
	char *argv[] = { "sh", "-c", "ls /proc/self/fd", NULL };
	int p[2], keep, other, st;
	char buf[256] = "", want[16];
	struct spawn sp = { .path = "/bin/sh",
			    .argv = argv,
			    .std = { SPAWN_NULL, -1, SPAWN_NULL },
			    .close_fds = true,
			    .keep = &keep,
			    .nkeep = 1,
			    .report = true,
			    .exit_code = 127 };
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	keep = open("/dev/null", O_RDONLY | O_CLOEXEC);
	other = open("/dev/null", O_RDONLY); /* not close-on-exec, still not inherited */
	assert_true(keep >= 0 && other >= 0);
	sp.std[1] = p[1];
	assert_int_equal(spawn(&sp, &pid, &st), 0);
	close(p[1]);
	n = read_full(p[0], buf, sizeof(buf) - 1);
	assert_true(n > 0);
	assert_int_equal(spawn_reap(pid, &st, -1, false), pid);
	/* 0 1 2, keep, and the fd ls opens to list them. */
	snprintf(want, sizeof(want), "\n%d\n", keep);
	assert_non_null(strstr(buf, want));
	snprintf(want, sizeof(want), "\n%d\n", other);
	assert_null(strstr(buf, want));
	close(p[0]);
	close(keep);
	close(other);
}

static void test_full_io(void **state)
{
	static char big[1 << 20], back[sizeof(big) + 1];
	int p[2], st;
	pid_t pid;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7);
	/* More than a pipe holds: write_full must loop over short writes. */
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		_exit(write_full(p[1], big, sizeof(big)) == 0 ? 0 : 1);
	}
	close(p[1]);
	/* read_full stops at EOF: one byte less than asked, all of it there. */
	assert_int_equal(read_full(p[0], back, sizeof(back)), sizeof(big));
	assert_memory_equal(back, big, sizeof(big));
	assert_int_equal(spawn_reap(pid, &st, -1, false), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(p[0]);
}

static void test_write_full_closed_socket(void **state)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL }, old;
	int sv[2];

	/* SIGPIPE at its default would kill the test: write_full must not raise it. */
	sigaction(SIGPIPE, &dfl, &old);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	close(sv[1]);
	assert_int_equal(write_full(sv[0], "x", 1), -1);
	assert_int_equal(errno, EPIPE);
	close(sv[0]);
	sigaction(SIGPIPE, &old, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_status),
		cmocka_unit_test(test_exec_failure_reported),
		cmocka_unit_test(test_pre_exec_step),
		cmocka_unit_test(test_reap_deadline_kills_group),
		cmocka_unit_test(test_only_kept_fds),
		cmocka_unit_test(test_full_io),
		cmocka_unit_test(test_write_full_closed_socket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
