// SPDX-License-Identifier: GPL-2.0
/* The post-copy link and its recovery after a cut (phaul/pclink.h). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "caps.h"
#include "err.h"
#include "log.h"
#include "mrec.h"
#include "pclink.h"
#include "phaul.h"
#include "proto/msg.h"
#include "util.h"

/* A resuming session has this long to hand its token over, and the holder to answer. */
#define PCLINK_HANDOFF_MS 5000
/* Source: waits between attempts, doubling. */
#define PCLINK_BACKOFF_MIN_MS 500
#define PCLINK_BACKOFF_MAX_MS 5000
/* Source: one attempt's connect and Resume at most this long. */
#define PCLINK_ATTEMPT_MAX_S 10

struct pclink {
	pthread_mutex_t lock; /* everything below; cond: a new link, a final failure */
	pthread_cond_t cond;
	struct mux *cur;
	struct mux **slot;
	pthread_mutex_t *slot_lock;
	struct mux *old[PH_PC_RELINKS_MAX]; /* replaced links, closed by pclink_free() */
	unsigned nold;
	bool armed, src, stop, busy; /* busy: the source reconnects */
	int final;		     /* once given up: why (PH_E*, text in why) */
	char why[768];
	uint64_t down_since; /* the loss was noticed (us); 0 while the link is up */
	int bound_s;
	struct pclink_src so;
	/* destination */
	const struct phaul_config *cfg;
	char mig_id[PH_MIG_ID_MAX + 1];
	uint8_t token[PCLINK_TOKEN_LEN];
	bool has_token;
	int lfd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	pthread_t acceptor;
	bool accepting;
};

int pclink_new(struct pclink **out, struct mux **slot, pthread_mutex_t *slot_lock)
{
	struct pclink *l = calloc(1, sizeof(*l));

	*out = NULL;
	if (!l)
		return ph_seterr(PH_ENOMEM, "post-copy link");
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->cond, NULL);
	l->slot = slot;
	l->slot_lock = slot_lock;
	l->cur = *slot;
	l->lfd = -1;
	*out = l;
	return 0;
}

void pclink_set_slot(struct pclink *l, struct mux **slot, pthread_mutex_t *slot_lock)
{
	pthread_mutex_lock(&l->lock);
	l->slot = slot;
	l->slot_lock = slot_lock;
	pthread_mutex_unlock(&l->lock);
}

struct mux *pclink_mux(struct pclink *l)
{
	struct mux *m;

	pthread_mutex_lock(&l->lock);
	m = l->cur;
	pthread_mutex_unlock(&l->lock);
	return m;
}

bool pclink_reconnecting(struct pclink *l, uint64_t *since_us)
{
	bool r;

	pthread_mutex_lock(&l->lock);
	r = l->busy;
	*since_us = l->down_since;
	pthread_mutex_unlock(&l->lock);
	return r;
}

unsigned pclink_relinks(struct pclink *l)
{
	unsigned n;

	pthread_mutex_lock(&l->lock);
	n = l->nold;
	pthread_mutex_unlock(&l->lock);
	return n;
}

/* Under l->lock: give up with the current error. */
static void give_up_locked(struct pclink *l, int ret)
{
	if (l->final)
		return;
	l->final = ret < 0 ? ret : -PH_EEOF;
	snprintf(l->why, sizeof(l->why), "%s", ph_errmsg());
	pthread_cond_broadcast(&l->cond);
}

void pclink_old_sent(struct pclink *l, uint64_t *raw, uint64_t *wire)
{
	struct mux_stats tx, rx;

	*raw = *wire = 0;
	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	for (unsigned i = 0; i < l->nold; i++)
		for (int s = 0; s < MUX_NSTREAMS; s++) {
			mux_get_stats(l->old[i], s, &tx, &rx);
			*raw += tx.raw_bytes;
			*wire += tx.wire_bytes;
		}
	pthread_mutex_unlock(&l->lock);
}

/* Make m the current link; the one it replaces is ended and kept for pclink_free(). */
static int install(struct pclink *l, struct mux *m)
{
	struct mux *old;

	pthread_mutex_lock(&l->lock);
	if (l->nold == PH_PC_RELINKS_MAX || l->final || l->stop) {
		pthread_mutex_unlock(&l->lock);
		mux_close(m);
		return ph_seterr(PH_ETOOBIG, "post-copy: no more resumed links (%u taken, max %u)",
				 l->nold, PH_PC_RELINKS_MAX);
	}
	old = l->cur;
	l->old[l->nold++] = old;
	l->cur = m;
	l->down_since = 0;
	if (l->slot_lock)
		pthread_mutex_lock(l->slot_lock);
	*l->slot = m;
	if (l->slot_lock)
		pthread_mutex_unlock(l->slot_lock);
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->lock);
	/* a half-open old link: its waiters move on to the new one now */
	mux_abort(old, PH_ETIMEDOUT, "superseded by a resumed link");
	return 0;
}

/* ---- the relay's callbacks ---- */

static int io_send(void *link, const void *buf, size_t len)
{
	return mux_send_rec(link, MUX_PAGES, buf, len);
}

static int io_eof(void *link)
{
	return mux_send_eof(link, MUX_PAGES);
}

static long io_recv(void *link, void *buf, size_t cap, int timeout_ms)
{
	return mux_recv(link, MUX_PAGES, buf, cap, timeout_ms);
}

static void io_abort(void *link, int err, const char *msg)
{
	mux_abort(link, err, msg);
}

static bool io_lost(void *ctx, void *link)
{
	struct pclink *l = ctx;
	bool armed, replaced;

	pthread_mutex_lock(&l->lock);
	armed = l->armed;
	replaced = link != l->cur;
	pthread_mutex_unlock(&l->lock);
	if (!armed)
		return false;
	if (replaced)
		return true;
	/* an ABORT is a decision of either side, not a cut */
	return mux_failed(link) < 0 && !mux_aborted(link);
}

static int reconnect(struct pclink *l, const char *why);

static int io_relink(void *ctx, void *link, void **next)
{
	struct pclink *l = ctx;
	char why[512];
	int ret = 0;

	mux_failed(link);
	snprintf(why, sizeof(why), "%s", ph_errmsg());
	pthread_mutex_lock(&l->lock);
	for (;;) {
		if (l->cur != link) {
			*next = l->cur;
			break;
		}
		if (l->final) {
			ret = ph_seterr(-l->final, "%s", l->why);
			break;
		}
		if (l->stop) {
			ret = ph_seterr(PH_EINTR, "post-copy link: stopped");
			break;
		}
		if (l->src && !l->busy) {
			l->busy = true;
			l->down_since = now_us();
			pthread_mutex_unlock(&l->lock);
			ret = reconnect(l, why);
			pthread_mutex_lock(&l->lock);
			l->busy = false;
			if (ret < 0)
				give_up_locked(l, ret);
			pthread_cond_broadcast(&l->cond);
			continue;
		}
		if (!l->src && !l->down_since) {
			l->down_since = now_us();
			pr_warn("post-copy: the link to the source is lost (%s); the CT's "
				"faults wait up to %d s for it to come back (postcopy_reconnect)",
				why, l->bound_s);
		}
		if (!l->src && now_us() - l->down_since >= (uint64_t)l->bound_s * 1000000) {
			give_up_locked(l, ph_seterr(PH_ETIMEDOUT,
						    "post-copy: no link from the source for %d s "
						    "(postcopy_reconnect); lost: %s",
						    l->bound_s, why));
			continue;
		}
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&l->cond, &l->lock, &ts);
	}
	pthread_mutex_unlock(&l->lock);
	return ret;
}

void pclink_io(struct pclink *l, struct lzx_io *io)
{
	*io = (struct lzx_io){ io_send, io_eof, io_recv, io_abort, l->cur, io_lost, io_relink, l };
}

void pclink_stop(struct pclink *l, const char *msg)
{
	struct mux *m;

	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	l->stop = true;
	m = l->cur;
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->lock);
	if (msg && m)
		mux_abort(m, PH_EPEER, msg);
}

/* ---- source: reconnect ---- */

/* One attempt: a new session, Resume, ResumeResp; *out the link. */
static int try_resume(struct pclink *l, int budget_s, struct mux **out)
{
	const struct pclink_src *o = &l->so;
	struct phaul_config *c = malloc(sizeof(*c));
	Phaul__Msg msg = PHAUL__MSG__INIT, *in = NULL;
	Phaul__Resume q = PHAUL__RESUME__INIT;
	char peer[256];
	struct mux *m = NULL;
	int ret;

	*out = NULL;
	if (!c)
		return ph_seterr(PH_ENOMEM, "post-copy reconnect");
	*c = *o->cfg;
	c->timeout_s = budget_s < 1 ? 1 : budget_s;
	if (c->timeout_s > PCLINK_ATTEMPT_MAX_S)
		c->timeout_s = PCLINK_ATTEMPT_MAX_S;
	if ((ret = connect_agent_mig(c, o->host, o->mig_id, &m, peer, sizeof(peer), NULL, 0)) < 0)
		goto out;
	q.mig_id = (char *)o->mig_id;
	q.token.data = (uint8_t *)o->token;
	q.token.len = PCLINK_TOKEN_LEN;
	msg.body_case = PHAUL__MSG__BODY_RESUME;
	msg.resume = &q;
	if ((ret = msg_send(m, &msg)) < 0 ||
	    (ret = msg_expect(m, PHAUL__MSG__BODY_RESUME_RESP, &in, c->timeout_s * 1000)) < 0)
		goto out;
	if (!in->resume_resp->ok) {
		int err = in->resume_resp->has_err ? in->resume_resp->err : PH_EPEER;

		ret = ph_seterr(err > 0 && err < PH_E_MAX ? err : PH_EPEER,
				"%s refused the link: %s", peer,
				in->resume_resp->msg ? in->resume_resp->msg : "");
		goto out;
	}
	mux_set_send_timeout(m, o->cfg->timeout_s * 1000);
	mux_set_idle_timeout(
		m, (o->cfg->idle_timeout_s ? o->cfg->idle_timeout_s : o->cfg->timeout_s) * 1000);
	mux_set_bwlimit(m, o->cfg->bwlimit);
	if (o->compress && (ret = mux_set_compress(m, MUX_PAGES, o->cfg->compress_level)) < 0)
		goto out;
	*out = m;
	m = NULL;
out:
	msg_free(in);
	mux_close(m);
	free(c);
	return ret;
}

/* Refusals that another attempt cannot change. */
static bool final_refusal(int ret)
{
	return ret == -PH_ENOENT || ret == -PH_EAUTH || ret == -PH_EHOSTKEY || ret == -PH_EPROTO;
}

static bool src_stopping(struct pclink *l)
{
	bool s;

	pthread_mutex_lock(&l->lock);
	s = l->stop;
	pthread_mutex_unlock(&l->lock);
	return s || (l->so.interrupted && *l->so.interrupted);
}

static void src_sleep_ms(struct pclink *l, int ms)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };

	for (int t = 0; t < ms && !src_stopping(l); t += 100)
		nanosleep(&ts, NULL);
}

/* Source: a link again within the bound, or why not. */
static int reconnect(struct pclink *l, const char *why)
{
	const struct pclink_src *o = &l->so;
	uint64_t t0 = now_us(), el;
	int backoff = PCLINK_BACKOFF_MIN_MS, ret = 0, n;
	struct mux *m;

	report_phase(o->rep, "post-copy", "link to %s lost (%s); the CT's faults wait", o->host,
		     why);
	if (o->event)
		o->event(o->event_arg, "reconnecting");
	for (n = 1;; n++) {
		el = now_us() - t0;
		if (src_stopping(l))
			return ph_seterr(PH_EINTR, "post-copy: reconnecting to %s stopped",
					 o->host);
		if (el >= (uint64_t)l->bound_s * 1000000)
			return ph_seterr(PH_ETIMEDOUT,
					 "post-copy: no link to %s for %d s (postcopy_reconnect); "
					 "last attempt: %s",
					 o->host, l->bound_s, ph_errmsg());
		if (n == 1)
			report_phase(o->rep, "post-copy", "link lost, reconnecting (0 s)...");
		ret = try_resume(l, l->bound_s - (int)(el / 1000000), &m);
		if (ret == 0)
			break;
		pr_warn("post-copy: reconnect %d to %s: %s", n, o->host, ph_errmsg());
		if (final_refusal(ret))
			return ph_errctx(ret, "post-copy: %s will not take the link back", o->host);
		src_sleep_ms(l, backoff);
		backoff = backoff * 2 > PCLINK_BACKOFF_MAX_MS ? PCLINK_BACKOFF_MAX_MS : backoff * 2;
	}
	if ((ret = install(l, m)) < 0)
		return ret;
	report_phase(o->rep, "post-copy",
		     "link to %s back after %.1f s (attempt %d); pages flow again", o->host,
		     (now_us() - t0) / 1e6, n);
	if (o->event)
		o->event(o->event_arg, "running");
	return 0;
}

int pclink_arm_src(struct pclink *l, const struct pclink_src *o)
{
	struct mux *m;

	pthread_mutex_lock(&l->lock);
	l->so = *o;
	l->src = true;
	l->bound_s = o->cfg->postcopy_reconnect_s;
	l->armed = l->bound_s > 0;
	m = l->cur;
	pthread_mutex_unlock(&l->lock);
	/* a cut must show as silence within the idle limit, on this side too */
	mux_set_idle_timeout(
		m, (o->cfg->idle_timeout_s ? o->cfg->idle_timeout_s : o->cfg->timeout_s) * 1000);
	return 0;
}

/* ---- destination: the holder ---- */

int pclink_token_new(struct pclink *l, uint8_t token[PCLINK_TOKEN_LEN])
{
	if (sodium_init() < 0)
		return ph_seterr(PH_ESYS, "libsodium init");
	randombytes_buf(l->token, sizeof(l->token));
	l->has_token = true;
	memcpy(token, l->token, PCLINK_TOKEN_LEN);
	return 0;
}

int pclink_check_req(const uint8_t *buf, size_t len, const uint8_t token[PCLINK_TOKEN_LEN])
{
	if (len != PCLINK_REQ_LEN || memcmp(buf, PCLINK_HELLO, PCLINK_HELLO_LEN))
		return ph_seterr(PH_EPROTO,
				 "resume request: not %zu bytes of " PCLINK_HELLO "+token",
				 (size_t)PCLINK_REQ_LEN);
	if (sodium_memcmp(buf + PCLINK_HELLO_LEN, token, PCLINK_TOKEN_LEN))
		return ph_seterr(PH_EAUTH, "resume request: the token does not match");
	return 0;
}

int pclink_resume_valid(const Phaul__Resume *q)
{
	if (!q->mig_id || !mrec_id_valid(q->mig_id))
		return ph_seterr(PH_EPROTO, "Resume of a malformed migration id");
	if (q->token.len != PCLINK_TOKEN_LEN)
		return ph_seterr(PH_EPROTO, "Resume: token of %zu bytes, want %d", q->token.len,
				 PCLINK_TOKEN_LEN);
	return 0;
}

/* work_dir/mig-in-ID.resume, which must fit a unix socket address. */
static int resume_path(const char *work_dir, const char *id, char *out, size_t len)
{
	char p[PATH_MAX];
	int ret;

	if ((ret = mrec_path(work_dir, MREC_DEST, id, p, sizeof(p))) < 0)
		return ret;
	if ((size_t)snprintf(out, len, "%s.resume", p) >= len)
		return ph_seterr(PH_ETOOBIG,
				 "post-copy: %s.resume is longer than a unix socket path (%zu)", p,
				 len - 1);
	return 0;
}

/* Is the other end of fd run by our own user? */
static int peer_is_us(int fd)
{
	struct ucred cr;
	socklen_t n = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &n) < 0)
		return ph_seterr_errno(PH_ESYS, "SO_PEERCRED");
	if (cr.uid != geteuid())
		return ph_seterr(PH_EAUTH, "resume socket: peer uid %u, not %u", (unsigned)cr.uid,
				 (unsigned)geteuid());
	return 0;
}

static int io_timeouts(int fd)
{
	struct timeval tv = { PCLINK_HANDOFF_MS / 1000, 0 };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return ph_seterr_errno(PH_ESYS, "resume socket timeouts");
	return 0;
}

/* The holder: one resuming session at fd. */
static void take_resumed(struct pclink *l, int fd)
{
	uint8_t req[PCLINK_REQ_LEN];
	struct chan *c = NULL;
	struct mux *m = NULL;
	ssize_t n;
	int ret;

	if ((ret = peer_is_us(fd)) < 0 || (ret = io_timeouts(fd)) < 0)
		goto refuse;
	n = recv(fd, req, sizeof(req), MSG_WAITALL);
	if ((ret = pclink_check_req(req, n < 0 ? 0 : (size_t)n, l->token)) < 0)
		goto refuse;
	pthread_mutex_lock(&l->lock);
	if (l->stop || l->final || l->nold == PH_PC_RELINKS_MAX)
		ret = ph_seterr(PH_ENOENT, "post-copy of migration %s is over here", l->mig_id);
	pthread_mutex_unlock(&l->lock);
	if (ret < 0)
		goto refuse;
	if (send(fd, "G", 1, MSG_NOSIGNAL) != 1) {
		ret = ph_seterr_errno(PH_ESYS, "resume socket: answering");
		goto refuse;
	}
	if ((ret = chan_fd_open(fd, fd, "tcp:resumed", &c)) < 0)
		goto out_log;
	fd = -1;
	if ((ret = mux_start(c, &m)) < 0)
		goto out_log;
	mux_set_send_timeout(m, l->cfg->timeout_s * 1000);
	mux_set_idle_timeout(
		m, (l->cfg->idle_timeout_s ? l->cfg->idle_timeout_s : l->cfg->timeout_s) * 1000);
	if ((ret = install(l, m)) < 0)
		goto out_log;
	pr_info("post-copy: migration %s resumed on a new link from the source (link %u)",
		l->mig_id, pclink_relinks(l) + 1);
	return;
refuse:
	pr_warn("post-copy: refused a resumed link for migration %s: %s", l->mig_id, ph_errmsg());
	send(fd, "N", 1, MSG_NOSIGNAL);
	close(fd);
	return;
out_log:
	pr_warn("post-copy: taking the resumed link: %s", ph_errmsg());
	if (fd >= 0)
		close(fd);
}

static void *acceptor(void *arg)
{
	struct pclink *l = arg;
	struct pollfd pf = { l->lfd, POLLIN, 0 };

	for (;;) {
		pthread_mutex_lock(&l->lock);
		bool stop = l->stop || l->final;
		pthread_mutex_unlock(&l->lock);
		if (stop)
			break;
		if (poll(&pf, 1, 200) <= 0)
			continue;
		int fd = accept4(l->lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd >= 0)
			take_resumed(l, fd);
	}
	return NULL;
}

int pclink_arm_dst(struct pclink *l, const struct phaul_config *cfg, const char *mig_id)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int e, ret;

	l->cfg = cfg;
	l->bound_s = cfg->postcopy_reconnect_s;
	snprintf(l->mig_id, sizeof(l->mig_id), "%s", mig_id);
	if (l->bound_s <= 0)
		return 0;
	if (!l->has_token || !mrec_id_valid(mig_id))
		return ph_seterr(PH_EPROTO, "post-copy recovery: no token or migration id");
	if ((ret = resume_path(cfg->work_dir, mig_id, l->path, sizeof(l->path))) < 0)
		return ret;
	memcpy(sa.sun_path, l->path, strlen(l->path));
	/* ours: the migration's record lock is held by this session */
	unlink(l->path);
	l->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (l->lfd < 0 || bind(l->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(l->path, 0600) < 0 || listen(l->lfd, 4) < 0) {
		ret = ph_seterr_errno(PH_ESYS, "post-copy recovery: listening on %s", l->path);
		goto fail;
	}
	if ((e = pthread_create(&l->acceptor, NULL, acceptor, l)) != 0) {
		ret = ph_seterr(PH_ESYS, "post-copy recovery thread: %s", strerror(e));
		goto fail;
	}
	l->accepting = true;
	pthread_mutex_lock(&l->lock);
	l->armed = true;
	pthread_mutex_unlock(&l->lock);
	return 0;
fail:
	if (l->lfd >= 0)
		close(l->lfd);
	l->lfd = -1;
	unlink(l->path);
	l->path[0] = '\0';
	return ret;
}

void pclink_free(struct pclink *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	l->stop = true;
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->lock);
	if (l->accepting)
		pthread_join(l->acceptor, NULL);
	if (l->lfd >= 0)
		close(l->lfd);
	if (l->path[0])
		unlink(l->path);
	for (unsigned i = 0; i < l->nold; i++)
		mux_close(l->old[i]);
	sodium_memzero(l->token, sizeof(l->token));
	sodium_memzero(l->so.token, sizeof(l->so.token));
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

/* ---- agent: the session a source resumes through ---- */

static void answer(struct mux *m, int ret)
{
	Phaul__Msg out = PHAUL__MSG__INIT;
	Phaul__ResumeResp r = PHAUL__RESUME_RESP__INIT;

	r.ok = ret == 0;
	r.has_err = ret < 0;
	r.err = -ret;
	r.msg = ret < 0 ? (char *)ph_errmsg() : "";
	out.body_case = PHAUL__MSG__BODY_RESUME_RESP;
	out.resume_resp = &r;
	if (msg_send(m, &out) < 0)
		pr_warn("answering Resume: %s", ph_errmsg());
}

/* Hand the token to the holder of id: its unix socket, connected, or the refusal. */
static int handoff(const struct phaul_config *cfg, const Phaul__Resume *q, const char *host,
		   int *out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint8_t req[PCLINK_REQ_LEN];
	char v = 0;
	int fd, ret;

	*out = -1;
	if ((ret = resume_path(cfg->work_dir, q->mig_id, sa.sun_path, sizeof(sa.sun_path))) < 0)
		return ret;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return ph_seterr_errno(PH_ESYS, "resume socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = ph_seterr(PH_ENOENT, "%s: no migration %s in post-copy here", host,
				q->mig_id);
		goto out;
	}
	if ((ret = peer_is_us(fd)) < 0 || (ret = io_timeouts(fd)) < 0)
		goto out;
	memcpy(req, PCLINK_HELLO, PCLINK_HELLO_LEN);
	memcpy(req + PCLINK_HELLO_LEN, q->token.data, PCLINK_TOKEN_LEN);
	if (send(fd, req, sizeof(req), MSG_NOSIGNAL) != (ssize_t)sizeof(req) ||
	    recv(fd, &v, 1, 0) != 1 || v != 'G') {
		ret = ph_seterr(PH_EAUTH, "%s: migration %s refused the resumed link (wrong token)",
				host, q->mig_id);
		goto out;
	}
	*out = fd;
	fd = -1;
out:
	sodium_memzero(req, sizeof(req));
	if (fd >= 0)
		close(fd);
	return ret;
}

struct splice {
	pthread_mutex_t lock;
	bool stop;
	struct mux *failed; /* the side that ended first */
};

struct splice_dir {
	struct splice *sp;
	struct mux *from, *to;
	int s;
	pthread_t t;
};

static bool splice_stopping(struct splice *sp)
{
	bool s;

	pthread_mutex_lock(&sp->lock);
	s = sp->stop;
	pthread_mutex_unlock(&sp->lock);
	return s;
}

static void splice_end(struct splice *sp, struct mux *failed)
{
	pthread_mutex_lock(&sp->lock);
	if (!sp->stop)
		sp->failed = failed;
	sp->stop = true;
	pthread_mutex_unlock(&sp->lock);
}

/* One stream, one way: records (and EOFs) as they come. */
static void *splice_run(void *arg)
{
	struct splice_dir *d = arg;
	uint8_t *buf = malloc(PH_FRAME_MAX);
	long n;

	while (buf && !splice_stopping(d->sp)) {
		n = mux_recv(d->from, d->s, buf, PH_FRAME_MAX, 200);
		if (n == -PH_ETIMEDOUT && !mux_failed(d->from))
			continue;
		if (n < 0) {
			splice_end(d->sp, d->from);
			break;
		}
		if ((n ? mux_send_rec(d->to, d->s, buf, (size_t)n) : mux_send_eof(d->to, d->s)) <
		    0) {
			splice_end(d->sp, d->to);
			break;
		}
	}
	if (!buf)
		splice_end(d->sp, d->from);
	free(buf);
	return NULL;
}

/*
 * Forward the control and page streams both ways until one side ends.
 * The source's ABORT reaches the holder as one (its decision); any other
 * end of the source's link only closes the holder's, which it takes for
 * a cut and waits for the next link.
 */
static void splice(struct mux *src, struct mux *holder)
{
	static const int streams[] = { MUX_CTL, MUX_PAGES };
	struct splice sp = { .stop = false };
	struct splice_dir d[4];
	int n = 0;

	pthread_mutex_init(&sp.lock, NULL);
	for (int i = 0; i < 2; i++) {
		d[n++] = (struct splice_dir){ &sp, src, holder, streams[i], 0 };
		d[n++] = (struct splice_dir){ &sp, holder, src, streams[i], 0 };
	}
	for (int i = 0; i < n; i++)
		if (pthread_create(&d[i].t, NULL, splice_run, &d[i]) != 0) {
			splice_end(&sp, src);
			n = i;
			break;
		}
	for (int i = 0; i < n; i++)
		pthread_join(d[i].t, NULL);
	if (sp.failed == src && mux_aborted(src)) {
		mux_failed(src);
		mux_abort(holder, PH_EPEER, ph_errmsg());
	}
	pthread_mutex_destroy(&sp.lock);
}

int pclink_serve_resume(struct mux *m, const struct phaul_config *cfg, const Phaul__Resume *q,
			const char *host)
{
	struct chan *c = NULL;
	struct mux *hm = NULL;
	int fd = -1, ret;

	if ((ret = pclink_resume_valid(q)) < 0 || (ret = handoff(cfg, q, host, &fd)) < 0) {
		pr_warn("Resume refused: %s", ph_errmsg());
		answer(m, ret);
		return ret;
	}
	if ((ret = chan_fd_open(fd, fd, "unix:holder", &c)) < 0 || (ret = mux_start(c, &hm)) < 0) {
		answer(m, ret);
		return ret;
	}
	answer(m, 0);
	pr_info("post-copy: migration %s resumed through this session", q->mig_id);
	splice(m, hm);
	mux_close(hm);
	pr_info("post-copy: the resumed link of migration %s ended", q->mig_id);
	return 0;
}
