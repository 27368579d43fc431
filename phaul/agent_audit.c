// SPDX-License-Identifier: GPL-2.0
/*
 * The agent's audit trail (agent.h): each session's start and end, to the
 * log and to syslog, and a migration session's own log file under
 * WORK_DIR/runs (forensics.h), named by the agent, never by the peer.
 */
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "err.h"
#include "forensics.h"
#include "log.h"
#include "util.h"

int agent_audit_init(struct agent *a, const char *transport)
{
	int ret;

	a->transport = transport;
	a->t_start = now_us();
	a->run_dir[0] = '\0';
	if ((ret = fx_session_name(a->run_name, sizeof(a->run_name))) < 0)
		return ret;
	snprintf(a->run_dir, sizeof(a->run_dir), "%s/" FX_RUNS_DIR "/%s", a->cfg->work_dir,
		 a->run_name);
	return 0;
}

void agent_audit_start(struct agent *a, const Phaul__Hello *hello)
{
	char dir[sizeof(a->run_dir)];
	bool mig = hello->mig_id && *hello->mig_id;

	/* the peer's id is data for the log lines, checked; the log's path is ours */
	if (mig && log_set_id(hello->mig_id) < 0) {
		pr_warn("%s sent a malformed migration id: not shown", a->peer);
		mig = false;
	}
	if (mig && a->run_name[0]) {
		fx_prune(a->cfg->work_dir, a->cfg->keep_reports - 1, a->cfg->keep_days, NULL,
			 time(NULL));
		if (fx_begin(a->cfg->work_dir, a->run_name, "agent.log", dir, sizeof(dir)) < 0) {
			pr_warn("no log of this session kept: %s", ph_errmsg());
			a->run_dir[0] = '\0';
		}
	} else {
		a->run_dir[0] = '\0'; /* checks, load, recover: the agent's own log has them */
	}
	log_audit("session start: peer %s (%s), transport %s%s%s", a->peer, mux_peer(a->mux),
		  a->transport ? a->transport : "?", a->run_dir[0] ? ", log " : "", a->run_dir);
}

void agent_audit_end(struct agent *a, int ret)
{
	char result[600];

	if (ret < 0 && !a->committed)
		snprintf(result, sizeof(result), "failed: %s", ph_errmsg());
	else if (a->committed)
		snprintf(result, sizeof(result), "committed%s", ret < 0 ? " (then lost)" : "");
	else if (a->held)
		snprintf(result, sizeof(result), "held stopped for `phaul recover`");
	else if (a->discarded && a->iter)
		snprintf(result, sizeof(result), "discarded (the source: %s)",
			 a->finish_reason[0] ? a->finish_reason : "no reason given");
	else if (a->finish_reason[0])
		snprintf(result, sizeof(result), "ended without a migration (the source: %s)",
			 a->finish_reason);
	else
		snprintf(result, sizeof(result), "ended");
	log_audit("session end: peer %s, transport %s, CT %s, result %s, %.1f s", a->peer,
		  a->transport ? a->transport : "?", a->ct[0] ? a->ct : "-", result,
		  (now_us() - a->t_start) / 1e6);
	log_close_file();
}
