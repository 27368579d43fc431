// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: engine/lzx.c, the lazy-pages pull protocol (post-copy),
 * and its pagemap loader. Byte 0 picks the chunk size, byte 1 whether a
 * small lazy set (pid 7, 64 pages at 0x7f0000000000) checks the GETs and
 * (bit 1) whether answers go through a sink into the background-push
 * bookkeeping (lzx_push, each answered range asked first, as the
 * destination relay does before a GET leaves).
 * Then each chunk goes, by the low bit of its first byte, to the request
 * or the answer direction, as the two relay threads would interleave them.
 * The whole input is also tried as a pagemap image.
 */
#include <stddef.h>
#include <stdint.h>

#include "engine/lzx.h"

struct fz {
	struct lzx_push pu;
	uint64_t id, va;
	uint32_t nr, asked;
};

static int fz_answer(void *arg, uint64_t id, uint64_t vaddr, uint32_t nr, uint32_t asked)
{
	struct fz *f = arg;
	uint64_t gva;
	uint32_t gnr;

	while (lzx_push_fault(&f->pu, id, vaddr, asked, &gva, &gnr))
		;
	*f = (struct fz){ f->pu, id, vaddr, nr, asked };
	return 0;
}

static int fz_data(void *arg, const uint8_t *buf, size_t len, bool last)
{
	struct fz *f = arg;

	(void)buf;
	(void)len;
	return last ? lzx_push_got(&f->pu, f->id, f->va, f->nr, f->asked) : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lzx_parser p;
	struct lzx_set s;
	struct fz f;
	struct lzx_sink sink = { fz_answer, fz_data, &f };
	size_t chunk, off = 2, n;
	int r = 0;

	if (size < 2)
		return 0;
	chunk = (size_t)data[0] % 64 + 1;
	lzx_set_init(&s, 4096);
	if (lzx_set_add(&s, 7, 0x7f0000000000ull, 64) < 0 || lzx_set_seal(&s) < 0)
		__builtin_trap();
	lzx_init(&p, 4096, (data[1] & 1) ? &s : NULL);
	if (lzx_push_init(&f.pu, &s) < 0)
		__builtin_trap();
	if ((data[1] & 3) == 3)
		lzx_set_sink(&p, &sink);
	while (off < size && r >= 0) {
		int answers = data[off] & 1;

		n = chunk < size - off ? chunk : size - off;
		r = answers ? lzx_ans_feed(&p, data + off, n) : lzx_req_feed(&p, data + off, n);
		if (lzx_owed(&p) > LZX_REQS_MAX || lzx_push_left(&f.pu) > s.pages)
			__builtin_trap();
		off += n;
	}
	lzx_push_free(&f.pu);
	lzx_set_free(&s);
	lzx_set_init(&s, 4096);
	if (lzx_set_load_pagemap(&s, 1, data, size) == 0 && lzx_set_seal(&s) == 0 && s.n &&
	    !lzx_set_covers(&s, s.r[0].id, s.r[0].start, s.r[0].end))
		__builtin_trap();
	lzx_set_free(&s);
	return 0;
}
