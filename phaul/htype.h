/* SPDX-License-Identifier: GPL-2.0 */
/*
 * htypes: what a CT ("pid:N", "lxc:NAME") is. Each type answers the few
 * questions a migration asks; the orchestrator never looks inside.
 *
 * Only name and resolve are required. A type that leaves the dump and
 * restore hooks NULL is dumped over phaul's own `criu swrk` connection and
 * restored with criu_restore(); a type whose manager runs CRIU itself
 * (lxc: liblxc) dumps with its own hooks and sends the pages to the page
 * server address it is given: phaul's relay, listening on the source.
 */
#ifndef PHAUL_HTYPE_H
#define PHAUL_HTYPE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "engine/criu.h"

struct ct;

/* One pre-dump or the final dump, for a type that runs CRIU itself. */
struct ct_dump {
	const char *images_dir; /* this iteration's images (and CRIU's log) */
	const char *parent;	/* previous iteration, "../N-1" relative to it; or NULL */
	const char *work_dir;	/* the migration's work dir (scripts, logs) */
	const char *ps_addr;	/* page server for the pages: the relay */
	int ps_port;
	uint32_t ghost_limit; /* --ghost-limit; 0: CRIU's default */
};

/* A type's facts on one host, for the compatibility checks. */
struct ct_facts {
	char runtime[64]; /* "runc 1.1.5+ds1"; "" if the runtime is missing */
	bool id_busy;	  /* a CT of that id exists on this host */
	bool path_busy;	  /* path is the directory of a CT on this host */
};

struct htype_ops {
	const char *name;
	/* Pre-dumps the type can chain (podman: one pre-checkpoint); 0: no limit. */
	unsigned max_pre_dumps;
	/*
	 * A type with its own restore that honours o->lazy_pages there: its
	 * CRIU restores with --lazy-pages from images_dir as work dir, served
	 * by the daemon the agent started on it (runc:). Else its restore is
	 * eager, and a lazy request falls back with a note.
	 */
	bool lazy_restore;
	/* Source: find the root pid and the tree; PH_ENOENT naming the CT. */
	int (*resolve)(struct ct *ct);
	/*
	 * Source, before anything runs: refuse CRIU options (o as for a dump)
	 * the type cannot pass, PH_EUSAGE naming them; NULL: it passes all.
	 */
	int (*check_criu)(const struct ct *ct, const struct criu_opts *o);
	/*
	 * Source: add the type's CRIU options (swrk dumps; for a type that
	 * runs CRIU itself, what it always passes, for the source's checks).
	 */
	void (*criu_opts)(const struct ct *ct, struct criu_opts *o);
	/* Source: one pre-dump; NULL: criu_pre_dump() over swrk. */
	int (*pre_dump)(struct ct *ct, const struct ct_dump *d);
	/*
	 * Source: the final dump; NULL: criu_dump() over swrk. Same contract
	 * as criu_dump(): fn("post-dump") decides COMMIT (the CT is killed)
	 * or ROLLBACK (it resumes); *outcome says what happened to it.
	 */
	int (*dump)(struct ct *ct, const struct ct_dump *d, criu_notify_fn fn, void *arg,
		    enum criu_dump_outcome *outcome);
	/*
	 * Destination: restore from images_dir; NULL: criu_restore(). With
	 * o->leave_stopped (o may be NULL: none) every process of the CT is
	 * left stopped (SIGSTOP before its first instruction) and *pid is the
	 * root to SIGCONT at Go: a type whose manager runs CRIU passes it
	 * criu_hold_conf()'s file.
	 */
	int (*restore)(struct ct *ct, const char *images_dir, const struct criu_opts *o,
		       pid_t *pid);
	/* Destination: stop what restore started (not committed); NULL: kill the tree. */
	int (*discard)(struct ct *ct, pid_t root);
	/*
	 * Both hosts, optional: the type's runtime here and, for the
	 * destination's checks, whether ct->id and path (the CT's directory
	 * on the source, or NULL) are taken here. Compared as strings only:
	 * path may come from the peer.
	 */
	int (*probe)(const struct ct *ct, const char *path, struct ct_facts *f);
};

#define CT_PIDS_MAX 4096
#define CT_SYNC_MAX 4

struct ct {
	const struct htype_ops *ops;
	char spec[256]; /* as given: "pid:4242" */
	char id[128];	/* after the "type:" prefix */
	pid_t root;
	uint32_t pids[CT_PIDS_MAX];
	size_t npids;
	uint64_t rss_kb; /* resident memory of the whole tree */
	/* Restored in a pid namespace of its own: its host pids need not be free. */
	bool own_pidns;
	/* Directories the type needs on the destination (same path): rsynced
	 * like --sync paths, the last time while the CT is frozen. */
	char sync[CT_SYNC_MAX][PATH_MAX];
	size_t nsync;
};

/* Parse "type:id" and resolve it (source). */
int ct_open(const char *spec, struct ct *ct);
/* Parse "type:id" only: the destination, where the CT does not run yet. */
int ct_parse(const char *spec, struct ct *ct);
/* Fill pids, npids and rss_kb with the tree under ct->root. */
int ct_collect_tree(struct ct *ct);
/* Is the CT's root still alive (after a rollback, say)? */
bool ct_alive(const struct ct *ct);
/*
 * Pre-flight, source: CRIU dumps a tree only if its root leads its own
 * session, or with --shell-job. PH_ECOMPAT naming the check ("session"),
 * the root, its session and the fix when neither holds.
 */
int ct_check_session(const struct ct *ct, const char *host, bool shell_job);
/*
 * Source: take the CT's lock, so two `phaul migrate` runs never act on one
 * tree: an flock on WORK_DIR/locks/pid-ROOT.lock (keyed by the root pid,
 * so lxc:NAME and pid:ITS_INIT are one CT), holding our pid and the spec.
 * *fd gets the lock's fd (close it to release; the kernel releases it when
 * we die). Held elsewhere: PH_EUSAGE naming the other run's pid.
 */
int ct_lock(const struct ct *ct, const char *work_dir, int *fd);

/*
 * Source: write text (a directory's path) into images_dir/img, an image
 * file the destination's restore reads with ct_img_dir().
 */
int ct_img_write(const char *images_dir, const char *img, const char *text);
/*
 * Destination: the directory path the source wrote into images_dir/img
 * (a bundle, an exports dir: what names it in errors) into dir. It must
 * be absolute and canonical here (realpath gives it back unchanged: no
 * symlink, no "..") and hold the regular file file: PH_EPATH, PH_ENOENT.
 * It is a path fs-sync wrote beneath the agent's fs_root.
 */
int ct_img_dir(const struct ct *ct, const char *images_dir, const char *img, const char *what,
	       const char *file, char *dir, size_t len);

struct Phaul__HostFacts;
/*
 * Destination: the type's facts for a CheckReq naming spec and path (both
 * from the peer: checked for length, compared as strings only) into f's
 * ct_* fields. Nothing set for an unknown type or one without probe.
 */
void ct_facts_fill(const char *spec, const char *path, struct Phaul__HostFacts *f);

#endif
