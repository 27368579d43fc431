/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tests: an in-memory record link between two relays (engine/relay.h,
 * engine/lzx.h): one queue per direction, records kept whole, a
 * zero-length record as the end marker, receive with a timeout.
 * Include after cmocka.h and caps.h.
 */
#ifndef TESTS_REC_LINK_H
#define TESTS_REC_LINK_H

#include <errno.h>
#include <stdbool.h>
#include <unistd.h>
#include <pthread.h>
#include <time.h>

struct rec {
	struct rec *next;
	size_t len; /* 0: end marker */
	uint8_t data[];
};

struct queue {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct rec *head, **tail;
};

struct end {
	struct queue *in, *out;
	uint64_t sent;
	int aborted; /* the err of the last abort, 0 */
};

static inline void q_init(struct queue *q)
{
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	q->head = NULL;
	q->tail = &q->head;
}

/* Frees the records nobody took. */
static inline void q_drain(struct queue *q)
{
	while (q->head) {
		struct rec *r = q->head;

		q->head = r->next;
		free(r);
	}
	q->tail = &q->head;
}

/* The link between two relays: se the source's end, de the destination's. */
static inline void link_init(struct queue *fwd, struct queue *back, struct end *se, struct end *de)
{
	q_init(fwd);
	q_init(back);
	*se = (struct end){ .in = back, .out = fwd };
	*de = (struct end){ .in = fwd, .out = back };
}

static inline int q_put(struct queue *q, const void *buf, size_t len)
{
	struct rec *r = malloc(sizeof(*r) + len);

	r->next = NULL;
	r->len = len;
	memcpy(r->data, buf, len);
	pthread_mutex_lock(&q->mu);
	*q->tail = r;
	q->tail = &r->next;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	return 0;
}

static inline int io_send(void *arg, const void *buf, size_t len)
{
	struct end *e = arg;

	assert_true(len > 0 && len <= PH_FRAME_MAX);
	e->sent += len;
	return q_put(e->out, buf, len);
}

static inline int io_eof(void *arg)
{
	struct end *e = arg;

	return q_put(e->out, "", 0);
}

static inline long io_recv(void *arg, void *buf, size_t cap, int timeout_ms)
{
	struct end *e = arg;
	struct queue *q = e->in;
	struct timespec dl;
	struct rec *r;
	long n;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&q->mu);
	while (!q->head) {
		if (timeout_ms < 0)
			pthread_cond_wait(&q->cv, &q->mu);
		else if (pthread_cond_timedwait(&q->cv, &q->mu, &dl) == ETIMEDOUT) {
			pthread_mutex_unlock(&q->mu);
			return -PH_ETIMEDOUT;
		}
	}
	r = q->head;
	q->head = r->next;
	if (!q->head)
		q->tail = &q->head;
	pthread_mutex_unlock(&q->mu);
	assert_true(r->len <= cap);
	memcpy(buf, r->data, r->len);
	n = (long)r->len;
	free(r);
	return n;
}

/* The fake CRIU ends: all of n bytes, or false at EOF or error. */
static inline void xwrite(int fd, const void *b, size_t n)
{
	assert_int_equal(write(fd, b, n), (ssize_t)n);
}

static inline bool read_all(int fd, void *b, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = read(fd, (uint8_t *)b + got, n - got);
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

#endif
