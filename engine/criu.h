/* SPDX-License-Identifier: GPL-2.0 */
/*
 * CRIU driven over its RPC: `criu swrk FD` on a SOCK_SEQPACKET socketpair,
 * one packed CriuReq/CriuResp per datagram (rpc.proto from the criu
 * package). A struct criu_conn is one swrk process; it serves one request,
 * except the PRE_DUMP... DUMP sequence, which shares one connection.
 *
 * Errors: every CRIU failure returns PH_ECRIU with cr_errno, cr_errmsg and
 * the log file path in the message (ph_errmsg()).
 */
#ifndef ENGINE_CRIU_H
#define ENGINE_CRIU_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct criu_conn;

struct criu_opts {
	pid_t pid;                 /* dump: root of the tree */
	const char *images_dir;    /* opened by the engine, passed as images_dir_fd */
	const char *work_dir;      /* logs and stats; NULL: images_dir */
	const char *parent_img;    /* "../N-1" relative to images_dir, or NULL */
	const char *log_file;      /* name inside work_dir; NULL: "<request>.log" */
	int log_level;             /* CRIU's 0..4; 0 means 4 */
	int ps_fd;                 /* connected page-server socket or -1 */
	bool track_mem;
	bool shell_job;
	bool tcp_established;
	bool ext_unix_sk;
	bool file_locks;
	bool leave_running;
	bool manage_cgroups;
	bool lazy_pages;
};

/* Decision returned by the post-dump callback. */
enum criu_verdict { CRIU_ROLLBACK = 0, CRIU_COMMIT = 1 };

/*
 * Called for each notification CRIU sends during DUMP ("pre-dump",
 * "network-lock", "post-dump", ...). For "post-dump" the return value is the
 * verdict (the callback may block until the migration is decided): COMMIT
 * answers success, so CRIU kills the tree; ROLLBACK answers failure, so
 * CRIU resumes it. For other scripts return COMMIT to continue.
 */
typedef enum criu_verdict (*criu_notify_fn)(const char *script, void *arg);

int criu_conn_open(struct criu_conn **out);
/* Ends the swrk process (waits for it). Accepts NULL. */
void criu_conn_close(struct criu_conn *c);

#endif
