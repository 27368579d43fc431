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
#include "proto/msg.h"
#include "phaul.h"

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
	struct chan *ca, *cb;
	int sv[2];

	config_defaults(&p->cfg);
	snprintf(p->cfg.work_dir, sizeof(p->cfg.work_dir), "%s", work_dir);
	strcpy(p->cfg.hooks_dir, "/nonexistent");
	p->cfg.timeout_s = 10;
	setenv("PHAUL_CRIU", "/bin/false", 1);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(chan_fd_open(sv[0], sv[0], "agent", &ca), 0);
	assert_int_equal(chan_fd_open(sv[1], sv[1], peer_name, &cb), 0);
	assert_int_equal(mux_start(ca, &p->peer), 0);
	assert_int_equal(mux_start(cb, &p->a.mux), 0);
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

#endif
