// SPDX-License-Identifier: GPL-2.0
/*
 * Image streaming between two real muxes over a socketpair: content
 * arrives intact; a peer that lies about names or lengths is refused and
 * leaves no file behind; a full disk is PH_ENOSPC naming the file.
 */
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
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "caps.h"
#include "err.h"
#include "images.h"
#include "mux_pair.h"
#include "proto/msg.h"
#include "util.h"

struct pair {
	struct mux *a, *b;
	char src[64], dst[64];
	int dfd;
};

static int setup(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));

	mux_pair(&p->a, &p->b);
	strcpy(p->src, "/tmp/phaul-img-src.XXXXXX");
	strcpy(p->dst, "/tmp/phaul-img-dst.XXXXXX");
	assert_non_null(mkdtemp(p->src));
	assert_non_null(mkdtemp(p->dst));
	p->dfd = open(p->dst, O_RDONLY | O_DIRECTORY);
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	struct pair *p = *state;

	umount2(p->dst, MNT_DETACH);
	close(p->dfd);
	mux_close(p->a);
	mux_close(p->b);
	rm_tree(p->src);
	rm_tree(p->dst);
	free(p);
	return 0;
}

static void put(const char *dir, const char *name, size_t size, unsigned seed)
{
	char path[256];
	uint8_t *buf = malloc(size + 1);
	FILE *f;

	for (size_t i = 0; i < size; i++)
		buf[i] = (uint8_t)(i * 31 + seed);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, size, f), size);
	fclose(f);
	free(buf);
}

static bool same(const char *a, const char *b)
{
	uint8_t *x, *y;
	size_t lx, ly;
	bool eq;

	if (read_file(a, 1 << 26, &x, &lx) || read_file(b, 1 << 26, &y, &ly))
		return false;
	eq = lx == ly && !memcmp(x, y, lx);
	free(x);
	free(y);
	return eq;
}

struct sender {
	struct mux *m;
	const char *dir;
	int ret;
	uint32_t count;
	uint64_t bytes;
};

static void *send_thread(void *arg)
{
	struct sender *s = arg;

	s->ret = images_send(s->m, 3, s->dir, &s->count, &s->bytes);
	return NULL;
}

/* Receive what the sender sends until ImagesDone; returns the first error. */
static int receive_all(struct pair *p, uint32_t *count)
{
	Phaul__Msg *in;
	int ret;

	*count = 0;
	for (;;) {
		if ((ret = msg_recv(p->b, &in, 10000)) < 0)
			return ret;
		if (in->body_case == PHAUL__MSG__BODY_IMAGES_DONE) {
			assert_int_equal(in->images_done->count, *count);
			msg_free(in);
			return 0;
		}
		assert_int_equal(in->body_case, PHAUL__MSG__BODY_IMAGE_FILE);
		ret = images_recv(p->b, p->dfd, in->image_file, "dst");
		msg_free(in);
		if (ret < 0)
			return ret;
		(*count)++;
	}
}

static void test_roundtrip(void **state)
{
	struct pair *p = *state;
	struct sender s = { .m = p->a, .dir = p->src };
	char a[256], b[256];
	pthread_t t;
	uint32_t n;

	put(p->src, "core-42.img", 100000, 1);
	put(p->src, "empty.img", 0, 2);
	put(p->src, "big.img", 3 * PH_FRAME_MAX + 17, 3);
	put(p->src, "restore.log", 10, 4); /* not an image: stays home */
	pthread_create(&t, NULL, send_thread, &s);
	assert_int_equal(receive_all(p, &n), 0);
	pthread_join(t, NULL);
	assert_int_equal(s.ret, 0);
	assert_int_equal(n, 3);
	assert_int_equal(s.count, 3);
	assert_int_equal(s.bytes, 100000 + 3 * PH_FRAME_MAX + 17);
	for (const char **f = (const char *[]){ "core-42.img", "empty.img", "big.img", NULL }; *f; f++) {
		snprintf(a, sizeof(a), "%s/%s", p->src, *f);
		snprintf(b, sizeof(b), "%s/%s", p->dst, *f);
		assert_true(same(a, b));
	}
	snprintf(b, sizeof(b), "%s/restore.log", p->dst);
	assert_int_equal(access(b, F_OK), -1);
}

/* Announce f, then send data bytes and an EOF. */
static void lie(struct mux *m, const char *name, uint64_t announced, size_t data)
{
	Phaul__Msg msg = PHAUL__MSG__INIT;
	Phaul__ImageFile f = PHAUL__IMAGE_FILE__INIT;
	uint8_t *buf = calloc(1, data + 1);

	f.iter = 3;
	f.name = (char *)name;
	f.size = announced;
	msg.body_case = PHAUL__MSG__BODY_IMAGE_FILE;
	msg.image_file = &f;
	assert_int_equal(msg_send(m, &msg), 0);
	if (data)
		assert_int_equal(mux_send(m, MUX_IMAGES, buf, data), 0);
	assert_int_equal(mux_send_eof(m, MUX_IMAGES), 0);
	free(buf);
}

static int recv_one(struct pair *p)
{
	Phaul__Msg *in;
	int ret;

	assert_int_equal(msg_expect(p->b, PHAUL__MSG__BODY_IMAGE_FILE, &in, 10000), 0);
	ret = images_recv(p->b, p->dfd, in->image_file, "dst");
	msg_free(in);
	return ret;
}

static void test_peer_lies_about_length(void **state)
{
	struct pair *p = *state;
	char path[256];

	lie(p->a, "long.img", 10, 20);
	assert_int_equal(recv_one(p), -PH_EPROTO);
	assert_non_null(strstr(ph_errmsg(), "more than the announced 10 bytes"));
	snprintf(path, sizeof(path), "%s/long.img", p->dst);
	assert_int_equal(access(path, F_OK), -1); /* partial file removed */
}

static void test_peer_sends_short_file(void **state)
{
	struct pair *p = *state;

	lie(p->a, "short.img", 4096, 100);
	assert_int_equal(recv_one(p), -PH_EPROTO);
	assert_non_null(strstr(ph_errmsg(), "got 100 of the announced 4096"));
}

static void test_names_that_escape_are_refused(void **state)
{
	const char *bad[] = { "../etc/passwd", "/etc/passwd", "a/b.img", "..", ".", "",
			      "x\n.img", NULL };

	for (const char **b = bad; *b; b++)
		assert_false(images_name_ok(*b));
	assert_true(images_name_ok("pages-1.img"));
	assert_true(images_name_ok("inventory.img"));
	/* what the flat store writes never comes as a file from the peer */
	assert_true(images_is_store_name("pages-1.img"));
	assert_true(images_is_store_name("pagemap-4242.img"));
	assert_true(images_is_store_name("pagemap-shmem-7.img"));
	assert_false(images_is_store_name("mm-4242.img"));
	assert_false(images_is_store_name("inventory.img"));
}

static void test_escape_over_the_wire(void **state)
{
	struct pair *p = *state;
	Phaul__ImageFile f = PHAUL__IMAGE_FILE__INIT;

	f.name = "../../../tmp/phaul-pwned.img";
	f.size = 1;
	assert_int_equal(images_recv(p->b, p->dfd, &f, "dst"), -PH_EPATH);
	assert_int_equal(access("/tmp/phaul-pwned.img", F_OK), -1);
}

static void test_oversized_announcement(void **state)
{
	struct pair *p = *state;
	Phaul__ImageFile f = PHAUL__IMAGE_FILE__INIT;

	f.name = "huge.img";
	f.size = PH_IMAGE_FILE_MAX + 1;
	assert_int_equal(images_recv(p->b, p->dfd, &f, "dst"), -PH_ETOOBIG);
}

static void test_full_disk(void **state)
{
	struct pair *p = *state;
	struct sender s = { .m = p->a, .dir = p->src };
	pthread_t t;
	uint32_t n;
	int ret;

	if (mount("tmpfs", p->dst, "tmpfs", 0, "size=256k") < 0)
		skip(); /* needs root: CI and the developers run as root */
	close(p->dfd);
	p->dfd = open(p->dst, O_RDONLY | O_DIRECTORY);
	put(p->src, "pages-1.img", 1 << 20, 5);
	pthread_create(&t, NULL, send_thread, &s);
	ret = receive_all(p, &n);
	assert_int_equal(ret, -PH_ENOSPC);
	assert_non_null(strstr(ph_errmsg(), "pages-1.img"));
	/* the receiver gives up and says why, as the agent does */
	mux_abort(p->b, PH_ENOSPC, ph_errmsg());
	pthread_join(t, NULL);
	/* the sender may have finished into the window; its next wait learns why */
	{
		Phaul__Msg *in = NULL;

		assert_true(msg_recv(p->a, &in, 10000) < 0);
		assert_null(in);
		assert_non_null(strstr(ph_errmsg(), "pages-1.img"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_lies_about_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_sends_short_file, setup, teardown),
		cmocka_unit_test(test_names_that_escape_are_refused),
		cmocka_unit_test_setup_teardown(test_escape_over_the_wire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_announcement, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_disk, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
