// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spawn.h"
#include "util.h"

/* Between fork and exec: async-signal-safe calls only. */
static void spawn_child(const struct spawn *s, int ep)
{
	struct sigaction sa = { .sa_handler = SIG_DFL };
	int e[2] = { 0, 0 }, null = -1, i;
	sigset_t none;

	if (s->clean_signals) {
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		for (i = 1; i < NSIG; i++)
			sigaction(i, &sa, NULL);
	}
	if (s->own_group)
		setpgid(0, 0);
	if (s->pre_exec && (e[0] = s->pre_exec(s->arg)) != 0)
		goto fail;
	for (i = 0; i < 3; i++) {
		int fd = s->std[i];

		if (fd == SPAWN_INHERIT)
			continue;
		if (fd == SPAWN_NULL) {
			if (null < 0 && (null = open("/dev/null", O_RDWR)) < 0)
				goto fail;
			fd = null;
		}
		if (dup2(fd, i) < 0)
			goto fail;
	}
	if (s->close_fds) {
		close_range(3, ~0u, CLOSE_RANGE_CLOEXEC);
		for (i = 0; i < (int)s->nkeep; i++)
			fcntl(s->keep[i], F_SETFD, 0);
	}
	if (!s->path)
		execvp(s->argv[0], s->argv);
	else if (s->envp)
		execve(s->path, s->argv, s->envp);
	else
		execv(s->path, s->argv);
fail:
	e[1] = errno;
	if (ep >= 0 && write(ep, e, sizeof(e)) < 0)
		_exit(s->exit_code);
	_exit(s->exit_code);
}

int spawn(const struct spawn *s, pid_t *pid, int *step)
{
	int ep[2] = { -1, -1 }, e[2] = { 0, 0 }, st, ret = 0, err = 0;
	ssize_t n;

	*pid = -1;
	*step = 0;
	if (s->report && pipe2(ep, O_CLOEXEC) < 0) {
		*step = SPAWN_STEP_PIPE;
		return -1;
	}
	*pid = fork();
	if (*pid < 0) {
		*step = SPAWN_STEP_FORK;
		err = errno;
		ret = -1;
		goto out;
	}
	if (*pid == 0)
		spawn_child(s, ep[1]);
	if (!s->report)
		return 0;
	close(ep[1]);
	ep[1] = -1;
	/* EOF: exec succeeded (the pipe was close-on-exec); else the child's step and errno. */
	while ((n = read(ep[0], e, sizeof(e))) < 0 && errno == EINTR)
		;
	if (n == sizeof(e)) {
		spawn_reap(*pid, &st, -1, false);
		*pid = -1;
		*step = e[0];
		err = e[1];
		ret = -1;
	}
out:
	if (ep[0] >= 0)
		close(ep[0]);
	if (ep[1] >= 0)
		close(ep[1]);
	if (ret < 0)
		errno = err;
	return ret;
}

pid_t spawn_reap(pid_t pid, int *status, int timeout_ms, bool group)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	uint64_t until = now_us() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000;
	int st = 0;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &st, timeout_ms < 0 ? 0 : WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR))
			break;
		if (r < 0 || timeout_ms < 0)
			continue;
		if (now_us() >= until) {
			kill(group ? -pid : pid, SIGKILL);
			while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
				;
			break;
		}
		nanosleep(&tick, NULL);
	}
	*status = r == pid ? st : 0;
	return r;
}
