// SPDX-License-Identifier: GPL-2.0
/*
 * The agent's side of the balancer's requests, over a real agent_serve()
 * on a socketpair driven by the test as the balancer: a LoadReq answered
 * with this process's own figures, LoadReqs past their caps or naming a
 * path refused, a MigrateReq refused while allow_remote_migrate is off and
 * one whose CT or target would read as an option refused before anything
 * runs.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent.h"
#include "agent_pair.h"
#include "balance.h"
#include "caps.h"
#include "config.h"
#include "err.h"
#include "proto/msg.h"
#include "phaul.h"
#include "util.h"

static int setup(void **state)
{
	*state = agent_sess_open("/var/tmp/phaul-bal-agent.XXXXXX", "srchost", "balancer");
	return 0;
}

static int teardown(void **state)
{
	agent_sess_close(*state);
	return 0;
}

/* The agent ended the session with an error whose text holds want. */
static void test_load_of_this_process(void **state)
{
	struct agent_sess *s = *state;
	struct bal_host h = { .name = "srchost" };
	char self[32];
	const char *cts[] = { self, "pid:999999999" };

	snprintf(self, sizeof(self), "pid:%d", getpid());
	assert_int_equal(bal_load_send(s->p.peer, cts, 2, NULL, 0, false), 0);
	assert_int_equal(bal_load_recv(s->p.peer, 10000, &h, NULL), 0);
	assert_true(h.up);
	assert_int_equal(h.ncpu, (uint32_t)sysconf(_SC_NPROCESSORS_ONLN));
	assert_true(h.mem_total_kb > 0 && h.mem_avail_kb <= h.mem_total_kb);
	assert_int_equal(h.ncts, 1); /* the pid that does not exist is left out */
	assert_string_equal(h.cts[0].name, self);
	assert_true(h.cts[0].rss_kb > 0);
	assert_true(h.cts[0].movable);
	free(h.cts);
}

static void test_load_too_many_cts(void **state)
{
	struct agent_sess *s = *state;
	const char **cts = calloc(PH_LOAD_CTS_MAX + 1, sizeof(*cts));

	for (size_t i = 0; i <= PH_LOAD_CTS_MAX; i++)
		cts[i] = "pid:2";
	assert_int_equal(bal_load_send(s->p.peer, cts, PH_LOAD_CTS_MAX + 1, NULL, 0, false), 0);
	agent_sess_refused(s, PH_ETOOBIG, "LoadReq names 1025 CTs (max 1024)");
	free(cts);
}

static void test_load_path_as_name(void **state)
{
	struct agent_sess *s = *state;
	const char *cts[] = { "lxc:../../etc" };

	assert_int_equal(bal_load_send(s->p.peer, cts, 1, NULL, 0, false), 0);
	agent_sess_refused(s, PH_EPATH, "refused CT name 'lxc:../../etc'");
}

static void migrate_req(struct agent_sess *s, const char *ct, const char *target)
{
	Phaul__Msg out = PHAUL__MSG__INIT;
	Phaul__MigrateReq q = PHAUL__MIGRATE_REQ__INIT;

	q.ct = (char *)ct;
	q.target = (char *)target;
	out.body_case = PHAUL__MSG__BODY_MIGRATE_REQ;
	out.migrate_req = &q;
	assert_int_equal(msg_send(s->p.peer, &out), 0);
}

static void test_migrate_not_allowed(void **state)
{
	struct agent_sess *s = *state;

	migrate_req(s, "pid:4242", "10.0.0.2");
	agent_sess_refused(s, PH_ENOTSUP, "allow_remote_migrate is off");
}

static void test_migrate_option_as_target(void **state)
{
	struct agent_sess *s = *state;

	s->p.cfg.allow_remote_migrate = true;
	migrate_req(s, "pid:4242", "--config=/tmp/evil.conf");
	agent_sess_refused(s, PH_EPROTO, "bad CT or target");
}

static void test_migrate_option_as_ct(void **state)
{
	struct agent_sess *s = *state;

	s->p.cfg.allow_remote_migrate = true;
	migrate_req(s, "-o", "10.0.0.2");
	agent_sess_refused(s, PH_EPROTO, "bad CT or target");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_load_of_this_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_too_many_cts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_path_as_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_not_allowed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_option_as_target, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_option_as_ct, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
