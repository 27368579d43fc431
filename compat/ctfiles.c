// SPDX-License-Identifier: GPL-2.0
/*
 * The paths a CT's restore opens by name: its tasks' open files, cwd, root
 * and file-backed mappings, as /proc shows them before the freeze, minus
 * what travels with the CT (synced or shared paths). The destination looks
 * each one up and says only: there, missing, or of another type or size
 * (CRIU's files-reg.c refuses a regular file whose size changed).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kcmp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "caps.h"
#include "compat/compat.h"
#include "compat/procfd.h"
#include "err.h"

#define DELETED " (deleted)"

bool compat_path_normal(const char *p)
{
	size_t len;

	if (!p || p[0] != '/' || (len = strnlen(p, PH_PATH_MAX + 1)) > PH_PATH_MAX)
		return false;
	if (len == 1)
		return true;
	if (p[len - 1] == '/')
		return false;
	for (const char *c = p; *c; c++) {
		if (*c != '/')
			continue;
		/* each component: not empty, not "." or ".." */
		if (c[1] == '/' || (c[1] == '.' && (c[2] == '/' || !c[2])) ||
		    (c[1] == '.' && c[2] == '.' && (c[3] == '/' || !c[3])))
			return false;
	}
	return true;
}

/* Is path dir or beneath it? */
static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 1 && dir[0] == '/')
		return true;
	return !strncmp(path, dir, n) && (path[n] == '\0' || path[n] == '/');
}

struct collect {
	struct compat_files *out;
	const char *const *excl;
	size_t nexcl, bytes;
	const char *task; /* "/proc/PID/task/TID" being read */
};

/*
 * Add one path with what stat says of it (st NULL: lstat it by name). sized:
 * the restore finds the size it had here (CRIU checks a regular file's size
 * unless it is open O_WRONLY|O_APPEND); a file the CT may write is checked by
 * type only, as its size may change between here and there on shared storage.
 */
static int add(struct collect *c, const char *path, const struct stat *st, bool sized)
{
	struct compat_files *o = c->out;
	size_t len = strlen(path);
	Phaul__CheckFile *f;
	struct stat own;

	if (!compat_path_normal(path) || !strncmp(path, "/proc/", 6) || !strncmp(path, "/sys/", 5))
		return 0; /* pseudo files: CRIU restores them by other means */
	for (size_t i = 0; i < c->nexcl; i++)
		if (under(path, c->excl[i]))
			return 0;
	for (size_t i = 0; i < o->n; i++)
		if (!strcmp(o->v[i]->path, path)) {
			o->v[i]->has_size &= sized;
			return 0;
		}
	if (!st) {
		if (lstat(path, &own) < 0)
			return 0; /* gone since: CRIU decides */
		st = &own;
	}
	if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode))
		return 0; /* devices, fifos: not this check's business */
	o->total++;
	if (o->n == PH_CHECK_FILES_MAX || c->bytes + len > PH_CHECK_FILES_BYTES_MAX) {
		o->capped = true;
		return 0;
	}
	if (!(f = malloc(sizeof(*f))))
		return ph_seterr(PH_ENOMEM, "CT file list");
	phaul__check_file__init(f);
	if (!(f->path = strdup(path))) {
		free(f);
		return ph_seterr(PH_ENOMEM, "CT file list");
	}
	f->has_type = 1;
	f->type = st->st_mode & S_IFMT;
	f->has_size = S_ISREG(st->st_mode) && sized;
	f->size = f->has_size ? (uint64_t)st->st_size : 0;
	o->v[o->n++] = f;
	c->bytes += len;
	return 0;
}

/* Is the task's fd open for writing (fdinfo "flags:", octal)? */
static bool fd_writable(const struct collect *c, const char *fd)
{
	char p[PATH_MAX], line[128];
	unsigned int flags;
	bool w = false;
	FILE *f;

	snprintf(p, sizeof(p), "%s/fdinfo/%s", c->task, fd);
	if (!(f = fopen(p, "re")))
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "flags: %o", &flags) == 1) {
			w = (flags & O_ACCMODE) != O_RDONLY;
			break;
		}
	fclose(f);
	return w;
}

/* A /proc link (fd/N, cwd, root) reading target: the file it holds, if it has a path. */
static int add_target(void *arg, const char *fd, const char *link, const char *target)
{
	size_t n = strlen(target), dl = strlen(DELETED);
	struct stat st;

	(void)fd;
	/* unlinked files travel in the images as CRIU ghosts */
	if (n > dl && !strcmp(target + n - dl, DELETED))
		return 0;
	if (target[0] != '/' || stat(link, &st) < 0)
		return 0; /* pipe:[..], socket:[..], anon_inode:..: no path */
	return add(arg, target, &st, !S_ISREG(st.st_mode) || !fd_writable(arg, fd));
}

/* The task's cwd or root link. */
static int add_link(struct collect *c, const char *task, const char *name)
{
	char link[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "%s/%s", task, name);
	if ((n = readlink(link, target, sizeof(target) - 1)) <= 0)
		return 0;
	target[n] = '\0';
	return add_target(c, name, link, target);
}

/* Do tasks a and b share this (KCMP_FS, KCMP_FILES)? Unknown: no. */
static bool shares(uint32_t a, uint32_t b, int what)
{
	return a != b && syscall(SYS_kcmp, (pid_t)a, (pid_t)b, what, 0UL, 0UL) == 0;
}

/* Task tid of pid's thread group: its cwd, root and fds, unless it shares the leader's. */
static int scan_task(struct collect *c, uint32_t pid, uint32_t tid)
{
	char task[64];
	int ret;

	snprintf(task, sizeof(task), "/proc/%u/task/%u", pid, tid);
	c->task = task;
	if (!shares(pid, tid, KCMP_FS) &&
	    ((ret = add_link(c, task, "cwd")) < 0 || (ret = add_link(c, task, "root")) < 0))
		return ret;
	/* threads mostly share one table: read it once (add() also keeps each path once) */
	return shares(pid, tid, KCMP_FILES) ? 0 : procfd_walk(task, add_target, c);
}

/* File-backed mappings: "start-end perms offset dev inode   /path". */
static int scan_maps(struct collect *c, uint32_t pid)
{
	char p[64], line[PATH_MAX + 128];
	size_t dl = strlen(DELETED);
	int ret = 0, off;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%u/maps", pid);
	if (!(f = fopen(p, "re")))
		return 0;
	while (ret == 0 && fgets(line, sizeof(line), f)) {
		size_t n = strcspn(line, "\n");
		char *path;

		line[n] = '\0';
		off = -1;
		sscanf(line, "%*s %*s %*s %*s %*s %n", &off);
		if (off < 0 || line[off] != '/')
			continue; /* anonymous, [heap], [vdso], ... */
		path = line + off;
		n = strlen(path);
		if (n > dl && !strcmp(path + n - dl, DELETED))
			continue;
		ret = add(c, path, NULL, true);
	}
	fclose(f);
	return ret;
}

static ino_t mnt_ns(const char *proc)
{
	char p[128];
	struct stat st;

	snprintf(p, sizeof(p), "%s/ns/mnt", proc);
	return stat(p, &st) < 0 ? 0 : st.st_ino;
}

static int scan_pid(struct collect *c, uint32_t pid, ino_t own_ns)
{
	char p[64];
	struct dirent *de;
	unsigned int tid;
	int ret = 0;
	DIR *d;

	snprintf(p, sizeof(p), "/proc/%u", pid);
	if (mnt_ns(p) != own_ns) {
		/* its paths name another tree: the CT's root, which its type syncs */
		c->out->foreign_mnt = true;
		return 0;
	}
	if ((ret = scan_maps(c, pid)) < 0)
		return ret;
	snprintf(p, sizeof(p), "/proc/%u/task", pid);
	if (!(d = opendir(p)))
		return 0;
	while (ret == 0 && (de = readdir(d))) {
		if (sscanf(de->d_name, "%u", &tid) == 1)
			ret = scan_task(c, pid, tid);
	}
	closedir(d);
	return ret;
}

int compat_ct_files(const uint32_t *pids, size_t npids, const char *const *excl, size_t nexcl,
		    struct compat_files *out)
{
	struct collect c = { .out = out, .excl = excl, .nexcl = nexcl };
	ino_t own = mnt_ns("/proc/self");
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (!(out->v = calloc(PH_CHECK_FILES_MAX, sizeof(*out->v))))
		return ph_seterr(PH_ENOMEM, "CT file list");
	for (size_t i = 0; ret == 0 && i < npids; i++)
		ret = scan_pid(&c, pids[i], own);
	if (ret < 0)
		compat_files_free(out);
	return ret;
}

void compat_files_free(struct compat_files *fl)
{
	if (!fl)
		return;
	for (size_t i = 0; fl->v && i < fl->n; i++) {
		free(fl->v[i]->path);
		free(fl->v[i]);
	}
	free(fl->v);
	memset(fl, 0, sizeof(*fl));
}

int compat_files_valid(Phaul__CheckFile *const *files, size_t n)
{
	if (n > PH_CHECK_FILES_MAX)
		return ph_seterr(PH_ETOOBIG, "CheckReq names %zu files (max %u)", n,
				 PH_CHECK_FILES_MAX);
	for (size_t i = 0; i < n; i++) {
		const char *p = files[i]->path;

		if (p && strnlen(p, PH_PATH_MAX + 1) > PH_PATH_MAX)
			return ph_seterr(PH_ETOOBIG, "CheckReq file %zu: path over %u bytes", i,
					 PH_PATH_MAX);
		if (!compat_path_normal(p))
			return ph_seterr(PH_EPROTO,
					 "CheckReq file %zu: not an absolute normalised path", i);
	}
	return 0;
}

int compat_files_lookup(Phaul__CheckFile *const *files, size_t n, Phaul__HostFacts *f)
{
	struct stat st;

	f->files_missing = calloc(n ? n : 1, sizeof(uint32_t));
	f->files_differ = calloc(n ? n : 1, sizeof(uint32_t));
	if (!f->files_missing || !f->files_differ)
		return ph_seterr(PH_ENOMEM, "file answer");
	for (size_t i = 0; i < n; i++) {
		const Phaul__CheckFile *c = files[i];

		/* a look, never a walk with side effects: no last link, no automount */
		if (fstatat(AT_FDCWD, c->path, &st, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT) < 0)
			f->files_missing[f->n_files_missing++] = (uint32_t)i;
		else if ((c->has_type && (st.st_mode & S_IFMT) != c->type) ||
			 (c->has_size && S_ISREG(st.st_mode) && (uint64_t)st.st_size != c->size))
			f->files_differ[f->n_files_differ++] = (uint32_t)i;
	}
	f->has_files_checked = f->files_checked = 1;
	return 0;
}
