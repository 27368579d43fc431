/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Logging. Messages go to stderr and, once log_open_file() ran, to that
 * file too (a migration's own log). Every line starts with the wall-clock
 * time (UTC, ISO 8601 with milliseconds), the host role and, once set, the
 * migration id, so two hosts' logs of one migration read together:
 *
 *   2026-12-02T02:26:26.123Z src[20261202-022626-4242-0a1b2c3d] error: MSG
 *
 * (at debug level "FILE:LINE: " precedes MSG). The level is checked before
 * the arguments are evaluated. Every message is one line: control
 * characters and non-ASCII bytes in it (from peer strings) are escaped by
 * ph_strvis(), and it is cut at 4 KiB.
 */
#ifndef PHAUL_LOG_H
#define PHAUL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

enum log_level { LOG_ERR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

extern int log_level;

/* role: short tag printed on every line ("src", "dst", "agent"); may be NULL. */
void log_init(const char *role, int level);
/* Parse "error|warn|info|debug" or a digit; -1 if unknown. */
int log_level_parse(const char *s);
/*
 * The migration id on every line from now on ("" or NULL: none). It may come
 * from the peer: anything but [A-Za-z0-9-]{1,PH_MIG_ID_MAX} is refused (-1,
 * and no id is shown).
 */
int log_set_id(const char *id);
/* The id set, "" if none. */
const char *log_get_id(void);
/* Also write every line to path (created 0600, appended, no symlink): 0 or -PH_ESYS. */
int log_open_file(const char *path);
void log_close_file(void);
/*
 * Around every line written to stderr: hold() before, release() after
 * (progress.h erases its status line there). NULL for none, the default.
 * Set before other threads log.
 */
void log_set_output_hold(void (*hold)(void), void (*release)(void));
/* ts as "2026-12-02T02:26:26.123Z" in buf; returns buf. */
char *log_time(char *buf, size_t len, const struct timespec *ts);
/*
 * One line as log_msg() writes it (msg already made visible; where is
 * "FILE:LINE" or NULL), newline-ended even when cut. Its length.
 */
size_t log_format(char *buf, size_t len, const struct timespec *ts, int level, const char *where,
		  const char *msg);
/* An audit line (a session's start or end): logged at info and sent to syslog (LOG_DAEMON). */
void log_audit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* msg to syslog at LOG_INFO, facility LOG_DAEMON, as "ROLE[ID]: MSG" (log_syslog.c). */
void log_syslog(const char *role, const char *id, const char *msg);
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
