// SPDX-License-Identifier: GPL-2.0
/*
 * Post-copy: the lazy-page relay bound to the mux, and the source's kill
 * at the point of no return (phaul/postcopy.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "engine/criu.h"
#include "err.h"
#include "log.h"
#include "pages.h"
#include "event.h"
#include "postcopy.h"
#include "util.h"

/*
 * The destination's store of pushed pages (engine/README.md "Background
 * push"): an unnamed file in the session directory, on its disk rather
 * than in memory, gone with its descriptor.
 */
static int store_open(struct postcopy *pc, const char *dir)
{
	char path[4096];

	pc->store = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (pc->store >= 0)
		return 0;
	snprintf(path, sizeof(path), "%s/lazy-store-XXXXXX", dir);
	pc->store = mkstemp(path);
	if (pc->store < 0 || fcntl(pc->store, F_SETFD, FD_CLOEXEC) < 0)
		return ph_seterr_errno(PH_ESYS, "post-copy: the page store in %s", dir);
	unlink(path);
	return 0;
}

/*
 * Hybrid: the dump's pages in its parent (PE_PARENT) are in the flat
 * store; its pagemaps become parentless with those pages lazy (after the
 * source's lazy runs were read from them), served from the store.
 */
static int hybrid_prepare(struct postcopy *pc, const char *dir)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	int ret;

	lzx_local_init(&pc->loc, ps);
	lzx_set_init(&pc->full, ps);
	if ((ret = lzx_pagemap_rewrite_dir(dir, pc->locate, pc->locate_arg, &pc->loc)) < 0 ||
	    (ret = lzx_set_union(&pc->full, &pc->set, &pc->loc)) < 0)
		return ph_errctx(ret, "hybrid: the dump's pages in the flat store");
	return 0;
}

static int start(struct postcopy *pc, struct mux *m, int sk, const char *dir, bool source,
		 int timeout_ms)
{
	struct lzx_io io;
	int ret;

	pc->store = -1;
	pc->mux = m;
	if ((ret = pclink_new(&pc->link, &pc->mux, NULL)) < 0)
		return ret;
	pclink_io(pc->link, &io);
	lzx_set_init(&pc->set, (size_t)sysconf(_SC_PAGESIZE));
	if ((ret = lzx_set_load_dir(&pc->set, dir)) < 0)
		return ph_errctx(ret, "post-copy: the dump's lazy pages");
	if (pc->hybrid && (ret = hybrid_prepare(pc, dir)) < 0)
		return ret;
	pc->t_start = now_us();
	if (source)
		return lzx_relay_start(sk, &pc->set, true, &io, timeout_ms, &pc->relay);
	if ((ret = store_open(pc, dir)) < 0)
		return ret;
	if (!pc->hybrid)
		return lzx_relay_start_push(sk, &pc->set, pc->store, &io, timeout_ms, &pc->relay);
	return lzx_relay_start_hybrid(sk, &pc->full, &pc->set, &pc->loc, pc->store, &io, timeout_ms,
				      &pc->relay);
}

/* In the guard after fork: async-signal-safe calls only. */
static void guard_child(int sk, int rd)
{
	char c;
	ssize_t n;
	int null;

	if (dup2(sk, 3) < 0 || dup2(rd, 4) < 0)
		_exit(1);
	/* not phaul's stdio: `ssh host phaul ...` must end when phaul does */
	null = open("/dev/null", O_RDWR);
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
		_exit(1);
	syscall(SYS_close_range, 5, ~0u, 0);
	while ((n = read(4, &c, 1)) < 0 && errno == EINTR)
		;
	if (n == 0) /* we died: cut a header so that CRIU fails */
		send(3, "", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	_exit(0);
}

/*
 * If phaul dies after post-dump's COMMIT answer and before the switch,
 * CRIU sees its page-server socket close between requests, takes it for a
 * complete transfer and kills the tree it holds, while the destination
 * lacks its memory. A child holding a copy of our end (CRIU sees no EOF
 * then) cuts a header into it when we die: CRIU fails and resumes the
 * tree. After the switch the tree is dead and the byte harmless.
 * postcopy_free() ends it quietly.
 */
static int guard_start(struct postcopy *pc, int sk)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return ph_seterr_errno(PH_ESYS, "post-copy guard: pipe");
	pc->guard = fork();
	if (pc->guard < 0) {
		close(p[0]);
		close(p[1]);
		return ph_seterr_errno(PH_ESYS, "post-copy guard: fork");
	}
	if (pc->guard == 0)
		guard_child(sk, p[0]);
	close(p[0]);
	pc->guard_fd = p[1];
	return 0;
}

static void guard_end(struct postcopy *pc)
{
	if (pc->guard <= 0)
		return;
	if (write(pc->guard_fd, "q", 1) != 1)
		pr_warn("post-copy guard: %s", strerror(errno));
	close(pc->guard_fd);
	waitpid(pc->guard, NULL, 0);
	pc->guard = 0;
}

int postcopy_src_start(struct postcopy *pc, struct mux *m, int sk, const char *dir, int timeout_ms)
{
	int ret;

	memset(pc, 0, sizeof(*pc));
	ret = start(pc, m, sk, dir, true, timeout_ms);

	return ret < 0 ? ret : guard_start(pc, sk);
}

int postcopy_dst_start(struct postcopy *pc, struct mux *m, int sk, const char *dir, int timeout_ms)
{
	return postcopy_dst_start_hybrid(pc, m, sk, dir, NULL, NULL, timeout_ms);
}

int postcopy_dst_start_hybrid(struct postcopy *pc, struct mux *m, int sk, const char *dir,
			      lzx_locate_fn locate, void *arg, int timeout_ms)
{
	int ret;

	memset(pc, 0, sizeof(*pc));
	pc->hybrid = locate != NULL;
	pc->locate = locate;
	pc->locate_arg = arg;
	ret = start(pc, m, sk, dir, false, timeout_ms);
	pc->sk = sk;
	pc->owns_sk = true;
	return ret;
}

uint64_t postcopy_pages_left(struct postcopy *pc)
{
	struct lzx_counts c = pc->c;

	if (pc->relay)
		lzx_relay_counts(pc->relay, &c);
	return c.pages_served < pc->set.pages ? pc->set.pages - c.pages_served : 0;
}

void postcopy_old_sent(struct postcopy *pc, uint64_t *raw, uint64_t *wire)
{
	pclink_old_sent(pc->link, raw, wire);
}

void postcopy_event(struct postcopy *pc, const char *state)
{
	struct lzx_counts c = pc->c;

	if (pc->relay)
		lzx_relay_counts(pc->relay, &c);
	if (!pc->rep || !pc->rep->json)
		return;
	event_head(stdout, "postcopy");
	printf(",\"state\":\"%s\",\"pages_left\":%llu,"
	       "\"pages_served\":%llu,\"requests\":%llu,\"since_switch_us\":%llu}\n",
	       state, (unsigned long long)postcopy_pages_left(pc),
	       (unsigned long long)c.pages_served, (unsigned long long)c.gets,
	       (unsigned long long)(now_us() - pc->t_switch));
	fflush(stdout);
}

static void *ticker(void *arg)
{
	struct postcopy *pc = arg;
	struct timespec ts = { 0, 100 * 1000 * 1000 };

	for (int n = 1; !pc->tick_stop; n++) {
		uint64_t since;

		nanosleep(&ts, NULL);
		if (n % 20 || pc->tick_stop || !postcopy_pages_left(pc))
			continue;
		if (pc->link && pclink_reconnecting(pc->link, &since) && since) {
			report_phase(pc->rep, "post-copy", "link lost, reconnecting (%llu s)...",
				     (unsigned long long)((now_us() - since) / 1000000));
			postcopy_event(pc, "reconnecting");
			continue;
		}
		report_phase(pc->rep, "post-copy",
			     "%llu pages still on %s, %.1f s after the switch",
			     (unsigned long long)postcopy_pages_left(pc), pc->src,
			     (now_us() - pc->t_switch) / 1e6);
		postcopy_event(pc, "running");
	}
	return NULL;
}

int postcopy_tick_start(struct postcopy *pc, struct report *rep, const char *src, uint64_t t_switch)
{
	int e;

	pc->rep = rep;
	pc->src = src;
	pc->t_switch = t_switch;
	pc->tick_stop = false;
	if ((e = pthread_create(&pc->ticker, NULL, ticker, pc)) != 0)
		return ph_seterr(PH_ESYS, "post-copy progress thread: %s", strerror(e));
	pc->ticking = true;
	return 0;
}

int postcopy_finish(struct postcopy *pc)
{
	int ret;

	if (pc->ticking) {
		pc->tick_stop = true;
		pthread_join(pc->ticker, NULL);
		pc->ticking = false;
	}
	if (!pc->relay)
		return 0;
	ret = lzx_relay_join(pc->relay, &pc->c);
	pc->relay = NULL;
	/* the link stays as it is for the last word (LazyDone) */
	pclink_stop(pc->link, NULL);
	pc->t_done = now_us();
	return ret;
}

void postcopy_stop(struct postcopy *pc)
{
	if (pc->relay)
		lzx_relay_stop(pc->relay);
	pclink_stop(pc->link, NULL);
}

void postcopy_give_up(struct postcopy *pc, const char *msg)
{
	pclink_stop(pc->link, msg);
}

static void link_event(void *arg, const char *state)
{
	postcopy_event(arg, state);
}

int postcopy_src_arm(struct postcopy *pc, struct mux **slot, pthread_mutex_t *lock,
		     struct pclink_src *o)
{
	if (!pc->link)
		return 0;
	if (!o->event) {
		o->event = link_event;
		o->event_arg = pc;
	}
	pclink_set_slot(pc->link, slot, lock);
	return pclink_arm_src(pc->link, o);
}

void postcopy_src_token(struct postcopy *pc, const Phaul__RestoreResp *r)
{
	pc->has_token = r->has_resume_token && r->resume_token.len == PCLINK_TOKEN_LEN;
	if (pc->has_token)
		memcpy(pc->token, r->resume_token.data, PCLINK_TOKEN_LEN);
}

int postcopy_src_link(struct postcopy *pc, const struct phaul_config *cfg, const char *host,
		      const char *mig_id, const char *self, struct report *rep, struct mux **slot,
		      pthread_mutex_t *lock, volatile int *interrupted, bool compress)
{
	struct pclink_src o = {
		.cfg = cfg,
		.host = host,
		.mig_id = mig_id,
		.self = self,
		.rep = rep,
		.interrupted = interrupted,
		.compress = compress,
	};
	int ret;

	if (!pc->has_token) {
		report_phase(rep, "post-copy",
			     "%s gave no resume token (an older phaul): a cut now loses the CT",
			     host);
		return 0;
	}
	memcpy(o.token, pc->token, PCLINK_TOKEN_LEN);
	ret = postcopy_src_arm(pc, slot, lock, &o);
	sodium_memzero(o.token, sizeof(o.token));
	return ret;
}

int postcopy_dst_token(struct postcopy *pc, uint8_t token[PCLINK_TOKEN_LEN])
{
	if (!pc->link)
		return ph_seterr(PH_EPROTO, "post-copy: no relay yet");
	return pclink_token_new(pc->link, token);
}

int postcopy_dst_arm(struct postcopy *pc, struct mux **slot, const struct phaul_config *cfg,
		     const char *mig_id)
{
	if (!pc->link)
		return 0;
	pclink_set_slot(pc->link, slot, NULL);
	return pclink_arm_dst(pc->link, cfg, mig_id);
}

bool postcopy_relay_ended(struct postcopy *pc)
{
	return !pc->relay || lzx_relay_done(pc->relay);
}

void postcopy_free(struct postcopy *pc)
{
	postcopy_stop(pc);
	postcopy_finish(pc);
	guard_end(pc);
	pclink_free(pc->link);
	pc->link = NULL;
	lzx_set_free(&pc->set);
	lzx_set_free(&pc->full);
	lzx_local_free(&pc->loc);
	sodium_memzero(pc->token, sizeof(pc->token));
	if (pc->owns_sk)
		close(pc->sk);
	pc->owns_sk = false;
	if (pc->store > 0)
		close(pc->store);
	pc->store = -1;
}

int postcopy_kill_source(pid_t root)
{
	int ret = criu_tree_signal(root, SIGKILL);

	if (ret < 0)
		return ph_errctx(ret, "post-copy: killing the frozen source tree %d", (int)root);
	return 0;
}
