// SPDX-License-Identifier: GPL-2.0
/*
 * shmem: two processes writing into one shared mapping, the memory CRIU
 * restores eagerly whatever the restore mode (shared anonymous memory, or
 * with --memfd a memfd mapped shared, its fd kept open).
 *
 * The parent writes the even pages, its forked child the odd ones, each
 * --rate pages per second, round robin; every page holds (writer, page,
 * seq) repeated over the whole page, and each writer keeps the last seq of
 * each of its pages in private memory (which may go lazy). On a check the
 * parent tells the child (a flag in page 0) to stop and verify its pages;
 * then it verifies its own: every page whole, and exactly what its writer
 * last wrote. Nothing forks after launch.
 */
#include "wl.h"
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#define PG 4096

struct hdr {
	volatile uint32_t stop;	     /* parent -> child: stop and verify */
	volatile uint32_t verdict;   /* child: 1 pass, 2 fail */
	volatile uint64_t child_seq; /* child's writes so far */
	volatile uint64_t bad_page;
	volatile uint64_t child_migrations;
};

struct shm {
	struct wl w;
	size_t pages; /* page 0 is the header */
	int memfd;
	uint8_t *map;
	uint64_t *last; /* private: last seq written per page */
	double rate;
};

static void fill(uint8_t *p, uint64_t role, uint64_t page, uint64_t seq)
{
	uint64_t v[4] = { role, page, seq, role ^ page ^ seq ^ 0x5a5a5a5a5a5a5a5aull };

	for (size_t i = 0; i < PG; i += sizeof(v))
		memcpy(p + i, v, sizeof(v));
}

/* 0 if every page of role holds exactly what was last written; else the page. */
static uint64_t check_pages(struct shm *s, uint64_t role)
{
	uint8_t want[PG];

	for (uint64_t pg = 2 - role; pg < s->pages; pg += 2) {
		fill(want, role, pg, s->last[pg]);
		if (s->last[pg] && memcmp(s->map + pg * PG, want, PG))
			return pg;
	}
	return 0;
}

/* Write n pages of role, round robin from *next. */
static void write_some(struct shm *s, uint64_t role, uint64_t *next, uint64_t *seq, uint64_t n)
{
	while (n--) {
		uint64_t pg = *next;

		s->last[pg] = ++*seq;
		fill(s->map + pg * PG, role, pg, *seq);
		*next = pg + 2 < s->pages ? pg + 2 : 2 - role;
	}
}

/* The child: odd pages (role 1) until told to stop, then verify them. */
static void child(struct shm *s)
{
	struct hdr *h = (struct hdr *)s->map;
	uint64_t next = 1, seq = 0;
	double budget = 0;

	prctl(PR_SET_NAME, "shmem-child");
	for (;;) {
		poll(NULL, 0, WL_TICK_MS);
		if (h->stop) {
			uint64_t bad = check_pages(s, 1);

			h->bad_page = bad;
			h->verdict = bad ? 2 : 1;
			while (h->stop)
				poll(NULL, 0, WL_TICK_MS);
			h->verdict = 0;
			continue;
		}
		budget += s->rate * WL_TICK_MS / 1000.0;
		write_some(s, 1, &next, &seq, (uint64_t)budget);
		budget -= (uint64_t)budget;
		h->child_seq = seq;
	}
}

static void verify(struct shm *s, uint64_t seq, uint64_t mig_child_seq)
{
	struct hdr *h = (struct hdr *)s->map;
	uint64_t bad;
	int i;

	h->stop = 1;
	for (i = 0; i < 2000 && !h->verdict; i++)
		poll(NULL, 0, 10);
	if (!h->verdict)
		wl_result(&s->w, "FAIL the child did not answer in 20 s");
	else if (h->verdict == 2)
		wl_result(&s->w, "FAIL child's page %llu is not what it wrote",
			  (unsigned long long)h->bad_page);
	else if ((bad = check_pages(s, 0)))
		wl_result(&s->w, "FAIL parent's page %llu is not what it wrote",
			  (unsigned long long)bad);
	else if (s->w.migrations && h->child_seq <= mig_child_seq)
		wl_result(&s->w, "FAIL the child wrote nothing after the migration");
	else
		wl_result(&s->w,
			  "PASS %s pages=%zu parent_seq=%llu child_seq=%llu migrations=%llu host=%s "
			  "migration_gap_ms=%.3f",
			  s->memfd >= 0 ? "memfd" : "shared-anon", s->pages,
			  (unsigned long long)seq, (unsigned long long)h->child_seq,
			  (unsigned long long)s->w.migrations, s->w.host, s->w.mig_gap_ns / 1e6);
	h->stop = 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: shmem [--mib N] [--rate PAGES] [--memfd] [options]\n"
			"  --mib N       shared mapping size (default 16)\n"
			"  --rate N      pages written per second by each process (default 500)\n"
			"  --memfd       a memfd mapped shared instead of shared anonymous memory\n"
			WL_COMMON_USAGE);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		WL_COMMON_OPTS,
		{ "mib", required_argument, NULL, 'm' },
		{ "rate", required_argument, NULL, 'r' },
		{ "memfd", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 }
	};
	struct shm s = { .w = { .name = "shmem" }, .memfd = -1, .rate = 500 };
	uint64_t mib = 16, next = 2, seq = 0, mig_child_seq = 0, last_mig = 0;
	int c, use_memfd = 0;
	size_t len;
	double budget = 0;
	pid_t pid;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (wl_common_opt(&s.w, c))
			continue;
		switch (c) {
		case 'm': mib = strtoull(optarg, NULL, 10); break;
		case 'r': s.rate = atof(optarg); break;
		case 'f': use_memfd = 1; break;
		default: usage();
		}
	}
	if (!mib || mib > 4096 || s.rate <= 0 || optind != argc)
		usage();
	wl_daemonize(&s.w);
	len = mib << 20;
	s.pages = len / PG;
	if (use_memfd) {
		s.memfd = (int)syscall(SYS_memfd_create, "wl-shmem", 0);
		if (s.memfd < 0 || ftruncate(s.memfd, (off_t)len))
			wl_die(&s.w, "memfd: %s", strerror(errno));
		s.map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, s.memfd, 0);
	} else {
		s.map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	}
	s.last = calloc(s.pages, sizeof(*s.last));
	if (s.map == MAP_FAILED || !s.last)
		wl_die(&s.w, "mmap %llu MiB: %s", (unsigned long long)mib, strerror(errno));
	/* every page written once before anything else: nothing is sparse */
	write_some(&s, 0, &next, &seq, s.pages / 2 - 1);
	pid = fork();
	if (pid < 0)
		wl_die(&s.w, "fork: %s", strerror(errno));
	if (pid == 0) {
		uint64_t n = 1, q = 0;

		write_some(&s, 1, &n, &q, s.pages / 2);
		((struct hdr *)s.map)->child_seq = q;
		child(&s);
	}
	wl_log(&s.w, "%s, %llu MiB, child %d", use_memfd ? "memfd" : "shared anonymous",
	       (unsigned long long)mib, pid);
	wl_ready(&s.w);
	for (;;) {
		int check = wl_tick(&s.w);

		if (s.w.migrations != last_mig) {
			last_mig = s.w.migrations;
			mig_child_seq = ((struct hdr *)s.map)->child_seq;
		}
		budget += s.rate * WL_TICK_MS / 1000.0;
		write_some(&s, 0, &next, &seq, (uint64_t)budget);
		budget -= (uint64_t)budget;
		if (check)
			verify(&s, seq, mig_child_seq);
		if (waitpid(pid, NULL, WNOHANG) != 0)
			wl_die(&s.w, "the child died");
	}
}
