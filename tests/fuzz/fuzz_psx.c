// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: engine/psx.c over arbitrary page-server streams.
 * The first byte picks the feed chunk size so split headers and payloads
 * get exercised; whenever answers are owed, the next input bytes are fed
 * as the page server's answers.
 */
#include <stddef.h>
#include <stdint.h>

#include "engine/psx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct psx_parser p;
	size_t chunk, off = 1, used, n, owed;
	int r = 0;

	if (!size)
		return 0;
	chunk = (size_t)data[0] % 64 + 1;
	psx_init(&p, 4096);
	while (off < size && r >= 0) {
		owed = psx_reply_pending(&p);
		if (owed && (data[off] & 1)) {
			n = owed < size - off ? owed : size - off;
			r = psx_reply_feed(&p, data + off, n);
			off += n;
			continue;
		}
		n = chunk < size - off ? chunk : size - off;
		r = psx_feed(&p, data + off, n, &used);
		if (used > n)
			__builtin_trap();
		off += used;
		if (r == PSX_SESSION_END)
			r = psx_reply_pending(&p) ? 0 : psx_next_session(&p);
		else if (r == 0 && used != n)
			__builtin_trap();
	}
	psx_finish(&p);
	return 0;
}
