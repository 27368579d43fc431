// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: engine/lzx_hyb.c, the destination's rewrite of a
 * hybrid's final pagemap image (PE_PARENT -> PE_LAZY, the pages located
 * in a flat store), the image coming from the source. A fake store holds
 * pages [0x7f0000000000, +256 pages) of pid 7 in two runs. Whatever the
 * input, a rewrite that succeeds must give an image whose lazy set loads
 * and seals, and local runs that seal and lie inside that set.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "engine/lzx.h"

#define BASE 0x7f0000000000ull

static int locate(void *arg, uint64_t id, uint64_t va, int *fd, uint64_t *off, uint64_t *np)
{
	uint64_t pg;

	(void)arg;
	if (id != 7 || va < BASE || va % 4096 || (pg = (va - BASE) / 4096) >= 256)
		return -1;
	*fd = 3;
	*off = pg * 4096;
	*np = pg < 100 ? 100 - pg : 256 - pg;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lzx_local loc;
	struct lzx_set s;
	uint8_t *out = NULL;
	size_t olen;

	lzx_local_init(&loc, 4096);
	if (lzx_pagemap_rewrite(data, size, 7, locate, NULL, &loc, &out, &olen) == 0) {
		lzx_set_init(&s, 4096);
		if (lzx_set_load_pagemap(&s, 7, out, olen) == 0 && lzx_set_seal(&s) == 0 &&
		    lzx_local_seal(&loc) == 0)
			for (size_t i = 0; i < loc.n; i++)
				if (!lzx_set_covers(&s, 7, loc.r[i].start, loc.r[i].end))
					__builtin_trap();
		lzx_set_free(&s);
	}
	free(out);
	lzx_local_free(&loc);
	return 0;
}
