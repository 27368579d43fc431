// SPDX-License-Identifier: GPL-2.0
/*
 * phaul recover [ID|CT]: settle migrations whose outcome was lost. On the
 * source host, for each record left in the work dir (mrec.h), find out
 * where the CT is and finish the job either way:
 *
 *   source phase   source copy      action on the destination
 *   restoring      alive            DISCARD (ours never stopped being the CT)
 *   committing     alive            DISCARD (CRIU never got our COMMIT)
 *   restoring/committing  gone      GO      (theirs is the only copy)
 *   committed      (gone)           GO
 *
 * A type whose final dump stops the CT and keeps it restorable (podman:,
 * htype_ops.kept) is found by name when its root is gone: kept stopped,
 * it counts as alive before the commit (DISCARD, then resume it here) and
 * after it (GO: RUNNING there removes ours; no copy there resumes ours);
 * running here again (resumed by a rollback) it always asks DISCARD.
 *
 * The destination answers from its own record (Recover/RecoverResp in
 * proto/phaul.proto); GO and DISCARD are idempotent there, so running
 * recover twice, or after a partial run, is safe. A record is removed
 * once its migration is settled.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "err.h"
#include "htype.h"
#include "log.h"
#include "mrec.h"
#include "proto/msg.h"
#include "phaul.h"
#include "util.h"

/* Ask the destination to act; *st gets its state afterwards. */
static int ask_dest(struct phaul_config *cfg, const struct mrec *r, Phaul__Recover__Action act,
		    enum mrec_dst_state *st, char *msg, size_t len)
{
	Phaul__Msg out = PHAUL__MSG__INIT, *in = NULL;
	Phaul__Recover q = PHAUL__RECOVER__INIT;
	struct mux *m = NULL;
	char peer[256];
	int ret;

	if (r->transport[0])
		snprintf(cfg->transport, sizeof(cfg->transport), "%s", r->transport);
	if ((ret = connect_agent(cfg, r->peer, &m, peer, sizeof(peer))) < 0)
		return ret;
	q.mig_id = (char *)r->id;
	q.action = act;
	out.body_case = PHAUL__MSG__BODY_RECOVER;
	out.recover = &q;
	if ((ret = msg_send(m, &out)) == 0 &&
	    (ret = msg_expect(m, PHAUL__MSG__BODY_RECOVER_RESP, &in, cfg->timeout_s * 1000)) == 0) {
		Phaul__RecoverResp *rr = in->recover_resp;

		*st = (enum mrec_dst_state)rr->state;
		snprintf(msg, len, "%s", rr->msg ? rr->msg : "");
		/* A refusal comes with the state it found; busy means no state at all. */
		if (rr->has_err && rr->err == PH_ETIMEDOUT)
			ret = ph_seterr(PH_ETIMEDOUT, "%s", msg);
	}
	msg_free(in);
	mux_close(m);
	return ret;
}

struct say {
	const char *id;
	recover_say_fn fn;
	void *arg;
};

static void say(const struct say *y, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const struct say *y, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n = snprintf(line, sizeof(line), "%s: ", y->id);

	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	y->fn(y->arg, line);
}

/*
 * Ask, retrying a destination still busy with the migration's old session
 * (it ends once it notices ours went away) when we are that migration.
 */
static int ask_dest_retry(struct phaul_config *cfg, const struct mrec *r, bool own,
			  Phaul__Recover__Action act, enum mrec_dst_state *st, char *msg,
			  size_t len)
{
	int ret, tries = own ? 10 : 1;

	while ((ret = ask_dest(cfg, r, act, st, msg, len)) == -PH_ETIMEDOUT && --tries > 0)
		sleep(1);
	return ret;
}

/* What a type's final dump kept here of r's CT when its root is gone (htype_ops.kept). */
static int kept_here(const struct mrec *r, struct ct *ct)
{
	if (ct_parse(r->ct, ct) < 0) {
		ph_clearerr();
		return CT_KEPT_NONE; /* a record from elsewhere: nothing to ask */
	}
	return ct->ops->kept(ct, CT_KEPT_QUERY, NULL);
}

static const char *src_copy_name(bool alive, int kept)
{
	if (kept == CT_KEPT_STOPPED)
		return "stopped (kept)";
	if (kept == CT_KEPT_RUNNING)
		return "running again";
	return alive ? "alive" : "gone";
}

/*
 * The destination holds no copy (or a dead one) and ours was kept
 * stopped: run it here again. The exit code.
 */
static int resume_here(const struct say *y, struct ct *ct, const struct mrec *r, const char *msg)
{
	if (ct->ops->kept(ct, CT_KEPT_RESUME, NULL) < 0) {
		say(y,
		    "%s has no copy (%s), but %s could not be resumed here: %s; it stays "
		    "stopped",
		    r->peer, msg, r->ct, ph_errmsg());
		return EXIT_UNKNOWN;
	}
	say(y, "settled: %s runs on this host again; %s holds no copy (%s)", r->ct, r->peer, msg);
	return EXIT_ROLLED_BACK;
}

int recover_migration(struct phaul_config *cfg, const char *id, bool locked, recover_say_fn fn,
		      void *arg)
{
	const struct say y = { id, fn, arg };
	enum mrec_dst_state st = DST_NONE;
	Phaul__Recover__Action act;
	char msg[512] = "";
	bool src_alive, dst_none;
	static struct ct ct; /* large; one migration at a time */
	struct mrec r;
	int fd = -1, ret, code, kept = CT_KEPT_NONE;

	if (!locked && (fd = mrec_lock(cfg->work_dir, MREC_SOURCE, id, false)) < 0) {
		say(&y, "%s", ph_errmsg());
		return EXIT_UNKNOWN;
	}
	if ((ret = mrec_load(cfg->work_dir, MREC_SOURCE, id, &r)) < 0) {
		say(&y, "%s", ph_errmsg());
		code = ret == -PH_ENOENT ? EXIT_FAILED : EXIT_UNKNOWN;
		goto out;
	}
	src_alive = mrec_pid_alive(&r);
	memset(&ct, 0, sizeof(ct));
	if (!src_alive && (kept = kept_here(&r, &ct)) < 0) {
		say(&y, "outcome still unknown: what is left of %s here? %s", r.ct, ph_errmsg());
		code = EXIT_UNKNOWN;
		goto out;
	}
	if (kept == CT_KEPT_RUNNING)
		act = PHAUL__RECOVER__ACTION__DISCARD;
	else
		act = r.state == PHASE_COMMITTED || !(src_alive || kept == CT_KEPT_STOPPED)
			      ? PHAUL__RECOVER__ACTION__GO
			      : PHAUL__RECOVER__ACTION__DISCARD;
	say(&y, "%s to %s, phase %s; source copy %s: %s on %s", r.ct, r.peer,
	    mig_phase_name((enum mig_phase)r.state), src_copy_name(src_alive, kept),
	    act == PHAUL__RECOVER__ACTION__GO ? "go" : "discard", r.peer);
	if ((ret = ask_dest_retry(cfg, &r, locked, act, &st, msg, sizeof(msg))) < 0) {
		say(&y, "outcome still unknown: %s", ph_errmsg());
		code = EXIT_UNKNOWN;
		goto out;
	}
	dst_none = st == DST_DISCARDED || st == DST_NONE;
	if (act == PHAUL__RECOVER__ACTION__DISCARD && dst_none && kept == CT_KEPT_STOPPED) {
		code = resume_here(&y, &ct, &r, msg);
	} else if (act == PHAUL__RECOVER__ACTION__DISCARD && dst_none) {
		say(&y, "settled: %s runs on this host (pid %d); %s holds no copy (%s)", r.ct,
		    (int)r.pid, r.peer, msg);
		code = EXIT_ROLLED_BACK;
	} else if (act == PHAUL__RECOVER__ACTION__GO && st == DST_RUNNING) {
		/* ours, kept stopped until Go was acknowledged, goes now */
		if (kept == CT_KEPT_STOPPED && ct.ops->kept(&ct, CT_KEPT_REMOVE, NULL) < 0)
			say(&y, "%s", ph_errmsg());
		say(&y, "settled: %s runs on %s (%s)", r.ct, r.peer, msg);
		code = EXIT_OK;
	} else if (act == PHAUL__RECOVER__ACTION__GO && kept == CT_KEPT_STOPPED &&
		   (dst_none || st == DST_GONE)) {
		/* the session ended there before Go: its copy was discarded */
		code = resume_here(&y, &ct, &r, msg);
	} else if (act == PHAUL__RECOVER__ACTION__GO && st == DST_FILLING) {
		/* post-copy: it ends RUNNING, or LOST once its wait for this host ends */
		say(&y, "still open: %s runs on %s while its memory still comes from here (%s); "
			"ask again later",
		    r.ct, r.peer, msg);
		code = EXIT_UNKNOWN;
	} else if (act == PHAUL__RECOVER__ACTION__GO) {
		say(&y, "LOST: the source copy is gone and %s has %s (%s)", r.peer,
		    mrec_dst_state_name(st), msg);
		code = EXIT_UNRECOVERED;
	} else {
		say(&y, "unexpected: the source copy is alive and %s says %s (%s)", r.peer,
		    mrec_dst_state_name(st), msg);
		code = EXIT_UNKNOWN;
	}
	if ((code == EXIT_OK || code == EXIT_ROLLED_BACK) &&
	    mrec_remove(cfg->work_dir, MREC_SOURCE, id) < 0)
		say(&y, "%s", ph_errmsg());
out:
	if (!locked)
		mrec_unlock(cfg->work_dir, MREC_SOURCE, id, fd);
	return code;
}

static void say_stdout(void *arg, const char *line)
{
	(void)arg;
	puts(line);
}

/* Settle one migration from the command line: settled either way is success. */
static int recover_one(struct phaul_config *cfg, const char *id)
{
	int code = recover_migration(cfg, id, false, say_stdout, NULL);

	return code == EXIT_ROLLED_BACK ? EXIT_OK : code;
}

/* The worse of two exit codes: unknown beats lost beats failed beats ok. */
static int worse(int a, int b)
{
	static const int rank[] = {
		[EXIT_OK] = 0,	    [EXIT_FAILED] = 1,	    [EXIT_USAGE] = 1,
		[EXIT_REFUSED] = 1, [EXIT_ROLLED_BACK] = 1, [EXIT_UNRECOVERED] = 2,
		[EXIT_UNKNOWN] = 3
	};

	return rank[b] > rank[a] ? b : a;
}

/* Every record in the work dir whose id or CT is `which` (NULL: all). */
static int recover_all(struct phaul_config *cfg, const char *which)
{
	int code = EXIT_OK, n = 0;
	struct dirent *de;
	DIR *d = opendir(cfg->work_dir);

	if (!d) {
		if (errno == ENOENT)
			goto none;
		fprintf(stderr, "phaul: %s: %s\n", cfg->work_dir, strerror(errno));
		return EXIT_FAILED;
	}
	while ((de = readdir(d))) {
		const char *id = de->d_name + 8;
		struct mrec r;

		if (strncmp(de->d_name, "mig-out-", 8) || !mrec_id_valid(id))
			continue; /* .lock, .tmp, and anything else */
		if (which && strcmp(which, id) &&
		    (mrec_load(cfg->work_dir, MREC_SOURCE, id, &r) < 0 || strcmp(which, r.ct)))
			continue;
		n++;
		code = worse(code, recover_one(cfg, id));
	}
	closedir(d);
	if (n)
		return code;
none:
	printf("nothing to recover%s%s in %s\n", which ? " for " : "", which ? which : "",
	       cfg->work_dir);
	return which ? EXIT_FAILED : EXIT_OK;
}

int recover_pending(const struct phaul_config *cfg, const char *ct, char *id, size_t len)
{
	struct dirent *de;
	DIR *d = opendir(cfg->work_dir);
	int found = 0;

	while (d && !found && (de = readdir(d))) {
		const char *rid = de->d_name + 8;
		struct mrec r;

		if (strncmp(de->d_name, "mig-out-", 8) || !mrec_id_valid(rid) ||
		    mrec_load(cfg->work_dir, MREC_SOURCE, rid, &r) < 0 || strcmp(r.ct, ct))
			continue;
		snprintf(id, len, "%s", rid);
		found = 1;
	}
	if (d)
		closedir(d);
	return found;
}

const char recover_usage[] =
	"Usage: phaul recover [ID|CT]\n"
	"\n"
	"Settle migrations whose outcome was lost (exit code 6): for each record\n"
	"in the work dir (all, or the one with this id, or of this CT), ask the\n"
	"destination and finish the job either way: the destination lets the CT\n"
	"run if the source copy is gone, else discards its stopped copy. A podman:\n"
	"container its checkpoint stopped here is found by name: restored here if\n"
	"the destination holds no copy, removed here if the destination runs it.\n"
	"Safe to run again. Exit 0 when every one is settled, 5 if a CT was lost,\n"
	"6 if some outcome is still unknown (the destination unreachable, or a\n"
	"post-copy still filling its memory from here).\n"
	"  --work-dir D       where the records are (default from config)\n";

const struct option recover_opts[] = {
	{ "work-dir", required_argument, NULL, 'w' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int cmd_recover(struct phaul_config *cfg, int argc, char **argv)
{
	int c;

	while ((c = getopt_long(argc, argv, "h", recover_opts, NULL)) != -1) {
		switch (c) {
		case 'w': snprintf(cfg->work_dir, sizeof(cfg->work_dir), "%s", optarg); break;
		case 'h': fputs(recover_usage, stdout); return EXIT_OK;
		default: return cli_usage_hint("recover");
		}
	}
	if (optind + 1 < argc)
		return cli_usage_error("recover", "one ID or CT at most, got %d operands",
				       argc - optind);
	log_init("recover", cfg->log_level);
	return recover_all(cfg, optind < argc ? argv[optind] : NULL);
}
