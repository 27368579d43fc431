// SPDX-License-Identifier: GPL-2.0
/*
 * podman:NAME: a Podman container, moved with what Podman 4.3 offers: its
 * own checkpoint export and import, so that Podman manages it on the
 * destination (`podman ps`, `podman stop`). Podman drives CRIU itself and
 * has no page server: the pages travel inside its exports, which phaul
 * carries as files.
 *
 *   resolve      `podman inspect`: init pid and state; the staging dir
 *                EXPORTS/NAME (PHAUL_PODMAN_DIR, default /var/lib/phaul/podman)
 *                travels like a --sync path: rsynced after each iteration,
 *                the last time while the container is stopped
 *   pre-dump     one only (max_pre_dumps): `podman container checkpoint
 *                --pre-checkpoint --export EXPORTS/NAME/pre-checkpoint.tar.gz`
 *                while it runs on
 *   final dump   `podman container checkpoint --keep [--with-previous]
 *                --export EXPORTS/NAME/checkpoint.tar.gz`: CRIU dumps and
 *                ends the container (Podman cannot checkpoint a paused one,
 *                so it is stopped, not frozen), its checkpoint kept here.
 *                The verdict does not touch it: the orchestrator resumes it
 *                (kept: `podman container restore NAME`) only once no copy
 *                can run on the destination, and removes it (kept: `podman
 *                rm`) only once the destination acknowledged Go
 *   guard        started before the checkpoint, in its own session, reading
 *                a pipe; phaul writes "done" at its end (ct_close). EOF
 *                instead: phaul died, and the container may be stopped
 *                here. With no source record yet, RestoreReq never went
 *                out: `podman container restore NAME`. With one, the
 *                destination may hold a copy: `phaul recover ID` (d->settle),
 *                again while it says "unknown" (exit 6), for some minutes
 *   page stream  empty: each iteration's relay session is a CLOSE alone
 *   images       the staging dir's path travels as podman-dir.img
 *   restore      `podman container restore --import [--import-previous]`
 *                (it runs at once: Podman cannot restore it stopped)
 *   discard      `podman rm -f -t 0`; the agent also discards a restored
 *                copy when the session ends before Go (it runs: no hold)
 *   checks       runtime on both hosts; on the destination the name free
 *                and the container's image (by ID) present: its restore
 *                needs it, and must not find it missing after the source
 *                was stopped
 *
 * Why the guard never makes two copies run, nor loses one (each window):
 *   phaul dies before the record (checkpoint, final sync, images): the
 *     destination never restored; the guard restores here.
 *   phaul dies from RESTORING to COMMITTED (RestoreReq out, Go not
 *     acknowledged): the agent's session ends before Go; a restore that
 *     could not be held (podman:, no CT_CAP_HOLD) is discarded there at
 *     once and recorded DISCARDED (agent_session_lost). The guard's recover
 *     finds the container kept here: DISCARD (waits while the agent's old
 *     session runs, then confirmed), then resumes it here; if Go reached
 *     the agent first, it says RUNNING, and recover removes ours instead.
 *   phaul dies after Go was acknowledged, before removing ours: recorded
 *     COMMITTED; recover's GO finds it RUNNING there and removes ours.
 *   the link is cut or the agent dies (phaul alive): phaul resumes ours
 *     only once the agent confirmed the discard (RestoreResp with an error,
 *     or Finish acknowledged); otherwise it settles as recover does.
 *   the agent's session dies with a copy running there (Podman restored
 *     it): phaul settles at once; the agent's listener discards it by name.
 *   the destination is unreachable then (agent, host or link down):
 *     nobody can say whether a copy runs there, so ours stays stopped,
 *     its checkpoint kept (exit 6; a guard gives up after its minutes)
 *     until `phaul recover` gets an answer from an agent there (it then
 *     discards that copy by name and ours resumes). This window cannot be
 *     made automatic: the CT is down until the destination answers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "ctcmd.h"
#include "engine/psx.h"
#include "err.h"
#include "htype.h"
#include "log.h"
#include "util.h"

#define PODMAN_TIMEOUT_S     600 /* one checkpoint, export or import of a large container */
#define PODMAN_QUICK_S	     120 /* inspect, rm, version: seconds under emulation */
#define PODMAN_EXPORTS	     "/var/lib/phaul/podman"
#define PODMAN_DIR_IMG	     "podman-dir.img"
#define PODMAN_PRE	     "pre-checkpoint.tar.gz"
#define PODMAN_CKPT	     "checkpoint.tar.gz"
#define PODMAN_PS_TIMEOUT_MS 30000
#define GUARD_TRIES	     "60" /* recover runs while the destination is unknown... */
#define GUARD_PAUSE_S	     "5"  /* ...this far apart: some minutes in all */
#define GUARD_ARGV_MAX	     32

static int podman_path(char *path, size_t len)
{
	if (find_exe("podman", "PHAUL_PODMAN", "/usr/bin", path, len) < 0)
		return ph_seterr(PH_ENOTSUP,
				 "podman: not found (package podman, or set PHAUL_PODMAN)");
	return 0;
}

/* Podman's last "Error: ..." line in log, or "". */
static void podman_log_error(const char *log, char *why, size_t len)
{
	char line[512];
	FILE *f = fopen(log, "re");

	why[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Error: ", 7)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(why, len, ": %.300s", line + 7);
		}
	fclose(f);
}

/*
 * podman with args (args[0] is replaced by podman's path): ctcmd_run(),
 * with Podman's own error from the log appended to a failure.
 */
static int podman_run(const char *args[], char *out, size_t outlen, const char *log, int timeout_s)
{
	char exe[PATH_MAX], msg[1024], why[384];
	int ret;

	if ((ret = podman_path(exe, sizeof(exe))) < 0)
		return ret;
	args[0] = exe;
	if ((ret = ctcmd_run(args, out, outlen, log, timeout_s)) < 0 && log) {
		podman_log_error(log, why, sizeof(why));
		snprintf(msg, sizeof(msg), "%s", ph_errmsg());
		ph_seterr(ret, "%s%s", msg, why);
	}
	return ret;
}

/*
 * A container name as Podman accepts it ([a-zA-Z0-9][a-zA-Z0-9_.-]*), or
 * an id: never an option, never a path component that climbs.
 */
static int podman_name_ok(const struct ct *ct)
{
	const char *s = ct->id;

	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
	      (s[0] >= '0' && s[0] <= '9')))
		goto bad;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == '-'))
			goto bad;
	return 0;
bad:
	return ph_seterr(PH_EUSAGE,
			 "'%s': not a Podman container name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)",
			 ct->spec);
}

/* EXPORTS/NAME on this host. */
static int podman_exports(const struct ct *ct, char *dir, size_t len)
{
	const char *root = getenv("PHAUL_PODMAN_DIR");

	if (!root || !*root)
		root = PODMAN_EXPORTS;
	if (root[0] != '/' || snprintf(dir, len, "%s/%s", root, ct->id) >= (int)len)
		return ph_seterr(PH_EPATH, "%s: exports dir '%s/%s' not an absolute path that fits",
				 ct->spec, root, ct->id);
	return 0;
}

/* `podman inspect`: the init pid and the state ("running", "exited"). */
static int podman_state(const struct ct *ct, pid_t *pid, char *status, size_t slen)
{
	const char *args[] = { "podman",    "inspect",	"--type",
			       "container", "--format", "{{.State.Pid}} {{.State.Status}}",
			       ct->id,	    NULL };
	char out[128], st[32];
	int ret, p;

	*pid = 0;
	status[0] = '\0';
	if ((ret = podman_run(args, out, sizeof(out), NULL, PODMAN_QUICK_S)) < 0) {
		if (ret == -PH_ECRIU)
			ret = ph_seterr(PH_ENOENT,
					"%s: Podman knows no such container (podman inspect)",
					ct->spec);
		return ret;
	}
	if (sscanf(out, "%d %31s", &p, st) != 2)
		return ph_seterr(PH_ECRIU, "%s: podman inspect: unexpected output", ct->spec);
	*pid = (pid_t)p;
	snprintf(status, slen, "%s", st);
	return 0;
}

static int podman_resolve(struct ct *ct)
{
	char status[32];
	pid_t pid;
	int ret;

	if ((ret = podman_name_ok(ct)) < 0 ||
	    (ret = podman_state(ct, &pid, status, sizeof(status))) < 0)
		return ret;
	if (strcmp(status, "running"))
		return ph_seterr(PH_ENOENT, "%s is %s, not running", ct->spec, status);
	if (pid <= 1)
		return ph_seterr(PH_ENOENT, "%s: Podman knows no init pid", ct->spec);
	ct->root = pid;
	ct->own_pidns = true;
	if ((ret = podman_exports(ct, ct->sync[0], sizeof(ct->sync[0]))) < 0)
		return ret;
	if ((ret = mkdir_p(ct->sync[0], 0700)) < 0)
		return ph_errctx(ret, "%s: exports dir", ct->spec);
	ct->nsync = 1;
	return ct_collect_tree(ct);
}

/*
 * The iteration's page stream: Podman's pages travel in its exports, so
 * the relay (d->ps_addr:d->ps_port) gets a session of CLOSE alone.
 */
static int podman_ps_close(const struct ct *ct, const struct ct_dump *d)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)d->ps_port) };
	struct timeval tv = { PODMAN_PS_TIMEOUT_MS / 1000, 0 };
	uint8_t hdr[PSX_HDR_SIZE];
	int32_t answer = -1;
	int fd, ret = 0;

	if (inet_pton(AF_INET, d->ps_addr, &sa.sin_addr) != 1)
		return ph_seterr(PH_EUSAGE, "%s: page relay address %s", ct->spec, d->ps_addr);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ph_seterr_errno(PH_ESYS, "%s: socket", ct->spec);
	psx_close_hdr(hdr);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    write_full(fd, hdr, sizeof(hdr)) < 0)
		ret = ph_seterr_errno(PH_ESYS, "%s: the page relay at %s:%d", ct->spec, d->ps_addr,
				      d->ps_port);
	else if (read_full(fd, &answer, sizeof(answer)) != sizeof(answer) || answer != 0)
		ret = ph_seterr(PH_EPEER, "%s: the page relay did not close the empty session",
				ct->spec);
	close(fd);
	return ret;
}

/* dir/name into path; unlink what an earlier run left there. */
static int podman_export_path(const struct ct *ct, const char *name, char *path, size_t len)
{
	char dir[PATH_MAX - 32];
	int ret;

	if ((ret = podman_exports(ct, dir, sizeof(dir))) < 0)
		return ret;
	snprintf(path, len, "%s/%s", dir, name);
	if (unlink(path) < 0 && errno != ENOENT)
		return ph_seterr_errno(PH_ESYS, "%s: removing %s", ct->spec, path);
	return 0;
}

static int podman_pre_dump(struct ct *ct, const struct ct_dump *d)
{
	char path[PATH_MAX], log[PATH_MAX];
	const char *args[] = { "podman",   "container", "checkpoint", "--pre-checkpoint",
			       "--export", path,	ct->id,	      NULL };
	int ret;

	if (d->parent)
		return ph_seterr(PH_ENOTSUP, "%s: Podman keeps one pre-checkpoint only", ct->spec);
	snprintf(log, sizeof(log), "%s/podman.log", d->images_dir);
	if ((ret = podman_ps_close(ct, d)) < 0 ||
	    (ret = podman_export_path(ct, PODMAN_PRE, path, sizeof(path))) < 0)
		return ret;
	if ((ret = podman_run(args, NULL, 0, log, PODMAN_TIMEOUT_S)) < 0)
		return ph_errctx(ret, "%s: pre-checkpoint", ct->spec);
	return 0;
}

/* What the final dump left here: `podman inspect` by name. */
static int podman_kept_state(struct ct *ct)
{
	char status[32];
	pid_t pid;
	int ret = podman_state(ct, &pid, status, sizeof(status));

	if (ret == -PH_ENOENT)
		return CT_KEPT_NONE;
	if (ret < 0)
		return ret;
	if (strcmp(status, "running"))
		return CT_KEPT_STOPPED; /* exited by the checkpoint, which is kept */
	ct->root = pid;
	return CT_KEPT_RUNNING;
}

/* A rollback: restore the kept local checkpoint here. */
static int podman_restore_local(struct ct *ct, const char *log)
{
	const char *args[] = { "podman", "container", "restore", ct->id, NULL };
	int ret = podman_kept_state(ct);

	if (ret != CT_KEPT_STOPPED)
		return ret; /* running already (or the checkpoint never ended it), or gone */
	if ((ret = podman_run(args, NULL, 0, log, PODMAN_TIMEOUT_S)) < 0)
		return ph_errctx(ret, "%s: restoring it here", ct->spec);
	if ((ret = podman_kept_state(ct)) != CT_KEPT_RUNNING)
		return ret < 0 ? ret
			       : ph_seterr(PH_ECRIU,
					   "%s: not running after podman container restore",
					   ct->spec);
	return ret;
}

/* Commit: the source's container and its exports go. */
static int podman_remove(struct ct *ct, const char *log)
{
	const char *args[] = { "podman", "rm", "--force", "--time", "0", ct->id, NULL };
	char dir[PATH_MAX];
	int ret;

	if ((ret = podman_kept_state(ct)) == CT_KEPT_RUNNING)
		return ph_seterr(PH_EUNKNOWN, "%s runs here: not removed", ct->spec);
	if (ret == CT_KEPT_STOPPED && (ret = podman_run(args, NULL, 0, log, PODMAN_QUICK_S)) < 0)
		return ph_errctx(ret, "%s: the stopped container stays in `podman ps -a`",
				 ct->spec);
	if (podman_exports(ct, dir, sizeof(dir)) == 0 && rm_tree(dir) < 0)
		pr_warn("%s", ph_errmsg());
	return ret < 0 ? ret : CT_KEPT_NONE;
}

static int podman_kept(struct ct *ct, enum ct_kept_act act, const char *log)
{
	int ret = podman_name_ok(ct);

	if (ret < 0)
		return ret;
	switch (act) {
	case CT_KEPT_RESUME: return podman_restore_local(ct, log);
	case CT_KEPT_REMOVE: return podman_remove(ct, log);
	case CT_KEPT_QUERY: break;
	}
	return podman_kept_state(ct);
}

/*
 * The guard: should phaul die ($1 never gets "done"), settle what it left
 * (see the top of this file). $0 podman, $1 the container, $2 the source
 * record, then phaul's recover command.
 */
static const char guard_script[] =
	"read -r v\n"
	"[ \"$v\" = done ] && exit 0\n"
	"p=$0 n=$1 r=$2\n"
	"shift 2\n"
	"echo \"phaul ended before settling the migration of $n\"\n"
	"if [ ! -e \"$r\" ]; then\n"
	"  echo \"no record $r: the destination never restored it; restoring it here\"\n"
	"  exec \"$p\" container restore \"$n\"\n"
	"fi\n"
	"i=0\n"
	"while [ $i -lt " GUARD_TRIES " ]; do\n"
	"  \"$@\"\n"
	"  rc=$?\n"
	"  [ $rc = 6 ] || exit $rc\n"
	"  i=$((i + 1))\n"
	"  sleep " GUARD_PAUSE_S "\n"
	"done\n"
	"echo \"outcome still unknown: $n stays stopped here; run phaul recover\"\n"
	"exit 6\n";

static int guard_start(struct ct *ct, const struct ct_dump *d)
{
	const char *argv[GUARD_ARGV_MAX];
	char exe[PATH_MAX], log[PATH_MAX];
	size_t n = 0;
	int p[2], ret;
	pid_t pid;

	if (!d->settle || !d->record)
		return 0; /* nothing to settle with: stopped until an operator acts */
	if ((ret = podman_path(exe, sizeof(exe))) < 0)
		return ret;
	argv[n++] = "/bin/sh";
	argv[n++] = "-c";
	argv[n++] = guard_script;
	argv[n++] = exe;
	argv[n++] = ct->id;
	argv[n++] = d->record;
	for (size_t i = 0; d->settle[i]; i++)
		if (n + 1 < GUARD_ARGV_MAX)
			argv[n++] = d->settle[i];
	argv[n] = NULL;
	snprintf(log, sizeof(log), "%s/podman-guard.log", d->work_dir);
	if (pipe2(p, O_CLOEXEC) < 0)
		return ph_seterr_errno(PH_ESYS, "%s: guard pipe", ct->spec);
	if ((pid = fork()) < 0) {
		close(p[0]);
		close(p[1]);
		return ph_seterr_errno(PH_ESYS, "%s: fork of the guard", ct->spec);
	}
	if (pid == 0) {
		int err = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

		setsid(); /* a Ctrl-C or SIGKILL of phaul's group is not for it */
		if (err < 0 || dup2(p[0], 0) < 0 || dup2(err, 1) < 0 || dup2(err, 2) < 0)
			_exit(127);
		close_range(3, ~0U, 0);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[0]);
	ct->guard = pid;
	ct->guard_fd = p[1];
	return 0;
}

static int podman_dump(struct ct *ct, const struct ct_dump *d, criu_notify_fn fn, void *arg,
		       enum criu_dump_outcome *outcome)
{
	char path[PATH_MAX], pre[PATH_MAX], log[PATH_MAX], dir[PATH_MAX];
	const char *args[10];
	enum criu_verdict v = CRIU_ROLLBACK;
	int n = 0, ret;

	/*
	 * Whatever happens, the container is never resumed nor removed here:
	 * the orchestrator does that (kept) when it knows whether a copy can
	 * run on the destination. RESUMED: stopped or running, to resume.
	 */
	*outcome = CRIU_DUMP_RESUMED;
	snprintf(log, sizeof(log), "%s/podman.log", d->images_dir);
	if ((ret = podman_ps_close(ct, d)) < 0 ||
	    (ret = podman_export_path(ct, PODMAN_CKPT, path, sizeof(path))) < 0)
		return ret;
	/* without a pre-checkpoint now, none may reach the destination */
	if (!d->parent && (ret = podman_export_path(ct, PODMAN_PRE, pre, sizeof(pre))) < 0)
		return ret;
	/* the guard first: from the checkpoint on, someone must settle it */
	if ((ret = guard_start(ct, d)) < 0)
		return ret;
	args[n++] = "podman";
	args[n++] = "container";
	args[n++] = "checkpoint";
	args[n++] = "--keep"; /* a rollback restores it from here */
	if (d->parent)
		args[n++] = "--with-previous";
	args[n++] = "--export";
	args[n++] = path;
	args[n++] = ct->id;
	args[n] = NULL;
	if ((ret = podman_run(args, NULL, 0, log, PODMAN_TIMEOUT_S)) < 0)
		return ph_errctx(ret, "%s: checkpoint", ct->spec);
	if ((ret = podman_exports(ct, dir, sizeof(dir))) < 0 ||
	    (ret = ct_img_write(d->images_dir, PODMAN_DIR_IMG, dir)) < 0)
		return ret;
	v = fn ? fn("post-dump", arg) : CRIU_COMMIT;
	if (v == CRIU_COMMIT)
		*outcome = CRIU_DUMP_KILLED; /* stopped for good: removed after Go (kept) */
	return 0;
}

static int podman_restore(struct ct *ct, const char *images_dir, const struct criu_opts *co,
			  pid_t *pid)
{
	char dir[PATH_MAX - 32], ckpt[PATH_MAX], pre[PATH_MAX], log[PATH_MAX], status[32];
	const char *args[] = {
		"podman", "container", "restore", "--import", ckpt, NULL, NULL, NULL
	};
	struct stat st;
	int ret;

	/* Podman runs its own CRIU, and restores it running: it cannot hold it stopped */
	criu_conn_close(co ? co->conn : NULL);
	*pid = 0;
	if ((ret = podman_name_ok(ct)) < 0 ||
	    (ret = ct_img_dir(ct, images_dir, PODMAN_DIR_IMG, "exports dir", PODMAN_CKPT, dir,
			      sizeof(dir))) < 0)
		return ret;
	snprintf(ckpt, sizeof(ckpt), "%s/%s", dir, PODMAN_CKPT);
	snprintf(pre, sizeof(pre), "%s/%s", dir, PODMAN_PRE);
	if (stat(pre, &st) == 0 && S_ISREG(st.st_mode)) {
		args[5] = "--import-previous";
		args[6] = pre;
	}
	snprintf(log, sizeof(log), "%s/podman.log", images_dir);
	if ((ret = podman_run(args, NULL, 0, log, PODMAN_TIMEOUT_S)) < 0)
		return ph_errctx(ret, "%s: restore", ct->spec);
	if ((ret = podman_state(ct, pid, status, sizeof(status))) < 0)
		return ret;
	if (strcmp(status, "running") || *pid <= 1)
		return ph_seterr(PH_ECRIU, "%s: %s after podman container restore --import",
				 ct->spec, status);
	if (rm_tree(dir) < 0)
		pr_warn("%s", ph_errmsg()); /* imported: the exports are spent */
	return 0;
}

static int podman_discard(struct ct *ct, pid_t root)
{
	/* a copy that must not run: killed at once, not after podman's 10 s grace */
	/* --ignore: a restore that never created it (its agent died first) is discarded */
	const char *args[] = { "podman", "rm", "--force", "--ignore", "--time", "0", ct->id, NULL };
	int ret = podman_name_ok(ct);

	if (ret == 0)
		ret = podman_run(args, NULL, 0, NULL, PODMAN_QUICK_S);
	if (ret < 0 && root > 0)
		kill(root, SIGKILL); /* the container's init: its namespace dies with it */
	return ret;
}

/* "podman 4.3.1" from `podman version --format {{.Client.Version}}`. */
static int podman_version(char *v, size_t len)
{
	const char *args[] = { "podman", "version", "--format", "{{.Client.Version}}", NULL };
	char out[48];
	int ret;

	v[0] = '\0';
	if ((ret = podman_run(args, out, sizeof(out), NULL, PODMAN_QUICK_S)) < 0)
		return ret;
	out[strcspn(out, " \n")] = '\0';
	if (!out[0])
		return ph_seterr(PH_ECRIU, "podman version: unexpected output");
	snprintf(v, len, "podman %s", out);
	return 0;
}

/* Is a container of that name on this host (`podman container exists`)? */
static int podman_exists(const struct ct *ct, bool *busy)
{
	const char *args[] = { "podman", "container", "exists", ct->id, NULL };
	int ret = podman_run(args, NULL, 0, NULL, PODMAN_QUICK_S);

	/* exit 1: no such container; anything else is no answer */
	*busy = ret == 0;
	if (ret == -PH_ECRIU && strstr(ph_errmsg(), "(status 1)"))
		return 0;
	return ret < 0 ? ph_errctx(ret, "%s", ct->spec) : 0;
}

/*
 * An image ID or reference as Podman prints and takes it: no option, no
 * space or shell-special byte ([a-zA-Z0-9] first, then [a-zA-Z0-9_.:/@-]).
 */
static bool podman_image_ok(const char *s)
{
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
	      (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("_.:/@-", *s)))
			return false;
	return true;
}

/* Source: the ID of the image the container runs from. */
static int podman_image_of(const struct ct *ct, char *image, size_t len)
{
	const char *args[] = { "podman",   "inspect",	 "--type", "container",
			       "--format", "{{.Image}}", ct->id,   NULL };
	char out[CT_IMAGE_MAX];
	int ret;

	if ((ret = podman_run(args, out, sizeof(out), NULL, PODMAN_QUICK_S)) < 0)
		return ph_errctx(ret, "%s: its image", ct->spec);
	out[strcspn(out, " \n")] = '\0';
	if (!podman_image_ok(out))
		return ph_seterr(PH_ECRIU, "%s: podman inspect: unexpected image '%.64s'", ct->spec,
				 out);
	snprintf(image, len, "%s", out);
	return 0;
}

/* Destination: is image (from the peer) here (`podman image exists`)? */
static int podman_image_here(const struct ct *ct, const char *image, bool *present)
{
	const char *args[] = { "podman", "image", "exists", image, NULL };
	int ret;

	*present = false;
	if (!podman_image_ok(image))
		return ph_seterr(PH_EUSAGE, "%s: '%.64s' is not an image name", ct->spec, image);
	ret = podman_run(args, NULL, 0, NULL, PODMAN_QUICK_S);
	/* exit 1: no such image; anything else is no answer */
	*present = ret == 0;
	if (ret == -PH_ECRIU && strstr(ph_errmsg(), "(status 1)"))
		return 0;
	return ret < 0 ? ph_errctx(ret, "%s", ct->spec) : 0;
}

/*
 * The source's probe (f->image "") names the image the container runs
 * from; the destination's (f->image: the source's) says whether it is here:
 * `podman container restore --import` needs it, and without it would
 * fail (or pull) only after the source container was stopped.
 */
static int podman_probe(const struct ct *ct, const char *path, struct ct_facts *f)
{
	char image[CT_IMAGE_MAX];
	int ret;

	(void)path; /* the exports dir is free when the name is */
	snprintf(image, sizeof(image), "%s", f->image);
	memset(f, 0, sizeof(*f));
	if ((ret = podman_name_ok(ct)) < 0)
		return ret;
	if ((ret = podman_version(f->runtime, sizeof(f->runtime))) < 0)
		return ret == -PH_ENOTSUP ? 0 : ret; /* missing: runtime "" */
	if ((ret = podman_exists(ct, &f->id_busy)) < 0)
		return ret;
	if (image[0])
		return podman_image_here(ct, image, &f->image_present);
	if (f->id_busy)
		return podman_image_of(ct, f->image, sizeof(f->image));
	return 0;
}

const struct htype_ops htype_podman = {
	.name = "podman",
	.max_pre_dumps = 1,
	.resolve = podman_resolve,
	.check_criu = ct_criu_any,
	.criu_opts = ct_criu_opts_none,
	.open_pages = ct_pages_listen,
	.pre_dump = podman_pre_dump,
	.dump = podman_dump,
	.restore = podman_restore,
	.discard = podman_discard,
	.probe = podman_probe,
	.kept = podman_kept,
};
