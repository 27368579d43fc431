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
};

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

/* Helpers, exported for the tests. */
/* The cgroup v2 path in a /proc/PID/cgroup text ("0::/a/b"). */
int throttle_parse_proc_cgroup(const char *text, char *out, size_t len);
/* The cpu.max line for a throttle of pct %. */
void throttle_cpu_max(uint32_t pct, char *buf, size_t len);

#endif
