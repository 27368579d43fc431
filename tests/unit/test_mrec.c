// SPDX-License-Identifier: GPL-2.0
/*
 * Migration records (phaul/mrec.h): ids, a durable round trip, a parser
 * that refuses anything it did not write, the per-migration lock, pid
 * identity by start time, the fault-injection switch; and the process-tree
 * signalling the commit protocol holds and releases a restored CT with
 * (engine/criu.h criu_tree_signal), on a real tree of processes.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/criu.h"
#include "err.h"
#include "mrec.h"
#include "util.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/phaul-mrec.XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rm_tree(dir);
	return 0;
}

static void test_ids(void **state)
{
	char id[PH_MIG_ID_MAX + 2], path[256];

	(void)state;
	assert_true(mrec_id_valid("20261201-230000-42-0a1b2c3d"));
	assert_false(mrec_id_valid(""));
	assert_false(mrec_id_valid("../x"));
	assert_false(mrec_id_valid("a/b"));
	assert_false(mrec_id_valid("a b"));
	assert_false(mrec_id_valid("a\nb"));
	memset(id, 'a', PH_MIG_ID_MAX);
	id[PH_MIG_ID_MAX] = '\0';
	assert_true(mrec_id_valid(id));
	strcat(id, "a");
	assert_false(mrec_id_valid(id));
	assert_int_equal(mrec_new_id(id, sizeof(id)), 0);
	assert_true(mrec_id_valid(id));
	/* a peer's id never becomes a path outside the work dir */
	assert_int_equal(mrec_path(dir, MREC_DEST, "../../etc/x", path, sizeof(path)), -PH_EUSAGE);
	assert_int_equal(mrec_path(dir, MREC_DEST, "m1", path, sizeof(path)), 0);
	assert_non_null(strstr(path, "/mig-in-m1"));
}

static void test_round_trip(void **state)
{
	struct mrec r = { .side = MREC_SOURCE, .state = PHASE_COMMITTING, .pid = 4242, .start = 777 },
		    l;
	char path[256];
	struct stat st;

	(void)state;
	strcpy(r.id, "m1");
	strcpy(r.ct, "pid:4242");
	strcpy(r.peer, "root@dst:2222");
	strcpy(r.transport, "tcp");
	assert_int_equal(mrec_save(dir, &r), 0);
	assert_int_equal(mrec_load(dir, MREC_SOURCE, "m1", &l), 0);
	assert_string_equal(l.id, "m1");
	assert_int_equal(l.state, PHASE_COMMITTING);
	assert_string_equal(l.ct, "pid:4242");
	assert_string_equal(l.peer, "root@dst:2222");
	assert_string_equal(l.transport, "tcp");
	assert_int_equal(l.pid, 4242);
	assert_int_equal(l.start, 777);
	snprintf(path, sizeof(path), "%s/mig-out-m1", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/mig-out-m1.tmp", dir);
	assert_int_equal(stat(path, &st), -1); /* nothing half-written left */
	/* the next phase replaces it */
	r.state = PHASE_COMMITTED;
	assert_int_equal(mrec_save(dir, &r), 0);
	assert_int_equal(mrec_load(dir, MREC_SOURCE, "m1", &l), 0);
	assert_int_equal(l.state, PHASE_COMMITTED);
	/* the other side's record of the same id is another file */
	assert_int_equal(mrec_load(dir, MREC_DEST, "m1", &l), -PH_ENOENT);
	assert_int_equal(mrec_remove(dir, MREC_SOURCE, "m1"), 0);
	assert_int_equal(mrec_load(dir, MREC_SOURCE, "m1", &l), -PH_ENOENT);
	assert_int_equal(mrec_remove(dir, MREC_SOURCE, "m1"), 0); /* idempotent */
	/* a state out of range is never written */
	r.state = PHASE_ROLLED_BACK + 1;
	assert_int_equal(mrec_save(dir, &r), -PH_EUSAGE);
}

static void test_parse_refuses(void **state)
{
	static const char *const bad[] = {
		"id=m\nside=source\n",				     /* no state */
		"id=m\nside=source\nstate=exploded\n",		     /* unknown state */
		"id=m\nside=destination\nstate=held\n",		     /* the other side's */
		"id=m\nside=source\nstate=done\nstate=done\n",	     /* twice */
		"id=m\nside=source\nstate=done\nowner=me\n",	     /* unknown key */
		"id=m\nside=source\nstate=done\npid=-1\n",	     /* negative pid */
		"id=m\nside=source\nstate=done\npid=99999999999\n", /* too big */
		"id=m\nside=source\nstate=done\nstart=x\n",	     /* not a number */
		"id=../m\nside=source\nstate=done\n",		     /* bad id */
		"id=m\nside=source\nstate=done\ngarbage\n",	     /* no '=' */
	};
	char big[PH_MREC_MAX + 16];
	struct mrec r;

	(void)state;
	assert_int_equal(mrec_parse("id=m\nside=source\nstate=done\n", MREC_SOURCE, &r), 0);
	assert_int_equal(r.state, PHASE_DONE);
	assert_int_equal(mrec_parse("id=m\nside=destination\nstate=held\n", MREC_DEST, &r), 0);
	assert_int_equal(r.state, DST_HELD);
	assert_int_equal(mrec_parse("id=m\nside=destination\nstate=lost\n", MREC_DEST, &r), 0);
	assert_int_equal(r.state, DST_LOST);
	assert_string_equal(mrec_dst_state_name(DST_LOST), "lost");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = mrec_parse(bad[i], MREC_SOURCE, &r);

		if (ret != -PH_EPROTO)
			fail_msg("accepted: %s", bad[i]);
	}
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(mrec_parse(big, MREC_SOURCE, &r), -PH_ETOOBIG);
	/* a ct longer than the record holds is refused, not cut */
	snprintf(big, sizeof(big), "id=m\nside=source\nstate=done\nct=%0300d\n", 1);
	assert_int_equal(mrec_parse(big, MREC_SOURCE, &r), -PH_EPROTO);
}

static void test_load_checks_id(void **state)
{
	char path[256];
	FILE *f;
	struct mrec r;

	(void)state;
	snprintf(path, sizeof(path), "%s/mig-in-m2", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("id=m3\nside=destination\nstate=held\n", f);
	fclose(f);
	assert_int_equal(mrec_load(dir, MREC_DEST, "m2", &r), -PH_EPROTO);
}

static void test_lock(void **state)
{
	int a, b;

	(void)state;
	a = mrec_lock(dir, MREC_SOURCE, "m4", false);
	assert_true(a >= 0);
	b = mrec_lock(dir, MREC_SOURCE, "m4", false);
	assert_int_equal(b, -PH_ETIMEDOUT);
	assert_non_null(strstr(ph_errmsg(), "in progress"));
	/* the other side's lock of the same id is another lock */
	b = mrec_lock(dir, MREC_DEST, "m4", false);
	assert_true(b >= 0);
	mrec_unlock(dir, MREC_DEST, "m4", b);
	mrec_unlock(dir, MREC_SOURCE, "m4", a);
	a = mrec_lock(dir, MREC_SOURCE, "m4", false);
	assert_true(a >= 0);
	mrec_unlock(dir, MREC_SOURCE, "m4", a);
}

static void test_pid_identity(void **state)
{
	struct mrec r = { .pid = getpid() };
	uint64_t st;

	(void)state;
	assert_int_equal(proc_start_time(getpid(), &st), 0);
	assert_true(st > 0);
	r.start = st;
	assert_true(mrec_pid_alive(&r));
	r.start = st + 1; /* the pid reused by another process */
	assert_false(mrec_pid_alive(&r));
	r.pid = 0;
	assert_false(mrec_pid_alive(&r));
	assert_int_equal(proc_start_time(0, &st), -PH_ENOENT);
}

static void test_fault_at(void **state)
{
	(void)state;
	unsetenv("PHAUL_FAULT_COMMIT");
	assert_false(fault_at("src-ready"));
	setenv("PHAUL_FAULT_COMMIT", "agent-go,src-ready", 1);
	assert_true(fault_at("src-ready"));
	assert_true(fault_at("agent-go"));
	assert_false(fault_at("src"));
	assert_false(fault_at("agent-go-x"));
	setenv("PHAUL_FAULT_COMMIT", "src-ready-x", 1);
	assert_false(fault_at("src-ready"));
	unsetenv("PHAUL_FAULT_COMMIT");
}

static char proc_state(pid_t pid)
{
	char path[64], buf[512], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_text(path, buf, sizeof(buf)) < 0 || !(p = strrchr(buf, ')')))
		return '?';
	return p[2];
}

static bool wait_state(pid_t pid, const char *want)
{
	for (int i = 0; i < 200; i++) {
		if (strchr(want, proc_state(pid)))
			return true;
		usleep(10000);
	}
	return false;
}

/* A root with a child with a grandchild, each pausing. */
static void test_tree_signal(void **state)
{
	int p[2];
	pid_t root, kid = 0, grandkid = 0;

	(void)state;
	assert_int_equal(pipe(p), 0);
	root = fork();
	assert_true(root >= 0);
	if (root == 0) {
		pid_t k = fork();

		if (k == 0) {
			pid_t g = fork();

			if (g == 0) {
				for (;;)
					pause();
			}
			if (write(p[1], &g, sizeof(g)) < 0)
				_exit(1);
			for (;;)
				pause();
		}
		if (write(p[1], &k, sizeof(k)) < 0)
			_exit(1);
		for (;;)
			pause();
	}
	assert_int_equal(read(p[0], &grandkid, sizeof(grandkid)), sizeof(grandkid));
	assert_int_equal(read(p[0], &kid, sizeof(kid)), sizeof(kid));
	close(p[0]);
	close(p[1]);
	assert_int_equal(criu_tree_signal(root, SIGSTOP), 0);
	assert_true(wait_state(root, "T"));
	assert_true(wait_state(kid, "T"));
	assert_true(wait_state(grandkid, "T"));
	assert_int_equal(criu_tree_signal(root, SIGCONT), 0);
	assert_true(wait_state(grandkid, "S"));
	assert_true(wait_state(kid, "S"));
	/* the whole tree goes: a stopped grandchild left behind would stay so */
	assert_int_equal(criu_tree_signal(root, SIGSTOP), 0);
	assert_true(wait_state(grandkid, "T"));
	assert_int_equal(criu_tree_signal(root, SIGKILL), 0);
	assert_int_equal(waitpid(root, NULL, 0), root);
	assert_true(wait_state(kid, "Z?"));
	assert_true(wait_state(grandkid, "Z?"));
	assert_int_equal(criu_tree_signal(root, SIGCONT), -PH_ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids),
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test_setup_teardown(test_load_checks_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
		cmocka_unit_test(test_pid_identity),
		cmocka_unit_test(test_fault_at),
		cmocka_unit_test(test_tree_signal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
