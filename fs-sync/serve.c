// SPDX-License-Identifier: GPL-2.0
/*
 * The agent side of fs-sync: check the source's request, run the rsync
 * receiver on a socketpair bridged to MUX_FS, answer with its verdict.
 * Every answer is preceded by both directions of the FS stream ending, so
 * the source's rsync and bridge always terminate.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caps.h"
#include "err.h"
#include "fss.h"
#include "fss_int.h"
#include "log.h"
#include "proto/msg.h"
#include "util.h"

static int send_done(struct mux *m, bool ok, int err, int exit_code, const char *text)
{
	Phaul__Msg out = PHAUL__MSG__INIT;
	Phaul__FsSyncDone d = PHAUL__FS_SYNC_DONE__INIT;

	d.ok = ok;
	d.has_err = !ok;
	d.err = err;
	d.has_exit_code = exit_code >= 0;
	d.exit_code = exit_code;
	d.msg = (char *)text;
	out.body_case = PHAUL__MSG__BODY_FS_DONE;
	out.fs_done = &d;
	return msg_send(m, &out);
}

/*
 * Refused before any rsync ran: end our direction so the source's rsync
 * sees the connection close, swallow what it sent, then say why.
 */
static int refuse(struct mux *m, int err, const char *host)
{
	char text[768];
	int ret;

	snprintf(text, sizeof(text), "%s: %s", host, ph_errmsg());
	pr_warn("refusing fs-sync: %s", text);
	if ((ret = mux_send_eof(m, MUX_FS)) < 0 ||
	    (ret = fss_drain(m, FSS_TIMEOUT_S_DEFAULT * 1000)) < 0)
		return ret;
	return send_done(m, false, -err, -1, text);
}

/* A checked request: *dfd is its destination, opened beneath the root (*real). */
static int check(const Phaul__FsSyncStart *req, const char *root, int *dfd, char *real, size_t len)
{
	int ret;

	*dfd = -1;
	if (!root || !*root)
		return ph_seterr(PH_ENOTSUP, "fs-sync is not enabled on this agent (fs_root is "
					     "empty in its config)");
	if ((ret = fss_check_args((const char *const *)req->args, req->n_args, req->dest)) < 0)
		return ret;
	/* Below the root, what rsync does not create itself; modes come from the source. */
	return fss_open_dest(req->dest, root, true, dfd, real, len);
}

/*
 * Run the checked receiver command line confined to dfd; *code gets its
 * exit code. Its destination argument is ".": the directory it starts in,
 * never the peer's path resolved again.
 */
static int run_receiver(struct mux *m, const Phaul__FsSyncStart *req, int dfd, const char *root,
			int *code, char *last, size_t llen)
{
	static char *envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL };
	char rsync[PATH_MAX], tmo[32], *argv[PH_FSS_ARGS_MAX + 2];
	struct fss_proc p = { .pid = -1, .out = -1, .err = -1 };
	struct fss_jail jail = { .tree = -1, .at = root };
	struct fss_bridge b;
	int sv[2] = { -1, -1 }, wfd, ret;
	size_t i;

	*code = -1;
	if ((ret = fss_find_rsync(rsync, sizeof(rsync))) < 0)
		return ret;
	/* A receiver never waits forever: our own --timeout unless the source sent one. */
	snprintf(tmo, sizeof(tmo), "--timeout=%d", FSS_TIMEOUT_S_DEFAULT);
	for (i = 0; i < req->n_args - 2; i++) {
		argv[i] = req->args[i];
		if (!strncmp(argv[i], "--timeout=", strlen("--timeout=")))
			tmo[0] = '\0';
	}
	if (tmo[0])
		argv[i++] = tmo;
	argv[i++] = req->args[req->n_args - 2];
	argv[i++] = "."; /* not the peer's path: the jail starts there */
	argv[i] = NULL;
	jail.tree = open_tree(dfd, "",
			      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
	if (jail.tree < 0)
		return ph_seterr_errno(PH_ESYS, "fs-sync: cloning the mount of %s", req->dest);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		close(jail.tree);
		return ph_seterr_errno(PH_ESYS, "fs-sync socketpair");
	}
	ret = fss_spawn(rsync, argv, envp, sv[1], -1, &jail, &p);
	close(jail.tree);
	close(sv[1]);
	wfd = ret < 0 ? -1 : fcntl(sv[0], F_DUPFD_CLOEXEC, 3);
	if (ret == 0 && wfd < 0)
		ret = ph_seterr_errno(PH_ESYS, "fs-sync socket dup");
	if (ret < 0 || (ret = fss_bridge_start(&b, m, sv[0], wfd, FSS_GRACE_MS)) < 0) {
		if (ret < 0 && wfd < 0)
			close(sv[0]);
		fss_proc_free(&p);
		return ret;
	}
	*code = fss_proc_wait(&p, "rsync server", &b.peer_done);
	atomic_store(&b.local_done, true);
	ret = fss_bridge_join(&b);
	snprintf(last, llen, "%s", p.last);
	fss_proc_free(&p);
	return ret;
}

int fss_serve(struct mux *m, const Phaul__FsSyncStart *req, const char *allowed_root,
	      const char *host)
{
	char last[256], text[512], cs[32], root[PATH_MAX];
	int ret, code, dfd;

	if ((ret = check(req, allowed_root, &dfd, root, sizeof(root))) < 0)
		return refuse(m, ret, host);
	pr_info("fs-sync from %s into %s", mux_peer(m), req->dest);
	ret = run_receiver(m, req, dfd, root, &code, last, sizeof(last));
	close(dfd);
	if (ret < 0 && code < 0)
		return refuse(m, ret, host); /* rsync never ran: nothing of ours on the stream */
	if (ret < 0) {
		/* The bridge broke (connection, peer silent): rsync's verdict is moot. */
		snprintf(text, sizeof(text), "%s: %s", host, ph_errmsg());
		send_done(m, false, -ret, code, text);
		return ret;
	}
	if (code)
		pr_warn("rsync --server into %s: %s: %s", req->dest,
			fss_status_str(code, cs, sizeof(cs)), last);
	snprintf(text, sizeof(text), "%s", code ? last : "");
	return send_done(m, code == 0, PH_ERSYNC, code, text);
}

/* ---- shared filesystem probe ---- */

static bool probe_name_ok(const char *name)
{
	const char *pre = ".phaul-shared-";
	size_t n = strlen(pre);

	return !strncmp(name, pre, n) && strlen(name + n) == 16 &&
	       strspn(name + n, "0123456789abcdef") == 16;
}

static int send_probe_resp(struct mux *m, bool shared, int err, const char *text)
{
	Phaul__Msg out = PHAUL__MSG__INIT;
	Phaul__FsProbeResp a = PHAUL__FS_PROBE_RESP__INIT;

	a.shared = shared;
	a.has_err = err != 0;
	a.err = err;
	a.msg = (char *)text;
	out.body_case = PHAUL__MSG__BODY_FS_PROBE_RESP;
	out.fs_probe_resp = &a;
	return msg_send(m, &out);
}

/* Does name in dfd hold cookie? A missing file is simply not shared. */
static bool cookie_matches(int dfd, const char *name, const ProtobufCBinaryData *cookie)
{
	char buf[PH_FSS_COOKIE_MAX + 1];
	struct stat st;
	ssize_t n = -1;
	int fd;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		n = read(fd, buf, sizeof(buf));
	if (fd >= 0)
		close(fd);
	return n == (ssize_t)cookie->len && !memcmp(buf, cookie->data, cookie->len);
}

int fss_serve_probe(struct mux *m, const Phaul__FsProbe *req, const char *allowed_root,
		    const char *host)
{
	char text[768];
	int ret = 0, dfd = -1;
	bool shared;

	if (!allowed_root || !*allowed_root)
		ret = ph_seterr(PH_ENOTSUP, "fs-sync is not enabled on this agent (fs_root is "
					    "empty in its config)");
	else if (req->cookie.len < 16 || req->cookie.len > PH_FSS_COOKIE_MAX)
		ret = ph_seterr(PH_ETOOBIG, "FsProbe cookie of %zu bytes (allowed 16..%u)",
				req->cookie.len, PH_FSS_COOKIE_MAX);
	else if (!probe_name_ok(req->name))
		ret = ph_seterr(PH_EPATH, "FsProbe name is not .phaul-shared-<16 hex digits>");
	else if ((ret = fss_open_dest(req->path, allowed_root, false, &dfd, NULL, 0)) == -PH_ENOENT)
		ret = 0; /* a directory that does not exist here yet: simply not shared */
	if (ret < 0) {
		snprintf(text, sizeof(text), "%s: %s", host, ph_errmsg());
		pr_warn("refusing shared-fs probe: %s", text);
		return send_probe_resp(m, false, -ret, text);
	}
	shared = dfd >= 0 && cookie_matches(dfd, req->name, &req->cookie);
	if (dfd >= 0)
		close(dfd);
	return send_probe_resp(m, shared, 0, "");
}
