// SPDX-License-Identifier: GPL-2.0
/*
 * Where the agent lets the peer's rsync write, resolved once. The
 * destination is opened beneath the configured root one component at a
 * time, never following a link; from then on only that fd is used, never
 * the peer's path string again (a directory swapped for a symlink after
 * the check changes nothing). The receiver itself then runs in a mount
 * namespace where that directory is the only writable place (proc.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "caps.h"
#include "err.h"
#include "fss.h"

/* Mode of the directories created below the root: only root may enter. */
#define FSS_DIR_MODE 0700

/* Kernels before 5.6 have no openat2: the O_NOFOLLOW walk alone holds too. */
static atomic_bool no_openat2;

/* One plain component beneath dfd: no symlink (not even a magic one), no "..". */
static int open_beneath(int dfd, const char *name)
{
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd;

	if (!atomic_load(&no_openat2)) {
		fd = (int)syscall(SYS_openat2, dfd, name, &how, sizeof(how));
		if (fd >= 0 || errno != ENOSYS)
			return fd;
		atomic_store(&no_openat2, true);
	}
	return openat(dfd, name, (int)how.flags);
}

/* The operator's root, resolved (its own symlinks are trusted); never the host's "/". */
static int open_root(const char *root, size_t n, char *real, size_t len, int *fd)
{
	char path[PH_PATH_MAX + 1], buf[PATH_MAX];

	snprintf(path, sizeof(path), "%.*s", (int)n, root);
	if (!realpath(path, buf))
		return ph_seterr_errno(PH_EPATH, "fs_root %s", path);
	if (!strcmp(buf, "/"))
		return ph_seterr(PH_ENOTSUP,
				 "fs_root %s is the whole host (/): fs-sync refused; set fs_root "
				 "in [agent] to the directory holding the CTs' directories",
				 path);
	*fd = open(buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0)
		return ph_seterr_errno(PH_EPATH, "fs_root %s", buf);
	if (real)
		snprintf(real, len, "%s", buf);
	return 0;
}

/* Step from *fd into name, creating it if asked; *fd then refers to name. */
static int step(int *fd, const char *name, bool create, const char *dest)
{
	int next = open_beneath(*fd, name);

	if (next < 0 && errno == ENOENT && create) {
		if (mkdirat(*fd, name, FSS_DIR_MODE) < 0 && errno != EEXIST)
			return ph_seterr_errno(PH_ESYS, "fs-sync destination %s: creating %s", dest,
					       name);
		next = open_beneath(*fd, name);
	}
	if (next < 0) {
		if (errno == ENOENT)
			return ph_seterr(PH_ENOENT, "fs-sync destination %s: %s does not exist",
					 dest, name);
		if (errno == ELOOP || errno == ENOTDIR || errno == EXDEV)
			return ph_seterr(PH_EPATH,
					 "fs-sync destination %s: component %s is a symlink "
					 "or not a directory",
					 dest, name);
		return ph_seterr_errno(PH_EPATH, "fs-sync destination %s: %s", dest, name);
	}
	close(*fd);
	*fd = next;
	return 0;
}

int fss_open_dest(const char *dest, const char *roots, bool create, int *fd, char *root_real,
		  size_t len)
{
	char comp[NAME_MAX + 1];
	const char *root, *rest;
	size_t n;
	int ret;

	*fd = -1;
	if ((ret = fss_check_dest_lexical(dest, roots)) < 0)
		return ret;
	n = fss_pick_root(dest, roots, &root);
	rest = dest + (n == 1 ? 0 : n);
	rest += strspn(rest, "/");
	if (!*rest)
		return ph_seterr(PH_EPATH,
				 "fs-sync destination %s is the fs_root itself: each CT syncs into "
				 "its own directory below it (a --delete there would remove every "
				 "other CT's tree)",
				 dest);
	if ((ret = open_root(root, strcspn(root, FSS_ROOT_SEP), root_real, len, fd)) < 0)
		return ret;
	while (*rest) {
		size_t k = strcspn(rest, "/");

		if (k > NAME_MAX) {
			ret = ph_seterr(PH_EPATH,
					"fs-sync destination %s: a component is longer "
					"than %d bytes",
					dest, NAME_MAX);
			break;
		}
		memcpy(comp, rest, k);
		comp[k] = '\0';
		if ((ret = step(fd, comp, create, dest)) < 0)
			break;
		rest += k;
		rest += strspn(rest, "/");
	}
	if (ret < 0) {
		close(*fd);
		*fd = -1;
	}
	return ret;
}
