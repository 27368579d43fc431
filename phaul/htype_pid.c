// SPDX-License-Identifier: GPL-2.0
/* pid:N: the process tree rooted at N. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "htype.h"
#include "util.h"

/* Append N's children (all threads' children files) breadth-first. */
static int add_children(struct ct *ct, pid_t pid)
{
	char path[64], buf[4096];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return 0; /* gone meanwhile: the dump will notice */
	while ((de = readdir(d))) {
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(buf, sizeof(buf), "/proc/%d/task/%s/children", pid, de->d_name);
		f = fopen(buf, "re");
		if (!f)
			continue;
		while (fscanf(f, "%d", &pid) == 1) {
			if (ct->npids == CT_PIDS_MAX) {
				fclose(f);
				closedir(d);
				return ph_seterr(PH_ETOOBIG, "%s has more than %d processes",
						 ct->spec, CT_PIDS_MAX);
			}
			ct->pids[ct->npids++] = (uint32_t)pid;
		}
		fclose(f);
	}
	closedir(d);
	return 0;
}

static uint64_t rss_kb(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	return proc_kb(path, "VmRSS");
}

static int pid_resolve(struct ct *ct)
{
	char *end;
	long n;
	int ret;

	errno = 0;
	n = strtol(ct->id, &end, 10);
	if (errno || *end || n <= 1 || n > 4194304)
		return ph_seterr(PH_EUSAGE, "'%s': pid must be a number > 1", ct->spec);
	ct->root = (pid_t)n;
	if (kill(ct->root, 0) < 0 && errno == ESRCH)
		return ph_seterr(PH_ENOENT, "%s: no such process", ct->spec);
	ct->npids = 0;
	ct->pids[ct->npids++] = (uint32_t)ct->root;
	for (size_t i = 0; i < ct->npids; i++)
		if ((ret = add_children(ct, (pid_t)ct->pids[i])) < 0)
			return ret;
	ct->rss_kb = 0;
	for (size_t i = 0; i < ct->npids; i++)
		ct->rss_kb += rss_kb((pid_t)ct->pids[i]);
	return 0;
}

static void pid_criu_opts(const struct ct *ct, struct criu_opts *o)
{
	o->pid = ct->root;
}

const struct htype_ops htype_pid = {
	.name = "pid",
	.resolve = pid_resolve,
	.criu_opts = pid_criu_opts,
};
