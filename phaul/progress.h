/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a running migration shows of itself while it runs (HOWTO.md
 * "Watching and controlling a migration"): one set of figures, sampled
 * from the page stream's counters, shown three ways:
 *
 *  - on a terminal (stderr a tty, no --json): one status line rewritten in
 *    place while a page stream runs, erased before any other line is
 *    printed (progress_hold()/progress_release() around every print);
 *  - with --json: a {"event":"progress"} line at least once a second;
 *  - to `phaul status` over the control socket (control.h): the same
 *    object, formatted by the same progress_line().
 *
 * The migration (migrate.c) sets what it knows at the phase and iteration
 * boundaries; progress_sample() adds what the counters say now. Every
 * function takes the object's own lock: the migration and the live thread
 * (control.c) call them concurrently.
 */
#ifndef PHAUL_PROGRESS_H
#define PHAUL_PROGRESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "caps.h"
#include "report.h"
#include "transport/mux.h"

/* A status line never grows beyond this (the terminal's width cuts it further). */
#define PROGRESS_LINE_MAX 320

struct progress_snap {
	char id[PH_MIG_ID_MAX + 1];
	char ct[256];
	char dst[256];
	char phase[24];		 /* mig_phase_name() */
	int pid;		 /* the phaul migrate process */
	uint32_t iter;		 /* the iteration under way or last done, 0 before */
	bool final;		 /* it is the final dump */
	bool transfer;		 /* its page stream runs now */
	uint64_t elapsed_us;	 /* since the migration began */
	uint64_t done_bytes;	 /* this iteration's page stream so far, before compression */
	uint64_t wire_bytes;	 /* ...and on the wire */
	uint64_t expected_bytes; /* what this iteration should send (estimate); 0 unknown */
	double raw_bps;		 /* this iteration's averages, bytes/s */
	double wire_bps;
	double dirty_pps;		/* dirty rate after the last iteration, pages/s */
	int64_t eta_us;			/* to the end of this iteration's stream; -1 unknown */
	uint64_t predicted_downtime_us; /* after the last iteration; 0 none yet */
	uint32_t throttle_pct;		/* auto-converge, % */
	uint64_t downtime_limit_us;	/* 0: none (fixed policy) */
	uint64_t bwlimit;		/* bytes/s, 0: none */
};

struct progress {
	pthread_mutex_t mu;
	struct progress_snap s; /* what the migration set; sample() adds the rest */
	uint64_t t_start, t_iter;
	struct mux_stats base; /* the page stream's tx counters when the iteration began */
	uint64_t ct_bytes;     /* the CT's resident memory: the first iteration's size */
	uint64_t next_bytes;   /* what the next iteration should send */
	uint32_t page_size;
	pthread_mutex_t *mux_lock; /* held while reading *mux (the migration's) */
	struct mux **mux;
};

/*
 * Set up p for migration id of ct to dst. mux (read under mux_lock) is the
 * migration's connection, NULL until it connects. ct_bytes: its resident
 * memory. Strings are copied.
 */
void progress_init(struct progress *p, const char *id, const char *ct, const char *dst,
		   uint64_t ct_bytes, pthread_mutex_t *mux_lock, struct mux **mux);
void progress_set_phase(struct progress *p, const char *phase);
/* The downtime limit (0: none) and the bandwidth limit (0: none) now in force. */
void progress_set_downtime_limit(struct progress *p, uint64_t us);
void progress_set_bwlimit(struct progress *p, uint64_t bytes_per_sec);
/* Iteration iter's page stream begins (final: the final dump). */
void progress_iter_begin(struct progress *p, uint32_t iter, bool final);
/* ...and ended, with its figures (dirty rate, prediction, throttle). */
void progress_iter_end(struct progress *p, const struct iter_report *it);
/* The figures now. */
void progress_sample(struct progress *p, struct progress_snap *out);

/*
 * The figures as one status line (no newline) into buf: the iteration,
 * bytes done of expected, rates, dirty rate, ETA, predicted downtime,
 * throttle. Returns its length (cut to len - 1).
 */
size_t progress_line(const struct progress_snap *s, char *buf, size_t len);
/* The figures as the fields of a JSON object, each with a leading comma. */
void progress_json_fields(FILE *f, const struct progress_snap *s);
/*
 * A JSON object as progress_json_fields() writes them (len bytes, no NUL
 * needed) back into s; unknown fields are ignored, missing ones stay 0.
 * 0, or -PH_EPROTO when it is not such an object.
 */
int progress_parse_json(const char *buf, size_t len, struct progress_snap *s);

/*
 * The terminal's status line (one per process). progress_tty_open(fd):
 * draw it on fd (a tty); progress_tty_draw() redraws it with s;
 * progress_tty_close() erases it for good. progress_hold() erases it and
 * keeps it away until progress_release(): every other print to stdout or
 * stderr happens between the two (log.c, report.c do). Nestable.
 */
void progress_tty_open(int fd);
void progress_tty_draw(const struct progress_snap *s);
void progress_tty_close(void);
void progress_hold(void);
void progress_release(void);

#endif
