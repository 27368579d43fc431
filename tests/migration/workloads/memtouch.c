// SPDX-License-Identifier: GPL-2.0
/*
 * memtouch: a migration workload that keeps dirtying memory at a known rate
 * and can prove that every page survived.
 *
 * N MiB of anonymous memory; page i always holds content(i, gen[i]), where
 * gen[] (a separate small mapping) counts the rewrites of each page.  Pages
 * are rewritten at --rate pages per second, in a scattered order; with
 * --hot N only the first N pages are, so the rest of the region is written
 * once and then stays idle (one unchanged run, which CRIU sends as a single
 * page-server entry without data however large).  A check
 * regenerates every page from gen[] and compares: a page that a migration
 * lost or restored stale shows up as a mismatch.
 *
 * Content: the first two words are the page index and generation, the rest
 * is a repeated word (compressible) or, with --random, the output of a PRNG
 * seeded from (seed, page, generation) (incompressible).
 *
 * Stalls: each page write (its gen[] word and the page, not the --spin work
 * before it) is timed; one that took STALL_NS or more waited on something
 * outside the program: in practice a page fault that had to fetch the page
 * (post-copy: from the source, over the link). The progress file counts
 * them since the workload arrived on its current host (stalls=, stall_ms=
 * in all, maxstall_ms= the longest). write_gap_ms= is the longest time
 * without a page write (CLOCK_REALTIME) around the last change of host:
 * the migration's gap as the work saw it, where migration_gap_ms (between
 * two ticks) also holds the rest of a tick's work, up to a tenth of a
 * second's worth of pages, which takes long for a --spin dirtier that
 * faults on them.
 *
 * With --serve PORT it also listens on TCP PORT (any address) and answers
 * each connection, between two ticks, with one line from its memory
 * ("served=N ticks=T dirtied=D host=H migrations=M") and closes it: a
 * network namespace's address is checked to answer from the process that
 * moved (its counters go on), not from a new one.
 */
#include "wl.h"
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>

#define PAGE 4096
#define WORDS (PAGE / 8)
#define STRIDE 7919	/* prime: i * STRIDE mod npages visits every page */
#define STALL_NS 1000000 /* a page write this slow waited (a fault served remotely) */

struct memtouch {
	struct wl w;
	size_t npages;
	size_t hot; /* pages rewritten after the fill: the first hot ones */
	uint64_t *mem;
	uint32_t *gen;
	double rate;
	int random;
	uint64_t seed;
	int corrupt;
	int exit_after_check;
	int thp;
	unsigned long spin; /* extra work per page written, splitmix rounds */
	uint64_t cursor;
	uint64_t dirtied;
	uint64_t checks;
	/* page writes of STALL_NS or more since the last change of host */
	uint64_t stalls;
	int64_t stall_ns, maxstall_ns;
	uint64_t seen_migrations;
	/* longest interval between two page writes: this tick's, the last */
	int64_t last_write_ns, maxw_ns, prev_maxw_ns, write_gap_ns;
	int port;	/* --serve: 0 none */
	int lfd;	/* its listening socket */
	uint64_t served;
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Word k of page p at generation g. */
static void fill_page(const struct memtouch *m, uint64_t *dst, uint64_t p, uint32_t g)
{
	uint64_t s;
	int k;

	dst[0] = p;
	dst[1] = g;
	if (!m->random) {
		s = splitmix(p ^ ((uint64_t)g << 40));
		for (k = 2; k < WORDS; k++)
			dst[k] = s;
		return;
	}
	s = splitmix(m->seed ^ splitmix(p ^ ((uint64_t)g << 40)));
	for (k = 2; k < WORDS; k++) {
		/* xorshift64 */
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		dst[k] = s;
	}
}

static void touch_page(struct memtouch *m, uint64_t p)
{
	volatile uint64_t sink = p;
	int64_t t0, dt;

	for (unsigned long i = 0; i < m->spin; i++)
		sink = splitmix(sink);
	t0 = mono_ns();
	m->gen[p]++;
	fill_page(m, m->mem + p * WORDS, p, m->gen[p]);
	dt = mono_ns() - t0;
	t0 = wl_now_ns();
	if (m->last_write_ns && t0 - m->last_write_ns > m->maxw_ns)
		m->maxw_ns = t0 - m->last_write_ns;
	m->last_write_ns = t0;
	if (dt >= STALL_NS) {
		m->stalls++;
		m->stall_ns += dt;
		if (dt > m->maxstall_ns)
			m->maxstall_ns = dt;
	}
	m->dirtied++;
}

static void verify(struct memtouch *m)
{
	static uint64_t want[WORDS];
	char report[1536];
	size_t n = 0, bad = 0, p;
	uint64_t *got;

	m->checks++;
	if (m->corrupt) {
		/* the harness's negative test: this check must fail */
		p = m->npages / 3;
		m->mem[p * WORDS + 7] ^= 0x5a5a5a5aULL;
		wl_log(&m->w, "corrupted page %zu on purpose", p);
	}
	for (p = 0; p < m->npages; p++) {
		got = m->mem + p * WORDS;
		fill_page(m, want, p, m->gen[p]);
		if (!memcmp(want, got, PAGE))
			continue;
		if (bad++ < 4 && n < sizeof(report) - 200)
			n += snprintf(report + n, sizeof(report) - n,
				      " page=%zu expected=gen:%u got=page:%llu,gen:%llu",
				      p, m->gen[p], (unsigned long long)got[0],
				      (unsigned long long)got[1]);
	}
	if (bad)
		wl_result(&m->w, "FAIL bad_pages=%zu of %zu:%s", bad, m->npages, report);
	else
		wl_result(&m->w, "PASS pages=%zu dirtied=%llu host=%s migrations=%llu "
			  "migration_gap_ms=%.3f maxgap_ms=%.3f",
			  m->npages, (unsigned long long)m->dirtied, m->w.host,
			  (unsigned long long)m->w.migrations, m->w.mig_gap_ns / 1e6,
			  m->w.maxgap_ns / 1e6);
}

static void serve_start(struct memtouch *m)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(m->port) };
	int one = 1;

	m->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->lfd < 0 || setsockopt(m->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(m->lfd, (struct sockaddr *)&a, sizeof(a)) || listen(m->lfd, 8))
		wl_die(&m->w, "listening on port %d: %s", m->port, strerror(errno));
}

/* Answer the connections waiting now; none is kept past the tick. */
static void serve_tick(struct memtouch *m)
{
	char line[256];
	int c, n;

	while ((c = accept4(m->lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		m->served++;
		n = snprintf(line, sizeof(line), "served=%llu ticks=%llu dirtied=%llu host=%s "
			     "migrations=%llu\n", (unsigned long long)m->served,
			     (unsigned long long)m->w.ticks, (unsigned long long)m->dirtied,
			     m->w.host, (unsigned long long)m->w.migrations);
		if (write(c, line, n) != n)
			wl_log(&m->w, "answer %llu: %s", (unsigned long long)m->served,
			       strerror(errno));
		close(c);
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: memtouch --mib N --rate PAGES_PER_SEC [options]\n"
		"  --random              incompressible page content\n"
		"  --seed N              PRNG seed for --random (default 1)\n"
		"  --exit-after-check    exit after the first check\n"
		"  --spin N              N rounds of computation per page written: a\n"
		"                        CPU-bound dirtier, as real programs are, whose\n"
		"                        dirty rate follows its CPU share\n"
		"  --hot N               rewrite only the first N pages after the fill\n"
		"                        (default: all); the rest stays idle\n"
		"  --thp                 allow transparent huge pages (a 4 KiB write\n"
		"                        then makes 2 MiB soft-dirty)\n"
		"  --corrupt-after-check-request  damage a page before checking\n"
		"  --serve PORT          answer each TCP connection to PORT with a line\n"
		"                        of its counters (served=N ticks=T ...)\n"
		WL_COMMON_USAGE);
	exit(2);
}

static void parse(struct memtouch *m, int argc, char **argv)
{
	static const struct option opts[] = {
		WL_COMMON_OPTS,
		{ "mib", required_argument, NULL, 'm' },
		{ "rate", required_argument, NULL, 'r' },
		{ "random", no_argument, NULL, 'R' },
		{ "seed", required_argument, NULL, 's' },
		{ "exit-after-check", no_argument, NULL, 'x' },
		{ "corrupt-after-check-request", no_argument, NULL, 'C' },
		{ "thp", no_argument, NULL, 'T' },
		{ "spin", required_argument, NULL, 'S' },
		{ "hot", required_argument, NULL, 'H' },
		{ "serve", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	long mib = 0, hot = -1;
	int c;

	m->seed = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (wl_common_opt(&m->w, c))
			continue;
		switch (c) {
		case 'm': mib = atol(optarg); break;
		case 'r': m->rate = atof(optarg); break;
		case 'R': m->random = 1; break;
		case 's': m->seed = strtoull(optarg, NULL, 0); break;
		case 'x': m->exit_after_check = 1; break;
		case 'C': m->corrupt = 1; break;
		case 'T': m->thp = 1; break;
		case 'S': m->spin = strtoul(optarg, NULL, 0); break;
		case 'H': hot = atol(optarg); break;
		case 'P': m->port = atoi(optarg); break;
		default: usage();
		}
	}
	if (mib <= 0 || mib > 65536 || m->rate < 0 || m->port < 0 || m->port > 65535 ||
	    optind != argc)
		usage();
	m->npages = (size_t)mib * (1024 * 1024 / PAGE);
	if (hot == 0 || hot > (long)m->npages)
		usage();
	m->hot = hot < 0 ? m->npages : (size_t)hot;
}

int main(int argc, char **argv)
{
	struct memtouch m = { .w = { .name = "memtouch" } };
	double budget = 0, burst;
	int64_t prev;
	size_t p;

	parse(&m, argc, argv);
	wl_daemonize(&m.w);

	m.mem = mmap(NULL, m.npages * PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	m.gen = mmap(NULL, m.npages * sizeof(*m.gen), PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m.mem == MAP_FAILED || m.gen == MAP_FAILED)
		wl_die(&m.w, "mmap %zu pages: %s", m.npages, strerror(errno));
	if (!m.thp && madvise(m.mem, m.npages * PAGE, MADV_NOHUGEPAGE))
		wl_die(&m.w, "madvise: %s", strerror(errno));
	for (p = 0; p < m.npages; p++)
		touch_page(&m, p);
	m.dirtied = 0;
	m.stalls = 0;
	m.stall_ns = m.maxstall_ns = 0;
	if (m.port)
		serve_start(&m);
	wl_log(&m.w, "%zu pages filled (%s), dirtying %.0f pages/s of the first %zu", m.npages,
	       m.random ? "random" : "pattern", m.rate, m.hot);
	wl_ready(&m.w);

	/* at most a tenth of a second's worth of pages per tick, so a long
	 * stop (a migration) is not followed by a burst */
	burst = m.rate / 10 + 1;
	prev = m.w.last_ns;
	for (;;) {
		int check, arrived = 0;

		m.prev_maxw_ns = m.maxw_ns;
		m.maxw_ns = 0;
		check = wl_tick(&m.w);
		if (m.w.migrations != m.seen_migrations) {
			/* arrived: count the stalls on this host only */
			m.seen_migrations = m.w.migrations;
			m.stalls = 0;
			m.stall_ns = m.maxstall_ns = 0;
			arrived = 1;
		}
		budget += m.rate * (m.w.last_ns - prev) / 1e9;
		prev = m.w.last_ns;
		if (budget > burst)
			budget = burst;
		while (budget >= 1) {
			touch_page(&m, (m.cursor++ * STRIDE) % m.hot);
			budget -= 1;
		}
		/* the stop was in the last tick's writes, or between them and
		 * this tick's first (it spanned the tick that saw the host) */
		if (arrived)
			m.write_gap_ns = m.prev_maxw_ns > m.maxw_ns ? m.prev_maxw_ns : m.maxw_ns;
		snprintf(m.w.extra, sizeof(m.w.extra),
			 "dirtied=%llu stalls=%llu stall_ms=%.3f maxstall_ms=%.3f write_gap_ms=%.3f",
			 (unsigned long long)m.dirtied, (unsigned long long)m.stalls,
			 m.stall_ns / 1e6, m.maxstall_ns / 1e6, m.write_gap_ns / 1e6);
		snprintf(m.w.extra, sizeof(m.w.extra), "dirtied=%llu",
			 (unsigned long long)m.dirtied);
		if (m.port)
			serve_tick(&m);
		if (check) {
			verify(&m);
			if (m.exit_after_check)
				return 0;
		}
	}
}
