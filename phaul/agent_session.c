// SPDX-License-Identifier: GPL-2.0
/* Agent session end: commit or discard what a migration left here. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "err.h"
#include "hooks.h"
#include "htype.h"
#include "log.h"
#include "util.h"

const char *agent_state_name(enum agent_state s)
{
	switch (s) {
	case AG_READY: return "ready";
	case AG_COPYING: return "copying";
	case AG_RESTORED: return "restored";
	}
	return "?";
}

int agent_hook(struct agent *a, const char *stage, const char *err)
{
	struct hook_env he = {
		.ct = a->ct[0] ? a->ct : NULL,
		.src_host = a->peer,
		.dst_host = a->host,
		.side = "destination",
		.work_dir = a->dir[0] ? a->dir : NULL,
		.root_pid = a->restored_pid,
		.error = err,
	};

	return hooks_run(a->cfg->hooks_dir, stage, &he);
}

static void discard_restored(struct agent *a)
{
	static struct ct ct; /* large; one migration per agent process */

	if (a->ct[0] && ct_parse(a->ct, &ct) == 0 && ct.ops->discard) {
		if (ct.ops->discard(&ct, a->restored_pid) < 0)
			pr_warn("%s", ph_errmsg());
		return;
	}
	/* The restored root is our child (CRIU's rst_sibling): reap it. */
	kill(-a->restored_pid, SIGKILL);
	kill(a->restored_pid, SIGKILL);
	waitpid(a->restored_pid, NULL, 0);
}

int agent_finish(struct agent *a, bool commit)
{
	/* The page relay ends as soon as the stream does (or fails). */
	if (pages_relay_join(&a->relay) < 0 && !commit)
		pr_debug("page relay: %s", ph_errmsg());
	if (commit) {
		pr_info("migration from %s committed%s", a->peer,
			a->restored_pid ? "" : " (nothing restored)");
		if (a->restored_pid && agent_hook(a, HOOK_ON_SUCCESS, NULL) < 0)
			pr_warn("%s", ph_errmsg()); /* too late to change anything */
		/* The CT runs from memory now: the images are only disk used. */
		if (a->dir[0] && !a->cfg->keep_images && rm_tree(a->dir) == 0)
			a->dir[0] = '\0';
		return 0;
	}
	if (a->discarded)
		return 0;
	a->discarded = true;
	if (a->dir[0] && agent_hook(a, HOOK_ON_FAILURE, "migration not committed") < 0)
		pr_warn("%s", ph_errmsg());
	if (a->restored_pid > 0) {
		/* The source resumes: a second copy here must not run on. */
		pr_warn("discarding restored %s %d", a->ct[0] ? a->ct : "tree", a->restored_pid);
		discard_restored(a);
		a->restored_pid = 0;
	}
	if (a->dir[0] && !a->cfg->keep_images) {
		if (rm_tree(a->dir) < 0)
			pr_warn("%s", ph_errmsg());
		else
			pr_info("removed %s", a->dir);
		a->dir[0] = '\0';
	}
	return 0;
}

void agent_cleanup(struct agent *a)
{
	pages_relay_join(&a->relay);
	criu_ps_close(a->ps);
	a->ps = NULL;
}
