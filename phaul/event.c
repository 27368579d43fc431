// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <time.h>

#include "event.h"

void event_time(const struct timespec *t, char *out, size_t len)
{
	struct tm tm;
	size_t n;

	gmtime_r(&t->tv_sec, &tm);
	n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n)
		snprintf(out + n, len - n, ".%03dZ", (int)(t->tv_nsec / 1000000 % 1000));
}

void event_head(FILE *f, const char *name)
{
	struct timespec now;
	char ts[32];

	clock_gettime(CLOCK_REALTIME, &now);
	event_time(&now, ts, sizeof(ts));
	/* name is one of ours, [a-z]: no escaping needed */
	fprintf(f, "{\"event\":\"%s\",\"schema\":%d,\"ts\":\"%s\"", name, PH_EVENT_SCHEMA, ts);
}
