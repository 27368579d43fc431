// SPDX-License-Identifier: GPL-2.0
/*
 * compat/fdscan.c against real processes on this host: a child builds one
 * kind of file state (a flock, an fcntl lock, a big unlinked file, a file
 * that lost one of two names, an inotify watch on an unlinked file) and
 * waits; the scan of its /proc must name the option that allows it, or
 * say that none does, and find nothing once the option is given.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "compat/compat.h"
#include "compat/unixsk.h"

enum kind {
	K_NONE,
	K_FLOCK,
	K_FCNTL,
	K_GHOST_BIG,
	K_GHOST_SMALL,
	K_LINKED,
	K_WATCH_UNLINKED,
	K_WATCH_LINKED,
	K_DGRAM_EXT,	  /* connected to a named dgram socket the test process holds */
	K_DGRAM_NAMELESS, /* one end of a dgram socketpair; the test holds the other */
	K_STREAM_EXT,	  /* one end of a stream socketpair; the test holds the other */
	K_PAIR_INSIDE,	  /* both ends of a stream socketpair */
};

/* The test process's side of K_*_EXT: outside the scanned tree. */
static int srv = -1, pair[2] = { -1, -1 };

static char dir[] = "/dev/shm/phaul-fdscan-XXXXXX";

static int make_file(const char *name, long size)
{
	char p[128];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, size) < 0)
		_exit(10);
	return fd;
}

static void rm(const char *name)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (unlink(p) < 0 && errno != ENOENT)
		_exit(11);
}

static void build(enum kind k)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char a[128], b[128];
	int ifd;

	switch (k) {
	case K_NONE: break;
	case K_FLOCK:
		if (flock(make_file("flock", 4096), LOCK_EX) < 0)
			_exit(12);
		break;
	case K_FCNTL:
		if (fcntl(make_file("posix", 4096), F_SETLK, &fl) < 0)
			_exit(13);
		break;
	case K_GHOST_BIG:
	case K_GHOST_SMALL:
		make_file("ghost", k == K_GHOST_BIG ? 2 << 20 : 4096);
		rm("ghost");
		break;
	case K_LINKED:
		make_file("a", 4096);
		snprintf(a, sizeof(a), "%s/a", dir);
		snprintf(b, sizeof(b), "%s/b", dir);
		rm("b"); /* left by an earlier child */
		if (link(a, b) < 0)
			_exit(14);
		rm("a");
		break;
	case K_DGRAM_EXT: {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int c = socket(AF_UNIX, SOCK_DGRAM, 0);

		close(srv); /* the server stays outside the tree */
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock", dir);
		if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			_exit(17);
		break;
	}
	case K_DGRAM_NAMELESS:
	case K_STREAM_EXT: close(pair[1]); break;
	case K_PAIR_INSIDE:
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) < 0)
			_exit(18);
		break;
	case K_WATCH_UNLINKED:
	case K_WATCH_LINKED:
		/* kept open: unlinking a file nobody holds removes its watches */
		make_file("watched", 4096);
		snprintf(a, sizeof(a), "%s/watched", dir);
		ifd = inotify_init1(0);
		if (ifd < 0 || inotify_add_watch(ifd, a, IN_MODIFY) < 0)
			_exit(15);
		if (k == K_WATCH_UNLINKED)
			rm("watched");
		break;
	}
}

/* The test process's end, made before the fork. */
static void prepare(enum kind k)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (k == K_DGRAM_EXT) {
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock", dir);
		unlink(sa.sun_path);
		srv = socket(AF_UNIX, SOCK_DGRAM, 0);
		assert_true(srv >= 0);
		assert_int_equal(bind(srv, (struct sockaddr *)&sa, sizeof(sa)), 0);
	}
	if (k == K_DGRAM_NAMELESS || k == K_STREAM_EXT)
		assert_int_equal(
			socketpair(AF_UNIX, k == K_STREAM_EXT ? SOCK_STREAM : SOCK_DGRAM, 0, pair),
			0);
}

static void unprepare(void)
{
	if (srv >= 0)
		close(srv);
	if (pair[0] >= 0)
		close(pair[0]);
	if (pair[1] >= 0)
		close(pair[1]);
	srv = pair[0] = pair[1] = -1;
}

/* A child holding state k; returns its pid once built. */
static pid_t spawn(enum kind k)
{
	int p[2];
	char c;
	pid_t pid;

	prepare(k);
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		build(k);
		if (write(p[1], "x", 1) != 1)
			_exit(16);
		pause();
		_exit(0);
	}
	close(p[1]);
	if (pair[0] >= 0) {
		close(pair[0]); /* the child's end */
		pair[0] = -1;
	}
	if (read(p[0], &c, 1) != 1) {
		int st = 0;

		waitpid(pid, &st, 0);
		fail_msg("kind %d: the child failed to build it: status 0x%x", k, st);
	}
	close(p[0]);
	return pid;
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	unprepare();
}

/* Scan k's child with allow; want: NULL for nothing found, else a word. */
static void expect(enum kind k, const struct compat_fd_allow *allow, const char *want,
		   const char *want2)
{
	pid_t pid = spawn(k);
	uint32_t p = (uint32_t)pid;
	char why[512];
	int n = compat_scan_fds(&p, 1, allow, why, sizeof(why));

	reap(pid);
	if (!want) {
		if (n)
			fail_msg("kind %d: found %d: %s", k, n, why);
		return;
	}
	if (n != 1 || !strstr(why, want) || (want2 && !strstr(why, want2)))
		fail_msg("kind %d: found %d: '%s' lacks '%s'/'%s'", k, n, why, want,
			 want2 ? want2 : "");
}

static void test_nothing(void **state)
{
	const struct compat_fd_allow none = { 0 };

	expect(K_NONE, &none, NULL, NULL);
	expect(K_GHOST_SMALL, &none, NULL, NULL); /* under CRIU's 1 MiB: fine as is */
	expect(K_WATCH_LINKED, &none, NULL, NULL);
}

static void test_locks(void **state)
{
	const struct compat_fd_allow none = { 0 }, locks = { .file_locks = true };

	expect(K_FLOCK, &none, "(flock): --file-locks ([criu] file_locks)", "/flock");
	expect(K_FCNTL, &none, "(fcntl lock): --file-locks", "/posix");
	expect(K_FLOCK, &locks, NULL, NULL);
	expect(K_FCNTL, &locks, NULL, NULL);
}

static void test_ghost(void **state)
{
	const struct compat_fd_allow none = { 0 }, big = { .ghost_limit = 4 << 20 },
				     small = { .ghost_limit = 1000 };

	expect(K_GHOST_BIG, &none, "has 2097152 bytes, over the ghost limit of 1048576",
	       "--ghost-limit SIZE ([criu] ghost_limit)");
	expect(K_GHOST_BIG, &big, NULL, NULL);
	expect(K_GHOST_SMALL, &small, "over the ghost limit of 1000", NULL);
}

static void test_link_remap(void **state)
{
	const struct compat_fd_allow none = { 0 }, lr = { .link_remap = true };

	expect(K_LINKED, &none, "lost its name but has another link",
	       "--link-remap ([criu] link_remap)");
	expect(K_LINKED, &lr, NULL, NULL);
}

/* No option makes CRIU 3.17 dump it (fsnotify.c needs a path on tmpfs). */
static void test_watch_unlinked(void **state)
{
	const struct compat_fd_allow all = { .file_locks = true,
					     .link_remap = true,
					     .ghost_limit = 1u << 30 };

	if (geteuid())
		skip(); /* open_by_handle_at needs CAP_DAC_READ_SEARCH */
	expect(K_WATCH_UNLINKED, &all, "inotify watch is on an unlinked file",
	       "cannot migrate it whatever the options");
}

/* sk-unix.c: dgram to a named socket with --ext-unix-sk, nothing else outside. */
static void test_unix_sockets(void **state)
{
	const struct compat_fd_allow none = { 0 }, ext = { .ext_unix_sk = true };
	struct usk_table t;

	if (usk_dump(&t) < 0)
		skip(); /* no unix_diag here */
	usk_free(&t);
	expect(K_DGRAM_EXT, &none, "--ext-unix-sk ([criu] ext_unix_sk)", "/sock outside the tree");
	expect(K_DGRAM_EXT, &ext, NULL, NULL);
	expect(K_DGRAM_NAMELESS, &ext, "connected to a nameless socket", "cannot migrate it");
	expect(K_STREAM_EXT, &ext, "unix stream socket connected to",
	       "cannot migrate one end of a connection");
	expect(K_PAIR_INSIDE, &none, NULL, NULL);
}

static int setup(void **state)
{
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	static const char *const names[] = {
		"flock", "posix", "ghost", "a", "b", "watched", "sock"
	};
	char p[128];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing),	       cmocka_unit_test(test_locks),
		cmocka_unit_test(test_ghost),	       cmocka_unit_test(test_link_remap),
		cmocka_unit_test(test_watch_unlinked), cmocka_unit_test(test_unix_sockets),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
