// SPDX-License-Identifier: GPL-2.0
/*
 * Fleet simulation of phaul balance: 100 hosts, 1000 CTs, one balancer run
 * per round (cron every 10 minutes), driving the real decision code
 * (bal_decide, bal_why_not, the state's per-CT records). A move takes
 * effect before the next round. Four load traces:
 *
 *   steady   CTs placed unevenly, loads constant: the spread must fall
 *            under the threshold within a bounded number of rounds
 *   diurnal  two halves of the fleet peak 12 hours apart
 *   spike    a balanced fleet; one host's own load jumps at round 20
 *   noisy    a balanced fleet with noise and one-round bursts above the
 *            threshold: nothing may move
 *
 * Per round (with --csv DIR, into DIR/SCENARIO.csv): spread, moves, and
 * ping-pong (a CT moved back to a host it left within the cooldown).
 * Asserts: bounded convergence, no ping-pong, at most max_moves per
 * round, no move on noise. Last line: "N passed, N failed".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balance.h"

#define NHOSTS	 100
#define NCTS	 1000
#define ROUND_S	 600 /* cron every 10 minutes */
#define DAY	 (86400 / ROUND_S)
#define GIB	 (1024.0 * 1024.0)
#define MAX_MOVE 8 /* max_moves for a fleet this size */

struct sim_ct {
	double cpu, rss_gib; /* its own demand */
	int host;
};

struct sim {
	const char *name;
	struct bal_params p;
	struct sim_ct ct[NCTS];
	double bg[NHOSTS]; /* each host's own load outside the CTs */
	struct bal_state st;
	unsigned held;
	int rounds;
	/* results */
	double spread0, last_spread;
	int first_under; /* first round under the threshold, -1 never */
	int moves, max_round_moves, pingpong, first_move;
	FILE *csv;
};

static unsigned long long rng = 88172645463325252ull;

static double frand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / (double)(1ull << 53);
}

static int pass, fail;

static void expect(bool ok, const char *scen, const char *what)
{
	printf("%s %s: %s\n", ok ? "ok  " : "FAIL", scen, what);
	if (ok)
		pass++;
	else
		fail++;
}

/* The CTs' load this round, as the agents would report it. */
typedef double (*load_fn)(struct sim *s, int ct, int round);

static double flat(struct sim *s, int ct, int round)
{
	return s->ct[ct].cpu;
}

static double diurnal(struct sim *s, int ct, int round)
{
	/* two user populations, 12 hours apart; placed evenly, odd CTs on odd hosts */
	return s->ct[ct].cpu * (1.0 + 0.6 * sin(2 * M_PI * round / DAY + (ct % 2 ? M_PI : 0)));
}

static double noisy(struct sim *s, int ct, int round)
{
	return s->ct[ct].cpu * (0.93 + 0.14 * frand());
}

static int round_once(struct sim *s, int round, load_fn load, double *bg_extra)
{
	static struct bal_ct cts[NHOSTS][NCTS];
	static int ctid[NHOSTS][NCTS];
	struct bal_host h[NHOSTS];
	struct bal_decision d;
	time_t now = (time_t)round * ROUND_S + 1000000;
	int n;

	memset(h, 0, sizeof(h));
	for (int i = 0; i < NHOSTS; i++) {
		snprintf(h[i].name, sizeof(h[i].name), "h%02d", i);
		h[i].up = true;
		h[i].ncpu = 16;
		h[i].mem_total_kb = (uint64_t)(64 * GIB);
		h[i].load1 = s->bg[i] + (bg_extra ? bg_extra[i] : 0);
		h[i].mem_avail_kb = (uint64_t)(62 * GIB);
		h[i].cts = cts[i];
	}
	for (int c = 0; c < NCTS; c++) {
		struct bal_host *hh = &h[s->ct[c].host];
		struct bal_ct *b = &cts[s->ct[c].host][hh->ncts];

		ctid[s->ct[c].host][hh->ncts++] = c;
		snprintf(b->name, sizeof(b->name), "lxc:ct%04d", c);
		b->cpu = load(s, c, round);
		b->rss_kb = (uint64_t)(s->ct[c].rss_gib * GIB);
		b->why_not = bal_why_not(&s->p, bal_state_ct(&s->st, b->name, false), now);
		b->movable = !b->why_not;
		hh->load1 += b->cpu;
		hh->mem_avail_kb -= b->rss_kb;
	}
	bal_decide(&s->p, h, NHOSTS, s->held, NULL, NULL, &d);
	s->held = d.held;
	n = (int)d.nmoves;
	for (int k = 0; k < n; k++) {
		struct bal_move *m = &d.moves[k];
		int c = ctid[m->src][m->ct];
		struct bal_ct_state *cs = bal_state_ct(&s->st, cts[m->src][m->ct].name, true);

		if (cs->moved_at && now - cs->moved_at < (time_t)s->p.cooldown_s &&
		    !strcmp(cs->from, h[m->dst].name))
			s->pingpong++;
		cs->moved_at = now;
		snprintf(cs->from, sizeof(cs->from), "%s", h[m->src].name);
		s->ct[c].host = (int)m->dst;
	}
	if (round == 0)
		s->spread0 = d.spread;
	if (s->first_under < 0 && d.spread < s->p.threshold)
		s->first_under = round;
	if (n && s->first_move < 0)
		s->first_move = round;
	s->last_spread = d.spread;
	s->moves += n;
	if (n > s->max_round_moves)
		s->max_round_moves = n;
	if (s->csv)
		fprintf(s->csv, "%d,%.4f,%.4f,%.4f,%d,%d\n", round, d.spread, d.max, d.min, n,
			s->pingpong);
	return n;
}

static void sim_init(struct sim *s, const char *name, const char *csvdir)
{
	struct bal_config b;
	char path[512];

	memset(s, 0, sizeof(*s));
	s->name = name;
	bal_config_defaults(&b);
	s->p = b.p;
	s->p.max_moves = MAX_MOVE;
	s->first_under = s->first_move = -1;
	s->st.lock_fd = -1;
	if (csvdir) {
		snprintf(path, sizeof(path), "%s/%s.csv", csvdir, name);
		s->csv = fopen(path, "w");
		if (s->csv)
			fprintf(s->csv, "round,spread,max,min,moves,pingpong\n");
	}
}

/* Same demand everywhere: 10 CTs per host, each about 1 CPU, 1-3 GiB. */
static void place_even(struct sim *s)
{
	for (int c = 0; c < NCTS; c++) {
		s->ct[c].cpu = 1.0;
		s->ct[c].rss_gib = 2.0;
		s->ct[c].host = c % NHOSTS;
	}
	for (int i = 0; i < NHOSTS; i++)
		s->bg[i] = 0.5;
}

static void sim_end(struct sim *s)
{
	printf("%-8s rounds %3d  spread %.3f -> %.3f  under threshold at round %d  moves %d "
	       "(max %d a round, first at %d)  ping-pong %d\n",
	       s->name, s->rounds, s->spread0, s->last_spread, s->first_under, s->moves,
	       s->max_round_moves, s->first_move, s->pingpong);
	expect(s->max_round_moves <= (int)s->p.max_moves, s->name, "at most max_moves a round");
	expect(s->pingpong == 0, s->name, "no CT moved back within its cooldown");
	if (s->csv)
		fclose(s->csv);
	free(s->st.cts);
}

static void steady(const char *csv)
{
	struct sim s;

	sim_init(&s, "steady", csv);
	/* uneven: a third of the hosts hold most of the CTs, sizes vary */
	for (int c = 0; c < NCTS; c++) {
		s.ct[c].cpu = 0.2 + 1.6 * frand();
		s.ct[c].rss_gib = 0.5 + 3.0 * frand();
		s.ct[c].host =
			frand() < 0.6 ? (int)(frand() * NHOSTS / 3) : (int)(frand() * NHOSTS);
	}
	for (int i = 0; i < NHOSTS; i++)
		s.bg[i] = 0.5;
	for (s.rounds = 0; s.rounds < 300; s.rounds++)
		round_once(&s, s.rounds, flat, NULL);
	expect(s.spread0 >= s.p.threshold, "steady", "starts imbalanced");
	expect(s.first_under >= 0 && s.first_under <= 100, "steady",
	       "spread under the threshold within 100 rounds");
	expect(s.last_spread < s.p.threshold, "steady", "and stays there");
	expect(s.first_move == (int)s.p.hold_runs - 1, "steady", "first move after hold_runs");
	sim_end(&s);
}

static void diurnal_run(const char *csv)
{
	int over[3] = { 0 }, moves[3] = { 0 };
	struct sim s;

	sim_init(&s, "diurnal", csv);
	place_even(&s);
	for (int c = 0; c < NCTS; c++)
		s.ct[c].cpu = 0.5 + frand();
	for (s.rounds = 0; s.rounds < 3 * DAY; s.rounds++) {
		moves[s.rounds / DAY] += round_once(&s, s.rounds, diurnal, NULL);
		over[s.rounds / DAY] += s.last_spread >= s.p.threshold;
	}
	printf("diurnal  per day: moves %d %d %d, rounds over the threshold %d %d %d (of %d)\n",
	       moves[0], moves[1], moves[2], over[0], over[1], over[2], DAY);
	/* Moving mixes the two populations on every host: the cycle cancels out. */
	expect(moves[2] < moves[0] / 2, "diurnal", "day 3 needs under half the moves of day 1");
	expect(over[2] < over[0], "diurnal", "day 3 spends fewer rounds over the threshold");
	sim_end(&s);
}

static void spike(const char *csv)
{
	struct sim s;
	double extra[NHOSTS] = { 0 };
	int before = 0, settled = -1;

	sim_init(&s, "spike", csv);
	place_even(&s);
	for (s.rounds = 0; s.rounds < 120; s.rounds++) {
		extra[0] = s.rounds >= 20 ? 12.0 : 0; /* its own load, not a CT's */
		if (round_once(&s, s.rounds, flat, extra) && s.rounds < 20)
			before++;
		if (s.rounds > 20 && settled < 0 && s.last_spread < s.p.threshold)
			settled = s.rounds;
	}
	printf("spike    back under the threshold at round %d\n", settled);
	expect(settled > 20 && settled <= 40, "spike", "back under the threshold within 20 rounds");
	expect(before == 0, "spike", "nothing moves before the spike");
	expect(s.first_move >= 20 + (int)s.p.hold_runs - 1, "spike",
	       "the first move waits hold_runs after the spike");
	expect(s.last_spread < s.p.threshold, "spike", "spread back under the threshold");
	sim_end(&s);
}

static void noisy_run(const char *csv)
{
	struct sim s;
	double extra[NHOSTS];

	sim_init(&s, "noisy", csv);
	place_even(&s);
	for (s.rounds = 0; s.rounds < 2 * DAY; s.rounds++) {
		memset(extra, 0, sizeof(extra));
		/* a one-round burst on a random host every 4th round */
		if (s.rounds % 4 == 3)
			extra[(int)(frand() * NHOSTS)] = 10.0;
		round_once(&s, s.rounds, noisy, extra);
	}
	expect(s.moves == 0, "noisy", "nothing moves on noise and one-round bursts");
	sim_end(&s);
}

int main(int argc, char **argv)
{
	const char *csv = argc == 3 && !strcmp(argv[1], "--csv") ? argv[2] : NULL;

	steady(csv);
	diurnal_run(csv);
	spike(csv);
	noisy_run(csv);
	printf("%d passed, %d failed\n", pass, fail);
	return fail != 0;
}
