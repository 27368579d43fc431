/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A migration's record: where one migration stands on one host, so that a
 * lost answer can be settled later (`phaul recover`). One small text file
 * per migration and side in the work dir, "mig-out-ID" on the source and
 * "mig-in-ID" on the destination, "key=value" lines; every save writes a
 * temporary file, fsyncs it, renames it over the old one and fsyncs the
 * directory, so a crash leaves the old or the new record, never half of one.
 */
#ifndef PHAUL_MREC_H
#define PHAUL_MREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "caps.h"

enum mrec_side { MREC_SOURCE = 0, MREC_DEST = 1 };

/*
 * The source's phase of one migration; finish() decides on it alone.
 * Recorded (durably) from PHASE_RESTORING on: before that nothing of the
 * CT exists on the destination outside a session that discards it.
 */
enum mig_phase {
	PHASE_CONNECT = 0,    /* connect, checks, first sync: nothing moved */
	PHASE_PRECOPY = 1,    /* pre-dump iterations: the CT runs here */
	PHASE_FROZEN = 2,     /* final dump: CRIU holds the tree frozen */
	PHASE_RESTORING = 3,  /* RestoreReq sent: dst may hold a stopped copy */
	PHASE_COMMITTING = 4, /* dst holds it; CRIU told to kill ours */
	PHASE_COMMITTED = 5,  /* our copy is gone: only dst's remains (send Go) */
	PHASE_DONE = 6,	      /* dst acknowledged Go: it runs there */
	PHASE_ROLLED_BACK = 7 /* ours runs again; dst's discarded */
};

/* The destination's states: the values of RecoverResp.State. */
enum mrec_dst_state {
	DST_NONE = 0,
	DST_HELD = 1,
	DST_RUNNING = 2,
	DST_DISCARDED = 3,
	DST_GONE = 4,
	DST_LOST = 5,	 /* let run, then its lazy restore failed: killed, images kept */
	DST_FILLING = 6, /* post-copy: let run, its memory still coming: RUNNING or LOST next */
};

struct mrec {
	char id[PH_MIG_ID_MAX + 1];
	enum mrec_side side;
	int state;	   /* enum mig_phase (source) or enum mrec_dst_state */
	char ct[256];	   /* the CT's spec (pid:N, lxc:NAME) */
	char peer[256];	   /* source: the destination as given; dst: the source */
	char transport[8]; /* source: how to reach the destination again */
	pid_t pid;	   /* source: the CT's root; dst: the restored root; 0 */
	uint64_t start;	   /* pid's start time (/proc/PID/stat field 22) */
};

/* [A-Za-z0-9-], 1..PH_MIG_ID_MAX characters. */
bool mrec_id_valid(const char *id);
/* A fresh id: UTC time, our pid and 32 random bits. 0 or PH_ESYS. */
int mrec_new_id(char *out, size_t len);
const char *mig_phase_name(enum mig_phase p);
const char *mrec_dst_state_name(enum mrec_dst_state s);
/* The record's path: work_dir/mig-{out,in}-ID. PH_EUSAGE for a bad id. */
int mrec_path(const char *work_dir, enum mrec_side side, const char *id, char *out, size_t len);
/* Write r durably (see above). */
int mrec_save(const char *work_dir, const struct mrec *r);
/* Read and check one record: PH_ENOENT if there is none, PH_EPROTO if malformed. */
int mrec_load(const char *work_dir, enum mrec_side side, const char *id, struct mrec *r);
/* Parse a record's text (for mrec_load and the tests). */
int mrec_parse(const char *text, enum mrec_side side, struct mrec *r);
/* Remove the record (absent is fine), durably. */
int mrec_remove(const char *work_dir, enum mrec_side side, const char *id);
/*
 * The per-migration lock (work_dir/mig-{out,in}-ID.lock, flock): held by
 * the phaul that runs the migration for its whole life. Returns the fd to
 * keep, or PH_EAGAIN-like PH_ETIMEDOUT when !wait and another holds it.
 */
int mrec_lock(const char *work_dir, enum mrec_side side, const char *id, bool wait);
/* Drop the lock and its file. Accepts fd < 0. */
void mrec_unlock(const char *work_dir, enum mrec_side side, const char *id, int fd);
/* pid's start time in clock ticks since boot. PH_ENOENT if it does not exist. */
int proc_start_time(pid_t pid, uint64_t *out);
/* Does the recorded pid still exist as the same process (start time)? */
bool mrec_pid_alive(const struct mrec *r);

/*
 * Fault injection for the harness (tests/migration 48): true if
 * $PHAUL_FAULT_COMMIT names point (comma-separated list). The caller then
 * dies (SIGKILL) or drops the link, as the point's name says.
 */
bool fault_at(const char *point);

#endif
