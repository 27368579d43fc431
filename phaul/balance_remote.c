// SPDX-License-Identifier: GPL-2.0
/*
 * Acting for the balancer: the source's agent runs `phaul migrate --json`
 * with its own config and credentials and relays each JSON line back
 * (MigrateLine), then the exit code (MigrateDone). Off unless the agent's
 * config says allow_remote_migrate = yes.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "balance.h"
#include "caps.h"
#include "err.h"
#include "log.h"
#include "proto/msg.h"
#include "phaul.h"
#include "spawn.h"
#include "util.h"

/* One word for phaul migrate's command line: printable, no space, no option. */
static bool word_ok(const char *s)
{
	if (!*s || *s == '-' || strnlen(s, PH_LOAD_NAME_MAX) >= PH_LOAD_NAME_MAX)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

static void send_line(struct agent *a, const char *line, bool *gone)
{
	Phaul__Msg out = PHAUL__MSG__INIT;
	Phaul__MigrateLine l = PHAUL__MIGRATE_LINE__INIT;

	if (*gone)
		return;
	l.line = (char *)line;
	out.body_case = PHAUL__MSG__BODY_MIGRATE_LINE;
	out.migrate_line = &l;
	/* The balancer may go away: the migration runs on and settles itself. */
	if (msg_send(a->mux, &out) < 0) {
		pr_warn("balancer gone, migration continues: %s", ph_errmsg());
		*gone = true;
	}
}

/* Relay the child's stdout by lines until it closes; idle_ms without a line ends it. */
static void relay_lines(struct agent *a, int fd, pid_t pid, int idle_ms, bool *gone)
{
	char *buf = malloc(PH_MIGRATE_LINE_MAX + 1);
	size_t used = 0;
	bool term = false;

	if (!buf) {
		kill(pid, SIGTERM);
		return;
	}
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		char *nl;
		ssize_t n;
		int r = poll(&pfd, 1, idle_ms);

		if (r == 0 && !term) {
			/* phaul migrate rolls back on SIGTERM; keep reading its report. */
			pr_err("remote migrate silent for %d ms: stopping it", idle_ms);
			kill(pid, SIGTERM);
			term = true;
			continue;
		}
		if (r == 0) {
			kill(pid, SIGKILL);
			break;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || (n = read(fd, buf + used, PH_MIGRATE_LINE_MAX - used)) <= 0)
			break;
		used += (size_t)n;
		buf[used] = '\0';
		while ((nl = strchr(buf, '\n'))) {
			*nl = '\0';
			send_line(a, buf, gone);
			used -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, used + 1);
		}
		if (used == PH_MIGRATE_LINE_MAX) {
			send_line(a, buf, gone); /* an overlong line goes in pieces */
			used = 0;
		}
	}
	free(buf);
}

static int spawn_migrate(struct agent *a, const char *ct, const char *target, int *fd, pid_t *pid)
{
	char exe[PATH_MAX + 1];
	char *argv[10];
	struct spawn sp = { .path = exe,
			    .argv = argv,
			    .std = { SPAWN_NULL, -1, SPAWN_INHERIT },
			    .exit_code = 127 };
	int p[2], n = 0, step;
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (len < 0)
		return ph_seterr_errno(PH_ESYS, "readlink /proc/self/exe");
	exe[len] = '\0';
	argv[n++] = exe;
	if (a->cfg->path[0]) {
		argv[n++] = "-c";
		argv[n++] = a->cfg->path;
	}
	argv[n++] = "migrate";
	argv[n++] = "--json";
	argv[n++] = "--"; /* CT and target are data, never options */
	argv[n++] = (char *)ct;
	argv[n++] = (char *)target;
	argv[n] = NULL;
	if (pipe2(p, O_CLOEXEC) < 0)
		return ph_seterr_errno(PH_ESYS, "pipe");
	sp.std[1] = p[1];
	if (spawn(&sp, pid, &step) < 0) {
		close(p[0]);
		close(p[1]);
		return ph_seterr_errno(PH_ESYS, "fork");
	}
	close(p[1]);
	*fd = p[0];
	return 0;
}

int agent_on_migrate(struct agent *a, Phaul__Msg *in)
{
	Phaul__MigrateReq *q = in->migrate_req;
	Phaul__Msg out = PHAUL__MSG__INIT;
	Phaul__MigrateDone done = PHAUL__MIGRATE_DONE__INIT;
	bool gone = false;
	int fd = -1, status = 0, ret;
	pid_t pid;

	if (!a->cfg->allow_remote_migrate)
		return ph_seterr(PH_ENOTSUP,
				 "%s refuses to migrate for %s: allow_remote_migrate is off in its "
				 "config (required: yes)",
				 a->host, a->peer);
	if (!word_ok(q->ct) || !strchr(q->ct, ':') || !word_ok(q->target))
		return ph_seterr(PH_EPROTO,
				 "MigrateReq: bad CT or target (printable, no space, "
				 "no leading '-', under %d bytes)",
				 PH_LOAD_NAME_MAX);
	pr_info("%s asks to migrate %s to %s", a->peer, q->ct, q->target);
	if ((ret = spawn_migrate(a, q->ct, q->target, &fd, &pid)) < 0)
		return ret;
	relay_lines(a, fd, pid, a->cfg->timeout_s * 2000, &gone);
	close(fd);
	spawn_reap(pid, &status, -1, false);
	done.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	pr_info("remote migrate of %s to %s: exit %d", q->ct, q->target, done.exit_code);
	if (gone)
		return ph_seterr(PH_EEOF, "the balancer went away during the migration");
	out.body_case = PHAUL__MSG__BODY_MIGRATE_DONE;
	out.migrate_done = &done;
	return msg_send(a->mux, &out);
}

int bal_remote_migrate(struct mux *m, const char *ct, const char *target, int timeout_ms,
		       void (*line_fn)(void *arg, const char *line), void *arg, int *exit_code)
{
	Phaul__Msg out = PHAUL__MSG__INIT, *in = NULL;
	Phaul__MigrateReq q = PHAUL__MIGRATE_REQ__INIT;
	int ret;

	*exit_code = EXIT_FAILED;
	q.ct = (char *)ct;
	q.target = (char *)target;
	out.body_case = PHAUL__MSG__BODY_MIGRATE_REQ;
	out.migrate_req = &q;
	if ((ret = msg_send(m, &out)) < 0)
		return ret;
	for (;;) {
		/* The agent relays a line at least every few steps; silence is a failure. */
		if ((ret = msg_recv(m, &in, timeout_ms)) < 0)
			return ret;
		if (in->body_case == PHAUL__MSG__BODY_MIGRATE_DONE) {
			*exit_code = in->migrate_done->exit_code;
			ret = *exit_code == EXIT_OK
				      ? 0
				      : ph_seterr(PH_EPEER, "%s: phaul migrate %s %s exited %d",
						  mux_peer(m), ct, target, *exit_code);
			break;
		}
		if (in->body_case != PHAUL__MSG__BODY_MIGRATE_LINE) {
			ret = ph_seterr(PH_EPROTO, "%s sent %s during a remote migrate",
					mux_peer(m), msg_name(in->body_case));
			break;
		}
		if (strnlen(in->migrate_line->line, PH_MIGRATE_LINE_MAX + 1) >
		    PH_MIGRATE_LINE_MAX) {
			ret = ph_seterr(PH_ETOOBIG, "%s relayed a line over %u bytes", mux_peer(m),
					PH_MIGRATE_LINE_MAX);
			break;
		}
		if (line_fn)
			line_fn(arg, in->migrate_line->line);
		msg_free(in);
		in = NULL;
	}
	msg_free(in);
	return ret;
}
