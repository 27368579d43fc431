/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every cap on a size or count that comes from outside (the peer, CRIU, a
 * file) lives here, so a reviewer can see them all at once. A value read
 * from the wire is checked against its cap before anything is allocated.
 */
#ifndef PHAUL_CAPS_H
#define PHAUL_CAPS_H

/* transport: one frame's payload, before and after compression */
#define PH_FRAME_MAX (256u * 1024)
/* transport: per-stream receive window (bytes in flight, on the wire) */
#define PH_WINDOW_CTL  (1u * 1024 * 1024)
#define PH_WINDOW_DATA (8u * 1024 * 1024)
/* one control message (protobuf) */
#define PH_MSG_MAX (64u * 1024)
/* a path sent by the peer (image file name, relative) */
#define PH_PATH_MAX 1024
/* one image file streamed to the destination */
#define PH_IMAGE_FILE_MAX (16ull * 1024 * 1024 * 1024)
/* image files in one dump */
#define PH_IMAGE_FILES_MAX 100000
/* a CRIU RPC message on the swrk socket */
#define PH_CRIU_MSG_MAX (1u * 1024 * 1024)
/* pages in one page-server iov (CRIU sends at most a few MiB at once) */
#define PH_PS_PAGES_MAX (64u * 1024)
/* stats-dump / stats-restore image files */
#define PH_STATS_FILE_MAX (64u * 1024)
/* pids in one CheckReq */
#define PH_CHECK_PIDS_MAX 65536
/* Busy pids a host lists in its facts; the rest are only counted (CheckResp fits PH_MSG_MAX). */
#define PH_CHECK_BUSY_LIST_MAX 64
/*
 * Paths of the CT's files in one CheckReq (the source checks the first ones
 * and says so), and their bytes together: CheckReq fits PH_MSG_MAX beside the
 * cpuinfo image. Each path is at most PH_PATH_MAX.
 */
#define PH_CHECK_FILES_MAX	 1024
#define PH_CHECK_FILES_BYTES_MAX (32u * 1024)
/* pre-copy iterations */
#define PH_ITER_MAX 64
/* auth: shared secret length */
#define PH_SECRET_MIN 16
#define PH_SECRET_MAX 4096
/* ssh: remote command line */
#define PH_CMD_MAX 4096
/* fs-sync: arguments of the rsync receiver command line in FsSyncStart */
#define PH_FSS_ARGS_MAX 16
/* fs-sync: one such argument (the destination path is one of them) */
#define PH_FSS_ARG_MAX PH_PATH_MAX
/* fs-sync: --sync paths of one migration */
#define PH_SYNC_MAX 16
/* fs-sync: the shared-filesystem probe's cookie */
#define PH_FSS_COOKIE_MAX 64
/* fs-sync: what is kept of rsync's --stats output (the rest is dropped) */
#define PH_FSS_STATS_MAX (16u * 1024)
/* hooks: executables run for one stage */
#define PH_HOOKS_MAX 256
/* commit: a migration's id ([A-Za-z0-9-]; Recover, RestoreReq, record names) */
#define PH_MIG_ID_MAX 64
/* commit: one migration's record file (phaul/mrec.h) */
#define PH_MREC_MAX 4096
/* balance: CTs and rules in one LoadReq, CTs in one LoadResp */
#define PH_LOAD_CTS_MAX	  1024
#define PH_LOAD_RULES_MAX 8
/* balance: one CT spec or target in LoadReq / MigrateReq */
#define PH_LOAD_NAME_MAX 256
/* balance: one JSON line relayed from a remote phaul migrate */
#define PH_MIGRATE_LINE_MAX (16u * 1024)
/* balance: one answer of the Prometheus HTTP API */
#define PH_PROM_RESP_MAX (16u * 1024 * 1024)

#endif
