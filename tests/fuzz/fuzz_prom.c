// SPDX-License-Identifier: GPL-2.0
/*
 * A Prometheus HTTP API answer as a server (or whatever answers at the
 * configured URL) may send it: parse, then look up one instance's sample.
 */
#include <stddef.h>
#include <stdint.h>

#include "balance.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	double v;

	(void)bal_prom_value((const char *)data, size, "127.0.0.1:9100", &v);
	return 0;
}
