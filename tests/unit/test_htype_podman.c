// SPDX-License-Identifier: GPL-2.0
/*
 * podman:NAME where Podman itself is not needed (Podman and CRIU run in the
 * VM scenarios 64, 65, 72): names that are options or paths are refused before
 * podman runs, the destination refuses a restore without the synced
 * archive, a host without podman fails the runtime check naming it, a
 * destination without the container's image fails the image check, and
 * the type chains one pre-checkpoint only. The final dump's guard, with a
 * stand-in for podman that only logs its arguments (what podman does with
 * them the VM scenario 72 checks): told "done", it does nothing; phaul
 * gone before any record, it restores the container; with a record, it
 * runs the settle command again while that says "unknown" (exit 6).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"

#include "compat/compat.h"
#include "ctcmd.h"
#include "err.h"
#include "htype.h"
#include "phaul.pb-c.h"
#include "util.h"

static struct ct ct; /* large */
static char work[256];

static int setup(void **state)
{
	char tmpl[] = "/tmp/phaul-podman-XXXXXX";

	(void)state;
	assert_non_null(mkdtemp(tmpl));
	snprintf(work, sizeof(work), "%s", tmpl);
	/* no podman here, whatever the host has */
	setenv("PHAUL_PODMAN", "/nonexistent/podman", 1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rm_tree(work);
	return 0;
}

static void test_names_refused(void **state)
{
	static const char *const bad[] = { "podman:-rf", "podman:../etc", "podman:a/b", "podman:.x",
					   "podman:a b" };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ct_open(bad[i], &ct), -PH_EUSAGE);
		assert_non_null(strstr(ph_errmsg(), "not a Podman container name"));
	}
	/* a good name gets as far as podman, which is missing */
	assert_true(ct_open("podman:web-1.a_b", &ct) < 0);
	assert_null(strstr(ph_errmsg(), "not a Podman container name"));
	assert_int_equal(ct.ops->max_pre_dumps, 1);
}

/* One pre-checkpoint only: a second pre-dump (with a parent) is refused. */
static void test_second_pre_dump_refused(void **state)
{
	struct ct_dump d = { .images_dir = work, .parent = "../1", .ps_addr = "127.0.0.1" };

	(void)state;
	assert_int_equal(ct_parse("podman:pm1", &ct), 0);
	assert_int_equal(ct.ops->pre_dump(&ct, &d), -PH_ENOTSUP);
	assert_non_null(strstr(ph_errmsg(), "one pre-checkpoint"));
}

/*
 * Destination: podman's restore reads the exports dir through ct_img_dir()
 * (test_htype covers its refusals): the archive must be there, and a
 * name from the peer that is an option never reaches podman.
 */
static void test_restore_refused(void **state)
{
	char images[PATH_MAX], dir[PATH_MAX];
	pid_t pid = 1;

	(void)state;
	assert_int_equal(ct_parse("podman:pm1", &ct), 0);
	snprintf(images, sizeof(images), "%s/img", work);
	snprintf(dir, sizeof(dir), "%s/exports", work);
	assert_int_equal(mkdir_p(images, 0700), 0);
	assert_int_equal(mkdir_p(dir, 0700), 0);
	assert_int_equal(ct_img_write(images, "podman-dir.img", dir), 0);
	assert_int_equal(ct.ops->restore(&ct, images, NULL, &pid), -PH_ENOENT);
	assert_int_equal(pid, 0);
	assert_non_null(strstr(ph_errmsg(), "checkpoint.tar.gz"));
	assert_non_null(strstr(ph_errmsg(), "exports dir"));
	assert_int_equal(ct_parse("podman:--help", &ct), 0);
	assert_int_equal(ct.ops->restore(&ct, images, NULL, &pid), -PH_EUSAGE);
}

/* work/NAME with text, executable. */
static void script(const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", work, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, 0700), 0);
}

/* work/NAME's content (helpers.h's slurp): the caller frees it. */
static char *work_file(const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", work, name);
	return slurp(path);
}

static enum criu_verdict verdict_rollback(const char *script_name, void *arg)
{
	(void)script_name;
	(void)arg;
	return CRIU_ROLLBACK;
}

/*
 * podman:pm1's final dump against a one-shot page relay (it answers the
 * empty session's CLOSE) and the logging podman: the guard runs after it.
 */
static void dump_with_guard(const char *record)
{
	static char img[PATH_MAX], settle[PATH_MAX];
	static const char *argv[2];
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	enum criu_dump_outcome out;
	struct ct_dump d = { 0 };
	int lsk, st;
	pid_t relay;

	snprintf(img, sizeof(img), "%s/img", work);
	snprintf(settle, sizeof(settle), "%s/settle", work);
	argv[0] = settle;
	assert_int_equal(mkdir_p(img, 0700), 0);
	lsk = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(lsk >= 0);
	assert_int_equal(bind(lsk, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lsk, 1), 0);
	assert_int_equal(getsockname(lsk, (struct sockaddr *)&sa, &sl), 0);
	relay = fork();
	if (relay == 0) {
		uint8_t hdr[24];
		int32_t ok = 0;
		int c = accept(lsk, NULL, NULL);

		_exit(c < 0 || read_full(c, hdr, sizeof(hdr)) != sizeof(hdr) ||
		      write_full(c, &ok, sizeof(ok)) < 0);
	}
	close(lsk);
	d.images_dir = img;
	d.work_dir = work;
	d.ps_addr = "127.0.0.1";
	d.ps_port = ntohs(sa.sin_port);
	d.settle = argv;
	d.record = record;
	assert_int_equal(ct_parse("podman:pm1", &ct), 0);
	assert_int_equal(ct.ops->dump(&ct, &d, verdict_rollback, NULL, &out), 0);
	assert_int_equal(out, CRIU_DUMP_RESUMED); /* left to the orchestrator: kept */
	assert_int_equal(waitpid(relay, &st, 0), relay);
	assert_int_equal(st, 0);
	assert_true(ct.guard > 0);
}

/* phaul died: the guard sees EOF; wait for it to finish (within 30 s). */
static void phaul_dies(void)
{
	int st = -1;

	close(ct.guard_fd);
	assert_int_equal(ctcmd_wait(ct.guard, now_us() + 30 * 1000000ULL, &st), 0);
	ct.guard = 0;
}

static void test_guard(void **state)
{
	char exports[PATH_MAX], podman[PATH_MAX], record[PATH_MAX], *log;

	(void)state;
	snprintf(exports, sizeof(exports), "%s/exports", work);
	snprintf(podman, sizeof(podman), "%s/podman", work);
	snprintf(record, sizeof(record), "%s/mig-out-1", work);
	setenv("PHAUL_PODMAN_DIR", exports, 1);
	setenv("PHAUL_PODMAN", podman, 1);
	script("podman", "#!/bin/sh\necho \"$*\" >>\"${0%/*}/podman.log\"\n");
	/* says "unknown" (6) once, then settles */
	script("settle", "#!/bin/sh\nd=${0%/*}\necho settle >>$d/settle.log\n"
			 "[ -e $d/settled-once ] && exit 0\n: >$d/settled-once\nexit 6\n");
	script("settle.log", "");

	/* phaul ends as planned: the guard does nothing */
	dump_with_guard(record);
	ct_close(&ct);
	log = work_file("podman.log");
	assert_non_null(strstr(log, "container checkpoint --keep --export"));
	assert_null(strstr(log, "container restore"));
	free(log);

	/* phaul dies before the record: nothing was restored there; restore here */
	dump_with_guard(record);
	phaul_dies();
	log = work_file("podman.log");
	assert_non_null(strstr(log, "container restore pm1"));
	free(log);
	log = work_file("settle.log");
	assert_string_equal(log, "");
	free(log);

	/* with a record: recover, again while it says unknown; never a restore itself */
	script("podman.log", "");
	script("mig-out-1", "");
	dump_with_guard(record);
	phaul_dies();
	log = work_file("settle.log");
	assert_string_equal(log, "settle\nsettle\n");
	free(log);
	log = work_file("podman.log");
	assert_null(strstr(log, "container restore"));
	free(log);
	unsetenv("PHAUL_PODMAN_DIR");
	setenv("PHAUL_PODMAN", "/nonexistent/podman", 1);
}

static const struct compat_row *find(const struct compat_table *t, const char *name)
{
	for (int i = 0; i < t->nrows; i++)
		if (!strcmp(t->rows[i].check, name))
			return &t->rows[i];
	return NULL;
}

/* No podman on the destination: the runtime check refuses, naming the host. */
static void test_check_runtime_missing(void **state)
{
	Phaul__HostFacts s = PHAUL__HOST_FACTS__INIT, d = PHAUL__HOST_FACTS__INIT;
	struct compat_req q = { .ct_spec = "podman:pm1", .ct_runtime = "podman 4.3.1" };
	const struct compat_row *r;
	struct compat_table t;
	struct ct_facts cf;

	(void)state;
	assert_int_equal(ct_parse("podman:pm1", &ct), 0);
	assert_true(ct.ops->probe(&ct, NULL, &cf) < 0); /* exec of the missing podman fails */
	s.hostname = "srchost";
	d.hostname = "dsthost";
	ct_facts_fill("podman:pm1", NULL, NULL, &d);
	assert_string_equal(d.ct_runtime, "");
	compat_compare(&s, &d, &q, &t);
	r = find(&t, "runtime");
	assert_non_null(r);
	assert_int_equal(r->verdict, COMPAT_FAIL);
	assert_string_equal(r->src, "podman 4.3.1");
	assert_string_equal(r->dst, "MISSING");
	assert_non_null(strstr(r->detail, "missing on dsthost"));
	free(d.ct_runtime);
}

/*
 * The image check: the destination must hold the image the source's
 * container runs from; missing, or not looked up (an older agent, or a
 * name too long to look up), it refuses naming the host and both values.
 */
static void test_check_image(void **state)
{
	static const char id[] = "3f0e5b3c0a3d1b0c9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d";
	Phaul__HostFacts s = PHAUL__HOST_FACTS__INIT, d = PHAUL__HOST_FACTS__INIT;
	struct compat_req q = { .ct_spec = "podman:pm1",
				.ct_runtime = "podman 4.3.1",
				.ct_image = id };
	char longname[CT_IMAGE_MAX + 8];
	const struct compat_row *r;
	struct compat_table t;

	(void)state;
	s.hostname = "srchost";
	d.hostname = "dsthost";
	d.ct_runtime = "podman 4.3.1";
	d.has_ct_image_present = 1;
	d.ct_image_present = 0;
	assert_int_equal(compat_compare(&s, &d, &q, &t), -PH_ECOMPAT);
	r = find(&t, "ct-image");
	assert_non_null(r);
	assert_int_equal(r->verdict, COMPAT_FAIL);
	assert_string_equal(r->src, id);
	assert_string_equal(r->dst, "MISSING");
	assert_non_null(strstr(r->detail, "podman:pm1 runs from image 3f0e5b3c"));
	assert_non_null(strstr(r->detail, "dsthost does not hold"));
	assert_non_null(strstr(r->detail, "required: that image there"));

	d.ct_image_present = 1;
	compat_compare(&s, &d, &q, &t);
	r = find(&t, "ct-image");
	assert_non_null(r);
	assert_int_equal(r->verdict, COMPAT_OK);
	assert_string_equal(r->dst, "present");

	/* a name too long to look up is not looked up: unknown refuses too */
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	d = (Phaul__HostFacts)PHAUL__HOST_FACTS__INIT;
	d.hostname = "dsthost";
	ct_facts_fill("podman:pm1", NULL, longname, &d);
	assert_false(d.has_ct_image_present);
	free(d.ct_runtime);
	d.ct_runtime = "podman 4.3.1";
	compat_compare(&s, &d, &q, &t);
	r = find(&t, "ct-image");
	assert_non_null(r);
	assert_int_equal(r->verdict, COMPAT_FAIL);
	assert_string_equal(r->dst, "unknown");
	assert_non_null(strstr(r->detail, "did not look up"));

	/* no image asked (a type without one): no row */
	q.ct_image = NULL;
	compat_compare(&s, &d, &q, &t);
	assert_null(find(&t, "ct-image"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_refused),
		cmocka_unit_test(test_second_pre_dump_refused),
		cmocka_unit_test(test_guard),
		cmocka_unit_test(test_restore_refused),
		cmocka_unit_test(test_check_runtime_missing),
		cmocka_unit_test(test_check_image),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
