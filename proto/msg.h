/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Control messages (proto/phaul.proto Msg) over the mux control stream:
 * one packed Msg per record, at most PH_MSG_MAX bytes.
 */
#ifndef PROTO_MSG_H
#define PROTO_MSG_H

#include "phaul.pb-c.h"
#include "transport/mux.h"

/* 2: idle peers send PING frames (transport/PROTOCOL.md); version 1 refuses them. */
#define PHAUL_PROTO_VERSION 2

int msg_send(struct mux *m, const Phaul__Msg *msg);
/*
 * Next message, unpacked into *out (free with msg_free). An Error message
 * from the peer is returned as its code (or PH_EPEER) with the peer's text
 * as the detail. Unknown or empty bodies are PH_EPROTO.
 */
int msg_recv(struct mux *m, Phaul__Msg **out, int timeout_ms);
/* The decoding half of msg_recv(), on a buffer (bounded, fuzzed). */
int msg_decode(const uint8_t *buf, size_t len, const char *peer, Phaul__Msg **out);
/* msg_recv() that also requires the body to be `want`. */
int msg_expect(struct mux *m, Phaul__Msg__BodyCase want, Phaul__Msg **out, int timeout_ms);
/* Report a failure to the peer (best effort). */
void msg_send_error(struct mux *m, int code, const char *text, const char *host);
void msg_free(Phaul__Msg *msg);
const char *msg_name(Phaul__Msg__BodyCase c);

/*
 * Exchange Hello: send ours, read the peer's, check the protocol version.
 * *peer is the caller's (phaul__hello__free_unpacked), NULL on failure.
 */
int msg_hello(struct mux *m, const char *role, Phaul__Hello **peer, int timeout_ms);
/* The same, telling the peer the migration's id (source) or its log dir (agent); NULL: none. */
int msg_hello_ex(struct mux *m, const char *role, const char *mig_id, const char *log_dir,
		 Phaul__Hello **peer, int timeout_ms);

#endif
