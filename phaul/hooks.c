// SPDX-License-Identifier: GPL-2.0
/* Stage hooks: find them, run each with a clean fd table and a deadline. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caps.h"
#include "err.h"
#include "hooks.h"
#include "log.h"
#include "spawn.h"
#include "util.h"

extern char **environ;

/* Grace between SIGTERM and SIGKILL for a hook past its timeout. */
#define HOOKS_KILL_GRACE_MS 2000
#define HOOKS_ENV_OWN	    11

/* One hook's run. */
struct hook_run {
	const char *path;
	const char *stage;
	pid_t pid;
	int out, err; /* its stdout and stderr pipes */
	char obuf[512], ebuf[512];
	size_t olen, elen;
	char last[256]; /* last non-empty stderr line */
	int status;
	bool timed_out;
};

static bool ignored_name(const char *n)
{
	static const char *const sfx[] = { "~",	      ".dpkg-old", ".dpkg-new", ".dpkg-dist",
					   ".rpmnew", ".rpmsave",  ".swp" };
	size_t len = strlen(n);

	if (n[0] == '.')
		return true;
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		size_t k = strlen(sfx[i]);

		if (len >= k && !strcmp(n + len - k, sfx[i]))
			return true;
	}
	return false;
}

/* 1: run it; 0: skip it; <0: refuse (unsafe). */
static int hook_usable(const char *path, const char *stage)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return errno == ENOENT ? 0 : ph_seterr_errno(PH_EHOOK, "hook %s", path);
	if (!S_ISREG(st.st_mode))
		return 0;
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) || (st.st_uid != 0 && st.st_uid != geteuid()))
		return ph_seterr(PH_EHOOK,
				 "hook %s (stage %s) has mode %04o and owner uid %u: "
				 "writable by group/others or owned by another user, refused",
				 path, stage, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid);
	if (access(path, X_OK) < 0) {
		pr_warn("hook %s (stage %s) is not executable: skipped", path, stage);
		return 0;
	}
	return 1;
}

/* Our environment without PHAUL_*, then the hook's own PHAUL_* variables. */
static char **build_env(const char *stage, const struct hook_env *e, char *own[HOOKS_ENV_OWN])
{
	const struct {
		const char *name, *val;
	} v[] = {
		{ "PHAUL_STAGE", stage },	   { "PHAUL_CT", e->ct },
		{ "PHAUL_CT_TYPE", e->ct_type },   { "PHAUL_CT_ID", e->ct_id },
		{ "PHAUL_SRC_HOST", e->src_host }, { "PHAUL_DST_HOST", e->dst_host },
		{ "PHAUL_SIDE", e->side },	   { "PHAUL_WORK_DIR", e->work_dir },
		{ "PHAUL_ERROR", e->error },
	};
	size_t n = 0, i, k = 0;
	char vis[HOOKS_ENV_VAL_MAX];
	char **envp;

	while (environ[n])
		n++;
	envp = calloc(n + HOOKS_ENV_OWN + 1, sizeof(char *));
	if (!envp)
		return NULL;
	for (i = 0; i < n; i++)
		if (strncmp(environ[i], "PHAUL_", 6))
			envp[k++] = environ[i];
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (v[i].val && asprintf(&own[i], "%s=%s", v[i].name,
					 ph_strvis(vis, sizeof(vis), v[i].val)) > 0)
			envp[k++] = own[i];
	if (e->root_pid > 0 && asprintf(&own[i], "PHAUL_ROOT_PID=%d", (int)e->root_pid) > 0)
		envp[k++] = own[i];
	envp[k] = NULL;
	return envp;
}

/* Log the complete lines in buf; keep the last stderr one. */
static void lines(struct hook_run *h, char *buf, size_t *len, size_t cap, bool is_err, bool flush)
{
	char *s = buf, *nl;

	while ((nl = memchr(s, '\n', *len - (size_t)(s - buf))) || (flush && s < buf + *len)) {
		size_t n = nl ? (size_t)(nl - s) : *len - (size_t)(s - buf);

		if (n && is_err)
			snprintf(h->last, sizeof(h->last), "%.*s", (int)n, s);
		if (n)
			pr_info("hook %s: %.*s", h->path, (int)n, s);
		s += n + (nl != NULL);
	}
	*len -= (size_t)(s - buf);
	memmove(buf, s, *len);
	if (*len == cap) /* a line longer than the buffer: its head stands for it */
		lines(h, buf, len, cap, is_err, true);
}

static void pump(struct hook_run *h, int *fd, char *buf, size_t *len, size_t cap, bool is_err)
{
	ssize_t n = read(*fd, buf + *len, cap - *len);

	if (n > 0)
		*len += (size_t)n;
	if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
		close(*fd);
		*fd = -1;
	}
	lines(h, buf, len, cap, is_err, *fd < 0);
}

/* Until the hook exits: its output to the log; past the deadline, kill its group. */
static void watch(struct hook_run *h, int timeout_ms)
{
	uint64_t deadline = now_us() + (uint64_t)timeout_ms * 1000, kill_at = 0;
	pid_t r;

	for (;;) {
		struct pollfd pf[2] = { { .fd = h->out, .events = POLLIN },
					{ .fd = h->err, .events = POLLIN } };

		if (poll(pf, 2, 50) > 0) {
			if (pf[0].revents)
				pump(h, &h->out, h->obuf, &h->olen, sizeof(h->obuf), false);
			if (pf[1].revents)
				pump(h, &h->err, h->ebuf, &h->elen, sizeof(h->ebuf), true);
		}
		r = waitpid(h->pid, &h->status, WNOHANG);
		if (r == h->pid || (r < 0 && errno != EINTR))
			break;
		if (!h->timed_out && now_us() > deadline) {
			h->timed_out = true;
			kill(-h->pid, SIGTERM);
			kill_at = now_us() + HOOKS_KILL_GRACE_MS * 1000;
		} else if (kill_at && now_us() > kill_at) {
			kill(-h->pid, SIGKILL);
			kill_at = 0;
		}
	}
	/* What it wrote before exiting; a background child keeping the pipe open is not waited for.
	 */
	for (int i = 0; i < 2; i++) {
		int *fd = i ? &h->err : &h->out;

		if (*fd >= 0)
			fcntl(*fd, F_SETFL, O_NONBLOCK);
		while (*fd >= 0)
			pump(h, fd, i ? h->ebuf : h->obuf, i ? &h->elen : &h->olen,
			     i ? sizeof(h->ebuf) : sizeof(h->obuf), i);
	}
	if (h->timed_out)
		kill(-h->pid, SIGKILL); /* leftovers of its group */
}

static int verdict(struct hook_run *h, int timeout_ms)
{
	int st = h->status;

	if (h->timed_out)
		return ph_seterr(
			PH_EHOOK, "hook %s (stage %s) did not finish within %d ms: killed%s%s",
			h->path, h->stage, timeout_ms, h->last[0] ? "; last words: " : "", h->last);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st))
		return ph_seterr(PH_EHOOK, "hook %s (stage %s) exited with status %d%s%s", h->path,
				 h->stage, WEXITSTATUS(st), h->last[0] ? ": " : "", h->last);
	return ph_seterr(PH_EHOOK, "hook %s (stage %s) killed by signal %d%s%s", h->path, h->stage,
			 WTERMSIG(st), h->last[0] ? ": " : "", h->last);
}

static int run_one(const char *path, const char *stage, char **envp, int timeout_ms)
{
	struct hook_run h = { .path = path, .stage = stage, .out = -1, .err = -1 };
	char *argv[] = { (char *)path, (char *)stage, NULL };
	/* Own group: the timeout kills what the hook started, too. None of
	 * phaul's fds (the protocol connection, CRIU's socket) reach a hook. */
	struct spawn sp = { .path = path,
			    .argv = argv,
			    .envp = envp,
			    .std = { SPAWN_NULL },
			    .clean_signals = true,
			    .own_group = true,
			    .close_fds = true,
			    .exit_code = 126 };
	int op[2] = { -1, -1 }, ep[2] = { -1, -1 }, step, ret;

	pr_info("running hook %s (stage %s)", path, stage);
	if (pipe2(op, O_CLOEXEC) < 0 || pipe2(ep, O_CLOEXEC) < 0) {
		ret = ph_seterr_errno(PH_ESYS, "pipes for hook %s", path);
		goto out;
	}
	sp.std[1] = op[1];
	sp.std[2] = ep[1];
	if (spawn(&sp, &h.pid, &step) < 0) {
		ret = ph_seterr_errno(PH_ESYS, "fork for hook %s", path);
		goto out;
	}
	close(op[1]);
	close(ep[1]);
	op[1] = ep[1] = -1;
	h.out = op[0];
	h.err = ep[0];
	op[0] = ep[0] = -1;
	watch(&h, timeout_ms);
	ret = verdict(&h, timeout_ms);
out:
	for (int i = 0; i < 2; i++) {
		if (op[i] >= 0)
			close(op[i]);
		if (ep[i] >= 0)
			close(ep[i]);
	}
	return ret;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name); /* byte order: independent of the locale */
}

static int keep_entry(const struct dirent *d)
{
	return !ignored_name(d->d_name);
}

/* Paths to run, in order: dir/stage, then the entries of dir/stage.d sorted. */
static int collect(const char *dir, const char *stage, char ***out, size_t *n)
{
	char path[PATH_MAX];
	struct dirent **ents = NULL;
	int k = 0, ret = 0;

	*n = 0;
	*out = calloc(PH_HOOKS_MAX + 1, sizeof(char *));
	if (!*out)
		return ph_seterr(PH_ENOMEM, "hooks list");
	snprintf(path, sizeof(path), "%s/%s", dir, stage);
	(*out)[(*n)++] = strdup(path);
	snprintf(path, sizeof(path), "%s/%s.d", dir, stage);
	k = scandir(path, &ents, keep_entry, by_name);
	if (k < 0)
		return errno == ENOENT || errno == ENOTDIR
			       ? 0
			       : ph_seterr_errno(PH_EHOOK, "reading hooks dir %s", path);
	if (k > PH_HOOKS_MAX)
		ret = ph_seterr(PH_EHOOK, "%s holds %d hooks (max %u)", path, k, PH_HOOKS_MAX);
	for (int i = 0; i < k; i++) {
		if (!ret && asprintf(&(*out)[*n], "%s/%s", path, ents[i]->d_name) < 0)
			ret = ph_seterr(PH_ENOMEM, "hooks list");
		if (!ret)
			(*n)++;
		free(ents[i]);
	}
	free(ents);
	return ret;
}

int hooks_run_timeout(const char *dir, const char *stage, const struct hook_env *env,
		      int timeout_ms)
{
	static const struct hook_env none;
	char *own[HOOKS_ENV_OWN] = { NULL }, **envp = NULL, **paths = NULL, why[1024] = "";
	size_t n = 0, i;
	int ret = 0, r, first = 0;

	if (!dir || !*dir)
		return 0;
	if (!*stage || strchr(stage, '/'))
		return ph_seterr(PH_EHOOK, "bad hook stage name '%s'", stage);
	if ((ret = collect(dir, stage, &paths, &n)) < 0)
		goto out;
	envp = build_env(stage, env ? env : &none, own);
	if (!envp) {
		ret = ph_seterr(PH_ENOMEM, "hook environment");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (!paths[i] || (r = hook_usable(paths[i], stage)) == 0)
			continue;
		if (r > 0)
			r = run_one(paths[i], stage, envp, timeout_ms);
		if (r < 0)
			pr_err("%s", ph_errmsg());
		if (r < 0 && !first) {
			first = r;
			snprintf(why, sizeof(why), "%s", ph_errmsg());
		}
		/* on-failure hooks clean up: one failing must not stop the others */
		if (r < 0 && strcmp(stage, HOOK_ON_FAILURE))
			break;
	}
	/* The first failure is the one to report, even if later on-failure hooks failed too. */
	if (first < 0)
		ret = ph_seterr(-first, "%s", why);
out:
	for (i = 0; paths && i < n; i++)
		free(paths[i]);
	free(paths);
	for (i = 0; i < HOOKS_ENV_OWN; i++)
		free(own[i]);
	free(envp);
	return ret;
}

int hooks_run(const char *dir, const char *stage, const struct hook_env *env)
{
	return hooks_run_timeout(dir, stage, env, HOOKS_TIMEOUT_MS);
}
