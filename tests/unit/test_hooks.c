// SPDX-License-Identifier: GPL-2.0
/*
 * Stage hooks, real shell scripts in a temp dir appending to a log: order,
 * environment, what a hook inherits, failures with status and last words,
 * a hanging hook killed with its children, skipped and refused files.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"
#include "hooks.h"
#include "util.h"

struct hdir {
	char dir[64];
	char log[96];
};

static int setup(void **state)
{
	struct hdir *h = calloc(1, sizeof(*h));

	strcpy(h->dir, "/tmp/phaul-hooks.XXXXXX");
	assert_non_null(mkdtemp(h->dir));
	snprintf(h->log, sizeof(h->log), "%s/log", h->dir);
	setenv("HOOK_LOG", h->log, 1);
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	struct hdir *h = *state;

	rm_tree(h->dir);
	free(h);
	return 0;
}

/* A shell hook at dir/rel with body, mode given. */
static void hook(struct hdir *h, const char *rel, unsigned mode, const char *body)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", h->dir, rel);
	if (strchr(rel, '/')) {
		char d[256];

		snprintf(d, sizeof(d), "%s", path);
		*strrchr(d, '/') = '\0';
		assert_int_equal(mkdir_p(d, 0755), 0);
	}
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static char *log_text(struct hdir *h)
{
	uint8_t *buf;
	size_t len;
	char *s;

	if (read_file(h->log, 1 << 20, &buf, &len) < 0)
		return strdup("");
	s = malloc(len + 1);
	memcpy(s, buf, len);
	s[len] = '\0';
	free(buf);
	return s;
}

#define LOG_ME "echo \"$(basename $0) $1\" >> $HOOK_LOG"

static void test_order(void **state)
{
	struct hdir *h = *state;
	char *log;

	hook(h, "pre-dump", 0755, LOG_ME);
	hook(h, "pre-dump.d/20-b", 0755, LOG_ME);
	hook(h, "pre-dump.d/10-a", 0755, LOG_ME);
	hook(h, "pre-dump.d/10-a.sh", 0755, LOG_ME);
	hook(h, "pre-dump.d/.hidden", 0755, LOG_ME);
	hook(h, "pre-dump.d/30-c~", 0755, LOG_ME);
	hook(h, "pre-dump.d/40-d.dpkg-old", 0755, LOG_ME);
	hook(h, "post-dump.d/10-other-stage", 0755, LOG_ME);
	assert_int_equal(hooks_run(h->dir, HOOK_PRE_DUMP, NULL), 0);
	log = log_text(h);
	assert_string_equal(log, "pre-dump pre-dump\n10-a pre-dump\n10-a.sh pre-dump\n"
				 "20-b pre-dump\n");
	free(log);
}

static void test_env(void **state)
{
	struct hdir *h = *state;
	struct hook_env e = {
	    .ct = "pid:4242",
	    .ct_type = "pid",
	    .ct_id = "4242",
	    .src_host = "node1",
	    .dst_host = "node2",
	    .side = "source",
	    .work_dir = "/var/lib/phaul/out-x",
	    .root_pid = 4242,
	};
	int p[2];
	char body[512], *log;

	/* An fd of ours without CLOEXEC (like a protocol socket) must not reach the hook. */
	assert_int_equal(pipe(p), 0);
	snprintf(body, sizeof(body),
		 "{ env | grep ^PHAUL_ | sort; echo arg=$1;"
		 " [ -e /proc/self/fd/%d ] && echo LEAK; [ -e /proc/self/fd/%d ] && echo LEAK;"
		 " read x && echo STDIN; true; } >> $HOOK_LOG",
		 p[0], p[1]);
	hook(h, "post-restore", 0700, body);
	setenv("PHAUL_STALE", "from the parent", 1);
	assert_int_equal(hooks_run(h->dir, HOOK_POST_RESTORE, &e), 0);
	unsetenv("PHAUL_STALE");
	close(p[0]);
	close(p[1]);
	log = log_text(h);
	assert_string_equal(log, "PHAUL_CT=pid:4242\n"
				 "PHAUL_CT_ID=4242\n"
				 "PHAUL_CT_TYPE=pid\n"
				 "PHAUL_DST_HOST=node2\n"
				 "PHAUL_ROOT_PID=4242\n"
				 "PHAUL_SIDE=source\n"
				 "PHAUL_SRC_HOST=node1\n"
				 "PHAUL_STAGE=post-restore\n"
				 "PHAUL_WORK_DIR=/var/lib/phaul/out-x\n"
				 "arg=post-restore\n");
	free(log);
}

/* Values from the peer reach a hook as one printable line, capped. */
static void test_env_peer_strings(void **state)
{
	struct hdir *h = *state;
	char err[5000], *log, want[HOOKS_ENV_VAL_MAX + 64];
	struct hook_env e = {
	    .ct = "lxc:web\001",
	    .src_host = "evil\n[dst] migration from x committed\033[2K\r",
	    .side = "destination",
	    .error = err,
	};

	memset(err, 'E', sizeof(err) - 1);
	err[sizeof(err) - 1] = '\0';
	hook(h, "on-failure", 0700,
	     "printf '%s|%s|%s\\n' \"$PHAUL_CT\" \"$PHAUL_SRC_HOST\" \"${#PHAUL_ERROR}\""
	     " >> $HOOK_LOG");
	assert_int_equal(hooks_run(h->dir, HOOK_ON_FAILURE, &e), 0);
	log = log_text(h);
	snprintf(want, sizeof(want), "lxc:web\\x01|evil\\n[dst] migration from x committed"
				     "\\x1b[2K\\r|%d\n", HOOKS_ENV_VAL_MAX - 1);
	assert_string_equal(log, want);
	free(log);
}

static void test_failure(void **state)
{
	struct hdir *h = *state;
	char *log;

	hook(h, "pre-restore.d/10-ok", 0755, LOG_ME);
	hook(h, "pre-restore.d/20-bad", 0755,
	     LOG_ME "; echo some noise >&2; echo 'rootfs missing' >&2; echo out; exit 3");
	hook(h, "pre-restore.d/30-never", 0755, LOG_ME);
	assert_int_equal(hooks_run(h->dir, HOOK_PRE_RESTORE, NULL), -PH_EHOOK);
	print_message("%s\n", ph_errmsg());
	assert_non_null(strstr(ph_errmsg(), "pre-restore.d/20-bad"));
	assert_non_null(strstr(ph_errmsg(), "status 3"));
	assert_non_null(strstr(ph_errmsg(), ": rootfs missing"));
	log = log_text(h);
	assert_string_equal(log, "10-ok pre-restore\n20-bad pre-restore\n");
	free(log);
}

/* on-failure: every hook runs; the first failure is the one reported. */
static void test_on_failure_runs_all(void **state)
{
	struct hdir *h = *state;
	struct hook_env e = {.error = "restore failed on node2"};
	char *log;

	hook(h, "on-failure.d/10-bad", 0755, LOG_ME "; echo first >&2; exit 1");
	hook(h, "on-failure.d/20-bad", 0755, LOG_ME "; echo second >&2; exit 2");
	hook(h, "on-failure.d/30-ok", 0755, "echo \"$PHAUL_ERROR\" >> $HOOK_LOG");
	assert_int_equal(hooks_run(h->dir, HOOK_ON_FAILURE, &e), -PH_EHOOK);
	assert_non_null(strstr(ph_errmsg(), "10-bad"));
	assert_non_null(strstr(ph_errmsg(), ": first"));
	log = log_text(h);
	assert_string_equal(log, "10-bad on-failure\n20-bad on-failure\nrestore failed on node2\n");
	free(log);
}

static bool gone(pid_t pid)
{
	char path[64], st[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return true;
	st[0] = '\0';
	if (!fgets(st, sizeof(st), f))
		st[0] = '\0';
	fclose(f);
	return strstr(st, ") Z ") != NULL;
}

static void test_timeout(void **state)
{
	struct hdir *h = *state;
	uint64_t t0 = now_us();
	char *log;
	pid_t child;
	int i;

	/* It ignores SIGTERM, and leaves a child behind: both must go. */
	hook(h, "pre-dump", 0755,
	     "trap '' TERM; sleep 60 & echo $! >> $HOOK_LOG; echo stuck >&2; wait; sleep 60");
	assert_int_equal(hooks_run_timeout(h->dir, HOOK_PRE_DUMP, NULL, 300), -PH_EHOOK);
	print_message("%s (%llu ms)\n", ph_errmsg(), (unsigned long long)(now_us() - t0) / 1000);
	assert_non_null(strstr(ph_errmsg(), "did not finish within 300 ms"));
	assert_non_null(strstr(ph_errmsg(), "stuck"));
	assert_true(now_us() - t0 < 10 * 1000000ull);
	log = log_text(h);
	child = (pid_t)atoi(log);
	free(log);
	assert_true(child > 0);
	for (i = 0; i < 100 && !gone(child); i++)
		usleep(20000);
	assert_true(gone(child));
}

static void test_skipped_and_refused(void **state)
{
	struct hdir *h = *state;
	char *log;

	/* Not executable: skipped (chmod -x disables a hook); the others run. */
	hook(h, "post-dump.d/10-disabled", 0644, LOG_ME);
	hook(h, "post-dump.d/20-on", 0755, LOG_ME);
	assert_int_equal(hooks_run(h->dir, HOOK_POST_DUMP, NULL), 0);
	log = log_text(h);
	assert_string_equal(log, "20-on post-dump\n");
	free(log);
	/* Writable by others: anyone could make us run anything; refused. */
	hook(h, "on-success", 0757, LOG_ME);
	assert_int_equal(hooks_run(h->dir, HOOK_ON_SUCCESS, NULL), -PH_EHOOK);
	assert_non_null(strstr(ph_errmsg(), "writable"));
	/* Nothing for a stage, or no hooks dir at all: nothing to do. */
	assert_int_equal(hooks_run(h->dir, HOOK_BEFORE_CHECK, NULL), 0);
	assert_int_equal(hooks_run("/nonexistent/phaul/hooks", HOOK_PRE_DUMP, NULL), 0);
	assert_int_equal(hooks_run("", HOOK_PRE_DUMP, NULL), 0);
	assert_int_equal(hooks_run(h->dir, "../x", NULL), -PH_EHOOK);
}

/* A hook that is killed by a signal says which. */
static void test_signal(void **state)
{
	struct hdir *h = *state;

	hook(h, "post-restore", 0755, "kill -SEGV $$");
	assert_int_equal(hooks_run(h->dir, HOOK_POST_RESTORE, NULL), -PH_EHOOK);
	assert_non_null(strstr(ph_errmsg(), "signal 11"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_env, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_env_peer_strings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_failure, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_on_failure_runs_all, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_skipped_and_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_signal, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
