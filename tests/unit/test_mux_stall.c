// SPDX-License-Identifier: GPL-2.0
/*
 * A peer that stops taking data (a link down, a hung agent) must not block
 * a sender forever: with a send timeout, the credit wait gives up and the
 * whole mux fails, so every other waiter learns it too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "caps.h"
#include "err.h"
#include "transport/mux.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint8_t rec[64 * 1024];

/* Send 64 KiB records on a (send timeout 300 ms) until it fails: it must,
 * with PH_ETIMEDOUT, after 0.3 s and well before 5. */
static void send_until_timeout(struct mux *a)
{
	double t0 = now_s(), took;
	int ret = 0;

	mux_set_send_timeout(a, 300);
	for (int i = 0; i < 10000 && !ret; i++)
		ret = mux_send(a, MUX_PAGES, rec, sizeof(rec));
	took = now_s() - t0;
	assert_int_equal(ret, -PH_ETIMEDOUT);
	assert_true(took >= 0.3 && took < 5.0);
}

static void test_send_gives_up_on_a_silent_peer(void **state)
{
	struct mux *a, *b;
	struct chan *ca, *cb;
	uint8_t buf[16];
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(chan_fd_open(sv[0], sv[0], "a", &ca), 0);
	assert_int_equal(chan_fd_open(sv[1], sv[1], "b", &cb), 0);
	assert_int_equal(mux_start(ca, &a), 0);
	assert_int_equal(mux_start(cb, &b), 0);
	/* b never reads: the window fills, then no credit comes back */
	send_until_timeout(a);
	assert_non_null(strstr(ph_errmsg(), "took nothing on stream"));
	/* the failure is the mux's: the next call fails at once */
	assert_int_equal(mux_send(a, MUX_CTL, "x", 1), -PH_ETIMEDOUT);
	/* and b, whose peer hung up, is not left waiting either */
	for (;;) {
		long n = mux_recv(b, MUX_PAGES, rec, sizeof(rec), 5000);

		if (n <= 0) {
			assert_true(n < 0 && n != -PH_ETIMEDOUT);
			break;
		}
	}
	assert_true(mux_recv(b, MUX_CTL, buf, sizeof(buf), 5000) < 0);
	mux_close(a);
	mux_close(b);
}

/*
 * A dead link: the peer's kernel takes nothing, so the socket's buffer
 * fills before the credit window does. The write itself must give up.
 */
static void test_write_gives_up_on_a_dead_link(void **state)
{
	struct mux *a;
	struct chan *ca;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(chan_fd_open(sv[0], sv[0], "a", &ca), 0);
	assert_int_equal(mux_start(ca, &a), 0);
	send_until_timeout(a);
	assert_non_null(strstr(ph_errmsg(), "no progress within 300 ms"));
	mux_close(a);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_send_gives_up_on_a_silent_peer),
		cmocka_unit_test(test_write_gives_up_on_a_dead_link),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
