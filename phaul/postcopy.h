/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Post-copy (HOWTO.md "Migration modes"): the CT is frozen once, its
 * non-memory state and the few pages CRIU cannot leave lazy (stack, vDSO)
 * are dumped and sent as image files, the destination restores it with
 * every other page lazy and lets it run; its lazy-pages daemon gets the
 * pages from the destination's relay, which fetches every one from the
 * source's CRIU page server (faulted ones first, the rest pushed in the
 * background) through MUX_PAGES, validated on both hosts (engine/lzx.h).
 *
 *   source                                       destination
 *   criu dump --lazy-pages (ps-socket: sk)
 *   post-dump: images -> RestoreReq{postcopy}    criu lazy-pages --ps-socket
 *              postcopy_src_start(sk)            + restore, held stopped;
 *                                                postcopy_dst_start(sk)
 *              postcopy_kill_source()  <- the point of no return
 *              Go                                the CT runs, faults pull
 *   CRIU's page server ends when the daemon      the daemon exits 0 once
 *   closed: postcopy_src_finish()                every page is in: LazyDone
 *
 * From the kill on, the CT's memory lives on both hosts: only the
 * destination runs it, and pages still on the source are lost with the
 * source (its host, its phaul, or the link for longer than the timeout).
 */
#ifndef PHAUL_POSTCOPY_H
#define PHAUL_POSTCOPY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <pthread.h>

#include "engine/lzx.h"
#include "pclink.h"
#include "report.h"
#include "transport/mux.h"

struct postcopy {
	struct lzx_set set;	  /* the lazy runs of the dump */
	struct lzx_relay *relay;  /* NULL until started */
	struct pclink *link;	  /* the relay's link, which a cut does not end once armed */
	struct mux *mux;	  /* the link, until a caller's slot is armed (pclink.h) */
	uint64_t t_start, t_done; /* relay started, ended (us, monotonic) */
	struct lzx_counts c;	  /* at its end */
	int sk;			  /* the destination's socket, closed by postcopy_free() */
	bool owns_sk;
	int store; /* the destination's pushed pages (engine/lzx.h lzx_relay_start_push) */
	pid_t guard;  /* source: the child that fails CRIU's server if we die */
	int guard_fd; /* its pipe: a byte ends it quietly, EOF makes it act */
	/* source: the progress ticker (postcopy_tick_start) */
	pthread_t ticker;
	bool ticking;
	volatile bool tick_stop;
	struct report *rep;
	const char *src; /* this host, for the lines */
	uint64_t t_switch;
	/* destination of a hybrid (postcopy_dst_start_hybrid) */
	bool hybrid;
	struct lzx_local loc; /* the pages the flat store answers */
	struct lzx_set full;  /* loc's runs and the source's lazy ones */
	lzx_locate_fn locate;
	void *locate_arg;
	uint8_t token[PCLINK_TOKEN_LEN]; /* source: from RestoreResp */
	bool has_token;
};

/*
 * Source: learn the dump's lazy runs from its pagemaps in dir and relay
 * CRIU's lazy page server on sk (our end of its ps-socket) through m.
 * sk stays the caller's. Also starts a guard child (see postcopy.c) so
 * that our death before the switch makes CRIU resume the tree.
 */
int postcopy_src_start(struct postcopy *pc, struct mux *m, int sk, const char *dir, int timeout_ms);
/*
 * Destination: the same for the lazy-pages daemon on sk (our end of its
 * --ps-socket), the lazy runs from the received pagemaps in dir. sk
 * belongs to pc from this call on, whatever it returns.
 */
int postcopy_dst_start(struct postcopy *pc, struct mux *m, int sk, const char *dir, int timeout_ms);
/*
 * Destination of a hybrid (HOWTO.md "Migration modes"): the same, but the
 * dump in dir had a parent, whose pages the flat store holds (locate: as
 * pstore_locate, arg its store, which must outlive pc). Its pagemaps are
 * rewritten first (engine/lzx.h lzx_pagemap_rewrite): every page in the
 * parent becomes lazy and is answered from the store, never asked of the
 * source (or present, outside lazy VMAs). locate NULL: postcopy_dst_start.
 */
int postcopy_dst_start_hybrid(struct postcopy *pc, struct mux *m, int sk, const char *dir,
			      lzx_locate_fn locate, void *arg, int timeout_ms);
/*
 * Source, from the switch on: every 2 s while pages remain, a progress
 * line "[post-copy] N pages still on SRC, M served (K on request) ..." and,
 * with --json, an event {"event":"postcopy","state":"running",
 * "pages_left":N,"pages_served":M,"requests":K,"since_switch_us":T}.
 * Stopped by postcopy_finish(). rep and src must outlive it.
 */
int postcopy_tick_start(struct postcopy *pc, struct report *rep, const char *src,
			uint64_t t_switch);
/* The same event once, with state "running", "done" or "lost". */
void postcopy_event(struct postcopy *pc, const char *state);

/*
 * Source, once Go was acknowledged: a cut from now on makes the relay
 * wait while the link is taken again (pclink.h; o->event may be NULL: the
 * postcopy event). *slot (the migration's mux, under lock) follows it.
 */
int postcopy_src_arm(struct postcopy *pc, struct mux **slot, pthread_mutex_t *lock,
		     struct pclink_src *o);
/* Source: keep the resume token of RestoreResp (none from an older agent: no recovery). */
void postcopy_src_token(struct postcopy *pc, const Phaul__RestoreResp *r);
/* Source: postcopy_src_arm() with what a migration knows. */
int postcopy_src_link(struct postcopy *pc, const struct phaul_config *cfg, const char *host,
		      const char *mig_id, const char *self, struct report *rep, struct mux **slot,
		      pthread_mutex_t *lock, volatile int *interrupted, bool compress);
/* Destination: the resume token for RestoreResp. */
int postcopy_dst_token(struct postcopy *pc, uint8_t token[PCLINK_TOKEN_LEN]);
/* Destination, at Go: accept the source's resumed link; *slot follows it. */
int postcopy_dst_arm(struct postcopy *pc, struct mux **slot, const struct phaul_config *cfg,
		     const char *mig_id);
/* Give up on the link: the peer hears msg (an ABORT: no reconnect), the relay stops waiting. */
void postcopy_give_up(struct postcopy *pc, const char *msg);

/* Pages the source still holds: announced lazy, not yet served (any thread). */
uint64_t postcopy_pages_left(struct postcopy *pc);
/* Bytes sent on links lost and replaced (pclink_old_sent); 0 without a reconnect. */
void postcopy_old_sent(struct postcopy *pc, uint64_t *raw, uint64_t *wire);
/*
 * Wait for the relay's end (the daemon's close answered), free it; its
 * counts in pc->c. 0 or the relay's error. Safe when not started.
 */
int postcopy_finish(struct postcopy *pc);
/* Make the relay stop at once (postcopy_finish() then returns its first error). */
void postcopy_stop(struct postcopy *pc);
/* Has the relay ended (or never started)? */
bool postcopy_relay_ended(struct postcopy *pc);
/* Stop, free, close the destination's socket. A zeroed pc is fine. */
void postcopy_free(struct postcopy *pc);

/*
 * Kill the source tree that CRIU holds frozen after a --lazy-pages dump.
 * CRIU keeps its memory in page pipes (mem.c drain_pages()), so its page
 * server serves on; but if that server failed (link cut, a bad request),
 * CRIU 3.17 would resume the tree (cr_dump_finish()) while the
 * destination runs it. Killed first, there is never a second copy.
 */
int postcopy_kill_source(pid_t root);

#endif
