// SPDX-License-Identifier: GPL-2.0
/*
 * Arbitrary bytes as the peer's side of a mux connection: the mux must
 * fail cleanly (never crash, leak, or hang) and stay within its windows.
 * The peer's bytes go through a socketpair into a chan_fd, as from a real
 * tcp peer; every stream is drained until the mux reports its failure.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "caps.h"
#include "err.h"
#include "log.h"
#include "transport/chan.h"
#include "transport/mux.h"

static uint8_t buf[PH_FRAME_MAX];

static void drain(struct mux *m, int s)
{
	struct mux_flow f;
	long n;

	/* Records queued before the failure come first, then the sticky error. */
	while ((n = mux_recv(m, s, buf, sizeof(buf), 10000)) >= 0)
		if (n > PH_FRAME_MAX)
			abort();
	if (n == -PH_ETIMEDOUT) /* the peer's EOF must always end the session */
		abort();
	mux_get_flow(m, s, &f);
	if (f.rx_peak > f.window)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct chan *c = NULL;
	struct mux *m = NULL;
	int sv[2];
	size_t off = 0;

	log_level = -1; /* quiet */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		abort();
	/* Unix stream buffers hold more than -max_len; write it all up front. */
	while (off < size) {
		ssize_t n = write(sv[0], data + off, size - off);

		if (n <= 0)
			abort();
		off += n;
	}
	shutdown(sv[0], SHUT_WR);
	if (chan_fd_open(sv[1], sv[1], "fuzz", &c) || mux_start(c, &m))
		abort();
	mux_set_compress(m, MUX_PAGES, 1);
	mux_send_rec(m, MUX_PAGES, "x", 1); /* the send path, with the peer's credit */
	for (int s = 0; s < MUX_NSTREAMS; s++)
		drain(m, s);
	mux_close(m);
	close(sv[0]);
	return 0;
}
