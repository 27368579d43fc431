// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "progress.h"
#include "util.h"

/* One log line at most (a message escaped by ph_strvis() grows). */
#define LOG_LINE_MAX 4096

int log_level = LOG_INFO;
static const char *log_role = "phaul";

void log_init(const char *role, int level)
{
	if (role)
		log_role = role;
	if (level >= 0)
		log_level = level;
}

int log_level_parse(const char *s)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };

	for (int i = 0; i < 4; i++)
		if (!strcmp(s, names[i]))
			return i;
	if (s[0] >= '0' && s[0] <= '3' && !s[1])
		return s[0] - '0';
	return -1;
}

void log_msg(int level, int with_errno, const char *file, int line, const char *fmt, ...)
{
	static const char *const tag[] = { "error", "warn", "info", "debug" };
	int saved = errno;
	struct timespec ts;
	va_list ap;
	char msg[2048], vis[LOG_LINE_MAX];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Peer text in msg (errors, names, rsync's stderr) cannot forge lines or escapes. */
	ph_strvis(vis, sizeof(vis), msg);
	progress_hold(); /* the terminal's status line goes first */
	if (log_level >= LOG_DEBUG)
		fprintf(stderr, "[%ld.%03ld] %s %s: %s:%d: %s", (long)ts.tv_sec,
			ts.tv_nsec / 1000000, log_role, tag[level], file, line, vis);
	else
		fprintf(stderr, "%s: %s: %s", log_role, tag[level], vis);
	if (with_errno)
		fprintf(stderr, ": %s", strerror(saved));
	fputc('\n', stderr);
	progress_release();
	errno = saved;
}
