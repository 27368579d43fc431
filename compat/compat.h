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
	const char *ct_spec;	  /* "runc:web1" */
	const char *ct_path;	  /* its directory on both hosts (runc: the bundle), or NULL */
	const char *ct_runtime;	  /* the source's runtime and version, "" if missing */
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
