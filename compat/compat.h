/* SPDX-License-Identifier: GPL-2.0 */
/*
 * compat: what a host says about itself (HostFacts, the wire form from
 * proto/phaul.proto) and the comparison of two hosts' facts into a table
 * of checks, each with both values and a verdict.
 */
#ifndef COMPAT_COMPAT_H
#define COMPAT_COMPAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "phaul.pb-c.h"

/*
 * Fill f with this host's facts. criu: also ask CRIU (version, CHECK,
 * CPUINFO_CHECK against cpuinfo when non-NULL). pids: report which of them
 * are in use here (the first PH_CHECK_BUSY_LIST_MAX in pids_busy, the rest
 * counted in pids_busy_more, so the facts always fit one message). Strings
 * in f are owned; release with compat_facts_free().
 */
struct compat_probe {
	const char *work_dir;
	bool criu;
	const uint32_t *pids;
	size_t npids;
	const uint8_t *cpuinfo; /* source's cpuinfo.img, or NULL */
	size_t cpuinfo_len;
};
int compat_local_facts(const struct compat_probe *p, Phaul__HostFacts *f);
void compat_facts_free(Phaul__HostFacts *f);
/* The CRIU part of compat_local_facts(): version, CHECK, CPUINFO_CHECK. */
int compat_criu_facts(const struct compat_probe *p, Phaul__HostFacts *f);

/* CPUINFO_DUMP on this host: the cpuinfo image for the peer, malloc'ed (the caller frees). */
int compat_cpuinfo_dump(const char *work_dir, uint8_t **buf, size_t *len);

/* Soft-dirty tracking usable on this kernel (checked in /proc/self/pagemap). */
bool compat_soft_dirty(void);

/*
 * The paths the CT's restore opens by name, for the destination to look up:
 * every task's (threads' too) open regular files and directories, cwd, root
 * and file-backed mappings, deduplicated; not unlinked ones (CRIU carries
 * them as ghosts), not /proc or /sys, not those at or under a path in excl
 * (the synced and shared ones). Tasks in another mount namespace are not
 * read (their paths name the CT's own root): foreign_mnt says so. At most
 * PH_CHECK_FILES_MAX paths, PH_CHECK_FILES_BYTES_MAX bytes together: total
 * counts them all and capped says that only the first n were kept. Owns v
 * and its entries; release with compat_files_free() (NULL-safe, also after a
 * failure).
 */
struct compat_files {
	Phaul__CheckFile **v;
	size_t n, total;
	bool capped, foreign_mnt;
};
int compat_ct_files(const uint32_t *pids, size_t npids, const char *const *excl, size_t nexcl,
		    struct compat_files *out);
void compat_files_free(struct compat_files *fl);

/* Absolute, at most PH_PATH_MAX bytes, no empty, "." or ".." components,
 * no trailing '/' (but "/"). */
bool compat_path_normal(const char *p);
/* The destination's bounds on CheckReq.files before any look-up: the count,
 * each path's length and form. PH_ETOOBIG or PH_EPROTO naming the entry. */
int compat_files_valid(Phaul__CheckFile *const *files, size_t n);
/*
 * Look each of files (already valid) up here, without following a last
 * symlink or triggering an automount, opening or creating nothing; fill f's
 * files_checked, files_missing and files_differ (indices into files).
 */
int compat_files_lookup(Phaul__CheckFile *const *files, size_t n, Phaul__HostFacts *f);

/* What the migration allows CRIU to dump (phaul's [criu] options). */
struct compat_fd_allow {
	bool file_locks;
	bool link_remap;
	bool ext_unix_sk;
	uint32_t ghost_limit; /* bytes; 0: CRIU's default, 1 MiB */
};

/*
 * Before the freeze: the open files of pids (/proc/PID/fd, fdinfo) that
 * CRIU 3.17 would refuse to dump with what allow permits: a file lock
 * without file_locks, an unlinked open file over the ghost limit, a file
 * that lost its name but has another link without link_remap, a unix
 * datagram socket connected to a named one outside the tree without
 * ext_unix_sk (sock_diag; other sockets connected outside: never), an
 * inotify watch on an unlinked file (never). Returns how many; why gets the first,
 * naming the process, fd, file and the option that allows it (or why none
 * does). Needs root for other users' processes and for watches
 * (open_by_handle_at); what it cannot read it skips: CRIU still decides.
 */
int compat_scan_fds(const uint32_t *pids, size_t npids, const struct compat_fd_allow *allow,
		    char *why, size_t len);

enum compat_verdict { COMPAT_OK = 0, COMPAT_WARN = 1, COMPAT_FAIL = 2, COMPAT_SKIP = 3 };

#define COMPAT_ROWS_MAX 20 /* one per name in compat_check_names, and room */
#define COMPAT_VAL_MAX	96

/* The destination's cpu_msg when the source sent no cpuinfo image (its dump failed). */
#define COMPAT_NO_CPUINFO "no cpuinfo from the source"

struct compat_row {
	const char *check; /* stable name, also what --force takes */
	char src[COMPAT_VAL_MAX];
	char dst[COMPAT_VAL_MAX];
	enum compat_verdict verdict;
	char detail[384]; /* ct-files names a path and an option */
};

struct compat_table {
	struct compat_row rows[COMPAT_ROWS_MAX];
	int nrows;
	int nfail;
	int nwarn;
	bool precopy; /* pre-copy possible on both hosts */
	bool lazy;    /* lazy restore asked for and possible on the destination */
};

struct compat_req {
	uint64_t ct_rss_kb;	  /* memory the CT needs on the destination */
	uint64_t ct_images_kb;	  /* disk the images need in the dst work dir */
	bool require_precopy;	  /* no soft-dirty is a failure, not a warning */
	bool need_rsync;	  /* paths to rsync: rsync needed on both hosts */
	bool auto_converge;	  /* the source may throttle: it needs cgroup_cpu */
	bool lazy_restore;	  /* lazy restore asked for: has the destination uffd? */
	const char *force;	  /* comma-separated check names to skip */
	bool ct_scanned;	  /* the CT's files were scanned (compat_scan_fds()): */
	int ct_files;		  /* this many need an option or cannot move, */
	const char *ct_files_why; /* the first one's text */
	/* The CT type's checks (runc:): NULL ct_runtime for a type without them. */
	const char *ct_spec;	/* "runc:web1" */
	const char *ct_path;	/* its directory on both hosts (runc: the bundle), or NULL */
	const char *ct_runtime; /* the source's runtime and version, "" if missing */
	const char *ct_image;	/* the image it runs from (podman: its ID), or NULL */
	/* the CT's files the destination needs (compat_ct_files()), NULL: none asked */
	const struct compat_files *files;
};

/* Compare; returns 0 if nothing failed, else PH_ECOMPAT naming the first
 * failed check, its host and both values. */
int compat_compare(const Phaul__HostFacts *src, const Phaul__HostFacts *dst,
		   const struct compat_req *req, struct compat_table *t);
void compat_print(FILE *out, const struct compat_table *t, const char *src_name,
		  const char *dst_name);
/* Names of all checks, NULL-terminated (for --help and --force validation). */
extern const char *const compat_check_names[];
const char *compat_verdict_str(enum compat_verdict v);

#endif
