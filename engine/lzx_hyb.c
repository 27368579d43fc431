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
#include "criu_mm.pb-c.h"
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

/* ---- a task's VMAs ---- */

/* criu/include/image.h, vma.h (3.17); MAP_* as in <sys/mman.h> on Linux */
#define VMA_AREA_STACK	  (1u << 1)
#define VMA_AREA_VSYSCALL (1u << 2)
#define VMA_AREA_VDSO	  (1u << 3)
#define MM_MAGIC	  0x57492820
#define LZX_MAP_PRIVATE	  0x02u
#define LZX_MAP_ANONYMOUS 0x20u
#define LZX_MAP_LOCKED	  0x2000u

/*
 * CRIU's vma_entry_can_be_lazy(), and not the main stack: CRIU keeps each
 * thread's stack page present (mem.c is_stack()), which a page from the
 * parent would otherwise not be.
 */
static bool vma_lazy(const Criumm__VmaEntry *v)
{
	return (v->flags & LZX_MAP_ANONYMOUS) && (v->flags & LZX_MAP_PRIVATE) &&
	       !(v->flags & LZX_MAP_LOCKED) &&
	       !(v->status & (VMA_AREA_VDSO | VMA_AREA_VSYSCALL | VMA_AREA_STACK));
}

void lzx_vmas_free(struct lzx_vmas *vm)
{
	if (!vm)
		return;
	free(vm->v);
	vm->v = NULL;
	vm->n = 0;
}

int lzx_vmas_load(const uint8_t *buf, size_t len, struct lzx_vmas *out)
{
	const uint8_t *msg = NULL;
	size_t off = 8, mlen = 0;
	Criumm__MmEntry *mm = NULL;
	uint32_t magic[2];
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (len < 8)
		return ph_seterr(PH_ETRUNC, "mm image: %zu bytes, no magic", len);
	memcpy(magic, buf, 8);
	if (magic[0] != LZX_IMG_COMMON_MAGIC || magic[1] != MM_MAGIC)
		return ph_seterr(PH_EPROTO, "mm image: magic 0x%x 0x%x, expected 0x%x 0x%x",
				 magic[0], magic[1], LZX_IMG_COMMON_MAGIC, MM_MAGIC);
	if ((r = lzx_pm_next(buf, len, &off, &msg, &mlen)) < 0)
		return r;
	if (off != len)
		return ph_seterr(PH_EPROTO, "mm image: %zu bytes after its entry", len - off);
	if (!(mm = criumm__mm_entry__unpack(NULL, mlen, msg)))
		return ph_seterr(PH_EPROTO, "mm image: bad entry");
	if (mm->n_vmas > PH_MM_VMAS_MAX) {
		r = ph_seterr(PH_ETOOBIG, "mm image: %zu VMAs, at most %u", mm->n_vmas,
			      PH_MM_VMAS_MAX);
		goto out;
	}
	if (!(out->v = calloc(mm->n_vmas ? mm->n_vmas : 1, sizeof(*out->v)))) {
		r = ph_seterr(PH_ENOMEM, "mm image: %zu VMAs", mm->n_vmas);
		goto out;
	}
	for (size_t i = 0; i < mm->n_vmas; i++) {
		const Criumm__VmaEntry *v = mm->vmas[i];

		/* CRIU lists them sorted (its own restore relies on it) */
		if (v->start >= v->end || (i && v->start < out->v[i - 1].end)) {
			r = ph_seterr(PH_EPROTO,
				      "mm image: VMA %zu [0x%" PRIx64 ", 0x%" PRIx64
				      ") empty or out of order",
				      i, v->start, v->end);
			goto out;
		}
		out->v[i] = (struct lzx_vma){ v->start, v->end, vma_lazy(v) };
		out->n++;
	}
out:
	criumm__mm_entry__free_unpacked(mm, NULL);
	if (r < 0)
		lzx_vmas_free(out);
	return r;
}

/* The VMA holding va, or NULL. */
static const struct lzx_vma *vma_of(const struct lzx_vmas *vm, uint64_t va)
{
	size_t lo = 0, hi = vm->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (va < vm->v[mid].start)
			hi = mid;
		else if (va >= vm->v[mid].end)
			lo = mid + 1;
		else
			return &vm->v[mid];
	}
	return NULL;
}

/* ---- the destination's pagemap rewrite ---- */

void lzx_copies_free(struct lzx_copies *cp)
{
	if (!cp)
		return;
	free(cp->c);
	memset(cp, 0, sizeof(*cp));
}

static int copy_add(struct lzx_copies *cp, int fd, uint64_t off, uint64_t n, size_t ps)
{
	struct lzx_copy *last = cp->n ? &cp->c[cp->n - 1] : NULL;

	if (last && last->fd == fd && last->off + last->npages * ps == off) {
		last->npages += n;
		return 0;
	}
	if (cp->n == cp->cap) {
		size_t cap = cp->cap ? cp->cap * 2 : 64;
		struct lzx_copy *c;

		if (cp->n >= PH_LAZY_RUNS_MAX)
			return ph_seterr(PH_ETOOBIG, "hybrid: pages file of more than %u runs",
					 PH_LAZY_RUNS_MAX);
		if (!(c = realloc(cp->c, cap * sizeof(*c))))
			return ph_seterr(PH_ENOMEM, "hybrid: pages file runs");
		cp->c = c;
		cp->cap = cap;
	}
	cp->c[cp->n++] = (struct lzx_copy){ fd, off, n };
	cp->from_store |= fd >= 0;
	return 0;
}

struct rw {
	struct obuf o;
	uint64_t id;
	const struct lzx_vmas *vm;
	lzx_locate_fn locate;
	void *arg;
	struct lzx_local *loc;
	struct lzx_copies *cp;
	uint64_t old_off; /* bytes of the dump's pages file used so far */
};

static int put_entry(struct rw *w, uint64_t va, uint64_t n, uint32_t flags)
{
	Criupm__PagemapEntry e = CRIUPM__PAGEMAP_ENTRY__INIT;
	int r = 0;

	/* an entry's nr_pages is 32 bits */
	for (e.vaddr = va; n && r == 0; n -= e.nr_pages) {
		e.nr_pages = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
		e.has_flags = 1;
		e.flags = flags;
		r = ob_msg(&w->o, &e.base);
		e.vaddr += (uint64_t)e.nr_pages * w->loc->page_size;
	}
	return r;
}

/* The n pages at va, in the parent, inside one VMA: lazy from loc, or present from the store. */
static int parent_seg(struct rw *w, uint64_t va, uint64_t n, bool lazy)
{
	size_t ps = w->loc->page_size;
	int r;

	if ((r = put_entry(w, va, n, lazy ? PSX_PE_LAZY : PSX_PE_PRESENT)) < 0)
		return r;
	while (n) {
		uint64_t off, have;
		int fd;

		if ((r = w->locate(w->arg, w->id, va, &fd, &off, &have)) < 0)
			return ph_errctx(
				r, "hybrid: page 0x%" PRIx64 " of pid %" PRIu64 " in the parent",
				va, w->id);
		if (!have)
			return ph_seterr(PH_EPROTO,
					 "hybrid: the store located 0 pages at 0x%" PRIx64, va);
		if (have > n)
			have = n;
		r = lazy ? lzx_local_add(w->loc, w->id, va, have, fd, off)
			 : copy_add(w->cp, fd, off, have, ps);
		if (r < 0)
			return r;
		va += have * ps;
		n -= have;
	}
	return 0;
}

/* A PE_PARENT entry, split at the VMAs. */
static int parent_entry(struct rw *w, uint64_t va, uint32_t nr)
{
	size_t ps = w->loc->page_size;
	uint64_t end = va + (uint64_t)nr * ps;
	int r;

	if ((r = psx_run_check(ps, va, nr, "hybrid parent entry", false)) < 0)
		return r;
	while (va < end) {
		const struct lzx_vma *v = vma_of(w->vm, va);
		uint64_t seg;

		if (!v)
			return ph_seterr(PH_EPROTO,
					 "hybrid: parent page 0x%" PRIx64 " of pid %" PRIu64
					 " outside every VMA",
					 va, w->id);
		seg = (end < v->end ? end : v->end) - va;
		if ((r = parent_seg(w, va, seg / ps, v->lazy)) < 0)
			return r;
		va += seg;
	}
	return 0;
}

static int rewrite_entry(struct rw *w, Criupm__PagemapEntry *e)
{
	uint32_t fl = e->has_flags ? e->flags : PSX_PE_PRESENT;
	size_t ps = w->loc->page_size;
	int r;

	if (fl & PSX_PE_PARENT) {
		if (fl != PSX_PE_PARENT)
			return ph_seterr(PH_EPROTO,
					 "hybrid: pagemap entry 0x%" PRIx64 " of pid %" PRIu64
					 ": flags 0x%x, PE_PARENT with others",
					 e->vaddr, w->id, fl);
		return parent_entry(w, e->vaddr, e->nr_pages);
	}
	if (fl & PSX_PE_PRESENT) {
		if ((r = copy_add(w->cp, -1, w->old_off, e->nr_pages, ps)) < 0)
			return r;
		w->old_off += (uint64_t)e->nr_pages * ps;
	}
	return ob_msg(&w->o, &e->base);
}

int lzx_pagemap_rewrite(const uint8_t *in, size_t len, uint64_t id, const struct lzx_vmas *vm,
			lzx_locate_fn locate, void *arg, struct lzx_local *loc,
			struct lzx_copies *cp, uint8_t **out, size_t *olen)
{
	struct rw w = { { 0 }, id, vm, locate, arg, loc, cp, 0 };
	const uint8_t *msg = NULL;
	size_t off, mlen = 0;
	int r;

	*out = NULL;
	*olen = 0;
	memset(cp, 0, sizeof(*cp));
	/* the magics and the head are copied as they are, once they parse */
	if ((r = lzx_pm_head(in, len, &off, &cp->pages_id)) < 0 || (r = ob_put(&w.o, in, off)) < 0)
		goto out;
	while (off < len) {
		Criupm__PagemapEntry *e;

		if ((r = lzx_pm_next(in, len, &off, &msg, &mlen)) < 0)
			goto out;
		if (!(e = criupm__pagemap_entry__unpack(NULL, mlen, msg))) {
			r = ph_seterr(PH_EPROTO, "pagemap image: bad entry at byte %zu", off);
			goto out;
		}
		r = rewrite_entry(&w, e);
		criupm__pagemap_entry__free_unpacked(e, NULL);
		if (r < 0)
			goto out;
	}
	*out = w.o.b;
	*olen = w.o.len;
	w.o.b = NULL;
	r = 0;
out:
	free(w.o.b);
	if (r < 0)
		lzx_copies_free(cp);
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

/* A new file .name.hyb in dfd (replacing a stale one): its fd, or PH_E*. */
static int tmp_create(int dfd, const char *name, char *tmp, size_t len)
{
	int fd;

	snprintf(tmp, len, ".%s.hyb", name);
	unlinkat(dfd, tmp, 0);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	return fd < 0 ? ph_seterr_errno(PH_ESYS, "hybrid: creating %s", tmp) : fd;
}

/* fd (tmp in dfd) synced, closed and renamed over name; on failure removed. */
static int tmp_commit(int dfd, int fd, const char *tmp, const char *name, int r)
{
	if (r == 0 && fsync(fd) < 0)
		r = ph_seterr_errno(errno == ENOSPC ? PH_ENOSPC : PH_ESYS, "hybrid: writing %s",
				    tmp);
	close(fd);
	if (r == 0 && renameat(dfd, tmp, dfd, name) < 0)
		r = ph_seterr_errno(PH_ESYS, "hybrid: renaming %s", tmp);
	if (r < 0)
		unlinkat(dfd, tmp, 0);
	return r;
}

/* name in dfd replaced by buf. */
static int replace_file(int dfd, const char *name, const uint8_t *buf, size_t len)
{
	char tmp[96];
	int fd = tmp_create(dfd, name, tmp, sizeof(tmp)), r = 0;

	if (fd < 0)
		return fd;
	if (write_all(fd, buf, len) < 0)
		r = ph_seterr_errno(errno == ENOSPC ? PH_ENOSPC : PH_ESYS, "hybrid: writing %s",
				    tmp);
	return tmp_commit(dfd, fd, tmp, name, r);
}

/* n bytes from sfd at soff appended to dfd. */
static int copy_bytes(int sfd, uint64_t soff, int dfd, uint64_t n, uint8_t *buf, size_t cap)
{
	while (n) {
		size_t want = n < cap ? (size_t)n : cap;
		ssize_t got = pread(sfd, buf, want, (off_t)soff);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return ph_seterr_errno(got == 0 ? PH_ETRUNC : PH_ESYS,
					       "hybrid: reading pages at byte %" PRIu64, soff);
		if (write_all(dfd, buf, (size_t)got) < 0)
			return ph_seterr_errno(errno == ENOSPC ? PH_ENOSPC : PH_ESYS,
					       "hybrid: writing a pages file");
		soff += (uint64_t)got;
		n -= (uint64_t)got;
	}
	return 0;
}

/* pages-<id>.img rebuilt from cp: the dump's own pages and the store's, in entry order. */
static int pages_rebuild(int dfd, const struct lzx_copies *cp, size_t ps)
{
	char name[32], tmp[96];
	uint8_t *buf = NULL;
	int ofd = -1, nfd = -1, r = 0;

	snprintf(name, sizeof(name), "pages-%u.img", cp->pages_id);
	ofd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (ofd < 0 && errno != ENOENT) /* none if the dump had no present page */
		return ph_seterr_errno(PH_ESYS, "hybrid: opening %s", name);
	if ((nfd = tmp_create(dfd, name, tmp, sizeof(tmp))) < 0) {
		r = nfd;
		goto out;
	}
	if (!(buf = malloc(1u << 20)))
		r = ph_seterr(PH_ENOMEM, "hybrid: copy buffer");
	for (size_t i = 0; i < cp->n && r == 0; i++) {
		int sfd = cp->c[i].fd >= 0 ? cp->c[i].fd : ofd;

		if (sfd < 0)
			r = ph_seterr(PH_EPROTO, "hybrid: %s missing, its pagemap has pages", name);
		else
			r = copy_bytes(sfd, cp->c[i].off, nfd, cp->c[i].npages * ps, buf, 1u << 20);
	}
	r = tmp_commit(dfd, nfd, tmp, name, r);
out:
	free(buf);
	if (ofd >= 0)
		close(ofd);
	return r;
}

static int rewrite_file(int dfd, const char *name, uint64_t id, lzx_locate_fn locate, void *arg,
			struct lzx_local *loc)
{
	struct lzx_copies cp = { 0 };
	struct lzx_vmas vm = { 0 };
	uint8_t *in = NULL, *out = NULL, *mm = NULL;
	size_t len, olen, mlen;
	char mmname[48];
	int r;

	snprintf(mmname, sizeof(mmname), "mm-%" PRIu64 ".img", id);
	if ((r = lzx_image_read(dfd, mmname, &mm, &mlen)) < 0 ||
	    (r = lzx_vmas_load(mm, mlen, &vm)) < 0) {
		ph_errctx(r, "%s", mmname);
		goto out;
	}
	if ((r = lzx_image_read(dfd, name, &in, &len)) < 0 ||
	    (r = lzx_pagemap_rewrite(in, len, id, &vm, locate, arg, loc, &cp, &out, &olen)) < 0 ||
	    (cp.from_store && (r = pages_rebuild(dfd, &cp, loc->page_size)) < 0) ||
	    (r = replace_file(dfd, name, out, olen)) < 0)
		ph_errctx(r, "%s", name);
out:
	lzx_copies_free(&cp);
	lzx_vmas_free(&vm);
	free(mm);
	free(in);
	free(out);
	return r;
}

/* The pids of dir's pagemap-<pid>.img, read before any is replaced. */
static int pagemap_ids(DIR *d, uint64_t **ids, size_t *n)
{
	struct dirent *de;
	size_t cap = 0;
	uint64_t id;

	*ids = NULL;
	*n = 0;
	while ((de = readdir(d))) {
		if (!lzx_pagemap_name(de->d_name, &id))
			continue;
		if (*n == cap) {
			uint64_t *m;

			if (cap >= PH_STORE_MAPS_MAX)
				return ph_seterr(PH_ETOOBIG, "hybrid: more than %u pagemaps",
						 PH_STORE_MAPS_MAX);
			cap = cap ? cap * 2 : 16;
			if (!(m = realloc(*ids, cap * sizeof(*m))))
				return ph_seterr(PH_ENOMEM, "hybrid: pagemaps");
			*ids = m;
		}
		(*ids)[(*n)++] = id;
	}
	return 0;
}

int lzx_pagemap_rewrite_dir(const char *dir, lzx_locate_fn locate, void *arg, struct lzx_local *loc)
{
	uint64_t *ids = NULL;
	char name[48];
	size_t n = 0;
	DIR *d;
	int r;

	d = opendir(dir);
	if (!d)
		return ph_seterr_errno(PH_ESYS, "hybrid: opening %s", dir);
	r = pagemap_ids(d, &ids, &n);
	for (size_t i = 0; i < n && r == 0; i++) {
		snprintf(name, sizeof(name), "pagemap-%" PRIu64 ".img", ids[i]);
		r = rewrite_file(dirfd(d), name, ids[i], locate, arg, loc);
	}
	closedir(d);
	free(ids);
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
