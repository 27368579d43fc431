// SPDX-License-Identifier: GPL-2.0
/* The pre-copy stop rule on constructed iteration figures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "precopy.h"

static struct iter_report iter(uint64_t pages, double secs, uint64_t frozen_us)
{
	struct iter_report it = { 0 };

	it.pages = pages;
	it.raw_bytes = pages * 4096;
	it.wire_bytes = it.raw_bytes / 2; /* zstd halves it */
	it.usec = (uint64_t)(secs * 1e6);
	it.frozen_us = frozen_us;
	return it;
}

static void test_converges_when_delta_shrinks(void **state)
{
	struct precopy p;
	struct iter_report it;

	precopy_init(&p, 1200000, 8, 4096);
	it = iter(65536, 2.0, 125000); /* 256 MiB in 2 s, frozen 125 ms */
	assert_int_equal(precopy_next(&p, &it), PRECOPY_CONTINUE);
	it = iter(2000, 0.1, 20000); /* 2000 pages dirtied in 2 s: 1000 p/s */
	assert_int_equal(precopy_next(&p, &it), PRECOPY_CONVERGED);
	assert_true(it.dirty_pps > 999 && it.dirty_pps < 1001);
	/*
	 * per page (2 s - 0.1 s) / 63536 = 30 us, fixed 0.1 s - 2000 * 30 us =
	 * 40 ms; next delta 100 pages: 3 ms; restore 100 ms + 8 * 125 ms.
	 */
	assert_true(it.predicted_downtime_us > 1100000);
	assert_true(it.predicted_downtime_us < 1200000);
}

static void test_stalls_when_dirty_rate_beats_link(void **state)
{
	struct precopy p;
	struct iter_report it;

	precopy_init(&p, 300000, 8, 4096);
	it = iter(65536, 2.0, 20000);
	assert_int_equal(precopy_next(&p, &it), PRECOPY_CONTINUE);
	it = iter(65536, 2.0, 20000); /* everything dirty again */
	assert_int_equal(precopy_next(&p, &it), PRECOPY_STALLED);
	assert_true(it.predicted_downtime_us > 2000000); /* a whole dump plus restore */
}

static void test_iteration_limit(void **state)
{
	struct precopy p;
	struct iter_report it;
	uint64_t pages = 60000;

	precopy_init(&p, 1000, 3, 4096); /* a limit no one can meet */
	for (int i = 1; i < 3; i++) {
		it = iter(pages, 1.0, 20000);
		assert_int_equal(precopy_next(&p, &it), PRECOPY_CONTINUE);
		pages /= 2;
	}
	it = iter(pages, 0.5, 20000);
	assert_int_equal(precopy_next(&p, &it), PRECOPY_MAX_ITER);
}

static void test_first_iteration_never_stops_early(void **state)
{
	struct precopy p;
	struct iter_report it;

	/* even a tiny CT gets a second pass: the first measures the link only */
	precopy_init(&p, 300000, 8, 4096);
	it = iter(10, 0.01, 1000);
	assert_int_equal(precopy_next(&p, &it), PRECOPY_CONTINUE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_converges_when_delta_shrinks),
		cmocka_unit_test(test_stalls_when_dirty_rate_beats_link),
		cmocka_unit_test(test_iteration_limit),
		cmocka_unit_test(test_first_iteration_never_stops_early),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
