// SPDX-License-Identifier: GPL-2.0
#include "precopy.h"

/*
 * Restore maps every page of the CT from the image chain, so its cost
 * follows the CT's size, not the last delta, and not the link. The local
 * reference for "how fast this machine moves a page" is the first
 * pre-dump's frozen time (freeze + copying every page into pipes). Measured
 * with CRIU 3.17 in the VM harness: restore took 8 times that, plus a fixed
 * 100 ms (64 MiB: 152 ms frozen, 1.32 s restore).
 */
#define RESTORE_FIXED_US   100000
#define RESTORE_PER_FROZEN 8

void precopy_init(struct precopy *p, uint64_t limit_us, uint32_t max_iter, uint32_t page_size)
{
	*p = (struct precopy){
		.limit_us = limit_us,
		.max_iter = max_iter,
		.page_size = page_size,
	};
}

const char *precopy_verdict_str(enum precopy_verdict v)
{
	switch (v) {
	case PRECOPY_CONTINUE: return "continue";
	case PRECOPY_CONVERGED: return "predicted downtime under the limit";
	case PRECOPY_STALLED: return "dirty set stopped shrinking";
	case PRECOPY_MAX_ITER: return "iteration limit";
	}
	return "?";
}

/*
 * An iteration costs fixed + per_page * pages (freeze, collect, then the
 * pages through the relay). The first iteration and the latest one give the
 * two points; with one point, everything is per-page cost.
 */
static void cost_model(const struct precopy *p, const struct iter_report *it, double *fixed_us,
		       double *page_us)
{
	*fixed_us = it->frozen_us;
	*page_us = it->pages ? (double)it->usec / it->pages : 0;
	if (p->n > 1 && p->first_pages > it->pages) {
		double slope = ((double)p->first_usec - it->usec) / (p->first_pages - it->pages);

		if (slope > 0) {
			*page_us = slope;
			*fixed_us = it->usec - slope * it->pages;
			if (*fixed_us < it->frozen_us)
				*fixed_us = it->frozen_us;
		}
	}
}

enum precopy_verdict precopy_next(struct precopy *p, struct iter_report *it)
{
	double secs = it->usec ? it->usec / 1e6 : 1e-6;
	double next_pages, fixed_us, page_us, restore_us;
	enum precopy_verdict v = PRECOPY_CONTINUE;

	p->n++;
	if (p->n == 1) {
		p->first_pages = it->pages;
		p->first_usec = it->usec;
		p->first_frozen_us = it->frozen_us;
	}
	it->bw_bps = it->wire_bytes / secs;
	/*
	 * What iteration N sent is what was dirtied while N-1 ran. The first
	 * iteration sends everything, so it only measures the link; assume
	 * the whole set is dirty again until a second iteration says better.
	 */
	if (p->n == 1 || !p->prev_usec)
		it->dirty_pps = it->pages / secs;
	else
		it->dirty_pps = it->pages / (p->prev_usec / 1e6);
	next_pages = it->dirty_pps * secs;
	if (next_pages > it->pages && p->n > 1)
		next_pages = it->pages;
	cost_model(p, it, &fixed_us, &page_us);
	restore_us = RESTORE_FIXED_US + RESTORE_PER_FROZEN * (double)p->first_frozen_us;
	it->predicted_downtime_us = (uint64_t)(fixed_us + page_us * next_pages + restore_us);

	if (p->n > 1 && it->predicted_downtime_us <= p->limit_us)
		v = PRECOPY_CONVERGED;
	else if (p->n > 1 && it->pages >= p->prev_pages)
		v = PRECOPY_STALLED;
	else if (p->n >= p->max_iter)
		v = PRECOPY_MAX_ITER;
	p->prev_pages = it->pages;
	p->prev_usec = it->usec;
	return v;
}
