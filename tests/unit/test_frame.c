// SPDX-License-Identifier: GPL-2.0
/* frame header codec: round trip, every refusal, need-more. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "caps.h"
#include "err.h"
#include "transport/frame.h"
#include "transport/mux.h"

static void raw_hdr(uint8_t *b, uint8_t type, uint8_t stream, uint16_t flags, uint32_t len)
{
	b[0] = type;
	b[1] = stream;
	b[2] = flags >> 8;
	b[3] = flags & 0xff;
	frame_put_u32(b + 4, len);
}

static void test_roundtrip(void **state)
{
	const struct frame_hdr cases[] = {
	    {FRAME_DATA, MUX_CTL, 0, 0},
	    {FRAME_DATA, MUX_PAGES, 0, PH_FRAME_MAX},
	    {FRAME_DATA, MUX_FS, FRAME_ZSTD, 12345},
	    {FRAME_DATA, MUX_IMAGES, FRAME_FIN, 0},
	    {FRAME_WINDOW, MUX_PAGES, 0, 4},
	    {FRAME_ABORT, MUX_CTL, 0, 4},
	    {FRAME_ABORT, MUX_CTL, 0, PH_FRAME_MAX},
	    {FRAME_PING, MUX_CTL, 0, 0},
	};
	uint8_t b[FRAME_HDR_LEN];
	struct frame_hdr h;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(frame_put_hdr(b, &cases[i]), FRAME_HDR_LEN);
		assert_int_equal(frame_parse_hdr(b, sizeof(b), &h), FRAME_HDR_LEN);
		assert_memory_equal(&h, &cases[i], sizeof(h));
	}
}

static void test_big_endian(void **state)
{
	const struct frame_hdr h = {FRAME_DATA, 2, FRAME_ZSTD, 0x00030201};
	const uint8_t want[] = {1, 2, 0, 2, 0, 3, 2, 1};
	uint8_t b[FRAME_HDR_LEN];

	assert_int_equal(frame_put_hdr(b, &h), FRAME_HDR_LEN);
	assert_memory_equal(b, want, sizeof(want));
}

static void test_need_more(void **state)
{
	uint8_t b[FRAME_HDR_LEN];
	struct frame_hdr h = {0};

	raw_hdr(b, FRAME_DATA, 0, 0, 10);
	for (size_t n = 0; n < FRAME_HDR_LEN; n++)
		assert_int_equal(frame_parse_hdr(b, n, &h), 0);
	assert_int_equal(h.type, 0);
	/* Extra bytes after the header are the payload: not consumed. */
	assert_int_equal(frame_parse_hdr(b, sizeof(b), &h), FRAME_HDR_LEN);
}

static void expect_refused(uint8_t type, uint8_t stream, uint16_t flags, uint32_t len, int err,
			   const char *needle)
{
	uint8_t b[FRAME_HDR_LEN];
	struct frame_hdr h = {9, 9, 9, 9}, orig = h;

	raw_hdr(b, type, stream, flags, len);
	ph_clearerr();
	assert_int_equal(frame_parse_hdr(b, sizeof(b), &h), -err);
	assert_non_null(strstr(ph_errmsg(), needle));
	assert_memory_equal(&h, &orig, sizeof(h));
	/* The encoder refuses what the parser refuses. */
	h = (struct frame_hdr){type, stream, flags, len};
	assert_int_equal(frame_put_hdr(b, &h), -err);
}

static void test_too_big(void **state)
{
	expect_refused(FRAME_DATA, 0, 0, PH_FRAME_MAX + 1, PH_ETOOBIG,
		       "262145 exceeds the limit 262144");
	expect_refused(FRAME_DATA, 1, 0, UINT32_MAX, PH_ETOOBIG, "4294967295");
	expect_refused(FRAME_ABORT, 0, 0, PH_FRAME_MAX + 1, PH_ETOOBIG, "limit 262144");
}

static void test_bad_fields(void **state)
{
	expect_refused(0, 0, 0, 0, PH_EPROTO, "type 0 is unknown");
	expect_refused(5, 0, 0, 0, PH_EPROTO, "type 5 is unknown");
	expect_refused(255, 0, 0, 0, PH_EPROTO, "type 255");
	expect_refused(FRAME_DATA, MUX_NSTREAMS, 0, 0, PH_EPROTO, "stream 4 out of range");
	expect_refused(FRAME_DATA, 255, 0, 0, PH_EPROTO, "stream 255");
	expect_refused(FRAME_DATA, 0, 0x0004, 0, PH_EPROTO, "flags 0x0004 have unknown bits");
	expect_refused(FRAME_DATA, 0, 0x8000, 0, PH_EPROTO, "unknown bits");
	expect_refused(FRAME_DATA, 0, FRAME_FIN | FRAME_ZSTD, 0, PH_EPROTO, "exclusive");
	expect_refused(FRAME_DATA, 0, FRAME_FIN, 1, PH_EPROTO, "FIN frame");
	expect_refused(FRAME_WINDOW, 0, 0, 0, PH_EPROTO, "WINDOW frame: must be 4");
	expect_refused(FRAME_WINDOW, 0, 0, 8, PH_EPROTO, "length 8");
	expect_refused(FRAME_WINDOW, 0, FRAME_FIN, 4, PH_EPROTO, "on WINDOW frames");
	expect_refused(FRAME_ABORT, 0, 0, 3, PH_EPROTO, "ABORT frame: must be 4..262144");
	expect_refused(FRAME_ABORT, 0, FRAME_ZSTD, 4, PH_EPROTO, "on ABORT frames");
	expect_refused(FRAME_PING, 0, 0, 1, PH_EPROTO, "PING frame: must be 0");
	expect_refused(FRAME_PING, MUX_PAGES, 0, 0, PH_EPROTO, "stream 1 on a PING frame");
	expect_refused(FRAME_PING, 0, FRAME_FIN, 0, PH_EPROTO, "on PING frames");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip),  cmocka_unit_test(test_big_endian),
	    cmocka_unit_test(test_need_more),  cmocka_unit_test(test_too_big),
	    cmocka_unit_test(test_bad_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
