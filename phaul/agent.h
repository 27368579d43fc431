/* SPDX-License-Identifier: GPL-2.0 */
/* The destination agent's session state (phaul/agent*.c). */
#ifndef PHAUL_AGENT_H
#define PHAUL_AGENT_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include "caps.h"
#include "config.h"
#include "mrec.h"
#include "engine/criu.h"
#include "engine/psx.h"
#include "engine/pstore.h"
#include "engine/lazy.h"
#include "pages.h"
#include "postcopy.h"
#include "phaul.pb-c.h"
#include "transport/mux.h"

enum agent_state {
	AG_READY = 1 << 0,    /* hello done; checks, or the first iteration */
	AG_COPYING = 1 << 1,  /* receiving pages and images */
	AG_RESTORED = 1 << 2, /* CT restored (held stopped); waiting for commit */
};

struct agent {
	struct phaul_config *cfg;
	struct mux *mux;
	enum agent_state state;
	bool done;			/* Finish answered */
	bool discarded;			/* agent_finish(false) already ran */
	char host[256];			/* our hostname, for error messages */
	char peer[256];			/* the source's hostname */
	char dir[768];			/* this migration's work dir, "" until created */
	char ct[256];			/* the CT, once the source names it (RestoreReq) */
	pid_t restored_pid;		/* root of the restored tree, 0 if none */
	char mig_id[PH_MIG_ID_MAX + 1]; /* RestoreReq's id; "" from an old source */
	bool held;			/* restored_pid recorded HELD (mrec.h): no discard on
					 * a lost session, only on the source's word */
	int lock_fd;			/* the migration's record lock, -1 */
	bool committed;			/* Go acted on: a lost session discards nothing */
	uint32_t iter;			/* current iteration, 0 before the first */
	bool final;			/* the current iteration is the final dump */
	uint32_t nimages;		/* image files received for the final dump */
	struct pstore *store;		/* the flat image of the CT's memory (<dir>/img) */
	bool lazy_ok;			/* criu: userfaultfd with non-cooperative events */
	char lazy_note[640];		/* why not, when the source asked for lazy */
	uint64_t probe_us;		/* lazy_probe's `criu check` wall time: a dry CRIU start */
	struct criu_lazy *lazy;		/* the lazy restore's daemon, until memory is complete */
	struct criu_conn *swrk;		/* criu swrk started at the final IterStart, for the restore */
	uint64_t t_restore;		/* CLOCK_MONOTONIC us at the restore's start */
	struct psx_parser psx;
	struct pages_relay relay;
	bool postcopy;	    /* IterStart.postcopy: pages pulled from the source */
	bool hybrid;	    /* ... after pre-dumps into the store (img_dir: <dir>/hyb) */
	struct postcopy pc; /* its relay, once the restore started the daemon */
	/* the audit (agent_audit.c) */
	const char *transport;	 /* "ssh", "tcp", "tcp (inetd)" */
	uint64_t t_start;	 /* now_us() at the session's start */
	char run_name[64];	 /* its run under WORK_DIR/runs, named here */
	char run_dir[600];	 /* its path: sent in Hello; "" unless it logs there */
	char finish_reason[256]; /* the source's word in Finish (peer text), "" */
};

int agent_serve(struct agent *a);
struct ct;
/*
 * The CT a->ct names, parsed into the agent's one struct ct (valid until
 * the next call): ct_parse_dst()'s result, *out usable even when it fails.
 */
int agent_ct(struct agent *a, struct ct **out);
/* Can the CT's type do what caps says (CT_CAP_*)? */
bool agent_ct_can(struct agent *a, unsigned caps);
/* Before Hello: name the session's run (its log dir); 0 or -PH_ESYS. */
int agent_audit_init(struct agent *a, const char *transport);
/*
 * After Hello: a migration (the source sent its id) logs into its run dir
 * from now on; "session start" to the log and syslog.
 */
void agent_audit_start(struct agent *a, const Phaul__Hello *hello);
/* "session end" (peer, transport, CT, result, duration) to the log and syslog. */
void agent_audit_end(struct agent *a, int ret);
/* commit: keep what was restored; else kill it and remove the work dir. */
int agent_finish(struct agent *a, bool commit);
/*
 * The source is gone or broke the protocol: discard what was received,
 * except a CT recorded HELD, which stays stopped for `phaul recover`
 * (the source may have given its copy up already).
 */
void agent_session_lost(struct agent *a);
/* Release everything the session holds (after agent_finish). */
void agent_cleanup(struct agent *a);
const char *agent_state_name(enum agent_state s);
/* Record the migration (a->mig_id, if any) as st; a failure is logged: the act matters more. */
void agent_record(struct agent *a, enum mrec_dst_state st);
/* Run the destination's hooks of stage (err: the failure, for on-failure). */
int agent_hook(struct agent *a, const char *stage, const char *err);

/*
 * After FinishAck of a lazy restore: wait for the lazy-pages daemon to
 * place every page, tell the source (LazyDone). If it died first, the CT's
 * memory is incomplete: the CT is killed and the images kept. 0 or the error.
 */
int agent_lazy_settle(struct agent *a);

/* Message handlers of a migration (agent_mig.c). */
int agent_on_iter_start(struct agent *a, Phaul__Msg *in);
int agent_on_image_file(struct agent *a, Phaul__Msg *in);
int agent_on_images_done(struct agent *a, Phaul__Msg *in);
int agent_on_restore(struct agent *a, Phaul__Msg *in);
/*
 * Recover (`phaul recover` on the source, a fresh session): answer from
 * this host's record of the migration and act on it (agent_session.c);
 * ends the session.
 */
int agent_on_recover(struct agent *a, Phaul__Msg *in);

#endif
