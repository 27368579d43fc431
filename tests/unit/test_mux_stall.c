// SPDX-License-Identifier: GPL-2.0
/*
 * A peer that stops taking data (a link down, a hung agent) must not block
 * a sender forever: with a send timeout, the credit wait gives up and the
 * whole mux fails, so every other waiter learns it too. And a peer that
 * stops sending (after the greeting, inside a frame, inside an image) must
 * not hold a receiver forever: the idle limit ends the mux, while a live
 * but quiet peer's keepalives keep it up.
 */
#include <fcntl.h>
#include <stdio.h>
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
#include "helpers.h"
#include "images.h"
#include "transport/frame.h"
#include "transport/mux.h"
#include "mux_pair.h"

#define IDLE_MS 3000

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
	uint8_t buf[16];

	mux_pair(&a, &b);
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

/* A mux on sv[0] with the idle limit; the test plays the peer on sv[1] by hand. */
static struct mux *idle_mux(int sv[2])
{
	struct chan *c;
	struct mux *m;

	/* without an idle limit some of these waits never end: end the test instead */
	alarm(30);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(chan_fd_open(sv[0], sv[0], "stalled", &c), 0);
	assert_int_equal(mux_start(c, &m), 0);
	mux_set_idle_timeout(m, IDLE_MS);
	return m;
}

static void raw_write(int fd, uint8_t type, uint8_t s, uint32_t len, const void *p, size_t n)
{
	uint8_t b[FRAME_HDR_LEN] = { type, s, 0, 0 };

	frame_put_u32(b + 4, len);
	assert_int_equal(write(fd, b, sizeof(b)), sizeof(b));
	if (n)
		assert_int_equal(write(fd, p, n), (ssize_t)n);
}

/*
 * The wait must end by the idle limit (plus two ticks and slack), well before
 * the caller's own 20 s, with the idle limit's message.
 */
static void expect_idle_end(long r, double t0)
{
	double took = now_s() - t0;

	printf("ended after %.1f s: %s\n", took, ph_errmsg());
	assert_int_equal(r, -PH_ETIMEDOUT);
	assert_non_null(strstr(ph_errmsg(), "sent nothing for"));
	/* detection is per tick: up to two ticks late, plus slack for a loaded host */
	assert_true(took >= IDLE_MS / 1000.0 && took < IDLE_MS / 1000.0 + 3.5);
}

/* An authenticated peer that said nothing more: the next message never comes. */
static void test_idle_limit_ends_a_silent_peer(void **state)
{
	uint8_t buf[64], ping[FRAME_HDR_LEN] = { FRAME_PING };
	double t0 = now_s();
	struct mux *m;
	int sv[2];
	ssize_t n;

	m = idle_mux(sv);
	expect_idle_end(mux_recv(m, MUX_CTL, buf, sizeof(buf), 20000), t0);
	/* the stalled side's keepalives went out meanwhile: PING frames */
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	n = read(sv[1], buf, sizeof(buf));
	assert_true(n >= FRAME_HDR_LEN && n % FRAME_HDR_LEN == 0);
	assert_memory_equal(buf, ping, sizeof(ping));
	mux_close(m);
	close(sv[1]);
}

/* A frame header, a few bytes of its payload, then nothing. */
static void test_idle_limit_ends_a_stall_inside_a_frame(void **state)
{
	double t0 = now_s();
	uint8_t buf[256];
	struct mux *m;
	int sv[2];

	m = idle_mux(sv);
	raw_write(sv[1], FRAME_DATA, MUX_CTL, 100, "0123456789", 10);
	expect_idle_end(mux_recv(m, MUX_CTL, buf, sizeof(buf), 20000), t0);
	mux_close(m);
	close(sv[1]);
}

/* An image announced as 1 MiB; 1000 bytes of it arrive, then nothing. */
static void test_idle_limit_ends_a_stall_inside_an_image(void **state)
{
	char dir[] = "/tmp/phaul-stall.XXXXXX", path[64];
	Phaul__ImageFile f = PHAUL__IMAGE_FILE__INIT;
	static uint8_t data[1000];
	struct mux *m;
	double t0;
	int sv[2], dfd;
	long r;

	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	f.name = "pages-1.img";
	f.size = 1 << 20;
	m = idle_mux(sv);
	raw_write(sv[1], FRAME_DATA, MUX_IMAGES, sizeof(data), data, sizeof(data));
	t0 = now_s();
	r = images_recv(m, dfd, &f, "test");
	expect_idle_end(r, t0);
	mux_close(m);
	close(sv[1]);
	snprintf(path, sizeof(path), "%s/%s", dir, f.name);
	unlink(path);
	close(dfd);
	rmdir(dir);
}

/*
 * Two live muxes, both with the idle limit, nothing to say for longer than
 * it: the keepalives hold the session, and a record still gets through.
 */
static void test_keepalive_holds_a_quiet_session(void **state)
{
	struct mux *a, *b;
	uint8_t buf[16];

	mux_pair(&a, &b);
	mux_set_idle_timeout(a, IDLE_MS);
	mux_set_idle_timeout(b, IDLE_MS);
	assert_int_equal(mux_recv(a, MUX_CTL, buf, sizeof(buf), IDLE_MS * 2), -PH_ETIMEDOUT);
	assert_non_null(strstr(ph_errmsg(), "nothing on stream 0 within"));
	assert_int_equal(mux_send_rec(b, MUX_CTL, "still here", 10), 0);
	assert_int_equal(mux_recv(a, MUX_CTL, buf, sizeof(buf), 5000), 10);
	assert_memory_equal(buf, "still here", 10);
	mux_close(a);
	mux_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_send_gives_up_on_a_silent_peer),
		cmocka_unit_test(test_write_gives_up_on_a_dead_link),
		cmocka_unit_test(test_idle_limit_ends_a_silent_peer),
		cmocka_unit_test(test_idle_limit_ends_a_stall_inside_a_frame),
		cmocka_unit_test(test_idle_limit_ends_a_stall_inside_an_image),
		cmocka_unit_test(test_keepalive_holds_a_quiet_session),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
