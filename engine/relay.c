// SPDX-License-Identifier: GPL-2.0
/*
 * relay: one CRIU page-server session between a local socket and the
 * peer; protocol in engine/relay.h, stream rules in engine/psx.h.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "caps.h"
#include "err.h"
#include "engine/relay.h"

static int relay_poll(int sk, short ev, int timeout_ms, const char *what)
{
	struct pollfd pfd = { .fd = sk, .events = ev };
	int n;

	while ((n = poll(&pfd, 1, timeout_ms)) < 0 && errno == EINTR)
		;
	if (n < 0)
		return ph_seterr_errno(PH_ESYS, "relay: poll %s", what);
	if (n == 0)
		return ph_seterr(PH_ETIMEDOUT, "relay: %s: nothing for %d ms", what, timeout_ms);
	return 0;
}

int relay_sk_write(int sk, const void *data, size_t len, int timeout_ms)
{
	const uint8_t *buf = data;
	ssize_t n;
	int r;

	while (len) {
		r = relay_poll(sk, POLLOUT, timeout_ms, "writing to CRIU");
		if (r < 0)
			return r;
		n = send(sk, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return ph_seterr_errno(PH_ESYS, "relay: write to CRIU socket");
		buf += n;
		len -= n;
	}
	return 0;
}

/* Read exactly len bytes of answers from the page server. */
static int relay_read_exact(int sk, uint8_t *buf, size_t len, int timeout_ms)
{
	ssize_t n;
	int r;

	while (len) {
		r = relay_poll(sk, POLLIN, timeout_ms, "page-server answer");
		if (r < 0)
			return r;
		n = recv(sk, buf, len, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return ph_seterr_errno(PH_ESYS, "relay: read from CRIU socket");
		if (n == 0)
			return ph_seterr(PH_ETRUNC,
					 "relay: page server closed its socket with %zu "
					 "answer bytes owed",
					 len);
		buf += n;
		len -= n;
	}
	return 0;
}

/* Source: take answer records from the peer until none is owed. */
static int relay_src_answers(int sk, struct psx_parser *p, const struct relay_io *io, uint8_t *buf,
			     int timeout_ms)
{
	size_t owed;
	long n;
	int r;

	while ((owed = psx_reply_pending(p)) > 0) {
		n = io->recv_rec(io->arg, buf, PH_FRAME_MAX, timeout_ms);
		if (n < 0)
			return (int)n;
		if (n == 0 || (size_t)n > owed)
			return ph_seterr(PH_EPROTO, "relay: peer sent %ld answer bytes, %zu owed",
					 n, owed);
		r = psx_reply_feed(p, buf, n);
		if (r == 0)
			r = relay_sk_write(sk, buf, n, timeout_ms);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Source: read what CRIU wrote, validate, forward. 1 when the session closed. */
static int relay_src_chunk(int sk, struct psx_parser *p, const struct relay_io *io, uint8_t *buf,
			   int timeout_ms)
{
	size_t used;
	ssize_t n;
	int r;

	r = relay_poll(sk, POLLIN, timeout_ms, "CRIU page stream");
	if (r < 0)
		return r;
	while ((n = recv(sk, buf, PH_FRAME_MAX, MSG_DONTWAIT)) < 0 && errno == EINTR)
		;
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n < 0)
		return ph_seterr_errno(PH_ESYS, "relay: read from CRIU socket");
	if (n == 0) {
		/* psx_finish() names what was cut; an empty session is a plain EOF. */
		r = psx_finish(p);
		if (r == 0)
			r = ph_seterr(PH_EEOF, "relay: CRIU closed the page stream before sending");
		return r;
	}
	r = psx_feed(p, buf, n, &used);
	if (r < 0)
		return r;
	if (used != (size_t)n)
		return ph_seterr(PH_EPROTO, "relay: CRIU sent %zd bytes after CLOSE",
				 n - (ssize_t)used);
	return io->send_rec(io->arg, buf, n);
}

/*
 * Memory: one PH_FRAME_MAX buffer per session, whatever CRIU sends. Page
 * data is forwarded as it arrives (psx_feed() validates any slice), so the
 * size of an entry (PH_PS_PAGES_MAX, PH_PS_VADDR_END) never sets what the
 * relay holds; the transport window (PH_WINDOW_DATA) bounds what is in
 * flight.
 */
int relay_src_session(int sk, struct psx_parser *p, const struct relay_io *io, int timeout_ms)
{
	uint8_t *buf = malloc(PH_FRAME_MAX);
	bool closed = false;
	long n;
	int r = 0;

	if (!buf)
		return ph_seterr(PH_ENOMEM, "relay: buffer");
	while (!closed) {
		r = relay_src_chunk(sk, p, io, buf, timeout_ms);
		if (r < 0)
			goto out;
		closed = psx_session_closed(p);
		if (closed && (r = io->send_eof(io->arg)) < 0)
			goto out;
		r = relay_src_answers(sk, p, io, buf, timeout_ms);
		if (r < 0)
			goto out;
	}
	n = io->recv_rec(io->arg, buf, PH_FRAME_MAX, timeout_ms);
	if (n != 0) {
		r = n < 0 ? (int)n
			  : ph_seterr(PH_EPROTO,
				      "relay: peer sent %ld bytes after the "
				      "last answer",
				      n);
		goto out;
	}
	r = psx_next_session(p);
out:
	free(buf);
	return r;
}

/* Destination: pass owed answers from the page server to the peer. */
static int relay_dst_answers(int sk, struct psx_parser *p, const struct relay_io *io,
			     int timeout_ms)
{
	/* 4 bytes: the largest answer (int32 to PARENT and CLOSE, page-xfer.c). */
	uint8_t ans[4 * PSX_REPLIES_MAX];
	size_t owed;
	int r;

	while ((owed = psx_reply_pending(p)) > 0) {
		if (owed > sizeof(ans))
			owed = sizeof(ans);
		r = relay_read_exact(sk, ans, owed, timeout_ms);
		if (r == 0)
			r = psx_reply_feed(p, ans, owed);
		if (r == 0)
			r = io->send_rec(io->arg, ans, owed);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Memory as for relay_src_session(): one PH_FRAME_MAX buffer. */
int relay_dst_session(int sk, struct psx_parser *p, const struct relay_io *io, int timeout_ms)
{
	uint8_t *buf = malloc(PH_FRAME_MAX);
	size_t used;
	long n;
	int r = 0;

	if (!buf)
		return ph_seterr(PH_ENOMEM, "relay: buffer");
	for (;;) {
		n = io->recv_rec(io->arg, buf, PH_FRAME_MAX, timeout_ms);
		if (n < 0) {
			r = (int)n;
			goto out;
		}
		if (n == 0)
			break;
		if ((size_t)n > PH_FRAME_MAX) {
			r = ph_seterr(PH_ETOOBIG, "relay: record of %ld bytes", n);
			goto out;
		}
		r = psx_feed(p, buf, n, &used);
		if (r >= 0 && used != (size_t)n)
			r = ph_seterr(PH_EPROTO, "relay: peer sent %zu bytes after CLOSE",
				      n - used);
		if (r < 0)
			goto out;
		r = relay_sk_write(sk, buf, n, timeout_ms);
		if (r == 0)
			r = relay_dst_answers(sk, p, io, timeout_ms);
		if (r < 0)
			goto out;
	}
	if (!psx_session_closed(p)) {
		r = psx_finish(p);
		r = ph_errctx(r < 0 ? r : ph_seterr(PH_ETRUNC, "no CLOSE"),
			      "relay: peer ended the page stream early");
		goto out;
	}
	r = io->send_eof(io->arg);
	if (r == 0)
		r = psx_next_session(p);
out:
	free(buf);
	return r;
}
