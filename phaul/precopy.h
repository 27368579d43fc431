/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pre-copy stop rule (DESIGN.md "Performance model"). After each
 * iteration: the dirty rate D from the pages it had to send over the time
 * of the one before, the cost of an iteration as fixed + per-page (fitted
 * on the first and the latest iteration, so it includes the link), and the
 * predicted downtime of a final dump now:
 *
 *     fixed + per-page * (D * t_last) + restore
 *
 * where restore follows the CT's whole size (CRIU maps every page from the
 * image chain), not the last delta: it is estimated from the first
 * iteration's frozen time, this machine's cost of touching every page.
 *
 * Stop when that is under the limit, when an iteration no longer shrinks
 * the dirty set, or at the iteration limit.
 */
#ifndef PHAUL_PRECOPY_H
#define PHAUL_PRECOPY_H

#include <stdint.h>

#include "report.h"

enum precopy_verdict {
	PRECOPY_CONTINUE = 0,
	PRECOPY_CONVERGED, /* predicted downtime under the limit */
	PRECOPY_STALLED,   /* the dirty set stopped shrinking */
	PRECOPY_MAX_ITER,  /* iteration limit */
};

struct precopy {
	uint64_t limit_us;
	uint32_t max_iter;
	uint32_t page_size;
	uint32_t n; /* iterations seen */
	uint64_t prev_pages;
	uint64_t prev_usec;
	uint64_t first_pages; /* the first iteration: the CT's whole memory */
	uint64_t first_usec;
	uint64_t first_frozen_us;
};

void precopy_init(struct precopy *p, uint64_t limit_us, uint32_t max_iter, uint32_t page_size);
/* Fill it's dirty rate, bandwidth and prediction; return the verdict. */
enum precopy_verdict precopy_next(struct precopy *p, struct iter_report *it);
const char *precopy_verdict_str(enum precopy_verdict v);

#endif
