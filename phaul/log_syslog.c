// SPDX-License-Identifier: GPL-2.0
/*
 * syslog(3) apart from log.c: <syslog.h>'s LOG_ERR, LOG_INFO and LOG_DEBUG
 * are macros with other values than log.h's levels of the same names.
 */
#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

void log_syslog(const char *role, const char *id, const char *msg);

void log_syslog(const char *role, const char *id, const char *msg)
{
	static bool opened;

	if (!opened) {
		openlog("phaul", LOG_PID, LOG_DAEMON);
		opened = true;
	}
	if (id && *id)
		syslog(LOG_INFO, "%s[%s]: %s", role, id, msg);
	else
		syslog(LOG_INFO, "%s: %s", role, msg);
}
