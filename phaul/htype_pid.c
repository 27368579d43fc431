// SPDX-License-Identifier: GPL-2.0
/* pid:N: the process tree rooted at N. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>

#include "err.h"
#include "htype.h"

static int pid_resolve(struct ct *ct)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(ct->id, &end, 10);
	if (errno || *end || n <= 1 || n > 4194304)
		return ph_seterr(PH_EUSAGE, "'%s': pid must be a number > 1", ct->spec);
	ct->root = (pid_t)n;
	if (kill(ct->root, 0) < 0 && errno == ESRCH)
		return ph_seterr(PH_ENOENT, "%s: no such process", ct->spec);
	return ct_collect_tree(ct);
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
