// SPDX-License-Identifier: GPL-2.0
/*
 * engine/relay.c end to end without CRIU: a fake dumper (behaving like
 * CRIU 3.17's page_xfer: waits for each answer) -> relay_src_session ->
 * in-memory record link -> relay_dst_session -> a fake page server
 * (answers like page_server_serve()). Two sessions reuse one dumper
 * socket, as pre-dumps with ps.fd do.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "caps.h"
#include "err.h"
#include "engine/relay.h"
#include "ps_stream.h"
#include "rec_link.h"

/* ---- fake CRIU ends ---- */

static void xread(int fd, void *b, size_t n)
{
	assert_true(read_all(fd, b, n));
}

struct dumper {
	int fd;
	uint32_t npages;
};

/* Like page-xfer.c: PARENT, OPEN2, pages, FORCE_CLOSE; waits for each answer. */
static void *dumper(void *arg)
{
	struct dumper *d = arg;
	static uint8_t pg[PGSZ];
	int32_t i32;
	uint8_t has_parent;
	uint32_t i;

	put_hdr(d->fd, PS_IOV_PARENT, 0, 0, PID_DST(1));
	xread(d->fd, &i32, 4);
	assert_int_equal(i32, 1);
	put_hdr(d->fd, PS_IOV_OPEN2, 0, 0, PID_DST(1));
	xread(d->fd, &has_parent, 1);
	assert_int_equal(has_parent, 1);
	for (i = 0; i < d->npages; i++) {
		put_hdr(d->fd, PSX_PE_PRESENT << PS_CMD_BITS | PS_IOV_ADD_F, 1, i * PGSZ,
			PID_DST(1));
		memset(pg, (int)i, sizeof(pg));
		xwrite(d->fd, pg, sizeof(pg));
	}
	put_hdr(d->fd, PSX_PE_PARENT << PS_CMD_BITS | PS_IOV_ADD_F, 5, 1ull << 30, PID_DST(1));
	put_hdr(d->fd, PS_IOV_FORCE_CLOSE, 0, 0, 0);
	xread(d->fd, &i32, 4);
	assert_int_equal(i32, 0);
	return NULL;
}

struct pserver {
	int fd;
	uint64_t page_bytes, sum;
};

/* Like page_server_serve(): answers OPEN2/PARENT/CLOSE, ends after CLOSE. */
static void *pserver(void *arg)
{
	struct pserver *s = arg;
	uint8_t h[PSX_HDR_SIZE], pg[PGSZ], one = 1;
	uint32_t cmd, nr, i, k;
	int32_t yes = 1, zero = 0;

	for (;;) {
		xread(s->fd, h, sizeof(h));
		memcpy(&cmd, h, 4);
		memcpy(&nr, h + 4, 4);
		if ((cmd & PS_CMD_MASK) == PS_IOV_PARENT)
			xwrite(s->fd, &yes, 4);
		else if (cmd == PS_IOV_OPEN2)
			xwrite(s->fd, &one, 1);
		else if (cmd == PS_IOV_CLOSE || cmd == PS_IOV_FORCE_CLOSE) {
			xwrite(s->fd, &zero, 4);
			return NULL;
		} else if ((cmd >> PS_CMD_BITS) & PSX_PE_PRESENT) {
			for (i = 0; i < nr; i++) {
				xread(s->fd, pg, sizeof(pg));
				for (k = 0; k < PGSZ; k++)
					s->sum += pg[k];
				s->page_bytes += PGSZ;
			}
		}
	}
}

struct side {
	int sk, ret;
	struct psx_parser *p;
	struct relay_io io;
};

static void *run_src(void *arg)
{
	struct side *s = arg;

	s->ret = relay_src_session(s->sk, s->p, &s->io, 5000);
	return NULL;
}

static void *run_dst(void *arg)
{
	struct side *s = arg;

	s->ret = relay_dst_session(s->sk, s->p, &s->io, 5000);
	return NULL;
}

static void test_two_sessions(void **state)
{
	struct queue fwd, back;
	struct end se, de;
	struct psx_parser ps, pd;
	int dsk[2], it;

	link_init(&fwd, &back, &se, &de);
	/* One dumper socket for both sessions, like ps.fd across pre-dumps. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, dsk), 0);
	psx_init(&ps, PGSZ);
	psx_init(&pd, PGSZ);
	for (it = 0; it < 2; it++) {
		struct dumper d = { .fd = dsk[0], .npages = 100 + it * 50 };
		struct pserver srv = { 0 };
		struct side src = { .sk = dsk[1], .p = &ps,
				    .io = { io_send, io_eof, io_recv, &se } };
		struct side dst = { .p = &pd, .io = { io_send, io_eof, io_recv, &de } };
		pthread_t t[4];
		int psk[2], i;
		uint64_t want = 0;

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, psk), 0);
		srv.fd = psk[0];
		dst.sk = psk[1];
		pthread_create(&t[0], NULL, dumper, &d);
		pthread_create(&t[1], NULL, run_src, &src);
		pthread_create(&t[2], NULL, run_dst, &dst);
		pthread_create(&t[3], NULL, pserver, &srv);
		for (i = 0; i < 4; i++)
			pthread_join(t[i], NULL);
		if (src.ret || dst.ret)
			fail_msg("src %d dst %d: %s", src.ret, dst.ret, ph_errmsg());
		for (i = 0; i < (int)d.npages; i++)
			want += (uint64_t)(i & 0xff) * PGSZ;
		assert_int_equal(srv.page_bytes, d.npages * PGSZ);
		assert_int_equal(srv.sum, want);
		assert_int_equal(psx_total_counts(&ps)->pages, psx_total_counts(&pd)->pages);
		close(psk[0]);
		close(psk[1]);
	}
	assert_int_equal(psx_total_counts(&ps)->pages, 250);
	assert_int_equal(psx_total_counts(&pd)->pages_nodata, 10);
	close(dsk[0]);
	close(dsk[1]);
}

/* A bad header from CRIU: refused, and nothing of it reaches the peer. */
static void test_src_refuses_garbage(void **state)
{
	struct queue fwd, back;
	struct end se, peer;
	struct relay_io io = { io_send, io_eof, io_recv, &se };
	struct psx_parser p;
	int sk[2];

	link_init(&fwd, &back, &se, &peer);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sk), 0);
	put_hdr(sk[0], PS_IOV_OPEN, 0, 0, PID_DST(1));
	put_hdr(sk[0], PS_IOV_ADD, PH_PS_PAGES_MAX + 1, 0, PID_DST(1));
	psx_init(&p, PGSZ);
	assert_int_equal(relay_src_session(sk[1], &p, &io, 1000), -PH_ETOOBIG);
	assert_int_equal(se.sent, 0);
	close(sk[0]);
	close(sk[1]);
	q_drain(&fwd);
}

/* CRIU closes the socket mid-session: a truncation, not a clean end. */
static void test_src_criu_dies(void **state)
{
	struct queue fwd, back;
	struct end se, peer;
	struct relay_io io = { io_send, io_eof, io_recv, &se };
	struct psx_parser p;
	int sk[2];

	link_init(&fwd, &back, &se, &peer);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sk), 0);
	put_hdr(sk[0], PS_IOV_OPEN, 0, 0, PID_DST(1));
	put_hdr(sk[0], PS_IOV_ADD, 2, 0, PID_DST(1));
	close(sk[0]);
	psx_init(&p, PGSZ);
	assert_int_equal(relay_src_session(sk[1], &p, &io, 1000), -PH_ETRUNC);
	assert_non_null(strstr(ph_errmsg(), "page bytes missing"));
	close(sk[1]);
	q_drain(&fwd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_sessions),
		cmocka_unit_test(test_src_refuses_garbage),
		cmocka_unit_test(test_src_criu_dies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
