/* SPDX-License-Identifier: GPL-2.0 */
/*
 * For unit tests of the agent: a real agent_serve() in a thread on one end
 * of a socketpair, the test on the other end (p->peer) as its source or
 * balancer. CRIU is /bin/false (this host cannot run it), no hooks.
 */
#ifndef TESTS_UNIT_AGENT_PAIR_H
#define TESTS_UNIT_AGENT_PAIR_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "agent.h"
#include "config.h"
#include "err.h"
#include "mux_pair.h"
#include "proto/msg.h"
#include "phaul.h"
#include "util.h"

struct agent_pair {
	struct phaul_config cfg;
	struct agent a;
	struct mux *peer; /* the test's end */
	pthread_t t;
	int ret; /* agent_serve()'s, after agent_pair_join() */
};

static void *agent_pair_thread(void *arg)
{
	struct agent_pair *p = arg;

	p->ret = agent_serve(&p->a);
	return NULL;
}

/* Both ends up; the agent (named host) works in work_dir, not yet serving. */
static void agent_pair_open(struct agent_pair *p, const char *work_dir, const char *host,
			    const char *peer_name)
{
	config_defaults(&p->cfg);
	snprintf(p->cfg.work_dir, sizeof(p->cfg.work_dir), "%s", work_dir);
	strcpy(p->cfg.hooks_dir, "/nonexistent");
	p->cfg.timeout_s = 10;
	setenv("PHAUL_CRIU", "/bin/false", 1);
	mux_pair_named(&p->peer, "agent", &p->a.mux, peer_name);
	p->a.cfg = &p->cfg;
	snprintf(p->a.host, sizeof(p->a.host), "%s", host);
}

static void agent_pair_start(struct agent_pair *p)
{
	assert_int_equal(pthread_create(&p->t, NULL, agent_pair_thread, p), 0);
}

/* The test's Hello as a source named name, and the agent's. */
static inline void agent_pair_hello(struct agent_pair *p, const char *name)
{
	Phaul__Msg out = PHAUL__MSG__INIT, *in = NULL;
	Phaul__Hello h = PHAUL__HELLO__INIT;

	h.proto_version = PHAUL_PROTO_VERSION;
	h.phaul_version = "0";
	h.hostname = (char *)name;
	h.role = "source";
	out.body_case = PHAUL__MSG__BODY_HELLO;
	out.hello = &h;
	assert_int_equal(msg_send(p->peer, &out), 0);
	assert_int_equal(msg_expect(p->peer, PHAUL__MSG__BODY_HELLO, &in, 10000), 0);
	msg_free(in);
}

static void agent_pair_join(struct agent_pair *p)
{
	pthread_join(p->t, NULL);
	p->t = 0;
}

static void agent_pair_close(struct agent_pair *p)
{
	mux_close(p->peer);
	mux_close(p->a.mux);
}

/*
 * A started agent that has answered Hello, in a fresh work dir made from
 * tmpl ("/var/tmp/NAME.XXXXXX"); for cmocka set-ups (include cmocka.h
 * first). agent_sess_close() ends the session and removes the work dir.
 */
struct agent_sess {
	char work[64];
	struct agent_pair p;
};

static inline struct agent_sess *agent_sess_open(const char *tmpl, const char *host,
						 const char *name)
{
	struct agent_sess *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	snprintf(s->work, sizeof(s->work), "%s", tmpl);
	assert_non_null(mkdtemp(s->work));
	agent_pair_open(&s->p, s->work, host, name);
	agent_pair_start(&s->p);
	agent_pair_hello(&s->p, name);
	return s;
}

static inline void agent_sess_close(struct agent_sess *s)
{
	if (s->p.t) {
		finish_agent(s->p.peer, false, false, "test", 5000);
		agent_pair_join(&s->p);
	}
	agent_pair_close(&s->p);
	rm_tree(s->work);
	free(s);
}

/* The agent ends the session with error code, its message containing want. */
static inline void agent_sess_refused(struct agent_sess *s, int code, const char *want)
{
	Phaul__Msg *in = NULL;
	int ret = msg_recv(s->p.peer, &in, 10000);

	print_message("agent: %s\n", ph_errmsg());
	assert_int_equal(ret, -code);
	assert_non_null(strstr(ph_errmsg(), want));
	agent_pair_join(&s->p);
	assert_true(s->p.ret < 0);
}

#endif
