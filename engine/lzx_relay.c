// SPDX-License-Identifier: GPL-2.0
/*
 * lzx relay: one post-copy session between a local CRIU socket and the
 * peer, in two threads (one per direction: requests and answers cross,
 * and the daemon does not wait for one answer before the next GET).
 * Every chunk is walked by the shared parser before a byte of it moves;
 * the first failure stops both directions and the peer (io->abort).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "caps.h"
#include "engine/lzx.h"
#include "engine/psx.h"
#include "engine/relay.h"
#include "err.h"

/* A wait is sliced so that a stop request is seen within this. */
#define LZX_SLICE_MS 200

struct lzx_relay {
	int sk;
	bool source;
	struct lzx_io io;
	int timeout_ms;
	pthread_mutex_t lock; /* p, ret, err, stop, ended */
	struct lzx_parser p;
	pthread_t t_peer, t_local;
	bool stop;
	bool poison_failed; /* the source's CRIU may take the end for a success */
	bool down;	    /* source: the link is lost; CRIU's answers are dropped (lock) */
	int ended;	    /* directions finished */
	int ret;	    /* first failure */
	char err[768];
	/* destination with background push (lzx_relay_start_push) */
	bool push;
	int store;		     /* page k of the set at k * page_size */
	struct lzx_parser ps;	     /* our GETs to the source and its answers (lock) */
	struct lzx_push pu;	     /* (lock) */
	const struct lzx_local *loc; /* hybrid: pages answered from their own files */
	struct lzx_sink sink;
	uint64_t ans_off; /* store offset of the next answer byte (lock) */
	uint64_t ans_id, ans_va;
	uint32_t ans_nr, ans_asked;
	bool close_sent;       /* (slock) */
	bool src_closed;       /* the source answered our close (lock) */
	pthread_mutex_t slock; /* sends to the peer, in the order fed to ps */
	pthread_mutex_t wlock; /* answers to the daemon, abuf */
	uint8_t *abuf;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool stopping(struct lzx_relay *r)
{
	bool s;

	pthread_mutex_lock(&r->lock);
	s = r->stop;
	pthread_mutex_unlock(&r->lock);
	return s;
}

/* The link in use (io.arg): replaced on a relink, under the lock. */
static void *link_get(struct lzx_relay *r)
{
	void *link;

	pthread_mutex_lock(&r->lock);
	link = r->io.arg;
	pthread_mutex_unlock(&r->lock);
	return link;
}

/* Did link fail in a way a new link repairs (lzx_io.lost)? Never when stopping. */
static bool link_lost(struct lzx_relay *r, void *link)
{
	return (r->source || r->push) && r->io.relink && r->io.lost && !stopping(r) &&
	       r->io.lost(r->io.ctx, link);
}

/* The first failure wins; the other direction and the peer stop. */
static void relay_failed(struct lzx_relay *r, int ret)
{
	void *link;
	bool first;

	pthread_mutex_lock(&r->lock);
	link = r->io.arg;
	first = r->ret == 0 && !r->stop;
	if (first) {
		r->ret = ret;
		snprintf(r->err, sizeof(r->err), "post-copy relay: %s", ph_errmsg());
	}
	r->stop = true;
	pthread_mutex_unlock(&r->lock);
	if (first && r->io.abort)
		r->io.abort(link, -ret, r->err);
}

/*
 * A relay that stopped before the close: end the local socket so that
 * CRIU sees a failure. The source's page server takes an EOF between
 * requests for a success (page-xfer.c page_server_serve()) and would then
 * kill the tree it holds, as after a complete transfer; an EOF inside a
 * request header is a failure, after which it resumes the tree (before
 * the switch: the rollback). So the source sends one byte of a header
 * first unless one is cut already. Only the writer thread calls this.
 */
static void poison(struct lzx_relay *r)
{
	bool cut;

	pthread_mutex_lock(&r->lock);
	cut = r->p.qhave != 0;
	pthread_mutex_unlock(&r->lock);
	if (r->source && !cut && send(r->sk, "", 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1)
		r->poison_failed = true;
	shutdown(r->sk, SHUT_RDWR);
}

/* Walk a chunk of one direction under the lock. */
static int feed(struct lzx_relay *r, bool requests, const uint8_t *buf, size_t len)
{
	int ret;

	pthread_mutex_lock(&r->lock);
	ret = requests ? lzx_req_feed(&r->p, buf, len) : lzx_ans_feed(&r->p, buf, len);
	pthread_mutex_unlock(&r->lock);
	return ret;
}

/*
 * Is the local CRIU's silence a failure now? The source's page server owes
 * answers to what was asked; the destination's daemon owes nothing while
 * it waits for our answers (for as long as a lost link takes to return).
 */
static bool silence_counts(struct lzx_relay *r)
{
	bool owed;

	pthread_mutex_lock(&r->lock);
	owed = lzx_owed(&r->p) > 0;
	pthread_mutex_unlock(&r->lock);
	return owed == r->source;
}

/* Bytes from sk, waiting in slices up to timeout_ms of silence that counts: > 0, 0 at EOF, PH_E*.
 */
static long local_read(struct lzx_relay *r, uint8_t *buf, size_t cap)
{
	uint64_t end = mono_ms() + (uint64_t)r->timeout_ms;
	struct pollfd pf = { r->sk, POLLIN, 0 };
	ssize_t n;

	for (;;) {
		if (stopping(r))
			return -PH_EINTR;
		if (!silence_counts(r))
			end = mono_ms() + (uint64_t)r->timeout_ms;
		if (r->timeout_ms >= 0 && mono_ms() >= end)
			return ph_seterr(PH_ETIMEDOUT, "nothing from the local CRIU for %d ms",
					 r->timeout_ms);
		if (poll(&pf, 1, LZX_SLICE_MS) <= 0)
			continue;
		n = recv(r->sk, buf, cap, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return ph_seterr_errno(PH_ESYS, "reading the local CRIU socket");
		return n;
	}
}

/* A record from the peer on link, waiting in slices up to timeout_ms. */
static long peer_read(struct lzx_relay *r, void *link, uint8_t *buf, size_t cap)
{
	uint64_t end = mono_ms() + (uint64_t)r->timeout_ms;
	long n;

	for (;;) {
		if (stopping(r))
			return -PH_EINTR;
		n = r->io.recv_rec(link, buf, cap, LZX_SLICE_MS);
		/* a link failed by its idle limit times out every receive too */
		if (n != -PH_ETIMEDOUT || link_lost(r, link))
			return n;
		if (r->timeout_ms >= 0 && mono_ms() >= end)
			return ph_seterr(PH_ETIMEDOUT, "nothing from the peer for %d ms",
					 r->timeout_ms);
	}
}

/* A chunk from the local CRIU (requests: its daemon's) before its close: > 0 or PH_E*. */
static long local_next(struct lzx_relay *r, uint8_t *buf, bool requests)
{
	long n = local_read(r, buf, PH_FRAME_MAX);

	if (n == 0)
		return ph_seterr(PH_ETRUNC,
				 "the local CRIU closed its socket before the close was %s",
				 requests ? "asked" : "answered");
	return n;
}

/*
 * Local CRIU -> peer: the dst's daemon's requests, or the src's answers.
 * The source walks and sends each chunk under slock, on the link it was
 * walked for: a relink (pump_peer) never falls between the two. While the
 * link is lost, its answers are walked and dropped: the destination asks
 * for them again on the next link.
 */
static int pump_local(struct lzx_relay *r, uint8_t *buf)
{
	bool requests = !r->source, drop;
	void *link;
	long n;
	int ret, sent;

	for (;;) {
		if ((n = local_next(r, buf, requests)) < 0)
			return (int)n;
		pthread_mutex_lock(&r->slock);
		pthread_mutex_lock(&r->lock);
		ret = requests ? lzx_req_feed(&r->p, buf, (size_t)n)
			       : lzx_ans_feed(&r->p, buf, (size_t)n);
		drop = r->down;
		link = r->io.arg;
		pthread_mutex_unlock(&r->lock);
		sent = 0;
		if (ret >= 0 && !drop) {
			sent = r->io.send_rec(link, buf, (size_t)n);
			if (sent == 0 && ret == LZX_END)
				sent = r->io.send_eof(link);
			if (sent < 0 && link_lost(r, link)) {
				pthread_mutex_lock(&r->lock);
				r->down = true;
				pthread_mutex_unlock(&r->lock);
				sent = 0;
			}
		}
		pthread_mutex_unlock(&r->slock);
		if (ret < 0 || sent < 0)
			return ret < 0 ? ret : sent;
		if (ret == LZX_END) {
			/*
			 * The source's CRIU answered the close. A page server
			 * that listens itself (runc's; not one on a socket
			 * handed to it) then reads until our EOF before it ends
			 * (page-xfer.c page_server_serve()): give it one.
			 */
			if (r->source)
				shutdown(r->sk, SHUT_WR);
			return 0;
		}
	}
}

/* Source: wait until CRIU answered everything asked on the lost link. */
static int drain(struct lzx_relay *r)
{
	uint64_t end = mono_ms() + (uint64_t)r->timeout_ms;
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	for (;;) {
		pthread_mutex_lock(&r->lock);
		unsigned int owed = lzx_owed(&r->p);
		pthread_mutex_unlock(&r->lock);
		if (!owed)
			return 0;
		if (stopping(r))
			return -PH_EINTR;
		if (r->timeout_ms >= 0 && mono_ms() >= end)
			return ph_seterr(
				PH_ETIMEDOUT,
				"the local CRIU did not answer %u requests of the lost link "
				"in %d ms",
				owed, r->timeout_ms);
		nanosleep(&ts, NULL);
	}
}

/*
 * Source, the link lost: drop CRIU's answers (pump_local) until it owes
 * none, then take the next link. Nothing asked on the old link is
 * answered on the new one.
 */
static int relink_source(struct lzx_relay *r, void **link)
{
	void *next;
	int ret;

	pthread_mutex_lock(&r->lock);
	r->down = true;
	pthread_mutex_unlock(&r->lock);
	if ((ret = r->io.relink(r->io.ctx, *link, &next)) < 0 || (ret = drain(r)) < 0)
		return ret;
	pthread_mutex_lock(&r->slock);
	pthread_mutex_lock(&r->lock);
	r->io.arg = next;
	r->down = false;
	pthread_mutex_unlock(&r->lock);
	pthread_mutex_unlock(&r->slock);
	*link = next;
	return 0;
}

/* Peer -> local CRIU: the src's GETs, or the answers on the dst. */
static int pump_peer(struct lzx_relay *r, uint8_t *buf)
{
	bool requests = r->source, closed = false;
	void *link = link_get(r);
	long n;
	int ret;

	for (;;) {
		n = peer_read(r, link, buf, PH_FRAME_MAX);
		if (n < 0 && r->source && link_lost(r, link)) {
			/* the close went to CRIU: nothing more is needed from the peer */
			if (closed)
				return 0;
			if ((ret = relink_source(r, &link)) < 0)
				return ret;
			continue;
		}
		if (n < 0)
			return (int)n;
		if (n == 0)
			return closed ? 0
				      : ph_seterr(PH_EPROTO,
						  "peer ended the post-copy stream "
						  "before the close was %s",
						  requests ? "asked" : "answered");
		if (closed)
			return ph_seterr(PH_EPROTO, "peer sent %ld bytes after the close", n);
		if ((ret = feed(r, requests, buf, (size_t)n)) < 0)
			return ret;
		closed = ret == LZX_END;
		if ((ret = relay_sk_write(r->sk, buf, (size_t)n, r->timeout_ms)) < 0)
			return ret;
	}
}

static void direction_done(struct lzx_relay *r, int ret)
{
	if (ret < 0) {
		relay_failed(r, ret);
		return;
	}
	pthread_mutex_lock(&r->lock);
	r->ended++;
	pthread_mutex_unlock(&r->lock);
}

/* One direction in its thread, with its own record buffer. */
static void run_direction(struct lzx_relay *r, int (*pump)(struct lzx_relay *, uint8_t *))
{
	uint8_t *buf = malloc(PH_FRAME_MAX);

	direction_done(r, buf ? pump(r, buf) : ph_seterr(PH_ENOMEM, "relay buffer"));
	free(buf);
}

/* ---- destination with background push ---- */

static int sink_answer(void *arg, uint64_t id, uint64_t vaddr, uint32_t nr, uint32_t asked)
{
	struct lzx_relay *r = arg;

	if (!lzx_push_off(&r->pu, id, vaddr, &r->ans_off))
		return ph_seterr(PH_EPROTO,
				 "pushed pages: 0x%" PRIx64 " of pid %" PRIu64
				 " outside the lazy set",
				 vaddr, id);
	r->ans_id = id;
	r->ans_va = vaddr;
	r->ans_nr = nr;
	r->ans_asked = asked;
	return 0;
}

/* Page bytes of an answer into the store; the pages count once all are in. */
static int sink_data(void *arg, const uint8_t *buf, size_t len, bool last)
{
	struct lzx_relay *r = arg;

	while (len) {
		ssize_t n = pwrite(r->store, buf, len, (off_t)r->ans_off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return ph_seterr_errno(PH_ESYS, "writing the post-copy page store");
		buf += n;
		len -= (size_t)n;
		r->ans_off += (uint64_t)n;
	}
	return last ? lzx_push_got(&r->pu, r->ans_id, r->ans_va, r->ans_nr, r->ans_asked) : 0;
}

static void hdr_put(uint8_t *b, uint32_t cmd, uint32_t nr, uint64_t vaddr, uint64_t id)
{
	memcpy(b, &cmd, 4);
	memcpy(b + 4, &nr, 4);
	memcpy(b + 8, &vaddr, 8);
	memcpy(b + 16, &id, 8);
}

#define KICK_GETS 64 /* GETs in one record to the source */

/*
 * Ask the source for what is due, in one record: the missing pages of the
 * daemon's GETs first, then background GETs while the window allows; once
 * the daemon closed and nothing is owed, the close (then EOF).
 */
static int kick(struct lzx_relay *r)
{
	uint8_t buf[KICK_GETS * PSX_HDR_SIZE];
	size_t n = 0;
	bool eof = false;
	uint64_t id, va, gva;
	uint32_t nr, cmd, gnr;
	void *link;
	int ret = 0;

	pthread_mutex_lock(&r->slock);
	pthread_mutex_lock(&r->lock);
	for (unsigned int i = 0; n < KICK_GETS && lzx_owed_req(&r->p, i, &id, &va, &nr, &cmd); i++)
		while (cmd == PS_IOV_GET && n < KICK_GETS &&
		       lzx_push_fault(&r->pu, id, va, nr, &gva, &gnr))
			hdr_put(buf + n++ * PSX_HDR_SIZE, PS_IOV_GET, gnr, gva, id);
	while (!r->p.q_closed && n < KICK_GETS && lzx_push_next(&r->pu, &id, &va, &gnr))
		hdr_put(buf + n++ * PSX_HDR_SIZE, PS_IOV_GET, gnr, va, id);
	if (!n && r->p.q_closed && !r->close_sent && !lzx_owed(&r->ps)) {
		lzx_owed_req(&r->p, lzx_owed(&r->p) - 1, &id, &va, &nr, &cmd);
		hdr_put(buf + n++ * PSX_HDR_SIZE, cmd, 0, 0, 0);
		r->close_sent = eof = true;
	}
	if (n && (ret = lzx_req_feed(&r->ps, buf, n * PSX_HDR_SIZE)) == LZX_END)
		ret = 0;
	link = r->io.arg;
	pthread_mutex_unlock(&r->lock);
	if (n && ret == 0)
		ret = r->io.send_rec(link, buf, n * PSX_HDR_SIZE);
	if (eof && ret == 0)
		ret = r->io.send_eof(link);
	/* walked into ps: asked again on the next link (relink_dest) */
	if (ret < 0 && link_lost(r, link))
		ret = 0;
	pthread_mutex_unlock(&r->slock);
	return ret;
}

/*
 * Destination, the link lost: on the next one, ask again for every answer
 * still owed (in order, a partial one whole: its pages count only once
 * complete), with a fresh parser for the new link's answers.
 */
static int relink_dest(struct lzx_relay *r, void **link)
{
	uint8_t *buf = malloc((size_t)LZX_REQS_MAX * PSX_HDR_SIZE);
	uint64_t id, va;
	uint32_t nr, cmd;
	size_t n;
	bool eof;
	void *next;
	int ret;

	if (!buf)
		return ph_seterr(PH_ENOMEM, "post-copy relink buffer");
	for (;;) {
		if ((ret = r->io.relink(r->io.ctx, *link, &next)) < 0)
			break;
		*link = next;
		pthread_mutex_lock(&r->slock);
		pthread_mutex_lock(&r->lock);
		n = 0;
		eof = false;
		while (lzx_owed_req(&r->ps, (unsigned int)n, &id, &va, &nr, &cmd)) {
			eof = cmd != PS_IOV_GET;
			hdr_put(buf + n++ * PSX_HDR_SIZE, cmd, eof ? 0 : nr, eof ? 0 : va,
				eof ? 0 : id);
		}
		lzx_init(&r->ps, r->p.page_size, r->p.set);
		lzx_set_sink(&r->ps, &r->sink);
		ret = n ? lzx_req_feed(&r->ps, buf, n * PSX_HDR_SIZE) : 0;
		if (ret == LZX_END)
			ret = 0;
		r->io.arg = next;
		pthread_mutex_unlock(&r->lock);
		if (n && ret == 0)
			ret = r->io.send_rec(next, buf, n * PSX_HDR_SIZE);
		if (eof && ret == 0)
			ret = r->io.send_eof(next);
		pthread_mutex_unlock(&r->slock);
		if (ret < 0 && link_lost(r, next))
			continue;
		break;
	}
	free(buf);
	return ret;
}

/* Our own answer bytes to the daemon: walked by its parser, then written. */
static int answer_out(struct lzx_relay *r, const uint8_t *buf, size_t len)
{
	int ret = feed(r, false, buf, len);

	if (ret < 0)
		return ret;
	return relay_sk_write(r->sk, buf, len, r->timeout_ms);
}

/*
 * Where the page bytes at vaddr va of id lie (off: their place in the
 * push store): a hybrid's local file, or the push store up to the next
 * local run. The descriptor; *at its offset, *seg bytes that follow there.
 */
static int page_src(struct lzx_relay *r, uint64_t id, uint64_t va, uint64_t off, uint64_t *at,
		    uint64_t *seg)
{
	size_t ps = r->p.page_size;
	uint64_t np = UINT64_MAX;
	int fd;

	if (r->loc && lzx_local_find(r->loc, id, va - va % ps, &fd, at, &np)) {
		*at += va % ps;
		*seg = np * ps - va % ps;
		return fd;
	}
	*at = off;
	*seg = np == UINT64_MAX ? UINT64_MAX : np * ps - va % ps;
	return r->store;
}

/* Answer the daemon's GETs, in order, while their pages are in the store. */
static int serve(struct lzx_relay *r)
{
	size_t ps = r->p.page_size;
	uint64_t id, va, off;
	uint32_t nr, cmd;
	int ret = 0;

	pthread_mutex_lock(&r->wlock);
	for (;;) {
		uint8_t h[PSX_HDR_SIZE];
		uint64_t left;
		bool ready;

		pthread_mutex_lock(&r->lock);
		ready = lzx_owed_req(&r->p, 0, &id, &va, &nr, &cmd) &&
			(cmd == PS_IOV_GET ? lzx_push_has(&r->pu, id, va, nr) &&
						     lzx_push_off(&r->pu, id, va, &off)
					   : r->src_closed);
		pthread_mutex_unlock(&r->lock);
		if (!ready)
			break;
		if (cmd != PS_IOV_GET) {
			int32_t st = 0;

			ret = answer_out(r, (const uint8_t *)&st, sizeof(st));
			break;
		}
		hdr_put(h, (PSX_PE_PRESENT << PS_CMD_BITS) | PS_IOV_ADD_F, nr, va, id);
		if ((ret = answer_out(r, h, sizeof(h))) < 0)
			break;
		for (left = (uint64_t)nr * ps; left && ret >= 0;) {
			size_t want = left < PH_FRAME_MAX ? (size_t)left : PH_FRAME_MAX;
			uint64_t at, seg;
			int fd = page_src(r, id, va, off, &at, &seg);
			ssize_t n;

			if (want > seg)
				want = (size_t)seg;
			n = pread(fd, r->abuf, want, (off_t)at);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				ret = ph_seterr_errno(PH_ESYS, "reading the post-copy page store");
				break;
			}
			ret = answer_out(r, r->abuf, (size_t)n);
			va += (uint64_t)n;
			off += (uint64_t)n;
			left -= (uint64_t)n;
		}
		if (ret < 0)
			break;
	}
	pthread_mutex_unlock(&r->wlock);
	return ret < 0 ? ret : 0;
}

/* The daemon's requests: walked, then answered from the store or fetched. */
static int pump_daemon(struct lzx_relay *r, uint8_t *buf)
{
	long n;
	int ret, end;

	for (;;) {
		if ((n = local_next(r, buf, true)) < 0)
			return (int)n;
		if ((end = feed(r, true, buf, (size_t)n)) < 0)
			return end;
		if ((ret = kick(r)) < 0 || (ret = serve(r)) < 0)
			return ret;
		if (end == LZX_END)
			return 0;
	}
}

/* The source's answers: into the store, then due answers out and more GETs. */
static int pump_source(struct lzx_relay *r, uint8_t *buf)
{
	bool closed = false;
	void *link = link_get(r);
	long n;
	int ret;

	if ((ret = kick(r)) < 0)
		return ret;
	for (;;) {
		n = peer_read(r, link, buf, PH_FRAME_MAX);
		if (n < 0 && link_lost(r, link)) {
			if (closed)
				return 0;
			if ((ret = relink_dest(r, &link)) < 0)
				return ret;
			continue;
		}
		if (n < 0)
			return (int)n;
		if (n == 0)
			return closed ? 0
				      : ph_seterr(PH_EPROTO, "peer ended the post-copy stream "
							     "before the close was answered");
		if (closed)
			return ph_seterr(PH_EPROTO, "peer sent %ld bytes after the close", n);
		pthread_mutex_lock(&r->lock);
		ret = lzx_ans_feed(&r->ps, buf, (size_t)n);
		closed = r->src_closed = ret == LZX_END;
		pthread_mutex_unlock(&r->lock);
		if (ret < 0)
			return ret;
		if ((ret = kick(r)) < 0 || (ret = serve(r)) < 0)
			return ret;
	}
}

static void *thread_peer(void *arg)
{
	struct lzx_relay *r = arg;

	run_direction(r, r->push ? pump_source : pump_peer);
	if (stopping(r))
		poison(r);
	return NULL;
}

static void *thread_local(void *arg)
{
	struct lzx_relay *r = arg;

	run_direction(r, r->push ? pump_daemon : pump_local);
	return NULL;
}

static void relay_free(struct lzx_relay *r)
{
	pthread_mutex_destroy(&r->lock);
	pthread_mutex_destroy(&r->slock);
	pthread_mutex_destroy(&r->wlock);
	lzx_push_free(&r->pu);
	free(r->abuf);
	free(r);
}

static int relay_start(struct lzx_relay *r, const struct lzx_set *set, struct lzx_relay **out)
{
	int e;

	lzx_init(&r->p, set ? set->page_size : (size_t)sysconf(_SC_PAGESIZE), set);
	if ((e = pthread_create(&r->t_peer, NULL, thread_peer, r)) != 0) {
		relay_free(r);
		return ph_seterr(PH_ESYS, "post-copy relay thread: %s", strerror(e));
	}
	if ((e = pthread_create(&r->t_local, NULL, thread_local, r)) != 0) {
		relay_failed(r, ph_seterr(PH_ESYS, "post-copy relay thread: %s", strerror(e)));
		pthread_join(r->t_peer, NULL);
		relay_free(r);
		return -PH_ESYS;
	}
	*out = r;
	return 0;
}

static struct lzx_relay *relay_new(int sk, bool source, const struct lzx_io *io, int timeout_ms)
{
	struct lzx_relay *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->sk = sk;
	r->source = source;
	r->io = *io;
	r->timeout_ms = timeout_ms;
	r->store = -1;
	pthread_mutex_init(&r->lock, NULL);
	pthread_mutex_init(&r->slock, NULL);
	pthread_mutex_init(&r->wlock, NULL);
	return r;
}

int lzx_relay_start(int sk, const struct lzx_set *set, bool source, const struct lzx_io *io,
		    int timeout_ms, struct lzx_relay **out)
{
	struct lzx_relay *r;

	*out = NULL;
	r = relay_new(sk, source, io, timeout_ms);
	if (!r)
		return ph_seterr(PH_ENOMEM, "post-copy relay");
	return relay_start(r, set, out);
}

int lzx_relay_start_hybrid(int sk, const struct lzx_set *full, const struct lzx_set *src,
			   const struct lzx_local *loc, int store_fd, const struct lzx_io *io,
			   int timeout_ms, struct lzx_relay **out)
{
	struct lzx_relay *r;
	int ret;

	*out = NULL;
	r = relay_new(sk, false, io, timeout_ms);
	if (!r)
		return ph_seterr(PH_ENOMEM, "post-copy relay");
	r->push = true;
	r->store = store_fd;
	r->loc = loc;
	r->abuf = malloc(PH_FRAME_MAX);
	if (!r->abuf) {
		relay_free(r);
		return ph_seterr(PH_ENOMEM, "post-copy relay buffer");
	}
	if ((ret = lzx_push_init(&r->pu, full)) < 0 ||
	    (loc && (ret = lzx_push_local(&r->pu, loc)) < 0)) {
		relay_free(r);
		return ret;
	}
	lzx_init(&r->ps, full->page_size, src);
	r->sink = (struct lzx_sink){ sink_answer, sink_data, r };
	lzx_set_sink(&r->ps, &r->sink);
	return relay_start(r, full, out);
}

int lzx_relay_start_push(int sk, const struct lzx_set *set, int store_fd, const struct lzx_io *io,
			 int timeout_ms, struct lzx_relay **out)
{
	return lzx_relay_start_hybrid(sk, set, set, NULL, store_fd, io, timeout_ms, out);
}

/* Under the lock (or after the threads). */
static void counts(struct lzx_relay *r, struct lzx_counts *c)
{
	*c = *lzx_counts(&r->p);
	if (!r->push)
		return;
	c->pages_pushed = r->pu.pushed;
	c->pages_fault = r->pu.fault;
	c->pages_local = c->pages_served > r->pu.fault ? c->pages_served - r->pu.fault : 0;
}

void lzx_relay_counts(struct lzx_relay *r, struct lzx_counts *c)
{
	pthread_mutex_lock(&r->lock);
	counts(r, c);
	pthread_mutex_unlock(&r->lock);
}

bool lzx_relay_done(struct lzx_relay *r)
{
	bool d;

	pthread_mutex_lock(&r->lock);
	d = r->ended == 2 || r->stop;
	pthread_mutex_unlock(&r->lock);
	return d;
}

void lzx_relay_stop(struct lzx_relay *r)
{
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_mutex_unlock(&r->lock);
}

int lzx_relay_join(struct lzx_relay *r, struct lzx_counts *c)
{
	int ret;

	if (!r)
		return 0;
	pthread_join(r->t_peer, NULL);
	pthread_join(r->t_local, NULL);
	if (c)
		counts(r, c);
	ret = r->ret;
	if (ret < 0)
		ph_seterr(-ret, "%s", r->err);
	else if (r->ended != 2)
		ret = ph_seterr(PH_EINTR, "post-copy relay stopped before the close");
	relay_free(r);
	return ret;
}
