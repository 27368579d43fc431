/* SPDX-License-Identifier: GPL-2.0 */
/*
 * htypes: what a CT ("pid:N", "lxc:NAME") is. Each type answers the few
 * questions a migration asks; the orchestrator never looks inside.
 */
#ifndef PHAUL_HTYPE_H
#define PHAUL_HTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "engine/criu.h"

struct ct;

struct htype_ops {
	const char *name;
	/* Find the root pid and the tree; fail with PH_ENOENT naming the CT. */
	int (*resolve)(struct ct *ct);
	/* Add the type's CRIU options (dump and restore). */
	void (*criu_opts)(const struct ct *ct, struct criu_opts *o);
};

#define CT_PIDS_MAX 4096

struct ct {
	const struct htype_ops *ops;
	char spec[256]; /* as given: "pid:4242" */
	char id[128];	/* after the "type:" prefix */
	pid_t root;
	uint32_t pids[CT_PIDS_MAX];
	size_t npids;
	uint64_t rss_kb; /* resident memory of the whole tree */
};

/* Parse "type:id" and resolve it. */
int ct_open(const char *spec, struct ct *ct);
/* Is the CT's root still alive (after a rollback, say)? */
bool ct_alive(const struct ct *ct);

#endif
