// SPDX-License-Identifier: GPL-2.0
/*
 * engine/pstore.c: the flat page store, over both I/O backends. Streams are
 * built byte for byte as CRIU 3.17's dumper writes them; the images are
 * read back the way CRIU's page-read does (pagemap entries in order, each
 * present entry's pages next in pages-<id>.img) and compared with a model
 * of the dumped memory.
 */
#include <dirent.h>
#include <fcntl.h>
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

#include "caps.h"
#include "criu_pagemap.pb-c.h"
#include "err.h"
#include "engine/pstore.h"
#include "util.h"
#include "ps_stream.h"

#define PGSZ	    4096u
#define PID_DST(id) (((uint64_t)(id) << PS_TYPE_BITS) | PS_TYPE_PID)
#define SHM_DST(id) (((uint64_t)(id) << PS_TYPE_BITS) | PS_TYPE_SHMEM)
#define BASE	    0x7f0000000000ull

static enum pio_backend backend = PIO_URING;

/* ---- a session's bytes and a relay_io serving them in records ---- */

/* Page content: the page's address and a version, repeated. */
static void fill(uint8_t *pg, uint64_t vaddr, uint32_t ver)
{
	for (size_t i = 0; i < PGSZ; i += 16) {
		memcpy(pg + i, &vaddr, 8);
		memcpy(pg + i + 8, &ver, 4);
		memcpy(pg + i + 12, &i, 4);
	}
}

static void add(struct stream *s, uint64_t dst, uint64_t vaddr, uint32_t nr, uint32_t ver,
		uint32_t lazy)
{
	uint8_t pg[PGSZ];

	hdr(s, ((PSX_PE_PRESENT | lazy) << PS_CMD_BITS) | PS_IOV_ADD_F, nr, vaddr, dst);
	for (uint32_t i = 0; i < nr; i++) {
		fill(pg, vaddr + (uint64_t)i * PGSZ, ver);
		put(s, pg, PGSZ);
	}
}

static void parent(struct stream *s, uint64_t dst, uint64_t vaddr, uint32_t nr)
{
	hdr(s, (PSX_PE_PARENT << PS_CMD_BITS) | PS_IOV_ADD_F, nr, vaddr, dst);
}

struct mio {
	struct stream *st;
	size_t pos, rec; /* record size (cut anywhere, even inside headers) */
	uint8_t ans[256];
	size_t nans;
	int eofs;
};

static int m_send(void *arg, const void *buf, size_t len)
{
	struct mio *m = arg;

	assert_true(m->nans + len <= sizeof(m->ans));
	memcpy(m->ans + m->nans, buf, len);
	m->nans += len;
	return 0;
}

static int m_eof(void *arg)
{
	((struct mio *)arg)->eofs++;
	return 0;
}

static long m_recv(void *arg, void *buf, size_t cap, int timeout_ms)
{
	struct mio *m = arg;
	size_t n = m->st->len - m->pos;

	if (n > m->rec)
		n = m->rec;
	if (n > cap)
		n = cap;
	memcpy(buf, m->st->buf + m->pos, n);
	m->pos += n;
	return (long)n;
}

/* Run one session from st; returns pstore_session's result, answers in m. */
static int run(struct pstore *s, struct psx_parser *p, struct stream *st, size_t rec, struct mio *m)
{
	struct relay_io io = { m_send, m_eof, m_recv, m };

	memset(m, 0, sizeof(*m));
	m->st = st;
	m->rec = rec;
	return pstore_session(s, p, &io, 1000);
}

/* ---- reading the images back as CRIU does ---- */

struct img {
	Criupm__PagemapEntry **e;
	size_t n;
	uint32_t pages_id;
	uint8_t *pages;
	size_t npages;
};

static uint8_t *slurp(const char *dir, const char *name, size_t *len)
{
	char path[512];
	struct stat st;
	uint8_t *b;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	assert_int_equal(fstat(fd, &st), 0);
	b = malloc(st.st_size + 1);
	assert_non_null(b);
	assert_int_equal(read(fd, b, st.st_size), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return b;
}

static void img_read(const char *dir, const char *name, struct img *im)
{
	size_t len, off = 8;
	uint8_t *b = slurp(dir, name, &len);
	uint32_t magic[2], n;
	Criupm__PagemapHead *h;
	char pn[64];

	memset(im, 0, sizeof(*im));
	assert_non_null(b);
	memcpy(magic, b, 8);
	assert_int_equal(magic[0], 0x54564319);
	assert_int_equal(magic[1], 0x56084025);
	memcpy(&n, b + off, 4);
	h = criupm__pagemap_head__unpack(NULL, n, b + off + 4);
	assert_non_null(h);
	im->pages_id = h->pages_id;
	criupm__pagemap_head__free_unpacked(h, NULL);
	off += 4 + n;
	while (off < len) {
		memcpy(&n, b + off, 4);
		im->e = realloc(im->e, (im->n + 1) * sizeof(*im->e));
		im->e[im->n] = criupm__pagemap_entry__unpack(NULL, n, b + off + 4);
		assert_non_null(im->e[im->n]);
		im->n++;
		off += 4 + n;
	}
	assert_int_equal(off, len);
	free(b);
	snprintf(pn, sizeof(pn), "pages-%u.img", im->pages_id);
	im->pages = slurp(dir, pn, &len);
	assert_non_null(im->pages);
	assert_int_equal(len % PGSZ, 0);
	im->npages = len / PGSZ;
}

static void img_free(struct img *im)
{
	for (size_t i = 0; i < im->n; i++)
		criupm__pagemap_entry__free_unpacked(im->e[i], NULL);
	free(im->e);
	free(im->pages);
}

/* ---- the model: one version per page, 0 = absent ---- */

#define MPAGES 96
struct model {
	uint32_t ver[MPAGES];
	uint32_t lazy[MPAGES];
};

/* The image must hold exactly the model's pages, sorted, flat, correct bytes. */
static void img_check(const struct img *im, const struct model *md)
{
	size_t pi = 0, want = 0;
	uint8_t pg[PGSZ];
	uint64_t prev_end = 0;

	for (size_t i = 0; i < MPAGES; i++)
		want += md->ver[i] != 0;
	for (size_t i = 0; i < im->n; i++) {
		const Criupm__PagemapEntry *e = im->e[i];

		assert_true(e->has_flags);
		assert_int_equal(e->flags & ~PSX_PE_LAZY, PSX_PE_PRESENT);
		assert_false(e->has_in_parent && e->in_parent);
		assert_true(e->vaddr >= prev_end);
		prev_end = e->vaddr + (uint64_t)e->nr_pages * PGSZ;
		for (uint32_t k = 0; k < e->nr_pages; k++, pi++) {
			uint64_t v = e->vaddr + (uint64_t)k * PGSZ;
			size_t idx = (size_t)((v - BASE) / PGSZ);

			assert_true(idx < MPAGES);
			assert_int_not_equal(md->ver[idx], 0);
			assert_int_equal(!!(e->flags & PSX_PE_LAZY), md->lazy[idx]);
			assert_true(pi < im->npages);
			fill(pg, v, md->ver[idx]);
			assert_memory_equal(im->pages + pi * PGSZ, pg, PGSZ);
		}
	}
	assert_int_equal(pi, want);
	assert_int_equal(im->npages, want);
}

static char *mkdir_tmp(void)
{
	char *d = strdup("/tmp/test_store.XXXXXX");

	assert_non_null(mkdtemp(d));
	return d;
}

/* ---- tests ---- */

static struct pstore *store_new(const char *dir)
{
	struct pstore *s;

	assert_int_equal(pstore_open(&s, dir, backend), 0);
	assert_int_equal(pio_backend(pstore_io(s)), backend);
	return s;
}

/* Three iterations: whole, in place with in-parent pages, then a layout change. */
static void test_iterations(void **state)
{
	char *dir = mkdir_tmp();
	struct pstore *s = store_new(dir);
	struct stream st = { 0 };
	struct psx_parser p;
	struct model md = { 0 };
	struct mio m;
	struct img im;
	int32_t one;

	psx_init(&p, PGSZ);
	/* 1: pages 0-3 and 10-11, all sent */
	hdr(&st, PS_IOV_OPEN2, 0, 0, PID_DST(42));
	add(&st, PID_DST(42), BASE, 4, 1, PSX_PE_LAZY);
	add(&st, PID_DST(42), BASE + 10 * PGSZ, 2, 1, 0);
	hdr(&st, PS_IOV_FORCE_CLOSE, 0, 0, 0);
	assert_int_equal(run(s, &p, &st, 5000, &m), 0);
	assert_int_equal(m.nans, 5);
	assert_int_equal(m.ans[0], 0); /* no parent */
	assert_int_equal(m.eofs, 1);
	for (int i = 0; i < 4; i++)
		md.ver[i] = 1, md.lazy[i] = 1;
	md.ver[10] = md.ver[11] = 1;

	/* 2: same set, page 1 and 11 dirty: only they are written */
	st.len = 0;
	hdr(&st, PS_IOV_PARENT, 0, 0, PID_DST(42));
	hdr(&st, PS_IOV_OPEN2, 0, 0, PID_DST(42));
	parent(&st, PID_DST(42), BASE, 1);
	add(&st, PID_DST(42), BASE + PGSZ, 1, 2, PSX_PE_LAZY);
	parent(&st, PID_DST(42), BASE + 2 * PGSZ, 2);
	parent(&st, PID_DST(42), BASE + 10 * PGSZ, 1);
	add(&st, PID_DST(42), BASE + 11 * PGSZ, 1, 2, 0);
	hdr(&st, PS_IOV_CLOSE, 0, 0, 0);
	assert_int_equal(run(s, &p, &st, 24, &m), 0);
	assert_int_equal(m.nans, 4 + 1 + 4);
	memcpy(&one, m.ans, 4);
	assert_int_equal(one, 1);      /* PARENT: yes */
	assert_int_equal(m.ans[4], 1); /* OPEN2: has parent */
	assert_int_equal(pstore_stats(s)->last_moved, 0);
	md.ver[1] = 2;
	md.ver[11] = 2;

	/* 3: page 0 unmapped, 5-6 new, 11 gone, 20 new: pages move once */
	st.len = 0;
	hdr(&st, PS_IOV_OPEN2, 0, 0, PID_DST(42));
	parent(&st, PID_DST(42), BASE + PGSZ, 3);
	add(&st, PID_DST(42), BASE + 5 * PGSZ, 2, 3, 0);
	parent(&st, PID_DST(42), BASE + 10 * PGSZ, 1);
	add(&st, PID_DST(42), BASE + 20 * PGSZ, 1, 3, 0);
	hdr(&st, PS_IOV_FORCE_CLOSE, 0, 0, 0);
	assert_int_equal(run(s, &p, &st, 4096 + 7, &m), 0);
	assert_true(pstore_stats(s)->last_moved > 0);
	md.ver[0] = md.lazy[0] = 0;
	md.ver[5] = md.ver[6] = 3;
	md.ver[11] = 0;
	md.ver[20] = 3;

	assert_int_equal(pstore_write_images(s), 0);
	img_read(dir, "pagemap-42.img", &im);
	img_check(&im, &md);
	assert_int_equal(pstore_stats(s)->sessions, 3);
	img_free(&im);
	pstore_close(s);
	free(st.buf);
	rm_tree(dir);
	free(dir);
}

/*
 * Hybrid: where the store holds a page of the last session (pstore_locate),
 * read back through the descriptor it gives; pages it does not hold, a
 * shmem map and a task absent from the last session are refused.
 */
static void test_locate(void **state)
{
	char *dir = mkdir_tmp();
	struct pstore *s = store_new(dir);
	struct stream st = { 0 };
	struct psx_parser p;
	struct mio m;
	uint8_t pg[PGSZ], want[PGSZ];
	uint64_t off, np;
	int fd;

	(void)state;
	psx_init(&p, PGSZ);
	assert_int_equal(pstore_locate(s, 42, BASE, &fd, &off, &np), -PH_EPROTO);
	hdr(&st, PS_IOV_OPEN2, 0, 0, PID_DST(42));
	add(&st, PID_DST(42), BASE, 4, 1, 0);
	add(&st, PID_DST(42), BASE + 10 * PGSZ, 2, 1, 0);
	hdr(&st, PS_IOV_OPEN2, 0, 0, PID_DST(43));
	add(&st, PID_DST(43), BASE, 1, 1, 0);
	hdr(&st, PS_IOV_OPEN2, 0, 0, SHM_DST(42));
	add(&st, SHM_DST(42), BASE + 100 * PGSZ, 1, 1, 0);
	hdr(&st, PS_IOV_FORCE_CLOSE, 0, 0, 0);
	assert_int_equal(run(s, &p, &st, 5000, &m), 0);
	/* 2: page 2 dirty, 43 gone */
	st.len = 0;
	hdr(&st, PS_IOV_OPEN2, 0, 0, PID_DST(42));
	parent(&st, PID_DST(42), BASE, 2);
	add(&st, PID_DST(42), BASE + 2 * PGSZ, 1, 2, 0);
	parent(&st, PID_DST(42), BASE + 3 * PGSZ, 1);
	parent(&st, PID_DST(42), BASE + 10 * PGSZ, 2);
	hdr(&st, PS_IOV_FORCE_CLOSE, 0, 0, 0);
	assert_int_equal(run(s, &p, &st, 5000, &m), 0);

	assert_int_equal(pstore_locate(s, 42, BASE + PGSZ, &fd, &off, &np), 0);
	assert_int_equal(off, PGSZ);
	assert_int_equal(np, 3);
	assert_int_equal(pstore_locate(s, 42, BASE + 2 * PGSZ, &fd, &off, &np), 0);
	assert_int_equal(pread(fd, pg, PGSZ, (off_t)off), PGSZ);
	fill(want, BASE + 2 * PGSZ, 2);
	assert_memory_equal(pg, want, PGSZ);
	assert_int_equal(pstore_locate(s, 42, BASE + 11 * PGSZ, &fd, &off, &np), 0);
	assert_int_equal(off, 5 * PGSZ);
	assert_int_equal(np, 1);
	assert_int_equal(pread(fd, pg, PGSZ, (off_t)off), PGSZ);
	fill(want, BASE + 11 * PGSZ, 1);
	assert_memory_equal(pg, want, PGSZ);
	assert_int_equal(pstore_locate(s, 42, BASE + 4 * PGSZ, &fd, &off, &np), -PH_EPROTO);
	assert_int_equal(pstore_locate(s, 42, BASE + 1, &fd, &off, &np), -PH_EPROTO);
	assert_int_equal(pstore_locate(s, 43, BASE, &fd, &off, &np), -PH_EPROTO);
	assert_int_equal(pstore_locate(s, 42, BASE + 100 * PGSZ, &fd, &off, &np), -PH_EPROTO);
	pstore_close(s);
	free(st.buf);
	rm_tree(dir);
	free(dir);
}

/* Sessions good (may be NULL) then bad on a fresh store: bad is refused with needle. */
static void expect_refused(struct stream *good, struct stream *bad, const char *needle)
{
	char *dir = mkdir_tmp();
	struct pstore *s = store_new(dir);
	struct psx_parser p;
	struct mio m;

	psx_init(&p, PGSZ);
	if (good)
		assert_int_equal(run(s, &p, good, 65536, &m), 0);
	assert_int_equal(run(s, &p, bad, 65536, &m), -PH_EPROTO);
	assert_non_null(strstr(ph_errmsg(), needle));
	pstore_close(s);
	rm_tree(dir);
	free(dir);
}

/* An in-parent page the store never had is refused, naming the page. */
static void test_parent_missing(void **state)
{
	struct stream good = { 0 }, bad = { 0 };

	hdr(&good, PS_IOV_OPEN2, 0, 0, PID_DST(7));
	add(&good, PID_DST(7), BASE, 2, 1, 0);
	hdr(&good, PS_IOV_FORCE_CLOSE, 0, 0, 0);
	hdr(&bad, PS_IOV_OPEN2, 0, 0, PID_DST(7));
	parent(&bad, PID_DST(7), BASE + PGSZ, 2); /* page 2 was never sent */
	hdr(&bad, PS_IOV_FORCE_CLOSE, 0, 0, 0);
	expect_refused(&good, &bad, "in parent");
	free(good.buf);
	free(bad.buf);
}

/* Entries out of order, and lazy-only entries (no data, not in parent). */
static void test_refused_entries(void **state)
{
	struct stream st = { 0 };

	hdr(&st, PS_IOV_OPEN2, 0, 0, PID_DST(7));
	add(&st, PID_DST(7), BASE + 4 * PGSZ, 1, 1, 0);
	add(&st, PID_DST(7), BASE, 1, 1, 0);
	hdr(&st, PS_IOV_FORCE_CLOSE, 0, 0, 0);
	expect_refused(NULL, &st, "below the previous");
	st.len = 0;
	hdr(&st, PS_IOV_OPEN2, 0, 0, PID_DST(7));
	hdr(&st, (PSX_PE_LAZY << PS_CMD_BITS) | PS_IOV_ADD_F, 3, BASE, PID_DST(7));
	hdr(&st, PS_IOV_FORCE_CLOSE, 0, 0, 0);
	expect_refused(NULL, &st, "neither present nor in parent");
	st.len = 0;
	hdr(&st, PS_IOV_OPEN2, 0, 0, PID_DST(7));
	add(&st, PID_DST(7), BASE, 1, 1, 0);
	hdr(&st, PS_IOV_OPEN2, 0, 0, PID_DST(7));
	add(&st, PID_DST(7), BASE + PGSZ, 1, 1, 0);
	hdr(&st, PS_IOV_FORCE_CLOSE, 0, 0, 0);
	expect_refused(NULL, &st, "opened twice");
	free(st.buf);
}

/* A map absent from one session comes back whole; maps gone at the end leave no file. */
static void test_maps_come_and_go(void **state)
{
	char *dir = mkdir_tmp();
	struct pstore *s = store_new(dir);
	struct stream st = { 0 };
	struct psx_parser p;
	struct model a = { 0 };
	struct mio m;
	struct img im;
	size_t len;
	uint8_t *b;

	psx_init(&p, PGSZ);
	hdr(&st, PS_IOV_OPEN2, 0, 0, PID_DST(1));
	add(&st, PID_DST(1), BASE, 3, 1, 0);
	hdr(&st, PS_IOV_OPEN2, 0, 0, SHM_DST(9));
	add(&st, SHM_DST(9), BASE, 1, 1, 0);
	hdr(&st, PS_IOV_OPEN2, 0, 0, PID_DST(2));
	add(&st, PID_DST(2), BASE, 1, 1, 0);
	hdr(&st, PS_IOV_FORCE_CLOSE, 0, 0, 0);
	assert_int_equal(run(s, &p, &st, 100, &m), 0);
	/* 2: only the shmem map */
	st.len = 0;
	hdr(&st, PS_IOV_OPEN2, 0, 0, SHM_DST(9));
	parent(&st, SHM_DST(9), BASE, 1);
	hdr(&st, PS_IOV_FORCE_CLOSE, 0, 0, 0);
	assert_int_equal(run(s, &p, &st, 100, &m), 0);
	assert_int_equal(m.ans[0], 1);
	/* 3: map 1 again (no parent: sent whole, 2 pages now) and the shmem */
	st.len = 0;
	hdr(&st, PS_IOV_OPEN2, 0, 0, PID_DST(1));
	add(&st, PID_DST(1), BASE + PGSZ, 2, 5, 0);
	hdr(&st, PS_IOV_OPEN2, 0, 0, SHM_DST(9));
	parent(&st, SHM_DST(9), BASE, 1);
	hdr(&st, PS_IOV_FORCE_CLOSE, 0, 0, 0);
	assert_int_equal(run(s, &p, &st, 100, &m), 0);
	assert_int_equal(m.ans[0], 0); /* map 1: no parent */
	assert_int_equal(m.ans[1], 1); /* shmem: parent */
	assert_int_equal(pstore_write_images(s), 0);
	img_read(dir, "pagemap-1.img", &im);
	a.ver[1] = a.ver[2] = 5;
	img_check(&im, &a);
	img_free(&im);
	img_read(dir, "pagemap-shmem-9.img", &im);
	memset(&a, 0, sizeof(a));
	a.ver[0] = 1;
	img_check(&im, &a);
	img_free(&im);
	/* map 2 (pages-3.img) left before the end: neither pagemap nor pages */
	assert_null(slurp(dir, "pagemap-2.img", &len));
	assert_null(b = slurp(dir, "pages-3.img", &len));
	pstore_close(s);
	free(st.buf);
	rm_tree(dir);
	free(dir);
}

/* Random sessions against the model: insertions, drops, dirt, any record cut. */
static void test_random(void **state)
{
	for (unsigned int seed = 1; seed <= 60; seed++) {
		char *dir = mkdir_tmp();
		struct pstore *s = store_new(dir);
		struct stream st = { 0 };
		struct psx_parser p;
		struct model md = { 0 }, prev;
		struct mio m;
		struct img im;
		unsigned int r = seed;

		psx_init(&p, PGSZ);
		for (uint32_t ses = 1; ses <= 6; ses++) {
			prev = md;
			st.len = 0;
			hdr(&st, PS_IOV_OPEN2, 0, 0, PID_DST(5));
			for (size_t i = 0; i < MPAGES; i++) {
				int x = rand_r(&r) % 100;

				if (prev.ver[i] && x < 8)
					md.ver[i] = 0; /* unmapped */
				else if (!prev.ver[i] && x < (ses == 1 ? 60 : 10))
					md.ver[i] = ses, md.lazy[i] = rand_r(&r) % 2;
				else if (prev.ver[i] && x < 40)
					md.ver[i] = ses; /* dirty */
			}
			for (size_t i = 0; i < MPAGES;) {
				size_t j = i;
				bool pres;

				if (!md.ver[i]) {
					i++;
					continue;
				}
				pres = md.ver[i] == ses;
				while (j < MPAGES && md.ver[j] && (md.ver[j] == ses) == pres &&
				       (!pres || md.lazy[j] == md.lazy[i]) && j - i < 5)
					j++;
				if (pres)
					add(&st, PID_DST(5), BASE + i * PGSZ, (uint32_t)(j - i),
					    ses, md.lazy[i] ? PSX_PE_LAZY : 0);
				else
					parent(&st, PID_DST(5), BASE + i * PGSZ, (uint32_t)(j - i));
				i = j;
			}
			hdr(&st, PS_IOV_FORCE_CLOSE, 0, 0, 0);
			assert_int_equal(run(s, &p, &st, 1 + rand_r(&r) % 20000, &m), 0);
			assert_int_equal(m.ans[0], ses > 1);
		}
		assert_int_equal(pstore_write_images(s), 0);
		img_read(dir, "pagemap-5.img", &im);
		img_check(&im, &md);
		img_free(&im);
		pstore_close(s);
		free(st.buf);
		rm_tree(dir);
		free(dir);
	}
}

/* The fallback is chosen at run time and says why. */
static void test_fallback(void **state)
{
	struct pio *io;

	setenv("PHAUL_FAULT_NO_URING", "1", 1);
	assert_int_equal(pio_open(&io, PIO_AUTO), 0);
	assert_int_equal(pio_backend(io), PIO_PLAIN);
	assert_string_equal(pio_name(io), "pwrite");
	assert_non_null(strstr(pio_fallback(io), "io_uring_queue_init"));
	pio_close(io);
	assert_int_equal(pio_open(&io, PIO_URING), -PH_ENOTSUP);
	unsetenv("PHAUL_FAULT_NO_URING");
}

static int use_plain(void **state)
{
	backend = PIO_PLAIN;
	return 0;
}

static int use_uring(void **state)
{
	struct pio *io;

	backend = PIO_URING;
	if (pio_open(&io, PIO_URING) < 0) {
		/* io_uring is not available on this host: its half cannot run */
		backend = PIO_PLAIN;
		return 0;
	}
	pio_close(io);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_iterations, use_uring),
		cmocka_unit_test_setup(test_iterations, use_plain),
		cmocka_unit_test_setup(test_parent_missing, use_uring),
		cmocka_unit_test_setup(test_refused_entries, use_plain),
		cmocka_unit_test_setup(test_maps_come_and_go, use_uring),
		cmocka_unit_test_setup(test_random, use_uring),
		cmocka_unit_test_setup(test_random, use_plain),
		cmocka_unit_test(test_fallback),
		cmocka_unit_test_setup(test_locate, use_uring),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
