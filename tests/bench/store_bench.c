// SPDX-License-Identifier: GPL-2.0
/*
 * store_bench: the flat page store's write path (engine/pstore.h) with
 * io_uring against the plain pwrite fallback, in one run on this host (no
 * CRIU needed: the page-server stream is built here as CRIU writes it).
 *
 *   store_bench [--mib N] [--dir DIR] [--dirty PCT] [--reps R]
 *
 * Per backend: one full session (every page sent, N MiB), then one
 * session re-sending PCT % of the pages (the rest in parent), in place.
 * Prints MiB/s and CPU seconds per GiB (user + system) per backend, best of
 * R, and the ratios io_uring / pwrite. DIR: where the store writes
 * (default /var/tmp; a tmpfs such as /dev/shm measures the CPU side only).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "caps.h"
#include "err.h"
#include "engine/pstore.h"
#include "util.h"

#define PG   4096u
#define BASE 0x7f0000000000ull
#define DST  ((5ull << PS_TYPE_BITS) | PS_TYPE_PID)
#define RUN  64 /* pages per entry, like CRIU's page pipe buffers */

struct src {
	uint64_t pages, next, dirty_every;
	int phase; /* 0 open, 1 entries, 2 close, 3 done */
	uint32_t left_in_entry;
	bool full;
	uint8_t page[PG];
};

static void put_hdr(uint8_t *b, uint32_t cmd, uint32_t nr, uint64_t va, uint64_t dst)
{
	memcpy(b, &cmd, 4);
	memcpy(b + 4, &nr, 4);
	memcpy(b + 8, &va, 8);
	memcpy(b + 16, &dst, 8);
}

/* One record of the stream: headers and pages, up to cap bytes. */
static long next_rec(struct src *s, uint8_t *buf, size_t cap)
{
	size_t n = 0;

	while (n + PSX_HDR_SIZE + PG <= cap && s->phase < 3) {
		if (s->phase == 0) {
			put_hdr(buf + n, PS_IOV_OPEN2, 0, 0, DST);
			n += PSX_HDR_SIZE;
			s->phase = 1;
		} else if (s->phase == 2) {
			put_hdr(buf + n, PS_IOV_FORCE_CLOSE, 0, 0, 0);
			n += PSX_HDR_SIZE;
			s->phase = 3;
		} else if (s->left_in_entry) {
			memcpy(buf + n, s->page, PG);
			n += PG;
			s->left_in_entry--;
		} else if (s->next >= s->pages) {
			s->phase = 2;
		} else {
			uint32_t nr =
				s->pages - s->next < RUN ? (uint32_t)(s->pages - s->next) : RUN;
			bool dirty = s->full || (s->next / RUN) % s->dirty_every == 0;
			uint32_t flags = dirty ? PSX_PE_PRESENT : PSX_PE_PARENT;

			put_hdr(buf + n, (flags << PS_CMD_BITS) | PS_IOV_ADD_F, nr,
				BASE + s->next * PG, DST);
			n += PSX_HDR_SIZE;
			s->left_in_entry = dirty ? nr : 0;
			s->next += nr;
		}
	}
	return (long)n;
}

static int io_send(void *arg, const void *buf, size_t len)
{
	return 0;
}
static int io_eof(void *arg)
{
	return 0;
}
static long io_recv(void *arg, void *buf, size_t cap, int timeout_ms)
{
	return next_rec(arg, buf, cap);
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct result {
	double mibs, cpu_per_gib, delta_ms;
};

/* One store, two sessions; the full one is timed for throughput and CPU. */
static int run_once(const char *dir, enum pio_backend be, uint64_t pages, uint64_t dirty_pct,
		    struct result *r)
{
	char sd[4096];
	struct pstore *st;
	struct psx_parser p;
	struct src s = { .pages = pages, .full = true };
	struct relay_io io = { io_send, io_eof, io_recv, &s };
	double w0, c0, w1;
	int ret;

	snprintf(sd, sizeof(sd), "%s/store-bench.%d", dir, (int)getpid());
	memset(s.page, 0xa5, sizeof(s.page));
	if ((ret = pstore_open(&st, sd, be)) < 0)
		return ret;
	psx_init(&p, PG);
	w0 = wall_s();
	c0 = cpu_s();
	ret = pstore_session(st, &p, &io, 10000);
	w1 = wall_s();
	r->mibs = pages * (double)PG / 1048576 / (w1 - w0);
	r->cpu_per_gib = (cpu_s() - c0) / (pages * (double)PG / 1073741824);
	if (ret == 0) {
		s = (struct src){ .pages = pages,
				  .full = false,
				  .dirty_every = dirty_pct ? 100 / dirty_pct : pages };
		memset(s.page, 0x5a, sizeof(s.page));
		io.arg = &s;
		psx_init(&p, PG);
		w0 = wall_s();
		ret = pstore_session(st, &p, &io, 10000);
		r->delta_ms = (wall_s() - w0) * 1e3;
	}
	if (ret == 0)
		ret = pstore_write_images(st);
	pstore_close(st);
	rm_tree(sd);
	return ret;
}

int main(int argc, char **argv)
{
	const char *dir = "/var/tmp";
	uint64_t mib = 1024, dirty = 10, reps = 3;
	struct result best[3] = { { 0 } };
	const char *name[3] = { "", "io_uring", "pwrite" };

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--mib"))
			mib = strtoull(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--dir"))
			dir = argv[i + 1];
		else if (!strcmp(argv[i], "--dirty"))
			dirty = strtoull(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--reps"))
			reps = strtoull(argv[i + 1], NULL, 10);
	}
	if (!mib || dirty > 100 || !reps) {
		fprintf(stderr,
			"usage: store_bench [--mib N] [--dir DIR] [--dirty PCT] [--reps R]\n");
		return 2;
	}
	for (int be = PIO_URING; be <= PIO_PLAIN; be++) {
		for (uint64_t k = 0; k < reps; k++) {
			struct result r;
			int ret = run_once(dir, be, mib * 256, dirty, &r);

			if (ret < 0) {
				fprintf(stderr, "store_bench: %s: %s\n", name[be], ph_errmsg());
				return 1;
			}
			if (r.mibs > best[be].mibs)
				best[be].mibs = r.mibs;
			if (!best[be].cpu_per_gib || r.cpu_per_gib < best[be].cpu_per_gib)
				best[be].cpu_per_gib = r.cpu_per_gib;
			if (!best[be].delta_ms || r.delta_ms < best[be].delta_ms)
				best[be].delta_ms = r.delta_ms;
		}
		printf("%-9s %8.0f MiB/s  %6.3f CPU s/GiB  %d%% dirty delta in place %7.1f ms\n",
		       name[be], best[be].mibs, best[be].cpu_per_gib, (int)dirty,
		       best[be].delta_ms);
	}
	printf("ratio io_uring/pwrite: throughput %.2fx, CPU per GiB %.2fx (%llu MiB in %s, best "
	       "of "
	       "%llu)\n",
	       best[PIO_URING].mibs / best[PIO_PLAIN].mibs,
	       best[PIO_URING].cpu_per_gib / best[PIO_PLAIN].cpu_per_gib, (unsigned long long)mib,
	       dir, (unsigned long long)reps);
	return 0;
}
