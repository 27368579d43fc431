/* SPDX-License-Identifier: GPL-2.0 */
/* compat: one walk over a task's /proc fd links, for the scans of the CT's files. */
#ifndef COMPAT_PROCFD_H
#define COMPAT_PROCFD_H

/*
 * For each fd of task ("/proc/PID" or "/proc/PID/task/TID"): fn(arg, fd,
 * link, target) with the fd's number, the link's own path (stat() it for
 * the file) and what it reads (a path, "pipe:[N]", "socket:[N]", ...).
 * Stops at fn's first non-zero return and returns it; 0 also when task is
 * gone or unreadable (what cannot be read, CRIU still decides).
 */
typedef int (*procfd_fn)(void *arg, const char *fd, const char *link, const char *target);
int procfd_walk(const char *task, procfd_fn fn, void *arg);

#endif
