/* SPDX-License-Identifier: GPL-2.0 */
/*
 * CRIU driven over its RPC: `criu swrk FD` on a SOCK_SEQPACKET socketpair,
 * one packed CriuReq/CriuResp per datagram (rpc.proto from the criu
 * package). A struct criu_conn is one swrk process; it serves one request,
 * except the PRE_DUMP... DUMP sequence, which shares one connection, and
 * keep_open requests (PAGE_SERVER_CHLD then WAIT_PID, used by
 * criu_page_server()). Engine design and the migration call sequence:
 * engine/README.md.
 *
 * fds: swrk uses fd numbers from a request as-is in its own fd table
 * (ps.fd), so such fds must exist when swrk is forked: pass them to
 * criu_conn_open_fds(). images_dir/work_dir are opened by the engine and
 * reopened by CRIU through /proc/<our pid>/fd, so they need no passing.
 * swrk gets /dev/null as stdin and stdout (so it can never write into an
 * agent's --stdio channel) and inherits stderr.
 *
 * Errors: every CRIU failure returns PH_ECRIU with the request name,
 * cr_errno, cr_errmsg, the log file path and its last "Error" lines in
 * the message (ph_errmsg()). A swrk that dies mid-request gives PH_ECRIU
 * "criu swrk exited (...)"; a wait past its deadline gives PH_ETIMEDOUT.
 * No function leaves a zombie swrk behind.
 *
 * Threads: a criu_conn is used by one thread at a time.
 */
#ifndef ENGINE_CRIU_H
#define ENGINE_CRIU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct criu_conn;

/* CRIU's --manage-cgroups modes (rpc.proto criu_cg_mode), plus "unset". */
enum criu_cg_mode {
	CRIU_CG_UNSET = 0,
	CRIU_CG_IGNORE,
	CRIU_CG_NONE,
	CRIU_CG_PROPS,
	CRIU_CG_SOFT,
	CRIU_CG_FULL,
	CRIU_CG_STRICT,
};

/* "ignore", "none", "props", "soft", "full", "strict" -> *out; -1 otherwise. */
int criu_cg_mode_parse(const char *s, enum criu_cg_mode *out);
/* The name criu_cg_mode_parse() takes; "" for CRIU_CG_UNSET. */
const char *criu_cg_mode_name(enum criu_cg_mode m);

/* The RPC config file of a --lazy-pages dump (in its work dir). */
#define CRIU_LAZY_PS_CONF "lazy-ps.conf"

struct criu_opts {
	pid_t pid;		/* dump: root of the tree */
	const char *images_dir; /* opened by the engine, passed as images_dir_fd */
	const char *work_dir;	/* logs and stats; NULL: images_dir */
	const char *parent_img; /* "../N-1" relative to images_dir, or NULL */
	const char *log_file;	/* name inside work_dir; NULL: "<request>.log" */
	int log_level;		/* CRIU's 0..4; 0 means 4 */
	int ps_fd;		/* connected page-server socket or -1 (0 is a
				 * valid fd: initialise with CRIU_OPTS_INIT) */
	bool track_mem;
	bool leave_running;
	/*
	 * restore: lazily. dump: leave the memory lazy and serve it on ps_fd
	 * to a remote lazy-pages daemon once post-dump was answered COMMIT
	 * (post-copy; CRIU_LAZY_PS_CONF in work_dir names the socket)
	 */
	bool lazy_pages;
	bool leave_stopped; /* restore: every task SIGSTOPped before it runs */
	/*
	 * restore, optional: called for each of CRIU's notifications
	 * ("post-restore", "pre-resume", ...) with the root's pid (0 until
	 * post-restore brings it). At post-restore CRIU still holds every task
	 * (none has run an instruction of its own): non-zero there makes CRIU
	 * kill the tree and the restore fail. Elsewhere the result is ignored.
	 */
	int (*rst_notify)(const char *script, pid_t root, void *arg);
	void *rst_arg;
	/*
	 * What the operator allows (struct criu_flags): each is sent only when
	 * set, so CRIU's own default holds otherwise.
	 */
	bool shell_job;
	bool tcp_established;
	bool ext_unix_sk;
	bool file_locks;
	bool link_remap;
	uint32_t ghost_limit;	   /* bytes; 0: CRIU's default, 1 MiB */
	enum criu_cg_mode cg_mode; /* CRIU_CG_UNSET: CRIU's default (soft) */
	/*
	 * restore: a `criu swrk` started in advance (criu_conn_open), so that
	 * its start is not in the downtime; criu_restore uses and closes it,
	 * whatever happens. NULL: criu_restore starts one.
	 */
	struct criu_conn *conn;
};

#define CRIU_OPTS_INIT                                                                             \
	{                                                                                          \
		.ps_fd = -1                                                                        \
	}

/* Default deadline for quick requests (VERSION, CHECK, FEATURE_CHECK, CPUINFO). */
#define CRIU_QUICK_TIMEOUT_MS 60000

/* Decision returned by the post-dump callback. */
enum criu_verdict { CRIU_ROLLBACK = 0, CRIU_COMMIT = 1 };

/*
 * Called for each notification CRIU sends during DUMP ("pre-dump",
 * "network-lock", "post-dump", "network-unlock", ...). For "post-dump" the
 * return value is the verdict (the callback may block until the migration
 * is decided): COMMIT answers success, so CRIU kills the tree; ROLLBACK
 * answers failure, so CRIU unlocks the network and resumes it. For other
 * scripts return COMMIT to continue; ROLLBACK there makes CRIU abort the
 * dump (and resume the tree).
 */
typedef enum criu_verdict (*criu_notify_fn)(const char *script, void *arg);

/* Start `criu swrk` ($PHAUL_CRIU, else "criu" on PATH); *out: for criu_conn_close(). */
int criu_conn_open(struct criu_conn **out);
/*
 * What every swrk and `criu lazy-pages` (lazy.h) started from now on gets
 * as its stderr: fd (the caller keeps it open), or -1 for ours. CRIU's own log file has the
 * details; stderr has what CRIU says before or outside it.
 */
void criu_set_stderr(int fd);
/* That fd, or -1. */
int criu_get_stderr(void);
/* Same, and swrk inherits fds[0..nfds) at the same numbers (e.g. ps_fd); fds stay the caller's. */
int criu_conn_open_fds(struct criu_conn **out, const int *fds, size_t nfds);
/*
 * Ends the swrk process: closes the socket (swrk exits on EOF; a DUMP
 * waiting for a notify answer then resumes the tree), waits up to 10 s,
 * then SIGKILLs and reaps it. Accepts NULL.
 */
void criu_conn_close(struct criu_conn *c);
/* Deadline for each wait for a CRIU message on c; -1 (default): none. */
void criu_conn_set_timeout(struct criu_conn *c, int timeout_ms);
/* pid of the swrk process (for logs and tests). */
pid_t criu_conn_pid(const struct criu_conn *c);

struct criu_version {
	int major, minor, sublevel; /* sublevel 0 when CRIU did not send one */
	char gitid[64];		    /* "" when none */
	char str[32];		    /* "3.17.1" */
};

/* VERSION (one-shot connection). PH_ECRIU if criu cannot be started. */
int criu_version(struct criu_version *v);

/*
 * CHECK with logs in work_dir (check.log). 0: CRIU's checks pass. On
 * failure PH_ECRIU; msg (if non-NULL) gets a plain one-line reason built
 * from the log's error lines, also the ph_errmsg() detail.
 */
int criu_check(const char *work_dir, char *msg, size_t len);

struct criu_features {
	bool mem_track;	 /* soft-dirty: pre-copy iterations possible */
	bool lazy_pages; /* userfaultfd: post-copy possible */
	bool pidfd_store;
};

/* FEATURE_CHECK for the three features above. */
int criu_feature_check(struct criu_features *f);

/* CPUINFO_DUMP writes dir/cpuinfo.img; CPUINFO_CHECK compares this CPU to it. */
int criu_cpuinfo_dump(const char *dir);
int criu_cpuinfo_check(const char *dir);

/*
 * PRE_DUMP on c, repeatable; each call one iteration with its own
 * images_dir and parent_img. With o->ps_fd the pages go to that socket
 * (the same fd every iteration: CRIU sends FORCE_CLOSE at the end of
 * each, see engine/psx.h). A failed PRE_DUMP ends swrk: c is then dead
 * and further requests on it fail.
 */
int criu_pre_dump(struct criu_conn *c, const struct criu_opts *o);

enum criu_dump_outcome {
	CRIU_DUMP_UNKNOWN = 0, /* CRIU died or broke protocol: check the tree */
	CRIU_DUMP_KILLED = 1,  /* dumped, COMMIT answered, tree killed (or left
				* running with leave_running) */
	CRIU_DUMP_RESUMED = 2, /* CRIU answered failure: dump error or ROLLBACK;
				* the tree was resumed by CRIU */
};

/*
 * DUMP on c (fresh, or after criu_pre_dump()s) with notify_scripts, calling
 * fn for each notification (fn may be NULL: COMMIT everything). Returns 0
 * when CRIU did what the post-dump verdict asked (KILLED after COMMIT,
 * RESUMED after ROLLBACK); PH_ECRIU otherwise. *outcome (may be NULL)
 * says what happened to the tree in every case.
 */
int criu_dump(struct criu_conn *c, const struct criu_opts *o, criu_notify_fn fn, void *arg,
	      enum criu_dump_outcome *outcome);

/*
 * RESTORE (one-shot connection) with rst_sibling: the restored root is
 * created as a child of the calling process, not of swrk, so it outlives
 * swrk; the caller must reap it eventually (waitpid(*pid) or SIGCHLD).
 *
 * o->leave_stopped: CRIU's own --leave-stopped (the RPC has no such field
 * in 3.17; it goes in a config file, criu_hold_conf()): CRIU sends every
 * restored process SIGSTOP while it still holds them ptrace-stopped on
 * rt_sigreturn, before pre-resume and before it detaches, so no task runs
 * an instruction of its own until criu_tree_signal(*pid, SIGCONT); and
 * that holds even if the caller dies during the restore.
 */
int criu_restore(const struct criu_opts *o, pid_t *pid);
/* Is a swrk started in advance still there to serve a request? */
bool criu_conn_alive(const struct criu_conn *c);

/*
 * Write dir/CRIU_HOLD_CONF, a CRIU configuration file that says
 * "leave-stopped", and put its absolute path in out. criu_restore() passes
 * it as the RPC's config_file; a restore that CRIU runs for another
 * program (liblxc's `criu restore`, runc's `criu swrk`) gets it as
 * CRIU_CONFIG_FILE in that program's environment, which CRIU reads at
 * start-up (3.17 config.c, PARSING_ENV_CONF, even with
 * --no-default-config). 0, or PH_ESYS / PH_EPATH.
 */
#define CRIU_HOLD_CONF "criu-leave-stopped.conf"
int criu_hold_conf(const char *dir, char *out, size_t len);
/* The same for any CRIU options: text (lines "option [value]") into dir/name. */
int criu_conf_write(const char *dir, const char *name, const char *text, char *out, size_t len);

/*
 * Send sig to root and every descendant (found through
 * /proc/PID/task/TID/children, at most CRIU_TREE_MAX processes). Meant for
 * a tree that cannot fork meanwhile (stopped, or held by CRIU). 0, or
 * PH_ENOENT if root does not exist, PH_ETOOBIG, PH_ESYS.
 */
#define CRIU_TREE_MAX 65536
int criu_tree_signal(pid_t root, int sig);

/*
 * The last error lines of the CRIU log at path as " | "-separated text in
 * out ("" if none or no such log); for CRIU runs phaul did not start
 * itself (liblxc's). When an error line in the log's tail names an object
 * an option would allow (criu_hint()), the hint follows, whole, after
 * " -- ": out should hold CRIU_ERRS_LEN bytes.
 */
void criu_log_errors(const char *path, char *out, size_t len);
#define CRIU_ERRS_LEN 1024

/*
 * What one CRIU 3.17 log line means for the operator, when it names an
 * object phaul moves only with an option (the option, its config key and
 * its cost) or cannot move at all (why); NULL for any other line.
 */
const char *criu_hint(const char *line);

/* A running CRIU page server (one per iteration; it serves one session). */
struct criu_ps;

/*
 * Start a page server on o->ps_fd (required: an already-connected stream
 * socket, the relay's end) writing into o->images_dir with o->parent_img.
 * Returns once CRIU reports it started. Uses PAGE_SERVER_CHLD with
 * keep_open, so the page server is swrk's child and its exit status can
 * be collected with criu_ps_wait(). *out is the caller's, for
 * criu_ps_close(); o->ps_fd stays the caller's.
 */
int criu_page_server(const struct criu_opts *o, struct criu_ps **out);
pid_t criu_ps_pid(const struct criu_ps *ps);
/*
 * Wait (up to timeout_ms, -1: forever) for the page server to finish its
 * session and exit. 0: it exited 0 (every page received and written);
 * PH_ECRIU with its status and log otherwise; PH_ETIMEDOUT.
 */
int criu_ps_wait(struct criu_ps *ps, int timeout_ms);
/* Kill the page server if still running, end swrk, free. Accepts NULL. */
void criu_ps_close(struct criu_ps *ps);

#endif
