// SPDX-License-Identifier: GPL-2.0
/*
 * "phaul fs-rsh": the remote shell of the source's rsync client. Instead
 * of logging in anywhere it passes its stdin/stdout (rsync's socketpair)
 * and the command rsync wants run remotely back to the fss_sync() that
 * started rsync, then exits. phaul then talks to rsync directly: no copy
 * process sits in the data path, and rsync sees its pipe close exactly
 * when phaul's bridge closes it.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "caps.h"
#include "err.h"
#include "fss.h"
#include "fss_int.h"
#include "fss_rsh.h"

int fss_rsh_main(int argc, char **argv)
{
	const char *env = getenv(FSS_RSH_FD_ENV);
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	char data[PH_CMD_MAX];
	struct iovec iov = { .iov_base = data };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c;
	int fd, fds[2] = { 0, 1 }, i;
	size_t len = 0;
	char *end;

	fd = env ? (int)strtol(env, &end, 10) : -1;
	if (!env || *end || fd < 3) {
		fprintf(stderr, "phaul fs-rsh: run by phaul's fs-sync only ($%s unset)\n",
			FSS_RSH_FD_ENV);
		return 255;
	}
	for (i = 1; i < argc; i++) {
		size_t n = strlen(argv[i]) + 1;

		if (len + n > sizeof(data)) {
			fprintf(stderr, "phaul fs-rsh: command line longer than %u bytes\n",
				PH_CMD_MAX);
			return 255;
		}
		memcpy(data + len, argv[i], n);
		len += n;
	}
	iov.iov_len = len;
	memset(u.buf, 0, sizeof(u.buf));
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	if (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0) {
		fprintf(stderr, "phaul fs-rsh: handing the connection to phaul: %s\n",
			strerror(errno));
		return 255;
	}
	return 0;
}

/* The handoff's fds, whatever else arrived closed. */
static int take_fds(struct msghdr *mh, int fds[2])
{
	struct cmsghdr *c;
	int n = 0;

	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int)), got[8];

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || k > 8)
			continue;
		memcpy(got, CMSG_DATA(c), k * sizeof(int));
		for (int i = 0; i < k; i++) {
			if (n < 2)
				fds[n++] = got[i];
			else
				close(got[i]);
		}
	}
	return n;
}

/* Split the NUL-separated command; the first word is the host we gave rsync. */
static int split(struct fss_rsh_cmd *cmd, size_t len)
{
	size_t i = 0;

	cmd->n = 0;
	if (len == 0 || cmd->buf[len - 1] != '\0')
		return ph_seterr(PH_ERSYNC, "fs-rsh sent a malformed command line");
	i = strlen(cmd->buf) + 1; /* FSS_RSH_HOST */
	while (i < len) {
		if (cmd->n == PH_FSS_ARGS_MAX)
			return ph_seterr(PH_ERSYNC, "rsync's remote command has more than %u words",
					 PH_FSS_ARGS_MAX);
		cmd->args[cmd->n++] = cmd->buf + i;
		i += strlen(cmd->buf + i) + 1;
	}
	return 0;
}

int fss_rsh_accept(int sk, int timeout_ms, struct fss_rsh_cmd *cmd, int fds[2])
{
	union {
		char buf[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = cmd->buf, .iov_len = sizeof(cmd->buf) };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct pollfd pf = { .fd = sk, .events = POLLIN };
	ssize_t n;
	int r;

	fds[0] = fds[1] = -1;
	while ((r = poll(&pf, 1, timeout_ms)) < 0 && errno == EINTR)
		;
	if (r == 0)
		return ph_seterr(PH_ETIMEDOUT, "rsync did not start its remote shell within %d ms",
				 timeout_ms);
	n = recvmsg(sk, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return ph_seterr_errno(PH_ESYS, "receiving rsync's connection from fs-rsh");
	if (take_fds(&mh, fds) != 2 || n == 0 || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		for (int i = 0; i < 2; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		fds[0] = fds[1] = -1;
		return ph_seterr(PH_ERSYNC, "rsync exited or its remote shell failed before "
					    "connecting");
	}
	return split(cmd, (size_t)n);
}
