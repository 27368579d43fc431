/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The container runtimes' command-line tools (runc, podman), run by the CT
 * types that drive them: stdin and stdout from /dev/null (or stdout into a
 * buffer), stderr appended to a log, every other fd closed, each run with a
 * deadline after which the tool is killed.
 */
#ifndef PHAUL_CTCMD_H
#define PHAUL_CTCMD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Run args (args[0] is the executable's path) and wait for it, at most
 * timeout_s. Its stdout goes into out (NUL-terminated, cut at outlen) when
 * out is given, else to the log; its stderr is appended to log (or
 * dropped). 0 when it exited 0; PH_ECRIU naming the command (args[1], and args[2] after
 * "container") and its status (and the log) otherwise; PH_ETIMEDOUT when it was killed at the
 * deadline.
 */
int ctcmd_run(const char *const args[], char *out, size_t outlen, const char *log, int timeout_s);

/* ctcmd_run() with the environment envp (NULL: ours). */
int ctcmd_run_env(const char *const args[], char *out, size_t outlen, const char *log,
		  int timeout_s, char *const envp[]);

/*
 * Start args as ctcmd_run_env() does, stdout to the log, and with keep_fd
 * (if >= 0) as its fd 3 (runc's --status-fd 3); do not wait: *pid is the
 * caller's to reap with ctcmd_wait().
 */
int ctcmd_spawn(const char *const args[], const char *log, char *const envp[], int keep_fd,
		pid_t *pid);

/*
 * Our environment with var ("NAME=value") in place of any NAME=...: built
 * before the fork (the child only execs). The caller frees the array, not
 * its strings; var must outlive it. NULL (PH_ENOMEM) on failure.
 */
char **ctcmd_env_with(const char *var);

/* Wait for pid until deadline (CLOCK_MONOTONIC us); SIGKILL it after (PH_ETIMEDOUT). */
int ctcmd_wait(pid_t pid, uint64_t deadline, int *status);

#endif
