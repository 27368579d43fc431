// SPDX-License-Identifier: GPL-2.0
/*
 * Adaptive compression on a mux stream: incompressible data goes raw after
 * zstd fails to shrink it (no expansion, little CPU), and compression comes
 * back by itself when the data turns compressible again. Content verified.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "caps.h"
#include "mux_pair.h"

#define RANDOM_BYTES (8u << 20)
#define PATTERN_BYTES (32u << 20)
#define CHUNK (64u * 1024)

static uint8_t byte_at(uint64_t off)
{
	uint64_t x = off / 8 + 0x9e3779b97f4a7c15ull;

	if (off >= RANDOM_BYTES) /* compressible tail: a repeated word */
		return (uint8_t)(off % 8);
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return (uint8_t)(x >> (8 * (off % 8)));
}

struct sender {
	struct mux *m;
	int ret;
};

static void *send_all(void *arg)
{
	struct sender *s = arg;
	uint8_t *buf = malloc(CHUNK);

	for (uint64_t off = 0; off < RANDOM_BYTES + PATTERN_BYTES && !s->ret; off += CHUNK) {
		for (size_t i = 0; i < CHUNK; i++)
			buf[i] = byte_at(off + i);
		s->ret = mux_send(s->m, MUX_PAGES, buf, CHUNK);
	}
	if (!s->ret)
		s->ret = mux_send_eof(s->m, MUX_PAGES);
	free(buf);
	return NULL;
}

/* a sends to b over a socketpair, zstd level 1 on a's page stream */
static void zstd_pair(struct mux **a, struct mux **b)
{
	mux_pair(a, b);
	assert_int_equal(mux_set_compress(*a, MUX_PAGES, 1), 0);
}

static void test_random_then_pattern(void **state)
{
	struct mux *a, *b;
	struct sender snd = { 0 };
	struct mux_stats tx, rx;
	uint8_t *buf = malloc(PH_FRAME_MAX);
	uint64_t off = 0;
	pthread_t t;
	long n;

	zstd_pair(&a, &b);
	snd.m = a;
	pthread_create(&t, NULL, send_all, &snd);
	while ((n = mux_recv(b, MUX_PAGES, buf, PH_FRAME_MAX, 20000)) > 0) {
		for (long i = 0; i < n; i++)
			if (buf[i] != byte_at(off + i))
				fail_msg("byte %llu differs", (unsigned long long)(off + i));
		off += (uint64_t)n;
		if (off == RANDOM_BYTES) {
			/* the random part went (nearly) raw: no expansion */
			mux_get_stats(a, MUX_PAGES, &tx, &rx);
			assert_true(tx.wire_bytes < RANDOM_BYTES + RANDOM_BYTES / 50);
		}
	}
	pthread_join(t, NULL);
	assert_int_equal(n, 0);
	assert_int_equal(snd.ret, 0);
	assert_int_equal(off, RANDOM_BYTES + PATTERN_BYTES);
	/* compression came back: the pattern tail costs far less than its size */
	mux_get_stats(a, MUX_PAGES, &tx, &rx);
	assert_true(tx.wire_bytes < RANDOM_BYTES + RANDOM_BYTES / 50 + PATTERN_BYTES / 10);
	mux_close(a);
	mux_close(b);
	free(buf);
}

#define PAIRS 2048
#define HDR 24

static void *send_hdr_page_pairs(void *arg)
{
	struct sender *s = arg;
	uint8_t hdr[HDR], page[4096];

	for (int i = 0; i < PAIRS && !s->ret; i++) {
		/* header fields (a page address, counts) compress poorly */
		for (int k = 0; k < HDR; k++)
			hdr[k] = byte_at((uint64_t)i * HDR + k);
		memset(page, i & 0xff, sizeof(page));
		if (!(s->ret = mux_send(s->m, MUX_PAGES, hdr, sizeof(hdr))))
			s->ret = mux_send(s->m, MUX_PAGES, page, sizeof(page));
	}
	if (!s->ret)
		s->ret = mux_send_eof(s->m, MUX_PAGES);
	return NULL;
}

/*
 * The page-server stream as the relay forwards it: a short header, then a
 * page. The headers must not switch compression off for the pages.
 */
static void test_short_records_keep_compression(void **state)
{
	struct mux *a, *b;
	struct sender snd = { 0 };
	struct mux_stats tx, rx;
	uint8_t *buf = malloc(PH_FRAME_MAX);
	uint64_t got = 0;
	pthread_t t;
	long n;

	zstd_pair(&a, &b);
	snd.m = a;
	pthread_create(&t, NULL, send_hdr_page_pairs, &snd);
	while ((n = mux_recv(b, MUX_PAGES, buf, PH_FRAME_MAX, 20000)) > 0)
		got += (uint64_t)n;
	pthread_join(t, NULL);
	assert_int_equal(n, 0);
	assert_int_equal(snd.ret, 0);
	assert_int_equal(got, (uint64_t)PAIRS * (HDR + 4096));
	mux_get_stats(a, MUX_PAGES, &tx, &rx);
	/* one-byte pages compress to almost nothing; the headers dominate */
	assert_true(tx.wire_bytes < got / 20);
	mux_close(a);
	mux_close(b);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_then_pattern),
		cmocka_unit_test(test_short_records_keep_compression),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
