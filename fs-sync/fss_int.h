/* SPDX-License-Identifier: GPL-2.0 */
/* fs-sync internals shared by the fs-sync/ sources: rsync processes and the stream bridge. */
#ifndef FS_SYNC_FSS_INT_H
#define FS_SYNC_FSS_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "caps.h"
#include "transport/mux.h"

/* Env var naming the fd on which fs-rsh hands rsync's pipe back. */
#define FSS_RSH_FD_ENV "PHAUL_FSS_FD"
/* The host part of the rsync remote path; fs-rsh ignores it. */
#define FSS_RSH_HOST "phaul"
/* After the peer ended its stream, how long a local rsync may take to exit. */
#define FSS_GRACE_MS 30000

/* A running rsync. */
struct fss_proc {
	pid_t pid;
	int out;	/* its stdout pipe, or -1 */
	int err;	/* its stderr pipe, or -1 */
	char last[256]; /* last non-empty stderr line */
	bool other_err; /* a stderr line other than a vanished file (fss_err_vanished) */
	char *stats;	/* its stdout, at most PH_FSS_STATS_MAX bytes; may be NULL */
	size_t stats_len;
	int status; /* wait status once reaped */
};

/*
 * What one line of rsync's stderr says: 1 a file vanished (rsync's "file
 * has vanished", or a call on a path failing with ENOENT, e.g. reading a
 * gone file's ACL: such a sync exits 23, not 24), 0 a summary line that
 * only counts the others, -1 anything else.
 */
int fss_err_vanished(const char *line, size_t n);

/* Where rsync is: $PHAUL_RSYNC, else PATH, else /usr/bin/rsync. */
int fss_find_rsync(char *path, size_t len);

/* Where the agent's rsync receiver is confined (see fss_spawn). */
struct fss_jail {
	int tree;	/* open_tree() clone of the CT's directory; the caller closes it */
	const char *at; /* the resolved fs root: the clone is mounted over it */
};

/*
 * Start bin with argv/envp in its own process group. stdio: fd for
 * stdin and stdout, or -1 for /dev/null (stdin) and a pipe into p->out
 * (stdout); stderr is always a pipe into p->err. keep_fd (or -1) is the
 * only other fd the child inherits. jail (or NULL): run bin in a new mount
 * namespace where all is read-only but jail->tree, mounted over jail->at
 * and the child's cwd, in which no symlink is followed. PH_ESYS (the jail
 * could not be set up, naming the step) or PH_ERSYNC naming bin.
 */
int fss_spawn(const char *bin, char *const argv[], char *const envp[], int io_fd, int keep_fd,
	      const struct fss_jail *jail, struct fss_proc *p);

/*
 * Read p's stdout/stderr until both end (stderr lines go to the log with
 * tag), then reap it. Once *peer_done is set, p gets FSS_GRACE_MS to exit
 * before its process group is killed. Returns its exit code (128+sig).
 */
int fss_proc_wait(struct fss_proc *p, const char *tag, atomic_bool *peer_done);
void fss_proc_free(struct fss_proc *p);

/*
 * Copies between a local rsync and MUX_FS in both directions, one thread
 * each. rfd: what rsync writes (sent as records, then EOF). wfd: where
 * records from the peer go (shut down at the peer's EOF). Takes ownership
 * of both fds. The receiving side drains the stream to its EOF even after
 * rsync stopped reading, so the stream stays in sync for the next sync.
 */
struct fss_bridge {
	struct mux *m;
	int rfd, wfd;
	int idle_ms;		/* once local_done: give up waiting for the peer's EOF */
	atomic_bool local_done; /* the local rsync has exited */
	atomic_bool peer_done;	/* the peer's EOF arrived (or the stream failed) */
	pthread_t up, down;
	bool up_started, down_started;
	int up_ret, down_ret;
	char up_msg[256], down_msg[256];
};

int fss_bridge_start(struct fss_bridge *b, struct mux *m, int rfd, int wfd, int idle_ms);
/* Join both threads; the first error of either, 0 when both ended with EOF. */
int fss_bridge_join(struct fss_bridge *b);

/* Receive and drop MUX_FS records until the peer's EOF (refused requests). */
int fss_drain(struct mux *m, int timeout_ms);

/* rsync's exit code in words ("exit 23", "killed by signal 9"). */
const char *fss_status_str(int status, char *buf, size_t len);

#endif
