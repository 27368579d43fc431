/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Configuration: built-in defaults, then the config file (INI, parsed by
 * inih), then the command line. See configs/phaul.conf for every key.
 */
#ifndef PHAUL_CONFIG_H
#define PHAUL_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "balance.h"
#include "engine/criu.h"

#define PHAUL_CONF_DEFAULT "/etc/phaul/phaul.conf"

/*
 * CRIU options of a migration: [criu] keys, then migrate's flags. Each
 * side gets those it needs (CRIU 3.17): the dump all of them, the restore
 * shell_job, tcp_established, file_locks, ext_unix_sk, manage_cgroups
 * (link_remap and ghost_limit only act while dumping).
 */
struct phaul_criu_flags {
	bool shell_job;		   /* the tree is attached to a terminal */
	bool tcp_established;	   /* established TCP connections (repair mode) */
	bool file_locks;	   /* flock/fcntl/OFD locks held by the tree */
	bool ext_unix_sk;	   /* unix datagram sockets connected outside the tree */
	bool link_remap;	   /* open files whose name is gone but still linked */
	uint32_t ghost_limit;	   /* bytes of one unlinked open file; 0: 1 MiB */
	enum criu_cg_mode cg_mode; /* --manage-cgroups; CRIU_CG_UNSET: soft */
};

struct phaul_config {
	char transport[8]; /* "ssh" or "tcp" */
	char secret_file[512];
	char work_dir[512];
	int log_level;
	char listen[128];      /* agent --listen default */
	char agent_cmd[512];   /* what ssh runs on the destination */
	char known_hosts[512]; /* "" = ~/.ssh/known_hosts */
	char identity[512];    /* "" = agent, then ~/.ssh/id_* */
	int tcp_port;	       /* port used when HOST has none (tcp) */
	uint32_t downtime_limit_ms;
	uint32_t max_iterations;
	char policy[16];	     /* pre-copy stop rule: "predict" or "fixed" */
	bool auto_converge;	     /* throttle a CT that out-dirties the link */
	bool allow_downtime_overrun; /* dump anyway when the limit cannot be met */
	bool compress;
	int compress_level;
	uint64_t bwlimit; /* bytes/s, 0 = unlimited */
	char hooks_dir[512];
	char fs_root[512];	   /* agent: fs-sync writes only under this ("" = never) */
	int timeout_s;		   /* any single step */
	bool keep_images;	   /* keep the work dirs after the migration */
	unsigned keep_reports;	   /* runs (logs, reports) kept under work_dir/runs */
	unsigned keep_days;	   /* ...and for at most this many days (0: no limit) */
	char path[512];		   /* the file loaded ("" = none): what a remote migrate re-reads */
	bool allow_remote_migrate; /* agent: a balancer may ask it to migrate a CT */
	char notify_url[512];	   /* POST the final report here ("" = never) */
	struct bal_config balance; /* [balance] */
	struct phaul_criu_flags criu; /* [criu] */
	/* agent --listen: bounds on peers (HOWTO "Bounds on peers") */
	unsigned max_startups_start;	  /* unauthenticated connections before random drops */
	unsigned max_startups_rate;	  /* drop percentage at start, rising to 100 at full */
	unsigned max_startups_full;	  /* hard cap on unauthenticated connections */
	unsigned per_source_max_startups; /* hard cap per source address */
	unsigned max_sessions;		  /* authenticated sessions at once */
	int login_grace_s;		  /* to prove the secret */
	int idle_timeout_s;		  /* agent: end a session silent this long (0: timeout_s) */
	int postcopy_reconnect_s;	  /* post-copy: how long a lost link may take to return */
	char restore[8]; /* "lazy" (default) or "eager": how the destination restores */
	char mode[10];	 /* "precopy" (default) or "postcopy" (HOWTO "Migration modes") */
	int store_io;	 /* agent: page store I/O, enum pio_backend (0 auto) */
};

void config_defaults(struct phaul_config *c);
/*
 * Load path into c. missing_ok: a missing file is not an error (the
 * default path). Unknown keys and bad values fail with PH_ECONFIG naming
 * the file, line and key.
 */
int config_load(struct phaul_config *c, const char *path, bool missing_ok);
/* Set one "section.key" or "key" to value, as from the file (used by -o). */
int config_set(struct phaul_config *c, const char *section, const char *key, const char *value);
/* "yes/no/true/false/on/off/1/0"; -1 otherwise. */
int config_parse_bool(const char *s, bool *out);
/* Add f to a dump's (restore: false) or a restore's CRIU options. */
void config_criu_opts(const struct phaul_criu_flags *f, bool restore, struct criu_opts *o);
/* Parse "10M", "1G", "500k" (bytes, powers of 1024) into *out. */
int config_parse_size(const char *s, uint64_t *out);

#endif
