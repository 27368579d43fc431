/* SPDX-License-Identifier: GPL-2.0 */
/*
 * notify_url: the final report of a migrate or balance run, POSTed as JSON
 * through libcurl (a webhook). Best effort: a failure is logged, never
 * changes the run's outcome.
 */
#ifndef PHAUL_NOTIFY_H
#define PHAUL_NOTIFY_H

/* POST body (JSON) to url within timeout_s. 0, or PH_EPEER naming the failure. */
int notify_post(const char *url, const char *body, int timeout_s);

#endif
