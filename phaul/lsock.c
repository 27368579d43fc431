// SPDX-License-Identifier: GPL-2.0
/*
 * Who is on the other end of a loopback TCP socket (lsock.h): read from
 * /proc/net/tcp, whose lines are
 *   sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
 * with addresses as the kernel holds them (%08X of the network-order
 * address) and ports in host order.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "lsock.h"
#include "util.h"

#define TCP_ESTABLISHED_ST 0x01
#define TCP_SYN_RECV_ST	   0x03
#define TCP_CLOSE_WAIT_ST  0x08

struct ent {
	uint16_t lport, rport;
	unsigned st;
	uid_t uid;
	unsigned long inode;
};

/* Call fn on every socket between two 127.0.0.1 ends until it returns true. */
static int scan(bool (*fn)(const struct ent *, void *), void *arg)
{
	const unsigned long lo = (uint32_t)htonl(INADDR_LOOPBACK);
	char line[512];
	FILE *f = fopen("/proc/net/tcp", "re");
	int ret = 0;

	if (!f)
		return ph_seterr_errno(PH_ESYS, "/proc/net/tcp");
	while (fgets(line, sizeof(line), f)) {
		unsigned long la, ra;
		unsigned lp, rp;
		struct ent e;

		if (sscanf(line, " %*u: %8lX:%4X %8lX:%4X %2X %*X:%*X %*X:%*X %*X %u %*d %lu", &la, &lp,
			   &ra, &rp, &e.st, &e.uid, &e.inode) != 7 ||
		    la != lo || ra != lo)
			continue;
		e.lport = (uint16_t)lp;
		e.rport = (uint16_t)rp;
		if (fn(&e, arg)) {
			ret = 1;
			break;
		}
	}
	fclose(f);
	return ret;
}

struct owner_q {
	uint16_t lport, rport;
	uid_t uid;
	unsigned long inode;
};

static bool owner_fn(const struct ent *e, void *arg)
{
	struct owner_q *q = arg;

	if (e->lport != q->lport || e->rport != q->rport)
		return false;
	q->uid = e->uid;
	q->inode = e->inode;
	return true;
}

int lsock_owner(uint16_t lport, uint16_t rport, uid_t *uid, unsigned long *inode)
{
	struct owner_q q = { lport, rport, 0, 0 };
	int ret = scan(owner_fn, &q);

	if (ret < 0)
		return ret;
	if (ret == 0)
		return -PH_ENOENT;
	*uid = q.uid;
	*inode = q.inode;
	return 0;
}

static int port_of(int sk, bool peer, uint16_t *port)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int r = peer ? getpeername(sk, (struct sockaddr *)&a, &len)
		     : getsockname(sk, (struct sockaddr *)&a, &len);

	if (r < 0 || a.sin_family != AF_INET)
		return ph_seterr_errno(PH_ESYS, "a loopback socket's address");
	*port = ntohs(a.sin_port);
	return 0;
}

int lsock_accept_root(int lsk, int timeout_ms)
{
	uint64_t end = now_us() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000;
	uint16_t lport, pport;
	int ret;

	if ((ret = port_of(lsk, false, &lport)) < 0)
		return ret;
	for (;;) {
		int64_t left = timeout_ms < 0 ? -1 : (int64_t)(end - now_us()) / 1000;
		struct pollfd p = { lsk, POLLIN, 0 };
		unsigned long inode;
		uid_t uid;
		int n, fd;

		if (timeout_ms >= 0 && left <= 0)
			return ph_seterr(PH_ETIMEDOUT, "CRIU did not connect to 127.0.0.1:%u in %d ms",
					 lport, timeout_ms);
		while ((n = poll(&p, 1, (int)left)) < 0 && errno == EINTR)
			;
		if (n == 0)
			continue;
		fd = accept4(lsk, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
				continue;
			return ph_seterr_errno(PH_ESYS, "accepting on 127.0.0.1:%u", lport);
		}
		/* the other end is the socket at its port, connected to ours */
		if (port_of(fd, true, &pport) == 0 && lsock_owner(pport, lport, &uid, &inode) == 0 &&
		    uid == 0) {
			int fl = fcntl(fd, F_GETFL);

			/* blocking again, as accept() gives it */
			if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
				close(fd);
				return ph_seterr_errno(PH_ESYS, "accepting on 127.0.0.1:%u", lport);
			}
			return fd;
		}
		pr_warn("refused a connection to 127.0.0.1:%u from port %u (uid %d): only CRIU, "
			"as root, may connect there",
			lport, pport, lsock_owner(pport, lport, &uid, &inode) == 0 ? (int)uid : -1);
		close(fd);
	}
}

struct sole_q {
	uint16_t sport, mine; /* the server's port, our end's */
	unsigned long inode;  /* the server's end of ours */
	bool ours_seen;
	int other_uid;	    /* another client: its end's owner, or -2 */
	uint16_t other_port;
};

static bool sole_fn(const struct ent *e, void *arg)
{
	struct sole_q *q = arg;

	if (e->st != TCP_ESTABLISHED_ST && e->st != TCP_SYN_RECV_ST &&
	    e->st != TCP_CLOSE_WAIT_ST)
		return false;
	if (e->lport == q->sport && e->rport == q->mine) {
		q->ours_seen = true;
		q->inode = e->inode;
	} else if (e->rport == q->sport && e->lport != q->mine) {
		q->other_uid = (int)e->uid; /* a client of the server, not us */
		q->other_port = e->lport;
	}
	return false;
}

int lsock_sole_client(int sk, int wait_ms)
{
	uint64_t end = now_us() + (uint64_t)wait_ms * 1000;
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	struct sole_q q;
	int ret;

	memset(&q, 0, sizeof(q));
	if ((ret = port_of(sk, false, &q.mine)) < 0 || (ret = port_of(sk, true, &q.sport)) < 0)
		return ret;
	for (;;) {
		q.ours_seen = false;
		q.inode = 0;
		q.other_uid = -2;
		if ((ret = scan(sole_fn, &q)) < 0)
			return ret;
		if (q.other_uid != -2)
			return ph_seterr(PH_EAUTH,
					 "another local process (uid %d, port %u) is connected to "
					 "127.0.0.1:%u, which only phaul may use",
					 q.other_uid, q.other_port, q.sport);
		if (q.ours_seen && q.inode)
			return 0;
		if (now_us() >= end)
			return ph_seterr(PH_ETIMEDOUT,
					 "127.0.0.1:%u did not accept phaul's connection in %d ms",
					 q.sport, wait_ms);
		nanosleep(&ts, NULL);
	}
}
