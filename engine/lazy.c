// SPDX-License-Identifier: GPL-2.0
/*
 * lazy: the local criu lazy-pages daemon; contract in lazy.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "util.h"
#include "engine/criu.h"
#include "engine/lazy.h"

struct criu_lazy {
	pid_t pid;
	int pidfd; /* -1 where pidfd_open is missing: then polled */
	int status;
	bool exited;
	char dir[PATH_MAX];
	char log[PATH_MAX + 32];
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* In the child between fork and exec: async-signal-safe calls only. */
static void lazy_child(int stfd, int ps_fd, int errfd, char *const argv[])
{
	struct sigaction sa = { .sa_handler = SIG_DFL };
	sigset_t none;
	int null;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int i = 1; i < NSIG; i++)
		sigaction(i, &sa, NULL);
	null = open("/dev/null", O_RDWR);
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
	    (errfd >= 0 && dup2(errfd, 2) < 0))
		_exit(127);
	close_range(3, ~0u, CLOSE_RANGE_CLOEXEC);
	fcntl(stfd, F_SETFD, 0);
	if (ps_fd >= 0)
		fcntl(ps_fd, F_SETFD, 0);
	execv(argv[0], argv);
	_exit(127);
}

/* Reap if it exited (wait: block up to timeout_ms). 1 exited, 0 running. */
static int lazy_reap(struct criu_lazy *l, int timeout_ms)
{
	uint64_t end = timeout_ms < 0 ? UINT64_MAX : mono_ms() + (uint64_t)timeout_ms;
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	pid_t r;

	while (!l->exited) {
		r = waitpid(l->pid, &l->status, WNOHANG);
		if (r == l->pid || (r < 0 && errno == ECHILD)) {
			l->exited = true;
			break;
		}
		if (mono_ms() >= end)
			return 0;
		if (l->pidfd >= 0) {
			struct pollfd p = { l->pidfd, POLLIN, 0 };
			uint64_t left = end - mono_ms();

			poll(&p, 1,
			     end == UINT64_MAX ? -1 : (int)(left > INT32_MAX ? INT32_MAX : left));
		} else {
			nanosleep(&ts, NULL);
		}
	}
	return 1;
}

static int lazy_died(struct criu_lazy *l, const char *when)
{
	char errs[1024];
	int st = l->status;

	criu_log_errors(l->log, errs, sizeof(errs));
	if (WIFSIGNALED(st))
		return ph_seterr(PH_ECRIU, "criu lazy-pages %s: killed by signal %d; see %s%s%s",
				 when, WTERMSIG(st), l->log, errs[0] ? ": " : "", errs);
	return ph_seterr(PH_ECRIU, "criu lazy-pages %s: exit status %d; see %s%s%s", when,
			 WEXITSTATUS(st), l->log, errs[0] ? ": " : "", errs);
}

/* ps_fd >= 0: the pages come from a remote page server through that socket. */
static int lazy_start(const char *dir, int ps_fd, struct criu_lazy **out)
{
	char bin[PATH_MAX], fdarg[16], psarg[16], logarg[64] = "--log-file=" CRIU_LAZY_LOG;
	char *argv[] = { bin,	"lazy-pages",  "-D",  (char *)dir, "-W", (char *)dir, logarg,
			 "-v4", "--status-fd", fdarg, NULL,	   NULL, NULL,	      NULL };
	struct criu_lazy *l;
	int sp[2] = { -1, -1 }, r = 0;
	struct pollfd p;
	char c;
	ssize_t n;

	*out = NULL;
	if (find_exe("criu", "PHAUL_CRIU", "/usr/sbin", bin, sizeof(bin)) < 0)
		return ph_seterr(PH_ECRIU,
				 "criu not found on PATH or in /usr/sbin (set $PHAUL_CRIU)");
	l = calloc(1, sizeof(*l));
	if (!l)
		return ph_seterr(PH_ENOMEM, "lazy-pages daemon");
	l->pidfd = -1;
	snprintf(l->dir, sizeof(l->dir), "%s", dir);
	snprintf(l->log, sizeof(l->log), "%s/" CRIU_LAZY_LOG, dir);
	if (pipe2(sp, O_CLOEXEC) < 0) {
		r = ph_seterr_errno(PH_ESYS, "lazy-pages: pipe");
		goto fail;
	}
	snprintf(fdarg, sizeof(fdarg), "%d", sp[1]);
	if (ps_fd >= 0) {
		/* CRIU 3.17 crtools.c: --page-server, --ps-socket FD (no address, no port) */
		snprintf(psarg, sizeof(psarg), "%d", ps_fd);
		argv[10] = "--page-server";
		argv[11] = "--ps-socket";
		argv[12] = psarg;
	}
	l->pid = fork();
	if (l->pid < 0) {
		r = ph_seterr_errno(PH_ESYS, "lazy-pages: fork");
		goto fail;
	}
	if (l->pid == 0)
		lazy_child(sp[1], ps_fd, criu_get_stderr(), argv);
	close(sp[1]);
	sp[1] = -1;
	l->pidfd = (int)syscall(SYS_pidfd_open, l->pid, 0);
	/* ready: one byte on the status fd, after it listens for the restore */
	p = (struct pollfd){ sp[0], POLLIN, 0 };
	while ((n = poll(&p, 1, CRIU_LAZY_READY_MS)) < 0 && errno == EINTR)
		;
	if (n == 0) {
		r = ph_seterr(PH_ETIMEDOUT, "criu lazy-pages not ready after %d ms; see %s",
			      CRIU_LAZY_READY_MS, l->log);
		goto fail;
	}
	while ((n = read(sp[0], &c, 1)) < 0 && errno == EINTR)
		;
	if (n != 1) {
		lazy_reap(l, 10000);
		r = l->exited ? lazy_died(l, "before the restore")
			      : ph_seterr(PH_ECRIU, "criu lazy-pages closed its status fd; see %s",
					  l->log);
		goto fail;
	}
	close(sp[0]);
	*out = l;
	return 0;
fail:
	if (sp[0] >= 0)
		close(sp[0]);
	if (sp[1] >= 0)
		close(sp[1]);
	criu_lazy_close(l);
	return r;
}

int criu_lazy_start(const char *dir, struct criu_lazy **out)
{
	return lazy_start(dir, -1, out);
}

int criu_lazy_start_remote(const char *dir, int ps_fd, struct criu_lazy **out)
{
	return lazy_start(dir, ps_fd, out);
}

pid_t criu_lazy_pid(const struct criu_lazy *l)
{
	return l->pid;
}

int criu_lazy_wait(struct criu_lazy *l, int timeout_ms, struct criu_lazy_stats *st)
{
	int r;

	if (!lazy_reap(l, timeout_ms))
		r = ph_seterr(PH_ETIMEDOUT, "criu lazy-pages still placing pages after %d ms",
			      timeout_ms);
	else if (WIFEXITED(l->status) && WEXITSTATUS(l->status) == 0)
		r = 0;
	else
		r = lazy_died(l, "died before the memory was complete");
	if (st && criu_lazy_stats_parse(l->log, (size_t)sysconf(_SC_PAGESIZE), st) < 0)
		memset(st, 0, sizeof(*st));
	return r;
}

void criu_lazy_close(struct criu_lazy *l)
{
	if (!l)
		return;
	if (l->pid > 0 && !l->exited) {
		kill(l->pid, SIGKILL);
		lazy_reap(l, -1);
	}
	if (l->pidfd >= 0)
		close(l->pidfd);
	free(l);
}

int criu_lazy_stats_parse(const char *path, size_t page_size, struct criu_lazy_stats *st)
{
	char line[512];
	unsigned long long a, b;
	FILE *f = fopen(path, "re");

	memset(st, 0, sizeof(*st));
	if (!f)
		return ph_seterr_errno(PH_ESYS, "opening %s", path);
	while (fgets(line, sizeof(line), f)) {
		const char *m;
		int end = 0;

		/*
		 * The prefixes ("(ts) ", "pid: ", "pid-uffd: ") vary: find the
		 * message. %n: the whole phrase matched ("Found 40 VMAs" does not).
		 */
		if ((m = strstr(line, "Found ")) &&
		    sscanf(m, "Found %llu pages to be handled by UFFD%n", &a, &end) == 1 && end) {
			st->pages_total += a;
			st->tasks++;
		} else if (strstr(line, ": #PF at ")) {
			st->pages_fault++;
		} else if ((m = strstr(line, ": uffd_copy: ")) &&
			   sscanf(m, ": uffd_copy: 0x%llx/%llu", &a, &b) == 2) {
			st->pages_copied += b / page_size;
		}
	}
	fclose(f);
	st->pages_missing =
		st->pages_copied < st->pages_total ? st->pages_total - st->pages_copied : 0;
	return 0;
}
