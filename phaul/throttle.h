/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Auto-converge's brake: a cgroup v2 cpu.max quota on the CT's processes
 * (DESIGN.md "Performance model"). The CT runs in its own cgroup already
 * (a container): the quota goes on that cgroup, and its old value comes
 * back when lifted. It shares its cgroup with other processes (a pid: tree
 * in a login session, or in the root cgroup): phaul makes a sibling cgroup,
 * "phaul.throttle.<root pid>", moves the tree in, and on lifting moves it
 * home and removes it.
 *
 * CRIU dumps the cgroup a task is in and restore puts it back there, so on
 * the destination the restored tree starts inside the same (throttled)
 * cgroup: throttle_lift_restored() is the destination's half.
 */
#ifndef PHAUL_THROTTLE_H
#define PHAUL_THROTTLE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct ct;

#define THROTTLE_PERIOD_US 100000

struct throttle {
	char cg[320];	    /* the throttled cgroup, under the cgroup2 mount */
	char home[256];	    /* where the tree was before (created) */
	char orig_max[64];  /* cpu.max before (in place) */
	bool created;	    /* phaul made cg and moved the tree into it */
	uint32_t pct;	    /* in force now, 0 = none */
	char rec_dir[3072]; /* where crash records go ("": none; throttle_init()) */
	char rec[PATH_MAX]; /* this throttle's record, "" while there is none */
	int rec_fd;	    /* holds rec's flock while the throttle may be in force */
};

/*
 * Crash safety. Before phaul changes a cgroup it writes a record of what
 * it will change (cgroup, created, home, cpu.max before) to
 * WORK_DIR/throttle/pid-ROOT.rec, fsynced, and holds an flock on it until
 * the throttle is lifted or released; then the record is removed. A
 * record nobody holds is a throttle left by a phaul that died:
 * throttle_recover() lifts it (moves the tree home and removes phaul's
 * cgroup, or puts cpu.max back) and removes the record. Every `phaul
 * migrate` and `phaul agent` start calls it for its work dir.
 */
/* Set t up to record into work_dir, and lift what dead runs left there (throttle_recover()). */
int throttle_init(struct throttle *t, const char *work_dir);
/* Lift every unheld record's throttle under work_dir; returns how many, or PH_E*. */
int throttle_recover(const char *work_dir);
/* Write t's record (t->cg etc. set) for the CT rooted at root (exported for the tests). */
int throttle_record(struct throttle *t, pid_t root);

/* Throttle the CT by pct % (setting the cgroup up on first use). */
int throttle_apply(struct throttle *t, struct ct *ct, uint32_t pct);
/* The CT stays here (rollback): lift the quota, move the tree home. */
int throttle_lift(struct throttle *t, struct ct *ct);
/* The CT has left this host: remove what phaul made. */
void throttle_release(struct throttle *t);
/*
 * Destination: the tree restored as pid sits in cgroup cg (as it did on the
 * source) under a quota: lift it the way the source would have. Writes what
 * it did into note.
 */
int throttle_lift_restored(pid_t pid, const char *cg, bool created, const char *home,
			   const char *orig_max, char *note, size_t len);

/* cgroup v2 is mounted with the cpu controller: throttle_apply() can work. */
bool throttle_available(void);

/* Helpers, exported for the tests. */
/* The cgroup v2 path in a /proc/PID/cgroup text ("0::/a/b"). */
int throttle_parse_proc_cgroup(const char *text, char *out, size_t len);
/* The cpu.max line for a throttle of pct %. */
void throttle_cpu_max(uint32_t pct, char *buf, size_t len);

#endif
