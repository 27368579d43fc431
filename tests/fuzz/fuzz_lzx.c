// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: engine/lzx.c, the lazy-pages pull protocol (post-copy),
 * and its pagemap loader. Byte 0 picks the chunk size, byte 1 whether a
 * small lazy set (pid 7, 64 pages at 0x7f0000000000) checks the GETs.
 * Then each chunk goes, by the low bit of its first byte, to the request
 * or the answer direction, as the two relay threads would interleave them.
 * The whole input is also tried as a pagemap image.
 */
#include <stddef.h>
#include <stdint.h>

#include "engine/lzx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lzx_parser p;
	struct lzx_set s;
	size_t chunk, off = 2, n;
	int r = 0;

	if (size < 2)
		return 0;
	chunk = (size_t)data[0] % 64 + 1;
	lzx_set_init(&s, 4096);
	if (lzx_set_add(&s, 7, 0x7f0000000000ull, 64) < 0 || lzx_set_seal(&s) < 0)
		__builtin_trap();
	lzx_init(&p, 4096, (data[1] & 1) ? &s : NULL);
	while (off < size && r >= 0) {
		int answers = data[off] & 1;

		n = chunk < size - off ? chunk : size - off;
		r = answers ? lzx_ans_feed(&p, data + off, n) : lzx_req_feed(&p, data + off, n);
		if (lzx_owed(&p) > LZX_REQS_MAX)
			__builtin_trap();
		off += n;
	}
	lzx_set_free(&s);
	lzx_set_init(&s, 4096);
	if (lzx_set_load_pagemap(&s, 1, data, size) == 0 && lzx_set_seal(&s) == 0 && s.n &&
	    !lzx_set_covers(&s, s.r[0].id, s.r[0].start, s.r[0].end))
		__builtin_trap();
	lzx_set_free(&s);
	return 0;
}
