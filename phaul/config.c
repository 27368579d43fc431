// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caps.h"
#include "config.h"
#include "err.h"
#include "log.h"

void config_defaults(struct phaul_config *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->transport, "ssh");
	strcpy(c->secret_file, "/etc/phaul/secret");
	strcpy(c->work_dir, "/var/lib/phaul");
	strcpy(c->listen, "127.0.0.1:7070");
	strcpy(c->agent_cmd, "phaul agent --stdio");
	strcpy(c->hooks_dir, "/etc/phaul/hooks");
	/* fs-sync is off until the operator names where CTs' directories live. */
	c->fs_root[0] = '\0';
	c->log_level = LOG_INFO;
	c->tcp_port = 7070;
	c->downtime_limit_ms = 300;
	c->max_iterations = 8;
	strcpy(c->policy, "predict");
	c->auto_converge = true;
	c->compress = true;
	c->compress_level = 1;
	c->timeout_s = 120;
	c->keep_reports = 50;
	c->keep_days = 30;
	strcpy(c->restore, "lazy");
	strcpy(c->mode, "precopy");
	bal_config_defaults(&c->balance);
	c->max_startups_start = c->max_startups_full = 10;
	c->max_startups_rate = 100;
	c->per_source_max_startups = 3;
	c->max_sessions = 8;
	c->login_grace_s = 15;
	c->idle_timeout_s = 0;
	c->postcopy_reconnect_s = 300;
}

int config_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'k':
	case 'K':
		v <<= 10;
		end++;
		break;
	case 'm':
	case 'M':
		v <<= 20;
		end++;
		break;
	case 'g':
	case 'G':
		v <<= 30;
		end++;
		break;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end)
		return -1;
	*out = v;
	return 0;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

int config_parse_bool(const char *s, bool *out)
{
	if (!strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "1") || !strcmp(s, "on"))
		*out = true;
	else if (!strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "0") || !strcmp(s, "off"))
		*out = false;
	else
		return -1;
	return 0;
}

/* "N" (a hard cap) or OpenSSH's "start:rate:full" (random early drop from start). */
static int parse_startups(struct phaul_config *c, const char *v)
{
	unsigned start, rate, full;
	char tail;

	if (sscanf(v, "%u:%u:%u%c", &start, &rate, &full, &tail) == 3) {
		if (!start || start > full || rate > 100 || full > PH_STARTUPS_MAX)
			return -1;
	} else if (sscanf(v, "%u%c", &start, &tail) == 1 && start && start <= PH_STARTUPS_MAX) {
		rate = 100;
		full = start;
	} else {
		return -1;
	}
	c->max_startups_start = start;
	c->max_startups_rate = rate;
	c->max_startups_full = full;
	return 0;
}

/*
 * fs_root: absolute paths separated by blanks, none of them "/" (a peer
 * could then overwrite the host), or empty (fs-sync off).
 */
static bool fs_root_ok(const char *v)
{
	size_t n;

	for (v += strspn(v, " \t"); *v; v += n, v += strspn(v, " \t")) {
		n = strcspn(v, " \t");
		if (v[0] != '/' || strspn(v, "/") == n)
			return false;
	}
	return true;
}

#define STR(field)                                                                                 \
	do {                                                                                       \
		if (strlen(v) >= sizeof(c->field))                                                 \
			return -1;                                                                 \
		strcpy(c->field, v);                                                               \
		return 0;                                                                          \
	} while (0)

/* [criu] keys; same returns as set_key(). */
static int set_criu_key(struct phaul_criu_flags *f, const char *k, const char *v)
{
	uint64_t u;

	if (!strcmp(k, "shell_job"))
		return config_parse_bool(v, &f->shell_job);
	if (!strcmp(k, "tcp_established"))
		return config_parse_bool(v, &f->tcp_established);
	if (!strcmp(k, "file_locks"))
		return config_parse_bool(v, &f->file_locks);
	if (!strcmp(k, "ext_unix_sk"))
		return config_parse_bool(v, &f->ext_unix_sk);
	if (!strcmp(k, "link_remap"))
		return config_parse_bool(v, &f->link_remap);
	if (!strcmp(k, "ghost_limit")) {
		/* CriuOpts.ghost_limit is a uint32 */
		if (config_parse_size(v, &u) || !u || u > UINT32_MAX)
			return -1;
		f->ghost_limit = (uint32_t)u;
		return 0;
	}
	if (!strcmp(k, "manage_cgroups"))
		return criu_cg_mode_parse(v, &f->cg_mode);
	return -2;
}

void config_criu_opts(const struct phaul_criu_flags *f, bool restore, struct criu_opts *o)
{
	o->shell_job |= f->shell_job;
	o->tcp_established |= f->tcp_established;
	o->file_locks |= f->file_locks;
	o->ext_unix_sk |= f->ext_unix_sk;
	if (f->cg_mode != CRIU_CG_UNSET)
		o->cg_mode = f->cg_mode;
	if (restore)
		return;
	o->link_remap |= f->link_remap;
	if (f->ghost_limit)
		o->ghost_limit = f->ghost_limit;
}

/* Returns 0 on success, -1 for a bad value, -2 for an unknown key. */
static int set_key(struct phaul_config *c, const char *k, const char *v)
{
	unsigned long u;
	int l;

	if (!strcmp(k, "transport")) {
		if (strcmp(v, "ssh") && strcmp(v, "tcp"))
			return -1;
		STR(transport);
	}
	if (!strcmp(k, "secret_file"))
		STR(secret_file);
	if (!strcmp(k, "work_dir"))
		STR(work_dir);
	if (!strcmp(k, "listen"))
		STR(listen);
	if (!strcmp(k, "agent_cmd"))
		STR(agent_cmd);
	if (!strcmp(k, "known_hosts"))
		STR(known_hosts);
	if (!strcmp(k, "identity"))
		STR(identity);
	if (!strcmp(k, "hooks_dir"))
		STR(hooks_dir);
	if (!strcmp(k, "fs_root")) {
		if (!fs_root_ok(v))
			return -1;
		STR(fs_root);
	}
	if (!strcmp(k, "log_level")) {
		if ((l = log_level_parse(v)) < 0)
			return -1;
		c->log_level = l;
		return 0;
	}
	if (!strcmp(k, "keep_reports")) {
		if (parse_uint(v, 100000, &u) || !u)
			return -1;
		c->keep_reports = (unsigned)u;
		return 0;
	}
	if (!strcmp(k, "keep_days")) {
		if (parse_uint(v, 36500, &u))
			return -1;
		c->keep_days = (unsigned)u;
		return 0;
	}
	if (!strcmp(k, "tcp_port")) {
		if (parse_uint(v, 65535, &u) || !u)
			return -1;
		c->tcp_port = (int)u;
		return 0;
	}
	if (!strcmp(k, "downtime_limit_ms")) {
		if (parse_uint(v, 3600000, &u) || !u)
			return -1;
		c->downtime_limit_ms = (uint32_t)u;
		return 0;
	}
	if (!strcmp(k, "max_iterations")) {
		if (parse_uint(v, 64, &u) || !u)
			return -1;
		c->max_iterations = (uint32_t)u;
		return 0;
	}
	if (!strcmp(k, "policy")) {
		if (strcmp(v, "predict") && strcmp(v, "fixed"))
			return -1;
		STR(policy);
	}
	if (!strcmp(k, "auto_converge"))
		return config_parse_bool(v, &c->auto_converge);
	if (!strcmp(k, "allow_downtime_overrun"))
		return config_parse_bool(v, &c->allow_downtime_overrun);
	if (!strcmp(k, "compress"))
		return config_parse_bool(v, &c->compress);
	if (!strcmp(k, "compress_level")) {
		if (parse_uint(v, 19, &u) || !u)
			return -1;
		c->compress_level = (int)u;
		return 0;
	}
	if (!strcmp(k, "restore")) {
		if (strcmp(v, "lazy") && strcmp(v, "eager"))
			return -1;
		STR(restore);
	}
	if (!strcmp(k, "mode")) {
		if (strcmp(v, "precopy") && strcmp(v, "postcopy") && strcmp(v, "hybrid"))
			return -1;
		STR(mode);
	}
	if (!strcmp(k, "store_io")) {
		/* enum pio_backend (engine/pio.h): auto 0, io_uring 1, pwrite 2 */
		if (!strcmp(v, "auto"))
			c->store_io = 0;
		else if (!strcmp(v, "io_uring"))
			c->store_io = 1;
		else if (!strcmp(v, "pwrite"))
			c->store_io = 2;
		else
			return -1;
		return 0;
	}
	if (!strcmp(k, "allow_remote_migrate"))
		return config_parse_bool(v, &c->allow_remote_migrate);
	if (!strcmp(k, "notify_url")) {
		if (*v && strncmp(v, "http://", 7) && strncmp(v, "https://", 8))
			return -1;
		STR(notify_url);
	}
	if (!strcmp(k, "bwlimit"))
		return config_parse_size(v, &c->bwlimit);
	if (!strcmp(k, "max_startups"))
		return parse_startups(c, v);
	if (!strcmp(k, "per_source_max_startups")) {
		if (parse_uint(v, PH_STARTUPS_MAX, &u) || !u)
			return -1;
		c->per_source_max_startups = (unsigned)u;
		return 0;
	}
	if (!strcmp(k, "max_sessions")) {
		if (parse_uint(v, PH_SESSIONS_MAX, &u) || !u)
			return -1;
		c->max_sessions = (unsigned)u;
		return 0;
	}
	if (!strcmp(k, "login_grace_time")) {
		if (parse_uint(v, 600, &u) || !u)
			return -1;
		c->login_grace_s = (int)u;
		return 0;
	}
	if (!strcmp(k, "idle_timeout")) {
		if (parse_uint(v, 86400, &u) || (u && u < 3))
			return -1;
		c->idle_timeout_s = (int)u;
		return 0;
	}
	if (!strcmp(k, "postcopy_reconnect")) {
		if (parse_uint(v, 86400, &u))
			return -1;
		c->postcopy_reconnect_s = (int)u;
		return 0;
	}
	if (!strcmp(k, "timeout")) {
		if (parse_uint(v, 86400, &u) || !u)
			return -1;
		c->timeout_s = (int)u;
		return 0;
	}
	return set_criu_key(&c->criu, k, v);
}

int config_set(struct phaul_config *c, const char *section, const char *key, const char *value)
{
	int r;

	/* -o balance.KEY=VALUE */
	if ((!section || !*section) && !strncmp(key, "balance.", 8)) {
		section = "balance";
		key += 8;
	}
	if (section && !strcmp(section, "balance")) {
		r = bal_config_set(&c->balance, key, value);
		goto done;
	}
	if (section && *section && strcmp(section, "phaul") && strcmp(section, "migrate") &&
	    strcmp(section, "agent") && strcmp(section, "criu"))
		return ph_seterr(PH_ECONFIG, "unknown section [%s]", section);
	r = set_key(c, key, value);
done:
	if (r == -2)
		return ph_seterr(PH_ECONFIG, "unknown key '%s'", key);
	if (r < 0 && !strcmp(key, "fs_root"))
		return ph_seterr(PH_ECONFIG,
				 "bad value '%s' for 'fs_root' (absolute directories separated by "
				 "blanks, never / itself: fs-sync writes below them)",
				 value);
	if (r < 0)
		return ph_seterr(PH_ECONFIG, "bad value '%s' for '%s'", value, key);
	return 0;
}

struct load_ctx {
	struct phaul_config *c;
	const char *path;
	int ret;
};

static int on_entry(void *user, const char *section, const char *key, const char *value)
{
	struct load_ctx *l = user;

	if (l->ret < 0)
		return 0; /* keep the first error's detail */
	l->ret = config_set(l->c, section, key, value);
	return l->ret == 0;
}

int config_load(struct phaul_config *c, const char *path, bool missing_ok)
{
	struct load_ctx l = { .c = c, .path = path, .ret = 0 };
	FILE *f = fopen(path, "re");
	int line;

	if (!f) {
		if (errno == ENOENT && missing_ok)
			return 0;
		return ph_seterr_errno(PH_ECONFIG, "cannot open config %s", path);
	}
	snprintf(c->path, sizeof(c->path), "%s", path);
	line = ini_parse_file(f, on_entry, &l);
	fclose(f);
	if (l.ret < 0) /* inih returns the first failing line */
		return ph_errctx(l.ret, "%s:%d", path, line);
	if (line != 0)
		return ph_seterr(PH_ECONFIG, "%s: line %d: syntax error", path, line);
	return 0;
}
