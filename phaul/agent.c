// SPDX-License-Identifier: GPL-2.0
/*
 * The destination agent. Serves one source over the mux: answers checks,
 * receives pages and images into a per-migration work dir, restores, and
 * commits or discards on the source's word. Every message is checked
 * against the table of states it is allowed in; anything else ends the
 * session with a protocol error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "balance.h"
#include "caps.h"
#include "compat/compat.h"
#include "cli.h"
#include "err.h"
#include "fs-sync/fss.h"
#include "hooks.h"
#include "htype.h"
#include "log.h"
#include "proto/msg.h"
#include "phaul.h"
#include "throttle.h"
#include "util.h"

static int on_check(struct agent *a, Phaul__Msg *in)
{
	Phaul__CheckReq *q = in->check_req;
	Phaul__Msg out = PHAUL__MSG__INIT;
	Phaul__CheckResp resp = PHAUL__CHECK_RESP__INIT;
	Phaul__HostFacts f;
	struct compat_probe p = {
		.work_dir = a->cfg->work_dir,
		.criu = true,
		.pids = q->pids,
		.npids = q->n_pids,
		.cpuinfo = q->has_cpuinfo ? q->cpuinfo.data : NULL,
		.cpuinfo_len = q->has_cpuinfo ? q->cpuinfo.len : 0,
	};
	int ret;

	if (q->n_pids > PH_CHECK_PIDS_MAX)
		return ph_seterr(PH_ETOOBIG, "CheckReq names %zu pids (max %u)", q->n_pids,
				 PH_CHECK_PIDS_MAX);
	if ((ret = compat_files_valid(q->files, q->n_files)) < 0)
		return ret;
	if ((ret = agent_hook(a, HOOK_BEFORE_CHECK, NULL)) < 0)
		return ph_errctx(ret, "%s", a->host);
	/* A failing probe is a fact to report, not a reason to hang up. */
	if (compat_local_facts(&p, &f) < 0)
		pr_warn("host facts incomplete: %s", ph_errmsg());
	else if (compat_files_lookup(q->files, q->n_files, &f) < 0)
		pr_warn("files not looked up: %s", ph_errmsg());
	if (q->ct)
		ct_facts_fill(q->ct, q->ct_path, q->ct_image, &f);
	resp.facts = &f;
	out.body_case = PHAUL__MSG__BODY_CHECK_RESP;
	out.check_resp = &resp;
	ret = msg_send(a->mux, &out);
	compat_facts_free(&f);
	return ret;
}

static int on_finish(struct agent *a, Phaul__Msg *in)
{
	Phaul__Msg out = PHAUL__MSG__INIT;
	Phaul__FinishAck ack = PHAUL__FINISH_ACK__INIT;
	uint64_t t0 = now_us();
	int ret;

	if (in->finish->has_keep_images && in->finish->keep_images)
		a->cfg->keep_images = true;
	/* for the session's end line only; the log makes it visible */
	snprintf(a->finish_reason, sizeof(a->finish_reason), "%s",
		 in->finish->reason ? in->finish->reason : "");
	ret = agent_finish(a, in->finish->commit);
	ack.has_dst_go_us = 1;
	ack.dst_go_us = now_us() - t0;

	ack.ok = ret == 0;
	out.body_case = PHAUL__MSG__BODY_FINISH_ACK;
	out.finish_ack = &ack;
	if (msg_send(a->mux, &out) == 0)
		a->done = true;
	if (ret == 0 && in->finish->commit && a->lazy)
		ret = agent_lazy_settle(a);
	return ret;
}

static int on_fs_start(struct agent *a, Phaul__Msg *in)
{
	return fss_serve(a->mux, in->fs_start, a->cfg->fs_root, a->host);
}

static int on_fs_probe(struct agent *a, Phaul__Msg *in)
{
	return fss_serve_probe(a->mux, in->fs_probe, a->cfg->fs_root, a->host);
}

/* A source whose post-copy link was cut: this session becomes that link (pclink.h). */
static int on_resume(struct agent *a, Phaul__Msg *in)
{
	a->done = true; /* answered either way; the session ends with the link */
	pclink_serve_resume(a->mux, a->cfg, in->resume, a->host);
	return 0;
}

/* Which messages the agent takes in which state. */
static const struct {
	Phaul__Msg__BodyCase body;
	unsigned states;
	int (*fn)(struct agent *a, Phaul__Msg *in);
} dispatch[] = {
	{ PHAUL__MSG__BODY_CHECK_REQ, AG_READY, on_check },
	{ PHAUL__MSG__BODY_ITER_START, AG_READY | AG_COPYING, agent_on_iter_start },
	{ PHAUL__MSG__BODY_IMAGE_FILE, AG_COPYING, agent_on_image_file },
	{ PHAUL__MSG__BODY_IMAGES_DONE, AG_COPYING, agent_on_images_done },
	{ PHAUL__MSG__BODY_RESTORE_REQ, AG_COPYING, agent_on_restore },
	{ PHAUL__MSG__BODY_FS_START, AG_READY | AG_COPYING, on_fs_start },
	{ PHAUL__MSG__BODY_FS_PROBE, AG_READY | AG_COPYING, on_fs_probe },
	{ PHAUL__MSG__BODY_FINISH, AG_READY | AG_COPYING | AG_RESTORED, on_finish },
	{ PHAUL__MSG__BODY_RECOVER, AG_READY, agent_on_recover },
	{ PHAUL__MSG__BODY_RESUME, AG_READY, on_resume },
	{ PHAUL__MSG__BODY_LOAD_REQ, AG_READY, agent_on_load },
	{ PHAUL__MSG__BODY_MIGRATE_REQ, AG_READY, agent_on_migrate },
};

int agent_serve(struct agent *a)
{
	Phaul__Hello *hello = NULL;
	Phaul__Msg *in = NULL;
	int ret;

	a->state = AG_READY;
	if ((ret = msg_hello_ex(a->mux, "agent", NULL, a->run_dir[0] ? a->run_dir : NULL, &hello,
				a->cfg->timeout_s * 1000)) < 0)
		return ret;
	snprintf(a->peer, sizeof(a->peer), "%s", hello->hostname ? hello->hostname : "source");
	agent_audit_start(a, hello);
	phaul__hello__free_unpacked(hello, NULL);

	while (!a->done) {
		size_t i;

		/* The source may think for a long time between messages (pre-copy). */
		if ((ret = msg_recv(a->mux, &in, -1)) < 0)
			break;
		for (i = 0; i < sizeof(dispatch) / sizeof(dispatch[0]); i++)
			if (dispatch[i].body == in->body_case)
				break;
		if (i == sizeof(dispatch) / sizeof(dispatch[0]) ||
		    !(dispatch[i].states & a->state)) {
			ret = ph_seterr(PH_EPROTO, "%s not allowed in state %s",
					msg_name(in->body_case), agent_state_name(a->state));
			msg_send_error(a->mux, ret, ph_errmsg(), a->host);
			break;
		}
		ret = dispatch[i].fn(a, in);
		msg_free(in);
		in = NULL;
		if (ret < 0) {
			msg_send_error(a->mux, ret, ph_errmsg(), a->host);
			break;
		}
	}
	msg_free(in);
	if (!a->done) {
		/* The source is gone or broke the protocol: nothing received is kept. */
		pr_warn("session ended without commit: %s", ph_errmsg());
		agent_session_lost(a);
	}
	return a->done ? 0 : ret;
}

static int serve_chan(struct phaul_config *cfg, struct chan *c, const char *transport)
{
	struct agent a;
	int ret;

	memset(&a, 0, sizeof(a));
	a.cfg = cfg;
	a.lock_fd = -1;
	gethostname(a.host, sizeof(a.host) - 1);
	if ((ret = mux_start(c, &a.mux)) < 0)
		return ret; /* mux_start() closed c */
	mux_set_send_timeout(a.mux, cfg->timeout_s * 1000);
	/* The source's keepalives make silence mean a dead or stalled peer. */
	mux_set_idle_timeout(a.mux,
			     (cfg->idle_timeout_s ? cfg->idle_timeout_s : cfg->timeout_s) * 1000);
	if (agent_audit_init(&a, transport) < 0)
		pr_warn("%s", ph_errmsg());
	ret = agent_serve(&a);
	agent_audit_end(&a, ret);
	agent_cleanup(&a);
	mux_close(a.mux);
	return ret;
}

/* --inetd: the peer on stdin/stdout proves the secret like a tcp peer. */
static int auth_stdio(struct phaul_config *cfg, struct chan *c)
{
	uint8_t key[PH_SECRET_MAX];
	size_t keylen;
	int ret;

	if ((ret = chan_load_secret(cfg->secret_file, key, &keylen)) == 0)
		ret = chan_auth_server_tmo(c, key, keylen, cfg->login_grace_s * 1000);
	memset(key, 0, sizeof(key));
	if (ret < 0)
		chan_close(c);
	return ret;
}

/*
 * tcp: a hard cap on unauthenticated peers, globally and per source address
 * (OpenSSH's MaxStartups, random early drop included), and on authenticated
 * sessions. Each child proves the peer within login_grace_time and tells
 * the listener over a report socket: "A" (authenticated: may it serve?
 * the listener answers "G" or "N") or "F<why>" (failed). The listener counts
 * from its table of children, reaps them itself, and refuses what is past
 * a cap at once, without a fork. Refusals and failures are logged at most
 * once a second per kind, with the count of those left out.
 */

/* One child of the listener. */
struct kid {
	pid_t pid;     /* 0: free slot */
	int fd;	       /* our end of its report socket; -1 when it has no more to say */
	bool authed;   /* proved the secret and was let in */
	char src[128]; /* peer address without the port */
};

struct ratelog {
	int64_t last_s;	     /* second of the last line */
	unsigned suppressed; /* lines left out since */
	const char *what;    /* "refused connections", for the summary line */
	char latest[768];    /* the last line left out */
};

struct listener {
	struct phaul_config *cfg;
	int lfd;
	struct kid *kids;
	size_t nkids;
	struct ratelog refused, failed;
};

static int64_t mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* Say what was left out once the burst is over (a quiet second after the last line). */
static void ratelog_flush(struct ratelog *r)
{
	if (r->suppressed && mono_s() > r->last_s + 1) {
		pr_warn("%u more %s not logged (the last: %s)", r->suppressed, r->what, r->latest);
		r->suppressed = 0;
		r->last_s = mono_s();
	}
}

static void __attribute__((format(printf, 2, 3))) ratelog(struct ratelog *r, const char *fmt, ...)
{
	char line[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (mono_s() == r->last_s) {
		r->suppressed++;
		snprintf(r->latest, sizeof(r->latest), "%s", line);
		return;
	}
	if (r->suppressed)
		pr_warn("%s (%u more %s not logged)", line, r->suppressed, r->what);
	else
		pr_warn("%s", line);
	r->suppressed = 0;
	r->last_s = mono_s();
}

/* "tcp:1.2.3.4:5678" or "tcp:[::1]:5678" -> "1.2.3.4" or "[::1]". */
static void peer_source(const char *peer, char *src, size_t len)
{
	const char *p = strncmp(peer, "tcp:", 4) ? peer : peer + 4, *colon = strrchr(p, ':');

	snprintf(src, len, "%.*s", colon ? (int)(colon - p) : (int)strlen(p), p);
}

static void count_kids(const struct listener *l, const char *src, unsigned *unauth,
		       unsigned *from_src, unsigned *authed)
{
	*unauth = *from_src = *authed = 0;
	for (size_t i = 0; i < l->nkids; i++) {
		const struct kid *k = &l->kids[i];

		if (!k->pid)
			continue;
		if (k->authed) {
			(*authed)++;
			continue;
		}
		(*unauth)++;
		if (src && !strcmp(k->src, src))
			(*from_src)++;
	}
}

/* NULL to admit a new peer from src, else why not (for the log). */
static const char *admit(struct listener *l, const char *src, char *why, size_t len)
{
	const struct phaul_config *c = l->cfg;
	unsigned unauth, from_src, authed, p;

	count_kids(l, src, &unauth, &from_src, &authed);
	if (from_src >= c->per_source_max_startups) {
		snprintf(why, len,
			 "%u unauthenticated connections from %s (per_source_max_startups "
			 "= %u)",
			 from_src, src, c->per_source_max_startups);
		return why;
	}
	if (unauth >= c->max_startups_full) {
		snprintf(why, len, "%u unauthenticated connections (max_startups = %u)", unauth,
			 c->max_startups_full);
		return why;
	}
	if (unauth >= c->max_startups_start) {
		/* OpenSSH's ramp: rate% at start, rising linearly to 100% at full. */
		p = c->max_startups_rate + (100 - c->max_startups_rate) *
						   (unauth - c->max_startups_start) /
						   (c->max_startups_full - c->max_startups_start);
		if ((unsigned)(random() % 100) < p) {
			snprintf(why, len,
				 "random early drop at %u unauthenticated connections "
				 "(max_startups = %u:%u:%u)",
				 unauth, c->max_startups_start, c->max_startups_rate,
				 c->max_startups_full);
			return why;
		}
	}
	return NULL;
}

/* A refused source has this long to read why and hang up before we do. */
#define REFUSE_LINGER_MS 5000

/*
 * In a child the listener refused after authentication (and logged): tell
 * the source why, then read and drop what it sends until it hangs up. The
 * source writes its Hello without waiting for us: hanging up first would
 * fail that write (a reset, or our close record) before the source reads
 * the refusal, and it would report a broken pipe instead of the reason.
 */
static void refuse_session(struct phaul_config *cfg, struct chan *c)
{
	uint64_t until = now_us() + REFUSE_LINGER_MS * 1000ull, now;
	char host[256] = "", msg[512];
	uint8_t *drop = NULL;
	struct mux *m;

	gethostname(host, sizeof(host) - 1);
	snprintf(msg, sizeof(msg),
		 "agent busy: %u sessions already running (max_sessions); "
		 "try again later",
		 cfg->max_sessions);
	if (mux_start(c, &m) < 0)
		return;
	msg_send_error(m, -PH_ETOOBIG, msg, host);
	drop = malloc(PH_FRAME_MAX); /* any record fits: none is refused and kept */
	while (drop && (now = now_us()) < until &&
	       mux_recv(m, MUX_CTL, drop, PH_FRAME_MAX, (int)((until - now) / 1000)) >= 0)
		;
	free(drop);
	mux_close(m);
}

/* The child: prove the peer, ask the listener, serve. Never returns. */
static void kid_main(struct listener *l, struct chan *c, int rep, uint8_t *key, size_t keylen)
{
	struct pollfd pf = { .fd = rep, .events = POLLIN };
	char verdict = 'N', msg[600];
	int ret;

	signal(SIGCHLD, SIG_DFL);
	close(l->lfd);
	for (size_t i = 0; i < l->nkids; i++)
		if (l->kids[i].fd >= 0)
			close(l->kids[i].fd);
	ret = chan_auth_server_tmo(c, key, keylen, l->cfg->login_grace_s * 1000);
	memset(key, 0, PH_SECRET_MAX);
	if (ret < 0) {
		/* the listener logs it, rate-limited */
		snprintf(msg, sizeof(msg), "F%s", ph_errmsg());
		send(rep, msg, strlen(msg), MSG_NOSIGNAL);
		chan_close(c);
		_exit(EXIT_FAILED);
	}
	if (send(rep, "A", 1, MSG_NOSIGNAL) == 1 && poll(&pf, 1, 10000) == 1 &&
	    recv(rep, &verdict, 1, 0) != 1)
		verdict = 'N';
	close(rep);
	if (verdict != 'G') {
		refuse_session(l->cfg, c);
		_exit(EXIT_FAILED);
	}
	ret = serve_chan(l->cfg, c, "tcp");
	if (ret < 0)
		pr_err("%s", ph_errmsg());
	_exit(ret < 0 ? EXIT_FAILED : EXIT_OK);
}

/* A report from kid k: its authentication verdict, or the end of its reports. */
static void on_report(struct listener *l, struct kid *k)
{
	unsigned unauth, from_src, authed;
	char buf[600];
	ssize_t n = recv(k->fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	char go;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0 || buf[0] == 'F') {
		if (n > 1) {
			buf[n] = '\0';
			ratelog(&l->failed, "%s", buf + 1);
		}
		close(k->fd);
		k->fd = -1;
		return;
	}
	count_kids(l, NULL, &unauth, &from_src, &authed);
	go = authed < l->cfg->max_sessions ? 'G' : 'N';
	if (go == 'G')
		k->authed = true;
	else
		ratelog(&l->refused,
			"refused session from %s: %u sessions running (max_sessions "
			"= %u)",
			k->src, authed, l->cfg->max_sessions);
	send(k->fd, &go, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(k->fd);
	k->fd = -1;
}

static void reap_kids(struct listener *l)
{
	pid_t pid;

	while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
		for (size_t i = 0; i < l->nkids; i++)
			if (l->kids[i].pid == pid) {
				if (l->kids[i].fd >= 0) /* its last words may still be queued */
					on_report(l, &l->kids[i]);
				if (l->kids[i].fd >= 0)
					close(l->kids[i].fd);
				memset(&l->kids[i], 0, sizeof(l->kids[i]));
				l->kids[i].fd = -1;
			}
}

/* One accepted peer: refused at a cap, or handed to a new child. */
static void on_accept(struct listener *l, struct chan *c, uint8_t *key, size_t keylen)
{
	char src[128], why[256];
	struct kid *k = NULL;
	int sp[2];
	pid_t pid;

	peer_source(c->peer, src, sizeof(src));
	if (admit(l, src, why, sizeof(why))) {
		ratelog(&l->refused, "refused %s before authentication: %s", c->peer, why);
		chan_close(c);
		return;
	}
	for (size_t i = 0; i < l->nkids && !k; i++)
		if (!l->kids[i].pid)
			k = &l->kids[i];
	if (!k || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		ratelog(&l->refused, "refused %s: %s", c->peer,
			k ? strerror(errno) : "no free child slot");
		chan_close(c);
		return;
	}
	pid = fork();
	if (pid == 0) {
		close(sp[0]);
		kid_main(l, c, sp[1], key, keylen);
	}
	close(sp[1]);
	if (pid < 0) {
		ratelog(&l->refused, "refused %s: fork: %s", c->peer, strerror(errno));
		close(sp[0]);
		chan_close(c);
		return;
	}
	k->pid = pid;
	k->fd = sp[0];
	k->authed = false;
	snprintf(k->src, sizeof(k->src), "%s", src);
	chan_release(c); /* the child serves it */
}

static void on_sigchld(int sig)
{
	(void)sig; /* only to interrupt poll() */
}

static int listen_loop(struct phaul_config *cfg, const char *addr)
{
	struct sigaction sa = { .sa_handler = on_sigchld, .sa_flags = SA_NOCLDSTOP };
	struct listener l = { .cfg = cfg, .lfd = -1 };
	struct pollfd *pf = NULL;
	uint8_t key[PH_SECRET_MAX];
	size_t keylen;
	int ret;

	l.refused.what = "refused connections";
	l.failed.what = "failed authentications";
	if ((ret = chan_load_secret(cfg->secret_file, key, &keylen)) < 0)
		return ret;
	l.nkids = (size_t)cfg->max_startups_full + cfg->max_sessions;
	l.kids = calloc(l.nkids, sizeof(*l.kids));
	pf = calloc(l.nkids + 1, sizeof(*pf));
	if (!l.kids || !pf) {
		ret = ph_seterr(PH_ENOMEM, "listener: %zu child slots", l.nkids);
		goto out;
	}
	for (size_t i = 0; i < l.nkids; i++)
		l.kids[i].fd = -1;
	if ((ret = l.lfd = chan_tcp_listen(addr)) < 0)
		goto out;
	/* poll() said readable, but the peer may be gone by accept(): never block there */
	fcntl(l.lfd, F_SETFL, fcntl(l.lfd, F_GETFL) | O_NONBLOCK);
	sigaction(SIGCHLD, &sa, NULL); /* no SA_RESTART: poll() wakes to reap */
	srandom((unsigned)getpid() ^ (unsigned)time(NULL));
	pr_info("listening on %s (max_startups %u:%u:%u, per source %u, max_sessions %u)", addr,
		cfg->max_startups_start, cfg->max_startups_rate, cfg->max_startups_full,
		cfg->per_source_max_startups, cfg->max_sessions);
	for (;;) {
		struct chan *c = NULL;
		size_t n = 0;

		pf[n++] = (struct pollfd){ .fd = l.lfd, .events = POLLIN };
		for (size_t i = 0; i < l.nkids; i++)
			if (l.kids[i].fd >= 0)
				pf[n++] = (struct pollfd){ .fd = l.kids[i].fd, .events = POLLIN };
		poll(pf, n, 1000);
		reap_kids(&l);
		for (size_t i = 0; i < l.nkids; i++) {
			struct kid *k = &l.kids[i];

			for (size_t j = 1; j < n && k->fd >= 0; j++)
				if (pf[j].fd == k->fd && pf[j].revents) {
					on_report(&l, k);
					break;
				}
		}
		ratelog_flush(&l.refused);
		ratelog_flush(&l.failed);
		if (!(pf[0].revents & POLLIN))
			continue;
		if (chan_tcp_accept(l.lfd, &c) < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				ratelog(&l.refused, "accept: %s", ph_errmsg());
				usleep(100000); /* out of fds, say: let children end */
			}
			continue;
		}
		on_accept(&l, c, key, keylen);
	}
out:
	memset(key, 0, sizeof(key));
	free(pf);
	free(l.kids);
	return ret;
}

const char agent_usage[] =
	"Usage: phaul agent --stdio\n"
	"       phaul agent --listen [ADDR:PORT]\n"
	"       phaul agent --inetd\n"
	"\n"
	"Run the destination agent.\n"
	"  --stdio            talk on stdin/stdout (what the ssh transport runs)\n"
	"  --listen [ADDR:PORT]  accept tcp peers that prove the shared secret\n"
	"                     (default: listen in the config, 127.0.0.1:7070)\n"
	"                     within the config's max_startups, per_source_max_startups,\n"
	"                     max_sessions and login_grace_time\n"
	"  --inetd            stdin/stdout is one accepted tcp peer (inetd, systemd\n"
	"                     socket activation): it must prove the shared secret\n"
	"  --secret-file F    shared secret for --listen and --inetd\n"
	"  --work-dir D       where received images go\n";

const struct option agent_opts[] = {
	{ "stdio", no_argument, NULL, 's' },
	{ "inetd", no_argument, NULL, 'i' },
	{ "listen", optional_argument, NULL, 'l' },
	{ "secret-file", required_argument, NULL, 'S' },
	{ "work-dir", required_argument, NULL, 'w' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Mode and address make sense, the secret is usable: else a usage error (exit 2). */
static int agent_preflight(const struct phaul_config *cfg, int stdio, const char *listen, int nargs)
{
	struct cli_host h;

	if (!stdio && !listen)
		return cli_usage_error("agent", "missing the mode: --stdio, --inetd or --listen");
	if (nargs)
		return cli_usage_error("agent", "takes no operands");
	if (listen && cli_parse_host(listen, -1, &h) < 0)
		return cli_usage_error("agent", "--listen: %s", ph_errmsg());
	if (listen && (h.user[0] || h.port < 0))
		return cli_usage_error("agent", "--listen '%s': expected ADDR:PORT or [IPV6]:PORT",
				       listen);
	if (stdio != 1 && cli_check_secret(cfg->secret_file) < 0)
		return cli_usage_error("agent", "%s", ph_errmsg());
	return 0;
}

int cmd_agent(struct phaul_config *cfg, int argc, char **argv)
{
	const char *listen = NULL;
	int c, stdio = 0, ret, modes = 0;

	while ((c = getopt_long(argc, argv, "h", agent_opts, NULL)) != -1) {
		switch (c) {
		case 's':
			stdio = 1;
			modes++;
			break;
		case 'i':
			stdio = 2;
			modes++;
			break;
		case 'l':
			/* "--listen ADDR" as well as "--listen=ADDR" */
			if (!optarg && optind < argc && argv[optind][0] != '-')
				optarg = argv[optind++];
			listen = optarg ? optarg : cfg->listen;
			modes++;
			break;
		case 'S': snprintf(cfg->secret_file, sizeof(cfg->secret_file), "%s", optarg); break;
		case 'w': snprintf(cfg->work_dir, sizeof(cfg->work_dir), "%s", optarg); break;
		case 'h': fputs(agent_usage, stdout); return EXIT_OK;
		default: return cli_usage_hint("agent");
		}
	}
	if (modes > 1)
		return cli_usage_error("agent", "--stdio, --inetd and --listen exclude each other");
	if ((ret = agent_preflight(cfg, stdio, listen, argc - optind)) != 0)
		return ret;
	log_init("agent", cfg->log_level);
	/* A throttle left on this host by a source-side phaul that died. */
	if (throttle_recover(cfg->work_dir) < 0)
		pr_warn("%s", ph_errmsg());
	if (stdio) {
		struct chan *ch;
		int rfd, wfd;

		/*
		 * stdout is the protocol: move it aside so that nothing we start
		 * (CRIU, rsync, hooks) can write into the stream by accident.
		 */
		rfd = fcntl(0, F_DUPFD_CLOEXEC, 3);
		wfd = fcntl(1, F_DUPFD_CLOEXEC, 3);
		if (rfd < 0 || wfd < 0 || dup2(2, 1) < 0) {
			pr_perror("moving stdio aside");
			return EXIT_FAILED;
		}
		close(0);
		if (open("/dev/null", O_RDONLY) != 0) {
			pr_perror("/dev/null");
			return EXIT_FAILED;
		}
		ret = chan_fd_open(rfd, wfd, stdio == 1 ? "ssh-client" : "inetd-peer", &ch);
		if (ret == 0 && stdio == 2)
			ret = auth_stdio(cfg, ch);
		if (ret == 0)
			ret = serve_chan(cfg, ch, stdio == 1 ? "ssh" : "tcp (inetd)");
	} else {
		ret = listen_loop(cfg, listen);
	}
	if (ret < 0) {
		pr_err("%s", ph_errmsg());
		return EXIT_FAILED;
	}
	return EXIT_OK;
}
