/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Common code of the migration test workloads (header-only, each workload
 * is one static binary).
 *
 * A workload daemonizes in a way CRIU can dump (own session, no tty, stdio
 * on /dev/null, no file kept open unless the test means it), then ticks
 * every 10 ms: it does its work, rewrites its progress file and looks for
 * the check file.  When the check file appears (or SIGUSR1 arrives) it
 * verifies its whole state and writes "PASS ..." or "FAIL ..." to the
 * result file.
 *
 * The progress file says how the workload saw time pass: the longest gap
 * between two ticks (CLOCK_REALTIME) and the gap around the last change of
 * hostname, i.e. the downtime of the last migration as the workload saw it
 * (only meaningful when the guests' clocks agree, see timesync.c).
 */
#ifndef WL_H
#define WL_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WL_TICK_MS 10

struct wl {
	const char *name;
	const char *pid_file;
	const char *progress_file;
	const char *check_file;
	const char *result_file;
	const char *log_file;
	int foreground;
	int ready_fd;

	uint64_t ticks;
	int64_t last_ns;
	int64_t maxgap_ns;
	int64_t mig_gap_ns;
	uint64_t migrations;
	char host[65];
	char extra[256];	/* workload-specific progress fields */
};

static volatile sig_atomic_t wl_sigusr1;

static int64_t wl_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Append one line to the log file; opened and closed every time so that
 * no log descriptor has to travel with the process. */
static void wl_log(struct wl *w, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n, fd;

	if (!w->log_file)
		return;
	n = snprintf(buf, sizeof(buf), "%lld.%03lld %s[%d]: ",
		     (long long)(wl_now_ns() / 1000000000),
		     (long long)(wl_now_ns() / 1000000 % 1000), w->name, getpid());
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	fd = open(w->log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, buf, n) < 0) {
		/* nothing sensible to do about a lost log line */
	}
	close(fd);
}

static void wl_die(struct wl *w, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", w->name, buf);
	wl_log(w, "fatal: %s", buf);
	exit(1);
}

/* Write a whole small file atomically (tmp + rename). */
static int wl_write_file(const char *path, const char *text)
{
	char tmp[4096];
	size_t len = strlen(text);
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (write(fd, text, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	close(fd);
	return rename(tmp, path);
}

static void wl_on_sigusr1(int sig)
{
	(void)sig;
	wl_sigusr1 = 1;
}

/* Fork into the background: the parent waits until the child calls
 * wl_ready() (so the caller knows the state is built) and exits. */
static void wl_daemonize(struct wl *w)
{
	int p[2];
	char c;
	pid_t pid;
	int fd;

	signal(SIGUSR1, wl_on_sigusr1);
	if (w->foreground) {
		w->ready_fd = -1;
		return;
	}
	if (pipe2(p, O_CLOEXEC))
		wl_die(w, "pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		wl_die(w, "fork: %s", strerror(errno));
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &c, 1) != 1) {
			fprintf(stderr, "%s: child failed to start\n", w->name);
			exit(1);
		}
		exit(0);
	}
	close(p[0]);
	w->ready_fd = p[1];
	/* CRIU refuses a tree whose session leader is outside it */
	if (setsid() < 0)
		wl_die(w, "setsid: %s", strerror(errno));
	if (chdir("/"))
		wl_die(w, "chdir: %s", strerror(errno));
	fd = open("/dev/null", O_RDWR);
	if (fd < 0)
		wl_die(w, "/dev/null: %s", strerror(errno));
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

static void wl_ready(struct wl *w)
{
	char buf[32];

	if (w->pid_file) {
		snprintf(buf, sizeof(buf), "%d\n", getpid());
		if (wl_write_file(w->pid_file, buf))
			wl_die(w, "%s: %s", w->pid_file, strerror(errno));
	}
	w->last_ns = wl_now_ns();
	wl_log(w, "ready");
	if (w->ready_fd >= 0) {
		if (write(w->ready_fd, "", 1) != 1)
			wl_die(w, "ready pipe: %s", strerror(errno));
		close(w->ready_fd);
		w->ready_fd = -1;
	}
}

/* Sleep until the next tick, account the time, rewrite the progress file.
 * Returns 1 when a check was requested. */
static int wl_tick(struct wl *w)
{
	struct utsname u;
	struct stat st;
	int64_t now, gap;
	char buf[1024];
	int check = 0;

	/* poll() with a timeout rather than a blocking timerfd read: it
	 * keeps going after a restore (see notes/vm-harness.md) */
	poll(NULL, 0, WL_TICK_MS);
	now = wl_now_ns();
	gap = now - w->last_ns;
	w->last_ns = now;
	w->ticks++;
	if (gap > w->maxgap_ns)
		w->maxgap_ns = gap;
	uname(&u);
	if (w->host[0] && strcmp(w->host, u.nodename)) {
		w->migrations++;
		w->mig_gap_ns = gap;
		wl_log(w, "host %s -> %s, gap %.3f ms", w->host, u.nodename, gap / 1e6);
	}
	snprintf(w->host, sizeof(w->host), "%s", u.nodename);

	if (w->progress_file) {
		snprintf(buf, sizeof(buf),
			 "ticks=%llu time=%lld.%09lld host=%s maxgap_ms=%.3f "
			 "migrations=%llu migration_gap_ms=%.3f %s\n",
			 (unsigned long long)w->ticks,
			 (long long)(now / 1000000000), (long long)(now % 1000000000),
			 w->host, w->maxgap_ns / 1e6,
			 (unsigned long long)w->migrations, w->mig_gap_ns / 1e6,
			 w->extra);
		wl_write_file(w->progress_file, buf);
	}

	if (wl_sigusr1) {
		wl_sigusr1 = 0;
		check = 1;
	}
	if (w->check_file && stat(w->check_file, &st) == 0) {
		unlink(w->check_file);
		check = 1;
	}
	return check;
}

static void wl_result(struct wl *w, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	buf[n] = 0;
	wl_log(w, "result: %s", buf);
	if (w->result_file && wl_write_file(w->result_file, buf))
		wl_log(w, "cannot write %s: %s", w->result_file, strerror(errno));
	if (!w->result_file)
		fputs(buf, stdout);
}

/* Common long options; workloads append their own after these. */
#define WL_COMMON_OPTS \
	{ "pid-file", required_argument, NULL, 1001 }, \
	{ "progress-file", required_argument, NULL, 1002 }, \
	{ "check-file", required_argument, NULL, 1003 }, \
	{ "result", required_argument, NULL, 1004 }, \
	{ "log", required_argument, NULL, 1005 }, \
	{ "foreground", no_argument, NULL, 1006 }

/* Returns 1 if the option was a common one. */
static int wl_common_opt(struct wl *w, int c)
{
	switch (c) {
	case 1001: w->pid_file = optarg; return 1;
	case 1002: w->progress_file = optarg; return 1;
	case 1003: w->check_file = optarg; return 1;
	case 1004: w->result_file = optarg; return 1;
	case 1005: w->log_file = optarg; return 1;
	case 1006: w->foreground = 1; return 1;
	}
	return 0;
}

#define WL_COMMON_USAGE \
	"  --pid-file PATH       write the daemon's pid here once ready\n" \
	"  --progress-file PATH  rewritten every tick (10 ms)\n" \
	"  --check-file PATH     verify when this file appears (or on SIGUSR1)\n" \
	"  --result PATH         PASS/FAIL verdict of a check goes here\n" \
	"  --log PATH            append log lines here\n" \
	"  --foreground          do not daemonize\n"

#endif /* WL_H */
