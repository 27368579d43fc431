/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The page stream of one iteration, relayed in a thread between a local
 * CRIU socket and the MUX_PAGES stream (engine/relay.h does the work;
 * this binds it to the mux and runs it beside the blocking CRIU call).
 */
#ifndef PHAUL_PAGES_H
#define PHAUL_PAGES_H

#include <pthread.h>
#include <stdbool.h>

#include "engine/psx.h"
#include "engine/pstore.h"
#include "transport/mux.h"

struct pages_relay {
	struct mux *mux;
	int sk; /* relay's end of the CRIU socketpair */
	/* sk listens (CRIU connects to a page-server address): relay the one
	 * connection accepted on it; shutdown(sk) makes the relay give up */
	bool accept;
	bool connected; /* accept: CRIU connected (set by the thread) */
	struct psx_parser *psx;
	/* destination: the flat store terminates the stream (no CRIU page server) */
	struct pstore *store;
	bool source; /* source side (CRIU dumps) or destination (page server) */
	int timeout_ms;
	/* destination: runs in the thread after the session (wait for CRIU, report) */
	int (*after)(struct pages_relay *r, int ret);
	void *arg;
	pthread_t thread;
	bool running;
	int ret;
	char err[512]; /* the thread's error detail (ph_errmsg is per thread) */
};

/*
 * Start relaying one session in a thread. r, r->mux, r->sk and r->psx stay
 * the caller's and must outlive pages_relay_join(); the thread closes only
 * the connection it accepted on a listening sk (accept), never sk itself.
 */
int pages_relay_start(struct pages_relay *r);
/* Wait for it; returns its result (0 or PH_E*, detail in ph_errmsg()). */
int pages_relay_join(struct pages_relay *r);

/*
 * Destination: why one page-server session failed, from the relay's result
 * ret (its text in ph_errmsg()) and the page server's (wret, its text
 * werr). killed: we killed the server because the relay had already failed;
 * its death ("killed by signal 9") is then our doing and the relay's
 * reason stands (a refused stream, the link, the peer). Otherwise the
 * server's own reason (a full disk, say) beats the broken pipe the relay
 * saw. Returns the chosen result (0 if both succeeded); ph_errmsg() holds
 * its text.
 */
/* MUX_PAGES as the peer link of a relay (arg: the struct mux). */
int pages_io_send(void *arg, const void *buf, size_t len);
int pages_io_eof(void *arg);
long pages_io_recv(void *arg, void *buf, size_t cap, int timeout_ms);

int pages_ps_verdict(int ret, bool killed, int wret, const char *werr);

#endif
