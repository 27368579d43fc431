// SPDX-License-Identifier: GPL-2.0
/* CT specs: parsing, the type table, the errors an operator sees. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"
#include "htype.h"
#include "util.h"

static struct ct ct; /* large */

static void test_parse_types(void **state)
{
	assert_int_equal(ct_parse("lxc:web1", &ct), 0);
	assert_string_equal(ct.ops->name, "lxc");
	assert_string_equal(ct.id, "web1");
	assert_int_equal(ct_parse("pid:42", &ct), 0);
	assert_string_equal(ct.ops->name, "pid");
	/* post-copy and lazy restores are said by the type, not by its name */
	assert_true(ct.ops->caps & CT_CAP_POSTCOPY);
	assert_true(ct.ops->caps & CT_CAP_LAZY_RESTORE);
	assert_int_equal(ct_parse("lxc:web1", &ct), 0);
	assert_false(ct.ops->caps & CT_CAP_POSTCOPY);
	/* runc: post-copy (and hybrid) through its own lazy page server */
	assert_int_equal(ct_parse("runc:rc1", &ct), 0);
	assert_true(ct.ops->caps & CT_CAP_POSTCOPY);
}

/*
 * One interface, every slot filled: a NULL slot meaning "the orchestrator
 * does it itself" is a type test in disguise (migrate.c and the agent
 * call every op unconditionally).
 */
static void test_every_type_complete(void **state)
{
	const struct htype_ops *const *t;
	size_t n;

	t = htype_all(&n);
	assert_true(n >= 4);
	for (size_t i = 0; i < n; i++) {
		print_message("%s\n", t[i]->name);
		assert_non_null(t[i]->name);
		assert_true(t[i]->name[0]);
		assert_non_null(t[i]->resolve);
		assert_non_null(t[i]->check_criu);
		assert_non_null(t[i]->criu_opts);
		assert_non_null(t[i]->open_pages);
		assert_non_null(t[i]->pre_dump);
		assert_non_null(t[i]->dump);
		assert_non_null(t[i]->restore);
		assert_non_null(t[i]->discard);
		assert_non_null(t[i]->probe);
		assert_non_null(t[i]->kept);
		/* post-copy pulls the pages with a lazy restore */
		if (t[i]->caps & CT_CAP_POSTCOPY)
			assert_true(t[i]->caps & CT_CAP_LAZY_RESTORE);
	}
}

/*
 * The orchestration never asks which type a CT is: in the files that drive
 * a migration every op is called, never tested (`ops->dump ?`, `if
 * (ops->restore)`), and no type's name is a string there. Read from the
 * top of the tree, as test_cli_docs does.
 */
static void test_callers_never_ask_the_type(void **state)
{
	static const char *const files[] = { "phaul/migrate.c",	  "phaul/agent.c",
					     "phaul/agent_mig.c", "phaul/agent_session.c",
					     "phaul/throttle.c",  "phaul/recover.c" };
	static const char *const ops[] = { "resolve",  "check_criu", "criu_opts", "open_pages",
					   "pre_dump", "dump",	     "restore",	  "discard",
					   "probe",    "kept" };
	const struct htype_ops *const *t;
	char pat[64], *src;
	uint8_t *buf;
	size_t n, len;

	t = htype_all(&n);
	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		buf = NULL;
		if (read_file(files[f], 1 << 20, &buf, &len) < 0)
			fail_msg("cannot read %s (run from the top of the tree)", files[f]);
		src = realloc(buf, len + 1);
		assert_non_null(src);
		src[len] = '\0';
		for (size_t o = 0; o < sizeof(ops) / sizeof(ops[0]); o++) {
			size_t pl = (size_t)snprintf(pat, sizeof(pat), "ops->%s", ops[o]);

			for (const char *p = strstr(src, pat); p; p = strstr(p + pl, pat)) {
				const char *q = p + pl;

				if (*q == '_' || (*q >= 'a' && *q <= 'z'))
					continue; /* a longer member name */
				if (*q != '(')
					fail_msg("%s: '%.40s' tests an op instead of calling it",
						 files[f], p);
			}
		}
		for (size_t i = 0; i < n; i++) {
			snprintf(pat, sizeof(pat), "\"%s\"", t[i]->name);
			if (strstr(src, pat))
				fail_msg("%s names the type %s", files[f], pat);
		}
		free(src);
	}
}

/* The destination: an unnamed or unknown CT is discarded as a process tree. */
static void test_parse_dst_default(void **state)
{
	const struct htype_ops *const *t;
	size_t n;

	t = htype_all(&n);
	assert_int_equal(ct_parse_dst("", &ct), 0);
	assert_ptr_equal(ct.ops, t[0]);
	assert_string_equal(ct.ops->name, "pid");
	assert_int_equal(ct_parse_dst("docker:x", &ct), -PH_EUSAGE);
	assert_ptr_equal(ct.ops, t[0]);
	assert_int_equal(ct_parse_dst("runc:web", &ct), 0);
	assert_string_equal(ct.ops->name, "runc");
	/* nothing restored: nothing to kill */
	assert_int_equal(ct_parse_dst("pid:42", &ct), 0);
	assert_int_equal(ct.ops->discard(&ct, 0), 0);
}

/*
 * What a final dump keeps on the source: nothing for the types CRIU's
 * verdict ends or resumes (held stopped on the destination until Go);
 * podman: keeps its checkpoint (it cannot be held there), and acts on
 * container names only.
 */
static void test_kept(void **state)
{
	static const char *const held[] = { "pid:1", "lxc:web1", "runc:rc1" };

	(void)state;
	for (size_t i = 0; i < sizeof(held) / sizeof(held[0]); i++) {
		assert_int_equal(ct_parse(held[i], &ct), 0);
		assert_true(ct.ops->caps & CT_CAP_HOLD);
		assert_int_equal(ct.ops->kept(&ct, CT_KEPT_QUERY, NULL), CT_KEPT_NONE);
		assert_int_equal(ct.ops->kept(&ct, CT_KEPT_RESUME, NULL), CT_KEPT_NONE);
		assert_int_equal(ct.ops->kept(&ct, CT_KEPT_REMOVE, NULL), CT_KEPT_NONE);
	}
	assert_int_equal(ct_parse("podman:-rf", &ct), 0);
	assert_false(ct.ops->caps & CT_CAP_HOLD);
	assert_int_equal(ct.ops->kept(&ct, CT_KEPT_REMOVE, NULL), -PH_EUSAGE);
	assert_int_equal(ct.ops->kept(&ct, CT_KEPT_RESUME, NULL), -PH_EUSAGE);
}

/* A type without a runtime says so; pid: and lxc: have none to probe. */
static void test_probe_none(void **state)
{
	struct ct_facts f = { 0 };

	assert_int_equal(ct_parse("pid:42", &ct), 0);
	assert_int_equal(ct.ops->probe(&ct, NULL, &f), -PH_ENOTSUP);
	assert_int_equal(ct_parse("lxc:web1", &ct), 0);
	assert_int_equal(ct.ops->probe(&ct, NULL, &f), -PH_ENOTSUP);
}

static void test_parse_refuses(void **state)
{
	assert_int_equal(ct_parse("web1", &ct), -PH_EUSAGE);
	assert_int_equal(ct_parse("lxc:", &ct), -PH_EUSAGE);
	assert_int_equal(ct_parse("docker:x", &ct), -PH_EUSAGE);
	assert_non_null(strstr(ph_errmsg(), "known: pid, lxc, runc"));
}

static void test_open_pid_self(void **state)
{
	char spec[32];

	snprintf(spec, sizeof(spec), "pid:%d", (int)getpid());
	assert_int_equal(ct_open(spec, &ct), 0);
	assert_int_equal(ct.root, getpid());
	assert_true(ct.npids >= 1);
	assert_false(ct.own_pidns);
	assert_int_equal(ct.nsync, 0);
}

static int ready_fd;

static void *thread_forks(void *arg)
{
	pid_t p = fork();

	if (p == 0)
		pause();
	write(ready_fd, "t", 1);
	for (;;)
		pause(); /* a thread that exits hands its children to the main thread */
	return NULL;
}

/*
 * A tree of three: the root's main thread forks one child, another of its
 * threads forks the second. Both children must be counted (each thread
 * keeps its own /proc/PID/task/TID/children list).
 */
static void test_open_pid_threaded_children(void **state)
{
	int p[2];
	char spec[32], c[2];
	pid_t root;

	assert_int_equal(pipe(p), 0);
	root = fork();
	assert_true(root >= 0);
	if (root == 0) {
		pthread_t t;

		setpgid(0, 0);
		ready_fd = p[1];
		if (fork() == 0)
			pause();
		if (pthread_create(&t, NULL, thread_forks, NULL))
			_exit(1);
		write(p[1], "m", 1);
		for (;;)
			pause();
	}
	close(p[1]);
	assert_int_equal(read(p[0], c, 1), 1);
	assert_int_equal(read(p[0], c, 1), 1);
	close(p[0]);
	snprintf(spec, sizeof(spec), "pid:%d", (int)root);
	int ret = ct_open(spec, &ct);
	kill(-root, SIGKILL);
	kill(root, SIGKILL);
	waitpid(root, NULL, 0);
	assert_int_equal(ret, 0);
	assert_int_equal(ct.npids, 3);
}

static void test_open_lxc_missing(void **state)
{
	int ret = ct_open("lxc:phaul-test-no-such-ct", &ct);

	/* without liblxc on this host: PH_ENOTSUP naming the library */
	assert_true(ret == -PH_ENOENT || ret == -PH_ENOTSUP);
	if (ret == -PH_ENOENT)
		assert_non_null(strstr(ph_errmsg(), "no such container"));
	else
		assert_non_null(strstr(ph_errmsg(), "liblxc"));
}

static void test_parse_runc(void **state)
{
	assert_int_equal(ct_parse("runc:web-1", &ct), 0);
	assert_string_equal(ct.ops->name, "runc");
	assert_string_equal(ct.id, "web-1");
	/* runc checkpoints and restores it: every hook of its own */
	assert_non_null(ct.ops->pre_dump);
	assert_non_null(ct.ops->dump);
	assert_non_null(ct.ops->restore);
	assert_non_null(ct.ops->discard);
}

static void test_open_runc_missing(void **state)
{
	int ret;

	/* a runc that knows no container at all (exits 1 on `runc state`) */
	setenv("PHAUL_RUNC", "/bin/false", 1);
	ret = ct_open("runc:phaul-test-no-such-ct", &ct);
	unsetenv("PHAUL_RUNC");
	assert_int_equal(ret, -PH_ENOENT);
	assert_non_null(strstr(ph_errmsg(), "runc:phaul-test-no-such-ct"));
	assert_non_null(strstr(ph_errmsg(), "no such container"));
	/* the real runc, where installed, says the same */
	ret = ct_open("runc:phaul-test-no-such-ct", &ct);
	assert_true(ret == -PH_ENOENT || ret == -PH_ENOTSUP);
	assert_non_null(strstr(ph_errmsg(), ret == -PH_ENOENT ? "no such container" : "runc"));
}

static void test_open_podman_missing(void **state)
{
	int ret;

	/* a podman that knows no container at all (exits 1 on `podman inspect`) */
	setenv("PHAUL_PODMAN", "/bin/false", 1);
	ret = ct_open("podman:phaul-test-no-such-ct", &ct);
	unsetenv("PHAUL_PODMAN");
	assert_int_equal(ret, -PH_ENOENT);
	assert_non_null(strstr(ph_errmsg(), "podman:phaul-test-no-such-ct"));
	assert_non_null(strstr(ph_errmsg(), "no such container"));
	assert_non_null(ct.ops->pre_dump);
	assert_non_null(ct.ops->dump);
	assert_non_null(ct.ops->restore);
	assert_non_null(ct.ops->discard);
}

/*
 * Destination: the directory a type's image names (runc's bundle, podman's
 * exports dir) must be canonical here and hold the file the type needs.
 */
static void test_img_dir(void **state)
{
	char work[] = "/tmp/phaul-imgdir-XXXXXX", dir[64], link[64], got[PATH_MAX];

	assert_non_null(mkdtemp(work));
	snprintf(dir, sizeof(dir), "%s/d", work);
	snprintf(link, sizeof(link), "%s/link", work);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(symlink(dir, link), 0);
	assert_int_equal(ct_parse("runc:x", &ct), 0);
	/* through a symlink, with a dot-dot, relative */
	assert_int_equal(ct_img_write(work, "d.img", link), 0);
	assert_int_equal(ct_img_dir(&ct, work, "d.img", "bundle", "f", got, sizeof(got)),
			 -PH_EPATH);
	assert_non_null(strstr(ph_errmsg(), "bundle '"));
	assert_non_null(strstr(ph_errmsg(), "not a canonical absolute path"));
	snprintf(got, sizeof(got), "%s/../d", dir);
	assert_int_equal(ct_img_write(work, "d.img", got), 0);
	assert_int_equal(ct_img_dir(&ct, work, "d.img", "bundle", "f", got, sizeof(got)),
			 -PH_EPATH);
	assert_int_equal(ct_img_write(work, "d.img", "d"), 0);
	assert_int_equal(ct_img_dir(&ct, work, "d.img", "bundle", "f", got, sizeof(got)),
			 -PH_EPATH);
	/* canonical, without the file, then with it */
	assert_int_equal(ct_img_write(work, "d.img", dir), 0);
	assert_int_equal(ct_img_dir(&ct, work, "d.img", "bundle", "f", got, sizeof(got)),
			 -PH_ENOENT);
	assert_non_null(strstr(ph_errmsg(), "was the bundle synced?"));
	snprintf(got, sizeof(got), "%s/f", dir);
	assert_int_equal(ct_img_write(dir, "f", "x"), 0);
	assert_int_equal(ct_img_dir(&ct, work, "d.img", "bundle", "f", got, sizeof(got)), 0);
	assert_string_equal(got, dir);
	/* no image at all */
	assert_true(ct_img_dir(&ct, work, "none.img", "bundle", "f", got, sizeof(got)) < 0);
	assert_int_equal(rm_tree(work), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_types),
		cmocka_unit_test(test_every_type_complete),
		cmocka_unit_test(test_callers_never_ask_the_type),
		cmocka_unit_test(test_parse_dst_default),
		cmocka_unit_test(test_probe_none),
		cmocka_unit_test(test_kept),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_open_pid_self),
		cmocka_unit_test(test_open_pid_threaded_children),
		cmocka_unit_test(test_open_lxc_missing),
		cmocka_unit_test(test_parse_runc),
		cmocka_unit_test(test_open_runc_missing),
		cmocka_unit_test(test_open_podman_missing),
		cmocka_unit_test(test_img_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
