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
#include "forensics.h"
#include "hooks.h"
#include "htype.h"
#include "log.h"
#include "mrec.h"
#include "proto/msg.h"
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
	/* "lxc:web1" -> PHAUL_CT_TYPE lxc, PHAUL_CT_ID web1, as on the source */
	const char *colon = strchr(a->ct, ':');
	char type[32] = "";
	struct hook_env he = {
		.ct = a->ct[0] ? a->ct : NULL,
		.ct_type = colon && (size_t)(colon - a->ct) < sizeof(type) ? type : NULL,
		.ct_id = colon ? colon + 1 : NULL,
		.src_host = a->peer,
		.dst_host = a->host,
		.side = "destination",
		.work_dir = a->dir[0] ? a->dir : NULL,
		.root_pid = a->restored_pid,
		.error = err,
	};

	if (he.ct_type)
		memcpy(type, a->ct, colon - a->ct);
	return hooks_run(a->cfg->hooks_dir, stage, &he);
}

/* The current error, kept across bookkeeping that may fail on its own. */
struct err_saved {
	int err;
	char msg[1024];
};

static void err_save(struct err_saved *e)
{
	e->err = ph_lasterr();
	snprintf(e->msg, sizeof(e->msg), "%s", ph_errmsg());
}

static void err_restore(const struct err_saved *e)
{
	if (e->err)
		ph_seterr(e->err, "%s", e->msg);
	else
		ph_clearerr();
}

int agent_ct(struct agent *a, struct ct **out)
{
	static struct ct ct; /* large; one migration per agent process */

	*out = &ct;
	return ct_parse_dst(a->ct, &ct);
}

bool agent_ct_can(struct agent *a, unsigned caps)
{
	struct ct *ct;

	agent_ct(a, &ct);
	return (ct->ops->caps & caps) == caps;
}

/* The type's discard (by the CT's name, whatever restored_pid); false if it failed. */
static bool discard_restored(struct agent *a)
{
	struct ct *ct;

	agent_ct(a, &ct);
	if (ct->ops->discard(ct, a->restored_pid) == 0)
		return true;
	pr_warn("%s", ph_errmsg());
	return false;
}

void agent_record(struct agent *a, enum mrec_dst_state st)
{
	struct mrec r = { .side = MREC_DEST, .state = st, .pid = a->restored_pid };

	struct err_saved e;

	if (!a->mig_id[0])
		return;
	err_save(&e); /* bookkeeping: the caller's error (why it discards, say) stays */
	snprintf(r.id, sizeof(r.id), "%s", a->mig_id);
	snprintf(r.ct, sizeof(r.ct), "%s", a->ct);
	snprintf(r.peer, sizeof(r.peer), "%s", a->peer);
	if (r.pid > 0 && proc_start_time(r.pid, &r.start) < 0)
		r.start = 0; /* already gone (discarded) */
	if (mrec_save(a->cfg->work_dir, &r) < 0)
		pr_err("recording migration %s as %s: %s", a->mig_id, mrec_dst_state_name(st),
		       ph_errmsg());
	err_restore(&e);
}

/* Go: the source's copy is gone; ours runs from here on. */
static int let_run(struct agent *a)
{
	int ret = 0;

	/*
	 * Recorded before acting: a crash after this is answered RUNNING, or
	 * in post-copy FILLING (its memory still comes from the source:
	 * agent_lazy_settle() records how that ended).
	 */
	agent_record(a, a->postcopy ? DST_FILLING : DST_RUNNING);
	if (a->held && (ret = criu_tree_signal(a->restored_pid, SIGCONT)) < 0)
		pr_err("letting %s %d run: %s", a->ct[0] ? a->ct : "tree", a->restored_pid,
		       ph_errmsg());
	a->held = false;
	a->committed = true;
	return ret;
}

int agent_finish(struct agent *a, bool commit)
{
	struct err_saved e;
	bool may_run = false;

	/* The page relay ends as soon as the stream does (or fails). */
	if (pages_relay_join(&a->relay) < 0 && !commit)
		pr_debug("page relay: %s", ph_errmsg());
	/*
	 * The store's part is over either way: the images are written or
	 * dropped. A hybrid's post-copy relay answers from its pages files
	 * until every page is in: closed once the relay is (below, or
	 * agent_cleanup()).
	 */
	if (!a->hybrid) {
		pstore_close(a->store);
		a->store = NULL;
	}
	if (commit) {
		if (fault_at("agent-go"))
			raise(SIGKILL);
		if (a->restored_pid && let_run(a) < 0)
			return -ph_lasterr();
		if (fault_at("agent-ack"))
			raise(SIGKILL);
		if (fault_at("agent-cut-ack"))
			mux_abort(a->mux, PH_EEOF,
				  "link cut after Go (PHAUL_FAULT_COMMIT=agent-cut-ack)");
		pr_info("migration from %s committed%s", a->peer,
			a->restored_pid ? "" : " (nothing restored)");
		if (a->restored_pid && agent_hook(a, HOOK_ON_SUCCESS, NULL) < 0)
			pr_warn("%s", ph_errmsg()); /* too late to change anything */
		/*
		 * The CT runs from memory now: the images are only disk used;
		 * a lazy restore's daemon still reads them (agent_lazy_settle).
		 */
		if (a->dir[0] && !a->lazy && !a->cfg->keep_images && rm_tree(a->dir) == 0)
			a->dir[0] = '\0';
		return 0;
	}
	if (a->discarded)
		return 0;
	a->discarded = true;
	err_save(&e); /* the caller answers with its own error, not the clean-up's */
	criu_lazy_close(a->lazy); /* nothing left for it to serve */
	a->lazy = NULL;
	postcopy_free(&a->pc);
	pstore_close(a->store);
	a->store = NULL;
	if (a->dir[0] && agent_hook(a, HOOK_ON_FAILURE, "migration not committed") < 0)
		pr_warn("%s", ph_errmsg());
	if (a->restored_pid > 0) {
		/* The source resumes: a second copy here must not run on. */
		pr_warn("discarding restored %s %d", a->ct[0] ? a->ct : "tree", a->restored_pid);
		/*
		 * Not discarded: still HELD, for `phaul recover` to try again; a
		 * copy that was not held stopped may run: not confirmed.
		 */
		if (discard_restored(a) && a->held)
			agent_record(a, DST_DISCARDED);
		else if (!agent_ct_can(a, CT_CAP_HOLD))
			may_run = true;
		a->held = false;
		a->restored_pid = 0;
	}
	if (a->dir[0] && !a->cfg->keep_images) {
		/* what the failure left for reading stays; the images go */
		if (fx_keep_logs_only(a->dir) < 0)
			pr_warn("%s", ph_errmsg());
		else
			pr_info("CRIU's logs kept in %s (images removed)", a->dir);
		a->dir[0] = '\0';
	}
	err_restore(&e);
	if (may_run)
		return ph_seterr(PH_ECRIU, "%s: %s not discarded, it may run there", a->host,
				 a->ct);
	return 0;
}

void agent_session_lost(struct agent *a)
{
	if (a->committed) {
		pages_relay_join(&a->relay);
		pr_warn("session lost after the commit: %s %d runs here", a->ct[0] ? a->ct : "tree",
			(int)a->restored_pid);
		/* its memory is still being filled: see that through */
		if (a->lazy && agent_lazy_settle(a) < 0)
			pr_err("%s", ph_errmsg());
		return;
	}
	if (!a->held) {
		agent_finish(a, false);
		return;
	}
	if (!agent_ct_can(a, CT_CAP_HOLD)) {
		/*
		 * It runs (its type cannot hold it stopped) and the source keeps
		 * its own copy until Go is acknowledged: this one must go.
		 */
		pr_warn("session lost before Go: %s %d runs here (its type cannot hold it "
			"stopped) and the source keeps its copy",
			a->ct[0] ? a->ct : "tree", (int)a->restored_pid);
		agent_finish(a, false);
		return;
	}
	pages_relay_join(&a->relay);
	/*
	 * A lazy restore's daemon must finish before this agent goes (it
	 * would take the daemon with it): a held CT that `phaul recover`
	 * lets run later needs all of its memory. If the daemon dies, the
	 * CT could only run with holes: discard it, as recover will learn.
	 */
	if (a->lazy && criu_lazy_wait(a->lazy, a->cfg->timeout_s * 1000, NULL) < 0) {
		pr_err("%s: discarding the held %s %d: its memory is incomplete", ph_errmsg(),
		       a->ct[0] ? a->ct : "tree", (int)a->restored_pid);
		discard_restored(a);
		agent_record(a, DST_DISCARDED);
		a->held = false;
		a->restored_pid = 0;
		return;
	}
	pr_warn("holding %s %d stopped (migration %s): the source may have given its copy "
		"up; `phaul recover` on %s decides",
		a->ct[0] ? a->ct : "tree", (int)a->restored_pid, a->mig_id, a->peer);
}

void agent_cleanup(struct agent *a)
{
	pages_relay_join(&a->relay);
	criu_lazy_close(a->lazy);
	a->lazy = NULL;
	postcopy_free(&a->pc); /* a hybrid's relay reads the store's files */
	pstore_close(a->store);
	a->store = NULL;
	criu_conn_close(a->swrk);
	a->swrk = NULL;
	mrec_unlock(a->cfg->work_dir, MREC_DEST, a->mig_id, a->lock_fd);
	a->lock_fd = -1;
}

/* ---- Recover: a later session asks about a migration ---- */

static void send_recover_resp(struct agent *a, const struct mrec *r, int err, const char *msg)
{
	Phaul__Msg out = PHAUL__MSG__INIT;
	Phaul__RecoverResp rr = PHAUL__RECOVER_RESP__INIT;

	rr.state = (Phaul__RecoverResp__State)r->state;
	rr.has_pid = r->pid > 0;
	rr.pid = (uint32_t)r->pid;
	rr.ct = (char *)r->ct;
	rr.msg = (char *)msg;
	rr.has_err = err < 0;
	rr.err = -err;
	out.body_case = PHAUL__MSG__BODY_RECOVER_RESP;
	out.recover_resp = &rr;
	if (msg_send(a->mux, &out) < 0)
		pr_warn("answering Recover: %s", ph_errmsg());
}

/* Act on a loaded record; *msg says what happened. 0 or the refusal. */
static int recover_act(struct agent *a, struct mrec *r, Phaul__Recover__Action act, char *msg,
		       size_t len)
{
	if (r->state == DST_HELD && !mrec_pid_alive(r))
		r->state = DST_GONE;
	snprintf(msg, len, "%.64s: migration %s is %s", a->host, r->id,
		 mrec_dst_state_name(r->state));
	if (act == PHAUL__RECOVER__ACTION__QUERY)
		return 0;
	/* The record's CT becomes this session's, for let_run() and discard. */
	snprintf(a->mig_id, sizeof(a->mig_id), "%s", r->id);
	snprintf(a->ct, sizeof(a->ct), "%s", r->ct);
	a->restored_pid = r->pid;
	a->held = r->state == DST_HELD;
	if (act == PHAUL__RECOVER__ACTION__GO) {
		if (r->state == DST_RUNNING || r->state == DST_FILLING)
			return 0; /* let run already */
		if (r->state != DST_HELD)
			return ph_seterr(PH_EPEER, "%s; nothing to let run", msg);
		if (let_run(a) < 0)
			return -ph_lasterr();
		r->state = DST_RUNNING;
		snprintf(msg, len, "%.64s: %.128s %d of migration %s runs", a->host, r->ct,
			 (int)r->pid, r->id);
		return 0;
	}
	if (r->state == DST_RUNNING || r->state == DST_FILLING)
		return ph_seterr(PH_EPEER, "%s; the source gave its copy up before: not discarded",
				 msg);
	if (r->state == DST_HELD || r->state == DST_GONE) {
		/*
		 * No pid: liblxc or runc restored it while the agent died; the
		 * container, if it came to be, is stopped: its type ends it by
		 * name.
		 */
		if ((r->state == DST_HELD || r->pid == 0) && !discard_restored(a) &&
		    !agent_ct_can(a, CT_CAP_HOLD)) {
			/* it may run: the source must not resume its own */
			a->restored_pid = 0;
			return ph_seterr(PH_ECRIU, "%s; %s not discarded, it may run there", msg,
					 r->ct);
		}
		a->held = false;
		agent_record(a, DST_DISCARDED);
		r->state = DST_DISCARDED;
		snprintf(msg, len, "%.64s: %.128s %d of migration %s discarded", a->host, r->ct,
			 (int)r->pid, r->id);
	}
	a->restored_pid = 0;
	return 0;
}

int agent_on_recover(struct agent *a, Phaul__Msg *in)
{
	Phaul__Recover *q = in->recover;
	struct mrec r;
	char msg[512];
	int ret;

	a->done = true; /* one question per session */
	if (!mrec_id_valid(q->mig_id))
		return ph_seterr(PH_EPROTO, "Recover of a malformed migration id");
	if ((ret = mrec_lock(a->cfg->work_dir, MREC_DEST, q->mig_id, false)) < 0) {
		/* the migration's own session still runs here: it decides */
		memset(&r, 0, sizeof(r));
		send_recover_resp(a, &r, ret, ph_errmsg());
		return 0;
	}
	a->lock_fd = ret;
	snprintf(a->mig_id, sizeof(a->mig_id), "%s", q->mig_id);
	ret = mrec_load(a->cfg->work_dir, MREC_DEST, q->mig_id, &r);
	if (ret == -PH_ENOENT) {
		memset(&r, 0, sizeof(r));
		snprintf(r.id, sizeof(r.id), "%s", q->mig_id);
		r.state = DST_NONE;
		ret = 0;
	}
	if (ret == 0)
		ret = recover_act(a, &r, q->action, msg, sizeof(msg));
	if (ret < 0)
		snprintf(msg, sizeof(msg), "%s", ph_errmsg());
	pr_info("recover %s (%s): %s", q->mig_id,
		q->action == PHAUL__RECOVER__ACTION__GO	       ? "go"
		: q->action == PHAUL__RECOVER__ACTION__DISCARD ? "discard"
							       : "query",
		msg);
	send_recover_resp(a, &r, ret, msg);
	return 0;
}
