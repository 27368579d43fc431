/* SPDX-License-Identifier: GPL-2.0 */
/* The CLI's commands and what they share. */
#ifndef PHAUL_PHAUL_H
#define PHAUL_PHAUL_H

#include <stdbool.h>
#include <stddef.h>

#include "compat/compat.h"
#include "config.h"
#include "transport/mux.h"

/* Exit codes (HOWTO.md "Exit codes"). */
enum phaul_exit {
	EXIT_OK = 0,
	EXIT_FAILED = 1, /* failed before anything changed / generic */
	EXIT_USAGE = 2,
	EXIT_REFUSED = 3,	/* compat checks refused the migration */
	EXIT_ROLLED_BACK = 4,	/* migration failed, source resumed */
	EXIT_UNRECOVERED = 5,	/* migration failed and rollback failed */
	EXIT_UNKNOWN = 6,	/* outcome unknown: the CT is held frozen or
				 * stopped on one side; run `phaul recover` */
	EXIT_MOVED = 7,		/* phaul balance: every planned move succeeded */
	EXIT_LOST = 8,		/* committed, then the destination's lazy restore
				 * failed: the CT is gone (HOWTO.md "Restore modes") */
	EXIT_POSTCOPY_LOST = 9, /* post-copy broke after the switch (the source,
				 * its pages or the link was lost): the CT is gone
				 * (HOWTO.md "Migration modes") */
};

/*
 * Connect to the agent on host ("[user@]host[:port]") with the configured
 * transport (ssh: runs cfg->agent_cmd there; tcp: shared-secret auth), start
 * the mux and exchange Hello. *peer_name gets the peer's hostname. *out is
 * the caller's, for mux_close().
 */
int connect_agent(const struct phaul_config *cfg, const char *host, struct mux **out,
		  char *peer_name, size_t peer_len);
/*
 * The same for a migration: the agent learns mig_id (for its log lines) and
 * log_dir gets where it logs this session ("" from an older agent), made
 * visible: a path on the peer, to print only. log_dir may be NULL.
 */
int connect_agent_mig(const struct phaul_config *cfg, const char *host, const char *mig_id,
		      struct mux **out, char *peer_name, size_t peer_len, char *log_dir,
		      size_t log_len);

/*
 * End the session: commit keeps what the agent restored, else it discards
 * everything it received; keep: the agent keeps the images either way.
 * Returns 0 when the agent acknowledged.
 */
int finish_agent(struct mux *m, bool commit, bool keep, const char *reason, int timeout_ms);
/* Same; *dst_go_us (if not NULL): the agent's Finish -> FinishAck time, 0 if unsaid. */
int finish_agent_go(struct mux *m, bool commit, bool keep, const char *reason, int timeout_ms,
		    uint64_t *dst_go_us);

/*
 * Ask the agent for its facts (sending our cpuinfo and the CT's pids) and
 * compare with ours into t (t->nrows is 0 if it never got that far).
 * 0, or PH_ECOMPAT naming the check.
 */
int check_remote(struct phaul_config *cfg, struct mux *m, const char *peer,
		 const struct compat_req *req, const uint32_t *pids, size_t npids,
		 struct compat_table *t);

int cmd_agent(struct phaul_config *cfg, int argc, char **argv);
int cmd_check(struct phaul_config *cfg, int argc, char **argv);
int cmd_migrate(struct phaul_config *cfg, int argc, char **argv);
int cmd_recover(struct phaul_config *cfg, int argc, char **argv);
/* The control socket's clients (control_cmd.c). */
int cmd_status(struct phaul_config *cfg, int argc, char **argv);
int cmd_cancel(struct phaul_config *cfg, int argc, char **argv);
int cmd_set(struct phaul_config *cfg, int argc, char **argv);

/*
 * Settle migration id from its source record (recover.c): ask its
 * destination and finish the job either way. locked: the caller holds the
 * record's lock (phaul migrate settling its own lost answer). say gets one
 * line per finding. EXIT_OK (the CT runs on the destination),
 * EXIT_ROLLED_BACK (it runs here, no copy there), EXIT_UNRECOVERED (lost),
 * EXIT_UNKNOWN (still), EXIT_FAILED (no such record).
 */
/* Is a record of CT (its spec) left in the work dir? 1 and its id, or 0. */
int recover_pending(const struct phaul_config *cfg, const char *ct, char *id, size_t len);
typedef void (*recover_say_fn)(void *arg, const char *line);
int recover_migration(struct phaul_config *cfg, const char *id, bool locked, recover_say_fn say,
		      void *arg);

#endif
