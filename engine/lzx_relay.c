// SPDX-License-Identifier: GPL-2.0
/*
 * lzx relay: one post-copy session between a local CRIU socket and the
 * peer, in two threads (one per direction: requests and answers cross,
 * and the daemon does not wait for one answer before the next GET).
 * Every chunk is walked by the shared parser before a byte of it moves;
 * the first failure stops both directions and the peer (io->abort).
 */
#include <errno.h>
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
	int ended;	    /* directions finished */
	int ret;	    /* first failure */
	char err[768];
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

/* The first failure wins; the other direction and the peer stop. */
static void relay_failed(struct lzx_relay *r, int ret)
{
	bool first;

	pthread_mutex_lock(&r->lock);
	first = r->ret == 0 && !r->stop;
	if (first) {
		r->ret = ret;
		snprintf(r->err, sizeof(r->err), "post-copy relay: %s", ph_errmsg());
	}
	r->stop = true;
	pthread_mutex_unlock(&r->lock);
	if (first && r->io.abort)
		r->io.abort(r->io.arg, -ret, r->err);
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

/* Bytes from sk, waiting in slices up to timeout_ms: > 0, 0 at EOF, PH_E*. */
static long local_read(struct lzx_relay *r, uint8_t *buf, size_t cap)
{
	uint64_t end = mono_ms() + (uint64_t)r->timeout_ms;
	struct pollfd pf = { r->sk, POLLIN, 0 };
	ssize_t n;

	for (;;) {
		if (stopping(r))
			return -PH_EINTR;
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

/* A record from the peer, waiting in slices up to timeout_ms. */
static long peer_read(struct lzx_relay *r, uint8_t *buf, size_t cap)
{
	uint64_t end = mono_ms() + (uint64_t)r->timeout_ms;
	long n;

	for (;;) {
		if (stopping(r))
			return -PH_EINTR;
		n = r->io.recv_rec(r->io.arg, buf, cap, LZX_SLICE_MS);
		if (n != -PH_ETIMEDOUT)
			return n;
		if (r->timeout_ms >= 0 && mono_ms() >= end)
			return ph_seterr(PH_ETIMEDOUT, "nothing from the peer for %d ms",
					 r->timeout_ms);
	}
}

/* Local CRIU -> peer: the dst's daemon's requests, or the src's answers. */
static int pump_local(struct lzx_relay *r, uint8_t *buf)
{
	bool requests = !r->source;
	long n;
	int ret, sent;

	for (;;) {
		n = local_read(r, buf, PH_FRAME_MAX);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return ph_seterr(PH_ETRUNC,
					 "the local CRIU closed its socket before the "
					 "close was %s",
					 requests ? "asked" : "answered");
		if ((ret = feed(r, requests, buf, (size_t)n)) < 0)
			return ret;
		if ((sent = r->io.send_rec(r->io.arg, buf, (size_t)n)) < 0)
			return sent;
		if (ret == LZX_END)
			return r->io.send_eof(r->io.arg);
	}
}

/* Peer -> local CRIU: the src's GETs, or the answers on the dst. */
static int pump_peer(struct lzx_relay *r, uint8_t *buf)
{
	bool requests = r->source, closed = false;
	long n;
	int ret;

	for (;;) {
		n = peer_read(r, buf, PH_FRAME_MAX);
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

static void *thread_peer(void *arg)
{
	struct lzx_relay *r = arg;

	run_direction(r, pump_peer);
	if (stopping(r))
		poison(r);
	return NULL;
}

static void *thread_local(void *arg)
{
	run_direction(arg, pump_local);
	return NULL;
}

int lzx_relay_start(int sk, const struct lzx_set *set, bool source, const struct lzx_io *io,
		    int timeout_ms, struct lzx_relay **out)
{
	struct lzx_relay *r;
	int e;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return ph_seterr(PH_ENOMEM, "post-copy relay");
	r->sk = sk;
	r->source = source;
	r->io = *io;
	r->timeout_ms = timeout_ms;
	pthread_mutex_init(&r->lock, NULL);
	lzx_init(&r->p, set ? set->page_size : (size_t)sysconf(_SC_PAGESIZE), set);
	if ((e = pthread_create(&r->t_peer, NULL, thread_peer, r)) != 0) {
		free(r);
		return ph_seterr(PH_ESYS, "post-copy relay thread: %s", strerror(e));
	}
	if ((e = pthread_create(&r->t_local, NULL, thread_local, r)) != 0) {
		relay_failed(r, ph_seterr(PH_ESYS, "post-copy relay thread: %s", strerror(e)));
		pthread_join(r->t_peer, NULL);
		free(r);
		return -PH_ESYS;
	}
	*out = r;
	return 0;
}

void lzx_relay_counts(struct lzx_relay *r, struct lzx_counts *c)
{
	pthread_mutex_lock(&r->lock);
	*c = *lzx_counts(&r->p);
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
		*c = *lzx_counts(&r->p);
	ret = r->ret;
	if (ret < 0)
		ph_seterr(-ret, "%s", r->err);
	else if (r->ended != 2)
		ret = ph_seterr(PH_EINTR, "post-copy relay stopped before the close");
	pthread_mutex_destroy(&r->lock);
	free(r);
	return ret;
}
