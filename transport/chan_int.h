/* SPDX-License-Identifier: GPL-2.0 */
/* chan internals shared by the backends in transport/chan_*.c; not a public API. */
#ifndef TRANSPORT_CHAN_INT_H
#define TRANSPORT_CHAN_INT_H

#include <sodium.h>
#include <stdatomic.h>
#include <stdint.h>

#include "transport/chan.h"

/*
 * chan_read_full() for part of a larger unit ("frame"): read exactly len
 * bytes of a unit of total bytes of which off are already in, so the
 * errors count the whole unit. Bumps *act (if not NULL) on every read that
 * returns data. The caller keeps buf.
 */
int chan_read_part(struct chan *c, void *buf, size_t len, size_t off, size_t total,
		   const char *unit, atomic_uint_fast64_t *act);

/* Build an fd-backed chan named ops_name ("fd", "tcp"); same ownership as chan_fd_open(). */
int chan_fd_new(int rfd, int wfd, const char *peer, const char *ops_name, struct chan **out);

/* Connected, tuned, non-blocking tcp socket to "HOST:PORT" within timeout_ms. */
int chan_tcp_dial(const char *addr, int timeout_ms, int *fd);

/* The record ciphers (seal.c), as bits of a set. */
#define SEAL_CHACHA20_POLY1305 0x01
#define SEAL_AES256_GCM	       0x02
#define SEAL_KEY_LEN	       32
/*
 * The ciphers this host can run: ChaCha20-Poly1305 always, AES-256-GCM
 * where the CPU has AES-NI and CLMUL. PHAUL_SEAL_CIPHER=chacha20-poly1305
 * in the environment offers ChaCha20-Poly1305 only (tests, benchmarks).
 */
int chan_seal_ciphers(void);
const char *chan_seal_cipher_name(int cipher);
/*
 * Wrap an established chan in the record layer (seal.c), in place: from
 * now on c's reads open and its writes seal records with cipher (one
 * SEAL_* bit) and the two SEAL_KEY_LEN keys (copied; the caller wipes its
 * own); sequence numbers start at 0. c's free frees the wrapped chan too.
 * PH_ENOMEM leaves c as it was.
 */
int chan_seal(struct chan *c, int cipher, const uint8_t *tx_key, const uint8_t *rx_key);

/* CLOCK_MONOTONIC in milliseconds. */
int64_t chan_now_ms(void);

#endif
