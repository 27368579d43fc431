// SPDX-License-Identifier: GPL-2.0
/*
 * pid:N: the process tree rooted at N, dumped over phaul's own `criu swrk`
 * connection and restored with criu_restore() (engine/criu.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* One socket serves every pre-dump and the dump (engine/README.md). */
static int pid_open_pages(struct ct *ct, struct ct_pages *p)
{
	int sp[2], ret;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		return ph_seterr_errno(PH_ESYS, "page-server socketpair");
	ret = criu_conn_open_fds(&ct->criu, &sp[0], 1);
	ct->criu_ps_fd = sp[0];
	close(sp[0]); /* swrk holds its own copy at the same number */
	*p = (struct ct_pages){ .sk = sp[1] };
	return ret;
}

/* d's options for a dump of the tree over ct->criu. */
static void pid_dump_opts(const struct ct *ct, const struct ct_dump *d, struct criu_opts *o)
{
	*o = *d->criu;
	pid_criu_opts(ct, o);
	o->images_dir = d->images_dir;
	o->parent_img = d->parent;
	o->ps_fd = ct->criu_ps_fd;
}

static int pid_pre_dump(struct ct *ct, const struct ct_dump *d)
{
	struct criu_opts o;

	pid_dump_opts(ct, d, &o);
	return criu_pre_dump(ct->criu, &o);
}

static int pid_dump(struct ct *ct, const struct ct_dump *d, criu_notify_fn fn, void *arg,
		    enum criu_dump_outcome *outcome)
{
	struct criu_opts o;

	pid_dump_opts(ct, d, &o);
	return criu_dump(ct->criu, &o, fn, arg, outcome);
}

static int pid_restore(struct ct *ct, const char *images_dir, const struct criu_opts *co,
		       pid_t *pid)
{
	struct criu_opts o = CRIU_OPTS_INIT;

	if (co)
		o = *co;
	o.images_dir = images_dir;
	return criu_restore(&o, pid);
}

static int pid_discard(struct ct *ct, pid_t root)
{
	int ret;

	if (root <= 0)
		return 0;
	/*
	 * The whole tree: a held one is stopped, and children left behind a
	 * killed root would stay stopped for ever. The root is our child
	 * (CRIU's rst_sibling) unless a recover session does this: reap it.
	 */
	ret = criu_tree_signal(root, SIGKILL);
	kill(root, SIGKILL);
	waitpid(root, NULL, WNOHANG);
	return ret;
}

const struct htype_ops htype_pid = {
	.name = "pid",
	.caps = CT_CAP_LAZY_RESTORE | CT_CAP_POSTCOPY | CT_CAP_RST_NOTIFY | CT_CAP_HOLD,
	.resolve = pid_resolve,
	.check_criu = ct_criu_any,
	.criu_opts = pid_criu_opts,
	.open_pages = pid_open_pages,
	.pre_dump = pid_pre_dump,
	.dump = pid_dump,
	.restore = pid_restore,
	.discard = pid_discard,
	.probe = ct_probe_none,
	.kept = ct_kept_none,
};
