// SPDX-License-Identifier: GPL-2.0
#include <string.h>

#include "precopy.h"

/*
 * Without a measured restore from the destination: the local reference for
 * "how fast this machine moves a page" is the first pre-dump's frozen time
 * (freeze + copying every page into pipes). Measured with CRIU 3.17 in the
 * VM harness: restore took 8 times that, plus a fixed 100 ms (64 MiB:
 * 152 ms frozen, 1.32 s restore).
 */
#define RESTORE_FIXED_US   100000
#define RESTORE_PER_FROZEN 8
/*
 * A lazy restore with no measured rate yet: CRIU restores everything but
 * the lazy pages, the daemon serves them later (measured in the harness
 * guests: 0.24 s for 65536 pages, against 2.1 s eager).
 */
#define RESTORE_LAZY_FIXED_US	 50000
#define RESTORE_LAZY_NS_PER_PAGE 3000
/*
 * The switch with nothing measured yet (the first migration between two
 * hosts, and a destination that has no dry start of CRIU to offer): small,
 * what two CRIU starts and a few fsyncs cost on a real host, so that a
 * first migration is not refused on a guess. Measured figures replace them
 * from the first restore on (under TCG they are ten times these).
 */
#define SWITCH_DST_LAZY_US  60000
#define SWITCH_DST_EAGER_US 40000
#define SWITCH_SRC_US	    30000
#define SWITCH_SRC_RTTS	    2 /* Finish -> FinishAck, and the images' stream */
/* "Not converging": an iteration sent more than this share of the one before. */
#define SHRINK_MIN 0.9
/* P.Haul's fixed policy */
#define FIXED_SMALL_PAGES 64
#define FIXED_GROWTH	  1.1

void precopy_init(struct precopy *p, enum precopy_policy policy, uint64_t limit_us,
		  uint32_t max_iter, uint32_t page_size)
{
	*p = (struct precopy){
		.policy = policy,
		.limit_us = limit_us,
		.max_iter = max_iter,
		.page_size = page_size,
	};
}

const char *precopy_verdict_str(enum precopy_verdict v)
{
	switch (v) {
	case PRECOPY_CONTINUE: return "continue";
	case PRECOPY_THROTTLE: return "throttle";
	case PRECOPY_CONVERGED: return "predicted downtime under the limit";
	case PRECOPY_STALLED: return "dirty set stopped shrinking";
	case PRECOPY_NOT_CONVERGING: return "dirty set shrinks too slowly to meet the limit";
	case PRECOPY_THROTTLE_MAX: return "throttled to 99% and still over the limit";
	case PRECOPY_UNREACHABLE: return "fixed cost and restore alone exceed the limit";
	case PRECOPY_UNREACHABLE_FROZEN:
		return "no per-page cost could be fitted: the last pre-dump's whole frozen time "
		       "(pages included) and restore exceed the limit";
	case PRECOPY_MAX_ITER: return "iteration limit";
	case PRECOPY_FIXED_SMALL: return "64 pages or fewer left (fixed policy)";
	case PRECOPY_FIXED_GREW: return "an iteration grew by more than 10% (fixed policy)";
	}
	return "?";
}

int precopy_policy_parse(const char *s, enum precopy_policy *out)
{
	if (!strcmp(s, "predict"))
		*out = PRECOPY_PREDICT;
	else if (!strcmp(s, "fixed"))
		*out = PRECOPY_FIXED;
	else
		return -1;
	return 0;
}

bool precopy_fits(const struct precopy *p, enum precopy_verdict v)
{
	return p->policy == PRECOPY_FIXED || v == PRECOPY_CONVERGED;
}

/*
 * An iteration costs fixed + per_page * pages (freeze, collect, then the
 * pages through the relay). The first iteration and the latest one give the
 * two points, when they are far enough apart for the slope to mean
 * something (two near-equal page counts and noisy times give any slope at
 * all); else everything is per-page cost, and the fixed cost the latest
 * frozen time, pages and all. True when a slope was fitted.
 */
static bool cost_model(const struct precopy *p, const struct iter_report *it, double *fixed_us,
		       double *page_us)
{
	*fixed_us = it->frozen_us;
	*page_us = it->pages ? (double)it->usec / it->pages : 0;
	if (p->n > 1 && p->first_pages > 2 * it->pages) {
		double slope = ((double)p->first_usec - it->usec) / (p->first_pages - it->pages);

		if (slope > 0) {
			*page_us = slope;
			*fixed_us = it->usec - slope * it->pages;
			if (*fixed_us < it->frozen_us)
				*fixed_us = it->frozen_us;
			return true;
		}
	}
	return false;
}

static double restore_estimate(const struct precopy *p)
{
	if (p->restore_ns_per_page)
		return p->first_pages * (double)p->restore_ns_per_page / 1000;
	if (p->lazy_restore)
		return RESTORE_LAZY_FIXED_US + p->first_pages * (double)RESTORE_LAZY_NS_PER_PAGE / 1000;
	return RESTORE_FIXED_US + RESTORE_PER_FROZEN * (double)p->first_frozen_us;
}

uint64_t precopy_switch_us(const struct precopy *p)
{
	uint64_t dst = p->dst_overhead_us, src = p->src_commit_us;

	if (!dst)
		dst = p->lazy_restore ? SWITCH_DST_LAZY_US : SWITCH_DST_EAGER_US;
	if (!src)
		src = SWITCH_SRC_US + SWITCH_SRC_RTTS * p->rtt_us;
	return dst + p->rtt_us + src;
}

/*
 * Can the limit still be met without help? Not when an iteration sent
 * nearly as much as the one before, nor when, shrinking at the latest
 * ratio, the delta that fits the limit lies beyond the iteration limit.
 */
static bool converging(const struct precopy *p, const struct iter_report *it, double page_us)
{
	double ratio, fit_pages, pages = it->pages;
	uint32_t k;

	if (pages >= SHRINK_MIN * p->prev_pages)
		return false;
	if (p->n < 3 || page_us <= 0)
		return true;
	ratio = pages / p->prev_pages;
	fit_pages = (p->limit_us - (double)p->floor_us) / page_us;
	for (k = p->n; k < p->max_iter && pages > fit_pages; k++)
		pages *= ratio;
	return pages <= fit_pages;
}

static enum precopy_verdict next_fixed(const struct precopy *p, const struct iter_report *it)
{
	if (it->pages <= FIXED_SMALL_PAGES)
		return PRECOPY_FIXED_SMALL;
	if (p->n > 1 && it->pages > FIXED_GROWTH * p->prev_pages)
		return PRECOPY_FIXED_GREW;
	if (p->n >= p->max_iter)
		return PRECOPY_MAX_ITER;
	return PRECOPY_CONTINUE;
}

/*
 * Over the limit with nothing left to send: blame the fixed cost only when
 * one was fitted, or when restore and switch alone are over. Else it is
 * the latest pre-dump's whole frozen time that tips it over.
 */
static enum precopy_verdict unreachable(const struct precopy *p)
{
	if (!p->fitted && p->floor_us - p->fixed_us <= p->limit_us)
		return PRECOPY_UNREACHABLE_FROZEN;
	return PRECOPY_UNREACHABLE;
}

static enum precopy_verdict next_predict(struct precopy *p, const struct iter_report *it,
					 double page_us)
{
	bool over, stuck;

	if (p->n == 1)
		return p->n >= p->max_iter ? PRECOPY_MAX_ITER : PRECOPY_CONTINUE;
	if (it->predicted_downtime_us <= p->limit_us)
		return PRECOPY_CONVERGED;
	over = p->floor_us > p->limit_us;
	stuck = over || p->throttle_pct || !converging(p, it, page_us);
	if (stuck && !over && p->auto_converge && p->throttle_pct < PRECOPY_THROTTLE_TOP) {
		p->throttle_pct = p->throttle_pct ? p->throttle_pct + PRECOPY_THROTTLE_STEP :
						    PRECOPY_THROTTLE_FIRST;
		if (p->throttle_pct > PRECOPY_THROTTLE_TOP)
			p->throttle_pct = PRECOPY_THROTTLE_TOP;
		return PRECOPY_THROTTLE;
	}
	if (stuck && !p->allow_overrun) {
		if (over)
			return unreachable(p);
		if (p->throttle_pct)
			return PRECOPY_THROTTLE_MAX;
		return it->pages >= p->prev_pages ? PRECOPY_STALLED : PRECOPY_NOT_CONVERGING;
	}
	/* The limit will be missed anyway (and may be): the least downtime. */
	if (it->pages >= p->prev_pages)
		return PRECOPY_STALLED;
	if (p->n >= p->max_iter)
		return PRECOPY_MAX_ITER;
	return PRECOPY_CONTINUE;
}

enum precopy_verdict precopy_next(struct precopy *p, struct iter_report *it)
{
	double secs = it->usec ? it->usec / 1e6 : 1e-6;
	double next_pages, fixed_us, page_us, restore_us;
	enum precopy_verdict v;

	p->n++;
	if (p->n == 1) {
		p->first_pages = it->pages;
		p->first_usec = it->usec;
		p->first_frozen_us = it->frozen_us;
	}
	it->bw_bps = it->wire_bytes / secs;
	it->throttle_pct = p->throttle_pct;
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
	p->fitted = cost_model(p, it, &fixed_us, &page_us);
	p->switch_us = precopy_switch_us(p);
	restore_us = restore_estimate(p) + p->switch_us;
	p->fixed_us = (uint64_t)fixed_us;
	p->floor_us = (uint64_t)(fixed_us + restore_us);
	it->predicted_downtime_us = (uint64_t)(fixed_us + page_us * next_pages + restore_us);

	v = p->policy == PRECOPY_FIXED ? next_fixed(p, it) : next_predict(p, it, page_us);
	p->prev_pages = it->pages;
	p->prev_usec = it->usec;
	return v;
}
