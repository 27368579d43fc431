// SPDX-License-Identifier: GPL-2.0
/*
 * The host's unix sockets as sock_diag (NETLINK_SOCK_DIAG, unix_diag) shows
 * them: inode, peer inode, type, name. What CRIU 3.17's sk-unix.c uses to
 * find a tree's sockets connected outside it (dump_external_sockets()).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>

#include "compat/unixsk.h"

#define USK_RECV_BUF  (32u * 1024)
#define USK_TIMEOUT_S 5

static int usk_add(struct usk_table *t, const struct usk *u)
{
	struct usk *v;

	if (t->n == t->cap) {
		if (t->cap >= USK_MAX)
			return -1;
		t->cap = t->cap ? t->cap * 2 : 256;
		if (!(v = realloc(t->v, t->cap * sizeof(*v))))
			return -1;
		t->v = v;
	}
	t->v[t->n++] = *u;
	return 0;
}

/* One unix_diag_msg with its attributes; -1 if malformed or full. */
static int usk_parse(struct usk_table *t, const struct nlmsghdr *h)
{
	const struct unix_diag_msg *m = NLMSG_DATA(h);
	int len = (int)h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
	const struct rtattr *a = (const struct rtattr *)(m + 1);
	struct usk u = { .ino = m->udiag_ino, .type = m->udiag_type };
	size_t n;

	if (len < 0)
		return -1;
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == UNIX_DIAG_PEER && RTA_PAYLOAD(a) >= sizeof(uint32_t))
			memcpy(&u.peer, RTA_DATA(a), sizeof(uint32_t));
		if (a->rta_type == UNIX_DIAG_NAME && RTA_PAYLOAD(a) > 0) {
			n = RTA_PAYLOAD(a) < sizeof(u.name) - 1 ? RTA_PAYLOAD(a)
								: sizeof(u.name) - 1;
			memcpy(u.name, RTA_DATA(a), n);
			if (u.name[0] == '\0')
				u.name[0] = '@'; /* abstract: shown as ss does */
			u.named = true;
		}
	}
	return usk_add(t, &u);
}

/* Read the dump's replies until NLMSG_DONE: 0, or -1. */
static int usk_recv(int fd, struct usk_table *t)
{
	char *buf = malloc(USK_RECV_BUF);
	const struct nlmsghdr *h;
	ssize_t n;
	int r = -1;

	while (buf && (n = recv(fd, buf, USK_RECV_BUF, 0)) > 0) {
		for (h = (const void *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE) {
				r = 0;
				goto out;
			}
			if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
			    usk_parse(t, h) < 0)
				goto out;
		}
	}
out:
	free(buf);
	return r;
}

int usk_dump(struct usk_table *t)
{
	struct {
		struct nlmsghdr h;
		struct unix_diag_req r;
	} q = {
		.h = { .nlmsg_len = sizeof(q),
		       .nlmsg_type = SOCK_DIAG_BY_FAMILY,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.r = { .sdiag_family = AF_UNIX,
		       .udiag_states = ~0u,
		       .udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER },
	};
	struct timeval tv = { .tv_sec = USK_TIMEOUT_S };
	int fd, r = -1;

	memset(t, 0, sizeof(*t));
	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0 &&
	    send(fd, &q, sizeof(q), 0) == (ssize_t)sizeof(q))
		r = usk_recv(fd, t);
	close(fd);
	if (r < 0)
		usk_free(t);
	return r;
}

const struct usk *usk_find(const struct usk_table *t, uint32_t ino)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].ino == ino)
			return &t->v[i];
	return NULL;
}

void usk_free(struct usk_table *t)
{
	free(t->v);
	memset(t, 0, sizeof(*t));
}
