/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What stays of a migration for the operator (HOWTO "Logs and reports"):
 * each migration (source) and each migration session (destination) gets a
 * directory of its own under WORK_DIR/runs, named by this host alone:
 *
 *   runs/out-ID/phaul.log, report.json   source: ID is ours (mrec_new_id)
 *   runs/in-STAMP-RANDOM/agent.log       destination: never the peer's id
 *   (both) criu-stderr.log               what criu swrk and lazy-pages printed on stderr
 *
 * After a failure the CRIU logs stay where CRIU wrote them (the destination
 * drops the images beside them, fx_keep_logs_only()). Old runs are pruned
 * by count and age (keep_reports, keep_days) when a new one begins.
 */
#ifndef PHAUL_FORENSICS_H
#define PHAUL_FORENSICS_H

#include <stddef.h>
#include <time.h>

struct report;

#define FX_RUNS_DIR "runs"
/* The file a kept images dir is marked with once only its logs are left. */
#define FX_LOGS_ONLY ".logs-only"
/* In a run dir: what CRIU's swrk wrote on its stderr */
#define FX_CRIU_STDERR "criu-stderr.log"

/*
 * Create WORK_DIR/runs/NAME (0700; runs too) and log every line to FILE in
 * it from now on; every CRIU swrk started later writes its stderr to
 * FX_CRIU_STDERR there. name: [A-Za-z0-9-] only (ours). dir gets its path. 0 or
 * -PH_E*; the directory must not exist yet.
 */
int fx_begin(const char *work_dir, const char *name, const char *file, char *dir, size_t len);
/* A destination session's run name, "in-STAMP-RANDOM" (UTC, 64 random bits). */
int fx_session_name(char *out, size_t len);
/* The report as JSON in DIR/report.json (written whole, then renamed). 0 or -PH_ESYS. */
int fx_save_report(const char *dir, const struct report *r);
/*
 * Remove everything below dir but files named *.log (and the directories
 * holding them), then mark dir FX_LOGS_ONLY: what a failure leaves for
 * reading, without the images' size. 0 or -PH_E*.
 */
int fx_keep_logs_only(const char *dir);
/*
 * Prune WORK_DIR/runs/ *, WORK_DIR/in-* dirs marked FX_LOGS_ONLY and the
 * scratch dirs a failed CRIU check leaves (check.*, cpuinfo.*, cpucheck.*,
 * compat/criu.c): keep the newest keep entries of each kind, remove those older than days days (0:
 * no age limit); never the one named except. now: the current time.
 * Returns how many were removed (failures are logged).
 */
int fx_prune(const char *work_dir, unsigned keep, unsigned days, const char *except, time_t now);

struct phaul_config;
/*
 * The source's run: prune old runs, show id on every log line, create
 * runs/out-ID and log into its phaul.log. dir gets its path ("" when it
 * could not be made: logged, the migration goes on). 0 or -PH_E*.
 */
int fx_source_begin(const struct phaul_config *cfg, const char *id, char *dir, size_t len);
/*
 * After a failure: record images_dir (the source's images and CRIU logs,
 * kept) in r and log one line naming what is kept on both hosts.
 */
void fx_source_failed(struct report *r, const char *images_dir);
/* The final report into the run dir (report.json); a failure is logged. */
void fx_source_end(const struct report *r);

#endif
