// SPDX-License-Identifier: GPL-2.0
/*
 * compat: the CT's files for the destination to look up. The scan reads a
 * real child's /proc (an open file, a thread's own cwd, a mapping); the look-up
 * runs against real files; the bounds are what an agent refuses from a peer.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "caps.h"
#include "compat/compat.h"
#include "err.h"

static char dir[64];
static pid_t child = -1;

static void path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static void *thread_cwd(void *arg)
{
	char p[128];

	/* a thread with a cwd of its own: its fs struct is not the leader's */
	path(p, sizeof(p), "tcwd");
	if (unshare(CLONE_FS) < 0 || chdir(p) < 0)
		_exit(3);
	write(*(int *)arg, "t", 1);
	for (;;)
		pause();
	return NULL;
}

/* The child holds: open.log (fd, appending), ro.dat (fd, read-only), cwd/ (cwd), mapped.bin
 * (mapping), a gone file (fd, unlinked), a pipe; a thread sits in tcwd/. */
static void child_main(int ready)
{
	char p[128];
	pthread_t th;
	int fd, pfd[2];
	void *m;

	path(p, sizeof(p), "open.log");
	if ((fd = open(p, O_WRONLY | O_CREAT | O_APPEND, 0644)) < 0 || write(fd, "hello", 5) != 5)
		_exit(1);
	path(p, sizeof(p), "ro.dat");
	if ((fd = open(p, O_WRONLY | O_CREAT, 0644)) < 0 || write(fd, "abc", 3) != 3 ||
	    close(fd) < 0 || open(p, O_RDONLY) < 0)
		_exit(1);
	path(p, sizeof(p), "gone.tmp");
	if (open(p, O_RDWR | O_CREAT, 0600) < 0 || unlink(p) < 0 || pipe(pfd) < 0)
		_exit(1);
	path(p, sizeof(p), "mapped.bin");
	if ((fd = open(p, O_RDWR | O_CREAT, 0644)) < 0 || ftruncate(fd, 4096) < 0)
		_exit(1);
	m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	path(p, sizeof(p), "cwd");
	if (m == MAP_FAILED || chdir(p) < 0)
		_exit(1);
	if (pthread_create(&th, NULL, thread_cwd, &ready))
		_exit(2);
	for (;;)
		pause();
}

static int setup(void **state)
{
	char p[128], c;
	int pfd[2];

	snprintf(dir, sizeof(dir), "/tmp/phaul-files-XXXXXX");
	assert_non_null(mkdtemp(dir));
	path(p, sizeof(p), "cwd");
	assert_int_equal(mkdir(p, 0755), 0);
	path(p, sizeof(p), "tcwd");
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(pipe(pfd), 0);
	if ((child = fork()) == 0) {
		close(pfd[0]);
		child_main(pfd[1]);
	}
	close(pfd[1]);
	/* ready once the thread is in its own cwd (a deadline: the read fails if it dies) */
	alarm(10);
	assert_int_equal(read(pfd[0], &c, 1), 1);
	alarm(0);
	close(pfd[0]);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static const Phaul__CheckFile *has(const struct compat_files *fl, const char *name)
{
	char p[128];

	path(p, sizeof(p), name);
	for (size_t i = 0; i < fl->n; i++)
		if (!strcmp(fl->v[i]->path, p))
			return fl->v[i];
	return NULL;
}

static void test_scan_finds_open_cwd_mapped_and_threads(void **state)
{
	uint32_t pid = (uint32_t)child;
	struct compat_files fl;
	const Phaul__CheckFile *f;

	assert_int_equal(compat_ct_files(&pid, 1, NULL, 0, &fl), 0);
	assert_non_null(f = has(&fl, "open.log"));
	assert_int_equal(f->type, S_IFREG);
	assert_false(f->has_size); /* the CT writes it: its type is checked, not its size */
	assert_non_null(f = has(&fl, "ro.dat"));
	assert_true(f->has_size);
	assert_int_equal(f->size, 3);
	assert_non_null(f = has(&fl, "cwd"));
	assert_int_equal(f->type, S_IFDIR);
	assert_false(f->has_size);
	assert_non_null(f = has(&fl, "tcwd")); /* the thread's, not the leader's */
	assert_non_null(f = has(&fl, "mapped.bin"));
	assert_int_equal(f->size, 4096);
	assert_null(has(&fl, "gone.tmp")); /* unlinked: CRIU's ghost file */
	for (size_t i = 0; i < fl.n; i++) {
		assert_true(compat_path_normal(fl.v[i]->path));
		assert_null(strstr(fl.v[i]->path, "pipe:"));
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(fl.v[i]->path, fl.v[j]->path);
	}
	assert_int_equal(compat_files_valid(fl.v, fl.n), 0);
	assert_false(fl.capped);
	assert_false(fl.foreign_mnt);
	compat_files_free(&fl);
	compat_files_free(&fl); /* twice: NULL-safe */
}

static void test_scan_excludes_synced_paths(void **state)
{
	uint32_t pid = (uint32_t)child;
	char sub[128], slash[128];
	const char *excl[2];
	struct compat_files fl;

	/* the whole dir synced (with a trailing slash): none of its paths asked */
	snprintf(slash, sizeof(slash), "%s/", dir);
	excl[0] = slash;
	assert_int_equal(compat_ct_files(&pid, 1, excl, 1, &fl), 0);
	assert_null(has(&fl, "open.log"));
	assert_null(has(&fl, "cwd"));
	assert_null(has(&fl, "mapped.bin"));
	compat_files_free(&fl);

	/* only cwd/ synced; a sibling whose name starts the same is still asked */
	path(sub, sizeof(sub), "cwd");
	excl[0] = sub;
	path(slash, sizeof(slash), "tcw");
	excl[1] = slash;
	assert_int_equal(compat_ct_files(&pid, 1, excl, 2, &fl), 0);
	assert_null(has(&fl, "cwd"));
	assert_non_null(has(&fl, "tcwd"));
	assert_non_null(has(&fl, "open.log"));
	compat_files_free(&fl);
}

static pid_t held = -1; /* holder()'s child, killed by kill_held() whatever the test did */

static int kill_held(void **state)
{
	if (held > 0) {
		kill(held, SIGKILL);
		waitpid(held, NULL, 0);
	}
	held = -1;
	return 0;
}

/* A child holding n files named by mk(i) (made first); its pid, or -1. */
static pid_t holder(int n, void (*mk)(char *buf, size_t len, int i))
{
	struct rlimit rl = { 4096, 4096 };
	int pfd[2];
	pid_t p;
	char c;

	if (pipe(pfd) < 0)
		return -1;
	if ((p = fork()) == 0) {
		char name[PH_PATH_MAX + 64];

		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			_exit(1);
		for (int i = 0; i < n; i++) {
			mk(name, sizeof(name), i);
			if (open(name, O_RDWR | O_CREAT, 0644) < 0)
				_exit(1);
		}
		write(pfd[1], "r", 1);
		for (;;)
			pause();
	}
	close(pfd[1]);
	held = p;
	if (read(pfd[0], &c, 1) != 1) {
		kill_held(NULL);
		p = -1;
	}
	close(pfd[0]);
	return p;
}

static void short_name(char *buf, size_t len, int i)
{
	snprintf(buf, len, "%s/m/%x", dir, i); /* short: the count binds before the bytes */
}

/* About 1000 bytes each: 4 components of 240 below dir/long. */
static void long_name(char *buf, size_t len, int i)
{
	char comp[241];

	memset(comp, 'd', 240);
	comp[240] = '\0';
	snprintf(buf, len, "%s/long/%s/%s/%s/f%03d%.200s", dir, comp, comp, comp, i, comp);
}

static void test_scan_caps(void **state)
{
	char p[PH_PATH_MAX + 64], comp[241];
	struct compat_files fl;
	uint32_t pid;
	size_t bytes = 0, nlong = 0;

	path(p, sizeof(p), "m");
	assert_int_equal(mkdir(p, 0755), 0);
	pid = (uint32_t)holder(PH_CHECK_FILES_MAX + 50, short_name);
	assert_true((pid_t)pid > 0);
	assert_int_equal(compat_ct_files(&pid, 1, NULL, 0, &fl), 0);
	assert_int_equal(fl.n, PH_CHECK_FILES_MAX);
	assert_true(fl.capped);
	assert_true(fl.total >= PH_CHECK_FILES_MAX + 50);
	compat_files_free(&fl);
	kill_held(NULL);

	/* 40 paths of ~1000 bytes: over the bytes a CheckReq carries */
	memset(comp, 'd', 240);
	comp[240] = '\0';
	snprintf(p, sizeof(p), "mkdir -p %s/long/%s/%s/%s", dir, comp, comp, comp);
	assert_int_equal(system(p), 0);
	pid = (uint32_t)holder(40, long_name);
	assert_true((pid_t)pid > 0);
	assert_int_equal(compat_ct_files(&pid, 1, NULL, 0, &fl), 0);
	assert_true(fl.capped);
	for (size_t i = 0; i < fl.n; i++) {
		bytes += strlen(fl.v[i]->path);
		nlong += strstr(fl.v[i]->path, "/long/") != NULL;
	}
	assert_true(nlong < 40 && nlong > 20); /* 32 KiB: some, not all */
	assert_true(bytes <= PH_CHECK_FILES_BYTES_MAX);
	assert_int_equal(compat_files_valid(fl.v, fl.n), 0);
	compat_files_free(&fl);
	kill_held(NULL);
}

static void test_scan_gone_pid(void **state)
{
	uint32_t pid = 0x7ffffff0; /* beyond pid_max */
	struct compat_files fl;

	assert_int_equal(compat_ct_files(&pid, 1, NULL, 0, &fl), 0);
	assert_int_equal(fl.n, 0);
	compat_files_free(&fl);
}

/* One CheckFile as a peer would send it. */
static Phaul__CheckFile *cf(const char *p, uint32_t type, bool has_size, uint64_t size)
{
	Phaul__CheckFile *f = malloc(sizeof(*f));

	phaul__check_file__init(f);
	f->path = strdup(p);
	f->has_type = 1;
	f->type = type;
	f->has_size = has_size;
	f->size = size;
	return f;
}

static void free_cf(Phaul__CheckFile **v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i]->path);
		free(v[i]);
	}
}

static bool in(const uint32_t *v, size_t n, uint32_t x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

static void test_lookup_missing_differ_present(void **state)
{
	char file[128], sub[128], link[128], nope[128], under[128];
	Phaul__CheckFile *v[8];
	Phaul__HostFacts f;
	struct stat st;
	size_t n = 0;

	path(file, sizeof(file), "open.log");
	path(sub, sizeof(sub), "cwd");
	path(link, sizeof(link), "link");
	path(nope, sizeof(nope), "nope/out.log");
	path(under, sizeof(under), "open.log/x");
	assert_int_equal(symlink(file, link), 0);
	v[n++] = cf(file, S_IFREG, true, 5);  /* 0 present */
	v[n++] = cf(sub, S_IFDIR, false, 0);  /* 1 present */
	v[n++] = cf(nope, S_IFREG, true, 5);  /* 2 missing */
	v[n++] = cf(file, S_IFREG, true, 6);  /* 3 size differs */
	v[n++] = cf(sub, S_IFREG, true, 0);   /* 4 a dir there, a file here */
	v[n++] = cf(file, S_IFDIR, false, 0); /* 5 a file there, a dir here */
	v[n++] = cf(link, S_IFREG, true, 5);  /* 6 a link there: not followed */
	v[n++] = cf(under, S_IFREG, true, 0); /* 7 ENOTDIR: missing */
	assert_int_equal(compat_files_valid(v, n), 0);
	phaul__host_facts__init(&f);
	assert_int_equal(compat_files_lookup(v, n, &f), 0);
	assert_true(f.has_files_checked && f.files_checked);
	assert_int_equal(f.n_files_missing, 2);
	assert_true(in(f.files_missing, f.n_files_missing, 2));
	assert_true(in(f.files_missing, f.n_files_missing, 7));
	assert_int_equal(f.n_files_differ, 4);
	for (uint32_t i = 3; i <= 6; i++)
		assert_true(in(f.files_differ, f.n_files_differ, i));
	/* looked at, nothing made */
	path(nope, sizeof(nope), "nope");
	assert_int_equal(lstat(nope, &st), -1);
	compat_facts_free(&f);
	free_cf(v, n);
}

static void test_valid_bounds(void **state)
{
	static const char *const bad[] = { "rel/path", "",     "/a//b", "/a/./b", "/a/../b",
					   "/a/",      "/a/.", "/..",	"/a/.." };
	static Phaul__CheckFile *many[PH_CHECK_FILES_MAX + 1];
	Phaul__CheckFile *one;
	char *long_path;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		one = cf(bad[i], S_IFREG, false, 0);
		assert_int_equal(compat_files_valid(&one, 1), -PH_EPROTO);
		free_cf(&one, 1);
	}
	one = cf("/", S_IFDIR, false, 0);
	assert_int_equal(compat_files_valid(&one, 1), 0);
	free_cf(&one, 1);
	one = cf("/a/..b/.c", S_IFREG, false, 0); /* dots inside names are names */
	assert_int_equal(compat_files_valid(&one, 1), 0);
	free_cf(&one, 1);

	long_path = malloc(PH_PATH_MAX + 2);
	memset(long_path, 'a', PH_PATH_MAX + 1);
	long_path[0] = '/';
	long_path[PH_PATH_MAX + 1] = '\0';
	one = cf(long_path, S_IFREG, false, 0);
	assert_int_equal(compat_files_valid(&one, 1), -PH_ETOOBIG);
	free_cf(&one, 1);
	long_path[PH_PATH_MAX] = '\0'; /* exactly the cap: fine */
	one = cf(long_path, S_IFREG, false, 0);
	assert_int_equal(compat_files_valid(&one, 1), 0);
	free_cf(&one, 1);
	free(long_path);

	one = cf("/x", S_IFREG, false, 0);
	for (size_t i = 0; i <= PH_CHECK_FILES_MAX; i++)
		many[i] = one;
	assert_int_equal(compat_files_valid(many, PH_CHECK_FILES_MAX + 1), -PH_ETOOBIG);
	assert_int_equal(compat_files_valid(many, PH_CHECK_FILES_MAX), 0);
	free_cf(&one, 1);
}

static struct compat_row *row_of(struct compat_table *t, const char *name)
{
	for (int i = 0; i < t->nrows; i++)
		if (!strcmp(t->rows[i].check, name))
			return &t->rows[i];
	return NULL;
}

static void test_compare_row(void **state)
{
	Phaul__CheckFile *v[4] = {
		cf("/var/log/app/out.log", S_IFREG, true, 1),
		cf("/var/log/app", S_IFDIR, false, 0),
		cf("/srv/data.bin", S_IFREG, true, 1),
		cf("/srv/more", S_IFREG, true, 1),
	};
	struct compat_files fl = { .v = v, .n = 4, .total = 4 };
	struct compat_req q = { .files = &fl };
	struct compat_probe p = { .work_dir = "/tmp" };
	uint32_t missing[] = { 0, 1, 2, 3 };
	Phaul__HostFacts s, d;
	struct compat_table t;
	struct compat_row *r;

	assert_int_equal(compat_local_facts(&p, &s), 0);
	assert_int_equal(compat_local_facts(&p, &d), 0);
	free(d.hostname);
	d.hostname = strdup("dst1");
	/* every other check passes, as between the VMs */
	free(s.criu_version);
	free(d.criu_version);
	s.criu_version = strdup("3.17.1");
	d.criu_version = strdup("3.17.1");
	s.criu_ok = d.criu_ok = d.cpu_ok = s.soft_dirty = d.soft_dirty = 1;

	/* an older agent: no answer, a warning */
	compat_compare(&s, &d, &q, &t);
	assert_non_null(r = row_of(&t, "files"));
	assert_int_equal(r->verdict, COMPAT_WARN);

	d.has_files_checked = d.files_checked = 1;
	compat_compare(&s, &d, &q, &t);
	assert_int_equal(row_of(&t, "files")->verdict, COMPAT_OK);

	d.files_missing = missing;
	d.n_files_missing = 4;
	assert_int_equal(compat_compare(&s, &d, &q, &t), -PH_ECOMPAT);
	r = row_of(&t, "files");
	assert_int_equal(r->verdict, COMPAT_FAIL);
	assert_non_null(strstr(r->detail,
			       "4 paths the CT has open are missing on dst1: "
			       "/var/log/app/out.log, /var/log/app, /srv/data.bin, ..."));
	assert_non_null(strstr(r->detail, "--sync DIR"));
	assert_non_null(strstr(ph_errmsg(), "check 'files' failed"));

	/* --force files */
	q.force = "pids,files";
	assert_int_equal(compat_compare(&s, &d, &q, &t), 0);
	assert_int_equal(row_of(&t, "files")->verdict, COMPAT_SKIP);
	q.force = NULL;

	/* a type mismatch; an index the source never sent does not crash */
	missing[0] = 99;
	d.n_files_missing = 0;
	d.files_differ = missing;
	d.n_files_differ = 1;
	assert_int_equal(compat_compare(&s, &d, &q, &t), -PH_ECOMPAT);
	assert_non_null(strstr(row_of(&t, "files")->detail, "1 path the CT has open differs"));
	d.files_differ = NULL;
	d.n_files_differ = 0;
	d.files_missing = NULL;

	/* capped: pass, but said */
	fl.capped = true;
	fl.total = 5000;
	compat_compare(&s, &d, &q, &t);
	r = row_of(&t, "files");
	assert_int_equal(r->verdict, COMPAT_WARN);
	assert_non_null(strstr(r->detail, "only the first 4 of 5000"));

	/* no CT files asked (phaul check HOST): no row */
	q.files = NULL;
	compat_compare(&s, &d, &q, &t);
	assert_null(row_of(&t, "files"));
	compat_facts_free(&s);
	compat_facts_free(&d);
	free_cf(v, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan_finds_open_cwd_mapped_and_threads),
		cmocka_unit_test(test_scan_excludes_synced_paths),
		cmocka_unit_test_teardown(test_scan_caps, kill_held),
		cmocka_unit_test(test_scan_gone_pid),
		cmocka_unit_test(test_lookup_missing_differ_present),
		cmocka_unit_test(test_valid_bounds),
		cmocka_unit_test(test_compare_row),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
