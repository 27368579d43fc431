/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lazy: the local `criu lazy-pages` daemon of a lazy restore from the flat
 * store (engine/README.md "Lazy restore").
 *
 *   criu_lazy_start(dir)      daemon on dir (images and work dir), ready
 *                             once it listens on dir/lazy-pages.socket
 *   criu_restore({images_dir=dir, lazy_pages=true, ...})
 *                             CRIU restores everything but the lazy pages;
 *                             the CT can run; the daemon answers its
 *                             faults and, once the restore said it
 *                             finished, pushes every other page itself
 *   criu_lazy_wait()          the daemon exits 0 once every page is in
 *                             place (memory complete)
 *
 * The daemon runs in the foreground as our child (so its end is seen,
 * not guessed), logs at level 4 into dir/lazy-pages.log, which
 * criu_lazy_stats_parse() reads for the pages handled: per task
 * "Found N pages to be handled by UFFD", per fault "#PF at ADDR", per
 * copy "uffd_copy: ADDR/LEN" (CRIU 3.17 criu/uffd.c).
 */
#ifndef ENGINE_LAZY_H
#define ENGINE_LAZY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct criu_lazy;

#define CRIU_LAZY_LOG	   "lazy-pages.log"
#define CRIU_LAZY_READY_MS 30000

struct criu_lazy_stats {
	uint64_t pages_total;	/* pages the daemon had to place (all tasks) */
	uint64_t pages_copied;	/* placed: on fault or in the background */
	uint64_t pages_fault;	/* faults answered (one page each) */
	uint64_t pages_missing; /* total - copied (> 0 only if it died) */
	uint32_t tasks;
};

/*
 * Start the daemon on dir and wait (CRIU_LAZY_READY_MS at most) until it
 * is ready for the restore (its --status-fd). PH_ECRIU with its log's
 * errors if it exits first, PH_ETIMEDOUT.
 */
int criu_lazy_start(const char *dir, struct criu_lazy **out);
/*
 * Post-copy: the same, but the daemon asks a remote page server for every
 * lazy page (GET, engine/lzx.h) through ps_fd, our connected socket
 * (`--page-server --ps-socket FD`; it inherits ps_fd, ours stays open).
 * Pages in dir's pages-*.img (those a --lazy-pages dump could not leave
 * lazy: the stack, vDSO) are restored from there.
 */
int criu_lazy_start_remote(const char *dir, int ps_fd, struct criu_lazy **out);
pid_t criu_lazy_pid(const struct criu_lazy *l);

/*
 * Wait up to timeout_ms (-1: forever) for the daemon to exit. 0: it
 * exited 0, every page in place. PH_ECRIU: it died (signal or status;
 * the message says which and quotes its log), PH_ETIMEDOUT: still
 * running. st (may be NULL) gets the log's counts in every case.
 */
int criu_lazy_wait(struct criu_lazy *l, int timeout_ms, struct criu_lazy_stats *st);

/* Kill the daemon if still running, reap it, free. NULL ok. */
void criu_lazy_close(struct criu_lazy *l);

/* Counts of a daemon log (the file at path); 0 or PH_ESYS. */
int criu_lazy_stats_parse(const char *path, size_t page_size, struct criu_lazy_stats *st);

#endif
