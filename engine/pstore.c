// SPDX-License-Identifier: GPL-2.0
/*
 * pstore: the flat page store; contract in pstore.h, design in README.md.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "caps.h"
#include "criu_pagemap.pb-c.h"
#include "err.h"
#include "engine/pstore.h"

/* criu/include/magic.h (3.17) */
#define IMG_COMMON_MAGIC 0x54564319
#define PAGEMAP_MAGIC	 0x56084025

/* Where a run's data is before the session is applied. */
enum { RUN_KEEP = 0, RUN_MOVE = 1, RUN_LOG = 2 };

struct prun {
	uint64_t vaddr;
	uint64_t off; /* in pages, in the pages file */
	uint64_t src; /* RUN_MOVE: old offset; RUN_LOG: offset in the log (pages) */
	uint32_t nr;
	uint8_t lazy; /* PE_LAZY as CRIU's dump marked the pages */
	uint8_t kind;
};

struct pmap {
	uint64_t dst_id;
	uint32_t pages_id;
	int fd;		   /* pages-<pages_id>.img */
	uint64_t last;	   /* session it was last opened in, 0: never */
	struct prun *runs; /* layout as of the last session applied */
	size_t nruns;
	uint64_t npages;
	struct prun *nrun; /* this session's layout, being built */
	size_t nn, ncap;
	uint64_t cur;	     /* pages in this session's layout */
	uint64_t next_vaddr; /* entries must start at or above this */
	bool moved;	     /* some run is RUN_MOVE or RUN_LOG */
};

struct pstore {
	int dfd;
	struct pio *io;
	size_t ps; /* page size */
	struct pmap *maps;
	size_t nmaps;
	size_t open; /* index of the map OPEN2 named, nmaps: none */
	uint64_t session;
	bool in_session;
	int logfd;
	uint64_t logpages;
	/* the ADD being filled */
	int data_fd;
	uint64_t data_off, data_left;	  /* bytes */
	uint8_t ans[4 * PSX_REPLIES_MAX]; /* answers owed, in order */
	size_t anslen;
	uint32_t next_pages_id;
	struct pstore_stats st;
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

int pstore_open(struct pstore **out, const char *dir, enum pio_backend io)
{
	struct pstore *s;
	int r;

	*out = NULL;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return ph_seterr_errno(PH_ESYS, "page store: creating %s", dir);
	s = calloc(1, sizeof(*s));
	if (!s)
		return ph_seterr(PH_ENOMEM, "page store");
	s->dfd = s->logfd = -1;
	s->ps = (size_t)sysconf(_SC_PAGESIZE);
	s->next_pages_id = 1;
	s->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s->dfd < 0) {
		r = ph_seterr_errno(PH_ESYS, "page store: opening %s", dir);
		goto fail;
	}
	/* the log of pages that cannot go in place yet; unnamed, gone with us */
	s->logfd = openat(s->dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (s->logfd < 0) {
		r = ph_seterr_errno(PH_ESYS, "page store: log file in %s", dir);
		goto fail;
	}
	if ((r = pio_open(&s->io, io)) < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	pstore_close(s);
	return r;
}

void pstore_close(struct pstore *s)
{
	if (!s)
		return;
	pio_close(s->io);
	for (size_t i = 0; i < s->nmaps; i++) {
		if (s->maps[i].fd >= 0)
			close(s->maps[i].fd);
		free(s->maps[i].runs);
		free(s->maps[i].nrun);
	}
	free(s->maps);
	if (s->logfd >= 0)
		close(s->logfd);
	if (s->dfd >= 0)
		close(s->dfd);
	free(s);
}

const struct pstore_stats *pstore_stats(const struct pstore *s)
{
	return &s->st;
}

const struct pio *pstore_io(const struct pstore *s)
{
	return s->io;
}

static struct pmap *map_find(struct pstore *s, uint64_t dst_id)
{
	for (size_t i = 0; i < s->nmaps; i++)
		if (s->maps[i].dst_id == dst_id)
			return &s->maps[i];
	return NULL;
}

static struct pmap *map_new(struct pstore *s, uint64_t dst_id)
{
	struct pmap *m, *n;
	char name[32];

	if (s->nmaps >= PH_STORE_MAPS_MAX) {
		ph_seterr(PH_ETOOBIG, "page store: more than %u pagemaps", PH_STORE_MAPS_MAX);
		return NULL;
	}
	n = realloc(s->maps, (s->nmaps + 1) * sizeof(*n));
	if (!n) {
		ph_seterr(PH_ENOMEM, "page store: pagemaps");
		return NULL;
	}
	s->maps = n;
	m = &s->maps[s->nmaps];
	memset(m, 0, sizeof(*m));
	m->dst_id = dst_id;
	m->pages_id = s->next_pages_id;
	snprintf(name, sizeof(name), "pages-%u.img", m->pages_id);
	m->fd = openat(s->dfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (m->fd < 0) {
		ph_seterr_errno(PH_ESYS, "page store: creating %s", name);
		return NULL;
	}
	s->next_pages_id++;
	s->nmaps++;
	return m;
}

static bool map_has_parent(const struct pstore *s, const struct pmap *m)
{
	return m && m->last && m->last + 1 == s->session;
}

static int answer(struct pstore *s, const void *v, size_t len)
{
	if (s->anslen + len > sizeof(s->ans))
		return ph_seterr(PH_EPROTO, "page store: more than %zu answer bytes owed",
				 sizeof(s->ans));
	memcpy(s->ans + s->anslen, v, len);
	s->anslen += len;
	return 0;
}

static int answer32(struct pstore *s, int32_t v)
{
	return answer(s, &v, 4);
}

/* OPEN/OPEN2: this session's pages of dst_id follow. */
static int st_open(struct pstore *s, const struct psx_ev *ev)
{
	struct pmap *m = map_find(s, ev->dst_id);
	bool parent = map_has_parent(s, m);

	if (m && m->last == s->session)
		return ph_seterr(PH_EPROTO,
				 "page store: pagemap 0x%" PRIx64 " opened twice in one "
				 "session",
				 ev->dst_id);
	if (!m && !(m = map_new(s, ev->dst_id)))
		return ph_lasterr() ? -ph_lasterr() : -PH_ESYS;
	if (!parent) {
		/* a new map, or one absent last time: the dumper sends it whole */
		m->nruns = 0;
		m->npages = 0;
	}
	m->last = s->session;
	m->nn = 0;
	m->cur = 0;
	m->next_vaddr = 0;
	m->moved = false;
	s->open = (size_t)(m - s->maps);
	if (ev->cmd == PS_IOV_OPEN2) {
		uint8_t b = parent;

		return answer(s, &b, 1);
	}
	return 0;
}

static int run_push(struct pmap *m, const struct prun *r, size_t ps)
{
	struct prun *last = m->nn ? &m->nrun[m->nn - 1] : NULL;

	/* one run while nothing tells the pages apart */
	if (last && last->kind == r->kind && last->lazy == r->lazy &&
	    last->off + last->nr == r->off && last->vaddr + (uint64_t)last->nr * ps == r->vaddr &&
	    last->nr + (uint64_t)r->nr <= UINT32_MAX &&
	    (r->kind == RUN_KEEP || last->src + last->nr == r->src)) {
		last->nr += r->nr;
		return 0;
	}
	if (m->nn == m->ncap) {
		size_t cap = m->ncap ? m->ncap * 2 : 64;
		struct prun *n;

		if (m->nn >= PH_STORE_RUNS_MAX)
			return ph_seterr(PH_ETOOBIG,
					 "page store: pagemap 0x%" PRIx64 " has more than %u runs",
					 m->dst_id, PH_STORE_RUNS_MAX);
		if (cap > PH_STORE_RUNS_MAX)
			cap = PH_STORE_RUNS_MAX;
		n = realloc(m->nrun, cap * sizeof(*n));
		if (!n)
			return ph_seterr(PH_ENOMEM, "page store: runs");
		m->nrun = n;
		m->ncap = cap;
	}
	m->nrun[m->nn++] = *r;
	return 0;
}

/* The old run holding vaddr v (runs are sorted and disjoint), or nruns. */
static size_t old_find(const struct pmap *m, uint64_t v, size_t ps)
{
	size_t lo = 0, hi = m->nruns;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct prun *r = &m->runs[mid];

		if (v < r->vaddr)
			hi = mid;
		else if (v >= r->vaddr + (uint64_t)r->nr * ps)
			lo = mid + 1;
		else
			return mid;
	}
	return m->nruns;
}

/* Old offset of the nr pages at v if they lie back to back there; else UINT64_MAX. */
static uint64_t old_off_contig(const struct pmap *m, uint64_t v, uint32_t nr, size_t ps)
{
	size_t i = old_find(m, v, ps);
	const struct prun *r;

	if (i == m->nruns)
		return UINT64_MAX;
	r = &m->runs[i];
	if (v + (uint64_t)nr * ps > r->vaddr + (uint64_t)r->nr * ps)
		return UINT64_MAX; /* spans runs: not worth the walk, the log takes it */
	return r->off + (v - r->vaddr) / ps;
}

static int grow_cur(struct pmap *m, uint32_t nr)
{
	if (m->cur + nr > PH_STORE_PAGES_MAX)
		return ph_seterr(PH_ETOOBIG, "page store: pagemap 0x%" PRIx64 " over %llu pages",
				 m->dst_id, (unsigned long long)PH_STORE_PAGES_MAX);
	m->cur += nr;
	return 0;
}

/* Pages with data: in place when that clobbers nothing still needed, else to the log. */
static int st_present(struct pstore *s, struct pmap *m, const struct psx_ev *ev)
{
	struct prun r = { .vaddr = ev->vaddr,
			  .nr = ev->nr_pages,
			  .off = m->cur,
			  .lazy = !!(ev->flags & PSX_PE_LAZY) };
	uint64_t old = old_off_contig(m, ev->vaddr, ev->nr_pages, s->ps);
	int ret;

	if (old == m->cur || m->cur >= m->npages) {
		r.kind = RUN_KEEP;
		s->data_fd = m->fd;
		s->data_off = m->cur * s->ps;
	} else {
		r.kind = RUN_LOG;
		r.src = s->logpages;
		m->moved = true;
		s->data_fd = s->logfd;
		s->data_off = s->logpages * s->ps;
		s->logpages += ev->nr_pages;
	}
	s->data_left = (uint64_t)ev->nr_pages * s->ps;
	if ((ret = grow_cur(m, ev->nr_pages)) < 0 || (ret = run_push(m, &r, s->ps)) < 0)
		return ret;
	s->st.pages_written += ev->nr_pages;
	return 0;
}

/* Pages in parent: found in the store's own layout, moved only if they must. */
static int st_parent(struct pstore *s, struct pmap *m, const struct psx_ev *ev)
{
	uint64_t v = ev->vaddr, left = ev->nr_pages;
	size_t i = old_find(m, v, s->ps);
	int ret;

	while (left) {
		const struct prun *o = i < m->nruns ? &m->runs[i] : NULL;
		struct prun r;
		uint64_t k;

		if (!o || v < o->vaddr || v >= o->vaddr + (uint64_t)o->nr * s->ps)
			return ph_seterr(PH_EPROTO,
					 "page store: page 0x%" PRIx64 " of pagemap 0x%" PRIx64
					 " is in parent, but session %" PRIu64 " had no such page",
					 v, m->dst_id, s->session - 1);
		k = (o->vaddr + (uint64_t)o->nr * s->ps - v) / s->ps;
		if (k > left)
			k = left;
		r = (struct prun){ .vaddr = v,
				   .nr = (uint32_t)k,
				   .off = m->cur,
				   .lazy = o->lazy,
				   .src = o->off + (v - o->vaddr) / s->ps };
		r.kind = r.src == r.off ? RUN_KEEP : RUN_MOVE;
		m->moved |= r.kind == RUN_MOVE;
		if ((ret = grow_cur(m, (uint32_t)k)) < 0 || (ret = run_push(m, &r, s->ps)) < 0)
			return ret;
		v += k * s->ps;
		left -= k;
		i++;
	}
	s->st.pages_parent += ev->nr_pages;
	return 0;
}

static int st_pages(struct pstore *s, const struct psx_ev *ev)
{
	struct pmap *m = s->open < s->nmaps ? &s->maps[s->open] : NULL;
	bool present = ev->flags & PSX_PE_PRESENT, parent = ev->flags & PSX_PE_PARENT;

	if (!m || m->dst_id != ev->dst_id)
		return ph_seterr(PH_EPROTO, "page store: pages for 0x%" PRIx64 ", not opened",
				 ev->dst_id);
	if (ev->vaddr < m->next_vaddr)
		return ph_seterr(PH_EPROTO,
				 "page store: pagemap 0x%" PRIx64 ": entry at 0x%" PRIx64
				 " below the previous one's end 0x%" PRIx64,
				 m->dst_id, ev->vaddr, m->next_vaddr);
	if (present == parent)
		return ph_seterr(PH_EPROTO,
				 "page store: pagemap 0x%" PRIx64 ": entry at 0x%" PRIx64
				 " with flags 0x%x is %s (a --lazy-pages dump cannot be stored "
				 "flat)",
				 m->dst_id, ev->vaddr, ev->flags,
				 present ? "both present and in parent"
					 : "neither present nor in parent");
	m->next_vaddr = ev->vaddr + (uint64_t)ev->nr_pages * s->ps; /* psx: no wrap */
	return present ? st_present(s, m, ev) : st_parent(s, m, ev);
}

int pstore_on_data(void *store, const uint8_t *buf, size_t len)
{
	struct pstore *s = store;
	int r;

	if (len > s->data_left)
		return ph_seterr(PH_EPROTO, "page store: %zu payload bytes, %" PRIu64 " expected",
				 len, s->data_left);
	if ((r = pio_write(s->io, s->data_fd, buf, len, s->data_off)) < 0)
		return r;
	s->data_off += len;
	s->data_left -= len;
	return 0;
}

/* Copy n pages from (sfd, soff) to (dfd, doff), chunk order as the overlap needs. */
static int copy_pages(struct pstore *s, int sfd, uint64_t soff, int dfd, uint64_t doff, uint64_t n)
{
	uint64_t chunk = PIO_BUF_SIZE / s->ps, done = 0;
	bool down = sfd == dfd && doff > soff; /* overlapping right shift: from the end */
	int r = 0;

	while (done < n && r == 0) {
		uint64_t k = n - done < chunk ? n - done : chunk;
		uint64_t at = down ? n - done - k : done;
		uint8_t *buf = pio_buf_get(s->io);

		if (!buf)
			return ph_lasterr() ? -ph_lasterr() : -PH_ESYS;
		r = pio_read(s->io, sfd, buf, k * s->ps, (soff + at) * s->ps);
		if (r == 0)
			r = pio_write(s->io, dfd, buf, k * s->ps, (doff + at) * s->ps);
		if (r == 0)
			r = pio_buf_put(s->io, buf);
		else
			pio_buf_put(s->io, buf);
		done += k;
	}
	return r;
}

/*
 * Apply a layout change. The old -> new offset map of kept pages is
 * monotonic (both layouts are sorted by vaddr), so moving left-shifted
 * runs in ascending order, then right-shifted ones in descending order,
 * never overwrites a page before it was moved (like memmove). Logged
 * pages land last: their slots held nothing still needed.
 */
static int map_apply(struct pstore *s, struct pmap *m)
{
	int r = 0;

	for (size_t i = 0; i < m->nn && r == 0; i++)
		if (m->nrun[i].kind == RUN_MOVE && m->nrun[i].off < m->nrun[i].src)
			r = copy_pages(s, m->fd, m->nrun[i].src, m->fd, m->nrun[i].off,
				       m->nrun[i].nr);
	for (size_t i = m->nn; i-- > 0 && r == 0;)
		if (m->nrun[i].kind == RUN_MOVE && m->nrun[i].off > m->nrun[i].src)
			r = copy_pages(s, m->fd, m->nrun[i].src, m->fd, m->nrun[i].off,
				       m->nrun[i].nr);
	for (size_t i = 0; i < m->nn && r == 0; i++)
		if (m->nrun[i].kind == RUN_LOG)
			r = copy_pages(s, s->logfd, m->nrun[i].src, m->fd, m->nrun[i].off,
				       m->nrun[i].nr);
	for (size_t i = 0; i < m->nn; i++)
		if (m->nrun[i].kind != RUN_KEEP) {
			s->st.last_moved += m->nrun[i].nr;
			s->st.pages_moved += m->nrun[i].nr;
		}
	return r;
}

/* The session's layout becomes the map's: kinds reset, runs merged again. */
static int map_commit(struct pstore *s, struct pmap *m)
{
	size_t n = m->nn, k = 0;

	if (ftruncate(m->fd, (off_t)(m->cur * s->ps)) < 0)
		return ph_seterr_errno(errno == ENOSPC ? PH_ENOSPC : PH_ESYS,
				       "page store: sizing pages-%u.img", m->pages_id);
	free(m->runs);
	m->runs = m->nrun;
	m->nrun = NULL;
	m->ncap = 0;
	for (size_t i = 0; i < n; i++) {
		struct prun x = m->runs[i];
		struct prun *last = k ? &m->runs[k - 1] : NULL;

		x.kind = RUN_KEEP;
		x.src = 0;
		if (last && last->lazy == x.lazy && last->off + last->nr == x.off &&
		    last->vaddr + (uint64_t)last->nr * s->ps == x.vaddr &&
		    last->nr + (uint64_t)x.nr <= UINT32_MAX)
			last->nr += x.nr;
		else
			m->runs[k++] = x;
	}
	m->nruns = k;
	m->npages = m->cur;
	m->nn = 0;
	return 0;
}

/* CLOSE: every map of this session applied and on disk, then answered. */
static int st_close(struct pstore *s)
{
	uint64_t t0 = now_us();
	int r = 0;

	s->st.last_moved = 0;
	if (s->data_left)
		return ph_seterr(PH_EPROTO, "page store: CLOSE with %" PRIu64 " payload bytes owed",
				 s->data_left);
	r = pio_flush(s->io);
	for (size_t i = 0; i < s->nmaps && r == 0; i++) {
		struct pmap *m = &s->maps[i];

		if (m->last != s->session)
			continue;
		if (m->moved)
			r = map_apply(s, m);
		if (r == 0)
			r = pio_flush(s->io);
		if (r == 0)
			r = map_commit(s, m);
	}
	if (r == 0 && s->logpages && ftruncate(s->logfd, 0) < 0)
		r = ph_seterr_errno(PH_ESYS, "page store: emptying the log");
	if (r < 0)
		return r;
	s->logpages = 0;
	s->st.sessions++;
	s->st.maps = s->nmaps;
	s->st.pages = 0;
	for (size_t i = 0; i < s->nmaps; i++)
		if (s->maps[i].last == s->session)
			s->st.pages += s->maps[i].npages;
	s->st.last_apply_us = now_us() - t0;
	s->in_session = false;
	s->open = s->nmaps;
	return answer32(s, 0);
}

int pstore_on_hdr(void *store, const struct psx_ev *ev)
{
	struct pstore *s = store;

	if (!s->in_session) {
		s->in_session = true;
		s->session++;
		s->open = s->nmaps;
	}
	if (s->data_left && ev->cmd != PS_IOV_CLOSE && ev->cmd != PS_IOV_FORCE_CLOSE)
		return ph_seterr(PH_EPROTO,
				 "page store: header with %" PRIu64 " payload bytes owed",
				 s->data_left);
	switch (ev->cmd) {
	case PS_IOV_OPEN:
	case PS_IOV_OPEN2: return st_open(s, ev);
	case PS_IOV_PARENT: return answer32(s, map_has_parent(s, map_find(s, ev->dst_id)));
	case PS_IOV_ADD:
	case PS_IOV_HOLE:
	case PS_IOV_ADD_F: return st_pages(s, ev);
	case PS_IOV_CLOSE:
	case PS_IOV_FORCE_CLOSE: return st_close(s);
	}
	return ph_seterr(PH_EPROTO, "page store: command %s", psx_cmd_name(ev->cmd));
}

size_t pstore_answer(struct pstore *s, uint8_t *out, size_t cap)
{
	size_t n = s->anslen < cap ? s->anslen : cap;

	memcpy(out, s->ans, n);
	memmove(s->ans, s->ans + n, s->anslen - n);
	s->anslen -= n;
	return n;
}

static int send_answers(struct pstore *s, struct psx_parser *p, const struct relay_io *io)
{
	uint8_t ans[sizeof(s->ans)];
	size_t n = pstore_answer(s, ans, sizeof(ans));
	int r;

	if (!n)
		return 0;
	if ((r = psx_reply_feed(p, ans, n)) < 0 || (r = io->send_rec(io->arg, ans, n)) < 0)
		return r;
	if (psx_reply_pending(p))
		return ph_seterr(PH_EPROTO, "page store: %zu answer bytes still owed",
				 psx_reply_pending(p));
	return 0;
}

int pstore_session(struct pstore *s, struct psx_parser *p, const struct relay_io *io,
		   int timeout_ms)
{
	struct psx_sink sink = { pstore_on_hdr, pstore_on_data, s };
	size_t used;
	uint8_t *buf;
	long n;
	int r = 0, r2;

	psx_set_sink(p, &sink);
	for (;;) {
		if (!(buf = pio_buf_get(s->io))) {
			r = ph_lasterr() ? -ph_lasterr() : -PH_ESYS;
			goto out;
		}
		n = io->recv_rec(io->arg, buf, PIO_BUF_SIZE, timeout_ms);
		if (n > (long)PIO_BUF_SIZE)
			n = ph_seterr(PH_ETOOBIG, "page store: record of %ld bytes", n);
		if (n > 0) {
			r = psx_feed(p, buf, (size_t)n, &used);
			if (r >= 0 && used != (size_t)n)
				r = ph_seterr(PH_EPROTO,
					      "page store: peer sent %zu bytes after CLOSE",
					      (size_t)n - used);
		}
		/* the buffer goes back even on error: writes from it are in flight */
		r2 = pio_buf_put(s->io, buf);
		if (n <= 0) {
			r = (int)n;
			break;
		}
		if (r >= 0)
			r = r2;
		if (r < 0 || (r = send_answers(s, p, io)) < 0)
			goto out;
	}
	if (r < 0)
		goto out;
	if (!psx_session_closed(p)) {
		r = psx_finish(p);
		r = ph_errctx(r < 0 ? r : ph_seterr(PH_ETRUNC, "no CLOSE"),
			      "page store: peer ended the page stream early");
		goto out;
	}
	r = io->send_eof(io->arg);
	if (r == 0)
		r = psx_next_session(p);
out:
	psx_set_sink(p, NULL);
	return r;
}

int pstore_locate(void *store, uint64_t pid, uint64_t vaddr, int *fd, uint64_t *off,
		  uint64_t *npages)
{
	struct pstore *s = store;
	struct pmap *m = map_find(s, pid << PS_TYPE_BITS | PS_TYPE_PID);
	const struct prun *r;
	size_t i;

	if (!m || !s->session || m->last != s->session || s->in_session ||
	    (i = old_find(m, vaddr, s->ps)) == m->nruns || vaddr % s->ps)
		return ph_seterr(PH_EPROTO,
				 "page store: holds no page 0x%" PRIx64 " of pid %" PRIu64
				 " after session %" PRIu64,
				 vaddr, pid, s->session);
	r = &m->runs[i];
	*fd = m->fd;
	*off = (r->off + (vaddr - r->vaddr) / s->ps) * s->ps;
	*npages = r->nr - (vaddr - r->vaddr) / s->ps;
	return 0;
}

static int pb_put(FILE *f, const ProtobufCMessage *msg)
{
	uint8_t buf[64];
	uint32_t n = (uint32_t)protobuf_c_message_get_packed_size(msg);

	if (n > sizeof(buf))
		return -1;
	protobuf_c_message_pack(msg, buf);
	return fwrite(&n, 4, 1, f) == 1 && fwrite(buf, n, 1, f) == 1 ? 0 : -1;
}

static int write_pagemap(struct pstore *s, const struct pmap *m)
{
	uint32_t magic[2] = { IMG_COMMON_MAGIC, PAGEMAP_MAGIC };
	Criupm__PagemapHead h = CRIUPM__PAGEMAP_HEAD__INIT;
	unsigned long long id = m->dst_id >> PS_TYPE_BITS;
	char name[64];
	FILE *f = NULL;
	int fd, r = 0;

	if ((m->dst_id & PS_TYPE_MASK) == PS_TYPE_SHMEM)
		snprintf(name, sizeof(name), "pagemap-shmem-%llu.img", id);
	else
		snprintf(name, sizeof(name), "pagemap-%llu.img", id);
	fd = openat(s->dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		r = ph_seterr_errno(PH_ESYS, "page store: creating %s", name);
		if (fd >= 0)
			close(fd);
		return r;
	}
	h.pages_id = m->pages_id;
	if (fwrite(magic, sizeof(magic), 1, f) != 1 || pb_put(f, &h.base) < 0)
		r = -1;
	for (size_t i = 0; i < m->nruns && r == 0; i++) {
		Criupm__PagemapEntry e = CRIUPM__PAGEMAP_ENTRY__INIT;

		e.vaddr = m->runs[i].vaddr;
		e.nr_pages = m->runs[i].nr;
		e.has_flags = 1;
		e.flags = PSX_PE_PRESENT | (m->runs[i].lazy ? PSX_PE_LAZY : 0);
		r = pb_put(f, &e.base);
	}
	if (fclose(f) != 0 || r < 0) {
		r = ph_seterr_errno(errno == ENOSPC ? PH_ENOSPC : PH_ESYS, "page store: writing %s",
				    name);
		unlinkat(s->dfd, name, 0);
	}
	return r;
}

int pstore_write_images(struct pstore *s)
{
	char name[32];
	int r = 0;

	if (s->in_session)
		return ph_seterr(PH_EPROTO, "page store: images asked for inside a session");
	if ((r = pio_flush(s->io)) < 0)
		return r;
	for (size_t i = 0; i < s->nmaps && r == 0; i++) {
		struct pmap *m = &s->maps[i];

		if (m->last == s->session && s->session) {
			r = write_pagemap(s, m);
			continue;
		}
		/* gone before the final dump: CRIU must not see its pages */
		snprintf(name, sizeof(name), "pages-%u.img", m->pages_id);
		unlinkat(s->dfd, name, 0);
	}
	return r;
}
