/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pre-copy stop rule (DESIGN.md "Performance model"). After each
 * iteration: the dirty rate D from the pages it had to send over the time
 * of the one before, the cost of an iteration as fixed + per-page (fitted
 * on the first and the latest iteration, so it includes the link), and the
 * predicted downtime of a final dump now:
 *
 *     fixed + per-page * (D * t_last) + restore + switch
 *
 * where restore follows the CT's whole size (CRIU maps every page from the
 * image chain), not the last delta: from the destination's own last restore
 * when it has one (ns per page), else estimated from the first iteration's
 * frozen time, this machine's cost of touching every page. switch is
 * what the downtime holds besides the pages and CRIU's restore (measured
 * by both hosts in their last migration, kept in their work dirs):
 *
 *     dst overhead + round trip + src commit
 *
 * dst overhead: the destination's last restore from RestoreReq to its
 * answer minus CRIU's restore_time (criu swrk and lazy-pages started, the
 * store's last delta, hooks, the HELD record); round trip: the shortest
 * IterStart -> IterReady of this migration (RestoreReq's own); src commit:
 * this host's last images sent + commit (records, CRIU ending the source
 * copy) + Go and its answer. Unknown parts get defaults measured in the
 * VM harness.
 *
 * Policy "predict" (the default) stops when that is under the limit. When
 * it cannot get there it says so early, within three iterations: the
 * dirty set shrinks by less than a tenth, or at the rate it shrinks the
 * limit is out of reach before the iteration limit. Then, with
 * auto-converge, it asks for a CPU throttle of the CT (20 %, then 10 more
 * each iteration, up to 99 %, like QEMU) and goes on; without, or once the
 * throttle is at its top, it stops with a verdict that does not fit the
 * limit. If even an empty final dump (fixed cost plus restore) is over the
 * limit, throttling cannot help: "unreachable". Where no per-page cost
 * could be fitted (every page rewritten each pass: the pre-dumps do not
 * shrink), the fixed cost is the latest pre-dump's whole frozen time,
 * pages included; when that, not the restore, is what exceeds the limit,
 * the verdict blames that frozen time, not a fixed cost
 * (PRECOPY_UNREACHABLE_FROZEN). With the overrun allowed,
 * a loop that cannot meet the limit goes on while the delta shrinks, for
 * the least downtime it can get.
 *
 * Policy "fixed" is P.Haul's: stop at 64 pages or fewer, when an iteration
 * grows by more than 10 %, or at the iteration limit; no downtime limit.
 */
#ifndef PHAUL_PRECOPY_H
#define PHAUL_PRECOPY_H

#include <stdbool.h>
#include <stdint.h>

#include "report.h"

enum precopy_policy {
	PRECOPY_PREDICT = 0,
	PRECOPY_FIXED,
};

enum precopy_verdict {
	PRECOPY_CONTINUE = 0,
	PRECOPY_THROTTLE,    /* go on, with the CT throttled to p->throttle_pct */
	PRECOPY_CONVERGED,   /* predicted downtime under the limit */
	PRECOPY_STALLED,     /* the dirty set stopped shrinking */
	PRECOPY_NOT_CONVERGING, /* shrinking too slowly to meet the limit */
	PRECOPY_THROTTLE_MAX, /* throttled to the top and still over */
	PRECOPY_UNREACHABLE, /* fixed cost + restore alone exceed the limit */
	PRECOPY_MAX_ITER,    /* iteration limit */
	PRECOPY_FIXED_SMALL, /* fixed policy: at most 64 pages */
	PRECOPY_FIXED_GREW,  /* fixed policy: the delta grew by more than 10 % */
	PRECOPY_UNREACHABLE_FROZEN, /* no per-page fit: frozen time + restore exceed it */
};

#define PRECOPY_THROTTLE_FIRST 20
#define PRECOPY_THROTTLE_STEP  10
#define PRECOPY_THROTTLE_TOP   99

struct precopy {
	enum precopy_policy policy;
	uint64_t limit_us;
	uint32_t max_iter;
	uint32_t page_size;
	bool auto_converge;	      /* may ask for a throttle */
	bool allow_overrun;	      /* a missed limit does not stop the loop early */
	uint64_t restore_ns_per_page; /* the destination's last restore; 0 = unknown */
	bool lazy_restore; /* the destination restores lazily (its rate is a lazy one) */
	uint64_t dst_overhead_us;     /* the destination's last restore overhead; 0 = unknown */
	uint64_t src_commit_us;	      /* this host's last images + commit + Go; 0 = unknown */
	uint64_t rtt_us;	      /* shortest round trip to the destination; 0 = unknown */
	uint64_t switch_us;	      /* the switch cost of the last prediction */
	uint32_t n;		      /* iterations seen */
	uint32_t throttle_pct;	      /* asked for so far, 0 = none */
	uint64_t floor_us;	      /* predicted downtime with nothing left to send */
	uint64_t fixed_us;	      /* the floor's cost of a dump (the rest: restore, switch) */
	bool fitted;		      /* a per-page cost fitted; else fixed_us: a whole frozen time */
	uint64_t prev_pages;
	uint64_t prev_usec;
	uint64_t first_pages; /* the first iteration: the CT's whole memory */
	uint64_t first_usec;
	uint64_t first_frozen_us;
};

void precopy_init(struct precopy *p, enum precopy_policy policy, uint64_t limit_us,
		  uint32_t max_iter, uint32_t page_size);
/* Fill it's dirty rate, bandwidth and prediction; return the verdict. */
enum precopy_verdict precopy_next(struct precopy *p, struct iter_report *it);
/* The switch cost (above) with what p knows now. */
uint64_t precopy_switch_us(const struct precopy *p);
/* Does stopping with v honour the downtime limit (or is there none)? */
bool precopy_fits(const struct precopy *p, enum precopy_verdict v);
const char *precopy_verdict_str(enum precopy_verdict v);
int precopy_policy_parse(const char *s, enum precopy_policy *out);

#endif
