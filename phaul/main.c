// SPDX-License-Identifier: GPL-2.0
/* phaul: command-line entry. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fs-sync/fss.h"
#include "log.h"
#include "balance.h"
#include "phaul.h"

static const char usage[] =
	"Usage: phaul [OPTIONS] COMMAND [ARGS]\n"
	"\n"
	"Live-migrate a running process tree or container to another host.\n"
	"\n"
	"Commands:\n"
	"  migrate CT HOST   move CT (pid:N, lxc:NAME) to HOST ([user@]host[:port])\n"
	"  check [HOST]      check this host, or this host against HOST, side by side\n"
	"  agent             run the destination agent (--stdio under ssh, --listen for tcp)\n"
	"  recover [ID|CT]   settle migrations whose outcome was lost (exit code 6)\n"
	"  balance           one run of the load balancer over the [balance] hosts (cron)\n"
	"\n"
	"Options:\n"
	"  -c, --config FILE      config file (default " PHAUL_CONF_DEFAULT ")\n"
	"  -o, --option KEY=VAL   set a config key (as in the file) for this run\n"
	"  -t, --transport T      ssh or tcp\n"
	"  -v, --verbose          more log output (repeat for debug)\n"
	"  -q, --quiet            errors only\n"
	"  -h, --help             this help; 'phaul COMMAND --help' for a command\n"
	"  -V, --version          print the version\n"
	"\n"
	"Exit codes: 0 ok, 1 failed, 2 usage, 3 refused by checks,\n"
	"            4 failed or limit not met, rolled back (source running),\n"
	"            5 rollback failed, 6 outcome unknown: run 'phaul recover',\n"
	"            7 balance moved (see 'phaul balance --help'),\n"
	"            8 committed, then the lazy restore lost the CT.\n"
	"See HOWTO.md for every option and error.\n";

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

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "option", required_argument, NULL, 'o' },
		{ "transport", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
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
	while ((c = getopt_long(argc, argv, "+c:o:t:vqhV", opts, NULL)) != -1) {
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
		case 'h': fputs(usage, stdout); return EXIT_OK;
		case 'V': printf("phaul %s\n", PHAUL_VERSION); return EXIT_OK;
		default: fputs(usage, stderr); return EXIT_USAGE;
		}
	}
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
	if (optind >= argc) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	/* A dead peer must surface as an error from write(), not kill us. */
	signal(SIGPIPE, SIG_IGN);

	argc -= optind;
	argv += optind;
	optind = 1;
	if (!strcmp(argv[0], "agent"))
		return cmd_agent(&cfg, argc, argv);
	if (!strcmp(argv[0], "check"))
		return cmd_check(&cfg, argc, argv);
	if (!strcmp(argv[0], "migrate"))
		return cmd_migrate(&cfg, argc, argv);
	if (!strcmp(argv[0], "recover"))
		return cmd_recover(&cfg, argc, argv);
	if (!strcmp(argv[0], "balance"))
		return cmd_balance(&cfg, argc, argv);
	if (!strcmp(argv[0], "help")) {
		fputs(usage, stdout);
		return EXIT_OK;
	}
	fprintf(stderr, "phaul: unknown command '%s'\n\n%s", argv[0], usage);
	return EXIT_USAGE;
}
