/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pre-copy stop rule (DESIGN.md "Performance model"). After each
 * iteration: bandwidth B from the bytes and time of the page stream, dirty
 * rate D from the pages the iteration had to send over the time of the one
 * before, and the predicted downtime of a final dump now:
 *
 *     fixed cost + (D * t_last) pages * page size * wire ratio / B
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
	PRECOPY_CONVERGED,  /* predicted downtime under the limit */
	PRECOPY_STALLED,    /* the dirty set stopped shrinking */
	PRECOPY_MAX_ITER,   /* iteration limit */
};

struct precopy {
	uint64_t limit_us;
	uint32_t max_iter;
	uint32_t page_size;
	uint64_t restore_est_us; /* fixed restore cost assumed in predictions */
	uint32_t n;              /* iterations seen */
	uint64_t prev_pages;
	uint64_t prev_usec;
};

void precopy_init(struct precopy *p, uint64_t limit_us, uint32_t max_iter, uint32_t page_size);
/* Fill it's dirty rate, bandwidth and prediction; return the verdict. */
enum precopy_verdict precopy_next(struct precopy *p, struct iter_report *it);
const char *precopy_verdict_str(enum precopy_verdict v);

#endif
