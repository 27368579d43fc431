/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Child processes: one fork/exec set-up and one reaper for every layer
 * (CRIU's swrk, rsync, hooks, the balancer's commands). A base module like
 * util: it calls nothing above err and util, so engine/, fs-sync/ and
 * phaul/ may all use it.
 */
#ifndef PHAUL_SPAWN_H
#define PHAUL_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SPAWN_NULL    (-1) /* a std fd of the child: /dev/null */
#define SPAWN_INHERIT (-2) /* a std fd of the child: left as this process has it */

/* spawn()'s *step when it fails in this process, before the child ran. */
#define SPAWN_STEP_PIPE (-2)
#define SPAWN_STEP_FORK (-1)

struct spawn {
	const char *path;   /* executable; NULL: argv[0] searched on PATH (execvp) */
	char *const *argv;  /* the caller's; read in the child only */
	char *const *envp;  /* NULL: this process's environment */
	int std[3];	    /* the child's 0, 1, 2: an fd, SPAWN_NULL or SPAWN_INHERIT */
	bool clean_signals; /* default dispositions and an empty mask (exec keeps both) */
	bool own_group;	    /* setpgid(0, 0): a kill of -pid reaches all it starts */
	bool close_fds;	    /* only 0-2 and keep[] reach the program */
	const int *keep;    /* with close_fds: also inherited, at the same numbers */
	size_t nkeep;
	/*
	 * In the child, after signals and group, before the std fds (so a
	 * chroot or mount namespace it enters also holds their /dev/null):
	 * async-signal-safe calls only. Non-zero: a step code, the child
	 * stops and the parent gets it in *step.
	 */
	int (*pre_exec)(void *arg);
	void *arg;
	/*
	 * true: a failure in the child (pre_exec, the std fds, exec) is sent
	 * back over a close-on-exec pipe and spawn() fails with it, the child
	 * reaped. false: the child just _exit()s with exit_code.
	 */
	bool report;
	int exit_code;
};

/*
 * Fork and exec s. 0: *pid runs the program (the caller reaps it, with
 * spawn_reap()). -1 with errno: *step is SPAWN_STEP_PIPE or SPAWN_STEP_FORK
 * (nothing was started), 0 (the std fds or exec failed in the child), or
 * pre_exec's step code; the caller words the error. The caller keeps every
 * fd in s; the child's copies are its own.
 */
int spawn(const struct spawn *s, pid_t *pid, int *step);

/*
 * Reap pid: wait up to timeout_ms (-1: forever), then SIGKILL it (its
 * whole process group when group) and wait for it. EINTR is retried.
 * Returns pid, or -1 with errno (ECHILD); *status is 0 when not reaped.
 */
pid_t spawn_reap(pid_t pid, int *status, int timeout_ms, bool group);

#endif
