// SPDX-License-Identifier: GPL-2.0
/*
 * fd backend over pipes, as `phaul agent --stdio` uses it under sshd:
 * a mux over two pipes, shutdown waking blocked readers and writers, and
 * a vanished reader reported as PH_EEOF instead of killing us with SIGPIPE.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "caps.h"
#include "err.h"
#include "transport/chan.h"
#include "transport/frame.h"
#include "transport/mux.h"

/* a reads what b writes and the other way round. */
static void pipe_pair(struct chan **a, struct chan **b)
{
	int ab[2], ba[2];

	assert_int_equal(pipe(ab), 0);
	assert_int_equal(pipe(ba), 0);
	assert_int_equal(chan_fd_open(ba[0], ab[1], "fd:a", a), 0);
	assert_int_equal(chan_fd_open(ab[0], ba[1], "fd:b", b), 0);
}

static void test_mux_over_pipes(void **state)
{
	size_t total = 4u << 20;
	uint8_t *out = malloc(total), *in = malloc(PH_FRAME_MAX);
	struct chan *a, *b;
	struct mux *ma, *mb;
	size_t off = 0;
	long n;

	for (size_t i = 0; i < total; i++)
		out[i] = (uint8_t)(i / 4096 + (i % 7));
	pipe_pair(&a, &b);
	assert_int_equal(mux_start(a, &ma), 0);
	assert_int_equal(mux_start(b, &mb), 0);
	assert_int_equal(mux_set_compress(ma, MUX_IMAGES, 3), 0);
	/* The window (8 MiB) holds it all: no second thread needed. */
	assert_int_equal(mux_send(ma, MUX_IMAGES, out, total), 0);
	assert_int_equal(mux_send_eof(ma, MUX_IMAGES), 0);
	while ((n = mux_recv(mb, MUX_IMAGES, in, PH_FRAME_MAX, 30000)) > 0) {
		assert_true(off + n <= total);
		assert_memory_equal(in, out + off, n);
		off += n;
	}
	assert_int_equal(n, 0);
	assert_int_equal(off, total);
	mux_close(ma);
	mux_close(mb);
	free(out);
	free(in);
}

struct io_job {
	struct chan *c;
	int write;
	int rc;
};

static void *io_thread(void *arg)
{
	struct io_job *j = arg;
	static uint8_t big[1 << 20];

	if (j->write) /* far more than a pipe holds */
		for (int i = 0; i < 64 && !j->rc; i++)
			j->rc = chan_write_full(j->c, big, sizeof(big));
	else
		j->rc = chan_read_full(j->c, big, 1);
	return NULL;
}

static void shutdown_wakes(int write)
{
	struct io_job j = {.write = write};
	struct chan *a, *b;
	pthread_t t;

	pipe_pair(&a, &b);
	j.c = a;
	assert_int_equal(pthread_create(&t, NULL, io_thread, &j), 0);
	usleep(50000); /* not needed for correctness: either order must wake */
	chan_shutdown(a);
	pthread_join(t, NULL);
	assert_int_equal(j.rc, -PH_EEOF);
	chan_close(a);
	chan_close(b);
}

static void test_shutdown_wakes_reader(void **state)
{
	shutdown_wakes(0);
}

static void test_shutdown_wakes_writer(void **state)
{
	shutdown_wakes(1);
}

struct send_job {
	struct mux *m;
	long rc;
	char msg[1024];
};

static void *send_thread(void *arg)
{
	struct send_job *j = arg;
	static uint8_t rec[PH_FRAME_MAX];

	j->rc = mux_send(j->m, MUX_PAGES, rec, sizeof(rec)); /* far more than a pipe holds */
	snprintf(j->msg, sizeof(j->msg), "%s", ph_errmsg());
	return NULL;
}

/*
 * A writer stuck on a peer that reads nothing is woken when the peer
 * aborts: it reports the abort (the first failure), not the shutdown that
 * woke it.
 */
static void test_woken_writer_reports_first_failure(void **state)
{
	static const char why[] = "go away";
	struct send_job j = { 0 };
	struct frame_hdr h = { FRAME_ABORT, MUX_CTL, 0, FRAME_U32_LEN + sizeof(why) - 1 };
	uint8_t abort[FRAME_HDR_LEN + FRAME_U32_LEN + sizeof(why)];
	struct chan *a, *b;
	pthread_t t;

	pipe_pair(&a, &b);
	assert_int_equal(mux_start(a, &j.m), 0);
	assert_int_equal(pthread_create(&t, NULL, send_thread, &j), 0);
	usleep(100000); /* the writer is blocked on the full pipe by now */
	assert_int_equal(frame_put_hdr(abort, &h), FRAME_HDR_LEN);
	frame_put_u32(abort + FRAME_HDR_LEN, PH_ELIMIT);
	memcpy(abort + FRAME_HDR_LEN + FRAME_U32_LEN, why, sizeof(why) - 1);
	assert_int_equal(chan_write_full(b, abort, FRAME_HDR_LEN + h.len), 0);
	pthread_join(t, NULL);
	assert_int_equal(j.rc, -PH_EPEER);
	assert_non_null(strstr(j.msg, "peer fd:a aborted: go away"));
	mux_close(j.m);
	chan_close(b);
}

static void test_closed_reader_is_eof(void **state)
{
	struct chan *a, *b;
	char buf[4];

	pipe_pair(&a, &b);
	chan_close(b);
	assert_int_equal(chan_write_full(a, "boom", 4), -PH_EEOF);
	assert_non_null(strstr(ph_errmsg(), "peer fd:a closed the connection"));
	assert_int_equal(chan_read_full(a, buf, 4), -PH_EEOF);
	chan_close(a);
}

static void test_timeout(void **state)
{
	struct chan *a, *b;
	char buf[4];

	pipe_pair(&a, &b);
	assert_int_equal(chan_set_timeout(a, 50), 0);
	assert_int_equal(chan_read_full(a, buf, 4), -PH_ETIMEDOUT);
	assert_int_equal(chan_write_full(b, "ab", 2), 0);
	chan_close(b);
	assert_int_equal(chan_set_timeout(a, -1), 0);
	assert_int_equal(chan_read_full(a, buf, 4), -PH_ETRUNC);
	assert_non_null(strstr(ph_errmsg(), "got 2 of 4 bytes"));
	chan_close(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mux_over_pipes),
	    cmocka_unit_test(test_shutdown_wakes_reader),
	    cmocka_unit_test(test_shutdown_wakes_writer),
	    cmocka_unit_test(test_woken_writer_reports_first_failure),
	    cmocka_unit_test(test_closed_reader_is_eof),
	    cmocka_unit_test(test_timeout),
	};

	alarm(300);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
