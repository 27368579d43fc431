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
/* transport: plaintext of one sealed tcp record (a frame header and payload fit) */
#define PH_RECORD_MAX (PH_FRAME_MAX + 64)
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
/*
 * Pages in one page-server entry that carries data (ADD, ADD_F with
 * PE_PRESENT). CRIU 3.17 sends one entry per iovec of a page-pipe buffer
 * (page-xfer.c page_xfer_dump_pages(), write_pagemap_to_server()), and an
 * iovec never leaves its buffer, whose pipe holds at most PIPE_MAX_SIZE =
 * 8 * PAGE_SIZE / sizeof(struct pipe_buffer) = 819 pages, rounded up by
 * F_SETPIPE_SZ to 1024 (page-pipe.h, page-pipe.c ppb_resize_pipe()): 4 MiB
 * with 4 KiB pages. The relay streams page data through one
 * PH_FRAME_MAX buffer and never holds an entry whole, so the value is a
 * sanity bound with a 64x margin over CRIU, not a memory bound.
 */
#define PH_PS_PAGES_MAX (64u * 1024)
/* post-copy (phaul/pclink.h): links lost and taken again in one migration */
#define PH_PC_RELINKS_MAX 64
/* flat page store (engine/pstore.h): pagemaps (processes + shmem) of one CT */
#define PH_STORE_MAPS_MAX 65536
/* runs (contiguous vaddr ranges) in one pagemap of the store */
#define PH_STORE_RUNS_MAX (4u * 1024 * 1024)
/* pages in one pagemap of the store (1 TiB of 4 KiB pages) */
#define PH_STORE_PAGES_MAX (1ull << 28)
/*
 * End of what an entry without data (HOLE, ADD_F without PE_PRESENT: pages
 * in the parent image or lazy) may describe. CRIU merges every run of
 * unchanged pages into one such entry however long (page-pipe.c
 * page_pipe_add_hole(), iov_grow_page()), so its only bound is the address
 * space: vaddr + nr_pages * PAGE_SIZE must stay within TASK_SIZE_MAX of
 * x86_64 with 5-level paging, 2^56 - PAGE_SIZE. 2^56 rather than the
 * 4-level 2^47: phaul cannot tell whether the source kernel runs la57 and
 * the task mapped above 2^47; accepting up to 2^56 costs nothing (these
 * entries are a header each; the destination CRIU writes one pagemap
 * entry), refusing a real one would fail the migration. 56 bits also
 * covers arm64's 52-bit VA.
 */
#define PH_PS_VADDR_END (1ull << 56)
/*
 * post-copy (engine/lzx.h): lazy runs of one dump (its pagemap entries with
 * PE_LAZY, per task, adjacent ones merged) and one pagemap image read to
 * learn them (a 4M-run pagemap is about 100 MiB).
 */
#define PH_LAZY_RUNS_MAX    (4u * 1024 * 1024)
#define PH_LAZY_PAGEMAP_MAX (256u * 1024 * 1024)
/*
 * Lazy pages a destination pushes (engine/lzx.h lzx_push): three bitmaps
 * of this many bits (3 x 8 MiB) and a store file of as many pages (256 GiB
 * of 4 KiB pages, on the session directory's disk, not in memory).
 */
#define PH_LAZY_PAGES_MAX (64ull * 1024 * 1024)
/*
 * Hybrid: the VMAs of one task read from its mm-<pid>.img (Linux's default
 * vm.max_map_count is 65530; the image itself at most PH_LAZY_PAGEMAP_MAX).
 */
#define PH_MM_VMAS_MAX (1u << 20)
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
/* agent --listen: highest max_startups / per_source_max_startups (child slots) */
#define PH_STARTUPS_MAX 1000
/* agent --listen: highest max_sessions */
#define PH_SESSIONS_MAX 1000
/* commit: a migration's id ([A-Za-z0-9-]; Recover, RestoreReq, record names) */
#define PH_MIG_ID_MAX 64
/* commit: one migration's record file (phaul/mrec.h) */
#define PH_MREC_MAX 4096
/* control socket (phaul/control.h): one request line, one answer line */
#define PH_CTL_REQ_MAX 256
#define PH_CTL_REPLY_MAX (8u * 1024)
/* control socket: sockets `phaul status` looks at in the work dir's run/ */
#define PH_CTL_SOCKETS_MAX 256
/* balance: CTs and rules in one LoadReq, CTs in one LoadResp */
#define PH_LOAD_CTS_MAX	  1024
#define PH_LOAD_RULES_MAX 8
/* balance: one CT spec or target in LoadReq / MigrateReq */
#define PH_LOAD_NAME_MAX 256
/* balance: one JSON line relayed from a remote phaul migrate */
#define PH_MIGRATE_LINE_MAX (16u * 1024)
/* balance: one answer of the Prometheus HTTP API */
#define PH_PROM_RESP_MAX (16u * 1024 * 1024)
/* precopy: a destination's restore overhead (IterReady) taken as a figure, us */
#define PH_RESTORE_OVERHEAD_MAX_US (600ull * 1000000)

#endif
