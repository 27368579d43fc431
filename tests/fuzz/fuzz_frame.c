// SPDX-License-Identifier: GPL-2.0
/*
 * Parse arbitrary bytes as a sequence of frames (header + skipped payload),
 * checking the parser's invariants and that every accepted header encodes
 * back to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "caps.h"
#include "err.h"
#include "transport/frame.h"
#include "transport/mux.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	while (off < size) {
		struct frame_hdr h;
		uint8_t enc[FRAME_HDR_LEN];
		int r = frame_parse_hdr(data + off, size - off, &h);

		if (r == 0) {
			if (size - off >= FRAME_HDR_LEN)
				abort(); /* need-more with a whole header */
			break;
		}
		if (r < 0) {
			if (r != -PH_EPROTO && r != -PH_ETOOBIG)
				abort();
			break;
		}
		if (r != FRAME_HDR_LEN || h.stream >= MUX_NSTREAMS || h.len > PH_FRAME_MAX)
			abort();
		if (h.type == FRAME_WINDOW && h.len != FRAME_U32_LEN)
			abort();
		if (h.type == FRAME_PING && (h.len || h.stream || h.flags))
			abort();
		if (frame_put_hdr(enc, &h) != FRAME_HDR_LEN ||
		    memcmp(enc, data + off, FRAME_HDR_LEN))
			abort();
		off += FRAME_HDR_LEN;
		off += h.len < size - off ? h.len : size - off;
	}
	return 0;
}
