// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: engine/lzx_hyb.c, the destination's rewrite of a
 * hybrid's final pagemap image (PE_PARENT -> PE_LAZY, the pages located
 * in a flat store, or made present where the VMA is not lazy), the image
 * coming from the source. A fake store holds pages [0x7f0000000000, +256
 * pages) of pid 7 in two runs; the task has an anonymous VMA over the
 * first 200 pages and a file-backed one over the rest. Byte 0: whether
 * the input is tried as an mm image instead. Whatever the input, a
 * rewrite that succeeds must give an image whose lazy set loads and
 * seals, and local runs that seal and lie inside that set.
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

	struct lzx_vma v[2] = { { BASE, BASE + 200 * 4096, true },
				{ BASE + 200 * 4096, BASE + 300 * 4096, false } };
	struct lzx_vmas vm = { v, 2 }, mm;
	struct lzx_copies cp;

	if (size && (data[0] & 1)) {
		if (lzx_vmas_load(data + 1, size - 1, &mm) == 0)
			lzx_vmas_free(&mm);
		return 0;
	}
	if (size)
		data++, size--;
	lzx_local_init(&loc, 4096);
	if (lzx_pagemap_rewrite(data, size, 7, &vm, locate, NULL, &loc, &cp, &out, &olen) == 0) {
		lzx_copies_free(&cp);
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
