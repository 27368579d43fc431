// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "caps.h"
#include "util.h"

/* One log line at most (a message escaped by ph_strvis() grows). */
#define LOG_LINE_MAX 4096

int log_level = LOG_INFO;
static const char *log_role = "phaul";
static char log_id[PH_MIG_ID_MAX + 1];
static int log_fd = -1;
static void (*out_hold)(void), (*out_release)(void);

void log_set_output_hold(void (*hold)(void), void (*release)(void))
{
	out_hold = hold;
	out_release = release;
}

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

int log_set_id(const char *id)
{
	log_id[0] = '\0';
	if (!id || !*id)
		return 0;
	/* peer data: only an id of the documented form ever reaches a line */
	if (!ph_id_valid(id, PH_MIG_ID_MAX))
		return -1;
	snprintf(log_id, sizeof(log_id), "%s", id);
	return 0;
}

const char *log_get_id(void)
{
	return log_id;
}

int log_open_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return ph_seterr_errno(PH_ESYS, "opening log %s", path);
	log_close_file();
	log_fd = fd;
	return 0;
}

void log_close_file(void)
{
	if (log_fd >= 0)
		close(log_fd);
	log_fd = -1;
}

char *log_time(char *buf, size_t len, const struct timespec *ts)
{
	struct tm tm;
	char sec[32];

	gmtime_r(&ts->tv_sec, &tm);
	strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%.20s.%03dZ", sec, (int)(ts->tv_nsec / 1000000 % 1000));
	return buf;
}

size_t log_format(char *buf, size_t len, const struct timespec *ts, int level, const char *where,
		  const char *msg)
{
	static const char *const tag[] = { "error", "warn", "info", "debug" };
	char t[40];
	int n;

	n = snprintf(buf, len, "%s %s%s%s%s %s: %s%s%s\n", log_time(t, sizeof(t), ts), log_role,
		     log_id[0] ? "[" : "", log_id, log_id[0] ? "]" : "",
		     tag[level < 0 || level > LOG_DEBUG ? LOG_ERR : level], where ? where : "",
		     where ? ": " : "", msg);
	if (n < 0)
		return 0;
	if ((size_t)n >= len) {
		/* cut: the line still ends with its newline */
		buf[len - 2] = '\n';
		return len - 1;
	}
	return (size_t)n;
}

void log_msg(int level, int with_errno, const char *file, int line, const char *fmt, ...)
{
	int saved = errno;
	struct timespec ts;
	va_list ap;
	char msg[2048], vis[LOG_LINE_MAX], out[LOG_LINE_MAX + 256], where[256];
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (with_errno) {
		size_t l = strlen(msg);

		snprintf(msg + l, sizeof(msg) - l, ": %s", strerror(saved));
	}
	/* Peer text in msg (errors, names, rsync's stderr) cannot forge lines or escapes. */
	ph_strvis(vis, sizeof(vis), msg);
	snprintf(where, sizeof(where), "%s:%d", file, line);
	n = log_format(out, sizeof(out), &ts, level, log_level >= LOG_DEBUG ? where : NULL, vis);
	if (out_hold)
		out_hold(); /* a terminal's status line goes first */
	fwrite(out, 1, n, stderr);
	if (out_release)
		out_release();
	if (log_fd >= 0 && write(log_fd, out, n) < 0) {
		/* the file is a copy: stderr has the line */
	}
	errno = saved;
}

void log_audit(const char *fmt, ...)
{
	char msg[2048], vis[LOG_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ph_strvis(vis, sizeof(vis), msg);
	pr_info("%s", vis);
	log_syslog(log_role, log_id, vis);
}
