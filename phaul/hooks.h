/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Stage hooks: the operator's executables run at the boundaries of a
 * migration, on the host where the stage happens.
 *
 * Layout under the hooks dir (config key hooks_dir, default
 * /etc/phaul/hooks), for a stage such as "pre-restore":
 *   HOOKS_DIR/pre-restore        one executable, run first, then
 *   HOOKS_DIR/pre-restore.d/<name>  executables, in byte-wise lexical order.
 * Names starting with "." or ending in "~", ".dpkg-old", ".dpkg-new",
 * ".dpkg-dist", ".rpmnew", ".rpmsave", ".swp" are ignored (editor and
 * package-manager leftovers). A regular file without execute permission
 * is skipped with a warning (chmod -x disables a hook, as with run-parts).
 * A hook writable by group or others, or owned by neither root nor us,
 * is refused (PH_EHOOK): it would run as root with our privileges.
 * A missing dir, stage file or stage.d dir is not an error.
 *
 * Each hook runs as "HOOK STAGE" with stdin /dev/null, stdout and stderr
 * logged line by line prefixed with the hook's name, no other fd of ours
 * (the protocol connection above all), its own process group, and the
 * PHAUL_* environment below on top of ours. After the timeout its whole
 * group gets SIGTERM, then SIGKILL 2 s later.
 *
 * The first failing hook stops the stage, except for "on-failure", where
 * every hook runs (they clean up) and the first failure is returned.
 */
#ifndef PHAUL_HOOKS_H
#define PHAUL_HOOKS_H

#include <sys/types.h>

#define HOOKS_TIMEOUT_MS 60000

/* Stages, as the names of the hooks. */
#define HOOK_BEFORE_CHECK "before-check"
#define HOOK_PRE_PRECOPY  "pre-precopy"
#define HOOK_PRE_DUMP	  "pre-dump"
#define HOOK_POST_DUMP	  "post-dump"
#define HOOK_PRE_RESTORE  "pre-restore"
#define HOOK_POST_RESTORE "post-restore"
#define HOOK_ON_FAILURE	  "on-failure"
#define HOOK_ON_SUCCESS	  "on-success"

/*
 * What a hook is told (each becomes PHAUL_<NAME>; NULL or 0: not set).
 * Several come from the peer (CT names on the destination, the other
 * host's name, error texts): every value is passed through ph_strvis()
 * (one printable line, no control characters) and cut at
 * HOOKS_ENV_VAL_MAX - 1 bytes. Hooks must still treat them as untrusted.
 */
#define HOOKS_ENV_VAL_MAX 1024
struct hook_env {
	const char *ct;	      /* PHAUL_CT: "pid:4242", "lxc:web1" */
	const char *ct_type;  /* PHAUL_CT_TYPE: "pid", "lxc" */
	const char *ct_id;    /* PHAUL_CT_ID: "4242", "web1" */
	const char *src_host; /* PHAUL_SRC_HOST */
	const char *dst_host; /* PHAUL_DST_HOST */
	const char *side;     /* PHAUL_SIDE: "source" or "destination" */
	const char *work_dir; /* PHAUL_WORK_DIR: this migration's work dir */
	pid_t root_pid;	      /* PHAUL_ROOT_PID: the CT's root pid when known */
	const char *error;    /* PHAUL_ERROR: why, for on-failure */
};

/*
 * Run the hooks of stage from dir (PHAUL_STAGE=stage) with a timeout of
 * HOOKS_TIMEOUT_MS each. Returns 0, or PH_EHOOK naming the hook's path,
 * the stage, its exit status (or signal, or the timeout) and the last line
 * of its stderr; PH_ESYS/PH_ENOMEM when a hook could not be started.
 * dir NULL or "" runs nothing.
 */
int hooks_run(const char *dir, const char *stage, const struct hook_env *env);
/* hooks_run() with timeout_ms per hook instead of the default (tests, config). */
int hooks_run_timeout(const char *dir, const char *stage, const struct hook_env *env,
		      int timeout_ms);

#endif
