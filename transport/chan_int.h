/* SPDX-License-Identifier: GPL-2.0 */
/* chan internals shared by the backends in transport/chan_*.c; not a public API. */
#ifndef TRANSPORT_CHAN_INT_H
#define TRANSPORT_CHAN_INT_H

#include <sodium.h>
#include <stdint.h>

#include "transport/chan.h"

/* Build an fd-backed chan named ops_name ("fd", "tcp"); same ownership as chan_fd_open(). */
int chan_fd_new(int rfd, int wfd, const char *peer, const char *ops_name, struct chan **out);

/* Connected, tuned, non-blocking tcp socket to "HOST:PORT" within timeout_ms. */
int chan_tcp_dial(const char *addr, int timeout_ms, int *fd);

/*
 * Wrap an established chan in the record layer (seal.c), in place: from
 * now on c's reads open and its writes seal records; its free frees the
 * wrapped chan too. tx and rx are copied (the caller zeroes its copies).
 * PH_ENOMEM leaves c as it was.
 */
int chan_seal(struct chan *c, const crypto_secretstream_xchacha20poly1305_state *tx,
	      const crypto_secretstream_xchacha20poly1305_state *rx);

/* CLOCK_MONOTONIC in milliseconds. */
int64_t chan_now_ms(void);

#endif
