// SPDX-License-Identifier: GPL-2.0
/*
 * The CT's open files as /proc shows them before the freeze, against what
 * CRIU 3.17 dumps only with an option (or not at all). The rules are
 * CRIU's: files-reg.c check_path_remap() (ghost files up to ghost_limit,
 * link remaps), file-lock.c (locks need --file-locks), fsnotify.c
 * check_open_handle() (a watch needs a path), sk-unix.c
 * __dump_external_socket() (a socket connected outside the tree).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compat/compat.h"
#include "compat/procfd.h"
#include "compat/unixsk.h"
#include "err.h"

#define GHOST_LIMIT_DEFAULT (1u << 20) /* CRIU's opts.ghost_limit default */
#define FH_BYTES_MAX	    128	       /* MAX_HANDLE_SZ */
#define DELETED		    " (deleted)"

/* A unix socket the tree holds (an fd linking to "socket:[INO]"). */
struct tree_sk {
	uint32_t ino, pid;
	char fd[16];
};

struct scan {
	const struct compat_fd_allow *allow;
	char *why;
	size_t len;
	int found;
	struct tree_sk *sk; /* the tree's sockets, for scan_unix() */
	size_t nsk, capsk;
	bool sk_full; /* more than USK_MAX: not checked */
	uint32_t pid; /* the one scan_fd() looks at */
};

/* Record one problem; the first one's text is kept. */
static void problem(struct scan *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct scan *s, const char *fmt, ...)
{
	va_list ap;

	if (s->found++)
		return;
	va_start(ap, fmt);
	vsnprintf(s->why, s->len, fmt, ap);
	va_end(ap);
}

/* A regular file open under a name that is gone: ghost or link remap. */
static void scan_deleted(struct scan *s, uint32_t pid, const char *fd, const char *target)
{
	uint32_t limit = s->allow->ghost_limit ? s->allow->ghost_limit : GHOST_LIMIT_DEFAULT;
	size_t tl = strlen(target), dl = strlen(DELETED);
	char p[64 + NAME_MAX];
	struct stat st;

	/* memfd and SysV shm names are not paths; CRIU dumps them by other means */
	if (target[0] != '/' || tl <= dl || strcmp(target + tl - dl, DELETED) ||
	    !strncmp(target, "/memfd:", 7))
		return;
	snprintf(p, sizeof(p), "/proc/%u/fd/%s", pid, fd);
	if (stat(p, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	if (st.st_nlink == 0 && (uint64_t)st.st_size > limit)
		problem(s,
			"pid %u fd %s: unlinked open file %.*s has %lld bytes, over the ghost "
			"limit of %u: --ghost-limit SIZE ([criu] ghost_limit) copies it into "
			"the images, at its size on the link and in the frozen time",
			pid, fd, (int)(tl - dl), target, (long long)st.st_size, limit);
	else if (st.st_nlink > 0 && !s->allow->link_remap)
		problem(s,
			"pid %u fd %s: open file %.*s lost its name but has another link: "
			"--link-remap ([criu] link_remap) links it back in its directory during "
			"the dump (--sync that directory)",
			pid, fd, (int)(tl - dl), target);
}

/* Mount point (in pid's root) of the filesystem with kernel dev sdev. */
static int mount_fd(uint32_t pid, unsigned long sdev)
{
	char p[64], line[4096], mnt[PATH_MAX], path[PATH_MAX + 64];
	unsigned int maj, min;
	int fd = -1;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%u/mountinfo", pid);
	if (!(f = fopen(p, "re")))
		return -1;
	while (fd < 0 && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &maj, &min, mnt) == 3 &&
		    maj == (sdev >> 20) && min == (sdev & 0xfffff)) {
			snprintf(path, sizeof(path), "/proc/%u/root%s", pid, mnt);
			/* not O_PATH: open_by_handle_at() refuses those (EBADF) */
			fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		}
	fclose(f);
	return fd;
}

/*
 * Links of the inode an inotify line names ("inotify wd:1 ino:26d
 * sdev:14 ... fhandle-bytes:c fhandle-type:1 f_handle:6d02..."), or -1
 * when it cannot be told (no privilege, inode gone, odd line).
 */
static long watch_nlink(uint32_t pid, const char *line)
{
	unsigned long ino, sdev;
	unsigned int nb, type, i;
	char hex[2 * FH_BYTES_MAX + 1];
	unsigned char buf[sizeof(struct file_handle) + FH_BYTES_MAX] __attribute__((aligned(8)));
	struct file_handle *h = (struct file_handle *)buf;
	unsigned char *fb = buf + offsetof(struct file_handle, f_handle);
	struct stat st;
	long n = -1;
	int mfd, fd;

	if (sscanf(line,
		   "inotify wd:%*x ino:%lx sdev:%lx mask:%*x ignored_mask:%*x "
		   "fhandle-bytes:%x fhandle-type:%x f_handle:%256s",
		   &ino, &sdev, &nb, &type, hex) != 5 ||
	    nb > FH_BYTES_MAX || strlen(hex) != 2 * nb)
		return -1;
	h->handle_bytes = nb;
	h->handle_type = (int)type;
	for (i = 0; i < nb; i++)
		if (sscanf(hex + 2 * i, "%2hhx", &fb[i]) != 1)
			return -1;
	if ((mfd = mount_fd(pid, sdev)) < 0)
		return -1;
	fd = open_by_handle_at(mfd, h, O_PATH | O_CLOEXEC);
	if (fd >= 0 && fstat(fd, &st) == 0 && st.st_ino == ino)
		n = (long)st.st_nlink;
	if (fd >= 0)
		close(fd);
	close(mfd);
	return n;
}

static void scan_fdinfo(struct scan *s, uint32_t pid, const char *fd, const char *target)
{
	char p[64 + NAME_MAX], line[1024];
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%u/fdinfo/%s", pid, fd);
	if (!(f = fopen(p, "re")))
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "lock:", 5) && !s->allow->file_locks)
			problem(s,
				"pid %u fd %s: %s is locked (%s): --file-locks ([criu] "
				"file_locks) migrates the lock; the file must exist on the "
				"destination (--sync it)",
				pid, fd, target,
				strstr(line, "FLOCK")	 ? "flock"
				: strstr(line, "OFDLCK") ? "OFD lock"
							 : "fcntl lock");
		else if (!strncmp(line, "inotify wd:", 11) && watch_nlink(pid, line) == 0)
			problem(s,
				"pid %u fd %s: an inotify watch is on an unlinked file: CRIU 3.17 "
				"cannot migrate it whatever the options (it needs a path to watch "
				"on the destination); remove the watch or keep the file linked",
				pid, fd);
	}
	fclose(f);
}

static void note_socket(struct scan *s, uint32_t pid, const char *fd, const char *target)
{
	struct tree_sk *v;
	unsigned int ino;

	if (sscanf(target, "socket:[%u]", &ino) != 1 || s->sk_full)
		return;
	if (s->nsk == s->capsk) {
		s->capsk = s->capsk ? s->capsk * 2 : 64;
		if (s->capsk > USK_MAX || !(v = realloc(s->sk, s->capsk * sizeof(*v)))) {
			s->sk_full = true;
			return;
		}
		s->sk = v;
	}
	v = &s->sk[s->nsk++];
	v->ino = ino;
	v->pid = pid;
	snprintf(v->fd, sizeof(v->fd), "%.15s", fd);
}

static bool tree_has(const struct scan *s, uint32_t ino)
{
	for (size_t i = 0; i < s->nsk; i++)
		if (s->sk[i].ino == ino)
			return true;
	return false;
}

/* A tree's unix socket connected to one outside it (sk-unix.c __dump_external_socket()). */
static void scan_unix_one(struct scan *s, const struct usk_table *t, const struct tree_sk *k)
{
	const struct usk *u = usk_find(t, k->ino), *peer;
	char pname[64];

	if (!u || !u->peer || tree_has(s, u->peer))
		return;
	peer = usk_find(t, u->peer);
	if (peer && peer->named)
		snprintf(pname, sizeof(pname), "%.60s", peer->name);
	else
		snprintf(pname, sizeof(pname), "nameless socket %u", u->peer);
	if (u->type != SOCK_DGRAM)
		problem(s,
			"pid %u fd %s: unix %s socket connected to %s outside the tree: CRIU "
			"3.17 cannot migrate one end of a connection; migrate the peer with the "
			"tree or close the connection",
			k->pid, k->fd, u->type == SOCK_STREAM ? "stream" : "seqpacket", pname);
	else if (!peer || !peer->named)
		problem(s,
			"pid %u fd %s: unix datagram socket connected to a %s outside the tree: "
			"CRIU 3.17 cannot migrate it (it reconnects by name)",
			k->pid, k->fd, pname);
	else if (!s->allow->ext_unix_sk)
		problem(s,
			"pid %u fd %s: unix datagram socket connected to %s outside the tree: "
			"--ext-unix-sk ([criu] ext_unix_sk) migrates it, reconnected by name on "
			"the destination, where %s must exist",
			k->pid, k->fd, pname, pname);
}

static void scan_unix(struct scan *s)
{
	struct usk_table t;

	if (!s->nsk || s->sk_full || usk_dump(&t) < 0)
		return; /* CRIU decides */
	for (size_t i = 0; i < s->nsk; i++)
		scan_unix_one(s, &t, &s->sk[i]);
	usk_free(&t);
}

static int scan_fd(void *arg, const char *fd, const char *link, const char *target)
{
	struct scan *s = arg;

	(void)link;
	scan_deleted(s, s->pid, fd, target);
	scan_fdinfo(s, s->pid, fd, target);
	note_socket(s, s->pid, fd, target);
	return 0;
}

static void scan_pid(struct scan *s, uint32_t pid)
{
	char task[32];

	/* gone, or a thread: CRIU sees what the tree has then */
	snprintf(task, sizeof(task), "/proc/%u", pid);
	s->pid = pid;
	procfd_walk(task, scan_fd, s);
}

int compat_scan_fds(const uint32_t *pids, size_t npids, const struct compat_fd_allow *allow,
		    char *why, size_t len)
{
	struct scan s = { .allow = allow, .why = why, .len = len };

	if (len)
		why[0] = '\0';
	for (size_t i = 0; i < npids; i++)
		scan_pid(&s, pids[i]);
	scan_unix(&s);
	free(s.sk);
	return s.found;
}
