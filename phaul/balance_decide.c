// SPDX-License-Identifier: GPL-2.0
/*
 * The balancer's decision: scores, the imbalance and whether it has held,
 * and at most max_moves moves, each the one that closes the widest gap
 * without overloading its target. No I/O: phaul balance and the fleet
 * simulation (tests/sim) run exactly this.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balance.h"

double bal_score_with(const struct bal_params *p, const struct bal_host *h, double delta_kb,
		      double delta_cpu)
{
	double mem = 0, cpu = 0, used;

	if (h->mem_total_kb) {
		used = (double)h->mem_total_kb - (double)h->mem_avail_kb + delta_kb;
		mem = used / (double)h->mem_total_kb;
	}
	if (h->ncpu)
		cpu = (h->load1 + delta_cpu) / h->ncpu;
	mem = mem < 0 ? 0 : mem;
	cpu = cpu < 0 ? 0 : cpu;
	if (p->use_psi && h->has_psi)
		return (mem + cpu + (h->psi_cpu + h->psi_mem + h->psi_io) / 300.0) / 3.0;
	return (mem + cpu) / 2.0;
}

const char *bal_why_not(const struct bal_params *p, const struct bal_ct_state *s, time_t now)
{
	if (s && s->moved_at && now - s->moved_at < (time_t)p->cooldown_s)
		return "cooling down after its last move (cooldown)";
	if (s && s->failed_at && now - s->failed_at < (time_t)p->fail_backoff_s)
		return "failed to move recently (fail_backoff)";
	return NULL;
}

double bal_score(const struct bal_params *p, const struct bal_host *h)
{
	return bal_score_with(p, h, 0, 0);
}

static void skip(struct bal_decision *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void skip(struct bal_decision *d, const char *fmt, ...)
{
	va_list ap;

	if (d->nskips == BAL_SKIPS_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(d->skips[d->nskips++].text, sizeof(d->skips[0].text), fmt, ap);
	va_end(ap);
}

/* Where the hosts stand with the moves chosen so far (dkb, dcpu per host). */
struct plan {
	const struct bal_params *p;
	struct bal_host *h;
	size_t n;
	double *dkb, *dcpu, *score;
	size_t nup;
};

static double plan_score(const struct plan *pl, size_t i)
{
	return bal_score_with(pl->p, &pl->h[i], pl->dkb[i], pl->dcpu[i]);
}

/* Spread of the up hosts; false when fewer than two are up. */
static bool spread(struct plan *pl, size_t *imax, size_t *imin, double *out)
{
	size_t i, nup = 0;

	for (i = 0; i < pl->n; i++) {
		if (!pl->h[i].up)
			continue;
		pl->score[i] = plan_score(pl, i);
		if (!nup || pl->score[i] > pl->score[*imax])
			*imax = i;
		if (!nup || pl->score[i] < pl->score[*imin])
			*imin = i;
		nup++;
	}
	if (nup < 2)
		return false;
	pl->nup = nup;
	*out = pl->score[*imax] > 0 ? (pl->score[*imax] - pl->score[*imin]) / pl->score[*imax] : 0;
	return true;
}

static bool already_moving(const struct bal_decision *d, size_t src, size_t ct)
{
	for (size_t i = 0; i < d->nmoves; i++)
		if (d->moves[i].src == src && d->moves[i].ct == ct)
			return true;
	return false;
}

/* The move of ct from src to dst, predicted; false when it does not qualify. */
static bool try_move(const struct plan *pl, struct bal_decision *d, size_t src, size_t dst,
		     size_t ci, struct bal_move *m)
{
	const struct bal_ct *ct = &pl->h[src].cts[ci];
	double gap = pl->score[src] - pl->score[dst];

	if (gap <= 0)
		return false;
	m->src = src;
	m->dst = dst;
	m->ct = ci;
	m->src_before = pl->score[src];
	m->dst_before = pl->score[dst];
	m->src_after = bal_score_with(pl->p, &pl->h[src], pl->dkb[src] - (double)ct->rss_kb,
				      pl->dcpu[src] - ct->cpu);
	m->dst_after = bal_score_with(pl->p, &pl->h[dst], pl->dkb[dst] + (double)ct->rss_kb,
				      pl->dcpu[dst] + ct->cpu);
	/* What the pair's gap shrinks by, in score points. */
	m->gain = gap - fabs(m->src_after - m->dst_after);
	if (m->dst_after >= pl->p->max_target_score) {
		if (dst == d->imin)
			skip(d, "%s -> %s: target would reach score %.3f (max_target_score %.3f)",
			     ct->name, pl->h[dst].name, m->dst_after, pl->p->max_target_score);
		return false;
	}
	if (m->gain < pl->p->min_gain) {
		if (dst == d->imin)
			skip(d, "%s -> %s: gain %.3f < min_gain %.3f", ct->name, pl->h[dst].name,
			     m->gain, pl->p->min_gain);
		return false;
	}
	return true;
}

/* The best move off src, compatibility checked for the winner only. */
static bool best_from(const struct plan *pl, struct bal_decision *d, size_t src,
		      bal_compat_fn compat, void *arg, struct bal_move *best)
{
	struct bal_host *s = &pl->h[src];
	bool found = false;
	char why[160];

	for (size_t ci = 0; ci < s->ncts; ci++) {
		if (!s->cts[ci].movable) {
			if (src == d->imax)
				skip(d, "%s on %s: %s", s->cts[ci].name, s->name,
				     s->cts[ci].why_not ? s->cts[ci].why_not : "not movable");
			continue;
		}
		if (already_moving(d, src, ci))
			continue;
		for (size_t t = 0; t < pl->n; t++) {
			struct bal_move m;

			if (t == src || !pl->h[t].up || !try_move(pl, d, src, t, ci, &m))
				continue;
			if (found && m.gain <= best->gain)
				continue;
			why[0] = '\0';
			if (compat && !compat(arg, src, t, &s->cts[ci], why, sizeof(why))) {
				skip(d, "%s -> %s: %s", s->cts[ci].name, pl->h[t].name,
				     why[0] ? why : "incompatible");
				continue;
			}
			*best = m;
			found = true;
		}
	}
	return found;
}

static void pick_moves(const struct bal_params *p, struct plan *pl, struct bal_decision *d,
		       bal_compat_fn compat, void *arg)
{
	size_t *order = malloc(pl->n * sizeof(*order));
	size_t i, j, no = 0;

	if (!order) {
		snprintf(d->why, sizeof(d->why), "out of memory: no move");
		return;
	}
	while (d->nmoves < p->max_moves && d->nmoves < BAL_MOVES_MAX) {
		struct bal_move m;
		bool found = false;
		double sp;

		if (!spread(pl, &d->imax, &d->imin, &sp) || sp < p->threshold)
			break;
		/* Busiest first: order the up hosts by score, descending. */
		for (i = no = 0; i < pl->n; i++)
			if (pl->h[i].up)
				order[no++] = i;
		for (i = 1; i < no; i++)
			for (j = i; j > 0 && pl->score[order[j]] > pl->score[order[j - 1]]; j--) {
				size_t x = order[j];
				order[j] = order[j - 1];
				order[j - 1] = x;
			}
		for (i = 0; i < no && !found; i++) {
			size_t src = order[i];

			if ((pl->score[src] - pl->score[d->imin]) / pl->score[d->imax] <
			    p->threshold)
				break;
			found = best_from(pl, d, src, compat, arg, &m);
		}
		if (!found)
			break;
		d->moves[d->nmoves++] = m;
		pl->dkb[m.src] -= (double)pl->h[m.src].cts[m.ct].rss_kb;
		pl->dcpu[m.src] -= pl->h[m.src].cts[m.ct].cpu;
		pl->dkb[m.dst] += (double)pl->h[m.src].cts[m.ct].rss_kb;
		pl->dcpu[m.dst] += pl->h[m.src].cts[m.ct].cpu;
	}
	free(order);
}

void bal_decide(const struct bal_params *p, struct bal_host *hosts, size_t nhosts,
		unsigned held_before, bal_compat_fn compat, void *arg, struct bal_decision *d)
{
	struct plan pl = { .p = p, .h = hosts, .n = nhosts };
	size_t i, imax, imin;
	double *buf;

	memset(d, 0, sizeof(*d));
	buf = calloc(3 * (nhosts ? nhosts : 1), sizeof(double));
	if (!buf) {
		snprintf(d->why, sizeof(d->why), "out of memory: no decision");
		return;
	}
	pl.dkb = buf;
	pl.dcpu = buf + nhosts;
	pl.score = buf + 2 * nhosts;
	if (!spread(&pl, &d->imax, &d->imin, &d->spread)) {
		d->nup = 0;
		snprintf(d->why, sizeof(d->why),
			 "fewer than two hosts answered: nothing to compare");
		goto out;
	}
	d->nup = pl.nup;
	for (i = 0; i < nhosts; i++)
		hosts[i].score = pl.score[i];
	d->max = pl.score[d->imax];
	d->min = pl.score[d->imin];
	d->imbalanced = d->spread >= p->threshold;
	d->held = d->imbalanced ? held_before + 1 : 0;
	if (!d->imbalanced) {
		snprintf(d->why, sizeof(d->why), "balanced: spread %.3f < threshold %.3f",
			 d->spread, p->threshold);
		goto out;
	}
	if (d->held < p->hold_runs) {
		snprintf(d->why, sizeof(d->why),
			 "imbalanced (spread %.3f >= %.3f) for %u of %u runs: waiting", d->spread,
			 p->threshold, d->held, p->hold_runs);
		goto out;
	}
	imax = d->imax;
	imin = d->imin;
	pick_moves(p, &pl, d, compat, arg);
	/* The report names the hosts as they stand now, not as planned. */
	d->imax = imax;
	d->imin = imin;
	if (d->nmoves)
		snprintf(d->why, sizeof(d->why),
			 "imbalanced (spread %.3f >= %.3f) for %u runs: %zu move%s", d->spread,
			 p->threshold, d->held, d->nmoves, d->nmoves == 1 ? "" : "s");
	else if (!d->why[0])
		snprintf(d->why, sizeof(d->why),
			 "imbalanced (spread %.3f >= %.3f) but no move qualifies (gain >= %.3f, "
			 "target below %.3f, compatible, movable)",
			 d->spread, p->threshold, p->min_gain, p->max_target_score);
out:
	free(buf);
}
