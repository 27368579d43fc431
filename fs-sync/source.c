// SPDX-License-Identifier: GPL-2.0
/*
 * The source side of an fs-sync: run the rsync client with fs-rsh as its
 * remote shell, forward the receiver command line it asks for to the
 * agent, bridge the pipe to MUX_FS, and collect the agent's verdict.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "caps.h"
#include "err.h"
#include "fss.h"
#include "fss_int.h"
#include "fss_rsh.h"
#include "log.h"
#include "proto/msg.h"
#include "util.h"

extern char **environ;

/* Fixed words of the client command line besides excludes. */
#define FSS_ARGV_FIXED 12

struct fss_run {
	char rsync[PATH_MAX];
	char rsh[PATH_MAX + 32];
	char src[PATH_MAX + 2];
	char dst[PATH_MAX + 16];
	char tmo[32];
	char fdenv[32];
	char **argv, **envp;
	int sv[2];
	int fds[2];
	struct fss_proc p;
	struct fss_rsh_cmd cmd;
	struct fss_bridge b;
	bool bridged;
};

static int build_argv(struct fss_run *r, const struct fss_opts *o)
{
	size_t i = 0, k;

	r->argv = calloc(FSS_ARGV_FIXED + 2 * o->nexcludes + 1, sizeof(char *));
	if (!r->argv)
		return ph_seterr(PH_ENOMEM, "rsync command line");
	r->argv[i++] = "rsync";
	/* What a container's tree needs: modes, owners by number, hard links, ACLs, xattrs,
	 * devices and specials, sparse files; and what was deleted on the source. */
	r->argv[i++] = "-aHAXS";
	r->argv[i++] = "--numeric-ids";
	r->argv[i++] = "--delete";
	r->argv[i++] = "--stats";
	r->argv[i++] = r->tmo;
	/* Filters travel in rsync's protocol, not in the receiver's command line. */
	for (k = 0; k < o->nexcludes; k++) {
		r->argv[i++] = "--exclude";
		r->argv[i++] = (char *)o->excludes[k];
	}
	r->argv[i++] = "-e";
	r->argv[i++] = r->rsh;
	r->argv[i++] = r->src;
	r->argv[i++] = r->dst;
	r->argv[i] = NULL;
	return 0;
}

/* Our environment with $PHAUL_FSS_FD naming the handoff socket. */
static int build_envp(struct fss_run *r)
{
	size_t n = 0, i = 0;

	while (environ[n])
		n++;
	r->envp = calloc(n + 2, sizeof(char *));
	if (!r->envp)
		return ph_seterr(PH_ENOMEM, "rsync environment");
	for (n = 0; environ[n]; n++)
		if (strncmp(environ[n], FSS_RSH_FD_ENV "=", strlen(FSS_RSH_FD_ENV) + 1))
			r->envp[i++] = environ[n];
	snprintf(r->fdenv, sizeof(r->fdenv), FSS_RSH_FD_ENV "=%d", r->sv[1]);
	r->envp[i++] = r->fdenv;
	r->envp[i] = NULL;
	return 0;
}

static int prepare(struct fss_run *r, const char *src, const char *dst, const struct fss_opts *o,
		   int timeout_s)
{
	char exe[PATH_MAX];
	int ret;

	if ((ret = fss_check_dest_lexical(dst, "/")) < 0 ||
	    (ret = fss_find_rsync(r->rsync, sizeof(r->rsync))) < 0)
		return ret;
	/* /proc/PID/exe runs our binary even if it was replaced on disk meanwhile. */
	if (o->rsh_exe)
		snprintf(exe, sizeof(exe), "%s", o->rsh_exe);
	else
		snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)getpid());
	if (strchr(exe, '\''))
		return ph_seterr(PH_EUSAGE, "fs-rsh program path %s contains a quote", exe);
	/* rsync splits this string itself (no shell): quote the path against spaces. */
	snprintf(r->rsh, sizeof(r->rsh), "'%s' fs-rsh", exe);
	if ((size_t)snprintf(r->src, sizeof(r->src), "%s/", src) >= sizeof(r->src) ||
	    (size_t)snprintf(r->dst, sizeof(r->dst), FSS_RSH_HOST ":%s/", dst) >= sizeof(r->dst))
		return ph_seterr(PH_EPATH, "fs-sync path too long: %s", src);
	snprintf(r->tmo, sizeof(r->tmo), "--timeout=%d", timeout_s);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, r->sv) < 0)
		return ph_seterr_errno(PH_ESYS, "fs-rsh socketpair");
	if ((ret = build_argv(r, o)) < 0 || (ret = build_envp(r)) < 0)
		return ret;
	return 0;
}

static int send_start(struct mux *m, struct fss_run *r)
{
	Phaul__Msg out = PHAUL__MSG__INIT;
	Phaul__FsSyncStart s = PHAUL__FS_SYNC_START__INIT;
	int ret;

	/* rsync asks for "rsync --server ... . DST/"; check it as the agent will. */
	s.dest = (char *)r->cmd.args[r->cmd.n - 1];
	if ((ret = fss_check_args(r->cmd.args, r->cmd.n, s.dest)) < 0)
		return ph_errctx(ret, "local rsync asks for a receiver the agent refuses");
	s.n_args = r->cmd.n;
	s.args = (char **)r->cmd.args;
	out.body_case = PHAUL__MSG__BODY_FS_START;
	out.fs_start = &s;
	return msg_send(m, &out);
}

static uint64_t stat_num(const char *stats, const char *key)
{
	const char *p = stats ? strstr(stats, key) : NULL;
	uint64_t v = 0;

	if (!p)
		return 0;
	for (p += strlen(key); *p == ' '; p++)
		;
	for (; (*p >= '0' && *p <= '9') || *p == ','; p++)
		if (*p != ',')
			v = v * 10 + (uint64_t)(*p - '0');
	return v;
}

static void fill_stats(struct fss_stats *st, struct fss_run *r)
{
	st->files = stat_num(r->p.stats, "Number of regular files transferred:");
	st->total_size = stat_num(r->p.stats, "Total file size:");
	st->literal = stat_num(r->p.stats, "Literal data:");
}

/* rsync's "some files vanished before they could be transferred" */
#define RSYNC_VANISHED 24
/* rsync's "some files/attrs were not transferred": a vanished file too when nothing else was said
 */
#define RSYNC_PARTIAL 23

/* exit code ok when files may vanish: every complaint the client saw was a vanished file */
static bool vanish_exit(int code, bool only_vanished)
{
	return code == 0 || code == RSYNC_VANISHED || (code == RSYNC_PARTIAL && only_vanished);
}

/*
 * The agent's FsSyncDone and our client's exit decide. Files vanishing
 * while a live CT runs are normal before the freeze (o->vanished_ok): the
 * next sync catches up, and the final one runs with the CT frozen.
 */
static int verdict(struct mux *m, struct fss_run *r, struct fss_stats *st, int timeout_ms,
		   const char *src, const char *dst, bool vanished_ok)
{
	Phaul__Msg *in = NULL;
	Phaul__FsSyncDone *d;
	char cs[32], ss[32];
	int ret;

	if ((ret = msg_expect(m, PHAUL__MSG__BODY_FS_DONE, &in, timeout_ms)) < 0)
		return ret;
	d = in->fs_done;
	st->server_exit = d->has_exit_code ? d->exit_code : -1;
	/* the receiver's complaints reach the client's stderr too: its lines judge both exits */
	if (vanished_ok && (st->server_exit != 0 || st->client_exit != 0) &&
	    vanish_exit(st->server_exit, !r->p.other_err) &&
	    vanish_exit(st->client_exit, !r->p.other_err)) {
		pr_info("rsync %s: some files vanished during the sync (the next one catches up)",
			src);
		msg_free(in);
		return 0;
	}
	fss_status_str(st->client_exit, cs, sizeof(cs));
	fss_status_str(st->server_exit, ss, sizeof(ss));
	if (!d->ok && d->has_err && d->err > 0 && d->err < PH_E_MAX && d->err != PH_ERSYNC)
		ret = ph_seterr(d->err, "fs-sync to %s:%s refused: %s", mux_peer(m), dst,
				d->msg ?: "");
	else if (!d->ok)
		ret = ph_seterr(PH_ERSYNC,
				"rsync %s -> %s:%s failed: server on %s %s: %s; "
				"client %s: %s",
				src, mux_peer(m), dst, mux_peer(m), ss, d->msg ?: "", cs,
				r->p.last);
	else if (st->client_exit != 0)
		ret = ph_seterr(PH_ERSYNC, "rsync %s -> %s:%s failed: client %s: %s", src,
				mux_peer(m), dst, cs, r->p.last);
	msg_free(in);
	return ret;
}

static void run_free(struct fss_run *r)
{
	if (r->bridged) {
		atomic_store(&r->b.local_done, true);
		fss_bridge_join(&r->b);
	}
	fss_proc_free(&r->p);
	for (int i = 0; i < 2; i++) {
		if (r->sv[i] >= 0)
			close(r->sv[i]);
		if (r->fds[i] >= 0)
			close(r->fds[i]);
	}
	free(r->argv);
	free(r->envp);
	free(r);
}

int fss_sync(struct mux *m, const char *src_dir, const char *dst_dir, const struct fss_opts *o,
	     struct fss_stats *st)
{
	int timeout_s = o && o->timeout_s > 0 ? o->timeout_s : FSS_TIMEOUT_S_DEFAULT;
	static const struct fss_opts none;
	struct fss_stats local;
	struct mux_stats tx0, rx0, tx, rx;
	struct fss_run *r = calloc(1, sizeof(*r));
	uint64_t t0 = now_us();
	int ret, bret;

	o = o ?: &none;
	st = st ?: &local;
	memset(st, 0, sizeof(*st));
	st->client_exit = st->server_exit = -1;
	if (!r)
		return ph_seterr(PH_ENOMEM, "fs-sync state");
	r->sv[0] = r->sv[1] = r->fds[0] = r->fds[1] = -1;
	r->p.pid = r->p.out = r->p.err = -1;
	mux_get_stats(m, MUX_FS, &tx0, &rx0);
	if ((ret = prepare(r, src_dir, dst_dir, o, timeout_s)) < 0)
		goto out;
	ret = fss_spawn(r->rsync, r->argv, r->envp, -1, r->sv[1], NULL, &r->p);
	close(r->sv[1]);
	r->sv[1] = -1;
	if (ret < 0)
		goto out;
	if ((ret = fss_rsh_accept(r->sv[0], timeout_s * 1000, &r->cmd, r->fds)) < 0) {
		char cs[32];

		/* Whatever rsync said (no such source dir...) is the better reason. */
		kill(-r->p.pid, SIGTERM);
		st->client_exit = fss_proc_wait(&r->p, "rsync client", NULL);
		ret = ph_seterr(PH_ERSYNC, "rsync %s -> %s:%s did not connect (%s): %s: %s",
				src_dir, mux_peer(m), dst_dir, ph_errmsg(),
				fss_status_str(st->client_exit, cs, sizeof(cs)), r->p.last);
		goto out;
	}
	if ((ret = send_start(m, r)) < 0)
		goto out;
	ret = fss_bridge_start(&r->b, m, r->fds[0], r->fds[1], timeout_s * 1000);
	r->fds[0] = r->fds[1] = -1;
	if (ret < 0)
		goto out;
	r->bridged = true;
	st->client_exit = fss_proc_wait(&r->p, "rsync client", &r->b.peer_done);
	atomic_store(&r->b.local_done, true);
	bret = fss_bridge_join(&r->b);
	r->bridged = false;
	fill_stats(st, r);
	if ((ret = bret) < 0)
		goto out;
	ret = verdict(m, r, st, timeout_s * 1000, src_dir, dst_dir, o->vanished_ok);
out:
	run_free(r);
	mux_get_stats(m, MUX_FS, &tx, &rx);
	st->wire_tx = tx.wire_bytes - tx0.wire_bytes;
	st->wire_rx = rx.wire_bytes - rx0.wire_bytes;
	st->usec = now_us() - t0;
	return ret;
}

/* ---- shared filesystem probe ---- */

static void hex(char *out, const uint8_t *in, size_t n)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int write_cookie(const char *dir, char *name, size_t nlen, char *cookie, char *path,
			size_t plen)
{
	uint8_t rnd[24];
	char h[sizeof(rnd) * 2 + 1];
	int fd;

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return ph_seterr_errno(PH_ESYS, "getrandom for the shared-fs cookie");
	hex(h, rnd, sizeof(rnd));
	snprintf(name, nlen, ".phaul-shared-%.16s", h);
	snprintf(cookie, 33, "%.32s", h + 16);
	if ((size_t)snprintf(path, plen, "%s/%s", dir, name) >= plen)
		return ph_seterr(PH_EPATH, "shared-fs probe path too long: %s", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return ph_seterr_errno(PH_ESYS, "writing the shared-fs probe %s", path);
	if (write(fd, cookie, 32) != 32) {
		int ret = ph_seterr_errno(PH_ESYS, "writing the shared-fs probe %s", path);

		close(fd);
		unlink(path);
		return ret;
	}
	close(fd);
	return 0;
}

int fss_probe_shared(struct mux *m, const char *src_dir, const char *dst_dir, int timeout_ms,
		     bool *shared)
{
	Phaul__Msg out = PHAUL__MSG__INIT, *in = NULL;
	Phaul__FsProbe q = PHAUL__FS_PROBE__INIT;
	char name[64], cookie[33], path[PATH_MAX];
	Phaul__FsProbeResp *a;
	int ret;

	*shared = false;
	if ((ret = write_cookie(src_dir, name, sizeof(name), cookie, path, sizeof(path))) < 0)
		return ret;
	q.path = (char *)dst_dir;
	q.name = name;
	q.cookie.data = (uint8_t *)cookie;
	q.cookie.len = 32;
	out.body_case = PHAUL__MSG__BODY_FS_PROBE;
	out.fs_probe = &q;
	if ((ret = msg_send(m, &out)) < 0 ||
	    (ret = msg_expect(m, PHAUL__MSG__BODY_FS_PROBE_RESP, &in, timeout_ms)) < 0)
		goto out;
	a = in->fs_probe_resp;
	if (a->has_err && a->err) {
		ret = ph_seterr(a->err > 0 && a->err < PH_E_MAX ? a->err : PH_EPEER,
				"shared-fs probe of %s:%s refused: %s", mux_peer(m), dst_dir,
				a->msg ?: "");
		goto out;
	}
	*shared = a->shared;
	pr_info("%s here and %s on %s are %s", src_dir, dst_dir, mux_peer(m),
		*shared ? "the same filesystem: no rsync needed" : "not shared");
out:
	unlink(path);
	msg_free(in);
	return ret;
}
