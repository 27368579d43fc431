// SPDX-License-Identifier: GPL-2.0
/*
 * A migration record as `phaul recover` and the agent read it back from
 * the work dir (phaul/mrec.h): whatever the file holds, the parser refuses
 * or fills the record within its bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "caps.h"
#include "mrec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[PH_MREC_MAX + 1];
	struct mrec r;

	if (size > PH_MREC_MAX)
		size = PH_MREC_MAX;
	memcpy(text, data, size);
	text[size] = '\0';
	for (int side = MREC_SOURCE; side <= MREC_DEST; side++)
		if (mrec_parse(text, (enum mrec_side)side, &r) == 0 &&
		    (!mrec_id_valid(r.id) || strlen(r.ct) >= sizeof(r.ct)))
			__builtin_trap();
	return 0;
}
