/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The command line: every command's getopt table and --help text in one
 * place (tests/unit/test_cli_docs.c compares them with HOWTO.md and the man
 * page), HOST parsing, and the pre-flight that decides what is a usage error
 * (exit 2) before anything connects.
 */
#ifndef PHAUL_CLI_H
#define PHAUL_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct cli_cmd {
	const char *name;	   /* "" for the global options */
	const struct option *opts; /* its getopt_long table, { NULL } ended */
	const char *usage;	   /* its --help */
};
/* Every command; the entry with name NULL ends it. */
extern const struct cli_cmd cli_cmds[];

extern const struct option main_opts[], migrate_opts[], check_opts[], agent_opts[], recover_opts[],
	balance_opts[];
extern const char main_usage[], migrate_usage[], check_usage[], agent_usage[], recover_usage[],
	balance_usage[];
extern const struct option status_opts[], cancel_opts[], set_opts[];
extern const char status_usage[], cancel_usage[], set_usage[];

struct cli_host {
	char user[64]; /* empty when none given */
	char host[256];
	int port;
};

/*
 * "[user@]host[:port]": host a name, an IPv4 address, or an IPv6 address in
 * brackets ("[::1]:7070"); a bare IPv6 address ("::1") takes no port. port is
 * default_port when none is given. 0, or -PH_EUSAGE naming the wrong part.
 */
int cli_parse_host(const char *spec, int default_port, struct cli_host *h);
/* "host:port" or "[v6]:port", as the tcp transport takes it. */
void cli_host_addr(const struct cli_host *h, char *out, size_t len);
/* Every name in a comma-separated --force list is a check: 0 or -PH_EUSAGE. */
int cli_check_force(const char *list);
/*
 * Before connecting: HOST well-formed for cfg's transport and, for tcp, the
 * shared secret usable. 0, -PH_EUSAGE or -PH_ECONFIG (both exit 2).
 */
int cli_preflight(const struct phaul_config *cfg, const char *host);
/* The tcp shared secret readable and well-formed: 0 or -PH_ECONFIG with how to make one. */
int cli_check_secret(const char *path);

/*
 * A usage error of command cmd: "phaul CMD: MSG" and where help is, one line
 * each. Returns EXIT_USAGE.
 */
/* After getopt's own message (it names the option): only where help is. EXIT_USAGE. */
int cli_usage_hint(const char *cmd);
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * argv[0] is a command that needs root (all but help) and we are not root:
 * says so in one line and returns -1 (exit 2). Asking for --help never needs root.
 */
int cli_need_root(int argc, char **argv);

#endif
