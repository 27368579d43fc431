// SPDX-License-Identifier: GPL-2.0
/* HOST parsing and the pre-flight of the command line (cli.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caps.h"
#include "cli.h"
#include "compat/compat.h"
#include "err.h"
#include "phaul.h"
#include "transport/chan.h"

/* PHAUL_CONF_DEFAULT */
#include "config.h"

const char main_usage[] =
	"Usage: phaul [OPTIONS] COMMAND [ARGS]\n"
	"\n"
	"Live-migrate a running process tree or container to another host.\n"
	"\n"
	"Commands:\n"
	"  migrate CT HOST   move CT (pid:N, lxc:NAME, runc:ID, podman:NAME) to HOST\n"
	"  check [HOST]      check this host, or this host against HOST, side by side\n"
	"  agent             run the destination agent (--stdio under ssh, --listen for tcp)\n"
	"  status [ID|CT]    the migrations running on this host, with their progress\n"
	"  cancel ID|CT      cancel a running migration: it rolls back, as on Ctrl-C\n"
	"  set ID|CT         change a running migration's --downtime-limit, --bwlimit\n"
	"  recover [ID|CT]   settle migrations whose outcome was lost (exit code 6)\n"
	"  balance           one run of the load balancer over the [balance] hosts (cron)\n"
	"\n"
	"Options:\n"
	"  -c, --config FILE      config file (default " PHAUL_CONF_DEFAULT ")\n"
	"  -o, --option KEY=VAL   set a config key (as in the file) for this run\n"
	"  -t, --transport T      ssh or tcp\n"
	"  -v, --verbose          more log output, one level per -v (info -> debug)\n"
	"  -q, --quiet            errors only\n"
	"  -h, --help             this help; 'phaul COMMAND --help' for a command\n"
	"  -V, --version          print the version\n"
	"\n"
	"Exit codes: 0 ok, 1 failed, 2 usage, 3 refused by checks,\n"
	"            4 failed or limit not met, rolled back (source running),\n"
	"            5 rollback failed, 6 outcome unknown: run 'phaul recover',\n"
	"            7 balance moved (see 'phaul balance --help'),\n"
	"            8 committed, then the lazy restore lost the CT.\n"
	"A command's options may also follow its operands. Every command needs root.\n"
	"Each migration leaves its log and report in WORK_DIR/runs (HOWTO \"Logs and\n"
	"reports\"). See phaul(8) and HOWTO.md for every option and error.\n";

const struct option main_opts[] = {
	{ "config", required_argument, NULL, 'c' },    { "option", required_argument, NULL, 'o' },
	{ "transport", required_argument, NULL, 't' }, { "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },	       { "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },	       { NULL, 0, NULL, 0 },
};

const struct cli_cmd cli_cmds[] = {
	{ "", main_opts, main_usage },
	{ "migrate", migrate_opts, migrate_usage },
	{ "check", check_opts, check_usage },
	{ "agent", agent_opts, agent_usage },
	{ "recover", recover_opts, recover_usage },
	{ "balance", balance_opts, balance_usage },
	{ "status", status_opts, status_usage },
	{ "cancel", cancel_opts, cancel_usage },
	{ "set", set_opts, set_usage },
	{ NULL, NULL, NULL },
};

static int parse_port(const char *spec, const char *s, int *port)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || errno || *end || v < 1 || v > 65535)
		return ph_seterr(PH_EUSAGE, "HOST '%s': port '%s' is not a number in 1..65535",
				 spec, s);
	*port = (int)v;
	return 0;
}

int cli_parse_host(const char *spec, int default_port, struct cli_host *h)
{
	const char *at = strrchr(spec, '@'), *p = at ? at + 1 : spec, *hend, *port = NULL;

	memset(h, 0, sizeof(*h));
	h->port = default_port;
	if (at && (at == spec || (size_t)(at - spec) >= sizeof(h->user) ||
		   strcspn(spec, ":/[] \t") < (size_t)(at - spec)))
		return ph_seterr(PH_EUSAGE, "HOST '%s': bad user before '@'", spec);
	if (at)
		memcpy(h->user, spec, at - spec);
	if (*p == '[') {
		hend = strchr(++p, ']');
		if (!hend || (hend[1] && hend[1] != ':'))
			return ph_seterr(PH_EUSAGE, "HOST '%s': expected [IPV6] or [IPV6]:PORT",
					 spec);
		if (hend[1])
			port = hend + 2;
	} else {
		hend = strchr(p, ':');
		if (hend && strchr(hend + 1, ':'))
			hend = p + strlen(p); /* a bare IPv6 address: no port */
		else if (hend)
			port = hend + 1;
		else
			hend = p + strlen(p);
	}
	if (hend == p || (size_t)(hend - p) >= sizeof(h->host))
		return ph_seterr(PH_EUSAGE, "HOST '%s': no host name or address", spec);
	memcpy(h->host, p, hend - p);
	if (strcspn(h->host, "/@[] \t\n") != strlen(h->host))
		return ph_seterr(PH_EUSAGE, "HOST '%s': '%s' is not a host name or address", spec,
				 h->host);
	return port ? parse_port(spec, port, &h->port) : 0;
}

void cli_host_addr(const struct cli_host *h, char *out, size_t len)
{
	snprintf(out, len, strchr(h->host, ':') ? "[%s]:%d" : "%s:%d", h->host, h->port);
}

int cli_check_force(const char *list)
{
	const char *p = list;

	while (p && *p) {
		size_t n = strcspn(p, ","), i;

		for (i = 0; compat_check_names[i]; i++)
			if (strlen(compat_check_names[i]) == n &&
			    !strncmp(compat_check_names[i], p, n))
				break;
		if (n && !compat_check_names[i]) {
			char known[512] = "";

			for (i = 0; compat_check_names[i]; i++)
				snprintf(known + strlen(known), sizeof(known) - strlen(known),
					 "%s%s", i ? ", " : "", compat_check_names[i]);
			return ph_seterr(PH_EUSAGE, "--force: no check named '%.*s' (checks: %s)",
					 (int)(n > 64 ? 64 : n), p, known);
		}
		p += n + (p[n] == ',');
	}
	return 0;
}

int cli_check_secret(const char *path)
{
	uint8_t key[PH_SECRET_MAX];
	size_t keylen = 0;
	char why[512];
	int ret = chan_load_secret(path, key, &keylen);

	memset(key, 0, sizeof(key));
	if (ret == 0)
		return 0;
	snprintf(why, sizeof(why), "%s", ph_errmsg()); /* ph_seterr() reuses its buffer */
	return ph_seterr(PH_ECONFIG,
			 "%s (the tcp shared secret: make one, the same on both hosts: head -c 32 "
			 "/dev/urandom | base64 > %s; chmod 600 %s)",
			 why, path, path);
}

int cli_preflight(const struct phaul_config *cfg, const char *host)
{
	bool tcp = !strcmp(cfg->transport, "tcp");
	struct cli_host h;
	int ret;

	if ((ret = cli_parse_host(host, tcp ? cfg->tcp_port : 22, &h)) < 0)
		return ret;
	return tcp ? cli_check_secret(cfg->secret_file) : 0;
}

int cli_usage_hint(const char *cmd)
{
	fprintf(stderr, "Try 'phaul %s --help'.\n", cmd);
	return EXIT_USAGE;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "phaul %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return cli_usage_hint(cmd);
}

int cli_need_root(int argc, char **argv)
{
	bool known = false;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return 0;
	for (int i = 1; cli_cmds[i].name; i++)
		known |= !strcmp(argv[0], cli_cmds[i].name);
	if (!known || geteuid() == 0)
		return 0;
	fprintf(stderr,
		"phaul: '%s' must run as root (CRIU checkpoints and restores processes, "
		"the agent restores them): run it as root\n",
		argv[0]);
	return -1;
}
