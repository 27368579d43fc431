/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fs-sync: rsync of a CT's filesystem through phaul's own connection, and
 * detection of a filesystem both hosts share. Design: fs-sync/README.md.
 *
 * The source runs the rsync client (sender) with a remote shell that is
 * phaul itself ("phaul fs-rsh"): that helper hands rsync's two pipe ends
 * back to phaul and exits, and phaul bridges them to the MUX_FS stream.
 * The destination agent runs "rsync --server" (receiver) on a socketpair
 * bridged to the same stream. The agent runs only a whitelisted receiver
 * command line, into a path under the root it was configured with.
 *
 * Control-stream contract: each source call below sends one request on
 * MUX_CTL and consumes exactly its one answer (FsSyncDone, FsProbeResp);
 * nothing else may read MUX_CTL meanwhile. The agent serves the request
 * synchronously from its dispatch handler, so no other control message
 * interleaves. The FS stream is left in sync (both directions ended with
 * their EOF record) whatever the outcome, unless the connection itself
 * failed.
 */
#ifndef FS_SYNC_FSS_H
#define FS_SYNC_FSS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "phaul.pb-c.h"
#include "transport/mux.h"

/* rsync's idle I/O timeout and our waits for the peer when none is given. */
#define FSS_TIMEOUT_S_DEFAULT 120

struct fss_opts {
	int timeout_s;		     /* rsync --timeout and waits for the peer; 0: default */
	bool vanished_ok;	     /* rsync exit 24 (files vanished) is success: live CT */
	const char *const *excludes; /* rsync --exclude patterns (travel in rsync's protocol) */
	size_t nexcludes;
	const char *rsh_exe; /* program implementing fss_rsh_main() as "fs-rsh";
			      * NULL: this process's binary (/proc/PID/exe) */
};

struct fss_stats {
	uint64_t usec;	     /* wall time of the sync */
	uint64_t wire_tx;    /* MUX_FS bytes sent by this side, headers included */
	uint64_t wire_rx;    /* MUX_FS bytes received */
	uint64_t files;	     /* rsync --stats: regular files transferred */
	uint64_t total_size; /* rsync --stats: total file size of the tree */
	uint64_t literal;    /* rsync --stats: literal data sent (not matched) */
	int client_exit;     /* exit code of the local rsync client (-1: not run) */
	int server_exit;     /* exit code of the agent's rsync (-1: not run) */
	bool shared;	     /* for the caller: fss_probe_shared() said shared, no sync */
};

/*
 * Source side: make dst_dir on the agent's host equal src_dir here
 * (rsync -aHAXS --numeric-ids --delete: modes, owners by number, hard
 * links, ACLs, xattrs, devices and specials, sparse files, deletions).
 * st may be NULL. Returns 0; PH_ERSYNC naming the host, paths, both exit
 * codes and rsync's last stderr line; the agent's refusal (PH_EPATH,
 * PH_EPROTO, PH_ENOTSUP) with its message; or a transport error.
 * dst_dir must be absolute and made of [A-Za-z0-9._+,=@%:/-] only (rsync
 * would shell-escape anything else in the remote command line).
 */
int fss_sync(struct mux *m, const char *src_dir, const char *dst_dir, const struct fss_opts *o,
	     struct fss_stats *st);

/*
 * Agent side, from the dispatch handler of FsSyncStart: check the request
 * (fss_check_args(), fss_open_dest() beneath allowed_root, a blank-separated
 * list of roots), run the rsync receiver confined to that directory and
 * bridged to MUX_FS, and answer FsSyncDone. The receiver runs in its own
 * mount namespace where every mount is read-only except a clone of the
 * destination, mounted over its root, which is its working directory and
 * destination ("."): nothing it does, following links included, writes
 * elsewhere. Returns 0 once the answer is sent (whatever rsync did: the
 * verdict is in FsSyncDone and the log), or a transport error when it
 * could not be. allowed_root NULL or "" refuses every request (PH_ENOTSUP),
 * and so does a root that is the host's "/". host names us in messages.
 */
int fss_serve(struct mux *m, const Phaul__FsSyncStart *req, const char *allowed_root,
	      const char *host);

/*
 * Source side: is dst_dir on the agent's host the same directory as
 * src_dir here (shared storage)? Writes a cookie file into src_dir, asks
 * the agent to read it under dst_dir, removes it. *shared is false on any
 * error. Returns 0, the agent's refusal, or a transport/file error.
 */
int fss_probe_shared(struct mux *m, const char *src_dir, const char *dst_dir, int timeout_ms,
		     bool *shared);

/* Agent side, from the dispatch handler of FsProbe: answers FsProbeResp. Like fss_serve(). */
int fss_serve_probe(struct mux *m, const Phaul__FsProbe *req, const char *allowed_root,
		    const char *host);

/*
 * "phaul fs-rsh HOST CMD...": the remote shell rsync runs on the source.
 * Sends its argv and its stdin/stdout (rsync's pipe) to the fss_sync()
 * that started rsync, over the socket named by $PHAUL_FSS_FD, and exits.
 * argv[0] is "fs-rsh". Returns the process exit code.
 */
int fss_rsh_main(int argc, char **argv);

/* fs_root may list several roots, separated by blanks. */
#define FSS_ROOT_SEP " \t"

/*
 * The checks fss_serve() applies, exposed for tests and the fuzzer.
 * fss_check_args: args must be exactly "rsync --server [OPTS] . DEST"
 * where OPTS are those fss_sync() produces (one short-option cluster of
 * known letters with rsync's "e." capability suffix, --delete,
 * --numeric-ids, --stats, --timeout=N) and DEST equals dest. Lexical only.
 * fss_check_dest_lexical: dest is absolute, of the safe characters, has no
 * "." or ".." component, and lies at or under one of roots (absolute
 * paths separated by FSS_ROOT_SEP; PH_ENOTSUP when there is none).
 * Both return 0 or PH_EPROTO / PH_EPATH naming the argument (index and
 * value) or the path component.
 */
int fss_check_args(const char *const *args, size_t nargs, const char *dest);
int fss_check_dest_lexical(const char *dest, const char *roots);

/*
 * The root of roots that dest lies under (the longest one): *root points
 * into roots at it; returns its length without trailing slashes, 0 (and
 * *root NULL) when dest lies under none. Lexical only.
 */
size_t fss_pick_root(const char *dest, const char *roots, const char **root);

/*
 * Open dest as a directory beneath its root without following any link
 * below the root: *fd (O_RDONLY|O_DIRECTORY, close-on-exec; the caller
 * closes it) refers to what was checked, whatever happens to the path
 * afterwards. Refused: the lexical checks above; a root that resolves to
 * "/" (PH_ENOTSUP); dest equal to its root (PH_EPATH: each CT has its own
 * directory); a component below the root that is a symlink or not a
 * directory (PH_EPATH). A missing component is created mode 0700 when
 * create is set, else PH_ENOENT. root_real (may be NULL) gets the root's
 * resolved path. *fd (a directory fd, the caller's to close)
 * is -1 on failure.
 */
int fss_open_dest(const char *dest, const char *roots, bool create, int *fd, char *root_real,
		  size_t len);

#endif
