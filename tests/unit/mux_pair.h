/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tests: two real muxes joined by a socketpair (fd chans, no auth, no
 * seal). Each chan's name is the peer name its errors show. The caller
 * owns both muxes (mux_close each). Include after cmocka.h.
 */
#ifndef TESTS_UNIT_MUX_PAIR_H
#define TESTS_UNIT_MUX_PAIR_H

#include <sys/socket.h>

#include "transport/chan.h"
#include "transport/mux.h"

static inline void mux_pair_named(struct mux **a, const char *name_a, struct mux **b,
				  const char *name_b)
{
	struct chan *ca, *cb;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(chan_fd_open(sv[0], sv[0], name_a, &ca), 0);
	assert_int_equal(chan_fd_open(sv[1], sv[1], name_b, &cb), 0);
	assert_int_equal(mux_start(ca, a), 0);
	assert_int_equal(mux_start(cb, b), 0);
}

/* The same with the chans named "a" and "b". */
static inline void mux_pair(struct mux **a, struct mux **b)
{
	mux_pair_named(a, "a", b, "b");
}

#endif
