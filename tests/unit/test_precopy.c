// SPDX-License-Identifier: GPL-2.0
/* The pre-copy stop rule on constructed iteration figures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <stdlib.h>
#include <stdio.h>

#include <cmocka.h>

#include "precopy.h"
#include "util.h"

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

	precopy_init(&p, PRECOPY_PREDICT, 1300000, 8, 4096);
	it = iter(65536, 2.0, 125000); /* 256 MiB in 2 s, frozen 125 ms */
	assert_int_equal(precopy_next(&p, &it), PRECOPY_CONTINUE);
	it = iter(2000, 0.1, 20000); /* 2000 pages dirtied in 2 s: 1000 p/s */
	assert_int_equal(precopy_next(&p, &it), PRECOPY_CONVERGED);
	assert_true(it.dirty_pps > 999 && it.dirty_pps < 1001);
	/*
	 * per page (2 s - 0.1 s) / 63536 = 30 us, fixed 0.1 s - 2000 * 30 us =
	 * 40 ms; next delta 100 pages: 3 ms; restore 100 ms + 8 * 125 ms;
	 * switch unmeasured: 40 ms eager on dst + 30 ms here.
	 */
	assert_true(it.predicted_downtime_us > 1170000);
	assert_true(it.predicted_downtime_us < 1270000);
}

static void test_stalls_when_dirty_rate_beats_link(void **state)
{
	struct precopy p;
	struct iter_report it;

	precopy_init(&p, PRECOPY_PREDICT, 300000, 8, 4096);
	it = iter(65536, 2.0, 10000);
	assert_int_equal(precopy_next(&p, &it), PRECOPY_CONTINUE);
	it = iter(65536, 2.0, 10000); /* everything dirty again */
	assert_int_equal(precopy_next(&p, &it), PRECOPY_STALLED);
	assert_true(it.predicted_downtime_us > 2000000); /* a whole dump plus restore */
}

/* Near-equal page counts must not give a wild slope (seen: 176 s predicted). */
static void test_stall_prediction_stays_sane(void **state)
{
	struct precopy p;
	struct iter_report it;

	precopy_init(&p, PRECOPY_PREDICT, 5000000, 8, 4096);
	p.allow_overrun = true;
	it = iter(16417, 6.39, 175000);
	precopy_next(&p, &it);
	it = iter(16405, 5.25, 267000);
	assert_int_equal(precopy_next(&p, &it), PRECOPY_CONTINUE); /* still shrinking */
	/* a full resend (5.25 s) plus restore (100 ms + 8 * 175 ms) */
	assert_true(it.predicted_downtime_us > 6000000);
	assert_true(it.predicted_downtime_us < 8000000);
}

static void test_iteration_limit(void **state)
{
	struct precopy p;
	struct iter_report it;
	uint64_t pages = 60000;

	/* a limit no one can meet, allowed to overrun: the least downtime */
	precopy_init(&p, PRECOPY_PREDICT, 1000, 3, 4096);
	p.allow_overrun = true;
	for (int i = 1; i < 3; i++) {
		it = iter(pages, 1.0, 20000);
		assert_int_equal(precopy_next(&p, &it), PRECOPY_CONTINUE);
		pages /= 2;
	}
	it = iter(pages, 0.5, 20000);
	assert_int_equal(precopy_next(&p, &it), PRECOPY_MAX_ITER);
	assert_false(precopy_fits(&p, PRECOPY_MAX_ITER));
}

static void test_unreachable_limit_stops_at_once(void **state)
{
	struct precopy p;
	struct iter_report it;

	/* restore alone (100 ms + 8 * 20 ms) is over 200 ms: no throttle helps */
	precopy_init(&p, PRECOPY_PREDICT, 200000, 8, 4096);
	p.auto_converge = true;
	it = iter(60000, 1.0, 20000);
	assert_int_equal(precopy_next(&p, &it), PRECOPY_CONTINUE);
	it = iter(30000, 0.5, 20000);
	assert_int_equal(precopy_next(&p, &it), PRECOPY_UNREACHABLE);
	assert_int_equal(p.throttle_pct, 0);
	/* no slope fitted (30000 is not under half of 60000), but the blame is right */
	assert_false(p.fitted);
	assert_string_equal(precopy_verdict_str(PRECOPY_UNREACHABLE),
			    "fixed cost and restore alone exceed the limit");
}

/* Limit 200 ms, auto-converge, restore 1 us a page: the verdict after a then b. */
static enum precopy_verdict after_two(struct precopy *p, struct iter_report a, struct iter_report b)
{
	precopy_init(p, PRECOPY_PREDICT, 200000, 8, 4096);
	p->auto_converge = true;
	p->restore_ns_per_page = 1000;
	assert_int_equal(precopy_next(p, &a), PRECOPY_CONTINUE);
	return precopy_next(p, &b);
}

/*
 * Every page rewritten each pass: the pre-dumps do not shrink, so no
 * per-page cost can be fitted and the fixed cost is the last pre-dump's
 * whole frozen time (300 ms, its 16384 pages included). Restore (16 ms)
 * and switch (70 ms) fit the limit of 200 ms: the verdict must blame the
 * frozen time, not a fixed cost. With a slope fitted and a fixed cost
 * over the limit, the old verdict stands.
 */
static void test_unreachable_names_what_exceeds(void **state)
{
	struct precopy p;

	assert_int_equal(after_two(&p, iter(16384, 1.0, 300000), iter(16384, 1.0, 300000)),
			 PRECOPY_UNREACHABLE_FROZEN);
	assert_false(p.fitted);
	assert_int_equal(p.fixed_us, 300000);
	assert_true(p.floor_us - p.fixed_us <= p.limit_us);
	assert_int_equal(p.throttle_pct, 0);
	assert_string_equal(precopy_verdict_str(PRECOPY_UNREACHABLE_FROZEN),
			    "no per-page cost could be fitted: the last pre-dump's whole frozen "
			    "time (pages included) and restore exceed the limit");
	assert_false(precopy_fits(&p, PRECOPY_UNREACHABLE_FROZEN));

	/* (1 s - 0.5 s) / 15384 pages = 32.5 us a page; fixed 0.5 s - 1000 * that = 467 ms */
	assert_int_equal(after_two(&p, iter(16384, 1.0, 50000), iter(1000, 0.5, 50000)),
			 PRECOPY_UNREACHABLE);
	assert_true(p.fitted);
	assert_true(p.fixed_us > 467000 && p.fixed_us < 468000);
}

/* A CT that dirties as fast as the link sends: 16000 of 16384 pages again. */
static void test_auto_converge_throttles_then_converges(void **state)
{
	struct precopy p;
	struct iter_report it;

	precopy_init(&p, PRECOPY_PREDICT, 1500000, 8, 4096);
	p.auto_converge = true;
	it = iter(16384, 2.0, 50000);
	assert_int_equal(precopy_next(&p, &it), PRECOPY_CONTINUE);
	it = iter(16000, 2.0, 50000);
	assert_int_equal(precopy_next(&p, &it), PRECOPY_THROTTLE); /* detected at 2 */
	assert_int_equal(p.throttle_pct, 20);
	assert_int_equal(it.throttle_pct, 0); /* this one ran unthrottled */
	it = iter(15000, 1.9, 50000);
	assert_int_equal(precopy_next(&p, &it), PRECOPY_THROTTLE);
	assert_int_equal(p.throttle_pct, 30);
	assert_int_equal(it.throttle_pct, 20);
	it = iter(500, 0.1, 20000); /* throttled enough */
	assert_int_equal(precopy_next(&p, &it), PRECOPY_CONVERGED);
	assert_int_equal(it.throttle_pct, 30);
	assert_true(precopy_fits(&p, PRECOPY_CONVERGED));
}

static void test_auto_converge_tops_out(void **state)
{
	struct precopy p;
	struct iter_report it;
	uint32_t want = 20, n = 0;

	precopy_init(&p, PRECOPY_PREDICT, 1500000, 8, 4096);
	p.auto_converge = true;
	it = iter(16384, 2.0, 50000);
	precopy_next(&p, &it);
	for (;;) {
		enum precopy_verdict v;

		it = iter(16384, 2.0, 50000); /* nothing slows it down */
		v = precopy_next(&p, &it);
		if (v != PRECOPY_THROTTLE) {
			assert_int_equal(v, PRECOPY_THROTTLE_MAX);
			break;
		}
		assert_int_equal(p.throttle_pct, want);
		want = want + 10 > 99 ? 99 : want + 10;
		assert_true(++n < 20);
	}
	assert_int_equal(p.throttle_pct, 99);
	assert_int_equal(n, 9); /* 20, 30, ..., 90, 99 */
}

/*
 * Shrinking, but by a fifth per iteration from 60000 pages at 30 us a page:
 * by the 8th iteration 60000 * 0.8^5 = 19660 pages, 590 ms, over 300 ms.
 * Seen at the third iteration: without auto-converge, stop there.
 */
static void test_not_converging_seen_by_third(void **state)
{
	struct precopy p;
	struct iter_report it;

	precopy_init(&p, PRECOPY_PREDICT, 300000, 8, 4096);
	p.restore_ns_per_page = 1000; /* 60 ms for 60000 pages */
	it = iter(75000, 2.25, 10000);
	assert_int_equal(precopy_next(&p, &it), PRECOPY_CONTINUE);
	it = iter(60000, 1.8, 10000);
	assert_int_equal(precopy_next(&p, &it), PRECOPY_CONTINUE);
	it = iter(48000, 1.44, 10000);
	assert_int_equal(precopy_next(&p, &it), PRECOPY_NOT_CONVERGING);
}

static void test_restore_rate_from_destination(void **state)
{
	struct precopy p, q;
	struct iter_report a, b;

	precopy_init(&p, PRECOPY_PREDICT, 300000, 8, 4096);
	q = p;
	q.restore_ns_per_page = 50000; /* 50 us a page: 16384 pages, 819 ms */
	a = iter(16384, 1.0, 50000);
	b = a;
	precopy_next(&p, &a);
	precopy_next(&q, &b);
	/* the frozen-time guess: 100 ms + 8 * 50 ms */
	assert_true(b.predicted_downtime_us - a.predicted_downtime_us > 819000 - 500000 - 1000);
	assert_true(b.predicted_downtime_us - a.predicted_downtime_us < 819000 - 500000 + 1000);
}

/* A lazy restore with no rate measured yet is predicted cheaper: the stop rule stops earlier. */
static void test_lazy_restore_default(void **state)
{
	struct precopy p, q;
	struct iter_report a, b;

	precopy_init(&p, PRECOPY_PREDICT, 300000, 8, 4096);
	q = p;
	q.lazy_restore = true;
	a = iter(65536, 4.0, 200000);
	b = a;
	precopy_next(&p, &a);
	precopy_next(&q, &b);
	/*
	 * eager guess: 100 ms + 8 * 200 ms; lazy: 50 ms + 65536 * 3 us; the
	 * unmeasured switch: 40 ms eager, 60 ms lazy on dst
	 */
	assert_true(a.predicted_downtime_us - b.predicted_downtime_us > 1700000 - 267000 - 2000);
	assert_true(a.predicted_downtime_us - b.predicted_downtime_us < 1700000 - 267000 + 2000);
}

static void test_fixed_policy(void **state)
{
	struct precopy p;
	struct iter_report it;

	precopy_init(&p, PRECOPY_FIXED, 1, 8, 4096);
	it = iter(16384, 2.0, 50000);
	assert_int_equal(precopy_next(&p, &it), PRECOPY_CONTINUE);
	it = iter(1000, 0.2, 5000);
	assert_int_equal(precopy_next(&p, &it), PRECOPY_CONTINUE); /* no limit to meet */
	it = iter(1101, 0.2, 5000);
	assert_int_equal(precopy_next(&p, &it), PRECOPY_FIXED_GREW);
	assert_true(precopy_fits(&p, PRECOPY_FIXED_GREW));

	precopy_init(&p, PRECOPY_FIXED, 1, 8, 4096);
	it = iter(16384, 2.0, 50000);
	precopy_next(&p, &it);
	it = iter(64, 0.01, 5000);
	assert_int_equal(precopy_next(&p, &it), PRECOPY_FIXED_SMALL);

	precopy_init(&p, PRECOPY_FIXED, 1, 3, 4096);
	for (int i = 0; i < 2; i++) {
		it = iter(1000 - i, 0.2, 5000);
		assert_int_equal(precopy_next(&p, &it), PRECOPY_CONTINUE);
	}
	it = iter(990, 0.2, 5000);
	assert_int_equal(precopy_next(&p, &it), PRECOPY_MAX_ITER);
}

static void test_first_iteration_never_stops_early(void **state)
{
	struct precopy p;
	struct iter_report it;

	/* even a tiny CT gets a second pass: the first measures the link only */
	precopy_init(&p, PRECOPY_PREDICT, 300000, 8, 4096);
	it = iter(10, 0.01, 1000);
	assert_int_equal(precopy_next(&p, &it), PRECOPY_CONTINUE);
}

/* Nothing measured yet: small defaults, lazy and eager, no round trip known. */
static void test_switch_unmeasured_defaults(void **state)
{
	struct precopy p;

	precopy_init(&p, PRECOPY_PREDICT, 300000, 8, 4096);
	assert_int_equal(precopy_switch_us(&p), 40000 + 30000);
	p.lazy_restore = true;
	assert_int_equal(precopy_switch_us(&p), 60000 + 30000);
	/* the source's default counts its own round trips: images and Go */
	p.rtt_us = 10000;
	assert_int_equal(precopy_switch_us(&p), 60000 + 10000 + 30000 + 2 * 10000);
}

/* What both hosts measured replaces the defaults, and is in the prediction. */
static void test_switch_measured_in_prediction(void **state)
{
	struct precopy p, q;
	struct iter_report a, b;

	precopy_init(&p, PRECOPY_PREDICT, 5000000, 8, 4096);
	p.lazy_restore = true;
	p.rtt_us = 4000;
	q = p;
	q.dst_overhead_us = 700000; /* criu lazy-pages + swrk under TCG */
	q.src_commit_us = 250000;
	assert_int_equal(precopy_switch_us(&q), 700000 + 4000 + 250000);
	a = iter(65536, 4.0, 200000);
	b = a;
	precopy_next(&p, &a);
	precopy_next(&q, &b);
	assert_int_equal(b.predicted_downtime_us - a.predicted_downtime_us,
			 (700000 + 4000 + 250000) - (60000 + 4000 + 30000 + 2 * 4000));
	assert_int_equal(q.switch_us, 954000);
	/* and in the floor: an empty final dump still pays it */
	assert_int_equal(q.floor_us - p.floor_us, 954000 - 102000);
}

/* A switch alone over the limit: no throttle can help, say so at once. */
static void test_switch_over_limit_unreachable(void **state)
{
	struct precopy p;
	struct iter_report it;

	precopy_init(&p, PRECOPY_PREDICT, 300000, 8, 4096);
	p.auto_converge = true;
	p.lazy_restore = true;
	p.restore_ns_per_page = 100;
	p.dst_overhead_us = 500000;
	it = iter(16384, 1.0, 10000);
	assert_int_equal(precopy_next(&p, &it), PRECOPY_CONTINUE);
	it = iter(100, 0.02, 10000);
	assert_int_equal(precopy_next(&p, &it), PRECOPY_UNREACHABLE);
	assert_int_equal(p.throttle_pct, 0);
	/* the same CT with a cheap switch converges */
	precopy_init(&p, PRECOPY_PREDICT, 300000, 8, 4096);
	p.lazy_restore = true;
	p.restore_ns_per_page = 100;
	p.dst_overhead_us = 50000;
	it = iter(16384, 1.0, 10000);
	precopy_next(&p, &it);
	it = iter(100, 0.02, 10000);
	assert_int_equal(precopy_next(&p, &it), PRECOPY_CONVERGED);
}

/*
 * A real run (benchmarks/2026-12-02-prediction, rep 2: 256 MiB, 500 dirty
 * pages/s, TCG guests): its six pre-dumps as measured, with what rep 1
 * left on both hosts (lazy restore 1921 ns/page, overhead 237 ms, commit
 * 217 ms) and its round trip. It measured 895.6 ms of downtime; the
 * prediction must be within 25 %, and without the switch it was not.
 */
static void test_reference_run_within_25_percent(void **state)
{
	static const uint64_t fig[][4] = {
		/* pages, wire bytes, usec, frozen us */
		{ 65618, 1079260, 6445233, 180196 }, { 3274, 79173, 1155957, 154578 },
		{ 637, 19394, 327205, 87334 },	     { 259, 10727, 276365, 60952 },
		{ 233, 10937, 362702, 80020 },	     { 275, 11235, 282350, 78211 },
	};
	const double measured = 895605;
	struct precopy p, bare;
	struct iter_report it, itb;
	enum precopy_verdict v = PRECOPY_CONTINUE;

	precopy_init(&p, PRECOPY_PREDICT, 300000, 8, 4096);
	p.auto_converge = p.allow_overrun = p.lazy_restore = true;
	p.restore_ns_per_page = 1921;
	bare = p;
	p.dst_overhead_us = 237411;
	p.src_commit_us = 217408;
	p.rtt_us = 46090;
	for (size_t i = 0; i < sizeof(fig) / sizeof(fig[0]); i++) {
		it = (struct iter_report){ .pages = fig[i][0],
					   .raw_bytes = fig[i][0] * 4096,
					   .wire_bytes = fig[i][1],
					   .usec = fig[i][2],
					   .frozen_us = fig[i][3] };
		itb = it;
		v = precopy_next(&p, &it);
		precopy_next(&bare, &itb);
	}
	assert_int_equal(v, PRECOPY_STALLED); /* where the run stopped */
	assert_int_equal(p.switch_us, 500909);
	assert_true(it.predicted_downtime_us > 0.75 * measured);
	assert_true(it.predicted_downtime_us < 1.25 * measured);
	/* the defaults alone (no measured switch) miss it by more */
	assert_true(itb.predicted_downtime_us < 0.75 * measured);
}

/* A measured figure kept between runs: one slow run moves it a quarter of the way. */
static void test_figure_blended(void **state)
{
	char dir[] = "/tmp/phaul-blend-XXXXXX", path[64];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/restore-overhead", dir);
	u64_file_blend(path, 100000); /* the first figure alone */
	assert_int_equal(u64_file_load(path), 100000);
	u64_file_blend(path, 500000); /* one slow restore */
	assert_int_equal(u64_file_load(path), 200000);
	u64_file_blend(path, 0); /* no figure: the old one stays */
	assert_int_equal(u64_file_load(path), 200000);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_converges_when_delta_shrinks),
		cmocka_unit_test(test_stalls_when_dirty_rate_beats_link),
		cmocka_unit_test(test_stall_prediction_stays_sane),
		cmocka_unit_test(test_iteration_limit),
		cmocka_unit_test(test_unreachable_limit_stops_at_once),
		cmocka_unit_test(test_unreachable_names_what_exceeds),
		cmocka_unit_test(test_auto_converge_throttles_then_converges),
		cmocka_unit_test(test_auto_converge_tops_out),
		cmocka_unit_test(test_not_converging_seen_by_third),
		cmocka_unit_test(test_restore_rate_from_destination),
		cmocka_unit_test(test_lazy_restore_default),
		cmocka_unit_test(test_fixed_policy),
		cmocka_unit_test(test_first_iteration_never_stops_early),
		cmocka_unit_test(test_switch_unmeasured_defaults),
		cmocka_unit_test(test_switch_measured_in_prediction),
		cmocka_unit_test(test_switch_over_limit_unreachable),
		cmocka_unit_test(test_reference_run_within_25_percent),
		cmocka_unit_test(test_figure_blended),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
