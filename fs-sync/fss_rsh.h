/* SPDX-License-Identifier: GPL-2.0 */
/* The source's end of the fs-rsh handoff (fs-sync/rsh.c). */
#ifndef FS_SYNC_FSS_RSH_H
#define FS_SYNC_FSS_RSH_H

#include <stddef.h>

#include "caps.h"

/* The command rsync asked its remote shell to run, host word dropped. */
struct fss_rsh_cmd {
	char buf[PH_CMD_MAX];
	const char *args[PH_FSS_ARGS_MAX];
	size_t n;
};

/*
 * Wait up to timeout_ms on sk for fs-rsh's handoff: fds[0] is what rsync
 * writes (read it), fds[1] what rsync reads (write it), both close-on-exec.
 * PH_ERSYNC when rsync or its remote shell ended first, PH_ETIMEDOUT.
 */
int fss_rsh_accept(int sk, int timeout_ms, struct fss_rsh_cmd *cmd, int fds[2]);

#endif
