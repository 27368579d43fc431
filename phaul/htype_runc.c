// SPDX-License-Identifier: GPL-2.0
/*
 * runc:ID: an OCI container run by runc, checkpointed and restored with
 * runc's own commands, so that on the destination runc manages it again
 * (`runc list`, `runc kill`, `runc delete`).
 *
 *   resolve      `runc state ID`: init pid, status, bundle and rootfs; the
 *                bundle (config.json and, usually, rootfs/) travels like a
 *                --sync path, the last time while the container is frozen
 *   pre-dumps    `runc checkpoint --pre-dump --parent-path --page-server`:
 *                pages to the page server we are given (phaul's relay on
 *                127.0.0.1), with parents, like lxc:
 *   final dump   runc answers CRIU's post-dump notification itself and
 *                takes no action script (with notify scripts on, CRIU runs
 *                no shell scripts), so the tree is held another way: a
 *                guard process is started, then `runc pause` freezes the
 *                cgroup, then `runc checkpoint --leave-running` dumps to the
 *                page server with the previous pre-dump as parent (CRIU
 *                restores the freezer's original state, FROZEN, after the
 *                dump). The verdict goes to the guard through a pipe: on
 *                commit it runs `runc delete --force ID`; on rollback, or on
 *                EOF because phaul died, `runc resume ID`. Written to the
 *                guard, a verdict is carried out even if phaul dies.
 *   post-copy    `runc checkpoint --lazy-pages`: its CRIU serves the lazy
 *                pages on 127.0.0.1 (runc_dump_lazy() below)
 *   images       runc's descriptors.json and the bundle path travel as
 *                runc-descriptors.json.img and runc-bundle.img
 *   restore      `runc restore -d --bundle --image-path`, fds and stdio
 *                not inherited (the container outlives the agent). Held
 *                stopped for the commit: runc takes no action script and
 *                answers CRIU's notifications itself, but the `criu swrk`
 *                it starts inherits its environment, and CRIU reads the
 *                file CRIU_CONFIG_FILE names at start-up: one saying
 *                leave-stopped, in the session's images dir
 *                (criu_hold_conf()), makes CRIU itself stop every process
 *                of the container before it lets them go. Nothing outside
 *                phaul's own directory changes (the bundle's org.criu.config
 *                annotation or /etc/criu/runc.conf would be the operator's
 *                files, and a crash would leave them changed); an action
 *                script there would collide with runc's notify scripts.
 *                Lazily (o->lazy_pages): `--lazy-pages`, its CRIU's work
 *                dir the images dir, where the agent's daemon listens.
 *   network      runc always passes CRIU --empty-ns net: a network
 *                namespace of its own is restored empty, and runc runs the
 *                config's prestart and createRuntime hooks at CRIU's
 *                setup-namespaces to set it up again (CNI's way). A CT
 *                whose namespace has links but lo and no such hook would
 *                lose them: runc_check_net() warns at resolve.
 *   discard      `runc delete --force ID`
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ctcmd.h"
#include "err.h"
#include "htype.h"
#include "log.h"
#include "lsock.h"
#include "util.h"

#define RUNC_TIMEOUT_S	 600 /* one checkpoint or restore of a large container */
#define RUNC_QUICK_S	 60  /* state, pause, resume, delete */
#define RUNC_STATE_MAX	 8192
#define RUNC_LIST_MAX	 (4 << 20) /* `runc list` of some 10000 containers */
#define RUNC_BUNDLE_IMG	 "runc-bundle.img"
#define RUNC_DESC_IMG	 "runc-descriptors.json.img"
#define RUNC_DESCRIPTORS "descriptors.json"
#define RUNC_LAZY_CONF	 "runc-lazy-dump.conf"
/* A lazy dump's runc ends when the last page left: the relay's own timeouts bound it. */
#define RUNC_LAZY_MAX_S (24 * 3600)
/* CRIU accepts phaul's connection to its lazy page server within this (lsock.h) */
#define RUNC_SOLE_MS 5000

static int runc_path(char *path, size_t len)
{
	if (find_exe("runc", "PHAUL_RUNC", "/usr/sbin", path, len) < 0)
		return ph_seterr(PH_ENOTSUP, "runc: not found (package runc, or set PHAUL_RUNC)");
	return 0;
}

/* runc with args (args[0] is replaced by runc's path) and environment envp (NULL: ours). */
static int runc_run_env(const char *args[], char *out, size_t outlen, const char *log,
			int timeout_s, char *const envp[])
{
	char exe[PATH_MAX];
	int ret;

	if ((ret = runc_path(exe, sizeof(exe))) < 0)
		return ret;
	args[0] = exe;
	return ctcmd_run_env(args, out, outlen, log, timeout_s, envp);
}

static int runc_run(const char *args[], char *out, size_t outlen, const char *log, int timeout_s)
{
	return runc_run_env(args, out, outlen, log, timeout_s, NULL);
}

struct runc_state {
	pid_t pid;
	char status[32];
	char bundle[PATH_MAX];
	char rootfs[PATH_MAX];
};

static void copy_str(json_t *o, const char *key, char *dst, size_t len)
{
	const char *s = json_string_value(json_object_get(o, key));

	snprintf(dst, len, "%s", s ? s : "");
}

/* `runc state ID`; PH_ENOENT when runc does not know the container. */
static int runc_state(const struct ct *ct, struct runc_state *s)
{
	const char *args[] = { "runc", "state", ct->id, NULL };
	char *out = malloc(RUNC_STATE_MAX);
	json_error_t jerr;
	json_t *o = NULL;
	int ret;

	memset(s, 0, sizeof(*s));
	if (!out)
		return ph_seterr(PH_ENOMEM, "runc state buffer");
	if ((ret = runc_run(args, out, RUNC_STATE_MAX, NULL, RUNC_QUICK_S)) < 0) {
		if (ret == -PH_ECRIU)
			ret = ph_seterr(PH_ENOENT, "%s: runc knows no such container (runc state)",
					ct->spec);
		goto out;
	}
	o = json_loads(out, 0, &jerr);
	if (!json_is_object(o) || !json_is_integer(json_object_get(o, "pid"))) {
		ret = ph_seterr(PH_ECRIU, "%s: runc state: unexpected output (%s)", ct->spec,
				o ? "no pid" : jerr.text);
		goto out;
	}
	s->pid = (pid_t)json_integer_value(json_object_get(o, "pid"));
	copy_str(o, "status", s->status, sizeof(s->status));
	copy_str(o, "bundle", s->bundle, sizeof(s->bundle));
	copy_str(o, "rootfs", s->rootfs, sizeof(s->rootfs));
out:
	json_decref(o);
	free(out);
	return ret;
}

/* The bundle directory, and the rootfs when it lies outside it. */
static int runc_add_sync(struct ct *ct, const struct runc_state *s)
{
	struct stat st;
	size_t n = strlen(s->bundle);

	if (s->bundle[0] != '/' || stat(s->bundle, &st) < 0 || !S_ISDIR(st.st_mode))
		return ph_seterr(PH_ENOTSUP, "%s: bundle '%s' is not a directory", ct->spec,
				 s->bundle);
	snprintf(ct->sync[0], sizeof(ct->sync[0]), "%s", s->bundle);
	ct->nsync = 1;
	if (!s->rootfs[0] || (!strncmp(s->rootfs, s->bundle, n) && s->rootfs[n] == '/'))
		return 0; /* rootfs/ inside the bundle, the usual case */
	if (s->rootfs[0] != '/' || stat(s->rootfs, &st) < 0 || !S_ISDIR(st.st_mode))
		return ph_seterr(PH_ENOTSUP, "%s: rootfs '%s' is not a directory", ct->spec,
				 s->rootfs);
	snprintf(ct->sync[ct->nsync++], sizeof(ct->sync[0]), "%s", s->rootfs);
	return 0;
}

/* The links of pid's network namespace but lo, ", "-separated into out ("" if none or ours). */
static void runc_net_links(pid_t pid, char *out, size_t len)
{
	char path[64], line[512], name[IFNAMSIZ + 1];
	struct stat a, b;
	size_t off = 0;
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	if (stat("/proc/self/ns/net", &a) < 0 || stat(path, &b) < 0 ||
	    (a.st_ino == b.st_ino && a.st_dev == b.st_dev))
		return; /* the host's namespace: not the container's to lose */
	snprintf(path, sizeof(path), "/proc/%d/net/dev", (int)pid);
	if (!(f = fopen(path, "re")))
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, " %16[^:]:", name) != 1 || !strchr(line, ':') ||
		    !strcmp(name, "lo") || off + strlen(name) + 3 >= len)
			continue;
		off += (size_t)snprintf(out + off, len - off, "%s%s", off ? ", " : "", name);
	}
	fclose(f);
}

/* Does bundle/config.json have a prestart or createRuntime hook? */
static bool runc_net_hooked(const char *bundle)
{
	char path[PATH_MAX];
	json_t *o, *h;
	bool yes;

	snprintf(path, sizeof(path), "%s/config.json", bundle);
	if (!(o = json_load_file(path, 0, NULL)))
		return false;
	h = json_object_get(o, "hooks");
	yes = json_array_size(json_object_get(h, "prestart")) > 0 ||
	      json_array_size(json_object_get(h, "createRuntime")) > 0;
	json_decref(o);
	return yes;
}

/*
 * runc checkpoints every network namespace with CRIU's --empty-ns net:
 * its links, addresses and routes do not move; runc's restore runs the
 * prestart and createRuntime hooks again to set them up. Without one,
 * the CT would run on the destination without its network: said here,
 * before anything moves.
 */
static void runc_check_net(const struct ct *ct, const struct runc_state *s)
{
	char links[256];

	runc_net_links(s->pid, links, sizeof(links));
	if (links[0] && !runc_net_hooked(s->bundle))
		pr_warn("%s: its network namespace has %s, which runc restores empty (runc "
			"checkpoint passes CRIU --empty-ns net), and %s/config.json has no "
			"createRuntime or prestart hook to set it up again: on the destination "
			"it will run without them",
			ct->spec, links, s->bundle);
}

static int runc_resolve(struct ct *ct)
{
	struct runc_state s;
	int ret;

	if ((ret = runc_state(ct, &s)) < 0)
		return ret;
	if (strcmp(s.status, "running"))
		return ph_seterr(PH_ENOENT, "%s is %s, not running", ct->spec, s.status);
	if (s.pid <= 1)
		return ph_seterr(PH_ENOENT, "%s: runc knows no init pid", ct->spec);
	ct->root = s.pid;
	ct->own_pidns = true;
	if ((ret = runc_add_sync(ct, &s)) < 0)
		return ret;
	runc_check_net(ct, &s);
	return ct_collect_tree(ct);
}

/* "<what> failed: <CRIU's errors>" from dir/<log>. */
static int runc_fail(const struct ct *ct, const char *what, const char *dir, const char *log)
{
	char path[PATH_MAX], errs[1024], msg[1024];

	snprintf(msg, sizeof(msg), "%s", ph_errmsg()); /* ph_seterr() writes over it */
	snprintf(path, sizeof(path), "%s/%s", dir, log);
	criu_log_errors(path, errs, sizeof(errs));
	if (errs[0])
		return ph_seterr(PH_ECRIU, "%s: %s failed: %s (CRIU log %s)", ct->spec, what, errs,
				 path);
	return ph_seterr(PH_ECRIU, "%s: %s failed: %s (see %s/runc.log)", ct->spec, what, msg, dir);
}

/* The end of a `runc checkpoint` argv from args[n]: where, to which page server, of what; NULL-ended. */
static void checkpoint_args(const char **args, int n, const struct ct *ct,
			    const struct ct_dump *d, const char *ps)
{
	args[n++] = "--image-path";
	args[n++] = d->images_dir;
	args[n++] = "--work-path";
	args[n++] = d->images_dir;
	args[n++] = "--page-server";
	args[n++] = ps;
	if (d->parent) {
		args[n++] = "--parent-path";
		args[n++] = d->parent;
	}
	args[n++] = ct->id;
	args[n] = NULL;
}

/* runc checkpoint to the page server; pre_dump or the final one (left frozen). */
static int runc_checkpoint(const struct ct *ct, const struct ct_dump *d, bool pre)
{
	char ps[64], log[PATH_MAX];
	const char *args[16];
	int n = 0;

	snprintf(ps, sizeof(ps), "%s:%d", d->ps_addr, d->ps_port);
	snprintf(log, sizeof(log), "%s/runc.log", d->images_dir);
	args[n++] = "runc";
	args[n++] = "checkpoint";
	args[n++] = pre ? "--pre-dump" : "--leave-running";
	checkpoint_args(args, n, ct, d, ps);
	if (runc_run(args, NULL, 0, log, RUNC_TIMEOUT_S) < 0)
		return runc_fail(ct, pre ? "pre-dump" : "dump", d->images_dir, "dump.log");
	return 0;
}

static int runc_pre_dump(struct ct *ct, const struct ct_dump *d)
{
	return runc_checkpoint(ct, d, true);
}

/*
 * The guard: a process of its own session (a Ctrl-C for phaul is not for
 * it) that reads the verdict from a pipe and carries it out.
 */
static const char guard_script[] =
	"read -r v\n"
	"if [ \"$v\" = commit ]; then exec \"$0\" delete --force \"$1\"; fi\n"
	"exec \"$0\" resume \"$1\"\n";

static int guard_start(const struct ct *ct, const char *log, int *wfd, pid_t *pid)
{
	char exe[PATH_MAX];
	const char *argv[] = { "/bin/sh", "-c", guard_script, exe, ct->id, NULL };
	int p[2], ret;

	*wfd = -1;
	*pid = -1;
	if ((ret = runc_path(exe, sizeof(exe))) < 0)
		return ret;
	if (pipe2(p, O_CLOEXEC) < 0)
		return ph_seterr_errno(PH_ESYS, "pipe");
	*pid = fork();
	if (*pid < 0) {
		close(p[0]);
		close(p[1]);
		return ph_seterr_errno(PH_ESYS, "fork");
	}
	if (*pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		int err = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

		setsid();
		if (null < 0 || err < 0 || dup2(p[0], 0) < 0 || dup2(err, 1) < 0 ||
		    dup2(err, 2) < 0)
			_exit(127);
		close_range(3, ~0U, 0);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[0]);
	*wfd = p[1];
	return 0;
}

/* Hand the verdict to the guard and wait until it carried it out. */
static int guard_finish(const struct ct *ct, int wfd, pid_t pid, bool commit, const char *log)
{
	const char *v = commit ? "commit\n" : "rollback\n";
	int st = 0, ret;

	if (write(wfd, v, strlen(v)) != (ssize_t)strlen(v))
		pr_perror("telling the guard of %s", ct->spec); /* EOF: it resumes */
	close(wfd);
	if ((ret = ctcmd_wait(pid, now_us() + (uint64_t)RUNC_QUICK_S * 1000000, &st)) < 0)
		return ph_errctx(ret, "%s: runc %s", ct->spec, commit ? "delete" : "resume");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return ph_seterr(PH_ECRIU, "%s: runc %s failed (see %s)", ct->spec,
				 commit ? "delete --force" : "resume", log);
	return 0;
}

/* Rollback: the guard resumes it; one that was never paused runs already. */
static int guard_rollback(const struct ct *ct, int wfd, pid_t pid, const char *log)
{
	struct runc_state s;
	char msg[512];
	int ret = guard_finish(ct, wfd, pid, false, log);

	if (ret == 0)
		return 0;
	snprintf(msg, sizeof(msg), "%s", ph_errmsg());
	if (runc_state(ct, &s) == 0 && !strcmp(s.status, "running"))
		return 0;
	return ph_seterr(ret, "%s", msg);
}

/* Copy src to dst (small files: runc's descriptors.json). */
static int copy_small(const char *src, const char *dst)
{
	uint8_t *buf = NULL;
	size_t len;
	FILE *f;
	int ret;

	if ((ret = read_file(src, 65536, &buf, &len)) < 0)
		return ret;
	f = fopen(dst, "we");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		ret = ph_seterr_errno(PH_ESYS, "writing %s", dst);
		if (f)
			fclose(f);
	}
	free(buf);
	return ret;
}

/* What the destination's runc restore needs beside CRIU's images. */
static int runc_images_extra(const struct ct *ct, const char *dir)
{
	char src[PATH_MAX], dst[PATH_MAX];
	struct runc_state s;
	int ret;

	if ((ret = runc_state(ct, &s)) < 0 ||
	    (ret = ct_img_write(dir, RUNC_BUNDLE_IMG, s.bundle)) < 0)
		return ret;
	snprintf(src, sizeof(src), "%s/%s", dir, RUNC_DESCRIPTORS);
	snprintf(dst, sizeof(dst), "%s/%s", dir, RUNC_DESC_IMG);
	return copy_small(src, dst);
}

/* After the dump with --leave-running: still frozen, or no commit is safe. */
static int runc_still_paused(const struct ct *ct)
{
	struct runc_state s;
	int ret;

	if ((ret = runc_state(ct, &s)) < 0)
		return ret;
	if (strcmp(s.status, "paused"))
		return ph_seterr(PH_ECRIU,
				 "%s: %s after runc checkpoint --leave-running, not paused: "
				 "its state may differ from the dump",
				 ct->spec, s.status);
	return 0;
}

/* Up to 10 s for the killed init to disappear. */
static bool runc_gone(const struct ct *ct)
{
	for (int i = 0; i < 1000; i++) {
		if (!ct_alive(ct))
			return true;
		usleep(10000);
	}
	return false;
}

static int runc_dump_lazy(struct ct *ct, const struct ct_dump *d, criu_notify_fn fn, void *arg,
			  enum criu_dump_outcome *outcome);

static int runc_dump(struct ct *ct, const struct ct_dump *d, criu_notify_fn fn, void *arg,
		     enum criu_dump_outcome *outcome)
{
	const char *pause_args[] = { "runc", "pause", ct->id, NULL };
	char log[PATH_MAX], glog[PATH_MAX];
	enum criu_verdict v = CRIU_ROLLBACK;
	int wfd = -1, ret, gret;
	pid_t guard = -1;

	if (d->criu && d->criu->lazy_pages)
		return runc_dump_lazy(ct, d, fn, arg, outcome);
	*outcome = CRIU_DUMP_RESUMED; /* nothing happened to it yet */
	snprintf(log, sizeof(log), "%s/runc.log", d->images_dir);
	snprintf(glog, sizeof(glog), "%s/runc-verdict.log", d->work_dir);
	/* The guard first: from the pause on, someone must be able to resume it. */
	if ((ret = guard_start(ct, glog, &wfd, &guard)) < 0)
		return ret;
	if ((ret = runc_run(pause_args, NULL, 0, log, RUNC_QUICK_S)) < 0) {
		ph_errctx(ret, "%s: freezing it", ct->spec);
		goto verdict;
	}
	if ((ret = runc_checkpoint(ct, d, false)) < 0 || (ret = runc_still_paused(ct)) < 0 ||
	    (ret = runc_images_extra(ct, d->images_dir)) < 0)
		goto verdict;
	v = fn ? fn("post-dump", arg) : CRIU_COMMIT;
verdict:
	if (ret < 0) {
		/* the cause first; the guard's resume is reported after it */
		char msg[1024];

		snprintf(msg, sizeof(msg), "%s", ph_errmsg());
		if ((gret = guard_rollback(ct, wfd, guard, glog)) < 0) {
			*outcome = CRIU_DUMP_UNKNOWN;
			pr_err("%s", ph_errmsg());
		}
		return ph_seterr(ret, "%s", msg);
	}
	ret = v == CRIU_COMMIT ? guard_finish(ct, wfd, guard, true, glog)
			       : guard_rollback(ct, wfd, guard, glog);
	if (ret < 0) {
		*outcome = CRIU_DUMP_UNKNOWN;
		return ret;
	}
	if (v != CRIU_COMMIT)
		return 0; /* resumed: the orchestrator words why */
	if (!runc_gone(ct)) {
		*outcome = CRIU_DUMP_UNKNOWN;
		return ph_seterr(PH_ECRIU, "%s: init %d still alive after runc delete --force",
				 ct->spec, (int)ct->root);
	}
	*outcome = CRIU_DUMP_KILLED;
	return 0;
}

/*
 * Post-copy. `runc checkpoint --lazy-pages --page-server 127.0.0.1:PORT
 * --status-fd 3`: runc's CRIU dumps everything but the lazy pages into the
 * images dir, runc answers post-dump itself, then CRIU listens as a lazy
 * page server on PORT and runc writes a NUL to the status fd. CRIU 3.17's
 * RPC ignores the page server's address of a lazy dump (it would listen on
 * every address): a CRIU config file naming 127.0.0.1, passed as
 * CRIU_CONFIG_FILE (runc's `criu swrk` inherits its environment), keeps
 * it on loopback. We connect at once and hand the socket to the
 * orchestrator (d->lazy_sk), whose relay serves it through the channel;
 * then post-dump (fn) runs here.
 *
 * CRIU kills the tree once the page server has ended cleanly (the
 * orchestrator has killed it already at the switch), and runc then
 * destroys the container: gone from `runc list`. A page server that fails
 * (a cut header: the orchestrator's rollback, the relay's stop, the
 * post-copy guard when phaul dies) makes CRIU resume the tree: runc
 * checkpoint fails and the container runs on.
 */

/* A free port on 127.0.0.1 for CRIU's lazy page server. */
static int runc_lazy_port(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int sk = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ret = 0;

	if (sk < 0 || bind(sk, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(sk, (struct sockaddr *)&a, &len) < 0)
		ret = ph_seterr_errno(PH_ESYS, "a port on 127.0.0.1 for the lazy page server");
	*port = ntohs(a.sin_port);
	if (sk >= 0)
		close(sk);
	return ret;
}

/* runc checkpoint --lazy-pages started: its status fd's read end in *rfd. */
static int runc_lazy_start(const struct ct *ct, const struct ct_dump *d, int port, pid_t *pid,
			   int *rfd)
{
	char exe[PATH_MAX], ps[64], log[PATH_MAX], var[PATH_MAX + 32] = "CRIU_CONFIG_FILE=";
	const char *args[20];
	size_t k = strlen(var);
	char **env = NULL;
	int p[2] = { -1, -1 }, ret, n = 0;

	*pid = -1;
	*rfd = -1;
	if ((ret = runc_path(exe, sizeof(exe))) < 0 ||
	    (ret = criu_conf_write(d->images_dir, RUNC_LAZY_CONF,
				   "# phaul: the lazy page server on loopback only\n"
				   "address 127.0.0.1\n",
				   var + k, sizeof(var) - k)) < 0)
		return ret;
	if (!(env = ctcmd_env_with(var)))
		return -PH_ENOMEM;
	snprintf(ps, sizeof(ps), "127.0.0.1:%d", port);
	snprintf(log, sizeof(log), "%s/runc.log", d->images_dir);
	args[n++] = exe;
	args[n++] = "checkpoint";
	args[n++] = "--lazy-pages";
	args[n++] = "--status-fd";
	args[n++] = "3";
	checkpoint_args(args, n, ct, d, ps);
	/* runc insists on a write-only status fd: a pipe's */
	if (pipe2(p, O_CLOEXEC) < 0)
		ret = ph_seterr_errno(PH_ESYS, "pipe");
	else if ((ret = ctcmd_spawn(args, log, env, p[1], pid)) == 0)
		*rfd = p[0];
	if (p[1] >= 0)
		close(p[1]);
	if (ret < 0 && p[0] >= 0)
		close(p[0]);
	free(env);
	return ret;
}

/* Wait for the status fd's NUL: the page server listens. EOF: runc ended. */
static int runc_lazy_ready(const struct ct *ct, int rfd)
{
	uint64_t deadline = now_us() + (uint64_t)RUNC_TIMEOUT_S * 1000000;
	char c;

	for (;;) {
		struct pollfd pf = { rfd, POLLIN, 0 };
		int64_t left = (int64_t)(deadline - now_us()) / 1000;
		ssize_t r;

		if (left <= 0 || poll(&pf, 1, (int)left) == 0)
			return ph_seterr(PH_ETIMEDOUT,
					 "%s: runc checkpoint --lazy-pages: no lazy page server in "
					 "%d s",
					 ct->spec, RUNC_TIMEOUT_S);
		r = read(rfd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 1)
			return 0;
		/* runc_fail() adds the spec and CRIU's errors */
		return ph_seterr(PH_ECRIU, "runc checkpoint --lazy-pages ended before its page "
					   "server was ready");
	}
}

/* Connect to CRIU's lazy page server on 127.0.0.1:port. */
static int runc_lazy_connect(const struct ct *ct, int port, int *sk)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	*sk = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*sk < 0)
		return ph_seterr_errno(PH_ESYS, "socket");
	if (connect(*sk, (struct sockaddr *)&a, sizeof(a)) == 0)
		return 0;
	close(*sk);
	*sk = -1;
	return ph_seterr_errno(PH_ESYS, "%s: connecting to CRIU's lazy page server on 127.0.0.1:%d",
			       ct->spec, port);
}

/* runc checkpoint ended (0: cleanly): what became of the container. */
static int runc_lazy_end(struct ct *ct, const struct ct_dump *d, pid_t pid, bool commit,
			 enum criu_dump_outcome *outcome)
{
	const char *del[] = { "runc", "delete", "--force", ct->id, NULL };
	int st = 0, ret;
	bool alive;

	ret = ctcmd_wait(pid, now_us() + (uint64_t)RUNC_LAZY_MAX_S * 1000000, &st);
	alive = ct_alive(ct);
	if (ret == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		*outcome = alive ? CRIU_DUMP_UNKNOWN : CRIU_DUMP_KILLED;
		if (alive)
			return ph_seterr(PH_ECRIU, "%s: init %d alive after the lazy dump ended",
					 ct->spec, (int)ct->root);
		if (!commit)
			return ph_seterr(PH_ECRIU,
					 "%s: CRIU ended the tree although the dump "
					 "was rolled back",
					 ct->spec);
		return 0;
	}
	if (alive) {
		*outcome = CRIU_DUMP_RESUMED; /* CRIU resumed the tree: it runs on */
		return commit ? runc_fail(ct, "lazy dump", d->images_dir, "dump.log") : 0;
	}
	/* killed at the switch, then the page server broke: runc keeps it "stopped" */
	*outcome = CRIU_DUMP_UNKNOWN;
	runc_run(del, NULL, 0, NULL, RUNC_QUICK_S);
	return runc_fail(ct, "lazy dump", d->images_dir, "dump.log");
}

static int runc_dump_lazy(struct ct *ct, const struct ct_dump *d, criu_notify_fn fn, void *arg,
			  enum criu_dump_outcome *outcome)
{
	enum criu_verdict v = CRIU_ROLLBACK;
	int port, rfd = -1, sk = -1, ret, eret;
	pid_t pid = -1;

	*outcome = CRIU_DUMP_RESUMED; /* nothing happened to it yet */
	if ((ret = runc_lazy_port(&port)) < 0 ||
	    (ret = runc_lazy_start(ct, d, port, &pid, &rfd)) < 0)
		return ret;
	if ((ret = runc_lazy_ready(ct, rfd)) < 0 || (ret = runc_lazy_connect(ct, port, &sk)) < 0)
		goto fail;
	if ((ret = lsock_sole_client(sk, RUNC_SOLE_MS)) < 0) {
		/*
		 * CRIU serves one connection, and another local process has
		 * it: end runc and its CRIU (the tree, released, runs on),
		 * not just our socket.
		 */
		const char *res[] = { "runc", "resume", ct->id, NULL };
		char msg[1024];

		snprintf(msg, sizeof(msg), "%s: lazy dump: %s", ct->spec, ph_errmsg());
		close(sk);
		close(rfd);
		if (criu_tree_signal(pid, SIGKILL) < 0)
			pr_warn("%s", ph_errmsg());
		if ((eret = runc_lazy_end(ct, d, pid, false, outcome)) < 0)
			pr_err("%s", ph_errmsg());
		runc_run(res, NULL, 0, NULL, RUNC_QUICK_S); /* a cgroup CRIU left frozen */
		return ph_seterr(ret, "%s", msg);
	}
	*d->lazy_sk = sk; /* the orchestrator's from now on */
	if ((ret = runc_images_extra(ct, d->images_dir)) < 0)
		goto fail;
	v = fn ? fn("post-dump", arg) : CRIU_COMMIT;
	close(rfd);
	return runc_lazy_end(ct, d, pid, v == CRIU_COMMIT, outcome);
fail : {
	char msg[1024];

	/* a cut header: CRIU's page server fails and CRIU resumes the tree */
	snprintf(msg, sizeof(msg), "%s", ph_errmsg());
	if (ret == -PH_ECRIU && sk < 0) { /* runc ended: CRIU's errors say why */
		close(rfd);
		if (runc_lazy_end(ct, d, pid, false, outcome) < 0)
			pr_err("%s", ph_errmsg());
		return runc_fail(ct, "lazy dump", d->images_dir, "dump.log");
	}
	if (sk < 0 && runc_lazy_connect(ct, port, &sk) == 0)
		*d->lazy_sk = sk; /* a server that listens already must be failed too */
	if (sk >= 0) {
		send(sk, "", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		shutdown(sk, SHUT_RDWR);
	} else {
		/* no page server after RUNC_TIMEOUT_S: end runc; its CRIU, should it
		 * still serve later, waits on loopback with the tree frozen (HOWTO) */
		kill(pid, SIGKILL);
	}
	close(rfd);
	if ((eret = runc_lazy_end(ct, d, pid, false, outcome)) < 0)
		pr_err("%s", ph_errmsg());
	return ph_seterr(ret, "%s", msg);
}
}

static int runc_restore(struct ct *ct, const char *images_dir, const struct criu_opts *co,
			pid_t *pid)
{
	char bundle[PATH_MAX], src[PATH_MAX], dst[PATH_MAX], log[PATH_MAX];
	char var[PATH_MAX + 32] = "CRIU_CONFIG_FILE=";
	const char *args[16];
	char **env = NULL;
	struct runc_state s;
	int ret, n = 0;

	criu_conn_close(co ? co->conn : NULL); /* runc runs its own CRIU */
	*pid = 0;
	args[n++] = "runc";
	args[n++] = "restore";
	args[n++] = "--detach";
	args[n++] = "--bundle";
	args[n++] = bundle;
	args[n++] = "--image-path";
	args[n++] = images_dir;
	args[n++] = "--work-path"; /* CRIU's cwd: the lazy-pages socket's dir */
	args[n++] = images_dir;
	if (co && co->lazy_pages)
		args[n++] = "--lazy-pages";
	args[n++] = ct->id;
	args[n] = NULL;
	if ((ret = ct_img_dir(ct, images_dir, RUNC_BUNDLE_IMG, "bundle", "config.json", bundle,
			      sizeof(bundle))) < 0)
		return ret;
	snprintf(src, sizeof(src), "%s/%s", images_dir, RUNC_DESC_IMG);
	snprintf(dst, sizeof(dst), "%s/%s", images_dir, RUNC_DESCRIPTORS);
	if ((ret = copy_small(src, dst)) < 0)
		return ph_errctx(ret, "%s: runc's descriptors", ct->spec);
	if (co && co->leave_stopped) {
		size_t k = strlen(var);

		if ((ret = criu_hold_conf(images_dir, var + k, sizeof(var) - k)) < 0)
			return ph_errctx(ret, "%s", ct->spec);
		if (!(env = ctcmd_env_with(var)))
			return -PH_ENOMEM;
	}
	snprintf(log, sizeof(log), "%s/runc.log", images_dir);
	ret = runc_run_env(args, NULL, 0, log, RUNC_TIMEOUT_S, env);
	free(env);
	if (ret < 0)
		return runc_fail(ct, "restore", images_dir, "restore.log");
	if ((ret = runc_state(ct, &s)) < 0)
		return ret;
	if (s.pid <= 1)
		return ph_seterr(PH_ECRIU, "%s: restored, but runc knows no init pid", ct->spec);
	*pid = s.pid;
	return 0;
}

static int runc_discard(struct ct *ct, pid_t root)
{
	const char *args[] = { "runc", "delete", "--force", ct->id, NULL };
	int ret = runc_run(args, NULL, 0, NULL, RUNC_QUICK_S);

	if (ret < 0 && root > 0)
		kill(root, SIGKILL); /* the container's init: its namespace dies with it */
	return ret;
}

/* "runc version 1.1.5+ds1\n..." into "runc 1.1.5+ds1". */
static void runc_version(const char *out, char *v, size_t len)
{
	const char *p = strstr(out, "runc version ");
	int n;

	v[0] = '\0';
	if (!p)
		return;
	p += strlen("runc version ");
	n = (int)strcspn(p, " \n");
	if (n > 0)
		snprintf(v, len, "runc %.*s", n, p);
}

/* Is id, or a CT whose bundle is path, in `runc list --format json`? */
static int runc_busy(const struct ct *ct, const char *path, struct ct_facts *f)
{
	const char *args[] = { "runc", "list", "--format", "json", NULL };
	char *out = malloc(RUNC_LIST_MAX);
	json_error_t jerr;
	json_t *a = NULL, *e;
	size_t i;
	int ret;

	if (!out)
		return ph_seterr(PH_ENOMEM, "runc list buffer");
	if ((ret = runc_run(args, out, RUNC_LIST_MAX, NULL, RUNC_QUICK_S)) < 0)
		goto out;
	a = json_loads(out, JSON_DECODE_ANY, &jerr);
	if (!json_is_array(a) && !json_is_null(a)) {
		/* cut at the cap, or not runc's JSON: the answer would be a guess */
		ret = ph_seterr(PH_ECRIU, "runc list: unexpected output (%s)", jerr.text);
		goto out;
	}
	json_array_foreach(a, i, e)
	{
		const char *id = json_string_value(json_object_get(e, "id"));
		const char *b = json_string_value(json_object_get(e, "bundle"));

		f->id_busy |= id && !strcmp(id, ct->id);
		f->path_busy |= path && b && !strcmp(b, path);
	}
out:
	json_decref(a);
	free(out);
	return ret;
}

static int runc_probe(const struct ct *ct, const char *path, struct ct_facts *f)
{
	const char *args[] = { "runc", "--version", NULL };
	char out[256];
	int ret;

	memset(f, 0, sizeof(*f));
	if ((ret = runc_run(args, out, sizeof(out), NULL, RUNC_QUICK_S)) < 0)
		return ret == -PH_ENOTSUP ? 0 : ret; /* missing: runtime "" */
	runc_version(out, f->runtime, sizeof(f->runtime));
	if (!f->runtime[0])
		return ph_seterr(PH_ECRIU, "runc --version: unexpected output");
	return runc_busy(ct, path, f);
}

const struct htype_ops htype_runc = {
	.name = "runc",
	/* runc restore --lazy-pages, --work-path = the images: the agent's daemon serves it */
	.caps = CT_CAP_LAZY_RESTORE | CT_CAP_POSTCOPY | CT_CAP_HOLD,
	.resolve = runc_resolve,
	.check_criu = ct_criu_any,
	.criu_opts = ct_criu_opts_none,
	.open_pages = ct_pages_listen,
	.pre_dump = runc_pre_dump,
	.dump = runc_dump,
	.restore = runc_restore,
	.discard = runc_discard,
	.probe = runc_probe,
	.kept = ct_kept_none,
};
