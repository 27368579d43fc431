// SPDX-License-Identifier: GPL-2.0
/*
 * engine/lzx_hyb: hybrid migration's images. The destination's pagemap
 * rewrite (PE_PARENT -> PE_LAZY, the pages located in the flat store), its
 * relay answering those pages from the store's files without asking the
 * source (which would refuse: they are not in its lazy set), a GET outside
 * the union refused; the source's parent pagemaps from a pre-dump's
 * stream.
 */
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

#include "caps.h"
#include "criu_mm.pb-c.h"
#include "criu_pagemap.pb-c.h"
#include "engine/lzx.h"
#include "engine/psx.h"
#include "err.h"
#include "ps_stream.h"
#include "rec_link.h"
#include "lzx_fake.h"

static void pm_put(struct stream *st, const ProtobufCMessage *m)
{
	uint8_t buf[64];
	uint32_t n = (uint32_t)protobuf_c_message_pack(m, buf);

	put(st, &n, 4);
	put(st, buf, n);
}

static void pm_entry(struct stream *st, uint64_t va, uint32_t nr, uint32_t flags)
{
	Criupm__PagemapEntry e = CRIUPM__PAGEMAP_ENTRY__INIT;

	e.vaddr = va;
	e.nr_pages = nr;
	e.has_flags = 1;
	e.flags = flags;
	pm_put(st, &e.base);
}

static void pm_head(struct stream *st)
{
	uint32_t magic[2] = { 0x54564319, 0x56084025 };
	Criupm__PagemapHead h = CRIUPM__PAGEMAP_HEAD__INIT;

	h.pages_id = 3;
	put(st, magic, 8);
	pm_put(st, &h.base);
}

/*
 * A fake flat store of pid 7: pages [BASE, BASE+6) at page 0 of store_fd,
 * [BASE+6, BASE+40) at page 50 (two runs, as after a layout change); no
 * other page. Page k of the store file holds the byte 0x80 + k.
 */
static int store_fd = 100;

static int locate(void *arg, uint64_t id, uint64_t va, int *fd, uint64_t *off, uint64_t *np)
{
	uint64_t pg = (va - BASE) / PGSZ;

	(void)arg;
	if (id != 7 || va < BASE || pg >= 40)
		return ph_seterr(PH_EPROTO, "not held");
	*fd = store_fd;
	*off = (pg < 6 ? pg : 50 + pg - 6) * PGSZ;
	*np = pg < 6 ? 6 - pg : 40 - pg;
	return 0;
}

/* Flags of each entry of a pagemap image, in order, into fl (n of them). */
static size_t pm_flags(const uint8_t *buf, size_t len, uint32_t *fl, size_t cap)
{
	size_t off, mlen, n = 0;
	const uint8_t *msg;
	uint32_t pid;

	assert_int_equal(lzx_pm_head(buf, len, &off, &pid), 0);
	assert_int_equal(pid, 3);
	while (off < len && n < cap) {
		Criupm__PagemapEntry *e;

		assert_int_equal(lzx_pm_next(buf, len, &off, &msg, &mlen), 0);
		e = criupm__pagemap_entry__unpack(NULL, mlen, msg);
		assert_non_null(e);
		fl[n++] = e->flags;
		criupm__pagemap_entry__free_unpacked(e, NULL);
	}
	return n;
}

/* An mm image of these VMAs (page offsets from BASE; lazy: anonymous private). */
static void mm_image(struct stream *st, const uint32_t (*v)[3], size_t n)
{
	uint32_t magic[2] = { 0x54564319, 0x57492820 };
	Criumm__MmEntry mm = CRIUMM__MM_ENTRY__INIT;
	Criumm__VmaEntry e[8], *ep[8];
	uint8_t buf[1024];
	uint32_t len;

	for (size_t i = 0; i < n; i++) {
		criumm__vma_entry__init(&e[i]);
		e[i].has_start = e[i].has_end = e[i].has_flags = e[i].has_status = 1;
		e[i].start = BASE + v[i][0] * PGSZ;
		e[i].end = BASE + v[i][1] * PGSZ;
		e[i].flags = v[i][2] ? 0x22 : 0x02; /* MAP_PRIVATE (| MAP_ANONYMOUS) */
		e[i].status = v[i][2] ? (1u << 9) : (1u << 6);
		ep[i] = &e[i];
	}
	mm.n_vmas = n;
	mm.vmas = ep;
	len = (uint32_t)criumm__mm_entry__pack(&mm, buf);
	put(st, magic, 8);
	put(st, &len, 4);
	put(st, buf, len);
}

/* [0,12) anon, [12,30) anon, [30,40) file-backed private (not lazy) */
static const uint32_t VMAS[][3] = { { 0, 12, 1 }, { 12, 30, 1 }, { 30, 40, 0 } };

static void vmas_basic(struct lzx_vmas *vm)
{
	struct stream mm = { 0 };

	mm_image(&mm, VMAS, 3);
	assert_int_equal(lzx_vmas_load(mm.buf, mm.len, vm), 0);
	assert_int_equal(vm->n, 3);
	assert_true(vm->v[0].lazy);
	assert_false(vm->v[2].lazy);
	free(mm.buf);
}

/* The final pagemap of a hybrid as CRIU 3.17 writes it for pid 7. */
static void pm_final(struct stream *st)
{
	pm_head(st);
	pm_entry(st, BASE, 10, PSX_PE_PARENT);		   /* over both store runs */
	pm_entry(st, BASE + 10 * PGSZ, 2, PSX_PE_PRESENT); /* the stack */
	pm_entry(st, BASE + 12 * PGSZ, 4, PSX_PE_LAZY);	   /* dirty: on src */
	pm_entry(st, BASE + 16 * PGSZ, 24, PSX_PE_PARENT); /* ends in the file mapping */
}

static void test_rewrite(void **state)
{
	struct stream st = { 0 }, bad = { 0 };
	struct lzx_copies cp;
	struct lzx_local loc;
	struct lzx_vmas vm;
	struct lzx_set s;
	uint8_t *out;
	size_t olen;
	uint32_t fl[8];
	uint64_t off, np;
	int fd;

	(void)state;
	vmas_basic(&vm);
	pm_final(&st);
	lzx_local_init(&loc, PGSZ);
	assert_int_equal(
		lzx_pagemap_rewrite(st.buf, st.len, 7, &vm, locate, NULL, &loc, &cp, &out, &olen),
		0);
	assert_int_equal(lzx_local_seal(&loc), 0);
	/* the head as it was; parent entries lazy, but in the file mapping present */
	assert_memory_equal(out, st.buf, 8);
	assert_int_equal(pm_flags(out, olen, fl, 8), 5);
	assert_int_equal(fl[0], PSX_PE_LAZY);
	assert_int_equal(fl[1], PSX_PE_PRESENT);
	assert_int_equal(fl[2], PSX_PE_LAZY);
	assert_int_equal(fl[3], PSX_PE_LAZY);	 /* [16,30) */
	assert_int_equal(fl[4], PSX_PE_PRESENT); /* [30,40) */
	/* the pages file: the stack's 2 from the dump's, then 10 from the store */
	assert_true(cp.from_store);
	assert_int_equal(cp.pages_id, 3);
	assert_int_equal(cp.n, 2);
	assert_int_equal(cp.c[0].fd, -1);
	assert_int_equal(cp.c[0].off, 0);
	assert_int_equal(cp.c[0].npages, 2);
	assert_int_equal(cp.c[1].fd, store_fd);
	assert_int_equal(cp.c[1].off, (50 + 24) * PGSZ);
	assert_int_equal(cp.c[1].npages, 10);
	/* local: split at the store's runs: [0,6) [6,10) [16,30) */
	assert_int_equal(loc.n, 3);
	assert_int_equal(loc.pages, 24);
	assert_true(lzx_local_find(&loc, 7, BASE + 5 * PGSZ, &fd, &off, &np));
	assert_int_equal(fd, store_fd);
	assert_int_equal(off, 5 * PGSZ);
	assert_int_equal(np, 1);
	assert_true(lzx_local_find(&loc, 7, BASE + 6 * PGSZ, &fd, &off, &np));
	assert_int_equal(off, 50 * PGSZ);
	assert_int_equal(np, 4);
	assert_true(lzx_local_find(&loc, 7, BASE + 20 * PGSZ, &fd, &off, &np));
	assert_int_equal(off, (50 + 14) * PGSZ);
	/* not local: how far to the next local run */
	assert_false(lzx_local_find(&loc, 7, BASE + 12 * PGSZ, &fd, &off, &np));
	assert_int_equal(np, 4);
	assert_false(lzx_local_find(&loc, 7, BASE + 30 * PGSZ, &fd, &off, &np));
	assert_int_equal(np, UINT64_MAX);
	assert_false(lzx_local_find(&loc, 8, BASE, &fd, &off, &np));
	/* what the daemon will ask for: the lazy parent pages and the dump's lazy ones */
	lzx_set_init(&s, PGSZ);
	assert_int_equal(lzx_set_load_pagemap(&s, 7, out, olen), 0);
	assert_int_equal(lzx_set_seal(&s), 0);
	assert_int_equal(s.pages, 28);
	assert_false(lzx_set_covers(&s, 7, BASE + 10 * PGSZ, BASE + 11 * PGSZ));
	assert_false(lzx_set_covers(&s, 7, BASE + 30 * PGSZ, BASE + 31 * PGSZ));
	lzx_set_free(&s);
	free(out);
	lzx_copies_free(&cp);
	lzx_local_free(&loc);

	/* a parent page the store does not hold; one outside every VMA */
	pm_head(&bad);
	pm_entry(&bad, BASE + 30 * PGSZ, 20, PSX_PE_PARENT);
	lzx_local_init(&loc, PGSZ);
	assert_int_equal(
		lzx_pagemap_rewrite(bad.buf, bad.len, 7, &vm, locate, NULL, &loc, &cp, &out, &olen),
		-PH_EPROTO);
	assert_null(out);
	assert_non_null(strstr(ph_errmsg(), "outside every VMA"));
	vm.v[2].end = BASE + 60 * PGSZ;
	assert_int_equal(
		lzx_pagemap_rewrite(bad.buf, bad.len, 7, &vm, locate, NULL, &loc, &cp, &out, &olen),
		-PH_EPROTO);
	assert_non_null(strstr(ph_errmsg(), "in the parent"));
	lzx_local_free(&loc);
	/* PE_PARENT with another flag, a cut image */
	free(bad.buf);
	bad = (struct stream){ 0 };
	pm_head(&bad);
	pm_entry(&bad, BASE, 1, PSX_PE_PARENT | PSX_PE_LAZY);
	lzx_local_init(&loc, PGSZ);
	assert_int_equal(
		lzx_pagemap_rewrite(bad.buf, bad.len, 7, &vm, locate, NULL, &loc, &cp, &out, &olen),
		-PH_EPROTO);
	assert_int_equal(lzx_pagemap_rewrite(st.buf, st.len - 1, 7, &vm, locate, NULL, &loc, &cp,
					     &out, &olen),
			 -PH_ETRUNC);
	lzx_local_free(&loc);
	lzx_vmas_free(&vm);
	free(bad.buf);
	free(st.buf);
}

static void test_vmas(void **state)
{
	static const uint32_t overlap[][3] = { { 0, 12, 1 }, { 11, 30, 1 } };
	static const uint32_t empty[][3] = { { 12, 12, 1 } };
	struct stream mm = { 0 };
	struct lzx_vmas vm;

	(void)state;
	mm_image(&mm, overlap, 2);
	assert_int_equal(lzx_vmas_load(mm.buf, mm.len, &vm), -PH_EPROTO);
	assert_null(vm.v);
	mm.len = 0;
	mm_image(&mm, empty, 1);
	assert_int_equal(lzx_vmas_load(mm.buf, mm.len, &vm), -PH_EPROTO);
	mm.len = 0;
	mm_image(&mm, VMAS, 3);
	assert_int_equal(lzx_vmas_load(mm.buf, mm.len - 1, &vm), -PH_ETRUNC);
	mm.buf[4] ^= 1;
	assert_int_equal(lzx_vmas_load(mm.buf, mm.len, &vm), -PH_EPROTO);
	free(mm.buf);
}

static void file_put(int dfd, const char *name, const void *buf, size_t len)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

/* The files: pagemap and pages rewritten in place, the store's pages where they belong. */
static void test_rewrite_dir(void **state)
{
	char dir[] = "/tmp/lzx-hyb-XXXXXX", store[] = "/tmp/lzx-hstore-XXXXXX", cmd[64];
	struct stream pm = { 0 }, mm = { 0 };
	uint8_t pg[PGSZ], *buf;
	struct lzx_local loc;
	struct stat st;
	size_t len;
	uint32_t fl[8];
	int dfd, fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	store_fd = mkstemp(store);
	assert_true(store_fd >= 0);
	unlink(store);
	for (int k = 0; k < 90; k++) {
		memset(pg, 0x80 + k, PGSZ);
		assert_int_equal(write(store_fd, pg, PGSZ), PGSZ);
	}
	pm_final(&pm);
	mm_image(&mm, VMAS, 3);
	file_put(dfd, "pagemap-7.img", pm.buf, pm.len);
	file_put(dfd, "mm-7.img", mm.buf, mm.len);
	memset(pg, 0x11, PGSZ);
	file_put(dfd, "pages-3.img", pg, PGSZ);
	fd = openat(dfd, "pages-3.img", O_WRONLY | O_APPEND);
	memset(pg, 0x12, PGSZ);
	assert_int_equal(write(fd, pg, PGSZ), PGSZ);
	close(fd);

	lzx_local_init(&loc, PGSZ);
	assert_int_equal(lzx_pagemap_rewrite_dir(dir, locate, NULL, &loc), 0);
	assert_int_equal(loc.pages, 24);
	assert_int_equal(lzx_image_read(dfd, "pagemap-7.img", &buf, &len), 0);
	assert_int_equal(pm_flags(buf, len, fl, 8), 5);
	assert_int_equal(fl[4], PSX_PE_PRESENT);
	free(buf);
	assert_int_equal(lzx_image_read(dfd, "pages-3.img", &buf, &len), 0);
	assert_int_equal(len, 12 * PGSZ);
	assert_int_equal(buf[0], 0x11);
	assert_int_equal(buf[PGSZ], 0x12);
	for (int k = 0; k < 10; k++) /* [30,40): store pages 74..83 */
		assert_int_equal(buf[(2 + k) * PGSZ + 7], 0x80 + 74 + k);
	free(buf);
	assert_int_equal(fstatat(dfd, ".pages-3.img.hyb", &st, 0), -1);
	/* no mm image: refused */
	unlinkat(dfd, "mm-7.img", 0);
	lzx_local_free(&loc);
	lzx_local_init(&loc, PGSZ);
	assert_true(lzx_pagemap_rewrite_dir(dir, locate, NULL, &loc) < 0);
	lzx_local_free(&loc);
	close(store_fd);
	store_fd = 100;
	close(dfd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	free(pm.buf);
	free(mm.buf);
}

static void test_local_bounds(void **state)
{
	struct lzx_local loc;
	struct lzx_set src, full;

	(void)state;
	lzx_local_init(&loc, PGSZ);
	assert_int_equal(lzx_local_add(&loc, 7, BASE + 1, 1, 3, 0), -PH_EPROTO);
	assert_int_equal(lzx_local_add(&loc, 7, BASE, 0, 3, 0), -PH_EPROTO);
	assert_int_equal(lzx_local_add(&loc, 7, PH_PS_VADDR_END - PGSZ, 2, 3, 0), -PH_EPROTO);
	assert_int_equal(lzx_local_add(&loc, 7, BASE, PH_LAZY_PAGES_MAX + 1, 3, 0), -PH_EPROTO);
	assert_int_equal(lzx_local_add(&loc, 7, BASE + 4 * PGSZ, 4, 3, 0), 0);
	assert_int_equal(lzx_local_add(&loc, 7, BASE, 4, 3, 0), 0);
	assert_int_equal(lzx_local_seal(&loc), 0);
	/* the union with the source's lazy runs: adjacent merges, overlap refused */
	lzx_set_init(&src, PGSZ);
	assert_int_equal(lzx_set_add(&src, 7, BASE + 8 * PGSZ, 2), 0);
	assert_int_equal(lzx_set_seal(&src), 0);
	lzx_set_init(&full, PGSZ);
	assert_int_equal(lzx_set_union(&full, &src, &loc), 0);
	assert_int_equal(full.n, 1);
	assert_int_equal(full.pages, 10);
	lzx_set_free(&full);
	assert_int_equal(lzx_set_add(&src, 7, BASE + 3 * PGSZ, 1), 0);
	lzx_set_init(&full, PGSZ);
	assert_int_equal(lzx_set_union(&full, &src, &loc), -PH_EPROTO);
	lzx_set_free(&full);
	lzx_set_free(&src);
	/* overlapping local runs */
	assert_int_equal(lzx_local_add(&loc, 7, BASE + 2 * PGSZ, 1, 3, 0), 0);
	assert_int_equal(lzx_local_seal(&loc), -PH_EPROTO);
	lzx_local_free(&loc);
}

/* ---- the destination's relay ---- */

#define SRC_PAGES 16 /* pid 7: [BASE, BASE+16) lazy on the source */
#define ALL_PAGES 64 /* [BASE+16, BASE+64) in the flat store */

/* The lazy-pages daemon: GETs of 12 pages (crossing src's and the store's), then close. */
struct daemon {
	int fd;
	uint64_t pages_ok;
	uint64_t extra_va; /* != 0: one more GET there, before the close */
};

static void *daemon_run(void *arg)
{
	struct daemon *d = arg;
	uint8_t h[PSX_HDR_SIZE], pg[PGSZ];
	int32_t st;

	for (uint64_t va = BASE; va < BASE + 60 * PGSZ; va += 12 * PGSZ) {
		uint32_t nr;

		put_hdr(d->fd, PS_IOV_GET, 12, va, 7);
		if (!read_all(d->fd, h, sizeof(h)))
			return NULL;
		memcpy(&nr, h + 4, 4);
		for (uint32_t i = 0; i < nr; i++) {
			if (!read_all(d->fd, pg, sizeof(pg)))
				return NULL;
			if (pg[0] == page_fill(va + i * PGSZ, 7) && pg[PGSZ - 1] == pg[0])
				d->pages_ok++;
		}
	}
	if (d->extra_va) {
		put_hdr(d->fd, PS_IOV_GET, 1, d->extra_va, 7);
		return NULL;
	}
	put_hdr(d->fd, PS_IOV_FORCE_CLOSE, 0, 0, 0);
	if (read_all(d->fd, &st, 4) && st == 0)
		d->pages_ok += 1000000;
	return NULL;
}

/* A file holding the store's pages [BASE+16, BASE+64) of pid 7, at page 10 on. */
static int flat_file(void)
{
	char path[] = "/tmp/lzx-flat-XXXXXX";
	uint8_t pg[PGSZ];
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	for (uint64_t k = SRC_PAGES; k < ALL_PAGES; k++) {
		memset(pg, page_fill(BASE + k * PGSZ, 7), sizeof(pg));
		assert_int_equal(pwrite(fd, pg, PGSZ, (off_t)((10 + k - SRC_PAGES) * PGSZ)), PGSZ);
	}
	return fd;
}

struct hyb {
	struct rig r;
	struct lzx_set src, full;
	struct lzx_local loc;
	int flat;
};

static void hyb_init(struct hyb *h)
{
	memset(h, 0, sizeof(*h));
	lzx_set_init(&h->src, PGSZ);
	assert_int_equal(lzx_set_add(&h->src, 7, BASE, SRC_PAGES), 0);
	assert_int_equal(lzx_set_seal(&h->src), 0);
	h->flat = flat_file();
	lzx_local_init(&h->loc, PGSZ);
	assert_int_equal(lzx_local_add(&h->loc, 7, BASE + SRC_PAGES * PGSZ, ALL_PAGES - SRC_PAGES,
				       h->flat, 10 * PGSZ),
			 0);
	assert_int_equal(lzx_local_seal(&h->loc), 0);
	lzx_set_init(&h->full, PGSZ);
	assert_int_equal(lzx_set_union(&h->full, &h->src, &h->loc), 0);
	rig_init(&h->r);
}

static void hyb_free(struct hyb *h)
{
	rig_free(&h->r);
	close(h->flat);
	lzx_set_free(&h->src);
	lzx_set_free(&h->full);
	lzx_local_free(&h->loc);
}

/* Both relays, the fake daemon and the fake source's page server running. */
static void hyb_start(struct hyb *h, struct lzx_relay **src, struct lzx_relay **dst,
		      struct daemon *d, struct server *sv, pthread_t *td, pthread_t *ts)
{
	struct lzx_io sio = end_io(&h->r.se), dio = end_io(&h->r.de);

	assert_int_equal(lzx_relay_start(h->r.ssk[1], &h->src, true, &sio, 5000, src), 0);
	assert_int_equal(lzx_relay_start_hybrid(h->r.dsk[1], &h->full, &h->src, &h->loc, h->r.store,
						&dio, 5000, dst),
			 0);
	rig_fakes_start(&h->r, daemon_run, d, sv, td, ts);
}

/*
 * Every GET answered, the store's pages from its file: the source (whose
 * relay refuses any GET outside its own lazy set, and so would fail this
 * test) serves only its 16 pages, each once.
 */
static void test_relay_hybrid(void **state)
{
	struct hyb h;
	struct lzx_relay *src, *dst;
	struct lzx_counts dc;
	struct daemon d;
	struct server sv;
	pthread_t td, ts;

	(void)state;
	hyb_init(&h);
	d = (struct daemon){ .fd = h.r.dsk[0] };
	memset(&sv, 0, sizeof(sv));
	hyb_start(&h, &src, &dst, &d, &sv, &td, &ts);
	pthread_join(td, NULL);
	pthread_join(ts, NULL);
	assert_int_equal(lzx_relay_join(src, NULL), 0);
	assert_int_equal(lzx_relay_join(dst, &dc), 0);
	assert_int_equal(d.pages_ok, 1000000 + 60);
	assert_int_equal(sv.served, SRC_PAGES);
	assert_int_equal(sv.dups, 0);
	assert_int_equal(dc.pages_pushed + dc.pages_fault, SRC_PAGES);
	assert_int_equal(dc.pages_served, 60);
	assert_int_equal(h.r.se.aborted, 0);
	assert_int_equal(h.r.de.aborted, 0);
	hyb_free(&h);
}

/* A daemon GET beyond the union (src's lazy runs and the store's) is refused. */
static void test_relay_hybrid_outside(void **state)
{
	struct hyb h;
	struct lzx_relay *src, *dst;
	struct daemon d;
	struct server sv;
	pthread_t td, ts;

	(void)state;
	hyb_init(&h);
	d = (struct daemon){ .fd = h.r.dsk[0], .extra_va = BASE + ALL_PAGES * PGSZ };
	memset(&sv, 0, sizeof(sv));
	hyb_start(&h, &src, &dst, &d, &sv, &td, &ts);
	pthread_join(td, NULL);
	assert_int_equal(lzx_relay_join(dst, NULL), -PH_EPROTO);
	assert_non_null(strstr(ph_errmsg(), "did not leave lazy"));
	assert_int_equal(h.r.de.aborted, PH_EPROTO);
	shutdown(h.r.ssk[0], SHUT_RDWR);
	lzx_relay_join(src, NULL);
	pthread_join(ts, NULL);
	assert_true(sv.served <= SRC_PAGES);
	hyb_free(&h);
}

/* ---- the source's parent pagemaps ---- */

static void test_parent_write(void **state)
{
	char dir[] = "/tmp/lzx-parent-XXXXXX", path[256];
	struct psx_ev ev = { 0 };
	struct lzx_set runs;
	uint8_t *buf;
	size_t len, off = 8, mlen;
	const uint8_t *msg;
	uint64_t pages = 0, next = BASE;
	struct stat st;
	int dfd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	lzx_set_init(&runs, PGSZ);
	/* a pre-dump of pid 9: dirty pages, pages in the parent, a shmem map */
	ev = (struct psx_ev){ PS_IOV_OPEN2, 0, 0, 0, PID_DST(9) };
	assert_int_equal(lzx_rec_hdr(&runs, &ev), 0);
	ev = (struct psx_ev){ PS_IOV_ADD_F, PSX_PE_PRESENT, 4, BASE, PID_DST(9) };
	assert_int_equal(lzx_rec_hdr(&runs, &ev), 0);
	ev = (struct psx_ev){ PS_IOV_ADD_F, PSX_PE_PARENT, 100, BASE + 4 * PGSZ, PID_DST(9) };
	assert_int_equal(lzx_rec_hdr(&runs, &ev), 0);
	ev = (struct psx_ev){ PS_IOV_ADD_F, PSX_PE_PRESENT, 2, BASE, SHM_DST(3) };
	assert_int_equal(lzx_rec_hdr(&runs, &ev), 0);
	ev = (struct psx_ev){ PS_IOV_ADD, PSX_PE_PRESENT, 1, BASE + 200 * PGSZ, PID_DST(9) };
	assert_int_equal(lzx_rec_hdr(&runs, &ev), 0);
	ev = (struct psx_ev){ PS_IOV_ADD_F, PSX_PE_PRESENT, 1, BASE + 3, PID_DST(9) };
	assert_int_equal(lzx_rec_hdr(&runs, &ev), -PH_EPROTO);
	assert_int_equal(lzx_set_seal(&runs), 0);
	assert_int_equal(runs.n, 2);
	assert_int_equal(lzx_parent_write(&runs, dir), 0);

	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	assert_int_equal(lzx_image_read(dfd, "pagemap-9.img", &buf, &len), 0);
	assert_int_equal(lzx_pm_next(buf, len, &off, &msg, &mlen), 0);
	while (off < len) {
		Criupm__PagemapEntry *e;

		assert_int_equal(lzx_pm_next(buf, len, &off, &msg, &mlen), 0);
		e = criupm__pagemap_entry__unpack(NULL, mlen, msg);
		assert_non_null(e);
		assert_int_equal(e->flags, PSX_PE_PRESENT);
		assert_true(e->vaddr >= next);
		next = e->vaddr + (uint64_t)e->nr_pages * PGSZ;
		pages += e->nr_pages;
		criupm__pagemap_entry__free_unpacked(e, NULL);
	}
	assert_int_equal(pages, 105);
	free(buf);
	assert_int_equal(fstatat(dfd, "pages-1.img", &st, 0), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(fstatat(dfd, "pagemap-3.img", &st, 0), -1); /* no shmem parent */
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	close(dfd);
	assert_int_equal(system(path), 0);
	lzx_set_free(&runs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rewrite),	     cmocka_unit_test(test_vmas),
		cmocka_unit_test(test_rewrite_dir),  cmocka_unit_test(test_local_bounds),
		cmocka_unit_test(test_relay_hybrid), cmocka_unit_test(test_relay_hybrid_outside),
		cmocka_unit_test(test_parent_write),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
