/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Small helpers several unit tests use: a monotonic clock in seconds, a
 * shell command, a whole text file. Include after cmocka.h.
 */
#ifndef TESTS_UNIT_HELPERS_H
#define TESTS_UNIT_HELPERS_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "util.h"

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* system() of the formatted command (up to 4 KiB): its wait status. */
static inline int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* The file at path (up to 1 MiB) as a string, the caller's to free; fails the test if unread. */
static inline char *slurp(const char *path)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	char *s;

	if (read_file(path, 1 << 20, &buf, &len) < 0)
		fail_msg("cannot read %s (a relative path: from the top of the tree)", path);
	s = realloc(buf, len + 1);
	assert_non_null(s);
	s[len] = '\0';
	return s;
}

#endif
