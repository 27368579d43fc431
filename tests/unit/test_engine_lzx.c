// SPDX-License-Identifier: GPL-2.0
/*
 * engine/lzx: the lazy-pages pull protocol (post-copy). The parser on
 * streams built as CRIU 3.17 writes them (uffd.c request_remote_pages(),
 * page-xfer.c page_server_get_pages(), disconnect_from_page_server()); the
 * relay end to end between a fake lazy-pages daemon and a fake page server;
 * and a modified peer whose bad GETs and answers must be refused before a
 * byte of them reaches the local CRIU.
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
#include "criu_pagemap.pb-c.h"
#include "engine/lzx.h"
#include "engine/psx.h"
#include "err.h"
#include "ps_stream.h"
#include "rec_link.h"
#include "lzx_fake.h"

static void set_basic(struct lzx_set *s)
{
	lzx_set_init(s, PGSZ);
	assert_int_equal(lzx_set_add(s, 5, BASE + 3 * PGSZ, 2), 0);
	assert_int_equal(lzx_set_add(s, 5, BASE, 3), 0); /* adjacent: merged */
	assert_int_equal(lzx_set_add(s, 5, BASE + 16 * PGSZ, 1), 0);
	assert_int_equal(lzx_set_add(s, 7, BASE, 64), 0);
	assert_int_equal(lzx_set_seal(s), 0);
}

static void test_set(void **state)
{
	struct lzx_set s;

	(void)state;
	set_basic(&s);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.pages, 70);
	assert_true(lzx_set_covers(&s, 5, BASE, BASE + 5 * PGSZ));
	assert_true(lzx_set_covers(&s, 5, BASE + 16 * PGSZ, BASE + 17 * PGSZ));
	assert_false(lzx_set_covers(&s, 5, BASE + 4 * PGSZ, BASE + 6 * PGSZ));
	assert_false(lzx_set_covers(&s, 5, BASE - PGSZ, BASE + PGSZ));
	assert_false(lzx_set_covers(&s, 6, BASE, BASE + PGSZ));
	assert_true(lzx_set_covers(&s, 7, BASE + 63 * PGSZ, BASE + 64 * PGSZ));
	assert_false(lzx_set_covers(&s, 8, BASE, BASE + PGSZ));
	lzx_set_free(&s);

	lzx_set_init(&s, PGSZ);
	assert_int_equal(lzx_set_add(&s, 5, BASE, 3), 0);
	assert_int_equal(lzx_set_add(&s, 5, BASE + PGSZ, 1), 0);
	assert_int_equal(lzx_set_seal(&s), -PH_EPROTO);
	assert_int_equal(lzx_set_add(&s, 5, BASE + 1, 1), -PH_EPROTO);
	assert_int_equal(lzx_set_add(&s, 5, BASE, 0), -PH_EPROTO);
	lzx_set_free(&s);
}

static void pm_put(struct stream *st, const ProtobufCMessage *m)
{
	uint8_t buf[64];
	uint32_t n = (uint32_t)protobuf_c_message_pack(m, buf);

	put(st, &n, 4);
	put(st, buf, n);
}

/* A pagemap image as CRIU 3.17 writes one for a --lazy-pages dump. */
static void test_pagemap(void **state)
{
	uint32_t magic[2] = { 0x54564319, 0x56084025 };
	Criupm__PagemapHead h = CRIUPM__PAGEMAP_HEAD__INIT;
	Criupm__PagemapEntry lazy = CRIUPM__PAGEMAP_ENTRY__INIT, pres = lazy;
	struct stream st = { 0 };
	struct lzx_set s;

	(void)state;
	put(&st, magic, 8);
	pm_put(&st, &h.base);
	lazy.vaddr = BASE;
	lazy.nr_pages = 10;
	lazy.has_flags = 1;
	lazy.flags = PSX_PE_LAZY;
	pm_put(&st, &lazy.base);
	pres.vaddr = BASE + 10 * PGSZ; /* the stack: in pages-*.img, not lazy */
	pres.nr_pages = 2;
	pres.has_flags = 1;
	pres.flags = PSX_PE_PRESENT;
	pm_put(&st, &pres.base);
	lzx_set_init(&s, PGSZ);
	assert_int_equal(lzx_set_load_pagemap(&s, 42, st.buf, st.len), 0);
	assert_int_equal(lzx_set_seal(&s), 0);
	assert_int_equal(s.pages, 10);
	assert_true(lzx_set_covers(&s, 42, BASE, BASE + 10 * PGSZ));
	assert_false(lzx_set_covers(&s, 42, BASE + 10 * PGSZ, BASE + 11 * PGSZ));
	/* cut inside the last entry, bad magic */
	assert_int_equal(lzx_set_load_pagemap(&s, 42, st.buf, st.len - 1), -PH_ETRUNC);
	st.buf[0] ^= 1;
	assert_int_equal(lzx_set_load_pagemap(&s, 42, st.buf, st.len), -PH_EPROTO);
	lzx_set_free(&s);
	free(st.buf);
}

static void pages(struct stream *s, uint32_t n, uint8_t fill)
{
	uint8_t pg[PGSZ];

	memset(pg, fill, sizeof(pg));
	while (n--)
		put(s, pg, sizeof(pg));
}

/* Two GETs in flight, one answered short, then the close: byte by byte too. */
static void test_parser_good(void **state)
{
	struct stream q = { 0 }, a = { 0 };
	int32_t zero = 0;
	struct lzx_parser p;
	struct lzx_set s;

	(void)state;
	set_basic(&s);
	hdr(&q, PS_IOV_GET, 1, BASE + 2 * PGSZ, 5); /* a fault */
	hdr(&q, PS_IOV_GET, 64, BASE, 7);	    /* background */
	hdr(&q, PS_IOV_FORCE_CLOSE, 0, 0, 0);
	hdr(&a, ANS_CMD, 1, BASE + 2 * PGSZ, 5);
	pages(&a, 1, 1);
	hdr(&a, ANS_CMD, 16, BASE, 7); /* the page server's pipe held only 16 */
	pages(&a, 16, 2);
	put(&a, &zero, 4);

	lzx_init(&p, PGSZ, &s);
	assert_int_equal(lzx_req_feed(&p, q.buf, q.len), LZX_END);
	assert_int_equal(lzx_owed(&p), 3);
	assert_int_equal(lzx_ans_feed(&p, a.buf, a.len), LZX_END);
	assert_int_equal(lzx_owed(&p), 0);
	assert_int_equal(lzx_counts(&p)->gets, 2);
	assert_int_equal(lzx_counts(&p)->pages_asked, 65);
	assert_int_equal(lzx_counts(&p)->pages_served, 17);

	lzx_init(&p, PGSZ, &s);
	for (size_t i = 0; i < q.len; i++)
		assert_int_equal(lzx_req_feed(&p, q.buf + i, 1), i + 1 == q.len ? LZX_END : 0);
	for (size_t i = 0; i < a.len; i++)
		assert_int_equal(lzx_ans_feed(&p, a.buf + i, 1), i + 1 == a.len ? LZX_END : 0);
	lzx_set_free(&s);
	free(q.buf);
	free(a.buf);
}

static int req_one(const struct lzx_set *s, uint32_t cmd, uint32_t nr, uint64_t va, uint64_t id)
{
	struct stream q = { 0 };
	struct lzx_parser p;
	int r;

	lzx_init(&p, PGSZ, s);
	hdr(&q, cmd, nr, va, id);
	r = lzx_req_feed(&p, q.buf, q.len);
	free(q.buf);
	return r;
}

static void test_get_refused(void **state)
{
	struct stream q = { 0 };
	struct lzx_parser p;
	struct lzx_set s;

	(void)state;
	set_basic(&s);
	/* pages the source never announced as lazy: a neighbour, an unknown pid */
	assert_int_equal(req_one(&s, PS_IOV_GET, 1, BASE + 5 * PGSZ, 5), -PH_EPROTO);
	assert_non_null(strstr(ph_errmsg(), "did not leave lazy"));
	assert_int_equal(req_one(&s, PS_IOV_GET, 2, BASE + 4 * PGSZ, 5), -PH_EPROTO);
	assert_int_equal(req_one(&s, PS_IOV_GET, 1, BASE, 6), -PH_EPROTO);
	assert_int_equal(req_one(&s, PS_IOV_GET, 1, BASE, 0), -PH_EPROTO);
	/* form: alignment, count, cap, command */
	assert_int_equal(req_one(&s, PS_IOV_GET, 1, BASE + 1, 5), -PH_EPROTO);
	assert_int_equal(req_one(&s, PS_IOV_GET, 0, BASE, 5), -PH_EPROTO);
	assert_int_equal(req_one(NULL, PS_IOV_GET, PH_PS_PAGES_MAX + 1, BASE, 5), -PH_ETOOBIG);
	assert_int_equal(req_one(&s, PS_IOV_ADD, 1, BASE, 5), -PH_EPROTO);
	assert_int_equal(req_one(&s, PS_IOV_GET | (PSX_PE_LAZY << PS_CMD_BITS), 1, BASE, 5),
			 -PH_EPROTO);
	assert_int_equal(req_one(&s, PS_IOV_CLOSE, 0, 0, 5), -PH_EPROTO);
	assert_int_equal(req_one(NULL, PS_IOV_GET, 1, BASE, 9), 0); /* no set: form only */

	/* bytes after the close; then the parser stays failed */
	lzx_init(&p, PGSZ, &s);
	hdr(&q, PS_IOV_CLOSE, 0, 0, 0);
	hdr(&q, PS_IOV_GET, 1, BASE, 5);
	assert_int_equal(lzx_req_feed(&p, q.buf, q.len), -PH_EPROTO);
	assert_int_equal(lzx_req_feed(&p, q.buf, 1), -PH_EPROTO);
	free(q.buf);

	/* more answers owed than LZX_REQS_MAX */
	q = (struct stream){ 0 };
	lzx_init(&p, PGSZ, &s);
	for (int i = 0; i <= LZX_REQS_MAX; i++)
		hdr(&q, PS_IOV_GET, 1, BASE, 7);
	assert_int_equal(lzx_req_feed(&p, q.buf, q.len), -PH_ETOOBIG);
	free(q.buf);
	lzx_set_free(&s);
}

/* After one GET of 4 pages at BASE of pid 7: feed the answer a, return the verdict. */
static int ans_one(const struct stream *a)
{
	struct stream q = { 0 };
	struct lzx_parser p;
	int r;

	lzx_init(&p, PGSZ, NULL);
	hdr(&q, PS_IOV_GET, 4, BASE, 7);
	assert_int_equal(lzx_req_feed(&p, q.buf, q.len), 0);
	r = lzx_ans_feed(&p, a->buf, a->len);
	free(q.buf);
	return r;
}

static void test_answer_refused(void **state)
{
	struct {
		uint32_t cmd, nr;
		uint64_t va, id;
		uint32_t npages;
		int want;
	} c[] = {
		{ ANS_CMD, 4, BASE, 7, 4, 0 },
		{ ANS_CMD, 4, BASE + PGSZ, 7, 4, -PH_EPROTO }, /* another vaddr */
		{ ANS_CMD, 4, BASE, 8, 4, -PH_EPROTO },	       /* another pid */
		{ ANS_CMD, 5, BASE, 7, 5, -PH_EPROTO },	       /* more than asked */
		{ ANS_CMD, 0, BASE, 7, 0, -PH_EPROTO },
		{ PS_IOV_ADD_F, 4, BASE, 7, 4, -PH_EPROTO }, /* no PE_PRESENT */
		{ PS_IOV_ADD, 4, BASE, 7, 4, -PH_EPROTO },
		{ ANS_CMD, 2, BASE, 7, 3, -PH_EPROTO }, /* a page more than announced */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct stream a = { 0 };

		hdr(&a, c[i].cmd, c[i].nr, c[i].va, c[i].id);
		pages(&a, c[i].npages, 3);
		if (ans_one(&a) != c[i].want)
			fail_msg("case %zu: %s", i, ph_errmsg());
		free(a.buf);
	}
}

static void test_close_answer(void **state)
{
	struct stream q = { 0 };
	int32_t st[2] = { 0, 0 }, bad = -1;
	struct lzx_parser p;

	(void)state;
	hdr(&q, PS_IOV_FORCE_CLOSE, 0, 0, 0);
	lzx_init(&p, PGSZ, NULL);
	assert_int_equal(lzx_ans_feed(&p, (uint8_t *)st, 4), -PH_EPROTO); /* nobody asked */
	lzx_init(&p, PGSZ, NULL);
	assert_int_equal(lzx_req_feed(&p, q.buf, q.len), LZX_END);
	assert_int_equal(lzx_ans_feed(&p, (uint8_t *)&bad, 4), -PH_EPROTO);
	lzx_init(&p, PGSZ, NULL);
	assert_int_equal(lzx_req_feed(&p, q.buf, q.len), LZX_END);
	assert_int_equal(lzx_ans_feed(&p, (uint8_t *)st, 8), -PH_EPROTO); /* 4 bytes too many */
	free(q.buf);
}

/* ---- background push ---- */

static void next_is(struct lzx_push *pu, uint64_t id, uint64_t va, uint32_t nr)
{
	uint64_t gid, gva;
	uint32_t gnr;

	assert_true(lzx_push_next(pu, &gid, &gva, &gnr));
	assert_int_equal(gid, id);
	assert_int_equal(gva, va);
	assert_int_equal(gnr, nr);
}

/* In set order, LZX_PUSH_GET pages at most per GET, never past a run. */
static void test_push_order(void **state)
{
	struct lzx_push pu;
	struct lzx_set s;
	uint64_t id, va, off;
	uint32_t nr;

	(void)state;
	set_basic(&s);
	assert_int_equal(lzx_push_init(&pu, &s), 0);
	next_is(&pu, 5, BASE, 5);
	next_is(&pu, 5, BASE + 16 * PGSZ, 1);
	next_is(&pu, 7, BASE, LZX_PUSH_GET);
	assert_false(lzx_push_next(&pu, &id, &va, &nr));
	assert_true(lzx_push_off(&pu, 7, BASE + PGSZ, &off));
	assert_int_equal(off, 7 * PGSZ); /* after pid 5's 6 pages */
	assert_false(lzx_push_off(&pu, 5, BASE + 5 * PGSZ, &off));
	assert_int_equal(lzx_push_left(&pu), 70);
	assert_int_equal(lzx_push_got(&pu, 7, BASE, 64, 64), 0);
	assert_true(lzx_push_has(&pu, 7, BASE + 10 * PGSZ, 54));
	assert_false(lzx_push_has(&pu, 5, BASE, 1));
	assert_int_equal(lzx_push_left(&pu), 6);
	lzx_push_free(&pu);
	lzx_set_free(&s);
}

/* A fault is asked at once, only what is missing, and never again by the background. */
static void test_push_fault_first(void **state)
{
	struct lzx_push pu;
	struct lzx_set s;
	uint64_t id, va;
	uint32_t nr;

	(void)state;
	set_basic(&s);
	assert_int_equal(lzx_push_init(&pu, &s), 0);
	assert_true(lzx_push_fault(&pu, 7, BASE + 10 * PGSZ, 2, &va, &nr));
	assert_int_equal(va, BASE + 10 * PGSZ);
	assert_int_equal(nr, 2);
	assert_false(lzx_push_fault(&pu, 7, BASE + 10 * PGSZ, 2, &va, &nr)); /* in flight */
	/* a wider GET: only the pages around those asked */
	assert_true(lzx_push_fault(&pu, 7, BASE + 9 * PGSZ, 4, &va, &nr));
	assert_int_equal(va, BASE + 9 * PGSZ);
	assert_int_equal(nr, 1);
	assert_true(lzx_push_fault(&pu, 7, BASE + 9 * PGSZ, 4, &va, &nr));
	assert_int_equal(va, BASE + 12 * PGSZ);
	assert_int_equal(nr, 1);
	next_is(&pu, 5, BASE, 5);
	next_is(&pu, 5, BASE + 16 * PGSZ, 1);
	next_is(&pu, 7, BASE, 9);
	next_is(&pu, 7, BASE + 13 * PGSZ, 51);
	assert_false(lzx_push_next(&pu, &id, &va, &nr));
	/* a short answer: the rest is asked again */
	assert_int_equal(lzx_push_got(&pu, 7, BASE + 13 * PGSZ, 50, 51), 0);
	next_is(&pu, 7, BASE + 63 * PGSZ, 1);
	/* counted on arrival, by what asked for them */
	assert_int_equal(lzx_push_got(&pu, 7, BASE + 9 * PGSZ, 1, 1), 0);
	assert_int_equal(lzx_push_got(&pu, 7, BASE + 10 * PGSZ, 2, 2), 0);
	assert_int_equal(lzx_push_got(&pu, 7, BASE + 63 * PGSZ, 1, 1), 0);
	assert_int_equal(pu.fault, 3);
	assert_int_equal(pu.pushed, 51);
	lzx_push_free(&pu);
	lzx_set_free(&s);
}

/* The window: background GETs wait while LZX_PUSH_WINDOW pages are in flight, faults do not. */
static void test_push_window(void **state)
{
	struct lzx_push pu;
	struct lzx_set s;
	uint64_t id, va;
	uint32_t nr, n = 0;

	(void)state;
	lzx_set_init(&s, PGSZ);
	assert_int_equal(lzx_set_add(&s, 9, BASE, 4 * LZX_PUSH_WINDOW), 0);
	assert_int_equal(lzx_set_seal(&s), 0);
	assert_int_equal(lzx_push_init(&pu, &s), 0);
	while (lzx_push_next(&pu, &id, &va, &nr))
		n += nr;
	assert_int_equal(n, LZX_PUSH_WINDOW);
	assert_true(lzx_push_fault(&pu, 9, BASE + 3 * LZX_PUSH_WINDOW * PGSZ, 1, &va, &nr));
	assert_int_equal(lzx_push_got(&pu, 9, BASE, LZX_PUSH_GET, LZX_PUSH_GET), 0);
	next_is(&pu, 9, BASE + LZX_PUSH_WINDOW * PGSZ, LZX_PUSH_GET);
	lzx_push_free(&pu);
	lzx_set_free(&s);
}

/* Pages never asked, twice, or outside the set are refused. */
static void test_push_bad_refused(void **state)
{
	struct lzx_push pu;
	struct lzx_set s;
	uint64_t va;
	uint32_t nr;

	(void)state;
	set_basic(&s);
	assert_int_equal(lzx_push_init(&pu, &s), 0);
	assert_int_equal(lzx_push_got(&pu, 7, BASE, 1, 1), -PH_EPROTO);
	assert_non_null(strstr(ph_errmsg(), "never asked"));
	assert_true(lzx_push_fault(&pu, 7, BASE, 2, &va, &nr));
	assert_int_equal(lzx_push_got(&pu, 7, BASE, 2, 2), 0);
	assert_int_equal(lzx_push_got(&pu, 7, BASE, 1, 1), -PH_EPROTO);
	assert_non_null(strstr(ph_errmsg(), "arrived twice"));
	assert_int_equal(lzx_push_got(&pu, 7, BASE + 63 * PGSZ, 2, 2), -PH_EPROTO);
	assert_non_null(strstr(ph_errmsg(), "outside the lazy set"));
	assert_int_equal(lzx_push_got(&pu, 6, BASE, 1, 1), -PH_EPROTO);
	assert_int_equal(lzx_push_left(&pu), 68);
	lzx_push_free(&pu);
	lzx_set_free(&s);
}

/* ---- the relay ---- */

#define DAEMON_PAGES 64

/* The lazy-pages daemon: GETs in 8-page chunks, two in flight, then FORCE_CLOSE. */
struct daemon {
	int fd;
	uint64_t pages_ok;
};

static void *daemon_run(void *arg)
{
	struct daemon *d = arg;
	uint8_t h[PSX_HDR_SIZE], pg[PGSZ];
	int32_t st;

	for (uint64_t va = BASE; va < BASE + DAEMON_PAGES * PGSZ; va += 16 * PGSZ) {
		put_hdr(d->fd, PS_IOV_GET, 8, va, 7);
		put_hdr(d->fd, PS_IOV_GET, 8, va + 8 * PGSZ, 7);
		for (int k = 0; k < 2; k++) {
			uint32_t nr;
			uint64_t v;

			if (!read_all(d->fd, h, sizeof(h)))
				return NULL;
			memcpy(&nr, h + 4, 4);
			memcpy(&v, h + 8, 8);
			for (uint32_t i = 0; i < nr; i++) {
				if (!read_all(d->fd, pg, sizeof(pg)))
					return NULL;
				if (pg[0] == page_fill(v + i * PGSZ, 7) && pg[PGSZ - 1] == pg[0])
					d->pages_ok++;
			}
		}
	}
	put_hdr(d->fd, PS_IOV_FORCE_CLOSE, 0, 0, 0);
	if (read_all(d->fd, &st, 4) && st == 0)
		d->pages_ok += 1000000;
	return NULL;
}

static void test_relay_end_to_end(void **state)
{
	struct rig r;
	struct lzx_io sio, dio;
	struct lzx_relay *src, *dst;
	struct lzx_counts c;
	struct lzx_set s;
	struct server sv;
	struct daemon d;
	pthread_t td, ts;

	(void)state;
	set_basic(&s);
	rig_init(&r);
	sio = end_io(&r.se);
	dio = end_io(&r.de);
	d = (struct daemon){ .fd = r.dsk[0] };
	memset(&sv, 0, sizeof(sv));
	assert_int_equal(lzx_relay_start(r.ssk[1], &s, true, &sio, 5000, &src), 0);
	assert_int_equal(lzx_relay_start(r.dsk[1], &s, false, &dio, 5000, &dst), 0);
	rig_fakes_start(&r, daemon_run, &d, &sv, &td, &ts);
	pthread_join(td, NULL);
	pthread_join(ts, NULL);
	lzx_relay_counts(src, &c);
	assert_int_equal(c.pages_served, DAEMON_PAGES);
	assert_int_equal(lzx_relay_join(src, NULL), 0);
	assert_int_equal(lzx_relay_join(dst, NULL), 0);
	assert_int_equal(d.pages_ok, 1000000 + DAEMON_PAGES);
	assert_int_equal(r.se.aborted, 0);
	assert_int_equal(r.de.aborted, 0);
	rig_free(&r);
	lzx_set_free(&s);
}

/*
 * Background push: the daemon's GETs are answered from the store, every
 * lazy page (pid 5's too, which the daemon never asks for) crosses the
 * link once, before the close. Started as lzx_relay_start() instead, only
 * the asked pages would cross.
 */
static void test_relay_push(void **state)
{
	struct rig r;
	struct lzx_io sio, dio;
	struct lzx_relay *src, *dst;
	struct lzx_counts c, dc;
	struct lzx_set s;
	struct daemon d;
	struct server sv;
	pthread_t td, ts;

	(void)state;
	set_basic(&s);
	rig_init(&r);
	sio = end_io(&r.se);
	dio = end_io(&r.de);
	d = (struct daemon){ .fd = r.dsk[0] };
	memset(&sv, 0, sizeof(sv));
	assert_int_equal(lzx_relay_start(r.ssk[1], &s, true, &sio, 5000, &src), 0);
	assert_int_equal(lzx_relay_start_push(r.dsk[1], &s, r.store, &dio, 5000, &dst), 0);
	rig_fakes_start(&r, daemon_run, &d, &sv, &td, &ts);
	pthread_join(td, NULL);
	pthread_join(ts, NULL);
	lzx_relay_counts(src, &c);
	assert_int_equal(c.pages_served, s.pages); /* all of them, pid 5's too */
	assert_int_equal(sv.dups, 0);
	assert_int_equal(lzx_relay_join(src, NULL), 0);
	assert_int_equal(lzx_relay_join(dst, &dc), 0);
	assert_int_equal(d.pages_ok, 1000000 + DAEMON_PAGES);
	assert_int_equal(dc.pages_served, DAEMON_PAGES);
	assert_int_equal(dc.pages_pushed + dc.pages_fault, s.pages);
	assert_int_equal(r.se.aborted, 0);
	assert_int_equal(r.de.aborted, 0);
	rig_free(&r);
	lzx_set_free(&s);
}

/* ---- a link that is cut and comes back (lzx_io.lost, relink) ---- */

#define CUT_GENS 4

/* One side's end of one generation of the link. */
struct cend {
	struct end e;
	struct cut *cut;
	int gen, side; /* side 0: the source's */
};

struct cut {
	pthread_mutex_t mu;
	struct queue q[CUT_GENS][2];
	struct cend ends[CUT_GENS][2];
	bool dead[CUT_GENS];
	int gen;	       /* the newest */
	unsigned at[CUT_GENS]; /* cut when the source's record number at[k] goes out (lost) */
	unsigned nsent, ncuts;
};

static void cut_gen_init(struct cut *c, int g)
{
	link_init(&c->q[g][0], &c->q[g][1], &c->ends[g][0].e, &c->ends[g][1].e);
	for (int side = 0; side < 2; side++) {
		c->ends[g][side].cut = c;
		c->ends[g][side].gen = g;
		c->ends[g][side].side = side;
	}
}

static bool cend_dead(struct cend *ce)
{
	bool d;

	pthread_mutex_lock(&ce->cut->mu);
	d = ce->cut->dead[ce->gen];
	pthread_mutex_unlock(&ce->cut->mu);
	return d;
}

static int c_send(void *arg, const void *buf, size_t len)
{
	struct cend *ce = arg;
	struct cut *c = ce->cut;

	pthread_mutex_lock(&c->mu);
	if (c->dead[ce->gen]) {
		pthread_mutex_unlock(&c->mu);
		return ph_seterr(PH_EEOF, "cut");
	}
	if (ce->side == 0 && c->ncuts < CUT_GENS - 1 && ++c->nsent == c->at[c->ncuts]) {
		/* this record and whatever is still queued either way are lost */
		c->dead[ce->gen] = true;
		c->ncuts++;
		pthread_mutex_unlock(&c->mu);
		return 0;
	}
	pthread_mutex_unlock(&c->mu);
	return io_send(&ce->e, buf, len);
}

static int c_eof(void *arg)
{
	struct cend *ce = arg;

	return cend_dead(ce) ? ph_seterr(PH_EEOF, "cut") : io_eof(&ce->e);
}

static long c_recv(void *arg, void *buf, size_t cap, int timeout_ms)
{
	struct cend *ce = arg;

	if (cend_dead(ce))
		return ph_seterr(PH_EEOF, "cut");
	return io_recv(&ce->e, buf, cap, timeout_ms > 50 ? 50 : timeout_ms);
}

static void c_abort(void *arg, int err, const char *msg)
{
	io_abort(&((struct cend *)arg)->e, err, msg);
}

static bool c_lost(void *ctx, void *link)
{
	(void)ctx;
	return cend_dead(link);
}

/* The same side's end of the next generation, made by whichever side asks first. */
static int c_relink(void *ctx, void *link, void **next)
{
	struct cut *c = ctx;
	struct cend *ce = link;

	pthread_mutex_lock(&c->mu);
	if (c->gen == ce->gen && c->gen + 1 < CUT_GENS)
		cut_gen_init(c, ++c->gen);
	*next = &c->ends[c->gen][ce->side];
	pthread_mutex_unlock(&c->mu);
	return *next == link ? ph_seterr(PH_ETIMEDOUT, "no more links") : 0;
}

/*
 * Post-copy recovery: the link is cut twice while pages flow (answers
 * lost on the way, partial ones included) and comes back each time. The
 * destination asks again for what it still owes; the source drops its
 * CRIU's answers to the old link's requests. Every page reaches the
 * daemon, each counted once (a duplicate answer would fail the
 * destination's push bookkeeping), and nothing is aborted.
 */
static void test_relay_relink(void **state)
{
	struct cut c = { .at = { 1, 3 } };
	struct lzx_io sio, dio;
	struct lzx_relay *src, *dst;
	struct lzx_counts dc;
	struct lzx_set s;
	struct daemon d;
	struct server sv;
	struct rig r; /* its link unused: the cut one instead */
	pthread_t td, ts;

	(void)state;
	set_basic(&s);
	rig_init(&r);
	pthread_mutex_init(&c.mu, NULL);
	cut_gen_init(&c, 0);
	sio = (struct lzx_io){
		c_send, c_eof, c_recv, c_abort, &c.ends[0][0], c_lost, c_relink, &c
	};
	dio = (struct lzx_io){
		c_send, c_eof, c_recv, c_abort, &c.ends[0][1], c_lost, c_relink, &c
	};
	d = (struct daemon){ .fd = r.dsk[0] };
	memset(&sv, 0, sizeof(sv));
	sv.delay_us = 20000;
	assert_int_equal(lzx_relay_start(r.ssk[1], &s, true, &sio, 5000, &src), 0);
	assert_int_equal(lzx_relay_start_push(r.dsk[1], &s, r.store, &dio, 5000, &dst), 0);
	rig_fakes_start(&r, daemon_run, &d, &sv, &td, &ts);
	pthread_join(td, NULL);
	pthread_join(ts, NULL);
	assert_int_equal(c.ncuts, 2);
	assert_int_equal(c.gen, 2);
	assert_int_equal(lzx_relay_join(src, NULL), 0);
	assert_int_equal(lzx_relay_join(dst, &dc), 0);
	assert_int_equal(d.pages_ok, 1000000 + DAEMON_PAGES);
	assert_int_equal(dc.pages_served, DAEMON_PAGES);
	assert_int_equal(dc.pages_pushed + dc.pages_fault, s.pages);
	for (int g = 0; g <= c.gen; g++)
		for (int side = 0; side < 2; side++)
			assert_int_equal(c.ends[g][side].e.aborted, 0);
	rig_free(&r);
	lzx_set_free(&s);
}

/* A page server that stops quietly when the relay ends its socket. */
static void *server_quiet_run(void *arg)
{
	int fd = *(int *)arg;
	uint8_t h[PSX_HDR_SIZE], pg[PGSZ];

	while (read_all(fd, h, sizeof(h))) {
		uint32_t nr;

		memcpy(&nr, h + 4, 4);
		memset(pg, 0, sizeof(pg));
		if (send(fd, h, sizeof(h), MSG_NOSIGNAL) != (ssize_t)sizeof(h))
			break;
		for (uint32_t i = 0; i < nr; i++)
			if (send(fd, pg, sizeof(pg), MSG_NOSIGNAL) != (ssize_t)sizeof(pg))
				return NULL;
	}
	return NULL;
}

/*
 * Without lost/relink (as before the switch) the same cut fails both
 * relays: the rollback's premise.
 */
static void test_relay_cut_final(void **state)
{
	struct cut c = { .at = { 2 } };
	struct lzx_io sio, dio;
	struct lzx_relay *src, *dst;
	struct lzx_set s;
	struct rig r; /* its link unused: the cut one instead */
	pthread_t ts;

	(void)state;
	set_basic(&s);
	rig_init(&r);
	pthread_mutex_init(&c.mu, NULL);
	cut_gen_init(&c, 0);
	sio = (struct lzx_io){ c_send, c_eof, c_recv, c_abort, &c.ends[0][0], NULL, NULL, NULL };
	dio = (struct lzx_io){ c_send, c_eof, c_recv, c_abort, &c.ends[0][1], NULL, NULL, NULL };
	assert_int_equal(lzx_relay_start(r.ssk[1], &s, true, &sio, 5000, &src), 0);
	assert_int_equal(lzx_relay_start_push(r.dsk[1], &s, r.store, &dio, 5000, &dst), 0);
	pthread_create(&ts, NULL, server_quiet_run, &r.ssk[0]);
	assert_true(lzx_relay_join(dst, NULL) < 0);
	assert_true(lzx_relay_join(src, NULL) < 0);
	pthread_join(ts, NULL);
	assert_int_equal(c.gen, 0);
	rig_free(&r);
	lzx_set_free(&s);
}

/* Whatever reaches the fake CRIU on fd until the relay shuts it down. */
static size_t drained(int fd)
{
	uint8_t b[256];
	size_t n = 0;
	ssize_t r;

	while ((r = read(fd, b, sizeof(b))) > 0)
		n += (size_t)r;
	return n;
}

/* A modified destination asks the source for pages it never announced. */
static void test_relay_bad_get(void **state)
{
	struct rig r; /* the test as the destination, on r.de */
	struct lzx_io sio;
	struct lzx_relay *src;
	struct stream q = { 0 };
	struct lzx_set s;

	(void)state;
	set_basic(&s);
	rig_init(&r);
	sio = end_io(&r.se);
	assert_int_equal(lzx_relay_start(r.ssk[1], &s, true, &sio, 5000, &src), 0);
	hdr(&q, PS_IOV_GET, 1, BASE, 7);	     /* fine */
	hdr(&q, PS_IOV_GET, 1, BASE + 64 * PGSZ, 7); /* beyond pid 7's lazy run */
	io_send(&r.de, q.buf, q.len);
	assert_int_equal(lzx_relay_join(src, NULL), -PH_EPROTO);
	assert_non_null(strstr(ph_errmsg(), "did not leave lazy"));
	assert_int_equal(r.se.aborted, PH_EPROTO);
	/*
	 * Not even the good GET of that record; one byte of a header, so that
	 * CRIU's page server fails (and resumes the tree) instead of taking
	 * the end for a success.
	 */
	assert_int_equal(drained(r.ssk[0]), 1);
	rig_free(&r);
	free(q.buf);
	lzx_set_free(&s);
}

/*
 * Stopped before the close (the rollback before the switch): CRIU's page
 * server must read a cut header, never a clean end between requests
 * (which it takes for a complete transfer, and kills the tree).
 */
static void test_relay_stop_cuts(void **state)
{
	for (int cut = 0; cut < 2; cut++) {
		struct rig r; /* the test as the destination, on r.de */
		struct lzx_io sio;
		struct lzx_relay *src;
		struct stream q = { 0 };
		uint8_t got[PSX_HDR_SIZE];

		(void)state;
		rig_init(&r);
		sio = end_io(&r.se);
		assert_int_equal(lzx_relay_start(r.ssk[1], NULL, true, &sio, 5000, &src), 0);
		hdr(&q, PS_IOV_GET, 1, BASE, 7);
		io_send(&r.de, q.buf, cut ? 12 : q.len);
		/* CRIU got the bytes before the stop */
		assert_true(read_all(r.ssk[0], got, cut ? 12 : q.len));
		lzx_relay_stop(src);
		assert_int_equal(lzx_relay_join(src, NULL), -PH_EINTR);
		assert_int_equal(drained(r.ssk[0]), cut ? 0 : 1);
		assert_int_equal(r.se.aborted, 0); /* a stop is ours: the peer is not told */
		rig_free(&r);
		free(q.buf);
	}
}

/* A modified source answers a GET with other pages, or with pages nobody asked for. */
static void test_relay_bad_answer(void **state)
{
	for (int c = 0; c < 2; c++) {
		struct rig r; /* the test as the source, on r.se */
		struct lzx_io dio;
		struct lzx_relay *dst;
		struct stream a = { 0 };
		uint8_t rec[PH_FRAME_MAX];

		(void)state;
		rig_init(&r);
		dio = end_io(&r.de);
		assert_int_equal(lzx_relay_start(r.dsk[1], NULL, false, &dio, 5000, &dst), 0);
		if (c == 0) {
			put_hdr(r.dsk[0], PS_IOV_GET, 1, BASE, 7);
			/* the GET reached the peer before its answer is made */
			assert_true(io_recv(&r.se, rec, sizeof(rec), 5000) == PSX_HDR_SIZE);
			hdr(&a, ANS_CMD, 1, BASE + PGSZ, 7);
		} else {
			hdr(&a, ANS_CMD, 1, BASE, 7);
		}
		pages(&a, 1, 9);
		io_send(&r.se, a.buf, a.len);
		assert_int_equal(lzx_relay_join(dst, NULL), -PH_EPROTO);
		assert_int_equal(r.de.aborted, PH_EPROTO);
		shutdown(r.dsk[0], SHUT_WR);
		assert_int_equal(drained(r.dsk[0]), 0);
		rig_free(&r);
		free(a.buf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set),
		cmocka_unit_test(test_pagemap),
		cmocka_unit_test(test_parser_good),
		cmocka_unit_test(test_get_refused),
		cmocka_unit_test(test_answer_refused),
		cmocka_unit_test(test_close_answer),
		cmocka_unit_test(test_push_order),
		cmocka_unit_test(test_push_fault_first),
		cmocka_unit_test(test_push_window),
		cmocka_unit_test(test_push_bad_refused),
		cmocka_unit_test(test_relay_end_to_end),
		cmocka_unit_test(test_relay_push),
		cmocka_unit_test(test_relay_relink),
		cmocka_unit_test(test_relay_cut_final),
		cmocka_unit_test(test_relay_bad_get),
		cmocka_unit_test(test_relay_bad_answer),
		cmocka_unit_test(test_relay_stop_cuts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
