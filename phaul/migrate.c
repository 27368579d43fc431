// SPDX-License-Identifier: GPL-2.0
/*
 * phaul migrate CT HOST: the source side of one migration, as a linear list
 * of steps with one finish that decides (DESIGN.md "One migration"):
 *
 *   connect -> checks -> pre-copy iterations -> final dump
 *     post-dump (CRIU holds the tree frozen): images -> restore (the
 *     destination holds the CT stopped) -> COMMIT answered: CRIU kills ours
 *   -> Go: the destination lets the CT run.
 *
 * g->phase (mrec.h) says where the migration stands; finish() decides on
 * it alone. From PHASE_RESTORING on each phase is recorded durably before
 * its step (work_dir/mig-out-ID), so that a lost answer or a crash leaves
 * `phaul recover` (recover.c) what it needs: the source never resumes once
 * it answered COMMIT, the destination never runs the CT before Go.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "caps.h"
#include "engine/criu.h"
#include "engine/stats.h"
#include "cli.h"
#include "control.h"
#include "err.h"
#include "forensics.h"
#include "fs-sync/fss.h"
#include "hooks.h"
#include "htype.h"
#include "images.h"
#include "log.h"
#include "mrec.h"
#include "proto/msg.h"
#include "pages.h"
#include "phaul.h"
#include "postcopy.h"
#include "precopy.h"
#include "progress.h"
#include "report.h"
#include "throttle.h"
#include "transport/chan.h"
#include "util.h"

struct mig_opts {
	bool dry_run, json, require_precopy, no_compress;
	const char *force;
	const char *sync[PH_SYNC_MAX]; /* --sync PATH: same path on both hosts */
	int nsync;
};

struct mig {
	struct phaul_config *cfg;
	struct mig_opts opt;
	struct ct ct;
	struct report rep;
	struct mux *m;
	pthread_mutex_t lock; /* m vs the signal and live threads */
	volatile int interrupted;
	bool cancelled;	       /* ...by `phaul cancel` (under lock) */
	uint32_t new_limit_ms; /* `phaul set --downtime-limit`, 0: none (atomic) */
	struct progress prog;  /* what the status line and `phaul status` show */
	struct control ctl;    /* the control socket and its live thread */
	char peer[256];
	char host[256];
	char dir[PATH_MAX];
	int sk;	     /* relay's end of CRIU's page-server socket */
	int ps_port; /* the type's CRIU connects to 127.0.0.1:ps_port (ps_accept) */
	bool ps_accept;
	int lazy_sk; /* post-copy: the type's own lazy page server (ct_dump.lazy_sk), or -1 */
	struct psx_parser psx;
	struct pages_relay relay;
	enum precopy_policy policy; /* cfg->policy, parsed */
	struct precopy pc;
	struct throttle thr;	      /* auto-converge */
	uint64_t restore_ns_per_page; /* the destination's last restore */
	uint64_t dst_overhead_us;     /* ...and the rest of it (IterReady) */
	uint64_t t_resp;	      /* RestoreResp received */
	uint32_t iter;
	bool precopy;
	bool lazy;		  /* restore lazily: asked for, and the destination can */
	bool lazy_lost;		  /* the lazy restore failed after the switch: CT lost */
	bool postcopy;		  /* --mode postcopy: one lazy dump, pages pulled (postcopy.h) */
	bool hybrid;		  /* --mode hybrid: pre-copy, post-copy if it cannot converge */
	struct lzx_set prev_runs; /* hybrid: the last pre-dump's task pagemaps (lzx.h) */
	struct psx_sink rec;
	bool post_live; /* post-copy: source killed, Go given: the CT runs there */
	struct postcopy post;
	pthread_t post_thread; /* restore, switch, Go: while CRIU serves pages */
	bool post_thread_on;
	enum mig_phase phase;
	char id[PH_MIG_ID_MAX + 1]; /* the migration's id, for both records */
	const char *target;	    /* HOST as given: `phaul recover` goes there */
	uint64_t root_start;	    /* the CT root's start time (pid reuse) */
	int lock_fd;		    /* our record's lock, -1 */
	bool dst_held;		    /* RestoreResp: restored and held stopped */
	/* `phaul recover ID` as the type's guard runs it should we die (ct_dump.settle) */
	char settle_exe[PATH_MAX], record[PATH_MAX];
	const char *settle[8];
	uint64_t t_start, t_iter, t_dump;
	uint64_t t_src_ended;	      /* post-copy: the source copy killed (0: not yet) */
	uint64_t pages_wire;	      /* page-stream wire bytes counted so far */
	struct psx_counts psx_before; /* totals when the iteration began */
	char err[1024];		      /* why the post-dump step rolled back */
	int err_code;
};

/* Iteration N's images dir on this side, created. */
static int iter_dir(struct mig *g, uint32_t iter, char *out, size_t len)
{
	int ret = images_iter_dir(g->dir, iter, out, len);

	return ret < 0 ? ret : mkdir_p(out, 0700);
}

/*
 * The migration enters phase p. From PHASE_RESTORING on, the record is
 * written (fsync'd) before the step it announces; DONE and ROLLED_BACK
 * remove it: nothing is left to settle.
 */
static int set_phase(struct mig *g, enum mig_phase p)
{
	struct mrec r = { .side = MREC_SOURCE, .state = p };
	int ret;

	pr_debug("phase %s -> %s", mig_phase_name(g->phase), mig_phase_name(p));
	__atomic_store_n(&g->phase, p, __ATOMIC_RELAXED); /* the live thread reads it */
	progress_set_phase(&g->prog, mig_phase_name(p));
	if (p < PHASE_RESTORING)
		return 0;
	if (p == PHASE_DONE || p == PHASE_ROLLED_BACK)
		ret = mrec_remove(g->cfg->work_dir, MREC_SOURCE, g->id);
	else {
		r.pid = g->ct.root;
		r.start = g->root_start;
		snprintf(r.id, sizeof(r.id), "%s", g->id);
		snprintf(r.ct, sizeof(r.ct), "%s", g->ct.spec);
		snprintf(r.peer, sizeof(r.peer), "%s", g->target);
		snprintf(r.transport, sizeof(r.transport), "%s", g->cfg->transport);
		ret = mrec_save(g->cfg->work_dir, &r);
	}
	return ret < 0 ? ph_errctx(ret, "recording phase %s", mig_phase_name(p)) : 0;
}

/* The operator's Ctrl-C: fail every blocked transfer; the finish rolls back. */
static void *signal_thread(void *arg)
{
	struct mig *g = arg;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigwait(&set, &sig) != 0)
		return NULL;
	pthread_mutex_lock(&g->lock);
	g->interrupted = 1;
	if (g->m)
		mux_abort(g->m, PH_EINTR, "migration interrupted by the operator on the source");
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

static int check_interrupt(struct mig *g)
{
	if (!g->interrupted)
		return 0;
	if (g->cancelled)
		return ph_seterr(PH_EINTR, "cancelled by `phaul cancel %s` on %s", g->id, g->host);
	return ph_seterr(PH_EINTR, "interrupted (SIGINT/SIGTERM) on %s", g->host);
}

/*
 * The control socket's requests (control.h), from the live thread. A
 * cancel takes the signal's path; past the commit point it is refused.
 */
static int ctl_cancel(void *arg, char *why, size_t len)
{
	struct mig *g = arg;
	char msg[PH_MIG_ID_MAX + 320];
	int ret = 0;

	pthread_mutex_lock(&g->lock);
	if (__atomic_load_n(&g->phase, __ATOMIC_RELAXED) >= PHASE_COMMITTING) {
		snprintf(why, len, "too late: %s is past its commit point and completes on its own",
			 g->id);
		ret = -PH_EUSAGE;
	} else if (!g->interrupted) {
		g->interrupted = 1;
		g->cancelled = true;
		/* what the error of the blocked step will say: the same words as check_interrupt */
		snprintf(msg, sizeof(msg), "cancelled by `phaul cancel %s` on %s", g->id, g->host);
		if (g->m)
			mux_abort(g->m, PH_EINTR, msg);
		snprintf(why, len, "cancelling: rolling back, the source runs on");
	} else {
		snprintf(why, len, "already stopping");
	}
	pthread_mutex_unlock(&g->lock);
	return ret;
}

static int ctl_set_downtime(void *arg, uint64_t ms, char *why, size_t len)
{
	struct mig *g = arg;

	if (g->policy == PRECOPY_FIXED) {
		snprintf(why, len, "policy fixed has no downtime limit");
		return -PH_EUSAGE;
	}
	if (__atomic_load_n(&g->phase, __ATOMIC_RELAXED) > PHASE_PRECOPY) {
		snprintf(why, len, "too late: pre-copy is over");
		return -PH_EUSAGE;
	}
	__atomic_store_n(&g->new_limit_ms, (uint32_t)ms, __ATOMIC_RELAXED);
	progress_set_downtime_limit(&g->prog, ms * 1000);
	snprintf(why, len, "downtime limit %llu ms from the end of the iteration under way",
		 (unsigned long long)ms);
	return 0;
}

static int ctl_set_bwlimit(void *arg, uint64_t bps, char *why, size_t len)
{
	struct mig *g = arg;

	pthread_mutex_lock(&g->lock);
	g->cfg->bwlimit = bps;
	if (g->m)
		mux_set_bwlimit(g->m, bps);
	pthread_mutex_unlock(&g->lock);
	progress_set_bwlimit(&g->prog, bps);
	snprintf(why, len, bps ? "bwlimit %llu bytes/s" : "no bwlimit", (unsigned long long)bps);
	return 0;
}

static const struct control_ops ctl_ops = {
	.cancel = ctl_cancel,
	.set_downtime_limit = ctl_set_downtime,
	.set_bwlimit = ctl_set_bwlimit,
};

/* A downtime limit set from another shell takes effect here, between iterations. */
static void take_new_limit(struct mig *g)
{
	uint32_t ms = __atomic_exchange_n(&g->new_limit_ms, 0, __ATOMIC_RELAXED);

	if (!ms)
		return;
	g->cfg->downtime_limit_ms = ms;
	g->pc.limit_us = g->rep.limit_us = (uint64_t)ms * 1000;
	report_phase(&g->rep, "precopy", "downtime limit now %u ms (phaul set)", ms);
}

static int run_hook(struct mig *g, const char *stage, const char *err)
{
	struct hook_env he = {
		.ct = g->ct.spec,
		.ct_type = g->ct.ops->name,
		.ct_id = g->ct.id,
		.src_host = g->host,
		.dst_host = g->peer[0] ? g->peer : g->rep.dst,
		.side = "source",
		.work_dir = g->dir[0] ? g->dir : NULL,
		.root_pid = g->ct.root,
		.error = err,
	};

	return hooks_run(g->cfg->hooks_dir, stage, &he);
}

/* rsync every --sync path that is not on shared storage (fs-sync/). */
static int sync_paths(struct mig *g, const char *when)
{
	/* Before the freeze files may vanish under rsync; the final sync is exact. */
	struct fss_opts o = { .timeout_s = g->cfg->timeout_s,
			      .vanished_ok = strcmp(when, "final") };
	struct fss_stats st;
	int ret;

	for (int i = 0; i < g->opt.nsync; i++) {
		struct sync_report *sr = &g->rep.sync[i];

		if (sr->shared)
			continue;
		if ((ret = check_interrupt(g)) < 0 ||
		    (ret = fss_sync(g->m, g->opt.sync[i], g->opt.sync[i], &o, &st)) < 0)
			return ph_errctx(ret, "%s sync of %s", when, g->opt.sync[i]);
		sr->syncs++;
		sr->wire_bytes += st.wire_tx;
		g->rep.fs_syncs++;
		g->rep.fs_wire_bytes += st.wire_tx;
		g->rep.fs_usec += st.usec;
		report_phase(&g->rep, "fs-sync", "%s: %s, %llu files, %.1f KiB on the wire, %.2f s",
			     when, g->opt.sync[i], (unsigned long long)st.files,
			     st.wire_tx / 1024.0, st.usec / 1e6);
	}
	return 0;
}

/* Before anything moves: which paths are shared, then the full first sync. */
static int step_fs(struct mig *g)
{
	bool shared;
	int ret;

	for (int i = 0; i < g->opt.nsync; i++) {
		ret = fss_probe_shared(g->m, g->opt.sync[i], g->opt.sync[i],
				       g->cfg->timeout_s * 1000, &shared);
		if (ret < 0)
			return ph_errctx(ret, "shared-storage probe of %s", g->opt.sync[i]);
		g->rep.sync[i].probed = true;
		g->rep.sync[i].shared = shared;
		if (shared)
			report_phase(&g->rep, "fs-sync",
				     "%s is on storage both hosts share: not copied, no rsync",
				     g->opt.sync[i]);
	}
	return sync_paths(g, "initial");
}

static int step_connect(struct mig *g, const char *host)
{
	struct mux *m;
	int ret;

	report_phase(&g->rep, "connect", "%s over %s", host, g->cfg->transport);
	if ((ret = connect_agent_mig(g->cfg, host, g->id, &m, g->peer, sizeof(g->peer),
				     g->rep.dst_log_dir, sizeof(g->rep.dst_log_dir))) < 0)
		return ret;
	pthread_mutex_lock(&g->lock);
	g->m = m;
	pthread_mutex_unlock(&g->lock);
	snprintf(g->rep.dst, sizeof(g->rep.dst), "%s", g->peer);
	return check_interrupt(g);
}

/* Post-copy needs a type whose dump can leave pages lazy and a lazy restore there. */
static int postcopy_check(struct mig *g)
{
	if (!(g->ct.ops->caps & CT_CAP_POSTCOPY))
		return ph_seterr(PH_ECOMPAT,
				 "check postcopy: %s: %s CTs dump through their own tool, which "
				 "phaul cannot make serve lazy pages; required: a pid: or runc: CT "
				 "(or --mode precopy)",
				 g->host, g->ct.ops->name);
	if (!g->lazy)
		return ph_seterr(PH_ECOMPAT,
				 "check postcopy: %s cannot restore lazily (see the lazy_restore "
				 "row); required: userfaultfd with non-cooperative events there "
				 "(or --mode precopy)",
				 g->peer);
	if (g->hybrid && !g->precopy)
		g->postcopy = true; /* nothing to pre-copy with: post-copy from the start */
	if (g->postcopy)
		report_phase(&g->rep, "check",
			     "post-copy: no pre-copy; %s runs before its memory "
			     "is there and pulls it from %s",
			     g->ct.spec, g->host);
	else
		report_phase(&g->rep, "check",
			     "hybrid: pre-copy; if it cannot converge, %s runs on %s before "
			     "the rest of its memory is there and pulls it from %s",
			     g->ct.spec, g->peer, g->host);
	return 0;
}

static int step_check(struct mig *g)
{
	struct compat_req q = {
		.ct_rss_kb = g->ct.rss_kb,
		.ct_images_kb = g->ct.rss_kb + 16 * 1024,
		.require_precopy = g->opt.require_precopy,
		.need_rsync = g->opt.nsync > 0,
		.auto_converge =
			g->cfg->auto_converge && g->policy == PRECOPY_PREDICT && !g->hybrid,
		.lazy_restore = !strcmp(g->cfg->restore, "lazy") || g->postcopy || g->hybrid,
		.force = g->opt.force,
	};
	struct criu_opts o = CRIU_OPTS_INIT;
	struct compat_fd_allow allow;
	struct compat_files files;
	char why[384];
	struct compat_table t;
	struct ct_facts cf = { 0 };
	int ret;

	/* Before any freeze: the paths its restore opens, but those that travel with it. */
	if ((ret = compat_ct_files(g->ct.pids, g->ct.npids, g->opt.sync, (size_t)g->opt.nsync,
				   &files)) < 0)
		return ph_errctx(ret, "listing the CT's files");
	q.files = &files;

	/* the type's runtime here, if it has one; missing shows in the table */
	if ((ret = g->ct.ops->probe(&g->ct, NULL, &cf)) != -PH_ENOTSUP) {
		if (ret < 0)
			pr_warn("%s", ph_errmsg());
		q.ct_spec = g->ct.spec;
		q.ct_path = g->ct.nsync ? g->ct.sync[0] : NULL;
		q.ct_runtime = cf.runtime;
		q.ct_image = cf.image[0] ? cf.image : NULL;
	}
	/* What CRIU would refuse among the CT's files, said before anything is frozen. */
	config_criu_opts(&g->cfg->criu, false, &o);
	g->ct.ops->criu_opts(&g->ct, &o);
	allow = (struct compat_fd_allow){ .file_locks = o.file_locks,
					  .link_remap = o.link_remap,
					  .ext_unix_sk = o.ext_unix_sk,
					  .ghost_limit = o.ghost_limit };
	q.ct_scanned = true;
	q.ct_files = compat_scan_fds(g->ct.pids, g->ct.npids, &allow, why, sizeof(why));
	q.ct_files_why = why;
	report_phase(&g->rep, "check", "%s (%zu processes, %llu MiB resident) against %s",
		     g->ct.spec, g->ct.npids, (unsigned long long)g->ct.rss_kb / 1024, g->peer);
	t.nrows = 0;
	/* In a pid namespace of its own the CT's host pids need not be free there. */
	ret = check_remote(g->cfg, g->m, g->peer, &q, g->ct.pids, g->ct.own_pidns ? 0 : g->ct.npids,
			   &t);
	if (t.nrows)
		report_check(&g->rep, &t);
	g->precopy = t.precopy;
	g->lazy = t.lazy;
	if (ret == 0 && !g->precopy)
		report_phase(&g->rep, "check", "no soft-dirty tracking: one stop-and-copy dump");
	if (files.capped)
		report_phase(&g->rep, "check", "the CT holds %zu paths: only the first %zu checked",
			     files.total, files.n);
	compat_files_free(&files);
	return ret == 0 && (g->postcopy || g->hybrid) ? postcopy_check(g) : ret;
}

static int setup_streams(struct mig *g)
{
	static const int streams[] = { MUX_PAGES, MUX_IMAGES, MUX_FS };
	int ret;

	pthread_mutex_lock(&g->lock); /* phaul set may change it */
	mux_set_bwlimit(g->m, g->cfg->bwlimit);
	pthread_mutex_unlock(&g->lock);
	if (g->opt.no_compress || !g->cfg->compress)
		return 0;
	for (size_t i = 0; i < sizeof(streams) / sizeof(streams[0]); i++)
		if ((ret = mux_set_compress(g->m, streams[i], g->cfg->compress_level)) < 0)
			return ret;
	return 0;
}

static int step_prepare(struct mig *g)
{
	char stamp[32];
	time_t now = time(NULL);
	struct ct_pages p;
	int ret;

	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", gmtime(&now));
	snprintf(g->dir, sizeof(g->dir), "%s/out-%s-%.32s-%s", g->cfg->work_dir, g->ct.ops->name,
		 g->ct.id, stamp);
	if ((ret = mkdir_p(g->dir, 0700)) < 0)
		return ret;
	psx_init(&g->psx, (size_t)sysconf(_SC_PAGESIZE));
	p = (struct ct_pages){ .sk = -1 };
	ret = g->ct.ops->open_pages(&g->ct, &p);
	g->sk = p.sk;
	g->ps_accept = p.accept;
	g->ps_port = p.port;
	return ret;
}

/* What the type needs for one dump; o holds d's CRIU options. */
static void fill_ct_dump(struct mig *g, struct ct_dump *d, struct criu_opts *o, const char *dir,
			 const char *parent)
{
	*o = (struct criu_opts)CRIU_OPTS_INIT;
	o->track_mem = g->precopy && (!g->postcopy || g->hybrid);
	o->lazy_pages = g->postcopy;
	config_criu_opts(&g->cfg->criu, false, o);
	*d = (struct ct_dump){
		.images_dir = dir,
		.parent = parent,
		.work_dir = g->dir,
		.ps_addr = "127.0.0.1",
		.ps_port = g->ps_port,
		.ghost_limit = g->cfg->criu.ghost_limit,
		.criu = o,
		.settle = g->settle[0] ? g->settle : NULL,
		.record = g->settle[0] ? g->record : NULL,
		.lazy_sk = &g->lazy_sk,
	};
}

/*
 * What settles this migration should we die from the final dump on:
 * `phaul [-c CONFIG] recover --work-dir W ID` (the record names the
 * transport and the destination). Without our own path, nothing.
 */
static void settle_cmd(struct mig *g)
{
	ssize_t n = readlink("/proc/self/exe", g->settle_exe, sizeof(g->settle_exe) - 1);
	size_t k = 0;

	if (n <= 0 || mrec_path(g->cfg->work_dir, MREC_SOURCE, g->id, g->record,
				sizeof(g->record)) < 0) {
		pr_warn("no command to settle migration %s should phaul die", g->id);
		return;
	}
	g->settle_exe[n] = '\0';
	g->settle[k++] = g->settle_exe;
	if (g->cfg->path[0]) {
		g->settle[k++] = "-c";
		g->settle[k++] = g->cfg->path;
	}
	g->settle[k++] = "recover";
	g->settle[k++] = "--work-dir";
	g->settle[k++] = g->cfg->work_dir;
	g->settle[k++] = g->id;
	g->settle[k] = NULL;
}

/* log for the type's commands on what the final dump kept here (ct_kept) */
static int ct_kept_act(struct mig *g, enum ct_kept_act act)
{
	char log[PATH_MAX + 16];

	snprintf(log, sizeof(log), "%s/kept.log", g->dir);
	return g->ct.ops->kept(&g->ct, act, log);
}

/*
 * A type's dump failed (ret): a relay still waiting for its CRIU to connect
 * must give up. Which error is the cause: the stream's if CRIU was
 * connected and the stream broke (link, peer), else the type's.
 */
static int ct_dump_failed(struct mig *g, int ret)
{
	char msg[1024];

	if (!g->ps_accept)
		return ret; /* the relay's socket is CRIU's for the whole migration */
	snprintf(msg, sizeof(msg), "%s", ph_errmsg());
	shutdown(g->sk, SHUT_RDWR);
	if (pages_relay_join(&g->relay) < 0 && g->relay.connected)
		return -ph_lasterr();
	return ph_seterr(ret, "%s", msg);
}

static int pre_dump(struct mig *g, const char *dir, const char *parent)
{
	struct criu_opts o;
	struct ct_dump d;
	int ret;

	fill_ct_dump(g, &d, &o, dir, parent);
	if ((ret = g->ct.ops->pre_dump(&g->ct, &d)) < 0)
		ret = ct_dump_failed(g, ret);
	return ret;
}

/* Tell the destination to start its page server for the next iteration. */
static int iter_begin(struct mig *g, bool final, char *dir, size_t dlen, char *parent, size_t plen)
{
	Phaul__Msg out = PHAUL__MSG__INIT, *in = NULL;
	Phaul__IterStart s = PHAUL__ITER_START__INIT;
	uint64_t t0;
	int ret;

	if ((ret = check_interrupt(g)) < 0)
		return ret;
	g->iter++;
	if ((ret = iter_dir(g, g->iter, dir, dlen)) < 0)
		return ret;
	parent[0] = '\0';
	s.iter = g->iter;
	s.has_final = 1;
	s.final = final;
	s.has_lazy = 1;
	s.lazy = g->lazy;
	s.has_postcopy = 1;
	s.postcopy = g->postcopy;
	if (g->iter > 1) {
		s.has_parent = 1;
		s.parent = g->iter - 1;
		images_parent(g->iter - 1, parent, plen);
	}
	out.body_case = PHAUL__MSG__BODY_ITER_START;
	out.iter_start = &s;
	t0 = now_us();
	if ((ret = msg_send(g->m, &out)) < 0 ||
	    (ret = msg_expect(g->m, PHAUL__MSG__BODY_ITER_READY, &in, g->cfg->timeout_s * 1000)) <
		    0)
		return ret;
	t0 = now_us() - t0;
	if (!g->rep.dt.rtt_us || t0 < g->rep.dt.rtt_us)
		g->rep.dt.rtt_us = t0;
	if (in->iter_ready->has_restore_ns_per_page)
		g->restore_ns_per_page = in->iter_ready->restore_ns_per_page;
	g->dst_overhead_us = in->iter_ready->restore_overhead_us;
	if (g->dst_overhead_us > PH_RESTORE_OVERHEAD_MAX_US) {
		pr_warn("%s offers a restore overhead of %llu us, over %llu: ignored", g->peer,
			(unsigned long long)g->dst_overhead_us,
			(unsigned long long)PH_RESTORE_OVERHEAD_MAX_US);
		g->dst_overhead_us = 0;
	}
	msg_free(in);
	g->t_iter = now_us();
	if (g->postcopy)
		return 0; /* no page stream: the pages stay here until asked for */
	g->relay = (struct pages_relay){
		.mux = g->m,
		.sk = g->sk,
		.accept = g->ps_accept,
		.psx = &g->psx,
		.source = true,
		.timeout_ms = g->cfg->timeout_s * 1000,
	};
	g->t_iter = now_us();
	g->psx_before = *psx_total_counts(&g->psx);
	progress_iter_begin(&g->prog, g->iter, final);
	return pages_relay_start(&g->relay);
}

/* The page stream of the iteration is over on both sides: fill in its figures. */
static int iter_end(struct mig *g, struct iter_report *it, const char *dir)
{
	const struct psx_counts *pc;
	struct mux_stats tx, rx;
	Phaul__Msg *in = NULL;
	struct criu_stats st;
	int ret;

	if ((ret = pages_relay_join(&g->relay)) < 0)
		return ph_errctx(ret, "page stream of iteration %u", g->iter);
	if ((ret = msg_expect(g->m, PHAUL__MSG__BODY_ITER_DONE, &in, g->cfg->timeout_s * 1000)) < 0)
		return ret;
	if (!in->iter_done->ok) {
		ret = ph_seterr(PH_EPEER, "%s: page server of iteration %u failed: %s", g->peer,
				g->iter, in->iter_done->msg ? in->iter_done->msg : "");
		msg_free(in);
		return ret;
	}
	msg_free(in);
	/* The relay has already started the parser's next session: use totals. */
	pc = psx_total_counts(&g->psx);
	memset(it, 0, sizeof(*it));
	it->iter = g->iter;
	it->usec = now_us() - g->t_iter;
	it->pages = pc->pages - g->psx_before.pages;
	it->raw_bytes = pc->stream_bytes - g->psx_before.stream_bytes;
	mux_get_stats(g->m, MUX_PAGES, &tx, &rx);
	it->wire_bytes = tx.wire_bytes - g->pages_wire;
	g->pages_wire = tx.wire_bytes;
	memset(&st, 0, sizeof(st));
	if (stats_read(dir, STATS_DUMP, &st) == 0)
		it->frozen_us = st.frozen_time_us;
	return 0;
}

/* The loop cannot meet the limit: throttle the CT's CPU for the next round. */
static void auto_converge(struct mig *g)
{
	if (throttle_apply(&g->thr, &g->ct, g->pc.throttle_pct) < 0) {
		report_phase(&g->rep, "precopy", "auto-converge unavailable: %s", ph_errmsg());
		g->pc.auto_converge = false;
		g->pc.throttle_pct = 0;
		return;
	}
	g->rep.throttle_pct = g->pc.throttle_pct;
	report_mark(&g->rep, RM_THROTTLE);
	snprintf(g->rep.throttle_cgroup, sizeof(g->rep.throttle_cgroup), "%s", g->thr.cg);
	report_phase(&g->rep, "precopy", "not converging: CPU of %s throttled by %u%% (cgroup %s)",
		     g->ct.spec, g->pc.throttle_pct, g->thr.cg);
}

/* The loop stopped short of the limit: go on only if the operator allows it. */
static int limit_missed(struct mig *g, enum precopy_verdict v)
{
	uint64_t pred = g->rep.predicted_downtime_us, lim = g->pc.limit_us;
	bool unreachable = v == PRECOPY_UNREACHABLE || v == PRECOPY_UNREACHABLE_FROZEN;

	if (g->cfg->allow_downtime_overrun) {
		report_phase(
			&g->rep, "precopy",
			"predicted downtime %llu ms is over the limit %llu ms by %llu ms (%s); "
			"dumping anyway (--allow-downtime-overrun)",
			(unsigned long long)pred / 1000, (unsigned long long)lim / 1000,
			(unsigned long long)(pred > lim ? pred - lim : 0) / 1000,
			precopy_verdict_str(v));
		return 0;
	}
	return ph_seterr(
		PH_ELIMIT,
		"downtime limit %llu ms cannot be met: predicted %llu ms after %u "
		"iterations (%s)%s; %s runs on. Raise --downtime-limit or pass "
		"--allow-downtime-overrun",
		(unsigned long long)lim / 1000, (unsigned long long)pred / 1000, g->pc.n,
		precopy_verdict_str(v),
		g->cfg->auto_converge || unreachable ? "" : ", auto-converge is off",
		g->ct.spec);
}

/*
 * This host's part of the switch in its migrations, averaged (precopy.h):
 * images sent, commit, Go. One number in the work dir.
 */
#define SRC_COMMIT_FILE "commit-overhead"

static void src_commit_path(const struct mig *g, char *path, size_t len)
{
	snprintf(path, len, "%s/" SRC_COMMIT_FILE "%s", g->cfg->work_dir, g->lazy ? "-lazy" : "");
}

static uint64_t src_commit_load(const struct mig *g)
{
	char path[PATH_MAX];
	uint64_t v;

	src_commit_path(g, path, sizeof(path));
	v = u64_file_load(path);
	return v > PH_RESTORE_OVERHEAD_MAX_US ? 0 : v; /* not a figure: none */
}

static void src_commit_save(const struct mig *g)
{
	char path[PATH_MAX];

	src_commit_path(g, path, sizeof(path));
	u64_file_blend(path, g->rep.dt.images_us + g->rep.dt.commit_us + g->rep.dt.go_us);
}

/* Hybrid: record the task pagemaps of the next pre-dump (lzx_rec_hdr). */
static void hybrid_rec(struct mig *g)
{
	lzx_set_free(&g->prev_runs);
	lzx_set_init(&g->prev_runs, (size_t)sysconf(_SC_PAGESIZE));
	g->rec = (struct psx_sink){ lzx_rec_hdr, NULL, &g->prev_runs };
	psx_set_sink(&g->psx, &g->rec);
}

/*
 * Hybrid: pre-copy cannot meet the limit (v); post-copy for the rest. The
 * final dump is --lazy-pages with the last pre-dump as parent: pages
 * unchanged since are PE_PARENT (the destination's store has them), the
 * dirty ones lazy, served from here. CRIU finds the parent by its
 * pagemaps, which a pre-dump to a page server does not write: they are
 * written from what the page stream carried (lzx_parent_write).
 */
static int hybrid_switch(struct mig *g, enum precopy_verdict v)
{
	const struct iter_report *it = &g->rep.it[g->iter < PH_ITER_MAX + 1 ? g->iter : 0];
	char dir[PATH_MAX];
	int ret;

	psx_set_sink(&g->psx, NULL);
	if ((ret = lzx_set_seal(&g->prev_runs)) < 0 ||
	    (ret = iter_dir(g, g->iter, dir, sizeof(dir))) < 0 ||
	    (ret = lzx_parent_write(&g->prev_runs, dir)) < 0)
		return ph_errctx(ret, "hybrid: the parent pagemaps of pre-dump %u", g->iter);
	g->postcopy = true;
	snprintf(g->rep.postcopy_switch, sizeof(g->rep.postcopy_switch),
		 "after iteration %u: %s; dirty rate %.1f MiB/s against %.1f MiB/s on the link, "
		 "predicted downtime %llu ms over the limit %llu ms",
		 g->iter, precopy_verdict_str(v), it->dirty_pps * g->pc.page_size / 1048576.0,
		 it->bw_bps / 1048576.0, (unsigned long long)g->rep.predicted_downtime_us / 1000,
		 (unsigned long long)g->pc.limit_us / 1000);
	report_phase(&g->rep, "hybrid",
		     "switching to post-copy %s; %s will run on %s while the pages dirtied "
		     "since pre-dump %u are still here",
		     g->rep.postcopy_switch, g->ct.spec, g->peer, g->iter);
	return 0;
}

static int step_precopy(struct mig *g)
{
	char dir[PATH_MAX], parent[32];
	enum precopy_verdict v = PRECOPY_CONTINUE;
	uint32_t max_iter = g->cfg->max_iterations;
	int ret;

	if (!g->precopy || g->postcopy)
		return 0;
	if ((ret = run_hook(g, HOOK_PRE_PRECOPY, NULL)) < 0)
		return ret;
	if (max_iter > g->ct.ops->max_pre_dumps && g->ct.ops->max_pre_dumps)
		max_iter = g->ct.ops->max_pre_dumps; /* podman: one pre-checkpoint */
	precopy_init(&g->pc, g->policy, (uint64_t)g->cfg->downtime_limit_ms * 1000, max_iter,
		     (uint32_t)sysconf(_SC_PAGESIZE));
	g->pc.auto_converge = g->cfg->auto_converge && !g->hybrid;
	g->pc.allow_overrun = g->cfg->allow_downtime_overrun && !g->hybrid;
	g->pc.src_commit_us = src_commit_load(g);
	if (g->policy == PRECOPY_FIXED)
		report_phase(&g->rep, "precopy", "pre-dump iterations, fixed policy, at most %u",
			     max_iter);
	else
		report_phase(&g->rep, "precopy",
			     "pre-dump iterations, downtime limit %u ms, at most %u%s",
			     g->cfg->downtime_limit_ms, max_iter,
			     g->cfg->auto_converge ? ", auto-converge" : "");
	while (v == PRECOPY_CONTINUE || v == PRECOPY_THROTTLE) {
		struct iter_report it;

		if (g->hybrid)
			hybrid_rec(g);
		if ((ret = iter_begin(g, false, dir, sizeof(dir), parent, sizeof(parent))) < 0)
			return ret;
		g->pc.restore_ns_per_page = g->restore_ns_per_page;
		g->pc.lazy_restore = g->lazy;
		g->pc.dst_overhead_us = g->dst_overhead_us;
		g->pc.rtt_us = g->rep.dt.rtt_us;
		ret = pre_dump(g, dir, parent[0] ? parent : NULL);
		if (ret < 0) {
			char msg[1024];

			/* The relay's error (link, peer) is the cause; CRIU's follows from it. */
			snprintf(msg, sizeof(msg), "%s", ph_errmsg());
			if (pages_relay_join(&g->relay) < 0)
				return ph_errctx(-ph_lasterr(), "pre-dump %u", g->iter);
			return ph_seterr(ret, "%s", msg);
		}
		if ((ret = iter_end(g, &it, dir)) < 0)
			return ret;
		take_new_limit(g);
		v = precopy_next(&g->pc, &it);
		progress_iter_end(&g->prog, &it);
		g->rep.predicted_downtime_us = it.predicted_downtime_us;
		g->rep.dt.predicted_switch_us = g->pc.switch_us;
		report_iter(&g->rep, &it);
		if (v == PRECOPY_THROTTLE)
			auto_converge(g);
		if ((ret = sync_paths(g, "incremental")) < 0)
			return ret;
	}
	g->rep.stop_reason = precopy_verdict_str(v);
	if (v == PRECOPY_MAX_ITER && max_iter == g->ct.ops->max_pre_dumps) {
		/* its pages bypass the relay: nothing to predict the downtime from */
		report_phase(&g->rep, "precopy",
			     "%s chains %u pre-dump(s) at most: the downtime limit cannot apply",
			     g->ct.ops->name, max_iter);
		return 0;
	}
	if (!precopy_fits(&g->pc, v))
		return g->hybrid ? hybrid_switch(g, v) : limit_missed(g, v);
	return 0;
}

/* The CRIU options the destination's restore needs (config.h). */
static void restore_req_criu(Phaul__RestoreReq *q, const struct phaul_criu_flags *f)
{
	q->has_shell_job = q->has_tcp_established = q->has_file_locks = q->has_ext_unix_sk = 1;
	q->shell_job = f->shell_job;
	q->tcp_established = f->tcp_established;
	q->file_locks = f->file_locks;
	q->ext_unix_sk = f->ext_unix_sk;
	if (f->cg_mode != CRIU_CG_UNSET)
		q->manage_cgroups = (char *)criu_cg_mode_name(f->cg_mode);
}

/* The destination restores from the image chain; its answer decides. */
static int restore_remote(struct mig *g)
{
	Phaul__Msg out = PHAUL__MSG__INIT, *in = NULL;
	Phaul__RestoreReq q = PHAUL__RESTORE_REQ__INIT;
	int ret;

	q.iter = g->iter;
	restore_req_criu(&q, &g->cfg->criu);
	q.ct = g->ct.spec;
	q.mig_id = g->id;
	q.has_lazy = 1;
	q.lazy = g->lazy;
	q.has_postcopy = 1;
	q.postcopy = g->postcopy;
	q.has_ct_pages = g->pc.first_pages > 0;
	q.ct_pages = g->pc.first_pages;
	if (g->thr.cg[0]) {
		q.throttle_cgroup = g->thr.cg;
		q.has_throttle_created = 1;
		q.throttle_created = g->thr.created;
		q.throttle_home = g->thr.home;
		q.throttle_orig_max = g->thr.orig_max;
	}
	out.body_case = PHAUL__MSG__BODY_RESTORE_REQ;
	out.restore_req = &q;
	g->t_resp = now_us();
	if ((ret = msg_send(g->m, &out)) < 0 ||
	    (ret = msg_expect(g->m, PHAUL__MSG__BODY_RESTORE_RESP, &in, g->cfg->timeout_s * 1000)) <
		    0)
		return ret;
	g->rep.dt.restore_req_us = now_us() - g->t_resp;
	g->t_resp = now_us();
	if (!in->restore_resp->ok) {
		ret = ph_seterr(in->restore_resp->has_err ? in->restore_resp->err : PH_EPEER,
				"restore on %s failed: %s", g->peer,
				in->restore_resp->msg ? in->restore_resp->msg : "");
	} else {
		g->rep.dst_pid = in->restore_resp->pid;
		g->dst_held = in->restore_resp->has_held && in->restore_resp->held;
		if (g->postcopy)
			postcopy_src_token(&g->post, in->restore_resp);
		g->rep.restore_us = in->restore_resp->restore_time_us;
		g->rep.downtime_us = now_us() - g->t_dump;
		report_mark(&g->rep, RM_RESTORED);
		report_restore_resp(&g->rep, in->restore_resp);
		if (g->lazy && strcmp(g->rep.restore_mode, "lazy"))
			report_phase(&g->rep, "restore", "restored eagerly: %s",
				     g->rep.restore_note[0] ? g->rep.restore_note
							    : "(no reason given)");
		if (in->restore_resp->throttle_note)
			report_phase(&g->rep, "restore", "auto-converge throttle lifted on %s: %s",
				     g->peer, in->restore_resp->throttle_note);
	}
	msg_free(in);
	return ret;
}

static int restore_held(struct mig *g);

/* Post-copy: the socket of CRIU's lazy page server (the type's own, or open_pages'). */
static int lazy_sk(const struct mig *g)
{
	return g->lazy_sk >= 0 ? g->lazy_sk : g->sk;
}

/* CRIU holds the tree frozen while this runs: everything to the point of no return. */
static int post_dump(struct mig *g)
{
	char dir[PATH_MAX];
	struct iter_report it;
	uint32_t count;
	uint64_t bytes, t0;
	int ret;

	report_mark(&g->rep, RM_DUMPED);
	if ((ret = images_iter_dir(g->dir, g->iter, dir, sizeof(dir))) < 0 ||
	    (!g->postcopy && (ret = iter_end(g, &it, dir)) < 0))
		return ret;
	if (!g->postcopy) {
		it.final = true;
		progress_iter_end(&g->prog, &it);
		report_iter(&g->rep, &it);
	}
	g->rep.dt.final_dump_us = now_us() - g->t_dump;
	t0 = now_us();
	if ((ret = sync_paths(g, "final")) < 0)
		return ret;
	g->rep.dt.final_sync_us = now_us() - t0;
	report_phase(&g->rep, "images", "sending the dump's images");
	t0 = now_us();
	if ((ret = images_send(g->m, g->iter, dir, &count, &bytes)) < 0)
		return ret;
	g->rep.dt.images_us = now_us() - t0;
	g->rep.images_bytes = bytes;
	report_mark(&g->rep, RM_IMAGES);
	if ((ret = check_interrupt(g)) < 0)
		return ret;
	report_phase(&g->rep, "restore", "%u image files (%.1f MiB); restoring on %s", count,
		     bytes / 1048576.0, g->peer);
	/* post-copy: CRIU must serve pages during the restore (postcopy_thread) */
	if (g->postcopy)
		return postcopy_src_start(&g->post, g->m, lazy_sk(g), dir,
					  g->cfg->timeout_s * 1000);
	return restore_held(g);
}

/* The destination restores and holds the CT stopped: up to the commit point. */
static int restore_held(struct mig *g)
{
	int ret;

	if ((ret = set_phase(g, PHASE_RESTORING)) < 0 || (ret = restore_remote(g)) < 0)
		return ret;
	if (!g->dst_held)
		report_phase(&g->rep, "restore",
			     "%s's restore runs the CT at once (%s cannot be held stopped)",
			     g->peer, g->ct.ops->name);
	if (g->postcopy && strcmp(g->rep.restore_mode, "lazy"))
		return ph_seterr(PH_ECRIU, "post-copy: %s restored %s %s, not lazily", g->peer,
				 g->ct.spec, g->rep.restore_mode);
	if (fault_at("src-ready"))
		raise(SIGKILL);
	if ((ret = check_interrupt(g)) < 0)
		return ret;
	/* The point of no return, on disk before CRIU hears of it. */
	if ((ret = set_phase(g, PHASE_COMMITTING)) < 0)
		return ret;
	if (fault_at("src-committing"))
		raise(SIGKILL);
	return 0;
}

/*
 * The CT runs on the destination while its lazy-pages daemon fills its
 * memory: wait for the outcome (LazyDone). A link lost meanwhile changes
 * nothing there (the agent sees it through); the report says it is unknown.
 */
static int lazy_wait(struct mig *g)
{
	Phaul__Msg *in = NULL;
	Phaul__LazyDone *d;
	int ret;

	report_phase(&g->rep, "memory", "%s runs on %s; its memory is being filled", g->ct.spec,
		     g->peer);
	ret = msg_expect(g->m, PHAUL__MSG__BODY_LAZY_DONE, &in, (g->cfg->timeout_s + 30) * 1000);
	if (ret < 0) {
		report_phase(&g->rep, "memory", "no word from %s on the lazy restore's end: %s",
			     g->peer, ph_errmsg());
		return 0;
	}
	d = in->lazy_done;
	report_lazy_done(&g->rep, d);
	if (!d->ok) {
		g->lazy_lost = true;
		ret = ph_seterr(d->has_err && d->err > 0 ? d->err : PH_EPEER, "%s",
				d->msg ? d->msg : "lazy restore failed");
		snprintf(g->rep.where, sizeof(g->rep.where),
			 "gone: committed to %.128s, whose lazy restore lost %.128s (%llu pages "
			 "missing); the source copy had already ended",
			 g->rep.dst, g->ct.spec, (unsigned long long)d->pages_missing);
	}
	msg_free(in);
	return ret;
}

/*
 * Post-copy after CRIU's dump returned, i.e. its page server ended: the
 * relay's and the destination's verdicts. Anything but both fine after
 * the switch means the CT is lost: pages never reached the destination.
 */
static int postcopy_end(struct mig *g)
{
	int ret = postcopy_finish(&g->post);
	uint64_t left = postcopy_pages_left(&g->post);

	if (g->err_code && ret == 0)
		ret = ph_seterr(g->err_code, "%s", g->err);
	if (ret == 0)
		ret = lazy_wait(g);
	if (ret == 0 && !g->rep.lazy_done) {
		/*
		 * Every page went: the destination's close came through the
		 * relay, and its daemon closes once it has them all. Only its
		 * last word is missing: it records the outcome before that
		 * (RUNNING, or LOST), so ask as `phaul recover` does
		 * (failed_exit(), settle_now()); our record stays until then.
		 */
		postcopy_event(&g->post, "unconfirmed");
		return ph_seterr(PH_EPEER,
				 "post-copy: every page of %s reached %s, but its word on the "
				 "lazy restore's end did not come",
				 g->ct.spec, g->peer);
	}
	postcopy_event(&g->post, ret < 0 ? "lost" : "done");
	if (ret < 0)
		postcopy_give_up(&g->post, "post-copy lost on the source"); /* no reconnect */
	if (set_phase(g, PHASE_DONE) < 0) /* settled: nothing left to recover */
		pr_warn("%s", ph_errmsg());
	if (ret < 0) {
		g->lazy_lost = true;
		snprintf(g->rep.where, sizeof(g->rep.where),
			 "lost: %.128s ran on %.128s with %llu pages still on %.64s when post-copy "
			 "broke; the source copy had already ended",
			 g->ct.spec, g->rep.dst, (unsigned long long)left, g->host);
		return ph_errctx(ret, "post-copy of %s", g->ct.spec);
	}
	report_phase(&g->rep, "post-copy",
		     "every page on %s, %.2f s after the switch (%llu pages in %llu requests); "
		     "%s released",
		     g->peer, (g->post.t_done - g->post.t_switch) / 1e6,
		     (unsigned long long)g->post.c.pages_served, (unsigned long long)g->post.c.gets,
		     g->host);
	return 0;
}

/* CRIU ended our copy: the destination's is the only one; let it run. */
static int step_commit(struct mig *g, enum criu_dump_outcome outcome)
{
	int ret;

	if (g->postcopy)
		return postcopy_end(g);
	if (outcome != CRIU_DUMP_KILLED)
		return ph_seterr(PH_EROLLBACK,
				 "destination holds %s but CRIU did not end the source tree",
				 g->ct.spec);
	if ((ret = set_phase(g, PHASE_COMMITTED)) < 0)
		pr_err("%s", ph_errmsg()); /* no way back: Go all the same */
	if (fault_at("src-committed"))
		raise(SIGKILL);
	if (fault_at("src-cut-go"))
		mux_abort(g->m, PH_EEOF, "link cut before Go (PHAUL_FAULT_COMMIT=src-cut-go)");
	report_phase(&g->rep, "commit", "source copy ended; %s lets %s run", g->peer, g->ct.spec);
	g->rep.dt.commit_us = now_us() - g->t_resp;
	g->rep.dt.go_us = now_us();
	if ((ret = finish_agent_go(g->m, true, g->cfg->keep_images, "committed",
				   g->cfg->timeout_s * 1000, &g->rep.dt.dst_go_us)) < 0)
		return ph_errctx(ret, "Go to %s", g->peer);
	g->rep.dt.go_us = now_us() - g->rep.dt.go_us;
	g->rep.downtime_us = now_us() - g->t_dump;
	report_mark(&g->rep, RM_RUNNING);
	src_commit_save(g);
	if (fault_at("src-go-acked"))
		raise(SIGKILL);
	/* the destination runs it: what the dump kept here goes, before the record */
	if (ct_kept_act(g, CT_KEPT_REMOVE) < 0)
		pr_warn("%s", ph_errmsg());
	if (set_phase(g, PHASE_DONE) < 0)
		pr_warn("%s", ph_errmsg()); /* committed all the same */
	return strcmp(g->rep.restore_mode, "lazy") ? 0 : lazy_wait(g);
}

/*
 * Post-copy, still inside post-dump: the destination holds the CT
 * stopped. Kill our frozen copy (from here on only the destination can
 * run it: the point of no return), then Go; CRIU serves the pages once
 * post-dump is answered.
 */
/* After the switch a failure does not roll back: keep the first one for postcopy_end(). */
static void postcopy_note_err(struct mig *g, int ret)
{
	if (g->err_code)
		return;
	g->err_code = ret;
	snprintf(g->err, sizeof(g->err), "%s", ph_errmsg());
}

static int postcopy_go(struct mig *g)
{
	int ret;

	if ((ret = restore_held(g)) < 0 || (ret = postcopy_kill_source(g->ct.root)) < 0)
		return ret;
	g->post_live = true;
	g->t_src_ended = now_us();
	if ((ret = set_phase(g, PHASE_COMMITTED)) < 0)
		pr_err("%s", ph_errmsg()); /* no way back: Go all the same */
	if ((ret = finish_agent(g->m, true, g->cfg->keep_images, "committed",
				g->cfg->timeout_s * 1000)) < 0)
		return ph_errctx(ret, "Go to %s", g->peer);
	g->rep.downtime_us = now_us() - g->t_dump;
	if (postcopy_src_link(&g->post, g->cfg, g->target, g->id, g->host, &g->rep, &g->m, &g->lock,
			      &g->interrupted, !g->opt.no_compress && g->cfg->compress) < 0)
		pr_warn("%s", ph_errmsg()); /* a cut will end it, as before */
	/* PHASE_COMMITTED stays recorded until postcopy_end() knows the outcome */
	report_phase(&g->rep, "post-copy",
		     "source copy ended; %s runs on %s; %llu pages still on %s", g->ct.spec,
		     g->peer, (unsigned long long)postcopy_pages_left(&g->post), g->host);
	if (postcopy_tick_start(&g->post, &g->rep, g->host, now_us()) < 0)
		pr_warn("%s", ph_errmsg()); /* no progress lines; the migration goes on */
	postcopy_event(&g->post, "running");
	return 0;
}

/*
 * Post-copy after post-dump was answered COMMIT: CRIU serves the pages
 * (the restore itself faults on some, rseq's area for one), so the
 * restore, the switch and Go run here while the main thread waits in
 * criu_dump(). Before the switch a failure stops the relay, which makes
 * CRIU's page server fail, and CRIU resumes the tree: the rollback.
 */
static void *postcopy_thread(void *arg)
{
	struct mig *g = arg;
	int ret = postcopy_go(g);

	if (ret < 0) {
		pr_err("post-copy: %s", ph_errmsg());
		postcopy_note_err(g, ret);
		if (!g->post_live)
			postcopy_stop(&g->post);
	}
	return NULL;
}

static int postcopy_spawn(struct mig *g)
{
	int e = pthread_create(&g->post_thread, NULL, postcopy_thread, g);

	if (e)
		return ph_seterr(PH_ESYS, "post-copy thread: %s", strerror(e));
	g->post_thread_on = true;
	return 0;
}

/* After criu_dump() returned: the switch thread's outcome (0 if it switched). */
static int postcopy_join(struct mig *g)
{
	if (!g->post_thread_on)
		return 0;
	pthread_join(g->post_thread, NULL);
	g->post_thread_on = false;
	if (!g->post_live && g->err_code)
		return ph_seterr(g->err_code, "%s", g->err);
	return 0;
}

static enum criu_verdict on_notify(const char *script, void *arg)
{
	struct mig *g = arg;
	int ret;

	pr_debug("CRIU notification %s", script);
	if (strcmp(script, "post-dump"))
		return CRIU_COMMIT;
	if (fault_at("src-dumped"))
		raise(SIGKILL); /* dumped; nothing recorded, nothing sent to restore */
	if (getenv("PHAUL_FAULT_POST_DUMP")) {
		/* fault injection for the harness: fail with the CT frozen */
		ret = ph_seterr(PH_EPEER, "fault injected at post-dump (PHAUL_FAULT_POST_DUMP)");
	} else if ((ret = run_hook(g, HOOK_POST_DUMP, NULL)) == 0) {
		ret = post_dump(g);
	}
	if (ret == 0 && g->postcopy)
		ret = postcopy_spawn(g);
	if (ret < 0) {
		g->err_code = ret;
		snprintf(g->err, sizeof(g->err), "%s", ph_errmsg());
		/* the error itself is logged once, at the end */
		pr_info("rolling back: CRIU resumes %s", g->ct.spec);
		if (g->postcopy) {
			/*
			 * CRIU's lazy page server must end, and fail: a cut header
			 * first, as the relay's stop does (a clean end between
			 * requests is a complete transfer, after which CRIU kills
			 * the tree unless post-dump was refused; runc answers
			 * post-dump itself). Then CRIU resumes it.
			 */
			postcopy_stop(&g->post);
			send(lazy_sk(g), "", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			shutdown(lazy_sk(g), SHUT_RDWR);
		}
		return CRIU_ROLLBACK;
	}
	return CRIU_COMMIT;
}

static int step_dump(struct mig *g, enum criu_dump_outcome *outcome)
{
	char dir[PATH_MAX], parent[32];
	struct criu_opts o;
	struct ct_dump d;
	struct criu_stats st;
	int ret;

	if ((ret = run_hook(g, HOOK_PRE_DUMP, NULL)) < 0)
		return ret;
	report_phase(&g->rep, "dump", "freezing %s for the final dump", g->ct.spec);
	if ((ret = iter_begin(g, true, dir, sizeof(dir), parent, sizeof(parent))) < 0)
		return ret;
	g->t_dump = now_us();
	report_mark(&g->rep, RM_FREEZE);
	set_phase(g, PHASE_FROZEN);
	settle_cmd(g);
	fill_ct_dump(g, &d, &o, dir, parent[0] ? parent : NULL);
	if ((ret = g->ct.ops->dump(&g->ct, &d, on_notify, g, outcome)) < 0)
		ret = ct_dump_failed(g, ret);
	if (postcopy_join(g) < 0) {
		/* the restore failed before the switch: that, not CRIU's view, is the cause */
		pages_relay_join(&g->relay);
		return -ph_lasterr();
	}
	if (ret < 0) {
		/* CRIU's own error first; the page stream ends with the dump. */
		snprintf(g->err, sizeof(g->err), "%s", ph_errmsg());
		pages_relay_join(&g->relay);
		return ph_seterr(ret, "%s", g->err);
	}
	memset(&st, 0, sizeof(st));
	if (g->postcopy && g->t_src_ended) {
		/*
		 * A lazy dump's CRIU counts frozen time until its page server
		 * ends, long after the source copy was killed: the freeze ended there.
		 */
		g->rep.frozen_us = g->t_src_ended - g->t_dump;
		if (g->iter < PH_ITER_MAX + 1)
			g->rep.it[g->iter].frozen_us = g->rep.frozen_us;
	} else if (stats_read(dir, STATS_DUMP, &st) == 0) {
		g->rep.frozen_us = st.frozen_time_us;
		if (g->iter < PH_ITER_MAX + 1)
			g->rep.it[g->iter].frozen_us = st.frozen_time_us;
	}
	pages_relay_join(&g->relay);
	if (*outcome == CRIU_DUMP_RESUMED && g->err_code)
		return ph_seterr(g->err_code, "%s", g->err);
	if (*outcome == CRIU_DUMP_RESUMED)
		return ph_seterr(PH_ECRIU, "CRIU dump failed on %s; the tree was resumed", g->host);
	return 0;
}

/* Tell the agent to discard what it has; true when it acknowledged. */
static bool discard_remote(struct mig *g)
{
	if (!g->m || finish_agent(g->m, false, g->cfg->keep_images, g->rep.error, 5000) < 0)
		return false;
	return true;
}

/*
 * Rolled back: no copy can run on the destination (any more). A type
 * whose dump kept the CT stopped (podman:) runs it again now; false if
 * that failed (said in the report).
 */
static bool resume_kept(struct mig *g)
{
	int ret = ct_kept_act(g, CT_KEPT_RESUME);

	if (ret >= 0)
		return true;
	pr_err("%s", ph_errmsg());
	snprintf(g->rep.where, sizeof(g->rep.where),
		 "stopped here, not resumed: %.400s", ph_errmsg());
	return false;
}

/*
 * The source resumed (CRIU rolled back) after RestoreReq: the destination
 * may hold a stopped copy. Rolled back only once it confirmed the discard.
 */
static int resumed_after_restore(struct mig *g)
{
	if (discard_remote(g)) {
		if (!resume_kept(g))
			return EXIT_UNKNOWN; /* settled as recover would: it tries again */
		set_phase(g, PHASE_ROLLED_BACK);
		return EXIT_ROLLED_BACK;
	}
	if (g->ct.ops->caps & CT_CAP_HOLD)
		snprintf(g->rep.where, sizeof(g->rep.where),
			 "resumed; %s did not confirm the discard of its stopped copy: "
			 "run `phaul recover %s`",
			 g->rep.dst, g->id);
	else
		snprintf(g->rep.where, sizeof(g->rep.where),
			 "stopped here, its copy on %s may run (it cannot be held stopped) and "
			 "its discard was not confirmed: run `phaul recover %s`",
			 g->rep.dst, g->id);
	return EXIT_UNKNOWN;
}

/* The failure's exit code, on the phase alone (and CRIU's outcome once frozen). */
static int failed_exit(struct mig *g, int ret, enum criu_dump_outcome outcome)
{
	switch (g->phase) {
	case PHASE_CONNECT:
		if (g->m && ret != -PH_EINTR)
			discard_remote(g);
		return ret == -PH_ECOMPAT ? EXIT_REFUSED : EXIT_FAILED;
	case PHASE_PRECOPY:
		/* the CT never stopped; the agent discards a lost session itself */
		if (ret != -PH_EINTR)
			discard_remote(g);
		return EXIT_ROLLED_BACK;
	case PHASE_FROZEN:
		/* nothing restored there: its session discards, whatever we say */
		if (ret != -PH_EINTR)
			discard_remote(g);
		if (!resume_kept(g) || (outcome == CRIU_DUMP_UNKNOWN && !ct_alive(&g->ct)))
			return EXIT_UNRECOVERED;
		return EXIT_ROLLED_BACK;
	case PHASE_RESTORING:
	case PHASE_COMMITTING:
		if (outcome == CRIU_DUMP_RESUMED)
			return resumed_after_restore(g);
		snprintf(g->rep.where, sizeof(g->rep.where),
			 "%s after CRIU's dump ended abnormally (phase %s); %s may hold a "
			 "stopped copy: run `phaul recover %s`",
			 ct_alive(&g->ct) ? "alive" : "gone", mig_phase_name(g->phase), g->rep.dst,
			 g->id);
		return EXIT_UNKNOWN;
	case PHASE_COMMITTED:
		if (g->post_live)
			snprintf(g->rep.where, sizeof(g->rep.where),
				 "ended; %.128s runs on %.128s with every page, its last word "
				 "lost: run `phaul recover %s`",
				 g->ct.spec, g->rep.dst, g->id);
		else
			snprintf(g->rep.where, sizeof(g->rep.where),
				 "ended (committed); %.128s holds %.128s stopped until it gets "
				 "Go: run `phaul recover %s`",
				 g->rep.dst, g->ct.spec, g->id);
		return EXIT_UNKNOWN;
	case PHASE_DONE:
		if (g->lazy_lost)
			return g->postcopy ? EXIT_POSTCOPY_LOST : EXIT_LOST;
		break;
	case PHASE_ROLLED_BACK: break;
	}
	return EXIT_FAILED; /* not reached: DONE is a success, but for a lost lazy restore */
}

static void say_report(void *arg, const char *line)
{
	struct mig *g = arg;

	report_phase(&g->rep, "recover", "%s", line);
}

/*
 * An answer of the commit was lost: settle it at once over a fresh session
 * as `phaul recover` would (the old one is closed first: the agent's
 * session of it must end). The exit code it comes to.
 */
static int settle_now(struct mig *g)
{
	int code;

	if (fault_at("src-no-settle"))
		return EXIT_UNKNOWN;
	pthread_mutex_lock(&g->lock);
	mux_close(g->m);
	g->m = NULL;
	pthread_mutex_unlock(&g->lock);
	report_phase(&g->rep, "recover", "an answer was lost; asking %s again", g->target);
	code = recover_migration(g->cfg, g->id, true, say_report, g);
	if (code == EXIT_OK || code == EXIT_ROLLED_BACK) {
		g->phase = code == EXIT_OK ? PHASE_DONE : PHASE_ROLLED_BACK;
		g->rep.where[0] = '\0';
	}
	return code == EXIT_FAILED ? EXIT_UNKNOWN : code;
}

/* Exit code and report once the migration is decided. */
static int finish(struct mig *g, int ret, enum criu_dump_outcome outcome)
{
	struct mux_stats tx, rx;
	int code = EXIT_OK;

	/* links a post-copy reconnect replaced count too */
	postcopy_old_sent(&g->post, &g->rep.raw_bytes, &g->rep.wire_bytes);
	if (g->m) {
		for (int s = 0; s < MUX_NSTREAMS; s++) {
			mux_get_stats(g->m, s, &tx, &rx);
			g->rep.raw_bytes += tx.raw_bytes;
			g->rep.wire_bytes += tx.wire_bytes;
		}
	}
	if (ret < 0) {
		snprintf(g->rep.error, sizeof(g->rep.error), "%s", ph_errmsg());
		code = failed_exit(g, ret, outcome);
		if (code == EXIT_UNKNOWN && (code = settle_now(g)) == EXIT_OK) {
			if (!g->rep.downtime_us) /* post-copy's ended at Go */
				g->rep.downtime_us = now_us() - g->t_dump;
			g->rep.error[0] = '\0';
		}
	}
	g->rep.total_us = now_us() - g->t_start;
	g->rep.result = code == EXIT_OK ? 0 : -ret;
	g->rep.exit_code = code;
	if (code == EXIT_OK) {
		throttle_release(&g->thr);
		if (run_hook(g, HOOK_ON_SUCCESS, NULL) < 0)
			pr_warn("%s", ph_errmsg()); /* the CT runs on the destination already */
		return code;
	}
	g->rep.rolled_back = code == EXIT_ROLLED_BACK;
	/* the tree runs on here: at full speed again */
	if ((code == EXIT_ROLLED_BACK || (code == EXIT_UNKNOWN && g->phase < PHASE_COMMITTING)) &&
	    throttle_lift(&g->thr, &g->ct) < 0)
		pr_warn("%s", ph_errmsg());
	if (code == EXIT_UNKNOWN)
		pr_err("outcome unknown: %s", g->rep.where);
	if (code != EXIT_REFUSED && run_hook(g, HOOK_ON_FAILURE, g->rep.error) < 0)
		pr_warn("%s", ph_errmsg());
	return code;
}

static int migrate(struct mig *g, const char *host)
{
	enum criu_dump_outcome outcome = CRIU_DUMP_UNKNOWN;
	int ret;

	g->t_start = now_us();
	report_mark(&g->rep, RM_START);
	if ((ret = step_connect(g, host)) < 0 || (ret = run_hook(g, HOOK_BEFORE_CHECK, NULL)) < 0 ||
	    (ret = step_check(g)) < 0)
		goto out;
	if (g->opt.dry_run) {
		report_phase(&g->rep, "dry-run", "checks passed; nothing migrated");
		finish_agent(g->m, false, false, "dry run", 5000);
		goto out;
	}
	if ((ret = setup_streams(g)) < 0 || (ret = step_fs(g)) < 0 || (ret = step_prepare(g)) < 0)
		goto out;
	set_phase(g, PHASE_PRECOPY);
	if ((ret = step_precopy(g)) < 0 || (ret = step_dump(g, &outcome)) < 0) {
		if (!g->post_live)
			goto out;
		postcopy_note_err(g, ret); /* switched: postcopy_end() decides */
	}
	ret = step_commit(g, outcome);
out:
	if (ret < 0)
		pr_err("%s", ph_errmsg());
	ret = finish(g, ret, outcome);
	control_quiet(&g->ctl); /* the report is the last line */
	if (ret != EXIT_OK)
		fx_source_failed(&g->rep, g->dir);
	report_print(&g->rep);
	fx_source_end(&g->rep);
	if (!g->opt.dry_run)
		report_notify(&g->rep, g->cfg->notify_url, 10);
	return ret;
}

const char migrate_usage[] =
	"Usage: phaul migrate [OPTIONS] CT HOST\n"
	"\n"
	"Move CT (pid:N, lxc:NAME, runc:ID, podman:NAME) to HOST ([user@]host[:port],\n"
	"[IPV6]:port) with pre-copy (or post-copy: --mode). Options may also follow\n"
	"CT and HOST.\n"
	"  --mode MODE           precopy (default): copy memory while the CT runs here,\n"
	"                        then a short freeze; postcopy: freeze once, run the CT\n"
	"                        on HOST at once and pull its memory from here (pid:\n"
	"                        and runc: CTs; if this host or its phaul is lost\n"
	"                        before every page moved, the CT is lost: exit 9);\n"
	"                        hybrid: pre-copy,\n"
	"                        and where it cannot meet the limit (instead of\n"
	"                        throttling or refusing) post-copy for the pages\n"
	"                        dirtied since the last pre-dump (same risk)\n"
	"  --postcopy-reconnect S  post-copy: a lost link may take S seconds to come\n"
	"                        back while the CT's faults wait (300; 0: a cut loses\n"
	"                        the CT)\n"
	"  --downtime-limit MS   stop pre-copy once the predicted downtime is below (300);\n"
	"                        a limit that cannot be met aborts, the source runs on\n"
	"  --allow-downtime-overrun  dump anyway when the limit cannot be met, and say\n"
	"                        by how much\n"
	"  --no-auto-converge    never throttle the CT's CPU (cgroup v2 cpu.max) when it\n"
	"                        dirties memory faster than the link carries it\n"
	"  --policy P            predict (default) or fixed: P.Haul's rule (<= 64 pages,\n"
	"                        10 % growth or max iterations; no downtime limit)\n"
	"  --max-iterations N    pre-copy iterations at most (8; auto-converge may add\n"
	"                        up to 9 throttled ones)\n"
	"  --no-compress         no zstd on the page, image and fs-sync streams\n"
	"  --bwlimit RATE        cap the link, bytes/s (100M, 1G)\n"
	"  --work-dir DIR        images and logs here (this host; the agent uses its own)\n"
	"  --keep-images         keep this host's images after a success (always kept\n"
	"                        after a failure)\n"
	"  --restore MODE        lazy (default): the CT runs on HOST before its memory is\n"
	"                        in place, a local lazy-pages daemon fills it; eager:\n"
	"                        every page in place first (HOSTs without userfaultfd\n"
	"                        restore eagerly by themselves)\n"
	"CRIU options (also [criu] keys; HOWTO: What can be migrated):\n"
	"  --shell-job           the tree is attached to a terminal\n"
	"  --tcp-established     migrate established TCP connections\n"
	"  --file-locks          migrate flock/fcntl/OFD locks the tree holds (the\n"
	"                        files must be the same on HOST: --sync them)\n"
	"  --link-remap          open files whose name was removed while another link\n"
	"                        remains: CRIU links them back in their directory as\n"
	"                        link_remap.N (--sync it; the name stays on the source)\n"
	"  --ext-unix-sk         unix datagram sockets connected outside the tree\n"
	"                        (e.g. /dev/log): reconnected by name on HOST\n"
	"  --ghost-limit SIZE    largest unlinked open file copied into the images\n"
	"                        (1M): each costs its size in the images, on the link\n"
	"                        and in the frozen time\n"
	"  --manage-cgroups MODE ignore, none, props, soft (CRIU's default), full or\n"
	"                        strict: what CRIU restores of the tree's cgroups\n"
	"Other:\n"
	"  --require-precopy     refuse instead of a stop-and-copy dump without soft-dirty\n"
	"  --force CHECKS        skip these compatibility checks (comma-separated names\n"
	"                        as in the check table)\n"
	"  --dry-run             connect and run the checks only\n"
	"  --json                progress (every second) and report as JSON lines on\n"
	"                        stdout; without it a terminal shows a status line.\n"
	"                        phaul status, cancel and set reach it from another shell\n"
	"  --sync PATH           rsync PATH to the same path on HOST: before, during\n"
	"                        pre-copy and while frozen (repeatable)\n";

const struct option migrate_opts[] = {
	{ "downtime-limit", required_argument, NULL, 'd' },
	{ "max-iterations", required_argument, NULL, 'i' },
	{ "allow-downtime-overrun", no_argument, NULL, 'O' },
	{ "no-auto-converge", no_argument, NULL, 'A' },
	{ "policy", required_argument, NULL, 'P' },
	{ "no-compress", no_argument, NULL, 'Z' },
	{ "bwlimit", required_argument, NULL, 'b' },
	{ "work-dir", required_argument, NULL, 'w' },
	{ "keep-images", no_argument, NULL, 'k' },
	{ "restore", required_argument, NULL, 'y' },
	{ "mode", required_argument, NULL, 'M' },
	{ "postcopy-reconnect", required_argument, NULL, 'K' },
	{ "shell-job", no_argument, NULL, 's' },
	{ "tcp-established", no_argument, NULL, 't' },
	{ "file-locks", no_argument, NULL, 'L' },
	{ "link-remap", no_argument, NULL, 'R' },
	{ "ext-unix-sk", no_argument, NULL, 'U' },
	{ "ghost-limit", required_argument, NULL, 'G' },
	{ "manage-cgroups", required_argument, NULL, 'C' },
	{ "require-precopy", no_argument, NULL, 'r' },
	{ "force", required_argument, NULL, 'f' },
	{ "dry-run", no_argument, NULL, 'n' },
	{ "json", no_argument, NULL, 'j' },
	{ "sync", required_argument, NULL, 'S' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int parse_opts(struct mig *g, int argc, char **argv)
{
	int c;

	while ((c = getopt_long(argc, argv, "h", migrate_opts, NULL)) != -1) {
		const char *key = NULL;

		switch (c) {
		case 'd': key = "downtime_limit_ms"; break;
		case 'i': key = "max_iterations"; break;
		case 'P': key = "policy"; break;
		case 'O': g->cfg->allow_downtime_overrun = true; break;
		case 'A': g->cfg->auto_converge = false; break;
		case 'b': key = "bwlimit"; break;
		case 'w': key = "work_dir"; break;
		case 'y': key = "restore"; break;
		case 'M': key = "mode"; break;
		case 'K': key = "postcopy_reconnect"; break;
		case 'Z': g->opt.no_compress = true; break;
		case 'k': g->cfg->keep_images = true; break;
		case 's': g->cfg->criu.shell_job = true; break;
		case 't': g->cfg->criu.tcp_established = true; break;
		case 'L': g->cfg->criu.file_locks = true; break;
		case 'R': g->cfg->criu.link_remap = true; break;
		case 'U': g->cfg->criu.ext_unix_sk = true; break;
		case 'G': key = "ghost_limit"; break;
		case 'C': key = "manage_cgroups"; break;
		case 'r': g->opt.require_precopy = true; break;
		case 'f': g->opt.force = optarg; break;
		case 'n': g->opt.dry_run = true; break;
		case 'j': g->opt.json = true; break;
		case 'S':
			if (g->opt.nsync == PH_SYNC_MAX || optarg[0] != '/') {
				ph_seterr(PH_EUSAGE, "--sync takes an absolute path, at most %d",
					  PH_SYNC_MAX);
				cli_usage_error("migrate", "%s", ph_errmsg());
				return -1;
			}
			g->opt.sync[g->opt.nsync++] = optarg;
			break;
		case 'h': fputs(migrate_usage, stdout); exit(EXIT_OK);
		default:
			/* getopt named it on stderr; the --json report says it too */
			ph_seterr(PH_EUSAGE, "bad option or missing argument near '%.64s'",
				  argv[optind - 1]);
			cli_usage_hint("migrate");
			return -1;
		}
		if (key && config_set(g->cfg, NULL, key, optarg) < 0) {
			cli_usage_error("migrate", "%s", ph_errmsg());
			return -1;
		}
	}
	if (optind + 2 != argc) {
		ph_seterr(PH_EUSAGE, "%s (usage: phaul migrate [OPTIONS] CT HOST)",
			  optind == argc       ? "missing CT and HOST"
			  : optind + 1 == argc ? "missing HOST after CT"
					       : "too many operands: only CT and HOST");
		cli_usage_error("migrate", "%s", ph_errmsg());
		return -1;
	}
	if ((g->opt.force && cli_check_force(g->opt.force) < 0) ||
	    cli_preflight(g->cfg, argv[optind + 1]) < 0) {
		cli_usage_error("migrate", "%s", ph_errmsg());
		return -1;
	}
	return 0;
}

/* The CT's type can pass the CRIU options asked for. */
static int criu_opts_for_type(const struct mig *g)
{
	struct criu_opts o = CRIU_OPTS_INIT;

	config_criu_opts(&g->cfg->criu, false, &o);
	return g->ct.ops->check_criu(&g->ct, &o);
}

/*
 * The migration ends before it began, with code: with --json still one
 * report line, whose error is what stderr said.
 */
static int early_report(struct mig *g, int code)
{
	if (g->opt.json) {
		snprintf(g->rep.error, sizeof(g->rep.error), "%s", ph_errmsg());
		g->rep.result = ph_lasterr() ? ph_lasterr() : PH_EUSAGE;
		g->rep.exit_code = code;
		report_print(&g->rep);
	}
	return code;
}

/* ...after saying why on stderr. */
static int early_exit(struct mig *g, int code)
{
	fprintf(stderr, "phaul: %s\n", ph_errmsg());
	return early_report(g, code);
}

/* The live thread: status line, progress events, control socket (control.h). */
static void start_live(struct mig *g)
{
	progress_init(&g->prog, g->id, g->ct.spec, g->target, g->ct.rss_kb * 1024, &g->lock, &g->m);
	progress_set_downtime_limit(&g->prog, g->rep.limit_us);
	progress_set_bwlimit(&g->prog, g->cfg->bwlimit);
	if (control_start(&g->ctl, g->cfg->work_dir, &g->prog, g->opt.json, &ctl_ops, g) < 0)
		pr_warn("%s", ph_errmsg()); /* no progress, no control: the migration runs on */
}

int cmd_migrate(struct phaul_config *cfg, int argc, char **argv)
{
	static struct mig g; /* large (report, ct); one per process */
	pthread_t sig_thread;
	int ret, lock_fd = -1;
	sigset_t set;

	memset(&g, 0, sizeof(g));
	g.cfg = cfg;
	g.sk = -1;
	g.lazy_sk = -1;
	g.lock_fd = -1;
	pthread_mutex_init(&g.lock, NULL);
	/* before the parser: a refused command line ends with a JSON report too */
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		g.opt.json |= !strcmp(argv[i], "--json");
	report_init(&g.rep, g.opt.json);
	if (parse_opts(&g, argc, argv) < 0)
		return early_report(&g, EXIT_USAGE);
	log_init("src", cfg->log_level);
	gethostname(g.host, sizeof(g.host) - 1);
	g.rep.dry_run = g.opt.dry_run;
	snprintf(g.rep.ct, sizeof(g.rep.ct), "%s", argv[optind]);
	snprintf(g.rep.src, sizeof(g.rep.src), "%s", g.host);
	snprintf(g.rep.dst, sizeof(g.rep.dst), "%s", argv[optind + 1]);
	g.rep.transport = cfg->transport;
	precopy_policy_parse(cfg->policy, &g.policy); /* config_set() admits only the two */
	g.postcopy = !strcmp(cfg->mode, "postcopy");
	g.hybrid = !strcmp(cfg->mode, "hybrid");
	g.rep.limit_us = g.policy == PRECOPY_FIXED ? 0 : (uint64_t)cfg->downtime_limit_ms * 1000;
	g.rep.overrun_allowed = cfg->allow_downtime_overrun;
	if (ct_open(argv[optind], &g.ct) < 0)
		return early_exit(&g, ph_lasterr() == PH_EUSAGE ? EXIT_USAGE : EXIT_FAILED);
	if (criu_opts_for_type(&g) < 0)
		return early_exit(&g, EXIT_USAGE);
	/* Pre-flight: what CRIU would refuse only after the freeze. */
	if (ct_check_session(&g.ct, g.host, cfg->criu.shell_job) < 0)
		return early_exit(&g, ph_lasterr() == PH_ECOMPAT ? EXIT_REFUSED : EXIT_FAILED);
	if (ct_lock(&g.ct, cfg->work_dir, &lock_fd) < 0)
		return early_exit(&g, EXIT_FAILED);
	if (recover_pending(cfg, g.ct.spec, g.id, sizeof(g.id))) {
		/* a second copy could start while the first one's fate is open */
		ph_seterr(PH_EUNKNOWN,
			  "migration %s of %s is not settled yet: run `phaul recover %s` first",
			  g.id, g.ct.spec, g.id);
		return early_exit(&g, EXIT_FAILED);
	}
	g.target = argv[optind + 1];
	proc_start_time(g.ct.root, &g.root_start);
	if (mrec_new_id(g.id, sizeof(g.id)) < 0 || mkdir_p(cfg->work_dir, 0700) < 0 ||
	    (g.lock_fd = mrec_lock(cfg->work_dir, MREC_SOURCE, g.id, false)) < 0)
		return early_exit(&g, EXIT_FAILED);
	snprintf(g.rep.mig_id, sizeof(g.rep.mig_id), "%s", g.id);
	fx_source_begin(cfg, g.id, g.rep.log_dir, sizeof(g.rep.log_dir));
	/* A throttle left by a phaul that died (this CT's or another's) is lifted now. */
	if (throttle_init(&g.thr, cfg->work_dir) < 0)
		pr_warn("%s", ph_errmsg());
	/* The type's own directories (an LXC container's config and rootfs) travel like --sync. */
	for (size_t i = 0; i < g.ct.nsync; i++) {
		if (g.opt.nsync == PH_SYNC_MAX) {
			ph_seterr(PH_EUSAGE, "more than %d paths to sync", PH_SYNC_MAX);
			return early_exit(&g, EXIT_USAGE);
		}
		g.opt.sync[g.opt.nsync++] = g.ct.sync[i];
	}
	for (int i = 0; i < g.opt.nsync; i++)
		report_sync_path(&g.rep, g.opt.sync[i]);

	/* Signals go to one thread; the others (relay, CRIU's children) never see them. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	/* Without it Ctrl-C would be ignored: refuse before anything changes. */
	ret = getenv("PHAUL_FAULT_SIGNAL_THREAD")
		      ? EAGAIN
		      : pthread_create(&sig_thread, NULL, signal_thread, &g);
	if (ret) {
		pthread_sigmask(SIG_UNBLOCK, &set, NULL);
		ph_seterr(PH_ESYS, "cannot start the signal thread: %s", strerror(ret));
		return early_exit(&g, EXIT_FAILED);
	}
	pthread_detach(sig_thread);
	start_live(&g);

	ret = migrate(&g, argv[optind + 1]);
	control_stop(&g.ctl);

	postcopy_free(&g.post); /* its threads use the mux */
	lzx_set_free(&g.prev_runs);
	pthread_mutex_lock(&g.lock);
	mux_close(g.m);
	g.m = NULL;
	pthread_mutex_unlock(&g.lock);
	ct_close(&g.ct);
	if (g.sk >= 0)
		close(g.sk);
	if (g.lazy_sk >= 0)
		close(g.lazy_sk);
	if (g.dir[0] && !cfg->keep_images && ret == EXIT_OK)
		rm_tree(g.dir);
	mrec_unlock(cfg->work_dir, MREC_SOURCE, g.id, g.lock_fd);
	close(lock_fd); /* held until the migration is settled */
	return ret;
}
