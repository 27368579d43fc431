// SPDX-License-Identifier: GPL-2.0
/* compat: one walk over a task's /proc fd links. */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "compat/procfd.h"

int procfd_walk(const char *task, procfd_fn fn, void *arg)
{
	char dir[PATH_MAX], link[PATH_MAX + NAME_MAX + 2], target[PATH_MAX];
	struct dirent *de;
	int ret = 0;
	ssize_t n;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/fd", task);
	if (!(d = opendir(dir)))
		return 0;
	while (ret == 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
		if ((n = readlink(link, target, sizeof(target) - 1)) <= 0)
			continue;
		target[n] = '\0';
		ret = fn(arg, de->d_name, link, target);
	}
	closedir(d);
	return ret;
}
