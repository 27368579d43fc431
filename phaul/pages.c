// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/relay.h"
#include "err.h"
#include "log.h"
#include "lsock.h"
#include "pages.h"

int pages_io_send(void *arg, const void *buf, size_t len)
{
	return mux_send_rec(arg, MUX_PAGES, buf, len);
}

int pages_io_eof(void *arg)
{
	return mux_send_eof(arg, MUX_PAGES);
}

long pages_io_recv(void *arg, void *buf, size_t cap, int timeout_ms)
{
	return mux_recv(arg, MUX_PAGES, buf, cap, timeout_ms);
}

/*
 * CRIU's connection to the listening sk (on 127.0.0.1), within the relay's
 * timeout: root's only (lsock.h). Any local user could connect to the
 * port first and feed the destination pages of its own.
 */
static int relay_accept(struct pages_relay *r)
{
	return lsock_accept_root(r->sk, r->timeout_ms);
}

static void *relay_thread(void *arg)
{
	struct pages_relay *r = arg;
	struct relay_io io = { pages_io_send, pages_io_eof, pages_io_recv, r->mux };
	int ret = 0, sk = r->sk;

	if (r->accept) {
		sk = ret = relay_accept(r);
		r->connected = sk >= 0;
	}
	if (r->store)
		ret = pstore_session(r->store, r->psx, &io, r->timeout_ms);
	else if (sk >= 0)
		ret = r->source ? relay_src_session(sk, r->psx, &io, r->timeout_ms)
				: relay_dst_session(sk, r->psx, &io, r->timeout_ms);
	if (ret < 0) {
		pr_warn("page stream: %s", ph_errmsg());
		/* CRIU must see the failure too, not wait for answers forever. */
		if (sk >= 0)
			shutdown(sk, SHUT_RDWR);
	}
	if (r->accept && sk >= 0)
		close(sk);
	if (r->after)
		ret = r->after(r, ret);
	if (ret < 0)
		snprintf(r->err, sizeof(r->err), "%s", ph_errmsg());
	r->ret = ret;
	return NULL;
}

int pages_relay_start(struct pages_relay *r)
{
	int err;

	r->ret = 0;
	err = pthread_create(&r->thread, NULL, relay_thread, r);
	if (err) {
		errno = err;
		return ph_seterr_errno(PH_ESYS, "starting the page relay");
	}
	r->running = true;
	return 0;
}

int pages_relay_join(struct pages_relay *r)
{
	if (!r->running)
		return 0;
	pthread_join(r->thread, NULL);
	r->running = false;
	if (r->ret < 0)
		return ph_seterr(r->ret, "%s", r->err);
	return 0;
}

int pages_ps_verdict(int ret, bool killed, int wret, const char *werr)
{
	if (wret >= 0 || (ret < 0 && killed))
		return ret;
	return ph_seterr(wret, "%s", werr);
}
