// SPDX-License-Identifier: GPL-2.0
/* phaul migrate CT HOST: the source side of one migration. */
#include <stdio.h>

#include "err.h"
#include "log.h"
#include "phaul.h"

int cmd_migrate(struct phaul_config *cfg, int argc, char **argv)
{
	log_init("src", cfg->log_level);
	fprintf(stderr, "phaul: migrate is not available in this version yet\n");
	return EXIT_FAILED;
}
