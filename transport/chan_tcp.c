// SPDX-License-Identifier: GPL-2.0
/* tcp backend: connect with a deadline, listen, accept; I/O is chan_fd's. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "transport/chan_int.h"

/* Dead peers are noticed after about KEEPIDLE + KEEPINTVL * KEEPCNT seconds. */
#define TCP_KA_IDLE  30
#define TCP_KA_INTVL 10
#define TCP_KA_CNT   6

/* Split "HOST:PORT" or "[V6]:PORT" into host and port strings. */
static int tcp_split(const char *addr, char *host, size_t hlen, char *port, size_t plen)
{
	const char *colon, *h = addr;
	size_t n;

	if (addr[0] == '[') {
		const char *end = strchr(addr, ']');

		if (!end || end[1] != ':')
			return ph_seterr(PH_EUSAGE, "tcp address '%s': expected [V6]:PORT", addr);
		h = addr + 1;
		n = end - h;
		colon = end + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon || strchr(addr, ':') != colon)
			return ph_seterr(PH_EUSAGE,
					 "tcp address '%s': expected HOST:PORT or [V6]:PORT", addr);
		n = colon - addr;
	}
	if (!n || n >= hlen || !colon[1] || strlen(colon + 1) >= plen)
		return ph_seterr(PH_EUSAGE, "tcp address '%s': empty or too long host or port",
				 addr);
	memcpy(host, h, n);
	host[n] = '\0';
	snprintf(port, plen, "%s", colon + 1);
	return 0;
}

static int tcp_resolve(const char *addr, int passive, struct addrinfo **res)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC };
	char host[256], port[32];
	int r;

	if ((r = tcp_split(addr, host, sizeof(host), port, sizeof(port))) < 0)
		return r;
	if (passive)
		hints.ai_flags = AI_PASSIVE;
	r = getaddrinfo(host, port, &hints, res);
	if (r)
		return ph_seterr(PH_ECONFIG, "resolving tcp address '%s': %s", addr,
				 gai_strerror(r));
	return 0;
}

static void tcp_tune(int fd)
{
	int one = 1, idle = TCP_KA_IDLE, intvl = TCP_KA_INTVL, cnt = TCP_KA_CNT;

	/* Control messages are small and latency-bound; mux writes whole frames. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

/* Non-blocking connect bounded by deadline; returns the fd or <0. */
static int tcp_try(const char *addr, const struct addrinfo *ai, int64_t deadline)
{
	struct pollfd pfd;
	socklen_t sl = sizeof(int);
	int fd, err = 0, r;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	if (fd < 0)
		return ph_seterr_errno(PH_ESYS, "connecting to tcp:%s: socket", addr);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		r = ph_seterr_errno(PH_ESYS, "connecting to tcp:%s", addr);
		goto fail;
	}
	pfd = (struct pollfd){ fd, POLLOUT, 0 };
	do {
		int64_t left = deadline < 0 ? -1 : deadline - chan_now_ms();

		if (deadline >= 0 && left <= 0) {
			r = 0;
			break;
		}
		r = poll(&pfd, 1, (int)left);
	} while (r < 0 && errno == EINTR);
	if (r == 0) {
		r = ph_seterr(PH_ETIMEDOUT, "connecting to tcp:%s: no answer in time", addr);
		goto fail;
	}
	if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0 || err) {
		errno = err ? err : errno;
		r = ph_seterr_errno(PH_ESYS, "connecting to tcp:%s", addr);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return r;
}

int chan_tcp_dial(const char *addr, int timeout_ms, int *out)
{
	struct addrinfo *res = NULL, *ai;
	int64_t deadline = timeout_ms < 0 ? -1 : chan_now_ms() + timeout_ms;
	int fd = -1, r;

	*out = -1;
	if ((r = tcp_resolve(addr, 0, &res)) < 0)
		return r;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = tcp_try(addr, ai, deadline);
		if (fd >= 0 || fd == -PH_ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return fd;
	tcp_tune(fd);
	*out = fd;
	return 0;
}

int chan_tcp_connect(const char *addr, int timeout_ms, struct chan **out)
{
	char peer[256];
	int fd, r;

	*out = NULL;
	if ((r = chan_tcp_dial(addr, timeout_ms, &fd)) < 0)
		return r;
	snprintf(peer, sizeof(peer), "tcp:%s", addr);
	return chan_fd_new(fd, fd, peer, "tcp", out);
}

int chan_tcp_listen(const char *addr)
{
	struct addrinfo *res = NULL, *ai;
	int fd = -1, r, one = 1;

	if ((r = tcp_resolve(addr, 1, &res)) < 0)
		return r;
	r = ph_seterr(PH_ECONFIG, "tcp address '%s' resolves to nothing", addr);
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			r = ph_seterr_errno(PH_ESYS, "listening on tcp:%s: socket", addr);
			continue;
		}
		/* An agent restarted right after a migration must get its port back. */
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0) {
			r = fd;
			break;
		}
		r = ph_seterr_errno(PH_ESYS, "listening on tcp:%s", addr);
		close(fd);
	}
	freeaddrinfo(res);
	return r;
}

int chan_tcp_accept(int lfd, struct chan **out)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[64], serv[16], peer[256];
	int fd;

	*out = NULL;
	do {
		fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
	} while (fd < 0 && (errno == EINTR || errno == ECONNABORTED));
	if (fd < 0)
		return ph_seterr_errno(PH_ESYS, "accepting a tcp connection");
	if (getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), serv, sizeof(serv),
			NI_NUMERICHOST | NI_NUMERICSERV))
		snprintf(peer, sizeof(peer), "tcp:?");
	else if (ss.ss_family == AF_INET6)
		snprintf(peer, sizeof(peer), "tcp:[%s]:%s", host, serv);
	else
		snprintf(peer, sizeof(peer), "tcp:%s:%s", host, serv);
	tcp_tune(fd);
	return chan_fd_new(fd, fd, peer, "tcp", out);
}
