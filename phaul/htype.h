/* SPDX-License-Identifier: GPL-2.0 */
/*
 * htypes: what a CT ("pid:N", "lxc:NAME") is. Each type answers the few
 * questions a migration asks; the orchestrator never looks inside and
 * never asks which type it is.
 *
 * Every type fills every slot (tests/unit/test_htype.c checks): a new
 * type adds a file and a line in htype.c's table, not a branch in
 * migrate.c or the agent. What genuinely differs between types is said
 * by the type: its caps (CT_CAP_*), max_pre_dumps, or an op that refuses
 * with a clear error (check_criu) or returns -PH_ENOTSUP (probe).
 *
 * How a type runs CRIU is its own business. pid: dumps over phaul's own
 * `criu swrk` connection (ct->criu, engine/criu.h) with the page-server
 * fd of a socketpair, and restores with criu_restore(); a type whose
 * manager runs CRIU itself (lxc: liblxc, runc:, podman:) dumps with its
 * tool and sends the pages to the page server address it is given:
 * phaul's relay, listening on the source (ct_pages_listen()).
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

/* One pre-dump or the final dump. */
struct ct_dump {
	const char *images_dir; /* this iteration's images (and CRIU's log) */
	const char *parent;	/* previous iteration, "../N-1" relative to it; or NULL */
	const char *work_dir;	/* the migration's work dir (scripts, logs) */
	const char *ps_addr;	/* page server for the pages: the relay */
	int ps_port;
	uint32_t ghost_limit; /* --ghost-limit; 0: CRIU's default */
	/*
	 * The config's CRIU options and the mode's (track_mem, lazy_pages),
	 * for a type that passes them all (pid:); images, parent and the
	 * page-server fd are left to the type.
	 */
	const struct criu_opts *criu;
	/*
	 * Should phaul die from the final dump on: the command that settles
	 * the migration (`phaul recover ID`, argv, NULL-terminated) and the
	 * source record (mig-out-ID) whose presence says there is one to
	 * settle (RestoreReq may have gone out). A type whose dump leaves the
	 * CT stopped beyond phaul's life (podman:) runs it from a guard.
	 */
	const char *const *settle;
	const char *record;
	/*
	 * Post-copy (criu->lazy_pages), out: a type whose CRIU serves the lazy
	 * pages on a listener of its own (runc:) connects to it and puts the
	 * socket here before post-dump; from then on the caller's to close.
	 * Left -1: they come on the open_pages socket.
	 */
	int *lazy_sk;
};

/* The relay's end of the page stream (open_pages). */
struct ct_pages {
	int sk;	     /* the relay's socket; the caller closes it */
	bool accept; /* sk listens: each dump's CRIU connects to 127.0.0.1:port */
	int port;
};

/* What a type can do that not every type can (htype_ops.caps). */
enum {
	/*
	 * Its restore can run with CRIU's lazy pages daemon on the same
	 * images (o->lazy_pages): --restore lazy.
	 */
	CT_CAP_LAZY_RESTORE = 1 << 0,
	/*
	 * Its final dump can leave the memory with a lazy page server
	 * (criu_opts.lazy_pages through ct_dump.criu), to be pulled by a
	 * lazy restore: --mode postcopy.
	 */
	CT_CAP_POSTCOPY = 1 << 1,
	/*
	 * Its restore names the root through o->rst_notify("post-restore")
	 * before it returns, so the agent records it held from then on;
	 * without, the agent records the CT held by name before the restore.
	 */
	CT_CAP_RST_NOTIFY = 1 << 2,
	/*
	 * Its restore honours o->leave_stopped: the restored CT runs no
	 * instruction before Go. Without (podman:), it runs from its restore
	 * on: the agent discards it if the session ends before Go.
	 */
	CT_CAP_HOLD = 1 << 3,
};

/*
 * What a final dump left of the CT on the source (htype_ops.kept), and
 * what to do with it.
 */
enum ct_kept {
	CT_KEPT_NONE = 0,    /* nothing: the dump's verdict ended or resumed the tree */
	CT_KEPT_STOPPED = 1, /* stopped, restorable here (podman: its kept checkpoint) */
	CT_KEPT_RUNNING = 2, /* running here again */
};
enum ct_kept_act { CT_KEPT_QUERY = 0, CT_KEPT_RESUME = 1, CT_KEPT_REMOVE = 2 };

#define CT_IMAGE_MAX 256 /* CheckReq.ct_image: an image ID or reference */

/* A type's facts on one host, for the compatibility checks. */
struct ct_facts {
	char runtime[64]; /* "runc 1.1.5+ds1"; "" if the runtime is missing */
	bool id_busy;	  /* a CT of that id exists on this host */
	bool path_busy;	  /* path is the directory of a CT on this host */
	/*
	 * The image the CT runs from: the source's probe fills it (podman:
	 * the image ID; "" for a type without images); on the destination
	 * it is the image asked for (input) and image_present the answer.
	 */
	char image[CT_IMAGE_MAX];
	bool image_present;
};

struct htype_ops {
	const char *name;
	unsigned caps; /* CT_CAP_* */
	/* Pre-dumps the type can chain (podman: one pre-checkpoint); 0: no limit. */
	unsigned max_pre_dumps;
	/* Source: find the root pid and the tree; PH_ENOENT naming the CT. */
	int (*resolve)(struct ct *ct);
	/*
	 * Source, before anything runs: refuse CRIU options (o as for a dump)
	 * the type cannot pass, PH_EUSAGE naming them (ct_criu_any: it
	 * passes all).
	 */
	int (*check_criu)(const struct ct *ct, const struct criu_opts *o);
	/*
	 * Source: add the type's CRIU options (for a type that runs CRIU
	 * itself, what it always passes, for the source's checks).
	 */
	void (*criu_opts)(const struct ct *ct, struct criu_opts *o);
	/*
	 * Source, once before the first dump: the page stream's socket for
	 * the relay into p (ct_pages_listen: a local listener that the
	 * type's CRIU connects to at each dump).
	 */
	int (*open_pages)(struct ct *ct, struct ct_pages *p);
	/* Source: one pre-dump. */
	int (*pre_dump)(struct ct *ct, const struct ct_dump *d);
	/*
	 * Source: the final dump. Same contract as criu_dump(): fn("post-dump")
	 * decides COMMIT (the CT is killed) or ROLLBACK (it resumes);
	 * *outcome says what happened to it.
	 */
	int (*dump)(struct ct *ct, const struct ct_dump *d, criu_notify_fn fn, void *arg,
		    enum criu_dump_outcome *outcome);
	/*
	 * Destination: restore from images_dir. o (may be NULL: none) as for
	 * criu_restore(): o->conn, a `criu swrk` started ahead, is the
	 * restore's to use or close at once (before it forks anything that
	 * outlives it), whatever happens. With o->leave_stopped every process
	 * of the CT is left stopped (SIGSTOP before its first instruction)
	 * and *pid is the root to SIGCONT at Go: a type whose manager runs
	 * CRIU passes it criu_hold_conf()'s file.
	 */
	int (*restore)(struct ct *ct, const char *images_dir, const struct criu_opts *o,
		       pid_t *pid);
	/*
	 * Destination: stop what restore started (not committed); root is the
	 * restored root, or 0 if unknown (found by the CT's name, if at all).
	 */
	int (*discard)(struct ct *ct, pid_t root);
	/*
	 * Both hosts: the type's runtime here and, for the destination's
	 * checks, whether ct->id and path (the CT's directory on the source,
	 * or NULL) are taken here. Compared as strings only: path may come
	 * from the peer. -PH_ENOTSUP (ct_probe_none): the type has no runtime
	 * to check.
	 */
	int (*probe)(const struct ct *ct, const char *path, struct ct_facts *f);
	/*
	 * Source, from the final dump on: a type whose dump stops the CT and
	 * keeps it restorable instead of having CRIU's verdict end or resume
	 * it (podman:, whose dump's outcome RESUMED or KILLED then means
	 * "stopped, kept") says here what is left (QUERY), runs it again
	 * (RESUME: a rollback, only once no copy can run on the destination)
	 * or ends it (REMOVE: only once the destination acknowledged Go).
	 * Returns the CT_KEPT_* state after act, or an error; commands log to
	 * log (NULL: nowhere). Needs ct_parse() only, for `phaul recover`.
	 * ct_kept_none: the others, CT_KEPT_NONE whatever act.
	 */
	int (*kept)(struct ct *ct, enum ct_kept_act act, const char *log);
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
	/* Source: pid:'s `criu swrk` for its dumps (open_pages); ct_close() closes it. */
	struct criu_conn *criu;
	int criu_ps_fd; /* its page-server fd, as swrk knows it */
	/*
	 * Source: a guard process the type's dump started (podman:), and the
	 * pipe to it; ct_close() tells it phaul ended as planned. 0: none.
	 */
	pid_t guard;
	int guard_fd;
};

/* The registered types (htype.c's table), *n of them. */
const struct htype_ops *const *htype_all(size_t *n);

/* Parse "type:id" and resolve it (source). */
int ct_open(const char *spec, struct ct *ct);
/* Parse "type:id" only: the destination, where the CT does not run yet. */
int ct_parse(const char *spec, struct ct *ct);
/*
 * Destination: as ct_parse, but a CT the source did not name ("") is a
 * bare process tree (the first type), and so is one ct_parse refuses,
 * for its discard; that refusal is still returned.
 */
int ct_parse_dst(const char *spec, struct ct *ct);
/*
 * Free what the type holds for a migration (ct->criu; a guard is told that
 * phaul settled the migration itself); ct may be all zero.
 */
void ct_close(struct ct *ct);
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

/* Shared slots. check_criu: the type passes every CRIU option. */
int ct_criu_any(const struct ct *ct, const struct criu_opts *o);
/* criu_opts: the type adds none. */
void ct_criu_opts_none(const struct ct *ct, struct criu_opts *o);
/* open_pages: listen on 127.0.0.1, any port, for the type's own CRIU. */
int ct_pages_listen(struct ct *ct, struct ct_pages *p);
/* probe: no runtime to check; -PH_ENOTSUP. */
int ct_probe_none(const struct ct *ct, const char *path, struct ct_facts *f);
/* kept: the dump's verdict ended or resumed the tree; CT_KEPT_NONE. */
int ct_kept_none(struct ct *ct, enum ct_kept_act act, const char *log);

struct Phaul__HostFacts;
/*
 * Destination: the type's facts for a CheckReq naming spec, path and image
 * (all from the peer: checked for length, compared as strings only; path
 * and image may be NULL) into f's ct_* fields. Nothing set for an unknown
 * type or one without a runtime.
 */
void ct_facts_fill(const char *spec, const char *path, const char *image,
		   struct Phaul__HostFacts *f);

#endif
