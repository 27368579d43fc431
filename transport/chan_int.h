/* SPDX-License-Identifier: GPL-2.0 */
/* chan internals shared by the backends in transport/chan_*.c; not a public API. */
#ifndef TRANSPORT_CHAN_INT_H
#define TRANSPORT_CHAN_INT_H

#include <stdint.h>

#include "transport/chan.h"

/* Build an fd-backed chan named ops_name ("fd", "tcp"); same ownership as chan_fd_open(). */
int chan_fd_new(int rfd, int wfd, const char *peer, const char *ops_name, struct chan **out);

/* Connected, tuned, non-blocking tcp socket to "HOST:PORT" within timeout_ms. */
int chan_tcp_dial(const char *addr, int timeout_ms, int *fd);

/* CLOCK_MONOTONIC in milliseconds. */
int64_t chan_now_ms(void);

#endif
