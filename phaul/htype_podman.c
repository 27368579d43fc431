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
 *                so it is stopped, not frozen); the verdict then: commit
 *                runs `podman rm -f`, rollback `podman container restore`
 *                from the kept local checkpoint (it runs again, here)
 *   page stream  empty: each iteration's relay session is a CLOSE alone
 *   images       the staging dir's path travels as podman-dir.img
 *   restore      `podman container restore --import [--import-previous]`
 *                (it runs at once: Podman cannot restore it stopped)
 *   discard      `podman rm -f`
 *   checks       runtime on both hosts; on the destination the name free
 *                and the container's image (by ID) present: its restore
 *                needs it, and must not find it missing after the source
 *                was stopped
 */
#include <arpa/inet.h>
#include <errno.h>
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

/* Rollback after the checkpoint: restore the kept local checkpoint here. */
static int podman_restore_local(struct ct *ct, const char *log)
{
	const char *args[] = { "podman", "container", "restore", ct->id, NULL };
	char status[32];
	pid_t pid;
	int ret;

	if ((ret = podman_state(ct, &pid, status, sizeof(status))) == 0 &&
	    !strcmp(status, "running")) {
		ct->root = pid;
		return 0; /* the checkpoint failed before it ended the container */
	}
	if ((ret = podman_run(args, NULL, 0, log, PODMAN_TIMEOUT_S)) < 0)
		return ph_errctx(ret, "%s: restoring it here", ct->spec);
	if ((ret = podman_state(ct, &pid, status, sizeof(status))) < 0)
		return ret;
	if (strcmp(status, "running"))
		return ph_seterr(PH_ECRIU, "%s: %s after podman container restore", ct->spec,
				 status);
	ct->root = pid;
	return 0;
}

/* Commit: the source's container and its exports go. */
static void podman_remove(const struct ct *ct, const char *log)
{
	const char *args[] = { "podman", "rm", "--force", ct->id, NULL };
	char dir[PATH_MAX];

	if (podman_run(args, NULL, 0, log, PODMAN_QUICK_S) < 0)
		pr_warn("%s: the stopped container stays in `podman ps -a`: %s", ct->spec,
			ph_errmsg());
	if (podman_exports(ct, dir, sizeof(dir)) == 0 && rm_tree(dir) < 0)
		pr_warn("%s", ph_errmsg());
}

static int podman_dump(struct ct *ct, const struct ct_dump *d, criu_notify_fn fn, void *arg,
		       enum criu_dump_outcome *outcome)
{
	char path[PATH_MAX], pre[PATH_MAX], log[PATH_MAX], dir[PATH_MAX], msg[1024];
	const char *args[10];
	enum criu_verdict v = CRIU_ROLLBACK;
	int n = 0, ret;

	*outcome = CRIU_DUMP_RESUMED; /* nothing happened to it yet */
	snprintf(log, sizeof(log), "%s/podman.log", d->images_dir);
	if ((ret = podman_ps_close(ct, d)) < 0 ||
	    (ret = podman_export_path(ct, PODMAN_CKPT, path, sizeof(path))) < 0)
		return ret;
	/* without a pre-checkpoint now, none may reach the destination */
	if (!d->parent && (ret = podman_export_path(ct, PODMAN_PRE, pre, sizeof(pre))) < 0)
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
		ph_errctx(ret, "%s: checkpoint", ct->spec);
	else if ((ret = podman_exports(ct, dir, sizeof(dir))) == 0 &&
		 (ret = ct_img_write(d->images_dir, PODMAN_DIR_IMG, dir)) == 0)
		v = fn ? fn("post-dump", arg) : CRIU_COMMIT;
	if (ret < 0 || v != CRIU_COMMIT) {
		snprintf(msg, sizeof(msg), "%s", ret < 0 ? ph_errmsg() : "");
		if (podman_restore_local(ct, log) < 0) {
			*outcome = CRIU_DUMP_UNKNOWN;
			pr_err("%s", ph_errmsg());
		}
		return ret < 0 ? ph_seterr(ret, "%s", msg) : 0;
	}
	podman_remove(ct, log);
	*outcome = CRIU_DUMP_KILLED;
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
	const char *args[] = { "podman", "rm", "--force", "--time", "0", ct->id, NULL };
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
};
