// SPDX-License-Identifier: GPL-2.0
/*
 * lzx: the lazy-pages pull protocol, validated; the wire is in engine/lzx.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caps.h"
#include "criu_pagemap.pb-c.h"
#include "engine/lzx.h"
#include "engine/psx.h"
#include "err.h"

#define IMG_COMMON_MAGIC LZX_IMG_COMMON_MAGIC
#define PAGEMAP_MAGIC	 LZX_PAGEMAP_MAGIC

void lzx_set_init(struct lzx_set *s, size_t page_size)
{
	memset(s, 0, sizeof(*s));
	s->page_size = page_size;
}

void lzx_set_free(struct lzx_set *s)
{
	if (!s)
		return;
	free(s->r);
	s->r = NULL;
	s->n = s->cap = 0;
	s->pages = 0;
}

int lzx_set_add(struct lzx_set *s, uint64_t id, uint64_t vaddr, uint32_t nr_pages)
{
	int r;

	if ((r = psx_run_check(s->page_size, vaddr, nr_pages, "lazy pagemap entry", false)) < 0)
		return r;
	return lzx_set_add_range(s, id, vaddr, vaddr + (uint64_t)nr_pages * s->page_size);
}

int lzx_set_add_range(struct lzx_set *s, uint64_t id, uint64_t start, uint64_t end)
{
	if (start >= end || start % s->page_size || end % s->page_size ||
	    end > PH_PS_VADDR_END - s->page_size)
		return ph_seterr(PH_EPROTO,
				 "lazy pagemaps: run [0x%" PRIx64 ", 0x%" PRIx64 ") of %" PRIu64
				 " is not a run of the address space",
				 start, end, id);
	if (s->n == PH_LAZY_RUNS_MAX)
		return ph_seterr(PH_ETOOBIG, "lazy pagemaps: more than %u runs", PH_LAZY_RUNS_MAX);
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct lzx_run *n;

		if (cap > PH_LAZY_RUNS_MAX)
			cap = PH_LAZY_RUNS_MAX;
		n = realloc(s->r, cap * sizeof(*n));
		if (!n)
			return ph_seterr(PH_ENOMEM, "lazy pagemaps: %zu runs", cap);
		s->r = n;
		s->cap = cap;
	}
	s->r[s->n++] = (struct lzx_run){ id, start, end };
	s->pages += (end - start) / s->page_size;
	return 0;
}

static int run_cmp(const void *a, const void *b)
{
	const struct lzx_run *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->start < y->start ? -1 : x->start > y->start;
}

int lzx_set_seal(struct lzx_set *s)
{
	size_t w = 0;

	if (!s->n)
		return 0;
	qsort(s->r, s->n, sizeof(*s->r), run_cmp);
	for (size_t i = 1; i < s->n; i++) {
		struct lzx_run *last = &s->r[w];

		if (s->r[i].id == last->id && s->r[i].start < last->end)
			return ph_seterr(PH_EPROTO,
					 "lazy pagemap of %" PRIu64 ": runs overlap at 0x%" PRIx64,
					 last->id, s->r[i].start);
		if (s->r[i].id == last->id && s->r[i].start == last->end)
			last->end = s->r[i].end;
		else
			s->r[++w] = s->r[i];
	}
	s->n = w + 1;
	return 0;
}

/* The run of id holding vaddr, or -1. */
static long run_of(const struct lzx_set *s, uint64_t id, uint64_t vaddr)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct lzx_run *m = &s->r[mid];

		if (m->id < id || (m->id == id && m->start <= vaddr))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || s->r[lo - 1].id != id || vaddr >= s->r[lo - 1].end)
		return -1;
	return (long)(lo - 1);
}

bool lzx_set_covers(const struct lzx_set *s, uint64_t id, uint64_t start, uint64_t end)
{
	long i = run_of(s, id, start);

	return i >= 0 && end <= s->r[i].end;
}

/* One u32-length-prefixed message at *off; its bytes in *msg, *mlen. */
int lzx_pm_next(const uint8_t *buf, size_t len, size_t *off, const uint8_t **msg, size_t *mlen)
{
	uint32_t n;

	if (len - *off < 4)
		return ph_seterr(PH_ETRUNC, "pagemap image: %zu stray bytes at its end",
				 len - *off);
	memcpy(&n, buf + *off, 4);
	*off += 4;
	if (n > len - *off)
		return ph_seterr(PH_ETRUNC, "pagemap image: entry of %u bytes, %zu left", n,
				 len - *off);
	*msg = buf + *off;
	*mlen = n;
	*off += n;
	return 0;
}

int lzx_pm_head(const uint8_t *buf, size_t len, size_t *off, uint32_t *pages_id)
{
	const uint8_t *msg;
	Criupm__PagemapHead *h;
	uint32_t magic[2];
	size_t mlen;
	int r;

	if (len < 8)
		return ph_seterr(PH_ETRUNC, "pagemap image: %zu bytes, no magic", len);
	memcpy(magic, buf, 8);
	if (magic[0] != IMG_COMMON_MAGIC || magic[1] != PAGEMAP_MAGIC)
		return ph_seterr(PH_EPROTO, "pagemap image: magic 0x%x 0x%x, expected 0x%x 0x%x",
				 magic[0], magic[1], IMG_COMMON_MAGIC, PAGEMAP_MAGIC);
	*off = 8;
	if ((r = lzx_pm_next(buf, len, off, &msg, &mlen)) < 0)
		return r;
	h = criupm__pagemap_head__unpack(NULL, mlen, msg);
	if (!h)
		return ph_seterr(PH_EPROTO, "pagemap image: bad head");
	if (pages_id)
		*pages_id = h->pages_id;
	criupm__pagemap_head__free_unpacked(h, NULL);
	return 0;
}

int lzx_set_load_pagemap(struct lzx_set *s, uint64_t id, const uint8_t *buf, size_t len)
{
	const uint8_t *msg = NULL;
	size_t off, mlen = 0;
	int r;

	if ((r = lzx_pm_head(buf, len, &off, NULL)) < 0)
		return r;
	while (off < len) {
		Criupm__PagemapEntry *e;

		if ((r = lzx_pm_next(buf, len, &off, &msg, &mlen)) < 0)
			return r;
		e = criupm__pagemap_entry__unpack(NULL, mlen, msg);
		if (!e)
			return ph_seterr(PH_EPROTO, "pagemap image: bad entry at byte %zu", off);
		r = e->has_flags && (e->flags & PSX_PE_LAZY)
			    ? lzx_set_add(s, id, e->vaddr, e->nr_pages)
			    : 0;
		criupm__pagemap_entry__free_unpacked(e, NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

/* "pagemap-<pid>.img" (not the shmem ones: CRIU 3.17 serves only task memory lazily) */
bool lzx_pagemap_name(const char *name, uint64_t *id)
{
	char *end;

	if (strncmp(name, "pagemap-", 8) || name[8] < '1' || name[8] > '9')
		return false;
	errno = 0;
	*id = strtoull(name + 8, &end, 10);
	return !errno && *id <= INT32_MAX && !strcmp(end, ".img");
}

int lzx_image_read(int dfd, const char *name, uint8_t **out, size_t *len)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t have = 0;
	int fd, r = 0;

	*out = NULL;
	*len = 0;
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = ph_seterr_errno(PH_ESYS, "lazy pagemaps: %s", name);
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > PH_LAZY_PAGEMAP_MAX) {
		r = ph_seterr(PH_ETOOBIG, "lazy pagemaps: %s: %lld bytes, at most %u", name,
			      (long long)st.st_size, PH_LAZY_PAGEMAP_MAX);
		goto out;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		r = ph_seterr(PH_ENOMEM, "lazy pagemaps: %s", name);
		goto out;
	}
	while (have < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + have, (size_t)st.st_size - have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = ph_seterr_errno(PH_ESYS, "lazy pagemaps: reading %s", name);
			goto out;
		}
		have += (size_t)n;
	}
	*out = buf;
	*len = have;
	buf = NULL;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return r;
}

static int load_file(struct lzx_set *s, int dfd, const char *name, uint64_t id)
{
	uint8_t *buf;
	size_t len;
	int r;

	if ((r = lzx_image_read(dfd, name, &buf, &len)) < 0)
		return r;
	if ((r = lzx_set_load_pagemap(s, id, buf, len)) < 0)
		ph_errctx(r, "%s", name);
	free(buf);
	return r;
}

int lzx_set_load_dir(struct lzx_set *s, const char *dir)
{
	struct dirent *de;
	uint64_t id;
	DIR *d;
	int r = 0;

	d = opendir(dir);
	if (!d)
		return ph_seterr_errno(PH_ESYS, "lazy pagemaps: opening %s", dir);
	while (r == 0 && (de = readdir(d)))
		if (lzx_pagemap_name(de->d_name, &id))
			r = load_file(s, dirfd(d), de->d_name, id);
	closedir(d);
	return r < 0 ? r : lzx_set_seal(s);
}

void lzx_init(struct lzx_parser *p, size_t page_size, const struct lzx_set *set)
{
	memset(p, 0, sizeof(*p));
	p->page_size = page_size;
	p->set = set;
}

static int lzx_fail(struct lzx_parser *p, int r)
{
	p->err = r;
	return r;
}

struct lzx_hdr {
	uint32_t cmd, nr;
	uint64_t vaddr, id;
};

static void hdr_get(const uint8_t *b, struct lzx_hdr *h)
{
	memcpy(&h->cmd, b, 4);
	memcpy(&h->nr, b + 4, 4);
	memcpy(&h->vaddr, b + 8, 8);
	memcpy(&h->id, b + 16, 8);
}

static int req_get(struct lzx_parser *p, const struct lzx_hdr *h)
{
	uint64_t end = h->vaddr + (uint64_t)h->nr * p->page_size;
	int r;

	if ((r = psx_run_check(p->page_size, h->vaddr, h->nr, "lazy GET", true)) < 0)
		return r;
	if (!h->id || h->id > INT32_MAX)
		return ph_seterr(PH_EPROTO, "lazy GET: pid %" PRIu64 ", expected 1..%d", h->id,
				 INT32_MAX);
	if (p->set && !lzx_set_covers(p->set, h->id, h->vaddr, end))
		return ph_seterr(PH_EPROTO,
				 "lazy GET of pid %" PRIu64 " [0x%" PRIx64 ", 0x%" PRIx64
				 "): pages the dump did not leave lazy",
				 h->id, h->vaddr, end);
	p->c.gets++;
	p->c.pages_asked += h->nr;
	return 0;
}

static int req_header(struct lzx_parser *p)
{
	struct lzx_hdr h;
	struct lzx_req *q;
	int r;

	hdr_get(p->qh, &h);
	p->qhave = 0;
	if (p->len == LZX_REQS_MAX)
		return ph_seterr(PH_ETOOBIG, "lazy pages: %u answers owed already, limit %u",
				 p->len, LZX_REQS_MAX);
	q = &p->rq[(p->head + p->len) % LZX_REQS_MAX];
	if (h.cmd == PS_IOV_GET) {
		if ((r = req_get(p, &h)) < 0)
			return r;
		*q = (struct lzx_req){ h.vaddr, h.id, h.nr, false, h.cmd };
	} else if (h.cmd == PS_IOV_CLOSE || h.cmd == PS_IOV_FORCE_CLOSE) {
		if (h.nr || h.vaddr || h.id)
			return ph_seterr(PH_EPROTO, "lazy %s: fields not zero",
					 psx_cmd_name(h.cmd));
		*q = (struct lzx_req){ .close = true, .cmd = h.cmd };
		p->q_closed = true;
	} else {
		return ph_seterr(
			PH_EPROTO,
			"lazy pages: request 0x%x (%s), expected GET, CLOSE or FORCE_CLOSE", h.cmd,
			psx_cmd_name(h.cmd));
	}
	p->len++;
	return 0;
}

int lzx_req_feed(struct lzx_parser *p, const uint8_t *buf, size_t len)
{
	int r;

	if (p->err)
		return p->err;
	while (len) {
		size_t n = sizeof(p->qh) - p->qhave;

		if (p->q_closed)
			return lzx_fail(p,
					ph_seterr(PH_EPROTO,
						  "lazy pages: %zu bytes after the closing request",
						  len));
		if (n > len)
			n = len;
		memcpy(p->qh + p->qhave, buf, n);
		p->qhave += n;
		buf += n;
		len -= n;
		if (p->qhave == sizeof(p->qh) && (r = req_header(p)) < 0)
			return lzx_fail(p, r);
	}
	return p->q_closed ? LZX_END : 0;
}

static int ans_header(struct lzx_parser *p, const struct lzx_req *q)
{
	uint32_t want = (PSX_PE_PRESENT << PS_CMD_BITS) | PS_IOV_ADD_F;
	struct lzx_hdr h;

	hdr_get(p->ah, &h);
	p->ahave = 0;
	if (h.cmd != want)
		return ph_seterr(PH_EPROTO,
				 "lazy answer: command 0x%x (%s), expected ADD_F|PRESENT", h.cmd,
				 psx_cmd_name(h.cmd));
	if (h.vaddr != q->vaddr || h.id != q->id || !h.nr || h.nr > q->nr)
		return ph_seterr(PH_EPROTO,
				 "lazy answer: %u pages at 0x%" PRIx64 " of pid %" PRIu64
				 " does not answer GET of %u pages at 0x%" PRIx64
				 " of pid %" PRIu64,
				 h.nr, h.vaddr, h.id, q->nr, q->vaddr, q->id);
	p->apayload = (uint64_t)h.nr * p->page_size;
	p->c.pages_served += h.nr;
	if (p->sink && p->sink->answer)
		return p->sink->answer(p->sink->arg, h.id, h.vaddr, h.nr, q->nr);
	p->c.answer_bytes += sizeof(p->ah);
	return 0;
}

/* Walk answer bytes at buf; how many were taken, or PH_E*. */
static long ans_step(struct lzx_parser *p, const uint8_t *buf, size_t len)
{
	const struct lzx_req *q = &p->rq[p->head];
	size_t need = q->close ? 4 : sizeof(p->ah), n;
	int32_t st;
	int r;

	if (p->apayload) {
		n = len < p->apayload ? len : (size_t)p->apayload;
		p->apayload -= n;
		p->c.answer_bytes += n;
		if (p->sink && p->sink->data &&
		    (r = p->sink->data(p->sink->arg, buf, n, !p->apayload)) < 0)
			return r;
		if (!p->apayload) {
			p->head = (p->head + 1) % LZX_REQS_MAX;
			p->len--;
		}
		return (long)n;
	}
	n = need - p->ahave < len ? need - p->ahave : len;
	memcpy(p->ah + p->ahave, buf, n);
	p->ahave += n;
	if (p->ahave < need)
		return (long)n;
	if (q->close) {
		memcpy(&st, p->ah, 4);
		if (st != 0)
			return ph_seterr(PH_EPROTO, "lazy pages: close answered with status %d",
					 st);
		p->done = true;
		p->len--;
		return (long)n;
	}
	if ((r = ans_header(p, q)) < 0)
		return r;
	return (long)n;
}

int lzx_ans_feed(struct lzx_parser *p, const uint8_t *buf, size_t len)
{
	long n;

	if (p->err)
		return p->err;
	while (len) {
		if (p->done || !p->len)
			return lzx_fail(
				p, ph_seterr(PH_EPROTO,
					     "lazy pages: %zu answer bytes nobody asked for", len));
		n = ans_step(p, buf, len);
		if (n < 0)
			return lzx_fail(p, (int)n);
		buf += n;
		len -= (size_t)n;
	}
	return p->done ? LZX_END : 0;
}

unsigned int lzx_owed(const struct lzx_parser *p)
{
	return p->len;
}

const struct lzx_counts *lzx_counts(const struct lzx_parser *p)
{
	return &p->c;
}

bool lzx_owed_req(const struct lzx_parser *p, unsigned int i, uint64_t *id, uint64_t *vaddr,
		  uint32_t *nr, uint32_t *cmd)
{
	const struct lzx_req *q;

	if (i >= p->len)
		return false;
	q = &p->rq[(p->head + i) % LZX_REQS_MAX];
	*id = q->id;
	*vaddr = q->vaddr;
	*nr = q->nr;
	*cmd = q->cmd;
	return true;
}

void lzx_set_sink(struct lzx_parser *p, const struct lzx_sink *sink)
{
	p->sink = sink;
}

/* ---- background push bookkeeping ---- */

static bool bit(const uint8_t *m, uint64_t i)
{
	return m[i / 8] & (1u << (i % 8));
}

static void bit_set(uint8_t *m, uint64_t i, bool v)
{
	if (v)
		m[i / 8] |= (uint8_t)(1u << (i % 8));
	else
		m[i / 8] &= (uint8_t) ~(1u << (i % 8));
}

int lzx_push_init(struct lzx_push *pu, const struct lzx_set *set)
{
	size_t bytes = (size_t)(set->pages / 8 + 1);
	uint64_t k = 0;

	memset(pu, 0, sizeof(*pu));
	pu->set = set;
	if (set->pages > PH_LAZY_PAGES_MAX)
		return ph_seterr(PH_ETOOBIG,
				 "background push: %" PRIu64 " lazy pages, at most %llu",
				 set->pages, PH_LAZY_PAGES_MAX);
	pu->base = malloc((set->n ? set->n : 1) * sizeof(*pu->base));
	pu->asked = calloc(1, bytes);
	pu->have = calloc(1, bytes);
	pu->faulted = calloc(1, bytes);
	if (!pu->base || !pu->asked || !pu->have || !pu->faulted) {
		lzx_push_free(pu);
		return ph_seterr(PH_ENOMEM, "background push: bitmaps of %" PRIu64 " pages",
				 set->pages);
	}
	for (size_t i = 0; i < set->n; i++) {
		pu->base[i] = k;
		k += (set->r[i].end - set->r[i].start) / set->page_size;
	}
	pu->left = set->pages;
	return 0;
}

void lzx_push_free(struct lzx_push *pu)
{
	free(pu->base);
	free(pu->asked);
	free(pu->have);
	free(pu->faulted);
	pu->base = NULL;
	pu->asked = pu->have = pu->faulted = NULL;
}

/* Page index of (id, vaddr) and the pages left in its run from there. */
static bool page_idx(const struct lzx_push *pu, uint64_t id, uint64_t vaddr, uint64_t *k,
		     uint64_t *room)
{
	long i = run_of(pu->set, id, vaddr);
	const struct lzx_run *run;

	if (i < 0 || vaddr % pu->set->page_size)
		return false;
	run = &pu->set->r[i];
	*k = pu->base[i] + (vaddr - run->start) / pu->set->page_size;
	*room = (run->end - vaddr) / pu->set->page_size;
	return true;
}

bool lzx_push_off(const struct lzx_push *pu, uint64_t id, uint64_t vaddr, uint64_t *off)
{
	uint64_t k, room;

	if (!page_idx(pu, id, vaddr, &k, &room))
		return false;
	*off = k * pu->set->page_size;
	return true;
}

bool lzx_push_fault(struct lzx_push *pu, uint64_t id, uint64_t vaddr, uint32_t n, uint64_t *gva,
		    uint32_t *gnr)
{
	uint64_t k, room, i = 0, j;

	if (!page_idx(pu, id, vaddr, &k, &room))
		return false;
	if (n > room)
		n = (uint32_t)room;
	while (i < n && bit(pu->asked, k + i))
		i++;
	if (i == n)
		return false;
	for (j = i; j < n && j - i < PH_PS_PAGES_MAX && !bit(pu->asked, k + j); j++) {
		bit_set(pu->asked, k + j, true);
		bit_set(pu->faulted, k + j, true);
	}
	*gva = vaddr + i * pu->set->page_size;
	*gnr = (uint32_t)(j - i);
	pu->inflight += j - i;
	return true;
}

bool lzx_push_next(struct lzx_push *pu, uint64_t *id, uint64_t *gva, uint32_t *gnr)
{
	const struct lzx_set *s = pu->set;

	while (pu->cur < s->n) {
		const struct lzx_run *run = &s->r[pu->cur];
		uint64_t len = (run->end - run->start) / s->page_size, k = pu->base[pu->cur], j;

		while (pu->cur_pg < len && bit(pu->asked, k + pu->cur_pg))
			pu->cur_pg++;
		if (pu->cur_pg == len) {
			pu->cur++;
			pu->cur_pg = 0;
			continue;
		}
		if (pu->inflight >= LZX_PUSH_WINDOW)
			return false;
		for (j = pu->cur_pg;
		     j < len && j - pu->cur_pg < LZX_PUSH_GET && !bit(pu->asked, k + j); j++)
			bit_set(pu->asked, k + j, true);
		*id = run->id;
		*gva = run->start + pu->cur_pg * s->page_size;
		*gnr = (uint32_t)(j - pu->cur_pg);
		pu->inflight += j - pu->cur_pg;
		pu->cur_pg = j;
		return true;
	}
	return false;
}

int lzx_push_got(struct lzx_push *pu, uint64_t id, uint64_t vaddr, uint32_t nr, uint32_t asked)
{
	uint64_t k, room;

	if (!page_idx(pu, id, vaddr, &k, &room) || asked > room || nr > asked)
		return ph_seterr(PH_EPROTO,
				 "pushed pages: %u at 0x%" PRIx64 " of pid %" PRIu64
				 " outside the lazy set",
				 asked, vaddr, id);
	for (uint32_t i = 0; i < asked; i++)
		if (!bit(pu->asked, k + i) || bit(pu->have, k + i))
			return ph_seterr(
				PH_EPROTO, "pushed pages: page 0x%" PRIx64 " of pid %" PRIu64 " %s",
				vaddr + i * pu->set->page_size, id,
				bit(pu->have, k + i) ? "arrived twice" : "was never asked");
	for (uint32_t i = 0; i < nr; i++) {
		bit_set(pu->have, k + i, true);
		if (bit(pu->faulted, k + i))
			pu->fault++;
		else
			pu->pushed++;
	}
	if (nr < asked) { /* a short answer: the cursor comes back for the rest */
		long run = run_of(pu->set, id, vaddr);
		uint64_t pg = (vaddr - pu->set->r[run].start) / pu->set->page_size + nr;

		for (uint32_t i = nr; i < asked; i++) {
			bit_set(pu->asked, k + i, false);
			bit_set(pu->faulted, k + i, false);
		}
		if ((size_t)run < pu->cur || ((size_t)run == pu->cur && pg < pu->cur_pg)) {
			pu->cur = (size_t)run;
			pu->cur_pg = pg;
		}
	}
	pu->inflight -= asked;
	pu->left -= nr;
	return 0;
}

int lzx_push_local(struct lzx_push *pu, const struct lzx_local *loc)
{
	for (size_t i = 0; i < loc->n; i++) {
		const struct lzx_lrun *l = &loc->r[i];
		uint64_t k, room, n = (l->end - l->start) / pu->set->page_size;

		if (!page_idx(pu, l->id, l->start, &k, &room) || n > room)
			return ph_seterr(PH_EPROTO,
					 "hybrid: local pages at 0x%" PRIx64 " of pid %" PRIu64
					 " outside the set",
					 l->start, l->id);
		for (uint64_t j = 0; j < n; j++) {
			if (bit(pu->asked, k + j))
				return ph_seterr(PH_EPROTO,
						 "hybrid: local page 0x%" PRIx64 " of pid %" PRIu64
						 " twice",
						 l->start + j * pu->set->page_size, l->id);
			bit_set(pu->asked, k + j, true);
			bit_set(pu->have, k + j, true);
		}
		pu->left -= n;
	}
	return 0;
}

bool lzx_push_has(const struct lzx_push *pu, uint64_t id, uint64_t vaddr, uint32_t n)
{
	uint64_t k, room;

	if (!page_idx(pu, id, vaddr, &k, &room) || n > room)
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (!bit(pu->have, k + i))
			return false;
	return true;
}

uint64_t lzx_push_left(const struct lzx_push *pu)
{
	return pu->left;
}
