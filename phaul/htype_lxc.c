// SPDX-License-Identifier: GPL-2.0
/*
 * lxc:NAME: an LXC container, checkpointed and restored through liblxc's
 * migrate API (what LXD drove live migrations with), so that on the
 * destination the container is LXC's again: lxc-info, lxc-attach and
 * lxc-stop work on it, its monitor runs, its veth is attached to its bridge.
 *
 *   pre-dumps    MIGRATE_PRE_DUMP, pages to the page server we are given
 *                (phaul's relay on 127.0.0.1)
 *   final dump   MIGRATE_DUMP with stop and an action script: at CRIU's
 *                post-dump the script asks phaul (a FIFO) and waits for the
 *                verdict; it exits 0 on commit (CRIU kills the container)
 *                and 1 on rollback or if phaul is gone (CRIU resumes it)
 *   rootfs       the container's dir (config, rootfs) is rsynced by the
 *                orchestrator like a --sync path
 *   restore      MIGRATE_RESTORE in a child process that keeps none of our
 *                fds (stdio on /dev/null): liblxc forks the container's
 *                monitor from it, which must not hold the agent's
 *                connection open. Held stopped for the commit: liblxc
 *                execs `criu restore` with the child's environment, and
 *                CRIU_CONFIG_FILE there names a file saying leave-stopped
 *                (criu_hold_conf()), so CRIU itself stops every process of
 *                the container before it lets them go, whatever becomes of
 *                phaul meanwhile. (migrate_opts.action_script would also
 *                reach CRIU, but a pre-resume script that fails or is not
 *                run is ignored by CRIU 3.17: the container would run.)
 *
 * liblxc is dlopen()ed on first use: phaul needs it only for lxc: CTs.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lxc/lxccontainer.h>

#include "err.h"
#include "htype.h"
#include "log.h"
#include "util.h"

#define LXC_LIB "liblxc.so.1"

static struct {
	struct lxc_container *(*new_ct)(const char *name, const char *configpath);
	int (*put)(struct lxc_container *c);
} lxc;

static int lxc_load(void)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	void *h;
	int ret = 0;

	pthread_mutex_lock(&lock);
	if (lxc.new_ct)
		goto out;
	h = dlopen(LXC_LIB, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		ret = ph_seterr(PH_ENOTSUP, "lxc: cannot load %s (package liblxc1): %s", LXC_LIB,
				dlerror());
		goto out;
	}
	lxc.put = (int (*)(struct lxc_container *))dlsym(h, "lxc_container_put");
	lxc.new_ct = (struct lxc_container * (*)(const char *, const char *))
		dlsym(h, "lxc_container_new");
	if (!lxc.new_ct || !lxc.put) {
		lxc.new_ct = NULL;
		ret = ph_seterr(PH_ENOTSUP, "lxc: %s lacks lxc_container_new", LXC_LIB);
	}
out:
	pthread_mutex_unlock(&lock);
	return ret;
}

/* The container, defined under LXC's default lxcpath. */
static int lxc_get(const struct ct *ct, struct lxc_container **out)
{
	struct lxc_container *c;
	int ret;

	*out = NULL;
	if ((ret = lxc_load()) < 0)
		return ret;
	c = lxc.new_ct(ct->id, NULL);
	if (!c)
		return ph_seterr(PH_ENOENT, "%s: liblxc cannot open the container", ct->spec);
	if (!c->is_defined(c)) {
		ret = ph_seterr(PH_ENOENT, "%s: no such container (no %s/%s/config)", ct->spec,
				c->config_path, ct->id);
		lxc.put(c);
		return ret;
	}
	*out = c;
	return 0;
}

/* liblxc's own log of this step beside CRIU's, in the step's images dir. */
static void lxc_log_to(struct lxc_container *c, const char *dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/lxc.log", dir);
	c->set_config_item(c, "lxc.log.level", "INFO");
	c->set_config_item(c, "lxc.log.file", path);
}

/* "<what> failed: <CRIU's errors>" from dir/<action>.log, else liblxc's log. */
static int lxc_fail(const struct ct *ct, const char *what, const char *dir, const char *action)
{
	char path[PATH_MAX], errs[1024];

	snprintf(path, sizeof(path), "%s/%s.log", dir, action);
	criu_log_errors(path, errs, sizeof(errs));
	if (errs[0])
		return ph_seterr(PH_ECRIU, "%s: %s failed: %s (CRIU log %s)", ct->spec, what, errs,
				 path);
	return ph_seterr(PH_ECRIU, "%s: %s failed (see %s/lxc.log)", ct->spec, what, dir);
}

/* The rootfs must be a directory (dir backend): it travels with rsync. */
static int lxc_add_sync(struct ct *ct, struct lxc_container *c)
{
	char rootfs[PATH_MAX], *p = rootfs;
	struct stat st;
	size_t n;
	int len;

	snprintf(ct->sync[0], sizeof(ct->sync[0]), "%s/%s", c->config_path, ct->id);
	ct->nsync = 1;
	len = c->get_config_item(c, "lxc.rootfs.path", rootfs, sizeof(rootfs));
	if (len <= 0 || len >= (int)sizeof(rootfs))
		return ph_seterr(PH_ENOTSUP, "%s: no lxc.rootfs.path", ct->spec);
	if (!strncmp(p, "dir:", 4))
		p += 4;
	if (p[0] != '/' || stat(p, &st) < 0 || !S_ISDIR(st.st_mode))
		return ph_seterr(PH_ENOTSUP,
				 "%s: rootfs '%s' is not a directory (only the dir backend "
				 "can be copied)",
				 ct->spec, rootfs);
	n = strlen(ct->sync[0]);
	if (!strncmp(p, ct->sync[0], n) && (p[n] == '/' || !p[n]))
		return 0; /* under the container's dir, the usual case */
	snprintf(ct->sync[ct->nsync++], sizeof(ct->sync[0]), "%s", p);
	return 0;
}

static int lxc_resolve(struct ct *ct)
{
	struct lxc_container *c;
	int ret;

	if ((ret = lxc_get(ct, &c)) < 0)
		return ret;
	if (!c->is_running(c)) {
		ret = ph_seterr(PH_ENOENT, "%s is %s, not RUNNING", ct->spec, c->state(c));
		goto out;
	}
	ct->root = c->init_pid(c);
	if (ct->root <= 0) {
		ret = ph_seterr(PH_ENOENT, "%s: liblxc knows no init pid", ct->spec);
		goto out;
	}
	ct->own_pidns = true;
	if ((ret = lxc_add_sync(ct, c)) == 0)
		ret = ct_collect_tree(ct);
out:
	lxc.put(c);
	return ret;
}

static void lxc_opts(struct migrate_opts *o, const struct ct_dump *d, char *port, size_t plen)
{
	memset(o, 0, sizeof(*o));
	o->verbose = true; /* CRIU's -v4, as phaul's own requests log */
	snprintf(port, plen, "%d", d->ps_port);
	o->directory = (char *)d->images_dir;
	o->predump_dir = (char *)d->parent;
	o->pageserver_address = (char *)d->ps_addr;
	o->pageserver_port = port;
	o->ghost_limit = d->ghost_limit;
}

/*
 * liblxc's migrate API (struct migrate_opts) passes only a ghost limit of
 * these; its exec_criu() always adds --tcp-established --file-locks
 * --link-remap --manage-cgroups=full, and has no way to ask for
 * --ext-unix-sk or --shell-job.
 */
/* What liblxc's exec_criu() always passes (for the source's checks). */
static void lxc_criu_opts(const struct ct *ct, struct criu_opts *o)
{
	o->tcp_established = o->file_locks = o->link_remap = true;
	o->cg_mode = CRIU_CG_FULL;
}

static int lxc_check_criu(const struct ct *ct, const struct criu_opts *o)
{
	const char *no = o->ext_unix_sk ? "--ext-unix-sk"
			 : o->shell_job ? "--shell-job"
			 : o->cg_mode != CRIU_CG_UNSET && o->cg_mode != CRIU_CG_FULL
				 ? "--manage-cgroups other than full"
				 : NULL;

	if (no)
		return ph_seterr(PH_EUSAGE,
				 "%s: %s is not supported for lxc: liblxc's migrate API cannot "
				 "pass it (it always uses --tcp-established --file-locks "
				 "--link-remap --manage-cgroups=full)",
				 ct->spec, no);
	return 0;
}

static int lxc_pre_dump(struct ct *ct, const struct ct_dump *d)
{
	struct lxc_container *c;
	struct migrate_opts o;
	char port[16];
	int ret;

	if ((ret = lxc_get(ct, &c)) < 0)
		return ret;
	lxc_log_to(c, d->images_dir);
	lxc_opts(&o, d, port, sizeof(port));
	if (c->migrate(c, MIGRATE_PRE_DUMP, &o, sizeof(o)) != 0)
		ret = lxc_fail(ct, "pre-dump", d->images_dir, "pre-dump");
	lxc.put(c);
	return ret;
}

/*
 * CRIU runs the action script (sh -c) at each of its stages; only
 * post-dump waits. The FIFOs are opened read-write so that neither side
 * blocks in open() and a gone phaul cannot leave the container frozen.
 */
static const char action_script[] = "#!/bin/sh\n"
				    "# phaul: CRIU action script of the final dump of %s\n"
				    "[ \"$CRTOOLS_SCRIPT_ACTION\" = post-dump ] || exit 0\n"
				    "exec 3<>'%s' 4<>'%s'\n"
				    "echo post-dump >&3\n"
				    "while kill -0 %d 2>/dev/null; do\n"
				    "\tread -t 1 v <&4 && { [ \"$v\" = commit ]; exit; }\n"
				    "done\n"
				    "exit 1\n";

struct lxc_dump {
	struct lxc_container *c;
	struct migrate_opts o;
	int done_fd; /* written when migrate() returned */
	bool ok;
};

static void *dump_thread(void *arg)
{
	struct lxc_dump *r = arg;

	r->ok = r->c->migrate(r->c, MIGRATE_DUMP, &r->o, sizeof(r->o)) == 0;
	if (write(r->done_fd, "x", 1) < 0)
		pr_perror("lxc dump: waking the orchestrator");
	return NULL;
}

/* Write the script and make the FIFOs in dir; returns the request FIFO's fd. */
static int notify_setup(const struct ct *ct, const char *dir, char *script, size_t len)
{
	char req[PATH_MAX], ans[PATH_MAX];
	FILE *f;
	int fd;

	snprintf(req, sizeof(req), "%s/lxc-notify", dir);
	snprintf(ans, sizeof(ans), "%s/lxc-verdict", dir);
	snprintf(script, len, "%s/lxc-action.sh", dir);
	if (strchr(dir, '\''))
		return ph_seterr(PH_EUSAGE, "work dir %s: no quotes, please", dir);
	unlink(req);
	unlink(ans);
	if (mkfifo(req, 0600) < 0 || mkfifo(ans, 0600) < 0)
		return ph_seterr_errno(PH_ESYS, "mkfifo in %s", dir);
	f = fopen(script, "we");
	if (!f)
		return ph_seterr_errno(PH_ESYS, "creating %s", script);
	fprintf(f, action_script, ct->spec, req, ans, (int)getpid());
	if (fclose(f) != 0 || chmod(script, 0700) < 0)
		return ph_seterr_errno(PH_ESYS, "writing %s", script);
	fd = open(req, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return ph_seterr_errno(PH_ESYS, "opening %s", req);
	return fd;
}

static void notify_answer(const char *dir, enum criu_verdict v)
{
	char ans[PATH_MAX];
	const char *s = v == CRIU_COMMIT ? "commit\n" : "rollback\n";
	int fd;

	snprintf(ans, sizeof(ans), "%s/lxc-verdict", dir);
	/* The script holds it open; if it is gone, CRIU decides without us. */
	fd = open(ans, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		pr_perror("answering CRIU's post-dump through %s", ans);
	if (fd >= 0)
		close(fd);
}

/* Serve the script's post-dump request until migrate() returns. */
static int notify_loop(int req, int done, criu_notify_fn fn, void *arg, const char *dir,
		       int *verdict)
{
	char buf[64];

	for (;;) {
		struct pollfd p[2] = { { req, POLLIN, 0 }, { done, POLLIN, 0 } };
		enum criu_verdict v;
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return ph_seterr_errno(PH_ESYS, "waiting for CRIU's post-dump");
		}
		if (p[1].revents)
			return 0;
		n = read(req, buf, sizeof(buf) - 1);
		if (n <= 0 || *verdict >= 0)
			continue;
		buf[n] = '\0';
		if (strncmp(buf, "post-dump", 9))
			continue;
		v = fn ? fn("post-dump", arg) : CRIU_COMMIT;
		*verdict = (int)v;
		notify_answer(dir, v);
	}
}

static int lxc_dump(struct ct *ct, const struct ct_dump *d, criu_notify_fn fn, void *arg,
		    enum criu_dump_outcome *outcome)
{
	struct lxc_dump r = { 0 };
	char port[16], script[PATH_MAX];
	int req = -1, done[2] = { -1, -1 }, verdict = -1, ret;
	pthread_t t;

	*outcome = CRIU_DUMP_RESUMED; /* nothing happened to it yet */
	if ((ret = lxc_get(ct, &r.c)) < 0)
		return ret;
	if ((req = ret = notify_setup(ct, d->work_dir, script, sizeof(script))) < 0)
		goto out;
	if (pipe2(done, O_CLOEXEC) < 0) {
		ret = ph_seterr_errno(PH_ESYS, "pipe");
		goto out;
	}
	lxc_log_to(r.c, d->images_dir);
	lxc_opts(&r.o, d, port, sizeof(port));
	r.o.stop = true;
	r.o.action_script = script;
	r.done_fd = done[1];
	if ((ret = pthread_create(&t, NULL, dump_thread, &r)) != 0) {
		errno = ret;
		ret = ph_seterr_errno(PH_ESYS, "starting the lxc dump thread");
		goto out;
	}
	ret = notify_loop(req, done[0], fn, arg, d->work_dir, &verdict);
	pthread_join(t, NULL);
	if (ret < 0) {
		*outcome = CRIU_DUMP_UNKNOWN;
	} else if (r.ok && verdict == CRIU_COMMIT) {
		*outcome = CRIU_DUMP_KILLED;
	} else if (!r.ok && verdict != CRIU_COMMIT) {
		/* a failed dump or our rollback: CRIU resumed the container */
		if (verdict < 0)
			ret = lxc_fail(ct, "dump", d->images_dir, "dump");
	} else {
		/* CRIU did not do what we answered (or never asked): check the CT */
		*outcome = CRIU_DUMP_UNKNOWN;
		ret = ph_seterr(PH_ECRIU,
				"%s: CRIU's dump %s although phaul answered %s at "
				"post-dump (action script %s, CRIU log %s/dump.log)",
				ct->spec, r.ok ? "succeeded" : "failed",
				verdict < 0		 ? "nothing"
				: verdict == CRIU_COMMIT ? "commit"
							 : "rollback",
				script, d->images_dir);
	}
out:
	if (req >= 0)
		close(req);
	if (done[0] >= 0) {
		close(done[0]);
		close(done[1]);
	}
	lxc.put(r.c);
	return ret;
}

struct restore_res {
	int ok;
	pid_t pid;
	char msg[768];
};

/*
 * In a child that keeps none of our fds, stdio on /dev/null: liblxc forks
 * the container's monitor from it, which lives as long as the container.
 */
static void restore_child(struct ct *ct, const char *dir, const char *hold_conf, int wfd)
{
	struct restore_res res = { 0 };
	struct lxc_container *c;
	struct migrate_opts o;

	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	/* stdio too: an agent's may be its --stdio channel (ssh) */
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
		_exit(1);
	if (wfd > 3)
		close_range(3, (unsigned int)wfd - 1, 0);
	close_range((unsigned int)wfd + 1, ~0U, 0);
	/* for liblxc's `criu restore` only: this child is single-threaded */
	if (hold_conf && setenv("CRIU_CONFIG_FILE", hold_conf, 1) < 0)
		_exit(1);
	if (lxc_get(ct, &c) == 0) {
		lxc_log_to(c, dir);
		memset(&o, 0, sizeof(o));
		o.verbose = true;
		o.directory = (char *)dir;
		if (c->migrate(c, MIGRATE_RESTORE, &o, sizeof(o)) != 0) {
			lxc_fail(ct, "restore", dir, "restore");
		} else if ((res.pid = c->init_pid(c)) <= 0) {
			ph_seterr(PH_ECRIU, "%s: restored, but liblxc knows no init pid", ct->spec);
		} else {
			res.ok = 1;
		}
		lxc.put(c);
	}
	snprintf(res.msg, sizeof(res.msg), "%s", res.ok ? "" : ph_errmsg());
	_exit(write(wfd, &res, sizeof(res)) == sizeof(res) ? 0 : 1);
}

static int lxc_restore(struct ct *ct, const char *images_dir, const struct criu_opts *co,
		       pid_t *pid)
{
	struct restore_res res;
	char conf[PATH_MAX];
	int p[2], st, ret;
	ssize_t n;
	pid_t child;

	criu_conn_close(co ? co->conn : NULL); /* liblxc runs its own CRIU */
	*pid = 0;
	if (co && co->leave_stopped && (ret = criu_hold_conf(images_dir, conf, sizeof(conf))) < 0)
		return ph_errctx(ret, "%s", ct->spec);
	if (pipe2(p, O_CLOEXEC) < 0)
		return ph_seterr_errno(PH_ESYS, "pipe");
	child = fork();
	if (child < 0) {
		close(p[0]);
		close(p[1]);
		return ph_seterr_errno(PH_ESYS, "fork");
	}
	if (child == 0)
		restore_child(ct, images_dir, co && co->leave_stopped ? conf : NULL, p[1]);
	close(p[1]);
	do
		n = read(p[0], &res, sizeof(res));
	while (n < 0 && errno == EINTR);
	close(p[0]);
	while (waitpid(child, &st, 0) < 0 && errno == EINTR)
		;
	if (n != sizeof(res))
		return ph_seterr(PH_ECRIU, "%s: the restore process died (see %s/lxc.log)",
				 ct->spec, images_dir);
	if (!res.ok)
		return ph_seterr(PH_ECRIU, "%s", res.msg);
	*pid = res.pid;
	return 0;
}

static int lxc_discard(struct ct *ct, pid_t root)
{
	struct lxc_container *c;
	int ret;

	if ((ret = lxc_get(ct, &c)) == 0) {
		if (!c->stop(c))
			ret = ph_seterr(PH_ESYS, "%s: lxc stop failed", ct->spec);
		lxc.put(c);
	}
	if (ret < 0 && root > 0)
		kill(root, SIGKILL); /* the container's init: its namespace dies with it */
	return ret;
}

const struct htype_ops htype_lxc = {
	.name = "lxc",
	.caps = CT_CAP_HOLD,
	.resolve = lxc_resolve,
	.check_criu = lxc_check_criu,
	.criu_opts = lxc_criu_opts,
	.open_pages = ct_pages_listen,
	.pre_dump = lxc_pre_dump,
	.dump = lxc_dump,
	.restore = lxc_restore,
	.discard = lxc_discard,
	.probe = ct_probe_none,
	.kept = ct_kept_none,
};
