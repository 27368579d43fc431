// SPDX-License-Identifier: GPL-2.0
/*
 * fd backend (also the body of the tcp backend): non-blocking fds driven
 * by poll() together with a self-pipe, so chan_shutdown() from any thread
 * wakes a reader or writer blocked on a peer that went silent.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "transport/chan_int.h"

struct fd_priv {
	int rfd, wfd;
	int wake[2]; /* self-pipe: readable once shut down */
	atomic_int shut;
	atomic_int timeout_ms;
	atomic_int wtimeout_ms; /* writes only; timeout_ms wins when set */
	int wsock; /* wfd is a socket: send(MSG_NOSIGNAL) instead of write() */
};

int64_t chan_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 0 when fd is ready, 1 when shut down, <0 on timeout or poll failure. */
static int fd_wait(struct chan *c, int fd, short ev)
{
	struct fd_priv *p = c->priv;
	struct pollfd pfd[2] = { { fd, ev, 0 }, { p->wake[0], POLLIN, 0 } };
	int tmo = atomic_load(&p->timeout_ms);
	int r;

	if (tmo < 0 && ev == POLLOUT)
		tmo = atomic_load(&p->wtimeout_ms);

	do {
		r = poll(pfd, 2, tmo);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return ph_seterr_errno(PH_ESYS, "%s: poll", c->peer);
	if (atomic_load(&p->shut) || pfd[1].revents)
		return 1;
	if (r == 0)
		return ph_seterr(PH_ETIMEDOUT, "%s: no progress within %d ms", c->peer, tmo);
	return 0;
}

static ssize_t fd_read(struct chan *c, void *buf, size_t len)
{
	struct fd_priv *p = c->priv;

	for (;;) {
		ssize_t n;
		int r;

		if (atomic_load(&p->shut))
			return 0;
		n = read(p->rfd, buf, len);
		if (n >= 0)
			return n;
		if (errno == ECONNRESET)
			return ph_seterr_errno(PH_EEOF, "peer %s closed the connection", c->peer);
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
			return ph_seterr_errno(PH_ESYS, "reading from %s", c->peer);
		r = fd_wait(c, p->rfd, POLLIN);
		if (r)
			return r > 0 ? 0 : r;
	}
}

/*
 * write() to a pipe whose reader is gone raises SIGPIPE; keep it from
 * killing the process: block it for this thread, and swallow the one the
 * write queued.
 */
static ssize_t fd_write_pipe(int fd, const void *buf, size_t len)
{
	sigset_t pipe_set, old;
	struct timespec zero = { 0, 0 };
	ssize_t n;
	int saved;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	n = write(fd, buf, len);
	saved = errno;
	if (n < 0 && errno == EPIPE)
		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return n;
}

static ssize_t fd_write(struct chan *c, const void *buf, size_t len)
{
	struct fd_priv *p = c->priv;

	for (;;) {
		ssize_t n;
		int r;

		if (atomic_load(&p->shut))
			return ph_seterr(PH_EEOF, "%s: channel shut down", c->peer);
		if (p->wsock)
			n = send(p->wfd, buf, len, MSG_NOSIGNAL);
		else
			n = fd_write_pipe(p->wfd, buf, len);
		if (n >= 0)
			return n;
		if (errno == EPIPE || errno == ECONNRESET)
			return ph_seterr_errno(PH_EEOF, "peer %s closed the connection", c->peer);
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
			return ph_seterr_errno(PH_ESYS, "writing to %s", c->peer);
		r = fd_wait(c, p->wfd, POLLOUT);
		if (r > 0)
			return ph_seterr(PH_EEOF, "%s: channel shut down", c->peer);
		if (r < 0)
			return r;
	}
}

static void fd_shutdown(struct chan *c)
{
	struct fd_priv *p = c->priv;
	char b = 1;

	if (atomic_exchange(&p->shut, 1))
		return;
	/* Tell a socket peer at once; a pipe peer sees EOF when we close. */
	if (p->wsock)
		shutdown(p->wfd, SHUT_RDWR);
	/* Cannot fail usefully: the pipe is written once and never read. */
	(void)!write(p->wake[1], &b, 1);
}

static void fd_free(struct chan *c)
{
	struct fd_priv *p = c->priv;

	if (p) {
		close(p->rfd);
		if (p->wfd != p->rfd)
			close(p->wfd);
		close(p->wake[0]);
		close(p->wake[1]);
		free(p);
	}
	free(c);
}

static int fd_set_timeout(struct chan *c, int timeout_ms)
{
	struct fd_priv *p = c->priv;

	atomic_store(&p->timeout_ms, timeout_ms < 0 ? -1 : timeout_ms);
	return 0;
}

static int fd_set_write_timeout(struct chan *c, int timeout_ms)
{
	struct fd_priv *p = c->priv;

	atomic_store(&p->wtimeout_ms, timeout_ms < 0 ? -1 : timeout_ms);
	return 0;
}

static const struct chan_ops fd_ops = {
	.name = "fd",
	.read = fd_read,
	.write = fd_write,
	.shutdown = fd_shutdown,
	.free = fd_free,
	.set_timeout = fd_set_timeout,
	.set_write_timeout = fd_set_write_timeout,
};

static const struct chan_ops tcp_ops = {
	.name = "tcp",
	.read = fd_read,
	.write = fd_write,
	.shutdown = fd_shutdown,
	.free = fd_free,
	.set_timeout = fd_set_timeout,
	.set_write_timeout = fd_set_write_timeout,
};

static int fd_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return ph_seterr_errno(PH_ESYS, "fcntl(O_NONBLOCK) on fd %d", fd);
	return 0;
}

static int fd_is_socket(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

int chan_fd_new(int rfd, int wfd, const char *peer, const char *ops_name, struct chan **out)
{
	struct chan *c = NULL;
	struct fd_priv *p = NULL;
	int r;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	p = calloc(1, sizeof(*p));
	if (!c || !p) {
		r = ph_seterr(PH_ENOMEM, "allocating a channel for %s", peer);
		goto fail;
	}
	p->rfd = rfd;
	p->wfd = wfd;
	if (pipe2(p->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		r = ph_seterr_errno(PH_ESYS, "pipe for channel %s", peer);
		goto fail;
	}
	if ((r = fd_nonblock(rfd)) < 0 || (r = fd_nonblock(wfd)) < 0)
		goto fail_pipe;
	atomic_init(&p->shut, 0);
	atomic_init(&p->timeout_ms, -1);
	atomic_init(&p->wtimeout_ms, -1);
	p->wsock = fd_is_socket(wfd);
	c->ops = strcmp(ops_name, "tcp") ? &fd_ops : &tcp_ops;
	c->priv = p;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	*out = c;
	return 0;
fail_pipe:
	close(p->wake[0]);
	close(p->wake[1]);
fail:
	close(rfd);
	if (wfd != rfd)
		close(wfd);
	free(p);
	free(c);
	return r;
}

int chan_fd_open(int rfd, int wfd, const char *peer, struct chan **out)
{
	return chan_fd_new(rfd, wfd, peer, "fd", out);
}
