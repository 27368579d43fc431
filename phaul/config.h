/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Configuration: built-in defaults, then the config file (INI, parsed by
 * inih), then the command line. See configs/phaul.conf for every key.
 */
#ifndef PHAUL_CONFIG_H
#define PHAUL_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#define PHAUL_CONF_DEFAULT "/etc/phaul/phaul.conf"

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
	char fs_root[512]; /* agent: fs-sync writes only under this ("" = never) */
	int timeout_s;	   /* any single step */
	bool keep_images;  /* keep the work dirs after the migration */
	char restore[8];   /* "lazy" (default) or "eager": how the destination restores */
	int store_io;	   /* agent: page store I/O, enum pio_backend (0 auto) */
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
/* Parse "10M", "1G", "500k" (bytes, powers of 1024) into *out. */
int config_parse_size(const char *s, uint64_t *out);

#endif
