// SPDX-License-Identifier: GPL-2.0
/*
 * engine/criu.c on this host, with the real criu where there is one and
 * with fake "criu" scripts ($PHAUL_CRIU) for the failure paths. CRIU 3.17
 * cannot initialise on kernels that split [vvar] (>= 6.x here), so CHECK
 * is expected to fail with a readable message; VERSION needs no kernel
 * probing and must work. Every test ends with no child left (no zombie).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"
#include "engine/criu.h"

static char tmpdir[] = "/tmp/phaul-criu-XXXXXX";

static bool have_criu(void)
{
	return access("/usr/sbin/criu", X_OK) == 0 || system("command -v criu >/dev/null") == 0;
}

static void assert_no_children(void)
{
	errno = 0;
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

static const char *fake(const char *name, const char *body)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
	return path;
}

static void test_version(void **state)
{
	struct criu_version v;

	unsetenv("PHAUL_CRIU");
	if (!have_criu())
		skip();
	assert_int_equal(criu_version(&v), 0);
	printf("criu version %s gitid '%s'\n", v.str, v.gitid);
	assert_int_equal(v.major, 3);
	assert_int_equal(v.minor, 17);
	assert_int_equal(strncmp(v.str, "3.17", 4), 0);
	assert_no_children();
}

static void test_check(void **state)
{
	char msg[1024], log[512], cmd[700];
	int r;

	unsetenv("PHAUL_CRIU");
	if (!have_criu())
		skip();
	r = criu_check(tmpdir, msg, sizeof(msg));
	assert_no_children();
	if (r == 0) {
		printf("criu check passed on this host\n");
		return;
	}
	printf("check: %s\nerr: %s\n", msg, ph_errmsg());
	assert_int_equal(r, -PH_ECRIU);
	assert_true(strlen(msg) > 0);
	assert_non_null(strstr(ph_errmsg(), "criu CHECK failed"));
	snprintf(log, sizeof(log), "%s/check.log", tmpdir);
	assert_non_null(strstr(ph_errmsg(), log));
	/* The host's known failure must be named, not just "failed". */
	snprintf(cmd, sizeof(cmd), "grep -q 'kerndat\\|vdso' %s", log);
	if (system(cmd) == 0)
		assert_true(strstr(msg, "vdso") || strstr(msg, "kerndat"));
}

static void test_feature_check(void **state)
{
	struct criu_features f;
	int r;

	unsetenv("PHAUL_CRIU");
	if (!have_criu())
		skip();
	r = criu_feature_check(&f);
	printf("feature check: %d %s\n", r, r ? ph_errmsg() : "ok");
	assert_true(r == 0 || r == -PH_ECRIU);
	assert_no_children();
}

static void test_missing_binary(void **state)
{
	struct criu_version v;

	setenv("PHAUL_CRIU", "/nonexistent", 1);
	assert_int_equal(criu_version(&v), -PH_ECRIU);
	printf("missing: %s\n", ph_errmsg());
	assert_non_null(strstr(ph_errmsg(), "/nonexistent"));
	assert_non_null(strstr(ph_errmsg(), "No such file"));
	assert_no_children();
	unsetenv("PHAUL_CRIU");
}

/* swrk dies before answering: EOF, reaped, exit status in the message. */
static void test_swrk_dies(void **state)
{
	struct criu_version v;
	int r;

	setenv("PHAUL_CRIU", fake("die", "exit 3"), 1);
	r = criu_version(&v);
	printf("died: %s\n", ph_errmsg());
	assert_int_equal(r, -PH_ECRIU);
	assert_non_null(strstr(ph_errmsg(), "criu swrk exited (status 3)"));
	assert_no_children();
	setenv("PHAUL_CRIU", fake("kill", "kill -9 $$"), 1);
	assert_int_equal(criu_version(&v), -PH_ECRIU);
	assert_non_null(strstr(ph_errmsg(), "killed by signal 9"));
	assert_no_children();
	unsetenv("PHAUL_CRIU");
}

/* A swrk that never answers: the wait times out, close reaps it. */
static void test_timeout(void **state)
{
	struct criu_opts o = CRIU_OPTS_INIT;
	struct criu_conn *c;

	setenv("PHAUL_CRIU", fake("mute", "cat <&$2 >/dev/null"), 1);
	assert_int_equal(criu_conn_open(&c), 0);
	criu_conn_set_timeout(c, 200);
	o.images_dir = tmpdir;
	assert_int_equal(criu_pre_dump(c, &o), -PH_ETIMEDOUT);
	assert_non_null(strstr(ph_errmsg(), "no answer"));
	criu_conn_close(c);
	assert_no_children();
	unsetenv("PHAUL_CRIU");
}

/* fds named to criu_conn_open_fds() reach swrk; our other fds do not. */
static void test_fd_passing(void **state)
{
	char out[300], line[64], want[32], leak[32];
	struct criu_conn *c;
	int keep[2], other[2], found = 0, leaked = 0;
	FILE *f;

	assert_int_equal(pipe(keep), 0);
	assert_int_equal(pipe(other), 0); /* no CLOEXEC: must still not leak */
	snprintf(out, sizeof(out), "%s/fds.out", tmpdir);
	setenv("FDS_OUT", out, 1);
	setenv("PHAUL_CRIU", fake("fds", "ls /proc/$$/fd > \"$FDS_OUT.tmp\"; "
				  "mv \"$FDS_OUT.tmp\" \"$FDS_OUT\"; cat <&$2 >/dev/null"), 1);
	unlink(out);
	if (criu_conn_open_fds(&c, &keep[1], 1))
		fail_msg("%s", ph_errmsg());
	while (access(out, F_OK))
		usleep(10000);
	criu_conn_close(c);
	assert_no_children();
	snprintf(want, sizeof(want), "%d\n", keep[1]);
	snprintf(leak, sizeof(leak), "%d\n", other[0]);
	f = fopen(out, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		found |= !strcmp(line, want);
		leaked |= !strcmp(line, leak);
	}
	fclose(f);
	assert_true(found);
	assert_false(leaked);
	assert_int_equal(criu_conn_open_fds(&c, (int[]){ 1 }, 1), -PH_EUSAGE);
	close(keep[0]);
	close(keep[1]);
	close(other[0]);
	close(other[1]);
	unsetenv("PHAUL_CRIU");
}

/* Misuse is refused before anything is sent. */
static void test_sequence_rules(void **state)
{
	struct criu_opts o = CRIU_OPTS_INIT;
	struct criu_ps *ps;
	pid_t pid;

	assert_int_equal(criu_page_server(&o, &ps), -PH_EUSAGE);
	assert_null(ps);
	assert_int_equal(criu_restore(&o, &pid), -PH_EUSAGE);
	assert_int_equal(pid, -1);
	assert_no_children();
}

/* The leave-stopped config: an absolute path under dir, one option CRIU reads. */
static void test_hold_conf(void **state)
{
	char path[PATH_MAX], text[256] = "";
	FILE *f;
	size_t n;

	(void)state;
	assert_int_equal(criu_hold_conf(tmpdir, path, sizeof(path)), 0);
	assert_true(path[0] == '/');
	assert_non_null(strstr(path, "/" CRIU_HOLD_CONF));
	assert_non_null(f = fopen(path, "r"));
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	/* one option a line, no dashes (CRIU's parse_config) */
	assert_non_null(strstr(text, "\nleave-stopped\n"));
	assert_null(strstr(text, "--"));
	assert_int_equal(criu_hold_conf("/nonexistent/dir", path, sizeof(path)), -PH_ESYS);
	assert_int_equal(criu_hold_conf(tmpdir, path, 8), -PH_EPATH);
}

/*
 * A swrk started in advance (the destination's restore): criu_restore
 * takes it over and ends it even when the request is refused; a dead one
 * is seen as dead before a request is sent to it.
 */
static void test_restore_conn_in_advance(void **state)
{
	struct criu_opts o = CRIU_OPTS_INIT;
	struct criu_conn *c;
	pid_t pid;

	setenv("PHAUL_CRIU", fake("mute", "cat <&$2 >/dev/null"), 1);
	assert_int_equal(criu_conn_open(&c), 0);
	assert_true(criu_conn_alive(c));
	o.conn = c; /* no images dir: refused, and c closed and reaped */
	assert_int_equal(criu_restore(&o, &pid), -PH_EUSAGE);
	assert_no_children();

	setenv("PHAUL_CRIU", fake("die", "exit 3"), 1);
	assert_int_equal(criu_conn_open(&c), 0);
	for (int i = 0; i < 200 && criu_conn_alive(c); i++)
		usleep(10000);
	assert_false(criu_conn_alive(c));
	assert_false(criu_conn_alive(NULL));
	criu_conn_close(c); /* still reaps it: alive() did not */
	assert_no_children();
	unsetenv("PHAUL_CRIU");
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd);
}

static int setup(void **state)
{
	return mkdtemp(tmpdir) ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_feature_check),
		cmocka_unit_test(test_missing_binary),
		cmocka_unit_test(test_swrk_dies),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_fd_passing),
		cmocka_unit_test(test_sequence_rules),
		cmocka_unit_test(test_hold_conf),
		cmocka_unit_test(test_restore_conn_in_advance),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
