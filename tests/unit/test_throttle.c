// SPDX-License-Identifier: GPL-2.0
/*
 * Auto-converge's cgroup helpers on real /proc texts, and, where this host
 * has a cgroup v2 hierarchy we may write to (root; skipped otherwise), on
 * a real child process moved between real cgroups. Throttling with a real
 * cpu controller runs in the VM harness (scenario 46).
 */
#include <mntent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"
#include "htype.h"
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

/* The cgroup2 mount if we may make cgroups in it; else skip the test. */
static void cg2_or_skip(char *mnt, size_t len)
{
	struct mntent *me;
	char probe[4096];
	FILE *f = setmntent("/proc/self/mounts", "re");

	mnt[0] = '\0';
	while (f && (me = getmntent(f)))
		if (!strcmp(me->mnt_type, "cgroup2")) {
			snprintf(mnt, len, "%s", me->mnt_dir);
			break;
		}
	if (f)
		endmntent(f);
	if (!mnt[0])
		skip();
	snprintf(probe, sizeof(probe), "%s/phaul.test.%d", mnt, (int)getpid());
	if (mkdir(probe, 0755) < 0)
		skip();
	rmdir(probe);
}

/* A child that dies with us, even when an assertion ends the test early. */
static pid_t sleeper(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null, 1); /* not the runner's pipe: it waits for that to close */
		dup2(null, 2);
		pause();
		_exit(0);
	}
	assert_true(pid > 0);
	return pid;
}

static void cgroup_of(pid_t pid, char *cg, size_t len)
{
	char path[64], text[4096];

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	assert_int_equal(read_text(path, text, sizeof(text)), 0);
	assert_int_equal(throttle_parse_proc_cgroup(text, cg, len), 0);
}

static void end(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/*
 * The destination's half: CRIU restored the tree into phaul.throttle.<pid>,
 * made without the cpu controller (so without cpu.max, as seen in the
 * benchmark): the lift must still bring it home and remove the cgroup.
 */
static void test_lift_restored_real(void **state)
{
	char mnt[256], home[256], cg[64], dir[512], now[256], note[512], pid_s[16];
	pid_t pid;

	cg2_or_skip(mnt, sizeof(mnt));
	pid = sleeper();
	cgroup_of(pid, home, sizeof(home));
	snprintf(cg, sizeof(cg), "/phaul.throttle.%d", (int)pid);
	snprintf(dir, sizeof(dir), "%s%s", mnt, cg);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(pid_s, sizeof(pid_s), "%d", (int)pid);
	snprintf(dir, sizeof(dir), "%s%s/cgroup.procs", mnt, cg);
	{
		FILE *f = fopen(dir, "w");

		assert_non_null(f);
		fputs(pid_s, f);
		assert_int_equal(fclose(f), 0);
	}
	cgroup_of(pid, now, sizeof(now));
	assert_string_equal(now, cg);

	assert_int_equal(throttle_lift_restored(pid, cg, true, home, "max", note, sizeof(note)), 0);
	cgroup_of(pid, now, sizeof(now));
	assert_string_equal(now, home);
	assert_non_null(strstr(note, "1 process moved"));
	snprintf(dir, sizeof(dir), "%s%s", mnt, cg);
	assert_int_equal(access(dir, F_OK), -1); /* removed */
	end(pid);
}

/*
 * The source's half on this host: either the cpu controller is there and a
 * throttle then a lift leave the tree where it was, or it is not and
 * throttle_apply says so and changes nothing.
 */
static void test_apply_lift_real(void **state)
{
	static struct ct ct;
	struct throttle t = { 0 };
	char mnt[256], spec[32], home[256], now[256];
	pid_t pid;

	cg2_or_skip(mnt, sizeof(mnt));
	pid = sleeper();
	cgroup_of(pid, home, sizeof(home));
	snprintf(spec, sizeof(spec), "pid:%d", (int)pid);
	assert_int_equal(ct_open(spec, &ct), 0);
	if (throttle_apply(&t, &ct, 20) < 0) {
		assert_non_null(strstr(ph_errmsg(), "auto-converge cannot throttle"));
		assert_string_equal(t.cg, "");
	} else {
		char path[700], text[64];

		snprintf(path, sizeof(path), "%s%s/cpu.max", mnt, t.cg);
		assert_int_equal(read_text(path, text, sizeof(text)), 0);
		assert_string_equal(text, "80000 100000\n");
		assert_int_equal(throttle_lift(&t, &ct), 0);
	}
	cgroup_of(pid, now, sizeof(now));
	assert_string_equal(now, home);
	end(pid);
}

/* Move pid into cgroup cg (made here) under mnt. */
static void into_cg(const char *mnt, const char *cg, pid_t pid)
{
	char path[700];
	FILE *f;

	snprintf(path, sizeof(path), "%s%s", mnt, cg);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s%s/cgroup.procs", mnt, cg);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "%d", (int)pid);
	assert_int_equal(fclose(f), 0);
}

/*
 * A phaul killed while a throttle was in force left its record: the next
 * start (throttle_init(), as `phaul migrate` and `phaul agent` run it)
 * brings the tree home and removes phaul's cgroup. While the record's
 * owner lives, nobody else touches it.
 */
static void test_record_lifted_after_crash_real(void **state)
{
	char mnt[256], home[256], now[256], wd[] = "/tmp/phaul-thr-test.XXXXXX", rec[600];
	struct throttle t, next;
	pid_t pid;

	cg2_or_skip(mnt, sizeof(mnt));
	assert_non_null(mkdtemp(wd));
	pid = sleeper();
	cgroup_of(pid, home, sizeof(home));
	assert_int_equal(throttle_init(&t, wd), 0);
	/* what setup() records before it makes the cgroup and moves the tree */
	snprintf(t.cg, sizeof(t.cg), "/phaul.throttle.%d", (int)pid);
	snprintf(t.home, sizeof(t.home), "%s", home);
	snprintf(t.orig_max, sizeof(t.orig_max), "max 100000");
	t.created = true;
	assert_int_equal(throttle_record(&t, pid), 0);
	into_cg(mnt, t.cg, pid);
	snprintf(rec, sizeof(rec), "%s/throttle/pid-%d.rec", wd, (int)pid);
	assert_int_equal(access(rec, F_OK), 0);

	/* its owner runs: left alone */
	assert_int_equal(throttle_recover(wd), 0);
	cgroup_of(pid, now, sizeof(now));
	assert_string_equal(now, t.cg);

	/* the owner dies (the kernel drops its lock); the next start lifts it */
	close(t.rec_fd);
	assert_int_equal(throttle_init(&next, wd), 1);
	cgroup_of(pid, now, sizeof(now));
	assert_string_equal(now, home);
	snprintf(rec, sizeof(rec), "%s%s", mnt, t.cg);
	assert_int_equal(access(rec, F_OK), -1); /* phaul's cgroup removed */
	snprintf(rec, sizeof(rec), "%s/throttle/pid-%d.rec", wd, (int)pid);
	assert_int_equal(access(rec, F_OK), -1); /* and its record */
	assert_int_equal(throttle_recover(wd), 0);
	end(pid);
	rm_tree(wd);
}

/* A lifted throttle leaves no record behind. */
static void test_record_removed_on_release(void **state)
{
	char wd[] = "/tmp/phaul-thr-test.XXXXXX", rec[600];
	struct throttle t;

	assert_non_null(mkdtemp(wd));
	assert_int_equal(throttle_init(&t, wd), 0);
	snprintf(t.cg, sizeof(t.cg), "/phaul.throttle.%d", 999999);
	snprintf(t.home, sizeof(t.home), "/");
	t.created = true;
	assert_int_equal(throttle_record(&t, 999999), 0);
	snprintf(rec, sizeof(rec), "%s/throttle/pid-999999.rec", wd);
	assert_int_equal(access(rec, F_OK), 0);
	throttle_release(&t);
	assert_int_equal(access(rec, F_OK), -1);
	rm_tree(wd);
}

/* throttle_available() says what the cgroup2 root's controllers say (cpu on v1 here: no). */
static void test_available(void **state)
{
	char mnt[256] = "", path[300], text[512] = "";
	struct mntent *me;
	FILE *f = setmntent("/proc/self/mounts", "re");

	while (f && (me = getmntent(f)))
		if (!strcmp(me->mnt_type, "cgroup2")) {
			snprintf(mnt, sizeof(mnt), "%s", me->mnt_dir);
			break;
		}
	if (f)
		endmntent(f);
	snprintf(path, sizeof(path), "%s/cgroup.controllers", mnt);
	if (!mnt[0] || read_text(path, text, sizeof(text)) < 0) {
		assert_false(throttle_available());
		return;
	}
	bool cpu = false;

	for (char *save, *tok = strtok_r(text, " \n", &save); tok;
	     tok = strtok_r(NULL, " \n", &save))
		cpu |= !strcmp(tok, "cpu");
	assert_int_equal(throttle_available(), cpu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_v2_line),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_parse_own),
		cmocka_unit_test(test_cpu_max),
		cmocka_unit_test(test_lift_restored_real),
		cmocka_unit_test(test_apply_lift_real),
		cmocka_unit_test(test_record_lifted_after_crash_real),
		cmocka_unit_test(test_record_removed_on_release),
		cmocka_unit_test(test_available),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
