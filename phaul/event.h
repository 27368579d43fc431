/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The head every JSON event of phaul starts with (--json of migrate and
 * check, `phaul status --json`, the control socket's status answer):
 *
 *   {"event":"NAME","schema":PH_EVENT_SCHEMA,"ts":"2026-12-02T02:30:00.123Z"
 *
 * The caller goes on with ,"key":value fields and closes with "}\n".
 * HOWTO.md "JSON events" documents every event; the schema number changes
 * when a field changes meaning or goes away (added fields keep it).
 */
#ifndef PHAUL_EVENT_H
#define PHAUL_EVENT_H

#include <stdio.h>
#include <time.h>

#define PH_EVENT_SCHEMA 1

/* Print the head of event name on f (not flushed). */
void event_head(FILE *f, const char *name);
/* t as RFC 3339 UTC with milliseconds, "YYYY-MM-DDTHH:MM:SS.mmmZ" (25 bytes with NUL). */
void event_time(const struct timespec *t, char *out, size_t len);

#endif
