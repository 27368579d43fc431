// SPDX-License-Identifier: GPL-2.0
/* engine/psx.c: CRIU page-server stream validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "caps.h"
#include "err.h"
#include "engine/psx.h"
#include "ps_stream.h"

static void pages(struct stream *s, uint32_t nr)
{
	uint8_t pg[PGSZ];
	uint32_t i;

	for (i = 0; i < nr; i++) {
		memset(pg, 0xa0 + (int)i, sizeof(pg));
		put(s, pg, sizeof(pg));
	}
}

static uint32_t addf(uint32_t flags)
{
	return flags << PS_CMD_BITS | PS_IOV_ADD_F;
}

/* One pre-dump session as CRIU 3.17 sends it: 4 pages of data, 4 without. */
static void session(struct stream *s)
{
	hdr(s, PS_IOV_PARENT, 0, 0, PID_DST(42));
	hdr(s, PS_IOV_OPEN2, 0, 0, PID_DST(42));
	hdr(s, addf(PSX_PE_PRESENT), 2, 0x400000, PID_DST(42));
	pages(s, 2);
	hdr(s, addf(PSX_PE_PARENT), 3, 0x402000, PID_DST(42));
	hdr(s, PS_IOV_HOLE, 1, 0x500000, PID_DST(42));
	hdr(s, PS_IOV_ADD, 1, 0x7fff0000, PID_DST(42));
	pages(s, 1);
	hdr(s, PS_IOV_OPEN2, 0, 0, SHM_DST(7));
	hdr(s, addf(PSX_PE_PRESENT | PSX_PE_LAZY), 1, 0, SHM_DST(7));
	pages(s, 1);
	hdr(s, PS_IOV_FORCE_CLOSE, 0, 0, 0);
}

/* Answers, in order: PARENT (int 1), OPEN2 (1), OPEN2 (0), CLOSE (int 0). */
static const uint8_t answers[] = { 1, 0, 0, 0, 1, 0, 0, 0, 0, 0 };

static void check_counts(const struct psx_parser *p)
{
	const struct psx_counts *c = psx_session_counts(p);

	assert_int_equal(c->headers, 9);
	assert_int_equal(c->pages, 4);
	assert_int_equal(c->pages_nodata, 4);
	assert_int_equal(c->payload_bytes, 4 * PGSZ);
	assert_int_equal(c->stream_bytes, 9 * PSX_HDR_SIZE + 4 * PGSZ);
	assert_int_equal(c->opens, 2);
}

static int feed_all(struct psx_parser *p, const uint8_t *b, size_t len)
{
	size_t used;
	int r = psx_feed(p, b, len, &used);

	if (r == 0 || r == PSX_SESSION_END)
		assert_int_equal(used, len);
	return r;
}

static void test_valid_session(void **state)
{
	struct stream s = { 0 };
	struct psx_parser p;

	session(&s);
	psx_init(&p, PGSZ);
	assert_int_equal(feed_all(&p, s.buf, s.len), PSX_SESSION_END);
	check_counts(&p);
	assert_int_equal(psx_reply_pending(&p), sizeof(answers));
	assert_int_equal(psx_finish(&p), -PH_ETRUNC);
	assert_int_equal(psx_reply_feed(&p, answers, sizeof(answers)), 0);
	assert_int_equal(psx_reply_pending(&p), 0);
	assert_int_equal(psx_finish(&p), 0);
	assert_int_equal(psx_next_session(&p), 0);
	assert_int_equal(psx_finish(&p), 0);
	free(s.buf);
}

/* Every split point, and answers split at every point too. */
static void test_split_every_byte(void **state)
{
	struct stream s = { 0 };
	struct psx_parser p;
	size_t cut, used;
	int r;

	session(&s);
	for (cut = 0; cut <= s.len; cut++) {
		psx_init(&p, PGSZ);
		r = psx_feed(&p, s.buf, cut, &used);
		assert_int_equal(used, cut);
		assert_int_equal(r, cut == s.len ? PSX_SESSION_END : 0);
		if (cut < s.len) {
			assert_int_equal(psx_finish(&p), cut ? -PH_ETRUNC : 0);
			assert_int_equal(feed_all(&p, s.buf + cut, s.len - cut), PSX_SESSION_END);
		}
		check_counts(&p);
		assert_int_equal(psx_reply_feed(&p, answers, cut % sizeof(answers)), 0);
		assert_int_equal(psx_reply_feed(&p, answers + cut % sizeof(answers),
						sizeof(answers) - cut % sizeof(answers)),
				 0);
		assert_int_equal(psx_next_session(&p), 0);
	}
	free(s.buf);
}

static void test_byte_at_a_time(void **state)
{
	struct stream s = { 0 };
	struct psx_parser p;
	size_t i, used;
	int r = 0;

	session(&s);
	psx_init(&p, PGSZ);
	for (i = 0; i < s.len; i++) {
		r = psx_feed(&p, s.buf + i, 1, &used);
		assert_int_equal(used, 1);
		assert_int_equal(r, i + 1 == s.len ? PSX_SESSION_END : 0);
	}
	for (i = 0; i < sizeof(answers); i++)
		assert_int_equal(psx_reply_feed(&p, answers + i, 1), 0);
	check_counts(&p);
	free(s.buf);
}

/* A ps.fd socket reused by pre-dump 1 and 2: the parser stops at each close. */
static void test_two_sessions_one_buffer(void **state)
{
	struct stream s = { 0 };
	struct psx_parser p;
	size_t used;

	session(&s);
	session(&s);
	psx_init(&p, PGSZ);
	assert_int_equal(psx_feed(&p, s.buf, s.len, &used), PSX_SESSION_END);
	assert_int_equal(used, s.len / 2);
	/* More data before the close was answered and acknowledged. */
	assert_int_equal(psx_next_session(&p), -PH_EPROTO);
	assert_int_equal(psx_reply_feed(&p, answers, sizeof(answers)), 0);
	assert_int_equal(psx_next_session(&p), 0);
	assert_int_equal(feed_all(&p, s.buf + used, s.len - used), PSX_SESSION_END);
	check_counts(&p);
	assert_int_equal(psx_total_counts(&p)->pages, 8);
	free(s.buf);
}

static void test_data_after_close(void **state)
{
	struct stream s = { 0 };
	struct psx_parser p;
	size_t used;

	session(&s);
	hdr(&s, PS_IOV_OPEN2, 0, 0, PID_DST(1));
	psx_init(&p, PGSZ);
	assert_int_equal(psx_feed(&p, s.buf, s.len, &used), PSX_SESSION_END);
	assert_int_equal(psx_feed(&p, s.buf + used, s.len - used, &used), -PH_EPROTO);
	assert_non_null(strstr(ph_errmsg(), "after CLOSE"));
	free(s.buf);
}

/* Feed one header after a valid OPEN2 of pid 42; expect err and a word. */
static void expect_bad(uint32_t cmd, uint32_t nr, uint64_t vaddr, uint64_t dst, int err,
		       const char *word)
{
	struct stream s = { 0 };
	struct psx_parser p;
	size_t used;

	hdr(&s, PS_IOV_OPEN2, 0, 0, PID_DST(42));
	hdr(&s, cmd, nr, vaddr, dst);
	pages(&s, 1);
	psx_init(&p, PGSZ);
	assert_int_equal(psx_feed(&p, s.buf, s.len, &used), err);
	/* Nothing of the bad header is reported as validated. */
	assert_int_equal(used, PSX_HDR_SIZE);
	if (!strstr(ph_errmsg(), word))
		fail_msg("message '%s' lacks '%s'", ph_errmsg(), word);
	/* Sticky: the stream is not resynchronised. */
	assert_int_equal(psx_feed(&p, s.buf, PSX_HDR_SIZE, &used), err);
	assert_int_equal(used, 0);
	assert_int_equal(psx_finish(&p), err);
	free(s.buf);
}

static void test_bad_headers(void **state)
{
	expect_bad(99, 1, 0, PID_DST(42), -PH_EPROTO, "0x00000063 unknown");
	expect_bad(0, 1, 0, PID_DST(42), -PH_EPROTO, "unknown");
	expect_bad(PS_IOV_GET, 1, 0, PID_DST(42), -PH_EPROTO, "GET");
	expect_bad(PSX_PE_PRESENT << PS_CMD_BITS | PS_IOV_ADD, 1, 0, PID_DST(42), -PH_EPROTO,
		   "flags");
	expect_bad(addf(8), 1, 0, PID_DST(42), -PH_EPROTO, "flags 0x8");
	expect_bad(addf(PSX_PE_PRESENT), PH_PS_PAGES_MAX + 1, 0, PID_DST(42), -PH_ETOOBIG,
		   "nr_pages 65537 with data, allowed 1..65536");
	expect_bad(addf(PSX_PE_PRESENT), 0xffffffffu, 0, PID_DST(42), -PH_ETOOBIG, "nr_pages");
	expect_bad(PS_IOV_HOLE, 0, 0, PID_DST(42), -PH_EPROTO, "nr_pages 0");
	expect_bad(addf(PSX_PE_PARENT), 0, 0, PID_DST(42), -PH_EPROTO, "nr_pages 0");
	expect_bad(PS_IOV_ADD, 1, 0x1001, PID_DST(42), -PH_EPROTO, "not aligned");
	expect_bad(PS_IOV_ADD, 2, UINT64_MAX - PGSZ + 1, PID_DST(42), -PH_EPROTO, "wraps");
	expect_bad(PS_IOV_ADD, 1, 0, PID_DST(43), -PH_EPROTO, "not opened");
	expect_bad(PS_IOV_OPEN2, 0, 0, (43u << 8) | 11, -PH_EPROTO, "type 11");
	expect_bad(PS_IOV_OPEN2, 1, 0, PID_DST(1), -PH_EPROTO, "nr_pages 1, expected 0");
	expect_bad(PS_IOV_PARENT, 0, 4096, PID_DST(1), -PH_EPROTO, "vaddr");
	expect_bad(PS_IOV_CLOSE, 0, 0, PID_DST(1), -PH_EPROTO, "dst_id");
}

/* One entry on an open pid pagemap; returns psx_feed()'s result. */
static int feed_one(uint32_t cmd, uint32_t nr, uint64_t vaddr, struct psx_parser *p)
{
	struct stream s = { 0 };
	size_t used;
	int r;

	hdr(&s, PS_IOV_OPEN2, 0, 0, PID_DST(42));
	hdr(&s, cmd, nr, vaddr, PID_DST(42));
	psx_init(p, PGSZ);
	r = psx_feed(p, s.buf, s.len, &used);
	free(s.buf);
	return r;
}

/*
 * Entries without data are bounded by the address space, not by count:
 * CRIU 3.17 sends one ADD_F|PE_PARENT per unchanged region (issue 16: a
 * 512 MiB idle region failed as "nr_pages 131072, allowed 1..65536").
 */
static void test_nodata_bounded_by_address_space(void **state)
{
	const uint64_t end = PH_PS_VADDR_END - PGSZ; /* TASK_SIZE_MAX, 5-level */
	const uint32_t big = 1u << 22;		     /* 16 GiB of parent pages */
	const uint64_t last = end - (uint64_t)UINT32_MAX * PGSZ;
	struct psx_parser p;

	assert_int_equal(feed_one(addf(PSX_PE_PARENT), big, 0x7f0000000000ull, &p), 0);
	assert_int_equal(psx_session_counts(&p)->pages_nodata, big);
	assert_int_equal(psx_session_counts(&p)->pages, 0);
	assert_int_equal(feed_one(addf(PSX_PE_PARENT), 131072, 0x400000, &p), 0);
	assert_int_equal(feed_one(addf(PSX_PE_PARENT | PSX_PE_LAZY), big, 0x400000, &p), 0);
	assert_int_equal(feed_one(PS_IOV_HOLE, big, 0x400000, &p), 0);
	/* The largest run there is: all of nr_pages, ending exactly at the end. */
	assert_int_equal(feed_one(addf(PSX_PE_PARENT), UINT32_MAX, last, &p), 0);
	assert_int_equal(feed_one(addf(PSX_PE_PARENT), 1, end - PGSZ, &p), 0);

	/* One page past the end of the user address space. */
	assert_int_equal(feed_one(addf(PSX_PE_PARENT), 1, end, &p), -PH_EPROTO);
	assert_non_null(strstr(ph_errmsg(), "beyond the user address space"));
	assert_int_equal(feed_one(addf(PSX_PE_PARENT), UINT32_MAX, last + PGSZ, &p), -PH_EPROTO);
	assert_int_equal(feed_one(PS_IOV_HOLE, big, PH_PS_VADDR_END, &p), -PH_EPROTO);
	/* Wrapping past 2^64, and unaligned, without data too. */
	assert_int_equal(feed_one(addf(PSX_PE_PARENT), 2, UINT64_MAX - PGSZ + 1, &p), -PH_EPROTO);
	assert_non_null(strstr(ph_errmsg(), "wraps"));
	assert_int_equal(feed_one(addf(PSX_PE_PARENT), big, 0x400800, &p), -PH_EPROTO);
	assert_non_null(strstr(ph_errmsg(), "not aligned"));
	/* Data still has its cap, and the address-space bound. */
	assert_int_equal(feed_one(addf(PSX_PE_PRESENT), big, 0x400000, &p), -PH_ETOOBIG);
	assert_non_null(strstr(ph_errmsg(), "with data, allowed 1..65536"));
	assert_int_equal(feed_one(PS_IOV_ADD, 1, end, &p), -PH_EPROTO);
}

static void test_add_before_open(void **state)
{
	struct stream s = { 0 };
	struct psx_parser p;
	size_t used;

	hdr(&s, PS_IOV_ADD, 1, 0, PID_DST(1));
	psx_init(&p, PGSZ);
	assert_int_equal(psx_feed(&p, s.buf, s.len, &used), -PH_EPROTO);
	assert_non_null(strstr(ph_errmsg(), "none"));
	free(s.buf);
}

static void test_truncated(void **state)
{
	struct stream s = { 0 };
	struct psx_parser p;

	hdr(&s, PS_IOV_OPEN, 0, 0, PID_DST(42));
	hdr(&s, PS_IOV_ADD, 2, 0, PID_DST(42));
	pages(&s, 2);
	psx_init(&p, PGSZ);
	assert_int_equal(feed_all(&p, s.buf, s.len - 1), 0);
	assert_int_equal(psx_finish(&p), -PH_ETRUNC);
	assert_non_null(strstr(ph_errmsg(), "1 page bytes missing"));
	psx_init(&p, PGSZ);
	assert_int_equal(feed_all(&p, s.buf, 30), 0);
	assert_int_equal(psx_finish(&p), -PH_ETRUNC);
	assert_non_null(strstr(ph_errmsg(), "inside a header: 6 of 24"));
	psx_init(&p, PGSZ);
	assert_int_equal(feed_all(&p, s.buf, s.len), 0);
	assert_int_equal(psx_finish(&p), -PH_ETRUNC);
	assert_non_null(strstr(ph_errmsg(), "without CLOSE"));
	free(s.buf);
}

static void test_replies(void **state)
{
	struct stream s = { 0 };
	struct psx_parser p;
	uint8_t two = 2;
	int32_t bad = -1;

	psx_init(&p, PGSZ);
	assert_int_equal(psx_reply_feed(&p, &two, 1), -PH_EPROTO);
	assert_non_null(strstr(ph_errmsg(), "nobody asked"));

	hdr(&s, PS_IOV_OPEN2, 0, 0, PID_DST(42));
	psx_init(&p, PGSZ);
	assert_int_equal(feed_all(&p, s.buf, s.len), 0);
	assert_int_equal(psx_reply_pending(&p), 1);
	assert_int_equal(psx_reply_feed(&p, &two, 1), -PH_EPROTO);
	assert_non_null(strstr(ph_errmsg(), "has_parent 2"));

	s.len = 0;
	hdr(&s, PS_IOV_CLOSE, 0, 0, 0);
	psx_init(&p, PGSZ);
	assert_int_equal(feed_all(&p, s.buf, s.len), PSX_SESSION_END);
	assert_int_equal(psx_reply_pending(&p), 4);
	assert_int_equal(psx_reply_feed(&p, (uint8_t *)&bad, 3), 0);
	assert_int_equal(psx_reply_pending(&p), 1);
	assert_int_equal(psx_reply_feed(&p, (uint8_t *)&bad + 3, 1), -PH_EPROTO);
	assert_non_null(strstr(ph_errmsg(), "status -1"));
	free(s.buf);
}

/* psx_close_hdr(): a session of CLOSE alone (podman:), valid and ended. */
static void test_close_alone(void **state)
{
	uint8_t h[PSX_HDR_SIZE];
	struct psx_parser p;
	int32_t zero = 0;
	size_t used;

	(void)state;
	psx_close_hdr(h);
	psx_init(&p, PGSZ);
	assert_int_equal(psx_feed(&p, h, sizeof(h), &used), PSX_SESSION_END);
	assert_int_equal(used, sizeof(h));
	assert_true(psx_session_closed(&p));
	assert_int_equal(psx_reply_pending(&p), 4);
	assert_int_equal(psx_reply_feed(&p, (uint8_t *)&zero, 4), 0);
	assert_int_equal(psx_next_session(&p), 0);
	assert_int_equal(psx_total_counts(&p)->pages, 0);
}

static void test_too_many_owed(void **state)
{
	struct stream s = { 0 };
	struct psx_parser p;
	size_t used;
	int i;

	for (i = 0; i <= PSX_REPLIES_MAX; i++)
		hdr(&s, PS_IOV_PARENT, 0, 0, PID_DST(i));
	psx_init(&p, PGSZ);
	assert_int_equal(psx_feed(&p, s.buf, s.len, &used), -PH_EPROTO);
	assert_int_equal(used, PSX_REPLIES_MAX * PSX_HDR_SIZE);
	assert_non_null(strstr(ph_errmsg(), "answers owed"));
	free(s.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_session),
		cmocka_unit_test(test_split_every_byte),
		cmocka_unit_test(test_byte_at_a_time),
		cmocka_unit_test(test_two_sessions_one_buffer),
		cmocka_unit_test(test_data_after_close),
		cmocka_unit_test(test_bad_headers),
		cmocka_unit_test(test_nodata_bounded_by_address_space),
		cmocka_unit_test(test_add_before_open),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_too_many_owed),
		cmocka_unit_test(test_close_alone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
