// SPDX-License-Identifier: GPL-2.0
/* libFuzzer target: engine/stats.c must refuse any garbage without overreading. */
#include <stddef.h>
#include <stdint.h>

#include "engine/stats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct criu_stats st = { 0 };

	stats_parse(data, size, STATS_DUMP, &st);
	stats_parse(data, size, STATS_RESTORE, &st);
	return 0;
}
