// SPDX-License-Identifier: GPL-2.0
/*
 * The agent's answer to CheckReq.files, over a real agent_serve() on a
 * socketpair driven by the test as the source: present, missing and
 * differing paths answered by index; too many paths, an over-long one and
 * a relative one refused before any look-up.
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
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent.h"
#include "agent_pair.h"
#include "caps.h"
#include "config.h"
#include "err.h"
#include "proto/msg.h"
#include "phaul.h"
#include "util.h"

static int setup(void **state)
{
	*state = agent_sess_open("/var/tmp/phaul-agent-check.XXXXXX", "dsthost", "source");
	return 0;
}

static int teardown(void **state)
{
	agent_sess_close(*state);
	return 0;
}

static void send_check(struct agent_sess *s, Phaul__CheckFile **files, size_t n)
{
	Phaul__Msg out = PHAUL__MSG__INIT;
	Phaul__CheckReq q = PHAUL__CHECK_REQ__INIT;

	q.files = files;
	q.n_files = n;
	out.body_case = PHAUL__MSG__BODY_CHECK_REQ;
	out.check_req = &q;
	assert_int_equal(msg_send(s->p.peer, &out), 0);
}

static void test_present_missing_differ(void **state)
{
	struct agent_sess *s = *state;
	Phaul__CheckFile f[4], *v[4];
	char file[128], gone[128];
	Phaul__Msg *in = NULL;
	Phaul__HostFacts *d;
	FILE *fp;

	snprintf(file, sizeof(file), "%s/out.log", s->work);
	snprintf(gone, sizeof(gone), "%s/nodir/out.log", s->work);
	assert_non_null(fp = fopen(file, "w"));
	fputs("abc", fp);
	fclose(fp);
	for (int i = 0; i < 4; i++) {
		phaul__check_file__init(&f[i]);
		f[i].has_type = 1;
		v[i] = &f[i];
	}
	f[0].path = file, f[0].type = S_IFREG, f[0].has_size = 1, f[0].size = 3;
	f[1].path = gone, f[1].type = S_IFREG;
	f[2].path = s->work, f[2].type = S_IFREG; /* a directory there */
	f[3].path = file, f[3].type = S_IFREG, f[3].has_size = 1, f[3].size = 4;
	send_check(s, v, 4);
	assert_int_equal(msg_expect(s->p.peer, PHAUL__MSG__BODY_CHECK_RESP, &in, 10000), 0);
	d = in->check_resp->facts;
	assert_true(d->has_files_checked && d->files_checked);
	assert_int_equal(d->n_files_missing, 1);
	assert_int_equal(d->files_missing[0], 1);
	assert_int_equal(d->n_files_differ, 2);
	assert_int_equal(d->files_differ[0], 2);
	assert_int_equal(d->files_differ[1], 3);
	msg_free(in);
}

static void test_too_many(void **state)
{
	struct agent_sess *s = *state;
	Phaul__CheckFile one = PHAUL__CHECK_FILE__INIT;
	Phaul__CheckFile **v = calloc(PH_CHECK_FILES_MAX + 1, sizeof(*v));

	one.path = "/x";
	for (size_t i = 0; i <= PH_CHECK_FILES_MAX; i++)
		v[i] = &one;
	send_check(s, v, PH_CHECK_FILES_MAX + 1);
	agent_sess_refused(s, PH_ETOOBIG, "CheckReq names 1025 files (max 1024)");
	free(v);
}

static void test_long_path(void **state)
{
	struct agent_sess *s = *state;
	Phaul__CheckFile one = PHAUL__CHECK_FILE__INIT, *v = &one;
	char *p = malloc(PH_PATH_MAX + 2);

	memset(p, 'a', PH_PATH_MAX + 1);
	p[0] = '/';
	p[PH_PATH_MAX + 1] = '\0';
	one.path = p;
	send_check(s, &v, 1);
	agent_sess_refused(s, PH_ETOOBIG, "path over 1024 bytes");
	free(p);
}

static void test_relative_path(void **state)
{
	struct agent_sess *s = *state;
	Phaul__CheckFile one = PHAUL__CHECK_FILE__INIT, *v = &one;

	one.path = "etc/../../shadow";
	send_check(s, &v, 1);
	agent_sess_refused(s, PH_EPROTO, "not an absolute normalised path");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_present_missing_differ, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relative_path, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
