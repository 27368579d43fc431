// SPDX-License-Identifier: GPL-2.0
/*
 * The agent's side of a migration: one CRIU page server per iteration fed
 * through the page relay, the image files of the final dump, the restore.
 * Layout: <work_dir>/in-<time>-<random>/<iter>/, parent links "../<iter-1>";
 * the source's hostname in <session>/peer.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "caps.h"
#include "engine/criu.h"
#include "engine/stats.h"
#include "err.h"
#include "hooks.h"
#include "htype.h"
#include "images.h"
#include "log.h"
#include "mrec.h"
#include "proto/msg.h"
#include "throttle.h"
#include "util.h"

/* In each session dir: the source's hostname, sanitised (data, never a path). */
#define SESSION_PEER_FILE "peer"

/* The peer's hostname as data: printable ASCII, anything else '?'. */
static void write_peer_file(int dfd, const char *peer)
{
	char buf[sizeof(((struct agent *)0)->peer) + 1];
	size_t i;
	int fd;

	for (i = 0; peer[i] && i < sizeof(buf) - 2; i++)
		buf[i] = peer[i] >= 0x20 && peer[i] < 0x7f ? peer[i] : '?';
	buf[i++] = '\n';
	fd = openat(dfd, SESSION_PEER_FILE, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	if (fd < 0 || write(fd, buf, i) != (ssize_t)i)
		pr_warn("session dir: " SESSION_PEER_FILE ": %s", strerror(errno));
	if (fd >= 0)
		close(fd);
}

/*
 * This migration's directory, named by phaul alone ("in-" UTC time and 64
 * random bits), never by the peer: whatever the source calls itself, it
 * cannot place anything outside the work dir. Mode 0700, like the work
 * dir when phaul creates it. The source's name is kept inside, as data.
 */
static int make_session_dir(struct agent *a)
{
	char stamp[32], name[64];
	time_t t = time(NULL);
	uint64_t rnd;
	int wfd = -1, dfd = -1, ret;

	if ((ret = mkdir_p(a->cfg->work_dir, 0700)) < 0)
		return ph_errctx(ret, "%s: work dir", a->host);
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		return ph_seterr_errno(PH_ESYS, "getrandom for the session dir's name");
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", gmtime(&t));
	snprintf(name, sizeof(name), "in-%s-%016llx", stamp, (unsigned long long)rnd);
	wfd = open(a->cfg->work_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (wfd < 0 || mkdirat(wfd, name, 0700) < 0 ||
	    (dfd = openat(wfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		ret = ph_seterr_errno(PH_ESYS, "%s: creating %s/%s", a->host, a->cfg->work_dir,
				      name);
		goto out;
	}
	if (snprintf(a->dir, sizeof(a->dir), "%s/%s", a->cfg->work_dir, name) >=
	    (int)sizeof(a->dir)) {
		ret = ph_seterr(PH_EPATH, "work dir path too long: %.64s...", a->cfg->work_dir);
		unlinkat(wfd, name, AT_REMOVEDIR);
		a->dir[0] = '\0';
		goto out;
	}
	write_peer_file(dfd, a->peer);
	pr_info("session dir %s", a->dir);
out:
	if (dfd >= 0)
		close(dfd);
	if (wfd >= 0)
		close(wfd);
	return ret;
}

/*
 * This host's restore speed, ns per page of the CT, averaged over its restores:
 * the source's downtime prediction needs it, and only the destination can
 * measure it. One number in the work dir; 0 when there is none yet.
 */
#define RESTORE_RATE_FILE "restore-rate"
/*
 * The rest of a restore (averaged, u64_file_blend), us: RestoreReq received -> RestoreResp
 * sent, minus CRIU's restore_time: the store's last delta, the daemons
 * started (criu swrk, criu lazy-pages), the hooks, the HELD record. A
 * fixed cost of every downtime that only this host can measure.
 */
#define RESTORE_OVERHEAD_FILE "restore-overhead"
/* Before the first restore: that many times a dry CRIU start (lazy_probe). */
#define DRY_STARTS 2

/* <work_dir>/<name>, "-lazy" appended for lazy restores (their own figures) */
static void restore_num_path(const struct agent *a, const char *name, bool lazy, char *path,
			     size_t len)
{
	snprintf(path, len, "%s/%s%s", a->cfg->work_dir, name, lazy ? "-lazy" : "");
}

static uint64_t restore_num_load(const struct agent *a, const char *name, bool lazy)
{
	char path[PATH_MAX];

	restore_num_path(a, name, lazy, path, sizeof(path));
	return u64_file_load(path);
}

static void restore_num_save(const struct agent *a, const char *name, bool lazy, uint64_t v)
{
	char path[PATH_MAX];

	restore_num_path(a, name, lazy, path, sizeof(path));
	u64_file_blend(path, v);
}

/*
 * Can this host restore lazily? CRIU's FEATURE_CHECK lazy_pages is
 * `criu check --feature uffd-noncoop` (userfaultfd and its
 * non-cooperative events). Asked once per session, before any downtime.
 */
static void lazy_probe(struct agent *a)
{
	struct criu_features f;
	int ret;

	a->lazy_ok = false;
	if (getenv("PHAUL_FAULT_NO_UFFD")) {
		snprintf(a->lazy_note, sizeof(a->lazy_note),
			 "%.64s: no userfaultfd (PHAUL_FAULT_NO_UFFD)", a->host);
		return;
	}
	a->probe_us = now_us();
	ret = criu_feature_check(&f);
	a->probe_us = now_us() - a->probe_us;
	if (ret < 0) {
		snprintf(a->lazy_note, sizeof(a->lazy_note), "%.64s: criu feature check: %.400s", a->host,
			 ph_errmsg());
		return;
	}
	a->lazy_ok = f.lazy_pages;
	if (!a->lazy_ok)
		snprintf(a->lazy_note, sizeof(a->lazy_note),
			 "%.64s: criu check --feature uffd-noncoop fails (no userfaultfd "
			 "non-cooperative events)",
			 a->host);
}

/* In the relay thread after the session: the store's verdict. */
static int ps_after(struct pages_relay *r, int ret)
{
	struct agent *a = r->arg;
	Phaul__Msg out = PHAUL__MSG__INIT;
	Phaul__IterDone done = PHAUL__ITER_DONE__INIT;

	/* after the final dump's pages: the one flat image CRIU restores from */
	if (ret == 0 && a->final)
		ret = pstore_write_images(a->store);
	if (ret < 0) {
		char msg[1024];

		/*
		 * Nobody drains the page stream any more: the source's relay
		 * would wait for credit while CRIU waits for it. Abort the
		 * session so every wait on the source fails with our reason.
		 */
		snprintf(msg, sizeof(msg), "%s: pages of iteration %u: %s", a->host, a->iter,
			 ph_errmsg());
		mux_abort(a->mux, ret, msg);
		return ph_seterr(ret, "%s", msg);
	}
	pr_info("iteration %u: %llu pages in the flat store, %llu moved in %llu us at its end",
		a->iter, (unsigned long long)pstore_stats(a->store)->pages,
		(unsigned long long)pstore_stats(a->store)->last_moved,
		(unsigned long long)pstore_stats(a->store)->last_apply_us);
	done.iter = a->iter;
	done.ok = true;
	done.has_bytes = 1;
	done.bytes = psx_total_counts(r->psx)->stream_bytes; /* one parser per iteration */
	done.msg = "";
	out.body_case = PHAUL__MSG__BODY_ITER_DONE;
	out.iter_done = &done;
	if (msg_send(a->mux, &out) < 0 && ret == 0)
		ret = -PH_EEOF;
	return ret;
}

/*
 * The flat store and the final images live in <session>/img: CRIU restores
 * from there, one image, whatever the number of iterations.
 */
static int store_dir(const struct agent *a, char *out, size_t len)
{
	if (snprintf(out, len, "%s/img", a->dir) >= (int)len)
		return ph_seterr(PH_EPATH, "work dir path too long: %.64s...", a->dir);
	return 0;
}

/*
 * Where the final images land and CRIU restores from: the store's dir,
 * but in a hybrid, whose final dump has pagemaps and pages files of its
 * own: <session>/hyb, beside the store it leaves in place.
 */
static int img_dir(const struct agent *a, char *out, size_t len)
{
	if (!a->hybrid)
		return store_dir(a, out, len);
	if (snprintf(out, len, "%s/hyb", a->dir) >= (int)len)
		return ph_seterr(PH_EPATH, "work dir path too long: %.64s...", a->dir);
	return 0;
}

static int store_open(struct agent *a)
{
	char dir[PATH_MAX];
	int ret;

	if (a->store)
		return 0;
	if ((ret = store_dir(a, dir, sizeof(dir))) < 0 ||
	    (ret = pstore_open(&a->store, dir, a->cfg->store_io)) < 0)
		return ph_errctx(ret, "%s", a->host);
	if (pio_fallback(pstore_io(a->store))[0])
		pr_warn("page store: io_uring unavailable (%s), plain pwrite instead",
			pio_fallback(pstore_io(a->store)));
	return 0;
}

/* Post-copy: the image files, pagemaps included, land in img_dir(). */
static int postcopy_dir(struct agent *a)
{
	char dir[PATH_MAX];
	int ret;

	if ((ret = img_dir(a, dir, sizeof(dir))) < 0 || (ret = mkdir_p(dir, 0700)) < 0)
		return ph_errctx(ret, "%s", a->host);
	return 0;
}

static int send_iter_ready(struct agent *a, uint32_t iter, bool lazy)
{
	Phaul__Msg out = PHAUL__MSG__INIT;
	Phaul__IterReady ready = PHAUL__ITER_READY__INIT;

	ready.iter = iter;
	ready.restore_ns_per_page = restore_num_load(a, RESTORE_RATE_FILE, lazy);
	ready.has_restore_ns_per_page = ready.restore_ns_per_page > 0;
	ready.restore_overhead_us = restore_num_load(a, RESTORE_OVERHEAD_FILE, lazy);
	if (!ready.restore_overhead_us && lazy)
		/* none measured yet: the dry start, for criu lazy-pages and criu swrk */
		ready.restore_overhead_us = DRY_STARTS * a->probe_us;
	ready.has_restore_overhead_us = ready.restore_overhead_us > 0;
	out.body_case = PHAUL__MSG__BODY_ITER_READY;
	out.iter_ready = &ready;
	return msg_send(a->mux, &out);
}

int agent_on_iter_start(struct agent *a, Phaul__Msg *in)
{
	Phaul__IterStart *s = in->iter_start;
	int ret;

	if ((ret = pages_relay_join(&a->relay)) < 0)
		return ph_errctx(ret, "%s: iteration %u", a->host, a->iter);
	if (s->iter != a->iter + 1 || s->iter > PH_ITER_MAX + 1 ||
	    (s->has_parent && s->parent != a->iter))
		return ph_seterr(PH_EPROTO, "IterStart %u (parent %u) after iteration %u", s->iter,
				 s->has_parent ? s->parent : 0, a->iter);
	if (!a->dir[0] && (ret = make_session_dir(a)) < 0)
		return ret;
	a->postcopy = s->has_postcopy && s->postcopy;
	/* hybrid: pre-dumps into the store, then a final lazy dump with a parent */
	a->hybrid = a->postcopy && s->iter > 1 && a->store;
	if (a->postcopy && (!(s->iter == 1 || a->hybrid) || !(s->has_final && s->final)))
		return ph_seterr(PH_EPROTO,
				 "post-copy IterStart %u: expected one final dump, first or "
				 "after pre-dumps into the store",
				 s->iter);
	if (a->postcopy)
		ret = postcopy_dir(a);
	else
		ret = store_open(a);
	if (ret < 0)
		return ret;
	if (s->iter == 1 && ((s->has_lazy && s->lazy) || a->postcopy))
		lazy_probe(a);
	a->state = AG_COPYING;
	a->iter = s->iter;
	a->final = s->has_final && s->final;
	if (a->postcopy)
		return send_iter_ready(a, s->iter, false);
	psx_init(&a->psx, (size_t)sysconf(_SC_PAGESIZE));
	a->relay = (struct pages_relay){
		.mux = a->mux,
		.sk = -1,
		.psx = &a->psx,
		.store = a->store,
		.source = false,
		.timeout_ms = a->cfg->timeout_s * 1000,
		.after = ps_after,
		.arg = a,
	};
	if ((ret = pages_relay_start(&a->relay)) < 0)
		return ret;
	if ((ret = send_iter_ready(a, s->iter, s->has_lazy && s->lazy && a->lazy_ok)) < 0 ||
	    !a->final || a->swrk)
		return ret;
	/* the restore's CRIU starts now, while the source freezes and dumps */
	if (criu_conn_open(&a->swrk) < 0) {
		pr_warn("starting criu swrk ahead of the restore: %s", ph_errmsg());
		a->swrk = NULL;
	}
	return 0;
}

int agent_on_image_file(struct agent *a, Phaul__Msg *in)
{
	char dir[PATH_MAX];
	int dfd, ret;

	if (in->image_file->iter != a->iter || !a->final)
		return ph_seterr(PH_EPROTO, "image file for iteration %u; the final one is %u",
				 in->image_file->iter, a->iter);
	if (++a->nimages > PH_IMAGE_FILES_MAX)
		return ph_seterr(PH_ETOOBIG, "more than %u image files", PH_IMAGE_FILES_MAX);
	if (images_is_store_name(in->image_file->name) && !a->postcopy)
		return ph_seterr(PH_EPROTO,
				 "%s: image file %.64s: pages and pagemaps come only through the "
				 "page stream (but in post-copy)",
				 a->host, in->image_file->name);
	if ((ret = img_dir(a, dir, sizeof(dir))) < 0)
		return ret;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return ph_seterr_errno(PH_ESYS, "%s: opening %s", a->host, dir);
	ret = images_recv(a->mux, dfd, in->image_file, a->host);
	close(dfd);
	return ret;
}

int agent_on_images_done(struct agent *a, Phaul__Msg *in)
{
	if (in->images_done->count != a->nimages)
		return ph_seterr(PH_EPROTO, "source says %u image files, %u arrived",
				 in->images_done->count, a->nimages);
	return 0;
}

/* Where the destination's part of the downtime went (RestoreResp), wall us. */
struct restore_times {
	uint64_t t0;	/* RestoreReq received, CLOCK_MONOTONIC */
	uint64_t store; /* the final delta settled in the store */
	uint64_t lazy;	/* lazy-pages daemon started -> ready */
	uint64_t criu;	/* criu swrk started -> restore done */
};

static void send_restore_resp(struct agent *a, int ret, pid_t pid, const struct criu_stats *st,
			      const char *throttle_note, const struct restore_times *rt)
{
	Phaul__Msg out = PHAUL__MSG__INIT;
	Phaul__RestoreResp r = PHAUL__RESTORE_RESP__INIT;
	uint8_t token[PCLINK_TOKEN_LEN];

	r.ok = ret == 0;
	/* what a resumed link proves itself with, after a cut in post-copy */
	if (ret == 0 && a->postcopy && postcopy_dst_token(&a->pc, token) == 0) {
		r.has_resume_token = 1;
		r.resume_token.data = token;
		r.resume_token.len = sizeof(token);
	}
	r.has_held = ret == 0;
	r.held = a->held && agent_ct_can(a, CT_CAP_HOLD);
	r.has_pid = r.has_restore_time_us = r.has_pages_restored = ret == 0;
	r.pid = (uint32_t)pid;
	r.restore_time_us = st->restore_time_us;
	r.pages_restored = st->pages_restored;
	r.has_dst_wall_us = r.has_dst_store_us = r.has_dst_lazy_start_us = r.has_dst_criu_us = 1;
	r.dst_wall_us = now_us() - rt->t0;
	r.dst_store_us = rt->store;
	r.dst_lazy_start_us = rt->lazy;
	r.dst_criu_us = rt->criu;
	if (ret == 0 && r.dst_wall_us > st->restore_time_us)
		restore_num_save(a, RESTORE_OVERHEAD_FILE, a->lazy != NULL,
				 r.dst_wall_us - st->restore_time_us);
	if (ret == 0 && throttle_note[0])
		r.throttle_note = (char *)throttle_note;
	if (ret == 0) {
		r.restore_mode = a->lazy ? "lazy" : "eager";
		if (!a->lazy && a->lazy_note[0])
			r.restore_note = a->lazy_note;
	}
	if (a->store) {
		const struct pstore_stats *ps = pstore_stats(a->store);

		r.store_io = (char *)pio_name(pstore_io(a->store));
		if (pio_fallback(pstore_io(a->store))[0])
			r.store_io_note = (char *)pio_fallback(pstore_io(a->store));
		r.has_store_apply_us = r.has_store_moved_pages = 1;
		r.store_apply_us = ps->last_apply_us;
		r.store_moved_pages = ps->last_moved;
	}
	if (ret < 0) {
		r.has_err = 1;
		r.err = -ret;
		r.msg = (char *)ph_errmsg();
	}
	out.body_case = PHAUL__MSG__BODY_RESTORE_RESP;
	out.restore_resp = &r;
	msg_send(a->mux, &out);
	memset(token, 0, sizeof(token));
}

/*
 * The commit protocol (proto/phaul.proto at Finish): this migration's id,
 * and its record lock held for the session, so that a `phaul recover`
 * meanwhile cannot act behind this session's back.
 */
static int hold_begin(struct agent *a, const char *id)
{
	int fd;

	if (!mrec_id_valid(id))
		return ph_seterr(PH_EPROTO, "RestoreReq with a malformed migration id");
	if ((fd = mrec_lock(a->cfg->work_dir, MREC_DEST, id, false)) < 0)
		return ph_errctx(fd, "%s", a->host);
	snprintf(a->mig_id, sizeof(a->mig_id), "%s", id);
	a->lock_fd = fd;
	return 0;
}

/*
 * Restored and held stopped: recorded HELD, with the root's start time,
 * before anyone hears of it. Unrecorded, it could not be recovered: the
 * caller makes it go and the source resumes instead. With restored_pid 0:
 * a type that restores itself is about to (see agent_on_restore).
 */
static int hold_record(struct agent *a)
{
	struct mrec r = { .side = MREC_DEST, .state = DST_HELD, .pid = a->restored_pid };
	int ret;

	snprintf(r.id, sizeof(r.id), "%s", a->mig_id);
	snprintf(r.ct, sizeof(r.ct), "%s", a->ct);
	snprintf(r.peer, sizeof(r.peer), "%s", a->peer);
	if ((r.pid > 0 && (ret = proc_start_time(r.pid, &r.start)) < 0) ||
	    (ret = mrec_save(a->cfg->work_dir, &r)) < 0)
		return ph_errctx(ret, "%s: recording the restored CT", a->host);
	a->held = true;
	return 0;
}

/*
 * Our own restore's notifications (pid:): at post-restore CRIU still
 * holds every task, so the record is written before any of them can run
 * or be stopped; should this agent die from here on, CRIU's own
 * leave-stopped still stops the tree and the record lets `phaul recover`
 * find it. A failure here makes CRIU kill the tree.
 */
static int on_rst_notify(const char *script, pid_t root, void *arg)
{
	struct agent *a = arg;

	if (!strcmp(script, "pre-resume") && fault_at("agent-pre-resume"))
		raise(SIGKILL); /* CRIU alone finishes the restore */
	if (strcmp(script, "post-restore"))
		return 0;
	a->restored_pid = root;
	return hold_record(a);
}

/*
 * Lazy if asked and possible: the daemon runs before the restore starts,
 * on the same dir. Whatever keeps it from starting, the restore goes eager
 * (nothing has happened to the CT yet); lazy_note says why.
 */
/*
 * Post-copy: the daemon asks the source for the lazy pages through our
 * socketpair and the relay. Without it the restore cannot run at all
 * (the pages are not here): PH_ENOTSUP or the daemon's error.
 */
static int postcopy_begin(struct agent *a, const Phaul__RestoreReq *q, const char *dir)
{
	int sp[2], ret;

	if (!agent_ct_can(a, CT_CAP_POSTCOPY | CT_CAP_LAZY_RESTORE))
		return ph_seterr(PH_ENOTSUP, "%s: post-copy: %.64s restores itself, not lazily",
				 a->host, q->ct);
	if (!a->lazy_ok)
		return ph_seterr(PH_ENOTSUP, "%s: post-copy needs a lazy restore: %s", a->host,
				 a->lazy_note);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		return ph_seterr_errno(PH_ESYS, "%s: post-copy socketpair", a->host);
	ret = criu_lazy_start_remote(dir, sp[1], &a->lazy);
	close(sp[1]);
	if (ret < 0)
		close(sp[0]);
	else if (a->hybrid) /* its pagemaps rewritten before the restore reads them (uffd.c) */
		ret = postcopy_dst_start_hybrid(&a->pc, a->mux, sp[0], dir, pstore_locate, a->store,
						a->cfg->timeout_s * 1000);
	else
		ret = postcopy_dst_start(&a->pc, a->mux, sp[0], dir, a->cfg->timeout_s * 1000);
	return ret < 0 ? ph_errctx(ret, "%s", a->host) : 0;
}

static bool lazy_begin(struct agent *a, const Phaul__RestoreReq *q, const char *dir)
{
	if (!(q->has_lazy && q->lazy))
		return false;
	if (!agent_ct_can(a, CT_CAP_LAZY_RESTORE)) {
		snprintf(a->lazy_note, sizeof(a->lazy_note),
			 "%.64s: %.64s restores itself, eagerly", a->host, q->ct);
		return false;
	}
	if (!a->lazy_ok)
		return false;
	if (criu_lazy_start(dir, &a->lazy) < 0) {
		snprintf(a->lazy_note, sizeof(a->lazy_note), "%.64s: %.500s", a->host, ph_errmsg());
		pr_warn("lazy restore not possible, restoring eagerly: %s", a->lazy_note);
		return false;
	}
	return true;
}

/* The CT's type restores it; o->conn is the type's to use or close. */
static int restore_ct(struct agent *a, struct criu_opts *o, pid_t *pid)
{
	struct ct *ct;
	int ret;

	if ((ret = agent_ct(a, &ct)) < 0) {
		criu_conn_close(o->conn);
		o->conn = NULL;
		return ret;
	}
	return ct->ops->restore(ct, o->images_dir, o, pid);
}

int agent_on_restore(struct agent *a, Phaul__Msg *in)
{
	Phaul__RestoreReq *q = in->restore_req;
	struct criu_opts o = CRIU_OPTS_INIT;
	struct criu_stats st;
	char dir[PATH_MAX], note[512] = "";
	struct restore_times rt = { .t0 = now_us() };
	pid_t pid = 0;
	int ret, lret;
	bool own;

	memset(&st, 0, sizeof(st));
	ret = pages_relay_join(&a->relay);
	rt.store = now_us() - rt.t0;
	if (ret < 0)
		goto out;
	if (q->iter != a->iter || !a->final) {
		ret = ph_seterr(PH_EPROTO, "restore of iteration %u; the final one is %u", q->iter,
				a->iter);
		goto out;
	}
	if ((ret = img_dir(a, dir, sizeof(dir))) < 0)
		goto out;
	if (q->manage_cgroups && criu_cg_mode_parse(q->manage_cgroups, &o.cg_mode) < 0) {
		ret = ph_seterr(PH_EPROTO, "RestoreReq: manage_cgroups is none of ignore, none, "
					   "props, soft, full, strict");
		goto out;
	}
	if (getenv("PHAUL_FAULT_RESTORE")) {
		/* fault injection for the harness: a restore that fails for real */
		ret = ph_seterr(PH_ECRIU, "%s: restore failed (PHAUL_FAULT_RESTORE)", a->host);
		goto out;
	}
	if (q->ct)
		snprintf(a->ct, sizeof(a->ct), "%s", q->ct);
	if (q->mig_id && (ret = hold_begin(a, q->mig_id)) < 0)
		goto out;
	if ((ret = agent_hook(a, HOOK_PRE_RESTORE, NULL)) < 0) {
		ph_errctx(ret, "%s", a->host);
		goto out;
	}
	o.images_dir = dir;
	a->t_restore = now_us();
	if ((q->has_postcopy && q->postcopy) != a->postcopy) {
		ret = ph_seterr(PH_EPROTO, "RestoreReq: postcopy differs from IterStart's");
		goto out;
	}
	if (a->postcopy && (ret = postcopy_begin(a, q, dir)) < 0)
		goto out;
	o.lazy_pages = a->postcopy || lazy_begin(a, q, dir);
	rt.lazy = now_us() - a->t_restore;
	o.shell_job = q->has_shell_job && q->shell_job;
	o.tcp_established = q->has_tcp_established && q->tcp_established;
	o.file_locks = q->has_file_locks && q->file_locks;
	o.ext_unix_sk = q->has_ext_unix_sk && q->ext_unix_sk;
	/*
	 * Not one instruction of the CT runs here before the source gave it
	 * up; a type that cannot hold it (podman:) runs it from its restore
	 * on, and a session lost before Go discards it (agent_session_lost).
	 */
	o.leave_stopped = a->mig_id[0] != '\0' && agent_ct_can(a, CT_CAP_HOLD);
	if (o.leave_stopped) {
		o.rst_notify = on_rst_notify;
		o.rst_arg = a;
	}
	/*
	 * A type that restores itself (lxc:, runc:) gives the root's pid only
	 * when it returns: recorded HELD without one first, so that a restore
	 * this agent does not live to see end is found (by the CT's name) and
	 * discarded by `phaul recover`.
	 */
	own = a->mig_id[0] != '\0' && !agent_ct_can(a, CT_CAP_RST_NOTIFY);
	if (own && (ret = hold_record(a)) < 0) {
		ph_errctx(ret, "%s", a->host);
		goto out;
	}
	if (own && fault_at("agent-restoring")) {
		/* fault injection: this agent dies while liblxc or runc restore */
		pid_t me = getpid();

		if (fork() == 0) {
			sleep(1);
			kill(me, SIGKILL);
			_exit(0);
		}
	}
	rt.criu = now_us();
	o.conn = a->swrk; /* restore_ct's now */
	a->swrk = NULL;
	ret = restore_ct(a, &o, &pid);
	rt.criu = now_us() - rt.criu;
	if (ret == 0 && own) {
		a->restored_pid = pid;
		if ((ret = hold_record(a)) < 0) {
			agent_finish(a, false);
			pid = 0;
		}
	}
	if (ret == 0 && a->lazy && getenv("PHAUL_FAULT_LAZY_KILL"))
		/* fault injection: the daemon places no more pages until it is killed after Go */
		kill(criu_lazy_pid(a->lazy), SIGSTOP);
	if (ret == 0 && a->lazy && (lret = criu_lazy_wait(a->lazy, 0, NULL)) < 0 &&
	    lret != -PH_ETIMEDOUT) {
		/* still before the switch: the source resumes rather than run this */
		ret = ph_seterr(PH_ECRIU, "lazy restore: %s", ph_errmsg());
		a->restored_pid = pid;
		agent_finish(a, false);
		pid = 0;
	}
	if (ret < 0) {
		criu_lazy_close(a->lazy);
		a->lazy = NULL;
		postcopy_free(&a->pc);
		if (a->held) {
			/* recorded (pid: at post-restore), then failed: nothing runs */
			agent_record(a, DST_DISCARDED);
			a->held = false;
		}
		a->restored_pid = 0;
		ph_errctx(ret, "%s", a->host);
		goto out;
	}
	a->restored_pid = pid;
	if (q->throttle_cgroup &&
	    (ret = throttle_lift_restored(pid, q->throttle_cgroup,
					  q->has_throttle_created && q->throttle_created,
					  q->throttle_home ? q->throttle_home : "/",
					  q->throttle_orig_max ? q->throttle_orig_max : "max", note,
					  sizeof(note))) < 0) {
		/* a CT that would crawl at 1 % CPU here is not a success */
		ph_errctx(ret, "%s: lifting the auto-converge throttle", a->host);
		agent_finish(a, false);
		pid = 0;
		goto out;
	}
	if (note[0])
		pr_info("auto-converge: %s", note);
	if ((ret = agent_hook(a, HOOK_POST_RESTORE, NULL)) < 0) {
		/* The source resumes: this copy must not run on. */
		ph_errctx(ret, "%s", a->host);
		agent_finish(a, false);
		pid = 0;
		goto out;
	}
	if (a->held && fault_at("agent-ready"))
		raise(SIGKILL);
	a->state = AG_RESTORED;
	if (stats_read(dir, STATS_RESTORE, &st) < 0)
		pr_warn("no restore stats: %s", ph_errmsg());
	else if (q->has_ct_pages && q->ct_pages)
		restore_num_save(a, RESTORE_RATE_FILE, a->lazy != NULL,
				 st.restore_time_us * 1000 / q->ct_pages);
	pr_info("restored %s as pid %d", q->ct ? q->ct : "CT", (int)pid);
out:
	if (a->held && fault_at("agent-cut-ready")) {
		/* the answer is lost: the session ends, the CT stays held */
		mux_abort(a->mux, PH_EEOF, "link cut (PHAUL_FAULT_COMMIT=agent-cut-ready)");
		return -PH_EEOF;
	}
	send_restore_resp(a, ret, pid, &st, note, &rt);
	/* A failed restore is answered, not fatal: the source decides. */
	return 0;
}

static void send_lazy_done(struct agent *a, int ret, uint64_t done_us,
			   const struct criu_lazy_stats *ls)
{
	Phaul__Msg out = PHAUL__MSG__INIT;
	Phaul__LazyDone d = PHAUL__LAZY_DONE__INIT;

	d.ok = ret == 0;
	d.has_memory_complete_us = ret == 0;
	d.memory_complete_us = done_us;
	d.has_pages_total = d.has_pages_fault = d.has_pages_background = d.has_pages_missing = 1;
	d.pages_total = ls->pages_total;
	d.pages_fault = ls->pages_fault;
	d.pages_background =
		ls->pages_copied > ls->pages_fault ? ls->pages_copied - ls->pages_fault : 0;
	d.pages_missing = ret == 0 ? 0 : ls->pages_missing;
	d.msg = ret < 0 ? (char *)ph_errmsg() : "";
	d.has_err = ret < 0;
	d.err = -ret;
	out.body_case = PHAUL__MSG__BODY_LAZY_DONE;
	out.lazy_done = &d;
	if (msg_send(a->mux, &out) < 0)
		pr_warn("telling %s the lazy restore's outcome: %s", a->peer, ph_errmsg());
}

/*
 * Wait for the daemon to fill the CT's memory: the step timeout; in
 * post-copy as long as its relay runs (each of the relay's waits has that
 * deadline: a silent source fails it, and the daemon then dies), then the
 * step timeout.
 */
static int lazy_wait(struct agent *a, struct criu_lazy_stats *ls)
{
	int ret;

	while (a->postcopy && (ret = criu_lazy_wait(a->lazy, 1000, ls)) == -PH_ETIMEDOUT)
		if (postcopy_relay_ended(&a->pc))
			break;
	if (a->postcopy && ret != -PH_ETIMEDOUT)
		return ret;
	return criu_lazy_wait(a->lazy, a->cfg->timeout_s * 1000, ls);
}

/*
 * Post-copy: the daemon ended (ret: its verdict); so does the relay. The
 * relay's failure (the source died, a refused answer) is the cause of a
 * daemon that died of it.
 */
static int postcopy_settle(struct agent *a, int ret)
{
	char why[640];
	int pret;

	snprintf(why, sizeof(why), "%s", ph_errmsg());
	if (ret < 0)
		postcopy_stop(&a->pc);
	pret = postcopy_finish(&a->pc);
	if (ret < 0 && pret < 0 && pret != -PH_EINTR)
		return ph_seterr(-pret, "%s (the lazy-pages daemon then: %s)", ph_errmsg(), why);
	if (ret < 0)
		return ph_seterr(-ret, "%s", why);
	if (pret < 0)
		pr_warn("post-copy relay after every page arrived: %s", ph_errmsg());
	pr_info("post-copy: %llu pages from %s: %llu pushed in the background, %llu fetched on "
		"fault; the daemon's %llu GETs answered here",
		(unsigned long long)(a->pc.c.pages_pushed + a->pc.c.pages_fault), a->peer,
		(unsigned long long)a->pc.c.pages_pushed, (unsigned long long)a->pc.c.pages_fault,
		(unsigned long long)a->pc.c.gets);
	if (a->hybrid)
		pr_info("hybrid: %llu pages pre-copied into the flat store were answered from it",
			(unsigned long long)a->pc.loc.pages);
	return 0;
}

int agent_lazy_settle(struct agent *a)
{
	struct criu_lazy_stats ls;
	const char *ct = a->ct[0] ? a->ct : "the CT";
	uint64_t done_us;
	int ret;

	if (getenv("PHAUL_FAULT_LAZY_KILL"))
		kill(criu_lazy_pid(a->lazy), SIGKILL);
	/* the CT runs: a cut from now on waits for the source's resumed link */
	if (a->postcopy && postcopy_dst_arm(&a->pc, &a->mux, a->cfg, a->mig_id) < 0)
		pr_warn("post-copy: no recovery after a cut: %s", ph_errmsg());
	ret = lazy_wait(a, &ls);
	done_us = now_us() - a->t_restore;
	if (a->postcopy)
		ret = postcopy_settle(a, ret);
	if (ret < 0) {
		char why[768];

		/*
		 * Faults on what is missing would now be filled with zeros:
		 * a CT that runs on with holes in its memory is worse than none.
		 */
		snprintf(why, sizeof(why), "%s", ph_errmsg());
		/* recorded first: a later `phaul recover` must not read "running" */
		agent_record(a, DST_LOST);
		if (a->restored_pid > 0) {
			if (criu_tree_signal(a->restored_pid, SIGKILL) < 0)
				pr_warn("%s", ph_errmsg());
			kill(a->restored_pid, SIGKILL);
			waitpid(a->restored_pid, NULL, WNOHANG);
		}
		ret = ph_seterr(a->postcopy ? -ret : PH_ECRIU,
				"%s: %s of %s failed after the switch: %llu of %llu pages "
				"never arrived; %s (pid %d) was killed, images kept in %s: %s",
				a->host, a->postcopy ? "post-copy" : "lazy restore", ct,
				(unsigned long long)ls.pages_missing,
				(unsigned long long)ls.pages_total, ct, (int)a->restored_pid,
				a->dir, why);
		if (a->postcopy)
			pr_err("post-copy from %s: the CT %s is lost (its pages were still on the "
			       "source)",
			       a->peer, ct);
		pr_err("%s", ph_errmsg());
	} else {
		/* before the word: a source that loses it asks `phaul recover` */
		if (a->postcopy)
			agent_record(a, DST_RUNNING);
		pr_info("%s: memory complete %llu ms after the restore's start: %llu pages, %llu "
			"on "
			"fault, %llu in the background",
			ct, (unsigned long long)(done_us / 1000),
			(unsigned long long)ls.pages_total, (unsigned long long)ls.pages_fault,
			(unsigned long long)(ls.pages_copied > ls.pages_fault
						     ? ls.pages_copied - ls.pages_fault
						     : 0));
	}
	if (fault_at("agent-cut-lazy-done"))
		mux_abort(a->mux, PH_EEOF,
			  "link cut before LazyDone (PHAUL_FAULT_COMMIT=agent-cut-lazy-done)");
	send_lazy_done(a, ret, done_us, &ls);
	criu_lazy_close(a->lazy);
	a->lazy = NULL;
	if (ret == 0 && a->dir[0] && !a->cfg->keep_images && rm_tree(a->dir) == 0)
		a->dir[0] = '\0';
	return ret;
}
