// SPDX-License-Identifier: GPL-2.0
/*
 * fileobjs: file state that CRIU dumps only with an option (issue 16), each
 * verified by the workload itself after the migration.
 *
 *   --mode inotify  DIR/watched is opened, watched by inotify (IN_MODIFY)
 *                   and unlinked. Check: the file still holds its content,
 *                   and a write through the open fd raises IN_MODIFY on the
 *                   same watch descriptor (the watch follows the inode).
 *   --mode locks    flock(LOCK_EX) on DIR/flock and an fcntl write lock
 *                   (F_SETLK) on DIR/posix. Check: a child opening the same
 *                   files is refused both locks, and F_GETLK names this
 *                   process as the holder: the locks are held here and now.
 *   --mode linkremap  DIR/a is opened, hard-linked as DIR/b and unlinked:
 *                   open under a name that is gone while another remains.
 *                   Check: the content, and the open file is DIR/b's inode
 *                   (CRIU's link remap and rsync -H kept them one file).
 *   --mode dgram-server  binds the unix datagram socket DIR/sock and counts
 *                   what arrives (run it apart, on both hosts). Check: PASS
 *                   with the count since the last check.
 *   --mode extunix  a unix datagram socket connected to DIR/sock, i.e. to
 *                   a process outside the tree. Check: getpeername() is
 *                   still DIR/sock and a datagram sent to it is accepted
 *                   (the dgram-server here counts it).
 *   --mode ghost    DIR/ghost of --size bytes (default 2 MiB: over CRIU's
 *                   1 MiB ghost limit) is opened and unlinked. Check: every
 *                   byte of the open, unlinked file is as written, nlink 0.
 *
 * DIR must be synced to the destination for inotify and locks (the files
 * are named there); a ghost file travels in the images.
 */
#include "wl.h"
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/un.h>

struct fileobjs {
	struct wl w;
	const char *mode;
	const char *dir;
	long size;
	int fd, ifd, wd, fd2;
	unsigned long received; /* dgram-server: datagrams since the last check */
	char path[512], path2[512];
};

/* Byte i of the test content: position-dependent, so a shifted or stale
 * block shows up. */
static unsigned char pattern(long i)
{
	return (unsigned char)(i * 131 + (i >> 12) * 7 + 1);
}

static void fo_path(struct fileobjs *f, char *buf, const char *name)
{
	snprintf(buf, sizeof(f->path), "%s/%s", f->dir, name);
}

static int fo_fill(struct fileobjs *f, const char *name, long size)
{
	unsigned char buf[4096];
	long off, i, n;
	int fd;

	fo_path(f, f->path, name);
	fd = open(f->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		wl_die(&f->w, "%s: %s", f->path, strerror(errno));
	for (off = 0; off < size; off += n) {
		n = size - off < (long)sizeof(buf) ? size - off : (long)sizeof(buf);
		for (i = 0; i < n; i++)
			buf[i] = pattern(off + i);
		if (pwrite(fd, buf, n, off) != n)
			wl_die(&f->w, "write %s: %s", f->path, strerror(errno));
	}
	return fd;
}

/* Compare the first size bytes of fd to the pattern; 0 when equal. */
static long fo_cmp(int fd, long size, char *why, size_t len)
{
	unsigned char buf[4096];
	long off, i, n;

	for (off = 0; off < size; off += n) {
		n = size - off < (long)sizeof(buf) ? size - off : (long)sizeof(buf);
		if (pread(fd, buf, n, off) != n) {
			snprintf(why, len, "short read at %ld: %s", off, strerror(errno));
			return -1;
		}
		for (i = 0; i < n; i++)
			if (buf[i] != pattern(off + i)) {
				snprintf(why, len, "byte %ld is 0x%02x, wrote 0x%02x", off + i,
					 buf[i], pattern(off + i));
				return -1;
			}
	}
	return 0;
}

static void setup_inotify(struct fileobjs *f)
{
	f->fd = fo_fill(f, "watched", f->size);
	f->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (f->ifd < 0)
		wl_die(&f->w, "inotify_init1: %s", strerror(errno));
	f->wd = inotify_add_watch(f->ifd, f->path, IN_MODIFY);
	if (f->wd < 0)
		wl_die(&f->w, "inotify_add_watch %s: %s", f->path, strerror(errno));
	if (unlink(f->path))
		wl_die(&f->w, "unlink %s: %s", f->path, strerror(errno));
}

static void check_inotify(struct fileobjs *f, char *why, size_t len)
{
	char ev[sizeof(struct inotify_event) + 256] __attribute__((aligned(8)));
	const struct inotify_event *e = (const void *)ev;
	ssize_t n;
	int i;

	while (read(f->ifd, ev, sizeof(ev)) > 0)
		; /* nothing queued is expected; drop it anyway */
	if (fo_cmp(f->fd, f->size, why, len))
		return;
	if (pwrite(f->fd, "", 1, f->size) != 1) {
		snprintf(why, len, "write to the watched file: %s", strerror(errno));
		return;
	}
	for (i = 0; i < 100; i++) {
		n = read(f->ifd, ev, sizeof(ev));
		if (n >= (ssize_t)sizeof(*e))
			break;
		poll(NULL, 0, 10);
	}
	if (ftruncate(f->fd, f->size))
		snprintf(why, len, "ftruncate: %s", strerror(errno));
	else if (i == 100)
		snprintf(why, len, "no inotify event for a write to the watched file in 1 s");
	else if (e->wd != f->wd || !(e->mask & IN_MODIFY))
		snprintf(why, len, "inotify event wd %d mask 0x%x, expected wd %d IN_MODIFY",
			 e->wd, e->mask, f->wd);
}

static void setup_locks(struct fileobjs *f)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };

	f->fd = fo_fill(f, "flock", 4096);
	if (flock(f->fd, LOCK_EX | LOCK_NB))
		wl_die(&f->w, "flock %s: %s", f->path, strerror(errno));
	f->fd2 = fo_fill(f, "posix", 4096);
	snprintf(f->path2, sizeof(f->path2), "%s", f->path);
	fo_path(f, f->path, "flock");
	if (fcntl(f->fd2, F_SETLK, &fl))
		wl_die(&f->w, "F_SETLK %s: %s", f->path2, strerror(errno));
}

/* In a child: both locks must be taken by someone else, namely ppid. */
static int probe_locks(struct fileobjs *f)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
	int fd = open(f->path, O_RDWR | O_CLOEXEC), fd2 = open(f->path2, O_RDWR | O_CLOEXEC);

	if (fd < 0 || fd2 < 0)
		return 10;
	if (!flock(fd, LOCK_EX | LOCK_NB))
		return 11; /* the flock was not held */
	if (errno != EWOULDBLOCK)
		return 12;
	if (fcntl(fd2, F_GETLK, &fl))
		return 13;
	if (fl.l_type != F_WRLCK || fl.l_pid != getppid())
		return 14; /* no write lock, or not ours */
	fl.l_type = F_WRLCK;
	if (!fcntl(fd2, F_SETLK, &fl))
		return 15;
	return 0;
}

static void check_locks(struct fileobjs *f, char *why, size_t len)
{
	static const char *const what[] = {
		[10] = "cannot open the lock files",
		[11] = "flock(LOCK_EX) succeeded in a child: the flock is not held",
		[12] = "flock in a child failed oddly",
		[13] = "F_GETLK failed",
		[14] = "F_GETLK does not show this process's write lock",
		[15] = "F_SETLK succeeded in a child: the fcntl lock is not held",
	};
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(probe_locks(f));
	if (pid < 0 || waitpid(pid, &status, 0) != pid) {
		snprintf(why, len, "fork/wait: %s", strerror(errno));
		return;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		status = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
		snprintf(why, len, "%s (probe status %d)",
			 status >= 10 && status <= 15 ? what[status] : "probe died", status);
	}
}

static void setup_linkremap(struct fileobjs *f)
{
	f->fd = fo_fill(f, "a", f->size);
	fo_path(f, f->path2, "b");
	unlink(f->path2); /* left by an earlier run */
	if (link(f->path, f->path2))
		wl_die(&f->w, "link %s %s: %s", f->path, f->path2, strerror(errno));
	if (unlink(f->path))
		wl_die(&f->w, "unlink %s: %s", f->path, strerror(errno));
}

static void check_linkremap(struct fileobjs *f, char *why, size_t len)
{
	struct stat st, sb;

	if (fstat(f->fd, &st) || stat(f->path2, &sb))
		snprintf(why, len, "stat: %s", strerror(errno));
	else if (st.st_ino != sb.st_ino || st.st_dev != sb.st_dev || st.st_nlink < 1)
		snprintf(why, len, "the open file (inode %lu, %lu links) is not %.200s (inode %lu)",
			 (unsigned long)st.st_ino, (unsigned long)st.st_nlink, f->path2,
			 (unsigned long)sb.st_ino);
	else
		fo_cmp(f->fd, f->size, why, len);
}

static void sock_addr(struct fileobjs *f, struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if ((size_t)snprintf(a->sun_path, sizeof(a->sun_path), "%s/sock", f->dir) >=
	    sizeof(a->sun_path))
		wl_die(&f->w, "%s/sock: path too long", f->dir);
}

static void setup_dgram_server(struct fileobjs *f)
{
	struct sockaddr_un a;

	sock_addr(f, &a);
	unlink(a.sun_path);
	f->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (f->fd < 0 || bind(f->fd, (struct sockaddr *)&a, sizeof(a)))
		wl_die(&f->w, "bind %s: %s", a.sun_path, strerror(errno));
}

/* Every tick: count what arrived. */
static void drain_dgram_server(struct fileobjs *f)
{
	char buf[256];

	while (recv(f->fd, buf, sizeof(buf), 0) > 0)
		f->received++;
}

static void check_dgram_server(struct fileobjs *f, char *why, size_t len)
{
	drain_dgram_server(f);
	if (!f->received)
		snprintf(why, len, "no datagram arrived since the last check");
	f->received = 0;
}

static void setup_extunix(struct fileobjs *f)
{
	struct sockaddr_un a;

	sock_addr(f, &a);
	f->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (f->fd < 0 || connect(f->fd, (struct sockaddr *)&a, sizeof(a)))
		wl_die(&f->w, "connect %s: %s", a.sun_path, strerror(errno));
}

static void check_extunix(struct fileobjs *f, char *why, size_t len)
{
	struct sockaddr_un a, want;
	socklen_t al = sizeof(a);

	sock_addr(f, &want);
	if (getpeername(f->fd, (struct sockaddr *)&a, &al))
		snprintf(why, len, "getpeername: %s", strerror(errno));
	else if (strcmp(a.sun_path, want.sun_path))
		snprintf(why, len, "connected to '%.100s', not %.100s", a.sun_path, want.sun_path);
	else if (send(f->fd, f->w.host, strlen(f->w.host), MSG_DONTWAIT) < 0)
		snprintf(why, len, "send to %.100s: %s", want.sun_path, strerror(errno));
}

static void setup_ghost(struct fileobjs *f)
{
	f->fd = fo_fill(f, "ghost", f->size);
	if (unlink(f->path))
		wl_die(&f->w, "unlink %s: %s", f->path, strerror(errno));
}

static void check_ghost(struct fileobjs *f, char *why, size_t len)
{
	struct stat st;

	if (fstat(f->fd, &st))
		snprintf(why, len, "fstat: %s", strerror(errno));
	else if (st.st_nlink != 0 || st.st_size != f->size)
		snprintf(why, len, "nlink %lu size %lld, expected 0 and %ld",
			 (unsigned long)st.st_nlink, (long long)st.st_size, f->size);
	else
		fo_cmp(f->fd, f->size, why, len);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: fileobjs --mode MODE --dir DIR [--size BYTES]\n"
		"  MODE: inotify, locks, linkremap, ghost, dgram-server, extunix\n"
		"  --size BYTES          file size (default 2097152)\n" WL_COMMON_USAGE);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { WL_COMMON_OPTS,
					      { "mode", required_argument, NULL, 'm' },
					      { "dir", required_argument, NULL, 'd' },
					      { "size", required_argument, NULL, 's' },
					      { NULL, 0, NULL, 0 } };
	struct fileobjs f = { .w = { .name = "fileobjs" }, .size = 2 << 20 };
	char why[512];
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (wl_common_opt(&f.w, c))
			continue;
		switch (c) {
		case 'm': f.mode = optarg; break;
		case 'd': f.dir = optarg; break;
		case 's': f.size = atol(optarg); break;
		default: usage();
		}
	}
	if (!f.mode || !f.dir || f.size < 1 || optind != argc)
		usage();
	wl_daemonize(&f.w);
	if (!strcmp(f.mode, "inotify"))
		setup_inotify(&f);
	else if (!strcmp(f.mode, "locks"))
		setup_locks(&f);
	else if (!strcmp(f.mode, "ghost"))
		setup_ghost(&f);
	else if (!strcmp(f.mode, "linkremap"))
		setup_linkremap(&f);
	else if (!strcmp(f.mode, "dgram-server"))
		setup_dgram_server(&f);
	else if (!strcmp(f.mode, "extunix"))
		setup_extunix(&f);
	else
		wl_die(&f.w, "unknown mode %s", f.mode);
	wl_log(&f.w, "%s state built in %s", f.mode, f.dir);
	wl_ready(&f.w);
	for (;;) {
		int check = wl_tick(&f.w);

		if (!strcmp(f.mode, "dgram-server") && !check)
			drain_dgram_server(&f);
		if (!check)
			continue;
		why[0] = 0;
		if (!strcmp(f.mode, "inotify"))
			check_inotify(&f, why, sizeof(why));
		else if (!strcmp(f.mode, "locks"))
			check_locks(&f, why, sizeof(why));
		else if (!strcmp(f.mode, "linkremap"))
			check_linkremap(&f, why, sizeof(why));
		else if (!strcmp(f.mode, "dgram-server"))
			check_dgram_server(&f, why, sizeof(why));
		else if (!strcmp(f.mode, "extunix"))
			check_extunix(&f, why, sizeof(why));
		else
			check_ghost(&f, why, sizeof(why));
		if (why[0])
			wl_result(&f.w, "FAIL %s: %s", f.mode, why);
		else
			wl_result(&f.w, "PASS %s host=%s migrations=%llu", f.mode, f.w.host,
				  (unsigned long long)f.w.migrations);
	}
}
