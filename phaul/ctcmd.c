// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctcmd.h"
#include "err.h"
#include "util.h"

/* The child: stdio set up, keep_fd (if >= 0) as fd 3, every other fd closed, exec. */
static void ctcmd_child(const char *const argv[], int out_fd, const char *log, char *const envp[],
			int keep_fd)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int err = log ? open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : -1;

	if (null < 0)
		_exit(127);
	if (err < 0)
		err = null;
	if (dup2(null, 0) < 0 || dup2(out_fd >= 0 ? out_fd : err, 1) < 0 || dup2(err, 2) < 0)
		_exit(127);
	if (keep_fd >= 0 && (dup2(keep_fd, 3) < 0 || fcntl(3, F_SETFD, 0) < 0))
		_exit(127);
	close_range(keep_fd >= 0 ? 4 : 3, ~0U, 0);
	execve(argv[0], (char *const *)argv, envp ? envp : environ);
	_exit(127);
}

int ctcmd_wait(pid_t pid, uint64_t deadline, int *status)
{
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return ph_seterr_errno(PH_ESYS, "waitpid %d", (int)pid);
		if (now_us() > deadline) {
			kill(pid, SIGKILL);
			while (waitpid(pid, status, 0) < 0 && errno == EINTR)
				;
			return ph_seterr(PH_ETIMEDOUT, "%d took longer than its deadline",
					 (int)pid);
		}
		usleep(10000);
	}
}

/* Read the child's stdout from fd into out until EOF, the cap or the deadline. */
static void ctcmd_read(int fd, char *out, size_t outlen, uint64_t deadline)
{
	size_t got = 0;

	for (;;) {
		struct pollfd pf = { fd, POLLIN, 0 };
		int64_t left = (int64_t)(deadline - now_us()) / 1000;
		ssize_t n;

		if (left <= 0 || poll(&pf, 1, (int)left) == 0)
			break; /* ctcmd_wait() kills it */
		n = read(fd, out + got, outlen - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == outlen - 1)
			break;
	}
	out[got] = '\0';
}

int ctcmd_run(const char *const args[], char *out, size_t outlen, const char *log, int timeout_s)
{
	return ctcmd_run_env(args, out, outlen, log, timeout_s, NULL);
}

int ctcmd_run_env(const char *const args[], char *out, size_t outlen, const char *log,
		  int timeout_s, char *const envp[])
{
	uint64_t deadline = now_us() + (uint64_t)timeout_s * 1000000;
	int p[2] = { -1, -1 }, st = 0, ret;
	const char *name = strrchr(args[0], '/') ? strrchr(args[0], '/') + 1 : args[0];
	char cmd[64];
	pid_t pid;

	/* "runc checkpoint", "podman container restore": the tool and its command */
	snprintf(cmd, sizeof(cmd), "%s %s%s%s", name, args[1],
		 !strcmp(args[1], "container") && args[2] ? " " : "",
		 !strcmp(args[1], "container") && args[2] ? args[2] : "");
	if (out && pipe2(p, O_CLOEXEC) < 0)
		return ph_seterr_errno(PH_ESYS, "pipe");
	pid = fork();
	if (pid < 0) {
		ret = ph_seterr_errno(PH_ESYS, "fork");
		goto out;
	}
	if (pid == 0)
		ctcmd_child(args, p[1], log, envp, -1);
	if (out) {
		close(p[1]);
		p[1] = -1;
		ctcmd_read(p[0], out, outlen, deadline);
	}
	if ((ret = ctcmd_wait(pid, deadline, &st)) < 0)
		ret = ph_seterr(PH_ETIMEDOUT, "%s: no answer in %d s", cmd, timeout_s);
	else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		ret = ph_seterr(PH_ECRIU, "%s failed (status %d)%s%s", cmd,
				WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st),
				log ? ", see " : "", log ? log : "");
out:
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	return ret;
}

int ctcmd_spawn(const char *const args[], const char *log, char *const envp[], int keep_fd,
		pid_t *pid)
{
	*pid = fork();
	if (*pid < 0)
		return ph_seterr_errno(PH_ESYS, "fork");
	if (*pid == 0)
		ctcmd_child(args, -1, log, envp, keep_fd);
	return 0;
}

char **ctcmd_env_with(const char *var)
{
	size_t n = 0, k = 0, name = strcspn(var, "=") + 1;
	char **e;

	while (environ[n])
		n++;
	if (!(e = calloc(n + 2, sizeof(*e)))) {
		ph_seterr(PH_ENOMEM, "environment for %.*s", (int)name - 1, var);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], var, name))
			e[k++] = environ[i];
	e[k] = (char *)var;
	return e;
}
