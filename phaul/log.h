/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Logging. Messages go to stderr (or the file given to log_init()), each
 * prefixed with the host role so two agents' logs read apart. The level is
 * checked before the arguments are evaluated. Every message is one line:
 * control characters and non-ASCII bytes in it (from peer strings) are
 * escaped by ph_strvis(), and it is cut at 4 KiB.
 */
#ifndef PHAUL_LOG_H
#define PHAUL_LOG_H

#include <stdio.h>

enum log_level { LOG_ERR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

extern int log_level;

/* role: short tag printed on every line ("src", "dst", "agent"); may be NULL. */
void log_init(const char *role, int level);
/* Parse "error|warn|info|debug" or a digit; -1 if unknown. */
int log_level_parse(const char *s);
void log_msg(int level, int with_errno, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

#define pr_at(lvl, e, fmt, ...)                                                                    \
	do {                                                                                       \
		if ((lvl) <= log_level)                                                            \
			log_msg(lvl, e, __FILE__, __LINE__, fmt, ##__VA_ARGS__);                   \
	} while (0)

#define pr_err(fmt, ...)    pr_at(LOG_ERR, 0, fmt, ##__VA_ARGS__)
#define pr_perror(fmt, ...) pr_at(LOG_ERR, 1, fmt, ##__VA_ARGS__)
#define pr_warn(fmt, ...)   pr_at(LOG_WARN, 0, fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...)   pr_at(LOG_INFO, 0, fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...)  pr_at(LOG_DEBUG, 0, fmt, ##__VA_ARGS__)

#endif
