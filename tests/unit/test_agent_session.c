// SPDX-License-Identifier: GPL-2.0
/*
 * The agent's session directory is phaul's, never the peer's: a real
 * agent_serve() over a socketpair, driven by a hostile source whose Hello
 * names it "x/../../escape". Nothing may appear outside the work dir, the
 * session dir is 0700 under a 0700 work dir, the peer's name is only data
 * inside it, and a discard leaves nothing behind. CRIU is /bin/false here
 * (this host cannot run it): the page server fails, the session ends.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
#include "forensics.h"
#include "agent_pair.h"
#include "config.h"
#include "err.h"
#include "proto/msg.h"
#include "util.h"

#define HOSTILE "x/../../escape\n\033[31m"

struct sess {
	char top[64], work[96];
	struct agent_pair p;
};

static int setup(void **state)
{
	struct sess *s = calloc(1, sizeof(*s));

	strcpy(s->top, "/var/tmp/phaul-sess.XXXXXX");
	assert_non_null(mkdtemp(s->top));
	snprintf(s->work, sizeof(s->work), "%s/work", s->top);
	agent_pair_open(&s->p, s->work, "dsthost", "source");
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	struct sess *s = *state;

	agent_pair_close(&s->p);
	rm_tree(s->top);
	free(s);
	return 0;
}

/* Be the hostile source: its Hello, one IterStart; the agent's answer. */
static void hostile_session(struct sess *s)
{
	Phaul__Msg out = PHAUL__MSG__INIT, *in = NULL;
	Phaul__Hello h = PHAUL__HELLO__INIT;
	Phaul__IterStart is = PHAUL__ITER_START__INIT;

	agent_pair_start(&s->p);
	h.proto_version = PHAUL_PROTO_VERSION;
	h.phaul_version = "0";
	h.hostname = HOSTILE;
	h.role = "source";
	out.body_case = PHAUL__MSG__BODY_HELLO;
	out.hello = &h;
	assert_int_equal(msg_send(s->p.peer, &out), 0);
	assert_int_equal(msg_expect(s->p.peer, PHAUL__MSG__BODY_HELLO, &in, 10000), 0);
	msg_free(in);
	is.iter = 1;
	out.body_case = PHAUL__MSG__BODY_ITER_START;
	out.iter_start = &is;
	assert_int_equal(msg_send(s->p.peer, &out), 0);
	/* The flat store takes the pages (no CRIU needed): end the stream early. */
	assert_int_equal(msg_expect(s->p.peer, PHAUL__MSG__BODY_ITER_READY, &in, 10000), 0);
	msg_free(in);
	assert_int_equal(mux_send_eof(s->p.peer, MUX_PAGES), 0);
	agent_pair_join(&s->p);
	assert_true(s->p.ret < 0);
}

/* Names in dir other than "." and ".."; the first one in *first (may be NULL). */
static int entries(const char *dir, char *first, size_t len)
{
	struct dirent *de;
	int n = 0;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!n++ && first)
			snprintf(first, len, "%s", de->d_name);
	}
	closedir(d);
	return n;
}

static void test_hostname_kept_images(void **state)
{
	struct sess *s = *state;
	char name[256], path[512], text[512];
	struct stat st;

	s->p.cfg.keep_images = true; /* the session dir stays: look at it */
	hostile_session(s);
	/* Only the work dir beside nothing else; one session dir inside it. */
	assert_int_equal(entries(s->top, name, sizeof(name)), 1);
	assert_string_equal(name, "work");
	assert_int_equal(stat(s->work, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(entries(s->work, name, sizeof(name)), 1);
	print_message("session dir: %s\n", name);
	assert_int_equal(strncmp(name, "in-", 3), 0);
	assert_null(strstr(name, "x"));
	snprintf(path, sizeof(path), "%s/%s", s->work, name);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	/* The peer's name is data in the dir, sanitised. */
	snprintf(path, sizeof(path), "%s/%s/peer", s->work, name);
	assert_int_equal(read_text(path, text, sizeof(text)), 0);
	assert_string_equal(text, "x/../../escape??[31m\n");
}

static void test_hostname_discarded(void **state)
{
	struct sess *s = *state;
	char name[256] = "";

	char path[600], left[256] = "";

	hostile_session(s);
	/*
	 * The discard removed what it received; the session dir stays with
	 * its logs only (none here: no CRIU ran), marked for pruning.
	 */
	assert_int_equal(entries(s->top, name, sizeof(name)), 1);
	assert_string_equal(name, "work");
	assert_int_equal(entries(s->work, name, sizeof(name)), 1);
	assert_int_equal(strncmp(name, "in-", 3), 0);
	snprintf(path, sizeof(path), "%s/%s", s->work, name);
	assert_int_equal(entries(path, left, sizeof(left)), 1);
	assert_string_equal(left, FX_LOGS_ONLY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hostname_kept_images, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostname_discarded, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
