// SPDX-License-Identifier: GPL-2.0
/* Running rsync: spawn with a clean fd table, collect its output, reap it. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caps.h"
#include "err.h"
#include "fss_int.h"
#include "log.h"
#include "spawn.h"
#include "util.h"

int fss_find_rsync(char *path, size_t len)
{
	if (find_exe("rsync", "PHAUL_RSYNC", "/usr/bin", path, len) < 0)
		return ph_seterr(PH_ERSYNC,
				 "rsync not found on PATH or in /usr/bin (set $PHAUL_RSYNC)");
	return 0;
}

/* What enter_jail() could not do, by the step it failed at. */
static const char *const jail_steps[] = {
	[1] = "unshare(CLONE_NEWNS)",	     [2] = "making the mounts private",
	[3] = "making the mounts read-only", [4] = "refusing symlinks in the destination",
	[5] = "mounting the destination",    [6] = "entering the destination",
};

/*
 * In the child: a mount namespace of its own where every mount is
 * read-only except j->tree (the CT's directory, cloned from an fd opened
 * beneath the root), which is mounted over j->at and becomes the cwd.
 * Links in that tree are never followed (MOUNT_ATTR_NOSYMFOLLOW): rsync
 * needs none (no -K/-L), and a peer's symlink cannot lead it out, not even
 * to read. Syscalls only (async-signal-safe). 0 or the failed step.
 */
static int enter_jail(const struct fss_jail *j)
{
	struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY };
	struct mount_attr nofollow = { .attr_set = MOUNT_ATTR_NOSYMFOLLOW };
	const size_t sz = sizeof(struct mount_attr);

	if (unshare(CLONE_NEWNS) < 0)
		return 1;
	/* Private first: nothing done here may propagate to the host's mounts. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return 2;
	if (mount_setattr(AT_FDCWD, "/", AT_RECURSIVE, &ro, sz) < 0)
		return 3;
	if (mount_setattr(j->tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &nofollow, sz) < 0)
		return 4;
	if (move_mount(j->tree, "", AT_FDCWD, j->at, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return 5;
	if (chdir(j->at) < 0)
		return 6;
	return 0;
}

/* spawn's pre_exec: the jail, if any (async-signal-safe). */
static int jail_step(void *arg)
{
	return arg ? enter_jail(arg) : 0;
}

int fss_spawn(const char *bin, char *const argv[], char *const envp[], int io_fd, int keep_fd,
	      const struct fss_jail *jail, struct fss_proc *p)
{
	int op[2] = { -1, -1 }, errp[2] = { -1, -1 }, step, ret = 0;
	/* Own group: a timeout kills rsync's generator/receiver pair together.
	 * Nothing of phaul's (the protocol connection above all) reaches rsync. */
	struct spawn sp = { .path = bin,
			    .argv = argv,
			    .envp = envp,
			    .clean_signals = true,
			    .own_group = true,
			    .close_fds = true,
			    .keep = &keep_fd,
			    .nkeep = keep_fd >= 0,
			    .pre_exec = jail_step,
			    .arg = (void *)jail,
			    .report = true,
			    .exit_code = 127 };

	memset(p, 0, sizeof(*p));
	p->pid = -1;
	p->out = p->err = -1;
	if ((io_fd < 0 && pipe2(op, O_CLOEXEC) < 0) || pipe2(errp, O_CLOEXEC) < 0) {
		ret = ph_seterr_errno(PH_ESYS, "pipes for %s", bin);
		goto out;
	}
	sp.std[0] = io_fd >= 0 ? io_fd : SPAWN_NULL;
	sp.std[1] = io_fd >= 0 ? io_fd : op[1];
	sp.std[2] = errp[1];
	if (spawn(&sp, &p->pid, &step) < 0) {
		if (step == SPAWN_STEP_PIPE)
			ret = ph_seterr_errno(PH_ESYS, "pipes for %s", bin);
		else if (step == SPAWN_STEP_FORK)
			ret = ph_seterr_errno(PH_ESYS, "fork for %s", bin);
		else if (step > 0 && (size_t)step < sizeof(jail_steps) / sizeof(jail_steps[0]))
			ret = ph_seterr(PH_ESYS,
					"cannot confine %s to %s: %s: %s (the agent must run as "
					"root on Linux 5.12 or later)",
					bin, jail->at, jail_steps[step], strerror(errno));
		else
			ret = ph_seterr(PH_ERSYNC, "cannot run %s: %s", bin, strerror(errno));
		goto out;
	}
	p->out = op[0];
	p->err = errp[0];
	op[0] = errp[0] = -1;
out:
	for (int i = 0; i < 2; i++) {
		if (op[i] >= 0)
			close(op[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	return ret;
}

static bool has_prefix(const char *s, size_t n, const char *pre)
{
	size_t k = strlen(pre);

	return n >= k && !memcmp(s, pre, k);
}

static bool has_suffix(const char *s, size_t n, const char *suf)
{
	size_t k = strlen(suf);

	return n >= k && !memcmp(s + n - k, suf, k);
}

int fss_err_vanished(const char *line, size_t n)
{
	if (has_prefix(line, n, "file has vanished: ") ||
	    (has_prefix(line, n, "rsync: ") &&
	     has_suffix(line, n, ": No such file or directory (2)")))
		return 1;
	if (has_prefix(line, n,
		       "rsync warning: some files vanished before they could be transferred") ||
	    has_prefix(line, n, "rsync error: some files/attrs were not transferred"))
		return 0;
	return -1;
}

/* Log complete lines of rsync's stderr; remember the last non-empty one. */
static void err_lines(struct fss_proc *p, const char *tag, char *buf, size_t *len, bool flush)
{
	char *s = buf, *nl;

	while ((nl = memchr(s, '\n', *len - (size_t)(s - buf))) || (flush && s < buf + *len)) {
		size_t n = nl ? (size_t)(nl - s) : *len - (size_t)(s - buf);

		if (n) {
			pr_warn("%s: %.*s", tag, (int)n, s);
			snprintf(p->last, sizeof(p->last), "%.*s", (int)n, s);
			if (fss_err_vanished(s, n) < 0)
				p->other_err = true;
		}
		s += n + (nl != NULL);
	}
	*len -= (size_t)(s - buf);
	memmove(buf, s, *len);
	if (*len == 1024) /* an endless line: its head stands for it */
		err_lines(p, tag, buf, len, true);
}

static void read_out(struct fss_proc *p)
{
	char buf[4096];
	ssize_t n = read(p->out, buf, sizeof(buf));

	if (n <= 0) {
		close(p->out);
		p->out = -1;
		return;
	}
	if (!p->stats)
		p->stats = calloc(1, PH_FSS_STATS_MAX + 1);
	if (p->stats && p->stats_len < PH_FSS_STATS_MAX) {
		size_t k = (size_t)n < PH_FSS_STATS_MAX - p->stats_len
				   ? (size_t)n
				   : PH_FSS_STATS_MAX - p->stats_len;

		memcpy(p->stats + p->stats_len, buf, k);
		p->stats_len += k;
	}
}

static void kill_late(struct fss_proc *p, atomic_bool *peer_done, uint64_t *since)
{
	if (!peer_done || !atomic_load(peer_done) || p->pid <= 0)
		return;
	if (!*since)
		*since = now_us();
	else if (now_us() - *since > (uint64_t)FSS_GRACE_MS * 1000) {
		pr_warn("rsync (pid %d) still runs %d s after the peer ended: killing it",
			(int)p->pid, FSS_GRACE_MS / 1000);
		kill(-p->pid, SIGKILL);
		*since = UINT64_MAX / 2;
	}
}

int fss_proc_wait(struct fss_proc *p, const char *tag, atomic_bool *peer_done)
{
	char ebuf[1024];
	size_t elen = 0;
	uint64_t since = 0;
	pid_t r;

	while (p->out >= 0 || p->err >= 0) {
		struct pollfd pf[2] = { { .fd = p->out, .events = POLLIN },
					{ .fd = p->err, .events = POLLIN } };

		if (poll(pf, 2, 500) < 0 && errno != EINTR)
			break;
		if (pf[0].revents)
			read_out(p);
		if (pf[1].revents) {
			ssize_t n = read(p->err, ebuf + elen, sizeof(ebuf) - elen);

			if (n <= 0) {
				close(p->err);
				p->err = -1;
			} else {
				elen += (size_t)n;
			}
			err_lines(p, tag, ebuf, &elen, p->err < 0);
		}
		kill_late(p, peer_done, &since);
	}
	/* Output closed: rsync is on its way out; one that lingers gets the grace. */
	r = spawn_reap(p->pid, &p->status, FSS_GRACE_MS, true);
	if (r < 0)
		p->status = W_EXITCODE(127, 0);
	p->pid = -1;
	if (WIFEXITED(p->status))
		return WEXITSTATUS(p->status);
	return 128 + WTERMSIG(p->status);
}

void fss_proc_free(struct fss_proc *p)
{
	if (p->pid > 0) {
		kill(-p->pid, SIGKILL);
		waitpid(p->pid, NULL, 0);
		p->pid = -1;
	}
	if (p->out >= 0)
		close(p->out);
	if (p->err >= 0)
		close(p->err);
	p->out = p->err = -1;
	free(p->stats);
	p->stats = NULL;
}

const char *fss_status_str(int code, char *buf, size_t len)
{
	if (code < 0)
		snprintf(buf, len, "not run");
	else if (code > 128)
		snprintf(buf, len, "killed by signal %d", code - 128);
	else
		snprintf(buf, len, "exit %d", code);
	return buf;
}
