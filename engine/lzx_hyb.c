// SPDX-License-Identifier: GPL-2.0
/*
 * Hybrid migration's image work (engine/lzx.h, engine/README.md
 * "Hybrid"): on the source, the parent pagemaps a final --lazy-pages dump
 * needs; on the destination, its pagemaps rewritten so that the pages it
 * left in the parent are lazy and served from the flat store.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caps.h"
#include "criu_pagemap.pb-c.h"
#include "engine/lzx.h"
#include "err.h"

void lzx_local_init(struct lzx_local *l, size_t page_size)
{
	memset(l, 0, sizeof(*l));
	l->page_size = page_size;
}

void lzx_local_free(struct lzx_local *l)
{
	if (!l)
		return;
	free(l->r);
	l->r = NULL;
	l->n = l->cap = 0;
	l->pages = 0;
}

int lzx_local_add(struct lzx_local *l, uint64_t id, uint64_t vaddr, uint64_t npages, int fd,
		  uint64_t off)
{
	if (!npages || vaddr % l->page_size || npages > PH_LAZY_PAGES_MAX ||
	    vaddr > PH_PS_VADDR_END || npages * l->page_size > PH_PS_VADDR_END - vaddr)
		return ph_seterr(PH_EPROTO,
				 "hybrid: local run 0x%" PRIx64 " +%" PRIu64
				 " pages of pid %" PRIu64 " is not a run of the address space",
				 vaddr, npages, id);
	if (l->n == PH_LAZY_RUNS_MAX || l->pages + npages > PH_LAZY_PAGES_MAX)
		return ph_seterr(PH_ETOOBIG, "hybrid: more than %u local runs or %llu pages",
				 PH_LAZY_RUNS_MAX, PH_LAZY_PAGES_MAX);
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct lzx_lrun *n;

		if (cap > PH_LAZY_RUNS_MAX)
			cap = PH_LAZY_RUNS_MAX;
		n = realloc(l->r, cap * sizeof(*n));
		if (!n)
			return ph_seterr(PH_ENOMEM, "hybrid: %zu local runs", cap);
		l->r = n;
		l->cap = cap;
	}
	l->r[l->n++] = (struct lzx_lrun){ id, vaddr, vaddr + npages * l->page_size, fd, off };
	l->pages += npages;
	return 0;
}

static int lrun_cmp(const void *a, const void *b)
{
	const struct lzx_lrun *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->start < y->start ? -1 : x->start > y->start;
}

int lzx_local_seal(struct lzx_local *l)
{
	if (l->n)
		qsort(l->r, l->n, sizeof(*l->r), lrun_cmp);
	for (size_t i = 1; i < l->n; i++)
		if (l->r[i].id == l->r[i - 1].id && l->r[i].start < l->r[i - 1].end)
			return ph_seterr(PH_EPROTO,
					 "hybrid: local runs of %" PRIu64 " overlap at 0x%" PRIx64,
					 l->r[i].id, l->r[i].start);
	return 0;
}

bool lzx_local_find(const struct lzx_local *l, uint64_t id, uint64_t vaddr, int *fd, uint64_t *off,
		    uint64_t *npages)
{
	size_t lo = 0, hi = l->n;
	const struct lzx_lrun *r;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->r[mid].id < id || (l->r[mid].id == id && l->r[mid].start <= vaddr))
			lo = mid + 1;
		else
			hi = mid;
	}
	/* not local: pages to the next local run of id, or UINT64_MAX */
	*npages = lo < l->n && l->r[lo].id == id ? (l->r[lo].start - vaddr) / l->page_size
						 : UINT64_MAX;
	if (lo == 0)
		return false;
	r = &l->r[lo - 1];
	if (r->id != id || vaddr >= r->end)
		return false;
	*fd = r->fd;
	*off = r->off + (vaddr - r->start);
	*npages = (r->end - vaddr) / l->page_size;
	return true;
}

int lzx_set_union(struct lzx_set *full, const struct lzx_set *src, const struct lzx_local *loc)
{
	int r = 0;

	for (size_t i = 0; i < src->n && r == 0; i++)
		r = lzx_set_add_range(full, src->r[i].id, src->r[i].start, src->r[i].end);
	for (size_t i = 0; i < loc->n && r == 0; i++)
		r = lzx_set_add_range(full, loc->r[i].id, loc->r[i].start, loc->r[i].end);
	return r < 0 ? r : lzx_set_seal(full);
}

/* ---- the destination's pagemap rewrite ---- */

struct obuf {
	uint8_t *b;
	size_t len, cap;
};

static int ob_put(struct obuf *o, const void *p, size_t n)
{
	if (o->len + n > PH_LAZY_PAGEMAP_MAX)
		return ph_seterr(PH_ETOOBIG, "hybrid: rewritten pagemap over %u bytes",
				 PH_LAZY_PAGEMAP_MAX);
	if (o->len + n > o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 4096;
		uint8_t *b;

		while (cap < o->len + n)
			cap *= 2;
		if (!(b = realloc(o->b, cap)))
			return ph_seterr(PH_ENOMEM, "hybrid: rewritten pagemap");
		o->b = b;
		o->cap = cap;
	}
	memcpy(o->b + o->len, p, n);
	o->len += n;
	return 0;
}

static int ob_msg(struct obuf *o, const ProtobufCMessage *m)
{
	uint8_t buf[64];
	uint32_t n = (uint32_t)protobuf_c_message_get_packed_size(m);
	int r;

	if (n > sizeof(buf))
		return ph_seterr(PH_EPROTO, "hybrid: pagemap entry of %u bytes", n);
	protobuf_c_message_pack(m, buf);
	if ((r = ob_put(o, &n, 4)) < 0)
		return r;
	return ob_put(o, buf, n);
}

/* The n pages at vaddr of id, in the parent: into loc, run by run of the store. */
static int parent_run(uint64_t id, uint64_t vaddr, uint64_t n, lzx_locate_fn locate, void *arg,
		      struct lzx_local *loc)
{
	while (n) {
		uint64_t off, have;
		int fd, r;

		if ((r = locate(arg, id, vaddr, &fd, &off, &have)) < 0)
			return ph_errctx(
				r, "hybrid: page 0x%" PRIx64 " of pid %" PRIu64 " in the parent",
				vaddr, id);
		if (!have)
			return ph_seterr(PH_EPROTO,
					 "hybrid: the store located 0 pages at 0x%" PRIx64, vaddr);
		if (have > n)
			have = n;
		if ((r = lzx_local_add(loc, id, vaddr, have, fd, off)) < 0)
			return r;
		vaddr += have * loc->page_size;
		n -= have;
	}
	return 0;
}

static int rewrite_entry(struct obuf *o, Criupm__PagemapEntry *e, uint64_t id, lzx_locate_fn locate,
			 void *arg, struct lzx_local *loc)
{
	uint32_t fl = e->has_flags ? e->flags : PSX_PE_PRESENT;
	int r;

	if (fl & PSX_PE_PARENT) {
		if (fl != PSX_PE_PARENT)
			return ph_seterr(PH_EPROTO,
					 "hybrid: pagemap entry 0x%" PRIx64 " of pid %" PRIu64
					 ": flags 0x%x, PE_PARENT with others",
					 e->vaddr, id, fl);
		if ((r = psx_run_check(loc->page_size, e->vaddr, e->nr_pages, "hybrid parent entry",
				       false)) < 0 ||
		    (r = parent_run(id, e->vaddr, e->nr_pages, locate, arg, loc)) < 0)
			return r;
		e->has_flags = 1;
		e->flags = PSX_PE_LAZY;
		e->has_in_parent = 0;
	}
	return ob_msg(o, &e->base);
}

int lzx_pagemap_rewrite(const uint8_t *in, size_t len, uint64_t id, lzx_locate_fn locate, void *arg,
			struct lzx_local *loc, uint8_t **out, size_t *olen)
{
	struct obuf o = { 0 };
	const uint8_t *msg = NULL;
	size_t off, mlen = 0;
	int r;

	*out = NULL;
	*olen = 0;
	/* the magics and the head are copied as they are, once they parse */
	if ((r = lzx_pm_head(in, len, &off)) < 0 || (r = ob_put(&o, in, off)) < 0)
		goto out;
	while (off < len) {
		Criupm__PagemapEntry *e;

		if ((r = lzx_pm_next(in, len, &off, &msg, &mlen)) < 0)
			goto out;
		if (!(e = criupm__pagemap_entry__unpack(NULL, mlen, msg))) {
			r = ph_seterr(PH_EPROTO, "pagemap image: bad entry at byte %zu", off);
			goto out;
		}
		r = rewrite_entry(&o, e, id, locate, arg, loc);
		criupm__pagemap_entry__free_unpacked(e, NULL);
		if (r < 0)
			goto out;
	}
	*out = o.b;
	*olen = o.len;
	o.b = NULL;
	r = 0;
out:
	free(o.b);
	return r;
}

static int write_all(int fd, const uint8_t *b, size_t n)
{
	while (n) {
		ssize_t w = write(fd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* name in dfd replaced by buf: a new file, synced, renamed over it. */
static int replace_file(int dfd, const char *name, const uint8_t *buf, size_t len)
{
	char tmp[96];
	int fd, r = 0;

	snprintf(tmp, sizeof(tmp), ".%s.hyb", name);
	unlinkat(dfd, tmp, 0);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return ph_seterr_errno(PH_ESYS, "hybrid: creating %s", tmp);
	if (write_all(fd, buf, len) < 0 || fsync(fd) < 0)
		r = ph_seterr_errno(errno == ENOSPC ? PH_ENOSPC : PH_ESYS, "hybrid: writing %s",
				    tmp);
	close(fd);
	if (r == 0 && renameat(dfd, tmp, dfd, name) < 0)
		r = ph_seterr_errno(PH_ESYS, "hybrid: renaming %s", tmp);
	if (r < 0)
		unlinkat(dfd, tmp, 0);
	return r;
}

static int rewrite_file(int dfd, const char *name, uint64_t id, lzx_locate_fn locate, void *arg,
			struct lzx_local *loc)
{
	uint8_t *in = NULL, *out = NULL;
	size_t len, olen;
	int r;

	if ((r = lzx_image_read(dfd, name, &in, &len)) < 0 ||
	    (r = lzx_pagemap_rewrite(in, len, id, locate, arg, loc, &out, &olen)) < 0 ||
	    (r = replace_file(dfd, name, out, olen)) < 0)
		ph_errctx(r, "%s", name);
	free(in);
	free(out);
	return r;
}

int lzx_pagemap_rewrite_dir(const char *dir, lzx_locate_fn locate, void *arg, struct lzx_local *loc)
{
	struct dirent *de;
	uint64_t id;
	DIR *d;
	int r = 0;

	d = opendir(dir);
	if (!d)
		return ph_seterr_errno(PH_ESYS, "hybrid: opening %s", dir);
	while (r == 0 && (de = readdir(d)))
		if (lzx_pagemap_name(de->d_name, &id))
			r = rewrite_file(dirfd(d), de->d_name, id, locate, arg, loc);
	closedir(d);
	return r < 0 ? r : lzx_local_seal(loc);
}

/* ---- the source's parent pagemaps ---- */

int lzx_rec_hdr(void *arg, const struct psx_ev *ev)
{
	struct lzx_set *runs = arg;

	if (ev->cmd != PS_IOV_ADD && ev->cmd != PS_IOV_ADD_F && ev->cmd != PS_IOV_HOLE)
		return 0;
	if ((ev->dst_id & PS_TYPE_MASK) != PS_TYPE_PID)
		return 0; /* shmem: no parent, dumped whole (CRIU has no lazy shmem) */
	return lzx_set_add(runs, ev->dst_id >> PS_TYPE_BITS, ev->vaddr, ev->nr_pages);
}

/* pagemap-<id>.img of the runs [i, j) of one task, pages_id k, and its empty pages file. */
static int parent_task(int dfd, const struct lzx_set *runs, size_t i, size_t j, uint32_t k)
{
	Criupm__PagemapHead h = CRIUPM__PAGEMAP_HEAD__INIT;
	uint32_t magic[2] = { LZX_IMG_COMMON_MAGIC, LZX_PAGEMAP_MAGIC };
	struct obuf o = { 0 };
	char name[64];
	int fd, r;

	h.pages_id = k;
	r = ob_put(&o, magic, sizeof(magic));
	if (r == 0)
		r = ob_msg(&o, &h.base);
	for (; i < j && r == 0; i++) {
		Criupm__PagemapEntry e = CRIUPM__PAGEMAP_ENTRY__INIT;
		uint64_t left = (runs->r[i].end - runs->r[i].start) / runs->page_size;

		/* an entry's nr_pages is 32 bits */
		for (e.vaddr = runs->r[i].start; left && r == 0; left -= e.nr_pages) {
			e.nr_pages = left > UINT32_MAX ? UINT32_MAX : (uint32_t)left;
			e.has_flags = 1;
			e.flags = PSX_PE_PRESENT;
			r = ob_msg(&o, &e.base);
			e.vaddr += (uint64_t)e.nr_pages * runs->page_size;
		}
	}
	snprintf(name, sizeof(name), "pagemap-%" PRIu64 ".img", runs->r[j - 1].id);
	if (r == 0)
		r = replace_file(dfd, name, o.b, o.len);
	free(o.b);
	if (r < 0)
		return r;
	snprintf(name, sizeof(name), "pages-%u.img", k);
	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return ph_seterr_errno(PH_ESYS, "hybrid: creating %s", name);
	close(fd);
	return 0;
}

int lzx_parent_write(const struct lzx_set *runs, const char *dir)
{
	uint32_t k = 1;
	int dfd, r = 0;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return ph_seterr_errno(PH_ESYS, "hybrid: opening %s", dir);
	for (size_t i = 0, j; i < runs->n && r == 0; i = j, k++) {
		for (j = i + 1; j < runs->n && runs->r[j].id == runs->r[i].id; j++)
			;
		r = parent_task(dfd, runs, i, j, k);
	}
	close(dfd);
	return r;
}
