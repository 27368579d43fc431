// SPDX-License-Identifier: GPL-2.0
/*
 * runc:ID against the real runc with a real busybox container (root, runc
 * and busybox-static needed; skipped otherwise). CRIU cannot run on every
 * host, so what is tested here is what holds without it: resolving the
 * container, refusing a paused one, the final dump's rollback when the
 * checkpoint fails (the guard resumes the frozen container), and the
 * destination's refusal of a bundle path that is not canonical.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "compat/compat.h"
#include "err.h"
#include "helpers.h"
#include "htype.h"
#include "log.h"
#include "phaul.pb-c.h"
#include "util.h"

#define ID "phaul-test-runc"

static struct ct ct;	   /* large */
static char dir[PATH_MAX]; /* the bundle */
static char work[256];	   /* a work dir */
static bool have_runc;

/* `runc state` says status s. */
static bool status_is(const char *s)
{
	return sh("runc state " ID " 2>/dev/null | grep -q '\"status\": \"%s\"'", s) == 0;
}

static int setup(void **state)
{
	char tmpl[] = "/tmp/phaul-runc-XXXXXX";

	(void)state;
	have_runc = getuid() == 0 && sh("command -v runc >/dev/null && test -x /bin/busybox") == 0;
	if (!have_runc || !mkdtemp(tmpl))
		return 0;
	snprintf(work, sizeof(work), "%s", tmpl);
	snprintf(dir, sizeof(dir), "%s/bundle", work);
	sh("runc delete --force " ID " 2>/dev/null");
	if (sh("set -e; r=%s/rootfs; mkdir -p $r/bin $r/proc $r/dev $r/sys $r/tmp; "
	       "cp /bin/busybox $r/bin/; ln -s busybox $r/bin/sh; ln -s busybox $r/bin/sleep; "
	       "printf '#!/bin/sh\\nexec </dev/null >/dev/null 2>&1\\nexec sleep 600\\n' "
	       ">$r/init; chmod 755 $r/init; cd %s; runc spec; "
	       "sed -i -e 's/\"terminal\": true/\"terminal\": false/' "
	       "-e 's/\"sh\"$/\"\\/init\"/' -e 's/\"readonly\": true/\"readonly\": false/' "
	       "config.json; runc run -d " ID " </dev/null >/dev/null 2>&1",
	       dir, dir) != 0)
		have_runc = false;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (work[0]) {
		sh("runc delete --force " ID " 2>/dev/null");
		rm_tree(work);
	}
	return 0;
}

static void test_resolve(void **state)
{
	(void)state;
	if (!have_runc)
		skip();
	assert_int_equal(ct_open("runc:" ID, &ct), 0);
	assert_true(ct.root > 1);
	assert_true(ct.own_pidns);
	assert_true(ct.npids >= 1);
	assert_int_equal(ct.nsync, 1); /* rootfs/ is inside the bundle */
	assert_string_equal(ct.sync[0], dir);
}

static void test_paused_refused(void **state)
{
	(void)state;
	if (!have_runc)
		skip();
	assert_int_equal(sh("runc pause " ID), 0);
	assert_int_equal(ct_open("runc:" ID, &ct), -PH_ENOENT);
	assert_non_null(strstr(ph_errmsg(), "is paused, not running"));
	assert_int_equal(sh("runc resume " ID), 0);
}

/* grep for s in the log file path; 0 if found */
static int log_has(const char *path, const char *s)
{
	return sh("grep -q -- '%s' %s", s, path);
}

/*
 * A link in its network namespace but lo, and no hook in config.json to
 * set it up again after runc's empty restore: resolve warns, naming it;
 * with a createRuntime hook it does not.
 */
static void test_net_without_hook_warns(void **state)
{
	char log[PATH_MAX];

	(void)state;
	if (!have_runc ||
	    sh("{ command -v ip && command -v nsenter && command -v jq; } >/dev/null") != 0)
		skip();
	snprintf(log, sizeof(log), "%s/warn.log", work);
	assert_int_equal(ct_open("runc:" ID, &ct), 0);
	assert_int_equal(sh("nsenter -t %d -n ip link add dmy-phaul type veth peer name dmy-peer",
			    (int)ct.root),
			 0);
	assert_int_equal(log_open_file(log), 0);
	assert_int_equal(ct_open("runc:" ID, &ct), 0);
	log_close_file();
	assert_int_equal(log_has(log, "its network namespace has dmy-peer, dmy-phaul, which runc "
				      "restores empty"),
			 0);
	assert_int_equal(sh("cp %s/config.json %s/config.orig && jq '.hooks.createRuntime = "
			    "[{\"path\": \"/bin/true\"}]' %s/config.orig >%s/config.json",
			    dir, work, work, dir),
			 0);
	assert_int_equal(sh("rm -f %s", log), 0);
	assert_int_equal(log_open_file(log), 0);
	assert_int_equal(ct_open("runc:" ID, &ct), 0);
	log_close_file();
	assert_int_not_equal(log_has(log, "runc restores empty"), 0);
	assert_int_equal(sh("cp %s/config.orig %s/config.json", work, dir), 0);
}

static enum criu_verdict never(const char *script, void *arg)
{
	(void)script;
	*(bool *)arg = true;
	return CRIU_COMMIT;
}

/*
 * The final dump fails (no page server listens on port 1, or CRIU cannot
 * run here): the container was frozen for it, and runs again after.
 */
static void test_dump_fails_resumes(void **state)
{
	char images[PATH_MAX];
	enum criu_dump_outcome outcome = CRIU_DUMP_UNKNOWN;
	bool asked = false;
	struct ct_dump d;
	int ret;

	(void)state;
	if (!have_runc)
		skip();
	assert_int_equal(ct_open("runc:" ID, &ct), 0);
	snprintf(images, sizeof(images), "%s/1", work);
	assert_int_equal(mkdir_p(images, 0700), 0);
	d = (struct ct_dump){
		.images_dir = images, .work_dir = work, .ps_addr = "127.0.0.1", .ps_port = 1
	};
	ret = ct.ops->dump(&ct, &d, never, &asked, &outcome);
	assert_true(ret < 0);
	assert_non_null(strstr(ph_errmsg(), "dump failed"));
	assert_false(asked); /* no verdict asked for a dump that failed */
	assert_int_equal(outcome, CRIU_DUMP_RESUMED);
	assert_true(status_is("running"));
	assert_true(ct_alive(&ct));
}

/*
 * Post-copy's lazy dump fails before its page server is up (CRIU cannot
 * run on this host, or fails): no verdict asked, no socket handed over,
 * the container runs on, and the config that keeps CRIU's lazy page
 * server on loopback was written for runc's CRIU.
 */
static void test_lazy_dump_fails_resumes(void **state)
{
	char images[PATH_MAX], conf[PATH_MAX + 32];
	enum criu_dump_outcome outcome = CRIU_DUMP_UNKNOWN;
	struct criu_opts o = CRIU_OPTS_INIT;
	bool asked = false;
	uint8_t *text = NULL;
	size_t len;
	struct ct_dump d;
	int sk = -1, ret;

	(void)state;
	if (!have_runc)
		skip();
	assert_int_equal(ct_open("runc:" ID, &ct), 0);
	snprintf(images, sizeof(images), "%s/lazy", work);
	assert_int_equal(mkdir_p(images, 0700), 0);
	o.lazy_pages = true;
	d = (struct ct_dump){ .images_dir = images, .work_dir = work, .criu = &o, .lazy_sk = &sk };
	ret = ct.ops->dump(&ct, &d, never, &asked, &outcome);
	assert_true(ret < 0);
	print_message("%s\n", ph_errmsg());
	assert_non_null(strstr(ph_errmsg(), ID));
	assert_false(asked);
	assert_int_equal(sk, -1);
	assert_int_equal(outcome, CRIU_DUMP_RESUMED);
	assert_true(status_is("running"));
	assert_true(ct_alive(&ct));
	snprintf(conf, sizeof(conf), "%s/runc-lazy-dump.conf", images);
	assert_int_equal(read_file(conf, 4096, &text, &len), 0);
	assert_non_null(memmem(text, len, "\naddress 127.0.0.1\n", 19));
	free(text);
}

/* Destination: the bundle path from the source must be canonical. */
static void test_restore_bundle_refused(void **state)
{
	char images[PATH_MAX], link[PATH_MAX];
	pid_t pid = 1;

	(void)state;
	if (!have_runc)
		skip();
	assert_int_equal(ct_parse("runc:" ID "-dst", &ct), 0);
	snprintf(images, sizeof(images), "%s/dst", work);
	snprintf(link, sizeof(link), "%s/link", work);
	assert_int_equal(mkdir_p(images, 0700), 0);
	assert_int_equal(symlink(dir, link), 0);
	/* through a symlink */
	assert_int_equal(sh("printf %%s %s >%s/runc-bundle.img", link, images), 0);
	assert_int_equal(ct.ops->restore(&ct, images, NULL, &pid), -PH_EPATH);
	assert_int_equal(pid, 0);
	assert_non_null(strstr(ph_errmsg(), "not a canonical absolute path"));
	/* with a dot-dot */
	assert_int_equal(sh("printf %%s %s/../bundle >%s/runc-bundle.img", dir, images), 0);
	assert_int_equal(ct.ops->restore(&ct, images, NULL, &pid), -PH_EPATH);
	/* relative */
	assert_int_equal(sh("printf %%s bundle >%s/runc-bundle.img", images), 0);
	assert_int_equal(ct.ops->restore(&ct, images, NULL, &pid), -PH_EPATH);
	/* canonical, but no config.json there */
	assert_int_equal(sh("printf %%s %s >%s/runc-bundle.img", images, images), 0);
	assert_int_equal(ct.ops->restore(&ct, images, NULL, &pid), -PH_ENOENT);
	assert_non_null(strstr(ph_errmsg(), "config.json"));
}

static const struct compat_row *find(const struct compat_table *t, const char *name)
{
	for (int i = 0; i < t->nrows; i++)
		if (!strcmp(t->rows[i].check, name))
			return &t->rows[i];
	return NULL;
}

/*
 * The destination's facts for a CheckReq naming the container, from the
 * real `runc list`, and the source's verdict on them.
 */
static void test_check_id_and_bundle(void **state)
{
	Phaul__HostFacts s = PHAUL__HOST_FACTS__INIT, d = PHAUL__HOST_FACTS__INIT;
	struct compat_req q = { .ct_spec = "runc:" ID, .ct_path = dir };
	const struct compat_row *r;
	struct compat_table t;
	struct ct_facts cf;

	(void)state;
	if (!have_runc)
		skip();
	assert_int_equal(ct_parse("runc:" ID, &ct), 0);
	assert_int_equal(ct.ops->probe(&ct, NULL, &cf), 0);
	assert_non_null(strstr(cf.runtime, "runc 1."));
	q.ct_runtime = cf.runtime;
	s.hostname = "srchost";
	d.hostname = "dsthost";
	/* taken: the id and the bundle */
	ct_facts_fill("runc:" ID, dir, NULL, &d);
	assert_string_equal(d.ct_runtime, cf.runtime);
	assert_true(d.ct_id_busy && d.ct_path_busy);
	compat_compare(&s, &d, &q, &t);
	assert_int_equal(find(&t, "runtime")->verdict, COMPAT_OK);
	r = find(&t, "ct-id");
	assert_int_equal(r->verdict, COMPAT_FAIL);
	assert_non_null(strstr(r->detail, "exists on dsthost"));
	r = find(&t, "ct-path");
	assert_int_equal(r->verdict, COMPAT_FAIL);
	assert_non_null(strstr(r->detail, dir));
	assert_non_null(strstr(r->detail, "dsthost"));
	free(d.ct_runtime);
	/* free: another id, another path */
	ct_facts_fill("runc:" ID "-other", "/nonexistent/bundle", NULL, &d);
	assert_false(d.ct_id_busy || d.ct_path_busy);
	compat_compare(&s, &d, &q, &t);
	assert_int_equal(find(&t, "ct-id")->verdict, COMPAT_OK);
	assert_int_equal(find(&t, "ct-path")->verdict, COMPAT_OK);
	free(d.ct_runtime);
	/* no runc on the destination */
	setenv("PHAUL_RUNC", "/nonexistent/runc", 1);
	ct_facts_fill("runc:" ID, dir, NULL, &d);
	unsetenv("PHAUL_RUNC");
	assert_string_equal(d.ct_runtime, "");
	compat_compare(&s, &d, &q, &t);
	r = find(&t, "runtime");
	assert_int_equal(r->verdict, COMPAT_FAIL);
	assert_string_equal(r->dst, "MISSING");
	assert_non_null(strstr(r->detail, "missing on dsthost"));
	assert_null(find(&t, "ct-id"));
	free(d.ct_runtime);
	/* an agent that does not report it: refused, not guessed */
	d.ct_runtime = NULL;
	compat_compare(&s, &d, &q, &t);
	assert_int_equal(find(&t, "runtime")->verdict, COMPAT_FAIL);
	assert_string_equal(find(&t, "runtime")->dst, "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_paused_refused),
		cmocka_unit_test(test_net_without_hook_warns),
		cmocka_unit_test(test_dump_fails_resumes),
		cmocka_unit_test(test_lazy_dump_fails_resumes),
		cmocka_unit_test(test_restore_bundle_refused),
		cmocka_unit_test(test_check_id_and_bundle),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
