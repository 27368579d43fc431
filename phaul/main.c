// SPDX-License-Identifier: GPL-2.0
/* phaul: command-line entry. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "err.h"
#include "fs-sync/fss.h"
#include "log.h"
#include "balance.h"
#include "phaul.h"
#include "version.h" /* generated: PHAUL_COMMIT */

#define COMMANDS "migrate, status, cancel, set, check, agent, recover, balance"

static int set_option(struct phaul_config *cfg, const char *kv)
{
	char key[128];
	const char *eq = strchr(kv, '=');

	if (!eq || (size_t)(eq - kv) >= sizeof(key)) {
		fprintf(stderr, "phaul: -o takes KEY=VALUE, got '%s'\n", kv);
		return -1;
	}
	memcpy(key, kv, eq - kv);
	key[eq - kv] = '\0';
	if (config_set(cfg, NULL, key, eq + 1) < 0) {
		fprintf(stderr, "phaul: -o %s: %s\n", kv, ph_errmsg());
		return -1;
	}
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(struct phaul_config *cfg, int argc, char **argv);
} cmds[] = {
	{ "agent", cmd_agent },
	{ "check", cmd_check },
	{ "migrate", cmd_migrate },
	{ "recover", cmd_recover },
	{ "balance", cmd_balance },
	{ "status", cmd_status },
	{ "cancel", cmd_cancel },
	{ "set", cmd_set },
};

int main(int argc, char **argv)
{
	static char prog[32];
	const char *conf = getenv("PHAUL_CONFIG");
	/* static: lives to exit (what it allocates, [balance] lists, with it) */
	static struct phaul_config cfg;
	int verbose = 0, quiet = 0, c, nopt = 0;
	char *setv[32], *transport = NULL;

	/* rsync's remote shell for fs-sync (fs-sync/README.md): no config, no logs */
	if (argc > 1 && !strcmp(argv[1], "fs-rsh"))
		return fss_rsh_main(argc - 1, argv + 1);
	config_defaults(&cfg);
	/* "+": stop at the command, its options are its own */
	while ((c = getopt_long(argc, argv, "+c:o:t:vqhV", main_opts, NULL)) != -1) {
		switch (c) {
		case 'c': conf = optarg; break;
		case 'o':
			if (nopt == 32) {
				fprintf(stderr, "phaul: too many -o options\n");
				return EXIT_USAGE;
			}
			setv[nopt++] = optarg;
			break;
		case 't': transport = optarg; break;
		case 'v': verbose++; break;
		case 'q': quiet = 1; break;
		case 'h': fputs(main_usage, stdout); return EXIT_OK;
		case 'V':
			/* a tree outside git (a release tarball) has no commit to show */
			printf("phaul %s%s%s%s\n", PHAUL_VERSION, *PHAUL_COMMIT ? " (commit " : "",
			       PHAUL_COMMIT, *PHAUL_COMMIT ? ")" : "");
			return EXIT_OK;
		default: fputs(main_usage, stderr); return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "phaul: no command given (" COMMANDS ")\nTry 'phaul --help'.\n");
		return EXIT_USAGE;
	}
	if (cli_need_root(argc - optind, argv + optind) < 0)
		return EXIT_USAGE;
	if (config_load(&cfg, conf ? conf : PHAUL_CONF_DEFAULT, conf == NULL) < 0) {
		fprintf(stderr, "phaul: %s\n", ph_errmsg());
		return EXIT_USAGE;
	}
	for (int i = 0; i < nopt; i++)
		if (set_option(&cfg, setv[i]) < 0)
			return EXIT_USAGE;
	if (transport && config_set(&cfg, NULL, "transport", transport) < 0) {
		fprintf(stderr, "phaul: --transport must be ssh or tcp, got '%s'\n", transport);
		return EXIT_USAGE;
	}
	cfg.log_level = quiet ? LOG_ERR : cfg.log_level + verbose;
	if (cfg.log_level > LOG_DEBUG)
		cfg.log_level = LOG_DEBUG;
	/* A dead peer must surface as an error from write(), not kill us. */
	signal(SIGPIPE, SIG_IGN);

	argc -= optind;
	argv += optind;
	/* 0: glibc starts afresh, without main's "+", so a command's options may
	 * follow its operands (phaul migrate CT HOST --dry-run) */
	optind = 0;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[0], cmds[i].name))
			continue;
		/* getopt's messages then say "phaul migrate: unrecognized option" */
		snprintf(prog, sizeof(prog), "phaul %s", cmds[i].name);
		argv[0] = prog;
		return cmds[i].fn(&cfg, argc, argv);
	}
	if (!strcmp(argv[0], "help")) {
		fputs(main_usage, stdout);
		return EXIT_OK;
	}
	fprintf(stderr,
		"phaul: unknown command '%s' (" COMMANDS ")\nTry 'phaul --help'.\n",
		argv[0]);
	return EXIT_USAGE;
}
