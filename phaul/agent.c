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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "balance.h"
#include "caps.h"
#include "compat/compat.h"
#include "err.h"
#include "fs-sync/fss.h"
#include "hooks.h"
#include "log.h"
#include "msg.h"
#include "phaul.h"
#include "throttle.h"

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
	int ret;

	if (in->finish->has_keep_images && in->finish->keep_images)
		a->cfg->keep_images = true;
	ret = agent_finish(a, in->finish->commit);

	ack.ok = ret == 0;
	out.body_case = PHAUL__MSG__BODY_FINISH_ACK;
	out.finish_ack = &ack;
	if (msg_send(a->mux, &out) == 0)
		a->done = true;
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
	{ PHAUL__MSG__BODY_LOAD_REQ, AG_READY, agent_on_load },
	{ PHAUL__MSG__BODY_MIGRATE_REQ, AG_READY, agent_on_migrate },
};

int agent_serve(struct agent *a)
{
	Phaul__Hello *hello = NULL;
	Phaul__Msg *in = NULL;
	int ret;

	a->state = AG_READY;
	if ((ret = msg_hello(a->mux, "agent", &hello, a->cfg->timeout_s * 1000)) < 0)
		return ret;
	snprintf(a->peer, sizeof(a->peer), "%s", hello->hostname ? hello->hostname : "source");
	phaul__hello__free_unpacked(hello, NULL);
	pr_info("session with %s (%s)", a->peer, mux_peer(a->mux));

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

static int serve_chan(struct phaul_config *cfg, struct chan *c)
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
	ret = agent_serve(&a);
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
		ret = chan_auth_server(c, key, keylen);
	memset(key, 0, sizeof(key));
	if (ret < 0)
		chan_close(c);
	return ret;
}

/* tcp: authenticate each peer before reading anything else from it. */
static int listen_loop(struct phaul_config *cfg, const char *addr)
{
	uint8_t key[PH_SECRET_MAX];
	size_t keylen;
	int lfd, ret;

	if ((ret = chan_load_secret(cfg->secret_file, key, &keylen)) < 0)
		return ret;
	if ((lfd = chan_tcp_listen(addr)) < 0)
		return lfd;
	pr_info("listening on %s", addr);
	signal(SIGCHLD, SIG_IGN); /* children reap themselves */
	for (;;) {
		struct chan *c = NULL;
		pid_t pid;

		if ((ret = chan_tcp_accept(lfd, &c)) < 0) {
			pr_warn("accept: %s", ph_errmsg());
			continue;
		}
		pid = fork();
		if (pid < 0) {
			pr_perror("fork");
			chan_close(c);
			continue;
		}
		if (pid > 0) {
			chan_release(c); /* the child serves it */
			continue;
		}
		close(lfd);
		signal(SIGCHLD, SIG_DFL);
		if ((ret = chan_auth_server(c, key, keylen)) < 0) {
			pr_err("%s", ph_errmsg());
			chan_close(c);
			_exit(EXIT_FAILED);
		}
		memset(key, 0, sizeof(key));
		ret = serve_chan(cfg, c);
		if (ret < 0)
			pr_err("%s", ph_errmsg());
		_exit(ret < 0 ? EXIT_FAILED : EXIT_OK);
	}
}

static const char agent_usage[] =
	"Usage: phaul agent --stdio\n"
	"       phaul agent --listen [ADDR:PORT]\n"
	"       phaul agent --inetd\n"
	"\n"
	"Run the destination agent.\n"
	"  --stdio            talk on stdin/stdout (what the ssh transport runs)\n"
	"  --listen [ADDR]    accept tcp peers that prove the shared secret\n"
	"                     (default from config: 127.0.0.1:7070, loopback only)\n"
	"  --inetd            stdin/stdout is one accepted tcp peer (inetd, systemd\n"
	"                     socket activation): it must prove the shared secret\n"
	"  --secret-file F    shared secret for --listen\n"
	"  --work-dir D       where received images go\n";

int cmd_agent(struct phaul_config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "stdio", no_argument, NULL, 's' },
		{ "inetd", no_argument, NULL, 'i' },
		{ "listen", optional_argument, NULL, 'l' },
		{ "secret-file", required_argument, NULL, 'S' },
		{ "work-dir", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *listen = NULL;
	int c, stdio = 0, ret;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': stdio = 1; break;
		case 'i': stdio = 2; break;
		case 'l':
			/* "--listen ADDR" as well as "--listen=ADDR" */
			if (!optarg && optind < argc && argv[optind][0] != '-')
				optarg = argv[optind++];
			listen = optarg ? optarg : cfg->listen;
			break;
		case 'S': snprintf(cfg->secret_file, sizeof(cfg->secret_file), "%s", optarg); break;
		case 'w': snprintf(cfg->work_dir, sizeof(cfg->work_dir), "%s", optarg); break;
		case 'h': fputs(agent_usage, stdout); return EXIT_OK;
		default: fputs(agent_usage, stderr); return EXIT_USAGE;
		}
	}
	if (!stdio == !listen || optind != argc) {
		fputs(agent_usage, stderr);
		return EXIT_USAGE;
	}
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
			ret = serve_chan(cfg, ch);
	} else {
		ret = listen_loop(cfg, listen);
	}
	if (ret < 0) {
		pr_err("%s", ph_errmsg());
		return EXIT_FAILED;
	}
	return EXIT_OK;
}
