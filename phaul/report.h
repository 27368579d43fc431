/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the operator sees of a migration: progress events while it runs and
 * the report at the end, as text on a terminal or, with --json, as one JSON
 * object per line on stdout ({"event": ...}).
 */
#ifndef PHAUL_REPORT_H
#define PHAUL_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "caps.h"

struct iter_report {
	uint32_t iter;
	bool final;
	uint64_t pages;	     /* pages sent through the page server */
	uint64_t raw_bytes;  /* page stream before compression */
	uint64_t wire_bytes; /* page stream on the wire */
	uint64_t usec;	     /* wall time of the iteration */
	uint64_t frozen_us;  /* CRIU's frozen time in this iteration */
	double dirty_pps;    /* estimated dirty rate after it, pages/s */
	double bw_bps;	     /* measured stream rate, bytes/s */
	uint64_t predicted_downtime_us;
	uint32_t throttle_pct; /* CPU throttle of the CT while it ran, % */
};

/* One --sync path: on storage both hosts share (never copied) or rsynced. */
struct sync_report {
	const char *path; /* the option's argument: outlives the report */
	bool probed;	  /* the shared-storage probe answered */
	bool shared;	  /* ...and found the path on both hosts */
	uint32_t syncs;	  /* rsync runs of this path */
	uint64_t wire_bytes;
};

struct report {
	bool json;
	char ct[256];
	char src[256];
	char dst[256];
	const char *transport;
	int result; /* 0 ok, else PH_E* */
	int exit_code;
	char error[1024];
	bool rolled_back;
	char mig_id[80];     /* the migration's id (its records, `phaul recover`) */
	char where[512];     /* after a failure: where the CT is, what to do */
	uint32_t niter;
	struct iter_report it[PH_ITER_MAX + 1];
	const char *stop_reason;
	uint64_t total_us;
	uint64_t downtime_us; /* freeze start on src -> running on dst */
	uint64_t predicted_downtime_us;
	uint64_t limit_us;		/* the downtime limit; 0 = none (fixed policy) */
	bool overrun_allowed;		/* --allow-downtime-overrun */
	uint32_t throttle_pct;		/* auto-converge: the highest CPU throttle, % */
	char throttle_cgroup[320];	/* the cgroup it was applied to */
	uint64_t frozen_us;		/* CRIU: stats-dump frozen_time */
	uint64_t restore_us;		/* CRIU: stats-restore restore_time */
	uint64_t images_bytes;		/* non-page images streamed */
	uint64_t raw_bytes, wire_bytes; /* all streams */
	uint32_t dst_pid;
	uint32_t fs_syncs;	/* rsync runs (--sync) */
	uint64_t fs_wire_bytes; /* their bytes on the wire */
	uint64_t fs_usec;	/* their time, all together */
	uint32_t nsync;
	struct sync_report sync[PH_SYNC_MAX]; /* per --sync path */
};

void report_init(struct report *r, bool json);
/* s as a JSON string, quotes included, with what JSON requires escaped. */
void report_json_str(FILE *f, const char *s);
/* A phase begins: "connect", "check", "precopy", "dump", "restore", ... */
/* Register a --sync path (ignored beyond PH_SYNC_MAX); returns its entry or NULL. */
struct sync_report *report_sync_path(struct report *r, const char *path);
void report_phase(struct report *r, const char *phase, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void report_iter(struct report *r, const struct iter_report *it);
/* The compatibility table: printed, or one {"event":"check"} with its rows. */
struct compat_table;
void report_check(struct report *r, const struct compat_table *t);
/* How far the measured downtime went over the limit (0: within, or no limit). */
uint64_t report_overrun_us(const struct report *r);
/* The final report (text or JSON), on stdout. */
void report_print(const struct report *r);
/* The final report as one JSON object (the "report" event) on f. */
void report_json(FILE *f, const struct report *r);
/* POST the JSON report to url (notify_url; "" = no); a failure is only logged. */
void report_notify(const struct report *r, const char *url, int timeout_s);

#endif
