/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pclink: the post-copy link, which a cut does not end (HOWTO.md
 * "Migration modes", transport/PROTOCOL.md section 8).
 *
 * From the switch on, the lazy-page relay and the last control message
 * (LazyDone) run over the link held here. When it fails without either
 * side deciding so (cut, silent, reset: anything but an ABORT), the
 * relay waits (engine/lzx.h lzx_io.relink) while
 *
 *   source: reconnects to the same agent with the same transport and
 *           authentication, sends Resume{mig_id, token} (the token the
 *           destination gave in RestoreResp), and takes the new link
 *           when ResumeResp says ok; retried with backoff for at most
 *           postcopy_reconnect seconds;
 *   destination: the session that holds the migration listens on a unix
 *           socket in the work dir (mig-in-ID.resume, mode 0600); the
 *           agent session that authenticated the new connection hands
 *           the token there (PCLINK_HELLO || token), the holder compares
 *           it in constant time, and on a match that session splices its
 *           link to the holder (pclink_serve_resume) and the holder takes
 *           the unix end as its link.
 *
 * The token is 32 random bytes of the destination, sent only inside the
 * authenticated session, compared only in constant time, never logged,
 * never part of a path. A peer that can authenticate but does not hold
 * the token (another source) is refused, as is a Resume for a migration
 * not held in post-copy on this host.
 */
#ifndef PHAUL_PCLINK_H
#define PHAUL_PCLINK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "engine/lzx.h"
#include "phaul.pb-c.h"
#include "report.h"
#include "transport/mux.h"

#define PCLINK_TOKEN_LEN 32
/* What a resuming session writes on the holder's socket before the token. */
#define PCLINK_HELLO	 "PHAUL-RESUME1\n"
#define PCLINK_HELLO_LEN (sizeof(PCLINK_HELLO) - 1)
#define PCLINK_REQ_LEN	 (PCLINK_HELLO_LEN + PCLINK_TOKEN_LEN)

struct pclink;

/*
 * A link for the relay, not yet armed: until pclink_arm_*(), a failure is
 * final (before the switch a cut must roll back). m is the current link;
 * *slot (the caller's pointer to it, under slot_lock if not NULL) is kept
 * pointing at the current link: the caller owns and closes that one, the
 * pclink the links it replaced (pclink_free). 0 or PH_ENOMEM.
 */
int pclink_new(struct pclink **out, struct mux **slot, pthread_mutex_t *slot_lock);
/* From now on keep *slot (under slot_lock if not NULL) pointing at the current link. */
void pclink_set_slot(struct pclink *l, struct mux **slot, pthread_mutex_t *slot_lock);
/* The relay's link callbacks (lzx_io's arg, lost, relink, ctx). */
void pclink_io(struct pclink *l, struct lzx_io *io);
/* The current link (borrowed). */
struct mux *pclink_mux(struct pclink *l);

/* Source, after Go was acknowledged: reconnect on a cut. Strings must outlive l. */
struct pclink_src {
	const struct phaul_config *cfg;
	const char *host; /* as given to migrate: where to reconnect */
	const char *mig_id;
	const char *self;			     /* this host, for the lines */
	struct report *rep;			     /* progress lines and JSON events */
	volatile int *interrupted;		     /* set by SIGINT/SIGTERM: stop reconnecting */
	void (*event)(void *arg, const char *state); /* JSON: "reconnecting", "running" */
	void *event_arg;
	bool compress;
	uint8_t token[PCLINK_TOKEN_LEN];
};
int pclink_arm_src(struct pclink *l, const struct pclink_src *o);
/* Destination: the token for RestoreResp (fresh, random). */
int pclink_token_new(struct pclink *l, uint8_t token[PCLINK_TOKEN_LEN]);
/*
 * Destination, at Go: listen for a resumed link of mig_id in
 * cfg->work_dir until pclink_free(). Without it (a path too long, a
 * socket error, said in the log) a cut stays final.
 */
int pclink_arm_dst(struct pclink *l, const struct phaul_config *cfg, const char *mig_id);
/* Give up: relink() fails at once; the current link is aborted with msg (NULL: not). */
void pclink_stop(struct pclink *l, const char *msg);
/* Source: is a lost link being taken again? Since when (us, now_us()). */
bool pclink_reconnecting(struct pclink *l, uint64_t *since_us);
/* Links lost and taken again so far. */
unsigned pclink_relinks(struct pclink *l);
/* Bytes sent on the links replaced so far (every stream): *raw before, *wire after zstd. */
void pclink_old_sent(struct pclink *l, uint64_t *raw, uint64_t *wire);
/* Stop listening, close the replaced links, free. Accepts NULL. */
void pclink_free(struct pclink *l);

/*
 * The holder's check of what a resuming session wrote (len bytes): the
 * greeting, then the token, compared in constant time. 0, PH_EPROTO (not
 * that form), PH_EAUTH (another token).
 */
int pclink_check_req(const uint8_t *buf, size_t len, const uint8_t token[PCLINK_TOKEN_LEN]);
/* Form of a Resume message (id, token length): 0 or PH_EPROTO. */
int pclink_resume_valid(const Phaul__Resume *q);

/*
 * Agent, in the session that got Resume q: hand the link m to the
 * session holding q->mig_id, answer ResumeResp, and splice the two links
 * until either ends. 0 once spliced and ended, or the refusal (answered).
 */
int pclink_serve_resume(struct mux *m, const struct phaul_config *cfg, const Phaul__Resume *q,
			const char *host);

#endif
