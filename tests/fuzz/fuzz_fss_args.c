// SPDX-License-Identifier: GPL-2.0
/*
 * The agent's check of an FsSyncStart from the peer: the input is split at
 * NUL bytes into the argument list (the last word also serves as dest),
 * then run through the same lexical checks fss_serve() applies. Anything
 * accepted must be a receiver command line under the root.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "caps.h"
#include "fs-sync/fss.h"

#define ROOT "/srv/ct"
/* fs_root may list several roots; a dest under neither must be refused. */
#define ROOTS "  /var/lib/lxc/\t" ROOT " "

static bool under(const char *d, const char *root)
{
	size_t n = strlen(root);

	return !strncmp(d, root, n) && (!d[n] || d[n] == '/');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *args[PH_FSS_ARGS_MAX + 2];
	char *buf = malloc(size + 1);
	size_t n = 0, i = 0;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	while (i <= size && n < PH_FSS_ARGS_MAX + 2) {
		args[n++] = buf + i;
		i += strlen(buf + i) + 1;
	}
	if (fss_check_args(args, n, args[n - 1]) == 0) {
		if (strcmp(args[0], "rsync") || strcmp(args[1], "--server") ||
		    strcmp(args[n - 2], "."))
			abort();
	}
	if (fss_check_dest_lexical(args[n - 1], ROOT) == 0) {
		const char *d = args[n - 1];

		if (!under(d, ROOT) || strstr(d, "/../") || strstr(d, "/./") || strstr(d, "//"))
			abort();
	}
	if (fss_check_dest_lexical(args[n - 1], ROOTS) == 0) {
		const char *d = args[n - 1], *root;

		if ((!under(d, ROOT) && !under(d, "/var/lib/lxc")) || strstr(d, "/../") ||
		    !fss_pick_root(d, ROOTS, &root))
			abort();
	}
	free(buf);
	return 0;
}
