/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the operator sees of a migration: progress events while it runs and
 * the report at the end, as text on a terminal or, with --json, as one JSON
 * object per line on stdout ({"event": ...}).
 */
#ifndef PHAUL_REPORT_H
#define PHAUL_REPORT_H

#include <stdbool.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "caps.h"
#include "phaul.pb-c.h"

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

/*
 * Where the downtime went, wall us, in the order it runs (0: not reached).
 * The source's clock for its own parts, the destination's for dst_*.
 */
struct downtime_parts {
	uint64_t final_dump_us;	      /* freeze -> the final delta through (post-dump) */
	uint64_t final_sync_us;	      /* the final rsync of --sync paths */
	uint64_t images_us;	      /* the non-page images sent */
	uint64_t restore_req_us;      /* RestoreReq sent -> RestoreResp received */
	uint64_t dst_wall_us;	      /* dst: RestoreReq received -> RestoreResp sent */
	uint64_t dst_store_us;	      /* dst: the final delta settled in the store */
	uint64_t dst_lazy_start_us;   /* dst: criu lazy-pages started -> ready */
	uint64_t dst_criu_us;	      /* dst: criu swrk started -> restore done */
	uint64_t commit_us;	      /* RestoreResp -> Go sent: records, CRIU ends the source */
	uint64_t go_us;		      /* Go sent -> FinishAck received */
	uint64_t dst_go_us;	      /* dst: Go received -> the CT resumed */
	uint64_t rtt_us;	      /* shortest IterStart -> IterReady round trip */
	uint64_t predicted_switch_us; /* the prediction's switch cost (precopy.h) */
};

/*
 * Moments of a migration (now_us(), monotonic), taken by report_mark(): the
 * service interruption and its parts, and the throttle's span, come from
 * them. 0: not reached.
 */
enum report_mark {
	RM_START,    /* the migration began */
	RM_THROTTLE, /* auto-converge first throttled the CT (the first call only) */
	RM_FREEZE,   /* the final dump froze the CT */
	RM_DUMPED,   /* CRIU's post-dump: the last delta is dumped and streamed */
	RM_IMAGES,   /* the dump's other images are on the destination */
	RM_RESTORED, /* the destination restored the CT (RestoreResp) */
	RM_RUNNING,  /* the destination lets it run (FinishAck of the commit) */
	RM_NMARKS,
};

/* The service interruption, freeze to running on the destination, and its parts (us). */
struct report_interruption {
	uint64_t total_us;   /* RM_FREEZE -> RM_RUNNING (downtime_us) */
	uint64_t dump_us;    /* freeze -> the last delta dumped and streamed */
	uint64_t images_us;  /* -> the other images transferred */
	uint64_t restore_us; /* -> restored on the destination (its CRIU's restore_us inside) */
	uint64_t commit_us;  /* -> the source copy ended and Go acknowledged */
};

struct report {
	bool json;
	bool dry_run; /* checks only: reported as a dry run, not as a migration */
	char ct[256];
	char src[256];
	char dst[256];
	const char *transport;
	int result; /* 0 ok, else PH_E* */
	int exit_code;
	char error[1024];
	bool rolled_back;
	char mig_id[80]; /* the migration's id (its records, `phaul recover`) */
	char where[512]; /* after a failure: where the CT is, what to do */
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
	char postcopy_switch[320];	/* hybrid: when and why it switched to post-copy; "" */
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
	/* the destination's restore (RestoreResp) */
	char restore_mode[8];	 /* "lazy" or "eager"; "" before the restore */
	char restore_note[640];	 /* why eager although lazy was asked */
	char store_io[16];	 /* its flat page store's I/O: io_uring or pwrite */
	char store_io_note[256]; /* why not io_uring */
	uint64_t store_apply_us; /* the final delta applied in the store */
	uint64_t store_moved_pages;
	/* a lazy restore's end (LazyDone) */
	bool lazy_done;
	uint64_t memory_complete_us; /* restore start -> every page in place */
	uint64_t lazy_pages_total, lazy_pages_fault, lazy_pages_background, lazy_pages_missing;
	struct downtime_parts dt;
	uint64_t mark[RM_NMARKS]; /* report_mark() */
	/* where what is kept of it is (forensics.h); "" for none */
	char log_dir[600];	       /* this host's run dir: phaul.log, report.json */
	char images_dir[PATH_MAX];     /* this host's images and CRIU logs, kept after a failure */
	char dst_log_dir[PH_PATH_MAX]; /* the destination's, as it said (visible) */
};

void report_init(struct report *r, bool json);
/* Take the moment m now (RM_THROTTLE: only the first time). */
void report_mark(struct report *r, enum report_mark m);
/* The interruption's parts from the marks (zeros when the migration did not get there). */
void report_interruption(const struct report *r, struct report_interruption *out);
/* How long the CT ran throttled: first throttle to the freeze (or the end). 0: never. */
uint64_t report_throttle_us(const struct report *r);
/* What the destination said of its restore and of its lazy-pages daemon's end. */
void report_restore_resp(struct report *r, const Phaul__RestoreResp *q);
void report_lazy_done(struct report *r, const Phaul__LazyDone *d);
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
