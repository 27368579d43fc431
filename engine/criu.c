// SPDX-License-Identifier: GPL-2.0
/*
 * swrk client: one `criu swrk FD` child per struct criu_conn; contract in
 * engine/criu.h, what CRIU does with each request in engine/README.md.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "caps.h"
#include "err.h"
#include "log.h"
#include "spawn.h"
#include "util.h"
#include "engine/criu.h"
#include "rpc.pb-c.h"

#define CRIU_CLOSE_WAIT_MS 10000
#define CRIU_LOG_TAIL	   16384
#define CRIU_ERR_LINES	   3
#define CRIU_ERR_LINE_MAX  200
#define CRIU_KEEP_FDS_MAX  16

enum conn_state {
	CONN_FRESH,    /* no request sent yet */
	CONN_PRE_DUMP, /* inside a PRE_DUMP... DUMP sequence */
	CONN_KEEP,     /* a keep_open request was served; more may follow */
	CONN_DONE,     /* swrk served its last request or died */
};

struct criu_conn {
	int sk;
	pid_t pid;
	int timeout_ms;
	enum conn_state state;
};

struct criu_ps {
	struct criu_conn *c;
	pid_t pid;
	bool reaped; /* WAIT_PID collected it: the pid may be reused, never kill it */
	char work_dir[PATH_MAX];
	char log_file[NAME_MAX + 1];
};

/* Everything one request needs that must live until its response. */
struct criu_req_ctx {
	const char *name; /* "DUMP", for messages */
	const char *work_dir;
	char log_file[NAME_MAX + 1];
	int img_fd, work_fd;
	CriuOpts opts;
	CriuPageServerInfo ps;
	char config[64]; /* "/proc/<us>/fd/<work_fd>/" CRIU_LAZY_PS_CONF, or "" */
};

/* ---- starting and reaping swrk ---- */

static int criu_find(char *path, size_t len)
{
	/* Debian's criu lives in /usr/sbin, often not on a user's PATH. */
	if (find_exe("criu", "PHAUL_CRIU", "/usr/sbin", path, len) < 0)
		return ph_seterr(PH_ECRIU,
				 "criu not found on PATH or in /usr/sbin (set $PHAUL_CRIU)");
	return 0;
}

/* swrk's stderr: -1 ours (inherited), else this fd (criu_set_stderr()) */
static int criu_stderr = -1;

void criu_set_stderr(int fd)
{
	criu_stderr = fd;
}

int criu_get_stderr(void)
{
	return criu_stderr;
}

/* What criu_pre_exec() needs in the child. */
struct criu_child {
	int keep[1 + CRIU_KEEP_FDS_MAX]; /* swrk's socket first, then the fds to pass */
	char fdstr[16];			 /* the socket's number, swrk's argument */
};

/* In the child between fork and exec (spawn's pre_exec): async-signal-safe calls only. */
static int criu_pre_exec(void *arg)
{
	struct criu_child *k = arg;
	int sk = k->keep[0], i = 0, e;

	if (sk < 3 && (sk = k->keep[0] = fcntl(sk, F_DUPFD, 3)) < 0)
		return 1;
	/* snprintf is not async-signal-safe; format by hand. */
	e = sk;
	do {
		k->fdstr[i++] = '0' + e % 10;
		e /= 10;
	} while (e);
	k->fdstr[i] = '\0';
	for (e = 0; e < i / 2; e++) {
		char t = k->fdstr[e];

		k->fdstr[e] = k->fdstr[i - 1 - e];
		k->fdstr[i - 1 - e] = t;
	}
	return 0;
}

/* Wait up to ms for c->pid; then SIGKILL it. Sets *status; never leaves a zombie. */
static void criu_reap(struct criu_conn *c, int ms, int *status)
{
	*status = 0;
	if (c->pid <= 0)
		return;
	spawn_reap(c->pid, status, ms, false);
	c->pid = -1;
}

static int criu_spawn(struct criu_conn *c, const int *fds, size_t nfds, const char *bin)
{
	struct criu_child k;
	char *argv[] = { "criu", "swrk", k.fdstr, NULL };
	/* Nothing of ours leaks into CRIU (and the restored tree) but what it needs. */
	struct spawn sp = {
		.path = bin,
		.argv = argv,
		.std = { SPAWN_NULL, SPAWN_NULL, criu_stderr >= 0 ? criu_stderr : SPAWN_INHERIT },
		/* exec keeps the signal mask and ignored signals; CRIU needs SIGCHLD etc. */
		.clean_signals = true,
		.close_fds = true,
		.keep = k.keep,
		.nkeep = 1 + nfds,
		.pre_exec = criu_pre_exec,
		.arg = &k,
		.report = true,
		.exit_code = 127
	};
	int sv[2] = { -1, -1 }, step, r = 0;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		r = ph_seterr_errno(PH_ESYS, "criu: socketpair/pipe");
		goto out;
	}
	k.keep[0] = sv[1];
	if (nfds)
		memcpy(k.keep + 1, fds, nfds * sizeof(*fds));
	if (spawn(&sp, &c->pid, &step) < 0) {
		if (step == SPAWN_STEP_PIPE)
			r = ph_seterr_errno(PH_ESYS, "criu: socketpair/pipe");
		else if (step == SPAWN_STEP_FORK)
			r = ph_seterr_errno(PH_ESYS, "criu: fork");
		else
			r = ph_seterr(PH_ECRIU, "cannot run criu (%s): %s", bin, strerror(errno));
		goto out;
	}
	c->sk = sv[0];
	sv[0] = -1;
out:
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	return r;
}

int criu_conn_open_fds(struct criu_conn **out, const int *fds, size_t nfds)
{
	struct criu_conn *c = NULL;
	char bin[PATH_MAX];
	size_t i;
	int r;

	*out = NULL;
	if (nfds > CRIU_KEEP_FDS_MAX)
		return ph_seterr(PH_EUSAGE, "criu: %zu fds to pass, limit %d", nfds,
				 CRIU_KEEP_FDS_MAX);
	for (i = 0; i < nfds; i++)
		if (fds[i] < 3 || fcntl(fds[i], F_GETFD) < 0)
			return ph_seterr(PH_EUSAGE, "criu: fd %d to pass is not an open fd >= 3",
					 fds[i]);
	r = criu_find(bin, sizeof(bin));
	if (r < 0)
		return r;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ph_seterr(PH_ENOMEM, "criu: conn");
	c->sk = -1;
	c->pid = -1;
	c->timeout_ms = -1;
	r = criu_spawn(c, fds, nfds, bin);
	if (r < 0) {
		free(c);
		return r;
	}
	pr_debug("criu swrk started: pid %d (%s)", c->pid, bin);
	*out = c;
	return 0;
}

int criu_conn_open(struct criu_conn **out)
{
	return criu_conn_open_fds(out, NULL, 0);
}

void criu_conn_close(struct criu_conn *c)
{
	int st;

	if (!c)
		return;
	if (c->sk >= 0)
		close(c->sk);
	criu_reap(c, CRIU_CLOSE_WAIT_MS, &st);
	free(c);
}

void criu_conn_set_timeout(struct criu_conn *c, int timeout_ms)
{
	c->timeout_ms = timeout_ms;
}

pid_t criu_conn_pid(const struct criu_conn *c)
{
	return c->pid;
}

bool criu_conn_alive(const struct criu_conn *c)
{
	siginfo_t si;

	if (!c || c->pid <= 0 || c->sk < 0)
		return false;
	memset(&si, 0, sizeof(si));
	/* WNOWAIT: an exited swrk stays for criu_conn_close to reap */
	if (waitid(P_PID, c->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return false;
	return si.si_pid == 0;
}

/* swrk is gone (EOF, EPIPE): reap it and say how it ended. */
static int criu_died(struct criu_conn *c, const char *req)
{
	int st;

	c->state = CONN_DONE;
	criu_reap(c, CRIU_CLOSE_WAIT_MS, &st);
	if (WIFSIGNALED(st))
		return ph_seterr(PH_ECRIU, "criu %s: criu swrk exited (killed by signal %d)", req,
				 WTERMSIG(st));
	return ph_seterr(PH_ECRIU, "criu %s: criu swrk exited (status %d)", req, WEXITSTATUS(st));
}

/* ---- messages ---- */

static int criu_send(struct criu_conn *c, const CriuReq *req, const char *name)
{
	size_t len = criu_req__get_packed_size(req);
	uint8_t *buf;
	ssize_t n;
	int r = 0;

	if (c->state == CONN_DONE || c->sk < 0)
		return ph_seterr(PH_ECRIU, "criu %s: connection already finished", name);
	if (len > PH_CRIU_MSG_MAX)
		return ph_seterr(PH_ETOOBIG, "criu %s: request of %zu bytes, limit %u", name, len,
				 PH_CRIU_MSG_MAX);
	buf = malloc(len ? len : 1);
	if (!buf)
		return ph_seterr(PH_ENOMEM, "criu %s: %zu bytes", name, len);
	criu_req__pack(req, buf);
	while ((n = send(c->sk, buf, len, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
		r = criu_died(c, name);
	else if (n < 0)
		r = ph_seterr_errno(PH_ESYS, "criu %s: send", name);
	else if ((size_t)n != len)
		r = ph_seterr(PH_ESYS, "criu %s: short send %zd of %zu", name, n, len);
	free(buf);
	return r;
}

static int criu_wait_readable(struct criu_conn *c, const char *name)
{
	struct pollfd pfd = { .fd = c->sk, .events = POLLIN };
	int n;

	while ((n = poll(&pfd, 1, c->timeout_ms)) < 0 && errno == EINTR)
		;
	if (n < 0)
		return ph_seterr_errno(PH_ESYS, "criu %s: poll", name);
	if (n == 0)
		return ph_seterr(PH_ETIMEDOUT,
				 "criu %s: no answer from criu swrk (pid %d) in %d ms", name,
				 c->pid, c->timeout_ms);
	return 0;
}

/* Close fds CRIU attached (orphan-pts-master notify): we never use them. */
static void criu_drop_fds(struct msghdr *mh)
{
	struct cmsghdr *cm;
	size_t i, n;
	int fd;

	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			close(fd);
		}
	}
}

/* One datagram, its size checked before the buffer is allocated. */
static int criu_recv(struct criu_conn *c, CriuResp **out, const char *name)
{
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	uint8_t *buf = NULL, dummy;
	ssize_t size, n;
	int r;

	*out = NULL;
	r = criu_wait_readable(c, name);
	if (r < 0)
		return r;
	while ((size = recv(c->sk, &dummy, 1, MSG_PEEK | MSG_TRUNC)) < 0 && errno == EINTR)
		;
	/* EOF, or ECONNRESET when swrk exited with our request unread. */
	if (size == 0 || (size < 0 && errno == ECONNRESET))
		return criu_died(c, name);
	if (size < 0)
		return ph_seterr_errno(PH_ESYS, "criu %s: recv", name);
	if (size > PH_CRIU_MSG_MAX) {
		(void)!recv(c->sk, &dummy, 1, MSG_TRUNC); /* drop it */
		return ph_seterr(PH_ETOOBIG, "criu %s: response of %zd bytes, limit %u", name, size,
				 PH_CRIU_MSG_MAX);
	}
	buf = malloc(size);
	if (!buf)
		return ph_seterr(PH_ENOMEM, "criu %s: %zd bytes", name, size);
	iov.iov_base = buf;
	iov.iov_len = size;
	mh.msg_control = cbuf.buf;
	mh.msg_controllen = sizeof(cbuf.buf);
	while ((n = recvmsg(c->sk, &mh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	if (n >= 0)
		criu_drop_fds(&mh);
	if (n < 0)
		r = ph_seterr_errno(PH_ESYS, "criu %s: recvmsg", name);
	else if (n != size || (mh.msg_flags & MSG_TRUNC))
		r = ph_seterr(PH_ECRIU, "criu %s: response changed size (%zd, then %zd)", name,
			      size, n);
	else if (!(*out = criu_resp__unpack(NULL, size, buf)))
		r = ph_seterr(PH_ECRIU, "criu %s: unparseable response of %zd bytes", name, size);
	free(buf);
	return r;
}

/* ---- failure messages ---- */

/*
 * CRIU logs TCP_CORK/TCP_NODELAY failures as errors when ps.fd is a unix
 * socket (util.c tcp_cork()), yet goes on: they are noise, not the cause.
 */
static bool criu_err_line(const char *l)
{
	return strstr(l, "Error") && !strstr(l, "TCP_CORK") && !strstr(l, "TCP_NODELAY");
}

/*
 * CRIU 3.17's own words (pr_err() in the files named) and what they mean
 * for a phaul migration. Dump-side lines name the option; restore-side
 * ones mean the option was not given to the restore.
 */
static const struct {
	const char *needle;
	const char *hint;
} criu_hints[] = {
	/* file-lock.c dump_file_locks(), dump_task_file_locks() */
	{ "Some file locks are hold by dumping tasks",
	  "the tree holds file locks (flock, fcntl, OFD): --file-locks ([criu] file_locks) "
	  "migrates them; the locked files must exist on the destination (--sync them)" },
	/* file-lock.c dump_file_locks(): a POSIX lock of a process outside the tree */
	{ "Unresolved lock found",
	  "a POSIX lock on a file the tree has open is held by a process outside the tree: "
	  "it cannot be migrated; migrate the holder with the tree or release the lock" },
	/* files-reg.c create_link_remap() */
	{ "Can't create link remap for",
	  "an open file's name was removed while another hard link remains: --link-remap "
	  "([criu] link_remap) links it back in its directory during the dump (--sync that "
	  "directory; the extra name is visible there until the restore)" },
	/* files-reg.c dump_ghost_remap() */
	{ "Can't dump ghost file",
	  "an unlinked open file is larger than the ghost limit (CRIU's default 1 MiB): "
	  "--ghost-limit SIZE ([criu] ghost_limit) copies files up to SIZE into the images, "
	  "at the cost of their size on the link and in the frozen time" },
	/* sk-unix.c dump_external_sockets() */
	{ "External socket is used",
	  "a unix socket of the tree is connected outside it: a datagram one talking to a "
	  "named socket (e.g. /dev/log) migrates with --ext-unix-sk ([criu] ext_unix_sk), "
	  "reconnected by name on the destination, where that socket must exist; a stream "
	  "one cannot be migrated" },
	/* sk-unix.c open_unixsk_standalone(): dump had it, restore did not */
	{ "External socket found in image",
	  "the images hold an external unix socket: the restore needs --ext-unix-sk too" },
	/* sk-unix.c dump_external_sockets() */
	{ "Can't dump half of stream unix connection",
	  "a unix stream socket of the tree is connected to a process outside it: it cannot "
	  "be migrated (CRIU 3.17); migrate the peer with the tree or close the connection" },
	/* sk-unix.c __dump_external_socket() */
	{ "Can't dump name-less external socket",
	  "a unix datagram socket of the tree is connected to a nameless socket outside it: "
	  "it cannot be migrated (CRIU reconnects by name)" },
	/* fsnotify.c check_open_handle(): watch on an inode with no name on tmpfs */
	{ "Can't find suitable path for handle",
	  "an inotify/fanotify watch is on a file with no name left on tmpfs (unlinked): "
	  "it cannot be migrated (CRIU 3.17 finds watches by path there); keep the file "
	  "open or linked, or remove the watch" },
};

const char *criu_hint(const char *line)
{
	for (size_t i = 0; i < sizeof(criu_hints) / sizeof(criu_hints[0]); i++)
		if (strstr(line, criu_hints[i].needle))
			return criu_hints[i].hint;
	return NULL;
}

void criu_log_errors(const char *path, char *out, size_t len)
{
	const char *hint = NULL;
	size_t room;
	char *buf = NULL, *lines[CRIU_ERR_LINES] = { 0 }, *l, *save = NULL;
	int fd, i, nl = 0;
	off_t end;
	ssize_t n;

	out[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	buf = malloc(CRIU_LOG_TAIL + 1);
	end = lseek(fd, 0, SEEK_END);
	if (!buf || end < 0)
		goto out;
	n = pread(fd, buf, CRIU_LOG_TAIL, end > CRIU_LOG_TAIL ? end - CRIU_LOG_TAIL : 0);
	if (n <= 0)
		goto out;
	buf[n] = '\0';
	for (l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (!criu_err_line(l))
			continue;
		if (!hint)
			hint = criu_hint(l);
		/* Drop CRIU's "(00.012345) " timestamp. */
		if (l[0] == '(' && strchr(l, ')'))
			l = strchr(l, ')') + 1 + (strchr(l, ')')[1] == ' ');
		lines[nl++ % CRIU_ERR_LINES] = l;
	}
	/* The hint is the point of the message: the lines give way to it. */
	room = hint && strlen(hint) + 5 < len ? len - strlen(hint) - 4 : len;
	for (i = nl > CRIU_ERR_LINES ? nl - CRIU_ERR_LINES : 0; i < nl; i++) {
		size_t used = strlen(out);

		snprintf(out + used, room - used, "%s%.*s", used ? " | " : "", CRIU_ERR_LINE_MAX,
			 lines[i % CRIU_ERR_LINES]);
	}
	if (hint && room < len)
		snprintf(out + strlen(out), len - strlen(out), " -- %s", hint);
out:
	free(buf);
	close(fd);
}

static int criu_fail(const struct criu_req_ctx *x, const CriuResp *resp)
{
	char path[PATH_MAX], errs[CRIU_ERRS_LEN], eno[64] = "";
	int e = resp && resp->has_cr_errno ? resp->cr_errno : 0;
	const char *m = resp && resp->cr_errmsg ? resp->cr_errmsg : "";
	int mlen = (int)strcspn(m, "\n");

	/* cr_errmsg is CRIU's first error line: noise such as TCP_CORK is not the cause */
	if (strstr(m, "TCP_CORK") || strstr(m, "TCP_NODELAY"))
		mlen = 0;
	snprintf(path, sizeof(path), "%s/%s", x->work_dir ?: ".", x->log_file);
	criu_log_errors(path, errs, sizeof(errs));
	/* cr_errno is mostly 0: said only when CRIU gave one */
	if (e)
		snprintf(eno, sizeof(eno), " (cr_errno %d: %s)", e, strerror(e));
	return ph_seterr(PH_ECRIU, "criu %s failed%s%s%.*s; see %s%s%s", x->name, eno,
			 mlen ? ": " : "", mlen, m, path, *errs ? ": " : "", errs);
}

/* ---- requests ---- */

static int criu_open_dir(const char *dir, const char *what, int *fd)
{
	*fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0)
		return ph_seterr_errno(PH_ESYS, "criu: open %s dir %s", what, dir);
	return 0;
}

static void criu_ctx_fini(struct criu_req_ctx *x)
{
	if (x->img_fd >= 0)
		close(x->img_fd);
	if (x->work_fd >= 0)
		close(x->work_fd);
	x->img_fd = x->work_fd = -1;
}

static const struct {
	const char *name;
	CriuCgMode rpc;
} cg_modes[] = {
	[CRIU_CG_UNSET] = { "", CRIU_CG_MODE__DEFAULT },
	[CRIU_CG_IGNORE] = { "ignore", CRIU_CG_MODE__IGNORE },
	[CRIU_CG_NONE] = { "none", CRIU_CG_MODE__CG_NONE },
	[CRIU_CG_PROPS] = { "props", CRIU_CG_MODE__PROPS },
	[CRIU_CG_SOFT] = { "soft", CRIU_CG_MODE__SOFT },
	[CRIU_CG_FULL] = { "full", CRIU_CG_MODE__FULL },
	[CRIU_CG_STRICT] = { "strict", CRIU_CG_MODE__STRICT },
};

int criu_cg_mode_parse(const char *s, enum criu_cg_mode *out)
{
	for (size_t i = CRIU_CG_IGNORE; i < sizeof(cg_modes) / sizeof(cg_modes[0]); i++)
		if (!strcmp(s, cg_modes[i].name)) {
			*out = (enum criu_cg_mode)i;
			return 0;
		}
	return -1;
}

const char *criu_cg_mode_name(enum criu_cg_mode m)
{
	return (unsigned)m < sizeof(cg_modes) / sizeof(cg_modes[0]) ? cg_modes[m].name : "";
}

static void criu_ctx_flags(CriuOpts *r, const struct criu_opts *o)
{
#define SETB(f)                                                                                    \
	do {                                                                                       \
		if (o->f) {                                                                        \
			r->has_##f = true;                                                         \
			r->f = true;                                                               \
		}                                                                                  \
	} while (0)
	SETB(track_mem);
	SETB(shell_job);
	SETB(tcp_established);
	SETB(ext_unix_sk);
	SETB(file_locks);
	SETB(link_remap);
	SETB(leave_running);
	SETB(lazy_pages);
#undef SETB
	if (o->ghost_limit) {
		r->has_ghost_limit = true;
		r->ghost_limit = o->ghost_limit;
	}
	if (o->cg_mode != CRIU_CG_UNSET) {
		r->has_manage_cgroups_mode = true;
		r->manage_cgroups_mode = cg_modes[o->cg_mode].rpc;
	}
}

/*
 * A --lazy-pages dump serves its lazy pages on a page-server socket, but
 * CRIU 3.17's RPC ignores ps (address and fd) when lazy_pages is set
 * (cr-service.c setup_opts_from_req()) and would listen on every address.
 * Its RPC config file takes "ps-socket N" (config.c), which
 * cr_page_server() then serves: our socketpair, no port at all.
 */
static int criu_ctx_lazy_ps(struct criu_req_ctx *x, int ps_fd)
{
	char line[32];
	int fd, n, r = 0;

	n = snprintf(line, sizeof(line), "ps-socket %d\n", ps_fd);
	fd = openat(x->work_fd, CRIU_LAZY_PS_CONF, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, line, (size_t)n) != n)
		r = ph_seterr_errno(PH_ESYS, "writing %s/%s", x->work_dir, CRIU_LAZY_PS_CONF);
	if (fd >= 0)
		close(fd);
	snprintf(x->config, sizeof(x->config), "/proc/%d/fd/%d/%s", (int)getpid(), x->work_fd,
		 CRIU_LAZY_PS_CONF);
	x->opts.config_file = x->config;
	return r;
}

/*
 * Fill x->opts from o for request `name`. The dir fds stay open until
 * criu_ctx_fini(): CRIU reopens them through /proc/<our pid>/fd.
 */
static int criu_ctx_init(struct criu_req_ctx *x, const struct criu_opts *o, const char *name,
			 const char *deflog)
{
	int r;

	memset(x, 0, sizeof(*x));
	x->img_fd = x->work_fd = -1;
	x->name = name;
	criu_opts__init(&x->opts);
	criu_page_server_info__init(&x->ps);
	if (!o->images_dir)
		return ph_seterr(PH_EUSAGE, "criu %s: no images dir", name);
	x->work_dir = o->work_dir ?: o->images_dir;
	if (o->log_file && strchr(o->log_file, '/'))
		return ph_seterr(PH_EUSAGE, "criu %s: log file %s has a '/'", name, o->log_file);
	snprintf(x->log_file, sizeof(x->log_file), "%s", o->log_file ?: deflog);
	if ((r = criu_open_dir(o->images_dir, "images", &x->img_fd)) < 0 ||
	    (r = criu_open_dir(x->work_dir, "work", &x->work_fd)) < 0) {
		criu_ctx_fini(x);
		return ph_errctx(r, "criu %s", name);
	}
	x->opts.images_dir_fd = x->img_fd;
	x->opts.has_work_dir_fd = true;
	x->opts.work_dir_fd = x->work_fd;
	x->opts.log_file = x->log_file;
	x->opts.has_log_level = true;
	x->opts.log_level = o->log_level ? o->log_level : 4;
	x->opts.parent_img = (char *)o->parent_img;
	if (o->pid > 0) {
		x->opts.has_pid = true;
		x->opts.pid = o->pid;
	}
	if (o->ps_fd >= 0 && o->lazy_pages)
		r = criu_ctx_lazy_ps(x, o->ps_fd);
	else if (o->ps_fd >= 0) {
		x->ps.has_fd = true;
		x->ps.fd = o->ps_fd;
		x->opts.ps = &x->ps;
	}
	if (r < 0) {
		criu_ctx_fini(x);
		return ph_errctx(r, "criu %s", name);
	}
	criu_ctx_flags(&x->opts, o);
	return 0;
}

/* Send req, receive the answer of type `want` (PAGE_SERVER_CHLD is answered as PAGE_SERVER). */
static int criu_call(struct criu_conn *c, const CriuReq *req, CriuReqType want, const char *name,
		     CriuResp **out)
{
	CriuResp *resp = NULL;
	int r;

	*out = NULL;
	r = criu_send(c, req, name);
	if (r == 0)
		r = criu_recv(c, &resp, name);
	if (r < 0)
		return r;
	if (resp->type != want &&
	    !(want == CRIU_REQ_TYPE__PAGE_SERVER_CHLD &&
	      resp->type == CRIU_REQ_TYPE__PAGE_SERVER) &&
	    resp->success) {
		r = ph_seterr(PH_ECRIU, "criu %s: answered with type %d", name, resp->type);
		criu_resp__free_unpacked(resp, NULL);
		return r;
	}
	*out = resp;
	return 0;
}

/* A one-request connection: open, call, and end swrk (which exits after answering). */
static int criu_oneshot(const CriuReq *req, CriuReqType want, const char *name, int timeout_ms,
			CriuResp **out)
{
	struct criu_conn *c = NULL;
	int r;

	*out = NULL;
	r = criu_conn_open(&c);
	if (r < 0)
		return ph_errctx(r, "criu %s", name);
	c->timeout_ms = timeout_ms;
	r = criu_call(c, req, want, name, out);
	c->state = CONN_DONE;
	criu_conn_close(c);
	return r;
}

int criu_version(struct criu_version *v)
{
	CriuReq req = CRIU_REQ__INIT;
	CriuResp *resp = NULL;
	CriuVersion *cv;
	int r;

	memset(v, 0, sizeof(*v));
	req.type = CRIU_REQ_TYPE__VERSION;
	r = criu_oneshot(&req, CRIU_REQ_TYPE__VERSION, "VERSION", CRIU_QUICK_TIMEOUT_MS, &resp);
	if (r < 0)
		return r;
	cv = resp->version;
	if (!resp->success || !cv) {
		r = ph_seterr(PH_ECRIU, "criu VERSION failed (criu older than 3.0?)");
		goto out;
	}
	v->major = cv->major_number;
	v->minor = cv->minor_number;
	v->sublevel = cv->has_sublevel ? cv->sublevel : 0;
	snprintf(v->gitid, sizeof(v->gitid), "%s", cv->gitid ?: "");
	if (cv->has_sublevel)
		snprintf(v->str, sizeof(v->str), "%d.%d.%d", v->major, v->minor, v->sublevel);
	else
		snprintf(v->str, sizeof(v->str), "%d.%d", v->major, v->minor);
out:
	criu_resp__free_unpacked(resp, NULL);
	return r;
}

/* Requests whose answer is just success, in a fresh connection. */
static int criu_simple(const struct criu_opts *o, CriuReqType type, const char *name,
		       const char *log)
{
	CriuReq req = CRIU_REQ__INIT;
	struct criu_req_ctx x;
	CriuResp *resp = NULL;
	int r;

	r = criu_ctx_init(&x, o, name, log);
	if (r < 0)
		return r;
	req.type = type;
	req.opts = &x.opts;
	r = criu_oneshot(&req, type, name, CRIU_QUICK_TIMEOUT_MS, &resp);
	if (r == 0 && !resp->success)
		r = criu_fail(&x, resp);
	if (resp)
		criu_resp__free_unpacked(resp, NULL);
	criu_ctx_fini(&x);
	return r;
}

int criu_check(const char *work_dir, char *msg, size_t len)
{
	struct criu_opts o = CRIU_OPTS_INIT;
	char path[PATH_MAX], errs[CRIU_ERRS_LEN];
	int r;

	if (msg && len)
		msg[0] = '\0';
	if (!work_dir)
		return ph_seterr(PH_EUSAGE, "criu CHECK: no work dir");
	o.images_dir = work_dir;
	r = criu_simple(&o, CRIU_REQ_TYPE__CHECK, "CHECK", "check.log");
	if (r == 0 || !msg || !len)
		return r;
	snprintf(path, sizeof(path), "%s/check.log", work_dir);
	criu_log_errors(path, errs, sizeof(errs));
	snprintf(msg, len, "%s", *errs ? errs : ph_errmsg());
	return r;
}

int criu_cpuinfo_dump(const char *dir)
{
	struct criu_opts o = CRIU_OPTS_INIT;

	o.images_dir = dir;
	return criu_simple(&o, CRIU_REQ_TYPE__CPUINFO_DUMP, "CPUINFO_DUMP", "cpuinfo-dump.log");
}

int criu_cpuinfo_check(const char *dir)
{
	struct criu_opts o = CRIU_OPTS_INIT;

	o.images_dir = dir;
	return criu_simple(&o, CRIU_REQ_TYPE__CPUINFO_CHECK, "CPUINFO_CHECK", "cpuinfo-check.log");
}

int criu_feature_check(struct criu_features *f)
{
	CriuReq req = CRIU_REQ__INIT;
	CriuFeatures want = CRIU_FEATURES__INIT;
	CriuResp *resp = NULL;
	int r;

	memset(f, 0, sizeof(*f));
	want.has_mem_track = want.mem_track = true;
	want.has_lazy_pages = want.lazy_pages = true;
	want.has_pidfd_store = want.pidfd_store = true;
	req.type = CRIU_REQ_TYPE__FEATURE_CHECK;
	req.features = &want;
	r = criu_oneshot(&req, CRIU_REQ_TYPE__FEATURE_CHECK, "FEATURE_CHECK", CRIU_QUICK_TIMEOUT_MS,
			 &resp);
	if (r < 0)
		return r;
	/* CRIU answers failure when its kernel probing (kerndat) fails; no log file then. */
	if (!resp->success || !resp->features)
		r = ph_seterr(PH_ECRIU,
			      "criu FEATURE_CHECK failed: kernel feature detection "
			      "failed (criu prints the reason on stderr; run 'criu check')");
	else {
		f->mem_track = resp->features->has_mem_track && resp->features->mem_track;
		f->lazy_pages = resp->features->has_lazy_pages && resp->features->lazy_pages;
		f->pidfd_store = resp->features->has_pidfd_store && resp->features->pidfd_store;
	}
	criu_resp__free_unpacked(resp, NULL);
	return r;
}

int criu_pre_dump(struct criu_conn *c, const struct criu_opts *o)
{
	CriuReq req = CRIU_REQ__INIT;
	struct criu_req_ctx x;
	CriuResp *resp = NULL;
	int r;

	if (c->state != CONN_FRESH && c->state != CONN_PRE_DUMP)
		return ph_seterr(PH_ECRIU, "criu PRE_DUMP: connection not fresh (one request per "
					   "swrk, except PRE_DUMP... DUMP)");
	r = criu_ctx_init(&x, o, "PRE_DUMP", "pre-dump.log");
	if (r < 0)
		return r;
	req.type = CRIU_REQ_TYPE__PRE_DUMP;
	req.opts = &x.opts;
	r = criu_call(c, &req, CRIU_REQ_TYPE__PRE_DUMP, "PRE_DUMP", &resp);
	if (r == 0 && !resp->success) {
		/* cr-service.c pre_dump_loop(): swrk returns after a failed pre-dump. */
		c->state = CONN_DONE;
		r = criu_fail(&x, resp);
	} else if (r == 0) {
		c->state = CONN_PRE_DUMP;
	}
	if (resp)
		criu_resp__free_unpacked(resp, NULL);
	criu_ctx_fini(&x);
	return r;
}

struct criu_dump_run {
	criu_notify_fn fn;
	void *arg;
	bool post_dump_seen;
	bool rollback; /* some notification was answered with failure */
};

static int criu_answer_notify(struct criu_conn *c, struct criu_dump_run *d, const CriuResp *resp)
{
	const char *script = resp->notify && resp->notify->script ? resp->notify->script : "";
	enum criu_verdict v = d->fn ? d->fn(script, d->arg) : CRIU_COMMIT;
	CriuReq req = CRIU_REQ__INIT;

	pr_debug("criu DUMP: notify %s -> %s", script, v == CRIU_COMMIT ? "ok" : "fail");
	if (!strcmp(script, "post-dump"))
		d->post_dump_seen = true;
	if (v != CRIU_COMMIT)
		d->rollback = true;
	req.type = CRIU_REQ_TYPE__NOTIFY;
	req.has_notify_success = true;
	req.notify_success = v == CRIU_COMMIT;
	return criu_send(c, &req, "DUMP");
}

/* Answer notifications until the DUMP response arrives. */
static int criu_dump_loop(struct criu_conn *c, struct criu_dump_run *d, CriuResp **out)
{
	CriuResp *resp = NULL;
	int r;

	for (;;) {
		r = criu_recv(c, &resp, "DUMP");
		if (r < 0)
			return r;
		if (resp->type == CRIU_REQ_TYPE__DUMP || !resp->success)
			break;
		if (resp->type != CRIU_REQ_TYPE__NOTIFY) {
			criu_resp__free_unpacked(resp, NULL);
			return ph_seterr(PH_ECRIU, "criu DUMP: unexpected message type %d",
					 resp->type);
		}
		r = criu_answer_notify(c, d, resp);
		criu_resp__free_unpacked(resp, NULL);
		if (r < 0)
			return r;
	}
	*out = resp;
	return 0;
}

int criu_dump(struct criu_conn *c, const struct criu_opts *o, criu_notify_fn fn, void *arg,
	      enum criu_dump_outcome *outcome)
{
	struct criu_dump_run d = { .fn = fn, .arg = arg };
	enum criu_dump_outcome oc = CRIU_DUMP_UNKNOWN;
	CriuReq req = CRIU_REQ__INIT;
	struct criu_req_ctx x;
	CriuResp *resp = NULL;
	int r;

	if (c->state != CONN_FRESH && c->state != CONN_PRE_DUMP) {
		r = ph_seterr(PH_ECRIU, "criu DUMP: connection not usable for a dump");
		goto out_noctx;
	}
	r = criu_ctx_init(&x, o, "DUMP", "dump.log");
	if (r < 0)
		goto out_noctx;
	x.opts.has_notify_scripts = true;
	x.opts.notify_scripts = true;
	req.type = CRIU_REQ_TYPE__DUMP;
	req.opts = &x.opts;
	r = criu_send(c, &req, "DUMP");
	if (r == 0)
		r = criu_dump_loop(c, &d, &resp); /* answers NOTIFYs on this conn */
	c->state = CONN_DONE;			  /* swrk exits after a DUMP, whatever happens */
	if (r < 0)
		goto out;
	/* cr_dump_finish(): any failure, post-dump included, resumes the tree. */
	oc = resp->success ? CRIU_DUMP_KILLED : CRIU_DUMP_RESUMED;
	if (resp->success && d.rollback)
		r = ph_seterr(PH_ECRIU, "criu DUMP succeeded although a notification was "
					"answered with failure");
	else if (!resp->success && !d.rollback)
		r = criu_fail(&x, resp);
out:
	if (resp)
		criu_resp__free_unpacked(resp, NULL);
	criu_ctx_fini(&x);
out_noctx:
	if (outcome)
		*outcome = oc;
	return r;
}

int criu_tree_signal(pid_t root, int sig)
{
	pid_t *q = malloc(CRIU_TREE_MAX * sizeof(*q));
	size_t n = 0, i;
	int r = 0;

	if (!q)
		return ph_seterr(PH_ENOMEM, "process tree of %d", (int)root);
	if (kill(root, 0) < 0 && errno == ESRCH) {
		free(q);
		return ph_seterr(PH_ENOENT, "process %d does not exist", (int)root);
	}
	q[n++] = root;
	/* Breadth-first: every thread's children file, as the tree is now. */
	for (i = 0; i < n && r == 0; i++) {
		char path[64], buf[4096];
		struct dirent *de;
		DIR *d;

		snprintf(path, sizeof(path), "/proc/%d/task", (int)q[i]);
		if (!(d = opendir(path)))
			continue; /* gone meanwhile */
		while (r == 0 && (de = readdir(d))) {
			char *p, *end;

			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/proc/%d/task/%.16s/children", (int)q[i],
				 de->d_name);
			if (read_text(path, buf, sizeof(buf)) < 0)
				continue;
			for (p = buf;; p = end) {
				long v = strtol(p, &end, 10);

				if (end == p)
					break;
				if (n == CRIU_TREE_MAX) {
					r = ph_seterr(PH_ETOOBIG,
						      "tree of %d: more than %u processes",
						      (int)root, CRIU_TREE_MAX);
					break;
				}
				q[n++] = (pid_t)v;
			}
		}
		closedir(d);
	}
	for (i = 0; i < n && r == 0; i++)
		if (kill(q[i], sig) < 0 && errno != ESRCH)
			r = ph_seterr_errno(PH_ESYS, "signal %d to %d", sig, (int)q[i]);
	free(q);
	return r;
}

/* RESTORE's notifications: the root's pid comes with post-restore. */
struct criu_rst_run {
	const struct criu_opts *o;
	pid_t root;
	bool refused; /* o->rst_notify() refused at post-restore */
	char msg[512];
};

static int criu_rst_answer(struct criu_conn *c, struct criu_rst_run *d, const CriuResp *resp)
{
	const CriuNotify *nf = resp->notify;
	const char *script = nf && nf->script ? nf->script : "";
	CriuReq req = CRIU_REQ__INIT;
	bool ok = true;

	if (nf && nf->has_pid && nf->pid > 0)
		d->root = nf->pid;
	if (d->o->rst_notify) {
		int r = d->o->rst_notify(script, d->root > 0 ? d->root : 0, d->o->rst_arg);

		/* a failed post-restore makes CRIU kill the tree (3.17 restore_root_task) */
		if (r != 0 && !strcmp(script, "post-restore")) {
			ok = false;
			d->refused = true;
			snprintf(d->msg, sizeof(d->msg), "%s", ph_errmsg());
		}
	}
	pr_debug("criu RESTORE: notify %s", script);
	req.type = CRIU_REQ_TYPE__NOTIFY;
	req.has_notify_success = true;
	req.notify_success = ok;
	return criu_send(c, &req, "RESTORE");
}

/* c: a swrk started in advance (taken over), or NULL: start one. */
static int criu_restore_call(struct criu_conn *c, const CriuReq *req, struct criu_rst_run *d,
			     CriuResp **out)
{
	CriuResp *resp = NULL;
	int r;

	*out = NULL;
	if (c && !criu_conn_alive(c)) {
		pr_warn("criu swrk started in advance is gone; starting another");
		criu_conn_close(c);
		c = NULL;
	}
	if (!c && (r = criu_conn_open(&c)) < 0)
		return ph_errctx(r, "criu RESTORE");
	r = criu_send(c, req, "RESTORE");
	while (r == 0 && (r = criu_recv(c, &resp, "RESTORE")) == 0 &&
	       resp->type == CRIU_REQ_TYPE__NOTIFY && resp->success) {
		r = criu_rst_answer(c, d, resp);
		criu_resp__free_unpacked(resp, NULL);
		resp = NULL;
	}
	if (r == 0 && resp->type != CRIU_REQ_TYPE__RESTORE && resp->success)
		r = ph_seterr(PH_ECRIU, "criu RESTORE: answered with type %d", resp->type);
	c->state = CONN_DONE;
	criu_conn_close(c);
	if (r < 0 && resp)
		criu_resp__free_unpacked(resp, NULL);
	else
		*out = resp;
	return r;
}

int criu_conf_write(const char *dir, const char *name, const char *text, char *out, size_t len)
{
	char real[PATH_MAX];
	int fd, r = 0;

	if (!realpath(dir, real))
		return ph_seterr_errno(PH_ESYS, "criu config: %s", dir);
	if (snprintf(out, len, "%s/%s", real, name) >= (int)len)
		return ph_seterr(PH_EPATH, "criu config: path too long: %.64s...", real);
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || write_full(fd, text, strlen(text)) < 0)
		r = ph_seterr_errno(PH_ESYS, "criu config: writing %s", out);
	if (fd >= 0 && close(fd) < 0 && r == 0)
		r = ph_seterr_errno(PH_ESYS, "criu config: writing %s", out);
	return r;
}

int criu_hold_conf(const char *dir, char *out, size_t len)
{
	return criu_conf_write(dir, CRIU_HOLD_CONF,
			       "# phaul: hold the restored tree stopped until the commit\n"
			       "leave-stopped\n",
			       out, len);
}

int criu_restore(const struct criu_opts *o, pid_t *pid)
{
	struct criu_rst_run d = { .o = o };
	CriuReq req = CRIU_REQ__INIT;
	struct criu_req_ctx x;
	CriuResp *resp = NULL;
	char conf[PATH_MAX];
	int r;

	*pid = -1;
	r = criu_ctx_init(&x, o, "RESTORE", "restore.log");
	if (r < 0) {
		criu_conn_close(o->conn);
		return r;
	}
	if (o->leave_stopped) {
		if ((r = criu_hold_conf(x.work_dir, conf, sizeof(conf))) < 0) {
			criu_conn_close(o->conn);
			goto out;
		}
		x.opts.config_file = conf;
	}
	/* CLONE_PARENT for the root: our child, so it does not hang off swrk. */
	x.opts.has_rst_sibling = true;
	x.opts.rst_sibling = true;
	x.opts.has_notify_scripts = o->rst_notify != NULL;
	x.opts.notify_scripts = o->rst_notify != NULL;
	req.type = CRIU_REQ_TYPE__RESTORE;
	req.opts = &x.opts;
	r = criu_restore_call(o->conn, &req, &d, &resp);
	if (r == 0 && d.refused)
		r = ph_seterr(PH_ECRIU,
			      "criu RESTORE: refused at post-restore (the tree was killed): %s",
			      d.msg);
	else if (r == 0 && !resp->success)
		r = criu_fail(&x, resp);
	else if (r == 0 && (!resp->restore || resp->restore->pid <= 0))
		r = ph_seterr(PH_ECRIU, "criu RESTORE: success without a pid");
	else if (r == 0)
		*pid = resp->restore->pid;
out:
	if (resp)
		criu_resp__free_unpacked(resp, NULL);
	criu_ctx_fini(&x);
	return r;
}

/* ---- page server ---- */

static int criu_ps_start(struct criu_ps *ps, const struct criu_opts *o)
{
	CriuReq req = CRIU_REQ__INIT;
	struct criu_req_ctx x;
	CriuResp *resp = NULL;
	int r;

	r = criu_ctx_init(&x, o, "PAGE_SERVER", "page-server.log");
	if (r < 0)
		return r;
	snprintf(ps->work_dir, sizeof(ps->work_dir), "%s", x.work_dir);
	snprintf(ps->log_file, sizeof(ps->log_file), "%s", x.log_file);
	/* CHLD: the server is swrk's child, so WAIT_PID can report its exit status. */
	req.type = CRIU_REQ_TYPE__PAGE_SERVER_CHLD;
	req.has_keep_open = true;
	req.keep_open = true;
	req.opts = &x.opts;
	ps->c->timeout_ms = CRIU_QUICK_TIMEOUT_MS;
	r = criu_call(ps->c, &req, CRIU_REQ_TYPE__PAGE_SERVER_CHLD, "PAGE_SERVER", &resp);
	if (r == 0 && !resp->success)
		r = criu_fail(&x, resp);
	else if (r == 0 && (!resp->ps || !resp->ps->has_pid || resp->ps->pid <= 0))
		r = ph_seterr(PH_ECRIU, "criu PAGE_SERVER: started without a pid");
	else if (r == 0)
		ps->pid = resp->ps->pid;
	ps->c->state = r == 0 ? CONN_KEEP : CONN_DONE;
	if (resp)
		criu_resp__free_unpacked(resp, NULL);
	criu_ctx_fini(&x);
	return r;
}

int criu_page_server(const struct criu_opts *o, struct criu_ps **out)
{
	struct criu_ps *ps;
	int r;

	*out = NULL;
	if (o->ps_fd < 0)
		return ph_seterr(PH_EUSAGE, "criu PAGE_SERVER: needs a connected ps_fd");
	ps = calloc(1, sizeof(*ps));
	if (!ps)
		return ph_seterr(PH_ENOMEM, "criu PAGE_SERVER");
	ps->pid = -1;
	r = criu_conn_open_fds(&ps->c, &o->ps_fd, 1);
	if (r == 0)
		r = criu_ps_start(ps, o);
	if (r < 0) {
		criu_ps_close(ps);
		return r;
	}
	*out = ps;
	return 0;
}

pid_t criu_ps_pid(const struct criu_ps *ps)
{
	return ps->pid;
}

int criu_ps_wait(struct criu_ps *ps, int timeout_ms)
{
	struct criu_req_ctx x = { .name = "PAGE_SERVER", .work_dir = ps->work_dir };
	CriuReq req = CRIU_REQ__INIT;
	CriuResp *resp = NULL;
	int r, st;

	if (ps->reaped)
		return ph_seterr(PH_EUSAGE, "criu PAGE_SERVER: already waited for");
	snprintf(x.log_file, sizeof(x.log_file), "%s", ps->log_file);
	req.type = CRIU_REQ_TYPE__WAIT_PID;
	req.has_pid = true;
	req.pid = ps->pid;
	ps->c->timeout_ms = timeout_ms;
	r = criu_call(ps->c, &req, CRIU_REQ_TYPE__WAIT_PID, "WAIT_PID", &resp);
	if (r < 0)
		return r; /* the server may still run: criu_ps_close() kills it */
	ps->c->state = CONN_DONE;
	ps->reaped = resp->success;
	st = resp->has_status ? resp->status : -1;
	if (!resp->success)
		r = ph_seterr(PH_ECRIU, "criu WAIT_PID %d failed: cr_errno=%d", ps->pid,
			      resp->has_cr_errno ? resp->cr_errno : 0);
	else if (!WIFEXITED(st) || WEXITSTATUS(st))
		r = ph_errctx(criu_fail(&x, NULL), "page server %d %s %d", ps->pid,
			      WIFSIGNALED(st) ? "killed by signal" : "exited with",
			      WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	criu_resp__free_unpacked(resp, NULL);
	return r;
}

void criu_ps_close(struct criu_ps *ps)
{
	if (!ps)
		return;
	/* Unreaped, the pid is still swrk's child (a zombie at worst): safe to signal. */
	if (ps->pid > 0 && !ps->reaped && ps->c && ps->c->pid > 0)
		kill(ps->pid, SIGKILL);
	criu_conn_close(ps->c);
	free(ps);
}
