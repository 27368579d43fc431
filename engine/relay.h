/* SPDX-License-Identifier: GPL-2.0 */
/*
 * relay: moves one CRIU page-server session between a local CRIU socket
 * and the peer, validating it with psx (engine/psx.h) on both hosts.
 *
 *   source: CRIU dump --ps.fd=A ... [B]relay_src_session ==records==>
 *   dest:   relay_dst_session [C] ... CRIU page-server --ps.fd=D
 * (A-B and C-D are AF_UNIX SOCK_STREAM socketpairs; CRIU splices pages
 * through them.)
 *
 * On the peer link a session is: source -> dest records carrying the
 * dumper's bytes, then an EOF record right after CLOSE/FORCE_CLOSE;
 * dest -> source records carrying the page server's answers (OPEN2,
 * PARENT, CLOSE), then an EOF record. The relay is single-threaded:
 * CRIU's dumper waits for each answer before sending more, so reading
 * CRIU and reading answers can alternate without deadlock.
 *
 * The peer link is abstract (struct relay_io), so this module does not
 * depend on the transport: with transport/mux.h, send_rec/send_eof/
 * recv_rec map to mux_send_rec/mux_send_eof/mux_recv on MUX_PAGES.
 */
#ifndef ENGINE_RELAY_H
#define ENGINE_RELAY_H

#include <stddef.h>

#include "engine/psx.h"

struct relay_io {
	/* Send one record (1..PH_FRAME_MAX bytes), record boundary kept. */
	int (*send_rec)(void *arg, const void *buf, size_t len);
	/* Send the end-of-session marker. */
	int (*send_eof)(void *arg);
	/*
	 * Receive one record into buf (cap PH_FRAME_MAX): its length (> 0),
	 * 0 at the end-of-session marker, < 0 PH_E* (PH_ETIMEDOUT after
	 * timeout_ms; -1 waits forever).
	 */
	long (*recv_rec)(void *arg, void *buf, size_t cap, int timeout_ms);
	void *arg;
};

/*
 * Source side: relay one dump/pre-dump session from CRIU's socket sk to
 * the peer and the answers back. p persists across sessions (one ps.fd
 * socket serves every pre-dump and the dump); psx_session_counts(p) then
 * holds what this session moved. timeout_ms bounds each wait (-1: none):
 * for CRIU's next bytes and for the peer's answers. Returns 0 after a
 * clean CLOSE; PH_EPROTO/PH_ETOOBIG (bad stream, nothing bad forwarded),
 * PH_ETRUNC/PH_EEOF (CRIU closed the socket mid-session / before any
 * byte), PH_ETIMEDOUT, PH_ESYS, or the io callbacks' errors. sk and p
 * stay the caller's (sk is not closed).
 */
int relay_src_session(int sk, struct psx_parser *p, const struct relay_io *io, int timeout_ms);

/*
 * Destination side: relay one session from the peer into the page
 * server's socket sk and its answers back. Every byte is validated
 * before it reaches CRIU. Returns 0 after CLOSE was answered and the
 * peer's end marker arrived; errors as above. sk and p stay the caller's.
 */
int relay_dst_session(int sk, struct psx_parser *p, const struct relay_io *io, int timeout_ms);

/*
 * Write all len bytes to the local CRIU socket sk (non-blocking sends, each
 * wait for room at most timeout_ms). 0, PH_ETIMEDOUT or PH_ESYS.
 */
int relay_sk_write(int sk, const void *buf, size_t len, int timeout_ms);

#endif
