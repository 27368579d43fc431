// SPDX-License-Identifier: GPL-2.0
#include "precopy.h"

/* Restore of a small tree under CRIU 3.17 takes on the order of 100 ms. */
#define RESTORE_EST_US 150000

void precopy_init(struct precopy *p, uint64_t limit_us, uint32_t max_iter, uint32_t page_size)
{
	*p = (struct precopy){
		.limit_us = limit_us,
		.max_iter = max_iter,
		.page_size = page_size,
		.restore_est_us = RESTORE_EST_US,
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

enum precopy_verdict precopy_next(struct precopy *p, struct iter_report *it)
{
	double secs = it->usec ? it->usec / 1e6 : 1e-6;
	double ratio = it->raw_bytes ? (double)it->wire_bytes / it->raw_bytes : 1.0;
	double next_pages, xfer_s;
	enum precopy_verdict v = PRECOPY_CONTINUE;

	p->n++;
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
	/* A link too slow to measure: fall back to the raw rate. */
	xfer_s = it->bw_bps > 0 ? next_pages * p->page_size * ratio / it->bw_bps : 0;
	it->predicted_downtime_us = it->frozen_us + p->restore_est_us + (uint64_t)(xfer_s * 1e6);

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
