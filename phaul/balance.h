/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The balancer (phaul balance): inventory and thresholds from the config's
 * [balance] section (balance_config.c), each host's load from its agent
 * (balance_load.c, LoadReq) or from Prometheus (balance_prom.c), the
 * decision (balance_decide.c: no I/O, the fleet simulation drives the same
 * code), the state between runs (balance_state.c), acting through the
 * source's agent (MigrateReq, balance_remote.c) and the run itself
 * (balance.c).
 */
#ifndef PHAUL_BALANCE_H
#define PHAUL_BALANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "phaul.pb-c.h"

struct mux;
struct phaul_config;

#define BAL_NAME_MAX  64  /* a host's name in [balance] */
#define BAL_ADDR_MAX  256 /* its address as phaul migrate takes it */
#define BAL_CT_MAX    256 /* a CT spec ("lxc:web1") */
#define BAL_HOSTS_MAX 1024
#define BAL_MOVES_MAX 16 /* max_moves cap */
#define BAL_SKIPS_MAX 64 /* skip reasons kept for the report */

/* ---- the [balance] section ---- */

struct bal_host_cfg {
	char name[BAL_NAME_MAX];
	char addr[BAL_ADDR_MAX];
	char transport[8];	     /* "" = the global transport */
	char instance[BAL_ADDR_MAX]; /* its node_exporter's instance label ("" = ADDRESS's
					host:9100) */
};

/* One "ct =", "pin =" or "exclude =" line: HOST CT, or CT alone (any host). */
struct bal_ct_cfg {
	char host[BAL_NAME_MAX]; /* "" = every host */
	char ct[BAL_CT_MAX];
};

struct bal_params {
	double threshold;	 /* act when (max - min) / max >= this */
	unsigned hold_runs;	 /* ...for this many consecutive runs */
	double min_gain;	 /* a move must cut the pair's gap by this many score points */
	double max_target_score; /* the target's predicted score must stay below */
	unsigned max_moves;	 /* per run */
	unsigned cooldown_s;	 /* a moved CT stays put this long */
	unsigned fail_backoff_s; /* a CT that failed to move is skipped this long */
	bool use_psi;		 /* pressure stall info enters the score */
};

struct bal_config {
	struct bal_host_cfg *hosts; /* owned, grown per "host =" line */
	size_t nhosts;
	struct bal_ct_cfg *cts, *pins, *excludes; /* owned */
	size_t ncts, npins, nexcludes;
	char rules[8][BAL_CT_MAX]; /* "lxc:*", "unit:NAME.service" */
	size_t nrules;
	char metrics[16];      /* "agent" (default) or "prometheus" */
	char metrics_url[512]; /* prometheus: its base URL */
	char force[256];       /* compat checks the pre-selection skips (as --force) */
	struct bal_params p;
};

void bal_config_defaults(struct bal_config *b);
/* One key of [balance]; 0, -1 bad value, -2 unknown key (config.c's contract). */
int bal_config_set(struct bal_config *b, const char *key, const char *value);
void bal_config_free(struct bal_config *b);
/* Is ct pinned (or excluded) on host? */
bool bal_ct_listed(const struct bal_ct_cfg *list, size_t n, const char *host, const char *ct);

/* ---- decision (balance_decide.c): pure, no I/O ---- */

struct bal_ct {
	char name[BAL_CT_MAX];
	uint64_t rss_kb;
	double cpu;	     /* CPUs it keeps busy (1.0 = one core) */
	bool movable;	     /* not pinned, not cooling down, not recently failed */
	const char *why_not; /* static: why not movable, for the report */
};

struct bal_host {
	char name[BAL_NAME_MAX];
	bool up; /* its figures are in */
	uint32_t ncpu;
	double load1;
	bool has_psi;
	double psi_cpu, psi_mem, psi_io; /* some avg10, percent */
	uint64_t mem_total_kb, mem_avail_kb;
	struct bal_ct *cts; /* not owned */
	size_t ncts;
	double score; /* out: bal_score() */
};

/* Which targets a CT's source may send to; why: one line when not. */
typedef bool (*bal_compat_fn)(void *arg, size_t src, size_t dst, const struct bal_ct *ct, char *why,
			      size_t len);

struct bal_move {
	size_t src, dst, ct; /* indexes into the input */
	double src_before, dst_before;
	double src_after, dst_after; /* predicted */
	double gain;
};

struct bal_skip {
	char text[200];
};

struct bal_decision {
	double max, min, spread; /* spread = (max - min) / max */
	size_t imax, imin;
	size_t nup;	 /* hosts that answered; fewer than 2: no decision */
	bool imbalanced; /* spread >= threshold this run */
	unsigned held;	 /* consecutive imbalanced runs, this one included */
	struct bal_move moves[BAL_MOVES_MAX];
	size_t nmoves;
	char why[256]; /* the decision in one line */
	struct bal_skip skips[BAL_SKIPS_MAX];
	size_t nskips;
};

/* A host's score in [0, ~2]: mean of memory used and load per CPU (and PSI). */
double bal_score(const struct bal_params *p, const struct bal_host *h);
/* Predicted score with delta_kb of memory and delta_cpu CPUs added (or taken). */
double bal_score_with(const struct bal_params *p, const struct bal_host *h, double delta_kb,
		      double delta_cpu);
/*
 * Decide this run. held_before: consecutive imbalanced runs before this
 * one (from the state). Fills scores and d; moves only when the imbalance
 * has held for p->hold_runs runs. compat may be NULL (every target fits).
 */
void bal_decide(const struct bal_params *p, struct bal_host *hosts, size_t nhosts,
		unsigned held_before, bal_compat_fn compat, void *arg, struct bal_decision *d);

/* ---- state between runs (balance_state.c) ---- */

struct bal_ct_state {
	char ct[BAL_CT_MAX];
	char from[BAL_NAME_MAX]; /* the host it left */
	time_t moved_at;	 /* 0 = never moved */
	time_t failed_at;	 /* 0 = never failed */
};

struct bal_state {
	int lock_fd;
	char path[600];
	unsigned held;
	struct bal_ct_state *cts; /* owned */
	size_t ncts;
};

/*
 * Lock work_dir/balance/lock (non-blocking: when another run holds it,
 * PH_EINTR saying so) and read work_dir/balance/state. Release with
 * bal_state_close() whatever it returns.
 */
int bal_state_open(const char *work_dir, struct bal_state *s);
/* Why the CT must stay put now (cooldown, fail_backoff), or NULL (balance_decide.c). */
const char *bal_why_not(const struct bal_params *p, const struct bal_ct_state *s, time_t now);
int bal_state_save(struct bal_state *s);
void bal_state_close(struct bal_state *s);
/* The entry of ct, created when create. NULL on allocation failure or absent. */
struct bal_ct_state *bal_state_ct(struct bal_state *s, const char *ct, bool create);

/* ---- load over the channel (balance_load.c) ---- */

/* Agent: answer a LoadReq (on_load in the dispatch table). */
struct agent;
int agent_on_load(struct agent *a, Phaul__Msg *in);
/* Agent: run a MigrateReq when allowed (balance_remote.c). */
int agent_on_migrate(struct agent *a, Phaul__Msg *in);

/*
 * Balancer: ask m's agent for its load, the figures of cts and of what the
 * rules find, and (facts) its host facts. Send to every host first, then
 * receive: the agents sample at the same time.
 */
int bal_load_send(struct mux *m, const char *const *cts, size_t ncts, const char *const *rules,
		  size_t nrules, bool facts);
/* The answer into h (h->cts malloc'ed, the caller's) and *facts (owned, or NULL). */
int bal_load_recv(struct mux *m, int timeout_ms, struct bal_host *h, Phaul__HostFacts **facts);

/*
 * Balancer: check an agent's LoadResp (counts against their caps, figures
 * possible) and fill h from it (h->cts malloc'ed). Fuzzed (fuzz_msg).
 */
int bal_load_take(const char *host, const Phaul__LoadResp *r, struct bal_host *h);

/*
 * Balancer: ask m's agent (the source) to migrate ct to target; relay its
 * JSON lines to line_fn. 0 when the migration succeeded; *exit_code is
 * phaul migrate's exit code.
 */
int bal_remote_migrate(struct mux *m, const char *ct, const char *target, int timeout_ms,
		       void (*line_fn)(void *arg, const char *line), void *arg, int *exit_code);

/*
 * metrics = prometheus: overwrite the host figures of hosts[i] (those up)
 * with node_exporter's series for instances[i] from the Prometheus HTTP API
 * at url. A host whose series are missing goes down with errors[i] (owned)
 * saying which; an unreachable server or a bad answer fails the whole call.
 */
int bal_prom_query(const char *url, const char *const *instances, size_t n, int timeout_s,
		   struct bal_host *hosts, char **errors);
/* The value of instance's sample in one API answer; -1 if none (fuzzed: fuzz_prom). */
int bal_prom_value(const char *answer, size_t len, const char *instance, double *v);
/* The instance label of host h: its "instance =" or ADDRESS's host and :9100. */
void bal_prom_instance(const struct bal_host_cfg *h, char *out, size_t len);

int cmd_balance(struct phaul_config *cfg, int argc, char **argv);

#endif
